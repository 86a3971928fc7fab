"""The ``onnx`` dialect: one op per operator of the ai.onnx domain.

The op classes are generated from the ``onnx.defs`` schemas of the installed onnx
package into ``ops.py`` (see ``tools/gen_onnx_dialect.py`` and docs/architecture.md).
``op_class(op_type, opset)`` picks the class that matches a node of a model whose
ai.onnx opset is ``opset``.
"""

from __future__ import annotations

import bisect
from functools import lru_cache

from xdsl.ir import Dialect

from qaicc.dialects.onnx.base import OnnxOp
from qaicc.dialects.onnx.ops import ALL_OPS, MAX_OPSET, OP_BY_VERSION
from qaicc.dialects.onnx.structural import YieldOp
from qaicc.dialects.onnx.types import (
    OptType,
    SeqType,
    SparseTensorAttr,
    StringType,
    TypeProtoAttr,
    UnknownType,
)

ONNX = Dialect(
    "onnx",
    [*ALL_OPS, YieldOp],
    [StringType, SeqType, OptType, TypeProtoAttr, SparseTensorAttr, UnknownType],
)

_VERSIONS: dict[str, list[int]] = {}
for _op_type, _version in sorted(OP_BY_VERSION):
    _VERSIONS.setdefault(_op_type, []).append(_version)


def op_types() -> list[str]:
    """Every ai.onnx operator type the dialect has."""
    return sorted(_VERSIONS)


@lru_cache(maxsize=None)
def op_class(op_type: str, opset: int) -> type[OnnxOp] | None:
    """The op class for ``op_type`` in a model of ai.onnx ``opset``; None if it has none."""
    versions = _VERSIONS.get(op_type)
    if not versions:
        return None
    index = bisect.bisect_right(versions, opset) - 1
    if index < 0:
        return None
    return OP_BY_VERSION[(op_type, versions[index])]


__all__ = ["ONNX", "MAX_OPSET", "OnnxOp", "YieldOp", "op_class", "op_types"]
