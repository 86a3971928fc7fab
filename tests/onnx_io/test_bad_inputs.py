"""Bad inputs give one clear error (what, where, what to do) and never a traceback."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from qaicc.errors import QaiccError, UnsupportedModelError
from qaicc.onnx_io.importer import import_model
from qaicc.testing.models import make_model
from qaicc.tools.qaicc_opt import main as qaicc_opt


def _x(name="x"):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, [2])


def test_truncated_file(tmp_path, mlp_model):
    path = tmp_path / "truncated.onnx"
    path.write_bytes(mlp_model.SerializeToString()[:-37])
    with pytest.raises(QaiccError, match="truncated.onnx: not a valid ONNX model"):
        import_model(path)


def test_file_that_is_not_onnx(tmp_path):
    path = tmp_path / "notes.onnx"
    path.write_text("these are not the weights you are looking for\n" * 20)
    with pytest.raises(QaiccError, match="notes.onnx: not"):
        import_model(path)


def test_missing_file(tmp_path):
    with pytest.raises(QaiccError, match="no such file"):
        import_model(tmp_path / "absent.onnx")


def test_op_of_an_unknown_domain():
    model = make_model([helper.make_node("FusedThing", ["x"], ["y"], domain="com.example", name="f1")], [_x()], [_x("y")])
    model.opset_import.append(helper.make_opsetid("com.example", 1))
    with pytest.raises(UnsupportedModelError) as error:
        import_model(model)
    assert error.value.problems == ["com.example.FusedThing: operator of a domain qaicc does not support, 1 node(s): 'f1'"]


def test_two_different_unsupported_ops_are_both_named():
    nodes = [
        helper.make_node("NotAnOp", ["x"], ["a"], name="first"),
        helper.make_node("AlsoNotAnOp", ["a"], ["b"], name="second"),
        helper.make_node("NotAnOp", ["b"], ["y"], name="third"),
    ]
    with pytest.raises(UnsupportedModelError) as error:
        import_model(make_model(nodes, [_x()], [_x("y")]))
    text = str(error.value)
    assert "ai.onnx.AlsoNotAnOp: unknown operator, 1 node(s): 'second'" in text
    assert "ai.onnx.NotAnOp: unknown operator, 2 node(s): 'first', 'third'" in text
    assert len(error.value.problems) == 2


def test_missing_external_data_file(tmp_path):
    weight = numpy_helper.from_array(np.ones((64, 64), np.float32), "w")
    model = make_model([helper.make_node("Add", ["x", "w"], ["y"])],
                       [helper.make_tensor_value_info("x", TensorProto.FLOAT, [64, 64])],
                       [helper.make_tensor_value_info("y", TensorProto.FLOAT, [64, 64])], [weight])
    path = tmp_path / "model.onnx"
    onnx.save_model(model, path, save_as_external_data=True, location="weights.bin", size_threshold=0)
    (tmp_path / "weights.bin").unlink()
    with pytest.raises(QaiccError, match="external data file 'weights.bin' of initializer 'w' not found"):
        import_model(path)


def test_qaicc_opt_reports_one_line(tmp_path, capsys, mlp_model):
    path = tmp_path / "m.onnx"
    onnx.save(mlp_model, path)
    assert qaicc_opt([str(path), "-p", "cse,no-such-pass"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == "qaicc-opt: error: unknown pass 'no-such-pass' in -p (qaicc-opt --list-passes lists them)"
    truncated = tmp_path / "t.onnx"
    truncated.write_bytes(path.read_bytes()[:100])
    assert qaicc_opt([str(truncated)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1


def test_qaicc_opt_unsupported_model_lists_everything(tmp_path, capsys):
    nodes = [helper.make_node("NotAnOp", ["x"], ["a"], name="n1"), helper.make_node("Other", ["a"], ["y"], name="n2")]
    path = tmp_path / "m.onnx"
    onnx.save(make_model(nodes, [_x()], [_x("y")]), path)
    assert qaicc_opt([str(path)]) == 1
    err = capsys.readouterr().err
    assert "NotAnOp" in err and "Other" in err and "Traceback" not in err
