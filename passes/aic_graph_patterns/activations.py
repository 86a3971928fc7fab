"""Recognizing decomposed activations.

- ``FuseGelu``: the GELU of exporters, in any association of the product
  (``x * 0.5 * (1 + erf(x / sqrt(2)))``, ``0.5 * x * (...)``, ``x * (0.5 * (...))``,
  ``(x * (...)) / 2``, ``erf(x * 0.7071...)``) -> ``aic_graph.gelu{approximate = "none"}``;
  the tanh form ``0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))`` (``x^3`` as
  ``pow(x, 3)`` or ``x * x * x``) -> ``aic_graph.gelu{approximate = "tanh"}``.
- ``FuseSiLU``: ``x * sigmoid(x)`` -> ``aic_graph.unary{kind = "silu"}``.

The match is anchored on the final product; constants are compared with a relative
tolerance (``matching.CONSTANT_RTOL``), so float16 or truncated constants match.
"""

from __future__ import annotations

import math

from xdsl.dialects.builtin import StringAttr
from xdsl.ir import Operation, SSAValue
from xdsl.pattern_rewriter import PatternRewriter, RewritePattern

from qaicc.dialects.aic_graph import ops as g
from qaicc.passes.aic_graph_patterns.matching import (
    CONSTANT_RTOL,
    copy_node_name,
    is_binary,
    is_close,
    is_unary,
    other_operand,
    product_factors,
    scalar,
    split_constant,
)

SQRT_HALF = 1 / math.sqrt(2)
SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
GELU_CUBIC = 0.044715


def _close(found: float, target: float) -> bool:
    return math.isclose(found, target, rel_tol=CONSTANT_RTOL)


def one_plus(value: SSAValue) -> SSAValue | None:
    """``t`` for ``value = t + 1`` (either order)."""
    op = value.owner
    if not is_binary(op, "add"):
        return None
    split = split_constant(op)
    if split is None or not is_close(split[1], 1.0):
        return None
    return split[0]


def scaled(value: SSAValue, factor: float) -> SSAValue | None:
    """``x`` for ``value = x * factor`` (or ``x / (1 / factor)``, any association)."""
    found = product_factors(value.owner) if isinstance(value.owner, Operation) else None
    if found is None:
        return None
    scale, factors = found
    if len(factors) != 1 or not _close(scale, factor):
        return None
    return factors[0]


def is_cubic_term(value: SSAValue, x: SSAValue) -> bool:
    """``value`` is ``0.044715 * x^3``, with ``x^3`` as ``pow(x, 3)`` or ``x * x * x``."""
    found = product_factors(value.owner) if isinstance(value.owner, Operation) else None
    if found is None or not _close(found[0], GELU_CUBIC):
        return False
    power = 0
    for factor in found[1]:
        op = factor.owner
        if factor is x:
            power += 1
        elif is_binary(op, "pow") and op.lhs is x and (is_close(op.rhs, 2.0) or is_close(op.rhs, 3.0)):
            power += round(float(scalar(op.rhs)))
        else:
            return False
    return power == 3


def erf_gelu_input(inner: SSAValue) -> SSAValue | None:
    """``x`` for ``inner = erf(x / sqrt(2))``."""
    op = inner.owner
    if not is_unary(op, "erf"):
        return None
    return scaled(op.input, SQRT_HALF)


def tanh_gelu_input(inner: SSAValue) -> SSAValue | None:
    """``x`` for ``inner = tanh(sqrt(2/pi) * (x + 0.044715 * x^3))``."""
    op = inner.owner
    if not is_unary(op, "tanh"):
        return None
    total = scaled(op.input, SQRT_2_OVER_PI)
    if total is None or not is_binary(total.owner, "add"):
        return None
    add = total.owner
    for x in (add.lhs, add.rhs):
        cubic = other_operand(add, x)
        if cubic is not None and is_cubic_term(cubic, x):
            return x
    return None


class FuseGelu(RewritePattern):
    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        found = product_factors(op)
        if found is None:
            return
        scale, factors = found
        if len(factors) != 2 or not _close(scale, 0.5):
            return
        for x, other in (factors, factors[::-1]):
            inner = one_plus(other)
            if inner is None:
                continue
            for approximate, input_of in (("none", erf_gelu_input), ("tanh", tanh_gelu_input)):
                if input_of(inner) is x and x.type == op.results[0].type:
                    gelu = g.GeluOp.build(operands=[x], result_types=[x.type],
                                          properties={"approximate": StringAttr(approximate)})
                    rewriter.replace(op, copy_node_name(op, gelu))
                    return


class FuseSiLU(RewritePattern):
    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not is_binary(op, "mul"):
            return
        for x, gate in ((op.lhs, op.rhs), (op.rhs, op.lhs)):
            sigmoid = gate.owner
            if is_unary(sigmoid, "sigmoid") and sigmoid.input is x and x.type == op.output.type:
                silu = g.UnaryOp.build(operands=[x], result_types=[x.type], properties={"kind": StringAttr("silu")})
                rewriter.replace(op, copy_node_name(op, silu))
                return
