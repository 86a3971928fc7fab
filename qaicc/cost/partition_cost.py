"""What a partition costs: per aic_graph op and per core, the VTCM working set and the
time, from the hardware model and ``qaicc.cost.model`` only.

``partition-cores``, ``mos`` and ``ols-split`` use it to choose; tests and reports use it
to check what they chose::

    from qaicc.cost.partition_cost import estimate_module
    estimate = estimate_module(module)          # a module after partition-cores etc.
    estimate.critical_path_seconds, estimate.makespan_seconds, estimate.idle_seconds
    estimate.max_block_bytes, estimate.max_working_set_bytes
    estimate.op("/encoder/layer.0/attention/self/query/MatMul").cores[0].seconds

The model of one task (one op's block on one core, see ``qaicc.dialects.aic_core.partition``):

- The op's operand blocks come from ``slicing.operand_blocks``; an MXFP6 weight read
  through a (fused) dequantize is loaded as MXFP6; a gather table is read row by row
  by indexed DMA, so only the rows it fetches count.
- With ``tiles`` pieces along ``tile_axis``, an operand block that is the same for every
  tile (a weight under a row tiling, the input under a channel tiling) is loaded once
  and held; the others are loaded per tile (streamed), like the output tiles are stored.
- ``working_set_bytes`` (the VTCM need) = held blocks + ``buffers`` x (streamed blocks
  of one tile + its output tile), ``buffers`` = 2 when two or more tiles are in flight
  (``min(ols, tiles) >= 2``: double buffering), else 1. ``block_bytes`` = the operand
  blocks plus the output block of the whole block (the need without tiling).
- Time: ``dma_seconds`` with the DDR bandwidth shared by the op's cores (all of them
  stream at once), ``compute_seconds`` of the whole op scaled by the block's share of
  the output, and ``pipelined_seconds`` over the tiles, after the held blocks' load.
- Idle: the DMA engine and the op's compute unit, each idle for the task's time minus
  its busy time.

A module's estimate adds, over the dataflow graph (networkx), the critical path (ops
weighted by their slowest core) and the makespan of the per-core programs (each core
runs its tasks in program order, a task starts when its inputs are complete).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import networkx as nx
from xdsl.dialects import func
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, StringAttr, TensorType
from xdsl.ir import Operation, SSAValue

from qaicc.cost.model import compute_seconds, dma_seconds, pipelined_seconds
from qaicc.dialects.aic_core.partition import CoreBlock, Partition, read_partition
from qaicc.dialects.aic_graph import ops as g
from qaicc.dialects.aic_graph.slicing import operand_blocks, parallel_axes
from qaicc.dialects.aic_graph.types import MXFP6Type
from qaicc.dialects.aic_graph.work import element_bits
from qaicc.errors import QaiccError
from qaicc.hardware import HardwareModel, load_target

NUM_CORES_ATTR = "aic.num_cores"
TARGET_ATTR = "aic.target"
INDEXED_READS = (g.GatherOp, g.GatherNDOp)  # operand 0 is a table read by indexed DMA


# -- the function and its tasks ---------------------------------------------------------


def main_graph(module: ModuleOp, pass_name: str) -> func.FuncOp:
    for op in module.ops:
        if isinstance(op, func.FuncOp) and op.sym_name.data == "main_graph":
            return op
    raise QaiccError(f"{pass_name}: the module has no func.func @main_graph")


def check_aic_graph(function: func.FuncOp, pass_name: str) -> None:
    """Every op of @main_graph is an aic_graph op (or the return)."""
    other = sorted({op.name for op in function.body.block.ops
                    if not isinstance(op, (g.AicGraphOp, func.ReturnOp))})
    if other:
        raise QaiccError(
            f"{pass_name}: @main_graph holds ops that are not aic_graph ops ({', '.join(other[:5])}); "
            "lower the model with convert-onnx-to-aic-graph first"
        )


def fused_dequantized(function: func.FuncOp) -> set[SSAValue]:
    """Values of dequantize ops that convert-aic-graph-to-aic-core fuses into their
    readers (the weight stays MXFP6 in DDR)."""
    fused: set[SSAValue] = set()
    for op in function.body.block.ops:
        if isinstance(op, g.DequantizeOp) and op.input not in fused:
            fused.add(op.output)
    return fused


def is_task(op: Operation, fused: set[SSAValue]) -> bool:
    """Does the op become aic_core tasks? Constants, reshapes (DDR aliases) and fused
    dequantizes do not (mirrors convert-aic-graph-to-aic-core)."""
    if not isinstance(op, g.AicGraphOp) or not op.results:
        return False
    if isinstance(op, (g.ConstantOp, g.MXFP6ConstantOp)):
        return False
    if isinstance(op, (g.DequantizeOp, g.ReshapeOp)) and op.operands[0] not in fused:
        return False
    return True


def task_ops(function: func.FuncOp) -> list[Operation]:
    fused = fused_dequantized(function)
    return [op for op in function.body.block.ops if is_task(op, fused)]


def dataflow_graph(function: func.FuncOp) -> nx.DiGraph:
    """Every op of @main_graph (but the return), an edge from producer to user."""
    graph = nx.DiGraph()
    for op in function.body.block.ops:
        if isinstance(op, func.ReturnOp):
            continue
        graph.add_node(op)
        for operand in op.operands:
            owner = operand.owner
            if isinstance(owner, Operation):
                graph.add_edge(owner, op)
    return graph


def op_name(op: Operation) -> str:
    name = op.attributes.get("onnx_node_name")
    return name.data if isinstance(name, StringAttr) else op.name


def target_of(module: ModuleOp, name: str | None) -> HardwareModel:
    """The target named by a pass option, else the one partition-cores recorded, else
    the default target."""
    if name is None and isinstance(module.attributes.get(TARGET_ATTR), StringAttr):
        name = module.attributes[TARGET_ATTR].data
    return load_target(name)


def recorded_num_cores(module: ModuleOp) -> int | None:
    attr = module.attributes.get(NUM_CORES_ATTR)
    return attr.value.data if isinstance(attr, IntegerAttr) else None


# -- one op: static facts ---------------------------------------------------------------


def _count(sizes) -> int:
    return math.prod(sizes) if sizes else 1


def _shape(value: SSAValue) -> list[int]:
    return list(value.type.get_shape()) if isinstance(value.type, TensorType) else []


@dataclass(frozen=True)
class _Stored:
    """How an operand sits in DDR: bits per element, MXFP6 or not."""

    bits: int
    mxfp6: bool

    def bytes(self, count: int) -> int:
        return MXFP6Type.bytes_for(count) if self.mxfp6 else (count * self.bits + 7) // 8


def _stored(value: SSAValue, fused: set[SSAValue]) -> _Stored:
    if value in fused:  # read as the MXFP6 constant behind the dequantize
        value = value.owner.operands[0]
    element = value.type.element_type if isinstance(value.type, TensorType) else None
    if isinstance(element, MXFP6Type):
        return _Stored(6, True)
    return _Stored(element_bits(element) if element is not None else 32, False)


class OpInfo:
    """What the cost of an op's blocks depends on, computed once per op."""

    def __init__(self, op: Operation, hw: HardwareModel, fused: set[SSAValue] | None = None):
        fused = fused or set()
        self.op = op
        self.name = op_name(op)
        self.multi = len(op.results) != 1
        self.shape = _shape(op.results[0])
        self.axes = {} if self.multi else parallel_axes(op)
        self.operands = [_stored(v, fused) for v in op.operands]
        self.operand_shapes = [_shape(v) for v in op.operands]
        self.results = [_stored(r, set()) for r in op.results]
        self.result_counts = [_count(_shape(r)) for r in op.results]
        self.indexed = isinstance(op, INDEXED_READS)
        self.compute_seconds = compute_seconds(op, hw)
        self.hw = hw

    @cached_property
    def channel_axes(self) -> set[int]:
        return {a for a, kind in self.axes.items() if kind == "channels"}


