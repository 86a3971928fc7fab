"""The ``qaicc`` command: realistic qaic-exec command lines, reports, the run after
compiling, and every bad input (one line ``qaicc: error: ...``, exit 1, nothing on disk)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from qaicc.qpc import load_qpc
from qaicc.testing.models import make_model

ROOT = Path(__file__).resolve().parents[2]
BERT_SMALL = ROOT / "tests" / "models" / "bert_small.onnx"
TINY_CNN = ROOT / "examples" / "tiny_cnn.onnx"
GENERATED = "Generated binary is present at {}"


def _last_line(text: str) -> str:
    return text.rstrip("\n").splitlines()[-1]


def test_the_bert_command_line_of_the_issue(run_qaicc, tmp_path, listing):
    outcome = run_qaicc(
        f"-m={BERT_SMALL}", "-onnx-define-symbol=batch_size,1", "-onnx-define-symbol=sequence,16",
        "-convert-to-fp16", "-aic-num-cores=4", "-ols=2", "-mos=2", "-multicast-weights",
        "-aic-binary-dir=OUT", "-compile-only")
    assert outcome.status == 0, outcome.err
    assert _last_line(outcome.out) == GENERATED.format("OUT")
    assert outcome.error_lines == []
    assert listing(tmp_path) == ["OUT", "OUT/programqpc.bin"]  # no staging directory left
    meta = load_qpc(tmp_path / "OUT").meta
    assert meta["num_cores"] == 4 and meta["target"]["name"] == "ai100-pro" and meta["batch_size"] == 1
    assert meta["flags"]["aic-num-cores"] == "4" and meta["flags"]["mos"] == "2"
    assert meta["flags"]["onnx-define-symbol"] == ["batch_size,1", "sequence,16"]
    assert meta["flags"]["convert-to-fp16"] == "true" and meta["flags"]["multicast-weights"] == "true"
    assert [(io["name"], io["shape"], io["dtype"]) for io in meta["inputs"]] == [
        ("input_ids", [1, 16], "int64"), ("attention_mask", [1, 16], "int64"), ("token_type_ids", [1, 16], "int64")]
    assert meta["outputs"][0]["shape"] == [1, 16, 64] and meta["outputs"][0]["dtype"] == "float32"
    # fp16 clipping of the attention mask's minimum is one warning line, not an error
    assert all(line.startswith("qaicc: warning: ") for line in outcome.err.splitlines())


def test_mxfp6_on_the_standard_card_with_reports(run_qaicc, tmp_path):
    outcome = run_qaicc(
        f"-model={BERT_SMALL}", "-onnx-define-symbol=batch_size,1", "-onnx-define-symbol=sequence,8",
        "-convert-to-fp16", "-mxfp6-matmul", "-aic-hw-version=ai100-standard", "-aic-num-cores=14",
        "-aic-binary-dir", "out/bert", "-compile-only", "-aic-perf-metrics", "-aic-perf-warnings", "-time-passes")
    assert outcome.status == 0, outcome.err
    out = outcome.out
    assert "... Pass execution timing report ..." in out
    for name in ("import-onnx", "mxfp6-weights", "partition-cores", "plan-memory", "emit-qpc"):
        assert f"  {name}\n" in out
    assert " ---- Performance metrics ----" in out
    assert "Target                ai100-standard: 14 core(s), batch 1" in out
    for label in ("VTCM peak", "DDR usage", "DDR traffic", "Constants", "Estimated latency"):
        assert label in out
    # a small model on 14 cores: most of them wait
    assert "qaicc: performance warning: " in outcome.err and "try fewer -aic-num-cores" in outcome.err
    assert _last_line(out) == GENERATED.format("out/bert")
    meta = load_qpc(tmp_path / "out" / "bert").meta
    assert meta["target"]["name"] == "ai100-standard" and meta["num_cores"] == 14
    assert any(e["type"].endswith("mxfp6<e2m3>>") for e in meta["constants"]["entries"])


def test_run_after_compiling_matches_onnxruntime(run_qaicc, tmp_path):
    """Without -compile-only: the run on the simulator, inputs from -input-list-file,
    outputs written as qaic-runner names them, equal to onnxruntime's."""
    rng = np.random.default_rng(3)
    images = [rng.standard_normal((1, 3, 32, 32)).astype(np.float32) for _ in range(2)]
    for i, image in enumerate(images):
        image.tofile(tmp_path / f"image{i}.raw")
    (tmp_path / "inputs.txt").write_text("image0.raw\n# a comment\npixel_values:=image1.raw\n")
    outcome = run_qaicc(f"-m={TINY_CNN}", "-aic-num-cores=2", "-aic-binary-dir=qpc_cnn", "-input-list-file=inputs.txt",
                        "-write-output-dir=outs", "-aic-num-of-instances=3", "-aic-profiling-type=stats",
                        "-aic-profiling-type=latency", "-stats-batchsize=8")
    assert outcome.status == 0, outcome.err
    lines = outcome.out.splitlines()
    stats = lines.index(" ---- Stats ----")
    assert lines[stats + 1].startswith("InferenceCnt 40 TotalDuration ") and " BatchSize 8 Inf/Sec " in lines[stats + 1]
    assert "2 core(s) x 3 instance(s)" in lines[stats + 2]
    assert lines[-1] == GENERATED.format("qpc_cnn")
    session = ort.InferenceSession(str(TINY_CNN))
    for i, image in enumerate(images):
        expected = session.run(None, {"pixel_values": image})[0]
        got = np.fromfile(tmp_path / "outs" / f"logits-activation-0-inf-{i}.bin", dtype=np.float32).reshape(expected.shape)
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
    assert (tmp_path / "aic-profiling-program-0-stats.txt").is_file()
    assert (tmp_path / "aic-profiling-program-0-latency.txt").is_file()


