"""``convert-aic-core-to-qpc``: the per-core programs become a program container.

    qaicc-opt m.mlir -p 'convert-aic-core-to-qpc{flags="-aic-num-cores=4 -ols=2" target=ai100-pro}'

The module's aic-core IR (DDR tensors, semaphores, one ``aic_core.program`` per core,
``@main_graph``'s ``aic_core.launch``) becomes one ``qpc.container`` (see
``qaicc.dialects.qpc.ops``): I/O descriptors from the launch, the DDR layout with
integer ids, the semaphores, the constant segment (every constant's blob(s) at a
64-byte aligned offset; tensors sharing one blob share its bytes), the compute kernels
(each distinct compute region once, shared by every task and core running it) and one
instruction stream per core. Tile loops stay loops: the IR grows with ops x cores.

Recorded on the container:

- ``flags``: the compile flags as a dictionary (``-aic-num-cores=4 -convert-to-fp16``
  gives ``{aic-num-cores = "4", convert-to-fp16 = "true"}``; a flag given twice keeps
  every value, in order, in an array). From the ``flags`` option, else the module
  attribute ``qaicc.compile_flags`` (a string, as the ``qaicc`` driver sets it, or a
  dictionary), else none.
- ``target``: the hardware target's name (``qaicc.hardware.load_target``): from the
  ``target`` option, else the module attribute ``qaicc.target``, else the flag
  ``aic-hw-version``, else the default target. A program on more cores than the target
  has is an error.
- ``batch_size``: from the module attribute ``qaicc.batch_size``, else the flag
  ``batchsize``, else 1; every I/O descriptor of rank >= 1 has that ``batch``.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from functools import lru_cache

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import (
    ArrayAttr,
    DictionaryAttr,
    IntegerAttr,
    ModuleOp,
    StringAttr,
    i64,
)
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import Rewriter

from qaicc.dialects.aic_core import ops as c
from qaicc.dialects.aic_core.partition import _array
from qaicc.dialects.qaicc_attrs import DenseBlobAttr
from qaicc.dialects.qpc import ops as q
from qaicc.errors import QaiccError
from qaicc.hardware import load_target
from qaicc.qpc.loader import paused_gc

PASS_NAME = "convert-aic-core-to-qpc"


@lru_cache(maxsize=None)
def _int(value: int) -> IntegerAttr:
    return IntegerAttr(value, i64)


@lru_cache(maxsize=None)
def _string(text: str) -> StringAttr:
    return StringAttr(text)


def parse_flags(text: str) -> dict[str, str | list[str]]:
    """``-a=1 --b -c=x -c=y`` -> ``{"a": "1", "b": "true", "c": ["x", "y"]}``."""
    try:
        tokens = shlex.split(text)
    except ValueError as error:
        raise QaiccError(f"{PASS_NAME}: cannot read the compile flags '{text}': {error}") from None
    flags: dict[str, str | list[str]] = {}
    for token in tokens:
        if not token.startswith("-") or token.strip("-") == "":
            raise QaiccError(f"{PASS_NAME}: compile flag '{token}' does not start with '-'; write flags as -name or -name=value")
        key, has_value, value = token.lstrip("-").partition("=")
        value = value if has_value else "true"
        if key in flags:
            previous = flags[key]
            flags[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            flags[key] = value
    return flags


def flags_attr(flags: dict[str, str | list[str]]) -> DictionaryAttr:
    entries: dict[str, Attribute] = {}
    for key in sorted(flags):
        value = flags[key]
        entries[key] = ArrayAttr([StringAttr(v) for v in value]) if isinstance(value, list) else StringAttr(value)
    return DictionaryAttr(entries)


def _flags_of(module: ModuleOp, option: str | None) -> dict[str, str | list[str]]:
    if option is not None:
        return parse_flags(option)
    attr = module.attributes.get("qaicc.compile_flags")
    if attr is None:
        return {}
    if isinstance(attr, StringAttr):
        return parse_flags(attr.data)
    if isinstance(attr, DictionaryAttr):
        flags: dict[str, str | list[str]] = {}
        for key, value in attr.data.items():
            if isinstance(value, StringAttr):
                flags[key] = value.data
            elif isinstance(value, ArrayAttr) and all(isinstance(v, StringAttr) for v in value.data):
                flags[key] = [v.data for v in value.data]
            else:
                raise QaiccError(f"{PASS_NAME}: compile flag '{key}' in qaicc.compile_flags must be a string")
        return flags
    raise QaiccError(f"{PASS_NAME}: the module attribute qaicc.compile_flags must be a string or a dictionary")


def _single(flags: dict, key: str) -> str | None:
    value = flags.get(key)
    return value[-1] if isinstance(value, list) else value


def _positive(text: str, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise QaiccError(f"{PASS_NAME}: {what} must be a positive integer, got '{text}'")
    return value


# -- kernels ----------------------------------------------------------------------------


def region_key(block: Block) -> tuple | None:
    """A hashable key equal for structurally identical compute regions (None when the
    region holds nested regions: such a region is then never shared)."""
    numbering: dict[SSAValue, int] = {arg: i for i, arg in enumerate(block.args)}
    parts: list = [tuple(arg.type for arg in block.args)]
    for op in block.ops:
        if op.regions or op.successors:
            return None
        try:
            operands = tuple(numbering[v] for v in op.operands)
        except KeyError:
            return None  # reads a value from outside the region
        for result in op.results:
            numbering[result] = len(numbering)
        parts.append((
            op.name, operands, tuple(r.type for r in op.results),
            tuple(sorted(op.properties.items(), key=lambda kv: kv[0])),
            tuple(sorted(op.attributes.items(), key=lambda kv: kv[0])),
        ))
    return tuple(parts)


def make_kernel(compute: c.ComputeOp, kernel_id: int) -> q.KernelOp:
    """A qpc.kernel holding a copy of ``compute``'s region (aic_core.yield -> qpc.yield)."""
    region = compute.body.clone()
    block = region.block
    for arg in block.args:
        arg.name_hint = None
    for op in block.ops:
        for result in op.results:
            result.name_hint = None
    terminator = block.last_op
    if not isinstance(terminator, c.YieldOp):
        raise QaiccError(f"{PASS_NAME}: a compute region must end in aic_core.yield, found '{terminator.name}'")
    block.insert_op_before(q.YieldOp.create(operands=list(terminator.operands)), terminator)
    Rewriter.erase_op(terminator)
    return q.KernelOp.create(
        properties={"id": _int(kernel_id), "unit": compute.unit}, regions=[region])


