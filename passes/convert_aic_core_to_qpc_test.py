"""convert-aic-core-to-qpc: the container holds everything the aic-core module does
(checked by running what the QPC file encodes), kernels are shared, the IR grows with
ops x cores, flags/target/batch are recorded, and the verifier catches bad references."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr, IntegerAttr, StringAttr, TensorType, i64
from xdsl.utils.exceptions import VerifyException

from qaicc.dialects.aic_core import ops as c
from qaicc.dialects.aic_core.partition import _array
from qaicc.dialects.aic_graph import ops as g
from qaicc.dialects.aic_graph.types import MXFP6Type
from qaicc.dialects.qaicc_attrs import DenseBlobAttr
from qaicc.dialects.qpc import ops as q
from qaicc.errors import QaiccError
from qaicc.passes.convert_aic_core_to_qpc import parse_flags
from qaicc.semantics import run_module
from qaicc.semantics.mxfp6 import quantize
from qaicc.testing.aic_graph_builders import tensor_type
from qaicc.testing.qpc import matmul_graph, matmul_module, model_to_aic_core, run

MODELS = Path(__file__).resolve().parent.parent / "tests" / "models"


def _container(module) -> q.ContainerOp:
    (container,) = list(module.ops)
    assert isinstance(container, q.ContainerOp)
    return container


def _ops(module, kind):
    return [op for op in module.walk() if isinstance(op, kind)]


def test_matmul_on_two_cores():
    module, _ = matmul_module(cores=2, tiles=2)
    run(module, "convert-aic-core-to-qpc")
    container = _container(module)
    assert container.num_cores.value.data == 2 and container.target.data == "ai100-pro"
    assert [(io.io_name.data, io.kind.data) for io in container.ios] == [("x", "input"), ("y", "output")]
    tensors = {t.tensor_name.data: t for t in container.ddr_tensors}
    assert tensors["mm.view"].kind.data == "alias" and tensors["mm.view"].alias.value.data == tensors["mm"].id.value.data
    assert tensors["w"].constant.value.data == 0
    (constant,) = container.constants
    assert constant.int_list("offsets") == [0] and constant.value.blob_name.data == "w"
    # one kernel, run by both cores; the tile loop stays one task per core
    assert len(container.kernels) == 1
    assert [s.core.value.data for s in container.streams] == [0, 1]
    for stream in container.streams:
        (task,) = _ops(stream, q.TaskOp)
        assert task.tiles.value.data == 2 and task.ols.value.data == 2
        (execute,) = _ops(task, q.ExecOp)
        assert execute.kernel.value.data == 0 and execute.unit.data == "matrix"
    assert "aic_core.num_cores" not in module.attributes


def test_kernels_are_shared_across_cores_and_ir_grows_with_cores_not_tiles():
    sizes, kernels = {}, {}
    for cores, tiles in ((2, 1), (2, 2), (2, 4), (4, 2)):
        module = model_to_aic_core(MODELS / "bert_small.onnx", cores, tiles)
        aic_core_ops = sum(1 for _ in module.walk())
        run(module, "convert-aic-core-to-qpc")
        container = _container(module)
        sizes[(cores, tiles)] = sum(1 for _ in module.walk())
        kernels[(cores, tiles)] = len(container.kernels)
        # the qpc IR is no bigger than the aic-core IR (kernels are stored once)
        assert sizes[(cores, tiles)] < aic_core_ops
        used = [{e.kernel.value.data for e in _ops(s, q.ExecOp)} for s in container.streams]
        assert set().union(*used[1:]) <= used[0]  # an even split: other cores reuse core 0's kernels
        assert len(container.kernels) < len(_ops(container, q.ExecOp)) / 2
    assert sizes[(2, 1)] == sizes[(2, 2)] == sizes[(2, 4)]
    assert sizes[(4, 2)] > sizes[(2, 2)]


def test_flags_target_and_batch_from_options():
    module, _ = matmul_module()
    run(module, 'convert-aic-core-to-qpc{flags="-aic-num-cores=2 -convert-to-fp16 -m=a -m=b" target="2.0"}')
    container = _container(module)
    assert container.target.data == "ai100-pro"
    assert container.flags == DictionaryAttr({
        "aic-num-cores": StringAttr("2"), "convert-to-fp16": StringAttr("true"),
        "m": ArrayAttr([StringAttr("a"), StringAttr("b")])})
    assert list(container.flags.data) == sorted(container.flags.data)


def test_flags_target_and_batch_from_module_attributes():
    module, _ = matmul_module()
    module.attributes["qaicc.compile_flags"] = StringAttr("-aic-hw-version=ai100-standard -batchsize=4")
    run(module, "convert-aic-core-to-qpc")
    container = _container(module)
    assert container.target.data == "ai100-standard"
    assert container.batch_size.value.data == 4
    assert all(io.batch.value.data == 4 for io in container.ios)

    module, _ = matmul_module()
    module.attributes["qaicc.target"] = StringAttr("ai100-standard")
    module.attributes["qaicc.batch_size"] = IntegerAttr(2, i64)
    module.attributes["qaicc.compile_flags"] = DictionaryAttr({"ols": StringAttr("2")})
    run(module, "convert-aic-core-to-qpc")
    container = _container(module)
    assert container.target.data == "ai100-standard" and container.batch_size.value.data == 2
    assert container.flags.data["ols"] == StringAttr("2")


def test_parse_flags():
    assert parse_flags("") == {}
    assert parse_flags("-a=1 --b -c='x y'") == {"a": "1", "b": "true", "c": "x y"}
    with pytest.raises(QaiccError, match="does not start with '-'"):
        parse_flags("-a=1 oops")


@pytest.mark.parametrize("spec,message", [
    ('convert-aic-core-to-qpc{flags="-a \'unclosed"}', "cannot read the compile flags"),
    ('convert-aic-core-to-qpc{target="ai999"}', "unknown hardware version 'ai999'"),
    ('convert-aic-core-to-qpc{flags="-batchsize=zero"}', "-batchsize must be a positive integer"),
])
def test_bad_flags_are_one_line_errors(spec, message):
    module, _ = matmul_module()
    with pytest.raises(QaiccError, match=message) as error:
        run(module, spec)
    assert "\n" not in str(error.value)


def test_more_cores_than_the_target_has():
    module, _ = matmul_module(cores=2)
    module.attributes["aic_core.num_cores"] = IntegerAttr(32, i64)
    with pytest.raises(QaiccError, match="uses 32 cores, ai100-pro has 16"):
        run(module, "convert-aic-core-to-qpc")


def test_not_aic_core_is_refused():
    module, _ = matmul_graph()
    with pytest.raises(QaiccError, match="holds no aic_core.launch; run convert-aic-graph-to-aic-core first"):
        run(module, "convert-aic-core-to-qpc")


def test_planned_offsets_and_multicast_carry_over():
    module, _ = matmul_module(cores=2, tiles=2)
    for index, op in enumerate(_ops(module, c.DMALoadOp) + _ops(module, c.ComputeOp)):
        op.properties["vtcm_offset"] = IntegerAttr(64 * index, i64)
        op.properties["buffers"] = IntegerAttr(2, i64)
    for load in _ops(module, c.DMALoadOp):
        if load.source.root_reference.data == "w":
            load.properties["multicast_cores"] = _array([0, 1])
    for index, op in enumerate(_ops(module, c.DDRTensorOp)):
        if op.kind.data != "alias":
            op.properties["offset"] = IntegerAttr(1024 * index, i64)
    run(module, "convert-aic-core-to-qpc")
    container = _container(module)
    loads = _ops(container, q.DMALoadOp)
    assert all(load.int_prop("buffers") == 2 and load.int_prop("vtcm_offset") is not None for load in loads)
    assert sum(1 for load in loads if load.int_list("multicast_cores") == [0, 1]) == 2
    assert [t.int_prop("offset") for t in container.ddr_tensors if t.kind.data != "alias"] == [0, 1024, 2048]


def test_in_ddr_load_round_trips_and_takes_no_vtcm(tmp_path):
    from xdsl.dialects.builtin import UnitAttr

    from qaicc.qpc import load_qpc
    from qaicc.testing.qpc import compile_qpc

    module, inputs = matmul_module(cores=2, tiles=2)
    for load in _ops(module, c.DMALoadOp):
        if load.source.root_reference.data == "w":
            load.properties["in_ddr"] = UnitAttr()
    expected = run_module(module, inputs)["y"]
    qpc = run(module.clone(), "convert-aic-core-to-qpc")
    assert sum(1 for load in _ops(qpc, q.DMALoadOp) if load.in_ddr is not None) == 2
    compile_qpc(module, tmp_path)
    loaded = load_qpc(tmp_path)
    rebuilt = loaded.to_aic_core()
    assert sum(1 for load in _ops(rebuilt, c.DMALoadOp) if load.in_ddr is not None) == 2
    np.testing.assert_array_equal(run_module(rebuilt, inputs)["y"], expected)
    # x tile 2x16 and result 2x4 double-buffered; w stays in DDR
    assert loaded.meta["vtcm"]["peak_bytes_per_core"] == [2 * 128 + 2 * 32] * 2


def test_an_unknown_property_is_an_error_not_lost():
    module, _ = matmul_module()
    _ops(module, c.DMAStoreOp)[0].properties["priority"] = IntegerAttr(1, i64)
    with pytest.raises(QaiccError, match="cannot encode property 'priority' of 'aic_core.dma_store'"):
        run(module, "convert-aic-core-to-qpc")


def test_mxfp6_constant_keeps_both_blobs(tmp_path):
    from qaicc.qpc import load_qpc
    from qaicc.testing.qpc import compile_qpc

    module, inputs = matmul_graph()
    constant = next(op for op in module.walk() if isinstance(op, g.ConstantOp))
    elements, scales = quantize(constant.value.to_numpy(), 0, "e2m3")
    blob = lambda a, n: DenseBlobAttr.from_array(a, n, tensor_type(a))
    mxfp6 = g.MXFP6ConstantOp.build(
        result_types=[TensorType(MXFP6Type(StringAttr("e2m3")), (16, 4))],
        properties={"elements": blob(elements, "w.elements"), "scales": blob(scales, "w.scales"),
                    "axis": IntegerAttr(0, i64)})
    dequantize = g.DequantizeOp.build(operands=[mxfp6.output], result_types=[constant.output.type])
    block = constant.parent_block()
    block.insert_ops_before([mxfp6, dequantize], constant)
    constant.output.replace_all_uses_with(dequantize.output)
    block.erase_op(constant)
    run(module, "convert-aic-graph-to-aic-core")
    expected = run_module(module, inputs)["y"]
    qpc = run(module.clone(), "convert-aic-core-to-qpc")
    (entry,) = _container(qpc).constants
    assert [b.blob_name.data for b in entry.blobs()] == ["w.elements", "w.scales"]
    offsets = entry.int_list("offsets")
    assert offsets[0] == 0 and offsets[1] % 64 == 0 and offsets[1] >= elements.nbytes
    compile_qpc(module, tmp_path)
    rebuilt = load_qpc(tmp_path).to_aic_core()
    np.testing.assert_array_equal(run_module(rebuilt, inputs)["y"], expected)


# -- the verifier -----------------------------------------------------------------------


def _converted():
    module, _ = matmul_module(cores=2, tiles=2)
    return run(module, "convert-aic-core-to-qpc")


def _expect_verify_error(module, message):
    with pytest.raises(VerifyException, match=message):
        module.verify()


def test_verifier_unknown_kernel():
    module = _converted()
    _ops(module, q.ExecOp)[0].properties["kernel"] = IntegerAttr(7, i64)
    _expect_verify_error(module, "unknown kernel 7")


def test_verifier_tile_out_of_tensor():
    module = _converted()
    load = _ops(module, q.DMALoadOp)[0]
    load.properties["tile_steps"] = _array([7, 0])
    _expect_verify_error(module, "tile 1 of 'in.x' leaves the tensor on axis 0")


def test_verifier_ids_and_order():
    module = _converted()
    _container(module).ddr_tensors[1].properties["id"] = IntegerAttr(5, i64)
    _expect_verify_error(module, "ids must be 0, 1, 2")
    module = _converted()
    container = _container(module)
    stream = container.streams[0]
    stream.detach()
    container.body.block.insert_op_before(stream, container.ddr_tensors[0])
    _expect_verify_error(module, "'qpc.ddr_tensor' after 'qpc.stream'")


def test_verifier_unknown_semaphore_and_wrong_unit():
    module = _converted()
    _ops(module, q.SignalOp)[0].properties["semaphore"] = IntegerAttr(3, i64)
    _expect_verify_error(module, "unknown semaphore 3")
    module = _converted()
    _ops(module, q.ExecOp)[0].properties["unit"] = StringAttr("vector")
    _expect_verify_error(module, "runs on the vector unit, kernel 0 is a matrix kernel")


def test_verifier_op_level_checks():
    module = _converted()
    task = _ops(module, q.TaskOp)[0]
    task.properties["ols"] = IntegerAttr(3, i64)
    _expect_verify_error(module, "ols must be between 1 and tiles")
    module = _converted()
    (constant,) = _container(module).constants
    constant.properties["offsets"] = _array([8])
    _expect_verify_error(module, "not a multiple of 64")
    module = _converted()
    _container(module).ddr_tensors[0].properties["kind"] = StringAttr("scratch")
    _expect_verify_error(module, "unknown kind 'scratch'")


def test_outputs_match_after_conversion_round_trip(tmp_path):
    """The IR itself is checked by running the file it encodes (emit_qpc_test covers models)."""
    from qaicc.qpc import load_qpc
    from qaicc.testing.qpc import compile_qpc

    module, inputs = matmul_module(cores=2, tiles=2)
    expected = run_module(module, inputs)["y"]
    compile_qpc(module, tmp_path)
    np.testing.assert_array_equal(run_module(load_qpc(tmp_path).to_aic_core(), inputs)["y"], expected)
