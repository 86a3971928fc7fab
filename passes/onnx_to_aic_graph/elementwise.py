"""Elementwise operators: activations and math (aic_graph.unary, aic_graph.gelu), binary
arithmetic, comparisons and logic (aic_graph.binary), Where (aic_graph.select), Cast
(aic_graph.cast), the variadic Max/Min/Sum/Mean, Clip, and activations the device
computes as a few of these (Selu, Celu, HardSwish, Softsign, Mish, PRelu, ...). The
pattern ``x * Sigmoid(x)`` becomes one ``silu``."""

from __future__ import annotations

import numpy as np
from xdsl.dialects import builtin

from qaicc.dialects.aic_graph import ops as aic
from qaicc.dialects.onnx.base import OnnxOp
from qaicc.passes.onnx_to_aic_graph.common import (
    BOOL_TYPES,
    FLOAT_TYPES,
    Emitter,
    Node,
    NotConvertible,
    OnnxToAicGraphPattern,
    const_array,
    element_of,
    rank_of,
    require_float,
    shape_of,
    str_attr,
    type_text,
)

FLOAT_UNARY = {
    "Sigmoid": "sigmoid", "Tanh": "tanh", "Exp": "exp", "Log": "log", "Sqrt": "sqrt",
    "Reciprocal": "reciprocal", "Erf": "erf", "Sin": "sin", "Cos": "cos", "Softplus": "softplus",
    "Floor": "floor", "Ceil": "ceil", "Round": "round",
}
NUMERIC_UNARY = {"Relu": "relu", "Neg": "neg", "Abs": "abs", "Sign": "sign"}


def _require_not_bool(value, what: str = "the input") -> None:
    if element_of(value) in BOOL_TYPES:
        raise NotConvertible(f"{what} is bool")


class ConvertUnary(OnnxToAicGraphPattern):
    ONNX_OPS = {
        **{op: "float types" for op in FLOAT_UNARY},
        **{op: "float and integer types" for op in NUMERIC_UNARY},
        "Not": "",
    }

    def convert(self, node: Node, emit: Emitter):
        x = node.op.operands[0]
        kind = FLOAT_UNARY.get(node.op_type)
        if kind is not None:
            require_float(x)
        else:
            kind = NUMERIC_UNARY.get(node.op_type, "not")
            if kind != "not":
                _require_not_bool(x)
        return [emit.unary(x, kind, type=node.result.type)]


class ConvertParametricActivation(OnnxToAicGraphPattern):
    """Activations with attributes that aic_graph.unary takes as alpha / beta."""

    ONNX_OPS = {"LeakyRelu": "float types", "Elu": "float types", "HardSigmoid": "float types"}
    DEFAULTS = {"LeakyRelu": ("leaky_relu", 0.01, None), "Elu": ("elu", 1.0, None),
                "HardSigmoid": ("hard_sigmoid", 0.2, 0.5)}

    def convert(self, node: Node, emit: Emitter):
        x = node.op.operands[0]
        require_float(x)
        kind, alpha, beta = self.DEFAULTS[node.op_type]
        alpha = node.attr("alpha", alpha)
        if beta is not None:
            beta = node.attr("beta", beta)
        return [emit.unary(x, kind, alpha=alpha, beta=beta, type=node.result.type)]


class ConvertGelu(OnnxToAicGraphPattern):
    ONNX_OPS = {"Gelu": "approximate none or tanh"}

    def convert(self, node: Node, emit: Emitter):
        x = node.op.operands[0]
        require_float(x)
        approximate = node.attr("approximate", "none")
        if approximate not in ("none", "tanh"):
            raise NotConvertible(f"approximate '{approximate}' is not supported")
        return [emit.build(aic.GeluOp, [x], node.result.type, approximate=str_attr(approximate))]


