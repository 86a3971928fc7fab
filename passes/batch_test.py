"""batch: running the batched module on B samples concatenated along the leading axis
equals running the original on each sample; unbatchable models are one-line errors."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from xdsl.dialects.builtin import IntegerType, StringAttr

from qaicc.dialects.aic_graph import ops as g
from qaicc.errors import QaiccError
from qaicc.ir.context import make_context
from qaicc.ir.pipeline import build_pipeline, run_pipeline
from qaicc.onnx_io.importer import import_model
from qaicc.passes import ALL_PASSES
from qaicc.passes.batch import batch
from qaicc.semantics import run_module
from qaicc.semantics.runner import io_names
from qaicc.testing.aic_graph_strategies import GraphBuilder, random_aic_graph, shape
from qaicc.testing.random_inputs import random_inputs

RNG = np.random.default_rng(0)
MODELS = Path(__file__).resolve().parent.parent / "tests" / "models"
LOWER = "bind-symbols{batch_size=1 sequence=16},shape-inference,canonicalize,convert-onnx-to-aic-graph"
needs_converter = pytest.mark.skipif(
    importlib.util.find_spec("qaicc.passes.convert_onnx_to_aic_graph") is None,
    reason="convert-onnx-to-aic-graph is not installed",
)


def _sample(module, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    function = module.body.block.first_op
    names, _ = io_names(function)
    feeds = {}
    for name, type in zip(names, function.function_type.inputs.data):
        dims = tuple(type.get_shape())
        if isinstance(type.element_type, IntegerType):
            feeds[name] = rng.integers(0, 4, dims).astype(np.int64)
        else:
            feeds[name] = rng.standard_normal(dims).astype(np.float32)
    return feeds


def _check_batched(module, size: int, samples: list[dict] | None = None, rtol: float = 1e-6) -> None:
    """Batch ``module`` by ``size`` in place and compare with per-sample runs."""
    samples = samples or [_sample(module, seed) for seed in range(size)]
    singles = [run_module(module, feeds) for feeds in samples]
    signature = module.body.block.first_op.function_type
    batch(module, size)
    module.verify()
    for before, after in zip(signature.inputs.data, module.body.block.first_op.function_type.inputs.data):
        assert after.get_shape()[0] == before.get_shape()[0] * size and after.get_shape()[1:] == before.get_shape()[1:]
    stacked = {name: np.concatenate([feeds[name] for feeds in samples]) for name in samples[0]}
    outputs = run_module(module, stacked)
    for name in singles[0]:
        expected = np.concatenate([single[name] for single in singles])
        assert outputs[name].shape == expected.shape and outputs[name].dtype == expected.dtype, name
        scale = max(1.0, float(np.max(np.abs(expected)))) if expected.size else 1.0
        assert np.max(np.abs(outputs[name].astype(np.float64) - expected), initial=0.0) <= rtol * scale, name


def _w(*dims):
    return (RNG.standard_normal(dims) / np.sqrt(dims[0])).astype(np.float32)


def test_convnet():
    b = GraphBuilder([("image", (1, 3, 8, 8))])
    x = b.conv(b.args[0], b.constant(_w(4, 3, 3, 3)), b.constant(_w(4)), pads=(1, 1, 1, 1), activation="relu")
    x = b.pool(x, "max", [2, 2])
    x = b.reduce("mean", x, [2, 3], keepdims=True)
    x = b.reshape(x, (1, 4))
    logits = b.matmul(x, b.constant(_w(4, 5)), bias=b.constant(_w(5)))
    module = b.module([b.softmax(logits, 1)])
    _check_batched(module, 4)
    assert shape(module.body.block.first_op.body.block.last_op.operands[0]) == (4, 5)


def test_transformer_block():
    """Reshape to heads, transpose, attention, layer norm: the batch stays outermost."""
    b = GraphBuilder([("h", (1, 6, 8)), ("mask", (1, 6), np.int64)])
    h, mask = b.args
    q = b.transpose(b.reshape(b.matmul(h, b.constant(_w(8, 8))), (1, 6, 2, 4)), [0, 2, 1, 3])
    k = b.transpose(b.reshape(b.matmul(h, b.constant(_w(8, 8))), (1, 6, 2, 4)), [0, 2, 3, 1])
    bias = b.binary("mul", b.reshape(b.cast(mask, np.float32), (1, 1, 1, 6)), b.scalar(-100.0))
    scores = b.binary("add", b.binary("mul", b.matmul(q, k), b.scalar(0.5)), bias)
    context = b.matmul(b.softmax(scores, -1), q)
    merged = b.reshape(b.transpose(context, [0, 2, 1, 3]), (1, 6, 8))
    out = b.layer_norm(b.binary("add", merged, h), b.constant(np.ones(8, np.float32)))
    module = b.module([out, b.reduce("max", out, [1], keepdims=False)])
    _check_batched(module, 3)


def test_flattening_the_batch_into_rows_for_a_gemm():
    """GPT-2 style: [1, 16, 8] -> [16, 8] @ W -> [1, 16, 4]: rows of all samples."""
    b = GraphBuilder([("x", (1, 5, 8))])
    rows = b.matmul(b.reshape(b.args[0], (5, 8)), b.constant(_w(8, 4)), bias=b.constant(_w(4)))
    module = b.module([b.reshape(rows, (1, 5, 4))])
    _check_batched(module, 3)
    matmul = next(op for op in module.walk() if isinstance(op, g.MatMulOp))
    assert shape(matmul.a) == (15, 8)


def test_embedding_lookup_and_position_constants():
    b = GraphBuilder([("ids", (1, 4), np.int64)])
    table = b.constant(_w(10, 6))
    positions = b.constant(_w(1, 4, 6))  # unbatched, broadcast over the batch
    module = b.module([b.binary("add", b.gather(table, b.args[0]), positions)])
    _check_batched(module, 5)


def test_concat_with_a_constant_token_tiles_it():
    """ViT's class token: a [1, 1, D] constant concatenated to the patches."""
    b = GraphBuilder([("patches", (1, 3, 4))])
    token = b.constant(_w(1, 1, 4), "cls_token")
    module = b.module([b.concat([token, b.args[0]], 1)])
    _check_batched(module, 3)
    assert any(isinstance(op, g.TileOp) for op in module.walk())


