"""``mos``: split output channels and their weights over up to M cores, so that each
core holds less of the weights (``qaic-exec -mos=M``, "maximum output channel split",
the effort to reduce on-chip memory).

    qaicc-opt m.mlir -p 'partition-cores{num-cores=16},mos{effort=4},convert-aic-graph-to-aic-core'

Every op that carries a weight (a conv, a matmul whose ``b`` is a constant, an MXFP6
weight or a reshape of one) is re-partitioned as a grid over the module's cores
(``aic.num_cores``): ``aic.channel_split = c`` groups of cores (c <= M) each compute
1/c of the output channels and so hold 1/c of the weight, the rows being split among
the cores of a group. Among these grids and the partition the op already has, the pass
keeps the one whose per-core VTCM need (operand blocks plus output block) is
the smallest (ties: the fastest by ``qaicc.cost.partition_cost``), provided it is at
least 10% smaller than the op's current need. Raising M never raises that need, and
lowers it on weight-heavy layers; it may cost time (an input read whole by every core
of a channel group). Example, a [256, 1024] x [1024, 1024] matmul row-split over 4
cores: each core holds the whole 4 MiB weight; with ``mos{effort=4}`` each core
computes a quarter of the output channels from a quarter of the weight::

    %y = "aic_graph.matmul"(%x, %w) {aic.blocks = [array<i64: 0, 0, 0, 256, 256>,
        array<i64: 1, 0, 256, 256, 256>, ...], aic.channel_split = 4 : i64, ...}

With effort >= 2 the pass also rematerializes: an op (any op) whose block does not fit
the target's VTCM (``vtcm_usable_bytes``) is computed in the fewest tiles
(``aic.tiles`` along one parallel axis) that fit, its streamed operands (a weight cut
along with the output channels, or the input rows) reloaded from DDR tile by tile
instead of held. ``ols-split`` checks the fit again with its double buffering.

Runs after ``partition-cores``; on a module it did not partition, the pass first runs
``partition-cores`` on min(M, the target's cores) cores.

Options: ``effort`` (M >= 1; default 1: the partition stays as it is),
``target`` (default: the target partition-cores recorded, else the default target).
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass

from qaicc.cost.partition_cost import (
    OpInfo,
    check_aic_graph,
    fitting_tiles,
    fused_dequantized,
    is_task,
    main_graph,
    partition_cost,
    recorded_num_cores,
    splits,
    target_of,
)
from qaicc.dialects.aic_core.partition import Partition, read_partition, write_partition
from qaicc.dialects.aic_graph import ops as g
from qaicc.errors import QaiccError
from qaicc.hardware import HardwareModel
from qaicc.passes.partition_cores import partition_cores

PASS_NAME = "mos"
GAIN = 0.1  # a new partition must lower the op's per-core need by 10% at least
_WEIGHT_SOURCES = (g.ConstantOp, g.MXFP6ConstantOp)
_WEIGHT_VIEWS = (g.DequantizeOp, g.ReshapeOp, g.TransposeOp, g.CastOp)


def _is_constant(value: SSAValue) -> bool:
    owner = value.owner
    while isinstance(owner, _WEIGHT_VIEWS):
        owner = owner.operands[0].owner
    return isinstance(owner, _WEIGHT_SOURCES)


def carries_weight(op: Operation) -> bool:
    """A conv, or a matmul whose ``b`` is a constant weight."""
    if isinstance(op, g.ConvOp):
        return True
    return isinstance(op, g.MatMulOp) and _is_constant(op.b)


def _cores_for(current: Partition, count: int, num_cores: int) -> list[int]:
    """The op's cores first, then the others in order."""
    ordered = list(dict.fromkeys([b.core for b in current.blocks] + list(range(num_cores))))
    return sorted(ordered[:count])


def _repartition(info: OpInfo, current: Partition, effort: int, num_cores: int) -> Partition:
    """The channel-split grid (c <= effort) with the smallest per-core block (ties: the
    fastest), when it is at least GAIN smaller than the current one."""
    now = partition_cost(info, Partition(current.blocks, channel_split=current.channel_split)).block_bytes
    best, best_key = None, None
    for split in splits(info, num_cores, max_channel_split=effort):
        if split.channel_split(info) < 2:
            continue  # a row split holds the whole weight on every core
        partition = Partition(split.blocks(info.shape, _cores_for(current, split.cores, num_cores)),
                              channel_split=split.channel_split(info))
        cost = partition_cost(info, partition)
        key = (cost.block_bytes, cost.seconds)
        if best_key is None or key < best_key:
            best, best_key = partition, key
    if best_key is None or best_key[0] > (1 - GAIN) * now:
        return current
    return best


def _rematerialize(info: OpInfo, partition: Partition) -> Partition:
    cost = partition_cost(info, partition)
    if cost.working_set_bytes <= info.hw.vtcm_usable_bytes:
        return partition
    tiling, _ = fitting_tiles(info, partition, partition.ols)
    if tiling is None:
        return partition  # ols-split reports what does not fit
    axis, tiles = tiling
    return Partition(partition.blocks, tiles=tiles, tile_axis=axis, ols=partition.ols,
                     channel_split=partition.channel_split)


def mos(module: ModuleOp, effort: int, hw: HardwareModel, target: str | None = None) -> None:
    function = main_graph(module, PASS_NAME)
    check_aic_graph(function, PASS_NAME)
    num_cores = recorded_num_cores(module)
    if num_cores is None:
        num_cores = min(effort, hw.cores)
        partition_cores(module, num_cores, hw, target)
    if effort == 1:
        return
    fused = fused_dequantized(function)
    for op in function.body.block.ops:
        if not is_task(op, fused):
            continue
        info = OpInfo(op, hw, fused)
        partition = read_partition(op)
        updated = partition
        if carries_weight(op):
            updated = _repartition(info, partition, effort, num_cores)
        updated = _rematerialize(info, updated)
        if updated is not partition:
            write_partition(op, updated)


@dataclass(frozen=True)
class MosPass(ModulePass):
    name = "mos"

    effort: int = 1
    target: str | None = None

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if self.effort < 1:
            raise QaiccError(f"{PASS_NAME}: effort must be at least 1, got {self.effort} (write mos{{effort=M}})")
        mos(op, self.effort, target_of(op, self.target), self.target)
