"""Static performance metrics of an aic-core module (what ``-aic-perf-metrics`` prints).

    from qaicc.hardware import load_target
    from qaicc.metrics import static_metrics
    m = static_metrics(module, load_target("ai100-pro"))
    m.latency_seconds, m.ddr_read_bytes, m.cores[0].peak_vtcm_bytes, m.as_dict()

Per core:

- ``peak_vtcm_bytes``: the highest VTCM byte a task uses, from ``plan-memory``'s
  ``vtcm_offset`` + size x ``buffers``; before planning, the largest task working set
  (every buffer apart, streamed ones twice when double-buffered).
- ``ddr_read_bytes``: bytes the core's DMA reads from DDR: a resident load (its block
  does not move between tiles) once, a streamed load once per tile; a multicast group's
  block counts once, on its lowest core. ``multicast_bytes``: the bytes the other cores
  of a group receive over the on-chip network instead. Summed over the cores,
  ``ddr_read_bytes + multicast_bytes`` is the bytes of every load.
- ``ddr_write_bytes``: stores, once per tile. Transfers marked ``on_chip``
  (``keep-on-chip``) stay in VTCM: no DDR bytes, no DMA time; their resident regions
  count in ``peak_vtcm_bytes``.
- ``matrix_cycles`` / ``vector_cycles``: compute of the aic_graph ops in the compute
  regions (``qaicc.cost.compute_seconds`` per tile x tiles) in clock cycles.
- ``dma_seconds``: the DMA engine's busy time.
- ``busy_seconds`` / ``idle_seconds`` per unit (matrix, vector, dma) and ``end_seconds``.

Times come from an event simulation of the programs: a task takes its resident loads
plus ``pipelined_seconds(load, compute, store, tiles, ols)`` for its tiles (with one DMA
engine, as on AIC100, a tile's loads and stores share it: one stage of load + store); DDR bandwidth is
shared by the cores that run the same op (the cores that stream at the same time), in
proportion to their DDR traffic (``task_costs``); a core receiving a multicast gets it at
the network bandwidth; a wait ends at the time of
the signal that completes its count. ``latency_seconds`` is when the last core ends: the
critical path through compute, DMA and synchronization.
"""

from __future__ import annotations

import heapq
from dataclasses import asdict, dataclass, field

from xdsl.dialects.builtin import ModuleOp

from qaicc.cost.model import compute_seconds, dma_seconds, multicast_seconds, pipelined_seconds, unit_of
from qaicc.dialects.aic_core import ops as c
from qaicc.dialects.aic_core.analysis import (
    buffer_size,
    computes,
    is_resident,
    loads,
    ols_of,
    programs,
    require_programs,
    stores,
    task_buffers,
    tasks,
    tiles_of,
    working_set,
)
from qaicc.dialects.aic_graph import ops as g
from qaicc.dialects.aic_graph.work import tensor_bytes
from qaicc.errors import QaiccError
from qaicc.hardware.model import HardwareModel

UNITS = ("matrix", "vector", "dma")


@dataclass
class TaskCost:
    """One task on one core: seconds of each stage (per tile unless said) and bytes."""

    tiles: int
    ols: int
    dma_engines: int = 1
    resident_load: float = 0.0  # once per task
    load: float = 0.0
    compute: dict[str, float] = field(default_factory=lambda: {"matrix": 0.0, "vector": 0.0})
    store: float = 0.0
    read_bytes: int = 0
    multicast_bytes: int = 0
    write_bytes: int = 0

    @property
    def seconds(self) -> float:
        per_tile_compute = sum(self.compute.values())
        if self.dma_engines <= 1:  # one engine moves both ways: loads and stores take turns
            steady = pipelined_seconds(self.load + self.store, per_tile_compute, 0.0, self.tiles, self.ols)
        else:
            steady = pipelined_seconds(self.load, per_tile_compute, self.store, self.tiles, self.ols)
        return self.resident_load + steady

    @property
    def dma_seconds(self) -> float:
        """Busy time of the core's DMA engines (transfers spread over them)."""
        return (self.resident_load + self.tiles * (self.load + self.store)) / max(1, self.dma_engines)

    def busy(self, unit: str) -> float:
        return self.dma_seconds if unit == "dma" else self.tiles * self.compute[unit]


