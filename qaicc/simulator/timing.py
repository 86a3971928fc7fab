"""The event model of the chip: a discrete-event simulation of the per-core programs.

Resources (from ``HardwareModel`` and the target's simulator figures only):

- per core, one **DMA engine** serving its transfers one at a time, in the order they
  were issued (FIFO); each transfer first costs ``dma_setup_seconds``;
- per core, one **matrix unit** and the **vector units** (together one resource): a
  tile's compute is its matrix work, then its vector work; a unit serves tiles in order;
- the **DDR**, shared by every transfer of every core of every instance under way at
  the same time: processor sharing, the usable bandwidth (``ddr_bandwidth x
  ddr_efficiency``) split evenly among the active streams (water-filling when a stream
  is capped by ``dma_engine_bandwidth_bytes_per_s`` or the network), recomputed
  whenever a stream starts or ends;
- **multicast**: the loads of a multicast group (same block, several cores) are one DDR
  stream, started by the first core of the group that reaches it and delivered to every
  core of the group over the on-chip network (capped at the network bandwidth); a core
  reaching the load while the stream is under way waits for its end, a core reaching it
  later has the data already;
- **semaphores**: a wait for ``count`` signals ends ``semaphore_latency_seconds`` after
  the count-th signal.

A task (after ``task_overhead_seconds``) issues its resident loads, then the loads of
its first ``in_flight = min(ols, tiles)`` tiles; a tile computes once its loads and the
resident loads are in, then issues its stores; when a tile's stores are done the next
tile's loads are issued (at most ``ols`` tiles in flight: with ols = 1 the stages of
each tile run one after the other, with ols >= 2 the DMA of one tile overlaps the
compute of another). The task ends with its last store; the core then goes on with its
program.

**Instances**: instance k runs the program on cores ``k*C .. k*C+C-1`` with its own
semaphores and multicast groups; every instance shares the DDR. An instance runs its
inferences back to back (the next starts when all its cores are done with the previous).

``simulate_program(program, hw, figures, instances, inferences)`` returns a ``Timeline``:
every inference's start and end, per core and unit busy time and (with ``record``) busy
intervals, DDR traffic, and per-op totals.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import deque
from dataclasses import dataclass, field

from qaicc.errors import QaiccError
from qaicc.hardware.model import HardwareModel
from qaicc.simulator.figures import SimulatorFigures
from qaicc.simulator.program import Load, Signal, TaskTiming, TimingProgram, Wait

UNITS = ("dma", "matrix", "vector")
_INF = math.inf


# -- results -----------------------------------------------------------------------------


@dataclass
class OpTotals:
    """One aic_graph op (all its tasks on all cores and instances)."""

    name: str
    kind: str
    tasks: int = 0
    cores: set = field(default_factory=set)
    seconds: float = 0.0  # sum of task durations (start to last store)
    busy: dict = field(default_factory=lambda: dict.fromkeys(UNITS, 0.0))
    read_bytes: int = 0
    write_bytes: int = 0
    multicast_bytes: int = 0


@dataclass
class Timeline:
    """What one simulation found. Times in seconds from the start of the simulation."""

    instances: int
    cores_per_instance: int
    inferences: list[list[tuple[float, float]]]  # per instance: (start, end) of each inference
    busy: dict[int, dict[str, float]]  # global core -> unit -> busy seconds
    # (global core, unit) -> (start, end, op, detail): a DMA transfer's kind and bytes, a tile's number
    intervals: dict[tuple[int, str], list[tuple[float, float, str, object]]]
    ddr_read_bytes: int
    ddr_write_bytes: int
    multicast_bytes: int  # bytes delivered over the network to the other cores of groups
    ddr_bytes_by_kind: dict[str, int]  # read + written, by the kind of DDR tensor
    ddr_rate: list[tuple[float, float]]  # (time, bytes/s under way) at every change
    ops: dict[str, OpTotals]
    end: float

    def latencies(self, instance: int) -> list[float]:
        return [end - start for start, end in self.inferences[instance]]

    @property
    def round_seconds(self) -> float:
        """The longest first inference of any instance."""
        return max((runs[0][1] - runs[0][0] for runs in self.inferences if runs), default=0.0)


# -- the engine --------------------------------------------------------------------------


class _Stream:
    __slots__ = ("remaining", "cap", "rate", "done", "bytes")

    def __init__(self, nbytes: float, cap: float, done):
        self.remaining = float(nbytes)
        self.bytes = nbytes
        self.cap = cap
        self.rate = 0.0
        self.done = done


class _Engine:
    def __init__(self, hw: HardwareModel, figures: SimulatorFigures, record: bool):
        self.now = 0.0
        self.heap: list = []
        self.counter = itertools.count()
        self.bandwidth = hw.ddr_bandwidth_bytes_per_s * figures.ddr_efficiency
        self.network = hw.network_bandwidth_bytes_per_s
        self.engine_cap = figures.dma_engine_bandwidth_bytes_per_s or _INF
        self.figures = figures
        self.record = record
        self.streams: list[_Stream] = []
        self.last = 0.0
        self.version = 0
        self.ddr_rate: list[tuple[float, float]] = []

    # events
    def at(self, time: float, fn, *args) -> None:
        heapq.heappush(self.heap, (time, next(self.counter), fn, args))

    def run(self) -> None:
        heap = self.heap
        while heap:
            time, _, fn, args = heapq.heappop(heap)
            self.now = time
            fn(*args)

    # DDR: processor sharing
    def stream(self, nbytes: float, cap: float, done) -> None:
        if nbytes <= 0:
            done()
            return
        self._advance()
        self.streams.append(_Stream(nbytes, cap, done))
        self._reschedule()

    def _advance(self) -> None:
        elapsed = self.now - self.last
        if elapsed > 0:
            for s in self.streams:
                s.remaining -= s.rate * elapsed
        self.last = self.now

    def _reschedule(self) -> None:
        self.version += 1
        streams = self.streams
        if not streams:
            self._note_rate(0.0)
            return
        left, count = self.bandwidth, len(streams)
        for i, s in enumerate(sorted(streams, key=lambda s: s.cap)):
            share = left / (count - i)
            s.rate = min(s.cap, share)
            left -= s.rate
        self._note_rate(self.bandwidth - left)
        soonest = min(max(s.remaining, 0.0) / s.rate for s in streams)
        self.at(self.now + soonest, self._finish, self.version)

    def _note_rate(self, rate: float) -> None:
        """Record the bandwidth in use from now on (one point per change)."""
        if not self.record:
            return
        points = self.ddr_rate
        if points and points[-1][0] == self.now:
            points.pop()
        if not points or abs(points[-1][1] - rate) > 1e-6 * self.bandwidth:
            points.append((self.now, rate))

    def _finish(self, version: int) -> None:
        if version != self.version:
            return
        self._advance()
        finished, running = [], []
        for s in self.streams:
            # done when less than a nanosecond of it (or a byte millionth) is left
            (finished if s.remaining <= max(s.rate * 1e-12, 1e-6) else running).append(s)
        if not finished:  # rounding: finish the nearest
            nearest = min(self.streams, key=lambda s: s.remaining / s.rate)
            finished = [nearest]
            running = [s for s in self.streams if s is not nearest]
        self.streams = running
        self._reschedule()
        for s in finished:
            s.done()


class _Request:
    __slots__ = ("bytes", "load", "store", "callback", "name", "start", "instance", "tile", "inference")

    def __init__(self, nbytes, load, store, callback, name, instance, tile, inference):
        self.bytes = nbytes
        self.load = load
        self.store = store
        self.callback = callback
        self.name = name
        self.instance = instance
        self.tile = tile
        self.inference = inference
        self.start = 0.0


class _Group:
    __slots__ = ("done", "waiters")

    def __init__(self):
        self.done = False
        self.waiters: list = []


class _Chip:
    """Cores, multicast groups and the per-op and per-unit accounting of one run."""

    def __init__(self, engine: _Engine, cores: int):
        self.engine = engine
        self.busy = {core: dict.fromkeys(UNITS, 0.0) for core in range(cores)}
        self.intervals: dict[tuple[int, str], list] = {}
        if engine.record:
            self.intervals = {(core, unit): [] for core in range(cores) for unit in UNITS}
        self.groups: dict[tuple, _Group] = {}
        self.ops: dict[str, OpTotals] = {}
        self.read_bytes = self.write_bytes = self.multicast_bytes = 0
        self.by_kind: dict[str, int] = {}

    def count(self, nbytes: int, kind: str, store: bool, totals: OpTotals | None) -> None:
        if store:
            self.write_bytes += nbytes
        else:
            self.read_bytes += nbytes
        self.by_kind[kind] = self.by_kind.get(kind, 0) + nbytes
        if totals is not None:
            if store:
                totals.write_bytes += nbytes
            else:
                totals.read_bytes += nbytes

    def op(self, task: TaskTiming) -> OpTotals:
        found = self.ops.get(task.name)
        if found is None:
            found = self.ops[task.name] = OpTotals(task.name, task.kind)
        return found

    def busy_for(self, core: int, unit: str, start: float, end: float, name: str, detail=None) -> None:
        self.busy[core][unit] += end - start
        totals = self.ops.get(name)
        if totals is not None:
            totals.busy[unit] += end - start
        if self.engine.record:
            self.intervals[(core, unit)].append((start, end, name, detail))


class _Core:
    """One core's DMA engine (a FIFO of transfers) and its compute units."""

    __slots__ = ("chip", "engine", "core", "queue", "working", "matrix_free", "vector_free", "local")

    def __init__(self, chip: _Chip, core: int, local: int):
        self.chip = chip
        self.engine = chip.engine
        self.core = core
        self.local = local
        self.queue: deque[_Request] = deque()
        self.working = False
        self.matrix_free = 0.0
        self.vector_free = 0.0

    def dma(self, request: _Request) -> None:
        self.queue.append(request)
        if not self.working:
            self._next()

    def _next(self) -> None:
        if not self.queue:
            self.working = False
            return
        self.working = True
        request = self.queue.popleft()
        request.start = self.engine.now
        setup = self.engine.figures.dma_setup_seconds
        if setup > 0:
            self.engine.at(self.engine.now + setup, self._transfer, request)
        else:
            self._transfer(request)

    def _transfer(self, request: _Request) -> None:
        engine, chip = self.engine, self.chip
        load = request.load
        totals = chip.ops.get(request.name)
        if load.group and not request.store:
            key = (request.instance, request.inference, load.key, request.tile)
            group = chip.groups.get(key)
            if group is None:
                group = chip.groups[key] = _Group()
                group.waiters.append((self, request))
                chip.count(request.bytes, load.kind, False, totals)
                delivered = request.bytes * (len(load.group) - 1)
                chip.multicast_bytes += delivered
                if totals is not None:
                    totals.multicast_bytes += delivered
                engine.stream(request.bytes, min(engine.network, engine.engine_cap), lambda: self._group_done(group))
            elif group.done:
                self._done(request)
            else:
                group.waiters.append((self, request))
            return
        chip.count(request.bytes, load.kind, request.store, totals)
        engine.stream(request.bytes, engine.engine_cap, lambda: self._done(request))

    @staticmethod
    def _group_done(group: _Group) -> None:
        group.done = True
        waiters, group.waiters = group.waiters, []
        for core, request in waiters:
            core._done(request)

    def _done(self, request: _Request) -> None:
        detail = None
        if self.engine.record:
            load = request.load
            what = "store" if request.store else ("multicast load" if load.group else "load")
            detail = {"transfer": what, "tensor": load.kind, "bytes": request.bytes, "tile": request.tile}
        self.chip.busy_for(self.core, "dma", request.start, self.engine.now, request.name, detail)
        request.callback()
        self._next()


