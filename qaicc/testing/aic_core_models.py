"""Small aic_graph modules built in code, with inputs, for tests of the aic-core passes.

- ``mlp(rows, width, hidden, out)``: ``y = relu(x @ w1 + b1) @ w2`` with constant
  weights: split by rows over several cores, every core loads the same weights.
- ``two_branches()``: ``a = relu(x)``, ``d = a @ w`` (the long one), ``b = -x``,
  ``c = a + b``; with ``place_two_branches`` a and c run on core 0, d and b on core 1,
  in that order: core 0 waits for b, which core 1 only starts after d.
- ``aic_graph_module(build)``: a ``@main_graph`` from a function that adds ops to a
  block and returns the results.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from xdsl.dialects import func
from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr, ModuleOp, StringAttr
from xdsl.ir import Block, Region, SSAValue

from qaicc.dialects.aic_core.partition import CoreBlock, Partition, write_partition
from qaicc.dialects.aic_graph import ops as g
from qaicc.dialects.qaicc_attrs import DenseBlobAttr
from qaicc.testing.aic_graph_builders import tensor_type


class GraphBuilder:
    """Adds aic_graph ops to a block; ``constant(array, name)``, ``op(class, ...)``."""

    def __init__(self, block: Block):
        self.block = block

    def constant(self, array: np.ndarray, name: str) -> SSAValue:
        type = tensor_type(array)
        op = g.ConstantOp.create(properties={"value": DenseBlobAttr.from_array(array, name, type)}, result_types=[type])
        self.block.add_op(op)
        return op.results[0]

    def op(self, op_class, operands, shape, dtype=np.float32, node: str | None = None, **properties):
        op = op_class.create(operands=list(operands), result_types=[tensor_type(shape, dtype)], properties=properties)
        if node:
            op.attributes["onnx_node_name"] = StringAttr(node)
        self.block.add_op(op)
        return op.results[0]


def aic_graph_module(inputs: list[np.ndarray], build: Callable[[GraphBuilder, list[SSAValue]], list[SSAValue]]) -> ModuleOp:
    arg_types = [tensor_type(x) for x in inputs]
    block = Block(arg_types=arg_types)
    results = build(GraphBuilder(block), list(block.args))
    block.add_op(func.ReturnOp(*results))
    names = lambda prefix, n: ArrayAttr([DictionaryAttr({"onnx.name": StringAttr(f"{prefix}{i}")}) for i in range(n)])
    function = func.FuncOp(
        "main_graph", (arg_types, [r.type for r in results]), Region(block),
        arg_attrs=names("x", len(inputs)), res_attrs=names("y", len(results)),
    )
    return ModuleOp([function])


def mlp(rows: int = 16, width: int = 32, hidden: int = 64, out: int = 16, seed: int = 0):
    """(module, inputs) of ``relu(x @ w1 + b1) @ w2``."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, width)).astype(np.float32)
    w1 = rng.standard_normal((width, hidden)).astype(np.float32)
    b1 = rng.standard_normal((hidden,)).astype(np.float32)
    w2 = rng.standard_normal((hidden, out)).astype(np.float32)

    def build(b: GraphBuilder, args):
        h = b.op(g.MatMulOp, [args[0], b.constant(w1, "w1")], (rows, hidden), node="fc1")
        h = b.op(g.BinaryOp, [h, b.constant(b1, "b1")], (rows, hidden), node="bias1", kind=StringAttr("add"))
        h = b.op(g.UnaryOp, [h], (rows, hidden), node="relu", kind=StringAttr("relu"))
        return [b.op(g.MatMulOp, [h, b.constant(w2, "w2")], (rows, out), node="fc2")]

    return aic_graph_module([x], build), [x]


def two_branches(size: int = 32, seed: int = 0):
    """(module, inputs): a = relu(x); d = a @ w; b = -x; c = a + b; outputs c, d."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((size, size)).astype(np.float32)
    w = rng.standard_normal((size, size)).astype(np.float32)

    def build(b: GraphBuilder, args):
        a = b.op(g.UnaryOp, [args[0]], (size, size), node="a", kind=StringAttr("relu"))
        d = b.op(g.MatMulOp, [a, b.constant(w, "w")], (size, size), node="d")
        neg = b.op(g.UnaryOp, [args[0]], (size, size), node="b", kind=StringAttr("neg"))
        c = b.op(g.BinaryOp, [a, neg], (size, size), node="c", kind=StringAttr("add"))
        return [c, d]

    return aic_graph_module([x], build), [x]


def place_two_branches(module: ModuleOp) -> None:
    """a, c on core 0; d, b on core 1."""
    cores = {"a": 0, "d": 1, "b": 1, "c": 0}
    for op in module.walk():
        node = op.attributes.get("onnx_node_name")
        if isinstance(node, StringAttr) and node.data in cores:
            shape = list(op.results[0].type.get_shape())
            write_partition(op, Partition([CoreBlock(cores[node.data], [0] * len(shape), shape)]))
