"""Fixtures of the driver tests: model paths, a small model with a symbol and a retained
state, and ``run_qaicc`` (the ``qaicc`` command in-process, with its output)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from qaicc.testing.models import make_model

ROOT = Path(__file__).resolve().parents[2]
BERT_SMALL = ROOT / "tests" / "models" / "bert_small.onnx"
TINY_CNN = ROOT / "examples" / "tiny_cnn.onnx"


@dataclass
class Outcome:
    status: int
    out: str
    err: str

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.startswith("qaicc: error:")]


@pytest.fixture
def run_qaicc(capsys, monkeypatch, tmp_path):
    """Run ``qaicc ARGS`` in-process in ``tmp_path`` (the current directory there)."""
    from qaicc.tools.qaicc_main import main

    monkeypatch.chdir(tmp_path)

    def run(*args: str) -> Outcome:
        capsys.readouterr()
        status = main([str(a) for a in args])
        captured = capsys.readouterr()
        return Outcome(status, captured.out, captured.err)

    return run


def _listing(directory: Path) -> list[str]:
    found = []
    for root, dirs, files in os.walk(directory):
        for name in dirs + files:
            found.append(str((Path(root) / name).relative_to(directory)))
    return sorted(found)


@pytest.fixture
def listing():
    """``listing(dir)``: every path under ``dir`` (hidden ones too), relative, sorted."""
    return _listing


def make_kv_model(seq: str | int = "seq", hidden: int = 64) -> onnx.ModelProto:
    """x [1, seq, H] -> y = x @ W; past [1, 4, H] -> past_RetainedState = past + x[:, -1:] (a
    cache that grows by the last token); W and the bias are constants shared by every
    specialization."""
    rng = np.random.default_rng(0)
    weight = numpy_helper.from_array(rng.standard_normal((hidden, hidden)).astype(np.float32) / 8, "W")
    bias = numpy_helper.from_array(rng.standard_normal(hidden).astype(np.float32), "bias")
    starts = numpy_helper.from_array(np.array([-1], np.int64), "starts")
    ends = numpy_helper.from_array(np.array([2**62], np.int64), "ends")
    axes = numpy_helper.from_array(np.array([1], np.int64), "axes")
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["mm"], name="mm"),
        helper.make_node("Add", ["mm", "bias"], ["y"], name="add_bias"),
        helper.make_node("Slice", ["x", "starts", "ends", "axes"], ["last"], name="last_token"),
        helper.make_node("Add", ["past", "last"], ["past_RetainedState"], name="update"),
    ]
    return make_model(
        nodes,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, seq, hidden]),
         helper.make_tensor_value_info("past", TensorProto.FLOAT, [1, 4, hidden])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, seq, hidden]),
         helper.make_tensor_value_info("past_RetainedState", TensorProto.FLOAT, [1, 4, hidden])],
        [weight, bias, starts, ends, axes],
        opset=18,
    )


@pytest.fixture
def kv_model_path(tmp_path) -> Path:
    path = tmp_path / "kv.onnx"
    onnx.save(make_kv_model(), path)
    return path
