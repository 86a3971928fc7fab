"""Static metrics: every figure agrees with the IR it is computed from and with the others."""

from __future__ import annotations

import json
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import pytest
from xdsl.dialects.builtin import ModuleOp

from qaicc.cost.model import compute_seconds, unit_of
from qaicc.dialects.aic_core import ops as c
from qaicc.dialects.aic_core.analysis import is_resident, loads, stores, task_buffers, tasks, working_set
from qaicc.dialects.aic_graph import ops as g
from qaicc.dialects.aic_graph.work import tensor_bytes
from qaicc.errors import QaiccError
from qaicc.hardware import load_target
from qaicc.ir.context import make_context
from qaicc.ir.pipeline import build_pipeline, run_pipeline
from qaicc.metrics import static_metrics
from qaicc.metrics.static_metrics import task_costs
from qaicc.passes import ALL_PASSES
from qaicc.testing.aic_core_models import mlp, place_two_branches, two_branches
from qaicc.testing.partitions import lower_to_aic_core, lower_to_aic_graph, split_evenly

MODELS = Path(__file__).resolve().parent.parent / "models"
HW = load_target()
needs_front_end = pytest.mark.skipif("convert-onnx-to-aic-graph" not in ALL_PASSES,
                                     reason="needs convert-onnx-to-aic-graph")


def _run(module: ModuleOp, spec: str) -> ModuleOp:
    run_pipeline(build_pipeline(spec, ALL_PASSES), module, make_context())
    return module


def _mlp(cores=2, tiles=2, passes=""):
    module, _ = mlp()
    return lower_to_aic_core(module, cores, lambda m: split_evenly(m, cores, tiles), passes=passes)


def _times(load, task) -> int:
    tiles = task.tiles.value.data
    return 1 if is_resident(load, tiles) else tiles


def test_ddr_bytes_are_the_loads_and_the_stores():
    module = _mlp()
    figures = static_metrics(module, HW)
    for core in figures.cores:
        mine = [t for k, t in tasks(module) if k == core.core]
        assert core.ddr_read_bytes == sum(l.transfer_bytes * _times(l, t) for t in mine for l in loads(t))
        assert core.ddr_write_bytes == sum(tensor_bytes(s.value.type) * t.tiles.value.data for t in mine for s in stores(t))
        assert core.multicast_bytes == 0
    assert figures.ddr_read_bytes == sum(core.ddr_read_bytes for core in figures.cores)


def test_a_multicast_group_is_read_once():
    module = _mlp(cores=4, tiles=1)
    before = static_metrics(module, HW)
    _run(module, "insert-multicast")
    after = static_metrics(module, HW)
    weights = tensor_bytes(_decl(module, "w1").type) + tensor_bytes(_decl(module, "b1").type) + tensor_bytes(_decl(module, "w2").type)
    assert before.ddr_read_bytes - after.ddr_read_bytes == 3 * weights  # 4 cores, read by one
    assert after.multicast_bytes == 3 * weights
    assert after.ddr_read_bytes + after.multicast_bytes == before.ddr_read_bytes
    assert after.cores[0].multicast_bytes == 0 and after.cores[1].multicast_bytes == weights
    assert after.ddr_write_bytes == before.ddr_write_bytes


def _decl(module, name):
    return next(op for op in module.body.block.ops if isinstance(op, c.DDRTensorOp) and op.sym_name.data == name)


def test_cycles_per_unit_are_the_compute_regions():
    module = _mlp()
    figures = static_metrics(module, HW)
    for core in figures.cores:
        expected = {"matrix": 0.0, "vector": 0.0}
        for k, task in tasks(module):
            if k != core.core:
                continue
            for op in task.walk():
                if isinstance(op, g.AicGraphOp):
                    expected[unit_of(op)] += compute_seconds(op, HW) * task.tiles.value.data * HW.clock_hz
        assert core.matrix_cycles == pytest.approx(expected["matrix"]) and core.matrix_cycles > 0
        assert core.vector_cycles == pytest.approx(expected["vector"]) and core.vector_cycles > 0


def test_busy_and_idle_add_up_to_the_latency():
    module = _mlp()
    figures = static_metrics(module, HW)
    costs = task_costs(module, HW)
    assert figures.latency_seconds == max(core.end_seconds for core in figures.cores)
    for core in figures.cores:
        for unit in ("matrix", "vector", "dma"):
            assert core.busy_seconds[unit] + core.idle_seconds[unit] == pytest.approx(figures.latency_seconds)
        assert core.dma_seconds == core.busy_seconds["dma"]
        sequential = sum(costs[t].seconds for k, t in tasks(module) if k == core.core)
        assert figures.latency_seconds >= sequential * (1 - 1e-12)  # a core runs its tasks one by one