def test_verbose_progress_and_pipeline(run_qaicc):
    outcome = run_qaicc(f"-m={TINY_CNN}", "-compile-only", "-vvv", "-aic-binary-dir=o", "-convert-to-fp16")
    assert outcome.status == 0, outcome.err
    out = outcome.out
    assert f"qaicc: importing {TINY_CNN}" in out
    assert 'qaicc: pipeline: shape-inference,canonicalize,' in out and 'emit-qpc{dir="o"}' in out
    assert "qaicc: [1/" in out and "] emit-qpc " in out
    assert "qaicc: wrote o/programqpc.bin" in out


def test_perf_warnings_of_a_float32_program(run_qaicc):
    outcome = run_qaicc(f"-m={TINY_CNN}", "-compile-only", "-aic-perf-warnings", "-aic-binary-dir=o")
    assert outcome.status == 0
    assert "qaicc: performance warning: the program computes in float32" in outcome.err


def test_batchsize(run_qaicc, tmp_path):
    outcome = run_qaicc(f"-m={TINY_CNN}", "-compile-only", "-batchsize=4", "-aic-binary-dir=b")
    assert outcome.status == 0, outcome.err
    meta = load_qpc(tmp_path / "b").meta
    assert meta["batch_size"] == 4 and meta["inputs"][0]["shape"] == [4, 3, 32, 32]


def test_default_binary_dir_and_overwrite(run_qaicc, tmp_path):
    assert run_qaicc(f"-m={TINY_CNN}", "-compile-only").status == 0
    first = (tmp_path / "qpc" / "programqpc.bin").read_bytes()
    outcome = run_qaicc(f"-m={TINY_CNN}", "-compile-only")
    assert outcome.status == 0 and _last_line(outcome.out) == GENERATED.format("qpc")
    assert (tmp_path / "qpc" / "programqpc.bin").read_bytes() == first  # deterministic


# -- commands that compile nothing ------------------------------------------------------------


def test_help(run_qaicc):
    outcome = run_qaicc("-h")
    assert outcome.status == 0
    assert outcome.out.startswith("usage: qaicc -m=MODEL.onnx")
    assert "-onnx-define-symbol=SYM,N" in outcome.out and "not supported yet:" in outcome.out
    assert run_qaicc("-help").out == outcome.out


def test_version(run_qaicc):
    outcome = run_qaicc("-version")
    assert outcome.status == 0 and outcome.out.startswith("qaicc 0.")


def test_operators_supported(run_qaicc, tmp_path):
    from qaicc.passes.onnx_to_aic_graph import format_supported_operators

    outcome = run_qaicc("-operators-supported=onnx")
    assert outcome.status == 0
    written = tmp_path / "OnnxSupportedOperators.txt"
    assert written.read_text() == format_supported_operators()
    assert "MatMul" in written.read_text().split("\n")[0] + written.read_text()
    outcome = run_qaicc("-operators-supported=onnx", "-aic-binary-dir=ops/dir")
    assert outcome.status == 0 and (tmp_path / "ops" / "dir" / "OnnxSupportedOperators.txt").is_file()


# -- mistakes ----------------------------------------------------------------------------------


def _unsupported_model(path: Path) -> Path:
    nodes = [helper.make_node("Hardmax", ["x"], ["e"], name="the_hardmax"),
             helper.make_node("Det", ["e"], ["y"], name="the_det")]
    model = make_model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 3])],
                       [helper.make_tensor_value_info("y", TensorProto.FLOAT, [])])
    onnx.save(model, path)
    return path


