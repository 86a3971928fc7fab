"""fuse-aic-graph: every pattern is checked by running the IR before and after it
(float32, within 1e-5 relative to the largest output), on hand-built graphs, random
graphs, and the small exported models lowered by convert-onnx-to-aic-graph."""

from __future__ import annotations

import importlib.util
import collections
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings

from qaicc.dialects.aic_graph import ops as g
from qaicc.ir.context import make_context
from qaicc.ir.pipeline import build_pipeline, run_pipeline
from qaicc.onnx_io.importer import import_model
from qaicc.passes import ALL_PASSES
from qaicc.passes.fuse_aic_graph import fuse_aic_graph
from qaicc.semantics import run_module
from qaicc.testing.aic_graph_strategies import (
    GELU_ERF_FORMS,
    GraphBuilder,
    batch_norm,
    decomposed_gelu_erf,
    decomposed_gelu_tanh,
    decomposed_layer_norm,
    decomposed_silu,
    decomposed_softmax,
    random_aic_graph,
    relative_error,
)
from qaicc.testing.random_inputs import random_inputs

RNG = np.random.default_rng(0)
MODELS = Path(__file__).resolve().parent.parent / "tests" / "models"
LOWER = "bind-symbols{batch_size=1 sequence=16},shape-inference,canonicalize,convert-onnx-to-aic-graph"
needs_converter = pytest.mark.skipif(
    importlib.util.find_spec("qaicc.passes.convert_onnx_to_aic_graph") is None,
    reason="convert-onnx-to-aic-graph is not installed",
)


def _ops(module) -> collections.Counter:
    """Op names, with the kind of unary/binary ops and the activation of conv/matmul."""
    counts = collections.Counter()
    for op in module.walk():
        name = op.name
        if isinstance(op, g.UnaryOp | g.BinaryOp):
            name += f".{op.kind.data}"
        if isinstance(op, g.ConvOp | g.MatMulOp):
            name += f"/{op.str_prop('activation', 'none')}"
        counts[name] += 1
    return counts


def _fuse_and_compare(module, feeds, rtol: float = 1e-5) -> collections.Counter:
    module.verify()
    before = run_module(module, feeds)
    fuse_aic_graph(module)
    module.verify()
    after = run_module(module, feeds)
    for name in before:
        assert after[name].dtype == before[name].dtype and after[name].shape == before[name].shape
        assert relative_error(before[name], after[name]) <= rtol, name
    return _ops(module)


def _x(shape):
    return {"x": RNG.standard_normal(shape).astype(np.float32)}


# -- decomposed activations --------------------------------------------------------------
@pytest.mark.parametrize("form", GELU_ERF_FORMS)
@pytest.mark.parametrize("divide", [True, False])
def test_gelu_erf_forms(form, divide):
    b = GraphBuilder([("x", (2, 5, 8))])
    module = b.module([decomposed_gelu_erf(b, b.args[0], form, divide)])
    ops = _fuse_and_compare(module, _x((2, 5, 8)))
    assert ops["aic_graph.gelu"] == 1 and ops["aic_graph.unary.erf"] == 0
    gelu = next(op for op in module.walk() if isinstance(op, g.GeluOp))
    assert gelu.approximate.data == "none"
    assert sum(ops.values()) == 4  # module, func, gelu, return: the decomposition is gone


@pytest.mark.parametrize("cube", ["pow", "mul"])
def test_gelu_tanh_form(cube):
    b = GraphBuilder([("x", (3, 16))])
    module = b.module([decomposed_gelu_tanh(b, b.args[0], cube)])
    ops = _fuse_and_compare(module, _x((3, 16)))
    assert ops["aic_graph.gelu"] == 1 and ops["aic_graph.unary.tanh"] == 0
    assert next(op for op in module.walk() if isinstance(op, g.GeluOp)).approximate.data == "tanh"


def test_gelu_constants_match_with_tolerance_but_not_other_values():
    b = GraphBuilder([("x", (4, 8))])
    x = b.args[0]
    close = b.binary("mul", b.binary("mul", x, b.scalar(0.5000001)),
                     b.binary("add", b.unary("erf", b.binary("mul", x, b.scalar(0.7071067))), b.scalar(1.0)))
    other = b.binary("mul", b.binary("mul", x, b.scalar(0.5)),
                     b.binary("add", b.unary("erf", b.binary("mul", x, b.scalar(0.6))), b.scalar(1.0)))
    ops = _fuse_and_compare(b.module([close, other]), _x((4, 8)))
    assert ops["aic_graph.gelu"] == 1 and ops["aic_graph.unary.erf"] == 1


