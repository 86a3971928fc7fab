"""Loading ``programqpc.bin``: its meta data, and the aic-core module it encodes.

    loaded = load_qpc("out/bert")            # a directory or the file itself
    loaded.meta["inputs"]                   # I/O descriptors, target, cores, ...
    module = loaded.to_aic_core()           # an executable aic-core module
    run_module(module, inputs)              # same outputs as before emission

``load_qpc`` checks the whole container (structure, padding, every section's SHA-256;
``verify=False`` skips the checksums) and parses the meta section; problems are
one-line ``QaiccError``s. ``to_aic_core`` rebuilds the aic-core IR: DDR tensors (a
constant's blob is a zero-copy, read-only view of the memory-mapped constants section),
semaphores, one ``aic_core.program`` per core from the streams, each compute region a
copy of its kernel (every unique kernel is parsed once), and ``@main_graph`` launching
them.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import (
    ArrayAttr,
    DictionaryAttr,
    FlatSymbolRefAttr,
    IntegerAttr,
    ModuleOp,
    StringAttr,
    TensorType,
    UnitAttr,
    i64,
)
from xdsl.ir import Attribute, Block, Region
from xdsl.parser import Parser
from xdsl.rewriter import Rewriter
from xdsl.utils.exceptions import ParseError

from qaicc.dialects.aic_core import ops as c
from qaicc.ir.interned import int_array as _ints
from qaicc.ir.interned import int_attr as _int
from qaicc.ir.interned import string as _string
from qaicc.ir.interned import symbol as _symbol
from qaicc.ir.interned import tensor_type as _tensor
from qaicc.dialects.onnx.element_types import from_xdsl
from qaicc.dialects.qaicc_attrs import Blob, BlobData, DenseBlobAttr
from qaicc.dialects.qpc import QPC
from qaicc.dialects.qpc import ops as q
from qaicc.errors import QaiccError
from qaicc.qpc.container import Container, read_container
from qaicc.qpc.encoding import (
    FORMAT_NAME,
    KNOWN_FLAGS,
    LOAD_IN_DDR,
    ON_CHIP,
    OP_DMA_LOAD,
    OP_DMA_STORE,
    OP_EXEC,
    OP_SIGNAL,
    OP_TASK,
    OP_WAIT,
    SECTIONS,
    UNIT_NAMES,
    decode_streams,
)

QPC_FILE = "programqpc.bin"


def qpc_path(location: str | Path) -> Path:
    """``location`` itself if it is a file, else ``location/programqpc.bin``."""
    path = Path(location)
    if path.is_dir():
        return path / QPC_FILE
    if path.exists():
        return path
    if path.suffix == ".bin" or path.parent.is_dir() and not path.name:
        raise QaiccError(f"{path}: no such file")
    raise QaiccError(f"{path}: no such directory (give the directory holding {QPC_FILE}, or the file)")


@lru_cache(maxsize=1)
def qpc_context() -> Context:
    from qaicc.ir.context import make_context

    ctx = make_context()
    if ctx.get_optional_dialect("qpc") is None:
        ctx.load_dialect(QPC)
    return ctx


@dataclass
class LoadedQPC:
    """A checked ``programqpc.bin``: ``meta`` (the parsed meta section) and the raw
    sections; ``to_aic_core()`` rebuilds the executable module."""

    path: Path
    container: Container
    meta: dict
    _types: dict[str, Attribute] = field(default_factory=dict, repr=False)

    @property
    def version(self) -> tuple[int, int]:
        return self.container.version

    @property
    def sections(self):
        return self.container.sections

    def corrupted(self, what: str) -> QaiccError:
        return QaiccError(f"{self.path}: corrupted QPC: {what}")

    def type(self, text: str) -> Attribute:
        found = self._types.get(text)
        if found is None:
            try:
                found = Parser(qpc_context(), text).parse_type()
            except ParseError:
                raise self.corrupted(f"cannot read the type '{text}'") from None
            self._types[text] = found
        return found

    def kernels_module(self) -> ModuleOp:
        """The kernels section parsed (once per call): a module of ``qpc.kernel``s."""
        text = bytes(self.container.section("kernels")).decode("utf-8", errors="replace")
        try:
            module = Parser(qpc_context(), text, name=f"{self.path}:kernels").parse_module()
        except ParseError as error:
            first = str(error).strip().splitlines()
            raise self.corrupted(f"the kernels section does not parse ({first[0] if first else 'parse error'})") from None
        return module

    def constant_arrays(self, entry: dict) -> list[np.ndarray]:
        """The arrays of one constant (one per blob part): read-only views of the file."""
        segment = self.container.section("constants")
        arrays = []
        for part in entry["parts"]:
            type = self.type(part["type"])
            element = from_xdsl(type.element_type)
            if element is None:
                raise self.corrupted(f"constant '{entry['name']}' has no numpy element type")
            shape = tuple(type.get_shape())
            count = int(np.prod(shape)) if shape else 1
            if count * element.numpy.itemsize != part["bytes"] or part["offset"] + part["bytes"] > len(segment):
                raise self.corrupted(f"constant '{entry['name']}' does not fit the constants section")
            array = np.frombuffer(segment, dtype=element.numpy, count=count, offset=part["offset"])
            arrays.append(array.reshape(shape))
        return arrays

    def to_aic_core(self) -> ModuleOp:
        return rebuild_aic_core(self)


def load_qpc(location: str | Path, *, verify: bool = True) -> LoadedQPC:
    """Open ``location`` (a directory holding programqpc.bin, or the file) and check it."""
    path = qpc_path(location)
    container = read_container(path, verify=verify)
    missing = [name for name in SECTIONS if not container.has(name)]
    if missing:
        raise QaiccError(f"{path}: corrupted QPC: no section {', '.join(repr(m) for m in missing)}")
    try:
        meta = json.loads(bytes(container.section("meta")).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise QaiccError(f"{path}: corrupted QPC: the meta section is not JSON ({error})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise QaiccError(f"{path}: corrupted QPC: the meta section is not qaicc-qpc meta data")
    if meta.get("qpc_ir_version") != q.FORMAT_VERSION:
        raise QaiccError(
            f"{path}: unsupported QPC IR version {meta.get('qpc_ir_version')} (this qaicc reads {q.FORMAT_VERSION}); "
            "recompile the model with this qaicc")
    return LoadedQPC(path, container, meta)


# -- rebuilding aic-core ----------------------------------------------------------------


def _on_chip(properties: dict, region: list[int]) -> None:
    """A transfer kept in VTCM (flag ON_CHIP) and its resident region, when planned."""
    properties["on_chip"] = UnitAttr()
    if len(region) == 2 and region[0] >= 0:
        properties["resident"] = _ints(tuple(region))


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection while building many IR objects (which are all kept):
    collections would only walk the growing heap (a third of the time on BERT-base)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _Kernel:
    """A kernel ready to instantiate: a recipe of its ops (class, operand numbers,
    result types, properties, attributes), faster than cloning its region."""

    def __init__(self, region: Region, unit: str):
        block = region.block
        self.unit = unit
        self.arg_types = [arg.type for arg in block.args]
        self.outputs = [v.type for v in block.last_op.operands]
        self.region = region
        self.recipe: list | None = []
        numbering = {arg: i for i, arg in enumerate(block.args)}
        for op in block.ops:
            if op.regions or op.successors or any(v not in numbering for v in op.operands):
                self.recipe = None  # not a flat region: clone it
                break
            operands = [numbering[v] for v in op.operands]
            self.recipe.append((type(op), operands, [r.type for r in op.results], op.properties, op.attributes))
            for result in op.results:
                numbering[result] = len(numbering)

    def instantiate(self) -> Region:
        if self.recipe is None:
            return self.region.clone()
        block = Block(arg_types=self.arg_types)
        values = list(block.args)
        for cls, operands, result_types, properties, attributes in self.recipe:
            op = cls.create(operands=[values[i] for i in operands], result_types=result_types,
                            properties=properties, attributes=attributes)
            values.extend(op.results)
            block.add_op(op)
        return Region(block)


class _Rebuilder:
    def __init__(self, loaded: LoadedQPC):
        self.loaded = loaded
        self.meta = loaded.meta

    def run(self) -> ModuleOp:
        with paused_gc():
            return self.build()

    def build(self) -> ModuleOp:
        meta, loaded = self.meta, self.loaded
        try:
            tensors = meta["ddr"]["tensors"]
            self.names = [t["name"] for t in tensors]
            self.types = [loaded.type(t["type"]) for t in tensors]
            self.symbols = [_symbol(name) for name in self.names]
            semaphores = [_symbol(name) for name in meta["semaphores"]]
            self.semaphores = semaphores
            constants = {entry["id"]: entry for entry in meta["constants"]["entries"]}
            declarations = [self.ddr_tensor(t, constants) for t in tensors]
            declarations += [c.SemaphoreOp.create(properties={"sym_name": _string(s.root_reference.data)}) for s in semaphores]
            self.kernels = self.kernel_templates()
            num_cores = meta["num_cores"]
            strings, streams = decode_streams(loaded.container.section("streams"))
            self.strings = strings
            programs = {core: self.program(core, words) for core, words in streams}
            main = self.main_graph()
        except QaiccError:
            raise
        except (KeyError, IndexError, TypeError, ValueError) as error:
            raise loaded.corrupted(f"inconsistent sections ({type(error).__name__}: {error})") from None
        ops = [*declarations]
        for core in range(num_cores):
            block = programs.pop(core, None) or Block()
            ops.append(c.ProgramOp.create(properties={"core": _int(core)}, regions=[Region(block)]))
        if programs:
            raise loaded.corrupted(f"a stream for core {max(programs)}, but the QPC has {num_cores} cores")
        module = ModuleOp([main, *ops])
        module.attributes["aic_core.num_cores"] = _int(num_cores)
        return module

    def ddr_tensor(self, entry: dict, constants: dict) -> c.DDRTensorOp:
        properties = {"sym_name": _string(entry["name"]), "type": self.loaded.type(entry["type"]),
                      "kind": _string(entry["kind"])}
        if "io_name" in entry:
            properties["io_name"] = _string(entry["io_name"])
        if "alias" in entry:
            properties["alias"] = self.symbols[entry["alias"]]
        if "offset" in entry:
            properties["offset"] = _int(entry["offset"])
        if "constant" in entry:
            properties["value"] = self.constant_value(constants[entry["constant"]])
        return c.DDRTensorOp.create(properties=properties)

    def constant_value(self, entry: dict) -> Attribute:
        cached = entry.get("_value")
        if cached is not None:
            return cached
        arrays = self.loaded.constant_arrays(entry)
        blobs = [DenseBlobAttr(StringAttr(part["name"]), self.loaded.type(part["type"]), BlobData(Blob(array)))
                 for part, array in zip(entry["parts"], arrays)]
        value = blobs[0] if "mxfp6_axis" not in entry else ArrayAttr([*blobs, _int(entry["mxfp6_axis"])])
        entry["_value"] = value
        return value

    def kernel_templates(self) -> list[_Kernel]:
        module = self.loaded.kernels_module()
        templates = []
        for index, kernel in enumerate(module.ops):
            if not isinstance(kernel, q.KernelOp) or kernel.id.value.data != index:
                raise self.loaded.corrupted(f"the kernels section holds '{kernel.name}' where kernel {index} belongs")
            region = kernel.body
            kernel.detach_region(region)
            block = region.block
            terminator = block.last_op
            if not isinstance(terminator, q.YieldOp):
                raise self.loaded.corrupted(f"kernel {index} does not end in qpc.yield")
            block.insert_op_before(c.YieldOp.create(operands=list(terminator.operands)), terminator)
            Rewriter.erase_op(terminator)
            templates.append(_Kernel(region, kernel.unit.data))
        if len(templates) != self.meta["kernels"]["count"]:
            raise self.loaded.corrupted(f"{len(templates)} kernels, the meta data says {self.meta['kernels']['count']}")
        return templates

    def program(self, core: int, words: list[int]) -> Block:
        block = Block()
        position, end = 0, len(words)
        while position < end:
            opcode, length = words[position], words[position + 1]
            if opcode == OP_WAIT:
                block.add_op(c.WaitOp.create(properties={
                    "semaphore": self.semaphores[words[position + 2]], "count": _int(words[position + 3])}))
            elif opcode == OP_SIGNAL:
                block.add_op(c.SignalOp.create(properties={"semaphore": self.semaphores[words[position + 2]]}))
            elif opcode == OP_TASK:
                position = self.task(words, position, block)
                continue
            else:
                raise self.loaded.corrupted(f"unknown instruction {opcode} in core {core}'s stream")
            position += length
        return block

    def task(self, words: list[int], position: int, program: Block) -> int:
        _, length, name, op_index, unit, tiles, ols, count = words[position:position + 8]
        position += length
        body = Block()
        values = []
        for _ in range(count):
            opcode, length = words[position], words[position + 1]
            fields = words[position + 2:position + length]
            if len(fields) != length - 2:
                raise ValueError("an instruction runs past the end of its stream")
            if opcode == OP_DMA_LOAD:
                tensor, vtcm, buffers, flags, rank = fields[:5]
                offsets, sizes, steps = fields[5:5 + rank], fields[5 + rank:5 + 2 * rank], fields[5 + 2 * rank:5 + 3 * rank]
                end = 6 + 3 * rank + fields[5 + 3 * rank]
                cores = fields[6 + 3 * rank:end]
                if flags & ~KNOWN_FLAGS:
                    raise self.loaded.corrupted(f"unknown dma_load flags {flags}")
                properties = {"source": self.symbols[tensor], "offsets": _ints(tuple(offsets)),
                              "tile_steps": _ints(tuple(steps))}
                if cores:
                    properties["multicast_cores"] = _ints(tuple(cores))
                if vtcm >= 0:
                    properties["vtcm_offset"] = _int(vtcm)
                if buffers > 0:
                    properties["buffers"] = _int(buffers)
                if flags & LOAD_IN_DDR:
                    properties["in_ddr"] = UnitAttr()
                if flags & ON_CHIP:
                    _on_chip(properties, fields[end:end + 2])
                element = self.types[tensor].element_type
                op = c.DMALoadOp.create(properties=properties, result_types=[_tensor(element, tuple(sizes))])
                values.append(op.output)
            elif opcode == OP_EXEC:
                kernel, unit_code, vtcm, buffers, inputs_count = fields[:5]
                inputs = [values[i] for i in fields[5:5 + inputs_count]]
                template = self.kernels[kernel]
                properties = {"unit": _string(UNIT_NAMES[unit_code])}
                if vtcm >= 0:
                    properties["vtcm_offset"] = _int(vtcm)
                if buffers > 0:
                    properties["buffers"] = _int(buffers)
                op = c.ComputeOp.create(operands=inputs, result_types=template.outputs, properties=properties,
                                        regions=[template.instantiate()])
                values.extend(op.results)
            elif opcode == OP_DMA_STORE:
                tensor, tile, rank = fields[:3]
                properties = {"target": self.symbols[tensor], "offsets": _ints(tuple(fields[3:3 + rank])),
                              "tile_steps": _ints(tuple(fields[3 + rank:3 + 2 * rank]))}
                flags = fields[3 + 2 * rank] if len(fields) > 3 + 2 * rank else 0  # older files: no flags word
                if flags & ~ON_CHIP:
                    raise self.loaded.corrupted(f"unknown dma_store flags {flags}")
                if flags & ON_CHIP:
                    _on_chip(properties, fields[4 + 2 * rank:6 + 2 * rank])
                op = c.DMAStoreOp.create(operands=[values[tile]], properties=properties)
            else:
                raise self.loaded.corrupted(f"unknown instruction {opcode} in a task")
            body.add_op(op)
            position += length
        program.add_op(c.TaskOp.create(properties={
            "op_name": _string(self.strings[name]), "op_index": _int(op_index), "unit": _string(UNIT_NAMES[unit]),
            "tiles": _int(tiles), "ols": _int(ols)}, regions=[Region(body)]))
        return position

    def main_graph(self) -> func.FuncOp:
        inputs, outputs = self.meta["inputs"], self.meta["outputs"]
        arg_types = [self.loaded.type(io["type"]) for io in inputs]
        result_types = [self.loaded.type(io["type"]) for io in outputs]
        block = Block(arg_types=arg_types)
        launch = c.LaunchOp.create(
            operands=list(block.args), result_types=result_types,
            properties={"inputs": ArrayAttr([self.symbols[io["tensor"]] for io in inputs]),
                        "outputs": ArrayAttr([self.symbols[io["tensor"]] for io in outputs])})
        block.add_op(launch)
        block.add_op(func.ReturnOp(*launch.results))
        names = lambda entries: ArrayAttr([DictionaryAttr({"onnx.name": StringAttr(io["name"])}) for io in entries])
        return func.FuncOp("main_graph", (arg_types, result_types), Region(block),
                           arg_attrs=names(inputs), res_attrs=names(outputs))


def rebuild_aic_core(loaded: LoadedQPC) -> ModuleOp:
    """The executable aic-core module a loaded QPC encodes."""
    return _Rebuilder(loaded).run()


__all__ = ["LoadedQPC", "QPC_FILE", "load_qpc", "qpc_context", "qpc_path", "rebuild_aic_core"]
