"""schedule: cores stop waiting for work they could do later; never a deadlock, never
other results, never a longer estimate."""

from __future__ import annotations

import random
from functools import lru_cache
from pathlib import Path

import onnx
import pytest
from xdsl.dialects.builtin import FlatSymbolRefAttr, IntegerAttr, ModuleOp, i64

from qaicc.dialects.aic_core import ops as c
from qaicc.dialects.aic_core.analysis import programs
from qaicc.dialects.aic_core.partition import CoreBlock, Partition, write_partition
from qaicc.dialects.aic_graph.slicing import parallel_axes
from qaicc.errors import QaiccError
from qaicc.hardware import load_target
from qaicc.ir.context import make_context
from qaicc.ir.pipeline import build_pipeline, run_pipeline
from qaicc.metrics.static_metrics import latency_seconds
from qaicc.passes import ALL_PASSES
from qaicc.passes.plan_memory import verify_memory_plan
from qaicc.semantics import run_module
from qaicc.testing.aic_core_models import mlp, place_two_branches, two_branches
from qaicc.testing.compare import identical
from qaicc.testing.partitions import _compute_ops, lower_to_aic_core, lower_to_aic_graph, round_robin, split_evenly
from qaicc.testing.random_inputs import random_inputs

MODELS = Path(__file__).resolve().parent.parent / "tests" / "models"
HW = load_target()
needs_front_end = pytest.mark.skipif("convert-onnx-to-aic-graph" not in ALL_PASSES,
                                     reason="needs convert-onnx-to-aic-graph")


def _run(module: ModuleOp, spec: str) -> ModuleOp:
    run_pipeline(build_pipeline(spec, ALL_PASSES), module, make_context())
    return module


def _order(module: ModuleOp) -> dict[int, list[str]]:
    """Per core: 'task name', 'wait sem', 'signal sem' in program order."""
    order = {}
    for program in programs(module):
        entries = []
        for op in program.body.block.ops:
            if isinstance(op, c.TaskOp):
                entries.append(f"task {op.op_name.data}")
            elif isinstance(op, (c.WaitOp, c.SignalOp)):
                entries.append(f"{op.name.removeprefix('aic_core.')} {op.semaphore.root_reference.data}")
        order[program.core.value.data] = entries
    return order


def _same(module, inputs, expected) -> bool:
    actual = run_module(module, inputs)
    return all(identical(actual[k], expected[k]) for k in expected)


def test_independent_work_moves_before_a_wait():
    module, inputs = two_branches()
    lower_to_aic_core(module, 2, place_two_branches)
    expected = run_module(module, inputs)
    assert _order(module)[1] == ["wait a.ready", "task d", "signal d.ready", "task b", "signal b.ready"]
    before = latency_seconds(module, HW)
    _run(module, "schedule")
    assert _order(module)[1] == ["task b", "signal b.ready", "wait a.ready", "task d", "signal d.ready"]
    assert _order(module)[0] == ["task a", "signal a.ready", "wait a.ready", "wait b.ready", "task c", "signal c.ready"]
    assert latency_seconds(module, HW) < before
    assert _same(module, inputs, expected)


def test_a_good_order_is_kept():
    module, _ = mlp()
    lower_to_aic_core(module, 2, lambda m: split_evenly(m, 2, 2))
    order = _order(module)
    _run(module, "schedule")
    assert _order(module) == order  # a chain: nothing to gain


def test_tasks_on_one_tensor_keep_their_order():
    """On one core, a task that reads a tensor stays after the task that writes it."""
    module, inputs = two_branches()
    lower_to_aic_core(module, 1, lambda m: round_robin(m, 1))
    expected = run_module(module, inputs)
    _run(module, "schedule")
    names = [e for e in _order(module)[0] if e.startswith("task")]
    assert names.index("task a") < names.index("task d") and names.index("task a") < names.index("task c")
    assert names.index("task b") < names.index("task c")
    assert _same(module, inputs, expected)