def op_cores(module: ModuleOp) -> dict[int, set[int]]:
    """The cores that run a task of each op (by ``op_index``)."""
    cores: dict[int, set[int]] = {}
    for core, task in tasks(module):
        cores.setdefault(task.op_index.value.data, set()).add(core)
    return cores


def task_cost(task: c.TaskOp, core: int, hw: HardwareModel, sharing: float = 1.0) -> TaskCost:
    tiles = tiles_of(task)
    cost = TaskCost(tiles, ols_of(task), hw.dma_engines)
    for load in loads(task):
        if load.on_chip is not None:  # kept in VTCM by keep-on-chip: no DMA
            continue
        size = load.transfer_bytes
        times = 1 if is_resident(load, tiles) else tiles
        group = load.int_list("multicast_cores")
        received = bool(group) and core != min(group)
        seconds = multicast_seconds(size, hw) if received else dma_seconds(size, hw, sharing)
        if received:
            cost.multicast_bytes += size * times
        else:
            cost.read_bytes += size * times
        if times == 1:
            cost.resident_load += seconds
        else:
            cost.load += seconds
    for compute in computes(task):
        for op in compute.body.block.ops:
            if isinstance(op, g.AicGraphOp):
                cost.compute[unit_of(op)] += compute_seconds(op, hw)
    for store in stores(task):
        if store.on_chip is not None:
            continue
        size = tensor_bytes(store.value.type)
        cost.store += dma_seconds(size, hw, sharing)
        cost.write_bytes += size * tiles
    return cost


def task_costs(module: ModuleOp, hw: HardwareModel) -> dict[c.TaskOp, TaskCost]:
    """Every task's cost. The cores running one op stream at the same time and share the
    DDR bandwidth in proportion to their traffic (reads, multicast once, and writes):
    each takes about the op's whole traffic / bandwidth, so n cores with equal blocks
    each see 1/n of the bandwidth, and a multicast speeds up every core of the op."""
    placed = list(tasks(module))
    traffic: dict[c.TaskOp, int] = {}
    by_op: dict[int, int] = {}
    for core, task in placed:
        alone = task_cost(task, core, hw)
        traffic[task] = alone.read_bytes + alone.write_bytes
        index = task.op_index.value.data
        by_op[index] = by_op.get(index, 0) + traffic[task]
    costs = {}
    for core, task in placed:
        total = by_op[task.op_index.value.data]
        sharing = total / traffic[task] if traffic[task] else 1.0
        costs[task] = task_cost(task, core, hw, sharing)
    return costs


@dataclass
class Simulation:
    end: float
    core_end: dict[int, float]
    start: dict[c.TaskOp, float]
    finish: dict[c.TaskOp, float]


def simulate(module: ModuleOp, costs: dict[c.TaskOp, TaskCost]) -> Simulation:
    """Event simulation of every core's program (see the module docstring)."""
    ops = {p.core.value.data: list(p.body.block.ops) for p in programs(module)}
    position = {core: 0 for core in ops}
    now = {core: 0.0 for core in ops}
    signals: dict[str, list[float]] = {}
    blocked: dict[str, list[tuple[int, int]]] = {}
    start: dict[c.TaskOp, float] = {}
    finish: dict[c.TaskOp, float] = {}
    ready = [(0.0, core) for core in ops]
    heapq.heapify(ready)
    while ready:
        time, core = heapq.heappop(ready)
        now[core] = max(now[core], time)
        program = ops[core]
        while position[core] < len(program):
            op = program[position[core]]
            if isinstance(op, c.WaitOp):
                name, count = op.semaphore.root_reference.data, op.count.value.data
                times = signals.get(name, [])
                if len(times) < count:
                    blocked.setdefault(name, []).append((core, count))
                    break
                now[core] = max(now[core], times[count - 1] if count else 0.0)
            elif isinstance(op, c.SignalOp):
                name = op.semaphore.root_reference.data
                signals.setdefault(name, []).append(now[core])
                waiting = blocked.pop(name, [])
                for other, count in waiting:
                    if len(signals[name]) >= count:
                        heapq.heappush(ready, (now[core], other))
                    else:
                        blocked.setdefault(name, []).append((other, count))
            elif isinstance(op, c.TaskOp):
                start[op] = now[core]
                now[core] += costs[op].seconds
                finish[op] = now[core]
                position[core] += 1
                heapq.heappush(ready, (now[core], core))
                break
            position[core] += 1
    stuck = [core for core in ops if position[core] < len(ops[core])]
    if stuck:
        raise QaiccError(f"aic_core deadlock in the performance simulation: cores {stuck} never finish")
    return Simulation(max(now.values(), default=0.0), dict(now), start, finish)


