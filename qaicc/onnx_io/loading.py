"""Reading ONNX files with clear errors (missing, truncated, not ONNX)."""

from __future__ import annotations

import os
from pathlib import Path

import onnx
from google.protobuf.message import DecodeError

from qaicc.errors import QaiccError


def load_model_proto(path: str | os.PathLike) -> onnx.ModelProto:
    """Load an ONNX model without its external data (that is memory-mapped on use)."""
    path = Path(path)
    if not path.exists():
        raise QaiccError(f"{path}: no such file; check the model path")
    if path.is_dir():
        raise QaiccError(f"{path}: is a directory, not an ONNX model file")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise QaiccError(f"{path}: cannot read the file ({error.strerror})") from None
    if not data:
        raise QaiccError(f"{path}: the file is empty, not an ONNX model")
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError):
        raise QaiccError(
            f"{path}: not a valid ONNX model (the protobuf does not parse: the file is "
            "truncated or is not ONNX)"
        ) from None
    if not model.HasField("graph") or (model.ir_version == 0 and not model.opset_import):
        raise QaiccError(f"{path}: not an ONNX model (no graph or no ir_version/opset_import)")
    return model
