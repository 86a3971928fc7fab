"""The ONNX backend node test cases, generated in memory by the installed onnx package,
and the import -> export -> onnxruntime round trip over them.

``round_trip(case)`` returns a ``CaseResult`` whose ``status`` is one of:
- ``pass``: the exported model gives outputs identical to the original in onnxruntime;
- ``ort-fails``: the case imports and exports, but onnxruntime cannot run the original
  model (nothing to compare with);
- ``unsupported``: the model uses a domain other than ai.onnx (the importer reports it);
- ``fail``: anything else, with the reason.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import onnx
import onnx.numpy_helper

from qaicc.errors import QaiccError, UnsupportedModelError
from qaicc.testing.compare import identical


@dataclass
class CaseResult:
    name: str
    status: str
    reason: str = ""


@lru_cache(maxsize=1)
def node_cases() -> tuple:
    from onnx.backend.test.case.node import collect_testcases

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return tuple(collect_testcases(None))


def case_inputs(case) -> dict:
    inputs, _ = case.data_sets[0]
    initializers = {t.name for t in case.model.graph.initializer}
    graph_inputs = [vi for vi in case.model.graph.input if vi.name not in initializers]
    return {vi.name: _feed(value, vi.type) for vi, value in zip(graph_inputs, inputs)}


def _feed(value, type_proto: onnx.TypeProto | None):
    """onnxruntime takes arrays, lists of arrays (sequences) and None (empty optionals).

    Some generated cases hold their inputs as text (the cast cases); they are converted
    to the element type the graph declares, as the serialized test data would be.
    """
    if value is None:
        return None
    if isinstance(value, list):
        inner = type_proto.sequence_type.elem_type if type_proto and type_proto.HasField("sequence_type") else None
        return [_feed(v, inner) for v in value]
    if isinstance(value, onnx.TensorProto):
        value = onnx.numpy_helper.to_array(value)
    array = np.asarray(value)
    if type_proto is not None and type_proto.HasField("tensor_type"):
        elem_type = type_proto.tensor_type.elem_type
        if elem_type not in (0, onnx.TensorProto.STRING):
            dtype = onnx.helper.tensor_dtype_to_np_dtype(elem_type)
            if array.dtype != dtype:
                array = array.astype(dtype)
    return array


def run_ort(model: onnx.ModelProto, feeds: dict) -> list:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 4
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def uses_other_domains(model: onnx.ModelProto) -> bool:
    return any(node.domain not in ("", "ai.onnx") for node in model.graph.node)


def round_trip(case) -> CaseResult:
    from qaicc.onnx_io.exporter import export_module
    from qaicc.onnx_io.importer import import_model

    try:
        module = import_model(case.model)
        module.verify()
        exported = export_module(module)
    except UnsupportedModelError as error:
        status = "unsupported" if uses_other_domains(case.model) else "fail"
        return CaseResult(case.name, status, error.problems[0] if error.problems else str(error))
    except QaiccError as error:
        return CaseResult(case.name, "fail", _first_line(error))
    except Exception as error:
        return CaseResult(case.name, "fail", f"{type(error).__name__}: {_first_line(error)}")
    feeds = case_inputs(case)
    try:
        expected = run_ort(case.model, feeds)
    except Exception as error:  # onnxruntime's own limits: the case imported, nothing to compare
        return CaseResult(case.name, "ort-fails", _first_line(error))
    try:
        actual = run_ort(exported, feeds)
    except Exception as error:
        return CaseResult(case.name, "fail", f"onnxruntime rejects the exported model: {_first_line(error)}")
    if len(actual) != len(expected) or not all(identical(a, e) for a, e in zip(actual, expected)):
        return CaseResult(case.name, "fail", "outputs differ")
    return CaseResult(case.name, "pass")


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return (text.splitlines()[0] if text else type(error).__name__)[:300]


def backend_case(case, level: str) -> CaseResult:
    """Run a case through qaicc.backend at ``level`` and compare with its expected outputs
    as onnx's BackendTest does (same tolerances)."""
    import qaicc.backend
    from onnx.backend.test.runner import Runner, _normalize_tensor

    if uses_other_domains(case.model):
        return CaseResult(case.name, "unsupported", "domain other than ai.onnx")
    inputs, expected = case.data_sets[0]
    try:
        rep = qaicc.backend.prepare(case.model, level=level)
        outputs = rep.run([_normalize_tensor(i) for i in inputs])
        Runner.assert_similar_outputs(
            [_normalize_tensor(o) for o in expected], list(outputs), case.rtol, case.atol, None
        )
    except AssertionError as error:
        return CaseResult(case.name, "fail", "outputs differ: " + _first_line(error))
    except UnsupportedModelError as error:  # a reported limit of the level, not a wrong result
        return CaseResult(case.name, "unsupported", error.problems[0] if error.problems else str(error))
    except Exception as error:
        return CaseResult(case.name, "fail", f"{type(error).__name__}: {_first_line(error)}")
    return CaseResult(case.name, "pass")


def ort_passes(case) -> bool:
    """Whether onnxruntime gives the case's expected outputs (BackendTest's comparison)."""
    from onnx.backend.test.runner import Runner, _normalize_tensor

    inputs, expected = case.data_sets[0]
    try:
        outputs = run_ort(case.model, case_inputs(case))
        Runner.assert_similar_outputs(
            [_normalize_tensor(o) for o in expected], list(outputs), case.rtol, case.atol, None
        )
    except Exception:
        return False
    return True
