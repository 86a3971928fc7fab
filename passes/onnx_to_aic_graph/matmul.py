"""Matrix products: MatMul, Gemm and Einsum -> aic_graph.matmul.

Gemm's ``alpha`` and transposes become matmul properties and ``beta * C`` its bias
(folded into a new constant when C is constant). Einsum covers the forms a matmul
computes: every index appears at most once per operand; indices of both operands and
the output are batch axes, of both operands only are contracted, of one operand only
are summed first. The operands are transposed (and reshaped, when several axes
collapse into one) to (batch, M, K) x (batch, K, N); the product is reshaped and
transposed to the output's order."""

from __future__ import annotations

import numpy as np

from qaicc.dialects.aic_graph import ops as aic
from qaicc.dialects.onnx.element_types import from_xdsl
from qaicc.passes.onnx_to_aic_graph.common import (
    BOOL_TYPES,
    Emitter,
    Node,
    NotConvertible,
    OnnxToAicGraphPattern,
    bool_attr,
    const_array,
    element_of,
    f32_attr,
    rank_of,
    require_float,
    shape_of,
    tensor,
)


def _require_numeric(value) -> None:
    if element_of(value) in BOOL_TYPES:
        raise NotConvertible("bool operands are not supported")


class ConvertMatMul(OnnxToAicGraphPattern):
    ONNX_OPS = {"MatMul": "float and integer types; numpy matmul (1-D operands, broadcast batch)"}

    def convert(self, node: Node, emit: Emitter):
        a, b = node.op.operands
        _require_numeric(a)
        if rank_of(a) == 0 or rank_of(b) == 0:
            raise NotConvertible("scalar operands")
        out = node.result.type
        if rank_of(a) >= 2 and rank_of(b) >= 2:
            return [emit.build(aic.MatMulOp, [a, b, []], out)]
        a2 = emit.reshape(a, (1,) + shape_of(a)) if rank_of(a) == 1 else a
        b2 = emit.reshape(b, shape_of(b) + (1,)) if rank_of(b) == 1 else b
        batch = np.broadcast_shapes(shape_of(a2)[:-2], shape_of(b2)[:-2])
        full = tuple(batch) + (shape_of(a2)[-2], shape_of(b2)[-1])
        product = emit.build(aic.MatMulOp, [a2, b2, []], tensor(element_of(a), full))
        return [emit.reshape(product, shape_of(node.result), out)]


class ConvertGemm(OnnxToAicGraphPattern):
    ONNX_OPS = {"Gemm": "float types; transA, transB, alpha, beta, C broadcast to (M, N)"}

    def convert(self, node: Node, emit: Emitter):
        a, b = node.input("A"), node.input("B")
        c = node.input("C")
        require_float(a)
        if rank_of(a) != 2 or rank_of(b) != 2:
            raise NotConvertible("A and B must be 2-D")
        if node.has_attr("broadcast") and c is not None and node.attr("broadcast", 0) == 0:
            if shape_of(c) != shape_of(node.result):
                raise NotConvertible("C does not have the result's shape and broadcast is 0")
        alpha, beta = node.attr("alpha", 1.0), node.attr("beta", 1.0)
        bias = None
        if c is not None and beta != 0.0:
            bias = c
            if beta != 1.0:
                array = const_array(c)
                if array is not None:
                    dtype = from_xdsl(element_of(c)).numpy
                    bias = emit.constant((array.astype(np.float64) * beta).astype(dtype), "beta_c")
                else:
                    bias = emit.binary("mul", c, emit.scalar(beta, c))
        return [emit.build(
            aic.MatMulOp, [a, b, [bias] if bias is not None else []], node.result.type,
            transpose_a=bool_attr(True) if node.attr("transA", 0) else None,
            transpose_b=bool_attr(True) if node.attr("transB", 0) else None,
            alpha=f32_attr(alpha) if alpha != 1.0 else None,
        )]


