"""The ``aic_core`` dialect: per-core programs with DDR tensors, VTCM tiles, DMA,
compute units and semaphores (see ops.py)."""

from xdsl.ir import Dialect

from qaicc.dialects.aic_core.ops import ALL_OPS

AIC_CORE = Dialect("aic_core", list(ALL_OPS), [])

__all__ = ["AIC_CORE"]