# -- one task ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskCost:
    """One op's block on one core (see the module docstring)."""

    working_set_bytes: int
    block_bytes: int
    load_bytes: int
    store_bytes: int
    seconds: float
    dma_busy_seconds: float
    unit_busy_seconds: float

    @property
    def idle_seconds(self) -> float:
        return max(0.0, self.seconds - self.dma_busy_seconds) + max(0.0, self.seconds - self.unit_busy_seconds)


def _operand_bytes(info: OpInfo, blocks, out_count: int) -> list[int]:
    sizes = []
    for index, (stored, block) in enumerate(zip(info.operands, blocks)):
        if index == 0 and info.indexed:
            count = out_count  # the rows the gather fetches
        elif block is None:
            count = _count(info.operand_shapes[index])
        else:
            count = _count(block[1])
        sizes.append(stored.bytes(count))
    return sizes


def operand_block_bytes(info: OpInfo, offsets, sizes) -> list[int]:
    """Bytes of each operand's block for the output block (``offsets``, ``sizes``)."""
    if info.multi:
        return _operand_bytes(info, [None] * len(info.operands), 1)
    return _operand_bytes(info, operand_blocks(info.op, list(offsets), list(sizes)), _count(sizes))


def _output_bytes(info: OpInfo, tile_count: int) -> int:
    if info.multi:
        return sum(s.bytes(n) for s, n in zip(info.results, info.result_counts))
    return info.results[0].bytes(tile_count)


