"""The event model: exact figures on hand-made programs, and the way flags move them."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from qaicc.errors import QaiccError
from qaicc.hardware import load_target
from qaicc.simulator import SimulatorFigures, simulate_module, simulate_timing, simulator_figures
from qaicc.simulator.program import Load, Signal, TaskTiming, TimingProgram, Wait
from qaicc.simulator.timing import simulate_program
from qaicc.testing.aic_core_models import mlp
from qaicc.testing.partitions import lower_to_aic_core, split_evenly

ROOT = Path(__file__).resolve().parent.parent.parent
HW = load_target("ai100-pro")
IDEAL = SimulatorFigures()
BW = HW.ddr_bandwidth_bytes_per_s
MB = 1_000_000


def task(name="t", tiles=1, ols=1, resident=(), streamed=(), stores=(), matrix=0.0, vector=0.0, op_index=0):
    return TaskTiming(name, "matmul", op_index, tiles, ols, tuple(resident), tuple(streamed), tuple(stores),
                      matrix, vector)


def program(*cores) -> TimingProgram:
    return TimingProgram(len(cores), {core: list(items) for core, items in enumerate(cores)})


def latency(prog, figures=IDEAL, **options) -> float:
    return simulate_program(prog, HW, figures, **options).round_seconds


# -- the engine on hand-made programs ---------------------------------------------------


def test_one_task_loads_computes_and_stores():
    prog = program([task(resident=[Load(MB, "constant")], stores=[Load(2 * MB, "output")], matrix=1e-5)])
    assert latency(prog) == pytest.approx(MB / BW + 1e-5 + 2 * MB / BW, rel=1e-9)
    timeline = simulate_program(prog, HW, IDEAL)
    assert (timeline.ddr_read_bytes, timeline.ddr_write_bytes) == (MB, 2 * MB)
    assert timeline.ddr_bytes_by_kind == {"constant": MB, "output": 2 * MB}


def test_concurrent_transfers_share_the_ddr_bandwidth():
    one = [task(resident=[Load(MB)])]
    assert latency(program(one)) == pytest.approx(MB / BW, rel=1e-9)
    assert latency(program(one, one)) == pytest.approx(2 * MB / BW, rel=1e-9)
    # a short transfer and a long one: the short one ends at 2x/BW, the long one at x + y over BW
    short, long = [task(resident=[Load(MB)])], [task(resident=[Load(3 * MB)])]
    timeline = simulate_program(program(short, long), HW, IDEAL, record=True)
    ends = {core: max(i[1] for i in timeline.intervals[(core, "dma")]) for core in (0, 1)}
    assert ends[0] == pytest.approx(2 * MB / BW, rel=1e-9)
    assert ends[1] == pytest.approx(4 * MB / BW, rel=1e-9)


def test_a_multicast_group_reads_ddr_once():
    def core(c):
        return [task(name="mm", resident=[Load(MB, "constant", (0, 1), ("w",))])]

    timeline = simulate_program(program(core(0), core(1)), HW, IDEAL)
    assert timeline.round_seconds == pytest.approx(MB / min(BW, HW.network_bandwidth_bytes_per_s), rel=1e-9)
    assert (timeline.ddr_read_bytes, timeline.multicast_bytes) == (MB, MB)


def test_ols_overlaps_the_dma_of_one_tile_with_the_compute_of_another():
    load, compute, tiles = 4 * MB, 5e-5, 8
    one = task(tiles=tiles, ols=1, streamed=[Load(load)], matrix=compute)
    two = dataclasses.replace(one, ols=2)
    assert latency(program([one])) == pytest.approx(tiles * (load / BW + compute), rel=1e-9)
    assert latency(program([two])) == pytest.approx(load / BW + tiles * compute, rel=1e-9)  # compute-bound
    assert latency(program([dataclasses.replace(two, ols=4)])) <= latency(program([two])) * (1 + 1e-12)


def test_matrix_and_vector_work_of_different_tiles_overlap():
    pipelined = task(tiles=4, ols=2, matrix=1e-5, vector=1e-5)
    assert latency(program([pipelined])) == pytest.approx(5e-5, rel=1e-9)


def test_a_wait_ends_with_the_signal_it_needs():
    producer = [task("a", matrix=3e-5), Signal("a.ready")]
    consumer = [Wait("a.ready", 1), task("b", matrix=2e-5)]
    assert latency(program(producer, consumer)) == pytest.approx(5e-5, rel=1e-9)
    slow = dataclasses.replace(IDEAL, semaphore_latency_seconds=1e-6)
    assert latency(program(producer, consumer), slow) == pytest.approx(5.1e-5, rel=1e-9)


def test_a_deadlock_is_an_error_naming_the_blocked_core():
    with pytest.raises(QaiccError, match=r"deadlock.*core 1 waits on @never for 1"):
        simulate_program(program([task()], [Wait("never", 1), task()]), HW, IDEAL)


def test_overhead_figures_add_what_they_say():
    prog = program([task(resident=[Load(MB)], stores=[Load(MB)]), task(resident=[Load(MB)])])
    base = latency(prog)
    assert latency(prog, dataclasses.replace(IDEAL, task_overhead_seconds=1e-6)) == pytest.approx(base + 2e-6)
    assert latency(prog, dataclasses.replace(IDEAL, dma_setup_seconds=1e-7)) == pytest.approx(base + 3e-7)
    assert latency(prog, dataclasses.replace(IDEAL, ddr_efficiency=0.5)) == pytest.approx(2 * base)
    capped = dataclasses.replace(IDEAL, dma_engine_bandwidth_bytes_per_s=BW / 4)
    assert latency(prog, capped) == pytest.approx(4 * base)


def test_unit_efficiencies_scale_compute(tmp_path):
    data = json.loads((ROOT / "qaicc/hardware/targets/ai100-pro.json").read_text())
    data.update(name="half-matrix", simulator={"matrix_efficiency": 0.5})
    path = tmp_path / "half.json"
    path.write_text(json.dumps(data))
    module = _compute_heavy()
    full, half = simulate_module(module, "ai100-pro"), simulate_module(module, str(path))
    assert sum(c.busy_seconds["matrix"] for c in half.cores) == pytest.approx(
        2 * sum(c.busy_seconds["matrix"] for c in full.cores))
    assert half.latency_seconds > 1.5 * full.latency_seconds


def test_instances_share_the_ddr_and_have_their_own_cores():
    ddr_bound = program([task(resident=[Load(MB)])])
    compute_bound = program([task(matrix=1e-4)])
    assert latency(ddr_bound, instances=3) == pytest.approx(3 * latency(ddr_bound))
    assert latency(compute_bound, instances=3) == pytest.approx(latency(compute_bound))
    timeline = simulate_program(compute_bound, HW, IDEAL, instances=2, inferences=3)
    assert [len(runs) for runs in timeline.inferences] == [3, 3]
    assert timeline.inferences[0][2] == pytest.approx((2e-4, 3e-4))


def test_the_statistics_of_a_run():
    # the load (7.3 us) is shorter than half an inference: instances half an inference
    # apart never load at the same time, so the steady state runs at the lone latency
    prog = program([task(resident=[Load(MB)], matrix=1e-5)])
    alone = latency(prog)
    result = simulate_timing(prog, HW, IDEAL, instances=2, inferences=5, batch_size=4)
    assert result.latency_seconds == pytest.approx(alone)
    assert result.round_seconds == pytest.approx(alone)
    assert result.total_duration_seconds == pytest.approx(3 * alone)  # 2 full rounds + 1 inference alone
    assert result.inferences_per_second == pytest.approx(5 * 4 / result.total_duration_seconds)
    assert result.throughput == pytest.approx(2 * 4 / alone)
    assert [(t.activation, t.activation_index) for t in result.latencies] == [(0, 0), (1, 0), (0, 1), (1, 1), (0, 2)]
    timed = simulate_timing(prog, HW, IDEAL, instances=2, seconds=10 * alone)
    assert timed.inference_count == 20
    data = json.loads(json.dumps(result.as_dict()))
    assert data["inference_count"] == 5 and data["simulated"] is True
    assert data["stats_line"].startswith("InferenceCnt 5 TotalDuration ")
    assert data["latency"]["mean_seconds"] == pytest.approx(alone)


def test_steady_state_instances_take_turns_on_the_ddr():
    # all load, no compute: two instances can only share the DDR, whatever their phase
    ddr_bound = program([task(resident=[Load(MB)], stores=[Load(MB)])])
    result = simulate_timing(ddr_bound, HW, IDEAL, instances=2)
    assert result.round_seconds == pytest.approx(2 * latency(ddr_bound), rel=1e-6)
    assert result.ddr_utilization == pytest.approx(1.0, rel=1e-6)


# -- figures ------------------------------------------------------------------------------


def test_the_simulator_figures_come_from_the_target_file(tmp_path):
    data = json.loads((ROOT / "qaicc/hardware/targets/ai100-pro.json").read_text())
    assert "simulator" in data and "simulator" in data["sources"]
    assert simulator_figures(HW).as_dict() == {**SimulatorFigures().as_dict(), **data["simulator"]}
    data.update(name="slow-chip", simulator={"ddr_efficiency": 0.5, "task_overhead_seconds": 1e-6})
    path = tmp_path / "slow.json"
    path.write_text(json.dumps(data))
    figures = simulator_figures(load_target(path), path)
    assert (figures.ddr_efficiency, figures.task_overhead_seconds, figures.matrix_efficiency) == (0.5, 1e-6, 1.0)
    del data["simulator"]
    data["name"] = "bare-chip"
    path = tmp_path / "bare.json"
    path.write_text(json.dumps(data))
    assert simulator_figures(load_target(path), path) == SimulatorFigures()
    data["simulator"] = {"ddr_efficiency": 2.0}
    path.write_text(json.dumps(data))
    with pytest.raises(QaiccError, match="ddr_efficiency must be in"):
        simulator_figures(load_target(path), path)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**data, "simulator": {"warp_factor": 9}}))
    with pytest.raises(QaiccError, match="unknown simulator figure.*warp_factor"):
        simulator_figures(load_target(bad), bad)


# -- flags on compiled programs -----------------------------------------------------------


@pytest.mark.parametrize("name", ["resnet50_small", "bert_small", "mobilenetv2_small"])
@pytest.mark.parametrize("cores,ols", [(2, 1), (2, 2), (4, 2)])
def test_multicast_lowers_ddr_traffic_and_never_slows_a_run(aic_core_module, name, cores, ols):
    plain = aic_core_module(name, cores, ols, multicast=False)
    cast = aic_core_module(name, cores, ols, multicast=True)
    for instances in (1, 2, 16 // cores):
        without = simulate_module(plain, instances=instances)
        with_ = simulate_module(cast, instances=instances)
        assert with_.round_seconds <= without.round_seconds * (1 + 1e-9)
        assert with_.latency_seconds <= without.latency_seconds * (1 + 1e-9)
        assert with_.ddr_read_bytes + with_.multicast_bytes == without.ddr_read_bytes
        assert with_.ddr_read_bytes <= without.ddr_read_bytes
    if with_.multicast_bytes:
        assert with_.ddr_read_bytes < without.ddr_read_bytes


def _compute_heavy(cores: int = 2):
    module, _ = mlp(rows=1024, width=1024, hidden=1024, out=64)
    return lower_to_aic_core(module, cores, lambda m: split_evenly(m, cores, tiles=2), "insert-multicast")


def test_more_instances_raise_throughput_until_ddr_or_cores_run_out():
    module = _compute_heavy()
    results = [simulate_module(module, instances=i) for i in range(1, 9)]
    throughput = [r.throughput for r in results]
    assert results[0].ddr_utilization < 0.5  # compute-bound alone
    for before, after, result in zip(throughput, throughput[1:], results):
        assert after >= before * 0.99  # (the steady state is measured over a few inferences)
        if result.ddr_utilization < 0.5:  # DDR has room: one more instance adds throughput
            assert after > before * 1.5
    traffic = results[0].ddr_read_bytes + results[0].ddr_write_bytes
    ddr_bound = HW.ddr_bandwidth_bytes_per_s * simulator_figures(HW).ddr_efficiency / traffic
    assert max(throughput) <= ddr_bound * 1.01
    assert max(r.ddr_utilization for r in results) <= 1.01
    assert throughput[-1] >= 0.95 * ddr_bound  # saturated: DDR ran out
    with pytest.raises(QaiccError, match=r"9 instances x 2 cores = 18 cores, more than the 16 cores of ai100-pro"):
        simulate_module(module, instances=9)
    with pytest.raises(QaiccError, match="14 cores of ai100-standard"):
        simulate_module(module, "ai100-standard", instances=8)


def test_more_cores_shorten_a_compute_bound_program():
    one = simulate_module(_compute_heavy(1))
    four = simulate_module(_compute_heavy(4))
    assert four.latency_seconds < one.latency_seconds / 2


@pytest.mark.parametrize("name", ["resnet50_small", "bert_small"])
def test_one_core_without_overlap_agrees_with_the_static_estimate(aic_core_module, name):
    from qaicc.metrics.static_metrics import static_metrics

    module = aic_core_module(name, cores=1, ols=1, multicast=False)
    result = simulate_module(module, "ai100-pro", figures=IDEAL)
    static = static_metrics(module, HW)
    assert result.latency_seconds == pytest.approx(static.latency_seconds, rel=1e-6)
    assert (result.ddr_read_bytes, result.ddr_write_bytes) == (static.ddr_read_bytes, static.ddr_write_bytes)