def latency_seconds(module: ModuleOp, hw: HardwareModel) -> float:
    return simulate(module, task_costs(module, hw)).end


@dataclass
class CoreMetrics:
    core: int
    tasks: int = 0
    peak_vtcm_bytes: int = 0
    ddr_read_bytes: int = 0
    ddr_write_bytes: int = 0
    multicast_bytes: int = 0
    matrix_cycles: float = 0.0
    vector_cycles: float = 0.0
    dma_seconds: float = 0.0
    busy_seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(UNITS, 0.0))
    idle_seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(UNITS, 0.0))
    end_seconds: float = 0.0


@dataclass
class StaticMetrics:
    target: str
    num_cores: int
    planned: bool  # VTCM figures from plan-memory's offsets
    latency_seconds: float
    ddr_read_bytes: int
    ddr_write_bytes: int
    multicast_bytes: int
    cores: list[CoreMetrics]

    @property
    def peak_vtcm_bytes(self) -> int:
        return max((core.peak_vtcm_bytes for core in self.cores), default=0)

    def as_dict(self) -> dict:
        data = asdict(self)
        data["peak_vtcm_bytes"] = self.peak_vtcm_bytes
        return data


def _planned(module: ModuleOp) -> bool:
    found = False
    for _, task in tasks(module):
        for op in task.body.block.ops:
            if isinstance(op, (c.DMALoadOp, c.ComputeOp)):
                if op.vtcm_offset is None:
                    return False
                found = True
    return found


def _peak_vtcm(task: c.TaskOp, planned: bool) -> int:
    if not planned:
        return working_set(task_buffers(task))
    peak = 0
    for op in task.body.block.ops:
        if isinstance(op, (c.DMALoadOp, c.ComputeOp)):
            copies = op.int_prop("buffers", 1)
            peak = max(peak, op.int_prop("vtcm_offset") + buffer_size(op) * copies)
    return peak


def static_metrics(module: ModuleOp, hw: HardwareModel) -> StaticMetrics:
    require_programs(module, "static metrics")
    costs = task_costs(module, hw)
    simulation = simulate(module, costs)
    planned = _planned(module)
    cores = {p.core.value.data: CoreMetrics(p.core.value.data) for p in programs(module)}
    for core, task in tasks(module):
        cost, figures = costs[task], cores[core]
        figures.tasks += 1
        figures.peak_vtcm_bytes = max(figures.peak_vtcm_bytes, _peak_vtcm(task, planned))
        figures.ddr_read_bytes += cost.read_bytes
        figures.ddr_write_bytes += cost.write_bytes
        figures.multicast_bytes += cost.multicast_bytes
        figures.matrix_cycles += cost.busy("matrix") * hw.clock_hz
        figures.vector_cycles += cost.busy("vector") * hw.clock_hz
        figures.dma_seconds += cost.dma_seconds
        for unit in UNITS:
            figures.busy_seconds[unit] += cost.busy(unit)
    if planned:
        from qaicc.passes.keep_on_chip import resident_peaks

        for core, peak in resident_peaks(module).items():
            cores[core].peak_vtcm_bytes = max(cores[core].peak_vtcm_bytes, peak)
    for core, figures in cores.items():
        figures.end_seconds = simulation.core_end.get(core, 0.0)
        for unit in UNITS:
            figures.idle_seconds[unit] = max(0.0, simulation.end - figures.busy_seconds[unit])
    ordered = [cores[k] for k in sorted(cores)]
    return StaticMetrics(
        target=hw.name,
        num_cores=len(ordered),
        planned=planned,
        latency_seconds=simulation.end,
        ddr_read_bytes=sum(f.ddr_read_bytes for f in ordered),
        ddr_write_bytes=sum(f.ddr_write_bytes for f in ordered),
        multicast_bytes=sum(f.multicast_bytes for f in ordered),
        cores=ordered,
    )