def task_cost(
    info: OpInfo, offsets, sizes, tiles: int = 1, tile_axis: int = 0, ols: int = 1, sharing: int = 1
) -> TaskCost:
    """The cost of computing the output block (``offsets``, ``sizes``) on one core in
    ``tiles`` pieces along ``tile_axis`` with ``ols`` in flight, while ``sharing`` cores
    share the DDR bandwidth."""
    hw = info.hw
    offsets, sizes = list(offsets), list(sizes)
    if info.multi or tiles < 1:
        tiles = 1
    tile = list(sizes)
    if tiles > 1:
        tile[tile_axis] //= tiles
    tile_count = _count(tile)
    if info.multi:
        blocks0 = blocks1 = [None] * len(info.operands)
    else:
        blocks0 = operand_blocks(info.op, offsets, tile)
        blocks1 = blocks0
        if tiles > 1:
            shifted = list(offsets)
            shifted[tile_axis] += tile[tile_axis]
            blocks1 = operand_blocks(info.op, shifted, tile)
    operand_bytes = _operand_bytes(info, blocks0, tile_count)
    held = streamed = 0
    for index, (nbytes, b0, b1) in enumerate(zip(operand_bytes, blocks0, blocks1)):
        varies = tiles > 1 and (b0 != b1 or (index == 0 and info.indexed))
        if varies:
            streamed += nbytes
        else:
            held += nbytes
    out_tile = _output_bytes(info, tile_count)
    in_flight = min(ols, tiles)
    buffers = 2 if in_flight >= 2 else 1
    working_set = held + buffers * (streamed + out_tile)
    if tiles == 1:
        block_bytes = held + out_tile
    else:
        full = operand_blocks(info.op, offsets, sizes)
        block_bytes = sum(_operand_bytes(info, full, _count(sizes))) + _output_bytes(info, _count(sizes))
    total = info.result_counts[0] if not info.multi else 1
    share = tile_count / total if (total and not info.multi) else 1.0
    compute = info.compute_seconds * share
    held_s = dma_seconds(held, hw, sharing)
    load_s = dma_seconds(streamed, hw, sharing)
    store_s = dma_seconds(out_tile, hw, sharing)
    seconds = held_s + pipelined_seconds(load_s, compute, store_s, tiles, in_flight)
    return TaskCost(
        working_set_bytes=working_set,
        block_bytes=block_bytes,
        load_bytes=held + tiles * streamed,
        store_bytes=tiles * out_tile,
        seconds=seconds,
        dma_busy_seconds=held_s + tiles * (load_s + store_s),
        unit_busy_seconds=tiles * compute,
    )


def partition_cost(info: OpInfo, partition: Partition, block: CoreBlock | None = None) -> TaskCost:
    """The cost of one block of ``partition`` (the first: blocks are equal-size)."""
    block = block or partition.blocks[0]
    sizes = block.sizes if block.sizes else info.shape
    offsets = block.offsets if block.offsets else [0] * len(info.shape)
    return task_cost(info, offsets, sizes, partition.tiles, partition.tile_axis, partition.ols,
                     max(1, len(partition.blocks)))


