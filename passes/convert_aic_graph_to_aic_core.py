"""``convert-aic-graph-to-aic-core``: the aic-graph function becomes one program per core.

    qaicc-opt m.mlir -p 'partition-cores{num-cores=4},convert-aic-graph-to-aic-core'

Every value of @main_graph gets a DDR tensor (inputs, outputs, constants, intermediates;
a reshape is an alias of its input's tensor, an MXFP6 weight stays MXFP6 in DDR and is
dequantized by the task that reads it). Every other aic_graph op becomes, on each core
of its partition (``aic.blocks``, see ``qaicc.dialects.aic_core.partition``; whole on
core 0 without one), one ``aic_core.task``: DMA loads of the operand blocks its output
block reads (from ``qaicc.dialects.aic_graph.slicing``), a compute region holding the op
on the tiles, and a DMA store of its output block; ``aic.tiles`` pieces are one loop,
never copies. A task waits for the semaphores of the tensors it reads (one signal per
producing core) and signals its own. The table a gather reads (an embedding) stays in
DDR (``in_ddr`` loads: indexed DMA, no VTCM). @main_graph keeps its signature and becomes one
``aic_core.launch``. The module records ``aic_core.num_cores``.

Options: ``num-cores`` (default: the module's ``aic.num_cores``, recorded by
``partition-cores``, else the largest core number used + 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import (
    ArrayAttr,
    FlatSymbolRefAttr,
    IntegerAttr,
    ModuleOp,
    StringAttr,
    TensorType,
    UnitAttr,
    i64,
)
from xdsl.ir import Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import Rewriter

from qaicc.dialects.aic_core import ops as c
from qaicc.ir.interned import int_array as _ints
from qaicc.ir.interned import int_attr as _int
from qaicc.ir.interned import string as _string
from qaicc.ir.interned import symbol as _symbol
from qaicc.ir.interned import tensor_type as _tensor
from qaicc.dialects.aic_core.partition import CoreBlock, Partition, read_partition
from qaicc.dialects.aic_graph import ops as g
from qaicc.dialects.aic_graph.slicing import operand_blocks
from qaicc.errors import QaiccError

MATRIX_OPS = (g.MatMulOp, g.ConvOp)


@dataclass
class _Tensor:
    """Where an SSA value of @main_graph lives in DDR."""

    symbol: str
    dequantize_to: TensorType | None = None  # an MXFP6 weight read through a dequantize


@dataclass
class _Converter:
    module: ModuleOp
    function: func.FuncOp
    num_cores: int | None
    tensors: dict[SSAValue, _Tensor] = field(default_factory=dict)
    producers: dict[str, int] = field(default_factory=dict)  # tensor -> producing tasks
    roots: dict[str, str] = field(default_factory=dict)  # alias -> root tensor
    declarations: list[Operation] = field(default_factory=list)
    by_symbol: dict[str, c.DDRTensorOp] = field(default_factory=dict)
    programs: dict[int, Block] = field(default_factory=dict)
    names: set[str] = field(default_factory=set)
    op_index: int = 0

    # -- DDR tensors --------------------------------------------------------------------
    def fresh(self, base: str) -> str:
        clean = "".join(ch if ch.isalnum() or ch in "_." else "_" for ch in base) or "t"
        name, counter = clean, 0
        while name in self.names:
            counter += 1
            name = f"{clean}_{counter}"
        self.names.add(name)
        return name

    def declare(self, base: str, type, kind: str, **props) -> str:
        name = self.fresh(base)
        properties = {"sym_name": StringAttr(name), "type": type, "kind": StringAttr(kind), **props}
        declaration = c.DDRTensorOp.create(properties=properties)
        self.declarations.append(declaration)
        self.by_symbol[name] = declaration
        if kind in ("intermediate", "output"):
            self.declarations.append(c.SemaphoreOp.create(properties={"sym_name": StringAttr(f"{name}.ready")}))
        return name

    def root(self, symbol: str) -> str:
        while symbol in self.roots:
            symbol = self.roots[symbol]
        return symbol

    def program(self, core: int) -> Block:
        if core not in self.programs:
            self.programs[core] = Block()
        return self.programs[core]

    # -- conversion ---------------------------------------------------------------------
    def run(self) -> None:
        block = self.function.body.block
        input_names = _io_names(self.function.arg_attrs, len(block.args), "input")
        for arg, io_name in zip(block.args, input_names):
            symbol = self.declare(f"in.{io_name}", arg.type, "input", io_name=StringAttr(io_name))
            self.tensors[arg] = _Tensor(symbol)
        returned = block.last_op
        for op in list(block.ops):
            if op is returned:
                break
            self.convert_op(op)
        outputs = self.bind_outputs(returned)
        self.finish(block, returned, outputs)

    def convert_op(self, op: Operation) -> None:
        if isinstance(op, g.ConstantOp):
            symbol = self.declare(op.value.blob_name.data, op.output.type, "constant", value=op.value)
            self.tensors[op.output] = _Tensor(symbol)
            return
        if isinstance(op, g.MXFP6ConstantOp):
            value = ArrayAttr([op.elements, op.scales, op.axis])
            symbol = self.declare(op.elements.blob_name.data, op.output.type, "constant", value=value)
            self.tensors[op.output] = _Tensor(symbol)
            return
        if isinstance(op, g.DequantizeOp) and self.tensors[op.input].dequantize_to is None:
            self.tensors[op.output] = _Tensor(self.tensors[op.input].symbol, op.output.type)
            return
        if isinstance(op, g.ReshapeOp) and self.tensors[op.input].dequantize_to is None:
            source = self.tensors[op.input].symbol
            symbol = self.declare(f"{source}.view", op.output.type, "alias", alias=FlatSymbolRefAttr(source))
            self.roots[symbol] = source
            self.tensors[op.output] = _Tensor(symbol)
            return
        if not isinstance(op, g.AicGraphOp):
            raise QaiccError(f"convert-aic-graph-to-aic-core: '{op.name}' is not an aic_graph op; lower it first")
        self.convert_compute(op)

    def convert_compute(self, op: g.AicGraphOp) -> None:
        node = op.attributes.get("onnx_node_name")
        base = node.data if isinstance(node, StringAttr) else op.name.removeprefix("aic_graph.")
        outputs = []
        for index, result in enumerate(op.results):
            symbol = self.declare(f"{base}.out{index}" if len(op.results) > 1 else base, result.type, "intermediate")
            self.tensors[result] = _Tensor(symbol)
            outputs.append(symbol)
        partition = read_partition(op)
        if len(op.results) != 1:
            partition = Partition([CoreBlock(partition.blocks[0].core if partition.blocks else 0, [], [])])
        for block in partition.blocks:
            self.emit_task(op, block, partition, outputs, base)
        for symbol in outputs:
            self.producers[symbol] = len(partition.blocks)
        self.op_index += 1

    def emit_task(self, op, block: CoreBlock, partition: Partition, outputs: list[str], base: str) -> None:
        program = self.program(block.core)
        multi = len(op.results) != 1
        tiles = 1 if multi else partition.tiles
        tile_sizes, tile_step = self.tile_shape(op, block, partition, tiles)
        waited = set()
        for operand in op.operands:
            root = self.root(self.tensors[operand].symbol)
            count = self.producers.get(root)
            if count and root not in waited:
                waited.add(root)
                program.add_op(c.WaitOp.create(properties={
                    "semaphore": _symbol(f"{root}.ready"), "count": _int(count)}))
        body = Block()
        if multi:
            blocks0 = blocks1 = [None] * len(op.operands)
        else:
            blocks0 = operand_blocks(op, block.offsets, tile_sizes)
            blocks1 = blocks0
            if tiles > 1:
                shifted = list(block.offsets)
                shifted[partition.tile_axis] += tile_step
                blocks1 = operand_blocks(op, shifted, tile_sizes)
        loaded = []
        for index, (operand, b0, b1) in enumerate(zip(op.operands, blocks0, blocks1)):
            in_ddr = isinstance(op, g.GatherOp) and index == 0  # embedding tables stay in DDR
            loaded.append(self.emit_load(body, operand, b0, b1, in_ddr))
        compute = self.emit_compute(body, op, loaded, tile_sizes)
        for index, (result, symbol) in enumerate(zip(compute.results, outputs)):
            offsets = block.offsets if not multi else [0] * len(result.type.get_shape())
            steps = [0] * len(offsets)
            if tiles > 1:
                steps[partition.tile_axis] = tile_step
            body.add_op(c.DMAStoreOp.create(operands=[result], properties={
                "target": _symbol(symbol), "offsets": _ints(tuple(offsets)), "tile_steps": _ints(tuple(steps))}))
        unit = "matrix" if isinstance(op, MATRIX_OPS) else "vector"
        task = c.TaskOp.create(
            properties={
                "op_name": _string(base), "op_index": _int(self.op_index),
                "unit": _string(unit), "tiles": _int(tiles),
                "ols": _int(min(partition.ols, tiles)),
            },
            regions=[Region(body)],
        )
        program.add_op(task)
        for symbol in outputs:
            program.add_op(c.SignalOp.create(properties={"semaphore": _symbol(f"{symbol}.ready")}))

    @staticmethod
    def tile_shape(op, block: CoreBlock, partition: Partition, tiles: int) -> tuple[list[int], int]:
        sizes = list(block.sizes) if block.sizes else list(op.results[0].type.get_shape())
        if tiles == 1:
            return sizes, 0
        axis = partition.tile_axis
        if sizes[axis] % tiles:
            raise QaiccError(
                f"{op.name}: {tiles} tiles do not divide the block ({sizes[axis]} on axis {axis}); "
                "partitioning must choose tile counts that divide"
            )
        sizes[axis] //= tiles
        return sizes, sizes[axis]

    def emit_load(self, body: Block, operand: SSAValue, b0, b1, in_ddr: bool = False) -> SSAValue:
        tensor = self.tensors[operand]
        shape = list(operand.type.get_shape())
        offsets, sizes = b0 if b0 is not None else ([0] * len(shape), shape)
        steps = [0] * len(shape)
        if b0 is not None and b1 is not None:
            steps = [x1 - x0 for x0, x1 in zip(offsets, b1[0])]
        stored_type = operand.type if tensor.dequantize_to is None else self.stored_type(tensor)
        properties = {"source": _symbol(tensor.symbol), "offsets": _ints(tuple(offsets)),
                      "tile_steps": _ints(tuple(steps))}
        if in_ddr:
            properties["in_ddr"] = UnitAttr()
        load = c.DMALoadOp.create(properties=properties, result_types=[_tensor(stored_type.element_type, tuple(sizes))])
        body.add_op(load)
        return load.results[0]

    def stored_type(self, tensor: _Tensor) -> TensorType:
        return self.declaration(tensor.symbol).type

    def emit_compute(self, body: Block, op: g.AicGraphOp, loaded: list[SSAValue], tile_sizes) -> c.ComputeOp:
        region_block = Block(arg_types=[v.type for v in loaded])
        operands = []
        for arg, operand in zip(region_block.args, op.operands):
            tensor = self.tensors[operand]
            if tensor.dequantize_to is None:
                operands.append(arg)
                continue
            dequantize = g.DequantizeOp.create(
                operands=[arg], result_types=[TensorType(tensor.dequantize_to.element_type, arg.type.get_shape())])
            region_block.add_op(dequantize)
            operands.append(dequantize.results[0])
        if len(op.results) == 1:
            result_types = [_tensor(op.results[0].type.element_type, tuple(tile_sizes))]
        else:
            result_types = [r.type for r in op.results]
        clone = type(op).create(operands=operands, result_types=result_types, properties=dict(op.properties))
        _adjust_for_tile(clone)
        region_block.add_op(clone)
        region_block.add_op(c.YieldOp.create(operands=list(clone.results)))
        compute = c.ComputeOp.create(
            operands=loaded, result_types=result_types,
            properties={"unit": _string("matrix" if isinstance(op, MATRIX_OPS) else "vector")},
            regions=[Region(region_block)],
        )
        body.add_op(compute)
        return compute

    # -- outputs and launch ---------------------------------------------------------------
    def bind_outputs(self, returned: Operation) -> list[str]:
        names = _io_names(self.function.res_attrs, len(returned.operands), "output")
        outputs = []
        for value, io_name in zip(returned.operands, names):
            symbol = self.tensors[value].symbol
            declaration = self.declaration(symbol)
            if declaration.kind.data == "intermediate":
                declaration.properties["kind"] = StringAttr("output")
                declaration.properties["io_name"] = StringAttr(io_name)
                outputs.append(symbol)
                continue
            if declaration.kind.data == "alias" and "io_name" not in declaration.properties:
                declaration.properties["io_name"] = StringAttr(io_name)  # a reshape of a result
                outputs.append(symbol)
                continue
            outputs.append(self.copy_to_output(value, io_name))
        return outputs

    def declaration(self, symbol: str) -> c.DDRTensorOp:
        found = self.by_symbol.get(symbol)
        if found is None:
            raise QaiccError(f"unknown DDR tensor @{symbol}")
        return found

    def copy_to_output(self, value: SSAValue, io_name: str) -> str:
        """An output that is an input or a constant (or returned twice): copied on core 0."""
        copy = g.UnaryOp.create(operands=[value], result_types=[value.type],
                                properties={"kind": StringAttr("identity")})
        self.convert_compute(copy)
        symbol = self.tensors[copy.results[0]].symbol
        declaration = self.declaration(symbol)
        declaration.properties["kind"] = StringAttr("output")
        declaration.properties["io_name"] = StringAttr(io_name)
        return symbol

    def finish(self, block: Block, returned: Operation, outputs: list[str]) -> None:
        inputs = [self.tensors[arg].symbol for arg in block.args]
        num_cores = self.num_cores or (max(self.programs) + 1 if self.programs else 1)
        launch = c.LaunchOp.create(
            operands=list(block.args),
            result_types=[v.type for v in returned.operands],
            properties={"inputs": ArrayAttr([FlatSymbolRefAttr(s) for s in inputs]),
                        "outputs": ArrayAttr([FlatSymbolRefAttr(s) for s in outputs])},
        )
        for op in list(block.ops):
            if op is not returned:
                Rewriter.erase_op(op, safe_erase=False)
        block.insert_op_before(launch, returned)
        for index, result in enumerate(launch.results):
            returned.operands[index] = result
        for op in self.declarations:
            self.module.body.block.add_op(op)
        for core in range(num_cores):
            program = c.ProgramOp.create(
                properties={"core": IntegerAttr(core, i64)},
                regions=[Region(self.programs.pop(core, Block()))],
            )
            self.module.body.block.add_op(program)
        if self.programs:
            raise QaiccError(f"partition uses core {max(self.programs)}, but num-cores is {num_cores}")
        self.module.attributes["aic_core.num_cores"] = IntegerAttr(num_cores, i64)


def _adjust_for_tile(op: Operation) -> None:
    """Properties that depend on the block a tile covers (depthwise conv groups)."""
    if isinstance(op, g.ConvOp) and op.int_prop("group", 1) > 1:
        op.properties["group"] = IntegerAttr(op.results[0].type.get_shape()[1], i64)


def _io_names(attrs, count: int, prefix: str) -> list[str]:
    names = []
    for index in range(count):
        entry = attrs.data[index].data.get("onnx.name") if attrs else None
        names.append(entry.data if isinstance(entry, StringAttr) else f"{prefix}_{index}")
    return names


@dataclass(frozen=True)
class ConvertAicGraphToAicCorePass(ModulePass):
    name = "convert-aic-graph-to-aic-core"

    num_cores: int | None = None

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        function = next((f for f in op.ops if isinstance(f, func.FuncOp) and f.sym_name.data == "main_graph"), None)
        if function is None:
            raise QaiccError("convert-aic-graph-to-aic-core: the module has no func.func @main_graph")
        num_cores = self.num_cores
        if num_cores is None and isinstance(op.attributes.get("aic.num_cores"), IntegerAttr):
            num_cores = op.attributes["aic.num_cores"].value.data  # recorded by partition-cores
        _Converter(op, function, num_cores).run()
