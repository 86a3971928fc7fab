"""Convolution and pooling: Conv (aic_graph.conv), MaxPool / AveragePool (aic_graph.pool),
GlobalAveragePool / GlobalMaxPool (aic_graph.reduce over the spatial axes).

``auto_pad`` becomes explicit pads (SAME_UPPER puts the odd pixel at the end,
SAME_LOWER at the beginning, as ONNX)."""

from __future__ import annotations

from qaicc.dialects.aic_graph import ops as aic
from qaicc.passes.onnx_to_aic_graph.common import (
    Emitter,
    Node,
    NotConvertible,
    OnnxToAicGraphPattern,
    bool_attr,
    i64_array,
    i64_attr,
    rank_of,
    require_float,
    shape_of,
    str_attr,
)

SPATIAL_RANKS = (1, 2)


def explicit_pads(node: Node, spatial: tuple[int, ...], kernel: list[int], strides: list[int],
                  dilations: list[int]) -> list[int]:
    auto_pad = node.attr("auto_pad", "NOTSET")
    count = len(spatial)
    if auto_pad in ("NOTSET", ""):
        pads = node.attr("pads") or [0] * (2 * count)
        if len(pads) != 2 * count:
            raise NotConvertible(f"pads has {len(pads)} values for {count} spatial axes")
        return [int(p) for p in pads]
    if auto_pad == "VALID":
        return [0] * (2 * count)
    if auto_pad not in ("SAME_UPPER", "SAME_LOWER"):
        raise NotConvertible(f"auto_pad '{auto_pad}' is not supported")
    begins, ends = [], []
    for size, k, s, d in zip(spatial, kernel, strides, dilations):
        out = -(-size // s)
        total = max(0, (out - 1) * s + (k - 1) * d + 1 - size)
        small, large = total // 2, total - total // 2
        begins.append(small if auto_pad == "SAME_UPPER" else large)
        ends.append(large if auto_pad == "SAME_UPPER" else small)
    return begins + ends


def _window(node: Node, x, kernel: list[int]) -> tuple[list[int], list[int], list[int]]:
    count = len(kernel)
    strides = node.attr("strides") or [1] * count
    dilations = node.attr("dilations") or [1] * count
    if len(strides) != count or len(dilations) != count:
        raise NotConvertible("strides / dilations do not match the kernel's rank")
    pads = explicit_pads(node, shape_of(x)[2:], kernel, strides, dilations)
    return [int(s) for s in strides], pads, [int(d) for d in dilations]


def _require_spatial(x, what: str) -> int:
    spatial = rank_of(x) - 2
    if spatial not in SPATIAL_RANKS:
        raise NotConvertible(f"{spatial}-D {what} is not supported (1-D and 2-D only)")
    return spatial


class ConvertConv(OnnxToAicGraphPattern):
    ONNX_OPS = {"Conv": "1-D and 2-D, float types; groups, dilations, auto_pad; optional bias"}

    def convert(self, node: Node, emit: Emitter):
        x, w = node.input("X"), node.input("W")
        bias = node.input("B")
        require_float(x)
        _require_spatial(x, "convolution")
        kernel = list(shape_of(w)[2:])
        declared = node.attr("kernel_shape")
        if declared and list(declared) != kernel:
            raise NotConvertible(f"kernel_shape {declared} differs from the weight's {kernel}")
        strides, pads, dilations = _window(node, x, kernel)
        group = node.attr("group", 1)
        return [emit.build(
            aic.ConvOp, [x, w, [bias] if bias is not None else []], node.result.type,
            strides=i64_array(strides), pads=i64_array(pads), dilations=i64_array(dilations),
            group=i64_attr(group),
        )]


class ConvertPool(OnnxToAicGraphPattern):
    ONNX_OPS = {
        "MaxPool": "1-D and 2-D, float types; no Indices output; ceil_mode, dilations, auto_pad",
        "AveragePool": "1-D and 2-D, float types; count_include_pad, ceil_mode, dilations, auto_pad",
    }

    def convert(self, node: Node, emit: Emitter):
        x = node.input("X")
        require_float(x)
        _require_spatial(x, "pooling")
        if node.op_type == "MaxPool":
            node.require_unused("Indices")
        kernel = [int(k) for k in node.attr("kernel_shape")]
        if len(kernel) != rank_of(x) - 2:
            raise NotConvertible("kernel_shape does not match the input's rank")
        strides, pads, dilations = _window(node, x, kernel)
        average = node.op_type == "AveragePool"
        return [emit.build(
            aic.PoolOp, [x], node.result.type,
            kind=str_attr("avg" if average else "max"),
            kernel=i64_array(kernel), strides=i64_array(strides), pads=i64_array(pads),
            dilations=i64_array(dilations),
            ceil_mode=bool_attr(node.attr("ceil_mode", 0)),
            count_include_pad=bool_attr(node.attr("count_include_pad", 0)) if average else None,
        )]


class ConvertGlobalPool(OnnxToAicGraphPattern):
    ONNX_OPS = {"GlobalAveragePool": "float types", "GlobalMaxPool": "float types"}

    def convert(self, node: Node, emit: Emitter):
        x = node.op.operands[0]
        require_float(x)
        if rank_of(x) < 3:
            raise NotConvertible("the input has no spatial axes")
        kind = "mean" if node.op_type == "GlobalAveragePool" else "max"
        return [emit.reduce(x, kind, list(range(2, rank_of(x))), True, node.result.type)]


PATTERNS = (ConvertConv, ConvertPool, ConvertGlobalPool)
