"""``batch``: compile for B samples per inference (``qaic-exec -batchsize=B``).

    qaicc-opt model.onnx -p '...,convert-onnx-to-aic-graph,batch{size=8}'

A model compiled at batch 1 becomes a model of batch B: the leading dimension of every
input and output is multiplied by B, and so is the batch dimension of every value
computed from the inputs. Running the batched model on B samples concatenated along the
leading axis gives the original model's results on each sample, concatenated the same
way. Constants (weights) are unchanged.

How: the batch axis is tracked from the inputs (axis 0) through every op, by a rule per
op (``BATCH_RULES``): elementwise ops and broadcasting keep it (an unbatched operand
broadcasts over it), transposes move it, reductions and keepdims-free ops renumber it,
and a reshape keeps it as the outermost factor of the axis whose leading dimensions
match (``[1, 16, 768] -> [16, 768]`` batches as ``[16B, 768]``). Ops whose types or
properties depend on the batch are updated (result types of reshape, expand, tile,
slice ends over the batch, ...); an unbatched operand of a concat along another axis is
tiled B times; an output computed from constants only is tiled B times.

A model whose batch dimension cannot be identified is an error naming the op and why,
e.g. a reduction, softmax or concat over the batch axis, a reshape that mixes the batch
with other dimensions, or a broadcast of a size-1 batch dimension against a constant.

Options: ``size`` (B, a positive integer; 1 leaves the model unchanged).
From Python: ``batch(module, 8)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, StringAttr, TensorType, i64
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter

from qaicc.dialects.aic_graph import ops as g
from qaicc.errors import QaiccError
from qaicc.onnx_io.attributes import int_array
from qaicc.passes.aic_graph_patterns.matching import constant_array, constant_name, make_constant

PASS_NAME = "batch"

Axis = int | None
"""The axis of a value along which samples are concatenated; None: not batched."""


class BatchError(Exception):
    """An op whose batch axis cannot be carried through (the pass names the op)."""


def _shape(value: SSAValue) -> tuple[int, ...]:
    return tuple(value.type.get_shape())


def _rank(value: SSAValue) -> int:
    return len(value.type.get_shape())


def _check_not_broadcast(op: Operation, axes: list[Axis], out_axis: int) -> None:
    """Batched operands have the output's size along the batch axis; unbatched ones
    have size 1 there (or lack the axis): numpy broadcasting aligns trailing axes."""
    out_shape, out_rank = _shape(op.results[0]), _rank(op.results[0])
    for index, (operand, axis) in enumerate(zip(op.operands, axes)):
        position = out_axis - (out_rank - _rank(operand))
        if axis is not None:
            if _shape(operand)[axis] != out_shape[out_axis]:
                raise BatchError(f"operand {index} broadcasts its batch dimension of size {_shape(operand)[axis]}")
        elif position >= 0 and _shape(operand)[position] != 1:
            raise BatchError(
                f"operand {index} is not batched but has size {_shape(operand)[position]} along the batch axis"
            )


def _aligned(op: Operation, axes: list[Axis]) -> int:
    """The output axis of batched operands of a broadcasting op (all must agree)."""
    out_rank = _rank(op.results[0])
    found = {axis + out_rank - _rank(v) for v, axis in zip(op.operands, axes) if axis is not None}
    if len(found) != 1:
        raise BatchError(f"operands are batched along different axes {sorted(found)}")
    return found.pop()


# -- rules: (op, operand batch axes, B) -> result batch axes ----------------------------
def _same(op, axes, ctx):
    return [axes[0]]


def _broadcasting(op, axes, ctx):
    out_axis = _aligned(op, axes)
    _check_not_broadcast(op, axes, out_axis)
    return [out_axis]


def _batch_first_only(op, axes, ctx):
    """conv, pool, instance_norm, resize: NC... layout, the batch is N."""
    if axes[0] != 0:
        raise BatchError(f"the batch is along axis {axes[0]}, not N (axis 0)")
    if any(axis is not None for axis in axes[1:]):
        raise BatchError("a weight, scale or bias operand depends on the inputs")
    if _shape(op.operands[0])[0] != _shape(op.results[0])[0]:
        raise BatchError("it changes the size of axis 0")
    return [0]


def _matmul(op: g.MatMulOp, axes, ctx):
    out_rank = _rank(op.output)
    a_axis, b_axis = axes[0], axes[1]
    flags = [op.transpose_a, op.transpose_b]
    transposed = [flag is not None and bool(flag.value.data) for flag in flags]
    found: set[int] = set()
    for which, (value, axis) in enumerate(((op.a, a_axis), (op.b, b_axis))):
        if axis is None:
            continue
        rank = _rank(value)
        if rank < 2:
            raise BatchError("a 1-D matmul operand is batched along its reduction axis")
        if which == 0:
            free, reduced = (rank - 1, rank - 2) if transposed[0] else (rank - 2, rank - 1)
        else:
            reduced, free = (rank - 1, rank - 2) if transposed[1] else (rank - 2, rank - 1)
        if axis == reduced:
            raise BatchError(f"operand {'ab'[which]} is batched along the reduction axis")
        found.add(out_rank - 2 + which if axis == free else axis + out_rank - rank)
    if op.bias is not None and axes[2] is not None:
        found.add(axes[2] + out_rank - _rank(op.bias))
    if len(found) != 1:
        raise BatchError(f"operands are batched along different output axes {sorted(found)}")
    out_axis = found.pop()
    if out_axis < out_rank - 2:  # a broadcast (batch-of-matrices) axis: check broadcasting
        for value, axis in ((op.a, a_axis), (op.b, b_axis)):
            position = out_axis - (out_rank - _rank(value))
            if axis is None and position >= 0 and _shape(value)[position] != 1:
                raise BatchError(f"an unbatched operand has size {_shape(value)[position]} along the batch axis")
            if axis is not None and _shape(value)[axis] != _shape(op.output)[out_axis]:
                raise BatchError("an operand broadcasts its batch dimension")
    if op.bias is not None:
        position = out_axis - (out_rank - _rank(op.bias))
        if axes[2] is None and position >= 0 and _shape(op.bias)[position] != 1:
            raise BatchError("the bias is not batched but varies along the batch axis")
    return [out_axis]


def _reduce(op: g.ReduceOp, axes, ctx):
    rank, axis = _rank(op.input), axes[0]
    reduced = {a % rank for a in op.int_list("axes")} if op.int_list("axes") else set(range(rank))
    if axis in reduced:
        raise BatchError("it reduces over the batch axis")
    return [axis if op.keepdims.value.data else axis - sum(1 for a in reduced if a < axis)]


def _arg_reduce(op: g.ArgReduceOp, axes, ctx):
    rank, axis = _rank(op.input), axes[0]
    reduced = op.int_prop("axis") % rank
    if reduced == axis:
        raise BatchError("it reduces over the batch axis")
    return [axis if op.keepdims.value.data else axis - (reduced < axis)]


def _softmax(op: g.SoftmaxOp, axes, ctx):
    if op.int_prop("axis") % _rank(op.input) == axes[0]:
        raise BatchError("it normalizes over the batch axis")
    return [axes[0]]


def _layer_norm(op: g.LayerNormOp, axes, ctx):
    if axes[0] is None or any(axis is not None for axis in axes[1:]):
        raise BatchError("its scale or bias depends on the inputs")
    if axes[0] >= op.int_prop("axis") % _rank(op.input):
        raise BatchError("it normalizes over the batch axis")
    return [axes[0]]


def _gather(op: g.GatherOp, axes, ctx):
    data_axis, index_axis = axes
    rank = _rank(op.data)
    axis = op.int_prop("axis") % rank
    if data_axis is not None and index_axis is not None:
        raise BatchError("both the data and the indices are batched")
    if index_axis is not None:
        return [axis + index_axis]
    if data_axis == axis:
        raise BatchError("it gathers along the batch axis")
    return [data_axis if data_axis < axis else data_axis + _rank(op.indices) - 1]


def _gather_nd(op: g.GatherNDOp, axes, ctx):
    data_axis, index_axis = axes
    batch_dims = op.int_prop("batch_dims")
    index_rank = _rank(op.indices)
    depth = _shape(op.indices)[-1]
    if batch_dims >= 1:
        if data_axis == 0 and index_axis == 0:
            return [0]
        raise BatchError("with batch_dims, the data and the indices must both be batched along axis 0")
    if data_axis is None and index_axis < index_rank - 1:
        return [index_axis]
    if index_axis is None and data_axis >= depth:
        return [index_rank - 1 + data_axis - depth]
    if index_axis is None and data_axis == 0 and _batch_index_column(op, ctx):
        return [0]
    raise BatchError("it indexes along the batch axis")


def _batch_index_column(op: g.GatherNDOp, ctx: BatchContext) -> bool:
    """Constant indices whose first component selects sample 0 of a batch of 1 (the
    ``arange(batch)`` column exporters emit, folded at batch 1): each sample selects
    itself, i.e. ``batch_dims = 1`` with that column dropped and the rest repeated."""
    indices = constant_array(op.indices)
    if indices is None or indices.ndim < 2 or indices.shape[0] != 1 or indices.shape[-1] < 2:
        return False
    if _shape(op.data)[0] != 1 or not np.all((indices[..., 0] == 0) | (indices[..., 0] == -1)):
        return False

    def fixup() -> None:
        per_sample = np.repeat(indices[..., 1:], ctx.size, axis=0)
        constant = make_constant(per_sample, constant_name(op.indices) + ".batched")
        Rewriter.insert_op(constant, InsertPoint.before(op))
        op.operands[1] = constant.output
        op.properties["batch_dims"] = IntegerAttr(1, i64)

    ctx.fixups.append(fixup)
    return True


def _concat(op: g.ConcatOp, axes, ctx):
    batched = {axis for axis in axes if axis is not None}
    if len(batched) != 1:
        raise BatchError(f"operands are batched along different axes {sorted(batched)}")
    axis = batched.pop()
    if op.int_prop("axis") % _rank(op.output) == axis:
        raise BatchError("it concatenates along the batch axis")
    for index, (operand, operand_axis) in enumerate(zip(list(op.operands), axes)):
        if operand_axis is None:
            ctx.fixups.append(lambda index=index, operand=operand: op.operands.__setitem__(
                index, _tile(operand, axis, ctx.size, op)))
    return [axis]


def _tile(value: SSAValue, axis: int, size: int, before: Operation) -> SSAValue:
    """``value`` repeated ``size`` times along ``axis`` (an unbatched value made batched)."""
    repeats = [1] * _rank(value)
    repeats[axis] = size
    tile = g.TileOp.build(operands=[value], result_types=[_batched_type(value.type, axis, size)],
                          properties={"repeats": int_array(repeats)})
    if value.name_hint:
        tile.output.name_hint = f"{value.name_hint}.tiled"
    Rewriter.insert_op(tile, InsertPoint.before(before))
    return tile.output


def _slice(op: g.SliceOp, axes, ctx):
    axis, rank = axes[0], _rank(op.input)
    dim = _shape(op.input)[axis]
    ends = op.int_list("ends")
    for index, (start, end, sliced, step) in enumerate(
        zip(op.int_list("starts"), ends, op.int_list("axes"), op.int_list("steps"))
    ):
        if sliced % rank != axis:
            continue
        if slice(start, end, step).indices(dim) != (0, dim, 1):
            raise BatchError("it slices the batch axis")
        ends[index] = max(end, dim * ctx.size)
    ctx.fixups.append(lambda: op.properties.__setitem__("ends", int_array(ends)))
    return [axis]


def _split(op: g.SplitOp, axes, ctx):
    if op.int_prop("axis") % _rank(op.input) == axes[0]:
        raise BatchError("it splits along the batch axis")
    return [axes[0]] * len(op.results)


def _pad(op: g.PadOp, axes, ctx):
    pads, rank, axis = op.int_list("pads"), _rank(op.input), axes[0]
    if pads[axis] != 0 or pads[rank + axis] != 0:
        raise BatchError("it pads the batch axis")
    return [axis]


def _reshape(op: g.ReshapeOp, axes, ctx):
    in_shape, out_shape, axis = _shape(op.input), _shape(op.output), axes[0]
    outer = int(np.prod(in_shape[:axis]))
    for candidate in range(len(out_shape)):
        if int(np.prod(out_shape[:candidate])) == outer:
            return [candidate]
    raise BatchError(f"it mixes the batch dimension with other dimensions ({list(in_shape)} -> {list(out_shape)})")


def _transpose(op: g.TransposeOp, axes, ctx):
    return [op.int_list("perm").index(axes[0])]


def _expand(op: g.ExpandOp, axes, ctx):
    out_axis = axes[0] + _rank(op.output) - _rank(op.input)
    if _shape(op.input)[axes[0]] != _shape(op.output)[out_axis]:
        raise BatchError("it expands the batch dimension")
    return [out_axis]


def _tile_rule(op: g.TileOp, axes, ctx):
    if op.int_list("repeats")[axes[0]] != 1:
        raise BatchError("it repeats along the batch axis")
    return [axes[0]]


@dataclass
class BatchContext:
    """What rules see: the batch size, and the changes to make once every batch axis
    is known (rules read the batch-1 types, so the IR changes only at the end)."""

    size: int
    fixups: list[Callable[[], object]] = field(default_factory=list)


BATCH_RULES: dict[type[Operation], Callable[[Operation, list[Axis], BatchContext], list[Axis]]] = {
    g.UnaryOp: _same, g.CastOp: _same, g.DequantizeOp: _same, g.GeluOp: _same,
    g.BinaryOp: _broadcasting, g.SelectOp: _broadcasting,
    g.ConvOp: _batch_first_only, g.PoolOp: _batch_first_only, g.InstanceNormOp: _batch_first_only,
    g.ResizeOp: _batch_first_only,
    g.MatMulOp: _matmul, g.ReduceOp: _reduce, g.ArgReduceOp: _arg_reduce, g.SoftmaxOp: _softmax,
    g.LayerNormOp: _layer_norm, g.GatherOp: _gather, g.GatherNDOp: _gather_nd, g.ConcatOp: _concat,
    g.SliceOp: _slice, g.SplitOp: _split, g.PadOp: _pad, g.ReshapeOp: _reshape,
    g.TransposeOp: _transpose, g.ExpandOp: _expand, g.TileOp: _tile_rule,
}
"""How each op carries the batch axis of its operands to its results."""


def _batched_type(type: TensorType, axis: int, size: int) -> TensorType:
    shape = list(type.get_shape())
    shape[axis] *= size
    return TensorType(type.element_type, shape)


def _describe(op: Operation) -> str:
    node = op.attributes.get("onnx_node_name")
    return f"'{op.name}'" + (f" ('{node.data}')" if isinstance(node, StringAttr) else "")


def _output_names(function: func.FuncOp) -> list[str]:
    names = []
    for index in range(len(function.function_type.outputs.data)):
        attrs = function.res_attrs.data[index].data if function.res_attrs else {}
        name = attrs.get("onnx.name")
        names.append(name.data if isinstance(name, StringAttr) else f"output {index}")
    return names


def batch_function(function: func.FuncOp, size: int) -> None:
    block = function.body.block
    for arg in block.args:
        if not isinstance(arg.type, TensorType) or not arg.type.get_shape():
            raise QaiccError(f"{PASS_NAME}: input {arg.index} of @{function.sym_name.data} has no leading dimension to batch")
    axes: dict[SSAValue, int] = {arg: 0 for arg in block.args}
    ctx = BatchContext(size)
    returned = block.last_op
    for op in block.ops:
        if op is returned:
            break
        operand_axes = [axes.get(operand) for operand in op.operands]
        if all(axis is None for axis in operand_axes):
            continue
        for result, axis in zip(op.results, _result_axes(op, operand_axes, ctx)):
            if axis is not None:
                axes[result] = axis
    names = _output_names(function)
    if isinstance(returned, func.ReturnOp):
        for index, value in enumerate(returned.operands):
            if axes.get(value, 0) != 0:
                raise QaiccError(f"{PASS_NAME}: output '{names[index]}' has its batch along axis {axes[value]}, not 0")
    for fixup in ctx.fixups:
        fixup()
    batched = {}
    for value, axis in axes.items():
        batched[Rewriter.replace_value_with_new_type(value, _batched_type(value.type, axis, size))] = axis
    if isinstance(returned, func.ReturnOp):
        _batch_outputs(returned, batched, names, size)
    outputs = [value.type for value in returned.operands] if returned is not None else []
    function.function_type = func.FunctionType.from_lists([arg.type for arg in block.args], outputs)


def _result_axes(op: Operation, operand_axes: list[Axis], ctx: BatchContext) -> list[Axis]:
    rule = BATCH_RULES.get(type(op))
    if rule is None:
        raise QaiccError(f"{PASS_NAME}: cannot batch {_describe(op)}: no batch rule for this op")
    try:
        return rule(op, operand_axes, ctx)
    except BatchError as error:
        raise QaiccError(
            f"{PASS_NAME}: cannot batch {_describe(op)}: {error}; the batch dimension cannot be identified"
        ) from None


def _batch_outputs(returned: func.ReturnOp, axes: dict[SSAValue, int], names: list[str], size: int) -> None:
    """An output computed from constants only is the same for every sample: tiled."""
    for index, value in enumerate(list(returned.operands)):
        if value in axes:
            continue
        if not _shape(value):
            raise QaiccError(f"{PASS_NAME}: output '{names[index]}' is a scalar computed from constants: nothing to batch")
        returned.operands[index] = _tile(value, 0, size, returned)


def batch(module: ModuleOp, size: int) -> None:
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise QaiccError(f"{PASS_NAME}: size must be a positive integer, got {size!r} (batch{{size=8}})")
    if size == 1:
        return
    for op in module.ops:
        if isinstance(op, func.FuncOp) and op.body.blocks:
            batch_function(op, size)


@dataclass(frozen=True)
class BatchPass(ModulePass):
    name = PASS_NAME

    size: int = 1

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        batch(op, self.size)
