"""shape-inference: every value gets the most static type known, never a less static one."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from onnx import TensorProto, helper, numpy_helper
from xdsl.dialects import func
from xdsl.dialects.builtin import DYNAMIC_INDEX, TensorType
from xdsl.ir import OpResult

from qaicc.dialects.onnx.element_types import from_xdsl
from qaicc.errors import QaiccError
from qaicc.ir.context import make_context
from qaicc.ir.pipeline import build_pipeline, run_pipeline
from qaicc.ir.printing import parse_module, print_module
from qaicc.onnx_io.exporter import export_module, export_skeleton
from qaicc.onnx_io.importer import import_model
from qaicc.passes import ALL_PASSES
from qaicc.passes.shape_inference import ShapeConflictError, ShapeInferencePass, infer_shapes
from qaicc.testing.compare import identical
from qaicc.testing.graph_strategies import random_graph
from qaicc.testing.models import make_model
from qaicc.testing.node_cases import run_ort
from qaicc.testing.random_inputs import random_inputs

MODELS = Path(__file__).resolve().parent.parent / "tests" / "models"


def _run(module, spec: str):
    run_pipeline(build_pipeline(spec, ALL_PASSES), module, make_context())
    return module


def _main(module) -> func.FuncOp:
    return next(op for op in module.ops if isinstance(op, func.FuncOp))


def _values(module):
    for op in module.walk():
        yield from op.results
        for region in op.regions:
            for block in region.blocks:
                yield from block.args


def _static(type) -> bool:
    return isinstance(type, TensorType) and DYNAMIC_INDEX not in type.get_shape()


def _not_static(module) -> list:
    return [v for v in _values(module) if not _static(v.type)]


def _by_node(module, node_name: str):
    return next(op for op in module.walk() if op.attributes.get("onnx_node_name") == _attr(node_name))


def _attr(text: str):
    from xdsl.dialects.builtin import StringAttr

    return StringAttr(text)


def _runtime_mismatches(module, feeds) -> list:
    """The main-graph values whose type disagrees with what onnxruntime computes
    (every value is made a graph output of the exported model)."""
    model, names = export_skeleton(module, max_constant_elements=2**62)
    block = _main(module).body.block
    constants = {t.name for t in model.graph.initializer}
    values = {
        name: value for value, name in names.items()
        if isinstance(value, OpResult) and value.op.parent_block() is block and name not in constants
    }
    outputs = [o.name for o in model.graph.output]
    added = [name for name in values if name not in outputs]
    model.graph.output.extend(helper.make_empty_tensor_value_info(name) for name in added)
    mismatches = []
    for name, array in zip(outputs + added, run_ort(model, feeds)):
        value = values.get(name)
        if value is None:
            continue
        shape = value.type.get_shape()
        same_shape = len(shape) == array.ndim and all(d in (DYNAMIC_INDEX, n) for d, n in zip(shape, array.shape))
        if not same_shape or from_xdsl(value.type.element_type).numpy != array.dtype:
            mismatches.append((name, str(value.type), array.shape, array.dtype))
    return mismatches


# -- the check of symbols ----------------------------------------------------------------


def test_unbound_symbols_are_an_error_naming_symbols_inputs_and_the_fix():
    module = import_model(MODELS / "bert_small.onnx")
    with pytest.raises(QaiccError) as error:
        _run(module, "shape-inference")
    message = str(error.value)
    assert "\n" not in message
    assert "'batch_size' (inputs input_ids, attention_mask, token_type_ids)" in message
    assert "'sequence' (inputs input_ids, attention_mask, token_type_ids)" in message
    assert "bind-symbols{batch_size=N sequence=N}" in message
    assert "-onnx-define-symbol=batch_size,N" in message


def test_partially_bound_symbols_name_only_the_unbound():
    module = _run(import_model(MODELS / "bert_small.onnx"), "bind-symbols{batch_size=1}")
    with pytest.raises(QaiccError, match=r"'sequence' \(inputs") as error:
        _run(module, "shape-inference")
    assert "batch_size" not in str(error.value)


def test_nameless_dynamic_input_dim_is_a_warning():
    model = make_model(
        [helper.make_node("Relu", ["x"], ["y"], name="relu")],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    module = import_model(model)
    with pytest.warns(UserWarning, match="dimension 0 of input 'x' is dynamic and has no name"):
        _run(module, "shape-inference")
    assert _main(module).function_type.outputs.data[0].get_shape() == (DYNAMIC_INDEX, 3)


# -- transformer models ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["bert_small", "gpt2_small"])
def test_bound_transformers_become_fully_static_and_run_identically(name):
    path = MODELS / f"{name}.onnx"
    module = _run(import_model(path), "bind-symbols{batch_size=2 sequence=7},shape-inference")
    module.verify()
    assert _not_static(module) == []
    main = _main(module)
    assert all(_static(t) for t in main.function_type.outputs.data)
    assert all("onnx.dim_params" not in a.data for a in main.res_attrs.data)
    exported = export_module(module)
    onnx.checker.check_model(exported)
    original = onnx.load(path)
    feeds = random_inputs(original, symbols={"batch_size": 2, "sequence": 7})
    assert _runtime_mismatches(module, feeds) == []
    expected, actual = run_ort(original, feeds), run_ort(exported, feeds)
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        assert identical(a, e)
        assert a.shape[:2] == (2, 7) or a.shape[:1] == (2,)


def test_second_run_changes_nothing():
    module = _run(import_model(MODELS / "gpt2_small.onnx"), "bind-symbols{batch_size=1 sequence=5}")
    assert infer_shapes(module) is True
    text = print_module(module)
    assert infer_shapes(module) is False
    assert print_module(module) == text


def test_symbolic_model_is_refined_as_far_as_possible_without_the_check():
    module = import_model(MODELS / "bert_small.onnx")
    infer_shapes(module)  # the Python entry point does not require bound symbols
    module.verify()
    pooled = _main(module).function_type.outputs.data[1]
    assert pooled.get_shape() == (DYNAMIC_INDEX, 64)


# -- small graphs ------------------------------------------------------------------------

RESHAPE_CONSTANT = """
builtin.module attributes {onnx.opset = 18 : i64} {
  func.func @main_graph(%x: tensor<2x12xf32> {onnx.name = "x"}) -> (tensor<?x?xf32> {onnx.name = "y"}) {
    %shape = "onnx.Constant"() <{value = #qaicc.blob<"shape" : tensor<2xi64> = [3, -1]>}> {onnx.initializer} : () -> tensor<2xi64>
    %r = "onnx.Reshape"(%x, %shape) {onnx_node_name = "rs"} : (tensor<2x12xf32>, tensor<2xi64>) -> tensor<?x?xf32>
    %y = "onnx.Relu"(%r) {onnx_node_name = "relu"} : (tensor<?x?xf32>) -> tensor<?x?xf32>
    func.return %y : tensor<?x?xf32>
  }
}
"""


def test_reshape_with_a_constant_target():
    module = _run(parse_module(RESHAPE_CONSTANT), "shape-inference")
    module.verify()
    assert _by_node(module, "rs").results[0].type == TensorType(_f32(), [3, 8])
    main = _main(module)
    assert main.function_type.outputs.data[0].get_shape() == (3, 8)
    assert main.body.block.last_op.arguments[0].type.get_shape() == (3, 8)


def _f32():
    from xdsl.dialects.builtin import f32

    return f32


def _shape_chain_model() -> onnx.ModelProto:
    """x[batch, seq, 8] -> Reshape(x, Concat(Shape(x)[0], Shape(x)[1], 2, 4)) -> Range(0, seq)."""
    ints = lambda name, values: numpy_helper.from_array(np.array(values, np.int64), name)  # noqa: E731
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"], name="shape"),
        helper.make_node("Gather", ["shape", "zero"], ["batch"], name="g0", axis=0),
        helper.make_node("Gather", ["shape", "one"], ["seq"], name="g1", axis=0),
        helper.make_node("Unsqueeze", ["batch", "axes"], ["batch1"], name="u0"),
        helper.make_node("Unsqueeze", ["seq", "axes"], ["seq1"], name="u1"),
        helper.make_node("Concat", ["batch1", "seq1", "heads"], ["target"], name="concat", axis=0),
        helper.make_node("Reshape", ["x", "target"], ["y"], name="reshape"),
        helper.make_node("Range", ["zero", "seq", "one"], ["positions"], name="range"),
    ]
    return make_model(
        nodes,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "seq", 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None),
         helper.make_tensor_value_info("positions", TensorProto.INT64, None)],
        [ints("zero", 0), ints("one", 1), ints("axes", [0]), ints("heads", [2, 4])],
    )


def test_shape_computations_are_evaluated_until_everything_is_static():
    model = _shape_chain_model()
    module = _run(import_model(model), "bind-symbols{batch=3 seq=5},shape-inference")
    module.verify()
    assert _not_static(module) == []
    assert _by_node(module, "reshape").results[0].type.get_shape() == (3, 5, 2, 4)
    assert _by_node(module, "range").results[0].type.get_shape() == (5,)
    # the IR's ops are unchanged: the evaluation happens on the skeleton only
    assert [op.name for op in _main(module).body.ops].count("onnx.Shape") == 1
    feeds = random_inputs(model, symbols={"batch": 3, "seq": 5})
    for a, e in zip(run_ort(export_module(module), feeds), run_ort(model, feeds)):
        assert identical(a, e)


WRONG_VALUE_INFO = """
builtin.module attributes {onnx.opset = 18 : i64} {
  func.func @main_graph(%x: tensor<2x3xf32> {onnx.name = "x"}) -> (tensor<2x5xf32> {onnx.name = "z"}) {
    %y = "onnx.Relu"(%x) {onnx_node_name = "relu"} : (tensor<2x3xf32>) -> tensor<2x5xf32>
    %z = "onnx.Neg"(%y) {onnx_node_name = "neg"} : (tensor<2x5xf32>) -> tensor<2x5xf32>
    %w = "onnx.Cast"(%x) <{to = 7 : i64}> {onnx_node_name = "cast"} : (tensor<2x3xf32>) -> tensor<2x3xf32>
    func.return %z : tensor<2x5xf32>
  }
}
"""


def test_contradicting_types_are_all_reported_and_nothing_changes():
    module = parse_module(WRONG_VALUE_INFO)
    before = print_module(module)
    with pytest.raises(ShapeConflictError) as error:
        _run(module, "shape-inference")
    message = str(error.value)
    assert message.splitlines()[0].startswith("shape-inference: 3 value(s) have a static type")
    assert "'y' (result 0 of onnx.Relu 'relu'): the IR says tensor<2x5xf32>, ONNX infers tensor<2x3xf32>" in message
    assert "'z' (result 0 of onnx.Neg 'neg')" in message
    assert "'w' (result 0 of onnx.Cast 'cast'): the IR says tensor<2x3xf32>, ONNX infers tensor<2x3xi64>" in message
    assert print_module(module) == before


KNOWN_BETTER_THAN_ONNX = """
builtin.module attributes {onnx.opset = 18 : i64} {
  func.func @main_graph(%x: tensor<4xf32> {onnx.name = "x"}) -> (tensor<?x?xi64> {onnx.name = "y"}) {
    %nz = "onnx.NonZero"(%x) {onnx_node_name = "nz"} : (tensor<4xf32>) -> tensor<1x3xi64>
    %t = "onnx.Transpose"(%nz) {onnx_node_name = "t"} : (tensor<1x3xi64>) -> tensor<?x?xi64>
    %y = "onnx.Neg"(%t) {onnx_node_name = "neg"} : (tensor<?x?xi64>) -> tensor<?x?xi64>
    func.return %y : tensor<?x?xi64>
  }
}
"""


def test_a_type_is_never_made_less_static_and_its_users_benefit():
    module = _run(parse_module(KNOWN_BETTER_THAN_ONNX), "shape-inference")
    assert _by_node(module, "nz").results[0].type.get_shape() == (1, 3)  # ONNX alone: (1, ?)
    assert _by_node(module, "t").results[0].type.get_shape() == (3, 1)
    assert _main(module).function_type.outputs.data[0].get_shape() == (3, 1)


def test_output_dim_params_of_now_static_dims_are_dropped():
    model = make_model(
        [helper.make_node("Relu", ["x"], ["y"], name="relu")],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["out_dim", 3])],
    )
    module = _run(import_model(model), "bind-symbols{n=2},shape-inference")
    main = _main(module)
    assert main.function_type.outputs.data[0].get_shape() == (2, 3)
    assert "onnx.dim_params" not in main.res_attrs.data[0].data
    exported = export_module(module)
    assert [d.dim_value for d in exported.graph.output[0].type.tensor_type.shape.dim] == [2, 3]


def _if_model() -> onnx.ModelProto:
    """An If whose branch outputs and result have no type in the model; the else branch
    slices with bounds defined outside it."""
    then_graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["then_out"], name="then_mm")],
        "then", [], [helper.make_empty_tensor_value_info("then_out")],
    )
    else_graph = helper.make_graph(
        [helper.make_node("Transpose", ["x"], ["xt"], name="else_t", perm=[1, 0]),
         helper.make_node("Slice", ["xt", "starts", "ends"], ["else_out"], name="else_slice")],
        "else", [], [helper.make_empty_tensor_value_info("else_out")],
    )
    node = helper.make_node("If", ["cond"], ["y"], name="the_if", then_branch=then_graph, else_branch=else_graph)
    w = numpy_helper.from_array(np.ones((4, 3), np.float32), "w")
    starts = numpy_helper.from_array(np.array([0], np.int64), "starts")
    ends = numpy_helper.from_array(np.array([3], np.int64), "ends")
    return make_model(
        [node],
        [helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
         helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [w, starts, ends],
    )


def test_values_inside_if_branches_are_refined():
    model = _if_model()
    module = _run(import_model(model), "bind-symbols{n=4},shape-inference")
    module.verify()
    assert _by_node(module, "then_mm").results[0].type.get_shape() == (4, 3)
    assert _by_node(module, "else_t").results[0].type.get_shape() == (4, 4)
    assert _by_node(module, "else_slice").results[0].type.get_shape() == (3, 4)
    # the branches give 4x3 and 3x4: the If's result is rank 2, of sizes known only at run time
    assert _by_node(module, "the_if").results[0].type.get_shape() == (DYNAMIC_INDEX, DYNAMIC_INDEX)
    feeds = {"cond": np.array(True), "x": np.ones((4, 4), np.float32)}
    for cond in (True, False):
        feeds["cond"] = np.array(cond)
        for a, e in zip(run_ort(export_module(module), feeds), run_ort(model, feeds)):
            assert identical(a, e)


def _scan_loop_model() -> onnx.ModelProto:
    """A Scan (running sum over the rows of x) feeding a Loop that carries the sum."""
    scan_body = helper.make_graph(
        [helper.make_node("Add", ["sum_in", "row"], ["sum_out"], name="scan_add"),
         helper.make_node("Mul", ["row", "row"], ["sq"], name="scan_mul")],
        "scan_body",
        [helper.make_empty_tensor_value_info("sum_in"), helper.make_empty_tensor_value_info("row")],
        [helper.make_empty_tensor_value_info("sum_out"), helper.make_empty_tensor_value_info("sq")],
    )
    loop_body = helper.make_graph(
        [helper.make_node("Add", ["acc_in", "init"], ["acc_out"], name="loop_add"),
         helper.make_node("Identity", ["c_in"], ["c_out"], name="loop_cond"),
         helper.make_node("Relu", ["x"], ["rx"], name="loop_relu")],
        "loop_body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("c_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_in", TensorProto.FLOAT, [4])],
        [helper.make_empty_tensor_value_info("c_out"), helper.make_empty_tensor_value_info("acc_out"),
         helper.make_empty_tensor_value_info("rx")],
    )
    nodes = [
        helper.make_node("Scan", ["init", "x"], ["total", "squares"], name="scan", body=scan_body, num_scan_inputs=1),
        helper.make_node("Loop", ["trip", "", "total"], ["final", "rxs"], name="loop", body=loop_body),
    ]
    return make_model(
        nodes,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4])],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, None) for name in ("final", "squares", "rxs")],
        [numpy_helper.from_array(np.array(2, np.int64), "trip"),
         numpy_helper.from_array(np.zeros(4, np.float32), "init")],
    )


def test_values_inside_scan_and_loop_bodies_are_refined():
    model = _scan_loop_model()
    module = _run(import_model(model), "bind-symbols{n=3},shape-inference")
    module.verify()
    for node in ("scan_add", "scan_mul", "loop_add"):
        assert _by_node(module, node).results[0].type.get_shape() == (4,), node
    assert _by_node(module, "loop_relu").results[0].type.get_shape() == (3, 4)
    scan = _by_node(module, "scan")
    assert [r.type.get_shape() for r in scan.results] == [(4,), (3, 4)]
    scan_body_args = scan.regions[0].block.args
    assert [a.type.get_shape() for a in scan_body_args] == [(4,), (4,)]
    loop = _by_node(module, "loop")
    # the carried value is 4 floats before and after every iteration (ONNX leaves it unranked);
    # the number of iterations is known only at run time (the body may stop the loop)
    assert [r.type.get_shape() for r in loop.results] == [(4,), (DYNAMIC_INDEX, 3, 4)]
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    for a, e in zip(run_ort(export_module(module), {"x": x}), run_ort(model, {"x": x})):
        assert identical(a, e)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_graph())
def test_random_graphs_get_the_types_onnxruntime_computes(case):
    model, feeds, symbols = case
    bind = "bind-symbols{" + " ".join(f"{k}={v}" for k, v in symbols.items()) + "}," if symbols else ""
    module = _run(import_model(model), f"{bind}shape-inference")
    module.verify()
    assert _not_static(module) == []
    assert _runtime_mismatches(module, feeds) == []


# -- the skeleton ------------------------------------------------------------------------


def test_skeleton_leaves_large_constants_out_and_names_every_value():
    module = import_model(MODELS / "bert_small.onnx")
    skeleton, names = export_skeleton(module, max_constant_elements=64)
    assert all(int(np.prod(t.dims)) <= 64 for t in skeleton.graph.initializer)
    weight_inputs = {vi.name for vi in skeleton.graph.input} - {"input_ids", "attention_mask", "token_type_ids"}
    assert "model.embeddings.word_embeddings.weight" in weight_inputs
    assert skeleton.ByteSize() < 100_000
    assert set(names.values()) >= weight_inputs
    assert all(v in names for v in _values(module))
    full = export_module(module)  # the ordinary export is unchanged
    assert len(full.graph.initializer) > len(skeleton.graph.initializer)
    assert {vi.name for vi in full.graph.input} == {"input_ids", "attention_mask", "token_type_ids"}


def test_printed_ir_with_elided_constants_is_inferred():
    module = _run(import_model(MODELS / "gpt2_small.onnx"), "bind-symbols{batch_size=1 sequence=4}")
    parsed = parse_module(print_module(module))  # constants over 16 elements have no data now
    _run(parsed, "shape-inference")
    parsed.verify()
    assert _not_static(parsed) == []


def test_pass_option_and_registry():
    (shape_inference,) = build_pipeline("shape-inference{max-constant-elements=16}", ALL_PASSES)
    assert isinstance(shape_inference, ShapeInferencePass)
    assert shape_inference.max_constant_elements == 16
    module = import_model(_shape_chain_model())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _run(module, "bind-symbols{batch=2 seq=3},shape-inference{max-constant-elements=16}")
    assert _not_static(module) == []
