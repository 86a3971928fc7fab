"""-network-specialization-config (several programs in one QPC sharing the constants),
-custom-IO-list-file (float16 at the boundary) and -retained-state (outputs feeding
inputs), compiled by the driver and checked against onnxruntime."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import qaicc
from qaicc.ir.context import make_context
from qaicc.ir.pipeline import build_pipeline, run_pipeline
from qaicc.onnx_io import import_model
from qaicc.passes import ALL_PASSES
from qaicc.qpc import load_qpc
from qaicc.qpc.container import read_container
from qaicc.qpc.encoding import find_container
from qaicc.qpc.programs import load_program, load_programs, write_programs
from qaicc.semantics import run_module

ROOT = Path(__file__).resolve().parents[2]
BERT_SMALL = ROOT / "tests" / "models" / "bert_small.onnx"
TINY_CNN = ROOT / "examples" / "tiny_cnn.onnx"

KV_IO = """\
- IOName: past
  Precision: float16
- IOName: past_RetainedState
  Precision: float16
"""


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _spec(tmp_path: Path, *sets: dict) -> Path:
    return _write(tmp_path / "spec.json", json.dumps({"specializations": [
        {k: str(v) for k, v in s.items()} for s in sets]}))


def test_specializations_share_the_constants(tmp_path, kv_model_path):
    spec = _spec(tmp_path, {"seq": 8}, {"seq": 1})
    result = qaicc.compile(kv_model_path, network_specialization_config=spec, aic_num_cores=2, compile_only=True,
                           aic_binary_dir=tmp_path / "q", quiet=True)
    assert [p.specialization for p in result.programs] == [{"seq": 8}, {"seq": 1}]
    assert [m["specialization"] for m in result.metrics["programs"]] == [{"seq": 8}, {"seq": 1}]
    single = qaicc.compile(kv_model_path, onnx_define_symbol={"seq": 8}, aic_num_cores=2, compile_only=True,
                           aic_binary_dir=tmp_path / "one", quiet=True)
    container = read_container(tmp_path / "q" / "programqpc.bin")
    names = [s.name for s in container.sections]
    assert names == ["meta", "kernels", "streams", "constants", "meta.1", "kernels.1", "streams.1"]
    shared = next(s.size for s in container.sections if s.name == "constants")
    alone = next(s.size for s in read_container(single.qpc_path).sections if s.name == "constants")
    assert shared == alone  # the weights once, not once per program

    programs = load_programs(tmp_path / "q")
    assert [p.meta["inputs"][0]["shape"] for p in programs] == [[1, 8, 64], [1, 1, 64]]
    assert [p.meta["specialization"] for p in programs] == [{"seq": 8}, {"seq": 1}]
    assert programs[0].meta["programs"][1]["sections"] == {"meta": "meta.1", "kernels": "kernels.1",
                                                          "streams": "streams.1"}
    # a reader of single-program files reads program 0
    assert load_qpc(tmp_path / "q").meta["inputs"][0]["shape"] == [1, 8, 64]
    # each program computes what onnxruntime does
    session = ort.InferenceSession(str(kv_model_path))
    rng = np.random.default_rng(1)
    for program, seq in zip(programs, (8, 1)):
        feeds = {"x": rng.standard_normal((1, seq, 64)).astype(np.float32),
                 "past": rng.standard_normal((1, 4, 64)).astype(np.float32)}
        got = run_module(program.to_aic_core(), feeds)
        for name, expected in zip(("y", "past_RetainedState"), session.run(None, feeds)):
            np.testing.assert_allclose(got[name], expected, rtol=1e-4, atol=1e-4)


def test_specializations_run_and_report(tmp_path, kv_model_path, run_qaicc):
    spec = _spec(tmp_path, {"seq": 4}, {"seq": 1})
    outcome = run_qaicc(f"-m={kv_model_path}", f"-network-specialization-config={spec}", "-aic-perf-metrics",
                        "-aic-binary-dir=q")
    assert outcome.status == 0, outcome.err
    out = outcome.out
    assert " ---- Performance metrics (program 0: seq=4) ----" in out
    assert " ---- Performance metrics (program 1: seq=1) ----" in out
    assert " ---- Stats (program 0: seq=4) ----" in out and " ---- Stats (program 1: seq=1) ----" in out
    assert out.rstrip().splitlines()[-1] == "Generated binary is present at q"


def test_the_program_writer_matches_emit_qpc(tmp_path):
    """One program, no extra meta: byte-identical to emit-qpc's file."""
    module = import_model(TINY_CNN)
    spec = ("shape-inference,canonicalize,convert-onnx-to-aic-graph,fuse-aic-graph,partition-cores{num-cores=2},"
            f'convert-aic-graph-to-aic-core,plan-memory,convert-aic-core-to-qpc,emit-qpc{{dir="{tmp_path / "a"}"}}')
    run_pipeline(build_pipeline(spec, ALL_PASSES), module, make_context())
    write_programs(tmp_path / "b", [(find_container(module, "test"), {})])
    assert (tmp_path / "a" / "programqpc.bin").read_bytes() == (tmp_path / "b" / "programqpc.bin").read_bytes()
    assert load_program(tmp_path / "b", 0).meta == load_qpc(tmp_path / "a").meta
    with pytest.raises(qaicc.errors.QaiccError, match="no program 1: the QPC holds 1 program"):
        load_program(tmp_path / "b", 1)


