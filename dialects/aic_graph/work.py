"""The work of an ``aic_graph`` op, for the cost model: FLOPs and bytes moved."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from xdsl.dialects.builtin import TensorType
from xdsl.ir import Attribute

from qaicc.dialects.aic_graph.types import MXFP6Type


@dataclass(frozen=True)
class Work:
    flops: int
    bytes_in: int
    bytes_out: int

    def __add__(self, other: Work) -> Work:
        return Work(self.flops + other.flops, self.bytes_in + other.bytes_in, self.bytes_out + other.bytes_out)


def element_count(type: Attribute) -> int:
    if not isinstance(type, TensorType):
        return 0
    return int(np.prod(type.get_shape())) if type.get_shape() else 1


def element_bits(element: Attribute) -> int:
    if isinstance(element, MXFP6Type):
        return 6
    width = getattr(element, "bitwidth", None)
    if width is None:
        width = getattr(element, "width", None)
        width = getattr(width, "data", width)
    if not width:
        return 32
    return 8 if int(width) == 1 else int(width)  # bool is stored in a byte


def tensor_bytes(type: Attribute) -> int:
    if not isinstance(type, TensorType):
        return 0
    count = element_count(type)
    if isinstance(type.element_type, MXFP6Type):
        return MXFP6Type.bytes_for(count)
    return (count * element_bits(type.element_type) + 7) // 8
