"""Several programs in one ``programqpc.bin``, sharing their constants
(``qaic-exec -network-specialization-config``), and extra meta data (``-retained-state``).

    write_programs("out", [(container_a, {"specialization": {"seq_len": 32}}),
                           (container_b, {"specialization": {"seq_len": 1}})])
    load_program("out", 1).to_aic_core()

The file is a format 1.x container (``docs/qpc-format.md``) with additions that older
readers skip (a new meta key, new sections), so ``load_qpc`` of a multi-program file
reads program 0, and every single-program file reads as program 0 here:

- sections ``meta``, ``kernels``, ``streams`` hold program 0 as always; program k >= 1
  has ``meta.k``, ``kernels.k``, ``streams.k``, in that order after ``constants``;
- one ``constants`` section for all programs: a blob with the same element type, shape
  and bytes in several programs is stored once, and every program's
  ``meta.constants.entries[].parts[].offset`` points into the shared section
  (``segment_bytes`` is the shared section's size);
- program 0's meta has ``programs``: ``[{"index": k, "specialization": {...},
  "sections": {"meta": ..., "kernels": ..., "streams": ...}}, ...]`` (only when there
  are several programs); each program's meta has its ``specialization`` (the symbol
  sizes it was compiled for) when given;
- ``extra`` meta keys of a program (e.g. ``retained_state``: ``[{"output":
  "past_key_RetainedState", "input": "past_key"}]``) are added to its meta; a key the
  meta already has is an error.

With one program and no extra keys the file is byte-identical to ``emit-qpc``'s.
Writing is atomic (``write_atomically``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qaicc.dialects.qpc import ops as q
from qaicc.errors import QaiccError
from qaicc.qpc.container import ALIGNMENT, Container, align, write_atomically, write_container
from qaicc.qpc.encoding import encode_json, encode_streams, kernels_text, meta_of
from qaicc.qpc.loader import QPC_FILE, LoadedQPC, load_qpc, paused_gc

PROGRAM_SECTIONS = ("meta", "kernels", "streams")


def section_names(index: int) -> dict[str, str]:
    return {name: name if index == 0 else f"{name}.{index}" for name in PROGRAM_SECTIONS}


def _blob_bytes(blob) -> np.ndarray:
    """A blob's little-endian bytes (as ``encoding.constant_chunks`` writes them)."""
    array = np.ascontiguousarray(blob.to_numpy())
    if array.dtype.byteorder == ">":
        array = array.astype(array.dtype.newbyteorder("<"))
    if array.nbytes != blob.blob.nbytes:
        raise QaiccError(f"qpc: constant '{blob.blob_name.data}' holds {array.nbytes} bytes, its type says "
                         f"{blob.blob.nbytes}")
    return array.reshape(-1).view(np.uint8)


@dataclass
class _Segment:
    """The shared constant segment: each distinct blob once, 64-byte aligned."""

    chunks: list[tuple[int, np.ndarray]] = field(default_factory=list)
    placed: dict[tuple, int] = field(default_factory=dict)
    size: int = 0

    def place(self, part: dict, data: np.ndarray) -> int:
        key = (part["type"], data.nbytes, hashlib.blake2b(memoryview(data), digest_size=20).digest())
        offset = self.placed.get(key)
        if offset is None:
            offset = align(self.size, ALIGNMENT)
            self.chunks.append((offset, data))
            self.placed[key] = offset
            self.size = offset + data.nbytes
        return offset

    def stream(self) -> Iterator[memoryview | bytes]:
        position = 0
        for offset, data in self.chunks:
            if offset > position:
                yield bytes(offset - position)
            yield memoryview(data)
            position = offset + data.nbytes
        if self.size > position:
            yield bytes(self.size - position)


def _single_segment_size(container: q.ContainerOp) -> int:
    segment = next(container.ops_of(q.ConstantsOp), None)
    return segment.size.value.data if segment is not None else 0