BAD_SPECS = [
    ({"batch_size": 1, "seq_len": 16}, "specialization 1: 'seq_len' is not a symbol of the model (its symbols: "
                                       "batch_size, sequence)"),
    ({"batch_size": 1}, "specialization 1 (batch_size=1): shape-inference: unbound symbolic dimension(s): 'sequence'"),
]


@pytest.mark.parametrize("values, message", BAD_SPECS)
def test_bad_specializations(tmp_path, run_qaicc, listing, values, message):
    spec = _spec(tmp_path, values)
    before = listing(tmp_path)
    outcome = run_qaicc(f"-m={BERT_SMALL}", f"-network-specialization-config={spec}", "-compile-only")
    assert outcome.status == 1
    assert len(outcome.error_lines) == 1 and message in outcome.error_lines[0], outcome.err
    assert listing(tmp_path) == before


def test_a_symbol_in_both_places(tmp_path, run_qaicc):
    spec = _spec(tmp_path, {"sequence": 8})
    outcome = run_qaicc(f"-m={BERT_SMALL}", f"-network-specialization-config={spec}",
                        "-onnx-define-symbol=sequence,8", "-compile-only")
    assert outcome.status == 1 and "'sequence' is also given by -onnx-define-symbol=sequence,8" in outcome.err


# -- custom I/O ------------------------------------------------------------------------------


