"""The one table that relates ONNX element types, xDSL element types and numpy dtypes.

Conventions (as in onnx-mlir): signed integers are signless (``i8``), unsigned
integers are ``ui8``, bool is ``i1``, strings are ``!onnx.string``. Every other module
converts element types through the functions here; nothing else keeps such a table.
"""

from __future__ import annotations

from dataclasses import dataclass

import ml_dtypes
import numpy as np
from onnx import TensorProto
from xdsl.dialects import builtin
from xdsl.dialects.builtin import IntegerType, Signedness
from xdsl.ir import Attribute

from qaicc.dialects.onnx.types import StringType


@dataclass(frozen=True)
class ElementType:
    onnx_enum: int
    onnx_name: str  # as in type strings: tensor(<onnx_name>)
    xdsl: Attribute
    numpy: np.dtype


def _u(width: int) -> IntegerType:
    return IntegerType(width, Signedness.UNSIGNED)


_E = TensorProto
ELEMENT_TYPES: tuple[ElementType, ...] = (
    ElementType(_E.FLOAT, "float", builtin.f32, np.dtype(np.float32)),
    ElementType(_E.UINT8, "uint8", _u(8), np.dtype(np.uint8)),
    ElementType(_E.INT8, "int8", builtin.i8, np.dtype(np.int8)),
    ElementType(_E.UINT16, "uint16", _u(16), np.dtype(np.uint16)),
    ElementType(_E.INT16, "int16", builtin.i16, np.dtype(np.int16)),
    ElementType(_E.INT32, "int32", builtin.i32, np.dtype(np.int32)),
    ElementType(_E.INT64, "int64", builtin.i64, np.dtype(np.int64)),
    ElementType(_E.STRING, "string", StringType(), np.dtype(object)),
    ElementType(_E.BOOL, "bool", builtin.i1, np.dtype(np.bool_)),
    ElementType(_E.FLOAT16, "float16", builtin.f16, np.dtype(np.float16)),
    ElementType(_E.DOUBLE, "double", builtin.f64, np.dtype(np.float64)),
    ElementType(_E.UINT32, "uint32", _u(32), np.dtype(np.uint32)),
    ElementType(_E.UINT64, "uint64", _u(64), np.dtype(np.uint64)),
    ElementType(_E.COMPLEX64, "complex64", builtin.ComplexType(builtin.f32), np.dtype(np.complex64)),
    ElementType(_E.COMPLEX128, "complex128", builtin.ComplexType(builtin.f64), np.dtype(np.complex128)),
    ElementType(_E.BFLOAT16, "bfloat16", builtin.bf16, np.dtype(ml_dtypes.bfloat16)),
    ElementType(_E.FLOAT8E4M3FN, "float8e4m3fn", builtin.Float8E4M3FNType(), np.dtype(ml_dtypes.float8_e4m3fn)),
    ElementType(_E.FLOAT8E4M3FNUZ, "float8e4m3fnuz", builtin.Float8E4M3FNUZType(), np.dtype(ml_dtypes.float8_e4m3fnuz)),
    ElementType(_E.FLOAT8E5M2, "float8e5m2", builtin.Float8E5M2Type(), np.dtype(ml_dtypes.float8_e5m2)),
    ElementType(_E.FLOAT8E5M2FNUZ, "float8e5m2fnuz", builtin.Float8E5M2FNUZType(), np.dtype(ml_dtypes.float8_e5m2fnuz)),
    ElementType(_E.UINT4, "uint4", _u(4), np.dtype(ml_dtypes.uint4)),
    ElementType(_E.INT4, "int4", IntegerType(4), np.dtype(ml_dtypes.int4)),
    ElementType(_E.FLOAT4E2M1, "float4e2m1", builtin.Float4E2M1FNType(), np.dtype(ml_dtypes.float4_e2m1fn)),
    ElementType(_E.FLOAT8E8M0, "float8e8m0", builtin.Float8E8M0FNUType(), np.dtype(ml_dtypes.float8_e8m0fnu)),
    ElementType(_E.UINT2, "uint2", _u(2), np.dtype(ml_dtypes.uint2)),
    ElementType(_E.INT2, "int2", IntegerType(2), np.dtype(ml_dtypes.int2)),
    ElementType(_E.FLOAT6E2M3, "float6e2m3", builtin.Float6E2M3FNType(), np.dtype(ml_dtypes.float6_e2m3fn)),
    ElementType(_E.FLOAT6E3M2, "float6e3m2", builtin.Float6E3M2FNType(), np.dtype(ml_dtypes.float6_e3m2fn)),
)

BY_ONNX_ENUM = {e.onnx_enum: e for e in ELEMENT_TYPES}
BY_XDSL = {e.xdsl: e for e in ELEMENT_TYPES}
BY_NUMPY = {e.numpy: e for e in ELEMENT_TYPES}


def from_onnx_enum(elem_type: int) -> ElementType | None:
    return BY_ONNX_ENUM.get(elem_type)


def from_xdsl(elem_type: Attribute) -> ElementType | None:
    return BY_XDSL.get(elem_type)


def from_numpy(dtype: np.dtype) -> ElementType | None:
    if dtype.kind in ("U", "S", "O"):
        return BY_ONNX_ENUM[TensorProto.STRING]
    return BY_NUMPY.get(np.dtype(dtype))
