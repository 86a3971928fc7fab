"""insert-multicast: a block that several cores of one op load is read from DDR once;
nothing else changes."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import onnx
import pytest
from xdsl.dialects.builtin import ModuleOp

from qaicc.dialects.aic_core import ops as c
from qaicc.dialects.aic_core.analysis import is_resident, loads, tasks
from qaicc.dialects.aic_graph.work import tensor_bytes
from qaicc.errors import QaiccError
from qaicc.hardware import load_target
from qaicc.ir.context import make_context
from qaicc.ir.pipeline import build_pipeline, run_pipeline
from qaicc.metrics import static_metrics
from qaicc.passes import ALL_PASSES
from qaicc.passes.insert_multicast import insert_multicast, multicast_groups
from qaicc.semantics import run_module
from qaicc.testing.aic_core_models import mlp, place_two_branches, two_branches
from qaicc.testing.compare import identical
from qaicc.testing.partitions import lower_to_aic_core, lower_to_aic_graph, split_evenly
from qaicc.testing.random_inputs import random_inputs

MODELS = Path(__file__).resolve().parent.parent / "tests" / "models"
HW = load_target()
needs_front_end = pytest.mark.skipif("convert-onnx-to-aic-graph" not in ALL_PASSES,
                                     reason="needs convert-onnx-to-aic-graph")


def _run(module: ModuleOp, spec: str) -> ModuleOp:
    run_pipeline(build_pipeline(spec, ALL_PASSES), module, make_context())
    return module


def _marks(module: ModuleOp) -> list[tuple[int, str, tuple[int, ...]]]:
    return [(core, load.source.root_reference.data, tuple(load.int_list("multicast_cores")))
            for core, task in tasks(module) for load in loads(task) if load.multicast_cores is not None]


def _total_load_bytes(module: ModuleOp) -> int:
    total = 0
    for _, task in tasks(module):
        for load in loads(task):
            times = 1 if is_resident(load, task.tiles.value.data) else task.tiles.value.data
            total += load.transfer_bytes * times
    return total


def test_weights_of_a_row_split_are_multicast():
    module, inputs = mlp()
    lower_to_aic_core(module, 2, lambda m: split_evenly(m, 2, 2, "rows"))
    expected = run_module(module, inputs)
    before = static_metrics(module, HW)
    _run(module, "insert-multicast")
    marked = {source for _, source, cores in _marks(module)}
    assert marked == {"w1", "b1", "w2"}  # the rows of x and of the activations differ
    assert all(cores == (0, 1) for _, _, cores in _marks(module))
    after = static_metrics(module, HW)
    weights = sum(tensor_bytes(d.type) for d in module.body.block.ops
                  if isinstance(d, c.DDRTensorOp) and d.sym_name.data in marked)
    assert before.ddr_read_bytes - after.ddr_read_bytes == weights == after.multicast_bytes
    assert after.cores[0].ddr_read_bytes > after.cores[1].ddr_read_bytes  # core 0 reads for both
    assert after.latency_seconds < before.latency_seconds
    actual = run_module(module, inputs)
    assert all(identical(actual[k], expected[k]) for k in expected)


def test_a_channel_split_multicasts_the_shared_input():
    module, _ = mlp()
    lower_to_aic_core(module, 2, lambda m: split_evenly(m, 2, 1, "channels"))
    insert_multicast(module)
    by_source = {source for _, source, _ in _marks(module)}
    assert "in.x0" in by_source and "w1" not in by_source and "w2" not in by_source


def test_different_ops_never_share_a_read():
    module, _ = two_branches()
    lower_to_aic_core(module, 2, place_two_branches)  # a and b both load x, on cores 0 and 1
    assert insert_multicast(module) == 0 and not _marks(module)


def test_idempotent_and_stale_marks_are_removed():
    module, _ = mlp()
    lower_to_aic_core(module, 2, lambda m: split_evenly(m, 2, 1, "rows"))
    insert_multicast(module)
    first = _marks(module)
    insert_multicast(module)
    assert _marks(module) == first
    task = next(t for core, t in tasks(module) if core == 1 and t.op_name.data == "fc1")
    w1 = next(load for load in loads(task) if load.source.root_reference.data == "w1")
    x = next(load for load in loads(task) if load.source.root_reference.data == "in.x0")
    x.properties["multicast_cores"] = w1.properties["multicast_cores"]  # a wrong mark
    insert_multicast(module)
    assert _marks(module) == first


def test_a_task_loading_a_block_twice_groups_copy_by_copy():
    module, _ = mlp()
    lower_to_aic_core(module, 2, lambda m: split_evenly(m, 1, 1, "rows"))  # everything on core 0
    program0, program1 = [op for op in module.body.block.ops if isinstance(op, c.ProgramOp)]
    task = next(op for op in program0.body.block.ops if isinstance(op, c.TaskOp))  # fc1: loads x, w1
    program0.body.block.insert_op_after(task.clone(), task)
    program1.body.block.add_op(task.clone())
    program1.body.block.add_op(task.clone())
    groups = multicast_groups(module)
    assert len(groups) == 4 and all([core for core, _ in group] == [0, 1] for group in groups)


def test_refuses_a_module_without_programs():
    module, _ = mlp()
    with pytest.raises(QaiccError, match="insert-multicast: the module has no aic_core.program"):
        _run(module, "insert-multicast")


@lru_cache(maxsize=None)
def _lowered(name: str) -> ModuleOp:
    return lower_to_aic_graph(MODELS / f"{name}.onnx")


@needs_front_end
@pytest.mark.filterwarnings("ignore:bind-symbols")
@pytest.mark.parametrize("name", ["bert_small", "resnet50_small", "mobilenetv2_small"])
@pytest.mark.parametrize("cores,prefer", [(2, "rows"), (4, "channels")])
def test_models_read_less_and_compute_the_same(name, cores, prefer):
    module = _lowered(name).clone()
    feeds = random_inputs(onnx.load(MODELS / f"{name}.onnx"), {"batch_size": 1, "sequence": 16})
    lower_to_aic_core(module, cores, lambda m: split_evenly(m, cores, 2, prefer))
    expected = run_module(module, feeds)
    before = static_metrics(module, HW)
    groups = multicast_groups(module)
    _run(module, "insert-multicast")
    after = static_metrics(module, HW)
    if any(_decl(module, group[0][1].source.root_reference.data).kind.data == "constant" for group in groups):
        assert after.ddr_read_bytes < before.ddr_read_bytes  # a weight read by two or more cores
    assert before.ddr_read_bytes - after.ddr_read_bytes == _saved(groups) == after.multicast_bytes
    assert after.ddr_read_bytes + after.multicast_bytes == _total_load_bytes(module)
    actual = run_module(module, feeds)
    assert all(identical(actual[k], expected[k]) for k in expected)


def _saved(groups) -> int:
    total = 0
    for group in groups:
        load = group[0][1]
        tiles = load.parent_op().tiles.value.data
        total += load.transfer_bytes * (len(group) - 1) * (1 if is_resident(load, tiles) else tiles)
    return total


def _decl(module: ModuleOp, name: str) -> c.DDRTensorOp:
    return next(op for op in module.body.block.ops if isinstance(op, c.DDRTensorOp) and op.sym_name.data == name)


def test_four_cores_form_one_group():
    module, inputs = mlp()
    lower_to_aic_core(module, 4, lambda m: split_evenly(m, 4, 1, "rows"))
    insert_multicast(module)
    assert {cores for _, _, cores in _marks(module)} == {(0, 1, 2, 3)}
    np.testing.assert_allclose(run_module(module, inputs)["y0"], run_module(mlp()[0], inputs)["y0"], rtol=1e-5)
