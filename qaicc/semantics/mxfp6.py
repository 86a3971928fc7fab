"""OCP MXFP6 weights: quantization and dequantization on numpy.

Layout (as ``aic_graph.mxfp6_constant`` holds it): ``elements`` has the weight's shape
with ``axis`` (the reduction axis) padded to a multiple of 32, as float6 values
(ml_dtypes ``float6_e2m3fn`` or ``float6_e3m2fn``); ``scales`` has the same shape with
``axis`` divided by 32, as E8M0 powers of two (``float8_e8m0fnu``). A weight element is
``element * scale`` of its block. Quantization picks each block's scale so that the
block's largest magnitude fits the element format (OCP MX spec, section 6.3).
"""

from __future__ import annotations

from dataclasses import dataclass

import ml_dtypes
import numpy as np

BLOCK = 32
ELEMENT_DTYPES = {"e2m3": np.dtype(ml_dtypes.float6_e2m3fn), "e3m2": np.dtype(ml_dtypes.float6_e3m2fn)}
SCALE_DTYPE = np.dtype(ml_dtypes.float8_e8m0fnu)


def _emax(dtype: np.dtype) -> int:
    """The exponent of the largest normal number of an element format."""
    return int(np.floor(np.log2(float(ml_dtypes.finfo(dtype).max))))


def quantize(weight: np.ndarray, axis: int, fmt: str) -> tuple[np.ndarray, np.ndarray]:
    """``weight`` (float) -> (elements, scales) in the layout above."""
    dtype = ELEMENT_DTYPES[fmt]
    w = np.moveaxis(np.asarray(weight, np.float32), axis, -1)
    pad = (-w.shape[-1]) % BLOCK
    w = np.pad(w, [(0, 0)] * (w.ndim - 1) + [(0, pad)])
    blocks = w.reshape(*w.shape[:-1], -1, BLOCK)
    amax = np.max(np.abs(blocks), axis=-1, keepdims=True)
    exponent = np.where(amax > 0, np.floor(np.log2(np.maximum(amax, 1e-38))) - _emax(dtype), -127)
    exponent = np.clip(exponent, -127, 127)
    scale = np.exp2(exponent).astype(np.float32)
    elements = (blocks / scale).astype(dtype)  # saturating round to nearest even
    elements = elements.reshape(w.shape)
    scales = scale[..., 0].astype(SCALE_DTYPE)
    return np.moveaxis(elements, -1, axis), np.moveaxis(scales, -1, axis)


def dequantize(elements: np.ndarray, scales: np.ndarray, axis: int, shape: tuple[int, ...]) -> np.ndarray:
    values = elements.astype(np.float32) * np.repeat(scales.astype(np.float32), BLOCK, axis=axis)
    return values[tuple(slice(0, n) for n in shape)]


@dataclass
class MXFP6Weight:
    """The runtime value of an ``aic_graph.mxfp6_constant``."""

    elements: np.ndarray
    scales: np.ndarray
    axis: int
    shape: tuple[int, ...]

    def dequantize(self) -> np.ndarray:
        return dequantize(self.elements, self.scales, self.axis, self.shape)

    def block(self, offsets, sizes) -> MXFP6Weight:
        """The weight's block (what a DMA of the MXFP6 bytes reads); along the block axis
        it must start on a multiple of 32."""
        if offsets[self.axis] % BLOCK:
            raise ValueError(f"an MXFP6 block must start on a multiple of {BLOCK} along axis {self.axis}")
        element_index = []
        scale_index = []
        for axis, (o, s) in enumerate(zip(offsets, sizes)):
            if axis == self.axis:
                end = o + s
                padded_end = min(self.elements.shape[axis], -(-end // BLOCK) * BLOCK)
                element_index.append(slice(o, padded_end))
                scale_index.append(slice(o // BLOCK, padded_end // BLOCK))
            else:
                element_index.append(slice(o, o + s))
                scale_index.append(slice(o, o + s))
        return MXFP6Weight(self.elements[tuple(element_index)], self.scales[tuple(scale_index)], self.axis, tuple(sizes))
