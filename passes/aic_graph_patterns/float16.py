"""Patterns that make ``aic_graph`` computation float16.

- ``ConstantToFloat16``: an ``aic_graph.constant`` of float32, float64 or bfloat16
  becomes float16. Values outside the float16 range (and infinities) are clipped to
  +-65504 and one ``Float16ClipWarning`` names the constant's blob and counts them.
  A ``Float16Constants`` cache converts each blob once, however many constant ops
  share it; weights are converted lazily (when their bytes are first read).
- ``ResultsToFloat16``: every other aic_graph op's float32 / float64 / bfloat16 results
  become float16 (integer and bool results are left alone; operand types follow from
  their producers).
- ``RemoveNoOpCast``: an ``aic_graph.cast`` whose input already has the result's type.

The function boundary (arguments and results keep their types) is the pass's job:
see ``passes/legalize_fp16.py``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from xdsl.dialects.builtin import BFloat16Type, Float32Type, Float64Type, TensorType, f16
from xdsl.ir import Attribute, Operation
from xdsl.pattern_rewriter import PatternRewriter, RewritePattern

from qaicc.dialects.aic_graph import AicGraphOp
from qaicc.dialects.aic_graph import ops as g
from qaicc.dialects.qaicc_attrs import Blob, DenseBlobAttr
from qaicc.passes.aic_graph_patterns.matching import copy_node_name

FLOAT16_MAX = float(np.finfo(np.float16).max)  # 65504
WIDE_FLOATS = (Float32Type, Float64Type, BFloat16Type)
LAZY_MIN_ELEMENTS = 4096
"""Constants with more elements are converted when first read (small ones at once)."""


class Float16ClipWarning(UserWarning):
    """A constant had values outside the float16 range; they were clipped to +-65504."""


def is_wide_float(type: Attribute) -> bool:
    return isinstance(type, TensorType) and isinstance(type.element_type, WIDE_FLOATS)


def float16_type(type: Attribute) -> Attribute:
    return TensorType(f16, type.get_shape()) if is_wide_float(type) else type


def clipped_count(array: np.ndarray) -> int:
    """How many values of ``array`` lie outside the float16 range (NaN does not count)."""
    if array.size == 0:
        return 0
    wide = array if array.dtype in (np.float32, np.float64) else array.astype(np.float32)
    low, high = wide.min(), wide.max()  # two passes without a temporary array
    if np.isfinite(low) and np.isfinite(high) and -FLOAT16_MAX <= low and high <= FLOAT16_MAX:
        return 0
    return int(np.count_nonzero(np.abs(wide) > FLOAT16_MAX))


def to_float16(array: np.ndarray) -> np.ndarray:
    """``array`` in float16, values beyond +-65504 (and infinities) clipped to +-65504."""
    wide = array if array.dtype in (np.float32, np.float64) else array.astype(np.float32)
    return np.clip(wide, -FLOAT16_MAX, FLOAT16_MAX).astype(np.float16)


@dataclass
class Float16Constants:
    """Each blob converted once; ``clipped`` lists (blob name, count) per clipped blob.

    The range is checked when the pass runs (so the warning comes then); a blob within
    range is converted lazily, when its bytes are first read, as imported weights are
    loaded lazily."""

    converted: dict[int, tuple[Blob, DenseBlobAttr]] = field(default_factory=dict)
    clipped: list[tuple[str, int]] = field(default_factory=list)

    def convert(self, attr: DenseBlobAttr) -> DenseBlobAttr:
        blob = attr.blob
        cached = self.converted.get(id(blob))
        if cached is not None:
            return cached[1]
        name, type = attr.blob_name.data, float16_type(attr.type)
        shape = tuple(type.get_shape())
        if not blob.has_data:  # an elided constant stays elided
            new_blob = Blob(dtype=np.float16, shape=shape)
        else:
            source = blob.array
            clipped = clipped_count(source)
            if clipped:
                self.clipped.append((name, clipped))
                warnings.warn(
                    f"legalize-fp16: constant '{name}': {clipped} of {source.size} values outside the "
                    f"float16 range clipped to +-65504",
                    Float16ClipWarning, stacklevel=2,
                )
                new_blob = Blob(to_float16(source))
            elif source.size <= LAZY_MIN_ELEMENTS:
                new_blob = Blob(source.astype(np.float16))
            else:
                new_blob = Blob(loader=lambda source=source: source.astype(np.float16), dtype=np.float16, shape=shape)
        new = DenseBlobAttr.from_blob(new_blob, name, type)
        self.converted[id(blob)] = (blob, new)
        return new


class ConstantToFloat16(RewritePattern):
    def __init__(self, constants: Float16Constants):
        self.constants = constants

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not isinstance(op, g.ConstantOp) or not is_wide_float(op.output.type):
            return
        attr = self.constants.convert(op.value)
        new = g.ConstantOp.build(result_types=[attr.type], properties={"value": attr})
        rewriter.replace(op, copy_node_name(op, new))


class ResultsToFloat16(RewritePattern):
    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not isinstance(op, AicGraphOp) or isinstance(op, g.ConstantOp):
            return
        for result in list(op.results):
            if is_wide_float(result.type):
                rewriter.replace_value_with_new_type(result, float16_type(result.type))


class RemoveNoOpCast(RewritePattern):
    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not isinstance(op, g.CastOp) or op.input.type != op.output.type:
            return
        rewriter.replace(op, [], [op.input])