def test_an_order_that_deadlocks_is_repaired():
    module, inputs = two_branches()
    lower_to_aic_core(module, 2, place_two_branches)
    expected = run_module(module, inputs)
    program1 = programs(module)[1]  # core 1 first waits for c, which needs its own b
    program1.body.block.insert_op_before(
        c.WaitOp.create(properties={"semaphore": FlatSymbolRefAttr("c.ready"), "count": IntegerAttr(1, i64)}),
        program1.body.block.first_op,
    )
    with pytest.raises(QaiccError, match="deadlock"):
        run_module(module, inputs)
    _run(module, "schedule")
    assert _order(module)[1][:2] == ["task b", "signal b.ready"]
    assert _same(module, inputs, expected)


def test_a_cycle_of_semaphores_is_left_alone():
    module, inputs = two_branches()
    lower_to_aic_core(module, 2, place_two_branches)
    program1 = programs(module)[1]
    task_b = [op for op in program1.body.block.ops if isinstance(op, c.TaskOp)][1]
    program1.body.block.insert_op_before(  # b waits for c, c waits for b
        c.WaitOp.create(properties={"semaphore": FlatSymbolRefAttr("c.ready"), "count": IntegerAttr(1, i64)}), task_b)
    order = _order(module)
    _run(module, "schedule")
    assert _order(module) == order
    with pytest.raises(QaiccError, match="deadlock"):
        run_module(module, inputs)


def test_a_plan_stays_valid():
    module, inputs = two_branches()
    lower_to_aic_core(module, 2, place_two_branches)
    expected = run_module(module, inputs)
    _run(module, "plan-memory,schedule")
    verify_memory_plan(module, HW)
    assert _same(module, inputs, expected)


def test_refuses_a_module_without_programs():
    module, _ = mlp()
    with pytest.raises(QaiccError, match="schedule: the module has no aic_core.program"):
        _run(module, "schedule")


@lru_cache(maxsize=None)
def _lowered(name: str) -> ModuleOp:
    return lower_to_aic_graph(MODELS / f"{name}.onnx")


def _random_placement(cores: int, seed: int):
    """Each op on a random set of cores, cut along its longest parallel axis."""

    def place(module: ModuleOp) -> None:
        rng = random.Random(seed)
        for op in _compute_ops(module):
            shape = list(op.results[0].type.get_shape())
            chosen = sorted(rng.sample(range(cores), rng.randint(1, cores)))
            axis = max(range(len(shape)), key=lambda a: shape[a]) if shape else 0
            if not shape or shape[axis] % len(chosen):
                chosen = chosen[:1]
            size = shape[axis] // len(chosen) if shape else 0
            blocks = []
            for index, core in enumerate(chosen):
                offsets, sizes = [0] * len(shape), list(shape)
                if len(chosen) > 1:
                    offsets[axis], sizes[axis] = index * size, size
                blocks.append(CoreBlock(core, offsets, sizes))
            if len(chosen) > 1 and axis not in parallel_axes(op):
                blocks = [CoreBlock(chosen[0], [0] * len(shape), shape)]
            write_partition(op, Partition(blocks))
    return place


@needs_front_end
@pytest.mark.filterwarnings("ignore:bind-symbols")
@pytest.mark.parametrize("name", ["bert_small", "resnet50_small", "gpt2_small", "mobilenetv2_small", "vit_small"])
@pytest.mark.parametrize("placement", ["round_robin", "random0", "random1", "split"])
def test_models_same_results_no_longer_estimate(name, placement):
    module = _lowered(name).clone()
    feeds = random_inputs(onnx.load(MODELS / f"{name}.onnx"), {"batch_size": 1, "sequence": 16})
    if placement == "round_robin":
        place = lambda m: round_robin(m, 3)  # noqa: E731
    elif placement == "split":
        place = lambda m: split_evenly(m, 4, 2)  # noqa: E731
    else:
        place = _random_placement(4, int(placement[-1]))
    lower_to_aic_core(module, 4, place)
    expected = run_module(module, feeds)
    before = latency_seconds(module, HW)
    _run(module, "insert-multicast,schedule,plan-memory")
    assert latency_seconds(module, HW) <= before * (1 + 1e-9)
    verify_memory_plan(module, HW)
    assert _same(module, feeds, expected)