def test_gelu_of_another_value_is_not_fused():
    """x * 0.5 * (1 + erf(y / sqrt 2)) with y != x is not a GELU."""
    b = GraphBuilder([("x", (4, 8)), ("y", (4, 8))])
    x, y = b.args
    out = b.binary("mul", b.binary("mul", x, b.scalar(0.5)),
                   b.binary("add", b.unary("erf", b.binary("div", y, b.scalar(1.4142135))), b.scalar(1.0)))
    feeds = {"x": RNG.standard_normal((4, 8)).astype(np.float32), "y": RNG.standard_normal((4, 8)).astype(np.float32)}
    ops = _fuse_and_compare(b.module([out]), feeds)
    assert ops["aic_graph.gelu"] == 0


@pytest.mark.parametrize("sigmoid_first", [False, True])
def test_silu(sigmoid_first):
    b = GraphBuilder([("x", (2, 6))])
    module = b.module([decomposed_silu(b, b.args[0], sigmoid_first)])
    ops = _fuse_and_compare(module, _x((2, 6)))
    assert ops["aic_graph.unary.silu"] == 1 and ops["aic_graph.unary.sigmoid"] == 0


# -- layer norm and softmax ----------------------------------------------------------------
@pytest.mark.parametrize("square", ["pow", "mul"])
@pytest.mark.parametrize("divide", ["div", "reciprocal"])
@pytest.mark.parametrize("affine", ["none", "scale", "bias", "both"])
def test_layer_norm(square, divide, affine):
    b = GraphBuilder([("x", (2, 5, 16))])
    scale = RNG.uniform(0.5, 1.5, 16).astype(np.float32) if affine in ("scale", "both") else None
    bias = RNG.standard_normal(16).astype(np.float32) if affine in ("bias", "both") else None
    y = decomposed_layer_norm(b, b.args[0], [-1], scale, bias, epsilon=1e-12, square=square, divide=divide)
    ops = _fuse_and_compare(b.module([y]), _x((2, 5, 16)))
    assert ops["aic_graph.layer_norm"] == 1 and ops["aic_graph.reduce"] == 0
    assert not any(name.startswith("aic_graph.binary") for name in ops)
    norm = next(op for op in b.block.ops if isinstance(op, g.LayerNormOp))
    assert norm.int_prop("axis") == 2 and norm.float_prop("epsilon") == pytest.approx(1e-12)
    assert (norm.bias is not None) == (bias is not None)


def test_layer_norm_over_two_trailing_axes():
    b = GraphBuilder([("x", (2, 3, 4, 5))])
    y = decomposed_layer_norm(b, b.args[0], [2, 3], RNG.uniform(0.5, 1.5, (4, 5)), RNG.standard_normal((1, 5)))
    ops = _fuse_and_compare(b.module([y]), _x((2, 3, 4, 5)))
    assert ops["aic_graph.layer_norm"] == 1
    assert next(op for op in b.block.ops if isinstance(op, g.LayerNormOp)).int_prop("axis") == 2


def test_normalization_over_leading_axes_is_not_a_layer_norm():
    b = GraphBuilder([("x", (4, 6))])
    ops = _fuse_and_compare(b.module([decomposed_layer_norm(b, b.args[0], [0])]), _x((4, 6)))
    assert ops["aic_graph.layer_norm"] == 0


def test_layer_norm_scale_varying_over_leading_axes_is_not_folded():
    b = GraphBuilder([("x", (3, 8))])
    x = b.args[0]
    norm = b.layer_norm(x, b.constant(np.ones(8, np.float32)))
    y = b.binary("mul", norm, b.constant(RNG.standard_normal((3, 1)).astype(np.float32)))
    ops = _fuse_and_compare(b.module([y]), _x((3, 8)))
    assert ops["aic_graph.binary.mul"] == 1


