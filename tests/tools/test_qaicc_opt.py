"""qaicc-opt: formats by suffix, instrumentation flags, elision."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort

from qaicc.tools.qaicc_opt import main as qaicc_opt


def _save(model, tmp_path):
    path = tmp_path / "model.onnx"
    onnx.save(model, path)
    return path


def test_onnx_in_mlir_out_and_back(tmp_path, mlp_model, capsys):
    source = _save(mlp_model, tmp_path)
    assert qaicc_opt([str(source), "-o", str(tmp_path / "m.mlir"), "--print-large-constants"]) == 0
    text = (tmp_path / "m.mlir").read_text()
    assert '"onnx.MatMul"' in text and "0x" in text
    assert qaicc_opt([str(tmp_path / "m.mlir"), "-o", str(tmp_path / "back.onnx")]) == 0
    x = np.ones((2, 8), np.float32)
    a = ort.InferenceSession(str(source)).run(None, {"input": x})[0]
    b = ort.InferenceSession(str(tmp_path / "back.onnx")).run(None, {"input": x})[0]
    np.testing.assert_array_equal(a, b)


def test_constants_are_elided_by_default(tmp_path, mlp_model, capsys):
    assert qaicc_opt([str(_save(mlp_model, tmp_path))]) == 0
    out = capsys.readouterr().out
    assert '#qaicc.blob<"fc1.weight" : tensor<8x32xf32>>' in out
    assert "0x" not in out


def test_instrumentation(tmp_path, mlp_model, capsys):
    source = _save(mlp_model, tmp_path)
    dump = tmp_path / "dump"
    args = [str(source), "-p", "cse,dce", "--print-ir-before=cse", "--print-ir-after=dce",
            "--time-passes", f"--dump-dir={dump}", "-o", str(tmp_path / "out.mlir")]
    assert qaicc_opt(args) == 0
    err = capsys.readouterr().err
    assert "IR Dump Before cse" in err and "IR Dump After dce" in err
    assert "Pass execution timing report" in err and "cse" in err
    assert sorted(p.name for p in dump.iterdir()) == ["00_input.mlir", "01_cse.mlir", "02_dce.mlir"]


def test_print_ir_after_all(tmp_path, mlp_model, capsys):
    assert qaicc_opt([str(_save(mlp_model, tmp_path)), "-p", "cse,dce", "--print-ir-after-all"]) == 0
    err = capsys.readouterr().err
    assert err.count("IR Dump After") == 2


def test_list_passes(capsys):
    assert qaicc_opt(["--list-passes"]) == 0
    names = capsys.readouterr().out.split()
    assert {"bind-symbols", "shape-inference", "canonicalize"} <= set(names)


def test_unwritable_output_is_one_line(tmp_path, mlp_model, capsys):
    assert qaicc_opt([str(_save(mlp_model, tmp_path)), "-o", str(tmp_path / "no" / "dir" / "x.mlir")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("qaicc-opt: error:") and err.count("\n") == 1
