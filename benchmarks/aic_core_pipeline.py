"""Benchmark and check the pipeline to aic-core on the full-size models.

Usage: python benchmarks/aic_core_pipeline.py [--models DIR] [--only bert] [--grid] [--run]

Default: each model, float16, 16 cores, ols 2, mos 16, multicast on: the time of every
pass from import to a scheduled, memory-planned aic-core program, the IR size, and the
static metrics. Target (issue 5): BERT-base on 16 cores in under 10 s.

``--grid``: every combination of cores {1, 2, 4, 7, 14, 16}, ols {1, 2, 4}, mos {1, 2,
cores} and multicast on/off: each must compile, pass the memory-plan verifier and keep
every core within its VTCM (``--run`` also executes each program on the reference
semantics and compares it with the aic-graph module: within 1e-3 relative).
"""

from __future__ import annotations

import argparse
import itertools
import time
import warnings
from pathlib import Path

import numpy as np
import onnx

from qaicc.hardware import load_target
from qaicc.ir.context import make_context
from qaicc.ir.pipeline import Instrumentation, build_pipeline, run_pipeline
from qaicc.metrics import static_metrics
from qaicc.onnx_io.importer import import_model
from qaicc.passes import ALL_PASSES
from qaicc.passes.plan_memory import verify_memory_plan
from qaicc.semantics import run_module
from qaicc.testing.random_inputs import random_inputs

FRONT = ("bind-symbols{batch_size=1 sequence=128},shape-inference,canonicalize,"
         "convert-onnx-to-aic-graph,fuse-aic-graph,legalize-fp16")


def back(cores: int, ols: int, mos: int, multicast: bool) -> str:
    passes = [f"partition-cores{{num-cores={cores}}}"]
    if mos > 1:
        passes.append(f"mos{{effort={mos}}}")
    passes += [f"ols-split{{factor={ols}}}", "convert-aic-graph-to-aic-core"]
    if multicast:
        passes.append("insert-multicast")
    passes += ["plan-memory", "schedule"]
    return ",".join(passes)


def _compile(spec: str, module, timings: bool = False):
    inst = Instrumentation(verify_each=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_pipeline(build_pipeline(spec, ALL_PASSES), module, make_context(), inst)
    return inst.timings


def one(path: Path) -> None:
    start = time.perf_counter()
    module = import_model(path)
    t_import = time.perf_counter() - start
    timings = _compile(FRONT + "," + back(16, 2, 16, True), module)
    total = t_import + sum(t for _, t in timings)
    ops = sum(1 for _ in module.walk())
    metrics = static_metrics(module, load_target(None))
    per_pass = " ".join(f"{name} {seconds:.2f}" for name, seconds in timings)
    print(f"{path.stem:12s} total {total:.1f}s (import {t_import:.2f} {per_pass}) ops {ops} "
          f"latency {metrics.latency_seconds * 1e3:.3f} ms peak VTCM {metrics.peak_vtcm_bytes / 2**20:.2f} MiB "
          f"DDR read {sum(c.ddr_read_bytes for c in metrics.cores) / 1e6:.1f} MB", flush=True)


def grid(path: Path, run: bool) -> None:
    base = import_model(path)
    _compile(FRONT, base)
    feeds = random_inputs(onnx.load(path, load_external_data=False), {"batch_size": 1, "sequence": 128})
    expected = run_module(base, feeds) if run else None
    hw = load_target(None)
    for cores, ols, multicast in itertools.product((1, 2, 4, 7, 14, 16), (1, 2, 4), (False, True)):
        for mos in sorted({1, 2, cores}):
            module = base.clone()
            start = time.perf_counter()
            _compile(back(cores, ols, mos, multicast), module)
            seconds = time.perf_counter() - start
            verify_memory_plan(module, hw)
            metrics = static_metrics(module, hw)
            line = (f"{path.stem} cores {cores:2d} ols {ols} mos {mos:2d} multicast {int(multicast)}: "
                    f"{seconds:.1f}s peak VTCM {metrics.peak_vtcm_bytes / 2**20:.2f} MiB "
                    f"latency {metrics.latency_seconds * 1e3:.3f} ms")
            if run:
                actual = run_module(module, feeds)
                error = max(float(np.max(np.abs(actual[k] - expected[k]))) / max(1e-12, float(np.max(np.abs(expected[k]))))
                            for k in expected)
                line += f" rel err {error:.1e} ({'ok' if error <= 1e-3 else 'FAIL'})"
            print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=Path(".cache/models"))
    parser.add_argument("--only", default="")
    parser.add_argument("--grid", action="store_true")
    parser.add_argument("--run", action="store_true")
    args = parser.parse_args()
    wanted = set(filter(None, args.only.split(",")))
    paths = [p for p in sorted(args.models.glob("*.onnx")) if not wanted or p.stem in wanted]
    if not paths:
        raise SystemExit(f"no models in {args.models}: run `make benchmark-models` first")
    for path in paths:
        grid(path, args.run) if args.grid else one(path)


if __name__ == "__main__":
    main()
