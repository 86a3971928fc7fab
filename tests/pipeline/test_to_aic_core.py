"""The test-suite models, float16, to scheduled and memory-planned aic-core programs for
combinations of cores, ols, mos and multicast: each program computes what its aic-graph
module computes (within 1e-3 relative), passes the memory-plan verifier, and keeps every
core within its VTCM. A representative subset runs in CI; the full grid is slow."""

from __future__ import annotations

import itertools
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np
import onnx
import pytest

from qaicc.hardware import load_target
from qaicc.ir.context import make_context
from qaicc.ir.pipeline import Instrumentation, build_pipeline, run_pipeline
from qaicc.metrics import static_metrics
from qaicc.onnx_io.importer import import_model
from qaicc.passes import ALL_PASSES
from qaicc.passes.plan_memory import verify_memory_plan
from qaicc.semantics import run_module
from qaicc.testing.random_inputs import random_inputs

MODELS = Path(__file__).resolve().parent.parent / "models"
NAMES = ["resnet50_small", "mobilenetv2_small", "bert_small", "gpt2_small", "vit_small"]
FRONT = ("bind-symbols{batch_size=1 sequence=16},shape-inference,canonicalize,"
         "convert-onnx-to-aic-graph,fuse-aic-graph,legalize-fp16")
SUBSET = [(1, 1, 1, False), (2, 2, 2, True), (4, 4, 4, True), (7, 2, 1, True), (14, 2, 2, True), (16, 1, 16, False)]
GRID = [(c, o, m, mc) for c, o, mc in itertools.product((1, 2, 4, 7, 14, 16), (1, 2, 4), (False, True))
        for m in sorted({1, 2, c})]


def _run(module, spec: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_pipeline(build_pipeline(spec, ALL_PASSES), module, make_context(), Instrumentation(verify_each=False))
    return module


@lru_cache(maxsize=None)
def _aic_graph(name: str):
    module = _run(import_model(MODELS / f"{name}.onnx"), FRONT)
    feeds = random_inputs(onnx.load(MODELS / f"{name}.onnx"), {"batch_size": 1, "sequence": 16}, seed=2)
    return module, feeds, run_module(module, feeds)


def _back(cores: int, ols: int, mos: int, multicast: bool) -> str:
    passes = [f"partition-cores{{num-cores={cores}}}"]
    passes += [f"mos{{effort={mos}}}"] if mos > 1 else []
    passes += [f"ols-split{{factor={ols}}}", "convert-aic-graph-to-aic-core"]
    passes += ["insert-multicast"] if multicast else []
    return ",".join(passes + ["plan-memory", "schedule"])


def _check(name: str, cores: int, ols: int, mos: int, multicast: bool) -> None:
    graph, feeds, expected = _aic_graph(name)
    module = _run(graph.clone(), _back(cores, ols, mos, multicast))
    module.verify()
    hw = load_target(None)
    verify_memory_plan(module, hw)
    metrics = static_metrics(module, hw)
    assert all(core.peak_vtcm_bytes <= hw.vtcm_usable_bytes for core in metrics.cores)
    actual = run_module(module, feeds)
    for key, reference in expected.items():
        scale = max(1e-6, float(np.max(np.abs(reference.astype(np.float64)))))
        error = float(np.max(np.abs(actual[key].astype(np.float64) - reference.astype(np.float64))))
        assert error <= 1e-3 * scale, f"{key}: {error} > 1e-3 x {scale}"


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("cores,ols,mos,multicast", SUBSET)
def test_representative_subset(name, cores, ols, mos, multicast):
    _check(name, cores, ols, mos, multicast)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("cores,ols,mos,multicast", GRID)
def test_full_grid(name, cores, ols, mos, multicast):
    _check(name, cores, ols, mos, multicast)
