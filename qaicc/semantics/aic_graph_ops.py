"""Reference semantics of the ``aic_graph`` dialect on numpy, in device precision.

Results have the element type of the op's result type. Float16 ops compute in float16
(each elementwise op rounds to float16), except that matmul and convolution accumulate
in float32, and reductions, softmax and normalizations accumulate in float32, as the
device's matrix and vector units do; the result is rounded to float16 once.
"""

from __future__ import annotations

import math

import ml_dtypes
import numpy as np
from xdsl.dialects.builtin import TensorType

from qaicc.dialects.aic_graph import ops as g
from qaicc.dialects.onnx.element_types import from_xdsl
from qaicc.errors import QaiccError
from qaicc.semantics.registry import register_op


def result_dtype(op, index: int = 0) -> np.dtype:
    type = op.results[index].type
    element = from_xdsl(type.element_type) if isinstance(type, TensorType) else None
    if element is None:
        raise QaiccError(f"{op.name}: no numpy dtype for {type}")
    return element.numpy


def result_shape(op, index: int = 0) -> tuple[int, ...]:
    return tuple(op.results[index].type.get_shape())


def _wide(x: np.ndarray) -> np.ndarray:
    """float16/bfloat16 -> float32 for accumulation; other types unchanged."""
    if x.dtype in (np.float16, np.dtype(ml_dtypes.bfloat16)):
        return x.astype(np.float32)
    return x


def _one(fn):
    """Register a factory whose kernel returns one result cast to the result dtype."""

    def factory(op):
        dtype = result_dtype(op)
        compute = fn(op)

        def kernel(args, runner, env):
            return [np.asarray(compute(*args)).astype(dtype, copy=False)]

        return kernel

    return factory


def _activation(op, y: np.ndarray) -> np.ndarray:
    kind = op.str_prop("activation", "none")
    if kind == "none":
        return y
    if kind == "relu":
        return np.maximum(y, 0)
    if kind == "clip":
        low = op.float_prop("activation_min", -np.inf)
        high = op.float_prop("activation_max", np.inf)
        return np.clip(y, low, high)
    if kind == "sigmoid":
        return 1 / (1 + np.exp(-y))
    if kind == "tanh":
        return np.tanh(y)
    if kind == "silu":
        return y / (1 + np.exp(-y))
    if kind == "gelu":
        return _gelu(y, "none")
    if kind == "gelu_tanh":
        return _gelu(y, "tanh")
    raise QaiccError(f"{op.name}: unknown activation {kind}")


def _erf(x: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erf, otypes=[np.float64])(x).astype(x.dtype) if x.size else x


def _gelu(x: np.ndarray, approximate: str) -> np.ndarray:
    if approximate == "tanh":
        return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))
    return 0.5 * x * (1 + _erf(x / np.sqrt(2)))


# -- constants ---------------------------------------------------------------------
@register_op("aic_graph.constant")
def constant_kernel(op):
    value = op.value.to_numpy()
    return lambda args, runner, env: [value]


@register_op("aic_graph.mxfp6_constant")
def mxfp6_constant_kernel(op):
    from qaicc.semantics.mxfp6 import MXFP6Weight

    weight = MXFP6Weight(op.elements.to_numpy(), op.scales.to_numpy(), op.int_prop("axis"), result_shape(op))
    return lambda args, runner, env: [weight]


@register_op("aic_graph.dequantize")
@_one
def dequantize(op):
    return lambda w: w.dequantize()


# -- compute -----------------------------------------------------------------------
@register_op("aic_graph.matmul")
@_one
def matmul(op):
    transpose_a = op.transpose_a is not None and op.transpose_a.value.data
    transpose_b = op.transpose_b is not None and op.transpose_b.value.data
    alpha = op.float_prop("alpha", 1.0)

    def compute(a, b, bias=None):
        a, b = _wide(np.asarray(a)), _wide(np.asarray(b))
        if transpose_a:
            a = np.swapaxes(a, -1, -2)
        if transpose_b:
            b = np.swapaxes(b, -1, -2)
        y = np.matmul(a, b)
        if alpha != 1.0:
            y = y * np.float32(alpha)
        if bias is not None:
            y = y + _wide(np.asarray(bias))
        return _activation(op, y)

    return compute


