"""Recognizing decomposed layer normalization and softmax.

- ``FuseLayerNorm``: ``d / sqrt(mean(d^2) + eps)`` with ``d = x - mean(x)`` (means over
  the same trailing axes, kept; ``d^2`` as ``pow(d, 2)`` or ``d * d``; the division also
  as ``d * reciprocal(sqrt(...))``) -> ``aic_graph.layer_norm(x, ones)`` over those axes;
- ``FoldLayerNormScale``: ``layer_norm * c`` (c constant over the normalized axes)
  scales the layer norm's scale and bias;
- ``FoldLayerNormShift``: ``layer_norm + c`` adds to (or becomes) its bias;
- ``FuseSoftmax``: ``e / sum(e)`` with ``e = exp(x - max(x))`` (or ``exp(x)``), sum and
  max over one axis, kept (the division also as ``e * reciprocal(sum)``) ->
  ``aic_graph.softmax(x)`` over that axis.

The scale and shift folds need the layer norm's result to have no other use.
"""

from __future__ import annotations

import numpy as np
from xdsl.dialects.builtin import FloatAttr, IntegerAttr, f32, i64
from xdsl.ir import Operation, SSAValue
from xdsl.pattern_rewriter import PatternRewriter, RewritePattern

from qaicc.dialects.aic_graph import ops as g
from qaicc.passes.aic_graph_patterns.matching import (
    constant_array,
    constant_name,
    copy_node_name,
    dtype_of,
    is_binary,
    is_close,
    is_unary,
    make_constant,
    producer,
    scalar,
    shape_of,
    single_use,
    split_constant,
)


def _kept_axes(op: g.ReduceOp, rank: int) -> tuple[int, ...] | None:
    if not op.keepdims.value.data:
        return None
    return tuple(sorted(axis % rank for axis in op.int_list("axes")))


def _mean_axes(value: SSAValue, of: SSAValue | None = None) -> tuple[int, ...] | None:
    """The (kept) axes of ``value = reduce mean(of)``."""
    op = producer(value, g.ReduceOp, "mean")
    if op is None or (of is not None and op.input is not of):
        return None
    return _kept_axes(op, len(shape_of(op.input)))


def _divided(op: Operation) -> tuple[SSAValue, SSAValue] | None:
    """(numerator, denominator) of ``a / b`` or ``a * reciprocal(b)``."""
    if is_binary(op, "div"):
        return op.lhs, op.rhs
    if is_binary(op, "mul"):
        for a, b in ((op.lhs, op.rhs), (op.rhs, op.lhs)):
            if is_unary(b.owner, "reciprocal"):
                return a, b.owner.input
    return None


def _is_square_of(value: SSAValue, d: SSAValue) -> bool:
    op = value.owner
    if is_binary(op, "pow"):
        return op.lhs is d and is_close(op.rhs, 2.0)
    return is_binary(op, "mul") and op.lhs is d and op.rhs is d


class FuseLayerNorm(RewritePattern):
    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        parts = _divided(op)
        if parts is None:
            return
        d, denominator = parts
        sub = producer(d, g.BinaryOp, "sub")
        if sub is None:
            return
        x = sub.lhs
        axes = _mean_axes(sub.rhs, x)
        rank = len(shape_of(x))
        if axes is None or axes != tuple(range(rank - len(axes), rank)) or not axes:
            return
        sqrt = producer(denominator, g.UnaryOp, "sqrt")
        add = producer(sqrt.input, g.BinaryOp, "add") if sqrt is not None else None
        split = split_constant(add) if add is not None else None
        if split is None:
            return
        variance, eps_value = split
        epsilon = scalar(eps_value)
        mean_op = producer(variance, g.ReduceOp, "mean")
        if epsilon is None or mean_op is None or _mean_axes(variance) != axes or not _is_square_of(mean_op.input, d):
            return
        dtype = dtype_of(x)
        if x.type != op.results[0].type or dtype is None or dtype.kind != "f":
            return
        ones = make_constant(np.ones(shape_of(x)[axes[0]:], dtype), "layer_norm.scale")
        norm = g.LayerNormOp.build(
            operands=[x, ones.output, []], result_types=[x.type],
            properties={"axis": IntegerAttr(axes[0], i64), "epsilon": FloatAttr(epsilon, f32)},
        )
        rewriter.replace(op, [ones, copy_node_name(op, norm)])


