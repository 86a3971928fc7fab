"""The profiling files of a simulated run (qaic-runner's ``--aic-profiling-type``).

- ``stats``: ``aic-profiling-program-0-stats.txt``: per aic_graph op, per inference of
  one instance: tasks, cores, time (the sum of its tasks' durations), busy time of the
  DMA engines, matrix and vector units, DDR bytes read and written, multicast bytes;
  then the same per op type, and per core and unit utilization.
- ``trace``: ``aic-profiling-program-0-trace.json``: Chrome trace-event JSON (opens in
  Perfetto and chrome://tracing): one process per instance, one thread per core and unit
  (``core N dma``, ``core N matrix``, ``core N vector``) with one complete event per
  transfer (its kind, tensor kind, bytes, tile) or tile computed, over the inferences the
  simulation ran (one alone; with several instances, the steady state: a few inferences
  per instance, instances a fraction of an inference apart); a ``chip`` process holds
  the DDR bandwidth in use as a counter; instant events mark each inference's end. Times
  in microseconds.
- ``latency``: ``aic-profiling-program-0-latency.txt``: every inference's activation,
  start, end and latency, then the mean, min, max and percentiles.

Every figure is simulated; each file says so.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

from qaicc.simulator.api import SimulationResult
from qaicc.simulator.timing import UNITS

PROFILING_TYPES = ("stats", "trace", "latency")
PROGRAM = 0


def profiling_file(kind: str, program: int = PROGRAM) -> str:
    extension = "json" if kind == "trace" else "txt"
    return f"aic-profiling-program-{program}-{kind}.{extension}"


def _header(result: SimulationResult) -> str:
    return (f"# qaicc-run: SIMULATED on the {result.target} timing model (not measured): {result.num_cores} cores x "
            f"{result.instances} instance(s), batch {result.batch_size}\n")


def stats_text(result: SimulationResult) -> str:
    lines = [_header(result)]
    lines.append(f"# latency {result.latency_seconds * 1e6:.3f} us (one instance alone); round "
                 f"{result.round_seconds * 1e6:.3f} us ({result.instances} instance(s) running back to back); throughput "
                 f"{result.throughput:.3f} samples/s\n")
    lines.append(f"# per inference: DDR read {result.ddr_read_bytes} B, written {result.ddr_write_bytes} B, "
                 f"multicast {result.multicast_bytes} B; DDR utilization {result.ddr_utilization * 100:.1f}%\n")
    kinds = ", ".join(f"{kind} {count} B" for kind, count in result.ddr_bytes_by_kind.items())
    lines.append(f"# DDR bytes per inference by tensor kind (read + written): {kinds or 'none'}\n")
    lines.append("# per op, per inference of one instance; time = sum of its tasks' durations on its cores\n")
    total = sum(o.seconds for o in result.ops) or 1.0
    header = (f"{'op':<40} {'type':<16} {'tasks':>5} {'cores':>5} {'time_us':>12} {'share%':>7} {'dma_us':>11} "
              f"{'matrix_us':>11} {'vector_us':>11} {'read_B':>12} {'written_B':>12} {'multicast_B':>12}")
    lines.append(header + "\n")
    for op in result.ops:
        lines.append(
            f"{op.name:<40} {op.kind:<16} {op.tasks:>5} {op.cores:>5} {op.seconds * 1e6:>12.3f} "
            f"{100 * op.seconds / total:>7.2f} {op.busy_seconds['dma'] * 1e6:>11.3f} "
            f"{op.busy_seconds['matrix'] * 1e6:>11.3f} {op.busy_seconds['vector'] * 1e6:>11.3f} "
            f"{op.ddr_read_bytes:>12} {op.ddr_write_bytes:>12} {op.multicast_bytes:>12}\n")
    kinds: dict[str, list] = {}
    for op in result.ops:
        entry = kinds.setdefault(op.kind, [0, 0.0, 0.0, 0.0, 0.0, 0, 0])
        entry[0] += 1
        entry[1] += op.seconds
        for i, unit in enumerate(UNITS):
            entry[2 + i] += op.busy_seconds[unit]
        entry[5] += op.ddr_read_bytes
        entry[6] += op.ddr_write_bytes
    lines.append("\n# per op type\n")
    lines.append(f"{'type':<16} {'ops':>5} {'time_us':>12} {'share%':>7} {'dma_us':>11} {'matrix_us':>11} "
                 f"{'vector_us':>11} {'read_B':>12} {'written_B':>12}\n")
    for kind, (count, seconds, dma, matrix, vector, read, written) in sorted(kinds.items(), key=lambda kv: -kv[1][1]):
        lines.append(f"{kind:<16} {count:>5} {seconds * 1e6:>12.3f} {100 * seconds / total:>7.2f} {dma * 1e6:>11.3f} "
                     f"{matrix * 1e6:>11.3f} {vector * 1e6:>11.3f} {read:>12} {written:>12}\n")
    lines.append("\n# per core, one round: busy us and utilization per unit\n")
    lines.append(f"{'core':>4} {'instance':>8} {'local':>5} " + " ".join(f"{u + '_us':>11} {u + '%':>7}" for u in UNITS) + "\n")
    for core in result.cores:
        cells = " ".join(f"{core.busy_seconds[u] * 1e6:>11.3f} {core.utilization[u] * 100:>7.2f}" for u in UNITS)
        lines.append(f"{core.core:>4} {core.instance:>8} {core.local_core:>5} {cells}\n")
    return "".join(lines)


def _us(seconds: float) -> float:
    return round(seconds * 1e6, 4)


def trace_events(result: SimulationResult) -> dict:
    """The Chrome trace-event document of the simulated round."""
    timeline = result.timeline
    if timeline is None:
        raise ValueError("the simulation was not recorded (simulate(..., record=True))")
    events: list[dict] = []
    per = timeline.cores_per_instance
    for instance in range(timeline.instances):
        first, last = instance * per, instance * per + per - 1
        events.append({"name": "process_name", "ph": "M", "pid": instance, "tid": 0,
                       "args": {"name": f"instance {instance} (cores {first}-{last})"}})
        events.append({"name": "process_sort_index", "ph": "M", "pid": instance, "tid": 0,
                       "args": {"sort_index": instance}})
        for local in range(per):
            for u, unit in enumerate(UNITS):
                tid = local * len(UNITS) + u
                events.append({"name": "thread_name", "ph": "M", "pid": instance, "tid": tid,
                               "args": {"name": f"core {instance * per + local} {unit}"}})
                events.append({"name": "thread_sort_index", "ph": "M", "pid": instance, "tid": tid,
                               "args": {"sort_index": tid}})
    for (core, unit), intervals in sorted(timeline.intervals.items()):
        instance, local = divmod(core, per)
        tid = local * len(UNITS) + UNITS.index(unit)
        for start, end, name, detail in intervals:
            args = detail if isinstance(detail, dict) else {"tile": detail}
            events.append({"name": name, "cat": unit, "ph": "X", "ts": _us(start), "dur": _us(end - start),
                           "pid": instance, "tid": tid, "args": args})
    chip = timeline.instances
    events.append({"name": "process_name", "ph": "M", "pid": chip, "tid": 0, "args": {"name": "chip (shared DDR)"}})
    events.append({"name": "process_sort_index", "ph": "M", "pid": chip, "tid": 0, "args": {"sort_index": chip}})
    for time, rate in timeline.ddr_rate:
        events.append({"name": "DDR bandwidth in use", "ph": "C", "ts": _us(time), "pid": chip, "tid": 0,
                       "args": {"GB/s": round(rate / 1e9, 3)}})
    for instance, runs in enumerate(timeline.inferences):
        for number, (start, end) in enumerate(runs):
            events.append({"name": f"inference {number} done", "ph": "i", "s": "p", "ts": _us(end), "pid": instance,
                           "tid": 0, "args": {"latency_us": _us(end - start)}})
    return {
        "traceEvents": events,
        "displayTimeUnit": "ns",
        "otherData": {"simulated": True, "generator": "qaicc-run", "target": result.target,
                      "cores_per_instance": per, "instances": timeline.instances,
                      "note": "times simulated on the qaicc timing model of the chip, not measured"},
    }


def latency_text(result: SimulationResult) -> str:
    lines = [_header(result), "# inference activation activation_inference start_us end_us latency_us\n"]
    for t in result.latencies:
        lines.append(f"{t.index} {t.activation} {t.activation_index} {t.start_seconds * 1e6:.3f} "
                     f"{t.end_seconds * 1e6:.3f} {t.latency_seconds * 1e6:.3f}\n")
    summary = result.latency_summary()
    if summary:
        lines.append(
            f"# count {summary['count']} mean_us {summary['mean_seconds'] * 1e6:.3f} min_us "
            f"{summary['min_seconds'] * 1e6:.3f} max_us {summary['max_seconds'] * 1e6:.3f} p50_us "
            f"{summary['p50_seconds'] * 1e6:.3f} p90_us {summary['p90_seconds'] * 1e6:.3f} p99_us "
            f"{summary['p99_seconds'] * 1e6:.3f}\n")
    return "".join(lines)


def profiling_files(result: SimulationResult, kinds: Sequence[str], directory: Path) -> list[tuple[Path, Callable[[], str]]]:
    """(path, text) of each requested profiling file (written by ``runner.write_files``)."""
    makers = {
        "stats": lambda: stats_text(result),
        "trace": lambda: json.dumps(trace_events(result), separators=(",", ":")),
        "latency": lambda: latency_text(result),
    }
    seen = []
    for kind in kinds:
        if kind not in seen:
            seen.append(kind)
    return [(directory / profiling_file(kind), makers[kind]) for kind in seen]
