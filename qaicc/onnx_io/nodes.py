"""One op of the ``onnx`` dialect as an ONNX NodeProto (attributes, input/output names)."""

from __future__ import annotations

from collections.abc import Callable

from onnx import AttributeProto, NodeProto, helper
from xdsl.ir import SSAValue

from qaicc.dialects.onnx.base import OnnxOp
from qaicc.dialects.onnx.signature import Arity, AttrKind
from qaicc.onnx_io.attributes import to_attribute_proto


def node_attributes(op: OnnxOp) -> list[AttributeProto]:
    """The op's non-graph ONNX attributes, as the model states them."""
    attributes = []
    for formal in op.ONNX_SIGNATURE.attributes:
        if formal.kind is AttrKind.GRAPH:
            continue
        value = op.properties.get(formal.name)
        if value is not None:
            attributes.append(to_attribute_proto(formal.name, formal.kind, value))
    return attributes


def io_names(op: OnnxOp, name_of: Callable[[SSAValue], str]) -> tuple[list[str], list[str]]:
    """Input and output names in ONNX order ("" for an absent optional; trailing ones dropped)."""
    signature = op.ONNX_SIGNATURE

    def names(formals, is_input: bool) -> list[str]:
        result: list[str] = []
        for formal in formals:
            values = op.formal_values(formal, is_input)
            if formal.arity is Arity.OPTIONAL and not values:
                result.append("")
                continue
            result += [name_of(v) for v in values]
        while result and result[-1] == "":
            result.pop()
        return result

    return names(signature.inputs, True), names(signature.outputs, False)


def make_node(op: OnnxOp, name_of: Callable[[SSAValue], str], extra_attributes=()) -> NodeProto:
    inputs, outputs = io_names(op, name_of)
    node_name = op.node_name
    node = helper.make_node(op.ONNX_SIGNATURE.op_type, inputs, outputs, name=node_name)
    node.attribute.extend(node_attributes(op))
    node.attribute.extend(extra_attributes)
    return node
