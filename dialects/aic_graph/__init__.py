"""The ``aic_graph`` dialect: the device's operator set on whole, statically shaped
tensors, with an element type on every value (see ops.py, types.py, work.py)."""

from xdsl.ir import Dialect

from qaicc.dialects.aic_graph.ops import ALL_OPS, AicGraphOp
from qaicc.dialects.aic_graph.types import MXFP6Type
from qaicc.dialects.aic_graph.work import Work

AIC_GRAPH = Dialect("aic_graph", list(ALL_OPS), [MXFP6Type])

__all__ = ["AIC_GRAPH", "AicGraphOp", "MXFP6Type", "Work"]
