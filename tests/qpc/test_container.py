"""programqpc.bin: the container layout byte by byte, one-line errors for missing,
truncated and corrupted files (every byte of the header and table, and bytes of every
section), the loader, and ``qaicc-qpc inspect``."""

from __future__ import annotations

import hashlib
import io
import json
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qaicc.errors import QaiccError
from qaicc.qpc import load_qpc
from qaicc.qpc.container import (
    ALIGNMENT,
    FORMAT_MAJOR,
    MAGIC,
    read_container,
    write_atomically,
    write_container,
)
from qaicc.qpc.encoding import decode_streams
from qaicc.semantics import run_module
from qaicc.testing.compare import identical
from qaicc.dialects.aic_graph.work import tensor_bytes
from qaicc.testing.qpc import compile_qpc, contiguous_constants, matmul_module, model_to_aic_core, run
from qaicc.testing.random_inputs import random_inputs
from qaicc.tools.qaicc_qpc import main as qaicc_qpc

MODELS = Path(__file__).resolve().parent.parent / "models"


@pytest.fixture(scope="module")
def qpc_file(tmp_path_factory) -> Path:
    """A small QPC (a matmul on two cores, two tiles each), compiled with flags."""
    directory = tmp_path_factory.mktemp("qpc")
    module, _ = matmul_module(cores=2, tiles=2)
    return compile_qpc(module, directory, flags="-aic-num-cores=2 -ols=2 -aic-hw-version=2.0")


