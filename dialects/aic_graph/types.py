"""Types of the ``aic_graph`` dialect.

``!aic_graph.mxfp6<e2m3>`` / ``!aic_graph.mxfp6<e3m2>``: the element type of a weight
stored as OCP MXFP6 (6-bit elements in blocks of 32 along the reduction axis, sharing
one E8M0 scale). Only ``aic_graph.mxfp6_constant`` produces it and only
``aic_graph.dequantize`` reads it.
"""

from __future__ import annotations

from xdsl.dialects.builtin import StringAttr
from xdsl.ir import ParametrizedAttribute, TypeAttribute
from xdsl.irdl import irdl_attr_definition
from xdsl.parser import AttrParser
from xdsl.printer import Printer
from xdsl.utils.exceptions import VerifyException

MXFP6_FORMATS = ("e2m3", "e3m2")
MXFP6_BLOCK = 32
MXFP6_BITS_PER_ELEMENT = 6
MXFP6_SCALE_BITS = 8


@irdl_attr_definition
class MXFP6Type(ParametrizedAttribute, TypeAttribute):
    name = "aic_graph.mxfp6"

    format: StringAttr

    def verify(self) -> None:
        if self.format.data not in MXFP6_FORMATS:
            raise VerifyException(f"mxfp6 format must be one of {MXFP6_FORMATS}, got {self.format.data}")

    def print_parameters(self, printer: Printer) -> None:
        printer.print_string(f"<{self.format.data}>")

    @classmethod
    def parse_parameters(cls, parser: AttrParser):
        parser.parse_punctuation("<")
        fmt = parser.parse_identifier()
        parser.parse_punctuation(">")
        return (StringAttr(fmt),)

    @staticmethod
    def bytes_for(elements: int) -> int:
        """Storage of ``elements`` MXFP6 values: 6 bits each plus one scale byte per block."""
        blocks = -(-elements // MXFP6_BLOCK)
        return (elements * MXFP6_BITS_PER_ELEMENT + 7) // 8 + blocks * MXFP6_SCALE_BITS // 8