def _normalized_constant(value: SSAValue, norm: g.LayerNormOp) -> np.ndarray | None:
    """The constant ``value`` broadcast to the normalized shape, if it varies only
    along the normalized axes and does not change the result's shape."""
    array = constant_array(value)
    out_shape = shape_of(norm.output)
    if array is None or array.dtype.kind != "f" or array.ndim > len(out_shape):
        return None
    if np.broadcast_shapes(array.shape, out_shape) != out_shape:
        return None
    axis = norm.int_prop("axis") % len(out_shape)
    leading = len(out_shape) - array.ndim
    if any(size != 1 for size in array.shape[: max(0, axis - leading)]):
        return None
    inner = array.reshape(array.shape[max(0, axis - leading):])
    return np.broadcast_to(inner, out_shape[axis:])


def _fusible_norm(value: SSAValue) -> g.LayerNormOp | None:
    norm = value.owner
    if not isinstance(norm, g.LayerNormOp) or not single_use(value):
        return None
    return norm


def _rebuild_norm(norm: g.LayerNormOp, scale: SSAValue, bias: SSAValue | None, result_type) -> g.LayerNormOp:
    new = g.LayerNormOp.build(
        operands=[norm.input, scale, [bias] if bias is not None else []],
        result_types=[result_type], properties=dict(norm.properties),
    )
    return copy_node_name(norm, new)


class FoldLayerNormScale(RewritePattern):
    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not is_binary(op, "mul"):
            return
        split = split_constant(op)
        norm = _fusible_norm(split[0]) if split is not None else None
        if norm is None or op.output.type != norm.output.type:
            return
        factor = _normalized_constant(split[1], norm)
        scale = constant_array(norm.scale)
        bias = constant_array(norm.bias) if norm.bias is not None else None
        if factor is None or scale is None or (norm.bias is not None and bias is None):
            return
        new_scale = make_constant((scale * factor).astype(scale.dtype), constant_name(split[1]))
        new_ops: list[Operation] = [new_scale]
        new_bias = None
        if bias is not None:
            new_ops.append(make_constant((bias * factor).astype(bias.dtype), constant_name(norm.bias) + ".folded"))
            new_bias = new_ops[-1].results[0]
        new_ops.append(_rebuild_norm(norm, new_scale.output, new_bias, op.output.type))
        rewriter.replace(op, new_ops)


class FoldLayerNormShift(RewritePattern):
    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not is_binary(op, "add"):
            return
        split = split_constant(op)
        norm = _fusible_norm(split[0]) if split is not None else None
        if norm is None or op.output.type != norm.output.type:
            return
        shift = _normalized_constant(split[1], norm)
        if shift is None:
            return
        dtype = dtype_of(norm.output)
        if norm.bias is None:
            bias, name = np.zeros(shift.shape, dtype), constant_name(split[1])
        else:
            bias, name = constant_array(norm.bias), constant_name(norm.bias) + ".folded"
            if bias is None:
                return
        bias_op = make_constant((bias + shift).astype(dtype), name)
        rewriter.replace(op, [bias_op, _rebuild_norm(norm, norm.scale, bias_op.output, op.output.type)])


class FuseSoftmax(RewritePattern):
    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        parts = _divided(op)
        if parts is None:
            return
        e, total = parts
        exp = producer(e, g.UnaryOp, "exp")
        total_op = producer(total, g.ReduceOp, "sum")
        if exp is None or total_op is None or total_op.input is not e:
            return
        rank = len(shape_of(e))
        axes = _kept_axes(total_op, rank)
        if axes is None or len(axes) != 1:
            return
        x = exp.input
        shifted = producer(x, g.BinaryOp, "sub")
        if shifted is not None:
            peak = producer(shifted.rhs, g.ReduceOp, "max")
            if peak is not None and peak.input is shifted.lhs and _kept_axes(peak, rank) == axes:
                x = shifted.lhs
        if x.type != op.results[0].type:
            return
        softmax = g.SoftmaxOp.build(operands=[x], result_types=[x.type], properties={"axis": IntegerAttr(axes[0], i64)})
        rewriter.replace(op, copy_node_name(op, softmax))
