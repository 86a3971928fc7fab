"""Building small aic_graph modules in code (tests of kernels and passes)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from xdsl.dialects import func
from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr, ModuleOp, StringAttr, TensorType
from xdsl.ir import Attribute, Block, Region

from qaicc.dialects.onnx.element_types import from_numpy


def tensor_type(array_or_shape, dtype=np.float32) -> TensorType:
    if isinstance(array_or_shape, np.ndarray):
        return TensorType(from_numpy(array_or_shape.dtype).xdsl, array_or_shape.shape)
    return TensorType(from_numpy(np.dtype(dtype)).xdsl, tuple(array_or_shape))


def single_op_module(
    op_class,
    inputs: Sequence[np.ndarray],
    result_types: Sequence[Attribute],
    properties: dict[str, Attribute] | None = None,
    operand_groups=None,
) -> ModuleOp:
    """``@main_graph(inputs...) -> results`` holding one op on the arguments."""
    arg_types = [tensor_type(x) for x in inputs]
    block = Block(arg_types=arg_types)
    operands = operand_groups(list(block.args)) if operand_groups else list(block.args)
    op = op_class.build(operands=operands, result_types=list(result_types), properties=properties or {})
    block.add_op(op)
    block.add_op(func.ReturnOp(*op.results))
    names = lambda prefix, n: ArrayAttr([DictionaryAttr({"onnx.name": StringAttr(f"{prefix}{i}")}) for i in range(n)])
    function = func.FuncOp(
        "main_graph", (arg_types, list(result_types)), Region(block),
        arg_attrs=names("x", len(inputs)), res_attrs=names("y", len(result_types)),
    )
    return ModuleOp([function])