def _im2col_conv(x: np.ndarray, w: np.ndarray, strides, pads, dilations, group: int) -> np.ndarray:
    spatial = x.ndim - 2
    begins, ends = pads[:spatial], pads[spatial:]
    x = np.pad(x, [(0, 0), (0, 0)] + [(b, e) for b, e in zip(begins, ends)])
    n, c = x.shape[:2]
    m, c_per_group = w.shape[:2]
    kernel = w.shape[2:]
    out_sizes = [
        (x.shape[2 + i] - dilations[i] * (kernel[i] - 1) - 1) // strides[i] + 1 for i in range(spatial)
    ]
    windows = np.lib.stride_tricks.sliding_window_view(
        x, [(k - 1) * d + 1 for k, d in zip(kernel, dilations)], axis=tuple(range(2, 2 + spatial))
    )
    index = tuple(slice(None, None, s) for s in strides)
    windows = windows[(slice(None), slice(None), *index)]
    windows = windows[(Ellipsis, *[slice(None, None, d) for d in dilations])]
    windows = windows[(slice(None), slice(None), *[slice(0, o) for o in out_sizes])]
    m_per_group = m // group
    outputs = []
    for gi in range(group):
        xs = windows[:, gi * c_per_group:(gi + 1) * c_per_group]
        ws = w[gi * m_per_group:(gi + 1) * m_per_group]
        letters = "defg"[:spatial]
        klet = "hijk"[:spatial]
        expr = f"nc{letters}{klet},mc{klet}->nm{letters}"
        outputs.append(np.einsum(expr, xs, ws, optimize=True))
    return np.concatenate(outputs, axis=1)


@register_op("aic_graph.conv")
@_one
def conv(op):
    strides, pads, dilations = op.int_list("strides"), op.int_list("pads"), op.int_list("dilations")
    group = op.int_prop("group", 1)

    def compute(x, w, bias=None):
        x, w = _wide(np.asarray(x)), _wide(np.asarray(w))
        y = _im2col_conv(x, w, strides, pads, dilations, group)
        if bias is not None:
            y = y + _wide(np.asarray(bias)).reshape((1, -1) + (1,) * (y.ndim - 2))
        return _activation(op, y)

    return compute


_UNARY = {
    "relu": lambda x, a, b: np.maximum(x, 0),
    "sigmoid": lambda x, a, b: 1 / (1 + np.exp(-x)),
    "tanh": lambda x, a, b: np.tanh(x),
    "exp": lambda x, a, b: np.exp(x),
    "log": lambda x, a, b: np.log(x),
    "sqrt": lambda x, a, b: np.sqrt(x),
    "reciprocal": lambda x, a, b: 1 / x,
    "neg": lambda x, a, b: -x,
    "abs": lambda x, a, b: np.abs(x),
    "erf": lambda x, a, b: _erf(x),
    "silu": lambda x, a, b: x / (1 + np.exp(-x)),
    "clip": lambda x, a, b: np.clip(x, a if a is not None else -np.inf, b if b is not None else np.inf),
    "leaky_relu": lambda x, a, b: np.where(x >= 0, x, x * (0.01 if a is None else a)),
    "elu": lambda x, a, b: np.where(x >= 0, x, (1.0 if a is None else a) * (np.exp(x) - 1)),
    "softplus": lambda x, a, b: np.log1p(np.exp(x)),
    "hard_sigmoid": lambda x, a, b: np.clip(x * (0.2 if a is None else a) + (0.5 if b is None else b), 0, 1),
    "floor": lambda x, a, b: np.floor(x),
    "ceil": lambda x, a, b: np.ceil(x),
    "round": lambda x, a, b: np.round(x),
    "sign": lambda x, a, b: np.sign(x),
    "sin": lambda x, a, b: np.sin(x),
    "cos": lambda x, a, b: np.cos(x),
    "not": lambda x, a, b: np.logical_not(x),
    "identity": lambda x, a, b: x,
}


@register_op("aic_graph.unary")
@_one
def unary(op):
    kind = op.kind.data
    fn = _UNARY.get(kind)
    if fn is None:
        raise QaiccError(f"aic_graph.unary: unknown kind '{kind}'")
    alpha = op.alpha.value.data if op.alpha is not None else None
    beta = op.beta.value.data if op.beta is not None else None
    return lambda x: fn(np.asarray(x), alpha, beta)


