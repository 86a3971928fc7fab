"""ONNX TensorProto <-> ``#qaicc.blob`` constants, without copying weights needlessly.

Import: tensors with ``raw_data`` of a plain numpy dtype become lazy blobs that view the
proto's own bytes on first use; tensors with external data become lazy memory maps of
the data file (so a model over 2 GB is never read into memory by the importer); other
encodings (typed fields, packed 4-bit types, strings) are decoded by
``onnx.numpy_helper`` on first use. Small tensors are decoded at once (they are printed
inline and folded often).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from onnx import TensorProto, numpy_helper
from xdsl.dialects.builtin import TensorType

from qaicc.dialects.onnx.element_types import from_numpy, from_onnx_enum
from qaicc.dialects.qaicc_attrs import INLINE_VALUES_MAX_ELEMENTS, Blob, DenseBlobAttr
from qaicc.errors import QaiccError

_PACKED_TYPES = {
    TensorProto.INT4, TensorProto.UINT4, TensorProto.FLOAT4E2M1,
    TensorProto.INT2, TensorProto.UINT2,
}


def external_data_info(tensor: TensorProto) -> dict[str, str]:
    return {entry.key: entry.value for entry in tensor.external_data}


def check_external_data(tensor: TensorProto, base_dir: Path | None) -> Path:
    """The path of a tensor's external data file; a clear error if it is missing."""
    info = external_data_info(tensor)
    location = info.get("location")
    if not location:
        raise QaiccError(f"initializer '{tensor.name}' has external data without a location")
    if base_dir is None:
        raise QaiccError(
            f"initializer '{tensor.name}' keeps its data in '{location}'; import the model "
            "from its file path (not from a ModelProto in memory) so that the data file can be found"
        )
    path = (base_dir / location).resolve()
    if not path.is_file():
        raise QaiccError(
            f"external data file '{location}' of initializer '{tensor.name}' not found "
            f"(looked in {base_dir}); keep the data file beside the model"
        )
    offset = int(info.get("offset", 0))
    length = info.get("length")
    size = path.stat().st_size
    needed = offset + int(length) if length is not None else offset
    if needed > size:
        raise QaiccError(
            f"external data file '{location}' of initializer '{tensor.name}' is too short "
            f"({size} bytes, needs {needed}); the file is truncated or belongs to another model"
        )
    return path


def blob_from_tensor(tensor: TensorProto, base_dir: Path | None) -> Blob:
    element = from_onnx_enum(tensor.data_type)
    if element is None:
        raise QaiccError(f"tensor '{tensor.name}' has unknown element type {tensor.data_type}")
    shape = tuple(tensor.dims)
    size = int(np.prod(shape)) if shape else 1
    if tensor.data_location == TensorProto.EXTERNAL:
        path = check_external_data(tensor, base_dir)
        return _external_blob(tensor, path, element.numpy, shape)
    plain = tensor.data_type not in _PACKED_TYPES and tensor.data_type != TensorProto.STRING
    if plain and tensor.HasField("raw_data") and size > INLINE_VALUES_MAX_ELEMENTS:
        dtype = element.numpy.newbyteorder("<")

        def load_raw() -> np.ndarray:
            return np.frombuffer(tensor.raw_data, dtype=dtype).reshape(shape)

        return Blob(loader=load_raw, dtype=element.numpy, shape=shape)
    if size > INLINE_VALUES_MAX_ELEMENTS:
        return Blob(loader=lambda: _to_array(tensor, element.numpy), dtype=element.numpy, shape=shape)
    return Blob(_to_array(tensor, element.numpy))


def _to_array(tensor: TensorProto, dtype: np.dtype) -> np.ndarray:
    array = numpy_helper.to_array(tensor)
    if dtype != np.dtype(object) and array.dtype != dtype:
        array = array.astype(dtype)
    return array


def _external_blob(tensor: TensorProto, path: Path, dtype: np.dtype, shape: tuple[int, ...]) -> Blob:
    info = external_data_info(tensor)
    offset = int(info.get("offset", 0))
    if tensor.data_type in _PACKED_TYPES or tensor.data_type == TensorProto.STRING:
        base_dir = str(path.parent)
        return Blob(loader=lambda: numpy_helper.to_array(tensor, base_dir), dtype=dtype, shape=shape)

    def load_mapped() -> np.ndarray:
        count = int(np.prod(shape)) if shape else 1
        if count == 0:
            return np.zeros(shape, dtype)
        return np.memmap(path, dtype=dtype.newbyteorder("<"), mode="r", offset=offset, shape=shape)

    return Blob(loader=load_mapped, dtype=dtype, shape=shape)


def blob_attr_from_tensor(tensor: TensorProto, base_dir: Path | None, name: str | None = None) -> DenseBlobAttr:
    blob = blob_from_tensor(tensor, base_dir)
    element = from_onnx_enum(tensor.data_type)
    return DenseBlobAttr.from_blob(blob, name or tensor.name, TensorType(element.xdsl, blob.shape))


def tensor_from_blob_attr(attr: DenseBlobAttr, name: str | None = None) -> TensorProto:
    array = attr.to_numpy()
    element = from_numpy(array.dtype)
    if element is None:
        raise QaiccError(f"constant '{attr.blob_name.data}' has dtype {array.dtype}, which ONNX cannot hold")
    if not array.flags.c_contiguous:
        array = array.copy(order="C")  # np.ascontiguousarray would turn a scalar into 1-D
    return numpy_helper.from_array(array, name or attr.blob_name.data)


def base_dir_of(path: str | os.PathLike | None) -> Path | None:
    return Path(path).resolve().parent if path is not None else None
