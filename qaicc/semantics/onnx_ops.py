"""Semantics of the ``onnx`` dialect ops without regions, from onnx's reference
implementation (``onnx.reference``), which is exact for the ONNX specification.

Each op is wrapped once into a one-node ONNX model (its attributes, its operand types)
and a ``ReferenceEvaluator``; the kernel feeds it the operand values. Results are
coerced to the element type the op's result type states. ``onnx.Constant`` holding a
``#qaicc.blob`` returns the blob's array without copying it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import helper
from onnx.reference import ReferenceEvaluator
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, TensorType
from xdsl.ir import Operation

from qaicc.dialects.onnx.base import OnnxOp
from qaicc.dialects.onnx.element_types import from_xdsl
from qaicc.dialects.qaicc_attrs import DenseBlobAttr
from qaicc.errors import QaiccError
from qaicc.onnx_io.nodes import make_node
from qaicc.onnx_io.types import to_type_proto
from qaicc.semantics.registry import register_dialect

DEFAULT_OPSET = 18


def module_opset(op: Operation) -> int:
    top = op.get_toplevel_object()
    if isinstance(top, ModuleOp):
        opset = top.attributes.get("onnx.opset")
        if isinstance(opset, IntegerAttr):
            return opset.value.data
    return DEFAULT_OPSET


def _coerce(value: Any, type) -> Any:
    if not isinstance(type, TensorType) or value is None or isinstance(value, list):
        return value
    element = from_xdsl(type.element_type)
    if element is None or element.numpy == np.dtype(object):
        return np.asarray(value) if not isinstance(value, np.ndarray) else value
    array = np.asarray(value)
    return array if array.dtype == element.numpy else array.astype(element.numpy)


def _single_node_model(op: OnnxOp) -> onnx.ModelProto:
    names = {value: f"i{index}" for index, value in enumerate(op.operands)}
    names.update({value: f"o{index}" for index, value in enumerate(op.results)})
    node = make_node(op, names.__getitem__)
    inputs = []
    for value in op.operands:
        type_proto = to_type_proto(value.type)
        inputs.append(
            helper.make_value_info(names[value], type_proto) if type_proto
            else helper.make_empty_tensor_value_info(names[value])
        )
    outputs = [helper.make_empty_tensor_value_info(names[value]) for value in op.results]
    graph = helper.make_graph([node], op.name, inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", module_opset(op))])
    model.ir_version = 10
    return model


def onnx_kernel(op: Operation):
    if not isinstance(op, OnnxOp):
        raise QaiccError(f"no reference semantics for '{op.name}'")
    value = op.properties.get("value")
    if op.ONNX_SIGNATURE.op_type == "Constant" and isinstance(value, DenseBlobAttr):
        return lambda args, runner, env: [value.to_numpy()]
    evaluator = ReferenceEvaluator(_single_node_model(op))
    input_names = [f"i{index}" for index in range(len(op.operands))]
    result_types = [result.type for result in op.results]

    def kernel(args, runner, env):
        outputs = evaluator.run(None, dict(zip(input_names, args)))
        return [_coerce(v, t) for v, t in zip(outputs, result_types)]

    return kernel


register_dialect("onnx", onnx_kernel)
