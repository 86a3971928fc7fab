"""How an aic_graph op's work splits: its parallel output axes, and for a block of its
output (offsets and sizes on every axis) the block of each operand it reads.

This is the one place that knows the access pattern of every aic_graph op; core
partitioning, ols splitting, tiling and the lowering to aic-core all use it.

``parallel_axes(op)`` -> {output axis: "rows" | "channels"}: the axes along which the
output can be cut into independent pieces ("channels" cuts the op's weight too).
``operand_blocks(op, offsets, sizes)`` -> for each operand, its (offsets, sizes) block,
or None when the op reads the whole operand.
"""

from __future__ import annotations

from collections.abc import Sequence

from qaicc.dialects.aic_graph import ops as g

Block = tuple[list[int], list[int]]


def _shape(value) -> list[int]:
    return list(value.type.get_shape())


def _broadcast_block(operand_shape: list[int], out_rank: int, offsets, sizes, out_shape) -> Block:
    """The block of a numpy-broadcast operand that an output block reads."""
    lead = out_rank - len(operand_shape)
    off, size = [], []
    for axis, dim in enumerate(operand_shape):
        out_axis = axis + lead
        if dim == 1 and out_shape[out_axis] != 1:
            off.append(0)
            size.append(1)
        else:
            off.append(offsets[out_axis])
            size.append(sizes[out_axis])
    return off, size


ELEMENTWISE = (g.UnaryOp, g.BinaryOp, g.SelectOp, g.CastOp, g.GeluOp, g.ExpandOp)


def parallel_axes(op) -> dict[int, str]:
    out = _shape(op.results[0]) if op.results else []
    rank = len(out)
    if isinstance(op, ELEMENTWISE):
        return {axis: "rows" for axis in range(rank)}
    if isinstance(op, g.MatMulOp):
        axes = {axis: "rows" for axis in range(rank - 1)}
        axes[rank - 1] = "channels"
        return axes
    if isinstance(op, g.ConvOp):
        return {0: "rows", 1: "channels"} if _conv_channel_split_ok(op) else {0: "rows"}
    if isinstance(op, g.PoolOp):
        return {0: "rows", 1: "rows"}
    if isinstance(op, g.InstanceNormOp):
        return {0: "rows", 1: "channels"}
    if isinstance(op, g.LayerNormOp):
        return {axis: "rows" for axis in range(op.int_prop("axis") % rank)}
    if isinstance(op, g.SoftmaxOp):
        return {axis: "rows" for axis in range(rank) if axis != op.int_prop("axis") % rank}
    if isinstance(op, (g.ReduceOp, g.ArgReduceOp)):
        return {axis: "rows" for axis in _reduce_out_to_in(op)}
    if isinstance(op, g.TransposeOp):
        return {axis: "rows" for axis in range(rank)}
    if isinstance(op, g.ConcatOp):
        return {axis: "rows" for axis in range(rank) if axis != op.int_prop("axis") % rank}
    if isinstance(op, g.SliceOp):
        sliced = {a % rank for a in op.int_list("axes")}
        return {axis: "rows" for axis in range(rank) if axis not in sliced}
    if isinstance(op, g.PadOp):
        pads = op.int_list("pads")
        return {axis: "rows" for axis in range(rank) if pads[axis] == 0 and pads[axis + rank] == 0}
    if isinstance(op, g.TileOp):
        repeats = op.int_list("repeats")
        return {axis: "rows" for axis in range(rank) if repeats[axis] == 1}
    if isinstance(op, g.ResizeOp):
        source = _shape(op.input)
        return {axis: "rows" for axis in range(rank) if source[axis] == out[axis]}
    if isinstance(op, g.GatherOp):
        data_rank, indices_rank = len(_shape(op.data)), len(_shape(op.indices))
        axis = op.int_prop("axis") % data_rank
        return {a: "rows" for a in range(axis, axis + indices_rank)}
    return {}


def _conv_channel_split_ok(op: g.ConvOp) -> bool:
    group = op.int_prop("group", 1)
    return group == 1 or group == _shape(op.output)[1]


def _reduce_out_to_in(op) -> dict[int, int]:
    in_rank = len(_shape(op.input))
    if isinstance(op, g.ArgReduceOp):
        reduced = {op.int_prop("axis") % in_rank}
        keep = bool(op.keepdims.value.data)
    else:
        reduced = {a % in_rank for a in op.int_list("axes")} or set(range(in_rank))
        keep = bool(op.keepdims.value.data)
    mapping, out_axis = {}, 0
    for axis in range(in_rank):
        if axis in reduced:
            out_axis += 1 if keep else 0
            continue
        mapping[out_axis] = axis
        out_axis += 1
    return mapping