# -- candidate partitions ---------------------------------------------------------------


def divisors(n: int, limit: int | None = None) -> list[int]:
    limit = n if limit is None else min(n, limit)
    return [d for d in range(1, limit + 1) if n % d == 0]


@dataclass(frozen=True)
class Split:
    """How many equal parts each cut axis of the output is cut into."""

    parts: tuple[tuple[int, int], ...] = ()  # (axis, parts > 1), channel axes first

    @property
    def cores(self) -> int:
        return math.prod(p for _, p in self.parts)

    def channel_split(self, info: OpInfo) -> int:
        return math.prod(p for a, p in self.parts if a in info.channel_axes)

    def blocks(self, shape: list[int], cores: list[int]) -> list[CoreBlock]:
        """Row-major over the cut axes (channel axes slowest): core k of ``cores`` gets
        block k, so the cores of one channel group are consecutive."""
        combos: list[tuple[list[int], list[int]]] = [([0] * len(shape), list(shape))]
        for axis, parts in self.parts:
            size = shape[axis] // parts
            grown = []
            for offsets, sizes in combos:
                for index in range(parts):
                    o, s = list(offsets), list(sizes)
                    o[axis], s[axis] = index * size, size
                    grown.append((o, s))
            combos = grown
        return [CoreBlock(core, o, s) for core, (o, s) in zip(cores, combos)]


def splits(info: OpInfo, max_cores: int, max_channel_split: int | None = None, max_axes: int = 2) -> list[Split]:
    """Every way to cut the output into at most ``max_cores`` equal blocks along at most
    ``max_axes`` parallel axes (at most ``max_channel_split`` parts on channel axes)."""
    options: list[tuple[int, list[int]]] = []
    for axis in sorted(info.axes, key=lambda a: (a not in info.channel_axes, a)):
        limit = max_cores
        if axis in info.channel_axes and max_channel_split is not None:
            limit = min(limit, max_channel_split)
        counts = [d for d in divisors(info.shape[axis], limit) if d > 1]
        if counts:
            options.append((axis, counts))
    found = [Split()]

    def extend(start: int, chosen: tuple[tuple[int, int], ...], cores: int) -> None:
        if len(chosen) == max_axes:
            return
        for index in range(start, len(options)):
            axis, counts = options[index]
            for parts in counts:
                if cores * parts > max_cores:
                    break
                grown = (*chosen, (axis, parts))
                found.append(Split(grown))
                extend(index + 1, grown, cores * parts)

    extend(0, (), 1)
    return found