# -- the conversion ---------------------------------------------------------------------


@dataclass
class _Converter:
    module: ModuleOp
    target: str | None
    flags_option: str | None

    def run(self) -> None:
        module = self.module
        function = next((f for f in module.ops if isinstance(f, func.FuncOp) and f.sym_name.data == "main_graph"), None)
        if function is None:
            raise QaiccError(f"{PASS_NAME}: the module has no func.func @main_graph; run convert-aic-graph-to-aic-core first")
        launch = next((op for op in function.body.block.ops if isinstance(op, c.LaunchOp)), None)
        if launch is None:
            raise QaiccError(f"{PASS_NAME}: @main_graph holds no aic_core.launch; run convert-aic-graph-to-aic-core first")
        ddr, semaphores, programs = [], [], []
        for op in module.ops:
            if isinstance(op, c.DDRTensorOp):
                ddr.append(op)
            elif isinstance(op, c.SemaphoreOp):
                semaphores.append(op)
            elif isinstance(op, c.ProgramOp):
                programs.append(op)
            elif op is not function:
                raise QaiccError(f"{PASS_NAME}: cannot put '{op.name}' (at module level) in a program container")

        flags = _flags_of(module, self.flags_option)
        target = self.target or _attr_text(module, "qaicc.target") or _single(flags, "aic-hw-version")
        hardware = load_target(target)
        cores = sorted(p.core.value.data for p in programs)
        if len(set(cores)) != len(cores):
            raise QaiccError(f"{PASS_NAME}: two aic_core.program for one core")
        declared = module.attributes.get("aic_core.num_cores")
        num_cores = declared.value.data if isinstance(declared, IntegerAttr) else (max(cores) + 1 if cores else 1)
        if cores and max(cores) >= num_cores:
            raise QaiccError(f"{PASS_NAME}: a program for core {max(cores)}, but aic_core.num_cores is {num_cores}")
        if num_cores > hardware.cores:
            raise QaiccError(
                f"{PASS_NAME}: the program uses {num_cores} cores, {hardware.name} has {hardware.cores}; "
                "partition for fewer cores or choose another target")
        batch_attr = module.attributes.get("qaicc.batch_size")
        if isinstance(batch_attr, IntegerAttr):
            batch = batch_attr.value.data
        elif _single(flags, "batchsize") is not None:
            batch = _positive(_single(flags, "batchsize"), "the flag -batchsize")
        else:
            batch = 1

        self.tensor_ids = {op.sym_name.data: index for index, op in enumerate(ddr)}
        self.semaphore_ids = {op.sym_name.data: index for index, op in enumerate(semaphores)}
        self.ddr_types = {index: op.type for index, op in enumerate(ddr)}
        body = Block()
        for op in self.ios(function, launch, ddr, batch):
            body.add_op(op)
        constants, constant_of = self.constants(ddr)
        for index, op in enumerate(ddr):
            _check_known(op)
            body.add_op(self.ddr_tensor(index, op, constant_of))
        for index, op in enumerate(semaphores):
            body.add_op(q.SemaphoreOp.create(properties={"id": _int(index), "name": op.sym_name}))
        body.add_op(constants)
        self.kernel_ids: dict[tuple, int] = {}
        self.kernels: list[q.KernelOp] = []
        streams = [self.stream(program) for program in sorted(programs, key=lambda p: p.core.value.data)]
        for kernel in self.kernels:
            body.add_op(kernel)
        for stream in streams:
            body.add_op(stream)

        properties = {
            "target": StringAttr(hardware.name), "num_cores": _int(num_cores),
            "flags": flags_attr(flags), "version": _int(q.FORMAT_VERSION), "batch_size": _int(batch),
        }
        container = q.ContainerOp.create(properties=properties, regions=[Region(body)])
        for op in list(module.ops):
            op.detach()  # the old IR is dropped whole (erasing it op by op costs seconds)
        module.body.block.add_op(container)
        module.attributes.pop("aic_core.num_cores", None)

    # -- declarations ---------------------------------------------------------------------
    def ios(self, function: func.FuncOp, launch: c.LaunchOp, ddr, batch: int) -> list[q.IOOp]:
        ios = []
        for kind, symbols, values, attrs in (
            ("input", launch.inputs.data, launch.args, function.arg_attrs),
            ("output", launch.outputs.data, launch.results, function.res_attrs),
        ):
            for index, (symbol, value) in enumerate(zip(symbols, values)):
                tensor = self.tensor_ids.get(symbol.root_reference.data)
                if tensor is None:
                    raise QaiccError(f"{PASS_NAME}: the launch names unknown DDR tensor @{symbol.root_reference.data}")
                name = _io_name(attrs, index) or ddr[tensor].str_prop("io_name") or f"{kind}_{index}"
                rank = len(value.type.get_shape())
                ios.append(q.IOOp.create(properties={
                    "name": StringAttr(name), "kind": _string(kind), "type": value.type,
                    "batch": _int(batch if rank else 1), "tensor": _int(tensor)}))
        return ios

    def constants(self, ddr: list[c.DDRTensorOp]) -> tuple[q.ConstantsOp, dict[int, int]]:
        block = Block()
        constant_of: dict[int, int] = {}
        shared: dict[tuple, int] = {}
        size = 0
        for index, op in enumerate(ddr):
            if op.kind.data != "constant":
                continue
            value = op.value
            blobs = [value] if isinstance(value, DenseBlobAttr) else [p for p in value.data if isinstance(p, DenseBlobAttr)]
            key = (tuple(id(b.blob) for b in blobs), value if isinstance(value, ArrayAttr) else None, op.type)
            if key in shared:
                constant_of[index] = shared[key]
                continue
            offsets = []
            for blob in blobs:
                if blob.blob.dtype is None or blob.blob.dtype.kind == "O":
                    raise QaiccError(f"{PASS_NAME}: constant '{op.sym_name.data}' holds {blob.type}, which has no binary form")
                size = _align(size)
                offsets.append(size)
                size += blob.blob.nbytes
            constant_id = len(shared)
            shared[key] = constant_id
            constant_of[index] = constant_id
            block.add_op(q.ConstantOp.create(properties={
                "id": _int(constant_id), "name": op.sym_name, "type": op.type, "value": value,
                "offsets": _array(offsets)}))
        segment = q.ConstantsOp.create(properties={"size": _int(_align(size))}, regions=[Region(block)])
        return segment, constant_of

    def ddr_tensor(self, index: int, op: c.DDRTensorOp, constant_of: dict[int, int]) -> q.DDRTensorOp:
        properties = {"id": _int(index), "name": op.sym_name, "type": op.type, "kind": op.kind}
        if op.offset is not None:
            properties["offset"] = op.offset
        if op.alias is not None:
            target = self.tensor_ids.get(op.alias.root_reference.data)
            if target is None:
                raise QaiccError(f"{PASS_NAME}: @{op.sym_name.data} aliases unknown DDR tensor @{op.alias.root_reference.data}")
            properties["alias"] = _int(target)
        if index in constant_of:
            properties["constant"] = _int(constant_of[index])
        if op.io_name is not None:
            properties["io_name"] = op.io_name
        return q.DDRTensorOp.create(properties=properties)

    # -- streams --------------------------------------------------------------------------
    def tensor(self, symbol) -> IntegerAttr:
        name = symbol.root_reference.data
        index = self.tensor_ids.get(name)
        if index is None:
            raise QaiccError(f"{PASS_NAME}: a DMA names unknown DDR tensor @{name}")
        return _int(index)

    def semaphore(self, symbol) -> IntegerAttr:
        name = symbol.root_reference.data
        index = self.semaphore_ids.get(name)
        if index is None:
            raise QaiccError(f"{PASS_NAME}: unknown semaphore @{name}")
        return _int(index)

    def kernel(self, compute: c.ComputeOp) -> int:
        key = region_key(compute.body.block)
        if key is not None and key in self.kernel_ids:
            return self.kernel_ids[key]
        kernel_id = len(self.kernels)
        self.kernels.append(make_kernel(compute, kernel_id))
        if key is not None:
            self.kernel_ids[key] = kernel_id
        return kernel_id

    def stream(self, program: c.ProgramOp) -> q.StreamOp:
        block = Block()
        for op in program.body.block.ops:
            if isinstance(op, (c.WaitOp, c.SignalOp)):
                _check_known(op)
            if isinstance(op, c.WaitOp):
                block.add_op(q.WaitOp.create(properties={"semaphore": self.semaphore(op.semaphore), "count": op.count}))
            elif isinstance(op, c.SignalOp):
                block.add_op(q.SignalOp.create(properties={"semaphore": self.semaphore(op.semaphore)}))
            elif isinstance(op, c.TaskOp):
                block.add_op(self.task(op))
            else:
                raise QaiccError(f"{PASS_NAME}: cannot encode '{op.name}' in the program of core {program.core.value.data}")
        return q.StreamOp.create(properties={"core": program.core}, regions=[Region(block)])

    def task(self, task: c.TaskOp) -> q.TaskOp:
        block = Block()
        values: dict[SSAValue, SSAValue] = {}
        _check_known(task)
        for op in task.body.block.ops:
            _check_known(op)
            if isinstance(op, c.DMALoadOp):
                properties = {"tensor": self.tensor(op.source), "offsets": op.offsets, "tile_steps": op.tile_steps}
                _copy(op, properties, ("multicast_cores", "vtcm_offset", "buffers", "in_ddr", "on_chip", "resident"))
                new = q.DMALoadOp.create(properties=properties, result_types=[op.output.type])
                values[op.output] = new.output
            elif isinstance(op, c.ComputeOp):
                properties = {"kernel": _int(self.kernel(op)), "unit": op.unit}
                _copy(op, properties, ("vtcm_offset", "buffers"))
                new = q.ExecOp.create(operands=[_mapped(values, v, op) for v in op.inputs], properties=properties,
                                      result_types=[r.type for r in op.outputs])
                values.update(zip(op.outputs, new.outputs))
            elif isinstance(op, c.DMAStoreOp):
                properties = {"tensor": self.tensor(op.target), "offsets": op.offsets, "tile_steps": op.tile_steps}
                _copy(op, properties, ("on_chip", "resident"))
                new = q.DMAStoreOp.create(operands=[_mapped(values, op.value, op)], properties=properties)
            else:
                raise QaiccError(f"{PASS_NAME}: cannot encode '{op.name}' in task '{task.op_name.data}'")
            block.add_op(new)
        tiles = task.tiles.value.data
        ols = task.ols.value.data if task.ols is not None else 1
        return q.TaskOp.create(properties={
            "name": task.op_name, "op_index": task.op_index, "unit": task.unit,
            "tiles": task.tiles, "ols": _int(min(max(ols, 1), tiles))}, regions=[Region(block)])


