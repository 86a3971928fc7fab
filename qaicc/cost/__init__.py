"""The cost model: time of compute and data movement from the hardware model."""

from qaicc.cost.model import compute_seconds, dma_seconds, pipelined_seconds, unit_of

__all__ = ["compute_seconds", "dma_seconds", "pipelined_seconds", "unit_of"]