class _TaskRun:
    """One task on one core: resident loads, then tiles through load / compute / store
    with at most ``in_flight`` tiles under way."""

    __slots__ = ("core", "task", "on_done", "instance", "inference", "resident_left", "pending", "loaded",
                 "next_issue", "next_compute", "finished", "started", "stores_left")

    def __init__(self, core: _Core, task: TaskTiming, instance: int, inference: int, on_done):
        self.core = core
        self.task = task
        self.instance = instance
        self.inference = inference
        self.on_done = on_done
        self.resident_left = len(task.resident)
        self.pending: dict[int, int] = {}
        self.stores_left: dict[int, int] = {}
        self.loaded: set[int] = set()
        self.next_issue = 0
        self.next_compute = 0
        self.finished = 0
        self.started = 0.0

    def start(self) -> None:
        task, core = self.task, self.core
        self.started = core.engine.now
        totals = core.chip.op(task)
        totals.tasks += 1
        totals.cores.add(core.core)
        for load in task.resident:
            core.dma(_Request(load.bytes, load, False, self._resident_in, task.name, self.instance, 0, self.inference))
        for _ in range(task.in_flight):
            self._issue()
        # the resident loads may all be in already (a multicast delivered earlier): compute
        # what is ready (nothing while resident loads are pending)
        self._compute()

    def _request(self, load: Load, tile: int) -> _Request:
        return _Request(load.bytes, load, False, lambda: self._tile_in(tile), self.task.name, self.instance, tile,
                        self.inference)

    def _issue(self) -> None:
        tile = self.next_issue
        if tile >= self.task.tiles:
            return
        self.next_issue += 1
        streamed = self.task.streamed
        self.pending[tile] = len(streamed)
        if not streamed:
            self.loaded.add(tile)
            return
        for load in streamed:
            self.core.dma(self._request(load, tile))

    def _resident_in(self) -> None:
        self.resident_left -= 1
        if self.resident_left == 0:
            self._compute()

    def _tile_in(self, tile: int) -> None:
        self.pending[tile] -= 1
        if self.pending[tile] == 0:
            self.loaded.add(tile)
            self._compute()

    def _compute(self) -> None:
        if self.resident_left:
            return
        core, task = self.core, self.task
        engine, chip = core.engine, core.chip
        while self.next_compute in self.loaded:
            tile = self.next_compute
            self.loaded.discard(tile)
            self.next_compute += 1
            end = engine.now
            if task.matrix_seconds > 0:
                start = max(engine.now, core.matrix_free)
                end = core.matrix_free = start + task.matrix_seconds
                chip.busy_for(core.core, "matrix", start, end, task.name, tile)
            if task.vector_seconds > 0:
                start = max(end, core.vector_free)
                end = core.vector_free = start + task.vector_seconds
                chip.busy_for(core.core, "vector", start, end, task.name, tile)
            engine.at(end, self._computed, tile)

    def _computed(self, tile: int) -> None:
        stores = self.task.stores
        if not stores:
            self._tile_done()
            return
        self.stores_left[tile] = len(stores)
        for store in stores:
            self.core.dma(_Request(store.bytes, store, True, lambda t=tile: self._stored(t), self.task.name,
                                   self.instance, tile, self.inference))

    def _stored(self, tile: int) -> None:
        self.stores_left[tile] -= 1
        if self.stores_left[tile] == 0:
            self._tile_done()

    def _tile_done(self) -> None:
        self.finished += 1
        if self.finished == self.task.tiles:
            totals = self.core.chip.ops[self.task.name]
            totals.seconds += self.core.engine.now - self.started
            self.on_done()
            return
        self._issue()
        self._compute()


