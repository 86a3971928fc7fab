"""Fixtures of the simulator tests: small models compiled to QPCs (once per session) and
aic-core modules with and without multicast."""

from __future__ import annotations

from pathlib import Path

import pytest

MODELS = Path(__file__).resolve().parent.parent / "models"
SMALL_MODELS = sorted(p.stem for p in MODELS.glob("*.onnx"))
SYMBOLS = "bind-symbols{batch_size=1 sequence=16}"
FRONT_END = f"{SYMBOLS},shape-inference,canonicalize,convert-onnx-to-aic-graph,fuse-aic-graph"


def _lower(name: str, cores: int, ols: int, multicast: bool = True):
    from qaicc.onnx_io import import_model
    from qaicc.testing.multicore import run_passes

    module = import_model(MODELS / f"{name}.onnx")
    middle = "insert-multicast," if multicast else ""
    run_passes(module, f"{FRONT_END},partition-cores{{num-cores={cores}}},ols-split{{factor={ols}}},"
                       f"convert-aic-graph-to-aic-core,{middle}schedule,plan-memory")
    return module


@pytest.fixture(scope="session")
def aic_core_module():
    """``aic_core_module(name, cores, ols, multicast)``: a small model lowered to aic-core
    (cached; do not change it)."""
    cache = {}

    def get(name: str, cores: int = 2, ols: int = 2, multicast: bool = True):
        key = (name, cores, ols, multicast)
        if key not in cache:
            cache[key] = _lower(name, cores, ols, multicast)
        return cache[key]

    return get


@pytest.fixture(scope="session")
def qpc_dir(tmp_path_factory):
    """``qpc_dir(name, cores, ols)``: the directory of a small model's QPC (cached)."""
    cache = {}

    def get(name: str, cores: int = 2, ols: int = 2) -> Path:
        key = (name, cores, ols)
        if key not in cache:
            from qaicc.testing.multicore import run_passes

            directory = tmp_path_factory.mktemp(f"qpc-{name}-{cores}c")
            module = _lower(name, cores, ols).clone()
            flags = f"-aic-num-cores={cores} -ols={ols}"
            run_passes(module, f'convert-aic-core-to-qpc{{flags="{flags}"}},emit-qpc{{dir="{directory}"}}')
            cache[key] = directory
        return cache[key]

    return get
