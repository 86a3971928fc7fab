"""Facts about an aic-core module that the aic-core passes and the metrics share.

- ``DDRTable(module)``: the DDR tensors by name, the root of every alias, which roots
  may share DDR space (intermediates that are not model outputs).
- ``program_items(program)``: a core's program cut into items ``wait* task? signal*``:
  the waits a task needs come right before it, the signals it gives right after it.
  ``schedule`` moves whole items; the other analyses rely on these attachments only.
- ``task_buffers(task)``: the VTCM buffers of a task (each ``dma_load`` and ``compute``
  result) with their size, copies and live range within the task body.
- ``allocate(buffers)``: offsets for buffers with live ranges (first fit, largest first).
- ``completion(module)``: for every task, the set of tasks that certainly finished
  before it starts, in any execution and in any order ``schedule`` may choose: derived
  from the semaphores a task's attached waits satisfy (all signals of the semaphore, each
  given right after its task) and from the order of same-core tasks that touch the same
  DDR tensor (one of them writing), which ``schedule`` keeps.

A load is *resident* when its block does not move between tiles (one tile, or every
tile step 0): it is loaded once and one copy stays in VTCM for the whole task. The
other buffers are *streamed*: with ``ols >= 2`` and several tiles the next tile's
buffers fill while the current tile computes, so they take two copies.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation

from qaicc.dialects.aic_core import ops as c
from qaicc.dialects.aic_graph.work import tensor_bytes
from qaicc.errors import QaiccError

REUSABLE_KINDS = ("intermediate",)


# -- DDR tensors -------------------------------------------------------------------------


class DDRTable:
    """The module's DDR tensors: declarations, alias roots, sizes, reuse rules."""

    def __init__(self, module: ModuleOp):
        self.decls: dict[str, c.DDRTensorOp] = {}
        for op in module.body.block.ops:
            if isinstance(op, c.DDRTensorOp):
                self.decls[op.sym_name.data] = op
        self._roots: dict[str, str] = {}
        pinned = set()
        for op in module.walk():
            if isinstance(op, c.LaunchOp):
                pinned |= {s.root_reference.data for s in (*op.inputs.data, *op.outputs.data)}
        for name, decl in self.decls.items():
            if decl.io_name is not None:
                pinned.add(name)
        self.pinned_roots = {self.root(name) for name in pinned if name in self.decls}

    def root(self, name: str) -> str:
        if name in self._roots:
            return self._roots[name]
        seen, current = [], name
        while True:
            decl = self.decls.get(current)
            if decl is None:
                raise QaiccError(f"aic-core: unknown DDR tensor @{current}")
            if decl.kind.data != "alias":
                break
            seen.append(current)
            current = decl.alias.root_reference.data
            if current in seen:
                raise QaiccError(f"aic-core: DDR alias cycle through @{current}")
        self._roots[name] = current
        return current

    def roots(self) -> Iterator[c.DDRTensorOp]:
        for decl in self.decls.values():
            if decl.kind.data != "alias":
                yield decl

    def size(self, name: str) -> int:
        return tensor_bytes(self.decls[name].type)

    def reusable(self, root: str) -> bool:
        """May this root share DDR space with others whose lifetimes do not overlap?"""
        return self.decls[root].kind.data in REUSABLE_KINDS and root not in self.pinned_roots


# -- programs ----------------------------------------------------------------------------


@dataclass
class Item:
    """``wait* task? signal*`` of one core: the unit ``schedule`` moves."""

    core: int
    waits: list[c.WaitOp] = field(default_factory=list)
    task: c.TaskOp | None = None
    signals: list[c.SignalOp] = field(default_factory=list)
    others: list[Operation] = field(default_factory=list)

    @property
    def ops(self) -> list[Operation]:
        return [*self.waits, *([self.task] if self.task is not None else []), *self.signals, *self.others]


def programs(module: ModuleOp) -> list[c.ProgramOp]:
    return [op for op in module.body.block.ops if isinstance(op, c.ProgramOp)]


def require_programs(module, who: str) -> None:
    """A one-line error when ``module`` is not at the aic-core level yet."""
    if not programs(module):
        raise QaiccError(f"{who}: the module has no aic_core.program; run convert-aic-graph-to-aic-core first")


