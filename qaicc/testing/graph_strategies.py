"""Hypothesis strategies: random ONNX graphs of elementwise, matmul, reshape, transpose,
concat, slice and reduce ops on float32 tensors with random shapes.

``random_graph()`` draws ``(model, feeds, symbols)``: the model's first input may have a
symbolic batch dimension ``batch_size`` (bound to ``symbols['batch_size']`` and to the
feeds' size); some reshapes take their target from a Shape -> Gather -> Concat chain, so
that shape inference and constant folding both have work to do.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from qaicc.testing.models import make_model

UNARY = ["Relu", "Neg", "Abs", "Sigmoid", "Tanh"]
BINARY = ["Add", "Sub", "Mul", "Max"]


class _Builder:
    def __init__(self, draw, rng: np.random.Generator):
        self.draw = draw
        self.rng = rng
        self.nodes: list = []
        self.initializers: list = []
        self.values: list[tuple[str, tuple[int, ...]]] = []
        self.counter = 0

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def const(self, array: np.ndarray) -> str:
        name = self.fresh("c")
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def add(self, op_type: str, inputs: list[str], shape: tuple[int, ...], **attrs) -> None:
        out = self.fresh("v")
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=self.fresh(op_type), **attrs))
        self.values.append((out, shape))

    def pick(self) -> tuple[str, tuple[int, ...]]:
        return self.values[self.draw(st.integers(0, len(self.values) - 1))]

    # -- one op each --------------------------------------------------------------
    def unary(self) -> None:
        name, shape = self.pick()
        self.add(self.draw(st.sampled_from(UNARY)), [name], shape)

    def binary(self) -> None:
        name, shape = self.pick()
        suffix = self.draw(st.integers(0, len(shape)))
        other_shape = shape[len(shape) - suffix:]
        same = [n for n, s in self.values if s == shape and n != name]
        other = same[0] if same and self.draw(st.booleans()) else self.const(
            self.rng.standard_normal(other_shape).astype(np.float32)
        )
        self.add(self.draw(st.sampled_from(BINARY)), [name, other], shape)

    def matmul(self) -> None:
        name, shape = self.pick()
        if not shape:
            return
        n = self.draw(st.integers(1, 4))
        weight = self.const(self.rng.standard_normal((shape[-1], n)).astype(np.float32))
        self.add("MatMul", [name, weight], (*shape[:-1], n))

    def transpose(self) -> None:
        name, shape = self.pick()
        if not shape:
            return
        perm = self.draw(st.permutations(range(len(shape))))
        self.add("Transpose", [name], tuple(shape[p] for p in perm), perm=list(perm))

    def concat(self) -> None:
        name, shape = self.pick()
        if not shape:
            return
        axis = self.draw(st.integers(0, len(shape) - 1))
        new = list(shape)
        new[axis] *= 2
        self.add("Concat", [name, name], tuple(new), axis=axis)

    def slice(self) -> None:
        name, shape = self.pick()
        if not shape:
            return
        axis = self.draw(st.integers(0, len(shape) - 1))
        start = self.draw(st.integers(0, shape[axis] - 1))
        end = self.draw(st.integers(start + 1, shape[axis]))
        new = list(shape)
        new[axis] = end - start
        inputs = [name, self.const(np.array([start], np.int64)), self.const(np.array([end], np.int64)),
                  self.const(np.array([axis], np.int64))]
        self.add("Slice", inputs, tuple(new))

    def reduce(self) -> None:
        name, shape = self.pick()
        if not shape:
            return
        axis = self.draw(st.integers(0, len(shape) - 1))
        keep = self.draw(st.booleans())
        new = list(shape)
        if keep:
            new[axis] = 1
        else:
            del new[axis]
        op_type = self.draw(st.sampled_from(["ReduceSum", "ReduceMean", "ReduceMax"]))
        self.add(op_type, [name, self.const(np.array([axis], np.int64))], tuple(new), keepdims=int(keep))

    def reshape(self) -> None:
        name, shape = self.pick()
        if len(shape) < 2:
            return
        if self.draw(st.booleans()):  # target from a Shape -> Gather -> Concat chain
            shape_name = self.fresh("shape")
            self.nodes.append(helper.make_node("Shape", [name], [shape_name]))
            head = self.fresh("head")
            self.nodes.append(helper.make_node("Gather", [shape_name, self.const(np.array([0], np.int64))], [head], axis=0))
            target = self.fresh("target")
            self.nodes.append(helper.make_node("Concat", [head, self.const(np.array([-1], np.int64))], [target], axis=0))
            self.add("Reshape", [name, target], (shape[0], int(np.prod(shape[1:]))))
            return
        self.add("Reshape", [name, self.const(np.array([-1], np.int64))], (int(np.prod(shape)),))


@st.composite
def random_graph(draw, max_ops: int = 8):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    rank = draw(st.integers(1, 4))
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=rank, max_size=rank)))
    symbolic = draw(st.booleans())
    builder = _Builder(draw, rng)
    builder.values.append(("x", shape))
    steps = [builder.unary, builder.binary, builder.matmul, builder.transpose, builder.concat,
             builder.slice, builder.reduce, builder.reshape]
    for _ in range(draw(st.integers(1, max_ops))):
        draw(st.sampled_from(steps))()
    out_name, out_shape = builder.values[-1]
    dims = ["batch_size", *shape[1:]] if symbolic else list(shape)
    model = make_model(
        builder.nodes,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)],
        [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, None)],
        builder.initializers,
    )
    feeds = {"x": rng.standard_normal(shape).astype(np.float32)}
    return model, feeds, ({"batch_size": shape[0]} if symbolic else {})
