"""Normalizations: Softmax / LogSoftmax (aic_graph.softmax), LayerNormalization
(aic_graph.layer_norm), InstanceNormalization (aic_graph.instance_norm) and
BatchNormalization in inference mode (a per-channel multiply and add; with constant
statistics both factors are folded into two small new constants).

Before opset 13, Softmax and LogSoftmax flatten the input to 2-D at ``axis`` and
normalize over the second axis: the pattern reshapes, normalizes, reshapes back."""

from __future__ import annotations

import numpy as np

from qaicc.dialects.aic_graph import ops as aic
from qaicc.dialects.onnx.element_types import from_xdsl
from qaicc.passes.onnx_to_aic_graph.common import (
    Emitter,
    Node,
    NotConvertible,
    OnnxToAicGraphPattern,
    bool_attr,
    const_array,
    element_of,
    f32_attr,
    i64_attr,
    normalize_axis,
    rank_of,
    require_float,
    shape_of,
    tensor,
)


class ConvertSoftmax(OnnxToAicGraphPattern):
    ONNX_OPS = {"Softmax": "float types; any axis (opsets < 13: 2-D coercion)",
                "LogSoftmax": "float types; any axis (opsets < 13: 2-D coercion)"}

    def convert(self, node: Node, emit: Emitter):
        x = node.op.operands[0]
        require_float(x)
        rank = rank_of(x)
        out = node.result.type
        log = bool_attr(True) if node.op_type == "LogSoftmax" else None
        if rank == 0:
            raise NotConvertible("a scalar input")
        default = -1 if node.version >= 13 else 1
        axis = normalize_axis(node.attr("axis", default), rank)
        if node.version >= 13 or axis == rank - 1:
            return [emit.build(aic.SoftmaxOp, [x], out, axis=i64_attr(axis), log=log)]
        shape = shape_of(x)
        rows, columns = int(np.prod(shape[:axis], dtype=np.int64)), int(np.prod(shape[axis:], dtype=np.int64))
        flat = emit.reshape(x, (rows, columns))
        normalized = emit.build(aic.SoftmaxOp, [flat], flat.type, axis=i64_attr(1), log=log)
        return [emit.reshape(normalized, shape, out)]


class ConvertLayerNorm(OnnxToAicGraphPattern):
    """LayerNormalization -> aic_graph.layer_norm; the Mean and InvStdDev outputs, when
    used, are computed beside it (reductions in the stash type)."""

    ONNX_OPS = {"LayerNormalization": "float types; Mean and InvStdDev outputs computed separately when used"}

    def convert(self, node: Node, emit: Emitter):
        x, scale, bias = node.input("X"), node.input("Scale"), node.input("B")
        require_float(x)
        axis = normalize_axis(node.attr("axis", -1), rank_of(x))
        epsilon = node.attr("epsilon", 1e-5)
        operands = [x, scale, [bias] if bias is not None else []]
        y = emit.build(aic.LayerNormOp, operands, node.result.type, axis=i64_attr(axis),
                       epsilon=f32_attr(epsilon))
        mean_out, inv_out = node.output("Mean"), node.output("InvStdDev")
        if not any(v is not None and v.uses for v in (mean_out, inv_out)):
            return [y] + [None] * (len(node.op.results) - 1)
        statistics = mean_out if mean_out is not None else inv_out
        wide = emit.cast(x, element_of(statistics))
        axes = list(range(axis, rank_of(x)))
        mean = emit.reduce(wide, "mean", axes, True)
        centered = emit.binary("sub", wide, mean)
        variance = emit.reduce(emit.binary("mul", centered, centered), "mean", axes, True)
        std = emit.unary(emit.binary("add", variance, emit.scalar(epsilon, variance)), "sqrt")
        results = {"Y": y, "Mean": mean, "InvStdDev": emit.unary(std, "reciprocal")}
        return [results[formal.name] for formal in node.signature.outputs
                if getattr(node.op, formal.field) is not None]


class ConvertInstanceNorm(OnnxToAicGraphPattern):
    ONNX_OPS = {"InstanceNormalization": "float types"}

    def convert(self, node: Node, emit: Emitter):
        x, scale, bias = node.op.operands
        require_float(x)
        if rank_of(x) < 3:
            raise NotConvertible("the input has no spatial axes")
        return [emit.build(aic.InstanceNormOp, [x, scale, bias], node.result.type,
                           epsilon=f32_attr(node.attr("epsilon", 1e-5)))]


class ConvertBatchNorm(OnnxToAicGraphPattern):
    ONNX_OPS = {"BatchNormalization": "inference mode (training_mode 0, statistics outputs unused), "
                                      "float types, opset 7 and later (spatial 1)"}

    def convert(self, node: Node, emit: Emitter):
        x = node.input("X")
        require_float(x)
        if node.version < 7:
            raise NotConvertible("BatchNormalization before opset 7 is not supported")
        if node.attr("training_mode", 0):
            raise NotConvertible("training_mode 1 is not supported")
        if node.has_attr("spatial") and node.attr("spatial", 1) != 1:
            raise NotConvertible("spatial 0 is not supported")
        for value in node.op.results[1:]:
            if value.uses:
                raise NotConvertible("the running or saved statistics are used")
        if rank_of(x) < 2:
            raise NotConvertible("the input has no channel axis")
        scale, bias = node.input("scale"), node.input("B")
        mean_name = "input_mean" if node.has_input("input_mean") else "mean"
        var_name = "input_var" if node.has_input("input_var") else "var"
        mean, var = node.input(mean_name), node.input(var_name)
        epsilon = node.attr("epsilon", 1e-5)
        channels = shape_of(x)[1]
        broadcast = (channels,) + (1,) * (rank_of(x) - 2)
        out = node.result.type
        values = [const_array(v) for v in (scale, bias, mean, var)]
        if all(v is not None for v in values):
            s, b, m, v = (np.asarray(a, dtype=np.float64).reshape(-1) for a in values)
            factor = s / np.sqrt(v + np.float32(epsilon).astype(np.float64))
            shift = b - m * factor
            dtype = from_xdsl(element_of(x)).numpy
            factor_value = emit.constant(factor.astype(dtype).reshape(broadcast), "scale")
            shift_value = emit.constant(shift.astype(dtype).reshape(broadcast), "shift")
            scaled = emit.binary("mul", x, factor_value)
            return [emit.binary("add", scaled, shift_value, out)] + [None] * (len(node.op.results) - 1)
        element = element_of(x)
        as_x = [emit.reshape(emit.cast(v, element), broadcast) for v in (scale, bias, mean, var)]
        s, b, m, v = as_x
        std = emit.unary(emit.binary("add", v, emit.scalar(epsilon, x)), "sqrt")
        centered = emit.binary("sub", x, m)
        normalized = emit.binary("div", centered, std)
        scaled = emit.binary("mul", normalized, s)
        return [emit.binary("add", scaled, b, out)] + [None] * (len(node.op.results) - 1)


PATTERNS = (ConvertSoftmax, ConvertLayerNorm, ConvertInstanceNorm, ConvertBatchNorm)
