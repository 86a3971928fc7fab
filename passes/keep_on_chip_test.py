"""keep-on-chip: intermediates a core reads back from itself stay in its VTCM; results
identical, the memory plan proved, DDR traffic lower, the simulated latency never higher."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import onnx
import pytest
from xdsl.dialects.builtin import ModuleOp

from qaicc.dialects.aic_core import ops as c
from qaicc.dialects.aic_core.analysis import tasks
from qaicc.dialects.aic_core.partition import _array
from qaicc.hardware import load_target
from qaicc.ir.context import make_context
from qaicc.ir.pipeline import build_pipeline, run_pipeline
from qaicc.metrics import static_metrics
from qaicc.passes import ALL_PASSES
from qaicc.passes.keep_on_chip import block_ranges, covers, disjoint, merge
from qaicc.passes.plan_memory import memory_plan_problems, verify_memory_plan, vtcm_peaks
from qaicc.semantics import run_module
from qaicc.simulator.api import simulate_module
from qaicc.testing.aic_core_models import mlp
from qaicc.testing.compare import identical
from qaicc.testing.partitions import lower_to_aic_core, lower_to_aic_graph, round_robin, split_evenly
from qaicc.testing.random_inputs import random_inputs

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "tests" / "models"
HW = load_target()
needs_front_end = pytest.mark.skipif("convert-onnx-to-aic-graph" not in ALL_PASSES,
                                     reason="needs convert-onnx-to-aic-graph")


def _run(module: ModuleOp, spec: str) -> ModuleOp:
    run_pipeline(build_pipeline(spec, ALL_PASSES), module, make_context())
    return module


def _same(module, inputs, expected) -> bool:
    actual = run_module(module, inputs)
    return all(identical(actual[k], expected[k]) for k in expected)


def _marked(module) -> list:
    return [op for op in module.walk() if isinstance(op, (c.DMALoadOp, c.DMAStoreOp)) and op.on_chip is not None]


def _ddr_bytes(module) -> int:
    metrics = static_metrics(module, HW)
    return metrics.ddr_read_bytes + metrics.ddr_write_bytes


def _target(tmp_path, vtcm: int) -> Path:
    data = json.loads((ROOT / "qaicc/hardware/targets/ai100-pro.json").read_text())
    data.update(name="tiny", vtcm_usable_bytes=vtcm)
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(data))
    return path


def test_element_ranges():
    assert block_ranges([4, 6], [1, 0], [2, 6]).tolist() == [[6, 18]]  # whole rows: one range
    assert block_ranges([4, 6], [1, 2], [2, 3]).tolist() == [[8, 11], [14, 17]]
    assert block_ranges([], [], []).tolist() == [[0, 1]]
    rows = merge([block_ranges([4, 6], [0, 0], [2, 6]), block_ranges([4, 6], [2, 0], [1, 6])])
    assert rows.tolist() == [[0, 18]]
    assert covers(rows, block_ranges([4, 6], [1, 2], [2, 3]))
    assert not covers(rows, block_ranges([4, 6], [2, 2], [2, 3]))
    assert disjoint(rows, block_ranges([4, 6], [3, 0], [1, 6]))
    assert not disjoint(rows, block_ranges([4, 6], [2, 5], [2, 1]))


def test_rows_split_alike_stay_on_chip_and_results_are_identical():
    module, inputs = mlp()
    lower_to_aic_core(module, 2, lambda m: split_evenly(m, 2, 2, "rows"))
    _run(module, "insert-multicast,plan-memory,schedule")
    expected = run_module(module, inputs)
    before, latency = _ddr_bytes(module), simulate_module(module, HW).latency_seconds
    _run(module, "keep-on-chip")
    assert _marked(module)
    assert all(op.resident is not None for op in _marked(module))
    assert memory_plan_problems(module, HW) == []
    assert _ddr_bytes(module) < before
    assert simulate_module(module, HW).latency_seconds <= latency
    assert _same(module, inputs, expected)
    assert not any(op.multicast_cores is not None for op in _marked(module) if isinstance(op, c.DMALoadOp))


def test_a_core_reading_another_cores_rows_goes_through_ddr():
    module, inputs = mlp()
    # round robin: each op whole on one core, the next op on another core
    lower_to_aic_core(module, 2, lambda m: round_robin(m, 2))
    _run(module, "plan-memory,keep-on-chip")
    for op in _marked(module):
        name = (op.source if isinstance(op, c.DMALoadOp) else op.target).root_reference.data
        cores = {core for core, task in tasks(module) for x in task.body.block.ops
                 if isinstance(x, (c.DMALoadOp, c.DMAStoreOp)) and
                 (x.source if isinstance(x, c.DMALoadOp) else x.target).root_reference.data == name}
        assert len(cores) == 1  # kept only when the one core stores and reads it
    verify_memory_plan(module, HW)


def test_before_plan_memory_it_marks_and_plan_memory_plans(tmp_path):
    module, inputs = mlp()
    lower_to_aic_core(module, 2, lambda m: split_evenly(m, 2, 1, "rows"))
    expected = run_module(module, inputs)
    _run(module, "schedule,keep-on-chip")
    assert _marked(module) and all(op.resident is None for op in _marked(module))
    _run(module, "plan-memory")
    assert _marked(module) and all(op.resident is not None for op in _marked(module))
    verify_memory_plan(module, HW)
    assert _same(module, inputs, expected)


def test_short_vtcm_falls_back_to_ddr_never_fails(tmp_path):
    module, inputs = mlp()
    lower_to_aic_core(module, 2, lambda m: split_evenly(m, 2, 1, "rows"))
    _run(module, "plan-memory")
    expected = run_module(module, inputs)
    roomy = module.clone()
    _run(roomy, "keep-on-chip")
    limit = max(vtcm_peaks(module).values())  # room for the largest task, little for regions
    target = _target(tmp_path, limit)
    _run(module, f'keep-on-chip{{target="{target}"}}')
    assert len(_marked(module)) < len(_marked(roomy))
    verify_memory_plan(module, load_target(target))
    assert _same(module, inputs, expected)


def test_the_verifier_finds_overlapping_regions():
    module, _ = mlp()
    lower_to_aic_core(module, 2, lambda m: split_evenly(m, 2, 1, "rows"))
    _run(module, "plan-memory,keep-on-chip")
    marked = _marked(module)
    assert marked
    for op in marked:  # every region at 0: over the tasks' own buffers
        _, size = op.int_list("resident")
        op.properties["resident"] = _array((0, size))
    problems = memory_plan_problems(module, HW)
    assert any("overlaps a buffer" in p for p in problems)


def test_the_qpc_carries_the_flag(tmp_path):
    from qaicc.qpc import load_qpc

    module, inputs = mlp()
    lower_to_aic_core(module, 2, lambda m: split_evenly(m, 2, 2, "rows"))
    _run(module, "plan-memory,schedule,keep-on-chip")
    expected = run_module(module, inputs)
    count = len(_marked(module))
    _run(module, f'convert-aic-core-to-qpc{{flags="-aic-num-cores=2" target=ai100-pro}},emit-qpc{{dir="{tmp_path}"}}')
    loaded = load_qpc(tmp_path).to_aic_core()
    assert len(_marked(loaded)) == count
    assert all(op.resident is not None for op in _marked(loaded))
    verify_memory_plan(loaded, HW)
    assert _same(loaded, inputs, expected)


@lru_cache(maxsize=None)
def _lowered(name: str) -> ModuleOp:
    return lower_to_aic_graph(MODELS / f"{name}.onnx")


@needs_front_end
@pytest.mark.filterwarnings("ignore:bind-symbols")
@pytest.mark.parametrize("name", ["bert_small", "resnet50_small", "gpt2_small", "mobilenetv2_small", "vit_small"])
@pytest.mark.parametrize("cores,tiles", [(1, 1), (4, 2)])
def test_models_keep_their_results_with_less_ddr_and_no_slower(name, cores, tiles):
    module = _lowered(name).clone()
    feeds = random_inputs(onnx.load(MODELS / f"{name}.onnx"), {"batch_size": 1, "sequence": 16})
    lower_to_aic_core(module, cores, lambda m: split_evenly(m, cores, tiles))
    _run(module, "insert-multicast,plan-memory,schedule")
    expected = run_module(module, feeds)
    before, latency = _ddr_bytes(module), simulate_module(module, HW).latency_seconds
    _run(module, "keep-on-chip")
    verify_memory_plan(module, HW)
    assert _marked(module)
    assert _ddr_bytes(module) < before
    assert simulate_module(module, HW).latency_seconds <= latency * (1 + 1e-9)
    assert _same(module, feeds, expected)
