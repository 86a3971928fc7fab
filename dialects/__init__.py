"""qaicc's dialects (installed as ``qaicc.dialects``).

- ``qaicc``: attributes shared by every level (constant tensor blobs).
- ``onnx``: one op per operator of the ai.onnx domain (see ``onnx/``).

``ALL_DIALECTS`` lists every dialect so that tools can register them in one place.
"""

from qaicc.dialects.onnx import ONNX
from qaicc.dialects.qaicc_attrs import QAICC

ALL_DIALECTS = (QAICC, ONNX)

__all__ = ["ALL_DIALECTS", "ONNX", "QAICC"]