def test_custom_io_keeps_float16_at_the_boundary(tmp_path, kv_model_path):
    io_file = _write(tmp_path / "io.yaml", KV_IO)
    result = qaicc.compile(kv_model_path, onnx_define_symbol={"seq": 2}, convert_to_fp16=True,
                           custom_io_list_file=io_file, compile_only=True, aic_binary_dir=tmp_path / "q", quiet=True)
    assert 'legalize-fp16{float16-io="past","past_RetainedState"}' in result.pipeline
    loaded = load_qpc(tmp_path / "q")
    dtypes = {io["name"]: io["dtype"] for io in loaded.meta["inputs"] + loaded.meta["outputs"]}
    assert dtypes == {"x": "float32", "past": "float16", "y": "float32", "past_RetainedState": "float16"}
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 2, 64)).astype(np.float32)
    past = rng.standard_normal((1, 4, 64)).astype(np.float16)
    got = run_module(loaded.to_aic_core(), {"x": x, "past": past})
    expected = ort.InferenceSession(str(kv_model_path)).run(None, {"x": x, "past": past.astype(np.float32)})
    assert got["past_RetainedState"].dtype == np.float16
    np.testing.assert_allclose(got["y"], expected[0], rtol=2e-2, atol=2e-2)
    np.testing.assert_allclose(got["past_RetainedState"].astype(np.float32), expected[1], rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize("text, extra, message", [
    ("- IOName: past_key\n  Precision: float16\n", ["-convert-to-fp16"],
     "'past_key' is not an input or output of the model (its inputs and outputs: x, past, y, past_RetainedState)"),
    ("- IOName: past\n  Precision: mxint8\n", ["-convert-to-fp16"], "'past': Precision mxint8 is not supported yet"),
    ("- IOName: past\n  Precision: float16\n", [], "float16 inputs and outputs (past) need -convert-to-fp16"),
    ("- IOName: past\n  Precision: int4\n", ["-convert-to-fp16"], "unknown Precision 'int4'"),
])
def test_bad_custom_io(tmp_path, kv_model_path, run_qaicc, listing, text, extra, message):
    io_file = _write(tmp_path / "io.yaml", text)
    before = listing(tmp_path)
    outcome = run_qaicc(f"-m={kv_model_path}", "-onnx-define-symbol=seq,2", f"-custom-IO-list-file={io_file}",
                        "-compile-only", *extra)
    assert outcome.status == 1
    assert len(outcome.error_lines) == 1 and message in outcome.error_lines[0], outcome.err
    assert listing(tmp_path) == before


# -- retained state ------------------------------------------------------------------------------


def test_retained_state_pairs_are_recorded_and_run(tmp_path, kv_model_path):
    io_file = _write(tmp_path / "io.yaml", KV_IO)
    lines = []
    rng = np.random.default_rng(4)
    xs = [rng.standard_normal((1, 1, 64)).astype(np.float32) for _ in range(3)]
    past0 = np.zeros((1, 4, 64), np.float16)
    for i, x in enumerate(xs):
        x.tofile(tmp_path / f"x{i}.raw")
        past0.tofile(tmp_path / f"past{i}.raw")  # replaced by the retained state after the first inference
        lines.append(f"x{i}.raw past{i}.raw")
    (tmp_path / "inputs.txt").write_text("\n".join(lines) + "\n")
    result = qaicc.compile(kv_model_path, onnx_define_symbol={"seq": 1}, convert_to_fp16=True, retained_state=True,
                           custom_io_list_file=io_file, input_list_file=tmp_path / "inputs.txt",
                           aic_binary_dir=tmp_path / "q", quiet=True)
    meta = load_qpc(tmp_path / "q").meta
    assert meta["retained_state"] == [{"output": "past_RetainedState", "input": "past"}]
    assert meta["flags"]["retained-state"] == "true"
    session = ort.InferenceSession(str(kv_model_path))
    past = past0.astype(np.float32)
    (run,) = result.runs
    for x, got in zip(xs, run.outputs):
        y, past = session.run(None, {"x": x, "past": past})
        np.testing.assert_allclose(got["y"], y, rtol=2e-2, atol=2e-2)
        np.testing.assert_allclose(got["past_RetainedState"].astype(np.float32), past, rtol=2e-2, atol=2e-2)
    assert not np.allclose(run.outputs[2]["past_RetainedState"], run.outputs[0]["past_RetainedState"])


def test_retained_state_types_must_match(tmp_path, kv_model_path, run_qaicc, listing):
    io_file = _write(tmp_path / "io.yaml", "- IOName: past\n  Precision: float16\n")
    before = listing(tmp_path)
    outcome = run_qaicc(f"-m={kv_model_path}", "-onnx-define-symbol=seq,1", "-convert-to-fp16", "-retained-state",
                        f"-custom-IO-list-file={io_file}", "-compile-only")
    assert outcome.status == 1
    assert ("-retained-state: the output 'past_RetainedState' is 1x4x64 float32 but the input 'past' is 1x4x64 "
            "float16") in outcome.error_lines[0]
    assert listing(tmp_path) == before


def test_retained_state_without_such_outputs_warns(tmp_path, run_qaicc):
    outcome = run_qaicc(f"-m={TINY_CNN}", "-retained-state", "-compile-only")
    assert outcome.status == 0
    assert "qaicc: warning: -retained-state: the model has no output named <input>_RetainedState" in outcome.err


def test_retained_state_output_without_input(tmp_path, run_qaicc):
    model = onnx.load(TINY_CNN)
    model.graph.output[0].name = "cache_RetainedState"
    model.graph.node[-1].output[0] = "cache_RetainedState"
    onnx.save(model, tmp_path / "m.onnx")
    outcome = run_qaicc(f"-m={tmp_path / 'm.onnx'}", "-retained-state", "-compile-only")
    assert outcome.status == 1
    assert outcome.error_lines == ["qaicc: error: -retained-state: the output 'cache_RetainedState' has no input "
                                   "'cache' to feed"]


def test_qaicc_run_selects_the_specialization_and_retains_state(tmp_path, kv_model_path):
    """qaicc-run picks the program whose inputs fit the -i files, and feeds
    past_RetainedState back into past from one inference to the next."""
    from qaicc.tools.qaicc_run import main as qaicc_run

    spec = _spec(tmp_path, {"seq": 8}, {"seq": 1})
    qaicc.compile(kv_model_path, network_specialization_config=spec, retained_state=True, aic_num_cores=2,
                  compile_only=True, aic_binary_dir=tmp_path / "q", quiet=True)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 1, 64)).astype(np.float32)
    past = rng.standard_normal((1, 4, 64)).astype(np.float32)
    (tmp_path / "x.bin").write_bytes(x.tobytes())
    (tmp_path / "past.bin").write_bytes(past.tobytes())
    out = tmp_path / "out"
    assert qaicc_run(["-t", str(tmp_path / "q"), "-i", str(tmp_path / "x.bin"), "-i", str(tmp_path / "past.bin"),
                      "-n", "3", "-S", "3", "--write-output-dir", str(out)]) == 0
    session = ort.InferenceSession(str(kv_model_path))
    state = past
    for inference in range(3):
        y, state = session.run(None, {"x": x, "past": state})
        written = np.frombuffer((out / f"past_RetainedState-activation-0-inf-{inference}.bin").read_bytes(), np.float32)
        np.testing.assert_allclose(written.reshape(state.shape), state, rtol=1e-5, atol=1e-5)
