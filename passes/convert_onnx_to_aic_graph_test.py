"""convert-onnx-to-aic-graph: every pattern family is checked by running the IR before
(onnx semantics) and after (aic_graph semantics) the conversion; the exported models
lower completely and match onnxruntime; unconverted ops are reported together."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from qaicc.dialects.qaicc_attrs import DenseBlobAttr
from qaicc.errors import UnsupportedModelError
from qaicc.ir.context import make_context
from qaicc.ir.pipeline import build_pipeline, run_pipeline
from qaicc.onnx_io.importer import import_model
from qaicc.passes import ALL_PASSES
from qaicc.passes.onnx_to_aic_graph import (
    ALL_PATTERNS,
    SUPPORTED_OPERATORS_FILE,
    supported_operators,
    write_supported_operators,
)
from qaicc.semantics import run_module
from qaicc.testing.models import make_model
from qaicc.testing.node_cases import run_ort
from qaicc.testing.random_inputs import random_inputs

MODELS = Path(__file__).resolve().parent.parent / "tests" / "models"
CONVERTED_OP_TYPES: set[str] = set()
"""Every ONNX op type the tests below saw converted (checked against supported_operators)."""

RNG = np.random.default_rng(0)


def _run(module, spec: str):
    run_pipeline(build_pipeline(spec, ALL_PASSES), module, make_context())
    return module


def _onnx_op_types(module) -> set[str]:
    from qaicc.dialects.onnx.base import OnnxOp

    return {op.ONNX_SIGNATURE.op_type for op in module.walk() if isinstance(op, OnnxOp)}


def _assert_close(before: dict, after: dict, tolerance: float) -> None:
    assert list(before) == list(after)
    for name in before:
        a, b = np.asarray(before[name]), np.asarray(after[name])
        assert a.shape == b.shape, (name, a.shape, b.shape)
        assert a.dtype == b.dtype, (name, a.dtype, b.dtype)
        if a.dtype.kind in "biu":
            np.testing.assert_array_equal(a, b, err_msg=name)
            continue
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
        assert np.array_equal(np.isnan(a64), np.isnan(b64)), name
        finite = ~np.isnan(a64)
        scale = max(1.0, float(np.max(np.abs(a64[finite]), initial=0.0)))
        error = float(np.max(np.abs(a64[finite] - b64[finite]), initial=0.0))
        assert error <= tolerance * scale, (name, error)


def _info(name: str, array: np.ndarray):
    return helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(array.dtype), array.shape)


def check(nodes, feeds: dict, outputs=("y",), initializers=(), opset: int = 18, tolerance: float = 1e-5,
          pipeline: str = "shape-inference,canonicalize", reference: str = "onnx"):
    """Build a model, convert it, and compare the results before and after (``reference``
    "ort": compare with onnxruntime, for semantics onnx's reference does not implement)."""
    init = [numpy_helper.from_array(np.asarray(v), k) for k, v in dict(initializers).items()]
    model = make_model(nodes, [_info(k, v) for k, v in feeds.items()],
                       [helper.make_empty_tensor_value_info(o) for o in outputs], init, opset=opset)
    module = _run(import_model(model), pipeline)
    types = _onnx_op_types(module)
    if reference == "ort":
        before = dict(zip(outputs, run_ort(model, feeds)))
    else:
        before = run_module(module, feeds)
    _run(module, "convert-onnx-to-aic-graph")
    assert not _onnx_op_types(module), _onnx_op_types(module)
    CONVERTED_OP_TYPES.update(types)
    _assert_close(before, run_module(module, feeds), tolerance)
    return module


def _aic_ops(module) -> list[str]:
    return [op.name for op in module.walk() if op.name.startswith("aic_graph.") and op.name != "aic_graph.constant"]


def n(op_type, inputs, outputs=("y",), **attrs):
    return helper.make_node(op_type, list(inputs), list(outputs), name=f"{op_type.lower()}_node", **attrs)


def f32(*shape, positive=False):
    x = RNG.standard_normal(shape).astype(np.float32)
    return np.abs(x) + 0.1 if positive else x


# -- elementwise ------------------------------------------------------------------------

UNARY = ["Relu", "Sigmoid", "Tanh", "Exp", "Erf", "Neg", "Abs", "Floor", "Ceil", "Round", "Sign", "Sin",
         "Cos", "Softplus", "Softsign", "HardSwish", "Mish", "Selu", "Celu", "ThresholdedRelu"]


@pytest.mark.parametrize("op_type", UNARY)
def test_unary(op_type):
    check([n(op_type, ["x"])], {"x": f32(2, 3, 4)})


@pytest.mark.parametrize("op_type", ["Log", "Sqrt", "Reciprocal"])
def test_unary_positive(op_type):
    check([n(op_type, ["x"])], {"x": f32(3, 4, positive=True)})


@pytest.mark.parametrize("op_type,attrs", [
    ("LeakyRelu", {"alpha": 0.2}), ("Elu", {"alpha": 0.5}), ("HardSigmoid", {"alpha": 0.3, "beta": 0.4}),
    ("Celu", {"alpha": 2.0}), ("Selu", {"alpha": 1.5, "gamma": 2.0}), ("ThresholdedRelu", {"alpha": 0.3}),
])
def test_parametric_activations(op_type, attrs):
    check([n(op_type, ["x"], **attrs)], {"x": f32(2, 8)})


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu(approximate):
    module = check([n("Gelu", ["x"], approximate=approximate)], {"x": f32(4, 8)}, opset=20)
    assert _aic_ops(module) == ["aic_graph.gelu"]


@pytest.mark.parametrize("alpha", [1.0, 0.5])
def test_swish(alpha):
    check([n("Swish", ["x"], alpha=alpha)], {"x": f32(4, 8)}, opset=24)


def test_prelu_and_not():
    check([n("PRelu", ["x", "slope"]), n("Not", ["b"], ["z"])],
          {"x": f32(2, 3, 4), "slope": f32(3, 1), "b": RNG.integers(0, 2, (3,)).astype(bool)},
          outputs=("y", "z"))


def test_silu_pattern_becomes_one_op():
    module = check([n("Sigmoid", ["x"], ["s"]), n("Mul", ["s", "x"])], {"x": f32(2, 16)})
    ops = [op for op in module.walk() if op.name == "aic_graph.unary"]
    assert [op.kind.data for op in ops] == ["silu"]
    assert ops[0].attributes["onnx_node_name"].data == "mul_node"


@pytest.mark.parametrize("op_type", ["Add", "Sub", "Mul", "Div", "Max", "Min", "Pow"])
def test_binary_broadcast(op_type):
    x = f32(2, 3, 4, positive=op_type == "Pow")
    check([n(op_type, ["x", "w"])], {"x": x}, initializers={"w": f32(3, 1)})


def test_integer_arithmetic_and_mod():
    a = RNG.integers(-50, 50, (4, 5)).astype(np.int64)
    b = RNG.integers(1, 9, (5,)).astype(np.int64) * np.where(RNG.random(5) < 0.5, -1, 1)
    check([n("Div", ["a", "b"], ["q"]), n("Mod", ["a", "b"], ["m"]), n("Mod", ["a", "b"], ["fm"], fmod=1),
           n("Mul", ["a", "b"], ["p"])], {"a": a, "b": b}, outputs=("q", "m", "fm", "p"))


def test_pow_with_integer_exponent():
    check([n("Pow", ["x", "e"])], {"x": f32(3, 4)}, initializers={"e": np.array(3, np.int64)})


def test_comparisons_logic_and_where():
    x, y = f32(3, 4), f32(4)
    nodes = [n("Less", ["x", "y"], ["lt"]), n("GreaterOrEqual", ["x", "y"], ["ge"]),
             n("Equal", ["lt", "ge"], ["eq"]), n("Greater", ["x", "y"], ["gt"]),
             n("LessOrEqual", ["x", "y"], ["le"]), n("Or", ["gt", "le"], ["or"]),
             n("Xor", ["lt", "gt"], ["xor"]), n("And", ["or", "xor"], ["and"]),
             n("Where", ["and", "x", "y"], ["w"])]
    for index, node in enumerate(nodes):
        node.name = f"n{index}"
    check(nodes, {"x": x, "y": y}, outputs=("eq", "w"))


def test_variadic_ops():
    nodes = [n("Max", ["a", "b", "c"], ["mx"]), n("Min", ["a", "b"], ["mn"]), n("Sum", ["a", "b", "c"], ["s"]),
             n("Mean", ["a", "b", "c"], ["m"]), n("Max", ["a"], ["one"])]
    for index, node in enumerate(nodes):
        node.name = f"n{index}"
    check(nodes, {"a": f32(2, 3), "b": f32(3), "c": f32(2, 1)}, outputs=("mx", "mn", "s", "m", "one"))


def test_cast_and_castlike():
    nodes = [n("Cast", ["x"], ["i"], to=TensorProto.INT32), n("CastLike", ["i", "h"], ["y"]),
             n("Cast", ["x"], ["b"], to=TensorProto.BOOL)]
    for index, node in enumerate(nodes):
        node.name = f"n{index}"
    check(nodes, {"x": f32(3, 4) * 10, "h": np.zeros(1, np.float16)}, outputs=("y", "b"))


@pytest.mark.parametrize("bounds", ["both", "max_only", "input_bound", "int"])
def test_clip(bounds):
    x = f32(3, 5) * 4
    if bounds == "both":
        check([n("Clip", ["x", "lo", "hi"])], {"x": x},
              initializers={"lo": np.array(-1, np.float32), "hi": np.array(2, np.float32)})
    elif bounds == "max_only":
        check([n("Clip", ["x", "", "hi"])], {"x": x}, initializers={"hi": np.array(1, np.float32)})
    elif bounds == "input_bound":
        check([n("Clip", ["x", "lo"])], {"x": x, "lo": np.array(0.5, np.float32)})
    else:
        xi = RNG.integers(-20, 20, (3, 5)).astype(np.int32)
        check([n("Clip", ["x", "lo", "hi"])], {"x": xi},
              initializers={"lo": np.array(-3, np.int32), "hi": np.array(7, np.int32)})


def test_clip6_attributes():
    check([n("Clip", ["x"], min=-0.5, max=0.5)], {"x": f32(2, 3, 4)}, opset=6)


def test_legacy_broadcast_with_axis():
    """Add-6 with broadcast=1 aligns B at ``axis`` (onnx's reference cannot run it)."""
    x, b = f32(2, 3, 4), f32(3)
    model = make_model([helper.make_node("Add", ["x", "b"], ["y"], name="add", broadcast=1, axis=1)],
                       [_info("x", x)], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3, 4])],
                       [numpy_helper.from_array(b, "b")], opset=6)
    module = _run(import_model(model), "convert-onnx-to-aic-graph")
    np.testing.assert_allclose(run_module(module, {"x": x})["y"], x + b.reshape(3, 1), rtol=1e-6)


