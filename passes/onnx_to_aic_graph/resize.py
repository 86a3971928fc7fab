"""Resize -> aic_graph.resize, which resizes to its result shape with the scale
``output size / input size`` per axis. An ONNX Resize converts when that is the scale
ONNX uses: ``sizes`` with keep_aspect_ratio_policy ``stretch``, or constant ``scales``
that give whole output sizes (``in x scale`` is an integer)."""

from __future__ import annotations

import numpy as np

from qaicc.dialects.aic_graph import ops as aic
from qaicc.passes.onnx_to_aic_graph.common import (
    Emitter,
    Node,
    NotConvertible,
    OnnxToAicGraphPattern,
    const_array,
    normalize_axis,
    rank_of,
    require_float,
    shape_of,
    str_attr,
)

MODES = ("nearest", "linear")
COORDINATE_MODES = ("half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nearest")
NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")


class ConvertResize(OnnxToAicGraphPattern):
    ONNX_OPS = {
        "Resize": "opset 11 and later; modes nearest, linear; coordinate_transformation_mode "
                  + ", ".join(COORDINATE_MODES) + "; no antialias; the spatial axes only (N and C "
                  "unchanged); sizes, or constant scales giving whole output sizes",
    }

    def convert(self, node: Node, emit: Emitter):
        x = node.input("X")
        require_float(x)
        if node.version < 11:
            raise NotConvertible("Resize-10 is not supported")
        mode = node.attr("mode", "nearest")
        if mode not in MODES:
            raise NotConvertible(f"mode {mode} is not supported")
        coordinate_mode = node.attr("coordinate_transformation_mode", "half_pixel")
        if coordinate_mode not in COORDINATE_MODES:
            raise NotConvertible(f"coordinate_transformation_mode {coordinate_mode} is not supported")
        nearest_mode = node.attr("nearest_mode", "round_prefer_floor")
        if mode == "nearest" and nearest_mode not in NEAREST_MODES:
            raise NotConvertible(f"nearest_mode {nearest_mode} is not supported")
        if node.attr("antialias", 0):
            raise NotConvertible("antialias is not supported")
        rank = rank_of(x)
        in_shape, out_shape = shape_of(x), shape_of(node.result)
        if rank < 3 or in_shape[:2] != out_shape[:2]:
            raise NotConvertible("only the spatial axes (from axis 2) can be resized")
        axes = [normalize_axis(a, rank) for a in (node.attr("axes") or range(rank))]
        sizes_value = node.input("sizes")
        scales_value = node.input("scales")
        scales_array = const_array(scales_value) if scales_value is not None else None
        has_scales = scales_value is not None and not (scales_array is not None and scales_array.size == 0)
        if sizes_value is not None and not has_scales:
            policy = node.attr("keep_aspect_ratio_policy", "stretch")
            if policy != "stretch":
                ratios = {out_shape[a] / in_shape[a] for a in axes if in_shape[a]}
                if len(ratios) > 1:
                    raise NotConvertible(f"keep_aspect_ratio_policy {policy} is not supported")
        elif has_scales:
            if scales_array is None:
                raise NotConvertible("input 'scales' must be a constant")
            scales = [float(s) for s in scales_array.reshape(-1)]
            if len(scales) != len(axes):
                raise NotConvertible(f"scales has {len(scales)} values for {len(axes)} axes")
            for axis, scale in zip(axes, scales):
                size = in_shape[axis] * scale
                if size != int(size) or int(size) != out_shape[axis]:
                    raise NotConvertible(f"scale {scale} of axis {axis} does not give a whole output size")
                if in_shape[axis] and np.float32(out_shape[axis] / in_shape[axis]) != np.float32(scale):
                    raise NotConvertible(f"scale {scale} of axis {axis} is not output/input")
        else:
            raise NotConvertible("neither scales nor sizes is given")
        return [emit.build(
            aic.ResizeOp, [x], node.result.type, mode=str_attr(mode),
            coordinate_transformation_mode=str_attr(coordinate_mode),
            nearest_mode=str_attr(nearest_mode) if mode == "nearest" else None,
        )]


PATTERNS = (ConvertResize,)
