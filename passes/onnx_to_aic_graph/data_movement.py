"""Data movement: Reshape, Flatten, Squeeze, Unsqueeze (aic_graph.reshape: the static
result type says the shape), Transpose, Concat, Slice, Split, Gather, GatherND, Expand,
Tile, Pad, and DepthToSpace / SpaceToDepth (reshape, transpose, reshape)."""

from __future__ import annotations

import numpy as np

from qaicc.dialects.aic_graph import ops as aic
from qaicc.passes.onnx_to_aic_graph.common import (
    Emitter,
    Node,
    NotConvertible,
    OnnxToAicGraphPattern,
    const_array,
    f32_attr,
    i64_array,
    i64_attr,
    int_list,
    normalize_axis,
    optional_const,
    rank_of,
    require_const,
    shape_of,
    str_attr,
)


class ConvertReshapeLike(OnnxToAicGraphPattern):
    """Ops that only change the shape: the result type has it."""

    ONNX_OPS = {"Reshape": "", "Flatten": "", "Squeeze": "", "Unsqueeze": ""}

    def convert(self, node: Node, emit: Emitter):
        x = node.op.operands[0]
        out = node.result.type
        if x.type == out:
            return [x]
        return [emit.build(aic.ReshapeOp, [x], out)]


class ConvertTranspose(OnnxToAicGraphPattern):
    ONNX_OPS = {"Transpose": ""}

    def convert(self, node: Node, emit: Emitter):
        x = node.op.operands[0]
        rank = rank_of(x)
        perm = node.attr("perm") or list(reversed(range(rank)))
        if sorted(perm) != list(range(rank)):
            raise NotConvertible(f"perm {perm} is not a permutation of {rank} axes")
        if perm == list(range(rank)):
            return [x]
        return [emit.transpose(x, perm, node.result.type)]


class ConvertConcat(OnnxToAicGraphPattern):
    ONNX_OPS = {"Concat": ""}

    def convert(self, node: Node, emit: Emitter):
        inputs = list(node.op.operands)
        axis = normalize_axis(node.attr("axis", 0), rank_of(inputs[0]))
        inputs = [v for v in inputs if shape_of(v)[axis] != 0] or inputs[:1]
        if len(inputs) == 1 and inputs[0].type == node.result.type:
            return [inputs[0]]
        return [emit.build(aic.ConcatOp, [inputs], node.result.type, axis=i64_attr(axis))]


class ConvertSlice(OnnxToAicGraphPattern):
    ONNX_OPS = {"Slice": "constant starts, ends, axes and steps"}

    def convert(self, node: Node, emit: Emitter):
        x = node.op.operands[0]
        rank = rank_of(x)
        if node.has_input("starts"):
            starts = int_list(require_const(node, "starts"))
            ends = int_list(require_const(node, "ends"))
            axes_array = optional_const(node, "axes")
            steps_array = optional_const(node, "steps")
            axes = int_list(axes_array) if axes_array is not None else list(range(len(starts)))
            steps = int_list(steps_array) if steps_array is not None else [1] * len(starts)
        else:
            starts, ends = list(node.attr("starts")), list(node.attr("ends"))
            axes = list(node.attr("axes") or range(len(starts)))
            steps = [1] * len(starts)
        if not len(starts) == len(ends) == len(axes) == len(steps):
            raise NotConvertible("starts, ends, axes and steps differ in length")
        if any(s == 0 for s in steps):
            raise NotConvertible("a step is 0")
        axes = [normalize_axis(a, rank) for a in axes]
        if len(set(axes)) != len(axes):
            raise NotConvertible("an axis is repeated")
        if x.type == node.result.type and all(step > 0 for step in steps):
            return [x]  # same sizes with positive steps: every axis is taken whole
        return [emit.build(aic.SliceOp, [x], node.result.type, starts=i64_array(starts),
                           ends=i64_array(ends), axes=i64_array(axes), steps=i64_array(steps))]


class ConvertSplit(OnnxToAicGraphPattern):
    """The sizes of the parts are those of the static result types."""

    ONNX_OPS = {"Split": ""}

    def convert(self, node: Node, emit: Emitter):
        x = node.op.operands[0]
        axis = normalize_axis(node.attr("axis", 0), rank_of(x))
        sizes = [shape_of(r)[axis] for r in node.op.results]
        if sum(sizes) != shape_of(x)[axis]:
            raise NotConvertible(f"the parts' sizes {sizes} do not add up to the input's {shape_of(x)[axis]}")
        split = aic.SplitOp.build(operands=[x], result_types=[[r.type for r in node.op.results]],
                                  properties={"axis": i64_attr(axis), "sizes": i64_array(sizes)})
        emit.add(split)
        return list(split.results)


class ConvertGather(OnnxToAicGraphPattern):
    ONNX_OPS = {"Gather": "int32 or int64 indices, negative indices allowed", "GatherND": ""}

    def convert(self, node: Node, emit: Emitter):
        data, indices = node.op.operands
        if node.op_type == "GatherND":
            return [emit.build(aic.GatherNDOp, [data, indices], node.result.type,
                               batch_dims=i64_attr(node.attr("batch_dims", 0)))]
        axis = normalize_axis(node.attr("axis", 0), rank_of(data))
        return [emit.build(aic.GatherOp, [data, indices], node.result.type, axis=i64_attr(axis))]