# -- conv and pooling ---------------------------------------------------------------------


def test_conv_2d_group_bias_stride_dilation():
    check([n("Conv", ["x", "w", "b"], group=2, strides=[2, 1], dilations=[1, 2], pads=[1, 2, 0, 1])],
          {"x": f32(1, 4, 9, 9)}, initializers={"w": f32(6, 2, 3, 3), "b": f32(6)}, tolerance=1e-5)


@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER", "VALID"])
def test_conv_1d_auto_pad(auto_pad):
    check([n("Conv", ["x", "w"], auto_pad=auto_pad, strides=[2])], {"x": f32(2, 3, 10)},
          initializers={"w": f32(5, 3, 4)})


def test_depthwise_conv_same_2d():
    check([n("Conv", ["x", "w"], group=3, auto_pad="SAME_UPPER", kernel_shape=[3, 3])], {"x": f32(1, 3, 7, 6)},
          initializers={"w": f32(3, 1, 3, 3)})


@pytest.mark.parametrize("attrs", [
    {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]},
    {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1},
    {"kernel_shape": [2, 3], "auto_pad": "SAME_UPPER"},
    {"kernel_shape": [2, 2], "dilations": [2, 2]},
])
def test_max_pool(attrs):
    check([n("MaxPool", ["x"], **attrs)], {"x": f32(1, 2, 8, 9)})


