"""mos: weight-carrying ops are cut along their output channels so that each core holds
a share of the weight; raising the effort never raises the largest per-core need and
lowers it on weight-heavy layers; at effort >= 2 an op that does not fit VTCM is
tiled; the aic-core program still computes the same."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from xdsl.dialects.builtin import IntegerAttr, i64

from qaicc.cost.partition_cost import OpInfo, estimate_module, operand_block_bytes, partition_cost
from qaicc.dialects.aic_core.partition import read_partition
from qaicc.dialects.aic_graph import ops as g
from qaicc.errors import QaiccError
from qaicc.hardware import load_target
from qaicc.passes.mos import carries_weight
from qaicc.testing.partitions import split_evenly
from qaicc.testing.multicore import GraphBuilder, check_blocks, lowered, run_passes, same_outputs

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "tests" / "models"
RNG = np.random.default_rng(0)

pytestmark = pytest.mark.filterwarnings("ignore:bind-symbols")


def _matmul(rows: int, k: int, n: int):
    b = GraphBuilder((rows, k))
    w = b.constant(RNG.standard_normal((k, n)).astype(np.float32), "w")
    y = b.op(g.MatMulOp, [b.args[0], w, []], (rows, n), "mm")
    return b.module(y)


def _matmul_op(module) -> g.MatMulOp:
    return next(op for op in module.walk() if isinstance(op, g.MatMulOp))


def _tiny_target(tmp_path, vtcm: int, cores: int = 4) -> str:
    data = json.loads((ROOT / "qaicc/hardware/targets/ai100-pro.json").read_text())
    data.update(name="tiny", cores=cores, vtcm_usable_bytes=vtcm)
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(data))
    return str(path)


def test_effort_must_be_positive():
    with pytest.raises(QaiccError, match="mos: effort must be at least 1, got 0"):
        run_passes(_matmul(8, 8, 8), "partition-cores{num-cores=2},mos{effort=0}")


def test_effort_one_keeps_the_partition():
    module = _matmul(2048, 1024, 1024)
    run_passes(module, "partition-cores{num-cores=16}")
    before = dict(_matmul_op(module).attributes)
    run_passes(module, "mos{effort=1}")
    assert dict(_matmul_op(module).attributes) == before


def test_without_a_partition_it_partitions_over_up_to_m_cores():
    module = _matmul(64, 256, 256)
    run_passes(module, "mos{effort=4}")
    assert module.attributes["aic.num_cores"] == IntegerAttr(4, i64)
    check_blocks(_matmul_op(module))


def test_weight_heavy_layer_holds_a_share_of_the_weight():
    """Row-split over 16 cores, every core holds the whole 4 MiB weight; mos cuts the
    weight among groups of cores."""
    module = _matmul(2048, 1024, 1024)
    split_evenly(module, 16, prefer="rows")
    module.attributes["aic.num_cores"] = IntegerAttr(16, i64)
    op = _matmul_op(module)
    hw = load_target(None)
    info = OpInfo(op, hw)
    row_split = read_partition(op)
    assert row_split.channel_split == 1
    before = partition_cost(info, row_split).block_bytes
    run_passes(module, "mos{effort=16}")
    grid = read_partition(op)
    check_blocks(op)
    assert grid.channel_split >= 2 and len(grid.blocks) == 16
    block = grid.blocks[0]
    weight_share = operand_block_bytes(info, block.offsets, block.sizes)[1]
    assert weight_share == 1024 * 1024 * 4 // grid.channel_split
    assert partition_cost(info, grid).block_bytes < before


def test_channel_split_is_at_most_the_effort():
    for effort in (2, 4):
        module = _matmul(2048, 1024, 1024)
        run_passes(module, f"partition-cores{{num-cores=16}},mos{{effort={effort}}}")
        assert 2 <= read_partition(_matmul_op(module)).channel_split <= effort


def _max_block(module_factory, cores: int, effort: int) -> int:
    module = module_factory()
    run_passes(module, f"partition-cores{{num-cores={cores}}},mos{{effort={effort}}}")
    return estimate_module(module).max_block_bytes


@pytest.mark.parametrize("name", ["matmul", "bert_small", "resnet50_small", "gpt2_small"])
def test_raising_the_effort_never_raises_the_largest_need(name):
    if name == "matmul":
        factory = lambda: _matmul(2048, 1024, 1024)
    else:
        factory = lambda: lowered(MODELS / f"{name}.onnx")[0]
    needs = [_max_block(factory, 16, effort) for effort in (1, 2, 4, 8, 16)]
    assert all(a >= b for a, b in zip(needs, needs[1:])), needs
    if name == "matmul":
        assert needs[-1] < needs[0]


def test_which_ops_carry_a_weight():
    module, _ = lowered(MODELS / "bert_small.onnx")
    matmuls = [op for op in module.walk() if isinstance(op, g.MatMulOp)]
    carrying = [op for op in matmuls if carries_weight(op)]
    assert 0 < len(carrying) < len(matmuls)  # attention's q @ k carries none
    run_passes(module, "mxfp6-weights")
    assert [carries_weight(op) for op in module.walk() if isinstance(op, g.MatMulOp)] == \
        [carries_weight(op) for op in matmuls]


def test_high_effort_tiles_what_does_not_fit(tmp_path):
    target = _tiny_target(tmp_path, vtcm=96 * 1024)
    module = _matmul(64, 256, 256)  # 256 KiB of weight
    feeds = [RNG.standard_normal((64, 256)).astype(np.float32)]
    run_passes(module, f"partition-cores{{num-cores=2 target=\"{target}\"}}")
    op = _matmul_op(module)
    info = OpInfo(op, load_target(target))
    assert partition_cost(info, read_partition(op)).working_set_bytes > 96 * 1024
    run_passes(module, "mos{effort=2}")
    partition = read_partition(op)
    check_blocks(op)
    assert partition.tiles > 1
    assert partition_cost(info, partition).working_set_bytes <= 96 * 1024
    assert same_outputs(module, feeds, "ols-split,convert-aic-graph-to-aic-core") <= 1e-5


@pytest.mark.parametrize("name", ["bert_small", "resnet50_small"])
@pytest.mark.parametrize("effort", [2, 16])
def test_models_match_aic_graph(name, effort):
    module, feeds = lowered(MODELS / f"{name}.onnx")
    spec = f"partition-cores{{num-cores=16}},mos{{effort={effort}}},convert-aic-graph-to-aic-core"
    assert same_outputs(module, feeds, spec) <= 1e-3


BERT = ROOT / ".cache" / "models" / "bert.onnx"


@pytest.mark.slow
@pytest.mark.skipif(not BERT.exists(), reason="full-size BERT not downloaded")
def test_bert_base_need_falls_with_the_effort():
    needs = [_max_block(lambda: lowered(BERT, 1, 128)[0], 16, effort) for effort in (1, 2, 4, 16)]
    assert all(a >= b for a, b in zip(needs, needs[1:])) and needs[-1] < needs[0], needs
