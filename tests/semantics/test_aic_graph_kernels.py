"""aic_graph kernels agree with the onnx reference semantics of the same computation,
and compute float16 in device precision."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper
from xdsl.dialects.builtin import FloatAttr, IntegerAttr, StringAttr, f32, i64

from qaicc.dialects.aic_graph import ops as g
from qaicc.onnx_io.attributes import int_array
from qaicc.onnx_io.importer import import_model
from qaicc.semantics import run_module
from qaicc.testing.aic_graph_builders import single_op_module, tensor_type
from qaicc.testing.models import make_model

RNG = np.random.default_rng(0)


def _onnx(op_type: str, inputs: list[np.ndarray], out_shape, **attrs) -> np.ndarray:
    names = [f"x{i}" for i in range(len(inputs))]
    model = make_model(
        [helper.make_node(op_type, names, ["y"], **attrs)],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, x.shape) for n, x in zip(names, inputs)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)],
    )
    return run_module(import_model(model), dict(zip(names, inputs)))["y"]


def _run(module, inputs) -> np.ndarray:
    return run_module(module, {f"x{i}": x for i, x in enumerate(inputs)})["y0"]


@pytest.mark.parametrize("group,strides,pads,dilations", [
    (1, [1, 1], [1, 1, 1, 1], [1, 1]),
    (2, [2, 1], [0, 1, 1, 0], [1, 1]),
    (4, [1, 1], [2, 2, 2, 2], [2, 2]),
])
def test_conv_matches_onnx(group, strides, pads, dilations):
    x = RNG.standard_normal((2, 4, 9, 8)).astype(np.float32)
    w = RNG.standard_normal((8, 4 // group, 3, 3)).astype(np.float32)
    b = RNG.standard_normal(8).astype(np.float32)
    expected = _onnx("Conv", [x, w, b], None, group=group, strides=strides, pads=pads, dilations=dilations)
    module = single_op_module(
        g.ConvOp, [x, w, b], [tensor_type(expected)],
        {"strides": int_array(strides), "pads": int_array(pads), "dilations": int_array(dilations),
         "group": IntegerAttr(group, i64)},
        operand_groups=lambda a: [a[0], a[1], [a[2]]],
    )
    np.testing.assert_allclose(_run(module, [x, w, b]), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind,ceil,include_pad", [("max", 0, 0), ("avg", 1, 0), ("avg", 0, 1)])
def test_pool_matches_onnx(kind, ceil, include_pad):
    x = RNG.standard_normal((1, 3, 7, 7)).astype(np.float32)
    attrs = dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=ceil)
    if kind == "avg":
        attrs["count_include_pad"] = include_pad
    expected = _onnx("MaxPool" if kind == "max" else "AveragePool", [x], None, **attrs)
    module = single_op_module(
        g.PoolOp, [x], [tensor_type(expected)],
        {"kind": StringAttr(kind), "kernel": int_array([3, 3]), "strides": int_array([2, 2]),
         "pads": int_array([1, 1, 1, 1]), "dilations": int_array([1, 1]),
         "ceil_mode": IntegerAttr.from_bool(bool(ceil)), "count_include_pad": IntegerAttr.from_bool(bool(include_pad))},
    )
    np.testing.assert_allclose(_run(module, [x]), expected, rtol=1e-6)


@pytest.mark.parametrize("mode,transform", [("nearest", "asymmetric"), ("linear", "half_pixel"),
                                            ("linear", "align_corners"), ("nearest", "half_pixel")])
def test_resize_matches_onnx(mode, transform):
    x = RNG.standard_normal((1, 2, 4, 5)).astype(np.float32)
    scales = np.array([1, 1, 2, 1.6], np.float32)
    model = make_model(
        [helper.make_node("Resize", ["x", "", "scales"], ["y"], mode=mode,
                          coordinate_transformation_mode=transform)],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, x.shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [helper.make_tensor("scales", TensorProto.FLOAT, [4], scales)],
    )
    expected = run_module(import_model(model), {"x": x})["y"]
    module = single_op_module(
        g.ResizeOp, [x], [tensor_type(expected)],
        {"mode": StringAttr(mode), "coordinate_transformation_mode": StringAttr(transform),
         "nearest_mode": StringAttr("round_prefer_floor")},
    )
    np.testing.assert_allclose(_run(module, [x]), expected, rtol=1e-5, atol=1e-6)


def test_float16_matmul_accumulates_in_float32():
    a = np.full((1, 4096), 0.1, np.float16)
    b = np.ones((4096, 1), np.float16)
    module = single_op_module(g.MatMulOp, [a, b], [tensor_type((1, 1), np.float16)],
                              operand_groups=lambda x: [x[0], x[1], []])
    result = _run(module, [a, b])
    assert result.dtype == np.float16
    exact = float(np.float16(0.1)) * 4096
    assert abs(float(result[0, 0]) - exact) / exact < 1e-3  # float16 accumulation would be far off


def test_layer_norm_and_softmax():
    x = RNG.standard_normal((2, 5, 8)).astype(np.float32)
    scale, bias = RNG.standard_normal(8).astype(np.float32), RNG.standard_normal(8).astype(np.float32)
    expected = _onnx("LayerNormalization", [x, scale, bias], x.shape, axis=-1, epsilon=1e-5)
    module = single_op_module(g.LayerNormOp, [x, scale, bias], [tensor_type(x)],
                              {"axis": IntegerAttr(-1, i64), "epsilon": FloatAttr(1e-5, f32)},
                              operand_groups=lambda a: [a[0], a[1], [a[2]]])
    np.testing.assert_allclose(_run(module, [x, scale, bias]), expected, rtol=1e-5, atol=1e-6)
    expected = _onnx("Softmax", [x], x.shape, axis=1)
    module = single_op_module(g.SoftmaxOp, [x], [tensor_type(x)], {"axis": IntegerAttr(1, i64)})
    np.testing.assert_allclose(_run(module, [x]), expected, rtol=1e-6)


def test_work_model_counts_macs():
    x = np.zeros((1, 3, 8, 8), np.float32)
    w = np.zeros((4, 3, 3, 3), np.float32)
    module = single_op_module(
        g.ConvOp, [x, w], [tensor_type((1, 4, 8, 8))],
        {"strides": int_array([1, 1]), "pads": int_array([1, 1, 1, 1]), "dilations": int_array([1, 1]),
         "group": IntegerAttr(1, i64)},
        operand_groups=lambda a: [a[0], a[1], []],
    )
    conv = next(op for op in module.walk() if isinstance(op, g.ConvOp))
    work = conv.work()
    assert work.flops == 2 * (4 * 8 * 8) * (3 * 3 * 3)
    assert work.bytes_in == (x.size + w.size) * 4 and work.bytes_out == 4 * 8 * 8 * 4
