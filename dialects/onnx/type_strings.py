"""ONNX type strings ("tensor(float)", "seq(tensor(int64))") of xDSL types."""

from __future__ import annotations

from functools import lru_cache

from xdsl.dialects.builtin import TensorType, UnrankedTensorType
from xdsl.ir import Attribute

from qaicc.dialects.onnx.element_types import from_xdsl
from qaicc.dialects.onnx.types import OptType, SeqType


@lru_cache(maxsize=4096)
def onnx_type_string(type: Attribute) -> str | None:
    """The schema type string of ``type``; None when its element type is unknown."""
    if isinstance(type, TensorType | UnrankedTensorType):
        element = from_xdsl(type.element_type)
        return f"tensor({element.onnx_name})" if element else None
    if isinstance(type, SeqType):
        inner = onnx_type_string(type.element_type)
        return f"seq({inner})" if inner else None
    if isinstance(type, OptType):
        inner = onnx_type_string(type.element_type)
        return f"optional({inner})" if inner else None
    return None