@pytest.mark.parametrize("attrs", [
    {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]},
    {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1], "count_include_pad": 1},
    {"kernel_shape": [3], "strides": [2], "ceil_mode": 1},
])
def test_average_pool(attrs):
    shape = (1, 2, 9) if len(attrs["kernel_shape"]) == 1 else (1, 2, 7, 8)
    check([n("AveragePool", ["x"], **attrs)], {"x": f32(*shape)}, opset=19)


@pytest.mark.parametrize("op_type", ["GlobalAveragePool", "GlobalMaxPool"])
def test_global_pool(op_type):
    module = check([n(op_type, ["x"])], {"x": f32(2, 3, 5, 4)})
    assert _aic_ops(module) == ["aic_graph.reduce"]


# -- matrix products ----------------------------------------------------------------------


@pytest.mark.parametrize("a,b", [((2, 3, 4, 5), (5, 6)), ((4,), (4, 3)), ((2, 3, 4), (4,)), ((1, 4, 5), (3, 5, 2))])
def test_matmul(a, b):
    check([n("MatMul", ["a", "b"])], {"a": f32(*a), "b": f32(*b)})


@pytest.mark.parametrize("attrs,c_shape,c_constant", [
    ({}, (4,), True),
    ({"transA": 1, "transB": 1, "alpha": 0.5, "beta": 2.0}, (3, 4), True),
    ({"transB": 1, "beta": 0.5}, (1, 4), False),
    ({"alpha": 2.0}, None, False),
])
def test_gemm(attrs, c_shape, c_constant):
    a = f32(5, 3) if attrs.get("transA") else f32(3, 5)
    b = f32(4, 5) if attrs.get("transB") else f32(5, 4)
    feeds, inits = {"a": a}, {"b": b}
    inputs = ["a", "b"]
    if c_shape is not None:
        (inits if c_constant else feeds)["c"] = f32(*c_shape)
        inputs.append("c")
    module = check([n("Gemm", inputs, **attrs)], feeds, initializers=inits)
    assert _aic_ops(module)[-1] == "aic_graph.matmul"