class _Instance:
    """One instance: C cores running the program, its semaphores, its inferences."""

    def __init__(self, chip: _Chip, program: TimingProgram, index: int, inferences: int, start: float):
        self.chip = chip
        self.engine = chip.engine
        self.program = program
        self.index = index
        self.left = inferences
        self.inference = -1
        self.runs: list[tuple[float, float]] = []
        C = program.num_cores
        self.cores = [_Core(chip, index * C + local, local) for local in range(C)]
        self.engine.at(start, self._begin)

    def _begin(self) -> None:
        self.inference += 1
        self.left -= 1
        self.started = self.engine.now
        self.signals: dict[str, list[float]] = {}
        self.waiting: dict[str, list[tuple[int, int]]] = {}
        self.position = [0] * len(self.cores)
        self.running = len(self.cores)
        for local in range(len(self.cores)):
            self._advance(local)

    def _advance(self, local: int) -> None:
        items = self.program.cores[local]
        engine = self.engine
        while self.position[local] < len(items):
            item = items[self.position[local]]
            if isinstance(item, Wait):
                times = self.signals.get(item.semaphore, ())
                if len(times) < item.count:
                    self.waiting.setdefault(item.semaphore, []).append((local, item.count))
                    return
                self.position[local] += 1
                ready = (times[item.count - 1] + engine.figures.semaphore_latency_seconds) if item.count else engine.now
                if ready > engine.now:
                    engine.at(ready, self._advance, local)
                    return
            elif isinstance(item, Signal):
                self.position[local] += 1
                self._signal(item.semaphore)
            else:
                self.position[local] += 1
                run = _TaskRun(self.cores[local], item, self.index, self.inference, lambda: self._advance(local))
                overhead = engine.figures.task_overhead_seconds
                if overhead > 0:
                    engine.at(engine.now + overhead, run.start)
                else:
                    run.start()
                return
        self.running -= 1
        if self.running == 0:
            self._end()

    def _signal(self, name: str) -> None:
        times = self.signals.setdefault(name, [])
        times.append(self.engine.now)
        waiting = self.waiting.pop(name, [])
        still = []
        for local, count in waiting:
            if len(times) >= count:
                # _advance re-reads the wait and finds its count reached
                self.engine.at(self.engine.now, self._advance, local)
            else:
                still.append((local, count))
        if still:
            self.waiting[name] = still

    def _end(self) -> None:
        self.runs.append((self.started, self.engine.now))
        if self.left > 0:
            self._begin()

    def blocked(self) -> list[str]:
        found = []
        for name, waiting in self.waiting.items():
            for local, count in waiting:
                have = len(self.signals.get(name, ()))
                found.append(f"instance {self.index} core {local} waits on @{name} for {count} (has {have})")
        return found