def program_sections(programs: Sequence[tuple[q.ContainerOp, Mapping]]) -> list[tuple[str, object]]:
    """(name, chunks) of every section of the file holding ``programs``."""
    if not programs:
        raise QaiccError("qpc: no program to write")
    metas = []
    for index, (container, extra) in enumerate(programs):
        meta = meta_of(container)
        for key, value in extra.items():
            if key in meta:
                raise QaiccError(f"qpc: program {index}: the meta key '{key}' already exists")
            meta[key] = value
        metas.append(meta)
    segment = _Segment()
    for (container, _), meta in zip(programs, metas):
        entries = meta["constants"]["entries"]
        for constant, entry in zip(container.constants, entries):
            for blob, part in zip(constant.blobs(), entry["parts"]):
                part["offset"] = segment.place(part, _blob_bytes(blob))
    if len(programs) == 1:
        # the layout of emit-qpc: the converter's offsets and segment size are kept when nothing is shared
        container = programs[0][0]
        offsets = [o for constant in container.constants for o in constant.int_list("offsets")]
        placed = [p["offset"] for entry in metas[0]["constants"]["entries"] for p in entry["parts"]]
        if offsets == placed:
            segment.size = _single_segment_size(container) or segment.size
    for meta in metas:
        meta["constants"]["segment_bytes"] = segment.size
    if len(programs) > 1:
        metas[0]["programs"] = [
            {"index": index, "specialization": dict(extra.get("specialization", {})), "sections": section_names(index)}
            for index, (_, extra) in enumerate(programs)
        ]
    sections: list[tuple[str, object]] = []
    for index, ((container, _), meta) in enumerate(zip(programs, metas)):
        names = section_names(index)
        sections.append((names["meta"], [encode_json(meta)]))
        sections.append((names["kernels"], [kernels_text(container).encode("utf-8")]))
        sections.append((names["streams"], [encode_streams(container)]))
        if index == 0:
            sections.append(("constants", segment.stream()))
    return sections


def write_programs(directory: str | Path, programs: Sequence[tuple[q.ContainerOp, Mapping]]) -> Path:
    """Write ``directory/programqpc.bin`` holding ``programs`` ((container, extra meta)
    pairs, program 0 first); returns the path."""
    path = Path(directory) / QPC_FILE
    with paused_gc():
        sections = program_sections(programs)
        write_atomically(path, lambda out: write_container(out, sections))
    return path


# -- reading -----------------------------------------------------------------------------


@dataclass
class ProgramView(Container):
    """A container whose ``meta``, ``kernels`` and ``streams`` are program k's."""

    renames: dict[str, str] = field(default_factory=dict)

    def section(self, name: str) -> memoryview:
        return super().section(self.renames.get(name, name))

    def has(self, name: str) -> bool:
        return super().has(self.renames.get(name, name))


def program_count(meta: dict) -> int:
    return len(meta.get("programs") or ()) or 1


def load_program(location: str | Path | LoadedQPC, index: int = 0, *, verify: bool = True) -> LoadedQPC:
    """Program ``index`` of a QPC (program 0 of any QPC is what ``load_qpc`` reads)."""
    loaded = location if isinstance(location, LoadedQPC) else load_qpc(location, verify=verify)
    count = program_count(loaded.meta)
    if not 0 <= index < count:
        raise QaiccError(f"{loaded.path}: no program {index}: the QPC holds {count} program(s) (0..{count - 1})")
    if index == 0:
        return loaded
    entry = loaded.meta["programs"][index]
    renames = dict(entry.get("sections") or section_names(index))
    base = loaded.container
    view = ProgramView(base.path, base.version, base.file_size, base.sections, base.data, renames)
    missing = [name for name in renames.values() if not base.has(name)]
    if missing:
        raise QaiccError(f"{loaded.path}: corrupted QPC: program {index} has no section '{missing[0]}'")
    try:
        meta = json.loads(bytes(view.section("meta")).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise QaiccError(f"{loaded.path}: corrupted QPC: the meta of program {index} is not JSON ({error})") from None
    return LoadedQPC(loaded.path, view, meta)


def load_programs(location: str | Path, *, verify: bool = True) -> list[LoadedQPC]:
    first = load_qpc(location, verify=verify)
    return [load_program(first, index) for index in range(program_count(first.meta))]


__all__ = ["ProgramView", "load_program", "load_programs", "program_count", "program_sections", "section_names",
           "write_programs"]
