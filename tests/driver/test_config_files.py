"""-custom-IO-list-file (YAML, read with or without PyYAML) and
-network-specialization-config (JSON): good files and every kind of bad one."""

from __future__ import annotations

import sys

import pytest

from qaicc.driver.config_files import (
    check_custom_io,
    check_specializations,
    parse_simple_yaml,
    read_custom_io,
    read_specializations,
)
from qaicc.errors import QaiccError

CUSTOM_IO = """\
# precision of the KV cache
- IOName: past_key.0
  Precision: float16
- IOName: "past_key.0_RetainedState"   # quoted
  Precision: 'float16'

-   IOName: logits
    Precision: float32
- {IOName: past_value.0, Precision: float16}
"""


@pytest.fixture(params=["pyyaml", "builtin"])
def yaml_reader(request, monkeypatch):
    if request.param == "builtin":
        monkeypatch.setitem(sys.modules, "yaml", None)  # import yaml raises ImportError
    else:
        pytest.importorskip("yaml")
    return request.param


def test_custom_io_file(tmp_path, yaml_reader):
    path = tmp_path / "io.yaml"
    path.write_text(CUSTOM_IO)
    assert read_custom_io(path) == {"past_key.0": "float16", "past_key.0_RetainedState": "float16",
                                    "logits": "float32", "past_value.0": "float16"}


def test_empty_custom_io_file(tmp_path, yaml_reader):
    path = tmp_path / "io.yaml"
    path.write_text("# nothing\n")
    assert read_custom_io(path) == {}


@pytest.mark.parametrize("text, message", [
    ("IOName: x\nPrecision: float16\n", "expected a list"),
    ("- IOName: x\n", "entry 1 ('x') has no Precision"),
    ("- Precision: float16\n", "entry 1 has no IOName"),
    ("- IOName: x\n  Precision: float16\n  Layout: NCHW\n", "entry 1 has the unknown key 'Layout'"),
    ("- IOName: x\n  Precision: float16\n- IOName: x\n  Precision: float32\n", "'x' is listed twice"),
])
def test_bad_custom_io_files(tmp_path, yaml_reader, text, message):
    path = tmp_path / "io.yaml"
    path.write_text(text)
    with pytest.raises(QaiccError) as caught:
        read_custom_io(path)
    assert message in str(caught.value)
    assert str(caught.value).startswith(f"-custom-IO-list-file={path}")
    assert "\n" not in str(caught.value)


def test_the_builtin_reader_names_the_line():
    with pytest.raises(QaiccError, match="io.yaml:2: expected 'Key: value'"):
        parse_simple_yaml("- IOName: x\n  Precision float16\n", "io.yaml")
    with pytest.raises(QaiccError, match="io.yaml:1: expected a list entry"):
        parse_simple_yaml("IOName: x\n", "io.yaml")


def test_missing_custom_io_file(tmp_path):
    with pytest.raises(QaiccError, match="^-custom-IO-list-file=.*nope.yaml: no such file$"):
        read_custom_io(tmp_path / "nope.yaml")


INPUTS = {"input_ids": "int64", "past_key.0": "float32"}
OUTPUTS = {"logits": "float32", "past_key.0_RetainedState": "float32"}


def test_custom_io_against_the_model():
    entries = {"past_key.0": "float16", "past_key.0_RetainedState": "float16", "logits": "float32"}
    assert check_custom_io(entries, "io.yaml", INPUTS, OUTPUTS) == ["past_key.0", "past_key.0_RetainedState"]


@pytest.mark.parametrize("entries, message", [
    ({"past_key.9": "float16"}, "'past_key.9' is not an input or output of the model (its inputs and outputs: "
                                "input_ids, past_key.0, logits, past_key.0_RetainedState)"),
    ({"LOGITS": "float16"}, "'LOGITS' is not an input or output of the model; did you mean 'logits'?"),
    ({"logits": "mxint8"}, "'logits': Precision mxint8 is not supported yet"),
    ({"logits": "float8"}, "'logits': unknown Precision 'float8'"),
    ({"input_ids": "float16"}, "'input_ids' is int64 in the model; only float inputs and outputs"),
])
def test_bad_custom_io_entries(entries, message):
    with pytest.raises(QaiccError) as caught:
        check_custom_io(entries, "io.yaml", INPUTS, OUTPUTS)
    assert message in str(caught.value)


# -- specializations -----------------------------------------------------------------------


def test_specialization_file(tmp_path):
    path = tmp_path / "spec.json"
    path.write_text('{"specializations": [{"batch_size": "1", "seq_len": "32", "ctx_len": 128},'
                    ' {"batch_size": "1", "seq_len": "1", "ctx_len": "128"}]}')
    sets = read_specializations(path)
    assert sets == [{"batch_size": 1, "seq_len": 32, "ctx_len": 128}, {"batch_size": 1, "seq_len": 1, "ctx_len": 128}]
    check_specializations(sets, path, {"batch_size", "seq_len", "ctx_len"}, {})


@pytest.mark.parametrize("text, message", [
    ("{", "not valid JSON (line 1"),
    ("[]", "expected an object"),
    ('{"specialization": []}', "expected an object"),
    ('{"specializations": [], "x": 1}', "unknown key 'x'"),
    ('{"specializations": []}', "must be a non-empty list"),
    ('{"specializations": [{}]}', "specialization 1 must be a non-empty object"),
    ('{"specializations": [{"seq_len": "abc"}]}', "specialization 1: 'seq_len' must be a positive integer, not \"abc\""),
    ('{"specializations": [{"seq_len": 0}]}', "'seq_len' must be a positive integer, not 0"),
    ('{"specializations": [{"seq_len": true}]}', "'seq_len' must be a positive integer, not true"),
    ('{"specializations": [{"seq_len": 1}, {"seq_len": "1"}]}', "specialization 2 repeats specialization 1"),
])
def test_bad_specialization_files(tmp_path, text, message):
    path = tmp_path / "spec.json"
    path.write_text(text)
    with pytest.raises(QaiccError) as caught:
        read_specializations(path)
    assert message in str(caught.value)
    assert str(caught.value).startswith(f"-network-specialization-config={path}: ")


def test_specialization_keys_against_the_model():
    sets = [{"batch_size": 1, "seq_len": 32}]
    with pytest.raises(QaiccError, match=r"specialization 1: 'seq_len' is not a symbol of the model "
                                         r"\(its symbols: batch_size, sequence\)"):
        check_specializations(sets, "spec.json", {"batch_size", "sequence"}, {})
    with pytest.raises(QaiccError, match="'batch_size' is also given by -onnx-define-symbol=batch_size,1"):
        check_specializations(sets, "spec.json", {"batch_size", "seq_len"}, {"batch_size": 1})
