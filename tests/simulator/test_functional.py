"""qaicc-run's functional result: the outputs it writes match onnxruntime."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from qaicc.qpc import load_qpc
from qaicc.simulator.runner import io_descriptors, output_file_name, random_input_sets, read_input_files
from qaicc.testing.random_inputs import random_inputs
from qaicc.tools.qaicc_run import main

MODELS = Path(__file__).resolve().parent.parent / "models"
SMALL_MODELS = sorted(p.stem for p in MODELS.glob("*.onnx"))


def _relative(actual: np.ndarray, expected: np.ndarray) -> float:
    scale = max(1.0, float(np.max(np.abs(expected)))) if expected.size else 1.0
    return float(np.max(np.abs(actual.astype(np.float64) - expected))) / scale if expected.size else 0.0


@pytest.mark.parametrize("name", SMALL_MODELS)
def test_outputs_match_onnxruntime(name, qpc_dir, tmp_path, capsys):
    directory = qpc_dir(name)
    meta = load_qpc(directory).meta
    model = onnx.load(MODELS / f"{name}.onnx")
    feeds = random_inputs(model, {"batch_size": 1, "sequence": 16}, seed=3)
    files = []
    for desc in io_descriptors(meta, "inputs"):
        path = tmp_path / f"{desc.name}.raw"
        feeds[desc.name].astype(desc.dtype).tofile(path)
        files += ["-i", str(path)]
    out = tmp_path / "out"
    assert main(["-t", str(directory), *files, "-n", "3", "-a", "2", "--write-output-dir", str(out)]) == 0
    expected = ort.InferenceSession(str(MODELS / f"{name}.onnx")).run(None, feeds)
    for desc, reference in zip(io_descriptors(meta, "outputs"), expected):
        for activation, inference in ((0, 0), (1, 0), (0, 1)):
            raw = (out / output_file_name(desc.name, activation, inference)).read_bytes()
            actual = np.frombuffer(raw, dtype=desc.dtype).reshape(desc.shape)
            assert _relative(actual, reference) <= 1e-4, (name, desc.name)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        output_file_name(d.name, a, i) for d in io_descriptors(meta, "outputs") for a, i in ((0, 0), (1, 0), (0, 1)))
    assert "InferenceCnt 3 " in capsys.readouterr().out


def test_inputs_round_trip_through_raw_files(qpc_dir, tmp_path):
    meta = load_qpc(qpc_dir("bert_small")).meta
    values = random_input_sets(meta, 1, seed=5)[0]
    paths = []
    for desc in io_descriptors(meta, "inputs"):
        path = tmp_path / desc.name
        values[desc.name].tofile(path)
        paths.append(path)
    again = read_input_files(meta, paths)
    assert list(again) == list(values)
    for key in values:
        np.testing.assert_array_equal(again[key], values[key])


def test_each_distinct_input_set_runs_once(qpc_dir, tmp_path, monkeypatch):
    import qaicc.simulator.runner as runner

    calls = []
    original = runner.run_functional
    monkeypatch.setattr(runner, "run_functional", lambda module, sets, retained=(): calls.append(len(list(sets))) or original(module, sets, retained))
    directory = str(qpc_dir("mobilenetv2_small"))
    assert main(["-t", directory, "-n", "40", "-S", "3"]) == 0
    assert main(["-t", directory, "-n", "2", "-S", "10"]) == 0
    assert calls == [3, 2]
