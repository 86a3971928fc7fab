"""Folding a bias and an activation into ``aic_graph.matmul``.

When the matmul's result has no other use:

- ``FuseMatMulBias``: ``matmul + c``, with ``c`` a constant that varies along the last
  dimension only (``[N]``, ``[1, 1, N]``, a scalar) and does not change the result's
  shape, becomes the matmul's ``bias`` (an existing constant bias is added to);
- ``FuseMatMulActivation``: ``relu``, ``clip``, ``sigmoid``, ``tanh``, ``silu`` and
  ``aic_graph.gelu`` (erf or tanh form) of a matmul without activation become its
  ``activation``;
- ``FoldTransposeIntoMatMul``: an operand that is a transpose swapping only the last two
  axes (``W^T`` of a tied embedding, ``k^T``) is read directly with ``transpose_a`` /
  ``transpose_b`` toggled (the transpose stays if something else reads it).
"""

from __future__ import annotations

import numpy as np
from xdsl.dialects.builtin import IntegerAttr, StringAttr
from xdsl.ir import Operation, SSAValue
from xdsl.pattern_rewriter import PatternRewriter, RewritePattern

from qaicc.dialects.aic_graph import ops as g
from qaicc.passes.aic_graph_patterns.conv_fusion import UNARY_ACTIVATIONS, activation_properties
from qaicc.passes.aic_graph_patterns.matching import (
    constant_array,
    constant_name,
    copy_node_name,
    dtype_of,
    make_constant,
    shape_of,
    single_use,
    split_constant,
)


def fusible_matmul(value: SSAValue) -> g.MatMulOp | None:
    matmul = value.owner
    if not isinstance(matmul, g.MatMulOp) or not single_use(value):
        return None
    if matmul.str_prop("activation", "none") != "none":
        return None
    return matmul


def last_dim_bias(array: np.ndarray, output_shape: tuple[int, ...]) -> np.ndarray | None:
    """``array`` as a ``[N]`` (or ``[1]``) bias, if it only varies along the last axis
    and broadcasting it against the output keeps the output's shape."""
    if array.ndim > len(output_shape) or array.size == 0:
        return None
    if array.ndim == 0:
        return array.reshape(1)
    if any(size != 1 for size in array.shape[:-1]) or array.shape[-1] not in (1, output_shape[-1]):
        return None
    return array.reshape(-1)


def rebuild_matmul(matmul: g.MatMulOp, bias: SSAValue | None, result_type, **props) -> g.MatMulOp:
    properties = dict(matmul.properties)
    properties.update(props)
    operands = [matmul.a, matmul.b, [bias] if bias is not None else []]
    new = g.MatMulOp.build(operands=operands, result_types=[result_type], properties=properties)
    return copy_node_name(matmul, new)


class FuseMatMulBias(RewritePattern):
    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not isinstance(op, g.BinaryOp) or op.kind.data != "add":
            return
        split = split_constant(op)
        if split is None:
            return
        source, bias_value = split
        matmul = fusible_matmul(source)
        if matmul is None or op.output.type != matmul.output.type:
            return
        bias = constant_array(bias_value)
        bias = last_dim_bias(bias, shape_of(matmul.output)) if bias is not None else None
        dtype = dtype_of(matmul.output)
        if bias is None or bias.dtype.kind != "f" or dtype is None:
            return
        name = constant_name(bias_value)
        if matmul.bias is not None:
            old = constant_array(matmul.bias)
            old = last_dim_bias(old, shape_of(matmul.output)) if old is not None else None
            if old is None:
                return
            bias, name = old + bias, constant_name(matmul.bias) + ".folded"
        new_ops: list[Operation] = []
        if matmul.bias is None and bias.dtype == dtype and tuple(bias_value.type.get_shape()) == bias.shape:
            bias_result = bias_value  # the constant already has the bias's shape: no copy
        else:
            new_ops.append(make_constant(bias.astype(dtype, copy=False), name))
            bias_result = new_ops[-1].results[0]
        new_ops.append(rebuild_matmul(matmul, bias_result, op.output.type))
        rewriter.replace(op, new_ops)


class FuseMatMulActivation(RewritePattern):
    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if isinstance(op, g.UnaryOp) and op.kind.data in UNARY_ACTIVATIONS:
            props = activation_properties(op)
        elif isinstance(op, g.GeluOp):
            props = {"activation": StringAttr("gelu_tanh" if op.approximate.data == "tanh" else "gelu")}
        else:
            return
        matmul = fusible_matmul(op.input)
        if matmul is None or op.output.type != matmul.output.type:
            return
        rewriter.replace(op, rebuild_matmul(matmul, matmul.bias, op.output.type, **props))


def _swaps_last_two(op) -> bool:
    if not isinstance(op, g.TransposeOp):
        return False
    perm = op.int_list("perm")
    rank = len(perm)
    return rank >= 2 and perm == list(range(rank - 2)) + [rank - 1, rank - 2]


class FoldTransposeIntoMatMul(RewritePattern):
    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not isinstance(op, g.MatMulOp):
            return
        for index, flag in ((0, "transpose_a"), (1, "transpose_b")):
            transpose = op.operands[index].owner
            if not _swaps_last_two(transpose):
                continue
            properties = dict(op.properties)
            was = properties.get(flag)
            properties[flag] = IntegerAttr.from_bool(not (was is not None and bool(was.value.data)))
            operands = [op.a, op.b, [op.bias] if op.bias is not None else []]
            operands[index] = transpose.input
            new = g.MatMulOp.build(operands=operands, result_types=[op.output.type], properties=properties)
            rewriter.replace(op, copy_node_name(op, new))
            return
