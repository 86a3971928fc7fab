"""The reference semantics run models like onnxruntime and check their inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from qaicc.errors import QaiccError
from qaicc.onnx_io.importer import import_model
from qaicc.semantics import run_module
from qaicc.testing.node_cases import run_ort
from qaicc.testing.random_inputs import random_inputs

MODELS = sorted((Path(__file__).parent.parent / "models").glob("*.onnx"))


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.stem)
def test_models_match_onnxruntime(path):
    model = onnx.load(path)
    feeds = random_inputs(model, {"batch_size": 2, "sequence": 9}, seed=1)
    expected = run_ort(model, feeds)
    actual = list(run_module(import_model(path), feeds).values())
    for a, e in zip(actual, expected):
        scale = max(1.0, float(np.max(np.abs(e))))
        assert np.max(np.abs(a - e)) <= 1e-4 * scale


def test_inputs_by_name_or_position(mlp_model):
    module = import_model(mlp_model)
    x = np.ones((3, 8), np.float32)
    by_name = run_module(module, {"input": x})
    by_position = run_module(module, [x])
    assert list(by_name) == ["logits"]
    np.testing.assert_array_equal(by_name["logits"], by_position["logits"])


def test_input_errors_name_the_input(mlp_model):
    module = import_model(mlp_model)
    with pytest.raises(QaiccError, match="input 'input' has dtype float64"):
        run_module(module, {"input": np.ones((3, 8))})
    with pytest.raises(QaiccError, match=r"input 'input' has shape \(3, 7\), the model expects \[\?, 8\]"):
        run_module(module, {"input": np.ones((3, 7), np.float32)})
    with pytest.raises(QaiccError, match="missing \\['input'\\]"):
        run_module(module, {"x": np.ones((3, 8), np.float32)})


def test_one_symbol_one_size():
    from onnx import TensorProto, helper

    from qaicc.testing.models import make_model

    model = make_model(
        [helper.make_node("Add", ["a", "b"], ["c"])],
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, ["n"]),
         helper.make_tensor_value_info("b", TensorProto.FLOAT, ["n"])],
        [helper.make_tensor_value_info("c", TensorProto.FLOAT, ["n"])],
    )
    module = import_model(model)
    with pytest.raises(QaiccError, match="symbol 'n' is 3 in input 'a' but 4 in input 'b'"):
        run_module(module, {"a": np.ones(3, np.float32), "b": np.ones(4, np.float32)})


def test_regions_read_outer_values(if_model):
    module = import_model(if_model)
    x = np.array([1, 2, 3], np.float32)
    np.testing.assert_array_equal(run_module(module, {"cond": np.array(True), "x": x})["y"], 2 * x)
    np.testing.assert_array_equal(run_module(module, {"cond": np.array(False), "x": x})["y"], -x)