def _int_div(a, b):
    return np.trunc(np.true_divide(a, b)).astype(np.result_type(a, b))


_BINARY = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "pow": np.power,
    "max": np.maximum, "min": np.minimum, "fmod": np.fmod, "mod": np.mod,
    "and": np.logical_and, "or": np.logical_or, "xor": np.logical_xor,
    "equal": np.equal, "less": np.less, "less_equal": np.less_equal,
    "greater": np.greater, "greater_equal": np.greater_equal,
}


@register_op("aic_graph.binary")
@_one
def binary(op):
    kind = op.kind.data

    def compute(a, b):
        a, b = np.asarray(a), np.asarray(b)
        if kind == "div":
            if a.dtype.kind in "iu" and b.dtype.kind in "iu":
                return _int_div(a, b)
            return np.true_divide(a, b)
        fn = _BINARY.get(kind)
        if fn is None:
            raise QaiccError(f"aic_graph.binary: unknown kind '{kind}'")
        if kind == "pow" and a.dtype.kind == "f":
            return np.power(a, b.astype(a.dtype))
        return fn(a, b)

    return compute


@register_op("aic_graph.select")
@_one
def select(op):
    return lambda c, t, f: np.where(np.asarray(c, bool), t, f)


_REDUCE = {
    "sum": lambda x, axes, keep: np.sum(x, axis=axes, keepdims=keep),
    "mean": lambda x, axes, keep: np.mean(x, axis=axes, keepdims=keep),
    "max": lambda x, axes, keep: np.max(x, axis=axes, keepdims=keep),
    "min": lambda x, axes, keep: np.min(x, axis=axes, keepdims=keep),
    "prod": lambda x, axes, keep: np.prod(x, axis=axes, keepdims=keep),
    "sum_square": lambda x, axes, keep: np.sum(x * x, axis=axes, keepdims=keep),
    "l1": lambda x, axes, keep: np.sum(np.abs(x), axis=axes, keepdims=keep),
    "l2": lambda x, axes, keep: np.sqrt(np.sum(x * x, axis=axes, keepdims=keep)),
    "log_sum_exp": lambda x, axes, keep: np.log(np.sum(np.exp(x), axis=axes, keepdims=keep)),
}


@register_op("aic_graph.reduce")
@_one
def reduce(op):
    fn = _REDUCE[op.kind.data]
    axes = tuple(op.int_list("axes"))
    keep = bool(op.keepdims.value.data)
    return lambda x: fn(_wide(np.asarray(x)), axes, keep)


@register_op("aic_graph.arg_reduce")
@_one
def arg_reduce(op):
    axis, keep = op.int_prop("axis"), bool(op.keepdims.value.data)
    last = op.select_last_index is not None and bool(op.select_last_index.value.data)
    fn = np.argmax if op.kind.data == "max" else np.argmin

    def compute(x):
        x = np.asarray(x)
        if last:
            flipped = np.flip(x, axis)
            result = x.shape[axis] - 1 - fn(flipped, axis=axis)
        else:
            result = fn(x, axis=axis)
        return np.expand_dims(result, axis) if keep else result

    return compute


@register_op("aic_graph.softmax")
@_one
def softmax(op):
    axis = op.int_prop("axis")
    log = op.log is not None and bool(op.log.value.data)

    def compute(x):
        x = _wide(np.asarray(x))
        shifted = x - np.max(x, axis=axis, keepdims=True)
        exp = np.exp(shifted)
        total = np.sum(exp, axis=axis, keepdims=True)
        return shifted - np.log(total) if log else exp / total

    return compute


@register_op("aic_graph.layer_norm")
@_one
def layer_norm(op):
    axis, epsilon = op.int_prop("axis"), op.float_prop("epsilon")

    def compute(x, scale, bias=None):
        x = _wide(np.asarray(x))
        axes = tuple(range(axis % x.ndim, x.ndim))
        mean = np.mean(x, axis=axes, keepdims=True)
        var = np.mean((x - mean) ** 2, axis=axes, keepdims=True)
        y = (x - mean) / np.sqrt(var + np.float32(epsilon)) * _wide(np.asarray(scale))
        return y + _wide(np.asarray(bias)) if bias is not None else y

    return compute


