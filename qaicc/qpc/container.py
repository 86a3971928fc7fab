"""The binary container of ``programqpc.bin``: header, section table, sections.

Layout (every integer little-endian; ``docs/qpc-format.md`` is the reference)::

    0    header (128 bytes)
    128  section table: section_count entries of 64 bytes
    ...  sections, each starting at a multiple of 64, zero padding between them and
         after the last one (the file size is a multiple of 64)

Header::

    0   magic               8 bytes  b"QAICQPC\\0"
    8   version_major       u16      FORMAT_MAJOR
    10  version_minor       u16      FORMAT_MINOR
    12  header_size         u32      128
    16  section_count       u32
    20  section_entry_size  u32      64
    24  section_table_off   u64      128
    32  file_size           u64
    40  alignment           u64      64
    48  reserved            16 bytes zero
    64  index_sha256        32 bytes SHA-256 of header bytes 0..63 + the section table
    96  reserved            32 bytes zero

Section entry: ``name`` (16 bytes ASCII, NUL padded), ``offset`` u64, ``size`` u64,
``sha256`` (32 bytes) of the section's ``size`` bytes.

Every byte of a valid file is covered: the header and table by ``index_sha256``, the
sections by their checksums, padding and reserved bytes must be zero.

``write_container(out, sections)`` writes to an open binary file (sections are streamed:
a section is an iterable of bytes-like chunks, never joined in memory);
``write_atomically(path, write)`` makes a file appear complete or not at all;
``read_container(path)`` checks everything and returns the sections as zero-copy views
of a read-only memory map. Every problem is a one-line ``QaiccError``.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import struct
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from qaicc.errors import QaiccError

MAGIC = b"QAICQPC\x00"
FORMAT_MAJOR = 1
FORMAT_MINOR = 0
HEADER_SIZE = 128
ENTRY_SIZE = 64
ALIGNMENT = 64
NAME_SIZE = 16

_HEADER = struct.Struct("<8sHHIIIQQQ16s")  # the first 64 bytes
_ENTRY = struct.Struct("<16sQQ32s")
assert _HEADER.size == 64 and _ENTRY.size == ENTRY_SIZE

Chunk = bytes | bytearray | memoryview


@dataclass(frozen=True)
class Section:
    name: str
    offset: int
    size: int
    sha256: str  # hex


@dataclass
class Container:
    """A checked container: its version, sections (in file order) and their bytes."""

    path: Path
    version: tuple[int, int]
    file_size: int
    sections: list[Section]
    data: memoryview  # the whole file (read-only)

    def section(self, name: str) -> memoryview:
        for section in self.sections:
            if section.name == name:
                return self.data[section.offset:section.offset + section.size]
        raise QaiccError(f"{self.path}: the QPC has no '{name}' section")

    def has(self, name: str) -> bool:
        return any(s.name == name for s in self.sections)


def align(size: int, alignment: int = ALIGNMENT) -> int:
    return (size + alignment - 1) // alignment * alignment


# -- writing ----------------------------------------------------------------------------


def _write_section(out: BinaryIO, chunks: Iterable[Chunk], digest) -> int:
    """Write a section's chunks; returns its size. (Tests replace it to fail midway.)"""
    size = 0
    for chunk in chunks:
        view = memoryview(chunk).cast("B") if not isinstance(chunk, bytes) else chunk
        digest.update(view)
        out.write(view)
        size += len(view)
    return size


def write_container(out: BinaryIO, sections: list[tuple[str, Iterable[Chunk]]]) -> int:
    """Write header, table and ``sections`` (name, chunks) to ``out`` (seekable, at 0);
    returns the file size."""
    names = [name for name, _ in sections]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate section names: {names}")
    table_size = len(sections) * ENTRY_SIZE
    position = align(HEADER_SIZE + table_size)
    out.write(bytes(position))
    entries = []
    for name, chunks in sections:
        encoded = name.encode("ascii")
        if not 0 < len(encoded) <= NAME_SIZE:
            raise ValueError(f"section name '{name}' must have 1 to {NAME_SIZE} ASCII characters")
        digest = hashlib.sha256()
        size = _write_section(out, chunks, digest)
        entries.append(_ENTRY.pack(encoded, position, size, digest.digest()))
        padding = align(size) - size
        out.write(bytes(padding))
        position += size + padding
    table = b"".join(entries)
    head = _HEADER.pack(MAGIC, FORMAT_MAJOR, FORMAT_MINOR, HEADER_SIZE, len(sections), ENTRY_SIZE,
                        HEADER_SIZE, position, ALIGNMENT, bytes(16))
    index = hashlib.sha256(head + table).digest()
    out.seek(0)
    out.write(head + index + bytes(32) + table)
    out.seek(position)
    return position


