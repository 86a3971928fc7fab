"""``partition-cores``: share every aic_graph op's work among the cores of the chip
(``qaic-exec -aic-num-cores=N``).

    qaicc-opt m.mlir -p 'partition-cores{num-cores=4},convert-aic-graph-to-aic-core'

Every op that becomes aic-core tasks (all but constants, reshapes and the dequantize
of a weight, which its reader fuses) gets ``aic.blocks``: its output cut into equal
blocks, one per core, along the axes ``slicing.parallel_axes`` allows: "rows" (batch,
sequence, spatial rows: a weight is then read whole by every core) and "channels"
(output channels: the weight is cut too, the input read whole by every core), at most
two axes at once (a grid). An op whose output has no parallel axis runs whole on one
core. Example, a [16, 64] x [64, 256] matmul on 4 cores::

    %y = "aic_graph.matmul"(%x, %w) {aic.blocks = [array<i64: 0, 0, 0, 16, 64>,
        array<i64: 1, 0, 64, 16, 64>, ...], aic.channel_split = 4 : i64, ...}

The split is chosen per op by cost (``qaicc.cost.partition_cost``): each core's compute
time plus the time to load its operand blocks and store its output block, with the DDR
bandwidth shared by the op's cores. The ops are placed in program order on the cores
that become free first (a list schedule over the dataflow graph), so an op may use
fewer cores than the chip has (a small op, or one whose replicated operand would cost
more than the cores save) and the ops around it run on the others. Between splits of
about the same cost (within 0.1%) the pass keeps the split of the op's producer (a
chain of elementwise ops stays on the same blocks), then uses fewer cores. A split in
which every core reads an operand only from the block the same core produced counts
that operand's DDR load and its producer's store as saved (``keep-on-chip`` keeps it
in VTCM): such a split wins when it is slower by less than that traffic's time.

The module records ``aic.num_cores`` (convert-aic-graph-to-aic-core uses it when its
own ``num-cores`` is not given) and ``aic.target``. ``mos`` and ``ols-split`` refine the
partition; without them every core computes its block in one piece.

Options: ``num-cores`` (1 to the target's core count; default 1, as qaic-exec),
``target`` (a hardware name, version or target .json file for
``qaicc.hardware.load_target``, quoted when it looks like a number: ``target="2.0"``;
default the default target).
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, StringAttr, i64
from xdsl.ir import OpResult, Operation
from xdsl.passes import ModulePass

from qaicc.cost.partition_cost import (
    NUM_CORES_ATTR,
    TARGET_ATTR,
    OpInfo,
    Split,
    check_aic_graph,
    dataflow_graph,
    fused_dequantized,
    is_task,
    main_graph,
    partition_cost,
    splits,
)
from qaicc.dialects.aic_core.partition import Partition, write_partition
from qaicc.dialects.aic_graph.slicing import operand_blocks
from qaicc.dialects.aic_graph.work import tensor_bytes
from qaicc.errors import QaiccError
from qaicc.hardware import HardwareModel, load_target

PASS_NAME = "partition-cores"
TIE = 1e-3  # costs within 0.1% of the best are equally good


@dataclass
class _Choice:
    split: Split
    partition: Partition
    start: float
    finish: float
    seconds: float


def _earliest_cores(core_free: list[float], count: int) -> list[int]:
    order = sorted(range(len(core_free)), key=lambda core: (core_free[core], core))
    return sorted(order[:count])


def _signature(info: OpInfo, split: Split) -> tuple:
    """What makes two ops' splits the same: the output shape and the cuts."""
    return tuple(info.shape), frozenset(split.parts)


def _inside(inner: tuple[list[int], list[int]], outer: tuple[list[int], list[int]]) -> bool:
    (o1, s1), (o2, s2) = inner, outer
    return all(a >= b and a + x <= b + y for a, x, b, y in zip(o1, s1, o2, s2))


def _block_of(block, shape: list[int]) -> tuple[list[int], list[int]]:
    if not block.sizes:
        return [0] * len(shape), list(shape)
    return list(block.offsets), list(block.sizes)


