"""The runner: executes functions and regions op by op over an environment of values.

Inputs are checked against the function's argument types: element type, rank, static
dimensions, and symbolic dimensions (``onnx.dim_params``): one symbol takes one size
across all inputs. Errors in the inputs are ``QaiccError``s naming the input.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from xdsl.dialects import func
from xdsl.dialects.builtin import DYNAMIC_INDEX, ModuleOp, StringAttr, TensorType
from xdsl.ir import Block, Operation, SSAValue
from xdsl.traits import IsTerminator

from qaicc.dialects.onnx.element_types import from_xdsl
from qaicc.errors import QaiccError
from qaicc.semantics.registry import factory_for, load_builtin_semantics

MAIN_FUNCTION = "main_graph"


class Env:
    """SSA value -> runtime value, falling back to the enclosing region's environment."""

    __slots__ = ("values", "parent")

    def __init__(self, parent: Env | None = None):
        self.values: dict[SSAValue, Any] = {}
        self.parent = parent

    def __getitem__(self, value: SSAValue) -> Any:
        env: Env | None = self
        while env is not None:
            if value in env.values:
                return env.values[value]
            env = env.parent
        raise KeyError(value)


class Runner:
    """Runs ops with their registered semantics; caches each op's kernel."""

    def __init__(self) -> None:
        load_builtin_semantics()
        self._kernels: dict[Operation, Any] = {}

    def kernel(self, op: Operation):
        kernel = self._kernels.get(op)
        if kernel is None:
            factory = factory_for(op)
            if factory is None:
                raise QaiccError(f"no reference semantics for '{op.name}'")
            kernel = factory(op)
            self._kernels[op] = kernel
        return kernel

    def run_op(self, op: Operation, env: Env) -> None:
        args = [env[operand] for operand in op.operands]
        results = self.kernel(op)(args, self, env)
        if len(results) != len(op.results):
            raise QaiccError(f"'{op.name}' produced {len(results)} values for {len(op.results)} results")
        for result, value in zip(op.results, results):
            env.values[result] = value

    def run_block(self, block: Block, args: Sequence[Any], parent: Env | None = None) -> list[Any]:
        """Run a block; returns the operands of its terminator (yield / return)."""
        env = Env(parent)
        for arg, value in zip(block.args, args, strict=True):
            env.values[arg] = value
        terminator = block.last_op
        for op in block.ops:
            if op is terminator and op.has_trait(IsTerminator):
                return [env[v] for v in op.operands]
            self.run_op(op, env)
        return []

    def run_function(self, function: func.FuncOp, inputs: Sequence[Any]) -> list[Any]:
        return self.run_block(function.body.block, list(inputs))


def main_function(module: ModuleOp) -> func.FuncOp:
    for op in module.ops:
        if isinstance(op, func.FuncOp) and op.sym_name.data == MAIN_FUNCTION:
            return op
    raise QaiccError(f"the module has no func.func @{MAIN_FUNCTION}")


def io_names(function: func.FuncOp) -> tuple[list[str], list[str]]:
    def names(attrs, count: int, prefix: str) -> list[str]:
        result = []
        for index in range(count):
            entry = attrs.data[index].data.get("onnx.name") if attrs else None
            result.append(entry.data if isinstance(entry, StringAttr) else f"{prefix}{index}")
        return result

    return (
        names(function.arg_attrs, len(function.function_type.inputs.data), "input_"),
        names(function.res_attrs, len(function.function_type.outputs.data), "output_"),
    )


def _dim_params(function: func.FuncOp, index: int) -> dict[int, str]:
    if not function.arg_attrs:
        return {}
    entry = function.arg_attrs.data[index].data.get("onnx.dim_params")
    if not isinstance(entry, StringAttr) or not entry.data:
        return {}
    return {int(i): name for i, _, name in (item.partition(":") for item in entry.data.split(","))}


def check_inputs(function: func.FuncOp, names: list[str], values: list[Any]) -> list[Any]:
    symbols: dict[str, tuple[int, str]] = {}
    checked = []
    for index, (name, value, type) in enumerate(zip(names, values, function.function_type.inputs.data)):
        if not isinstance(type, TensorType):
            checked.append(value)
            continue
        element = from_xdsl(type.element_type)
        array = np.asarray(value)
        if element is not None and element.numpy != np.dtype(object) and array.dtype != element.numpy:
            raise QaiccError(f"input '{name}' has dtype {array.dtype}, the model expects {element.numpy}")
        shape = type.get_shape()
        if array.ndim != len(shape):
            raise QaiccError(f"input '{name}' has rank {array.ndim}, the model expects {len(shape)} ({_shape_text(shape)})")
        params = _dim_params(function, index)
        for axis, (size, expected) in enumerate(zip(array.shape, shape)):
            if expected != DYNAMIC_INDEX and size != expected:
                raise QaiccError(f"input '{name}' has shape {array.shape}, the model expects {_shape_text(shape)}")
            symbol = params.get(axis)
            if symbol is None:
                continue
            bound = symbols.setdefault(symbol, (size, name))
            if bound[0] != size:
                raise QaiccError(
                    f"symbol '{symbol}' is {bound[0]} in input '{bound[1]}' but {size} in input '{name}'"
                )
        checked.append(array)
    return checked


def _shape_text(shape: Sequence[int]) -> str:
    return "[" + ", ".join("?" if d == DYNAMIC_INDEX else str(d) for d in shape) + "]"


def run_module(
    module: ModuleOp,
    inputs: Mapping[str, Any] | Sequence[Any],
    runner: Runner | None = None,
) -> dict[str, Any]:
    """Run ``@main_graph`` on inputs (by ONNX name, or in order); outputs by ONNX name."""
    function = main_function(module)
    input_names, output_names = io_names(function)
    if isinstance(inputs, Mapping):
        missing = [n for n in input_names if n not in inputs]
        unknown = [n for n in inputs if n not in input_names]
        if missing or unknown:
            raise QaiccError(f"inputs do not match the model: missing {missing}, unknown {unknown}")
        values = [inputs[n] for n in input_names]
    else:
        values = list(inputs)
        if len(values) != len(input_names):
            raise QaiccError(f"the model takes {len(input_names)} inputs, got {len(values)}")
    values = check_inputs(function, input_names, values)
    outputs = (runner or Runner()).run_function(function, values)
    return dict(zip(output_names, outputs))