@register_op("aic_graph.instance_norm")
@_one
def instance_norm(op):
    epsilon = op.float_prop("epsilon")

    def compute(x, scale, bias):
        x = _wide(np.asarray(x))
        axes = tuple(range(2, x.ndim))
        mean = np.mean(x, axis=axes, keepdims=True)
        var = np.var(x, axis=axes, keepdims=True)
        shape = (1, -1) + (1,) * (x.ndim - 2)
        y = (x - mean) / np.sqrt(var + np.float32(epsilon))
        return y * _wide(np.asarray(scale)).reshape(shape) + _wide(np.asarray(bias)).reshape(shape)

    return compute


@register_op("aic_graph.gelu")
@_one
def gelu(op):
    approximate = op.approximate.data
    return lambda x: _gelu(_wide(np.asarray(x)), approximate)


@register_op("aic_graph.pool")
@_one
def pool(op):
    kind = op.kind.data
    kernel, strides = op.int_list("kernel"), op.int_list("strides")
    pads, dilations = op.int_list("pads"), op.int_list("dilations")
    include_pad = op.count_include_pad is not None and bool(op.count_include_pad.value.data)
    out_shape = result_shape(op)

    def compute(x):
        x = _wide(np.asarray(x))
        spatial = x.ndim - 2
        begins, ends = pads[:spatial], pads[spatial:]
        # ceil_mode may need extra padding at the end so every output window exists
        extra = []
        for i in range(spatial):
            needed = (out_shape[2 + i] - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1
            extra.append(max(0, needed - (x.shape[2 + i] + begins[i] + ends[i])))
        widths = [(0, 0), (0, 0)] + [(b, e + x_) for b, e, x_ in zip(begins, ends, extra)]
        fill = -np.inf if kind == "max" else 0.0
        padded = np.pad(x, widths, constant_values=fill)
        valid = np.pad(np.ones(x.shape[2:], np.float32), widths[2:], constant_values=0.0)
        if include_pad:
            valid = np.pad(np.ones(x.shape[2:], np.float32), [(b, e) for b, e in zip(begins, ends)], constant_values=1.0)
            valid = np.pad(valid, [(0, x_) for x_ in extra], constant_values=0.0)
        window = [(k - 1) * d + 1 for k, d in zip(kernel, dilations)]
        axes = tuple(range(2, 2 + spatial))
        views = np.lib.stride_tricks.sliding_window_view(padded, window, axis=axes)
        counts = np.lib.stride_tricks.sliding_window_view(valid, window)
        select = tuple(slice(0, out_shape[2 + i] * strides[i], strides[i]) for i in range(spatial))
        views = views[(slice(None), slice(None), *select)]
        counts = counts[select]
        dil = (Ellipsis, *[slice(None, None, d) for d in dilations])
        views, counts = views[dil], counts[dil]
        reduce_axes = tuple(range(-spatial, 0))
        if kind == "max":
            return np.max(views, axis=reduce_axes)
        total = np.sum(views, axis=reduce_axes)
        return total / np.sum(counts, axis=reduce_axes)

    return compute


@register_op("aic_graph.gather")
@_one
def gather(op):
    axis = op.int_prop("axis")
    return lambda data, indices: np.take(np.asarray(data), np.asarray(indices, np.int64), axis=axis, mode="wrap")


@register_op("aic_graph.gather_nd")
@_one
def gather_nd(op):
    batch_dims = op.int_prop("batch_dims")

    def compute(data, indices):
        data, indices = np.asarray(data), np.asarray(indices, np.int64)
        batch_shape = data.shape[:batch_dims]
        batch = int(np.prod(batch_shape)) if batch_shape else 1
        d = data.reshape((batch,) + data.shape[batch_dims:])
        i = indices.reshape((batch,) + indices.shape[batch_dims:])
        depth = i.shape[-1]
        out = []
        for b in range(batch):
            idx = i[b].reshape(-1, depth)
            idx = np.where(idx < 0, idx + np.array(d.shape[1:1 + depth]), idx)
            out.append(np.stack([d[b][tuple(row)] for row in idx]) if len(idx) else np.zeros((0,) + d.shape[1 + depth:], d.dtype))
        result = np.stack(out)
        return result.reshape(result_shape(op))

    return compute


@register_op("aic_graph.concat")
@_one
def concat(op):
    axis = op.int_prop("axis")
    return lambda *xs: np.concatenate([np.asarray(x) for x in xs], axis=axis)


def _slice_indices(start: int, end: int, step: int, dim: int) -> np.ndarray:
    """The indices ONNX Slice takes on one axis (negative bounds count from the end;
    with a negative step, the end may lie before index 0)."""
    start = start + dim if start < 0 else start
    end = end + dim if end < 0 else end
    if step > 0:
        start, end = min(max(start, 0), dim), min(max(end, 0), dim)
    else:
        start, end = min(max(start, -1), dim - 1), min(max(end, -1), dim - 1)
    return np.arange(start, end, step, dtype=np.int64)


@register_op("aic_graph.slice")
@_one
def slice_(op):
    starts, ends = op.int_list("starts"), op.int_list("ends")
    axes, steps = op.int_list("axes"), op.int_list("steps")

    def compute(x):
        x = np.asarray(x)
        for start, end, axis, step in zip(starts, ends, axes, steps):
            x = np.take(x, _slice_indices(start, end, step, x.shape[axis]), axis=axis)
        return x

    return compute


@register_op("aic_graph.split")
def split(op):
    axis = op.int_prop("axis")
    sizes = op.int_list("sizes")
    dtypes = [result_dtype(op, i) for i in range(len(op.results))]

    def kernel(args, runner, env):
        x = np.asarray(args[0])
        bounds = np.cumsum(sizes)[:-1]
        parts = np.split(x, bounds, axis=axis)
        return [p.astype(d, copy=False) for p, d in zip(parts, dtypes)]

    return kernel


@register_op("aic_graph.pad")
@_one
def pad(op):
    pads, mode = op.int_list("pads"), op.mode.data
    value = op.float_prop("value", 0.0)
    numpy_mode = {"constant": "constant", "reflect": "reflect", "edge": "edge", "wrap": "wrap"}[mode]

    def compute(x):
        x = np.asarray(x)
        rank = x.ndim
        begins, ends = pads[:rank], pads[rank:]
        crop = tuple(slice(-b if b < 0 else 0, x.shape[i] + e if e < 0 else None) for i, (b, e) in enumerate(zip(begins, ends)))
        x = x[crop]
        widths = [(max(b, 0), max(e, 0)) for b, e in zip(begins, ends)]
        if numpy_mode == "constant":
            return np.pad(x, widths, mode="constant", constant_values=value)
        return np.pad(x, widths, mode=numpy_mode)

    return compute


@register_op("aic_graph.resize")
@_one
def resize(op):
    from qaicc.semantics.resize import resize_array

    mode = op.mode.data
    transform = op.coordinate_transformation_mode.data
    nearest = op.str_prop("nearest_mode", "round_prefer_floor")
    shape = result_shape(op)
    return lambda x: resize_array(_wide(np.asarray(x)), shape, mode, transform, nearest)


@register_op("aic_graph.reshape")
@_one
def reshape(op):
    shape = result_shape(op)
    return lambda x: np.reshape(np.asarray(x), shape)


@register_op("aic_graph.transpose")
@_one
def transpose(op):
    perm = op.int_list("perm")
    return lambda x: np.transpose(np.asarray(x), perm)


@register_op("aic_graph.expand")
@_one
def expand(op):
    shape = result_shape(op)
    return lambda x: np.broadcast_to(np.asarray(x), shape)


@register_op("aic_graph.tile")
@_one
def tile(op):
    repeats = op.int_list("repeats")
    return lambda x: np.tile(np.asarray(x), repeats)


@register_op("aic_graph.cast")
def cast(op):
    dtype = result_dtype(op)

    def kernel(args, runner, env):
        x = np.asarray(args[0])
        if x.dtype.kind == "f" and dtype.kind in "iu":
            x = np.trunc(x)
        return [x.astype(dtype)]

    return kernel


_ = g  # the op classes the kernels above implement