@pytest.mark.parametrize("equation,shapes", [
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("ij,kj->ik", [(3, 4), (5, 4)]),
    ("bhqd,bhkd->bhqk", [(1, 2, 3, 4), (1, 2, 5, 4)]),
    ("bqhd,bkhd->bhqk", [(1, 3, 2, 4), (1, 5, 2, 4)]),
    ("ij->ji", [(3, 4)]),
    ("ijk->i", [(3, 4, 2)]),
    ("i,j->ij", [(3,), (4,)]),
    ("...ij,...jk->...ik", [(2, 3, 4), (2, 4, 5)]),
    ("bij,jk", [(2, 3, 4), (4, 5)]),
    ("abc,cd->abd", [(2, 3, 4), (4, 6)]),
    ("ijk,jl->il", [(2, 3, 4), (3, 5)]),
])
def test_einsum(equation, shapes):
    feeds = {f"x{i}": f32(*s) for i, s in enumerate(shapes)}
    module = check([n("Einsum", list(feeds), equation=equation)], feeds, tolerance=1e-5)
    if len(shapes) == 2:
        assert "aic_graph.matmul" in _aic_ops(module)


# -- normalization ------------------------------------------------------------------------


@pytest.mark.parametrize("op_type", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("opset,axis", [(11, 1), (11, -1), (13, 1), (18, -1)])
def test_softmax(op_type, opset, axis):
    """Before opset 13 the input is coerced to 2-D at axis (onnx's reference ignores that)."""
    check([n(op_type, ["x"], axis=axis)], {"x": f32(2, 3, 4)}, opset=opset, reference="ort")


def test_layer_norm_and_instance_norm():
    nodes = [helper.make_node("LayerNormalization", ["x", "s", "b"], ["y"], name="ln", axis=-2, epsilon=1e-3),
             helper.make_node("InstanceNormalization", ["x", "c", "d"], ["z"], name="inorm")]
    check(nodes, {"x": f32(2, 3, 4, 5)}, outputs=("y", "z"),
          initializers={"s": f32(4, 5), "b": f32(4, 5), "c": f32(3), "d": f32(3)})


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_layer_norm_statistics_outputs(dtype):
    node = helper.make_node("LayerNormalization", ["x", "s", "b"], ["y", "mean", "inv"], name="ln", axis=1)
    check([node], {"x": f32(2, 3, 4).astype(dtype)}, outputs=("y", "mean", "inv"),
          initializers={"s": f32(3, 4).astype(dtype), "b": f32(3, 4).astype(dtype)},
          tolerance=1e-5 if dtype == np.float32 else 2e-3)


@pytest.mark.parametrize("constant_statistics", [True, False])
def test_batch_norm(constant_statistics):
    stats = {"s": f32(3), "b": f32(3), "m": f32(3), "v": f32(3, positive=True)}
    feeds = {"x": f32(2, 3, 4, 5)}
    if not constant_statistics:
        feeds.update(stats)
        stats = {}
    module = check([n("BatchNormalization", ["x", "s", "b", "m", "v"], epsilon=1e-3)], feeds, initializers=stats)
    assert "aic_graph.binary" in _aic_ops(module)


# -- reductions ---------------------------------------------------------------------------


@pytest.mark.parametrize("op_type", ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd",
                                     "ReduceSumSquare", "ReduceL1", "ReduceL2", "ReduceLogSumExp"])
