"""The ops of the ``qpc`` dialect: the program container of a compiled model.

A module at this level holds one ``qpc.container`` whose body lists, in this order:

- ``qpc.io`` (one per model input, then one per output, in the model's order): the
  name, ``kind`` (input/output), type (shape and element type), ``batch`` (samples per
  inference) and the DDR ``tensor`` id it lives in.
- ``qpc.ddr_tensor`` (ids 0..n-1): the DDR layout: ``name``, type, ``kind`` (input,
  output, constant, intermediate, alias), ``offset`` (DDR address, when planned),
  ``alias`` (the id of the tensor an alias views), ``constant`` (the id of the
  ``qpc.constant`` whose bytes a constant tensor holds), ``io_name``.
- ``qpc.semaphore`` (ids 0..n-1): the counters tasks signal and wait on.
- ``qpc.constants {size}``: the constant segment: one ``qpc.constant`` per constant
  DDR tensor (ids 0..n-1): ``name``, type, its ``#qaicc.blob`` value (or, for an MXFP6
  weight, ``[elements blob, scales blob, axis]``) and ``offsets``: where each blob's
  bytes start in the segment (64-byte aligned).
- ``qpc.kernel {id, unit}`` (ids 0..n-1): a compute kernel: one distinct compute region
  of aic-core (the aic_graph op(s) on tile types, block arguments are the input tiles,
  ending in ``qpc.yield``). Identical regions (same ops, properties and tile types) are
  stored once and shared by every task and core that runs them.
- ``qpc.stream {core}`` (one per core, ascending): the core's instructions in order:
  ``qpc.wait {semaphore, count}``, ``qpc.signal {semaphore}`` and ``qpc.task {name,
  op_index, unit, tiles, ols}``. A task's body runs once per tile ``t`` (its loop is
  the ``tiles`` attribute, never unrolled): ``qpc.dma_load {tensor, offsets,
  tile_steps}`` reads the block at ``offsets + t * tile_steps`` of a DDR tensor (its
  result type gives the block's sizes) into VTCM, ``qpc.exec {kernel, unit}`` runs a
  kernel on loaded tiles, ``qpc.dma_store {tensor, offsets, tile_steps}`` writes a tile
  back. ``vtcm_offset`` / ``buffers`` (on loads and execs), ``multicast_cores`` and
  ``in_ddr`` (on loads: the block stays in DDR and the kernel reads it by indexed DMA,
  e.g. an embedding table; it takes no VTCM), ``on_chip`` and ``resident`` (on loads and
  stores: ``keep-on-chip`` keeps the block in the core's VTCM region ``resident =
  [offset, bytes]``, no DDR traffic) carry over from aic-core.

References are integer ids (dense, in declaration order), so that the IR maps one to
one to the binary streams of the container file (``docs/qpc-format.md``); the IR grows
with ops x cores. The container verifier checks every reference, the kernel signatures
of execs and that every tile of every DMA stays inside its tensor.
"""

from __future__ import annotations

from collections.abc import Iterator

from xdsl.dialects.builtin import (
    ArrayAttr,
    DenseArrayBase,
    DictionaryAttr,
    IntegerAttr,
    StringAttr,
    TensorType,
    UnitAttr,
)
from xdsl.ir import Attribute, Operation
from xdsl.irdl import (
    IRDLOperation,
    irdl_op_definition,
    operand_def,
    opt_prop_def,
    prop_def,
    region_def,
    result_def,
    traits_def,
    var_operand_def,
    var_result_def,
)
from xdsl.traits import IsTerminator, NoTerminator
from xdsl.utils.exceptions import VerifyException

from qaicc.dialects.qaicc_attrs import DenseBlobAttr

FORMAT_VERSION = 1
"""The version of the qpc IR (``qpc.container``'s ``version``)."""

IO_KINDS = ("input", "output")
DDR_KINDS = ("input", "output", "constant", "intermediate", "alias")
UNITS = ("matrix", "vector")
CONSTANT_ALIGNMENT = 64


