"""ONNX TypeProto <-> xDSL types.

Tensors become builtin ``tensor<...>`` types with ``?`` for symbolic or unknown
dimensions (the names of symbolic dimensions of graph inputs and outputs are kept by
the importer in ``onnx.dim_params`` attributes, as onnx-mlir does); sequences become
``!onnx.seq<...>`` and optionals ``!onnx.opt<...>``. A type ONNX left unknown is
``!onnx.unknown``.
"""

from __future__ import annotations

from onnx import TypeProto, helper
from xdsl.dialects.builtin import DYNAMIC_INDEX, TensorType, UnrankedTensorType
from xdsl.ir import Attribute

from qaicc.dialects.onnx.element_types import from_onnx_enum, from_xdsl
from qaicc.dialects.onnx.types import OptType, SeqType, UnknownType
from qaicc.errors import QaiccError


def tensor_dims(tensor_type: TypeProto.Tensor) -> tuple[list[int], dict[int, str]] | None:
    """Static dims (-1 when not static) and the names of symbolic dims; None if unranked."""
    if not tensor_type.HasField("shape"):
        return None
    dims: list[int] = []
    params: dict[int, str] = {}
    for index, dim in enumerate(tensor_type.shape.dim):
        if dim.HasField("dim_value") and dim.dim_value >= 0:
            dims.append(dim.dim_value)
            continue
        dims.append(DYNAMIC_INDEX)
        if dim.HasField("dim_param") and dim.dim_param:
            params[index] = dim.dim_param
    return dims, params


def from_type_proto(type_proto: TypeProto) -> Attribute:
    kind = type_proto.WhichOneof("value")
    if kind == "tensor_type":
        element = from_onnx_enum(type_proto.tensor_type.elem_type)
        if element is None:
            return UnknownType()
        dims = tensor_dims(type_proto.tensor_type)
        if dims is None:
            return UnrankedTensorType(element.xdsl)
        return TensorType(element.xdsl, dims[0])
    if kind == "sequence_type":
        return SeqType(from_type_proto(type_proto.sequence_type.elem_type))
    if kind == "optional_type":
        return OptType(from_type_proto(type_proto.optional_type.elem_type))
    if kind == "sparse_tensor_type":
        raise QaiccError("sparse tensor values are not supported")
    if kind == "map_type":
        raise QaiccError("map values are not supported (they belong to the ai.onnx.ml domain)")
    return UnknownType()


def to_type_proto(type: Attribute, dim_params: dict[int, str] | None = None) -> TypeProto | None:
    """The TypeProto of an xDSL type; None for ``!onnx.unknown``."""
    if isinstance(type, TensorType):
        element = from_xdsl(type.element_type)
        if element is None:
            return None
        shape: list[int | str | None] = []
        for index, dim in enumerate(type.get_shape()):
            if dim_params and index in dim_params:
                shape.append(dim_params[index])
            else:
                shape.append(dim if dim >= 0 else None)
        return helper.make_tensor_type_proto(element.onnx_enum, shape)
    if isinstance(type, UnrankedTensorType):
        element = from_xdsl(type.element_type)
        return helper.make_tensor_type_proto(element.onnx_enum, None) if element else None
    if isinstance(type, SeqType):
        inner = to_type_proto(type.element_type)
        return helper.make_sequence_type_proto(inner) if inner else None
    if isinstance(type, OptType):
        inner = to_type_proto(type.element_type)
        return helper.make_optional_type_proto(inner) if inner else None
    return None
