"""qaicc.cost.partition_cost: working sets and times of blocks, tiles and modules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from xdsl.dialects.builtin import IntegerAttr, StringAttr, i64

from qaicc.cost.model import compute_seconds, dma_seconds, pipelined_seconds
from qaicc.cost.partition_cost import (
    OpInfo,
    Split,
    estimate_module,
    operand_block_bytes,
    splits,
    task_cost,
)
from qaicc.dialects.aic_core.partition import CoreBlock, Partition, write_partition
from qaicc.dialects.aic_graph import ops as g
from qaicc.dialects.aic_graph.types import MXFP6Type
from qaicc.hardware import load_target
from qaicc.testing.multicore import GraphBuilder, lowered, run_passes

MODELS = Path(__file__).resolve().parent.parent / "models"
HW = load_target(None)
RNG = np.random.default_rng(0)


def _matmul(rows=64, k=256, n=128):
    b = GraphBuilder((rows, k))
    w = b.constant(RNG.standard_normal((k, n)).astype(np.float32), "w")
    b.op(g.MatMulOp, [b.args[0], w, []], (rows, n), "mm")
    module = b.module(b.block.last_op.results[0])
    return module, next(op for op in module.walk() if isinstance(op, g.MatMulOp))


def test_a_block_needs_its_operand_blocks_and_its_output():
    _, op = _matmul()
    info = OpInfo(op, HW)
    whole = task_cost(info, [0, 0], [64, 128])
    assert whole.block_bytes == whole.working_set_bytes == 4 * (64 * 256 + 256 * 128 + 64 * 128)
    rows = task_cost(info, [32, 0], [32, 128])  # half the rows: all of the weight
    assert rows.block_bytes == 4 * (32 * 256 + 256 * 128 + 32 * 128)
    channels = task_cost(info, [0, 64], [64, 64])  # half the channels: all of the input
    assert channels.block_bytes == 4 * (64 * 256 + 256 * 64 + 64 * 64)
    assert operand_block_bytes(info, [0, 64], [64, 64]) == [4 * 64 * 256, 4 * 256 * 64]


def test_tiles_hold_what_does_not_change_and_double_buffer_the_rest():
    _, op = _matmul()
    info = OpInfo(op, HW)
    weight, rows_in, rows_out = 4 * 256 * 128, 4 * 32 * 256, 4 * 32 * 128
    one_in_flight = task_cost(info, [0, 0], [64, 128], tiles=2, tile_axis=0, ols=1)
    assert one_in_flight.working_set_bytes == weight + rows_in + rows_out
    two_in_flight = task_cost(info, [0, 0], [64, 128], tiles=2, tile_axis=0, ols=2)
    assert two_in_flight.working_set_bytes == weight + 2 * (rows_in + rows_out)
    assert two_in_flight.block_bytes == one_in_flight.block_bytes == task_cost(info, [0, 0], [64, 128]).block_bytes
    assert two_in_flight.load_bytes == weight + 2 * rows_in  # the weight once, the rows per tile


def test_time_is_the_pipelined_cost_model():
    _, op = _matmul()
    info = OpInfo(op, HW)
    cost = task_cost(info, [0, 0], [64, 128], tiles=4, tile_axis=0, ols=2, sharing=3)
    held = dma_seconds(4 * 256 * 128, HW, 3)
    load, store = dma_seconds(4 * 16 * 256, HW, 3), dma_seconds(4 * 16 * 128, HW, 3)
    compute = compute_seconds(op, HW) / 4
    assert cost.seconds == pytest.approx(held + pipelined_seconds(load, compute, store, 4, 2))
    serial = task_cost(info, [0, 0], [64, 128], tiles=4, tile_axis=0, ols=1, sharing=3)
    assert serial.seconds == pytest.approx(held + 4 * (load + compute + store))
    assert cost.idle_seconds < serial.idle_seconds


def test_a_gather_fetches_rows_not_the_table():
    b = GraphBuilder((1, 16), dtype=np.int64)
    table = b.constant(RNG.standard_normal((30000, 64)).astype(np.float32), "table")
    y = b.op(g.GatherOp, [table, b.args[0]], (1, 16, 64), "embed", dtype=np.float32, axis=IntegerAttr(0, i64))
    module = b.module(y)
    op = next(op for op in module.walk() if isinstance(op, g.GatherOp))
    cost = task_cost(OpInfo(op, HW), [0, 0, 0], [1, 16, 64])
    assert cost.block_bytes == 4 * 16 * 64 + 8 * 16 + 4 * 16 * 64


@pytest.mark.filterwarnings("ignore:bind-symbols")
def test_an_mxfp6_weight_loads_as_mxfp6():
    module, _ = lowered(MODELS / "bert_small.onnx")
    run_passes(module, "mxfp6-weights")
    op = next(op for op in module.walk() if isinstance(op, g.MatMulOp) and isinstance(op.b.owner, g.DequantizeOp))
    from qaicc.cost.partition_cost import fused_dequantized, main_graph

    info = OpInfo(op, HW, fused_dequantized(main_graph(module, "test")))
    shape = list(op.results[0].type.get_shape())
    weight = int(np.prod(op.b.type.get_shape()))
    assert operand_block_bytes(info, [0] * len(shape), shape)[1] == MXFP6Type.bytes_for(weight)


def test_splits_use_at_most_the_cores_and_cut_evenly():
    _, op = _matmul(rows=48, n=96)
    info = OpInfo(op, HW)
    found = splits(info, 16)
    assert Split() in found and Split(((1, 16),)) in found and Split(((1, 2), (0, 8))) in found
    for split in found:
        assert split.cores <= 16
        assert all(info.shape[axis] % parts == 0 for axis, parts in split.parts)
    assert all(s.channel_split(info) <= 2 for s in splits(info, 16, max_channel_split=2))


def test_module_estimate_adds_along_the_critical_path():
    b = GraphBuilder((64, 64), (64, 64))
    first = b.op(g.UnaryOp, [b.args[0]], (64, 64), "a", kind=StringAttr("exp"))
    second = b.op(g.UnaryOp, [first], (64, 64), "b", kind=StringAttr("exp"))
    side = b.op(g.UnaryOp, [b.args[1]], (64, 64), "c", kind=StringAttr("exp"))
    module = b.module(second, side)
    ops = [op for op in module.walk() if isinstance(op, g.UnaryOp)]
    for op, core in zip(ops, (0, 0, 1)):
        write_partition(op, Partition([CoreBlock(core, [0, 0], [64, 64])]))
    estimate = estimate_module(module)
    a, b_, c = (estimate.op(name).seconds for name in "abc")
    assert a == b_ == c
    assert estimate.critical_path_seconds == pytest.approx(a + b_)
    assert estimate.makespan_seconds == pytest.approx(a + b_)  # c runs beside them on core 1
    write_partition(ops[2], Partition([CoreBlock(0, [0, 0], [64, 64])]))
    assert estimate_module(module).makespan_seconds == pytest.approx(3 * a)
