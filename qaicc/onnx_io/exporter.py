"""xDSL module of the ``onnx`` dialect -> ONNX ModelProto.

The inverse of the importer: ``@main_graph``'s arguments and results become graph
inputs and outputs under their ``onnx.name`` (with ``onnx.dim_params`` restored),
``onnx.Constant`` ops marked ``onnx.initializer`` become initializers, every other op
becomes a node of its ONNX type and the module's ``onnx.opset``, regions become
subgraphs. Value names are the SSA name hints where they are unique, otherwise fresh;
every name is unique across the model, subgraphs included, as ONNX requires.

``export_skeleton`` gives the same graph without its weights, for ONNX shape inference:
constants with more elements than a limit (or whose data was elided when the IR was
printed) become typed inputs of the main graph, nothing else is copied. It also returns
the name given to every SSA value, so that inferred types can be mapped back.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection

import numpy as np
import onnx
from onnx import helper
from xdsl.dialects import func
from xdsl.dialects.builtin import DictionaryAttr, ModuleOp, StringAttr, TensorType
from xdsl.ir import Block, Operation, SSAValue

from qaicc.dialects.onnx.base import OnnxOp
from qaicc.dialects.onnx.signature import Arity
from qaicc.dialects.onnx.structural import YieldOp
from qaicc.dialects.qaicc_attrs import DenseBlobAttr
from qaicc.errors import QaiccError
from qaicc.onnx_io.attributes import to_attribute_proto
from qaicc.onnx_io.importer import MAIN_FUNCTION
from qaicc.onnx_io.tensors import tensor_from_blob_attr
from qaicc.onnx_io.types import to_type_proto

DEFAULT_IR_VERSION = 8


class _Namer:
    def __init__(self) -> None:
        self.names: dict[SSAValue, str] = {}
        self.used: set[str] = set()
        self.counter = 0

    def reserve(self, name: str) -> None:
        self.used.add(name)

    def assign(self, value: SSAValue, preferred: str | None) -> str:
        name = preferred if preferred and preferred not in self.used else None
        while name is None or name in self.used:
            base = preferred or "v"
            name = f"{base}_{self.counter}"
            self.counter += 1
        self.used.add(name)
        self.names[value] = name
        return name

    def fresh(self, preferred: str) -> str:
        """A new unique name that no SSA value owns (for Identity nodes added on export)."""
        name = preferred
        while name in self.used:
            name = f"{preferred}_{self.counter}"
            self.counter += 1
        self.used.add(name)
        return name

    def name(self, value: SSAValue) -> str:
        found = self.names.get(value)
        return found if found is not None else self.assign(value, value.name_hint)


def _io_name(attrs: DictionaryAttr | None, fallback: str) -> tuple[str, dict[int, str]]:
    if attrs is None:
        return fallback, {}
    name_attr = attrs.data.get("onnx.name")
    name = name_attr.data if isinstance(name_attr, StringAttr) else fallback
    params: dict[int, str] = {}
    dims_attr = attrs.data.get("onnx.dim_params")
    if isinstance(dims_attr, StringAttr) and dims_attr.data:
        for item in dims_attr.data.split(","):
            index, _, symbol = item.partition(":")
            params[int(index)] = symbol
    return name, params


def _value_info(name: str, value: SSAValue, dim_params: dict[int, str] | None = None):
    type_proto = to_type_proto(value.type, dim_params)
    if type_proto is None:
        return helper.make_empty_tensor_value_info(name)
    return helper.make_value_info(name, type_proto)


class _Exporter:
    """``skeleton_max_elements``: None exports everything; a number makes a skeleton, where
    larger (or elided) constants become typed main-graph inputs. ``typed``: whether a node
    output or subgraph output gets its type in the model (the graph inputs always do)."""

    def __init__(
        self,
        module: ModuleOp,
        *,
        skeleton_max_elements: int | None = None,
        typed: Callable[[SSAValue], bool] = lambda value: True,
    ):
        self.module = module
        self.namer = _Namer()
        self.skeleton_max_elements = skeleton_max_elements
        self.typed = typed
        self.weight_inputs: list[onnx.ValueInfoProto] = []
        self.weight_values: set[SSAValue] = set()

    def main_function(self) -> func.FuncOp:
        for op in self.module.ops:
            if isinstance(op, func.FuncOp) and op.sym_name.data == MAIN_FUNCTION:
                return op
        raise QaiccError(f"the module has no func.func @{MAIN_FUNCTION} to export")

    def export(self) -> onnx.ModelProto:
        function = self.main_function()
        block = function.body.block
        arg_attrs = list(function.arg_attrs.data) if function.arg_attrs else [None] * len(block.args)
        res_attrs = list(function.res_attrs.data) if function.res_attrs else []
        inputs = []
        for index, (arg, attrs) in enumerate(zip(block.args, arg_attrs)):
            name, params = _io_name(attrs, f"input_{index}")
            self.namer.reserve(name)
            self.namer.names[arg] = name
            inputs.append(_value_info(name, arg, params))
        returned = block.last_op
        if not isinstance(returned, func.ReturnOp):
            raise QaiccError("@main_graph does not end in func.return")
        output_names = []
        for index, value in enumerate(returned.arguments):
            attrs = res_attrs[index] if index < len(res_attrs) else None
            output_names.append(_io_name(attrs, f"output_{index}"))
        for (name, _), value in zip(output_names, returned.arguments):
            if name in self.namer.used:
                continue
            self.namer.reserve(name)
            if value not in self.namer.names and isinstance(value.owner, Operation):
                self.namer.names[value] = name
        nodes, initializers, value_info = [], [], []
        self._export_block(block, nodes, initializers, value_info, skip_terminator=True)
        outputs = []
        for (name, params), value in zip(output_names, returned.arguments):
            current = self.namer.name(value)
            if current != name:
                nodes.append(helper.make_node("Identity", [current], [name], name=f"{name}_identity"))
            outputs.append(self._output_info(name, value, params))
        inputs += self.weight_inputs
        graph_name = self.module.attributes.get("onnx.graph_name")
        graph = helper.make_graph(
            nodes,
            graph_name.data if isinstance(graph_name, StringAttr) else "main_graph",
            inputs, outputs, initializers, value_info=value_info,
        )
        return self._model(graph)

    def _model(self, graph: onnx.GraphProto) -> onnx.ModelProto:
        attrs = self.module.attributes
        opset = attrs.get("onnx.opset")
        ir_version = attrs.get("onnx.ir_version")
        model = helper.make_model(
            graph,
            opset_imports=[helper.make_opsetid("", opset.value.data if opset else 17)],  # type: ignore[union-attr]
            producer_name="qaicc",
        )
        model.ir_version = ir_version.value.data if ir_version else DEFAULT_IR_VERSION  # type: ignore[union-attr]
        return model

    def _export_block(self, block: Block, nodes, initializers, value_info, *, skip_terminator: bool) -> None:
        for op in block.ops:
            if op is block.last_op and skip_terminator:
                break
            if isinstance(op, YieldOp):
                break
            if not isinstance(op, OnnxOp):
                raise QaiccError(f"'{op.name}' is not an onnx-dialect op; only the onnx level can be exported")
            if self._left_out_of_skeleton(op):
                self._weight_input(op)
                continue
            if "onnx.initializer" in op.attributes and self._is_constant(op):
                initializers.append(self._initializer(op))
                continue
            nodes.append(self._node(op, value_info))

    @staticmethod
    def _is_constant(op: Operation) -> bool:
        return isinstance(op.properties.get("value"), DenseBlobAttr)

    def _left_out_of_skeleton(self, op: OnnxOp) -> bool:
        """In a skeleton, a large or elided constant (initializer or Constant node)."""
        if self.skeleton_max_elements is None or op.ONNX_SIGNATURE.op_type != "Constant":
            return False
        attr = op.properties.get("value")
        if not isinstance(attr, DenseBlobAttr) or not isinstance(attr.type, TensorType):
            return False
        count = int(np.prod(attr.type.get_shape()))
        return count > self.skeleton_max_elements or not attr.blob.has_data

    def _weight_input(self, op: OnnxOp) -> None:
        """A constant left out of a skeleton becomes a typed input of the main graph
        (subgraphs see it as an outer value)."""
        attr = op.properties["value"]
        result = op.results[0]
        name = self.namer.names.get(result) or self.namer.assign(result, attr.blob_name.data)  # type: ignore[union-attr]
        self.weight_inputs.append(_value_info(name, result))
        self.weight_values.add(result)

    def _output_info(self, name: str, value: SSAValue, dim_params: dict[int, str] | None = None):
        if not self.typed(value):
            return helper.make_empty_tensor_value_info(name)
        return _value_info(name, value, dim_params)

    def _initializer(self, op: OnnxOp) -> onnx.TensorProto:
        attr = op.properties["value"]
        result = op.results[0]
        preferred = attr.blob_name.data  # type: ignore[union-attr]
        name = self.namer.names.get(result) or self.namer.assign(result, preferred)
        return tensor_from_blob_attr(attr, name)  # type: ignore[arg-type]

    def _node(self, op: OnnxOp, value_info) -> onnx.NodeProto:
        signature = op.ONNX_SIGNATURE
        input_names: list[str] = []
        for formal in signature.inputs:
            values = op.formal_values(formal, True)
            if formal.arity is Arity.OPTIONAL and not values:
                input_names.append("")
                continue
            input_names += [self.namer.name(v) for v in values]
        while input_names and input_names[-1] == "":
            input_names.pop()
        output_names: list[str] = []
        for formal in signature.outputs:
            values = op.formal_values(formal, False)
            if formal.arity is Arity.OPTIONAL and not values:
                output_names.append("")
                continue
            for value in values:
                name = self.namer.name(value)
                output_names.append(name)
                type_proto = to_type_proto(value.type) if self.typed(value) else None
                if type_proto is not None:
                    value_info.append(helper.make_value_info(name, type_proto))
        while output_names and output_names[-1] == "":
            output_names.pop()
        attributes = []
        for formal in signature.attributes:
            if formal.kind.value == "graph":
                region = getattr(op, formal.field)
                attributes.append(helper.make_attribute(formal.name, self._subgraph(region, formal.name)))
                continue
            value = op.properties.get(formal.name)
            if value is not None:
                attributes.append(to_attribute_proto(formal.name, formal.kind, value))
        node_name = op.attributes.get("onnx_node_name")
        node = helper.make_node(
            signature.op_type, input_names, output_names,
            name=node_name.data if isinstance(node_name, StringAttr) else None,
        )
        node.attribute.extend(attributes)
        return node

    def _subgraph(self, region, attr_name: str) -> onnx.GraphProto:
        block = region.block
        inputs = [_value_info(self.namer.name(arg), arg) for arg in block.args]
        nodes, initializers, value_info = [], [], []
        self._export_block(block, nodes, initializers, value_info, skip_terminator=False)
        terminator = block.last_op
        if not isinstance(terminator, YieldOp):
            raise QaiccError(f"a '{attr_name}' region does not end in onnx.Yield")
        outputs = []
        for value in terminator.operands:
            name = self.namer.name(value)
            if value in self._outer_or_input(block, value):
                alias = self.namer.fresh(f"{name}_out")
                nodes.append(helper.make_node("Identity", [name], [alias]))
                name = alias
            outputs.append(self._output_info(name, value))
        return helper.make_graph(nodes, attr_name, inputs, outputs, initializers, value_info=value_info)

    def _outer_or_input(self, block: Block, value: SSAValue) -> tuple[SSAValue, ...]:
        """Values that a subgraph output may not name directly: inputs and outer values
        (constants a skeleton made main-graph inputs included)."""
        owner = value.owner
        if isinstance(owner, Block) or value in self.weight_values:
            return (value,)
        if isinstance(owner, Operation) and owner.parent_block() is not block:
            return (value,)
        return ()


def export_module(module: ModuleOp) -> onnx.ModelProto:
    """Export an ``onnx``-dialect module (as the importer makes it) to a ModelProto."""
    return _Exporter(module).export()


def export_skeleton(
    module: ModuleOp,
    max_constant_elements: int = 1024,
    *,
    typed_values: Collection[SSAValue] | None = None,
) -> tuple[onnx.ModelProto, dict[SSAValue, str]]:
    """The model without its weights, for ONNX shape inference, and each SSA value's name.

    Constants with more than ``max_constant_elements`` elements, or without data, become
    typed inputs of the main graph; smaller ones stay (shapes often depend on them). The
    main graph's inputs always carry their types; node outputs and graph outputs carry
    theirs only if they are in ``typed_values`` (all of them when None), since ONNX shape
    inference silently keeps a stated type that contradicts the one it infers.
    """
    typed: Callable[[SSAValue], bool] = (
        (lambda value: True) if typed_values is None else (lambda value: value in typed_values)
    )
    exporter = _Exporter(module, skeleton_max_elements=max_constant_elements, typed=typed)
    model = exporter.export()
    return model, dict(exporter.namer.names)


def save_module(module: ModuleOp, path: str | os.PathLike) -> None:
    """Export and write ``path``; models over 2 GB keep their weights in a side file."""
    model = export_module(module)
    size = sum(t.ByteSize() for t in model.graph.initializer)
    large = size > 1_800_000_000
    onnx.save_model(
        model, os.fspath(path), save_as_external_data=large,
        all_tensors_to_one_file=True, location=os.path.basename(path) + ".data",
    )
