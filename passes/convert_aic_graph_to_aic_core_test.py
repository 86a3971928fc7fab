"""convert-aic-graph-to-aic-core: the per-core programs compute what the aic-graph
function computes, for any partition, and the IR grows with ops x cores only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from xdsl.dialects.builtin import FlatSymbolRefAttr, IntegerAttr, i64

from qaicc.dialects.aic_core import ops as c
from qaicc.dialects.aic_core.partition import CoreBlock, Partition, write_partition
from qaicc.dialects.aic_graph import ops as g
from qaicc.errors import QaiccError
from qaicc.ir.context import make_context
from qaicc.ir.pipeline import build_pipeline, run_pipeline
from qaicc.onnx_io.importer import import_model
from qaicc.passes import ALL_PASSES
from qaicc.semantics import run_module
from qaicc.testing.aic_graph_builders import single_op_module, tensor_type
from qaicc.testing.partitions import split_evenly
from qaicc.testing.random_inputs import random_inputs

MODELS = Path(__file__).resolve().parent.parent / "tests" / "models"
RNG = np.random.default_rng(0)


def _run(module, spec: str):
    run_pipeline(build_pipeline(spec, ALL_PASSES), module, make_context())
    return module


def _matmul_module():
    a = RNG.standard_normal((8, 16)).astype(np.float32)
    b = RNG.standard_normal((16, 12)).astype(np.float32)
    module = single_op_module(g.MatMulOp, [a, b], [tensor_type((8, 12))], operand_groups=lambda x: [x[0], x[1], []])
    return module, [a, b]


def _ops(module, kind):
    return [op for op in module.walk() if isinstance(op, kind)]


def test_whole_op_runs_on_core_zero():
    module, inputs = _matmul_module()
    expected = run_module(module, inputs)["y0"]
    _run(module, "convert-aic-graph-to-aic-core")
    programs = _ops(module, c.ProgramOp)
    assert [p.core.value.data for p in programs] == [0]
    np.testing.assert_allclose(run_module(module, inputs)["y0"], expected, rtol=1e-6)


@pytest.mark.parametrize("axis,tiles", [(0, 1), (0, 2), (1, 1), (1, 3)])
def test_rows_or_channels_across_cores_and_tiles(axis, tiles):
    module, inputs = _matmul_module()
    expected = run_module(module, inputs)["y0"]
    op = _ops(module, g.MatMulOp)[0]
    size = (8, 12)[axis] // 2
    blocks = []
    for core in range(2):
        offsets, sizes = [0, 0], [8, 12]
        offsets[axis], sizes[axis] = core * size, size
        blocks.append(CoreBlock(core, offsets, sizes))
    write_partition(op, Partition(blocks, tiles=tiles, tile_axis=axis, ols=tiles))
    _run(module, "convert-aic-graph-to-aic-core")
    tasks = _ops(module, c.TaskOp)
    assert len(tasks) == 2 and all(t.tiles.value.data == tiles for t in tasks)
    np.testing.assert_allclose(run_module(module, inputs)["y0"], expected, rtol=1e-6)


def test_tiles_that_do_not_divide_are_refused():
    module, _ = _matmul_module()
    op = _ops(module, g.MatMulOp)[0]
    write_partition(op, Partition([CoreBlock(0, [0, 0], [8, 12])], tiles=5, tile_axis=0))
    with pytest.raises(QaiccError, match="5 tiles do not divide"):
        _run(module, "convert-aic-graph-to-aic-core")


def _lowered(name: str):
    module = import_model(MODELS / f"{name}.onnx")
    return _run(module, "bind-symbols{batch_size=2 sequence=16},shape-inference,canonicalize,convert-onnx-to-aic-graph")


@pytest.mark.filterwarnings("ignore:bind-symbols")
@pytest.mark.parametrize("name", ["resnet50_small", "bert_small", "gpt2_small", "mobilenetv2_small", "vit_small"])
@pytest.mark.parametrize("cores,tiles,prefer", [(1, 1, "rows"), (2, 2, "rows"), (4, 2, "channels")])
def test_models_on_several_cores_match_aic_graph(name, cores, tiles, prefer):
    module = _lowered(name)
    import onnx

    feeds = random_inputs(onnx.load(MODELS / f"{name}.onnx"), {"batch_size": 2, "sequence": 16}, seed=1)
    expected = run_module(module, feeds)
    split_evenly(module, cores, tiles, prefer)
    _run(module, f"convert-aic-graph-to-aic-core{{num_cores={cores}}}")
    assert len(_ops(module, c.ProgramOp)) == cores
    actual = run_module(module, feeds)
    for key in expected:
        scale = max(1.0, float(np.max(np.abs(expected[key]))))
        assert np.max(np.abs(actual[key] - expected[key])) <= 1e-3 * scale


def test_ir_size_grows_with_cores_not_tiles():
    sizes = {}
    for tiles in (1, 2, 4):
        module = _lowered("bert_small")
        split_evenly(module, 2, tiles, "rows")
        _run(module, "convert-aic-graph-to-aic-core{num_cores=2}")
        sizes[tiles] = sum(1 for _ in module.walk())
    assert sizes[1] == sizes[2] == sizes[4]


def test_deadlock_is_reported():
    module, inputs = _matmul_module()
    _run(module, "convert-aic-graph-to-aic-core")
    program = _ops(module, c.ProgramOp)[0]
    program.body.block.insert_op_before(
        c.WaitOp.create(properties={"semaphore": FlatSymbolRefAttr("never"), "count": IntegerAttr(1, i64)}),
        program.body.block.first_op,
    )
    with pytest.raises(QaiccError, match="deadlock: core 0 waits on @never"):
        run_module(module, inputs)