def test_slice_expand_and_constant_output():
    b = GraphBuilder([("x", (1, 6))])
    x = b.args[0]
    sliced = b.slice(x, [0, 1], [1, 5], [0, 1])
    expanded = b.expand(b.reshape(sliced, (1, 1, 4)), (1, 3, 4))
    constant_output = b.binary("add", b.constant(_w(1, 2)), b.constant(_w(1, 2)))
    module = b.module([expanded, constant_output], ["expanded", "constant"])
    _check_batched(module, 2)
    slice_op = next(op for op in module.walk() if isinstance(op, g.SliceOp))
    assert slice_op.int_list("ends")[0] >= 2


def test_size_one_is_a_no_op_and_bad_sizes_are_errors():
    b = GraphBuilder([("x", (1, 2))])
    module = b.module([b.unary("relu", b.args[0])])
    batch(module, 1)
    assert str(module.body.block.first_op.function_type.inputs.data[0]) == "tensor<1x2xf32>"
    with pytest.raises(QaiccError, match=r"batch: size must be a positive integer, got 0"):
        batch(module, 0)
    with pytest.raises(QaiccError, match="bad option for pass 'batch'"):
        build_pipeline("batch{size=eight}", ALL_PASSES)


def _reduce_over_batch(b, x):
    return b.reduce("sum", x, [0])


def _reshape_mixing(b, x):
    return b.reshape(b.transpose(x, [1, 0]), (6,))


def _softmax_over_batch(b, x):
    return b.softmax(x, 0)


def _concat_on_batch(b, x):
    return b.concat([x, x], 0)


def _broadcast_against_constant(b, x):
    return b.binary("add", x, b.constant(_w(2, 3)))


@pytest.mark.parametrize("build,message", [
    (_reduce_over_batch, r"batch: cannot batch 'aic_graph.reduce' \('bad'\): it reduces over the batch axis; "
                         r"the batch dimension cannot be identified"),
    (_reshape_mixing, r"cannot batch 'aic_graph.reshape' \('bad'\): it mixes the batch dimension with other "
                      r"dimensions \(\[3, 2\] -> \[6\]\)"),
    (_softmax_over_batch, r"cannot batch 'aic_graph.softmax' \('bad'\): it normalizes over the batch axis"),
    (_concat_on_batch, r"cannot batch 'aic_graph.concat' \('bad'\): it concatenates along the batch axis"),
    (_broadcast_against_constant, r"cannot batch 'aic_graph.binary' \('bad'\): operand 1 is not batched but has "
                                  r"size 2 along the batch axis"),
])
def test_unidentifiable_batch_is_an_error_naming_the_op(build, message):
    b = GraphBuilder([("x", (2, 3))])
    y = build(b, b.args[0])
    y.owner.attributes["onnx_node_name"] = StringAttr("bad")
    module = b.module([y])
    with pytest.raises(QaiccError, match=message):
        run_pipeline(build_pipeline("batch{size=4}", ALL_PASSES), module, make_context())


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(random_aic_graph(max_ops=6, batch_safe=True))
def test_random_graphs_batch(graph):
    module, feeds = graph
    samples = [feeds] + [{"x": np.random.default_rng(seed).standard_normal(feeds["x"].shape).astype(np.float32)}
                         for seed in (1, 2)]
    _check_batched(module, 3, samples, rtol=1e-5)


@needs_converter
@pytest.mark.filterwarnings("ignore:bind-symbols")
@pytest.mark.parametrize("path", sorted(MODELS.glob("*.onnx")), ids=lambda p: p.stem)
def test_models_batch(path):
    model = onnx.load(path)
    module = import_model(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_pipeline(build_pipeline(LOWER + ",fuse-aic-graph", ALL_PASSES), module, make_context())
    samples = [random_inputs(model, {"batch_size": 1, "sequence": 16}, seed=seed) for seed in range(3)]
    _check_batched(module, 3, samples, rtol=1e-5)