@pytest.mark.parametrize("keepdims", [0, 1])
def test_reduce_axes_input(op_type, keepdims):
    check([n(op_type, ["x", "axes"], keepdims=keepdims)], {"x": f32(2, 3, 4)},
          initializers={"axes": np.array([0, -1], np.int64)})


def test_reduce_axes_attribute_and_all_axes():
    nodes = [n("ReduceMean", ["x"], ["m"], axes=[1]), n("ReduceMax", ["x"], ["all"], keepdims=0),
             n("ReduceSum", ["x"], ["s"], axes=[-1], keepdims=0), n("ReduceLogSum", ["p"], ["l"], axes=[0])]
    for index, node in enumerate(nodes):
        node.name = f"n{index}"
    check(nodes, {"x": f32(2, 3, 4), "p": f32(2, 3, positive=True)}, outputs=("m", "all", "s", "l"), opset=11)


def test_reduce_noop_with_empty_axes():
    check([n("ReduceSum", ["x"], ["s"], noop_with_empty_axes=1), n("Relu", ["s"])], {"x": f32(3, 4)})


@pytest.mark.parametrize("op_type", ["ArgMax", "ArgMin"])
@pytest.mark.parametrize("keepdims,last", [(1, 0), (0, 1)])
def test_arg_reduce(op_type, keepdims, last):
    x = RNG.integers(0, 3, (3, 5)).astype(np.float32)  # ties
    check([n(op_type, ["x"], axis=1, keepdims=keepdims, select_last_index=last)], {"x": x})


# -- data movement ------------------------------------------------------------------------