def split_of(info: OpInfo, partition: Partition) -> Split | None:
    """The Split a partition is (None when its blocks are not such a grid)."""
    block = partition.blocks[0] if partition.blocks else None
    if block is None or not block.sizes or info.multi:
        return None
    parts = []
    for axis, (size, dim) in enumerate(zip(block.sizes, info.shape)):
        if size != dim and size:
            parts.append((axis, dim // size))
    parts.sort(key=lambda p: (p[0] not in info.channel_axes, p[0]))
    return Split(tuple(parts))


def tile_options(info: OpInfo, sizes: list[int]) -> list[tuple[int, int]]:
    """(axis, tiles) that cut a block of ``sizes`` into equal pieces along a parallel axis."""
    if info.multi:
        return []
    return [(axis, t) for axis in sorted(info.axes) for t in divisors(sizes[axis]) if t > 1]


def fitting_tiles(
    info: OpInfo, partition: Partition, ols: int, min_tiles: int = 1
) -> tuple[tuple[int, int] | None, TaskCost]:
    """The fewest tiles (at least ``min_tiles``; ties: the fastest) along one parallel
    axis whose working set fits VTCM, and its cost; ``(None, smallest need)`` when no
    tiling fits."""
    block = partition.blocks[0]
    sharing = max(1, len(partition.blocks))
    limit = info.hw.vtcm_usable_bytes
    best, best_key, smallest = None, None, None
    options = [(partition.tile_axis, 1)] + tile_options(info, block.sizes)
    for axis, tiles in options:
        if tiles < min_tiles:
            continue
        cost = task_cost(info, block.offsets, block.sizes, tiles, axis, ols, sharing)
        if smallest is None or cost.working_set_bytes < smallest.working_set_bytes:
            smallest = cost
        if cost.working_set_bytes > limit:
            continue
        key = (tiles, cost.seconds, axis)
        if best_key is None or key < best_key:
            best, best_key = ((axis, tiles), cost), key
    if best is None:
        return None, smallest if smallest is not None else task_cost(info, block.offsets, block.sizes)
    return best


# -- a module's estimate ----------------------------------------------------------------


@dataclass
class CoreEstimate:
    core: int
    working_set_bytes: int
    block_bytes: int
    load_bytes: int
    store_bytes: int
    seconds: float
    idle_seconds: float


@dataclass
class OpEstimate:
    op: Operation
    name: str
    partition: Partition
    cores: list[CoreEstimate]

    @property
    def seconds(self) -> float:
        return max(c.seconds for c in self.cores)

    @property
    def working_set_bytes(self) -> int:
        return max(c.working_set_bytes for c in self.cores)

    @property
    def block_bytes(self) -> int:
        return max(c.block_bytes for c in self.cores)


@dataclass
class ModuleEstimate:
    hw: HardwareModel
    ops: list[OpEstimate]
    critical_path_seconds: float
    makespan_seconds: float
    core_busy_seconds: dict[int, float] = field(default_factory=dict)

    @property
    def idle_seconds(self) -> float:
        """Idle time of the DMA engines and compute units, summed over every task."""
        return sum(c.idle_seconds for o in self.ops for c in o.cores)

    @property
    def max_working_set_bytes(self) -> int:
        return max((o.working_set_bytes for o in self.ops), default=0)

    @property
    def max_block_bytes(self) -> int:
        return max((o.block_bytes for o in self.ops), default=0)

    @property
    def ddr_bytes(self) -> int:
        return sum(c.load_bytes + c.store_bytes for o in self.ops for c in o.cores)

    def op(self, name: str) -> OpEstimate:
        for estimate in self.ops:
            if estimate.name == name:
                return estimate
        raise KeyError(name)


def estimate_op(info: OpInfo, partition: Partition) -> OpEstimate:
    cores = []
    for block in partition.blocks:
        cost = partition_cost(info, partition, block)
        cores.append(CoreEstimate(block.core, cost.working_set_bytes, cost.block_bytes, cost.load_bytes,
                                  cost.store_bytes, cost.seconds, cost.idle_seconds))
    return OpEstimate(info.op, info.name, partition, cores)


def estimate_module(module: ModuleOp, hw: HardwareModel | None = None) -> ModuleEstimate:
    """Per op and per core figures of a partitioned aic_graph module (ops without
    ``aic.blocks`` run whole on core 0), its critical path and makespan."""
    hw = hw or target_of(module, None)
    function = main_graph(module, "estimate")
    fused = fused_dequantized(function)
    graph = dataflow_graph(function)
    estimates: dict[Operation, OpEstimate] = {}
    for op in function.body.block.ops:
        if is_task(op, fused):
            estimates[op] = estimate_op(OpInfo(op, hw, fused), read_partition(op))
    weight = {op: (estimates[op].seconds if op in estimates else 0.0) for op in graph}
    longest: dict[Operation, float] = {}
    for op in nx.topological_sort(graph):
        longest[op] = weight[op] + max((longest[p] for p in graph.predecessors(op)), default=0.0)
    finish: dict[Operation, float] = {}
    core_free: dict[int, float] = {}
    busy: dict[int, float] = {}
    for op in function.body.block.ops:  # program order, as every core runs its tasks
        if op not in graph:
            continue
        ready = max((finish[p] for p in graph.predecessors(op)), default=0.0)
        if op not in estimates:
            finish[op] = ready
            continue
        end = ready
        for core in estimates[op].cores:
            start = max(ready, core_free.get(core.core, 0.0))
            core_free[core.core] = start + core.seconds
            busy[core.core] = busy.get(core.core, 0.0) + core.seconds
            end = max(end, core_free[core.core])
        finish[op] = end
    return ModuleEstimate(
        hw=hw,
        ops=list(estimates.values()),
        critical_path_seconds=max(longest.values(), default=0.0),
        makespan_seconds=max(finish.values(), default=0.0),
        core_busy_seconds=busy,
    )