def _parse_equation(equation: str, ranks: list[int]) -> tuple[list[str], str]:
    equation = equation.replace(" ", "")
    if "->" in equation:
        lhs, output = equation.split("->")
    else:
        lhs, output = equation, None
    terms = lhs.split(",")
    if len(terms) != len(ranks):
        raise NotConvertible(f"the equation has {len(terms)} operands, the op {len(ranks)}")
    letters = set(lhs) - {".", ","}
    spare = [chr(c) for c in range(ord("A"), ord("Z") + 1) if chr(c) not in letters]
    ellipsis_rank = max((rank - (len(t) - 3) for t, rank in zip(terms, ranks) if "..." in t), default=0)
    ellipsis = "".join(spare[:ellipsis_rank])
    expanded = []
    for term, rank in zip(terms, ranks):
        if "..." in term:
            own = rank - (len(term) - 3)
            term = term.replace("...", ellipsis[ellipsis_rank - own:])
        if len(term) != rank:
            raise NotConvertible(f"term '{term}' does not match an operand of rank {rank}")
        expanded.append(term)
    if output is None:  # implicit output: the ellipsis, then letters used once, sorted
        counts = {ch: sum(t.count(ch) for t in terms) for ch in letters}
        output = ellipsis + "".join(sorted(ch for ch, n in counts.items() if n == 1))
    else:
        output = output.replace("...", ellipsis)
    return expanded, output


class ConvertEinsum(OnnxToAicGraphPattern):
    ONNX_OPS = {
        "Einsum": "one or two operands, no index repeated within an operand (matmul, batched "
                  "matmul, transposes, sums, outer products)",
    }

    def convert(self, node: Node, emit: Emitter):
        operands = list(node.op.operands)
        for value in operands:
            _require_numeric(value)
        terms, output = _parse_equation(node.attr("equation"), [rank_of(v) for v in operands])
        for term in terms:
            if len(set(term)) != len(term):
                raise NotConvertible(f"index repeated within '{term}' (diagonals are not supported)")
        if len(operands) not in (1, 2):
            raise NotConvertible(f"{len(operands)} operands (one or two are supported)")
        out = node.result.type
        if len(operands) == 1:
            x, term = _sum_out(emit, operands[0], terms[0], set(output))
            return [emit.transpose(x, [term.index(ch) for ch in output], out)]
        (a, b), (ta, tb) = operands, terms
        a, ta = _sum_out(emit, a, ta, set(output) | set(tb))
        b, tb = _sum_out(emit, b, tb, set(output) | set(ta))
        sizes = {}
        for value, term in ((a, ta), (b, tb)):
            for ch, size in zip(term, shape_of(value)):
                if sizes.setdefault(ch, size) != size and 1 not in (size, sizes[ch]):
                    raise NotConvertible(f"index '{ch}' has sizes {sizes[ch]} and {size}")
                sizes[ch] = max(sizes[ch], size)
        batch = [ch for ch in output if ch in ta and ch in tb]
        m = [ch for ch in ta if ch not in tb]
        n = [ch for ch in tb if ch not in ta]
        k = [ch for ch in ta if ch in tb and ch not in output]
        for ch in k:
            if shape_of(a)[ta.index(ch)] != shape_of(b)[tb.index(ch)]:
                raise NotConvertible(f"contracted index '{ch}' is broadcast")
        element = element_of(a)
        a3 = _to_matrix(emit, a, ta, batch, m, k)
        b3 = _to_matrix(emit, b, tb, batch, k, n)
        batch_shape = np.broadcast_shapes(shape_of(a3)[:-2], shape_of(b3)[:-2])
        product_shape = tuple(batch_shape) + (shape_of(a3)[-2], shape_of(b3)[-1])
        product = emit.build(aic.MatMulOp, [a3, b3, []], tensor(element, product_shape))
        order = batch + m + n
        full = [sizes[ch] for ch in order]
        product = emit.reshape(product, full)
        return [emit.transpose(product, [order.index(ch) for ch in output], out)]


def _sum_out(emit: Emitter, value, term: str, keep: set[str]):
    """Sum over the indices of ``term`` that appear nowhere in ``keep``."""
    axes = [i for i, ch in enumerate(term) if ch not in keep]
    if not axes:
        return value, term
    reduced = emit.reduce(value, "sum", axes, False)
    return reduced, "".join(ch for ch in term if ch in keep)


def _to_matrix(emit: Emitter, value, term: str, batch: list[str], rows: list[str], columns: list[str]):
    """Transpose to (batch, rows, columns) and collapse rows and columns into one axis each."""
    order = [ch for ch in batch if ch in term] + rows + columns
    value = emit.transpose(value, [term.index(ch) for ch in order])
    shape = shape_of(value)
    nb = len(order) - len(rows) - len(columns)
    row_size = int(np.prod(shape[nb:nb + len(rows)], dtype=np.int64))
    column_size = int(np.prod(shape[nb + len(rows):], dtype=np.int64))
    return emit.reshape(value, tuple(shape[:nb]) + (row_size, column_size))


PATTERNS = (ConvertMatMul, ConvertGemm, ConvertEinsum)