def _copy(source: Path, directory: Path, data: bytes | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / "programqpc.bin"
    target.write_bytes(source.read_bytes() if data is None else data)
    return target


# -- the layout -------------------------------------------------------------------------


def test_header_and_section_table(qpc_file):
    data = qpc_file.read_bytes()
    assert data[:8] == MAGIC == b"QAICQPC\x00"
    major, minor, header_size, count, entry_size, table, file_size, alignment = struct.unpack_from("<HHIIIQQQ", data, 8)
    assert (major, minor, header_size, entry_size, table, alignment) == (FORMAT_MAJOR, 0, 128, 64, 128, 64)
    assert file_size == len(data) and len(data) % ALIGNMENT == 0
    assert data[48:64] == bytes(16) and data[96:128] == bytes(32)
    assert hashlib.sha256(data[:64] + data[128:128 + 64 * count]).digest() == data[64:96]
    names, end = [], 128 + 64 * count
    for index in range(count):
        name, offset, size, digest = struct.unpack_from("<16sQQ32s", data, 128 + 64 * index)
        names.append(name.rstrip(b"\0").decode())
        assert offset % ALIGNMENT == 0 and offset >= end
        assert data[end:offset] == bytes(offset - end)  # zero padding
        assert hashlib.sha256(data[offset:offset + size]).digest() == digest
        end = offset + size
    assert names == ["meta", "kernels", "streams", "constants"]
    assert data[end:] == bytes(len(data) - end)


def test_sections_hold_what_the_format_says(qpc_file):
    container = read_container(qpc_file)
    meta = json.loads(bytes(container.section("meta")))
    # canonical JSON: sorted keys, no whitespace
    assert bytes(container.section("meta")) == json.dumps(meta, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert meta["target"]["name"] == "ai100-pro" and meta["num_cores"] == 2
    assert meta["flags"] == {"aic-hw-version": "2.0", "aic-num-cores": "2", "ols": "2"}
    assert [(e["name"], e["shape"], e["dtype"]) for e in meta["inputs"]] == [("x", [8, 16], "float32")]
    assert [(e["name"], e["shape"], e["dtype"]) for e in meta["outputs"]] == [("y", [32], "float32")]
    kernels = bytes(container.section("kernels")).decode()
    assert kernels.startswith('"builtin.module"()') and kernels.count('"qpc.kernel"') == 1
    strings, streams = decode_streams(container.section("streams"))
    assert strings == ["mm"] and [core for core, _ in streams] == [0, 1]
    (constant,) = meta["constants"]["entries"]
    (part,) = constant["parts"]
    weight = np.frombuffer(container.section("constants"), "<f4", count=64, offset=part["offset"]).reshape(16, 4)
    assert part["bytes"] == 256 and weight.shape == (16, 4)
    assert meta["ddr"]["total_bytes"] == 512 + 256 + 128  # x, w, mm (y aliases mm)
    assert meta["vtcm"]["planned"] is False
    # per core: x tile 2x16 and result 2x4 double-buffered (ols 2), w 16x4 resident
    assert meta["vtcm"]["peak_bytes_per_core"] == [2 * 128 + 256 + 2 * 32] * 2


def test_write_container_aligns_and_streams_chunks():
    out = io.BytesIO()
    size = write_container(out, [("a", [b"x" * 3, memoryview(b"yz")]), ("b", iter([])),
                                 ("c", [np.arange(5, dtype="<i4").view(np.uint8)])])
    data = out.getvalue()
    assert size == len(data) and size % 64 == 0
    entries = [struct.unpack_from("<16sQQ32s", data, 128 + 64 * i) for i in range(3)]
    assert [(e[0].rstrip(b"\0"), e[1] % 64, e[2]) for e in entries] == [(b"a", 0, 5), (b"b", 0, 0), (b"c", 0, 20)]
    assert data[entries[0][1]:entries[0][1] + 5] == b"xxxyz"
    with pytest.raises(ValueError, match="duplicate"):
        write_container(io.BytesIO(), [("a", []), ("a", [])])
    with pytest.raises(ValueError, match="1 to 16 ASCII"):
        write_container(io.BytesIO(), [("a" * 17, [])])


def test_write_atomically_replaces_whole(tmp_path):
    target = tmp_path / "f.bin"
    write_atomically(target, lambda out: out.write(b"one"))
    assert target.read_bytes() == b"one"

    def fail(out):
        out.write(b"tw")
        raise RuntimeError("midway")

    with pytest.raises(RuntimeError, match="midway"):
        write_atomically(target, fail)
    assert target.read_bytes() == b"one" and sorted(p.name for p in tmp_path.iterdir()) == ["f.bin"]


# -- bad files --------------------------------------------------------------------------


def _error(path: Path) -> str:
    with pytest.raises(QaiccError) as error:
        load_qpc(path)
    message = str(error.value)
    assert "\n" not in message
    return message


def test_missing(tmp_path):
    assert "no such directory" in _error(tmp_path / "nowhere")
    assert _error(tmp_path).endswith("programqpc.bin: no such file")


def test_bad_magic_and_empty(tmp_path, qpc_file):
    data = bytearray(qpc_file.read_bytes())
    data[0:4] = b"ELF\x7f"
    assert _error(_copy(qpc_file, tmp_path / "magic", bytes(data))).endswith("not a QPC file (bad magic)")
    assert "bad magic" in _error(_copy(qpc_file, tmp_path / "text", b"hello world, not a qpc" * 10))
    assert "empty file" in _error(_copy(qpc_file, tmp_path / "empty", b""))


def test_unsupported_version(tmp_path, qpc_file):
    data = bytearray(qpc_file.read_bytes())
    struct.pack_into("<H", data, 8, FORMAT_MAJOR + 1)
    message = _error(_copy(qpc_file, tmp_path, bytes(data)))
    assert f"unsupported QPC format version {FORMAT_MAJOR + 1}.0 (this qaicc reads {FORMAT_MAJOR}.x)" in message


@pytest.mark.parametrize("keep", [1, 8, 11, 100, 127, 128, 300, 0.5, -64, -1])
def test_truncated(tmp_path, qpc_file, keep):
    data = qpc_file.read_bytes()
    length = int(len(data) * keep) if isinstance(keep, float) else keep % len(data)
    message = _error(_copy(qpc_file, tmp_path, data[:length]))
    assert "truncated QPC" in message


def test_trailing_bytes(tmp_path, qpc_file):
    message = _error(_copy(qpc_file, tmp_path, qpc_file.read_bytes() + b"\0" * 64))
    assert "bytes after the end" in message


def _flip(data: bytes, position: int) -> bytes:
    flipped = bytearray(data)
    flipped[position] ^= 0x01
    return bytes(flipped)


def test_every_header_and_table_byte_is_checked(tmp_path, qpc_file):
    data = qpc_file.read_bytes()
    path = _copy(qpc_file, tmp_path)
    table_end = 128 + 4 * 64
    for position in range(table_end):
        path.write_bytes(_flip(data, position))
        message = _error(path.parent)
        assert any(text in message for text in (
            "bad magic", "unsupported QPC format version", "truncated", "corrupted QPC")), (position, message)


def test_a_flipped_byte_names_its_section(tmp_path, qpc_file):
    data = qpc_file.read_bytes()
    container = read_container(qpc_file)
    path = _copy(qpc_file, tmp_path)
    rng = np.random.default_rng(0)
    for section in container.sections:
        for position in {section.offset, section.offset + section.size - 1,
                         *rng.integers(section.offset, section.offset + section.size, 5).tolist()}:
            path.write_bytes(_flip(data, position))
            assert _error(path).endswith(f"corrupted QPC: checksum mismatch in section '{section.name}'")
    # padding bytes are covered too
    last = container.sections[-1]
    if last.offset + last.size < len(data):
        path.write_bytes(_flip(data, len(data) - 1))
        assert "padding after section 'constants' is not zero" in _error(path)


def test_verify_false_skips_checksums(tmp_path, qpc_file):
    data = qpc_file.read_bytes()
    constants = read_container(qpc_file).sections[-1]
    path = _copy(qpc_file, tmp_path, _flip(data, constants.offset))
    assert load_qpc(path, verify=False).meta["num_cores"] == 2


# -- the loader -------------------------------------------------------------------------


def test_load_and_run(qpc_file):
    module, inputs = matmul_module(cores=2, tiles=2)
    loaded = load_qpc(qpc_file)  # the file itself works too
    assert loaded.version == (1, 0) and loaded.path == qpc_file
    rebuilt = loaded.to_aic_core()
    rebuilt.verify()
    assert identical(run_module(rebuilt, inputs)["y"], run_module(module, inputs)["y"])
    # constants are read-only views of the file
    from qaicc.dialects.aic_core import ops as c

    (weight,) = [op for op in rebuilt.ops if isinstance(op, c.DDRTensorOp) and op.kind.data == "constant"]
    assert not weight.value.to_numpy().flags.writeable


def _structure(module) -> list:
    """Every op in walk order (module-level declarations grouped by kind: their order
    means nothing): name, properties (blobs by value), result types, operands by
    position, attributes."""
    from xdsl.dialects.builtin import ArrayAttr

    from qaicc.dialects.qaicc_attrs import DenseBlobAttr

    def value(attr):
        if isinstance(attr, DenseBlobAttr):
            return ("blob", attr.blob_name.data, attr.type, attr.to_numpy().tobytes())
        if isinstance(attr, ArrayAttr):
            return tuple(value(a) for a in attr.data)
        return attr

    kinds = ["func.func", "aic_core.ddr_tensor", "aic_core.semaphore", "aic_core.program"]
    top = sorted(module.ops, key=lambda op: kinds.index(op.name))
    numbering, ops = {}, []
    for op in (inner for op in top for inner in op.walk()):
        for region in op.regions:
            for block in region.blocks:
                for arg in block.args:
                    numbering[arg] = len(numbering)
        ops.append((op.name, {k: value(v) for k, v in op.properties.items()}, [r.type for r in op.results],
                    [numbering[v] for v in op.operands], dict(op.attributes)))
        for result in op.results:
            numbering[result] = len(numbering)
    return ops


def test_rebuilt_module_is_the_original_aic_core(tmp_path):
    """Everything that reaches aic-core comes back: same ops, properties, order, data."""
    module, _ = matmul_module(cores=2, tiles=2)
    compile_qpc(module, tmp_path)
    rebuilt = load_qpc(tmp_path).to_aic_core()
    assert _structure(rebuilt) == _structure(module)


@pytest.mark.filterwarnings("ignore:bind-symbols")
@pytest.mark.parametrize("name,cores", [("bert_small", 4), ("resnet50_small", 2)])
def test_rebuilt_models_are_the_original_aic_core(tmp_path, name, cores):
    module = model_to_aic_core(MODELS / f"{name}.onnx", cores)
    compile_qpc(module, tmp_path)
    assert _structure(load_qpc(tmp_path).to_aic_core()) == _structure(module)


PLANNING = ("insert-multicast", "schedule", "plan-memory")


@pytest.mark.filterwarnings("ignore:bind-symbols")
def test_planned_module_round_trips_with_its_plan(tmp_path):
    """VTCM offsets, buffers, multicast cores and DDR offsets come back; the meta data
    reports the planned VTCM peak and DDR size."""
    from qaicc.passes import ALL_PASSES

    if not all(name in ALL_PASSES for name in PLANNING):
        pytest.skip("the memory planning passes are not registered")
    module = model_to_aic_core(MODELS / "bert_small.onnx", 4)
    run(module, ",".join(PLANNING))
    compile_qpc(module, tmp_path)
    loaded = load_qpc(tmp_path)
    assert _structure(loaded.to_aic_core()) == _structure(module)
    vtcm, ddr = loaded.meta["vtcm"], loaded.meta["ddr"]
    assert vtcm["planned"] and ddr["planned"]
    assert 0 < vtcm["peak_bytes"] <= vtcm["capacity_bytes"]
    from qaicc.dialects.aic_core import ops as c

    ends = [op.offset.value.data + tensor_bytes(op.type) for op in module.ops
            if isinstance(op, c.DDRTensorOp) and op.kind.data != "alias"]
    assert ddr["total_bytes"] == max(ends)
    import onnx

    feeds = random_inputs(onnx.load(MODELS / "bert_small.onnx"), {"batch_size": 1, "sequence": 16}, seed=2)
    expected = run_module(contiguous_constants(module), feeds)
    actual = run_module(loaded.to_aic_core(), feeds)
    assert all(identical(actual[k], expected[k]) for k in expected)


# -- qaicc-qpc inspect ------------------------------------------------------------------


def test_inspect_text(qpc_file, capsys):
    assert qaicc_qpc(["inspect", str(qpc_file.parent)]) == 0
    out = capsys.readouterr().out
    for expected in ("target: ai100-pro (16 cores", "cores: 2", "batch: 1",
                     "flags: -aic-hw-version=2.0 -aic-num-cores=2 -ols=2",
                     "inputs:\n  x  float32   8x16", "outputs:\n  y  float32   32",
                     "  meta       offset", "  constants  offset", "VTCM: peak 576 B", "per core: 0-1: 576",
                     "DDR: 896 B (not planned", "kernels: 1 unique (1 matrix, 0 vector)"):
        assert expected in out, expected


def test_inspect_json(qpc_file, capsys):
    assert qaicc_qpc(["inspect", str(qpc_file.parent), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["target"]["name"] == "ai100-pro" and info["num_cores"] == 2
    assert [s["name"] for s in info["sections"]] == ["meta", "kernels", "streams", "constants"]
    assert sum(s["bytes"] for s in info["sections"]) < info["file_bytes"] == qpc_file.stat().st_size
    assert info["inputs"] == [{"name": "x", "shape": [8, 16], "dtype": "float32", "type": "tensor<8x16xf32>",
                               "batch": 1, "bytes": 512}]
    assert info["vtcm"]["peak_bytes_per_core"] == [576, 576] and info["ddr"]["total_bytes"] == 896
    assert [s["tasks"] for s in info["streams"]] == [1, 1]


@pytest.mark.parametrize("damage", ["missing", "no-file", "truncated", "flipped"])
def test_inspect_errors_are_one_line(tmp_path, qpc_file, capsys, damage):
    data = qpc_file.read_bytes()
    target = tmp_path / "bad"
    if damage == "missing":
        target = tmp_path / "nowhere"
    elif damage == "no-file":
        target.mkdir()
    elif damage == "truncated":
        _copy(qpc_file, target, data[: len(data) // 2])
    else:
        _copy(qpc_file, target, _flip(data, len(data) // 2))
    assert qaicc_qpc(["inspect", str(target)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("qaicc-qpc: error: ")


def test_inspect_command_line(tmp_path, qpc_file):
    """The installed console script: output, and no traceback on a corrupted file."""
    script = Path(sys.executable).parent / "qaicc-qpc"
    good = subprocess.run([str(script), "inspect", str(qpc_file.parent), "--json"], capture_output=True, text=True)
    assert good.returncode == 0 and json.loads(good.stdout)["num_cores"] == 2
    bad = _copy(qpc_file, tmp_path, qpc_file.read_bytes()[:1000])
    result = subprocess.run([str(script), "inspect", str(bad.parent)], capture_output=True, text=True)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "truncated QPC" in result.stderr and "Traceback" not in result.stderr
