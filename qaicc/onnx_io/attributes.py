"""ONNX AttributeProto <-> xDSL attributes (GRAPH attributes are regions, not here).

| ONNX kind      | xDSL attribute                                    |
|----------------|---------------------------------------------------|
| INT / INTS     | ``IntegerAttr`` i64 / ``array<i64: ...>``          |
| FLOAT / FLOATS | ``FloatAttr`` f32 / ``array<f32: ...>``            |
| STRING(S)      | ``StringAttr`` / ``ArrayAttr`` of them            |
| TENSOR(S)      | ``#qaicc.blob`` / ``ArrayAttr`` of them           |
| SPARSE_TENSOR  | ``#onnx.sparse<values, indices, dims>``           |
| TYPE_PROTO(S)  | ``#onnx.type<T>`` / ``ArrayAttr`` of them          |
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from onnx import AttributeProto, SparseTensorProto, helper
from xdsl.dialects.builtin import (
    ArrayAttr,
    BytesAttr,
    DenseArrayBase,
    FloatAttr,
    IntegerAttr,
    StringAttr,
    f32,
    i64,
)
from xdsl.ir import Attribute

from qaicc.dialects.onnx.signature import AttrKind
from qaicc.dialects.onnx.types import SparseTensorAttr, TypeProtoAttr
from qaicc.dialects.qaicc_attrs import DenseBlobAttr
from qaicc.errors import QaiccError
from qaicc.onnx_io.tensors import blob_attr_from_tensor, tensor_from_blob_attr
from qaicc.onnx_io.types import from_type_proto, to_type_proto

_A = AttributeProto
KIND_OF_PROTO = {
    _A.INT: AttrKind.INT, _A.FLOAT: AttrKind.FLOAT, _A.STRING: AttrKind.STRING,
    _A.TENSOR: AttrKind.TENSOR, _A.GRAPH: AttrKind.GRAPH, _A.SPARSE_TENSOR: AttrKind.SPARSE_TENSOR,
    _A.TYPE_PROTO: AttrKind.TYPE_PROTO, _A.INTS: AttrKind.INTS, _A.FLOATS: AttrKind.FLOATS,
    _A.STRINGS: AttrKind.STRINGS, _A.TENSORS: AttrKind.TENSORS, _A.GRAPHS: AttrKind.GRAPHS,
    _A.SPARSE_TENSORS: AttrKind.SPARSE_TENSORS, _A.TYPE_PROTOS: AttrKind.TYPE_PROTOS,
}


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="surrogateescape")


def _encode(text: str) -> bytes:
    return text.encode("utf-8", errors="surrogateescape")


def int_array(values) -> DenseArrayBase:
    return DenseArrayBase(i64, BytesAttr(np.asarray(values, dtype="<i8").tobytes()))


def float_array(values) -> DenseArrayBase:
    return DenseArrayBase(f32, BytesAttr(np.asarray(values, dtype="<f4").tobytes()))


def _sparse_from_proto(sparse: SparseTensorProto, base_dir: Path | None) -> SparseTensorAttr:
    values = blob_attr_from_tensor(sparse.values, base_dir, sparse.values.name or "sparse_values")
    indices = blob_attr_from_tensor(sparse.indices, base_dir, sparse.indices.name or "sparse_indices")
    return SparseTensorAttr(values, indices, int_array(list(sparse.dims)))


def from_attribute_proto(attr: AttributeProto, base_dir: Path | None, node_name: str) -> Attribute:
    """Convert a non-graph attribute; ``node_name`` names constant blobs after the node."""
    kind = attr.type
    if kind == _A.INT:
        return IntegerAttr(attr.i, i64)
    if kind == _A.FLOAT:
        return FloatAttr(attr.f, f32)
    if kind == _A.STRING:
        return StringAttr(_decode(attr.s))
    if kind == _A.INTS:
        return int_array(list(attr.ints))
    if kind == _A.FLOATS:
        return float_array(list(attr.floats))
    if kind == _A.STRINGS:
        return ArrayAttr([StringAttr(_decode(s)) for s in attr.strings])
    if kind == _A.TENSOR:
        return blob_attr_from_tensor(attr.t, base_dir, attr.t.name or f"{node_name}.{attr.name}")
    if kind == _A.TENSORS:
        return ArrayAttr([
            blob_attr_from_tensor(t, base_dir, t.name or f"{node_name}.{attr.name}.{i}")
            for i, t in enumerate(attr.tensors)
        ])
    if kind == _A.SPARSE_TENSOR:
        return _sparse_from_proto(attr.sparse_tensor, base_dir)
    if kind == _A.SPARSE_TENSORS:
        return ArrayAttr([_sparse_from_proto(s, base_dir) for s in attr.sparse_tensors])
    if kind == _A.TYPE_PROTO:
        return TypeProtoAttr(from_type_proto(attr.tp))
    if kind == _A.TYPE_PROTOS:
        return ArrayAttr([TypeProtoAttr(from_type_proto(t)) for t in attr.type_protos])
    raise QaiccError(f"attribute '{attr.name}' has an unsupported kind {kind}")


def _sparse_to_proto(attr: SparseTensorAttr) -> SparseTensorProto:
    values = tensor_from_blob_attr(attr.values)  # type: ignore[arg-type]
    indices = tensor_from_blob_attr(attr.indices)  # type: ignore[arg-type]
    return helper.make_sparse_tensor(values, indices, list(attr.dims.get_values()))


def to_attribute_proto(name: str, kind: AttrKind, value: Attribute) -> AttributeProto:
    if kind is AttrKind.INT:
        return helper.make_attribute(name, value.value.data, attr_type=_A.INT)  # type: ignore[union-attr]
    if kind is AttrKind.FLOAT:
        return helper.make_attribute(name, value.value.data, attr_type=_A.FLOAT)  # type: ignore[union-attr]
    if kind is AttrKind.STRING:
        return helper.make_attribute(name, _encode(value.data), attr_type=_A.STRING)  # type: ignore[union-attr]
    if kind is AttrKind.INTS:
        return helper.make_attribute(name, list(value.get_values()), attr_type=_A.INTS)  # type: ignore[union-attr]
    if kind is AttrKind.FLOATS:
        return helper.make_attribute(name, list(value.get_values()), attr_type=_A.FLOATS)  # type: ignore[union-attr]
    if kind is AttrKind.STRINGS:
        return helper.make_attribute(name, [_encode(s.data) for s in value.data], attr_type=_A.STRINGS)  # type: ignore[union-attr]
    if kind is AttrKind.TENSOR:
        return helper.make_attribute(name, _tensor(value), attr_type=_A.TENSOR)
    if kind is AttrKind.TENSORS:
        return helper.make_attribute(name, [_tensor(t) for t in value.data], attr_type=_A.TENSORS)  # type: ignore[union-attr]
    if kind is AttrKind.SPARSE_TENSOR:
        return helper.make_attribute(name, _sparse_to_proto(value), attr_type=_A.SPARSE_TENSOR)  # type: ignore[arg-type]
    if kind is AttrKind.SPARSE_TENSORS:
        return helper.make_attribute(name, [_sparse_to_proto(s) for s in value.data], attr_type=_A.SPARSE_TENSORS)  # type: ignore[union-attr]
    if kind is AttrKind.TYPE_PROTO:
        return helper.make_attribute(name, to_type_proto(value.value), attr_type=_A.TYPE_PROTO)  # type: ignore[union-attr]
    if kind is AttrKind.TYPE_PROTOS:
        return helper.make_attribute(name, [to_type_proto(t.value) for t in value.data], attr_type=_A.TYPE_PROTOS)  # type: ignore[union-attr]
    raise QaiccError(f"attribute '{name}' of kind {kind.value} cannot be exported")


def _tensor(value: Attribute):
    if not isinstance(value, DenseBlobAttr):
        raise QaiccError(f"expected a constant tensor attribute, got {value}")
    return tensor_from_blob_attr(value)
