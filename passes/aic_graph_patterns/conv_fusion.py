"""Folding per-channel affine ops and activations into ``aic_graph.conv``.

A BatchNormalization after a convolution reaches aic_graph as per-channel ``mul`` /
``add`` (or ``sub`` / ``div``) by constants; a bias Add too. When the conv's result has
no other use and no activation yet:

- ``FoldConvScale``: ``conv * c`` and ``conv / c`` (c per output channel, or a scalar)
  scale the conv's weight (and bias) per output channel;
- ``FoldConvShift``: ``conv + c`` and ``conv - c`` move into the conv's bias;
- ``FuseConvActivation``: ``relu``, ``clip``, ``sigmoid``, ``tanh`` and ``silu`` of a
  conv become its ``activation`` (clip with ``activation_min`` / ``activation_max``).

The conv's weight must be a constant for the scale; folded weights and biases are new
constants named after the old ones (``<weight>.folded``), computed in the weight's type.
"""

from __future__ import annotations

import numpy as np
from xdsl.dialects.builtin import FloatAttr, StringAttr, f32
from xdsl.ir import Operation, SSAValue
from xdsl.pattern_rewriter import PatternRewriter, RewritePattern

from qaicc.dialects.aic_graph import ops as g
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

UNARY_ACTIVATIONS = {"relu": "relu", "clip": "clip", "sigmoid": "sigmoid", "tanh": "tanh", "silu": "silu"}


def fusible_conv(value: SSAValue) -> g.ConvOp | None:
    """The conv defining ``value`` when nothing else reads it and it has no activation."""
    conv = value.owner
    if not isinstance(conv, g.ConvOp) or not single_use(value):
        return None
    if conv.str_prop("activation", "none") != "none":
        return None
    return conv


def per_channel(array: np.ndarray, output_shape: tuple[int, ...]) -> np.ndarray | None:
    """``array`` as one value per output channel (axis 1 of ``output_shape``), if it
    broadcasts against the conv's output without changing its shape."""
    rank = len(output_shape)
    if array.ndim > rank:
        return None
    padded = array.reshape((1,) * (rank - array.ndim) + array.shape)
    channels = output_shape[1]
    for axis, size in enumerate(padded.shape):
        if size != 1 and not (axis == 1 and size == channels):
            return None
    return np.broadcast_to(padded.reshape(-1), (channels,))


def _conv_operands(conv: g.ConvOp, weight: SSAValue, bias: SSAValue | None) -> list:
    return [conv.input, weight, [bias] if bias is not None else []]


def _rebuild_conv(conv: g.ConvOp, weight: SSAValue, bias: SSAValue | None, result_type, **props) -> g.ConvOp:
    properties = dict(conv.properties)
    properties.update(props)
    new = g.ConvOp.build(operands=_conv_operands(conv, weight, bias), result_types=[result_type], properties=properties)
    return copy_node_name(conv, new)


class FoldConvScale(RewritePattern):
    """``conv(x, w, b) * c`` -> ``conv(x, w * c, b * c)`` (c per output channel)."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not isinstance(op, g.BinaryOp) or op.kind.data not in ("mul", "div"):
            return
        split = split_constant(op)
        if split is None:
            return
        source, factor_value = split
        if op.kind.data == "div" and factor_value is not op.rhs:
            return
        conv = fusible_conv(source)
        if conv is None or op.output.type != conv.output.type:
            return
        weight = constant_array(conv.weight)
        bias = constant_array(conv.bias) if conv.bias is not None else None
        factor = constant_array(factor_value)
        if weight is None or weight.dtype.kind != "f" or (conv.bias is not None and bias is None):
            return
        scale = per_channel(factor, shape_of(conv.output))
        if scale is None:
            return
        scale = scale.astype(np.float64)
        if op.kind.data == "div":
            if np.any(scale == 0):
                return
            scale = 1.0 / scale
        new_weight = (weight * scale.reshape((-1,) + (1,) * (weight.ndim - 1))).astype(weight.dtype)
        new_ops: list[Operation] = [make_constant(new_weight, constant_name(conv.weight) + ".folded")]
        new_bias = None
        if bias is not None:
            new_ops.append(make_constant((bias * scale).astype(bias.dtype), constant_name(conv.bias) + ".folded"))
            new_bias = new_ops[-1].results[0]
        new_ops.append(_rebuild_conv(conv, new_ops[0].results[0], new_bias, op.output.type))
        rewriter.replace(op, new_ops)


class FoldConvShift(RewritePattern):
    """``conv(x, w, b) + c`` -> ``conv(x, w, b + c)`` (c per output channel); ``- c`` too."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not isinstance(op, g.BinaryOp) or op.kind.data not in ("add", "sub"):
            return
        split = split_constant(op)
        if split is None:
            return
        source, shift_value = split
        if op.kind.data == "sub" and shift_value is not op.rhs:
            return
        conv = fusible_conv(source)
        if conv is None or op.output.type != conv.output.type:
            return
        shift = constant_array(shift_value)
        shift = per_channel(shift, shape_of(conv.output)) if shift is not None else None
        if shift is None or shift.dtype.kind != "f":
            return
        if op.kind.data == "sub":
            shift = -shift
        dtype = dtype_of(conv.output)
        if conv.bias is None:
            bias, name = np.zeros(shift.shape, dtype), constant_name(shift_value)
        else:
            bias, name = constant_array(conv.bias), constant_name(conv.bias) + ".folded"
            if bias is None:
                return
        bias_op = make_constant((bias + shift).astype(dtype), name)
        rewriter.replace(op, [bias_op, _rebuild_conv(conv, conv.weight, bias_op.output, op.output.type)])


class FuseConvActivation(RewritePattern):
    """``relu(conv)``, ``clip(conv)``, ... -> ``conv{activation = ...}``."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not isinstance(op, g.UnaryOp) or op.kind.data not in UNARY_ACTIVATIONS:
            return
        conv = fusible_conv(op.input)
        if conv is None or op.output.type != conv.output.type:
            return
        props = activation_properties(op)
        new = _rebuild_conv(conv, conv.weight, conv.bias, op.output.type, **props)
        rewriter.replace(op, new)


def activation_properties(op: g.UnaryOp) -> dict:
    """The ``activation`` (and clip bounds) properties equivalent to a unary op."""
    kind = UNARY_ACTIVATIONS[op.kind.data]
    props = {"activation": StringAttr(kind)}
    if kind == "clip":
        if op.alpha is not None:
            props["activation_min"] = FloatAttr(op.alpha.value.data, f32)
        if op.beta is not None:
            props["activation_max"] = FloatAttr(op.beta.value.data, f32)
    return props