@pytest.mark.parametrize("subtract_max", [True, False])
@pytest.mark.parametrize("axis", [-1, 1])
def test_softmax(subtract_max, axis):
    b = GraphBuilder([("x", (2, 4, 6))])
    ops = _fuse_and_compare(b.module([decomposed_softmax(b, b.args[0], axis, subtract_max)]), _x((2, 4, 6)))
    assert ops["aic_graph.softmax"] == 1 and ops["aic_graph.unary.exp"] == 0
    assert next(op for op in b.block.ops if isinstance(op, g.SoftmaxOp)).int_prop("axis") == axis % 3


def test_exp_over_a_sum_over_two_axes_is_not_a_softmax():
    b = GraphBuilder([("x", (3, 4))])
    e = b.unary("exp", b.args[0])
    y = b.binary("div", e, b.reduce("sum", e, [0, 1]))
    assert _fuse_and_compare(b.module([y]), _x((3, 4)))["aic_graph.softmax"] == 0


# -- convolution ------------------------------------------------------------------------------
def _conv_input(b: GraphBuilder, bias: bool):
    x = b.args[0]
    w = b.constant(RNG.standard_normal((6, 3, 3, 3)).astype(np.float32) / 5, "conv.weight")
    c = b.constant(RNG.standard_normal(6).astype(np.float32), "conv.bias") if bias else None
    return b.conv(x, w, c, pads=(1, 1, 1, 1))


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("activation", ["none", "relu", "clip", "sigmoid", "silu", "tanh"])
def test_conv_batch_norm_activation(bias, activation):
    b = GraphBuilder([("x", (2, 3, 7, 7))])
    y = batch_norm(b, _conv_input(b, bias), RNG)
    if activation == "clip":
        y = b.unary("clip", y, alpha=0.0, beta=6.0)
    elif activation == "silu":
        y = decomposed_silu(b, y)
    elif activation != "none":
        y = b.unary(activation, y)
    ops = _fuse_and_compare(b.module([y]), _x((2, 3, 7, 7)))
    assert ops == {"builtin.module": 1, "func.func": 1, "func.return": 1, f"aic_graph.conv/{activation}": 1,
                   "aic_graph.constant": 2}
    conv = next(op for op in b.block.ops if isinstance(op, g.ConvOp))
    if activation == "clip":
        assert (conv.float_prop("activation_min"), conv.float_prop("activation_max")) == (0.0, 6.0)
    assert conv.bias is not None


@pytest.mark.parametrize("kind,shape", [("add", (6, 1, 1)), ("add", (1, 6, 1, 1)), ("sub", (6, 1, 1)),
                                        ("mul", ()), ("div", (6, 1, 1)), ("add", (1,))])
def test_conv_per_channel_constants_fold(kind, shape):
    b = GraphBuilder([("x", (1, 3, 5, 5))])
    factor = RNG.uniform(0.5, 1.5, shape).astype(np.float32)
    y = b.binary(kind, _conv_input(b, True), b.constant(factor))
    ops = _fuse_and_compare(b.module([y]), _x((1, 3, 5, 5)))
    assert ops["aic_graph.conv/none"] == 1 and not any(n.startswith("aic_graph.binary") for n in ops)


@pytest.mark.parametrize("case", ["residual", "spatial_constant", "constant_minus_conv", "activation_first"])
def test_conv_folds_that_must_not_happen(case):
    b = GraphBuilder([("x", (1, 3, 5, 5))])
    conv = _conv_input(b, True)
    if case == "residual":  # the conv's result is also read by a residual add
        y = b.binary("add", b.binary("mul", conv, b.constant(np.full((6, 1, 1), 2.0, np.float32))), conv)
        expected = {"aic_graph.binary.mul": 1, "aic_graph.binary.add": 1}
    elif case == "spatial_constant":  # varies along W, not per channel
        y = b.binary("add", conv, b.constant(RNG.standard_normal((1, 5)).astype(np.float32)))
        expected = {"aic_graph.binary.add": 1}
    elif case == "constant_minus_conv":
        y = b.binary("sub", b.constant(RNG.standard_normal((6, 1, 1)).astype(np.float32)), conv)
        expected = {"aic_graph.binary.sub": 1}
    else:  # relu(conv) + c: the bias cannot move inside the activation
        y = b.binary("add", b.unary("relu", conv), b.constant(np.ones((6, 1, 1), np.float32)))
        expected = {"aic_graph.binary.add": 1, "aic_graph.conv/relu": 1}
    ops = _fuse_and_compare(b.module([y]), _x((1, 3, 5, 5)))
    for name, count in expected.items():
        assert ops[name] == count, name


