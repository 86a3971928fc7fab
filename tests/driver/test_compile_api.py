"""``qaicc.compile`` from Python: the same flags, the metrics returned, and metrics that
move the way the flags say."""

from __future__ import annotations

import io
from pathlib import Path

import onnx
import pytest

import qaicc
from qaicc.driver.pipeline import CompileOptions
from qaicc.driver.report import perf_warnings
from qaicc.errors import QaiccError

ROOT = Path(__file__).resolve().parents[2]
BERT_SMALL = ROOT / "tests" / "models" / "bert_small.onnx"
TINY_CNN = ROOT / "examples" / "tiny_cnn.onnx"
BERT_FLAGS = "-onnx-define-symbol=batch_size,1 -onnx-define-symbol=sequence,16 -convert-to-fp16 -compile-only"


def test_compile_returns_the_metrics(tmp_path):
    out = io.StringIO()
    result = qaicc.compile(TINY_CNN, flags="-compile-only -aic-num-cores=2", aic_binary_dir=tmp_path / "q", out=out,
                           err=io.StringIO())
    assert result.qpc_path == tmp_path / "q" / "programqpc.bin" and result.qpc_path.is_file()
    assert out.getvalue() == f"Generated binary is present at {tmp_path / 'q'}\n"
    metrics = result.metrics
    assert metrics["target"] == "ai100-pro" and metrics["num_cores"] == 2 and metrics["batch_size"] == 1
    assert metrics["qpc_bytes"] == result.qpc_path.stat().st_size
    assert 0 < metrics["vtcm"]["peak_bytes"] <= metrics["vtcm"]["capacity_bytes"]
    assert metrics["ddr"]["total_bytes"] > 0 and metrics["ddr"]["bytes_by_kind"]["constant"] > 0
    assert metrics["constants"]["bytes"] >= metrics["constants"]["count"] > 0
    traffic = metrics["traffic"]
    assert traffic["ddr_read_bytes"] > 0 and traffic["ddr_write_bytes"] > 0
    assert 0 < traffic["weight_read_bytes"] <= traffic["ddr_read_bytes"]
    assert metrics["estimated_latency_seconds"] > 0
    assert len(metrics["cores"]) == 2 and metrics["programs"] == [result.programs[0].metrics]
    assert [name for name, _ in result.timings][:2] == ["import-onnx", "shape-inference"]
    assert result.runs == [] and result.pipeline.endswith(f'emit-qpc{{dir="{tmp_path / "q"}"}}')


def test_keywords_and_flags_are_the_same(tmp_path):
    by_flags = qaicc.compile(flags=f"-m={TINY_CNN} -compile-only -aic-num-cores=2 -ols=2 "
                                   f"-aic-binary-dir={tmp_path / 'a'}", quiet=True)
    by_keywords = qaicc.compile(TINY_CNN, compile_only=True, aic_num_cores=2, ols=2, aic_binary_dir=tmp_path / "b",
                                quiet=True)
    assert by_flags.qpc_path.read_bytes() != b""
    strip = lambda m: {k: v for k, v in m.items() if k != "qpc_bytes"}
    assert strip(by_flags.metrics)["traffic"] == strip(by_keywords.metrics)["traffic"]
    assert by_flags.pipeline.replace("/a", "/b") == by_keywords.pipeline


def test_a_model_proto(tmp_path):
    result = qaicc.compile(onnx.load(TINY_CNN), compile_only=True, aic_binary_dir=tmp_path / "p", quiet=True)
    assert result.qpc_path.is_file()


def test_the_run_is_returned(tmp_path):
    result = qaicc.compile(TINY_CNN, aic_binary_dir=tmp_path / "r", aic_num_of_instances=2, quiet=True)
    (run,) = result.runs
    assert run.stats_line.startswith("InferenceCnt 40 TotalDuration ")
    assert run.simulation.instances == 2 and run.simulation.inferences_per_second > 0
    assert run.outputs[0]["logits"].shape == (1, 10)


@pytest.mark.parametrize("kwargs, message", [
    ({"aic_num_cores": 0}, "-aic-num-cores=0: must be at least 1"),
    ({"aic_num_core": 2}, "unknown option 'aic_num_core'; did you mean 'aic_num_cores'?"),
    ({"convert_to_fp16": "yes"}, "option convert_to_fp16 takes True or False"),
    ({"h": True}, "-h is a command of the qaicc tool"),
    ({"m": "other.onnx"}, "the model is given twice"),
])
def test_mistakes_raise_one_line(tmp_path, kwargs, message):
    model = onnx.load(TINY_CNN) if "m" in kwargs else TINY_CNN
    with pytest.raises(QaiccError, match=message):
        qaicc.compile(model, compile_only=True, aic_binary_dir=tmp_path / "x", quiet=True, **kwargs)
    assert not (tmp_path / "x").exists()