def _kept_bytes(info: OpInfo, partition: Partition, producers: dict[int, Partition]) -> int:
    """Bytes of the operands that every core of ``partition`` reads only from what the
    same core produced (``keep-on-chip`` keeps them in VTCM: no DDR load, no store)."""
    if not producers:
        return 0
    op = info.op
    kept = 0
    for index, produced in producers.items():
        operand = op.operands[index]
        shape = list(operand.type.get_shape())
        mine = {b.core: _block_of(b, shape) for b in produced.blocks}
        ok = True
        for block in partition.blocks:
            needed = operand_blocks(op, *_block_of(block, info.shape))[index]
            needed = needed if needed is not None else ([0] * len(shape), shape)
            if block.core not in mine or not _inside(needed, mine[block.core]):
                ok = False
                break
        if ok:
            kept += tensor_bytes(operand.type)
    return kept


def _choose(info: OpInfo, num_cores: int, ready: float, core_free: list[float], preferred: tuple | None,
            producers: dict[int, Partition] | None = None) -> _Choice:
    choices = []
    saved = {}
    for split in splits(info, num_cores):
        cores = _earliest_cores(core_free, split.cores)
        partition = Partition(split.blocks(info.shape, cores), channel_split=split.channel_split(info))
        seconds = partition_cost(info, partition).seconds
        start = max([ready] + [core_free[c] for c in cores])
        choice = _Choice(split, partition, start, start + seconds, seconds)
        # an operand read back on chip saves its load and its producer's store
        saved[id(choice)] = 2 * _kept_bytes(info, partition, producers or {}) / info.hw.ddr_bandwidth_bytes_per_s
        choices.append(choice)
    effective = lambda c: c.finish - saved[id(c)]
    best = min(effective(c) for c in choices)
    close = [c for c in choices if effective(c) <= best * (1 + TIE) + 1e-15]
    return min(close, key=lambda c: (_signature(info, c.split) != preferred, c.split.cores, effective(c)))


def partition_cores(module: ModuleOp, num_cores: int, hw: HardwareModel, target: str | None = None) -> None:
    """Write ``aic.blocks`` on every task op of @main_graph for ``num_cores`` cores of
    ``hw`` (``target``: how the target was named, recorded for the later passes)."""
    function = main_graph(module, PASS_NAME)
    check_aic_graph(function, PASS_NAME)
    fused = fused_dequantized(function)
    graph = dataflow_graph(function)
    finish: dict[Operation, float] = {}
    chosen: dict[Operation, tuple] = {}
    placed: dict[Operation, Partition] = {}
    core_free = [0.0] * num_cores
    for op in function.body.block.ops:
        if op not in graph:
            continue
        ready = max((finish[p] for p in graph.predecessors(op)), default=0.0)
        if not is_task(op, fused):
            finish[op] = ready
            continue
        info = OpInfo(op, hw, fused)
        producer = next((p for p in graph.predecessors(op) if p in chosen), None)
        preferred = chosen[producer] if producer is not None else None
        producers = {i: placed[v.owner] for i, v in enumerate(op.operands)
                     if isinstance(v, OpResult) and v.owner in placed and len(v.owner.results) == 1}
        choice = _choose(info, num_cores, ready, core_free, preferred, producers)
        write_partition(op, choice.partition)
        chosen[op] = _signature(info, choice.split)
        placed[op] = choice.partition
        for block in choice.partition.blocks:
            core_free[block.core] = choice.start + choice.seconds
        finish[op] = choice.finish
    module.attributes[NUM_CORES_ATTR] = IntegerAttr(num_cores, i64)
    module.attributes[TARGET_ATTR] = StringAttr(target if target is not None else hw.name)


@dataclass(frozen=True)
class PartitionCoresPass(ModulePass):
    name = "partition-cores"

    num_cores: int = 1
    target: str | None = None

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        hw = load_target(self.target)
        if not 1 <= self.num_cores <= hw.cores:
            raise QaiccError(
                f"{PASS_NAME}: num-cores must be between 1 and {hw.cores} on {hw.name}, got {self.num_cores} "
                f"(write partition-cores{{num-cores=N}})"
            )
        partition_cores(op, self.num_cores, hw, self.target)
