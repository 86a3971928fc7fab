"""The sections of ``programqpc.bin``, encoded from a ``qpc.container`` (and decoded).

- ``meta``: canonical JSON (sorted keys, no whitespace, UTF-8): target, cores, flags,
  batch, I/O descriptors, DDR layout, semaphores, constants, kernel and stream counts,
  VTCM and DDR requirements (``meta_of``).
- ``kernels``: the unique kernels as generic-format IR text: one ``builtin.module``
  holding the ``qpc.kernel`` ops in id order, constants printed in full.
- ``streams``: every core's instructions as little-endian int32 words (``encode_streams``;
  the word layout is ``docs/qpc-format.md``'s).
- ``constants``: the constant segment: each blob's raw little-endian bytes at its
  64-byte aligned offset (``constant_chunks``).

Nothing depends on time, paths or dictionary order: identical containers give
identical bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import lru_cache

import numpy as np
from xdsl.dialects.builtin import ArrayAttr, ModuleOp, TensorType
from xdsl.ir import Attribute

from qaicc.dialects.aic_graph.types import MXFP6Type
from qaicc.dialects.aic_graph.work import tensor_bytes
from qaicc.dialects.onnx.element_types import from_xdsl
from qaicc.dialects.qpc import ops as q
from qaicc.errors import QaiccError
from qaicc.hardware import load_target
from qaicc.ir.printing import print_module
from qaicc.qpc.container import ALIGNMENT, align

SECTIONS = ("meta", "kernels", "streams", "constants")
FORMAT_NAME = "qaicc-qpc"

# Stream opcodes (int32 words: opcode, length in words including these two, operands).
OP_WAIT = 1       # semaphore, count
OP_SIGNAL = 2     # semaphore
OP_TASK = 3       # name (string index), op_index, unit, tiles, ols, body instruction count
OP_DMA_LOAD = 4   # tensor, vtcm_offset (-1: none), buffers (0: none), flags, rank, offsets, sizes, steps, n, cores
OP_EXEC = 5       # kernel, unit, vtcm_offset, buffers, n_in, inputs (tile numbers), n_out
OP_DMA_STORE = 6  # tensor, tile number, rank, offsets, steps[, flags[, resident offset, resident bytes]]
LOAD_IN_DDR = 1   # dma_load flags: bit 0, the block stays in DDR (indexed DMA)
ON_CHIP = 2       # dma_load / dma_store flags: bit 1, kept in the core's VTCM (keep-on-chip);
                  # the resident region [offset, bytes] follows (a load: after its cores)
KNOWN_FLAGS = LOAD_IN_DDR | ON_CHIP


def _transfer_flags(op) -> tuple[int, list[int]]:
    """The flags word of a dma_load/dma_store and the words that follow its fields."""
    flags = (LOAD_IN_DDR if getattr(op, "in_ddr", None) is not None else 0)
    extra: list[int] = []
    if op.on_chip is not None:
        flags |= ON_CHIP
        extra = list(op.int_list("resident")) or [-1, 0]
    return flags, extra
UNIT_CODES = {"matrix": 0, "vector": 1}
UNIT_NAMES = {code: name for name, code in UNIT_CODES.items()}
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def find_container(module: ModuleOp, who: str) -> q.ContainerOp:
    containers = [op for op in module.ops if isinstance(op, q.ContainerOp)]
    if len(containers) != 1:
        raise QaiccError(
            f"{who}: the module holds {len(containers)} qpc.container (needs one); run convert-aic-core-to-qpc first")
    return containers[0]


@lru_cache(maxsize=None)
def type_text(type: Attribute) -> str:
    return str(type)


@lru_cache(maxsize=None)
def dtype_name(element: Attribute) -> str:
    if isinstance(element, MXFP6Type):
        return f"mxfp6_{element.format.data}"
    known = from_xdsl(element)
    return known.numpy.name if known is not None else str(element)


def _tensor_fields(type: TensorType) -> dict:
    return {"type": type_text(type), "shape": list(type.get_shape()), "dtype": dtype_name(type.element_type),
            "bytes": type_bytes(type)}


def _flags_json(container: q.ContainerOp) -> dict:
    flags = {}
    for key, value in container.flags.data.items():
        flags[key] = [v.data for v in value.data] if isinstance(value, ArrayAttr) else value.data
    return flags


# -- requirements -----------------------------------------------------------------------


@lru_cache(maxsize=None)
def type_bytes(type: Attribute) -> int:
    return tensor_bytes(type)


def vtcm_requirements(container: q.ContainerOp) -> dict:
    """Peak VTCM per core: from the planned ``vtcm_offset``s when there are any (the end
    of the highest buffer: copy k of a buffer is at ``vtcm_offset + k * size``), else an
    estimate: the largest working set of one task (every tile it loads or computes,
    times its copies: 2 when ols > 1, except a load that does not move between tiles;
    an ``in_ddr`` load takes none)."""
    planned_peaks = [0] * container.num_cores.value.data
    estimated_peaks = [0] * container.num_cores.value.data
    planned = False
    for stream in container.streams:
        core = stream.core.value.data
        for task in stream.body.block.ops:
            if not isinstance(task, q.TaskOp):
                continue
            working_set = 0
            rotating = 2 if task.ols.value.data > 1 else 1
            for op in task.body.block.ops:
                if isinstance(op, q.DMAStoreOp):
                    if "resident" in op.properties:
                        start, nbytes = op.int_list("resident")
                        planned_peaks[core] = max(planned_peaks[core], start + nbytes)
                    continue
                properties = op.properties
                if "resident" in properties:
                    start, nbytes = op.int_list("resident")
                    planned_peaks[core] = max(planned_peaks[core], start + nbytes)
                size = 0 if "in_ddr" in properties else sum(type_bytes(r.type) for r in op.results)
                resident = isinstance(op, q.DMALoadOp) and not any(op.tile_steps.get_values())
                copies = properties["buffers"].value.data if "buffers" in properties else (1 if resident else rotating)
                working_set += size * copies
                if "vtcm_offset" in properties:
                    planned = True
                    end = properties["vtcm_offset"].value.data + size * copies
                    planned_peaks[core] = max(planned_peaks[core], end)
            estimated_peaks[core] = max(estimated_peaks[core], working_set)
    peaks = planned_peaks if planned else estimated_peaks
    return {"planned": planned, "peak_bytes_per_core": peaks, "peak_bytes": max(peaks, default=0)}


def ddr_requirements(tensors: list[q.DDRTensorOp]) -> dict:
    """DDR bytes: the end of the highest tensor when every tensor has an offset, else the
    sum of the tensors (aliases excluded), each rounded up to 64 bytes."""
    roots = [t for t in tensors if t.kind.data != "alias"]
    planned = bool(roots) and all(t.offset is not None for t in roots)
    by_kind: dict[str, int] = {}
    for t in roots:
        by_kind[t.kind.data] = by_kind.get(t.kind.data, 0) + align(tensor_bytes(t.type))
    if planned:
        total = max(t.offset.value.data + tensor_bytes(t.type) for t in roots)
    else:
        total = sum(by_kind.values())
    return {"planned": planned, "total_bytes": total, "bytes_by_kind": dict(sorted(by_kind.items()))}


# -- meta -------------------------------------------------------------------------------


def meta_of(container: q.ContainerOp) -> dict:
    hardware = load_target(container.target.data)
    tensors = container.ddr_tensors
    ios = {"input": [], "output": []}
    for io in container.ios:
        ios[io.kind.data].append({"name": io.io_name.data, "batch": io.batch.value.data,
                                  "tensor": io.tensor.value.data, **_tensor_fields(io.type)})
    ddr = ddr_requirements(tensors)
    ddr["tensors"] = []
    for t in tensors:
        entry = {"id": t.id.value.data, "name": t.tensor_name.data, "kind": t.kind.data, **_tensor_fields(t.type)}
        for key in ("offset", "alias", "constant"):
            value = t.int_prop(key)
            if value is not None:
                entry[key] = value
        if t.io_name is not None:
            entry["io_name"] = t.io_name.data
        ddr["tensors"].append(entry)
    segment = next(container.ops_of(q.ConstantsOp), None)
    constants = []
    for constant in container.constants:
        parts = [{"name": b.blob_name.data, "type": type_text(b.type), "dtype": dtype_name(b.type.element_type),
                  "shape": list(b.type.get_shape()), "offset": offset, "bytes": b.blob.nbytes}
                 for b, offset in zip(constant.blobs(), constant.int_list("offsets"))]
        entry = {"id": constant.id.value.data, "name": constant.constant_name.data,
                 "type": type_text(constant.type), "parts": parts}
        if isinstance(constant.value, ArrayAttr):
            entry["mxfp6_axis"] = constant.value.data[2].value.data
        constants.append(entry)
    streams = []
    for stream in container.streams:
        counts = {"tasks": 0, "dma_loads": 0, "dma_stores": 0, "execs": 0, "signals": 0, "waits": 0, "tile_iterations": 0}
        for op in stream.body.block.ops:
            if isinstance(op, q.TaskOp):
                counts["tasks"] += 1
                counts["tile_iterations"] += op.tiles.value.data
                for inner in op.body.block.ops:
                    key = {q.DMALoadOp: "dma_loads", q.DMAStoreOp: "dma_stores", q.ExecOp: "execs"}[type(inner)]
                    counts[key] += 1
            elif isinstance(op, q.SignalOp):
                counts["signals"] += 1
            else:
                counts["waits"] += 1
        streams.append({"core": stream.core.value.data, **counts})
    kernels = container.kernels
    vtcm = vtcm_requirements(container)
    vtcm["capacity_bytes"] = hardware.vtcm_usable_bytes
    return {
        "format": FORMAT_NAME,
        "qpc_ir_version": container.version.value.data,
        "target": {"name": hardware.name, "cores": hardware.cores, "vtcm_bytes": hardware.vtcm_bytes,
                   "vtcm_usable_bytes": hardware.vtcm_usable_bytes, "ddr_bytes": hardware.ddr_bytes},
        "num_cores": container.num_cores.value.data,
        "batch_size": container.int_prop("batch_size", 1),
        "flags": _flags_json(container),
        "inputs": ios["input"],
        "outputs": ios["output"],
        "ddr": ddr,
        "vtcm": vtcm,
        "semaphores": [s.semaphore_name.data for s in container.semaphores],
        "constants": {"segment_bytes": segment.size.value.data if segment is not None else 0,
                      "count": len(constants), "entries": constants},
        "kernels": {"count": len(kernels),
                    "by_unit": {unit: sum(1 for k in kernels if k.unit.data == unit) for unit in q.UNITS}},
        "streams": streams,
    }


def encode_json(value: dict) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


# -- kernels ----------------------------------------------------------------------------


def kernels_text(container: q.ContainerOp) -> str:
    module = ModuleOp([kernel.clone() for kernel in container.kernels])
    return print_module(module, elide_larger_than=None, generic=True)


# -- streams ----------------------------------------------------------------------------


def encode_streams(container: q.ContainerOp) -> bytes:
    strings: dict[str, int] = {}
    encoded = []
    for stream in container.streams:
        words: list[int] = []
        for op in stream.body.block.ops:
            if isinstance(op, q.WaitOp):
                words += (OP_WAIT, 4, op.semaphore.value.data, op.count.value.data)
            elif isinstance(op, q.SignalOp):
                words += (OP_SIGNAL, 3, op.semaphore.value.data)
            else:
                _encode_task(op, words, strings)
        encoded.append((stream.core.value.data, words))
    out = bytearray()
    out += np.array([len(encoded), len(strings)], dtype="<u4").tobytes()
    for text in strings:  # in first-use order (dicts keep insertion order)
        raw = text.encode("utf-8")
        out += np.array([len(raw)], dtype="<u4").tobytes() + raw
    out += bytes(-len(out) % 4)
    for core, words in encoded:
        out += np.array([core, len(words)], dtype="<u4").tobytes()
        try:
            out += np.array(words, dtype=np.int64).astype("<i4", casting="unsafe").tobytes()
        except OverflowError:
            raise QaiccError(f"emit-qpc: a value of core {core}'s stream does not fit in 32 bits") from None
        if words and (min(words) < INT32_MIN or max(words) > INT32_MAX):
            raise QaiccError(f"emit-qpc: a value of core {core}'s stream does not fit in 32 bits")
    return bytes(out)


def _encode_task(task: q.TaskOp, words: list[int], strings: dict[str, int]) -> None:
    name = task.task_name.data
    if name not in strings:
        strings[name] = len(strings)
    body = list(task.body.block.ops)
    words += (OP_TASK, 8, strings[name], task.op_index.value.data, UNIT_CODES[task.unit.data],
              task.tiles.value.data, task.ols.value.data, len(body))
    tiles: dict = {}
    for op in body:
        if isinstance(op, q.DMALoadOp):
            sizes = op.output.type.get_shape()
            cores = op.int_list("multicast_cores")
            flags, extra = _transfer_flags(op)
            fields = [op.tensor.value.data, op.int_prop("vtcm_offset", -1), op.int_prop("buffers", 0), flags, len(sizes),
                      *op.offsets.get_values(), *sizes, *op.tile_steps.get_values(), len(cores), *cores, *extra]
            words += (OP_DMA_LOAD, 2 + len(fields), *fields)
            tiles[op.output] = len(tiles)
        elif isinstance(op, q.ExecOp):
            inputs = [tiles[v] for v in op.inputs]
            fields = [op.kernel.value.data, UNIT_CODES[op.unit.data], op.int_prop("vtcm_offset", -1),
                      op.int_prop("buffers", 0), len(inputs), *inputs, len(op.outputs)]
            words += (OP_EXEC, 2 + len(fields), *fields)
            for result in op.outputs:
                tiles[result] = len(tiles)
        else:
            offsets = op.offsets.get_values()
            fields = [op.tensor.value.data, tiles[op.value], len(offsets), *offsets, *op.tile_steps.get_values()]
            flags, extra = _transfer_flags(op)
            if flags:  # older files end here: no flags word means no flag
                fields += [flags, *extra]
            words += (OP_DMA_STORE, 2 + len(fields), *fields)


def decode_streams(data: bytes | memoryview) -> tuple[list[str], list[tuple[int, list[int]]]]:
    """The string table and every stream's (core, words); ValueError if malformed."""
    view = memoryview(data)
    if len(view) < 8:
        raise ValueError("the streams section is shorter than its header")
    count, string_count = np.frombuffer(view, dtype="<u4", count=2).tolist()
    position = 8
    strings = []
    for _ in range(string_count):
        (length,) = np.frombuffer(view, dtype="<u4", count=1, offset=position).tolist()
        position += 4
        raw = bytes(view[position:position + length])
        if len(raw) != length:
            raise ValueError("a string runs past the end of the streams section")
        strings.append(raw.decode("utf-8"))
        position += length
    position += -position % 4
    streams = []
    for _ in range(count):
        core, length = np.frombuffer(view, dtype="<u4", count=2, offset=position).tolist()
        position += 8
        if position + 4 * length > len(view):
            raise ValueError(f"core {core}'s stream runs past the end of the streams section")
        words = np.frombuffer(view, dtype="<i4", count=length, offset=position).tolist()
        position += 4 * length
        streams.append((core, words))
    if position != len(view):
        raise ValueError(f"{len(view) - position} bytes after the last stream")
    return strings, streams


