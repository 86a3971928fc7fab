"""``simulate(qpc_dir, instances=..., inferences=...)``: the timing of a QPC on the chip.

    from qaicc.simulator import simulate
    result = simulate("out/bert", instances=7, inferences=6517)
    result.inferences_per_second, result.latency_seconds, result.as_dict()

The figures (all simulated, from ``qaicc.simulator.timing``'s event model):

- ``latency_seconds``: one inference of one instance alone on the chip;
- ``round_seconds``: in the steady state of ``instances`` instances running inferences
  back to back (sharing the DDR, started a fraction of an inference apart as they drift
  apart in a long run), the time between two inferences of one instance; ``throughput``
  = instances x batch / round_seconds (samples per second);
- for ``inferences`` = N spread over the instances (inference j on instance j mod I):
  ``total_duration_seconds`` = full rounds x round_seconds + the last, partial round
  (fewer instances, less sharing) and ``inferences_per_second`` = N x batch /
  total_duration (``Inf/Sec`` of qaic-runner); ``latencies`` per inference;
- DDR bytes read and written and multicast bytes per inference (and read + written by
  the kind of DDR tensor: constant, input, output, intermediate), DDR utilization;
  per core and unit (dma, matrix, vector) busy seconds and utilization in a round;
  per aic_graph op totals.

``seconds`` instead of ``inferences``: as many rounds as fit in that much simulated time
(at least one). ``instances x cores > the target's cores`` is a ``QaiccError``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from typing import TYPE_CHECKING

from xdsl.dialects.builtin import ModuleOp

from qaicc.errors import QaiccError
from qaicc.hardware import HardwareModel, load_target
from qaicc.simulator.figures import SimulatorFigures, simulator_figures
from qaicc.simulator.program import TimingProgram, timing_program
from qaicc.simulator.timing import UNITS, Timeline, simulate_program

if TYPE_CHECKING:
    from qaicc.qpc import LoadedQPC


@dataclass
class InferenceTiming:
    index: int  # the inference's number in the run
    activation: int  # the instance that ran it
    activation_index: int  # its number among that instance's inferences
    start_seconds: float
    end_seconds: float

    @property
    def latency_seconds(self) -> float:
        return self.end_seconds - self.start_seconds


@dataclass
class CoreTiming:
    core: int  # on the chip
    instance: int
    local_core: int  # in the program
    busy_seconds: dict[str, float]  # per inference, in the steady state
    utilization: dict[str, float]  # busy / round_seconds


@dataclass
class OpTiming:
    name: str
    kind: str
    tasks: int  # per inference (all cores of one instance)
    cores: int
    seconds: float  # sum of its tasks' durations, per inference
    busy_seconds: dict[str, float]
    ddr_read_bytes: int
    ddr_write_bytes: int
    multicast_bytes: int


@dataclass
class SimulationResult:
    """Every figure of a simulated run (see the module docstring); ``as_dict()`` for JSON."""

    qpc: str | None
    target: str
    num_cores: int
    instances: int
    batch_size: int
    inference_count: int
    total_duration_seconds: float
    inferences_per_second: float
    latency_seconds: float
    round_seconds: float
    throughput: float
    ddr_read_bytes: int
    ddr_write_bytes: int
    multicast_bytes: int
    ddr_bytes_by_kind: dict[str, int]  # per inference, read + written, by DDR tensor kind
    ddr_bandwidth_bytes_per_s: float
    ddr_utilization: float
    figures: dict
    cores: list[CoreTiming]
    ops: list[OpTiming]
    latencies: list[InferenceTiming] = field(repr=False)
    timeline: Timeline | None = field(default=None, repr=False)  # the steady state, for the trace
    simulated: bool = True

    @property
    def total_duration_us(self) -> int:
        return int(round(self.total_duration_seconds * 1e6))

    def latency_summary(self) -> dict:
        values = sorted(t.latency_seconds for t in self.latencies)
        if not values:
            return {}
        pick = lambda q: values[min(len(values) - 1, max(0, math.ceil(q * len(values)) - 1))]
        return {"count": len(values), "mean_seconds": sum(values) / len(values), "min_seconds": values[0],
                "max_seconds": values[-1], "p50_seconds": pick(0.5), "p90_seconds": pick(0.9),
                "p99_seconds": pick(0.99)}

    def as_dict(self) -> dict:
        data = asdict(self)
        data.pop("timeline")
        data.pop("latencies")
        data["total_duration_us"] = self.total_duration_us
        data["latency"] = self.latency_summary()
        data["stats_line"] = stats_line(self)
        return data


def stats_line(result: SimulationResult) -> str:
    """qaic-runner's statistics line, from the simulated figures."""
    return (f"InferenceCnt {result.inference_count} TotalDuration {result.total_duration_us}us "
            f"BatchSize {result.batch_size} Inf/Sec {result.inferences_per_second:.3f}")


