"""What the timing model needs of an aic-core module: per core, waits, signals and tasks
reduced to bytes and seconds.

``timing_program(module, hw, figures)`` walks every ``aic_core.program`` once:

- a ``Wait(semaphore, count)`` / ``Signal(semaphore)`` per synchronization op;
- a ``TaskTiming`` per task: its ``tiles`` and ``ols``, its *resident* loads (a block
  that does not move between tiles: loaded once per task), its *streamed* loads (one
  per tile), the stores of each tile (each transfer with the kind of the DDR tensor:
  input, output, constant or intermediate), and the seconds one tile keeps the matrix unit
  and the vector units busy (``qaicc.cost.compute_seconds`` of the aic_graph ops in its
  compute regions, divided by the unit's efficiency figure).

A load marked ``multicast_cores`` carries its group (the cores it is delivered to) and a
key shared by the loads of the group (same op, DDR block and rank among the task's
identical loads), so that the engine reads it from DDR once. Loads and stores marked
``on_chip`` (``keep-on-chip``) stay in the core's VTCM: they are no transfer at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xdsl.dialects.builtin import ModuleOp

from qaicc.cost.model import compute_seconds, unit_of
from qaicc.dialects.aic_core import ops as c
from qaicc.dialects.aic_core.analysis import DDRTable, is_resident, ols_of, programs, tiles_of
from qaicc.dialects.aic_graph import ops as g
from qaicc.dialects.aic_graph.work import tensor_bytes
from qaicc.errors import QaiccError
from qaicc.hardware.model import HardwareModel
from qaicc.simulator.figures import SimulatorFigures

_FREE = (g.ConstantOp, g.MXFP6ConstantOp)  # no work: the bytes come with the DMA


@dataclass(frozen=True)
class Load:
    """One DMA block (a load, or a store with no group): its bytes, the kind of the DDR
    tensor it reads or writes (input, output, constant, intermediate), its multicast
    group and the key of the group's block."""

    bytes: int
    kind: str = "intermediate"
    group: tuple[int, ...] = ()  # multicast cores (local numbers), () when not multicast
    key: tuple = ()  # identifies the group's block (the engine adds instance and tile)


@dataclass(frozen=True)
class Wait:
    semaphore: str
    count: int


@dataclass(frozen=True)
class Signal:
    semaphore: str


@dataclass
class TaskTiming:
    name: str  # the aic_graph op (node) name
    kind: str  # the aic_graph op type, e.g. "matmul"
    op_index: int
    tiles: int
    ols: int
    resident: tuple[Load, ...]
    streamed: tuple[Load, ...]
    stores: tuple[Load, ...]  # per tile
    matrix_seconds: float  # per tile
    vector_seconds: float  # per tile

    @property
    def in_flight(self) -> int:
        """Tiles whose stages may overlap: ``ols`` of them (1: one after the other)."""
        return max(1, min(self.ols, self.tiles))

    @property
    def read_bytes(self) -> int:
        return sum(l.bytes for l in self.resident) + self.tiles * sum(l.bytes for l in self.streamed)

    @property
    def write_bytes(self) -> int:
        return self.tiles * sum(s.bytes for s in self.stores)


Item = Wait | Signal | TaskTiming


@dataclass
class TimingProgram:
    num_cores: int
    cores: dict[int, list[Item]] = field(default_factory=dict)

    def tasks(self):
        for core, items in self.cores.items():
            for item in items:
                if isinstance(item, TaskTiming):
                    yield core, item


def _compute_seconds(task: c.TaskOp, hw: HardwareModel, cache: dict) -> tuple[float, float, str]:
    """(matrix seconds, vector seconds) of one tile, and the op type the task runs (its
    matrix op if it has one)."""
    matrix = vector = 0.0
    first = main = ""
    for compute in task.body.block.ops:
        if not isinstance(compute, c.ComputeOp):
            continue
        for op in compute.body.block.ops:
            if not isinstance(op, g.AicGraphOp) or isinstance(op, _FREE):
                continue
            key = (op.name, tuple(r.type for r in op.results), tuple(v.type for v in op.operands),
                   tuple(sorted(op.properties.items())))
            found = cache.get(key)
            if found is None:
                found = cache[key] = (unit_of(op), compute_seconds(op, hw))
            unit, seconds = found
            kind = op.name.removeprefix("aic_graph.")
            first = first or kind
            if unit == "matrix":
                matrix += seconds
                main = main or kind
            else:
                vector += seconds
    return matrix, vector, main or first


def _task(task: c.TaskOp, hw: HardwareModel, figures: SimulatorFigures, cache: dict, kinds: dict) -> TaskTiming:
    tiles = tiles_of(task)
    resident, streamed, stores = [], [], []
    seen: dict[tuple, int] = {}
    op_index = task.op_index.value.data
    for op in task.body.block.ops:
        if isinstance(op, (c.DMALoadOp, c.DMAStoreOp)) and op.on_chip is not None:
            continue  # kept in the core's VTCM (keep-on-chip): no transfer
        if isinstance(op, c.DMALoadOp):
            size = op.transfer_bytes  # an in_ddr load (indexed DMA) moves only the rows it reads
            group = tuple(op.int_list("multicast_cores"))
            key = ()
            if len(group) > 1:
                block = (op.source.root_reference.data, tuple(op.int_list("offsets")),
                         tuple(op.int_list("tile_steps")), tuple(op.output.type.get_shape()))
                rank = seen.get(block, 0)
                seen[block] = rank + 1
                key = (op_index, block, rank)
            else:
                group = ()
            load = Load(size, kinds.get(op.source.root_reference.data, "intermediate"), group, key)
            (resident if is_resident(op, tiles) else streamed).append(load)
        elif isinstance(op, c.DMAStoreOp):
            stores.append(Load(tensor_bytes(op.value.type), kinds.get(op.target.root_reference.data, "intermediate")))
    matrix, vector, kind = _compute_seconds(task, hw, cache)
    return TaskTiming(
        name=task.op_name.data, kind=kind or task.unit.data, op_index=op_index, tiles=tiles, ols=ols_of(task),
        resident=tuple(resident), streamed=tuple(streamed), stores=tuple(stores),
        matrix_seconds=matrix / figures.matrix_efficiency, vector_seconds=vector / figures.vector_efficiency)


def timing_program(module: ModuleOp, hw: HardwareModel, figures: SimulatorFigures) -> TimingProgram:
    found = programs(module)
    if not found:
        raise QaiccError("the module has no aic_core.program to time; give an aic-core module or a QPC")
    num_cores = max(p.core.value.data for p in found) + 1
    attr = module.attributes.get("aic_core.num_cores")
    if attr is not None:
        num_cores = max(num_cores, attr.value.data)
    program = TimingProgram(num_cores)
    cache: dict = {}
    table = DDRTable(module)
    kinds = {}
    for name in table.decls:
        root = table.root(name)
        kind = table.decls[root].kind.data
        kinds[name] = "output" if kind == "intermediate" and root in table.pinned_roots else kind
    for p in found:
        items: list[Item] = []
        for op in p.body.block.ops:
            if isinstance(op, c.WaitOp):
                items.append(Wait(op.semaphore.root_reference.data, op.count.value.data))
            elif isinstance(op, c.SignalOp):
                items.append(Signal(op.semaphore.root_reference.data))
            elif isinstance(op, c.TaskOp):
                items.append(_task(op, hw, figures, cache, kinds))
        program.cores[p.core.value.data] = items
    for core in range(num_cores):
        program.cores.setdefault(core, [])
    return program
