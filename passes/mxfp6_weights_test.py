"""mxfp6-weights: matmul weights become MXFP6 constants with a dequantize; results stay
close (cosine >= 0.99) and the weights take 6.25/16 of their float16 bytes."""

from __future__ import annotations

import importlib.util
import logging
import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest
from xdsl.dialects.builtin import Float16Type, Float32Type

from qaicc.dialects.aic_graph import ops as g
from qaicc.errors import QaiccError
from qaicc.ir.context import make_context
from qaicc.ir.pipeline import build_pipeline, run_pipeline
from qaicc.onnx_io.importer import import_model
from qaicc.passes import ALL_PASSES
from qaicc.passes.legalize_fp16 import legalize_fp16
from qaicc.passes.mxfp6_weights import mxfp6_weights, weight_bytes
from qaicc.semantics import run_module
from qaicc.semantics.mxfp6 import dequantize, quantize
from qaicc.testing.aic_graph_strategies import GraphBuilder, cosine
from qaicc.testing.node_cases import run_ort
from qaicc.testing.random_inputs import random_inputs

RNG = np.random.default_rng(0)
MODELS = Path(__file__).resolve().parent.parent / "tests" / "models"
LOWER = "bind-symbols{batch_size=1 sequence=16},shape-inference,canonicalize,convert-onnx-to-aic-graph"
needs_converter = pytest.mark.skipif(
    importlib.util.find_spec("qaicc.passes.convert_onnx_to_aic_graph") is None,
    reason="convert-onnx-to-aic-graph is not installed",
)


def _ops(module, cls):
    return [op for op in module.walk() if isinstance(op, cls)]


def _mlp(k: int = 64, transpose_b: bool = False):
    """x @ W1 (+ bias, relu) @ W2, and an activation @ activation matmul left alone."""
    b = GraphBuilder([("x", (2, 8, k))])
    x = b.args[0]
    w1 = RNG.standard_normal((96, k) if transpose_b else (k, 96)).astype(np.float32) / np.sqrt(k)
    h = b.matmul(x, b.constant(w1, "fc1.weight"), bias=b.constant(RNG.standard_normal(96).astype(np.float32)),
                 transpose_b=transpose_b, activation="relu")
    out = b.matmul(h, b.constant(RNG.standard_normal((96, 32)).astype(np.float32) / 10, "fc2.weight"))
    scores = b.matmul(out, out, transpose_b=True)
    return b.module([out, scores]), {"x": RNG.standard_normal((2, 8, k)).astype(np.float32)}


def _check(module, feeds, fmt="e2m3"):
    before = run_module(module, feeds)
    mxfp6_weights(module, fmt)
    module.verify()
    after = run_module(module, feeds)
    for name in before:
        assert after[name].dtype == before[name].dtype and after[name].shape == before[name].shape
        assert cosine(before[name], after[name]) >= 0.99, name
    return before, after


@pytest.mark.parametrize("transpose_b", [False, True])
@pytest.mark.parametrize("fmt", ["e2m3", "e3m2"])
def test_matmul_weights_become_mxfp6(transpose_b, fmt):
    module, feeds = _mlp(transpose_b=transpose_b)
    _check(module, feeds, fmt)
    constants = _ops(module, g.MXFP6ConstantOp)
    assert len(constants) == 2
    for op in constants:
        assert op.output.type.element_type.format.data == fmt
    fc1 = next(op for op in constants if op.elements.blob_name.data == "fc1.weight.mxfp6_elements")
    assert fc1.int_prop("axis") == (1 if transpose_b else 0)  # blocks run along the reduction axis
    dequantized = {op.output for op in _ops(module, g.DequantizeOp)}
    matmuls = _ops(module, g.MatMulOp)
    assert [m.b in dequantized for m in matmuls] == [True, True, False]
    assert not any(op.value.blob_name.data.endswith(".weight") for op in _ops(module, g.ConstantOp))


def test_layout_and_values_follow_the_semantics_module():
    module, feeds = _mlp(k=40)  # 40 is padded to two blocks of 32
    weight = next(op for op in _ops(module, g.ConstantOp) if op.value.blob_name.data == "fc1.weight")
    original = weight.value.to_numpy()
    mxfp6_weights(module)
    op = next(op for op in _ops(module, g.MXFP6ConstantOp) if op.elements.blob_name.data.startswith("fc1"))
    assert op.elements.to_numpy().shape == (64, 96) and op.scales.to_numpy().shape == (2, 96)
    elements, scales = quantize(original, 0, "e2m3")
    assert np.array_equal(op.elements.to_numpy(), elements) and np.array_equal(op.scales.to_numpy(), scales)
    assert tuple(op.output.type.get_shape()) == (40, 96)
    assert cosine(original, dequantize(elements, scales, 0, (40, 96))) >= 0.99


