"""Types and attributes of the ``onnx`` dialect that the builtin dialect lacks.

- ``!onnx.string``: the element type of ONNX string tensors.
- ``!onnx.seq<T>``: an ONNX sequence of tensors of type ``T``.
- ``!onnx.opt<T>``: an ONNX optional of ``T`` (a tensor or a sequence type).
- ``#onnx.type<T>``: a TYPE_PROTO attribute value (as used by ``onnx.Optional``).
- ``#onnx.sparse<values, indices, dims>``: a SPARSE_TENSOR attribute value.
"""

from __future__ import annotations

from xdsl.dialects.builtin import DenseArrayBase
from xdsl.ir import Attribute, ParametrizedAttribute, TypeAttribute
from xdsl.irdl import irdl_attr_definition


@irdl_attr_definition
class StringType(ParametrizedAttribute, TypeAttribute):
    name = "onnx.string"


@irdl_attr_definition
class SeqType(ParametrizedAttribute, TypeAttribute):
    name = "onnx.seq"
    element_type: Attribute


@irdl_attr_definition
class OptType(ParametrizedAttribute, TypeAttribute):
    name = "onnx.opt"
    element_type: Attribute


@irdl_attr_definition
class TypeProtoAttr(ParametrizedAttribute):
    name = "onnx.type"
    value: Attribute


@irdl_attr_definition
class SparseTensorAttr(ParametrizedAttribute):
    """Values (a 1-D blob), indices (1-D linear or 2-D coordinates) and dense dims."""

    name = "onnx.sparse"
    values: Attribute
    indices: Attribute
    dims: DenseArrayBase


@irdl_attr_definition
class UnknownType(ParametrizedAttribute, TypeAttribute):
    """The type of a value whose type the model does not state and inference could not find."""

    name = "onnx.unknown"
