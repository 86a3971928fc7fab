"""Constants and values known at compile time: Constant, ConstantOfShape, Range, EyeLike,
Shape, Size, Identity."""

from __future__ import annotations

import numpy as np
from qaicc.dialects.aic_graph import ops as aic
from qaicc.dialects.onnx.element_types import from_xdsl
from qaicc.dialects.qaicc_attrs import DenseBlobAttr
from qaicc.passes.onnx_to_aic_graph.common import (
    DEVICE_ELEMENT_TYPES,
    Emitter,
    Node,
    NotConvertible,
    OnnxToAicGraphPattern,
    check_value,
    const_array,
    element_of,
    onnx_constant_array,
    shape_of,
    type_text,
)


class ConvertConstant(OnnxToAicGraphPattern):
    """onnx.Constant -> aic_graph.constant with the same blob (weights are never copied)."""

    ONNX_OPS = {"Constant": "numeric tensors (value, value_float(s), value_int(s)); no sparse_value, no strings"}

    def convert(self, node: Node, emit: Emitter):
        op = node.op
        result = node.result
        attr = op.properties.get("value")
        if isinstance(attr, DenseBlobAttr):
            if attr.type != result.type:
                raise NotConvertible(f"the value's type {attr.type} differs from the result's {result.type}")
            new = aic.ConstantOp.build(result_types=[result.type], properties={"value": attr})
            emit.add(new)
            return [new.results[0]]
        if "sparse_value" in op.properties:
            raise NotConvertible("sparse_value is not supported")
        array = onnx_constant_array(op)
        if array is None:
            raise NotConvertible("string constants are not supported")
        return [emit.constant(array, "value")]


class ConvertConstantOfShape(OnnxToAicGraphPattern):
    """The static result shape says everything: a one-element constant, expanded."""

    ONNX_OPS = {"ConstantOfShape": "static result shape"}

    def convert(self, node: Node, emit: Emitter):
        result = node.result
        attr = node.op.properties.get("value")
        dtype = from_xdsl(element_of(result)).numpy
        fill = attr.to_numpy().reshape(-1)[0] if isinstance(attr, DenseBlobAttr) else 0
        scalar = emit.constant(np.array(fill, dtype=dtype), "value")
        if not shape_of(result):
            return [scalar]
        return [emit.build(aic.ExpandOp, [scalar], result.type)]


class ConvertRange(OnnxToAicGraphPattern):
    ONNX_OPS = {"Range": "constant start, limit and delta"}

    def convert(self, node: Node, emit: Emitter):
        values = [const_array(node.input(name)) for name in ("start", "limit", "delta")]
        if any(v is None for v in values):
            raise NotConvertible("start, limit and delta must be constants")
        start, limit, delta = (v.reshape(()) for v in values)
        if delta == 0:
            raise NotConvertible("delta is 0")
        dtype = from_xdsl(element_of(node.result)).numpy
        array = np.arange(start, limit, delta).astype(dtype)  # as onnx's reference Range
        if array.shape != shape_of(node.result):
            raise NotConvertible(f"the range has {array.shape[0]} elements, its type says {node.result.type}")
        return [emit.constant(array, "range")]


class ConvertEyeLike(OnnxToAicGraphPattern):
    ONNX_OPS = {"EyeLike": ""}

    def convert(self, node: Node, emit: Emitter):
        rows, columns = shape_of(node.result)
        dtype = from_xdsl(element_of(node.result)).numpy
        return [emit.constant(np.eye(rows, columns, k=node.attr("k", 0), dtype=dtype), "eye")]


class ConvertShapeSize(OnnxToAicGraphPattern):
    """Shape and Size of a statically shaped value are constants."""

    ONNX_OPS = {"Shape": "", "Size": ""}
    CHECK_VALUES = False  # the input may be of any element type: only its shape counts

    def convert(self, node: Node, emit: Emitter):
        source = node.op.operands[0]
        shape_type = source.type
        if not hasattr(shape_type, "get_shape") or any(d < 0 for d in shape_type.get_shape()):
            raise NotConvertible(f"the input has no static shape ({shape_type})")
        check_value(node.result, "the result")
        shape = np.array(shape_type.get_shape(), dtype=np.int64)
        if node.op_type == "Size":
            return [emit.constant(np.array(int(np.prod(shape)), dtype=np.int64), "size")]
        start, end = node.attr("start", 0), node.attr("end", len(shape))
        return [emit.constant(shape[slice(start, end)], "shape")]


class ConvertIdentity(OnnxToAicGraphPattern):
    """Identity forwards its input (the result has the same type)."""

    ONNX_OPS = {"Identity": "tensors"}

    def convert(self, node: Node, emit: Emitter):
        source = node.op.operands[0]
        if source.type == node.result.type:
            return [source]
        return [emit.unary(source, "identity", type=node.result.type)]


PATTERNS = (ConvertConstant, ConvertConstantOfShape, ConvertRange, ConvertEyeLike, ConvertShapeSize, ConvertIdentity)

__all__ = ["PATTERNS", "DEVICE_ELEMENT_TYPES", "type_text"]
