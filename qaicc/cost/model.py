"""Time estimates for work on one core, from the hardware model only.

- ``compute_seconds(op, hw)``: an aic_graph op (or a tile of it) on one core: matrix
  ops (conv, matmul) at ``matrix_macs(dtype)`` MACs per clock, everything else on the
  vector units at ``vector_ops_per_clock(dtype)`` operations per clock.
- ``dma_seconds(bytes, hw, sharing)``: DDR transfer by one core's DMA engine while
  ``sharing`` cores stream at once (they share the DDR bandwidth).
- ``pipelined_seconds(load, compute, store, tiles, ols)``: a task of ``tiles`` equal
  pieces: with ols >= 2 the DMA of one piece overlaps the compute of another, so the
  time is the slowest stage per piece plus filling and draining the pipeline; with
  ols = 1 the stages of each piece run one after the other.
"""

from __future__ import annotations

from xdsl.dialects.builtin import TensorType

from qaicc.dialects.aic_graph import ops as g
from qaicc.dialects.onnx.element_types import from_xdsl
from qaicc.hardware.model import HardwareModel

MATRIX_OPS = (g.ConvOp, g.MatMulOp)


def unit_of(op) -> str:
    return "matrix" if isinstance(op, MATRIX_OPS) else "vector"


def _dtype_name(op) -> str:
    type = op.results[0].type if op.results else None
    element = from_xdsl(type.element_type) if isinstance(type, TensorType) else None
    return element.onnx_name if element else "float32"


def compute_seconds(op, hw: HardwareModel) -> float:
    work = op.work()
    dtype = _dtype_name(op)
    if unit_of(op) == "matrix":
        cycles = (work.flops / 2) / hw.matrix_macs(dtype)
    else:
        cycles = work.flops / hw.vector_ops_per_clock(dtype)
    return hw.seconds(cycles)


def dma_seconds(num_bytes: float, hw: HardwareModel, sharing: int = 1) -> float:
    bandwidth = hw.ddr_bandwidth_bytes_per_s / max(1, sharing)
    return num_bytes / bandwidth


def multicast_seconds(num_bytes: float, hw: HardwareModel) -> float:
    return num_bytes / hw.network_bandwidth_bytes_per_s


def pipelined_seconds(load: float, compute: float, store: float, tiles: int, ols: int) -> float:
    """Time of a task whose ``tiles`` pieces each load, compute and store."""
    if tiles <= 1 or ols <= 1:
        return tiles * (load + compute + store)
    slowest = max(load, compute, store)
    return load + compute + store + (tiles - 1) * slowest
