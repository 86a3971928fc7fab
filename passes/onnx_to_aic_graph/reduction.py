"""Reductions: Reduce* (aic_graph.reduce; ReduceLogSum as log of a sum) and ArgMax /
ArgMin (aic_graph.arg_reduce). ``axes`` is an attribute or, from opset 13 (ReduceSum)
or 18 (the others), a constant input; empty axes reduce everything unless
``noop_with_empty_axes`` is set, which makes the op an identity."""

from __future__ import annotations

from qaicc.dialects.aic_graph import ops as aic
from qaicc.passes.onnx_to_aic_graph.common import (
    BOOL_TYPES,
    Emitter,
    Node,
    NotConvertible,
    OnnxToAicGraphPattern,
    bool_attr,
    element_of,
    i64_attr,
    int_list,
    normalize_axis,
    optional_const,
    rank_of,
    require_float,
    str_attr,
)

REDUCE_KINDS = {
    "ReduceSum": "sum", "ReduceMean": "mean", "ReduceMax": "max", "ReduceMin": "min",
    "ReduceProd": "prod", "ReduceSumSquare": "sum_square", "ReduceL1": "l1", "ReduceL2": "l2",
    "ReduceLogSumExp": "log_sum_exp", "ReduceLogSum": "sum",
}
FLOAT_ONLY = {"ReduceMean", "ReduceL2", "ReduceLogSumExp", "ReduceLogSum"}


def reduce_axes(node: Node, rank: int) -> list[int] | None:
    """The axes to reduce; None for an identity (empty axes with noop_with_empty_axes)."""
    if node.has_input("axes"):
        array = optional_const(node, "axes")
        axes = int_list(array) if array is not None else []
    else:
        axes = node.attr("axes") or []
    if not axes:
        if node.attr("noop_with_empty_axes", 0):
            return None
        return list(range(rank))
    normalized = sorted({normalize_axis(a, rank) for a in axes})
    return normalized


class ConvertReduce(OnnxToAicGraphPattern):
    ONNX_OPS = {
        **{op: "constant axes; float and integer types" for op in ("ReduceSum", "ReduceMax", "ReduceMin",
                                                                    "ReduceProd", "ReduceSumSquare", "ReduceL1")},
        **{op: "constant axes; float types" for op in FLOAT_ONLY},
    }

    def convert(self, node: Node, emit: Emitter):
        x = node.op.operands[0]
        if node.op_type in FLOAT_ONLY:
            require_float(x)
        elif element_of(x) in BOOL_TYPES and node.op_type not in ("ReduceMax", "ReduceMin"):
            raise NotConvertible("bool input")
        axes = reduce_axes(node, rank_of(x))
        out = node.result.type
        if axes is None:
            if x.type != out:
                raise NotConvertible("the identity reduction changes the type")
            return [x]
        keepdims = bool(node.attr("keepdims", 1))
        kind = REDUCE_KINDS[node.op_type]
        if node.op_type == "ReduceLogSum":
            return [emit.unary(emit.reduce(x, "sum", axes, keepdims, out), "log", type=out)]
        return [emit.reduce(x, kind, axes, keepdims, out)]


class ConvertArgReduce(OnnxToAicGraphPattern):
    ONNX_OPS = {"ArgMax": "float and integer types; select_last_index", "ArgMin": "float and integer types; select_last_index"}

    def convert(self, node: Node, emit: Emitter):
        x = node.op.operands[0]
        if element_of(x) in BOOL_TYPES:
            raise NotConvertible("bool input")
        axis = normalize_axis(node.attr("axis", 0), rank_of(x))
        last = node.attr("select_last_index", 0)
        return [emit.build(
            aic.ArgReduceOp, [x], node.result.type,
            kind=str_attr("max" if node.op_type == "ArgMax" else "min"), axis=i64_attr(axis),
            keepdims=bool_attr(node.attr("keepdims", 1)),
            select_last_index=bool_attr(True) if last else None,
        )]


PATTERNS = (ConvertReduce, ConvertArgReduce)
