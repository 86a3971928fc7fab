"""``insert-multicast``: one DDR read for a block that several cores load (qaic-exec
``-multicast-weights``).

    qaicc-opt m.mlir -p 'convert-aic-graph-to-aic-core,insert-multicast'

When an op runs on several cores, each core's task often loads the same block: the
whole weight of a matmul split by rows, a bias, a shared input. This pass finds the
``aic_core.dma_load`` ops of tasks of the same op (same ``op_index``) on different
cores that read the same DDR block in every tile (same source, offsets, tile_steps,
type and tile count) and marks each of them with ``multicast_cores`` (loads that
``keep-on-chip`` marked ``on_chip`` read VTCM, not DDR: they are left out), the sorted list
of the group's cores. The lowest core reads DDR; the on-chip network delivers the bytes
to the others, so a group's block is read from DDR once (see
``qaicc.metrics.static_metrics``). When one task loads the same block twice, its k-th
copy joins the group of the other cores' k-th copies.

The semantics do not change (every core still receives the same block). The pass is
idempotent: it recomputes every group and removes stale marks. Example, a matmul split
by rows over cores 0 and 1:

    "aic_core.program"() <{core = 0 : i64}> ({
      "aic_core.task"() <{op_name = "mm", op_index = 0 : i64, ...}> ({
        %x = "aic_core.dma_load"() <{source = @in.x, offsets = array<i64: 0, 0>, ...}>
        %w = "aic_core.dma_load"() <{source = @w, offsets = array<i64: 0, 0>,
                                     tile_steps = array<i64: 0, 0>,
                                     multicast_cores = array<i64: 0, 1>}>
    ...
    "aic_core.program"() <{core = 1 : i64}> ({
      ...   %w = "aic_core.dma_load"() <{source = @w, ..., multicast_cores = array<i64: 0, 1>}>

Only ``x``'s rows differ between the cores, so only ``w`` is multicast.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass

from qaicc.dialects.aic_core import ops as c
from qaicc.dialects.aic_core.analysis import loads, require_programs, tasks, tiles_of
from qaicc.dialects.aic_core.partition import _array

PASS_NAME = "insert-multicast"


def _key(task: c.TaskOp, load: c.DMALoadOp) -> tuple:
    return (
        task.op_index.value.data,
        load.source.root_reference.data,
        tuple(load.int_list("offsets")),
        tuple(load.int_list("tile_steps")),
        load.output.type,
        tiles_of(task),
    )


def multicast_groups(module: ModuleOp) -> list[list[tuple[int, c.DMALoadOp]]]:
    """Every group of two or more (core, load) reading the same block for the same op."""
    occurrences: dict[tuple, dict[int, list[c.DMALoadOp]]] = {}
    for core, task in tasks(module):
        for load in loads(task):
            if load.in_ddr is not None:  # read in place by indexed DMA: nothing to share
                continue
            if load.on_chip is not None:  # already in this core's VTCM (keep-on-chip)
                continue
            occurrences.setdefault(_key(task, load), {}).setdefault(core, []).append(load)
    groups = []
    for by_core in occurrences.values():
        if len(by_core) < 2:
            continue
        depth = max(len(found) for found in by_core.values())
        for k in range(depth):
            group = [(core, found[k]) for core, found in sorted(by_core.items()) if len(found) > k]
            if len(group) >= 2:
                groups.append(group)
    return groups


def insert_multicast(module: ModuleOp) -> int:
    """Mark every group; returns the number of groups."""
    for _, task in tasks(module):
        for load in loads(task):
            load.properties.pop("multicast_cores", None)
    groups = multicast_groups(module)
    for group in groups:
        cores = _array(core for core, _ in group)
        for _, load in group:
            load.properties["multicast_cores"] = cores
    return len(groups)


@dataclass(frozen=True)
class InsertMulticastPass(ModulePass):
    name = PASS_NAME

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        require_programs(op, PASS_NAME)
        insert_multicast(op)
