"""Resize on numpy (nearest and linear, separable per axis) with ONNX's coordinate
transformation modes: half_pixel, pytorch_half_pixel, align_corners, asymmetric,
tf_half_pixel_for_nearest; nearest modes round_prefer_floor, round_prefer_ceil, floor,
ceil. The scale of each axis is output size / input size."""

from __future__ import annotations

import numpy as np

TRANSFORMS = ("half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nearest")
NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")


def source_coordinates(n_in: int, n_out: int, transform: str) -> np.ndarray:
    x = np.arange(n_out, dtype=np.float64)
    scale = n_out / n_in
    if transform == "half_pixel":
        return (x + 0.5) / scale - 0.5
    if transform == "pytorch_half_pixel":
        return (x + 0.5) / scale - 0.5 if n_out > 1 else np.zeros_like(x)
    if transform == "align_corners":
        return x * (n_in - 1) / (n_out - 1) if n_out > 1 else np.zeros_like(x)
    if transform == "asymmetric":
        return x / scale
    if transform == "tf_half_pixel_for_nearest":
        return (x + 0.5) / scale
    raise ValueError(f"unsupported coordinate transformation mode {transform}")


def _nearest_index(x: np.ndarray, mode: str, n_in: int) -> np.ndarray:
    if mode == "round_prefer_floor":
        index = np.ceil(x - 0.5)
    elif mode == "round_prefer_ceil":
        index = np.floor(x + 0.5)
    elif mode == "floor":
        index = np.floor(x)
    else:
        index = np.ceil(x)
    return np.clip(index, 0, n_in - 1).astype(np.int64)


def _resize_axis(a: np.ndarray, axis: int, n_out: int, mode: str, transform: str, nearest: str) -> np.ndarray:
    n_in = a.shape[axis]
    if n_in == n_out and transform != "tf_half_pixel_for_nearest":
        return a
    x = source_coordinates(n_in, n_out, transform)
    if mode == "nearest":
        return np.take(a, _nearest_index(x, nearest, n_in), axis=axis)
    x = np.clip(x, 0, n_in - 1)
    x0 = np.floor(x).astype(np.int64)
    x1 = np.minimum(x0 + 1, n_in - 1)
    w = (x - x0).astype(np.float32)
    shape = [1] * a.ndim
    shape[axis] = n_out
    w = w.reshape(shape)
    return np.take(a, x0, axis=axis) * (1 - w) + np.take(a, x1, axis=axis) * w


def resize_array(x: np.ndarray, shape, mode: str, transform: str, nearest: str) -> np.ndarray:
    for axis, n_out in enumerate(shape):
        x = _resize_axis(x, axis, n_out, mode, transform, nearest)
    return x
