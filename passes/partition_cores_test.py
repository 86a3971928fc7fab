"""partition-cores: every task op's output is cut into equal blocks that cover it, on
distinct cores, chosen by cost; the aic-core program computes what the aic-graph
module computes for any number of cores (with mos and ols-split after it); more cores
lower the estimated critical path."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import numpy as np
import pytest
from xdsl.dialects.builtin import FloatAttr, IntegerAttr, StringAttr, f32, i64

from qaicc.cost.partition_cost import estimate_module, fused_dequantized, is_task, main_graph
from qaicc.dialects.aic_core import ops as c
from qaicc.dialects.aic_core.partition import read_partition
from qaicc.dialects.aic_graph import ops as g
from qaicc.errors import QaiccError
from qaicc.ir.pipeline import build_pipeline
from qaicc.passes import ALL_PASSES
from qaicc.passes.partition_cores import PartitionCoresPass
from qaicc.testing.multicore import GraphBuilder, check_blocks, lowered, run_passes, same_outputs

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "tests" / "models"
SMALL_MODELS = ["bert_small", "resnet50_small", "mobilenetv2_small", "gpt2_small", "vit_small"]
RNG = np.random.default_rng(0)

pytestmark = pytest.mark.filterwarnings("ignore:bind-symbols")


def _matmul(rows: int, k: int, n: int):
    b = GraphBuilder((rows, k))
    w = b.constant(RNG.standard_normal((k, n)).astype(np.float32), "w")
    y = b.op(g.MatMulOp, [b.args[0], w, []], (rows, n), "mm")
    return b.module(y)


def _ops(module, kind):
    return [op for op in module.walk() if isinstance(op, kind)]


def _tasks(module):
    function = main_graph(module, "test")
    fused = fused_dequantized(function)
    return [op for op in function.body.block.ops if is_task(op, fused)]


# -- options and errors -----------------------------------------------------------------


def test_pipeline_spelling_and_defaults():
    [pass_] = build_pipeline("partition-cores{num-cores=7 target=ai100-standard}", ALL_PASSES)
    assert isinstance(pass_, PartitionCoresPass)
    assert (pass_.num_cores, pass_.target) == (7, "ai100-standard")
    [default] = build_pipeline("partition-cores", ALL_PASSES)
    assert (default.num_cores, default.target) == (1, None)


@pytest.mark.parametrize("spec,message", [
    ("partition-cores{num-cores=0}", "num-cores must be between 1 and 16 on ai100-pro, got 0"),
    ("partition-cores{num-cores=17}", "num-cores must be between 1 and 16 on ai100-pro, got 17"),
    ("partition-cores{num-cores=15 target=ai100-standard}", "between 1 and 14 on ai100-standard, got 15"),
    ("partition-cores{num-cores=2 target=ai300}", "unknown hardware version 'ai300'"),
])
def test_bad_options(spec, message):
    with pytest.raises(QaiccError, match=message):
        run_passes(_matmul(8, 8, 8), spec)


def test_onnx_level_module_is_refused():
    from qaicc.onnx_io.importer import import_model

    module = import_model(MODELS / "bert_small.onnx")
    with pytest.raises(QaiccError, match="not aic_graph ops .* convert-onnx-to-aic-graph first"):
        run_passes(module, "partition-cores{num-cores=2}")


# -- what it writes ---------------------------------------------------------------------


@pytest.mark.parametrize("name", SMALL_MODELS)
@pytest.mark.parametrize("cores", [2, 7, 16])
def test_blocks_are_equal_and_cover_every_output(name, cores):
    module, _ = lowered(MODELS / f"{name}.onnx")
    run_passes(module, f"partition-cores{{num-cores={cores}}}")
    assert module.attributes["aic.num_cores"] == IntegerAttr(cores, i64)
    assert module.attributes["aic.target"] == StringAttr("ai100-pro")
    tasks = _tasks(module)
    for op in main_graph(module, "test").body.block.ops:
        assert ("aic.blocks" in op.attributes) == (op in tasks), op.name
    for op in tasks:
        check_blocks(op)
        assert all(0 <= b.core < cores for b in read_partition(op).blocks)


def test_convert_takes_the_recorded_number_of_cores():
    module = _matmul(4, 8, 8)  # too small to use 7 cores
    run_passes(module, "partition-cores{num-cores=7},convert-aic-graph-to-aic-core")
    assert len(_ops(module, c.ProgramOp)) == 7
    module = _matmul(4, 8, 8)
    run_passes(module, "partition-cores{num-cores=7},convert-aic-graph-to-aic-core{num-cores=9}")
    assert len(_ops(module, c.ProgramOp)) == 9


def test_weight_heavy_matmul_cuts_channels_and_row_heavy_cuts_rows():
    weighty = _matmul(16, 1024, 1024)
    run_passes(weighty, "partition-cores{num-cores=4}")
    partition = read_partition(_ops(weighty, g.MatMulOp)[0])
    assert partition.channel_split == 4 and partition.blocks[0].sizes == [16, 256]
    rowy = _matmul(8192, 16, 16)
    run_passes(rowy, "partition-cores{num-cores=4}")
    partition = read_partition(_ops(rowy, g.MatMulOp)[0])
    assert partition.channel_split == 1 and partition.blocks[0].sizes == [2048, 16]


def test_cores_that_would_get_nothing_stay_idle():
    b = GraphBuilder((1, 7))
    y = b.op(g.UnaryOp, [b.args[0]], (1, 7), "relu", kind=StringAttr("relu"))
    module = b.module(y)
    run_passes(module, "partition-cores{num-cores=4}")
    assert len(read_partition(_ops(module, g.UnaryOp)[0]).blocks) == 1  # 7 rows do not split in 2, 3 or 4
    b = GraphBuilder((6, 64))
    y = b.op(g.UnaryOp, [b.args[0]], (6, 64), "relu", kind=StringAttr("relu"))
    module = b.module(y)
    run_passes(module, "partition-cores{num-cores=16}")
    op = _ops(module, g.UnaryOp)[0]
    check_blocks(op)
    assert len(read_partition(op).blocks) <= 16


def test_independent_whole_ops_land_on_different_cores():
    b = GraphBuilder((1, 64), (1, 64))
    ops = []
    for index, arg in enumerate(b.args):  # a softmax of one row has no parallel axis
        ops.append(b.op(g.SoftmaxOp, [arg], (1, 64), f"softmax{index}", axis=IntegerAttr(1, i64)))
    y = b.op(g.BinaryOp, ops, (1, 64), "add", kind=StringAttr("add"))
    module = b.module(y)
    run_passes(module, "partition-cores{num-cores=2}")
    cores = [read_partition(op).cores for op in _ops(module, g.SoftmaxOp)]
    assert cores == [[0], [1]]


def test_an_elementwise_chain_keeps_its_split():
    b = GraphBuilder((64, 64))
    value = b.args[0]
    for index in range(4):
        value = b.op(g.UnaryOp, [value], (64, 64), f"u{index}", kind=StringAttr("relu"))
    module = b.module(value)
    run_passes(module, "partition-cores{num-cores=8}")
    partitions = [read_partition(op) for op in _ops(module, g.UnaryOp)]
    assert all(p.blocks == partitions[0].blocks for p in partitions)


def test_mxfp6_weight_dequantize_is_not_a_task():
    module, _ = lowered(MODELS / "bert_small.onnx")
    run_passes(module, "mxfp6-weights,partition-cores{num-cores=4}")
    dequantizes = _ops(module, g.DequantizeOp)
    assert dequantizes and all("aic.blocks" not in op.attributes for op in dequantizes)


# -- the estimate -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["bert_small", "resnet50_small"])
def test_more_cores_lower_the_critical_path(name):
    paths = {}
    for cores in (1, 2, 4, 16):
        module, _ = lowered(MODELS / f"{name}.onnx")
        run_passes(module, f"partition-cores{{num-cores={cores}}}")
        paths[cores] = estimate_module(module).critical_path_seconds
    assert paths[1] > paths[2] >= paths[4] >= paths[16], paths


# -- the aic-core program computes the same -----------------------------------------------


def _spec(cores: int, ols: int, mos: int) -> str:
    return (f"partition-cores{{num-cores={cores}}},mos{{effort={mos}}},ols-split{{factor={ols}}},"
            "convert-aic-graph-to-aic-core")


CI_COMBINATIONS = [(1, 1, 1), (2, 2, 2), (7, 4, 7), (16, 2, 16)]


@pytest.mark.parametrize("name", SMALL_MODELS)
@pytest.mark.parametrize("cores,ols,mos", CI_COMBINATIONS)
def test_models_match_aic_graph(name, cores, ols, mos):
    module, feeds = lowered(MODELS / f"{name}.onnx")
    assert same_outputs(module, feeds, _spec(cores, ols, mos)) <= 1e-3
    assert len(_ops(module, c.ProgramOp)) == cores


@pytest.mark.slow
@pytest.mark.parametrize("name", SMALL_MODELS)
def test_models_match_aic_graph_full_grid(name):
    for cores, ols, mos in itertools.product((1, 2, 4, 7, 16), (1, 2, 4), ("1", "2", "cores")):
        effort = cores if mos == "cores" else int(mos)
        module, feeds = lowered(MODELS / f"{name}.onnx")
        error = same_outputs(module, feeds, _spec(cores, ols, effort))
        assert error <= 1e-3, (cores, ols, effort, error)


def test_fp16_model_matches():
    module, feeds = lowered(MODELS / "resnet50_small.onnx")
    run_passes(module, "fuse-aic-graph,legalize-fp16")
    assert same_outputs(module, feeds, _spec(4, 2, 4)) <= 1e-3


@pytest.mark.parametrize("spec", [
    "partition-cores{num-cores=3}",
    "partition-cores{num-cores=3},mos{effort=3},ols-split{factor=2}",
])
def test_hand_built_ops_match(spec):
    """A conv with bias and activation, depthwise conv, pooling, a gather, a layer norm."""
    b = GraphBuilder((2, 6, 12, 12))
    x = b.args[0]
    w = b.constant(RNG.standard_normal((12, 6, 3, 3)).astype(np.float32), "w")
    bias = b.constant(RNG.standard_normal(12).astype(np.float32), "bias")
    conv = lambda strides, pads: dict(strides=_ints(strides), pads=_ints(pads), dilations=_ints([1, 1]))
    y = b.op(g.ConvOp, [x, w, bias], (2, 12, 12, 12), "conv", group=IntegerAttr(1, i64),
             activation=StringAttr("relu"), **conv([1, 1], [1, 1, 1, 1]))
    dw = b.constant(RNG.standard_normal((12, 1, 3, 3)).astype(np.float32), "dw")
    y = b.op(g.ConvOp, [y, dw, []], (2, 12, 6, 6), "depthwise", group=IntegerAttr(12, i64), **conv([2, 2], [1, 1, 1, 1]))
    y = b.op(g.PoolOp, [y], (2, 12, 3, 3), "pool", kind=StringAttr("max"), kernel=_ints([2, 2]),
             strides=_ints([2, 2]), pads=_ints([0, 0, 0, 0]), dilations=_ints([1, 1]))
    scale = b.constant(RNG.standard_normal(3).astype(np.float32), "scale")
    y = b.op(g.LayerNormOp, [y, scale, []], (2, 12, 3, 3), "norm", axis=IntegerAttr(3, i64),
             epsilon=FloatAttr(1e-5, f32))
    module = b.module(y)
    feeds = [RNG.standard_normal((2, 6, 12, 12)).astype(np.float32)]
    assert same_outputs(module, feeds, spec + ",convert-aic-graph-to-aic-core") <= 1e-5


def _ints(values):
    from qaicc.dialects.aic_core.partition import _array

    return _array(values)


# -- full size ----------------------------------------------------------------------------

BERT = ROOT / ".cache" / "models" / "bert.onnx"


@pytest.mark.slow
@pytest.mark.skipif(not BERT.exists(), reason="full-size BERT not downloaded")
def test_bert_base_to_aic_core_on_16_cores_in_under_10_seconds():
    """Import, front end, the three passes and the conversion: the whole pipeline (CPU
    time of this process, which other jobs on the machine do not inflate)."""
    from qaicc.onnx_io.importer import import_model

    start, wall = time.process_time(), time.perf_counter()
    module = import_model(BERT)
    run_passes(module, "bind-symbols{batch_size=1 sequence=128},shape-inference,canonicalize,"
                       "convert-onnx-to-aic-graph," + _spec(16, 2, 16))
    seconds, wall = time.process_time() - start, time.perf_counter() - wall
    assert len(_ops(module, c.ProgramOp)) == 16
    assert seconds < 10, f"{seconds:.1f} s of CPU ({wall:.1f} s wall)"


@pytest.mark.slow
@pytest.mark.skipif(not BERT.exists(), reason="full-size BERT not downloaded")
@pytest.mark.parametrize("name", ["bert", "resnet50"])
def test_full_size_models_more_cores_lower_the_critical_path(name):
    paths = {}
    for cores in (1, 2, 4, 16):
        module, _ = lowered(ROOT / ".cache" / "models" / f"{name}.onnx", 1, 128)
        run_passes(module, f"partition-cores{{num-cores={cores}}}")
        paths[cores] = estimate_module(module).critical_path_seconds
    assert paths[1] > paths[2] > paths[4] >= paths[16], paths
