"""``plan-memory``: VTCM and DDR addresses for every buffer, from liveness, with a proof.

    qaicc-opt m.mlir -p 'convert-aic-graph-to-aic-core,insert-multicast,schedule,plan-memory{target=ai100-pro}'

**VTCM.** Every ``aic_core.dma_load`` and ``aic_core.compute`` result of a task is a VTCM
buffer of the core running it. A task's buffers get ``vtcm_offset`` (bytes from the start
of VTCM) and ``buffers`` (copies: 2 when the task has several tiles and ``ols >= 2``,
so that the next tile's DMA fills one copy while the current tile computes on the other;
a load whose block does not move between tiles is resident: one copy). Copy k lives at
``vtcm_offset + k * size``. Offsets come from liveness within the task (buffers whose
live ranges are disjoint may share space; with double buffering every buffer lives
through the whole task); a task's buffers are dead once it ends, so every task starts
from offset 0 of its core's VTCM.

**Re-tiling.** A task whose working set exceeds the target's ``vtcm_usable_bytes`` is
cut into more tiles along a parallel axis of its op (streamed from DDR), or into several
consecutive tasks along another parallel axis; cuts divide the tile (see
``qaicc.dialects.aic_core.retile``). When no cut fits, the pass fails with a
``QaiccError`` naming the op, its working set and the limit.

**DDR.** Every DDR tensor gets an ``offset``; an alias has its root's. Constants, inputs
and outputs each keep their own range. Intermediates share space when their lifetimes
cannot overlap in any execution: X's range may be reused by Y when every task that
writes Y starts after every task that writes or reads X finished, as the semaphores
(a task's waits, the signals after its producers) and the order of same-core tasks on a
common tensor guarantee (``qaicc.dialects.aic_core.analysis.completion``); ``schedule``
keeps both, so a plan stays valid whatever order it picks.

**Kept on chip.** Transfers that ``keep-on-chip`` marked ``on_chip`` are re-checked
(re-tiling may change the blocks: what no longer qualifies goes back to DDR) and each
(tensor, core) gets its ``resident`` VTCM region from the core's task that stores it to
its last task that reads it, above the buffers of those tasks; a region that does not
fit sends its tensor back to DDR on that core (see ``qaicc.passes.keep_on_chip``).

**Verifier.** ``verify_memory_plan(module, hw)`` (also run at the end of the pass)
proves that no two buffers live at the same time overlap in a core's VTCM (resident
regions included, over the tasks they span), that no core
uses more than ``vtcm_usable_bytes``, that DDR tensors overlap only when their lifetimes
are ordered, and that DDR fits; ``memory_plan_problems`` lists what is wrong.

Options: ``target`` (hardware version or target JSON file, default ai100-pro), ``align``
(byte alignment of every offset, default 1). Example, a double-buffered matmul tile
(x streamed, w resident, y double-buffered):

    "aic_core.ddr_tensor"() <{sym_name = "mm", type = tensor<8x4xf32>, kind = "intermediate", offset = 320 : i64}>
    "aic_core.task"() <{op_name = "mm", ..., tiles = 2 : i64, ols = 2 : i64}> ({
      %x = "aic_core.dma_load"() <{source = @in.x, ..., vtcm_offset = 256 : i64, buffers = 2 : i64}>
      %w = "aic_core.dma_load"() <{source = @w, ..., vtcm_offset = 0 : i64, buffers = 1 : i64}>
      %y = "aic_core.compute"(%x, %w) <{unit = "matrix", vtcm_offset = 384 : i64, buffers = 2 : i64}>
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, i64
from xdsl.passes import ModulePass

from qaicc.dialects.aic_core import ops as c
from qaicc.dialects.aic_core.analysis import (
    Completion,
    DDRTable,
    align_up,
    allocate,
    completion,
    first_fit,
    program_items,
    programs,
    require_programs,
    task_accesses,
    task_buffers,
    tasks,
)
from qaicc.dialects.aic_core.retile import mxfp6_axes, retile
from qaicc.errors import QaiccError
from qaicc.hardware import load_target
from qaicc.hardware.model import DEFAULT_TARGET, HardwareModel
from qaicc.passes.keep_on_chip import plan_residents, resident_peaks, resident_problems

PASS_NAME = "plan-memory"
_KIND_ORDER = {"constant": 0, "input": 1, "output": 2, "intermediate": 3}


# -- VTCM --------------------------------------------------------------------------------


def retile_oversized(module: ModuleOp, hw: HardwareModel, alignment: int = 1) -> int:
    """Re-tile every task whose working set exceeds VTCM; returns how many were."""
    table = DDRTable(module)
    axes = mxfp6_axes(table.decls)
    count = 0
    for program in programs(module):
        for item in program_items(program):
            if item.task is None:
                continue
            _, peak = allocate(task_buffers(item.task), alignment)
            if peak <= hw.vtcm_usable_bytes:
                continue
            retile(item, hw.vtcm_usable_bytes, peak, hw.name, axes, alignment)
            count += 1
    return count


def plan_vtcm(module: ModuleOp, alignment: int = 1) -> dict[int, int]:
    """Set vtcm_offset and buffers on every buffer; returns the peak bytes per core."""
    peaks: dict[int, int] = {}
    for core, task in tasks(module):
        buffers = task_buffers(task)
        offsets, peak = allocate(buffers, alignment)
        for buffer, offset in zip(buffers, offsets):
            buffer.op.properties["vtcm_offset"] = IntegerAttr(offset, i64)
            buffer.op.properties["buffers"] = IntegerAttr(buffer.copies, i64)
        peaks[core] = max(peaks.get(core, 0), peak)
    return peaks


# -- DDR ---------------------------------------------------------------------------------


@dataclass
class Lifetimes:
    """For each root DDR tensor: the tasks touching it (bitset) and the tasks certainly
    finished before any of its writers starts (bitset)."""

    table: DDRTable
    touched: dict[str, int]
    before_writes: dict[str, int]
    first: dict[str, int]

    def ordered(self, x: str, y: str) -> bool:
        """Does every access to x end before y is first written (or the reverse)?"""
        return (self.touched[x] & ~self.before_writes[y]) == 0 or (self.touched[y] & ~self.before_writes[x]) == 0


def lifetimes(module: ModuleOp, table: DDRTable, facts: Completion | None = None) -> Lifetimes:
    facts = facts or completion(module, table)
    touched: dict[str, int] = {}
    writers: dict[str, list[c.TaskOp]] = {}
    first: dict[str, int] = {}
    for task in facts.order:
        reads, writes = task_accesses(task, table)
        bit = 1 << facts.bit[task]
        for root in reads | writes:
            touched[root] = touched.get(root, 0) | bit
            first.setdefault(root, facts.bit[task])
        for root in writes:
            writers.setdefault(root, []).append(task)
    before: dict[str, int] = {}
    for decl in table.roots():
        name = decl.sym_name.data
        touched.setdefault(name, 0)
        found = writers.get(name, [])
        value = -1 if found else 0  # no writer: ordered with nothing
        for task in found:
            value &= facts.done[task]
        before[name] = value
    return Lifetimes(table, touched, before, first)


def plan_ddr(module: ModuleOp, hw: HardwareModel, alignment: int = 1) -> int:
    """Set ``offset`` on every DDR tensor; returns the bytes of DDR used."""
    table = DDRTable(module)
    life = lifetimes(module, table)
    roots = list(table.roots())
    fixed = sorted((r for r in roots if not table.reusable(r.sym_name.data)),
                   key=lambda r: _KIND_ORDER.get(r.kind.data, 9))
    offsets: dict[str, int] = {}
    end = 0
    for decl in fixed:
        offsets[decl.sym_name.data] = align_up(end, alignment)
        end = offsets[decl.sym_name.data] + table.size(decl.sym_name.data)
    base = align_up(end, alignment)
    shared = sorted((r.sym_name.data for r in roots if table.reusable(r.sym_name.data)),
                    key=lambda name: life.first.get(name, 1 << 62))
    placed: list[str] = []
    for name in shared:
        size = table.size(name)
        busy = [(offsets[other], offsets[other] + table.size(other))
                for other in placed if not life.ordered(name, other)]
        offsets[name] = first_fit(busy, size, alignment, base)
        placed.append(name)
        end = max(end, offsets[name] + size)
    if end > hw.ddr_bytes:
        raise QaiccError(f"{PASS_NAME}: the model needs {end} bytes of DDR, more than the {hw.ddr_bytes} of target '{hw.name}'")
    for name, decl in table.decls.items():
        decl.properties["offset"] = IntegerAttr(offsets[table.root(name)], i64)
    return end


# -- the verifier ------------------------------------------------------------------------


def memory_plan_problems(module: ModuleOp, hw: HardwareModel) -> list[str]:
    problems: list[str] = []
    limit = hw.vtcm_usable_bytes
    for core, task in tasks(module):
        name = f"task '{task.op_name.data}' on core {core}"
        buffers = task_buffers(task)
        extents = []
        for buffer in buffers:
            op = buffer.op
            if op.vtcm_offset is None or op.buffers is None:
                problems.append(f"{name}: an {op.name} has no vtcm_offset/buffers")
                extents.append(None)
                continue
            copies = op.int_prop("buffers")
            if copies < buffer.copies:
                problems.append(f"{name}: an {op.name} needs {buffer.copies} copies, has {copies}")
            start = op.int_prop("vtcm_offset")
            stop = start + buffer.size * copies
            extents.append((start, stop))
            if start < 0 or stop > limit:
                problems.append(f"{name}: an {op.name} at [{start}, {stop}) is outside VTCM ({limit} usable bytes)")
        for i, a in enumerate(buffers):
            for j in range(i + 1, len(buffers)):
                b = buffers[j]
                if extents[i] is None or extents[j] is None or not a.live_with(b):
                    continue
                (s1, e1), (s2, e2) = extents[i], extents[j]
                if s1 < e2 and s2 < e1 and e1 > s1 and e2 > s2:
                    problems.append(f"{name}: live buffers {a.op.name} [{s1}, {e1}) and {b.op.name} [{s2}, {e2}) overlap")
    problems += resident_problems(module, hw)
    table = DDRTable(module)
    life = lifetimes(module, table)
    ranges = []
    for name, decl in table.decls.items():
        if decl.offset is None:
            problems.append(f"DDR tensor @{name} has no offset")
            continue
        offset = decl.offset.value.data
        root = table.root(name)
        if root != name:
            root_decl = table.decls[root]
            if root_decl.offset is not None and root_decl.offset.value.data != offset:
                problems.append(f"DDR alias @{name} is at {offset}, its root @{root} at {root_decl.offset.value.data}")
            continue
        size = table.size(name)
        if offset < 0 or offset + size > hw.ddr_bytes:
            problems.append(f"DDR tensor @{name} at [{offset}, {offset + size}) is outside DDR")
        if size:
            ranges.append((offset, offset + size, name))
    ranges.sort()
    active: list[tuple[int, int, str]] = []
    for start, stop, name in ranges:
        active = [r for r in active if r[1] > start]
        for _, other_stop, other in active:
            if table.reusable(name) and table.reusable(other) and life.ordered(name, other):
                continue
            problems.append(f"DDR tensors @{other} and @{name} overlap while both may be live")
        active.append((start, stop, name))
    return problems


def verify_memory_plan(module: ModuleOp, hw: HardwareModel) -> None:
    problems = memory_plan_problems(module, hw)
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise QaiccError(f"{PASS_NAME}: invalid memory plan: {'; '.join(problems[:3])}{more}")


def vtcm_peaks(module: ModuleOp) -> dict[int, int]:
    """Per core, the highest VTCM byte a planned task uses."""
    peaks = {p.core.value.data: 0 for p in programs(module)}
    for core, task in tasks(module):
        for buffer in task_buffers(task):
            op = buffer.op
            if op.vtcm_offset is not None:
                peaks[core] = max(peaks[core], op.int_prop("vtcm_offset") + buffer.size * op.int_prop("buffers", 1))
    for core, peak in resident_peaks(module).items():
        peaks[core] = max(peaks.get(core, 0), peak)
    return peaks


@dataclass(frozen=True)
class PlanMemoryPass(ModulePass):
    name = PASS_NAME

    target: str = DEFAULT_TARGET
    align: int = 1

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        require_programs(op, PASS_NAME)
        if self.align < 1:
            raise QaiccError(f"{PASS_NAME}: align must be a positive number of bytes, got {self.align}")
        hw = load_target(self.target)
        multicast = any(load.multicast_cores is not None for load in op.walk() if isinstance(load, c.DMALoadOp))
        if retile_oversized(op, hw, self.align) and multicast:
            from qaicc.passes.insert_multicast import insert_multicast

            insert_multicast(op)  # re-tiled tasks read other blocks
        plan_vtcm(op, self.align)
        plan_residents(op, hw, self.align)  # transfers keep-on-chip marked: their VTCM regions
        plan_ddr(op, hw, self.align)
        verify_memory_plan(op, hw)