def test_one_core_runs_its_tasks_back_to_back():
    module = _mlp(cores=1, tiles=2)
    figures = static_metrics(module, HW)
    costs = task_costs(module, HW)
    assert figures.latency_seconds == pytest.approx(sum(cost.seconds for cost in costs.values()))


def test_waits_end_at_the_signal():
    module, _ = two_branches()
    lower_to_aic_core(module, 2, place_two_branches)
    costs = {t.op_name.data: cost for t, cost in task_costs(module, HW).items()}
    figures = static_metrics(module, HW)
    # core 1: waits for a, then d, then b; core 0: a, waits for b, then c
    end1 = costs["a"].seconds + costs["d"].seconds + costs["b"].seconds
    assert figures.cores[1].end_seconds == pytest.approx(end1)
    assert figures.cores[0].end_seconds == pytest.approx(end1 + costs["c"].seconds)


def test_peak_vtcm_planned_or_not():
    module = _mlp()
    unplanned = static_metrics(module, HW)
    assert not unplanned.planned
    largest = {}
    for core, task in tasks(module):
        largest[core] = max(largest.get(core, 0), working_set(task_buffers(task)))
    assert [c.peak_vtcm_bytes for c in unplanned.cores] == [largest[k] for k in sorted(largest)]
    _run(module, "plan-memory")
    planned = static_metrics(module, HW)
    assert planned.planned
    assert all(p.peak_vtcm_bytes <= u.peak_vtcm_bytes <= HW.vtcm_usable_bytes for p, u in zip(planned.cores, unplanned.cores))


def test_figures_follow_the_hardware_model():
    module = _mlp()
    fast = replace(HW, ddr_bandwidth_bytes_per_s=2 * HW.ddr_bandwidth_bytes_per_s)
    slow_figures, fast_figures = static_metrics(module, HW), static_metrics(module, fast)
    assert fast_figures.cores[0].dma_seconds == pytest.approx(slow_figures.cores[0].dma_seconds / 2)
    assert fast_figures.latency_seconds < slow_figures.latency_seconds
    assert fast_figures.target == HW.name


def test_as_dict_is_plain_data():
    figures = static_metrics(_mlp(passes="insert-multicast,schedule,plan-memory"), HW)
    data = json.loads(json.dumps(figures.as_dict()))
    assert data["num_cores"] == 2 and len(data["cores"]) == 2 and data["planned"]
    assert set(data["cores"][0]) >= {"peak_vtcm_bytes", "ddr_read_bytes", "ddr_write_bytes", "multicast_bytes",
                                     "matrix_cycles", "vector_cycles", "dma_seconds", "busy_seconds",
                                     "idle_seconds", "end_seconds"}
    assert data["peak_vtcm_bytes"] == max(core["peak_vtcm_bytes"] for core in data["cores"])


def test_refuses_a_module_without_programs():
    module, _ = mlp()
    with pytest.raises(QaiccError, match="no aic_core.program"):
        static_metrics(module, HW)


@lru_cache(maxsize=None)
def _lowered(name: str) -> ModuleOp:
    return lower_to_aic_graph(MODELS / f"{name}.onnx")


@needs_front_end
@pytest.mark.filterwarnings("ignore:bind-symbols")
@pytest.mark.parametrize("name", ["bert_small", "resnet50_small"])
@pytest.mark.parametrize("cores", [1, 4, 16])
def test_models_on_1_4_16_cores(name, cores):
    module = _lowered(name).clone()
    lower_to_aic_core(module, cores, lambda m: split_evenly(m, cores, 2))
    plain = static_metrics(module, HW)
    _run(module, "insert-multicast,schedule,plan-memory")
    figures = static_metrics(module, HW)
    total_loads = sum(l.transfer_bytes * _times(l, t) for _, t in tasks(module) for l in loads(t))
    assert figures.ddr_read_bytes + figures.multicast_bytes == total_loads == plain.ddr_read_bytes
    assert figures.ddr_write_bytes == plain.ddr_write_bytes
    assert (figures.multicast_bytes > 0) == (cores > 1)
    assert figures.latency_seconds <= plain.latency_seconds
    assert figures.peak_vtcm_bytes <= HW.vtcm_usable_bytes
    assert len(figures.cores) == cores
