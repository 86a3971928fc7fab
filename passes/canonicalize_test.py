"""canonicalize: every pattern is checked by running the IR before and after it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from onnx import TensorProto, helper, numpy_helper

from qaicc.ir.context import make_context
from qaicc.ir.pipeline import build_pipeline, run_pipeline
from qaicc.onnx_io.importer import import_model
from qaicc.passes import ALL_PASSES
from qaicc.semantics import run_module
from qaicc.testing.graph_strategies import random_graph
from qaicc.testing.node_cases import run_ort
from qaicc.testing.models import make_model
from qaicc.testing.random_inputs import random_inputs

MODELS = Path(__file__).resolve().parent.parent / "tests" / "models"
SHAPE_ONLY_OPS = {"Shape", "Size", "Range", "ConstantOfShape"}


def _run_pipeline(module, spec: str):
    run_pipeline(build_pipeline(spec, ALL_PASSES), module, make_context())
    return module


def _op_types(module) -> set[str]:
    return {op.name.removeprefix("onnx.") for op in module.walk() if op.name.startswith("onnx.")}


def _assert_same(before: dict, after: dict, tolerance: float = 0.0) -> None:
    assert list(before) == list(after)
    for name in before:
        a, b = np.asarray(before[name]), np.asarray(after[name])
        assert a.shape == b.shape and a.dtype == b.dtype, name
        scale = max(1.0, float(np.max(np.abs(a)))) if a.size else 1.0
        assert np.max(np.abs(a.astype(np.float64) - b), initial=0.0) <= tolerance * scale, name


def _shape_chain_model():
    """Reshape(x, Concat(Gather(Shape(x), 0), [-1])) with an Identity and a Dropout."""
    nodes = [
        helper.make_node("Identity", ["x"], ["xi"]),
        helper.make_node("Shape", ["xi"], ["s"]),
        helper.make_node("Gather", ["s", "zero"], ["batch"], axis=0),
        helper.make_node("Unsqueeze", ["batch", "axes0"], ["batch1"]),
        helper.make_node("Concat", ["batch1", "minus_one"], ["target"], axis=0),
        helper.make_node("Reshape", ["xi", "target"], ["flat"]),
        helper.make_node("Dropout", ["flat"], ["y"]),
    ]
    initializers = [
        numpy_helper.from_array(np.array(0, np.int64), "zero"),
        numpy_helper.from_array(np.array([0], np.int64), "axes0"),
        numpy_helper.from_array(np.array([-1], np.int64), "minus_one"),
    ]
    return make_model(
        nodes,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch_size", 3, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch_size", 12])],
        initializers,
    )


def test_shape_chains_fold_away():
    module = import_model(_shape_chain_model())
    x = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    _run_pipeline(module, "bind-symbols{batch_size=2},shape-inference")
    before = run_module(module, {"x": x})
    _run_pipeline(module, "canonicalize")
    assert _op_types(module) == {"Constant", "Reshape"}
    _assert_same(before, run_module(module, {"x": x}))


def test_common_subexpressions_merge_despite_node_names():
    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="first"),
        helper.make_node("Relu", ["x"], ["b"], name="second"),
        helper.make_node("Add", ["a", "b"], ["y"], name="add"),
    ]
    model = make_model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
                       [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])])
    module = import_model(model)
    x = np.array([-1, 0, 1, 2], np.float32)
    before = run_module(module, {"x": x})
    _run_pipeline(module, "canonicalize")
    assert sum(op.name == "onnx.Relu" for op in module.walk()) == 1
    _assert_same(before, run_module(module, {"x": x}))


def test_training_dropout_and_random_ops_stay():
    nodes = [
        helper.make_node("RandomNormalLike", ["x"], ["r"], seed=1.0),
        helper.make_node("Add", ["x", "r"], ["y"]),
    ]
    model = make_model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
                       [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])])
    module = _run_pipeline(import_model(model), "canonicalize")
    assert "RandomNormalLike" in _op_types(module)


@pytest.mark.parametrize("name", ["bert_small", "gpt2_small"])
def test_transformers_become_static_without_shape_ops(name):
    path = MODELS / f"{name}.onnx"
    model = onnx.load(path)
    feeds = random_inputs(model, {"batch_size": 1, "sequence": 16}, seed=3)
    module = import_model(path)
    before = run_module(module, feeds)
    _run_pipeline(module, "bind-symbols{batch_size=1 sequence=16},shape-inference,canonicalize")
    assert not _op_types(module) & SHAPE_ONLY_OPS
    for op in module.walk():
        for result in op.results:
            assert -1 not in getattr(result.type, "get_shape", lambda: ())(), result
            assert all(d >= 0 for d in getattr(result.type, "get_shape", lambda: ())()), (op.name, result.type)
    after = run_module(module, feeds)
    _assert_same(before, after, tolerance=1e-4)
    expected = run_ort(model, feeds)  # and the ground truth
    for actual, reference in zip(after.values(), expected):
        assert np.max(np.abs(actual - reference)) <= 1e-4 * max(1.0, float(np.max(np.abs(reference))))


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(random_graph())
def test_random_graphs_keep_their_results(case):
    model, feeds, symbols = case
    module = import_model(model)
    before = run_module(module, feeds)
    bind = "bind-symbols{" + " ".join(f"{k}={v}" for k, v in symbols.items()) + "}," if symbols else ""
    _run_pipeline(module, f"{bind}shape-inference")
    after_inference = run_module(module, feeds)
    _assert_same(before, after_inference)
    _run_pipeline(module, "canonicalize")
    _assert_same(before, run_module(module, feeds), tolerance=1e-6)