BAD = [
    (["-ols2=3"], "unknown flag '-ols2'; did you mean '-ols'?"),
    (["-m={bert}", "-onnx-define-symbol=batch_size"], "-onnx-define-symbol=batch_size: expected SYMBOL,VALUE"),
    (["-m={bert}", "-onnx-define-symbol=batch_size,eight"], "the value of 'batch_size' must be a positive integer"),
    (["-m=missing.onnx", "-compile-only"], "-m=missing.onnx: no such file"),
    (["-m={tmp}", "-compile-only"], "is not a file"),
    (["-m={garbage}", "-compile-only"], "not a valid ONNX model"),
    (["-compile-only"], "no model: give the ONNX model with -m=MODEL.onnx"),
    ([], "no model: give the ONNX model with -m=MODEL.onnx"),
    (["-m={cnn}", "-aic-binary-dir=/proc/qaicc-out", "-compile-only"], "-aic-binary-dir=/proc/qaicc-out: cannot write"),
    (["-m={cnn}", "-aic-binary-dir=a_file/out", "-compile-only"], "-aic-binary-dir=a_file/out: 'a_file' is a file"),
    (["-m={cnn}", "-aic-binary-dir=a_file", "-compile-only"], "-aic-binary-dir=a_file: exists and is not a directory"),
    (["-m={cnn}", "-aic-enable-depth-first"], "-aic-enable-depth-first is not supported yet"),
    (["-m={cnn}", "-node-precision-info=p.yaml"], "-node-precision-info is not supported yet"),
    (["-operators-supported=pytorch"], "-operators-supported=pytorch is not supported yet"),
    (["-m={cnn}", "-aic-num-cores=17"], "-aic-num-cores=17: ai100-pro has 16 cores"),
    (["-m={cnn}", "-aic-num-cores=16", "-aic-hw-version=ai100-standard"], "ai100-standard has 14 cores"),
    (["-m={cnn}", "-aic-hw-version=ai200"], "-aic-hw-version=ai200: unknown hardware version 'ai200'"),
    (["-m={cnn}", "-aic-num-cores=8", "-aic-num-of-instances=3"],
     "-aic-num-of-instances=3 x -aic-num-cores=8 = 24 cores, more than the 16 of ai100-pro"),
    (["-m={bert}", "-onnx-define-symbol=batch_size,1", "-compile-only", "-aic-binary-dir=OUT"],
     "unbound symbolic dimension(s): 'sequence'"),
    (["-m={cnn}", "-input-list-file=nope.txt"], "-input-list-file=nope.txt: no such file"),
    (["-m={cnn}", "-custom-IO-list-file=nope.yaml", "-convert-to-fp16"], "-custom-IO-list-file=nope.yaml: no such file"),
    (["-m={cnn}", "-network-specialization-config=nope.json"], "-network-specialization-config=nope.json: no such file"),
    (["-m={cnn}", "-compile-only=perhaps"], "-compile-only takes no value"),
]


@pytest.mark.parametrize("words, message", BAD, ids=[" ".join(w) or "(nothing)" for w, _ in BAD])
def test_bad_input_is_one_line_and_leaves_nothing(run_qaicc, tmp_path, listing, words, message):
    (tmp_path / "a_file").write_text("not a directory")
    (tmp_path / "garbage.onnx").write_bytes(b"\x00garbage\xff" * 10)
    before = listing(tmp_path)
    args = [w.format(bert=BERT_SMALL, cnn=TINY_CNN, tmp=tmp_path, garbage=tmp_path / "garbage.onnx") for w in words]
    outcome = run_qaicc(*args)
    assert outcome.status == 1
    assert outcome.error_lines == outcome.err.strip().splitlines()[-1:]  # the error is the last line, and one line
    assert len(outcome.error_lines) == 1 and message in outcome.error_lines[0], outcome.err
    assert "Traceback" not in outcome.err and "Generated binary" not in outcome.out
    assert listing(tmp_path) == before


def test_unsupported_operators_are_all_listed(run_qaicc, tmp_path, listing):
    model = _unsupported_model(tmp_path / "odd.onnx")
    before = listing(tmp_path)
    outcome = run_qaicc(f"-m={model}", "-compile-only")
    assert outcome.status == 1
    assert outcome.err.startswith("qaicc: error: ")
    assert "Hardmax" in outcome.err and "Det" in outcome.err and "the_det" in outcome.err
    assert listing(tmp_path) == before


def test_a_failed_compile_keeps_the_previous_qpc(run_qaicc, tmp_path, monkeypatch):
    assert run_qaicc(f"-m={TINY_CNN}", "-compile-only", "-aic-binary-dir=out").status == 0
    previous = (tmp_path / "out" / "programqpc.bin").read_bytes()
    import qaicc.qpc.container as container

    def broken(out, chunks, digest):  # the disk fills up while the constants are written
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(container, "_write_section", broken)
    outcome = run_qaicc(f"-m={TINY_CNN}", "-compile-only", "-aic-binary-dir=out", "-aic-num-cores=2")
    assert outcome.status == 1 and "No space left on device" in outcome.error_lines[0]
    assert sorted(os.listdir(tmp_path / "out")) == ["programqpc.bin"]
    assert (tmp_path / "out" / "programqpc.bin").read_bytes() == previous
    assert [p for p in os.listdir(tmp_path) if p.startswith(".")] == []


def test_the_console_script(tmp_path):
    script = Path(sys.executable).parent / "qaicc"
    done = subprocess.run([str(script), f"-m={TINY_CNN}", "-compile-only", f"-aic-binary-dir={tmp_path / 'q'}"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == GENERATED.format(tmp_path / "q")
    done = subprocess.run([str(script), "-ols2=3"], capture_output=True, text=True)
    assert (done.returncode, done.stdout, done.stderr) == (1, "", "qaicc: error: unknown flag '-ols2'; did you mean '-ols'?\n")
