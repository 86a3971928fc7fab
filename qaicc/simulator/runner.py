"""The functional run of a QPC: inputs, numpy execution, outputs on disk.

- ``io_descriptors(meta, "inputs" | "outputs")``: name, numpy dtype, shape and byte size
  of each input or output, from the QPC's meta data.
- ``read_input_files(loaded, paths)``: one raw little-endian file per input, in the
  QPC's input order (qaic-runner's ``-i``); a count or size that does not match is a
  one-line ``QaiccError`` naming the input, the expected and the actual size.
- ``random_input_sets(loaded, count, seed)``: ``count`` seeded random input sets:
  integers 0..99 (ones for inputs named like a mask, zeros for token types), normal
  floats, random booleans.
- ``run_functional(module, input_sets)``: every distinct input set run once through the
  QPC's aic-core module (``qaicc.semantics.run_module``).
- ``output_files(...)`` and ``write_files(files)``: raw output bytes named
  ``<output>-activation-<a>-inf-<i>.bin``, written atomically: every file goes to a
  temporary name first and all are renamed only once all are written (a failure
  removes the temporary files: nothing partial is left).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from xdsl.dialects.builtin import ModuleOp

from qaicc.errors import QaiccError


@dataclass(frozen=True)
class IODescriptor:
    name: str
    dtype: np.dtype
    shape: tuple[int, ...]
    bytes: int

    def describe(self) -> str:
        return f"{'x'.join(map(str, self.shape)) or 'scalar'} {self.dtype.name}"


def io_descriptors(meta: dict, which: str) -> list[IODescriptor]:
    found = []
    for entry in meta[which]:
        try:
            dtype = np.dtype(entry["dtype"]).newbyteorder("<")
        except TypeError:
            raise QaiccError(f"{which[:-1]} '{entry['name']}' has the type {entry['dtype']}, which qaicc-run cannot "
                             "read or write as raw bytes") from None
        found.append(IODescriptor(entry["name"], dtype, tuple(entry["shape"]), int(entry["bytes"])))
    return found


def read_input_files(meta: dict, paths: Sequence[str | Path]) -> dict[str, np.ndarray]:
    """The inputs from raw files, one per input in the QPC's order."""
    inputs = io_descriptors(meta, "inputs")
    if len(paths) != len(inputs):
        names = ", ".join(d.name for d in inputs)
        raise QaiccError(f"the QPC takes {len(inputs)} input(s) ({names}); give -i once per input, in that order "
                         f"(got {len(paths)})")
    values = {}
    for desc, path in zip(inputs, paths):
        path = Path(path)
        try:
            size = path.stat().st_size
        except OSError as error:
            raise QaiccError(f"input '{desc.name}': cannot read {path} ({error.strerror or error})") from None
        if not path.is_file():
            raise QaiccError(f"input '{desc.name}': {path} is not a file")
        if size != desc.bytes:
            raise QaiccError(f"input '{desc.name}' ({path}): {size} bytes, the QPC expects {desc.bytes} bytes "
                             f"({desc.describe()})")
        values[desc.name] = np.fromfile(path, dtype=desc.dtype).reshape(desc.shape).astype(desc.dtype.newbyteorder("="))
    return values


def random_input_sets(meta: dict, count: int, seed: int = 0) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    sets = []
    for _ in range(count):
        values = {}
        for desc in io_descriptors(meta, "inputs"):
            dtype = desc.dtype.newbyteorder("=")
            lowered = desc.name.lower()
            if np.issubdtype(dtype, np.bool_):
                values[desc.name] = rng.integers(0, 2, size=desc.shape).astype(dtype)
            elif np.issubdtype(dtype, np.integer):
                if "mask" in lowered:
                    values[desc.name] = np.ones(desc.shape, dtype)
                elif "token_type" in lowered or "segment" in lowered:
                    values[desc.name] = np.zeros(desc.shape, dtype)
                else:
                    values[desc.name] = rng.integers(0, 100, size=desc.shape).astype(dtype)
            else:
                values[desc.name] = rng.standard_normal(desc.shape).astype(dtype)
        sets.append(values)
    return sets


def run_functional(
    module: ModuleOp,
    input_sets: Iterable[dict[str, np.ndarray]],
    retained_state: Sequence[dict] = (),
) -> list[dict[str, np.ndarray]]:
    """The outputs of every input set (by output name), each set run once, in order.

    ``retained_state`` (``-retained-state``: pairs ``{"output": "x_RetainedState",
    "input": "x"}``): each such output stays on the device and is the matching input of the
    next inference (the input set's own value is used only for the first one)."""
    from qaicc.semantics import run_module

    results = []
    state: dict[str, np.ndarray] = {}
    for inputs in input_sets:
        outputs = run_module(module, {**inputs, **state})
        results.append(outputs)
        state = {pair["input"]: np.asarray(outputs[pair["output"]]) for pair in retained_state}
    return results


_UNSAFE = re.compile(r"[^A-Za-z0-9_.+=-]")


def output_file_name(output: str, activation: int, inference: int) -> str:
    """qaic-runner's name for an output: ``<output>-activation-<a>-inf-<i>.bin`` (any
    character of the output name unsafe in a file name becomes ``_``)."""
    return f"{_UNSAFE.sub('_', output)}-activation-{activation}-inf-{inference}.bin"


def output_files(
    meta: dict,
    results: Sequence[dict[str, np.ndarray]],
    directory: Path,
    count: int,
    instances: int,
    start: int = 0,
    samples: int | None = None,
) -> list[tuple[Path, Callable[[], bytes]]]:
    """(path, bytes) of every output of inferences start .. start+samples-1 of a run of
    ``count`` inferences over ``instances`` instances: inference j ran on activation
    j mod instances, as that activation's inference j // instances, on input set
    j mod len(results)."""
    outputs = io_descriptors(meta, "outputs")
    last = count if samples is None else min(count, start + samples)
    files = []
    for j in range(start, last):
        activation, index = j % instances, j // instances
        values = results[j % len(results)]
        for desc in outputs:
            array = np.asarray(values[desc.name])
            data = lambda a=array, d=desc: np.ascontiguousarray(a, dtype=d.dtype).tobytes()
            files.append((directory / output_file_name(desc.name, activation, index), data))
    return files


def write_files(files: Sequence[tuple[Path, Callable[[], bytes] | bytes | str]]) -> list[Path]:
    """Write every file atomically, all or none: temporary files in the same directories,
    renamed once all are complete; on any failure the temporary files are removed and the
    existing files stay as they were. Missing directories are created (and removed again
    on failure if they were created here)."""
    created: list[Path] = []
    temps: list[tuple[Path, Path]] = []
    try:
        for path, content in files:
            parent = path.parent
            missing = []
            while not parent.exists():
                missing.append(parent)
                parent = parent.parent
            for folder in reversed(missing):
                folder.mkdir()
                created.append(folder)
            temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
            data = content() if callable(content) else content
            with open(temp, "wb") as out:
                temps.append((temp, path))
                out.write(data.encode("utf-8") if isinstance(data, str) else data)
        for temp, path in temps:
            os.replace(temp, path)
    except OSError as error:
        for temp, _ in temps:
            temp.unlink(missing_ok=True)
        for folder in reversed(created):
            try:
                folder.rmdir()
            except OSError:
                pass
        where = getattr(error, "filename", None) or ""
        raise QaiccError(f"cannot write {where}: {error.strerror or error}".replace("write : ", "write: ")) from None
    return [path for _, path in temps]