# -- matmul ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("bias_shape", [(5,), (1, 1, 5), (), (1,)])
@pytest.mark.parametrize("transpose_b", [False, True])
def test_matmul_bias(bias_shape, transpose_b):
    b = GraphBuilder([("x", (2, 3, 4))])
    w = RNG.standard_normal((5, 4) if transpose_b else (4, 5)).astype(np.float32)
    y = b.binary("add", b.matmul(b.args[0], b.constant(w), transpose_b=transpose_b),
                 b.constant(RNG.standard_normal(bias_shape).astype(np.float32)))
    ops = _fuse_and_compare(b.module([y]), _x((2, 3, 4)))
    assert ops["aic_graph.matmul/none"] == 1 and ops["aic_graph.binary.add"] == 0


def test_matmul_bias_adds_to_an_existing_bias():
    b = GraphBuilder([("x", (3, 4))])
    w, c = b.constant(RNG.standard_normal((4, 5)).astype(np.float32)), b.constant(np.ones(5, np.float32))
    y = b.binary("add", b.matmul(b.args[0], w, bias=c), b.constant(RNG.standard_normal(5).astype(np.float32)))
    ops = _fuse_and_compare(b.module([y]), _x((3, 4)))
    assert ops["aic_graph.binary.add"] == 0


def test_matmul_bias_varying_along_rows_is_not_fused():
    b = GraphBuilder([("x", (3, 4))])
    w = b.constant(RNG.standard_normal((4, 5)).astype(np.float32))
    y = b.binary("add", b.matmul(b.args[0], w), b.constant(RNG.standard_normal((3, 1)).astype(np.float32)))
    assert _fuse_and_compare(b.module([y]), _x((3, 4)))["aic_graph.binary.add"] == 1


@pytest.mark.parametrize("activation", ["relu", "clip", "sigmoid", "tanh", "silu", "gelu", "gelu_tanh"])
def test_matmul_bias_activation(activation):
    b = GraphBuilder([("x", (2, 3, 4))])
    y = b.binary("add", b.matmul(b.args[0], b.constant(RNG.standard_normal((4, 6)).astype(np.float32))),
                 b.constant(RNG.standard_normal(6).astype(np.float32)))
    if activation == "gelu":
        y = decomposed_gelu_erf(b, y)
    elif activation == "gelu_tanh":
        y = decomposed_gelu_tanh(b, y)
    elif activation == "silu":
        y = decomposed_silu(b, y)
    elif activation == "clip":
        y = b.unary("clip", y, alpha=-0.5, beta=0.5)
    else:
        y = b.unary(activation, y)
    ops = _fuse_and_compare(b.module([y]), _x((2, 3, 4)))
    assert ops[f"aic_graph.matmul/{activation}"] == 1
    assert sum(ops.values()) == 3 + 1 + 2  # module, func, return; matmul; weight, bias


@pytest.mark.parametrize("transpose_flag", [False, True])
def test_transposed_operands_are_read_with_the_transpose_flags(transpose_flag):
    """A tied embedding read as W^T (GPT-2's lm_head) and k^T of attention."""
    b = GraphBuilder([("h", (2, 3, 4)), ("k", (2, 5, 4)), ("ids", (2, 3), np.int64)])
    h, k, ids = b.args
    table = b.constant(RNG.standard_normal((7, 4)).astype(np.float32), "wte")
    w = b.transpose(table, [1, 0]) if not transpose_flag else table
    logits = b.matmul(b.binary("add", h, b.gather(table, ids)), w, transpose_b=transpose_flag)
    scores = b.matmul(h, b.transpose(k, [0, 2, 1]))
    feeds = {"h": RNG.standard_normal((2, 3, 4)).astype(np.float32), "k": RNG.standard_normal((2, 5, 4)).astype(np.float32),
             "ids": np.array([[0, 6, 2], [1, 1, 5]], np.int64)}
    ops = _fuse_and_compare(b.module([logits, scores]), feeds)
    assert ops["aic_graph.transpose"] == 0
    matmuls = [op for op in b.block.ops if isinstance(op, g.MatMulOp)]
    assert all(op.transpose_b is not None and op.transpose_b.value.data for op in matmuls)
    assert matmuls[0].b is next(op for op in b.block.ops if isinstance(op, g.GatherOp)).data


