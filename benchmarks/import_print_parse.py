"""Benchmark: import, verify, print (constants elided) and parse times per full-size model.

Usage: python benchmarks/import_print_parse.py [--models DIR] [--repeat N]

Reads every ``<family>.onnx`` in DIR (made by ``make benchmark-models``), and prints one
line per model with node and parameter counts and the best of N timings of each step.
Targets (issue 2): BERT-base imports in under 2 s and prints in under 1 s.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from qaicc.ir.printing import parse_module, print_module
from qaicc.onnx_io.importer import import_model


def _best(fn, repeat: int):
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def _parameters(module) -> int:
    total = 0
    for op in module.walk():
        value = op.properties.get("value")
        blob = getattr(value, "blob", None)
        if blob is not None and blob.shape is not None:
            total += int(np.prod(blob.shape))
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=Path(".cache/models"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    paths = sorted(args.models.glob("*.onnx"))
    if not paths:
        raise SystemExit(f"no models in {args.models}: run `make benchmark-models` first")
    print(f"{'model':14s} {'ops':>6s} {'params':>8s} {'import':>8s} {'verify':>8s} {'print':>8s} {'parse':>8s}")
    for path in paths:
        t_import, module = _best(lambda: import_model(path), args.repeat)
        t_verify, _ = _best(module.verify, args.repeat)
        t_print, text = _best(lambda: print_module(module), args.repeat)
        t_parse, _ = _best(lambda: parse_module(text), args.repeat)
        ops = sum(1 for op in module.walk() if op.name.startswith("onnx."))
        params = _parameters(module) / 1e6
        print(f"{path.stem:14s} {ops:6d} {params:7.1f}M {t_import:7.3f}s {t_verify:7.3f}s {t_print:7.3f}s {t_parse:7.3f}s")


if __name__ == "__main__":
    main()
