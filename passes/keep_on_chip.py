"""``keep-on-chip``: intermediates that a core reads back only from itself stay in its VTCM.

    qaicc-opt m.mlir -p 'convert-aic-graph-to-aic-core,insert-multicast,plan-memory,schedule,keep-on-chip'

The lowering sends every intermediate through DDR: each task stores its output block
and the next op's tasks load their operand blocks back. When every block that a core
loads of an intermediate DDR tensor was stored by the same core (the typical chain of
ops split the same way: a row block of a matmul read by the layer norm of the same rows
on the same core), the value never needs to leave that core. This pass marks such
``aic_core.dma_store`` / ``aic_core.dma_load`` pairs ``on_chip`` and reserves for each
(tensor, core) a *resident* VTCM region, ``resident = array<i64: offset, bytes>``,
live from the core's first task that stores it to its last task that reads it:

- the region lies above every buffer of the tasks it spans (``plan-memory``'s per-task
  plan) and apart from every other region live at the same time; the bytes are the
  elements the core stores (all tiles);
- when VTCM is short, the tensors that do not fit (the largest and longest last) keep
  going through DDR: the pass never fails because of this optimization;
- ``qaicc.metrics.static_metrics``, the simulator and the QPC (a flag bit) count no DDR
  traffic for marked transfers (a VTCM-to-VTCM move, free in the timing model);
  ``insert-multicast`` ignores them;
- the reference semantics are unchanged: the executor still moves the data through its
  DDR arrays, so results are identical.

A tensor qualifies when it is an intermediate (not a model output), no load reads it in
place (``in_ddr``), no task both reads and writes it, every load of it on a core reads
only elements that core stored (compared as row-major element ranges, through reshape
aliases), and on each core every task storing it comes before every task loading it.

Place: after ``schedule`` (the order of each core is final) and after ``plan-memory``
(which re-tiles oversized tasks): the pass then plans the regions and runs
``verify_memory_plan``. Before ``plan-memory`` it only marks, and ``plan-memory``
re-checks the marks (re-tiling may change the blocks) and plans the regions.
``schedule`` must not run after it (a region is planned for the order of the tasks).

Options: ``target`` (hardware version or target JSON file, default ai100-pro), ``align``
(byte alignment of the regions, plan-memory's). Example: a matmul and a relu split by
rows over two cores; each core reads back its own rows of ``mm``:

    "aic_core.task"() <{op_name = "mm", ...}> ({
      ...
      "aic_core.dma_store"(%y) <{target = @mm, offsets = array<i64: 0, 0>, tile_steps = array<i64: 0, 0>,
                                 on_chip, resident = array<i64: 320, 64>}>
    })
    "aic_core.signal"() <{semaphore = @mm.ready}>
    "aic_core.wait"() <{semaphore = @mm.ready, count = 2 : i64}>
    "aic_core.task"() <{op_name = "relu", ...}> ({
      %a = "aic_core.dma_load"() <{source = @mm, offsets = array<i64: 0, 0>, tile_steps = array<i64: 0, 0>,
                                   on_chip, resident = array<i64: 320, 64>, vtcm_offset = 0 : i64, ...}>
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, UnitAttr
from xdsl.passes import ModulePass

from qaicc.dialects.aic_core import ops as c
from qaicc.dialects.aic_core.analysis import (
    DDRTable,
    align_up,
    allocate,
    buffer_size,
    first_fit,
    programs,
    require_programs,
    task_buffers,
    tiles_of,
)
from qaicc.dialects.aic_core.partition import _array
from qaicc.dialects.aic_graph.work import tensor_bytes
from qaicc.errors import QaiccError
from qaicc.hardware import load_target
from qaicc.hardware.model import DEFAULT_TARGET, HardwareModel

PASS_NAME = "keep-on-chip"
MAX_RANGES = 1 << 18  # element ranges of one tensor on one core before giving up (stays in DDR)

Ranges = np.ndarray  # (n, 2) int64 [start, end) row-major element ranges, sorted and merged


# -- element ranges ----------------------------------------------------------------------


def block_ranges(shape: list[int], offsets: list[int], sizes: list[int]) -> Ranges | None:
    """The row-major element ranges of a block (None when there are too many)."""
    rank = len(shape)
    if rank == 0:
        return np.array([[0, 1]], dtype=np.int64)
    if any(s == 0 for s in sizes):
        return np.zeros((0, 2), dtype=np.int64)
    strides = [1] * rank
    for k in range(rank - 2, -1, -1):
        strides[k] = strides[k + 1] * shape[k + 1]
    j = rank - 1  # the first axis from which the block is contiguous
    while j > 0 and sizes[j] == shape[j] and offsets[j] == 0:
        j -= 1
    count = int(np.prod(sizes[:j], dtype=np.int64)) if j else 1
    if count > MAX_RANGES:
        return None
    length = sizes[j] * strides[j]
    starts = np.array([offsets[j] * strides[j]], dtype=np.int64)
    for k in range(j - 1, -1, -1):
        axis = (offsets[k] + np.arange(sizes[k], dtype=np.int64)) * strides[k]
        starts = (axis[:, None] + starts[None, :]).reshape(-1)
    return np.stack([starts, starts + length], axis=1)


def merge(parts: list[Ranges]) -> Ranges:
    if not parts:
        return np.zeros((0, 2), dtype=np.int64)
    ranges = np.concatenate(parts)
    ranges = ranges[np.argsort(ranges[:, 0], kind="stable")]
    merged = []
    for start, end in ranges.tolist():
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return np.array(merged, dtype=np.int64).reshape(-1, 2)


def covers(outer: Ranges, inner: Ranges) -> bool:
    """Is every range of ``inner`` inside one range of the merged ``outer``?"""
    if len(inner) == 0:
        return True
    if len(outer) == 0:
        return False
    index = np.searchsorted(outer[:, 0], inner[:, 0], side="right") - 1
    if (index < 0).any():
        return False
    return bool((outer[index, 1] >= inner[:, 1]).all())


def _transfer_ranges(op: c.DMALoadOp | c.DMAStoreOp, shape: list[int], tiles: int) -> Ranges | None:
    offsets, steps = op.int_list("offsets"), op.int_list("tile_steps")
    block = op.output.type if isinstance(op, c.DMALoadOp) else op.value.type
    sizes = list(block.get_shape())
    moving = tiles if any(steps) else 1
    parts = []
    for t in range(moving):
        found = block_ranges(shape, [o + t * s for o, s in zip(offsets, steps)], sizes)
        if found is None:
            return None
        parts.append(found)
        if sum(len(p) for p in parts) > MAX_RANGES:
            return None
    return merge(parts)


# -- which tensors qualify ----------------------------------------------------------------


@dataclass
class Group:
    """One tensor kept on one core: its stores and loads, the span of tasks (positions in
    the core's program) and the bytes of its region."""

    root: str
    core: int
    stores: list = field(default_factory=list)  # (task position, op)
    loads: list = field(default_factory=list)
    bytes: int = 0

    @property
    def ops(self) -> list:
        return [op for _, op in (*self.stores, *self.loads)]

    @property
    def first(self) -> int:
        return min(p for p, _ in self.stores)

    @property
    def last(self) -> int:
        return max(p for p, _ in (*self.stores, *self.loads))


def _core_tasks(module: ModuleOp) -> dict[int, list[c.TaskOp]]:
    found = {}
    for program in programs(module):
        found[program.core.value.data] = [op for op in program.body.block.ops if isinstance(op, c.TaskOp)]
    return found


def _numel(type) -> int:
    return int(np.prod(type.get_shape(), dtype=np.int64))


def disjoint(a: Ranges, b: Ranges) -> bool:
    """Do the merged ranges ``a`` and the ranges ``b`` share no element?"""
    if len(a) == 0 or len(b) == 0:
        return True
    index = np.searchsorted(a[:, 0], b[:, 1], side="left") - 1
    hit = index >= 0
    return not bool((a[index[hit], 1] > b[hit, 0]).any())


def analyze(module: ModuleOp, only_marked: bool = False) -> dict[tuple[str, int], Group]:
    """Every (tensor, core) that may stay on chip: the core stores it, each of its loads
    on that core reads only what the core stored, after the core's last store of it,
    and no other core loads what it stored. With ``only_marked``: the groups of the
    transfers marked ``on_chip`` that still qualify (every transfer of the tensor on the
    core marked)."""
    table = DDRTable(module)
    by_root: dict[str, dict[int, Group]] = {}
    bad: set[str] = set()
    unmarked: set[tuple[str, int]] = set()
    ranges: dict[tuple[str, int, str], list] = {}
    for core, task_list in _core_tasks(module).items():
        for position, task in enumerate(task_list):
            tiles = tiles_of(task)
            read, written = set(), set()
            for op in task.body.block.ops:
                if not isinstance(op, (c.DMALoadOp, c.DMAStoreOp)):
                    continue
                load = isinstance(op, c.DMALoadOp)
                name = (op.source if load else op.target).root_reference.data
                root = table.root(name)
                (read if load else written).add(root)
                if not table.reusable(root) or (load and op.in_ddr is not None):
                    bad.add(root)
                    continue
                if only_marked and op.on_chip is None:
                    unmarked.add((root, core))
                decl = table.decls[name]
                if _numel(decl.type) != _numel(table.decls[root].type):
                    bad.add(root)
                    continue
                group = by_root.setdefault(root, {}).setdefault(core, Group(root, core))
                (group.loads if load else group.stores).append((position, op))
                found = _transfer_ranges(op, list(decl.type.get_shape()), tiles)
                if found is None:
                    bad.add(root)
                    continue
                ranges.setdefault((root, core, "load" if load else "store"), []).append(found)
            bad |= read & written
    groups: dict[tuple[str, int], Group] = {}
    for root, by_core in by_root.items():
        if root in bad:
            continue
        stored = {core: merge(ranges.get((root, core, "store"), [])) for core in by_core}
        loaded = {core: merge(ranges.get((root, core, "load"), [])) for core in by_core}
        decl = table.decls[root]
        element = tensor_bytes(decl.type) / max(1, _numel(decl.type))
        for core, group in by_core.items():
            if not group.stores or (root, core) in unmarked:
                continue
            if not covers(stored[core], loaded[core]):
                continue
            if group.loads and max(p for p, _ in group.stores) >= min(p for p, _ in group.loads):
                continue
            if not all(disjoint(stored[core], loaded[other]) for other in by_core if other != core):
                continue
            group.bytes = int(np.ceil(int((stored[core][:, 1] - stored[core][:, 0]).sum()) * element))
            groups[(root, core)] = group
    return groups


def unmark(ops) -> None:
    for op in ops:
        op.properties.pop("on_chip", None)
        op.properties.pop("resident", None)


def mark_on_chip(module: ModuleOp) -> int:
    """Mark every qualifying transfer ``on_chip`` (no region yet); returns the groups."""
    for program in programs(module):
        for op in program.walk():
            if isinstance(op, (c.DMALoadOp, c.DMAStoreOp)):
                unmark([op])
    groups = analyze(module)
    for group in groups.values():
        for op in group.ops:
            op.properties["on_chip"] = UnitAttr()
            op.properties.pop("multicast_cores", None)
    return len(groups)


# -- the regions -------------------------------------------------------------------------


def _local_peak(task: c.TaskOp, alignment: int) -> int:
    buffers = task_buffers(task)
    if buffers and all(b.op.vtcm_offset is not None for b in buffers):
        return max(b.op.int_prop("vtcm_offset") + b.size * b.op.int_prop("buffers", 1) for b in buffers)
    return allocate(buffers, alignment)[1]


def plan_residents(module: ModuleOp, hw: HardwareModel, alignment: int = 1) -> tuple[int, int]:
    """Re-check the marks (unmarking what no longer qualifies) and give every (tensor,
    core) group a VTCM region; a group that does not fit goes back to DDR. Returns
    (groups kept, groups sent back to DDR)."""
    marked = [op for p in programs(module) for op in p.walk()
              if isinstance(op, (c.DMALoadOp, c.DMAStoreOp)) and op.on_chip is not None]
    if not marked:
        return 0, 0
    groups = analyze(module, only_marked=True)
    kept_ops = {id(op) for g in groups.values() for op in g.ops}
    unmark(op for op in marked if id(op) not in kept_ops)
    limit = hw.vtcm_usable_bytes
    task_lists = _core_tasks(module)
    peaks = {core: [_local_peak(t, alignment) for t in found] for core, found in task_lists.items()}
    kept = dropped = 0
    placed: dict[int, list[tuple[int, int, int, int]]] = {}  # core -> (first, last, start, end)
    for group in sorted(groups.values(), key=lambda g: (g.bytes * (g.last - g.first + 1), g.bytes, g.root, g.core)):
        base = align_up(max(peaks[group.core][group.first:group.last + 1]), alignment)
        busy = [(s, e) for f, l, s, e in placed.get(group.core, []) if f <= group.last and group.first <= l]
        offset = first_fit(busy, group.bytes, alignment, base)
        if offset + group.bytes > limit:
            unmark(group.ops)
            dropped += 1
            continue
        placed.setdefault(group.core, []).append((group.first, group.last, offset, offset + group.bytes))
        region = _array((offset, group.bytes))
        for op in group.ops:
            op.properties["resident"] = region
        kept += 1
    return kept, dropped


def resident_problems(module: ModuleOp, hw: HardwareModel) -> list[str]:
    """What is wrong with the ``on_chip`` marks and their regions (for the verifier)."""
    marked = [op for p in programs(module) for op in p.walk()
              if isinstance(op, (c.DMALoadOp, c.DMAStoreOp)) and op.on_chip is not None]
    if not marked:
        return []
    problems = []
    groups = analyze(module, only_marked=True)
    grouped = {id(op) for g in groups.values() for op in g.ops}
    for op in marked:
        if id(op) not in grouped:
            name = (op.source if isinstance(op, c.DMALoadOp) else op.target).root_reference.data
            problems.append(f"an on_chip {op.name} of @{name} does not read back what its core stored")
    task_lists = _core_tasks(module)
    limit = hw.vtcm_usable_bytes
    regions: dict[int, list[tuple[int, int, int, int, str]]] = {}
    for (root, core), group in groups.items():
        values = {tuple(op.int_list("resident")) for op in group.ops}
        if len(values) != 1 or () in values:
            problems.append(f"on_chip transfers of @{root} on core {core} have no single resident region")
            continue
        start, size = values.pop()
        end = start + size
        if size < group.bytes or start < 0 or end > limit:
            problems.append(f"the region of @{root} on core {core} [{start}, {end}) does not hold its "
                            f"{group.bytes} bytes inside VTCM ({limit} usable bytes)")
        for position in range(group.first, group.last + 1):
            task = task_lists[core][position]
            for buffer in task_buffers(task):
                op = buffer.op
                if op.vtcm_offset is None:
                    continue
                s = op.int_prop("vtcm_offset")
                e = s + buffer_size(op) * op.int_prop("buffers", 1)
                if s < end and start < e and e > s:
                    problems.append(f"the region of @{root} on core {core} [{start}, {end}) overlaps a buffer "
                                    f"[{s}, {e}) of task '{task.op_name.data}'")
        for first, last, s, e, other in regions.get(core, []):
            if first <= group.last and group.first <= last and s < end and start < e:
                problems.append(f"the regions of @{other} and @{root} on core {core} overlap while both are live")
        regions.setdefault(core, []).append((group.first, group.last, start, end, root))
    return problems


def resident_peaks(module: ModuleOp) -> dict[int, int]:
    """Per core, the end of the highest resident region."""
    peaks: dict[int, int] = {}
    for program in programs(module):
        core = program.core.value.data
        for op in program.walk():
            if isinstance(op, (c.DMALoadOp, c.DMAStoreOp)) and op.resident is not None:
                start, size = op.int_list("resident")
                peaks[core] = max(peaks.get(core, 0), start + size)
    return peaks


def _planned(module: ModuleOp) -> bool:
    return any(isinstance(op, (c.DMALoadOp, c.ComputeOp)) and op.vtcm_offset is not None
               for p in programs(module) for op in p.walk())


@dataclass(frozen=True)
class KeepOnChipPass(ModulePass):
    name = PASS_NAME

    target: str = DEFAULT_TARGET
    align: int = 1

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        require_programs(op, PASS_NAME)
        if self.align < 1:
            raise QaiccError(f"{PASS_NAME}: align must be a positive number of bytes, got {self.align}")
        hw = load_target(self.target)
        multicast = any(isinstance(x, c.DMALoadOp) and x.multicast_cores is not None for x in op.walk())
        mark_on_chip(op)
        if multicast:
            from qaicc.passes.insert_multicast import insert_multicast

            insert_multicast(op)  # groups without the loads kept on chip
        if _planned(op):
            from qaicc.passes.plan_memory import verify_memory_plan

            plan_residents(op, hw, self.align)
            verify_memory_plan(op, hw)