def program_items(program: c.ProgramOp) -> list[Item]:
    core = program.core.value.data
    items: list[Item] = []
    current: Item | None = None

    def fresh() -> Item:
        item = Item(core)
        items.append(item)
        return item

    for op in program.body.block.ops:
        if isinstance(op, c.WaitOp):
            if current is None or current.task is not None or current.signals or current.others:
                current = fresh()
            current.waits.append(op)
        elif isinstance(op, c.TaskOp):
            if current is None or current.task is not None or current.signals or current.others:
                current = fresh()
            current.task = op
        elif isinstance(op, c.SignalOp):
            if current is None or current.others:
                current = fresh()
            current.signals.append(op)
        else:
            current = fresh()
            current.others.append(op)
    return items


def tasks(module: ModuleOp) -> Iterator[tuple[int, c.TaskOp]]:
    for program in programs(module):
        core = program.core.value.data
        for op in program.body.block.ops:
            if isinstance(op, c.TaskOp):
                yield core, op


def loads(task: c.TaskOp) -> list[c.DMALoadOp]:
    return [op for op in task.body.block.ops if isinstance(op, c.DMALoadOp)]


def stores(task: c.TaskOp) -> list[c.DMAStoreOp]:
    return [op for op in task.body.block.ops if isinstance(op, c.DMAStoreOp)]


def computes(task: c.TaskOp) -> list[c.ComputeOp]:
    return [op for op in task.body.block.ops if isinstance(op, c.ComputeOp)]


def task_accesses(task: c.TaskOp, table: DDRTable) -> tuple[set[str], set[str]]:
    """(roots read, roots written) by a task."""
    reads = {table.root(op.source.root_reference.data) for op in loads(task)}
    writes = {table.root(op.target.root_reference.data) for op in stores(task)}
    return reads, writes


def tiles_of(task: c.TaskOp) -> int:
    return task.tiles.value.data


def ols_of(task: c.TaskOp) -> int:
    return task.ols.value.data if task.ols is not None else 1


def is_resident(load: c.DMALoadOp, tiles: int) -> bool:
    return tiles <= 1 or not any(load.int_list("tile_steps"))


def pipelined(task: c.TaskOp) -> bool:
    return tiles_of(task) > 1 and ols_of(task) >= 2


# -- VTCM buffers ------------------------------------------------------------------------


@dataclass
class Buffer:
    op: Operation  # the dma_load or compute whose result(s) it holds
    size: int  # bytes of one copy
    copies: int
    start: int  # live range: positions in the task body, inclusive
    end: int

    @property
    def bytes(self) -> int:
        return self.size * self.copies

    def live_with(self, other: Buffer) -> bool:
        return self.start <= other.end and other.start <= self.end


def buffer_size(op: Operation) -> int:
    if isinstance(op, c.DMALoadOp):
        return op.vtcm_bytes
    return sum(tensor_bytes(r.type) for r in op.results)


def task_buffers(task: c.TaskOp) -> list[Buffer]:
    body = list(task.body.block.ops)
    position = {op: index for index, op in enumerate(body)}
    tiles, whole = tiles_of(task), (0, len(body))
    double = pipelined(task)
    buffers = []
    for index, op in enumerate(body):
        if not isinstance(op, (c.DMALoadOp, c.ComputeOp)):
            continue
        uses = [position[use.operation] for r in op.results for use in r.uses if use.operation in position]
        start, end = index, max(uses, default=index)
        resident = isinstance(op, c.DMALoadOp) and is_resident(op, tiles)
        if resident and tiles > 1:
            start, end = whole
        elif double:
            start, end = whole
        copies = 2 if double and not resident else 1
        buffers.append(Buffer(op, buffer_size(op), copies, start, end))
    return buffers


def working_set(buffers: Iterable[Buffer]) -> int:
    """Bytes of VTCM a task needs when no two buffers share space."""
    return sum(b.bytes for b in buffers)