def test_attention_scores_matmul_is_not_given_a_constant_bias_twice():
    """q @ k^T + mask (a non-constant) keeps its add; softmax of it stays a softmax."""
    b = GraphBuilder([("q", (2, 4, 8)), ("k", (2, 4, 8)), ("mask", (2, 1, 4))])
    q, k, mask = b.args
    scores = b.binary("add", b.matmul(q, k, transpose_b=True), mask)
    feeds = {name: RNG.standard_normal(shape).astype(np.float32) for name, shape in
             (("q", (2, 4, 8)), ("k", (2, 4, 8)), ("mask", (2, 1, 4)))}
    ops = _fuse_and_compare(b.module([decomposed_softmax(b, scores)]), feeds)
    assert ops["aic_graph.binary.add"] == 1 and ops["aic_graph.softmax"] == 1


# -- pipeline, random graphs, models ---------------------------------------------------------------
def test_pass_is_registered_and_idempotent():
    b = GraphBuilder([("x", (2, 8))])
    y = decomposed_gelu_erf(b, b.binary("add", b.matmul(b.args[0], b.constant(np.eye(8, dtype=np.float32))),
                                        b.constant(np.ones(8, np.float32))))
    module = b.module([y])
    run_pipeline(build_pipeline("fuse-aic-graph", ALL_PASSES), module, make_context())
    assert _ops(module)["aic_graph.matmul/gelu"] == 1
    assert not fuse_aic_graph(module)


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(random_aic_graph(max_ops=6))
def test_random_graphs_keep_their_results(graph):
    module, feeds = graph
    ops = _fuse_and_compare(module, feeds, rtol=1e-5)
    assert ops["aic_graph.unary.erf"] == 0 and ops["aic_graph.unary.exp"] == 0  # every GELU / softmax fused


def _lowered(path: Path):
    module = import_model(path)
    run_pipeline(build_pipeline(LOWER, ALL_PASSES), module, make_context())
    return module


MODEL_PATHS = sorted(MODELS.glob("*.onnx"))


@needs_converter
@pytest.mark.filterwarnings("ignore:bind-symbols")
@pytest.mark.parametrize("path", MODEL_PATHS, ids=lambda p: p.stem)
def test_models_fuse_and_keep_their_results(path):
    module = _lowered(path)
    erf_before = _ops(module)["aic_graph.unary.erf"]
    feeds = random_inputs(onnx.load(path), {"batch_size": 1, "sequence": 16})
    ops = _fuse_and_compare(module, feeds, rtol=1e-5)
    family = path.stem.removesuffix("_small")
    assert ops["aic_graph.unary.erf"] == 0 and ops["aic_graph.unary.exp"] == 0
    if family in ("resnet50", "mobilenetv2"):  # BatchNormalization folded, activations fused
        assert ops["aic_graph.binary.mul"] == 0
        assert ops["aic_graph.binary.add"] == (5 if family == "resnet50" else 10)  # residual adds only
        fused = "aic_graph.conv/relu" if family == "resnet50" else "aic_graph.conv/clip"
        assert ops[fused] >= (11 if family == "resnet50" else 35)
    if family in ("bert", "vit"):  # erf GELU after a Linear: matmul + bias + gelu
        assert ops["aic_graph.matmul/gelu"] == erf_before == 2
        assert ops["aic_graph.layer_norm"] == 5 and ops["aic_graph.softmax"] == 2
    if family == "gpt2":  # tanh GELU after Gemm and a reshape: its own op
        assert ops["aic_graph.gelu"] == 2 and ops["aic_graph.binary.pow"] == 0 and ops["aic_graph.unary.tanh"] == 0
        assert ops["aic_graph.layer_norm"] == 5 and ops["aic_graph.softmax"] == 2
    if family in ("bert", "vit", "gpt2"):
        biased = sum(1 for op in module.walk() if isinstance(op, g.MatMulOp) and op.bias is not None)
        assert biased == (8 if family == "gpt2" else 13)  # every Linear / Gemm (GPT-2's lm_head has no bias)
