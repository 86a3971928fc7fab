"""Comparing model outputs (tensors, sequences, optionals) exactly or within tolerance."""

from __future__ import annotations

import numpy as np


def _as_list(value) -> list | None:
    if isinstance(value, list | tuple):
        return list(value)
    return None


def identical(a, b) -> bool:
    """Same structure, dtype, shape and values (NaN equals NaN)."""
    la, lb = _as_list(a), _as_list(b)
    if la is not None or lb is not None:
        return la is not None and lb is not None and len(la) == len(lb) and all(
            identical(x, y) for x, y in zip(la, lb)
        )
    if a is None or b is None:
        return a is None and b is None
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype == object:
        return bool(np.all(a == b))
    if a.dtype.kind in "fc":
        return bool(np.array_equal(a, b, equal_nan=True))
    return bool(np.array_equal(a, b))


def max_abs_error(a, b) -> float:
    a64 = np.asarray(a, dtype=np.float64)
    b64 = np.asarray(b, dtype=np.float64)
    if a64.size == 0:
        return 0.0
    return float(np.max(np.abs(a64 - b64)))
