"""emit-qpc: what the file encodes runs like the aic-core module (and like onnxruntime)
on 1, 2 and 4 cores; identical inputs give identical bytes; writing is atomic; the
output directory is handled with one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import qaicc.qpc.container as container_module
from qaicc.errors import QaiccError
from qaicc.ir.printing import print_module
from qaicc.qpc import load_qpc
from qaicc.semantics import run_module
from qaicc.testing.compare import identical
from qaicc.testing.qpc import compile_qpc, contiguous_constants, matmul_module, model_to_aic_core, run
from qaicc.testing.random_inputs import random_inputs

MODELS = Path(__file__).resolve().parent.parent / "tests" / "models"
MODEL_NAMES = ["bert_small", "gpt2_small", "resnet50_small", "mobilenetv2_small", "vit_small"]
SYMBOLS = {"batch_size": 1, "sequence": 16}


def _files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_matmul_runs_the_same_after_emission(tmp_path):
    module, inputs = matmul_module(cores=2, tiles=2)
    expected = run_module(module, inputs)
    path = compile_qpc(module, tmp_path)
    assert path == tmp_path / "programqpc.bin" and _files(tmp_path) == ["programqpc.bin"]
    assert identical(run_module(load_qpc(tmp_path).to_aic_core(), inputs)["y"], expected["y"])


@pytest.mark.filterwarnings("ignore:bind-symbols")
@pytest.mark.parametrize("cores", [1, 2, 4])
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_models_emit_load_run(tmp_path, name, cores):
    path = MODELS / f"{name}.onnx"
    module = model_to_aic_core(path, cores, tiles=2)
    feeds = random_inputs(onnx.load(path), SYMBOLS, seed=1)
    compile_qpc(module, tmp_path)
    # the same values in row-major memory, as the file holds them (see contiguous_constants)
    expected = run_module(contiguous_constants(module), feeds)
    loaded = load_qpc(tmp_path)
    assert loaded.meta["num_cores"] == cores
    actual = run_module(loaded.to_aic_core(), feeds)
    assert actual.keys() == expected.keys()
    for key in expected:
        assert identical(actual[key], expected[key]), key
    session = ort.InferenceSession(str(path))
    names = [o.name for o in session.get_outputs()]
    for key, reference in zip(names, session.run(None, feeds)):
        assert actual[key].dtype == np.float32
        scale = float(np.max(np.abs(reference)))
        assert float(np.max(np.abs(actual[key] - reference))) <= 1e-4 * scale, key


@pytest.mark.filterwarnings("ignore:bind-symbols")
def test_two_compiles_give_identical_bytes(tmp_path):
    path = MODELS / "bert_small.onnx"
    first = compile_qpc(model_to_aic_core(path, 2), tmp_path / "a", flags="-aic-num-cores=2 -ols=2")
    second = compile_qpc(model_to_aic_core(path, 2), tmp_path / "b", flags="-aic-num-cores=2 -ols=2")
    assert first.read_bytes() == second.read_bytes()
    # another process, another hash seed: still the same bytes
    script = (
        "import sys; from qaicc.testing.qpc import compile_qpc, model_to_aic_core; "
        "compile_qpc(model_to_aic_core(sys.argv[1], 2), sys.argv[2], flags='-aic-num-cores=2 -ols=2')"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-W", "ignore", "-c", script, str(path), str(tmp_path / "c")],
                   check=True, env=env, capture_output=True)
    assert (tmp_path / "c" / "programqpc.bin").read_bytes() == first.read_bytes()
    # other flags, other bytes
    third = compile_qpc(model_to_aic_core(path, 2), tmp_path / "d", flags="-aic-num-cores=2")
    assert third.read_bytes() != first.read_bytes()


def test_emit_leaves_the_module_unchanged(tmp_path):
    module, _ = matmul_module()
    run(module, "convert-aic-core-to-qpc")
    before = print_module(module, elide_larger_than=None)
    run(module, f'emit-qpc{{dir="{tmp_path}"}}')
    assert print_module(module, elide_larger_than=None) == before


# -- atomicity --------------------------------------------------------------------------


_REAL_WRITE_SECTION = container_module._write_section


class _DiskFull:
    """Replaces the section writer: the first sections go through, then half of a section
    is written and the disk is full."""

    def __init__(self, fail_at: int, error: BaseException | None = None):
        self.calls = 0
        self.fail_at = fail_at
        self.error = error or OSError(28, "No space left on device")

    def __call__(self, out, chunks, digest):
        self.calls += 1
        if self.calls < self.fail_at:
            return _REAL_WRITE_SECTION(out, chunks, digest)
        data = b"".join(bytes(memoryview(c).cast("B")) for c in chunks)
        out.write(data[: len(data) // 2])
        out.flush()
        raise self.error


@pytest.mark.parametrize("fail_at", [1, 3, 4])
def test_a_failed_write_leaves_no_file(tmp_path, monkeypatch, fail_at):
    module, _ = matmul_module()
    monkeypatch.setattr(container_module, "_write_section", _DiskFull(fail_at))
    with pytest.raises(QaiccError, match=r"cannot write .*programqpc.bin: No space left on device") as error:
        compile_qpc(module, tmp_path / "out")
    assert "\n" not in str(error.value)
    assert _files(tmp_path / "out") == []


def test_a_failed_write_keeps_the_existing_file(tmp_path, monkeypatch):
    old_module, old_inputs = matmul_module(cores=2, tiles=2)
    path = compile_qpc(old_module, tmp_path)
    old_bytes = path.read_bytes()
    new_module, _ = matmul_module(cores=4, tiles=1)
    monkeypatch.setattr(container_module, "_write_section", _DiskFull(4))
    with pytest.raises(QaiccError, match="No space left on device"):
        compile_qpc(new_module, tmp_path)
    assert path.read_bytes() == old_bytes and _files(tmp_path) == ["programqpc.bin"]
    # an interrupt midway: the same
    monkeypatch.setattr(container_module, "_write_section", _DiskFull(2, KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        compile_qpc(new_module, tmp_path)
    assert path.read_bytes() == old_bytes and _files(tmp_path) == ["programqpc.bin"]
    monkeypatch.undo()
    loaded = load_qpc(tmp_path)
    assert loaded.meta["num_cores"] == 2
    assert identical(run_module(loaded.to_aic_core(), old_inputs)["y"], run_module(old_module, old_inputs)["y"])
    # and a successful compile replaces it whole
    compile_qpc(new_module, tmp_path)
    assert load_qpc(tmp_path).meta["num_cores"] == 4 and _files(tmp_path) == ["programqpc.bin"]


def test_a_constant_without_data_fails_cleanly(tmp_path):
    """The weight of IR text printed with elision has no bytes: the error comes while
    the constants section is written, and nothing is left behind."""
    from qaicc.ir.printing import parse_module

    module, _ = matmul_module()
    elided = parse_module(print_module(module, elide_larger_than=16))
    with pytest.raises(QaiccError, match="a constant was elided"):
        compile_qpc(elided, tmp_path)
    assert _files(tmp_path) == []


# -- the output directory ---------------------------------------------------------------


def test_directory_is_created_when_its_parent_exists(tmp_path):
    module, _ = matmul_module()
    path = compile_qpc(module, tmp_path / "new")
    assert path.is_file()
    assert oct(path.stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_missing_parent_is_a_one_line_error(tmp_path):
    module, _ = matmul_module()
    with pytest.raises(QaiccError, match="neither .*missing/deeper nor its parent .*missing exists"):
        compile_qpc(module, tmp_path / "missing" / "deeper")
    assert not (tmp_path / "missing").exists()


def test_a_file_in_the_way_is_a_one_line_error(tmp_path):
    module, _ = matmul_module()
    (tmp_path / "file").write_text("x")
    with pytest.raises(QaiccError, match="file is not a directory"):
        compile_qpc(module, tmp_path / "file")
    with pytest.raises(QaiccError, match="cannot write"):
        compile_qpc(module, tmp_path / "file" / "sub")


def test_unwritable_directory(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes anywhere")
    module, _ = matmul_module()
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(QaiccError, match="cannot write .*: Permission denied"):
            compile_qpc(module, locked)
    finally:
        locked.chmod(0o700)


def test_options_and_input_checked(tmp_path):
    module, _ = matmul_module()
    with pytest.raises(QaiccError, match='give the output directory: emit-qpc{dir="PATH"}'):
        run(module.clone(), "convert-aic-core-to-qpc,emit-qpc")
    with pytest.raises(QaiccError, match="holds 0 qpc.container .*run convert-aic-core-to-qpc first"):
        run(module.clone(), f'emit-qpc{{dir="{tmp_path}"}}')
