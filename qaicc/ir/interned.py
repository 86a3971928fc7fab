"""Interned builtin attributes: each made once and shared.

xDSL attributes are immutable and verified when made; code that builds IR proportional
to ops x cores (the aic-core lowering, the QPC loader) makes the same few thousand
attributes over and over, so it takes them from here.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from xdsl.dialects.builtin import (
    BytesAttr,
    DenseArrayBase,
    FlatSymbolRefAttr,
    IntegerAttr,
    StringAttr,
    TensorType,
    i64,
)
from xdsl.ir import Attribute


@lru_cache(maxsize=None)
def int_attr(value: int) -> IntegerAttr:
    return IntegerAttr(value, i64)


@lru_cache(maxsize=None)
def int_array(values: tuple[int, ...]) -> DenseArrayBase:
    return DenseArrayBase(i64, BytesAttr(np.asarray(values, dtype="<i8").tobytes()))


@lru_cache(maxsize=None)
def symbol(name: str) -> FlatSymbolRefAttr:
    return FlatSymbolRefAttr(name)


@lru_cache(maxsize=None)
def string(text: str) -> StringAttr:
    return StringAttr(text)


@lru_cache(maxsize=None)
def tensor_type(element: Attribute, shape: tuple[int, ...]) -> TensorType:
    return TensorType(element, shape)