def align_up(value: int, alignment: int) -> int:
    return -(-value // alignment) * alignment if alignment > 1 else value


def allocate(buffers: list[Buffer], alignment: int = 1) -> tuple[list[int], int]:
    """First-fit offsets, largest buffer first; buffers with disjoint live ranges may
    share space. Returns (offset of each buffer, peak bytes)."""
    order = sorted(range(len(buffers)), key=lambda i: (-buffers[i].bytes, i))
    offsets: list[int | None] = [None] * len(buffers)
    for i in order:
        busy = sorted(
            (offsets[j], offsets[j] + buffers[j].bytes)
            for j in range(len(buffers))
            if offsets[j] is not None and buffers[i].live_with(buffers[j])
        )
        offsets[i] = first_fit(busy, buffers[i].bytes, alignment)
    peak = max((o + b.bytes for o, b in zip(offsets, buffers)), default=0)
    return [int(o) for o in offsets], peak


def first_fit(busy: list[tuple[int, int]], size: int, alignment: int = 1, base: int = 0) -> int:
    """The lowest aligned offset >= base where [offset, offset + size) misses every busy range."""
    candidate = align_up(base, alignment)
    for start, end in sorted(busy):
        if start >= candidate + size:
            break
        if end > candidate:
            candidate = align_up(end, alignment)
    return candidate


# -- what finished before what -----------------------------------------------------------


@dataclass
class Completion:
    """``order``: every task in an execution order the semaphores allow; ``bit[task]``:
    its bit; ``done[task]``: the bitset of tasks certainly finished before it starts."""

    order: list[c.TaskOp]
    core: dict[c.TaskOp, int]
    bit: dict[c.TaskOp, int]
    done: dict[c.TaskOp, int]

    def mask(self, tasks: Iterable[c.TaskOp]) -> int:
        value = 0
        for task in tasks:
            value |= 1 << self.bit[task]
        return value


def execution_order(module: ModuleOp) -> list[tuple[int, Operation]]:
    """Every program op in an order the semaphores allow (round robin over the cores, as
    the reference executor runs them); a deadlock is an error naming the blocked cores."""
    cursors = {p.core.value.data: list(p.body.block.ops) for p in programs(module)}
    positions = {core: 0 for core in cursors}
    counts: dict[str, int] = {}
    order: list[tuple[int, Operation]] = []
    while True:
        progressed, blocked = False, {}
        for core, ops in cursors.items():
            while positions[core] < len(ops):
                op = ops[positions[core]]
                if isinstance(op, c.WaitOp):
                    name = op.semaphore.root_reference.data
                    if counts.get(name, 0) < op.count.value.data:
                        blocked[core] = f"waits on @{name} for {op.count.value.data} (has {counts.get(name, 0)})"
                        break
                elif isinstance(op, c.SignalOp):
                    name = op.semaphore.root_reference.data
                    counts[name] = counts.get(name, 0) + 1
                order.append((core, op))
                positions[core] += 1
                progressed = True
        if not blocked:
            return order
        if not progressed:
            detail = "; ".join(f"core {k} {v}" for k, v in sorted(blocked.items()))
            raise QaiccError(f"aic_core deadlock: {detail}")


def signal_counts(module: ModuleOp) -> dict[str, int]:
    counts: dict[str, int] = {}
    for program in programs(module):
        for op in program.body.block.ops:
            if isinstance(op, c.SignalOp):
                name = op.semaphore.root_reference.data
                counts[name] = counts.get(name, 0) + 1
    return counts


def completion(module: ModuleOp, table: DDRTable | None = None) -> Completion:
    table = table or DDRTable(module)
    totals = signal_counts(module)
    signalers: dict[str, list[c.TaskOp]] = {}
    waits_of: dict[c.TaskOp, list[c.WaitOp]] = {}
    task_core: dict[c.TaskOp, int] = {}
    for program in programs(module):
        for item in program_items(program):
            if item.task is None:
                continue
            task_core[item.task] = item.core
            waits_of[item.task] = item.waits
            for signal in item.signals:
                signalers.setdefault(signal.semaphore.root_reference.data, []).append(item.task)
    order = [op for _, op in execution_order(module) if isinstance(op, c.TaskOp)]
    bit = {task: index for index, task in enumerate(order)}
    done: dict[c.TaskOp, int] = {}
    # per core and root: the last writer and the readers since
    last_writer: dict[tuple[int, str], c.TaskOp] = {}
    readers: dict[tuple[int, str], list[c.TaskOp]] = {}
    for task in order:
        core = task_core[task]
        facts = 0
        for wait in waits_of.get(task, []):
            name = wait.semaphore.root_reference.data
            if wait.count.value.data < totals.get(name, 0):
                continue  # some of the signals: which ones is not known
            for signaler in signalers.get(name, []):
                facts |= done[signaler] | (1 << bit[signaler])
        reads, writes = task_accesses(task, table)
        for root in reads | writes:
            key = (core, root)
            preds = [last_writer[key]] if key in last_writer else []
            if root in writes:
                preds += readers.get(key, [])
            for pred in preds:
                if pred is not task:
                    facts |= done[pred] | (1 << bit[pred])
        done[task] = facts
        for root in writes:
            last_writer[(core, root)] = task
            readers[(core, root)] = []
        for root in reads - writes:
            readers.setdefault((core, root), []).append(task)
    return Completion(order, task_core, bit, done)
