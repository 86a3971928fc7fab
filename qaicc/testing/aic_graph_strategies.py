"""Building ``aic_graph`` graphs in code, and hypothesis strategies of random ones.

``GraphBuilder`` appends aic_graph ops to ``@main_graph`` and infers their result
types; the ``decomposed_*`` helpers emit the decomposed layers exporters produce (GELU
in several orders, LayerNorm, softmax, SiLU, BatchNormalization after a conv) that
``fuse-aic-graph`` recognizes.

``random_aic_graph()`` draws ``(module, feeds)``: a chain of conv, matmul, binary,
unary, reduce, softmax, layer_norm and decomposed layers on float32 tensors of random
shapes, with values kept in a range where float16 computation stays accurate. With
``batch_safe=True`` the leading (batch) dimension is 1 and no op reduces, normalizes or
transposes over it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from hypothesis import strategies as st
from xdsl.dialects import func
from xdsl.dialects.builtin import (
    ArrayAttr,
    DictionaryAttr,
    FloatAttr,
    IntegerAttr,
    ModuleOp,
    StringAttr,
    TensorType,
    f32,
    i1,
    i64,
)
from xdsl.ir import Block, Operation, Region, SSAValue

from qaicc.dialects.aic_graph import ops as g
from qaicc.dialects.onnx.element_types import from_numpy, from_xdsl
from qaicc.dialects.qaicc_attrs import DenseBlobAttr
from qaicc.onnx_io.attributes import int_array

COMPARISONS = {"equal", "less", "less_equal", "greater", "greater_equal", "and", "or", "xor"}


def _type(shape, dtype=np.float32) -> TensorType:
    return TensorType(from_numpy(np.dtype(dtype)).xdsl, tuple(int(d) for d in shape))


def shape(value: SSAValue) -> tuple[int, ...]:
    return tuple(value.type.get_shape())


def dtype(value: SSAValue) -> np.dtype:
    return from_xdsl(value.type.element_type).numpy


class GraphBuilder:
    """``@main_graph`` built op by op; every method returns the new op's result."""

    def __init__(self, inputs: Sequence[tuple[str, Sequence[int]] | tuple[str, Sequence[int], np.dtype]]):
        self.names = [spec[0] for spec in inputs]
        types = [_type(spec[1], spec[2] if len(spec) > 2 else np.float32) for spec in inputs]
        self.block = Block(arg_types=types)
        self.args = list(self.block.args)
        self.counter = 0

    def add(self, op: Operation) -> SSAValue:
        self.block.add_op(op)
        return op.results[0]

    def op(self, cls, operands, result_type, **props) -> SSAValue:
        props = {k: v for k, v in props.items() if v is not None}
        return self.add(cls.build(operands=list(operands), result_types=[result_type], properties=props))

    # -- constants ------------------------------------------------------------------
    def constant(self, array, name: str | None = None, dtype=None) -> SSAValue:
        array = np.asarray(array, dtype=dtype) if dtype is not None else np.asarray(array)
        if array.dtype == np.float64 and dtype is None:
            array = array.astype(np.float32)
        self.counter += 1
        type = _type(array.shape, array.dtype)
        attr = DenseBlobAttr.from_array(array, name or f"c{self.counter}", type)
        return self.op(g.ConstantOp, [], type, value=attr)

    def scalar(self, value: float, like: SSAValue | None = None) -> SSAValue:
        return self.constant(np.array(value, dtype=dtype(like) if like is not None else np.float32))

    # -- elementwise -----------------------------------------------------------------
    def unary(self, kind: str, x: SSAValue, alpha: float | None = None, beta: float | None = None) -> SSAValue:
        return self.op(g.UnaryOp, [x], x.type, kind=StringAttr(kind),
                       alpha=None if alpha is None else FloatAttr(alpha, f32),
                       beta=None if beta is None else FloatAttr(beta, f32))

    def binary(self, kind: str, a: SSAValue, b: SSAValue) -> SSAValue:
        out = np.broadcast_shapes(shape(a), shape(b))
        element = i1 if kind in COMPARISONS else a.type.element_type
        return self.op(g.BinaryOp, [a, b], TensorType(element, out), kind=StringAttr(kind))

    def cast(self, x: SSAValue, to) -> SSAValue:
        return self.op(g.CastOp, [x], _type(shape(x), to))

    # -- compute ---------------------------------------------------------------------
    def conv(self, x, w, bias=None, strides=(1, 1), pads=(0, 0, 0, 0), dilations=(1, 1), group=1,
             activation=None) -> SSAValue:
        n, _, *spatial = shape(x)
        m, _, *kernel = shape(w)
        half = len(spatial)
        out = [(spatial[i] + pads[i] + pads[half + i] - dilations[i] * (kernel[i] - 1) - 1) // strides[i] + 1
               for i in range(half)]
        return self.op(
            g.ConvOp, [x, w, [bias] if bias is not None else []], _type((n, m, *out), dtype(x)),
            strides=int_array(strides), pads=int_array(pads), dilations=int_array(dilations),
            group=IntegerAttr(group, i64), activation=StringAttr(activation) if activation else None,
        )

    def matmul(self, a, b, bias=None, transpose_b=False, activation=None) -> SSAValue:
        sa, sb = shape(a), shape(b)
        if transpose_b:
            sb = sb[:-2] + (sb[-1], sb[-2])
        out = tuple(np.broadcast_shapes(sa[:-2], sb[:-2])) + (sa[-2], sb[-1])
        return self.op(
            g.MatMulOp, [a, b, [bias] if bias is not None else []], _type(out, dtype(a)),
            transpose_b=IntegerAttr.from_bool(True) if transpose_b else None,
            activation=StringAttr(activation) if activation else None,
        )

    def reduce(self, kind: str, x: SSAValue, axes: Sequence[int], keepdims: bool = True) -> SSAValue:
        rank = len(shape(x))
        axes = sorted(a % rank for a in axes)
        out = [1 if i in axes else d for i, d in enumerate(shape(x)) if keepdims or i not in axes]
        return self.op(g.ReduceOp, [x], _type(out, dtype(x)), kind=StringAttr(kind), axes=int_array(axes),
                       keepdims=IntegerAttr.from_bool(keepdims))

    def softmax(self, x: SSAValue, axis: int = -1) -> SSAValue:
        return self.op(g.SoftmaxOp, [x], x.type, axis=IntegerAttr(axis % len(shape(x)), i64))

    def layer_norm(self, x, scale, bias=None, axis: int = -1, epsilon: float = 1e-5) -> SSAValue:
        return self.op(g.LayerNormOp, [x, scale, [bias] if bias is not None else []], x.type,
                       axis=IntegerAttr(axis % len(shape(x)), i64), epsilon=FloatAttr(epsilon, f32))

    def gelu(self, x: SSAValue, approximate: str = "none") -> SSAValue:
        return self.op(g.GeluOp, [x], x.type, approximate=StringAttr(approximate))

    # -- data movement ---------------------------------------------------------------
    def reshape(self, x: SSAValue, new_shape: Sequence[int]) -> SSAValue:
        return self.op(g.ReshapeOp, [x], _type(new_shape, dtype(x)))

    def transpose(self, x: SSAValue, perm: Sequence[int]) -> SSAValue:
        return self.op(g.TransposeOp, [x], _type([shape(x)[p] for p in perm], dtype(x)), perm=int_array(perm))

    def concat(self, values: Sequence[SSAValue], axis: int) -> SSAValue:
        out = list(shape(values[0]))
        out[axis] = sum(shape(v)[axis] for v in values)
        return self.op(g.ConcatOp, [list(values)], _type(out, dtype(values[0])), axis=IntegerAttr(axis, i64))

    def slice(self, x, starts, ends, axes, steps=None) -> SSAValue:
        steps = list(steps or [1] * len(axes))
        out = list(shape(x))
        for start, end, axis, step in zip(starts, ends, axes, steps):
            out[axis] = len(range(*slice(start, end, step).indices(out[axis])))
        return self.op(g.SliceOp, [x], _type(out, dtype(x)), starts=int_array(starts), ends=int_array(ends),
                       axes=int_array(axes), steps=int_array(steps))

    def expand(self, x: SSAValue, new_shape: Sequence[int]) -> SSAValue:
        return self.op(g.ExpandOp, [x], _type(new_shape, dtype(x)))

    def gather(self, data: SSAValue, indices: SSAValue, axis: int = 0) -> SSAValue:
        ds, ins = shape(data), shape(indices)
        out = ds[:axis] + ins + ds[axis + 1:]
        return self.op(g.GatherOp, [data, indices], _type(out, dtype(data)), axis=IntegerAttr(axis, i64))

    def pool(self, x, kind: str, kernel, strides=None, pads=None) -> SSAValue:
        strides = list(strides or kernel)
        pads = list(pads or [0] * (2 * len(kernel)))
        n, c, *spatial = shape(x)
        half = len(spatial)
        out = [(spatial[i] + pads[i] + pads[half + i] - kernel[i]) // strides[i] + 1 for i in range(half)]
        return self.op(g.PoolOp, [x], _type((n, c, *out), dtype(x)), kind=StringAttr(kind), kernel=int_array(kernel),
                       strides=int_array(strides), pads=int_array(pads), dilations=int_array([1] * half))

    # -- the function ------------------------------------------------------------------
    def module(self, outputs: Sequence[SSAValue], names: Sequence[str] | None = None) -> ModuleOp:
        names = list(names or [f"y{i}" for i in range(len(outputs))])
        self.block.add_op(func.ReturnOp(*outputs))
        arg_types = [arg.type for arg in self.args]
        attrs = lambda items: ArrayAttr([DictionaryAttr({"onnx.name": StringAttr(n)}) for n in items])
        function = func.FuncOp(
            "main_graph", (arg_types, [v.type for v in outputs]), Region(self.block),
            arg_attrs=attrs(self.names), res_attrs=attrs(names),
        )
        return ModuleOp([function])


# -- decomposed layers, as exporters emit them -----------------------------------------
GELU_ERF_FORMS = ("x*0.5*(1+erf)", "0.5*x*(1+erf)", "x*(0.5*(1+erf))", "(x*(1+erf))/2", "(1+erf)*x*0.5")


def decomposed_gelu_erf(b: GraphBuilder, x: SSAValue, form: str = GELU_ERF_FORMS[0],
                        divide: bool = True) -> SSAValue:
    """GELU(x) with erf; ``divide``: ``x / 1.4142135`` (else ``x * 0.70710677``)."""
    inner = b.binary("div", x, b.scalar(1.4142135, x)) if divide else b.binary("mul", x, b.scalar(0.70710677, x))
    one_plus = b.binary("add", b.unary("erf", inner), b.scalar(1.0, x))
    half = b.scalar(0.5, x)
    if form == "x*0.5*(1+erf)":
        return b.binary("mul", b.binary("mul", x, half), one_plus)
    if form == "0.5*x*(1+erf)":
        return b.binary("mul", b.binary("mul", half, x), one_plus)
    if form == "x*(0.5*(1+erf))":
        return b.binary("mul", x, b.binary("mul", half, one_plus))
    if form == "(x*(1+erf))/2":
        return b.binary("div", b.binary("mul", x, one_plus), b.scalar(2.0, x))
    if form == "(1+erf)*x*0.5":
        return b.binary("mul", b.binary("mul", one_plus, x), half)
    raise ValueError(form)


def decomposed_gelu_tanh(b: GraphBuilder, x: SSAValue, cube: str = "pow") -> SSAValue:
    """0.5 * x * (1 + tanh(0.7978845608 * (x + 0.044715 * x^3))), as GPT-2 exports it."""
    if cube == "pow":
        x3 = b.binary("pow", x, b.scalar(3.0, x))
    else:
        x3 = b.binary("mul", x, b.binary("mul", x, x))
    inner = b.binary("add", x, b.binary("mul", b.scalar(0.044715, x), x3))
    t = b.unary("tanh", b.binary("mul", b.scalar(math.sqrt(2 / math.pi), x), inner))
    return b.binary("mul", b.binary("mul", b.scalar(0.5, x), x), b.binary("add", b.scalar(1.0, x), t))


def decomposed_layer_norm(b: GraphBuilder, x: SSAValue, axes: Sequence[int] = (-1,), scale=None, bias=None,
                          epsilon: float = 1e-5, square: str = "pow", divide: str = "div") -> SSAValue:
    d = b.binary("sub", x, b.reduce("mean", x, axes))
    sq = b.binary("pow", d, b.scalar(2.0, x)) if square == "pow" else b.binary("mul", d, d)
    std = b.unary("sqrt", b.binary("add", b.reduce("mean", sq, axes), b.scalar(epsilon, x)))
    if divide == "div":
        y = b.binary("div", d, std)
    else:
        y = b.binary("mul", d, b.unary("reciprocal", std))
    if scale is not None:
        y = b.binary("mul", y, b.constant(scale))
    if bias is not None:
        y = b.binary("add", y, b.constant(bias))
    return y


def decomposed_softmax(b: GraphBuilder, x: SSAValue, axis: int = -1, subtract_max: bool = True) -> SSAValue:
    z = b.binary("sub", x, b.reduce("max", x, [axis])) if subtract_max else x
    e = b.unary("exp", z)
    return b.binary("div", e, b.reduce("sum", e, [axis]))


def decomposed_silu(b: GraphBuilder, x: SSAValue, sigmoid_first: bool = False) -> SSAValue:
    s = b.unary("sigmoid", x)
    return b.binary("mul", s, x) if sigmoid_first else b.binary("mul", x, s)


def batch_norm(b: GraphBuilder, x: SSAValue, rng: np.random.Generator) -> SSAValue:
    """A BatchNormalization as convert-onnx-to-aic-graph lowers it: per-channel mul, add."""
    channels = shape(x)[1]
    broadcast = (channels,) + (1,) * (len(shape(x)) - 2)
    factor = rng.uniform(0.5, 1.5, broadcast).astype(np.float32)
    shift = rng.uniform(-0.5, 0.5, broadcast).astype(np.float32)
    return b.binary("add", b.binary("mul", x, b.constant(factor, "bn.scale")), b.constant(shift, "bn.shift"))


# -- random graphs ----------------------------------------------------------------------------
class _Chain:
    """A chain of ops on one float32 value, drawn step by step."""

    def __init__(self, draw, rng: np.random.Generator, b: GraphBuilder, batch_safe: bool):
        self.draw, self.rng, self.b, self.batch_safe = draw, rng, b, batch_safe
        self.x = b.args[0]

    def weights(self, *dims: int, fan_in: int) -> SSAValue:
        return self.b.constant((self.rng.standard_normal(dims) / math.sqrt(fan_in)).astype(np.float32))

    def axis(self, rank: int) -> int:
        low = 1 if self.batch_safe and rank > 1 else 0
        return self.draw(st.integers(low, rank - 1))

    # each step replaces self.x; values stay within a few units
    def unary(self):
        kind = self.draw(st.sampled_from(["relu", "sigmoid", "tanh", "neg", "abs", "silu"]))
        self.x = self.b.unary(kind, self.x)

    def clip(self):
        self.x = self.b.unary("clip", self.x, alpha=-1.0, beta=1.5)

    def binary(self):
        kind = self.draw(st.sampled_from(["add", "sub", "mul", "max"]))
        suffix = self.draw(st.integers(0, len(shape(self.x))))
        other_shape = shape(self.x)[len(shape(self.x)) - suffix:]
        other = self.b.constant(self.rng.uniform(-1, 1, other_shape).astype(np.float32))
        self.x = self.b.binary(kind, self.x, other)

    def matmul(self):
        k = shape(self.x)[-1]
        n = self.draw(st.integers(1, 6))
        transpose_b = self.draw(st.booleans())
        w = self.weights(n, k, fan_in=k) if transpose_b else self.weights(k, n, fan_in=k)
        y = self.b.matmul(self.x, w, transpose_b=transpose_b)
        if self.draw(st.booleans()):  # a bias add, as MatMul + Add
            y = self.b.binary("add", y, self.b.constant(self.rng.uniform(-1, 1, (n,)).astype(np.float32)))
        self.x = self.activation(y)

    def conv(self):
        s = shape(self.x)
        if len(s) != 4:
            return
        c = s[1]
        m = self.draw(st.integers(1, 4))
        kernel = self.draw(st.integers(1, min(3, s[2], s[3])))
        pad = self.draw(st.integers(0, kernel // 2))
        w = self.weights(m, c, kernel, kernel, fan_in=c * kernel * kernel)
        bias = self.b.constant(self.rng.uniform(-1, 1, (m,)).astype(np.float32)) if self.draw(st.booleans()) else None
        y = self.b.conv(self.x, w, bias, pads=(pad,) * 4)
        if self.draw(st.booleans()):
            y = batch_norm(self.b, y, self.rng)
        if self.draw(st.booleans()):
            y = self.b.binary("add", y, self.b.constant(self.rng.uniform(-1, 1, (m, 1, 1)).astype(np.float32)))
        self.x = self.activation(y)

    def activation(self, y: SSAValue) -> SSAValue:
        choice = self.draw(st.sampled_from(["none", "relu", "clip", "sigmoid", "silu", "gelu", "gelu_tanh"]))
        if choice == "none":
            return y
        if choice == "clip":
            return self.b.unary("clip", y, alpha=0.0, beta=6.0)
        if choice == "silu":
            return decomposed_silu(self.b, y, self.draw(st.booleans()))
        if choice == "gelu":
            return decomposed_gelu_erf(self.b, y, self.draw(st.sampled_from(GELU_ERF_FORMS)), self.draw(st.booleans()))
        if choice == "gelu_tanh":
            return decomposed_gelu_tanh(self.b, y, self.draw(st.sampled_from(["pow", "mul"])))
        return self.b.unary(choice, y)

    def reduce(self):
        rank = len(shape(self.x))
        if rank < 2 or (self.batch_safe and rank < 3):
            return
        kind = self.draw(st.sampled_from(["sum", "mean", "max"]))
        axis = self.axis(rank)
        y = self.b.reduce(kind, self.x, [axis], keepdims=True)
        if kind == "sum":
            y = self.b.binary("mul", y, self.b.scalar(1.0 / shape(self.x)[axis]))
        self.x = y

    def softmax(self):
        axis = self.axis(len(shape(self.x)))
        if self.draw(st.booleans()):
            self.x = decomposed_softmax(self.b, self.x, axis, self.draw(st.booleans()))
        else:
            self.x = self.b.softmax(self.x, axis)

    def layer_norm(self):
        rank = len(shape(self.x))
        first = self.axis(rank)
        if rank - first > 2:
            first = rank - 2
        norm_shape = shape(self.x)[first:]
        scale = self.rng.uniform(0.5, 1.5, norm_shape).astype(np.float32)
        bias = self.rng.uniform(-0.5, 0.5, norm_shape).astype(np.float32)
        if self.draw(st.booleans()):
            self.x = decomposed_layer_norm(
                self.b, self.x, list(range(first, rank)),
                scale=scale if self.draw(st.booleans()) else None,
                bias=bias if self.draw(st.booleans()) else None,
                square=self.draw(st.sampled_from(["pow", "mul"])),
                divide=self.draw(st.sampled_from(["div", "reciprocal"])),
            )
        else:
            self.x = self.b.layer_norm(self.x, self.b.constant(scale), self.b.constant(bias), axis=first)

    def transpose(self):
        rank = len(shape(self.x))
        if self.batch_safe:
            perm = [0] + list(self.draw(st.permutations(range(1, rank)))) if rank > 1 else [0]
        else:
            perm = list(self.draw(st.permutations(range(rank))))
        self.x = self.b.transpose(self.x, perm)


class AicGraphCase(tuple):
    """``(module, feeds)`` that hypothesis reports as the IR, not as Python objects."""

    def __repr__(self) -> str:
        from qaicc.ir.printing import print_module

        module, feeds = self
        shapes = {name: value.shape for name, value in feeds.items()}
        return f"AicGraphCase(feeds={shapes}):\n{print_module(module)}"


@st.composite
def random_aic_graph(draw, max_ops: int = 6, batch_safe: bool = False, image: bool | None = None):
    """``(module, feeds)``: a random chain of aic_graph ops on one float32 input ``x``."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if image is None:
        image = draw(st.booleans())
    if image:
        dims = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(2, 6)), draw(st.integers(2, 6)))
    else:
        rank = draw(st.integers(2, 3))
        dims = tuple(draw(st.lists(st.integers(1, 5), min_size=rank, max_size=rank)))
    if batch_safe:  # a model compiled at batch 1
        dims = (1,) + dims[1:]
    b = GraphBuilder([("x", dims)])
    chain = _Chain(draw, rng, b, batch_safe)
    steps = [chain.unary, chain.clip, chain.binary, chain.matmul, chain.reduce, chain.softmax, chain.layer_norm,
             chain.transpose]
    if image:
        steps = [chain.conv] * 3 + steps
    for _ in range(draw(st.integers(1, max_ops))):
        draw(st.sampled_from(steps))()
    module = b.module([chain.x])
    feeds = {"x": rng.standard_normal(dims).astype(np.float32)}
    return AicGraphCase((module, feeds))


# -- comparing outputs ------------------------------------------------------------------------
def relative_error(expected, actual) -> float:
    """Max abs difference relative to the max abs expected value (at least 1e-30)."""
    e, a = np.asarray(expected, np.float64), np.asarray(actual, np.float64)
    if e.size == 0:
        return 0.0
    return float(np.max(np.abs(e - a)) / max(float(np.max(np.abs(e))), 1e-30))


def cosine(expected, actual) -> float:
    e, a = np.asarray(expected, np.float64).ravel(), np.asarray(actual, np.float64).ravel()
    norms = np.linalg.norm(e) * np.linalg.norm(a)
    if norms == 0:
        return 1.0 if np.array_equal(e, a) else 0.0
    return float(np.dot(e, a) / norms)