def operand_blocks(op, offsets: Sequence[int], sizes: Sequence[int]) -> list[Block | None]:
    """The block of each operand read to produce the output block (None: all of it)."""
    offsets, sizes = list(offsets), list(sizes)
    out = _shape(op.results[0])
    rank = len(out)
    full = [o == 0 and s == d for o, s, d in zip(offsets, sizes, out)]
    if all(full):
        return [None] * len(op.operands)
    if isinstance(op, ELEMENTWISE):
        return [_broadcast_block(_shape(v), rank, offsets, sizes, out) for v in op.operands]
    if isinstance(op, g.MatMulOp):
        return _matmul_blocks(op, offsets, sizes, out)
    if isinstance(op, g.ConvOp):
        return _conv_blocks(op, offsets, sizes)
    if isinstance(op, g.PoolOp):
        x = _shape(op.input)
        return [([offsets[0], offsets[1], *[0] * (len(x) - 2)], [sizes[0], sizes[1], *x[2:]])]
    if isinstance(op, g.InstanceNormOp):
        x = _shape(op.input)
        channel = ([offsets[1]], [sizes[1]])
        return [([offsets[0], offsets[1], *[0] * (len(x) - 2)], [sizes[0], sizes[1], *x[2:]]), channel, channel]
    if isinstance(op, (g.LayerNormOp, g.SoftmaxOp, g.ConcatOp, g.SliceOp, g.PadOp, g.TileOp, g.ResizeOp)):
        return _same_axis_blocks(op, offsets, sizes, out)
    if isinstance(op, (g.ReduceOp, g.ArgReduceOp)):
        x = _shape(op.input)
        off, size = [0] * len(x), list(x)
        for out_axis, in_axis in _reduce_out_to_in(op).items():
            off[in_axis], size[in_axis] = offsets[out_axis], sizes[out_axis]
        return [(off, size)]
    if isinstance(op, g.TransposeOp):
        perm = op.int_list("perm")
        off, size = [0] * rank, [0] * rank
        for out_axis, in_axis in enumerate(perm):
            off[in_axis], size[in_axis] = offsets[out_axis], sizes[out_axis]
        return [(off, size)]
    if isinstance(op, g.GatherOp):
        return _gather_blocks(op, offsets, sizes)
    return [None] * len(op.operands)


def _same_axis_blocks(op, offsets, sizes, out) -> list[Block | None]:
    """Ops that read, on every cut axis, the same range of their data operand(s)."""
    blocks: list[Block | None] = []
    for value in op.operands:
        shape = _shape(value)
        if len(shape) != len(out):  # scale/bias of a normalization: whole
            blocks.append(None)
            continue
        off, size = [0] * len(shape), list(shape)
        for axis, (o, s, d) in enumerate(zip(offsets, sizes, out)):
            if not (o == 0 and s == d):
                off[axis], size[axis] = o, s
        blocks.append((off, size))
    return blocks


def _matmul_blocks(op: g.MatMulOp, offsets, sizes, out) -> list[Block | None]:
    rank = len(out)
    transpose_a = op.transpose_a is not None and bool(op.transpose_a.value.data)
    transpose_b = op.transpose_b is not None and bool(op.transpose_b.value.data)
    a, b = _shape(op.a), _shape(op.b)

    def operand_block(shape, carried_out_axis, transpose) -> Block | None:
        """a carries the output's M axis (rank-2), b its N axis (rank-1)."""
        if len(shape) < 2:
            return None
        lead = rank - len(shape)
        off, size = [0] * len(shape), list(shape)
        for axis in range(len(shape) - 2):  # batch dims, broadcast
            out_axis = axis + lead
            if shape[axis] != 1:
                off[axis], size[axis] = offsets[out_axis], sizes[out_axis]
        if carried_out_axis == rank - 2:
            inner = len(shape) - 2 + int(transpose)
        else:
            inner = len(shape) - 1 - int(transpose)
        off[inner], size[inner] = offsets[carried_out_axis], sizes[carried_out_axis]
        return off, size

    blocks: list[Block | None] = [operand_block(a, rank - 2, transpose_a), operand_block(b, rank - 1, transpose_b)]
    if op.bias is not None:
        blocks.append(_broadcast_block(_shape(op.bias), rank, offsets, sizes, out))
    return blocks


def _conv_blocks(op: g.ConvOp, offsets, sizes) -> list[Block | None]:
    x, w = _shape(op.input), _shape(op.weight)
    depthwise = op.int_prop("group", 1) > 1
    x_block = ([offsets[0], offsets[1] if depthwise else 0, *[0] * (len(x) - 2)],
               [sizes[0], sizes[1] if depthwise else x[1], *x[2:]])
    w_block = ([offsets[1], *[0] * (len(w) - 1)], [sizes[1], *w[1:]])
    blocks: list[Block | None] = [x_block, w_block]
    if op.bias is not None:
        blocks.append(([offsets[1]], [sizes[1]]))
    return blocks


def _gather_blocks(op: g.GatherOp, offsets, sizes) -> list[Block | None]:
    data, indices = _shape(op.data), _shape(op.indices)
    axis = op.int_prop("axis") % len(data)
    off, size = [0] * len(indices), list(indices)
    for k in range(len(indices)):
        off[k], size[k] = offsets[axis + k], sizes[axis + k]
    return [None, (off, size)]