class ConvertComposedActivation(OnnxToAicGraphPattern):
    """Activations computed from a few unary/binary ops."""

    ONNX_OPS = {
        "Selu": "float types", "Celu": "float types", "HardSwish": "float types",
        "Softsign": "float types", "ThresholdedRelu": "float types", "Mish": "float types",
        "Swish": "float types", "PRelu": "float types; slope broadcast to the input",
    }

    def convert(self, node: Node, emit: Emitter):
        x = node.op.operands[0]
        require_float(x)
        out = node.result.type
        kind = node.op_type
        if kind == "Selu":  # gamma * elu(x, alpha)
            elu = emit.unary(x, "elu", alpha=node.attr("alpha", 1.67326319217681884765625))
            return [emit.binary("mul", elu, emit.scalar(node.attr("gamma", 1.05070102214813232421875), x), out)]
        if kind == "Celu":  # alpha * elu(x / alpha, 1)
            alpha = node.attr("alpha", 1.0)
            if alpha == 1.0:
                return [emit.unary(x, "elu", alpha=1.0, type=out)]
            scaled = emit.binary("div", x, emit.scalar(alpha, x))
            return [emit.binary("mul", emit.unary(scaled, "elu", alpha=1.0), emit.scalar(alpha, x), out)]
        if kind == "HardSwish":  # x * hard_sigmoid(x, 1/6, 0.5)
            gate = emit.unary(x, "hard_sigmoid", alpha=1.0 / 6.0, beta=0.5)
            return [emit.binary("mul", x, gate, out)]
        if kind == "Softsign":  # x / (1 + |x|)
            denominator = emit.binary("add", emit.unary(x, "abs"), emit.scalar(1.0, x))
            return [emit.binary("div", x, denominator, out)]
        if kind == "ThresholdedRelu":  # x if x > alpha else 0
            above = emit.binary("greater", x, emit.scalar(node.attr("alpha", 1.0), x))
            return [emit.select(above, x, emit.scalar(0.0, x), out)]
        if kind == "Mish":  # x * tanh(softplus(x))
            return [emit.binary("mul", x, emit.unary(emit.unary(x, "softplus"), "tanh"), out)]
        if kind == "Swish":  # x * sigmoid(alpha * x)
            alpha = node.attr("alpha", 1.0)
            if alpha == 1.0:
                return [emit.unary(x, "silu", type=out)]
            gate = emit.unary(emit.binary("mul", x, emit.scalar(alpha, x)), "sigmoid")
            return [emit.binary("mul", x, gate, out)]
        # PRelu: x if x >= 0 else slope * x
        slope = node.op.operands[1]
        if element_of(slope) != element_of(x):
            raise NotConvertible("slope and input differ in element type")
        negative = emit.binary("less", x, emit.scalar(0.0, x))
        return [emit.select(negative, emit.binary("mul", x, slope), x, out)]


def _is_sigmoid_of(value, x) -> bool:
    owner = value.owner
    if isinstance(owner, aic.UnaryOp):
        return owner.kind.data == "sigmoid" and owner.input == x
    if isinstance(owner, OnnxOp) and owner.ONNX_SIGNATURE.op_type == "Sigmoid":
        return owner.operands[0] == x
    return False


class FuseSiLU(OnnxToAicGraphPattern):
    """``x * Sigmoid(x)`` (SiLU / Swish) -> one aic_graph.unary silu."""

    ONNX_OPS = {"Mul": "x * Sigmoid(x) becomes one silu"}

    def convert(self, node: Node, emit: Emitter):
        a, b = node.op.operands
        if node.result.type != a.type and node.result.type != b.type:
            return None
        for x, gate in ((a, b), (b, a)):
            if x.type == node.result.type and _is_sigmoid_of(gate, x) and element_of(x) in FLOAT_TYPES:
                return [emit.unary(x, "silu", type=node.result.type)]
        return None


BINARY = {
    "Add": "add", "Sub": "sub", "Mul": "mul", "Div": "div", "Pow": "pow",
    "And": "and", "Or": "or", "Xor": "xor",
    "Equal": "equal", "Less": "less", "LessOrEqual": "less_equal", "Greater": "greater",
    "GreaterOrEqual": "greater_equal",
}


def _legacy_broadcast(node: Node, emit: Emitter, b):
    """Before opset 7, B broadcasts to A only with broadcast=1, aligned at ``axis``."""
    if not node.has_attr("broadcast"):
        return b
    a = node.op.operands[0]
    if not node.attr("broadcast", 0):
        if shape_of(a) != shape_of(b):
            raise NotConvertible("shapes differ without broadcast=1")
        return b
    axis = node.attr("axis")
    if axis is None:
        return b
    axis = axis + rank_of(a) if axis < 0 else axis
    trailing = rank_of(a) - axis - rank_of(b)
    if trailing < 0:
        raise NotConvertible(f"axis {axis} does not fit B's rank")
    return emit.reshape(b, shape_of(b) + (1,) * trailing)


