"""Benchmark: convert-aic-core-to-qpc, emit-qpc and loading per model and core count.

Usage: python benchmarks/qpc_emit_load.py [MODEL.onnx ...] [--cores 1,16] [--tiles 2]
       [--sequence 16] [--out DIR] [--run]

Each model goes through the front end, ``split_evenly`` on every core count and
``convert-aic-graph-to-aic-core`` (not timed), then one line per step: aic-core op
count, convert time, emit time and file size, load time (every checksum verified),
rebuild time (the executable aic-core module) and kernel count. ``--run`` also runs
the rebuilt module and the original on random inputs and checks they agree.
Target: BERT-base on 16 cores (~55k aic-core ops) loads and rebuilds in about 1 s.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from qaicc.ir.context import make_context
from qaicc.passes.convert_aic_core_to_qpc import ConvertAicCoreToQpcPass
from qaicc.passes.emit_qpc import emit_qpc
from qaicc.qpc import load_qpc
from qaicc.testing.qpc import contiguous_constants, model_to_aic_core

DEFAULT_MODELS = [Path(__file__).resolve().parent.parent / "tests" / "models" / "bert_small.onnx"]


def _timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def bench(model: Path, cores: int, tiles: int, sequence: int, out: Path, check: bool) -> str:
    module = model_to_aic_core(model, cores, tiles, sequence=sequence)
    ops = sum(1 for _ in module.walk())
    reference = module.clone() if check else None
    _, convert = _timed(lambda: ConvertAicCoreToQpcPass().apply(make_context(), module))
    directory = out / f"{model.stem}-{cores}"
    path, emit = _timed(lambda: emit_qpc(module, directory))
    loaded, load = _timed(lambda: load_qpc(directory))
    rebuilt, rebuild = _timed(loaded.to_aic_core)
    line = (f"{model.stem:<20} cores {cores:>2}  aic-core ops {ops:>6}  convert {convert:6.2f} s  "
            f"emit {emit:6.2f} s  file {path.stat().st_size / 2**20:8.1f} MiB  load {load:5.2f} s  "
            f"rebuild {rebuild:5.2f} s  kernels {loaded.meta['kernels']['count']}")
    if check:
        import onnx

        from qaicc.semantics import run_module
        from qaicc.testing.random_inputs import random_inputs

        feeds = random_inputs(onnx.load(model, load_external_data=False), {"batch_size": 1, "sequence": sequence})
        expected = run_module(contiguous_constants(reference), feeds)
        actual = run_module(rebuilt, feeds)
        same = all(np.array_equal(actual[k], expected[k]) for k in expected)
        line += f"  outputs {'identical' if same else 'DIFFERENT'}"
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", type=Path, default=DEFAULT_MODELS)
    parser.add_argument("--cores", default="1,16")
    parser.add_argument("--tiles", type=int, default=2)
    parser.add_argument("--sequence", type=int, default=16)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--run", action="store_true", help="check the rebuilt module's outputs")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as scratch:
        out = args.out or Path(scratch)
        for model in args.models:
            for cores in (int(c) for c in args.cores.split(",")):
                print(bench(model, cores, args.tiles, args.sequence, out, args.run), flush=True)


if __name__ == "__main__":
    main()
