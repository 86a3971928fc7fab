"""End to end as a user works: ``qaicc ... -compile-only`` then ``qaicc-run -i ...
--write-output-dir``, in float16 with several core / ols / mos / multicast settings; the
written outputs match onnxruntime on the same inputs (float16 tolerance: 2e-2 of the
max abs output, cosine similarity >= 0.999)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from qaicc.testing.node_cases import run_ort
from qaicc.testing.random_inputs import random_inputs
from qaicc.tools.qaicc_main import main as qaicc
from qaicc.tools.qaicc_run import main as qaicc_run

MODELS = Path(__file__).resolve().parent.parent / "models"
SETTINGS = [
    ["-aic-num-cores=1"],
    ["-aic-num-cores=4", "-ols=2", "-mos=2", "-multicast-weights"],
    ["-aic-num-cores=7", "-ols=4", "-mos=7"],
]


def _cosine(a, b) -> float:
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    return float(a @ b / max(1e-30, np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: " ".join(s))
@pytest.mark.parametrize("name", ["resnet50_small", "mobilenetv2_small", "bert_small", "gpt2_small", "vit_small"])
def test_compile_then_run_matches_onnxruntime(tmp_path, name, settings):
    model_path = MODELS / f"{name}.onnx"
    model = onnx.load(model_path)
    symbols = ["-onnx-define-symbol=batch_size,1", "-onnx-define-symbol=sequence,16"] if "bert" in name or "gpt2" in name else []
    qpc = tmp_path / "qpc"
    assert qaicc([f"-m={model_path}", *symbols, "-convert-to-fp16", *settings,
                  f"-aic-binary-dir={qpc}", "-compile-only"]) == 0
    feeds = random_inputs(model, {"batch_size": 1, "sequence": 16}, seed=4)
    input_args = []
    for input_name, value in feeds.items():
        path = tmp_path / f"{input_name}.raw"
        path.write_bytes(np.ascontiguousarray(value).tobytes())
        input_args += ["-i", str(path)]
    out = tmp_path / "out"
    assert qaicc_run(["-t", str(qpc), *input_args, "-n", "2", "--write-output-dir", str(out)]) == 0
    expected = run_ort(model, feeds)
    for output, reference in zip(model.graph.output, expected):
        written = np.frombuffer((out / f"{output.name}-activation-0-inf-0.bin").read_bytes(), reference.dtype)
        written = written.reshape(reference.shape)
        scale = float(np.max(np.abs(reference)))
        assert float(np.max(np.abs(written - reference))) <= 2e-2 * scale
        assert _cosine(written, reference) >= 0.999
