"""Calibration of the timing model: the published measurements against the simulator.

    .venv/bin/python benchmarks/calibration.py                 # compile (cached) and compare
    .venv/bin/python benchmarks/calibration.py --recompile --json calibration.json
    .venv/bin/python benchmarks/calibration.py --recompile --mos cores --out .cache/calibration-mos

Compiles the full-size models (``.cache/models/bert.onnx`` at sequence 128 and
``resnet50.onnx``, exported by ``make benchmark-models``) with the flags of the four
published configurations (FP16 on a Cloud AI 100 Pro card, listed below) through the qaicc passes that
exist, writes each QPC under ``--out`` (reused unless ``--recompile``), times it with
``qaicc.simulator.simulate`` and prints predicted against measured:

| model | config | measured |
|---|---|---|
| BERT-base, seq 128 | 2 cores, ols 3, batch 8, 7 instances | 2579 inf/s |
| BERT-base, seq 128 | 7 cores, batch 1, 1 instance | 2.285 ms mean latency |
| ResNet-50 | 2 cores, ols 2, batch 4, 7 instances | 4378 inf/s |
| ResNet-50 | 7 cores, batch 1, 1 instance | 1.428 ms mean latency |

Besides the prediction, each row shows the program's DDR traffic per inference (and
the part that is intermediates) and its *DDR floor*: the best figure any machine with
the target's DDR bandwidth could reach with this program (every instance's bytes /
bandwidth). When the measurement is beyond the floor, no figure of the timing model can
reach it: the program itself moves too many bytes (the lowering keeps every
intermediate in DDR), and the row says so. ``w/o interm.`` is the floor if the
intermediates stayed on chip (a diagnosis for the lowering, not a prediction).

The published configurations do not say ``-mos``: ``--mos`` chooses it (1, qaic-exec's
default, or ``cores`` as the SDK's recipes). The estimated figures the simulator uses are those of the target's JSON file
(``simulator`` section); ``--figures k=v,...`` tries others without editing the file.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Config:
    key: str
    model: str
    symbols: str  # bind-symbols options ("" for none)
    cores: int
    ols: int
    batch: int
    instances: int
    metric: str  # "throughput" (samples/s) or "latency" (seconds)
    measured: float

    @property
    def title(self) -> str:
        return f"{self.model.split('.')[0]} {self.cores}c ols{self.ols} b{self.batch} x{self.instances}"


CONFIGS = (
    Config("bert-2c-ols3-b8-x7", "bert.onnx", "batch_size=1 sequence=128", 2, 3, 8, 7, "throughput", 2579.0),
    Config("bert-7c-b1-x1", "bert.onnx", "batch_size=1 sequence=128", 7, 1, 1, 1, "latency", 2.285e-3),
    Config("resnet50-2c-ols2-b4-x7", "resnet50.onnx", "", 2, 2, 4, 7, "throughput", 4378.0),
    Config("resnet50-7c-b1-x1", "resnet50.onnx", "", 7, 1, 1, 1, "latency", 1.428e-3),
)

PASSES = ("bind-symbols", "shape-inference", "canonicalize", "convert-onnx-to-aic-graph", "fuse-aic-graph",
          "legalize-fp16", "batch", "partition-cores", "mos", "ols-split", "convert-aic-graph-to-aic-core",
          "insert-multicast", "plan-memory", "schedule", "keep-on-chip", "convert-aic-core-to-qpc", "emit-qpc")


def pipeline(config: Config, out: Path, mos: int, skip: set[str]) -> tuple[str, list[str]]:
    """The pipeline string of a configuration and the passes left out (missing or skipped)."""
    from qaicc.passes import ALL_PASSES

    flags = (f"-aic-num-cores={config.cores} -ols={config.ols} -batchsize={config.batch} -convert-to-fp16 "
             f"-mos={mos} -multicast-weights -aic-hw-version=2.0")
    if config.symbols:
        flags += " " + " ".join(f"-onnx-define-symbol={s.replace('=', ',')}" for s in config.symbols.split())
    options = {
        "bind-symbols": f"{{{config.symbols}}}",
        "batch": f"{{size={config.batch}}}",
        "partition-cores": f"{{num-cores={config.cores}}}",
        "mos": f"{{effort={mos}}}",
        "ols-split": f"{{factor={config.ols}}}",
        "convert-aic-core-to-qpc": f'{{flags="{flags}" target=ai100-pro}}',
        "emit-qpc": f'{{dir="{out}"}}',
    }
    used, left_out = [], []
    for name in PASSES:
        if name == "bind-symbols" and not config.symbols:
            continue
        if name not in ALL_PASSES or name in skip:
            left_out.append(name)
            continue
        used.append(name + options.get(name, ""))
    return ",".join(used), left_out


def compile_config(config: Config, models: Path, out: Path, mos: int, log) -> dict:
    """Compile one configuration into ``out``; plan-memory is left out (and said so) when
    it refuses the program."""
    from qaicc.errors import QaiccError
    from qaicc.ir.context import make_context
    from qaicc.ir.pipeline import Instrumentation, build_pipeline, run_pipeline
    from qaicc.onnx_io import import_model
    from qaicc.passes import ALL_PASSES

    skip: set[str] = set()
    notes = []
    while True:
        spec, left_out = pipeline(config, out, mos, skip)
        started = time.perf_counter()
        module = import_model(models / config.model)
        try:
            run_pipeline(build_pipeline(spec, ALL_PASSES), module, make_context(), Instrumentation(verify_each=False))
        except QaiccError as error:
            message = str(error).splitlines()[0]
            if message.startswith("plan-memory") and "plan-memory" not in skip:
                notes.append(f"plan-memory refused the program ({message}); compiled without it")
                log(f"  {config.key}: {notes[-1]}")
                skip.add("plan-memory")
                continue
            raise
        info = {"pipeline": spec, "left_out": left_out, "notes": notes,
                "compile_seconds": round(time.perf_counter() - started, 2)}
        (out / "calibration-build.json").write_text(json.dumps(info, indent=2) + "\n")
        return info


def figures_override(text: str | None):
    from qaicc.hardware import load_target
    from qaicc.simulator.figures import simulator_figures

    figures = simulator_figures(load_target("ai100-pro"))
    if not text:
        return figures
    values = {}
    for item in text.split(","):
        key, _, value = item.partition("=")
        values[key.strip()] = float(value)
    return dataclasses.replace(figures, **values).check("--figures")


def predict(config: Config, qpc: Path, figures) -> dict:
    from qaicc.hardware import load_target
    from qaicc.qpc import load_qpc
    from qaicc.simulator import simulate_timing
    from qaicc.simulator.program import timing_program

    hw = load_target("ai100-pro")
    loaded = load_qpc(qpc)
    program = timing_program(loaded.to_aic_core(), hw, figures)
    batch = loaded.meta.get("batch_size", 1)
    result = simulate_timing(program, hw, figures, instances=config.instances, batch_size=batch)
    traffic = result.ddr_read_bytes + result.ddr_write_bytes
    on_chip = traffic - result.ddr_bytes_by_kind.get("intermediate", 0)
    floors = []
    for moved in (traffic, on_chip):
        seconds = config.instances * moved / hw.ddr_bandwidth_bytes_per_s
        # throughput: the most samples/s the bytes allow; latency: the least time
        floors.append(config.instances * batch / seconds if config.metric == "throughput" else seconds)
    bound, bound_on_chip = floors
    if config.metric == "throughput":
        predicted = result.throughput
        reachable = config.measured <= bound
    else:
        predicted = result.latency_seconds
        reachable = config.measured >= bound
    return {"config": config.key, "title": config.title, "metric": config.metric, "measured": config.measured,
            "predicted": predicted, "error": predicted / config.measured - 1, "batch_size": batch,
            "latency_seconds": result.latency_seconds, "round_seconds": result.round_seconds,
            "ddr_bytes_per_inference": traffic, "ddr_read_bytes": result.ddr_read_bytes,
            "ddr_write_bytes": result.ddr_write_bytes, "multicast_bytes": result.multicast_bytes,
            "ddr_bytes_by_kind": result.ddr_bytes_by_kind, "ddr_floor": bound,
            "ddr_floor_intermediates_on_chip": bound_on_chip, "measurement_reachable": reachable, "ddr_utilization": result.ddr_utilization}


def _show(value: float, metric: str) -> str:
    return f"{value:9.1f}/s" if metric == "throughput" else f"{value * 1e3:8.3f} ms"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=Path, default=ROOT / ".cache/models", help="folder of the full-size models")
    parser.add_argument("--out", type=Path, default=ROOT / ".cache/calibration", help="where the QPCs go")
    parser.add_argument("--recompile", action="store_true", help="compile even when a QPC is there")
    parser.add_argument("--only", action="append", default=[], help="run only these configurations (by key)")
    parser.add_argument("--mos", default="1",
                        help="mos effort: a number (default 1, as qaic-exec) or 'cores' (the configuration's cores, "
                             "as the SDK's LLM recipes)")
    parser.add_argument("--figures", help="try other simulator figures: name=value,... (the JSON file is not changed)")
    parser.add_argument("--json", type=Path, help="write the rows as JSON")
    args = parser.parse_args(argv)
    log = lambda text: print(text, file=sys.stderr, flush=True)

    figures = figures_override(args.figures)
    rows = []
    for config in CONFIGS:
        if args.only and config.key not in args.only:
            continue
        out = args.out / config.key
        if args.recompile or not (out / "programqpc.bin").exists():
            if not (args.models / config.model).exists():
                log(f"{config.key}: {args.models / config.model} is missing (make benchmark-models); skipped")
                continue
            out.mkdir(parents=True, exist_ok=True)
            log(f"{config.key}: compiling {config.model} ...")
            mos = config.cores if args.mos == "cores" else int(args.mos)
            compile_config(config, args.models, out, mos, log)
        build = json.loads((out / "calibration-build.json").read_text()) if (out / "calibration-build.json").exists() else {}
        row = predict(config, out, figures)
        row["build"] = build
        rows.append(row)

    print(f"simulator figures: {json.dumps(figures.as_dict())}")
    print(f"{'configuration':<28} {'measured':>12} {'predicted':>12} {'error':>8}   {'DDR MB/inf':>10} "
          f"{'interm. MB':>10} {'DDR floor':>12} {'w/o interm.':>12}  note")
    for row in rows:
        note = "" if row["measurement_reachable"] else (
            "measurement beyond the program's DDR floor: its traffic, not the timing figures, limits it")
        for extra in row["build"].get("notes", []):
            note += ("; " if note else "") + extra.split(" (")[0]
        print(f"{row['title']:<28} {_show(row['measured'], row['metric']):>12} {_show(row['predicted'], row['metric']):>12} "
              f"{row['error'] * 100:+7.1f}%   {row['ddr_bytes_per_inference'] / 1e6:10.1f} "
              f"{row['ddr_bytes_by_kind'].get('intermediate', 0) / 1e6:10.1f} "
              f"{_show(row['ddr_floor'], row['metric']):>12} "
              f"{_show(row['ddr_floor_intermediates_on_chip'], row['metric']):>12}  {note}")
    within = [abs(row["error"]) <= 0.25 for row in rows]
    print(f"{sum(within)} of {len(rows)} configurations within +-25%")
    if args.json:
        args.json.write_text(json.dumps({"figures": figures.as_dict(), "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
