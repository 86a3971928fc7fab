"""bind-symbols: symbolic input/output dims get sizes, like qaic-exec -onnx-define-symbol."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from xdsl.dialects import func
from xdsl.dialects.builtin import DYNAMIC_INDEX

from qaicc.errors import QaiccError
from qaicc.ir.context import make_context
from qaicc.ir.pipeline import build_pipeline, run_pipeline
from qaicc.ir.printing import parse_module
from qaicc.onnx_io.exporter import export_module
from qaicc.onnx_io.importer import import_model
from qaicc.passes import ALL_PASSES
from qaicc.passes.bind_symbols import BindSymbolsPass, bind_symbols, unbound_symbols
from qaicc.testing.compare import identical
from qaicc.testing.models import make_model
from qaicc.testing.node_cases import run_ort
from qaicc.testing.random_inputs import random_inputs

MODELS = Path(__file__).resolve().parent.parent / "tests" / "models"


def _mlp() -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((8, 4)).astype(np.float32), "w")
    nodes = [
        helper.make_node("MatMul", ["input", "w"], ["h"], name="mm"),
        helper.make_node("Relu", ["h"], ["logits"], name="relu"),
    ]
    return make_model(
        nodes,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch_size", 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch_size", 4])],
        [w],
    )


def _main(module) -> func.FuncOp:
    return next(op for op in module.ops if isinstance(op, func.FuncOp))


def _dim_params(attrs) -> str | None:
    entry = attrs.data.get("onnx.dim_params")
    return entry.data if entry is not None else None


def _run(module, spec: str):
    run_pipeline(build_pipeline(spec, ALL_PASSES), module, make_context())
    return module


def test_binding_makes_inputs_outputs_and_signature_static():
    module = _run(import_model(_mlp()), "bind-symbols{batch_size=3}")
    module.verify()
    main = _main(module)
    assert main.body.block.args[0].type.get_shape() == (3, 8)
    assert main.function_type.inputs.data[0].get_shape() == (3, 8)
    assert main.function_type.outputs.data[0].get_shape() == (3, 4)
    returned = main.body.block.last_op.arguments[0]
    assert returned.type.get_shape() == (3, 4)
    assert _dim_params(main.arg_attrs.data[0]) is None
    assert _dim_params(main.res_attrs.data[0]) is None
    assert main.arg_attrs.data[0].data["onnx.name"].data == "input"
    assert unbound_symbols(module) == {}


def test_partial_binding_keeps_the_other_symbols():
    module = import_model(MODELS / "bert_small.onnx")
    bind_symbols(module, {"batch_size": 2})
    module.verify()
    main = _main(module)
    for arg, attrs in zip(main.body.block.args, main.arg_attrs.data):
        assert arg.type.get_shape() == (2, DYNAMIC_INDEX)
        assert _dim_params(attrs) == "1:sequence"
    names = ["input_ids", "attention_mask", "token_type_ids"]
    assert unbound_symbols(module) == {"sequence": names}


def test_unbound_symbols_names_the_inputs_of_each_symbol():
    module = import_model(MODELS / "gpt2_small.onnx")
    found = unbound_symbols(module)
    assert set(found) == {"batch_size", "sequence"}
    assert "input_ids" in found["batch_size"]


def test_unknown_symbol_is_a_warning_naming_the_model_symbols():
    module = import_model(_mlp())
    with pytest.warns(UserWarning, match=r"no symbol 'batch'.*symbols: batch_size"):
        _run(module, "bind-symbols{batch=4}")
    assert unbound_symbols(module) == {"batch_size": ["input"]}  # nothing changed


def test_unknown_and_known_symbols_together():
    module = import_model(_mlp())
    with pytest.warns(UserWarning, match="no symbol 'sequence'"):
        bind_symbols(module, {"batch_size": 5, "sequence": 7})
    assert _main(module).body.block.args[0].type.get_shape() == (5, 8)


@pytest.mark.parametrize("option", ["batch_size=0", "batch_size=-2", "batch_size", "batch_size=true",
                                    "batch_size=1.5", "batch_size=1,2", "batch_size=eight"])
def test_bad_value_is_an_error_naming_the_symbol(option):
    with pytest.raises(QaiccError, match=r"symbol 'batch_size' must be bound to a positive integer"):
        build_pipeline(f"bind-symbols{{{option}}}", ALL_PASSES)


def test_bad_value_from_python_is_an_error():
    with pytest.raises(QaiccError, match="'n'"):
        BindSymbolsPass.of(n=0)
    with pytest.raises(QaiccError, match="'n'"):
        bind_symbols(import_model(_mlp()), {"n": "3"})


CONTRADICTION = """
builtin.module attributes {onnx.opset = 18 : i64} {
  func.func @main_graph(%x: tensor<4x8xf32> {onnx.name = "x", onnx.dim_params = "0:batch"},
                        %y: tensor<?x8xf32> {onnx.name = "y", onnx.dim_params = "0:batch"}) -> (tensor<?x8xf32> {onnx.name = "z"}) {
    %z = "onnx.Add"(%x, %y) : (tensor<4x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
    func.return %z : tensor<?x8xf32>
  }
}
"""


def test_binding_that_contradicts_a_static_dimension_is_an_error():
    module = parse_module(CONTRADICTION)
    before = str(module)
    with pytest.raises(QaiccError, match=r"batch=8 contradicts input 'x', whose dimension 0 is 4"):
        _run(module, "bind-symbols{batch=8}")
    assert str(module) == before  # checked before anything changed


def test_binding_that_agrees_with_a_static_dimension():
    module = _run(parse_module(CONTRADICTION), "bind-symbols{batch=4}")
    main = _main(module)
    assert [a.type.get_shape() for a in main.body.block.args] == [(4, 8), (4, 8)]
    assert all(_dim_params(a) is None for a in main.arg_attrs.data)


def test_output_that_is_an_input():
    model = make_model(
        [],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3])],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3])],
    )
    module = import_model(model)
    bind_symbols(module, {"n": 2})
    module.verify()
    assert _main(module).function_type.outputs.data[0].get_shape() == (2, 3)


def test_output_only_symbol_is_bound():
    model = make_model(
        [helper.make_node("NonZero", ["x"], ["idx"], name="nz")],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
        [helper.make_tensor_value_info("idx", TensorProto.INT64, [1, "count"])],
    )
    module = import_model(model)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bind_symbols(module, {"count": 2})
    module.verify()
    main = _main(module)
    assert main.function_type.outputs.data[0].get_shape() == (1, 2)
    assert main.body.block.last_op.arguments[0].type.get_shape() == (1, 2)


def test_pipeline_spec_prints_back():
    (bind,) = build_pipeline("bind-symbols{batch_size=8 sequence=128}", ALL_PASSES)
    assert isinstance(bind, BindSymbolsPass)
    assert bind.symbols == (("batch_size", 8), ("sequence", 128))
    assert str(bind.pipeline_pass_spec()) == "bind-symbols{batch_size=8 sequence=128}"
    (again,) = build_pipeline(str(bind.pipeline_pass_spec()), ALL_PASSES)
    assert again == bind


def test_no_symbol_warns():
    with pytest.warns(UserWarning, match="no symbol given"):
        _run(import_model(_mlp()), "bind-symbols")


def test_bound_model_exports_and_runs_like_the_original():
    path = MODELS / "bert_small.onnx"
    module = _run(import_model(path), "bind-symbols{batch_size=2 sequence=7}")
    module.verify()
    exported = export_module(module)
    onnx.checker.check_model(exported)
    dims = [d.dim_value for d in exported.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [2, 7]
    original = onnx.load(path)
    feeds = random_inputs(original, symbols={"batch_size": 2, "sequence": 7})
    for a, e in zip(run_ort(exported, feeds), run_ort(original, feeds)):
        assert identical(a, e)