class QpcOp(IRDLOperation):
    """Base of qpc ops: typed property access."""

    def int_prop(self, name: str, default: int | None = None) -> int | None:
        attr = self.properties.get(name)
        return attr.value.data if attr is not None else default

    def int_list(self, name: str) -> list[int]:
        attr = self.properties.get(name)
        return list(attr.get_values()) if attr is not None else []

    def str_prop(self, name: str, default: str = "") -> str:
        attr = self.properties.get(name)
        return attr.data if attr is not None else default


def _fail(op: Operation, message: str) -> None:
    raise VerifyException(f"{op.name}: {message}")


def _non_negative(op: Operation, what: str, value: int | None) -> None:
    if value is not None and value < 0:
        _fail(op, f"{what} must be >= 0, got {value}")


# -- the container ----------------------------------------------------------------------


@irdl_op_definition
class ContainerOp(QpcOp):
    name = "qpc.container"
    target = prop_def(StringAttr)
    num_cores = prop_def(IntegerAttr)
    flags = prop_def(DictionaryAttr)
    version = prop_def(IntegerAttr)
    batch_size = opt_prop_def(IntegerAttr)
    body = region_def("single_block")
    traits = traits_def(NoTerminator())

    def verify_(self) -> None:
        if self.version.value.data != FORMAT_VERSION:
            _fail(self, f"version {self.version.value.data} is not supported (this qaicc reads {FORMAT_VERSION})")
        if self.num_cores.value.data < 1:
            _fail(self, "num_cores must be at least 1")
        for key, value in self.flags.data.items():
            if not isinstance(value, StringAttr) and not (
                    isinstance(value, ArrayAttr) and all(isinstance(v, StringAttr) for v in value.data)):
                _fail(self, f"flag '{key}' must be a string (or an array of strings for a repeated flag)")
        if (self.int_prop("batch_size") or 1) < 1:
            _fail(self, "batch_size must be at least 1")
        _ContainerCheck(self).run()

    # -- views of the body ------------------------------------------------------------
    def ops_of(self, kind: type[Operation]) -> Iterator:
        return (op for op in self.body.block.ops if isinstance(op, kind))

    @property
    def ios(self) -> list[IOOp]:
        return list(self.ops_of(IOOp))

    @property
    def ddr_tensors(self) -> list[DDRTensorOp]:
        return list(self.ops_of(DDRTensorOp))

    @property
    def semaphores(self) -> list[SemaphoreOp]:
        return list(self.ops_of(SemaphoreOp))

    @property
    def constants(self) -> list[ConstantOp]:
        segment = next(self.ops_of(ConstantsOp), None)
        return list(segment.body.block.ops) if segment is not None else []

    @property
    def kernels(self) -> list[KernelOp]:
        return list(self.ops_of(KernelOp))

    @property
    def streams(self) -> list[StreamOp]:
        return list(self.ops_of(StreamOp))