def test_reshape_family():
    nodes = [n("Reshape", ["x", "shape"], ["r"]), n("Flatten", ["x"], ["f"], axis=2),
             n("Unsqueeze", ["x", "axes"], ["u"]), n("Squeeze", ["u", "axes"], ["s"]),
             n("Transpose", ["x"], ["t"], perm=[2, 0, 1]), n("Transpose", ["x"], ["rev"]),
             n("Identity", ["x"], ["i"])]
    for index, node in enumerate(nodes):
        node.name = f"n{index}"
    check(nodes, {"x": f32(2, 3, 4)}, outputs=("r", "f", "s", "t", "rev", "i"),
          initializers={"shape": np.array([4, -1], np.int64), "axes": np.array([1], np.int64)})


def test_concat_slice_split():
    nodes = [n("Concat", ["x", "y"], ["c"], axis=-1),
             n("Slice", ["c", "starts", "ends", "axes", "steps"], ["s"]),
             n("Split", ["c"], ["p0", "p1"], axis=2, num_outputs=2),
             n("Split", ["x", "sizes"], ["q0", "q1", "q2"], axis=1)]
    for index, node in enumerate(nodes):
        node.name = f"n{index}"
    check(nodes, {"x": f32(2, 3, 4), "y": f32(2, 3, 2)}, outputs=("s", "p0", "p1", "q0", "q1", "q2"),
          initializers={"starts": np.array([-1, 1], np.int64), "ends": np.array([0, 100], np.int64),
                        "axes": np.array([2, 1], np.int64), "steps": np.array([-2, 1], np.int64),
                        "sizes": np.array([1, 1, 1], np.int64)})


def test_slice_opset_1_attributes():
    check([n("Slice", ["x"], starts=[1, 0], ends=[3, -1], axes=[0, 2])], {"x": f32(4, 3, 5)}, opset=9)


def test_gather_and_gather_nd():
    nodes = [n("Gather", ["x", "i"], ["g"], axis=1), n("GatherND", ["x", "j"], ["nd"], batch_dims=1)]
    nodes[1].name = "gnd"
    check(nodes, {"x": f32(2, 5, 3), "i": np.array([[0, -1], [4, 2]], np.int64),
                  "j": np.array([[[1], [4]], [[0], [-2]]], np.int64)}, outputs=("g", "nd"))


def test_expand_tile_where_broadcast():
    nodes = [n("Expand", ["x", "shape"], ["e"]), n("Tile", ["x", "repeats"], ["t"])]
    nodes[1].name = "tile"
    check(nodes, {"x": f32(3, 1)}, outputs=("e", "t"),
          initializers={"shape": np.array([2, 3, 4], np.int64), "repeats": np.array([2, 3], np.int64)})


@pytest.mark.parametrize("mode,pads,value,axes", [
    ("constant", [0, 1, 2, 0], 1.5, None), ("constant", [1, 3], None, [-1]), ("reflect", [1, 2, 2, 1], None, None),
    ("edge", [2, 1], None, [1]), ("wrap", [1, 2, 3, 1], None, None),
])
def test_pad(mode, pads, value, axes):
    inits = {"pads": np.array(pads, np.int64)}
    inputs = ["x", "pads"]
    if value is not None:
        inits["value"] = np.array(value, np.float32)
        inputs.append("value")
    if axes is not None:
        inputs += [""] * (3 - len(inputs)) + ["axes"]
        inits["axes"] = np.array(axes, np.int64)
    check([n("Pad", inputs, mode=mode)], {"x": f32(4, 5)}, initializers=inits, opset=19)


@pytest.mark.parametrize("starts,ends,steps", [([-1], [-(2**63)], [-2]), ([4], [-7], [-1]), ([3], [0], [-1])])
def test_slice_with_negative_steps(starts, ends, steps):
    inits = {"starts": np.array(starts, np.int64), "ends": np.array(ends, np.int64),
             "axes": np.array([0], np.int64), "steps": np.array(steps, np.int64)}
    check([n("Slice", ["x", "starts", "ends", "axes", "steps"])], {"x": f32(6)}, initializers=inits)