class ConvertBinary(OnnxToAicGraphPattern):
    ONNX_OPS = {
        **{op: "numpy broadcasting" for op in ("Add", "Sub", "Mul")},
        "Div": "numpy broadcasting; integer division truncates toward zero",
        "Pow": "float base (exponent of a float or integer type)",
        "Mod": "fmod 0 (sign of the divisor) or 1 (sign of the dividend)",
        **{op: "bool tensors" for op in ("And", "Or", "Xor")},
        **{op: "numpy broadcasting" for op in ("Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual")},
    }

    def convert(self, node: Node, emit: Emitter):
        a, b = node.op.operands
        kind = BINARY.get(node.op_type)
        if node.op_type == "Mod":
            kind = "fmod" if node.attr("fmod", 0) else "mod"
        if kind == "pow":
            require_float(a, "the base")
            b = emit.cast(b, element_of(a))
        elif element_of(a) != element_of(b):
            raise NotConvertible(f"operands are {type_text(element_of(a))} and {type_text(element_of(b))}")
        b = _legacy_broadcast(node, emit, b)
        return [emit.binary(kind, a, b, node.result.type)]


class ConvertVariadic(OnnxToAicGraphPattern):
    """Max, Min, Sum, Mean of any number of inputs: a chain of binary ops."""

    ONNX_OPS = {"Max": "numpy broadcasting", "Min": "numpy broadcasting", "Sum": "numpy broadcasting",
                "Mean": "float types, numpy broadcasting"}
    KINDS = {"Max": "max", "Min": "min", "Sum": "add", "Mean": "add"}

    def convert(self, node: Node, emit: Emitter):
        values = list(node.op.operands)
        out = node.result.type
        if node.op_type == "Mean":
            require_float(values[0])
        if len(values) == 1:
            only = values[0]
            return [only if only.type == out else emit.build(aic.ExpandOp, [only], out)]
        kind = self.KINDS[node.op_type]
        acc = values[0]
        for index, value in enumerate(values[1:], start=2):
            last = index == len(values) and node.op_type != "Mean"
            acc = emit.binary(kind, acc, value, out if last else None)
        if node.op_type == "Mean":
            acc = emit.binary("div", acc, emit.scalar(len(values), acc), out)
        return [acc]


class ConvertWhere(OnnxToAicGraphPattern):
    ONNX_OPS = {"Where": "numpy broadcasting"}

    def convert(self, node: Node, emit: Emitter):
        condition, on_true, on_false = node.op.operands
        return [emit.select(condition, on_true, on_false, node.result.type)]


CAST_LIMITS = "between bool, int8-64, uint8-64, float16, bfloat16, float32, float64 (no float8/6/4, int4/2)"


class ConvertCast(OnnxToAicGraphPattern):
    ONNX_OPS = {"Cast": CAST_LIMITS, "CastLike": CAST_LIMITS}

    def convert(self, node: Node, emit: Emitter):
        x = node.op.operands[0]
        if x.type == node.result.type:
            return [x]
        return [emit.build(aic.CastOp, [x], node.result.type)]


def _scalar_value(array: np.ndarray | None):
    if array is None or array.size != 1:
        return None
    return array.reshape(()).item()


class ConvertClip(OnnxToAicGraphPattern):
    """Clip: aic_graph.unary clip for float tensors with constant bounds, else max/min."""

    ONNX_OPS = {"Clip": "float and integer types; bounds constant or not"}

    def convert(self, node: Node, emit: Emitter):
        x = node.op.operands[0]
        _require_not_bool(x)
        out = node.result.type
        if not node.has_input("min"):  # Clip-1 and Clip-6: float attributes
            low = node.attr("min", -3.4028234663852886e38)
            high = node.attr("max", 3.4028234663852886e38)
            require_float(x)
            return [emit.unary(x, "clip", alpha=low, beta=high, type=out)]
        low_value, high_value = node.input("min"), node.input("max")
        low, high = _scalar_value(const_array(low_value)), _scalar_value(const_array(high_value))
        f32_exact = element_of(x) in (builtin.f16, builtin.bf16, builtin.f32)
        if f32_exact and low is not None and high is not None:
            return [emit.unary(x, "clip", alpha=low, beta=high, type=out)]
        result = x
        for kind, bound in (("max", low_value), ("min", high_value)):
            if bound is None:
                continue
            if shape_of(bound) != () and int(np.prod(shape_of(bound))) == 1:
                bound = emit.reshape(bound, ())
            result = emit.binary(kind, result, bound)
        if result is x:
            return [x]
        return [result]


PATTERNS = (
    FuseSiLU, ConvertUnary, ConvertParametricActivation, ConvertGelu, ConvertComposedActivation,
    ConvertBinary, ConvertVariadic, ConvertWhere, ConvertCast, ConvertClip,
)
