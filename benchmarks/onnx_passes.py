"""Benchmark and check the onnx-level passes (and, with --to aic-graph, the lowering to
aic-graph with fusion and fp16) on the full-size models.

Usage: python benchmarks/onnx_passes.py [--models DIR] [--only bert,gpt2] [--no-run]
                                        [--to onnx|aic-graph]

For each model: import, then ``bind-symbols{batch_size=1 sequence=128},shape-inference,
canonicalize`` with per-pass times; then checks that no shape-only op (Shape, Size,
Range, ConstantOfShape) remains, that every value is static, and (unless --no-run) that
the reference semantics match onnxruntime on the original model on random inputs
(max abs error <= 1e-4 x max abs output). Target (issue 3): the three passes on
BERT-base in under 2 s. With ``--to aic-graph`` the pipeline continues with
``convert-onnx-to-aic-graph,fuse-aic-graph,legalize-fp16`` and the check is float16's:
max abs error <= 2e-2 x max abs output and cosine similarity >= 0.999 per output.
Target (issue 4): onnx -> aic-graph with fusion and fp16 on BERT-base and GPT-2 in under
3 s each.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import onnx

from qaicc.ir.context import make_context
from qaicc.ir.pipeline import Instrumentation, build_pipeline, run_pipeline
from qaicc.onnx_io.importer import import_model
from qaicc.passes import ALL_PASSES
from qaicc.semantics import run_module
from qaicc.testing.node_cases import run_ort
from qaicc.testing.random_inputs import random_inputs

SHAPE_ONLY = {"onnx.Shape", "onnx.Size", "onnx.Range", "onnx.ConstantOfShape"}
PIPELINE = "bind-symbols{batch_size=1 sequence=128},shape-inference,canonicalize"
TO_AIC_GRAPH = ",convert-onnx-to-aic-graph,fuse-aic-graph,legalize-fp16"


def _non_static(module) -> list[str]:
    bad = []
    for op in module.walk():
        for result in op.results:
            shape = getattr(result.type, "get_shape", None)
            if shape is None or any(d < 0 for d in shape()):
                bad.append(f"{op.name}: {result.type}")
    return bad


def _cosine(a, b) -> float:
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    return float(a @ b / max(1e-30, np.linalg.norm(a) * np.linalg.norm(b)))


def check_model(path: Path, run: bool, to: str = "onnx") -> None:
    fp16 = to == "aic-graph"
    pipeline = PIPELINE + (TO_AIC_GRAPH if fp16 else "")
    start = time.perf_counter()
    module = import_model(path)
    t_import = time.perf_counter() - start
    inst = Instrumentation(time_passes=False)
    start = time.perf_counter()
    with warnings.catch_warnings():  # vision models have no symbols to bind
        warnings.simplefilter("ignore")
        run_pipeline(build_pipeline(pipeline, ALL_PASSES), module, make_context(), inst)
    t_passes = time.perf_counter() - start
    per_pass = " ".join(f"{name} {seconds:.2f}s" for name, seconds in inst.timings)
    shape_ops = sorted({op.name for op in module.walk()} & SHAPE_ONLY)
    non_static = _non_static(module)
    ops = sum(1 for op in module.walk() if op.name.startswith(("onnx.", "aic_graph.")) and "onstant" not in op.name)
    onnx_left = sum(1 for op in module.walk() if op.name.startswith("onnx."))
    line = (f"{path.stem:12s} import {t_import:.2f}s  passes {t_passes:.2f}s ({per_pass})  "
            f"compute ops {ops}  onnx ops left {onnx_left if fp16 else '-'}  shape-only ops left {shape_ops or 'none'}  non-static values {len(non_static)}")
    if run:
        model = onnx.load(path, load_external_data=False)
        feeds = random_inputs(model, {"batch_size": 1, "sequence": 128}, seed=0)
        expected = run_ort(onnx.load(path), feeds)
        start = time.perf_counter()
        actual = list(run_module(module, feeds).values())
        t_run = time.perf_counter() - start
        errors = [float(np.max(np.abs(a - e)) / max(1e-12, float(np.max(np.abs(e))))) for a, e in zip(actual, expected)]
        cosines = [_cosine(a, e) for a, e in zip(actual, expected)]
        limit = 2e-2 if fp16 else 1e-4
        ok = max(errors) <= limit and (not fp16 or min(cosines) >= 0.999)
        line += f"  run {t_run:.1f}s  max rel err {max(errors):.1e} cosine {min(cosines):.6f} ({'ok' if ok else 'FAIL'})"
    print(line, flush=True)
    for item in non_static[:5]:
        print("   non-static:", item)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=Path(".cache/models"))
    parser.add_argument("--only", default="")
    parser.add_argument("--no-run", action="store_true")
    parser.add_argument("--to", choices=["onnx", "aic-graph"], default="onnx")
    args = parser.parse_args()
    wanted = set(filter(None, args.only.split(",")))
    paths = [p for p in sorted(args.models.glob("*.onnx")) if not wanted or p.stem in wanted]
    if not paths:
        raise SystemExit(f"no models in {args.models}: run `make benchmark-models` first")
    for path in paths:
        check_model(path, run=not args.no_run, to=args.to)


if __name__ == "__main__":
    main()