def check_instances(instances: int, num_cores: int, hw: HardwareModel) -> None:
    if instances < 1:
        raise QaiccError(f"the number of instances must be at least 1, not {instances}")
    if instances * num_cores > hw.cores:
        raise QaiccError(
            f"{instances} instances x {num_cores} cores = {instances * num_cores} cores, more than the "
            f"{hw.cores} cores of {hw.name}; use at most {hw.cores // num_cores} instances of this program")


def _ops(timeline: Timeline, instances: int) -> list[OpTiming]:
    found = []
    for totals in timeline.ops.values():
        found.append(OpTiming(
            name=totals.name, kind=totals.kind, tasks=totals.tasks // instances,
            cores=len(totals.cores) // instances, seconds=totals.seconds / instances,
            busy_seconds={u: v / instances for u, v in totals.busy.items()},
            ddr_read_bytes=totals.read_bytes // instances, ddr_write_bytes=totals.write_bytes // instances,
            multicast_bytes=totals.multicast_bytes // instances))
    return sorted(found, key=lambda o: -o.seconds)


WARM_UP = 1  # inferences per instance before the steady state is measured
MEASURED = 4  # inferences per instance run after the warm-up


@dataclass
class _SteadyState:
    timeline: Timeline
    period: float  # seconds between two inferences of one instance
    latency: list[float]  # per instance: the mean latency of its measured inferences
    inferences: int  # per instance, in the timeline


def steady_state(program: TimingProgram, hw: HardwareModel, figures: SimulatorFigures, instances: int,
                 alone: Timeline, record: bool) -> _SteadyState:
    """Every instance running inferences back to back, started a fraction of a lone
    inference apart (instances drift apart in a long run; started together, identical
    instances would stay in lock step and all load at once). Measured between the end of
    the last instance's warm-up and the end of the first instance's last inference, while
    every instance runs: per instance, the time between its first and last inference
    ending in that window over the inferences between them."""
    if instances == 1:
        return _SteadyState(alone, alone.round_seconds, [alone.round_seconds], 1)
    single = alone.round_seconds
    count = WARM_UP + MEASURED
    timeline = simulate_program(program, hw, figures, instances, count, record=record,
                                offsets=[k * single / instances for k in range(instances)])
    opened = max(runs[WARM_UP - 1][1] for runs in timeline.inferences)
    closed = min(runs[-1][1] for runs in timeline.inferences)
    periods, latencies = [], []
    for runs in timeline.inferences:
        inside = [(start, end) for start, end in runs if opened <= end <= closed]
        if len(inside) < 2:  # no common window (should not happen): all but the warm-up
            inside = runs[WARM_UP - 1:]
        periods.append((inside[-1][1] - inside[0][1]) / (len(inside) - 1))
        latencies.append(sum(end - start for start, end in inside[1:]) / (len(inside) - 1))
    return _SteadyState(timeline, sum(periods) / len(periods), latencies, count)


def _latencies(count: int, instances: int, steady: _SteadyState, partial: Timeline | None) -> list[InferenceTiming]:
    rounds, _ = divmod(count, instances)
    per_instance = [0] * instances
    found = []
    for j in range(count):
        round_number, k = divmod(j, instances)
        if round_number < rounds:
            start = round_number * steady.period
            end = start + steady.latency[k]
        else:
            base = rounds * steady.period
            start, end = (base + t for t in partial.inferences[k][0])
        found.append(InferenceTiming(j, k, per_instance[k], start, end))
        per_instance[k] += 1
    return found


def simulate_timing(
    program: TimingProgram,
    hw: HardwareModel,
    figures: SimulatorFigures,
    *,
    instances: int = 1,
    inferences: int | None = None,
    seconds: float | None = None,
    batch_size: int = 1,
    record: bool = False,
    qpc: str | None = None,
) -> SimulationResult:
    """The figures of ``program`` (see the module docstring)."""
    check_instances(instances, program.num_cores, hw)
    alone = simulate_program(program, hw, figures, 1, record=record and instances == 1)
    steady = steady_state(program, hw, figures, instances, alone, record)
    period = steady.period
    if seconds is not None:
        if seconds <= 0:
            raise QaiccError(f"the run time must be positive, not {seconds}")
        count = instances * max(1, int(seconds / period * (1 + 1e-9)) if period > 0 else 1)
    else:
        count = instances if inferences is None else inferences
    if count < 1:
        raise QaiccError(f"the number of inferences must be at least 1, not {count}")
    rounds, rest = divmod(count, instances)
    partial = None
    if rest:
        partial = alone if rest == 1 else simulate_program(program, hw, figures, rest)
    total = rounds * period + (partial.round_seconds if partial else 0.0)
    bandwidth = hw.ddr_bandwidth_bytes_per_s
    traffic = alone.ddr_read_bytes + alone.ddr_write_bytes
    runs = steady.inferences
    cores = []
    for core, busy in sorted(steady.timeline.busy.items()):
        instance, local = divmod(core, program.num_cores)
        per_inference = {u: busy[u] / runs for u in UNITS}
        cores.append(CoreTiming(core, instance, local, per_inference,
                                {u: (per_inference[u] / period if period > 0 else 0.0) for u in UNITS}))
    return SimulationResult(
        qpc=qpc,
        target=hw.name,
        num_cores=program.num_cores,
        instances=instances,
        batch_size=batch_size,
        inference_count=count,
        total_duration_seconds=total,
        inferences_per_second=count * batch_size / total if total > 0 else 0.0,
        latency_seconds=alone.round_seconds,
        round_seconds=period,
        throughput=instances * batch_size / period if period > 0 else 0.0,
        ddr_read_bytes=alone.ddr_read_bytes,
        ddr_write_bytes=alone.ddr_write_bytes,
        multicast_bytes=alone.multicast_bytes,
        ddr_bytes_by_kind=alone.ddr_bytes_by_kind,
        ddr_bandwidth_bytes_per_s=bandwidth,
        ddr_utilization=instances * traffic / (bandwidth * period) if period > 0 else 0.0,
        figures=figures.as_dict(),
        cores=cores,
        ops=_ops(steady.timeline, instances * runs),
        latencies=_latencies(count, instances, steady, partial),
        timeline=steady.timeline if record else None,
    )


def simulate_module(
    module: ModuleOp,
    hw: HardwareModel | str | None = None,
    *,
    figures: SimulatorFigures | None = None,
    batch_size: int | None = None,
    **options,
) -> SimulationResult:
    """The figures of an aic-core module (``options`` as ``simulate_timing``)."""
    if not isinstance(hw, HardwareModel):
        source = hw
        hw = load_target(hw)
        figures = figures or simulator_figures(hw, source)
    figures = figures or simulator_figures(hw)
    if batch_size is None:
        attr = module.attributes.get("qaicc.batch_size")
        batch_size = attr.value.data if attr is not None else 1
    return simulate_timing(timing_program(module, hw, figures), hw, figures, batch_size=batch_size, **options)


def simulate(
    qpc: str | Path | LoadedQPC,
    *,
    instances: int = 1,
    inferences: int | None = None,
    seconds: float | None = None,
    target: str | Path | None = None,
    record: bool = False,
    module: ModuleOp | None = None,
) -> SimulationResult:
    """The figures of the QPC in ``qpc`` (a directory holding programqpc.bin, or the
    file, or a ``LoadedQPC``) run as ``instances`` instances. ``target`` overrides the target the QPC was
    compiled for (a name, a hardware version or a target JSON file). ``module``: the
    QPC's aic-core module when the caller already rebuilt it."""
    from qaicc.qpc import LoadedQPC, load_qpc

    loaded = qpc if isinstance(qpc, LoadedQPC) else load_qpc(qpc)
    hw = load_target(target if target is not None else loaded.meta["target"]["name"])
    figures = simulator_figures(hw, target)
    check_instances(instances, loaded.meta["num_cores"], hw)
    if module is None:
        module = loaded.to_aic_core()
    return simulate_timing(
        timing_program(module, hw, figures), hw, figures, instances=instances, inferences=inferences,
        seconds=seconds, batch_size=loaded.meta.get("batch_size", 1), record=record, qpc=str(loaded.path))