class _ContainerCheck:
    """Cross-references of a container: ids dense, every reference resolves, execs match
    their kernels, every tile of every DMA inside its tensor."""

    ORDER = ("qpc.io", "qpc.ddr_tensor", "qpc.semaphore", "qpc.constants", "qpc.kernel", "qpc.stream")

    def __init__(self, container: ContainerOp):
        self.container = container

    def run(self) -> None:
        c = self.container
        rank = {name: i for i, name in enumerate(self.ORDER)}
        last = 0
        for op in c.body.block.ops:
            position = rank.get(op.name)
            if position is None:
                _fail(c, f"'{op.name}' cannot appear in a container")
            if position < last:
                _fail(c, f"'{op.name}' after '{self.ORDER[last]}': the body lists {', '.join(self.ORDER)} in order")
            last = position
        tensors = c.ddr_tensors
        self.dense(tensors, "qpc.ddr_tensor")
        self.dense(c.semaphores, "qpc.semaphore")
        self.dense(c.kernels, "qpc.kernel")
        constants = c.constants
        self.dense(constants, "qpc.constant")
        if len(list(c.ops_of(ConstantsOp))) > 1:
            _fail(c, "a container has one qpc.constants")
        self.tensors = tensors
        self.kernels = c.kernels
        self.semaphore_count = len(c.semaphores)
        self.check_tensors(tensors, len(constants))
        self.check_ios(c.ios, tensors)
        cores = [s.core.value.data for s in c.streams]
        if len(set(cores)) != len(cores):
            _fail(c, f"two streams for one core ({sorted(cores)})")
        for core in cores:
            if core >= c.num_cores.value.data:
                _fail(c, f"a stream for core {core}, but num_cores is {c.num_cores.value.data}")
        for stream in c.streams:
            self.check_stream(stream)

    def dense(self, ops: list, what: str) -> None:
        for index, op in enumerate(ops):
            if op.id.value.data != index:
                _fail(self.container, f"{what} ids must be 0, 1, 2, ... in order; found {op.id.value.data} at position {index}")

    def check_tensors(self, tensors: list[DDRTensorOp], constant_count: int) -> None:
        for op in tensors:
            alias = op.int_prop("alias")
            if alias is not None and not 0 <= alias < len(tensors):
                _fail(self.container, f"ddr tensor {op.id.value.data} aliases unknown tensor {alias}")
            constant = op.int_prop("constant")
            if constant is not None and not 0 <= constant < constant_count:
                _fail(self.container, f"ddr tensor {op.id.value.data} refers to unknown constant {constant}")

    def check_ios(self, ios: list[IOOp], tensors: list[DDRTensorOp]) -> None:
        seen_output = False
        for io in ios:
            tensor = io.tensor.value.data
            if not 0 <= tensor < len(tensors):
                _fail(self.container, f"I/O '{io.io_name.data}' refers to unknown DDR tensor {tensor}")
            if io.kind.data == "output":
                seen_output = True
            elif seen_output:
                _fail(self.container, "inputs come before outputs")

    def tensor(self, op: Operation, id: int) -> DDRTensorOp:
        if not 0 <= id < len(self.tensors):
            _fail(op, f"unknown DDR tensor {id}")
        return self.tensors[id]

    def semaphore(self, op: Operation, id: int) -> None:
        if not 0 <= id < self.semaphore_count:
            _fail(op, f"unknown semaphore {id}")

    def check_stream(self, stream: StreamOp) -> None:
        for op in stream.body.block.ops:
            if isinstance(op, (SignalOp, WaitOp)):
                self.semaphore(op, op.semaphore.value.data)
            elif isinstance(op, TaskOp):
                tiles = op.tiles.value.data
                for inner in op.body.block.ops:
                    if isinstance(inner, DMALoadOp):
                        tensor = self.tensor(inner, inner.tensor.value.data)
                        if inner.output.type.element_type != tensor.type.element_type:
                            _fail(inner, f"loads {inner.output.type.element_type} from tensor "
                                         f"'{tensor.tensor_name.data}' of {tensor.type.element_type}")
                        self.inside(inner, tensor, inner.output.type, tiles)
                    elif isinstance(inner, DMAStoreOp):
                        tensor = self.tensor(inner, inner.tensor.value.data)
                        self.inside(inner, tensor, inner.value.type, tiles)
                    elif isinstance(inner, ExecOp):
                        self.check_exec(inner)

    @staticmethod
    def inside(op: Operation, tensor: DDRTensorOp, tile: TensorType, tiles: int) -> None:
        shape = tensor.type.get_shape()
        sizes = tile.get_shape()
        offsets = op.offsets.get_values()
        steps = op.tile_steps.get_values()
        if len(shape) != len(sizes):
            _fail(op, f"a rank-{len(sizes)} tile of the rank-{len(shape)} tensor '{tensor.tensor_name.data}'")
        for axis, (o, s, n, d) in enumerate(zip(offsets, steps, sizes, shape)):
            last = o + (tiles - 1) * s
            if min(o, last) < 0 or max(o, last) + n > d:
                _fail(op, f"tile {tiles - 1} of '{tensor.tensor_name.data}' leaves the tensor on axis {axis} "
                          f"(offset {o} + {tiles - 1} x {s}, size {n}, dimension {d})")

    def check_exec(self, op: ExecOp) -> None:
        kernel_id = op.kernel.value.data
        if not 0 <= kernel_id < len(self.kernels):
            _fail(op, f"unknown kernel {kernel_id}")
        kernel = self.kernels[kernel_id]
        block = kernel.body.block
        if [a.type for a in block.args] != [v.type for v in op.inputs]:
            _fail(op, f"operand types do not match kernel {kernel_id}'s arguments")
        if [v.type for v in block.last_op.operands] != [r.type for r in op.outputs]:
            _fail(op, f"result types do not match what kernel {kernel_id} yields")
        if op.unit.data != kernel.unit.data:
            _fail(op, f"runs on the {op.unit.data} unit, kernel {kernel_id} is a {kernel.unit.data} kernel")