def write_atomically(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Run ``write`` on a temporary file beside ``path``, then rename it to ``path``.

    On any failure the temporary file is removed and an existing ``path`` is left as it
    was. The directory is created when its parent exists. OS errors are QaiccErrors.
    """
    path = Path(path)
    directory = path.parent
    try:
        if not directory.is_dir():
            if directory.exists():
                raise QaiccError(f"cannot write {path}: {directory} is not a directory")
            if not directory.parent.is_dir():
                raise QaiccError(f"cannot write {path}: neither {directory} nor its parent {directory.parent} exists")
            directory.mkdir()
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as error:
        raise QaiccError(f"cannot write {path}: {error.strerror or error}") from None
    try:
        with os.fdopen(fd, "w+b") as out:
            os.fchmod(out.fileno(), 0o666 & ~_umask())
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException as error:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        if isinstance(error, OSError):
            raise QaiccError(f"cannot write {path}: {error.strerror or error}") from None
        raise
    _sync_directory(directory)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _sync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# -- reading ----------------------------------------------------------------------------


def read_container(path: Path, *, verify: bool = True) -> Container:
    """Open and check a container (``verify=False`` skips the sections' checksums, not
    the structure)."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size == 0:
                raise QaiccError(f"{path}: empty file, not a QPC")
            mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    except FileNotFoundError:
        raise QaiccError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise QaiccError(f"{path}: is a directory, not a QPC file") from None
    except OSError as error:
        raise QaiccError(f"{path}: cannot read: {error.strerror or error}") from None
    data = memoryview(mapped)
    return _check(path, data, size, verify)


def _check(path: Path, data: memoryview, size: int, verify: bool) -> Container:
    prefix = bytes(data[:min(size, len(MAGIC))])
    if prefix != MAGIC[:len(prefix)]:
        raise QaiccError(f"{path}: not a QPC file (bad magic)")
    if size < len(MAGIC) + 4:
        raise QaiccError(f"{path}: truncated QPC: {size} bytes, shorter than its {HEADER_SIZE}-byte header")
    major, minor = struct.unpack_from("<HH", data, len(MAGIC))
    if major != FORMAT_MAJOR:
        raise QaiccError(
            f"{path}: unsupported QPC format version {major}.{minor} (this qaicc reads {FORMAT_MAJOR}.x); "
            "recompile the model with this qaicc")
    if size < HEADER_SIZE:
        raise QaiccError(f"{path}: truncated QPC: {size} bytes, shorter than its {HEADER_SIZE}-byte header")
    (_, _, _, header_size, count, entry_size, table_offset, file_size, alignment, reserved) = _HEADER.unpack_from(data, 0)
    if size < file_size:
        raise QaiccError(f"{path}: truncated QPC: {size} bytes, the header says {file_size}")
    if (header_size != HEADER_SIZE or entry_size != ENTRY_SIZE or table_offset != HEADER_SIZE
            or alignment != ALIGNMENT or reserved != bytes(16)):
        raise QaiccError(f"{path}: corrupted QPC: unexpected header fields")
    table_end = table_offset + count * entry_size
    if table_end > size:
        raise QaiccError(f"{path}: truncated QPC: the section table ends past the end of the file")
    index = bytes(data[64:96])
    if hashlib.sha256(bytes(data[:64]) + bytes(data[table_offset:table_end])).digest() != index:
        raise QaiccError(f"{path}: corrupted QPC: checksum mismatch in the header or section table")
    if size > file_size:
        raise QaiccError(f"{path}: corrupted QPC: {size - file_size} bytes after the end the header gives ({file_size})")
    if bytes(data[96:128]) != bytes(32):
        raise QaiccError(f"{path}: corrupted QPC: reserved header bytes are not zero")
    sections = []
    position = align(table_end)
    if bytes(data[table_end:position]).strip(b"\0"):
        raise QaiccError(f"{path}: corrupted QPC: padding after the section table is not zero")
    for number in range(count):
        raw_name, offset, length, digest = _ENTRY.unpack_from(data, table_offset + number * entry_size)
        name = raw_name.rstrip(b"\0").decode("ascii", errors="replace")
        if offset != position or offset + length > file_size:
            raise QaiccError(f"{path}: corrupted QPC: section '{name}' is not where the table says")
        end = offset + length
        position = align(end)
        if bytes(data[end:position]).strip(b"\0"):
            raise QaiccError(f"{path}: corrupted QPC: padding after section '{name}' is not zero")
        if verify and hashlib.sha256(data[offset:end]).digest() != digest:
            raise QaiccError(f"{path}: corrupted QPC: checksum mismatch in section '{name}'")
        sections.append(Section(name, offset, length, digest.hex()))
    if position != file_size:
        raise QaiccError(f"{path}: corrupted QPC: the sections end at {position}, the header says {file_size}")
    return Container(path, (major, minor), file_size, sections, data)


def verify_section(container: Container, name: str) -> None:
    """Check one section's checksum (after ``read_container(verify=False)``)."""
    for section in container.sections:
        if section.name == name:
            if hashlib.sha256(container.section(name)).hexdigest() != section.sha256:
                raise QaiccError(f"{container.path}: corrupted QPC: checksum mismatch in section '{name}'")
            return
    raise QaiccError(f"{container.path}: the QPC has no '{name}' section")


__all__ = [
    "ALIGNMENT", "Container", "FORMAT_MAJOR", "FORMAT_MINOR", "MAGIC", "Section", "align",
    "read_container", "verify_section", "write_atomically", "write_container",
]
