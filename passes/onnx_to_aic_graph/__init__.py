"""Rewrite patterns from the ``onnx`` dialect to ``aic_graph``, one module per operator
family (used by the ``convert-onnx-to-aic-graph`` pass).

Every pattern class declares ``ONNX_OPS``: the ONNX op types it converts and, in words,
their limits. ``supported_operators()`` is built from those declarations only, and
``write_supported_operators(path)`` writes them as OnnxSupportedOperators.txt.

Families: ``constants`` (Constant, Shape, ...), ``elementwise`` (activations, math,
comparisons, logic, Cast, Where, Clip, SiLU), ``conv_pool``, ``matmul`` (MatMul, Gemm,
Einsum), ``normalization`` (Softmax, LayerNorm, BatchNorm, InstanceNorm), ``reduction``,
``data_movement`` (Reshape, Transpose, Slice, Gather, Pad, ...), ``resize``.
"""

from __future__ import annotations

from pathlib import Path

from qaicc.passes.onnx_to_aic_graph import (
    constants,
    conv_pool,
    data_movement,
    elementwise,
    matmul,
    normalization,
    reduction,
    resize,
)
from qaicc.passes.onnx_to_aic_graph.common import NotConvertible, OnnxToAicGraphPattern

ALL_PATTERNS: tuple[type[OnnxToAicGraphPattern], ...] = (
    *constants.PATTERNS,
    *elementwise.PATTERNS,
    *conv_pool.PATTERNS,
    *matmul.PATTERNS,
    *normalization.PATTERNS,
    *reduction.PATTERNS,
    *data_movement.PATTERNS,
    *resize.PATTERNS,
)
"""Every pattern, in the order they are tried on an op (fusions before the plain ones)."""

SUPPORTED_OPERATORS_FILE = "OnnxSupportedOperators.txt"


def supported_operators() -> list[tuple[str, str]]:
    """(ONNX op type, limits) for every op type some pattern converts, sorted by op type.

    When several patterns convert one op type, their limits are joined with '; '."""
    limits: dict[str, list[str]] = {}
    for pattern in ALL_PATTERNS:
        for op_type, text in pattern.ONNX_OPS.items():
            entry = limits.setdefault(op_type, [])
            if text and text not in entry:
                entry.append(text)
    return [(op_type, "; ".join(texts)) for op_type, texts in sorted(limits.items())]


def format_supported_operators() -> str:
    lines = [f"{op_type}: {text}" if text else op_type for op_type, text in supported_operators()]
    return "\n".join(lines) + "\n"


def write_supported_operators(path: str | Path = SUPPORTED_OPERATORS_FILE) -> Path:
    """Write OnnxSupportedOperators.txt at ``path`` (a file, or a directory to put it in)."""
    path = Path(path)
    if path.is_dir():
        path = path / SUPPORTED_OPERATORS_FILE
    path.write_text(format_supported_operators())
    return path


__all__ = [
    "ALL_PATTERNS",
    "NotConvertible",
    "OnnxToAicGraphPattern",
    "SUPPORTED_OPERATORS_FILE",
    "format_supported_operators",
    "supported_operators",
    "write_supported_operators",
]