# -- declarations -----------------------------------------------------------------------


@irdl_op_definition
class IOOp(QpcOp):
    """A model input or output: name, kind, type, batch and the DDR tensor holding it."""

    name = "qpc.io"
    io_name = prop_def(StringAttr, prop_name="name")
    kind = prop_def(StringAttr)
    type = prop_def(TensorType)
    batch = prop_def(IntegerAttr)
    tensor = prop_def(IntegerAttr)

    def verify_(self) -> None:
        if self.kind.data not in IO_KINDS:
            _fail(self, f"kind must be one of {IO_KINDS}, got '{self.kind.data}'")
        if self.batch.value.data < 1:
            _fail(self, "batch must be at least 1")


@irdl_op_definition
class DDRTensorOp(QpcOp):
    name = "qpc.ddr_tensor"
    id = prop_def(IntegerAttr)
    tensor_name = prop_def(StringAttr, prop_name="name")
    type = prop_def(TensorType)
    kind = prop_def(StringAttr)
    offset = opt_prop_def(IntegerAttr)
    alias = opt_prop_def(IntegerAttr)
    constant = opt_prop_def(IntegerAttr)
    io_name = opt_prop_def(StringAttr)

    def verify_(self) -> None:
        kind = self.kind.data
        if kind not in DDR_KINDS:
            _fail(self, f"unknown kind '{kind}'")
        if (kind == "alias") != (self.alias is not None):
            _fail(self, f"'{self.tensor_name.data}': 'alias' is given for, and only for, an alias")
        if (kind == "constant") != (self.constant is not None):
            _fail(self, f"'{self.tensor_name.data}': 'constant' is given for, and only for, a constant")
        _non_negative(self, "offset", self.int_prop("offset"))


@irdl_op_definition
class SemaphoreOp(QpcOp):
    name = "qpc.semaphore"
    id = prop_def(IntegerAttr)
    semaphore_name = prop_def(StringAttr, prop_name="name")


@irdl_op_definition
class ConstantsOp(QpcOp):
    """The constant segment: ``size`` bytes holding every ``qpc.constant``'s blobs."""

    name = "qpc.constants"
    size = prop_def(IntegerAttr)
    body = region_def("single_block")
    traits = traits_def(NoTerminator())

    def verify_(self) -> None:
        size = self.size.value.data
        for op in self.body.block.ops:
            if not isinstance(op, ConstantOp):
                _fail(self, f"holds only qpc.constant, found '{op.name}'")
            for offset, nbytes in zip(op.int_list("offsets"), op.part_sizes()):
                if offset + nbytes > size:
                    _fail(self, f"constant '{op.constant_name.data}' ends at {offset + nbytes}, past the segment's {size} bytes")