# Every property of an aic-core op this pass encodes; any other is an error, never lost.
KNOWN_PROPERTIES = {
    c.DDRTensorOp: frozenset({"sym_name", "type", "kind", "io_name", "value", "alias", "offset"}),
    c.SemaphoreOp: frozenset({"sym_name"}),
    c.TaskOp: frozenset({"op_name", "op_index", "unit", "tiles", "ols"}),
    c.DMALoadOp: frozenset({"source", "offsets", "tile_steps", "multicast_cores", "vtcm_offset", "buffers", "in_ddr",
                            "on_chip", "resident"}),
    c.ComputeOp: frozenset({"unit", "vtcm_offset", "buffers"}),
    c.DMAStoreOp: frozenset({"target", "offsets", "tile_steps", "on_chip", "resident"}),
    c.SignalOp: frozenset({"semaphore"}),
    c.WaitOp: frozenset({"semaphore", "count"}),
}


def _check_known(op: Operation) -> None:
    unknown = op.properties.keys() - KNOWN_PROPERTIES[type(op)]
    if unknown:
        raise QaiccError(
            f"{PASS_NAME}: cannot encode property '{sorted(unknown)[0]}' of '{op.name}'; "
            "the qpc dialect and the QPC format must learn it first")


def _copy(op: Operation, properties: dict, names: tuple[str, ...]) -> None:
    for name in names:
        if name in op.properties:
            properties[name] = op.properties[name]


def _mapped(values: dict, value: SSAValue, op: Operation) -> SSAValue:
    found = values.get(value)
    if found is None:
        raise QaiccError(f"{PASS_NAME}: '{op.name}' reads a value that is not a tile of its task")
    return found


def _align(size: int) -> int:
    return (size + q.CONSTANT_ALIGNMENT - 1) // q.CONSTANT_ALIGNMENT * q.CONSTANT_ALIGNMENT


def _attr_text(module: ModuleOp, name: str) -> str | None:
    attr = module.attributes.get(name)
    if attr is None:
        return None
    if not isinstance(attr, StringAttr):
        raise QaiccError(f"{PASS_NAME}: the module attribute {name} must be a string")
    return attr.data


def _io_name(attrs: ArrayAttr | None, index: int) -> str | None:
    if attrs is None or index >= len(attrs.data):
        return None
    entry = attrs.data[index].data.get("onnx.name")
    return entry.data if isinstance(entry, StringAttr) else None


@dataclass(frozen=True)
class ConvertAicCoreToQpcPass(ModulePass):
    name = "convert-aic-core-to-qpc"

    flags: str | None = None
    target: str | None = None

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        with paused_gc():
            _Converter(op, self.target, self.flags).run()