def test_after_legalize_fp16_dequantize_to_float16_and_bytes_drop_to_6_25_of_16():
    module, feeds = _mlp(k=64)
    reference = run_module(module, feeds)
    legalize_fp16(module)
    before = weight_bytes(module)
    after = mxfp6_weights(module)
    module.verify()
    assert all(isinstance(op.output.type.element_type, Float16Type) for op in _ops(module, g.DequantizeOp))
    assert before["mxfp6_bytes"] == 0 and after["mxfp6_weights"] == 2
    assert after["matmul_weight_bytes"] / before["matmul_weight_bytes"] == pytest.approx(6.25 / 16)
    assert after["total_bytes"] == after["constant_bytes"] + after["mxfp6_bytes"]
    assert after["constant_bytes"] == before["total_bytes"] - before["matmul_weight_bytes"]  # the bias stays
    outputs = run_module(module, feeds)
    for name in reference:
        assert cosine(reference[name], outputs[name]) >= 0.99


def test_before_legalize_fp16_dequantize_to_the_weight_type_then_float16():
    module, feeds = _mlp()
    mxfp6_weights(module)
    assert all(isinstance(op.output.type.element_type, Float32Type) for op in _ops(module, g.DequantizeOp))
    legalize_fp16(module)
    module.verify()
    assert all(isinstance(op.output.type.element_type, Float16Type) for op in _ops(module, g.DequantizeOp))
    assert run_module(module, feeds)["y0"].dtype == np.float32


def test_a_shared_weight_is_quantized_once_and_other_users_keep_the_constant():
    b = GraphBuilder([("x", (4, 32)), ("ids", (4,), np.int64)])
    x, ids = b.args
    table = b.constant(RNG.standard_normal((32, 32)).astype(np.float32), "tied")
    first = b.matmul(x, table)
    second = b.matmul(b.unary("relu", x), table)
    transposed = b.matmul(x, table, transpose_b=True)
    embedded = b.gather(table, ids)
    module = b.module([first, second, transposed, embedded])
    feeds = {"x": RNG.standard_normal((4, 32)).astype(np.float32), "ids": np.array([0, 3, 31, 2], np.int64)}
    _, after = _check(module, feeds)
    axes = sorted(op.int_prop("axis") for op in _ops(module, g.MXFP6ConstantOp))
    assert axes == [0, 1]  # once per reduction axis
    assert len(_ops(module, g.ConstantOp)) == 1  # the gather still reads the float weight
    assert np.array_equal(after["y3"], run_module(module, feeds)["y3"])


def test_a_transposed_tied_embedding_is_quantized_after_fusion():
    """GPT-2's lm_head reads transpose(wte): fuse-aic-graph makes it a transpose_b weight."""
    b = GraphBuilder([("h", (2, 64)), ("ids", (2,), np.int64)])
    h, ids = b.args
    wte = b.constant(RNG.standard_normal((100, 64)).astype(np.float32), "wte")
    logits = b.matmul(b.binary("add", h, b.gather(wte, ids)), b.transpose(wte, [1, 0]))
    module = b.module([logits])
    feeds = {"h": RNG.standard_normal((2, 64)).astype(np.float32), "ids": np.array([3, 99], np.int64)}
    run_pipeline(build_pipeline("fuse-aic-graph", ALL_PASSES), module, make_context())
    _check(module, feeds)
    (mxfp6,) = _ops(module, g.MXFP6ConstantOp)
    assert mxfp6.int_prop("axis") == 1 and mxfp6.elements.to_numpy().shape == (100, 64)


def test_integer_and_activation_operands_are_left_alone():
    b = GraphBuilder([("x", (2, 4), np.int32)])
    module = b.module([b.matmul(b.args[0], b.constant(np.ones((4, 3), np.int32)))])
    assert mxfp6_weights(module)["mxfp6_weights"] == 0


def test_pass_logs_the_figures_and_rejects_unknown_formats(caplog):
    module, _ = _mlp()
    with caplog.at_level(logging.INFO, logger="qaicc.passes.mxfp6_weights"):
        run_pipeline(build_pipeline("mxfp6-weights{format=e3m2}", ALL_PASSES), module, make_context())
    assert any("mxfp6-weights{format=e3m2}: 2 matmul weights in MXFP6" in r.getMessage() for r in caplog.records)
    with pytest.raises(QaiccError, match=r"mxfp6-weights: unknown format 'e4m3'; use one of e2m3, e3m2"):
        run_pipeline(build_pipeline("mxfp6-weights{format=e4m3}", ALL_PASSES), module, make_context())


@needs_converter
@pytest.mark.filterwarnings("ignore:bind-symbols")
@pytest.mark.parametrize("name", ["bert_small", "gpt2_small", "vit_small"])
def test_transformers_in_fp16_with_mxfp6_weights_stay_close_to_onnxruntime(name):
    model = onnx.load(MODELS / f"{name}.onnx")
    feeds = random_inputs(model, {"batch_size": 1, "sequence": 16})
    expected = run_ort(model, feeds)
    module = import_model(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_pipeline(build_pipeline(LOWER + ",fuse-aic-graph,legalize-fp16", ALL_PASSES), module, make_context())
    before = weight_bytes(module)
    after = mxfp6_weights(module)
    assert after["matmul_weight_bytes"] / before["matmul_weight_bytes"] == pytest.approx(6.25 / 16, rel=1e-3)
    assert after["total_bytes"] < before["total_bytes"]
    for e, a in zip(expected, run_module(module, feeds).values()):
        assert cosine(e, a) >= 0.99
