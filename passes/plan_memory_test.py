"""plan-memory: every VTCM and DDR buffer gets an address, the verifier proves the plan,
tasks too large for VTCM are re-tiled, and the programs compute the same."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import onnx
import pytest
from xdsl.dialects.builtin import FlatSymbolRefAttr, IntegerAttr, ModuleOp, StringAttr, i64
from xdsl.ir import Block, Region

from qaicc.dialects.aic_core import ops as c
from qaicc.dialects.aic_core.analysis import DDRTable, task_buffers, tasks
from qaicc.dialects.aic_graph import ops as g
from qaicc.errors import QaiccError
from qaicc.hardware import load_target
from qaicc.ir.context import make_context
from qaicc.ir.pipeline import build_pipeline, run_pipeline
from qaicc.metrics import static_metrics
from qaicc.passes import ALL_PASSES
from qaicc.passes.plan_memory import memory_plan_problems, verify_memory_plan, vtcm_peaks
from qaicc.semantics import run_module
from qaicc.testing.aic_core_models import aic_graph_module, mlp, place_two_branches, two_branches
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


def _target(tmp_path, vtcm: int) -> Path:
    """A made-up target with ``vtcm`` usable bytes of VTCM."""
    data = json.loads((ROOT / "qaicc/hardware/targets/ai100-pro.json").read_text())
    data.update(name="tiny", vtcm_usable_bytes=vtcm)
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(data))
    return path


def _same(module, inputs, expected) -> bool:
    actual = run_module(module, inputs)
    return all(identical(actual[k], expected[k]) for k in expected)


def _close(module, inputs, expected) -> bool:
    actual = run_module(module, inputs)
    return all(np.allclose(actual[k], expected[k], rtol=1e-5, atol=1e-4) for k in expected)


def _decls(module) -> dict[str, c.DDRTensorOp]:
    return {op.sym_name.data: op for op in module.body.block.ops if isinstance(op, c.DDRTensorOp)}


def _buffer_ops(module):
    return [op for op in module.walk() if isinstance(op, (c.DMALoadOp, c.ComputeOp))]


def test_every_buffer_is_placed_and_the_plan_is_proved():
    module, inputs = mlp()
    lower_to_aic_core(module, 2, lambda m: split_evenly(m, 2, 2, "rows"))
    expected = run_module(module, inputs)
    _run(module, "plan-memory")
    assert all(op.vtcm_offset is not None and op.buffers is not None for op in _buffer_ops(module))
    assert all(decl.offset is not None for decl in _decls(module).values())
    assert memory_plan_problems(module, HW) == []
    assert _same(module, inputs, expected)


def test_double_buffering_and_resident_loads():
    module, _ = mlp()
    lower_to_aic_core(module, 2, lambda m: split_evenly(m, 2, 2, "rows"), passes="plan-memory")
    fc1 = next(task for core, task in tasks(module) if task.op_name.data == "fc1")
    copies = {op.source.root_reference.data if isinstance(op, c.DMALoadOp) else "out": op.int_prop("buffers")
              for op in fc1.body.block.ops if isinstance(op, (c.DMALoadOp, c.ComputeOp))}
    assert copies == {"in.x0": 2, "w1": 1, "out": 2}  # x streams, w1 stays, the result rotates
    spans = sorted((op.int_prop("vtcm_offset"), op.int_prop("vtcm_offset") + b.size * op.int_prop("buffers"))
                   for b in task_buffers(fc1) for op in [b.op])
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))  # all live together: disjoint


def test_one_tile_buffers_share_space_when_their_lives_do_not_meet():
    module, inputs = mlp()
    lower_to_aic_core(module, 1, lambda m: split_evenly(m, 1, 1))
    expected = run_module(module, inputs)
    task = next(task for _, task in tasks(module))  # fc1: loads, matmul, store
    compute = next(op for op in task.body.block.ops if isinstance(op, c.ComputeOp))
    result = compute.outputs[0]
    block = Block(arg_types=[result.type])
    identity = g.UnaryOp.create(operands=[block.args[0]], result_types=[result.type],
                                properties={"kind": StringAttr("identity")})
    block.add_op(identity)
    block.add_op(c.YieldOp.create(operands=[identity.results[0]]))
    copy = c.ComputeOp.create(operands=[result], result_types=[result.type],
                              properties={"unit": StringAttr("vector")}, regions=[Region(block)])
    task.body.block.insert_op_after(copy, compute)
    store = next(op for op in task.body.block.ops if isinstance(op, c.DMAStoreOp))
    store.operands = [copy.outputs[0]]
    _run(module, "plan-memory")
    loads = [op for op in task.body.block.ops if isinstance(op, c.DMALoadOp)]
    # the loads die at the matmul: the copy takes their place
    assert copy.int_prop("vtcm_offset") < max(op.int_prop("vtcm_offset") + 1 for op in loads)
    assert memory_plan_problems(module, HW) == []
    assert _same(module, inputs, expected)


def test_ddr_intermediates_reuse_space_inputs_outputs_constants_never():
    module, inputs = mlp()
    lower_to_aic_core(module, 2, lambda m: split_evenly(m, 2, 1, "rows"))
    expected = run_module(module, inputs)
    _run(module, "plan-memory")
    decls = _decls(module)
    table = DDRTable(module)
    spans = {name: (d.offset.value.data, d.offset.value.data + table.size(name)) for name, d in decls.items()}
    # fc1 -> bias1 -> relu -> fc2: relu may take fc1's place (fc1's readers are done)
    assert spans["relu"] == spans["fc1"]
    fixed = [n for n, d in decls.items() if d.kind.data in ("input", "output", "constant")]
    for name in fixed:
        for other, span in spans.items():
            if other != name:
                assert span[1] <= spans[name][0] or spans[name][1] <= span[0], (name, other)
    assert _same(module, inputs, expected)


def test_parallel_branches_keep_their_own_ddr():
    module, inputs = two_branches()
    lower_to_aic_core(module, 2, place_two_branches, passes="plan-memory")
    decls = _decls(module)
    assert decls["a"].offset.value.data != decls["b"].offset.value.data  # both read by c


def _reshaped_output():
    x = np.ones((4, 8), np.float32)

    def build(b, args):
        y = b.op(g.UnaryOp, [args[0]], (4, 8), node="r", kind=StringAttr("relu"))
        return [b.op(g.ReshapeOp, [y], (32,), node="flat")]

    return aic_graph_module([x], build), [x]


def test_aliases_share_their_roots_offset():
    module, _ = _reshaped_output()
    lower_to_aic_core(module, 1, passes="plan-memory")
    decls = _decls(module)
    aliases = [d for d in decls.values() if d.kind.data == "alias"]
    assert aliases and all(a.offset == decls[a.alias.root_reference.data].offset for a in aliases)


@pytest.mark.parametrize("damage,message", [
    ("vtcm-overlap", "overlap"),
    ("vtcm-outside", "outside VTCM"),
    ("ddr-overlap", "overlap while both may be live"),
    ("alias", "its root"),
    ("missing", "no vtcm_offset"),
])
def test_the_verifier_finds_every_kind_of_mistake(damage, message):
    module, _ = mlp()
    lower_to_aic_core(module, 2, lambda m: split_evenly(m, 2, 2, "rows"), passes="plan-memory")
    verify_memory_plan(module, HW)
    task = next(task for _, task in tasks(module))
    buffers = [op for op in task.body.block.ops if isinstance(op, (c.DMALoadOp, c.ComputeOp))]
    decls = _decls(module)
    if damage == "vtcm-overlap":
        buffers[1].properties["vtcm_offset"] = buffers[0].properties["vtcm_offset"]
    elif damage == "vtcm-outside":
        buffers[0].properties["vtcm_offset"] = IntegerAttr(HW.vtcm_usable_bytes - 8, i64)
    elif damage == "ddr-overlap":
        decls["bias1"].properties["offset"] = decls["fc1"].offset  # bias1 reads fc1
    elif damage == "alias":
        module.body.block.add_op(c.DDRTensorOp.create(properties={
            "sym_name": StringAttr("fc1.view"), "type": decls["fc1"].type, "kind": StringAttr("alias"),
            "alias": FlatSymbolRefAttr("fc1"), "offset": IntegerAttr(decls["fc1"].offset.value.data + 4, i64)}))
    elif damage == "missing":
        del buffers[0].properties["vtcm_offset"]
    with pytest.raises(QaiccError, match=message):
        verify_memory_plan(module, HW)


def test_retiling_more_tiles_when_vtcm_is_small(tmp_path):
    module, inputs = mlp()
    lower_to_aic_core(module, 1, lambda m: split_evenly(m, 1, 1))
    expected = run_module(module, inputs)
    before = {t.op_name.data: t.tiles.value.data for _, t in tasks(module)}
    target = _target(tmp_path, 6000)
    _run(module, f'plan-memory{{target="{target}"}}')
    after = {t.op_name.data: t.tiles.value.data for _, t in tasks(module)}
    assert after["fc1"] > before["fc1"] and after["fc2"] > before["fc2"]
    hw = load_target(target)
    verify_memory_plan(module, hw)
    assert max(vtcm_peaks(module).values()) <= 6000
    assert static_metrics(module, hw).peak_vtcm_bytes <= 6000
    fc1 = next(t for _, t in tasks(module) if t.op_name.data == "fc1")
    w1 = next(op for op in fc1.body.block.ops if isinstance(op, c.DMALoadOp) and op.source.root_reference.data == "w1")
    assert any(w1.int_list("tile_steps"))  # the weight, too large to stay, streams from DDR
    assert _close(module, inputs, expected)


def test_retiling_into_consecutive_tasks_keeps_results_and_synchronization(tmp_path):
    module, inputs = mlp()
    lower_to_aic_core(module, 2, lambda m: split_evenly(m, 2, 2, "rows"))
    expected = run_module(module, inputs)
    target = _target(tmp_path, 3000)
    _run(module, f'insert-multicast,plan-memory{{target="{target}"}},schedule')
    hw = load_target(target)
    counts = {}
    for core, task in tasks(module):
        counts[(core, task.op_name.data)] = counts.get((core, task.op_name.data), 0) + 1
    assert counts[(0, "fc1")] > 1 and counts[(0, "fc1")] == counts[(1, "fc1")]
    verify_memory_plan(module, hw)
    assert _close(module, inputs, expected)
    # multicast groups were recomputed for the new blocks
    marked = [op for op in module.walk() if isinstance(op, c.DMALoadOp) and op.multicast_cores is not None]
    assert marked and all(list(op.int_list("multicast_cores")) == [0, 1] for op in marked)


def test_nothing_fits_names_the_op_its_working_set_and_the_limit(tmp_path):
    module, _ = mlp()
    lower_to_aic_core(module, 1, lambda m: split_evenly(m, 1, 1))
    target = _target(tmp_path, 100)
    with pytest.raises(QaiccError, match=r"plan-memory: task 'fc1' on core 0 needs 14336 bytes of VTCM, more than the 100 bytes of target 'tiny'"):
        _run(module, f'plan-memory{{target="{target}"}}')


def _softmax():
    x = np.ones((64, 64), np.float32)
    return aic_graph_module([x], lambda b, a: [b.op(g.SoftmaxOp, [a[0]], (64, 64), node="sm", axis=IntegerAttr(0, i64))])


def test_a_softmax_is_cut_across_its_axis_only(tmp_path):
    module = _softmax()
    lower_to_aic_core(module, 1)
    target = _target(tmp_path, 20000)  # needs 32768: a softmax over axis 0 is cut along axis 1
    _run(module, f'plan-memory{{target="{target}"}}')
    task = next(t for _, t in tasks(module))
    load = next(op for op in task.body.block.ops if isinstance(op, c.DMALoadOp))
    assert load.int_list("tile_steps")[0] == 0 and load.output.type.get_shape()[0] == 64


def test_the_smallest_tiling_is_reported_when_nothing_fits(tmp_path):
    target = _target(tmp_path, 500)
    module = _softmax()
    lower_to_aic_core(module, 1)
    with pytest.raises(QaiccError, match="task 'sm' on core 0 needs 32768 bytes.*smallest tiling along a parallel axis needs 512 bytes"):
        _run(module, f'plan-memory{{target="{target}"}}')


def test_a_tile_that_cannot_be_cut_is_reported(tmp_path):
    x = np.ones((1, 4096), np.float32)  # one row softmax: nothing to cut

    def build(b, args):
        return [b.op(g.SoftmaxOp, [args[0]], (1, 4096), node="sm", axis=IntegerAttr(1, i64))]

    module = aic_graph_module([x], build)
    lower_to_aic_core(module, 1)
    target = _target(tmp_path, 4096)
    with pytest.raises(QaiccError, match="task 'sm' on core 0 needs 32768 bytes of VTCM, more than the 4096 "
                                         "bytes of target 'tiny', and its tile cannot be cut further"):
        _run(module, f'plan-memory{{target="{target}"}}')


def test_an_embedding_table_stays_in_ddr(tmp_path):
    table = np.arange(256 * 64, dtype=np.float32).reshape(256, 64)
    ids = np.array([[3, 255]], np.int64)

    def build(b, args):
        return [b.op(g.GatherOp, [b.constant(table, "table"), args[0]], (1, 2, 64), node="embed", axis=IntegerAttr(0, i64))]

    module = aic_graph_module([ids], build)
    expected = run_module(module, [ids])
    lower_to_aic_core(module, 1)
    _run(module, f'plan-memory{{target="{_target(tmp_path, 4096)}"}}')  # the table is 64 KB
    assert _close(module, [ids], expected)
    metrics = static_metrics(module, load_target(_target(tmp_path, 4096)))
    assert metrics.cores[0].ddr_read_bytes == ids.nbytes + 2 * 64 * 4  # the ids and two rows


def test_retiling_respects_the_alignment(tmp_path):
    module, inputs = mlp()
    lower_to_aic_core(module, 1, lambda m: split_evenly(m, 1, 1))
    expected = run_module(module, inputs)
    target = _target(tmp_path, 6000)
    _run(module, f'plan-memory{{target="{target}" align=512}}')
    verify_memory_plan(module, load_target(target))
    assert all(op.int_prop("vtcm_offset") % 512 == 0 for op in _buffer_ops(module))
    assert _close(module, inputs, expected)


def test_idempotent_and_valid_after_schedule():
    module, inputs = two_branches()
    lower_to_aic_core(module, 2, place_two_branches, passes="plan-memory")
    offsets = [op.properties.get("vtcm_offset") for op in _buffer_ops(module)]
    ddr = {n: d.offset for n, d in _decls(module).items()}
    _run(module, "plan-memory")
    assert offsets == [op.properties.get("vtcm_offset") for op in _buffer_ops(module)]
    assert ddr == {n: d.offset for n, d in _decls(module).items()}
    _run(module, "schedule")
    verify_memory_plan(module, HW)


def test_guards():
    module, _ = mlp()
    with pytest.raises(QaiccError, match="no aic_core.program"):
        _run(module, "plan-memory")
    lower_to_aic_core(module, 1)
    with pytest.raises(QaiccError, match="align must be a positive"):
        _run(module, "plan-memory{align=0}")
    with pytest.raises(QaiccError, match="unknown hardware version"):
        _run(module, "plan-memory{target=ai300}")


def test_alignment():
    module, _ = mlp()
    lower_to_aic_core(module, 2, lambda m: split_evenly(m, 2, 2), passes="plan-memory{align=64}")
    assert all(op.int_prop("vtcm_offset") % 64 == 0 for op in _buffer_ops(module))
    assert all(d.offset.value.data % 64 == 0 for d in _decls(module).values())
    verify_memory_plan(module, HW)


@lru_cache(maxsize=None)
def _lowered(name: str) -> ModuleOp:
    return lower_to_aic_graph(MODELS / f"{name}.onnx")


@needs_front_end
@pytest.mark.filterwarnings("ignore:bind-symbols")
@pytest.mark.parametrize("name", ["bert_small", "resnet50_small", "gpt2_small", "mobilenetv2_small", "vit_small"])
@pytest.mark.parametrize("cores,tiles,partition", [(1, 1, "split"), (4, 2, "split"), (3, 1, "round_robin")])
def test_models_keep_their_results(name, cores, tiles, partition):
    module = _lowered(name).clone()
    feeds = random_inputs(onnx.load(MODELS / f"{name}.onnx"), {"batch_size": 1, "sequence": 16})
    place = (lambda m: split_evenly(m, cores, tiles)) if partition == "split" else (lambda m: round_robin(m, cores))
    lower_to_aic_core(module, cores, place)
    expected = run_module(module, feeds)
    _run(module, "insert-multicast,schedule,plan-memory")
    verify_memory_plan(module, HW)
    assert max(vtcm_peaks(module).values()) <= HW.vtcm_usable_bytes
    assert _same(module, feeds, expected)


@needs_front_end
@pytest.mark.filterwarnings("ignore:bind-symbols")
def test_a_model_retiled_for_a_small_vtcm(tmp_path):
    module = _lowered("resnet50_small").clone()
    feeds = random_inputs(onnx.load(MODELS / "resnet50_small.onnx"), {"batch_size": 1, "sequence": 16})
    lower_to_aic_core(module, 2, lambda m: split_evenly(m, 2, 1))
    expected = run_module(module, feeds)
    limit = static_metrics(module, HW).peak_vtcm_bytes * 2 // 3  # a conv's whole input must still fit
    target = _target(tmp_path, limit)
    tiles_before = sum(t.tiles.value.data for _, t in tasks(module))
    _run(module, f'insert-multicast,plan-memory{{target="{target}"}},schedule')
    assert sum(t.tiles.value.data for _, t in tasks(module)) > tiles_before
    verify_memory_plan(module, load_target(target))
    assert max(vtcm_peaks(module).values()) <= limit
    assert _close(module, feeds, expected)