@irdl_op_definition
class ConstantOp(QpcOp):
    """One constant: its blob(s) and where their bytes start in the constant segment."""

    name = "qpc.constant"
    id = prop_def(IntegerAttr)
    constant_name = prop_def(StringAttr, prop_name="name")
    type = prop_def(TensorType)
    value = prop_def(Attribute)  # #qaicc.blob, or [elements, scales, axis] for MXFP6
    offsets = prop_def(DenseArrayBase)

    def blobs(self) -> list[DenseBlobAttr]:
        value = self.value
        if isinstance(value, DenseBlobAttr):
            return [value]
        return [part for part in value.data if isinstance(part, DenseBlobAttr)]

    def part_sizes(self) -> list[int]:
        return [b.blob.nbytes for b in self.blobs()]

    def verify_(self) -> None:
        value = self.value
        if isinstance(value, ArrayAttr):
            parts = value.data
            if (len(parts) != 3 or not all(isinstance(p, DenseBlobAttr) for p in parts[:2])
                    or not isinstance(parts[2], IntegerAttr)):
                _fail(self, "an MXFP6 value is [elements blob, scales blob, axis]")
        elif not isinstance(value, DenseBlobAttr):
            _fail(self, "value must be a #qaicc.blob or an MXFP6 [elements, scales, axis]")
        offsets = self.int_list("offsets")
        if len(offsets) != len(self.blobs()):
            _fail(self, f"'{self.constant_name.data}' has {len(self.blobs())} blob(s) and {len(offsets)} offset(s)")
        for offset in offsets:
            if offset < 0 or offset % CONSTANT_ALIGNMENT:
                _fail(self, f"offset {offset} of '{self.constant_name.data}' is not a multiple of {CONSTANT_ALIGNMENT}")


@irdl_op_definition
class KernelOp(QpcOp):
    """A compute kernel: the region of an ``aic_core.compute``, stored once."""

    name = "qpc.kernel"
    id = prop_def(IntegerAttr)
    unit = prop_def(StringAttr)
    body = region_def("single_block")

    def verify_(self) -> None:
        if self.unit.data not in UNITS:
            _fail(self, f"unit must be one of {UNITS}")
        if not isinstance(self.body.block.last_op, YieldOp):
            _fail(self, "the body must end in qpc.yield")


@irdl_op_definition
class YieldOp(QpcOp):
    name = "qpc.yield"
    values = var_operand_def()
    traits = traits_def(IsTerminator())


# -- streams ----------------------------------------------------------------------------


@irdl_op_definition
class StreamOp(QpcOp):
    """Core ``core``'s instructions, run in order."""

    name = "qpc.stream"
    core = prop_def(IntegerAttr)
    body = region_def("single_block")
    traits = traits_def(NoTerminator())

    def verify_(self) -> None:
        _non_negative(self, "core", self.core.value.data)
        for op in self.body.block.ops:
            if not isinstance(op, (TaskOp, SignalOp, WaitOp)):
                _fail(self, f"holds qpc.task, qpc.signal and qpc.wait, found '{op.name}'")


@irdl_op_definition
class TaskOp(QpcOp):
    """One op's share of work on this core: the body runs ``tiles`` times, ``ols`` tiles
    in flight."""

    name = "qpc.task"
    task_name = prop_def(StringAttr, prop_name="name")
    op_index = prop_def(IntegerAttr)
    unit = prop_def(StringAttr)
    tiles = prop_def(IntegerAttr)
    ols = prop_def(IntegerAttr)
    body = region_def("single_block")
    traits = traits_def(NoTerminator())

    def verify_(self) -> None:
        if self.unit.data not in UNITS:
            _fail(self, f"unit must be one of {UNITS}")
        tiles, ols = self.tiles.value.data, self.ols.value.data
        if tiles < 1:
            _fail(self, "tiles must be at least 1")
        if not 1 <= ols <= tiles:
            _fail(self, f"ols must be between 1 and tiles ({tiles}), got {ols}")
        for op in self.body.block.ops:
            if not isinstance(op, (DMALoadOp, ExecOp, DMAStoreOp)):
                _fail(self, f"holds qpc.dma_load, qpc.exec and qpc.dma_store, found '{op.name}'")


