"""The importer keeps names, symbolic dims, node names, subgraphs; constants stay lazy."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from xdsl.dialects import func
from xdsl.dialects.builtin import DYNAMIC_INDEX

from qaicc.dialects.onnx.ops import ConstantOp, IfOp, MatMulOp
from qaicc.dialects.qaicc_attrs import DenseBlobAttr
from qaicc.onnx_io.exporter import export_module
from qaicc.onnx_io.importer import import_model
from qaicc.testing.models import make_model


def _main(module) -> func.FuncOp:
    return next(op for op in module.ops if isinstance(op, func.FuncOp))


def test_names_and_symbolic_dims_are_kept(mlp_model):
    module = import_model(mlp_model)
    module.verify()
    main = _main(module)
    assert main.sym_name.data == "main_graph"
    arg_attrs = main.arg_attrs.data[0].data
    assert arg_attrs["onnx.name"].data == "input"
    assert arg_attrs["onnx.dim_params"].data == "0:batch_size"
    assert main.res_attrs.data[0].data["onnx.name"].data == "logits"
    assert main.function_type.inputs.data[0].get_shape() == (DYNAMIC_INDEX, 8)
    assert module.attributes["onnx.opset"].value.data == 18
    names = [op.attributes["onnx_node_name"].data for op in main.body.ops if "onnx_node_name" in op.attributes]
    assert names == ["/fc1/MatMul", "/fc1/Add", "/act/Relu", "/fc2/MatMul"]
    assert sum(isinstance(op, MatMulOp) for op in main.body.ops) == 2


def test_initializers_become_lazy_blobs(mlp_model):
    module = import_model(mlp_model)
    constants = [op for op in _main(module).body.ops if isinstance(op, ConstantOp)]
    assert [c.properties["value"].blob_name.data for c in constants] == ["fc1.weight", "fc1.bias", "fc2.weight"]
    blob = constants[0].properties["value"].blob
    assert not blob.is_loaded  # the importer never touched the weight bytes
    expected = onnx.numpy_helper.to_array(mlp_model.graph.initializer[0])
    np.testing.assert_array_equal(blob.array, expected)
    assert not blob.array.flags.writeable


def test_subgraphs_become_regions_capturing_outer_values(if_model):
    module = import_model(if_model)
    module.verify()
    if_op = next(op for op in _main(module).body.ops if isinstance(op, IfOp))
    assert len(if_op.regions) == 2
    exported = export_module(module)
    feeds = {"cond": np.array(True), "x": np.array([1, 2, 3], np.float32)}
    for cond in (True, False):
        feeds["cond"] = np.array(cond)
        a = ort.InferenceSession(if_model.SerializeToString()).run(None, feeds)
        b = ort.InferenceSession(exported.SerializeToString()).run(None, feeds)
        np.testing.assert_array_equal(a[0], b[0])


def test_old_opset_nodes_use_the_matching_op_version():
    from onnx import TensorProto, helper

    model = make_model(
        [helper.make_node("Split", ["x"], ["a", "b"], axis=0, split=[1, 2], name="split11")],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [1]),
         helper.make_tensor_value_info("b", TensorProto.FLOAT, [2])],
        opset=11,
    )
    module = import_model(model)
    module.verify()
    split = next(op for op in _main(module).body.ops if op.name.startswith("onnx.Split"))
    assert split.name == "onnx.SplitV2"  # the signature of opsets 2 and 11
    exported = export_module(module)
    assert exported.opset_import[0].version == 11
    x = np.array([1, 2, 3], np.float32)
    out = ort.InferenceSession(exported.SerializeToString()).run(None, {"x": x})
    np.testing.assert_array_equal(out[1], [2, 3])


def test_constant_node_values_are_blobs():
    from onnx import TensorProto, helper

    value = onnx.numpy_helper.from_array(np.arange(6, dtype=np.int64).reshape(2, 3), "c")
    model = make_model(
        [helper.make_node("Constant", [], ["y"], value=value, name="const")],
        [], [helper.make_tensor_value_info("y", TensorProto.INT64, [2, 3])],
    )
    module = import_model(model)
    const = next(op for op in _main(module).body.ops if isinstance(op, ConstantOp))
    attr = const.properties["value"]
    assert isinstance(attr, DenseBlobAttr)
    np.testing.assert_array_equal(attr.to_numpy(), np.arange(6).reshape(2, 3))