@pytest.mark.parametrize("op_type,attrs", [
    ("DepthToSpace", {"blocksize": 2, "mode": "DCR"}), ("DepthToSpace", {"blocksize": 2, "mode": "CRD"}),
    ("SpaceToDepth", {"blocksize": 2}),
])
def test_depth_space(op_type, attrs):
    shape = (1, 8, 2, 3) if op_type == "DepthToSpace" else (1, 2, 4, 6)
    check([n(op_type, ["x"], **attrs)], {"x": f32(*shape)})


@pytest.mark.parametrize("mode,transform,sizes", [
    ("nearest", "asymmetric", False), ("nearest", "half_pixel", True), ("linear", "half_pixel", False),
    ("linear", "align_corners", True), ("linear", "pytorch_half_pixel", False),
])
def test_resize(mode, transform, sizes):
    x = f32(1, 2, 4, 6)
    if sizes:
        inputs, inits = ["x", "", "", "sizes"], {"sizes": np.array([1, 2, 7, 3], np.int64)}
    else:
        inputs, inits = ["x", "", "scales"], {"scales": np.array([1, 1, 2, 0.5], np.float32)}
    module = check([n("Resize", inputs, mode=mode, coordinate_transformation_mode=transform)], {"x": x},
                   initializers=inits)
    assert _aic_ops(module) == ["aic_graph.resize"]


# -- constants ----------------------------------------------------------------------------


def test_constants_without_canonicalize():
    nodes = [helper.make_node("Constant", [], ["c"], name="c", value_floats=[1.0, 2.0, 3.0]),
             n("Add", ["x", "c"], ["a"]),
             n("ConstantOfShape", ["shape"], ["z"], value=numpy_helper.from_array(np.array([7], np.int32))),
             helper.make_node("Range", ["start", "limit", "delta"], ["r"], name="range"),
             n("EyeLike", ["x"], ["eye"], k=1), n("Shape", ["x"], ["s"], start=1), n("Size", ["x"], ["sz"])]
    check(nodes, {"x": f32(2, 3)}, outputs=("a", "z", "r", "eye", "s", "sz"), pipeline="shape-inference",
          initializers={"shape": np.array([2, 2], np.int64), "start": np.array(1, np.int64),
                        "limit": np.array(9, np.int64), "delta": np.array(3, np.int64)})


# -- the pass as a whole ------------------------------------------------------------------


def test_signature_attributes_names_and_weights_survive():
    model = onnx.load(MODELS / "resnet50_small.onnx")
    module = _run(import_model(model), "shape-inference,canonicalize")
    function = next(iter(module.ops))
    signature = (function.function_type, function.arg_attrs, function.res_attrs)
    blobs = {op.results[0].name_hint: op.properties["value"].blob for op in module.walk()
             if op.name.startswith("onnx.Constant") and isinstance(op.properties.get("value"), DenseBlobAttr)}
    _run(module, "convert-onnx-to-aic-graph")
    assert (function.function_type, function.arg_attrs, function.res_attrs) == signature
    assert function.body.block.last_op.name == "func.return"
    for op in module.walk():
        if op.name.startswith("aic_graph.") and op.name != "aic_graph.constant":
            assert "onnx_node_name" in op.attributes, op
        if op.name == "aic_graph.constant" and op.results[0].name_hint in blobs:
            assert op.value.blob is blobs[op.results[0].name_hint]  # the same bytes, never copied


def test_unused_ops_are_erased_first():
    module = check([n("Resize", ["x", "", "scales"], ["unused"], mode="cubic"), n("Relu", ["x"])],
                   {"x": f32(1, 1, 2, 2)}, initializers={"scales": np.array([1, 1, 2, 2], np.float32)},
                   pipeline="shape-inference")
    assert _aic_ops(module) == ["aic_graph.unary"]