def _check_block_access(op: QpcOp, rank: int) -> None:
    offsets, steps = op.int_list("offsets"), op.int_list("tile_steps")
    if len(offsets) != rank or len(steps) != rank:
        _fail(op, f"offsets and tile_steps need {rank} entries (the tile's rank), got {len(offsets)} and {len(steps)}")
    _non_negative(op, "tensor", op.int_prop("tensor"))


@irdl_op_definition
class DMALoadOp(QpcOp):
    """DDR -> VTCM: the block of tensor ``tensor`` at ``offsets + tile * tile_steps``,
    sized as the result type."""

    name = "qpc.dma_load"
    tensor = prop_def(IntegerAttr)
    offsets = prop_def(DenseArrayBase)
    tile_steps = prop_def(DenseArrayBase)
    multicast_cores = opt_prop_def(DenseArrayBase)
    vtcm_offset = opt_prop_def(IntegerAttr)
    buffers = opt_prop_def(IntegerAttr)
    in_ddr = opt_prop_def(UnitAttr)
    on_chip = opt_prop_def(UnitAttr)
    resident = opt_prop_def(DenseArrayBase)
    output = result_def(TensorType)

    def verify_(self) -> None:
        _check_block_access(self, len(self.output.type.get_shape()))
        cores = self.int_list("multicast_cores")
        if any(core < 0 for core in cores) or len(set(cores)) != len(cores):
            _fail(self, f"multicast_cores must be distinct core numbers, got {cores}")
        _non_negative(self, "vtcm_offset", self.int_prop("vtcm_offset"))
        if (self.int_prop("buffers") or 1) < 1:
            _fail(self, "buffers must be at least 1")


@irdl_op_definition
class ExecOp(QpcOp):
    """Run kernel ``kernel`` on the ``unit`` with VTCM tiles; results are VTCM tiles."""

    name = "qpc.exec"
    inputs = var_operand_def(TensorType)
    kernel = prop_def(IntegerAttr)
    unit = prop_def(StringAttr)
    vtcm_offset = opt_prop_def(IntegerAttr)
    buffers = opt_prop_def(IntegerAttr)
    outputs = var_result_def(TensorType)

    def verify_(self) -> None:
        if self.unit.data not in UNITS:
            _fail(self, f"unit must be one of {UNITS}")
        _non_negative(self, "kernel", self.kernel.value.data)
        _non_negative(self, "vtcm_offset", self.int_prop("vtcm_offset"))
        if (self.int_prop("buffers") or 1) < 1:
            _fail(self, "buffers must be at least 1")


@irdl_op_definition
class DMAStoreOp(QpcOp):
    """VTCM -> DDR: the tile into tensor ``tensor`` at ``offsets + tile * tile_steps``."""

    name = "qpc.dma_store"
    value = operand_def(TensorType)
    tensor = prop_def(IntegerAttr)
    offsets = prop_def(DenseArrayBase)
    tile_steps = prop_def(DenseArrayBase)
    on_chip = opt_prop_def(UnitAttr)
    resident = opt_prop_def(DenseArrayBase)

    def verify_(self) -> None:
        _check_block_access(self, len(self.value.type.get_shape()))


@irdl_op_definition
class SignalOp(QpcOp):
    name = "qpc.signal"
    semaphore = prop_def(IntegerAttr)


@irdl_op_definition
class WaitOp(QpcOp):
    """Block until semaphore ``semaphore`` was signalled ``count`` times."""

    name = "qpc.wait"
    semaphore = prop_def(IntegerAttr)
    count = prop_def(IntegerAttr)

    def verify_(self) -> None:
        if self.count.value.data < 1:
            _fail(self, "count must be at least 1")


ALL_OPS = (
    ContainerOp, IOOp, DDRTensorOp, SemaphoreOp, ConstantsOp, ConstantOp, KernelOp, YieldOp,
    StreamOp, TaskOp, DMALoadOp, ExecOp, DMAStoreOp, SignalOp, WaitOp,
)
