"""Shared fixtures: small ONNX models built in code."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from qaicc.testing.models import make_model


@pytest.fixture
def mlp_model() -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array(rng.standard_normal((8, 32)).astype(np.float32), "fc1.weight")
    b1 = numpy_helper.from_array(rng.standard_normal(32).astype(np.float32), "fc1.bias")
    w2 = numpy_helper.from_array(rng.standard_normal((32, 4)).astype(np.float32), "fc2.weight")
    nodes = [
        helper.make_node("MatMul", ["input", "fc1.weight"], ["h"], name="/fc1/MatMul"),
        helper.make_node("Add", ["h", "fc1.bias"], ["h2"], name="/fc1/Add"),
        helper.make_node("Relu", ["h2"], ["h3"], name="/act/Relu"),
        helper.make_node("MatMul", ["h3", "fc2.weight"], ["logits"], name="/fc2/MatMul"),
    ]
    return make_model(
        nodes,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch_size", 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch_size", 4])],
        [w1, b1, w2],
    )


@pytest.fixture
def if_model() -> onnx.ModelProto:
    """An If whose branches read an outer value."""
    then_graph = helper.make_graph(
        [helper.make_node("Add", ["x", "x"], ["then_out"], name="then_add")],
        "then", [], [helper.make_tensor_value_info("then_out", TensorProto.FLOAT, [3])],
    )
    else_graph = helper.make_graph(
        [helper.make_node("Neg", ["x"], ["else_out"], name="else_neg")],
        "else", [], [helper.make_tensor_value_info("else_out", TensorProto.FLOAT, [3])],
    )
    node = helper.make_node("If", ["cond"], ["y"], name="the_if", then_branch=then_graph, else_branch=else_graph)
    return make_model(
        [node],
        [helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
         helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])],
    )