class ConvertExpand(OnnxToAicGraphPattern):
    ONNX_OPS = {"Expand": "static result shape"}

    def convert(self, node: Node, emit: Emitter):
        x = node.op.operands[0]
        if x.type == node.result.type:
            return [x]
        return [emit.build(aic.ExpandOp, [x], node.result.type)]


class ConvertTile(OnnxToAicGraphPattern):
    ONNX_OPS = {"Tile": "static shapes (repeats follow from them)"}

    def convert(self, node: Node, emit: Emitter):
        x = node.op.operands[0]
        repeats_array = const_array(node.op.operands[1])
        if repeats_array is not None:
            repeats = int_list(repeats_array)
        else:
            if any(d == 0 for d in shape_of(x)):
                raise NotConvertible("input 'repeats' must be a constant for an empty input")
            repeats = [o // i for o, i in zip(shape_of(node.result), shape_of(x))]
        if len(repeats) != rank_of(x):
            raise NotConvertible("repeats does not match the input's rank")
        if all(r == 1 for r in repeats) and x.type == node.result.type:
            return [x]
        return [emit.build(aic.TileOp, [x], node.result.type, repeats=i64_array(repeats))]


class ConvertPad(OnnxToAicGraphPattern):
    ONNX_OPS = {"Pad": "constant pads, constant_value and axes; modes constant, reflect, edge, wrap"}

    def convert(self, node: Node, emit: Emitter):
        x = node.op.operands[0]
        rank = rank_of(x)
        mode = node.attr("mode", "constant")
        if mode not in ("constant", "reflect", "edge", "wrap"):
            raise NotConvertible(f"mode '{mode}' is not supported")
        if node.has_input("pads"):
            pads = int_list(require_const(node, "pads"))
            value_array = optional_const(node, "constant_value") if node.has_input("constant_value") else None
            if value_array is not None and value_array.size != 1:
                raise NotConvertible("constant_value is not a scalar")
            value = value_array.reshape(()).item() if value_array is not None else 0
            axes_array = optional_const(node, "axes") if node.has_input("axes") else None
        else:
            pads = list(node.attr("pads") or node.attr("paddings") or [])
            value = node.attr("value", 0.0)
            axes_array = None
        if axes_array is not None:
            axes = [normalize_axis(a, rank) for a in int_list(axes_array)]
            if len(pads) != 2 * len(axes):
                raise NotConvertible(f"pads has {len(pads)} values for {len(axes)} axes")
            full = [0] * (2 * rank)
            for index, axis in enumerate(axes):
                full[axis], full[rank + axis] = pads[index], pads[len(axes) + index]
            pads = full
        if len(pads) != 2 * rank:
            raise NotConvertible(f"pads has {len(pads)} values for rank {rank}")
        if all(p == 0 for p in pads) and x.type == node.result.type:
            return [x]
        value_attr = None
        if mode == "constant" and value != 0:
            if not np.isnan(value) and float(np.float32(value)) != value:
                raise NotConvertible(f"the padding value {value} is not exact in float32")
            value_attr = f32_attr(float(value))
        return [emit.build(aic.PadOp, [x], node.result.type, pads=i64_array(pads), mode=str_attr(mode),
                           value=value_attr)]


class ConvertDepthSpace(OnnxToAicGraphPattern):
    """DepthToSpace (DCR and CRD) and SpaceToDepth: reshape, transpose, reshape."""

    ONNX_OPS = {"DepthToSpace": "4-D input; modes DCR and CRD", "SpaceToDepth": "4-D input; modes DCR and CRD"}

    def convert(self, node: Node, emit: Emitter):
        x = node.op.operands[0]
        if rank_of(x) != 4:
            raise NotConvertible("the input is not 4-D")
        n, c, h, w = shape_of(x)
        bs = node.attr("blocksize")
        out = node.result.type
        if node.op_type == "SpaceToDepth":
            if h % bs or w % bs:
                raise NotConvertible("the spatial sizes are not multiples of blocksize")
            blocks = emit.reshape(x, (n, c, h // bs, bs, w // bs, bs))
            dcr = node.attr("mode", "DCR") == "DCR"
            moved = emit.transpose(blocks, (0, 3, 5, 1, 2, 4) if dcr else (0, 1, 3, 5, 2, 4))
            return [emit.reshape(moved, (n, c * bs * bs, h // bs, w // bs), out)]
        if c % (bs * bs):
            raise NotConvertible("the channels are not a multiple of blocksize²")
        depth = c // (bs * bs)
        if node.attr("mode", "DCR") == "DCR":
            blocks = emit.reshape(x, (n, bs, bs, depth, h, w))
            moved = emit.transpose(blocks, (0, 3, 4, 1, 5, 2))
        else:
            blocks = emit.reshape(x, (n, depth, bs, bs, h, w))
            moved = emit.transpose(blocks, (0, 1, 4, 2, 5, 3))
        return [emit.reshape(moved, (n, depth, h * bs, w * bs), out)]


PATTERNS = (
    ConvertReshapeLike, ConvertTranspose, ConvertConcat, ConvertSlice, ConvertSplit, ConvertGather,
    ConvertExpand, ConvertTile, ConvertPad, ConvertDepthSpace,
)
