"""qaicc's dialects (installed as ``qaicc.dialects``).

- ``qaicc``: attributes shared by every level (constant tensor blobs).
- ``onnx``: one op per operator of the ai.onnx domain (see ``onnx/``).
- ``aic_graph``: the device's operator set on whole static tensors (see ``aic_graph/``).
- ``aic_core``: one program per core: DDR tensors, DMA, compute units, semaphores.
- ``qpc``: the program container as emitted into ``programqpc.bin``.

``ALL_DIALECTS`` lists every dialect so that tools can register them in one place.
"""

from qaicc.dialects.aic_core import AIC_CORE
from qaicc.dialects.aic_graph import AIC_GRAPH
from qaicc.dialects.onnx import ONNX
from qaicc.dialects.qpc import QPC
from qaicc.dialects.qaicc_attrs import QAICC

ALL_DIALECTS = (QAICC, ONNX, AIC_GRAPH, AIC_CORE, QPC)

__all__ = ["AIC_CORE", "AIC_GRAPH", "ALL_DIALECTS", "ONNX", "QAICC", "QPC"]
