"""The committed small models (exported from torch/transformers by
benchmarks/export_models.py) import, print -> parse -> print is a fixpoint, and the
exported round trip matches onnxruntime on the original."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from qaicc.ir.printing import parse_module, print_module
from qaicc.onnx_io.exporter import export_module
from qaicc.onnx_io.importer import import_model
from qaicc.testing.compare import identical
from qaicc.testing.node_cases import run_ort
from qaicc.testing.random_inputs import random_inputs

MODELS = sorted(Path(__file__).parent.glob("*.onnx"))
FAMILIES = {"bert", "gpt2", "mobilenetv2", "resnet50", "vit"}


def test_every_family_has_a_small_model():
    assert {p.stem.removesuffix("_small") for p in MODELS} >= FAMILIES
    for path in MODELS:
        assert path.stat().st_size < 2_000_000, f"{path.name} is over 2 MB"


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.stem)
def test_import_print_parse_fixpoint(path):
    module = import_model(path)
    module.verify()
    text = print_module(module)
    assert print_module(parse_module(text)) == text
    full = print_module(module, elide_larger_than=None)
    assert print_module(parse_module(full), elide_larger_than=None) == full


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.stem)
def test_export_matches_onnxruntime(path):
    original = onnx.load(path)
    exported = export_module(import_model(path))
    onnx.checker.check_model(exported)
    feeds = random_inputs(original, symbols={"batch_size": 2, "sequence": 7}, seed=0)
    expected = run_ort(original, feeds)
    actual = run_ort(exported, feeds)
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        assert identical(a, e), f"max abs diff {np.max(np.abs(a.astype(np.float64) - e))}"


def test_symbolic_dims_of_transformers_are_named():
    for name in ("bert_small", "gpt2_small"):
        module = import_model(Path(__file__).parent / f"{name}.onnx")
        main = next(iter(module.ops))
        params = {attrs.data["onnx.dim_params"].data for attrs in main.arg_attrs.data}
        assert params == {"0:batch_size,1:sequence"}
