"""What the driver reports: ``-aic-perf-metrics``, ``-aic-perf-warnings``, run statistics.

``program_metrics(module, hw)`` (on the final aic-core module, before the conversion to
qpc) gives the static figures of ``qaicc.metrics.static_metrics`` plus the weight share
of the DDR reads; ``add_qpc_figures(metrics, meta)`` adds what the QPC records (DDR
usage by kind, VTCM requirements, constants). The result is one JSON-able dict::

    {"target", "num_cores", "batch_size",
     "vtcm": {"capacity_bytes", "peak_bytes", "peak_bytes_per_core", "peak_fraction", "planned"},
     "ddr": {"capacity_bytes", "total_bytes", "bytes_by_kind", "planned"},
     "traffic": {"ddr_read_bytes", "ddr_write_bytes", "multicast_bytes", "weight_read_bytes",
                 "weight_fraction"},                      # per inference
     "constants": {"count", "bytes"},
     "estimated_latency_seconds",                         # static cost model
     "cores": [{"core", "tasks", "peak_vtcm_bytes", "ddr_read_bytes", ...}]}

``perf_warnings(metrics, options)`` lists what a user could act on, each one line naming
the flag that helps.
"""

from __future__ import annotations

from xdsl.dialects.builtin import ModuleOp

from qaicc.dialects.aic_core.analysis import DDRTable, is_resident, loads, tasks, tiles_of
from qaicc.dialects.aic_graph.work import tensor_bytes
from qaicc.hardware import HardwareModel

VTCM_NEARLY_FULL = 0.90
WEIGHT_DOMINATED = 0.5
REREAD = 1.25  # weights read this many times over per inference
IDLE_CORE = 0.25


def _transfer_bytes(load) -> int:
    """DDR bytes a load moves per tile (as ``static_metrics`` counts them)."""
    moved = getattr(load, "transfer_bytes", None)
    return moved if moved is not None else tensor_bytes(load.output.type)


def weight_read_bytes(module: ModuleOp) -> int:
    """DDR bytes read from constants per inference (a multicast group's block once)."""
    table = DDRTable(module)
    total = 0
    for core, task in tasks(module):
        tiles = tiles_of(task)
        for load in loads(task):
            root = table.decls[table.root(load.source.root_reference.data)]
            if root.kind.data != "constant":
                continue
            group = load.int_list("multicast_cores")
            if group and core != min(group):
                continue
            times = 1 if is_resident(load, tiles) else tiles
            total += _transfer_bytes(load) * times
    return total


def program_metrics(module: ModuleOp, hw: HardwareModel, batch_size: int = 1) -> dict:
    from qaicc.metrics import static_metrics

    figures = static_metrics(module, hw)
    read = figures.ddr_read_bytes
    weights = weight_read_bytes(module)
    peak = figures.peak_vtcm_bytes
    return {
        "target": hw.name,
        "num_cores": figures.num_cores,
        "batch_size": batch_size,
        "vtcm": {
            "capacity_bytes": hw.vtcm_usable_bytes,
            "peak_bytes": peak,
            "peak_bytes_per_core": [c.peak_vtcm_bytes for c in figures.cores],
            "peak_fraction": peak / hw.vtcm_usable_bytes if hw.vtcm_usable_bytes else 0.0,
            "planned": figures.planned,
        },
        "traffic": {
            "ddr_read_bytes": read,
            "ddr_write_bytes": figures.ddr_write_bytes,
            "multicast_bytes": figures.multicast_bytes,
            "weight_read_bytes": weights,
            "weight_fraction": weights / (read + figures.ddr_write_bytes) if read + figures.ddr_write_bytes else 0.0,
        },
        "estimated_latency_seconds": figures.latency_seconds,
        "cores": [
            {"core": c.core, "tasks": c.tasks, "peak_vtcm_bytes": c.peak_vtcm_bytes, "ddr_read_bytes": c.ddr_read_bytes,
             "ddr_write_bytes": c.ddr_write_bytes, "multicast_bytes": c.multicast_bytes,
             "busy_seconds": dict(c.busy_seconds), "end_seconds": c.end_seconds}
            for c in figures.cores
        ],
    }


def add_qpc_figures(metrics: dict, meta: dict, hw: HardwareModel) -> dict:
    """The figures the QPC records: DDR usage, VTCM requirement, constants."""
    ddr = meta.get("ddr", {})
    metrics["ddr"] = {
        "capacity_bytes": hw.ddr_bytes,
        "total_bytes": ddr.get("total_bytes", 0),
        "bytes_by_kind": dict(ddr.get("bytes_by_kind", {})),
        "planned": ddr.get("planned", False),
    }
    constants = meta.get("constants", {})
    metrics["constants"] = {"count": constants.get("count", 0), "bytes": constants.get("segment_bytes", 0)}
    metrics["batch_size"] = meta.get("batch_size", metrics.get("batch_size", 1))
    return metrics


# -- warnings ----------------------------------------------------------------------------


