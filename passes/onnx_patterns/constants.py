"""Reading and making ``onnx.Constant`` ops that hold ``#qaicc.blob`` values."""

from __future__ import annotations

import numpy as np
from xdsl.dialects.builtin import StringAttr, TensorType
from xdsl.ir import Operation, SSAValue

from qaicc.dialects.onnx import op_class
from qaicc.dialects.onnx.element_types import from_numpy
from qaicc.dialects.qaicc_attrs import DenseBlobAttr
from qaicc.semantics.onnx_ops import module_opset


def constant_attr(value: SSAValue) -> DenseBlobAttr | None:
    """The blob of a value defined by an onnx.Constant with data (not loaded), else None."""
    owner = value.owner
    if not isinstance(owner, Operation) or not owner.name.startswith("onnx.Constant"):
        return None
    if owner.name != "onnx.Constant" and not owner.name.startswith("onnx.ConstantV"):
        return None
    attr = owner.properties.get("value")
    if not isinstance(attr, DenseBlobAttr) or not attr.blob.has_data:
        return None
    return attr


def constant_value(value: SSAValue) -> np.ndarray | None:
    """The array of a value defined by an onnx.Constant with data, else None (this reads
    the constant's bytes: ask ``is_constant`` first when that may be all you need)."""
    attr = constant_attr(value)
    return attr.to_numpy() if attr is not None else None


def is_constant(value: SSAValue) -> bool:
    return constant_attr(value) is not None


def make_constant(array: np.ndarray, name: str, near: Operation) -> Operation | None:
    """A new onnx.Constant (of the module's opset) holding ``array``; None if ONNX cannot type it."""
    element = from_numpy(array.dtype)
    if element is None:
        return None
    array = np.asarray(array, dtype=element.numpy) if element.numpy != np.dtype(object) else np.asarray(array)
    type = TensorType(element.xdsl, array.shape)
    attr = DenseBlobAttr.from_array(array, name, type)
    constant_class = op_class("Constant", module_opset(near))
    op = constant_class.build(result_types=[type], properties={"value": attr})
    node_name = near.attributes.get("onnx_node_name")
    if isinstance(node_name, StringAttr):
        op.attributes["onnx_node_name"] = StringAttr(f"{node_name.data}.folded")
    return op
