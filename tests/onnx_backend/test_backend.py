"""The ONNX backend node tests (onnx.backend.test, generated in memory) through
``qaicc.backend``, compared with the expected outputs of each case.

Two levels run: ``import`` (the imported onnx dialect on the reference semantics) and
``onnx`` (after bind-symbols, shape-inference and canonicalize). Every exclusion is
listed below with its reason; everything else must pass.
"""

from __future__ import annotations

import onnx.backend.test

from qaicc.backend import QaiccBackend

EXCLUDED = {
    # Operators of other domains: qaicc supports ai.onnx only; the importer reports them.
    r"^test_ai_onnx_ml_": "ai.onnx.ml domain",
    r"^test_(adagrad|adam|momentum|nesterov_momentum)": "ai.onnx.preview.training domain",
    r"^test_flexattention((?!expanded).)*_cpu$": "ai.onnx.preview domain (the _expanded cases run)",
    # Random number generators: the expected values come from numpy's generator.
    r"^test_bernoulli": "random outputs",
    # onnx's reference ImageDecoder needs Pillow, which is no dependency of qaicc.
    r"^test_image_decoder": "needs Pillow",
    # onnx's test runner cannot compare a sequence holding 0-d tensors: it recurses into
    # each element as if it were a list of outputs and calls len() on a 0-d array.
    r"^test_loop16_seq_none_cpu$": "runner cannot compare 0-d tensors in sequences",
}


class ImportLevelBackend(QaiccBackend):
    """qaicc.backend stopped right after import."""

    @classmethod
    def prepare(cls, model, device="CPU", **kwargs):
        return super().prepare(model, device, level="import", **kwargs)


class OnnxLevelBackend(QaiccBackend):
    """qaicc.backend after the onnx-level passes."""

    @classmethod
    def prepare(cls, model, device="CPU", **kwargs):
        return super().prepare(model, device, level="onnx", **kwargs)


def _node_tests(backend, label: str):
    backend_test = onnx.backend.test.BackendTest(backend, __name__)
    for pattern in EXCLUDED:
        backend_test.exclude(pattern)
    node_tests = backend_test.test_cases["OnnxBackendNodeModelTest"]
    return type(f"{label}NodeTest", (node_tests,), {})


ImportLevelNodeTest = _node_tests(ImportLevelBackend, "ImportLevel")
OnnxLevelNodeTest = _node_tests(OnnxLevelBackend, "OnnxLevel")