def test_metrics_follow_the_flags(tmp_path):
    """Multicast moves DDR reads to the network; MXFP6 shrinks the constants and the
    weight traffic."""

    def metrics(name, **kwargs):
        return qaicc.compile(BERT_SMALL, flags=BERT_FLAGS, aic_binary_dir=tmp_path / name, quiet=True, **kwargs).metrics

    base = metrics("base", aic_num_cores=4, mos=4, ols=2)
    multicast = metrics("multicast", aic_num_cores=4, mos=4, ols=2, multicast_weights=True)
    mxfp6 = metrics("mxfp6", aic_num_cores=4, mos=4, ols=2, mxfp6_matmul=True)
    assert multicast["traffic"]["multicast_bytes"] > base["traffic"]["multicast_bytes"] == 0
    assert multicast["traffic"]["ddr_read_bytes"] < base["traffic"]["ddr_read_bytes"]
    assert mxfp6["constants"]["bytes"] < 0.8 * base["constants"]["bytes"]  # matmul weights only, not the embeddings
    assert mxfp6["traffic"]["weight_read_bytes"] < base["traffic"]["weight_read_bytes"]


def _metrics(**changes) -> dict:
    metrics = {
        "target": "ai100-pro", "num_cores": 4, "batch_size": 1,
        "vtcm": {"capacity_bytes": 1000, "peak_bytes": 100, "peak_bytes_per_core": [100, 50, 50, 50],
                 "peak_fraction": 0.1, "planned": True},
        "ddr": {"capacity_bytes": 10**9, "total_bytes": 10**6, "bytes_by_kind": {}, "planned": True},
        "traffic": {"ddr_read_bytes": 1000, "ddr_write_bytes": 1000, "multicast_bytes": 0, "weight_read_bytes": 100,
                    "weight_fraction": 0.05},
        "constants": {"count": 1, "bytes": 100},
        "estimated_latency_seconds": 1.0,
        "cores": [{"core": i, "busy_seconds": {"matrix": 0.9, "vector": 0.0, "dma": 0.1}} for i in range(4)],
    }
    for key, value in changes.items():
        metrics[key] = {**metrics[key], **value} if isinstance(value, dict) else value
    return metrics


def _options(*words) -> CompileOptions:
    from qaicc.driver.flags import parse_command_line

    return CompileOptions.from_flags(parse_command_line(["-convert-to-fp16", *words]))


def test_perf_warnings():
    assert perf_warnings(_metrics(), _options()) == []
    (text,) = perf_warnings(_metrics(vtcm={"peak_bytes": 950, "peak_bytes_per_core": [10, 950, 10, 10],
                                           "peak_fraction": 0.95}), _options())
    assert text.startswith("VTCM is 95% full on core 1") and "-mos" in text
    weights = {"ddr_read_bytes": 1000, "weight_read_bytes": 800, "weight_fraction": 0.8}
    (text,) = perf_warnings(_metrics(traffic=weights), _options())
    assert "read 8.0 times per inference" in text and text.endswith("add -multicast-weights")
    (text,) = perf_warnings(_metrics(traffic=weights), _options("-multicast-weights"))
    assert "-mxfp6-matmul" in text
    assert perf_warnings(_metrics(traffic=weights), _options("-multicast-weights", "-mxfp6-matmul")) == []
    (text,) = perf_warnings(_metrics(), CompileOptions())
    assert "computes in float32" in text
    idle = [{"core": i, "busy_seconds": {"matrix": 0.9 if i == 0 else 0.01, "vector": 0.0, "dma": 0.0}}
            for i in range(4)]
    (text,) = perf_warnings(_metrics(cores=idle), _options())
    assert text.startswith("3 of 4 cores are busy less than 25%") and "(cores 1-3)" in text
    dma = [{"core": i, "busy_seconds": {"matrix": 0.5, "vector": 0.0, "dma": 0.5}} for i in range(4)]
    (text,) = perf_warnings(_metrics(cores=dma), _options())
    assert "try -ols=2" in text
    assert perf_warnings(_metrics(cores=dma), _options("-ols=2")) == []