def simulate_program(
    program: TimingProgram,
    hw: HardwareModel,
    figures: SimulatorFigures,
    instances: int = 1,
    inferences: int = 1,
    record: bool = False,
    offsets: list[float] | None = None,
) -> Timeline:
    """Run ``instances`` copies of ``program`` on the chip, ``inferences`` each, back to
    back; instance k starts at ``offsets[k]`` (default: all at time 0)."""
    if instances < 1 or inferences < 1:
        raise QaiccError("the simulation needs at least one instance and one inference")
    offsets = list(offsets) if offsets is not None else [0.0] * instances
    engine = _Engine(hw, figures, record)
    chip = _Chip(engine, instances * program.num_cores)
    runs = [_Instance(chip, program, k, inferences, offsets[k]) for k in range(instances)]
    engine.run()
    stuck = [line for run in runs for line in run.blocked()]
    unfinished = [run.index for run in runs if len(run.runs) < inferences]
    if stuck or unfinished:
        detail = "; ".join(stuck) or f"instances {unfinished} never finish"
        raise QaiccError(f"aic_core deadlock in the timing simulation: {detail}")
    return Timeline(
        instances=instances,
        cores_per_instance=program.num_cores,
        inferences=[run.runs for run in runs],
        busy=chip.busy,
        intervals=chip.intervals,
        ddr_read_bytes=chip.read_bytes,
        ddr_write_bytes=chip.write_bytes,
        multicast_bytes=chip.multicast_bytes,
        ddr_bytes_by_kind=dict(sorted(chip.by_kind.items())),
        ddr_rate=engine.ddr_rate,
        ops=chip.ops,
        end=engine.now,
    )