def test_unconverted_ops_are_reported_together():
    nodes = [helper.make_node("Resize", ["x", "", "scales"], ["r"], name="up_1", mode="cubic"),
             helper.make_node("Resize", ["r", "", "scales"], ["r2"], name="up_2", mode="cubic"),
             helper.make_node("Hardmax", ["r2"], ["h"], name="hard"),
             helper.make_node("Relu", ["h"], ["y"], name="relu")]
    model = make_model(nodes, [_info("x", f32(1, 1, 2, 2))], [helper.make_empty_tensor_value_info("y")],
                       [numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")])
    module = _run(import_model(model), "shape-inference,canonicalize")
    with pytest.raises(UnsupportedModelError) as caught:
        _run(module, "convert-onnx-to-aic-graph")
    problems = caught.value.problems
    assert problems == [
        "Hardmax: 1 node(s) not converted: 'hard'",
        "Resize: 2 node(s) not converted: 'up_1', 'up_2' (mode cubic is not supported)",
    ]
    assert "2 unsupported part(s)" in str(caught.value)


def test_a_constant_operand_that_is_not_constant_is_reported():
    model = make_model([n("Slice", ["x", "starts", "ends"])], [_info("x", f32(4)), _info("starts", np.zeros(1, np.int64))],
                       [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
                       [numpy_helper.from_array(np.array([3], np.int64), "ends")])
    module = _run(import_model(model), "shape-inference,canonicalize")
    with pytest.raises(UnsupportedModelError, match=r"Slice: 1 node\(s\) not converted: 'slice_node' "
                                                    r"\(input 'starts' must be a constant\)"):
        _run(module, "convert-onnx-to-aic-graph")


def test_dynamic_shapes_are_reported():
    model = make_model([n("Relu", ["x"])], [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])],
                       [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])])
    module = import_model(model)
    with pytest.raises(UnsupportedModelError, match="no static shape"):
        _run(module, "convert-onnx-to-aic-graph")


@pytest.mark.parametrize("name", ["resnet50_small", "mobilenetv2_small", "bert_small", "gpt2_small", "vit_small"])
def test_exported_models_lower_completely_and_match_onnxruntime(name):
    path = MODELS / f"{name}.onnx"
    model = onnx.load(path)
    feeds = random_inputs(model, {"batch_size": 1, "sequence": 16}, seed=3)
    module = import_model(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # vision models have no symbols to bind
        _run(module, "bind-symbols{batch_size=1 sequence=16},shape-inference,canonicalize")
    CONVERTED_OP_TYPES.update(_onnx_op_types(module))
    _run(module, "convert-onnx-to-aic-graph")
    assert not [op.name for op in module.walk() if op.name.startswith("onnx.")]
    expected = run_ort(model, feeds)
    actual = list(run_module(module, feeds).values())
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        assert a.shape == e.shape and a.dtype == e.dtype
        assert float(np.max(np.abs(a - e))) <= 1e-4 * max(1e-12, float(np.max(np.abs(e))))


def test_supported_operators_lists_every_converted_op(tmp_path):
    listed = supported_operators()
    names = [op_type for op_type, _ in listed]
    assert names == sorted(names) and len(names) == len(set(names))
    declared = {op_type for pattern in ALL_PATTERNS for op_type in pattern.ONNX_OPS}
    assert set(names) == declared
    assert CONVERTED_OP_TYPES <= set(names), CONVERTED_OP_TYPES - set(names)
    assert dict(listed)["Resize"].startswith("opset 11 and later; modes nearest, linear")
    path = write_supported_operators(tmp_path)
    assert path.name == SUPPORTED_OPERATORS_FILE
    lines = path.read_text().splitlines()
    assert len(lines) == len(listed) and lines[0].split(":")[0] == names[0]
