"""ols-split: each core's block in K pieces (or the largest divisor below K) along a
parallel axis, more pieces where a tile would not fit VTCM (doubled with two in
flight), an error for an op that never fits; a larger K lowers the estimated idle
time; the aic-core program still computes the same."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from xdsl.dialects.builtin import IntegerAttr, StringAttr, i64

from qaicc.cost.partition_cost import OpInfo, estimate_module, partition_cost
from qaicc.dialects.aic_core import ops as c
from qaicc.dialects.aic_core.partition import read_partition
from qaicc.dialects.aic_graph import ops as g
from qaicc.errors import QaiccError
from qaicc.hardware import load_target
from qaicc.testing.multicore import GraphBuilder, check_blocks, lowered, run_passes, same_outputs

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "tests" / "models"
RNG = np.random.default_rng(0)

pytestmark = pytest.mark.filterwarnings("ignore:bind-symbols")


def _relu(shape):
    b = GraphBuilder(shape)
    y = b.op(g.UnaryOp, [b.args[0]], shape, "relu", kind=StringAttr("relu"))
    return b.module(y)


def _matmul(rows: int, k: int, n: int):
    b = GraphBuilder((rows, k))
    w = b.constant(RNG.standard_normal((k, n)).astype(np.float32), "w")
    y = b.op(g.MatMulOp, [b.args[0], w, []], (rows, n), "mm")
    return b.module(y)


def _only(module, kind):
    return next(op for op in module.walk() if isinstance(op, kind))


def _tiny_target(tmp_path, vtcm: int) -> str:
    data = json.loads((ROOT / "qaicc/hardware/targets/ai100-pro.json").read_text())
    data.update(name="tiny", vtcm_usable_bytes=vtcm)
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(data))
    return str(path)


def test_factor_must_be_positive():
    with pytest.raises(QaiccError, match="ols-split: factor must be at least 1, got 0"):
        run_passes(_relu((8, 8)), "ols-split{factor=0}")


@pytest.mark.parametrize("rows,factor,tiles", [(8, 2, 2), (8, 4, 4), (6, 4, 3), (7, 4, 1), (1, 3, 1)])
def test_pieces_are_the_largest_divisor_up_to_the_factor(rows, factor, tiles):
    module = _relu((rows, 5))  # 5 columns: only the rows give the pieces
    run_passes(module, f"partition-cores,ols-split{{factor={factor}}}")
    partition = read_partition(_only(module, g.UnaryOp))
    assert (partition.tiles, partition.tile_axis, partition.ols) == (tiles, 0 if tiles > 1 else partition.tile_axis,
                                                                     factor)


def test_pieces_cut_the_block_of_each_core():
    module = _relu((16, 64))
    run_passes(module, "partition-cores{num-cores=4},ols-split{factor=4}")
    op = _only(module, g.UnaryOp)
    check_blocks(op)
    partition = read_partition(op)
    assert partition.tiles == 4 and partition.blocks[0].sizes[partition.tile_axis] % 4 == 0


@pytest.mark.parametrize("rows,n,axis", [(1024, 16, 0), (16, 1024, 1)])
def test_a_matmul_streams_its_larger_operand(rows, n, axis):
    """Tiles along the rows hold the weight and stream the input; along the channels
    they hold the input and stream the weight: the larger one is better streamed,
    its load overlapping the compute."""
    module = _matmul(rows, 256, n)
    run_passes(module, "ols-split{factor=2}")
    partition = read_partition(_only(module, g.MatMulOp))
    assert (partition.tiles, partition.tile_axis) == (2, axis)


def test_without_partition_the_op_runs_whole_on_core_zero():
    module = _relu((8, 8))
    run_passes(module, "ols-split{factor=2}")
    partition = read_partition(_only(module, g.UnaryOp))
    assert partition.cores == [0] and partition.tiles == 2


def test_tiles_grow_until_a_tile_fits_with_double_buffering(tmp_path):
    target = _tiny_target(tmp_path, vtcm=64 * 1024)
    module = _relu((64, 256))  # 64 KiB in, 64 KiB out
    run_passes(module, f"ols-split{{factor=2 target=\"{target}\"}}")
    op = _only(module, g.UnaryOp)
    partition = read_partition(op)
    # 2 tiles: 2 x (32 + 32) KiB > 64 KiB; 4 tiles: 2 x (16 + 16) KiB fits
    assert (partition.tiles, partition.ols) == (4, 2)
    info = OpInfo(op, load_target(target))
    assert partition_cost(info, partition).working_set_bytes <= 64 * 1024


def test_an_op_that_never_fits_is_an_error(tmp_path):
    target = _tiny_target(tmp_path, vtcm=16 * 1024)
    b = GraphBuilder((1, 4096))  # one softmax row of 16 KiB: no axis to cut
    y = b.op(g.SoftmaxOp, [b.args[0]], (1, 4096), "the_softmax", axis=IntegerAttr(1, i64))
    module = b.module(y)
    with pytest.raises(QaiccError, match=r"op 'the_softmax' \(aic_graph.softmax\) needs at least 32768 bytes "
                                         r"\(0.0 MiB\) of VTCM per core under any tiling, more than the 16384 bytes"):
        run_passes(module, f"ols-split{{factor=1 target=\"{target}\"}}")


def test_mos_tiles_are_kept():
    module = _matmul(64, 256, 256)
    run_passes(module, "partition-cores")
    op = _only(module, g.MatMulOp)
    op.attributes["aic.tiles"] = IntegerAttr(8, i64)
    op.attributes["aic.tile_axis"] = IntegerAttr(1, i64)
    run_passes(module, "ols-split{factor=2}")
    partition = read_partition(op)
    assert (partition.tiles, partition.tile_axis, partition.ols) == (8, 1, 2)


@pytest.mark.parametrize("name", ["bert_small", "resnet50_small"])
def test_a_larger_factor_lowers_the_idle_time(name):
    idle = {}
    for factor in (1, 2, 4):
        module, _ = lowered(MODELS / f"{name}.onnx")
        run_passes(module, f"partition-cores{{num-cores=4}},ols-split{{factor={factor}}}")
        idle[factor] = estimate_module(module).idle_seconds
    assert idle[1] > idle[2] > idle[4], idle


@pytest.mark.parametrize("name", ["bert_small", "gpt2_small", "mobilenetv2_small"])
@pytest.mark.parametrize("factor", [2, 4])
def test_models_match_aic_graph(name, factor):
    module, feeds = lowered(MODELS / f"{name}.onnx")
    spec = f"partition-cores{{num-cores=2}},ols-split{{factor={factor}}},convert-aic-graph-to-aic-core"
    assert same_outputs(module, feeds, spec) <= 1e-3
    tasks = [op for op in module.walk() if isinstance(op, c.TaskOp)]
    assert any(t.tiles.value.data == factor and t.ols.value.data == factor for t in tasks)