def perf_warnings(metrics: dict, options) -> list[str]:
    found = []
    vtcm = metrics["vtcm"]
    if vtcm["peak_fraction"] >= VTCM_NEARLY_FULL:
        core = max(range(len(vtcm["peak_bytes_per_core"])), key=vtcm["peak_bytes_per_core"].__getitem__)
        hint = "-mos" if options.mos is None or options.mos < options.num_cores else "more -aic-num-cores"
        found.append(f"VTCM is {100 * vtcm['peak_fraction']:.0f}% full on core {core} ({_b(vtcm['peak_bytes'])} of "
                     f"{_b(vtcm['capacity_bytes'])}): a larger input or batch will not fit; try {hint} or a higher -ols")
    traffic = metrics["traffic"]
    constants = metrics.get("constants", {}).get("bytes", 0)
    if traffic["weight_fraction"] >= WEIGHT_DOMINATED:
        share = f"weights are {100 * traffic['weight_fraction']:.0f}% of the DDR traffic"
        times = traffic["weight_read_bytes"] / constants if constants else 1.0
        if times > REREAD and metrics["num_cores"] > 1 and not options.multicast:
            found.append(f"{share} and are read {times:.1f} times per inference "
                         f"({_b(traffic['weight_read_bytes'])} for {_b(constants)} of constants): several cores "
                         "read the same weights; add -multicast-weights")
        elif not options.mxfp6:
            found.append(f"{share} ({_b(traffic['weight_read_bytes'])} per inference): -mxfp6-matmul stores "
                         "matmul weights in 6 bits (2.6x fewer bytes than float16)")
    ddr = metrics.get("ddr", {})
    if ddr.get("capacity_bytes") and ddr.get("total_bytes", 0) > VTCM_NEARLY_FULL * ddr["capacity_bytes"]:
        found.append(f"DDR is {100 * ddr['total_bytes'] / ddr['capacity_bytes']:.0f}% full "
                     f"({_b(ddr['total_bytes'])}): add -mxfp6-matmul to shrink the weights")
    if not options.fp16:
        found.append("the program computes in float32, at half the matrix unit's float16 rate: add -convert-to-fp16")
    cores = metrics["cores"]
    latency = metrics["estimated_latency_seconds"]
    if len(cores) > 1 and latency > 0:
        idle = [c["core"] for c in cores if max(c["busy_seconds"].values(), default=0.0) < IDLE_CORE * latency]
        if idle:
            found.append(f"{len(idle)} of {len(cores)} cores are busy less than {100 * IDLE_CORE:.0f}% of the "
                         f"estimated latency (cores {_ranges(idle)}): the model may not use that many cores; "
                         "try fewer -aic-num-cores and more -aic-num-of-instances")
    if options.ols == 1 and latency > 0:
        dma = sum(c["busy_seconds"].get("dma", 0.0) for c in cores)
        compute = sum(c["busy_seconds"].get("matrix", 0.0) + c["busy_seconds"].get("vector", 0.0) for c in cores)
        if dma > 0.25 * (dma + compute) and compute > 0.25 * (dma + compute):
            found.append(f"DMA takes {100 * dma / (dma + compute):.0f}% of the busy time and does not overlap "
                         "compute with -ols=1: try -ols=2")
    return found


# -- formatting --------------------------------------------------------------------------


def _b(count: float) -> str:
    count = int(count)
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= size:
            return f"{count:,} B ({count / size:.1f} {unit})"
    return f"{count:,} B"


def _ranges(values: list[int]) -> str:
    parts, start = [], None
    for i, v in enumerate(values):
        if start is None:
            start = v
        if i + 1 == len(values) or values[i + 1] != v + 1:
            parts.append(str(start) if start == v else f"{start}-{v}")
            start = None
    return ",".join(parts)


def format_metrics(metrics: dict, title: str = "") -> str:
    vtcm, ddr, traffic, constants = metrics["vtcm"], metrics["ddr"], metrics["traffic"], metrics["constants"]
    per_core = "  ".join(f"{i}: {v:,}" for i, v in enumerate(vtcm["peak_bytes_per_core"]))
    kinds = ", ".join(f"{kind} {_b(size)}" for kind, size in ddr["bytes_by_kind"].items())
    lines = [
        f" ---- Performance metrics{title} ----",
        f"Target                {metrics['target']}: {metrics['num_cores']} core(s), batch {metrics['batch_size']}",
        f"VTCM peak             {_b(vtcm['peak_bytes'])} of {_b(vtcm['capacity_bytes'])} per core "
        f"({100 * vtcm['peak_fraction']:.1f}%{'' if vtcm['planned'] else ', estimated'})",
        f"  per core            {per_core}",
        f"DDR usage             {_b(ddr['total_bytes'])} of {_b(ddr['capacity_bytes'])}"
        f"{'' if ddr['planned'] else ' (not planned)'}",
        f"  by kind             {kinds}",
        f"DDR traffic           read {_b(traffic['ddr_read_bytes'])}, write {_b(traffic['ddr_write_bytes'])}, "
        f"multicast {_b(traffic['multicast_bytes'])} per inference",
        f"  weights             {_b(traffic['weight_read_bytes'])} read "
        f"({100 * traffic['weight_fraction']:.0f}% of the traffic)",
        f"Constants             {constants['count']} tensors, {_b(constants['bytes'])}",
        f"Estimated latency     {metrics['estimated_latency_seconds'] * 1e6:,.1f} us (static cost model)",
    ]
    return "\n".join(lines) + "\n"


def format_timings(timings: list[tuple[str, float]]) -> str:
    total = sum(t for _, t in timings) or 1e-12
    lines = [
        "===" + "-" * 73 + "===",
        " " * 26 + "... Pass execution timing report ...",
        "===" + "-" * 73 + "===",
        f"  Total Execution Time: {total:.4f} seconds",
        "",
        "  ----Wall Time----  ----Name----",
    ]
    lines += [f"  {seconds:8.4f} ({100 * seconds / total:5.1f}%)  {name}" for name, seconds in timings]
    lines.append(f"  {total:8.4f} (100.0%)  Total")
    return "\n".join(lines) + "\n"


__all__ = ["add_qpc_figures", "format_metrics", "format_timings", "perf_warnings", "program_metrics",
           "weight_read_bytes"]
