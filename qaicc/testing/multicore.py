"""Checks for the multi-core passes (``partition-cores``, ``mos``, ``ols-split``) in tests.

- ``lowered(path, batch, sequence)``: an ONNX model through the front end to aic_graph
  (cached; every call returns a fresh clone) with random inputs for it.
- ``run_passes(module, spec)``: a pipeline on the module, in memory.
- ``same_outputs(module, feeds, spec)``: the largest relative difference between the
  aic-graph module's outputs and those of the module after ``spec`` (which ends at
  aic-core), each output's difference scaled by max(1, its largest magnitude).
- ``GraphBuilder``: hand-made aic_graph modules (inputs, constants, ops).
- ``check_blocks(op)``: the op's ``aic.blocks`` are equal-size, on distinct cores, and
  cover its output exactly; its tiles divide the block.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np
import onnx
from xdsl.dialects import func
from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr, ModuleOp, StringAttr
from xdsl.ir import Block, Region

from qaicc.dialects.aic_core.partition import read_partition
from qaicc.dialects.aic_graph import ops as g
from qaicc.dialects.qaicc_attrs import DenseBlobAttr
from qaicc.testing.aic_graph_builders import tensor_type


def run_passes(module: ModuleOp, spec: str) -> ModuleOp:
    from qaicc.ir.context import make_context
    from qaicc.ir.pipeline import build_pipeline, run_pipeline
    from qaicc.passes import ALL_PASSES

    run_pipeline(build_pipeline(spec, ALL_PASSES), module, make_context())
    return module


@lru_cache(maxsize=None)
def _lowered(path: str, batch: int, sequence: int) -> tuple[ModuleOp, dict]:
    from qaicc.testing.partitions import lower_to_aic_graph
    from qaicc.testing.random_inputs import random_inputs

    module = lower_to_aic_graph(path, batch, sequence)
    feeds = random_inputs(onnx.load(path, load_external_data=False), {"batch_size": batch, "sequence": sequence}, seed=1)
    return module, feeds


def lowered(path: str | Path, batch: int = 1, sequence: int = 16) -> tuple[ModuleOp, dict]:
    module, feeds = _lowered(str(path), batch, sequence)
    return module.clone(), feeds


def relative_error(expected: dict, actual: dict) -> float:
    worst = 0.0
    assert list(expected) == list(actual)
    for name in expected:
        a = np.asarray(expected[name], dtype=np.float64)
        b = np.asarray(actual[name], dtype=np.float64)
        assert a.shape == b.shape, (name, a.shape, b.shape)
        scale = max(1.0, float(np.max(np.abs(a), initial=0.0)))
        worst = max(worst, float(np.max(np.abs(a - b), initial=0.0)) / scale)
    return worst


def same_outputs(module: ModuleOp, feeds: dict, spec: str) -> float:
    from qaicc.semantics import run_module

    expected = run_module(module, feeds)
    run_passes(module, spec)
    return relative_error(expected, run_module(module, feeds))


def check_blocks(op) -> None:
    partition = read_partition(op)
    shape = list(op.results[0].type.get_shape())
    blocks = partition.blocks
    assert blocks, op
    sizes = blocks[0].sizes
    assert all(b.sizes == sizes for b in blocks), f"{op.name}: blocks of different sizes"
    assert len({b.core for b in blocks}) == len(blocks), f"{op.name}: two blocks on one core"
    assert len(blocks) * math.prod(sizes) == math.prod(shape), f"{op.name}: blocks do not cover the output"
    seen = set()
    for block in blocks:
        for o, s, d in zip(block.offsets, block.sizes, shape):
            assert o % s == 0 and o + s <= d, f"{op.name}: block {block} out of place"
        seen.add(tuple(block.offsets))
    assert len(seen) == len(blocks), f"{op.name}: overlapping blocks"
    assert sizes[partition.tile_axis] % partition.tiles == 0, f"{op.name}: tiles do not divide the block"


class GraphBuilder:
    """A small @main_graph built op by op (hand-made aic_graph modules for tests)::

        b = GraphBuilder([16, 64])
        w = b.constant(np.ones((64, 256), np.float32), "w")
        y = b.op(g.MatMulOp, [b.args[0], w, []], (16, 256), "mm")
        module = b.module(y)
    """

    def __init__(self, *input_shapes, dtype=np.float32):
        self.arg_types = [tensor_type(shape, dtype) for shape in input_shapes]
        self.block = Block(arg_types=self.arg_types)
        self.args = list(self.block.args)
        self.dtype = dtype

    def constant(self, array: np.ndarray, name: str):
        type = tensor_type(array)
        op = g.ConstantOp.build(result_types=[type], properties={"value": DenseBlobAttr.from_array(array, name, type)})
        self.block.add_op(op)
        return op.results[0]

    def op(self, op_class, operands, shape, name: str | None = None, dtype=None, **properties):
        result = tensor_type(shape, dtype or self.dtype)
        op = op_class.build(operands=operands, result_types=[result], properties=properties)
        if name is not None:
            op.attributes["onnx_node_name"] = StringAttr(name)
        self.block.add_op(op)
        return op.results[0]

    def module(self, *outputs) -> ModuleOp:
        self.block.add_op(func.ReturnOp(*outputs))
        names = lambda prefix, n: ArrayAttr(
            [DictionaryAttr({"onnx.name": StringAttr(f"{prefix}{i}")}) for i in range(n)])
        function = func.FuncOp(
            "main_graph", (self.arg_types, [v.type for v in outputs]), Region(self.block),
            arg_attrs=names("x", len(self.arg_types)), res_attrs=names("y", len(outputs)),
        )
        return ModuleOp([function])