# -- constants --------------------------------------------------------------------------


def constant_chunks(container: q.ContainerOp) -> Iterator[memoryview | bytes]:
    """The constant segment, blob by blob (zero padding to each aligned offset)."""
    position = 0
    segment = next(container.ops_of(q.ConstantsOp), None)
    for constant in container.constants:
        for blob, offset in zip(constant.blobs(), constant.int_list("offsets")):
            if offset < position:
                raise QaiccError(f"emit-qpc: constant '{constant.constant_name.data}' overlaps the one before it")
            if offset > position:
                yield bytes(offset - position)
            array = np.ascontiguousarray(blob.to_numpy())
            if array.dtype.byteorder == ">":
                array = array.astype(array.dtype.newbyteorder("<"))
            if array.nbytes != blob.blob.nbytes:
                raise QaiccError(f"emit-qpc: constant '{blob.blob_name.data}' holds {array.nbytes} bytes, its type says {blob.blob.nbytes}")
            yield memoryview(array.reshape(-1).view(np.uint8))
            position = offset + array.nbytes
    size = segment.size.value.data if segment is not None else 0
    if size > position:
        yield bytes(size - position)


def sections_of(container: q.ContainerOp) -> list[tuple[str, object]]:
    """(name, chunks) of every section, in file order; constants are produced lazily."""
    return [
        ("meta", [encode_json(meta_of(container))]),
        ("kernels", [kernels_text(container).encode("utf-8")]),
        ("streams", [encode_streams(container)]),
        ("constants", constant_chunks(container)),
    ]


__all__ = ["ALIGNMENT", "SECTIONS", "decode_streams", "encode_streams", "find_container", "meta_of", "sections_of"]
