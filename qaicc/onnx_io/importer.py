"""ONNX model -> xDSL module of the ``onnx`` dialect.

Contract:
- The module holds one ``func.func @main_graph``. Graph inputs (those that are not
  initializers) are its arguments, graph outputs its results, in order; each carries
  ``onnx.name`` (the ONNX name) and, for symbolic dimensions, ``onnx.dim_params``
  ("0:batch_size,1:sequence"). Symbolic dimensions are ``?`` in the types.
- Every node becomes one op of the ``onnx`` dialect chosen by op type and the model's
  ai.onnx opset (recorded as ``onnx.opset`` on the module), with the node name in
  ``onnx_node_name`` and ONNX attributes as properties; GRAPH attributes (If, Loop,
  Scan bodies) become regions ending in ``onnx.Yield``; outer values are captured.
- Initializers become ``onnx.Constant`` ops marked ``onnx.initializer``, holding
  ``#qaicc.blob`` constants that view the model's own buffers (external data is
  memory-mapped, never read by the importer).
- Value types come from the model (inputs, outputs, value_info) or, where it is silent,
  from ONNX shape inference run on a copy of the graph without its weights.
- A model with unsupported parts raises ONE ``UnsupportedModelError`` listing every
  problem (op type, domain, node names, count), never only the first.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import onnx
from xdsl.dialects import func
from xdsl.dialects.builtin import (
    ArrayAttr,
    DictionaryAttr,
    IntegerAttr,
    ModuleOp,
    StringAttr,
    UnitAttr,
    i64,
)
from xdsl.ir import Attribute, Block, Region, SSAValue

from qaicc.dialects.onnx import YieldOp, op_class
from qaicc.dialects.onnx.signature import Arity, AttrKind, OpSignature
from qaicc.dialects.onnx.types import UnknownType
from qaicc.errors import QaiccError, UnsupportedModelError
from qaicc.onnx_io.attributes import from_attribute_proto
from qaicc.onnx_io.loading import load_model_proto
from qaicc.onnx_io.shape_hints import collect_value_types
from qaicc.onnx_io.tensors import base_dir_of, blob_attr_from_tensor, check_external_data
from qaicc.onnx_io.types import from_type_proto, tensor_dims

ONNX_DOMAINS = ("", "ai.onnx")
MAIN_FUNCTION = "main_graph"


@dataclass
class _Problems:
    """Everything wrong with a model, collected over the whole import."""

    unsupported: dict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))
    other: list[str] = field(default_factory=list)

    def unsupported_op(self, domain: str, op_type: str, node_name: str) -> None:
        self.unsupported[(domain or "ai.onnx", op_type)].append(node_name)

    def messages(self) -> list[str]:
        lines = []
        for (domain, op_type), nodes in sorted(self.unsupported.items()):
            shown = ", ".join(repr(n) for n in nodes[:5]) + (", ..." if len(nodes) > 5 else "")
            reason = "unknown operator" if domain == "ai.onnx" else "operator of a domain qaicc does not support"
            lines.append(f"{domain}.{op_type}: {reason}, {len(nodes)} node(s): {shown}")
        return lines + self.other


class _Scope:
    """Names -> SSA values; a subgraph's scope sees its parents' values."""

    def __init__(self, parent: _Scope | None = None):
        self.parent = parent
        self.values: dict[str, SSAValue | None] = {}

    def lookup(self, name: str) -> tuple[bool, SSAValue | None]:
        scope: _Scope | None = self
        while scope is not None:
            if name in scope.values:
                return True, scope.values[name]
            scope = scope.parent
        return False, None


class _Importer:
    def __init__(self, model: onnx.ModelProto, base_dir: Path | None, source: str):
        self.model = model
        self.base_dir = base_dir
        self.source = source
        self.opset = _ai_onnx_opset(model)
        self.problems = _Problems()
        self.types = collect_value_types(model)
        self.constant_class = op_class("Constant", self.opset)

    # -- graphs ---------------------------------------------------------------------
    def import_main(self) -> ModuleOp:
        graph = self.model.graph
        scope = _Scope()
        initializer_names = {t.name for t in graph.initializer}
        inputs = [vi for vi in graph.input if vi.name not in initializer_names]
        arg_types = [self._declared_type(vi) for vi in inputs]
        block = Block(arg_types=arg_types)
        for vi, arg in zip(inputs, block.args):
            arg.name_hint = _hint(vi.name)
            scope.values[vi.name] = arg
        self._import_initializers(graph, block, scope)
        self._import_nodes(graph, block, scope)
        results = self._graph_outputs(graph, scope)
        if self.problems.unsupported or self.problems.other:
            raise UnsupportedModelError(self.source, self.problems.messages())
        block.add_op(func.ReturnOp(*results))
        function = func.FuncOp(
            MAIN_FUNCTION,
            (arg_types, [vi_type for vi_type in (r.type for r in results)]),
            Region(block),
            arg_attrs=ArrayAttr(_io_attrs(inputs)),
            res_attrs=ArrayAttr(_io_attrs(graph.output)),
        )
        return ModuleOp([function], attributes=self._module_attributes())

    def _import_subgraph(self, graph: onnx.GraphProto, parent: _Scope) -> Region:
        scope = _Scope(parent)
        arg_types = [self._declared_type(vi) for vi in graph.input]
        block = Block(arg_types=arg_types)
        for vi, arg in zip(graph.input, block.args):
            arg.name_hint = _hint(vi.name)
            scope.values[vi.name] = arg
        self._import_initializers(graph, block, scope)
        self._import_nodes(graph, block, scope)
        results = self._graph_outputs(graph, scope)
        if not (self.problems.unsupported or self.problems.other):
            block.add_op(YieldOp(results))
        return Region(block)

    def _graph_outputs(self, graph: onnx.GraphProto, scope: _Scope) -> list[SSAValue]:
        results = []
        for vi in graph.output:
            found, value = scope.lookup(vi.name)
            if not found:
                self.problems.other.append(
                    f"graph output '{vi.name}' of graph '{graph.name}' is not produced by any node"
                )
            elif value is not None:
                results.append(value)
        return results

    def _import_initializers(self, graph: onnx.GraphProto, block: Block, scope: _Scope) -> None:
        for tensor in graph.initializer:
            try:
                attr = blob_attr_from_tensor(tensor, self.base_dir)
            except QaiccError as error:
                self.problems.other.append(str(error))
                scope.values[tensor.name] = None
                continue
            op = self.constant_class.build(
                result_types=[attr.type], properties={"value": attr},
                attributes={"onnx.initializer": UnitAttr()},
            )
            op.results[0].name_hint = _hint(tensor.name)
            block.add_op(op)
            scope.values[tensor.name] = op.results[0]
        for sparse in graph.sparse_initializer:
            self.problems.other.append(
                f"sparse initializer '{sparse.values.name}' is not supported; store it dense"
            )

    def _import_nodes(self, graph: onnx.GraphProto, block: Block, scope: _Scope) -> None:
        for index, node in enumerate(graph.node):
            node_name = node.name or f"{node.op_type}_{index}"
            op = self._import_node(node, node_name, scope)
            if op is None:
                for name in node.output:
                    if name:
                        scope.values[name] = None
                continue
            block.add_op(op)
            results = iter(op.results)
            for name in node.output:
                if name:
                    value = next(results)
                    value.name_hint = _hint(name)
                    scope.values[name] = value

    # -- nodes ----------------------------------------------------------------------
    def _import_node(self, node: onnx.NodeProto, node_name: str, scope: _Scope):
        if node.domain not in ONNX_DOMAINS:
            self.problems.unsupported_op(node.domain, node.op_type, node_name)
            self._scan_subgraphs(node, scope)
            return None
        cls = op_class(node.op_type, self.opset)
        if cls is None:
            self.problems.unsupported_op(node.domain, node.op_type, node_name)
            self._scan_subgraphs(node, scope)
            return None
        signature = cls.ONNX_SIGNATURE
        operands = self._group_inputs(node, node_name, signature, scope)
        properties, regions = self._attributes(node, node_name, signature, scope)
        result_types = self._group_outputs(node, node_name, signature)
        if operands is None or properties is None or result_types is None:
            return None
        return cls.build(
            operands=operands,
            result_types=result_types,
            properties=properties,
            attributes={"onnx_node_name": StringAttr(node_name)},
            regions=regions,
        )

    def _scan_subgraphs(self, node: onnx.NodeProto, scope: _Scope) -> None:
        """Import the subgraphs of an unsupported node only to report their problems."""
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                self._import_subgraph(attr.g, scope)

    def _group_inputs(self, node, node_name: str, signature: OpSignature, scope: _Scope):
        names = list(node.input)
        groups: list[SSAValue | list[SSAValue] | None] = []
        position = 0
        broken = False
        for formal in signature.inputs:
            if formal.arity is Arity.VARIADIC:
                taken, position = names[position:], len(names)
            else:
                taken, position = names[position:position + 1], position + 1
            values = []
            for name in taken:
                if not name:
                    continue
                found, value = scope.lookup(name)
                if not found:
                    self.problems.other.append(
                        f"node '{node_name}' ({node.op_type}) uses '{name}', which no node, "
                        "input or initializer defines before it"
                    )
                    broken = True
                elif value is None:
                    broken = True
                else:
                    values.append(value)
            if formal.arity is Arity.SINGLE:
                if not values and not broken:
                    self.problems.other.append(
                        f"node '{node_name}' ({node.op_type}): required input '{formal.name}' is missing"
                    )
                    broken = True
                groups.append(values[0] if values else None)
            elif formal.arity is Arity.OPTIONAL:
                groups.append(values)
            else:
                groups.append(values)
        if position < len(names) and any(names[position:]):
            self.problems.other.append(
                f"node '{node_name}' ({node.op_type}): {len(names)} inputs, the schema of opset "
                f"{self.opset} allows at most {position}"
            )
            broken = True
        return None if broken else groups

    def _group_outputs(self, node, node_name: str, signature: OpSignature):
        names = list(node.output)
        groups: list[Attribute | list[Attribute]] = []
        position = 0
        for formal in signature.outputs:
            if formal.arity is Arity.VARIADIC:
                taken, position = names[position:], len(names)
                groups.append([self._value_type(n) for n in taken if n])
                continue
            taken, position = names[position:position + 1], position + 1
            present = [n for n in taken if n]
            if formal.arity is Arity.SINGLE:
                if not present:
                    self.problems.other.append(
                        f"node '{node_name}' ({node.op_type}): required output '{formal.name}' is missing"
                    )
                    return None
                groups.append(self._value_type(present[0]))
            else:
                groups.append([self._value_type(n) for n in present])
        if position < len(names) and any(names[position:]):
            self.problems.other.append(
                f"node '{node_name}' ({node.op_type}): {len(names)} outputs, the schema allows {position}"
            )
            return None
        return groups

    def _attributes(self, node, node_name: str, signature: OpSignature, scope: _Scope):
        properties: dict[str, Attribute] = {}
        graphs: dict[str, Region] = {}
        ok = True
        for attr in node.attribute:
            formal = signature.attribute(attr.name)
            if formal is None:
                self.problems.other.append(
                    f"node '{node_name}' ({node.op_type}): attribute '{attr.name}' is not in the "
                    f"schema of opset {self.opset}"
                )
                ok = False
                continue
            if attr.ref_attr_name:
                self.problems.other.append(
                    f"node '{node_name}': attribute '{attr.name}' refers to a function attribute"
                )
                ok = False
                continue
            if formal.kind is AttrKind.GRAPH:
                graphs[attr.name] = self._import_subgraph(attr.g, scope)
                continue
            try:
                properties[attr.name] = from_attribute_proto(attr, self.base_dir, node_name)
            except QaiccError as error:
                self.problems.other.append(f"node '{node_name}': {error}")
                ok = False
        regions = []
        for formal in signature.graph_attributes:
            if formal.name not in graphs:
                self.problems.other.append(f"node '{node_name}': graph attribute '{formal.name}' is missing")
                ok = False
                continue
            regions.append(graphs[formal.name])
        return (properties, regions) if ok else (None, None)

    # -- types ----------------------------------------------------------------------
    def _declared_type(self, value_info: onnx.ValueInfoProto) -> Attribute:
        if value_info.type.WhichOneof("value") is None:
            return self._value_type(value_info.name)
        try:
            return from_type_proto(value_info.type)
        except QaiccError as error:
            self.problems.other.append(f"value '{value_info.name}': {error}")
            return UnknownType()

    def _value_type(self, name: str) -> Attribute:
        type_proto = self.types.get(name)
        if type_proto is None:
            return UnknownType()
        try:
            return from_type_proto(type_proto)
        except QaiccError as error:
            self.problems.other.append(f"value '{name}': {error}")
            return UnknownType()

    def _module_attributes(self) -> dict[str, Attribute]:
        model = self.model
        attributes: dict[str, Attribute] = {
            "onnx.opset": IntegerAttr(self.opset, i64),
            "onnx.ir_version": IntegerAttr(model.ir_version, i64),
        }
        if model.producer_name:
            attributes["onnx.producer_name"] = StringAttr(model.producer_name)
        if model.producer_version:
            attributes["onnx.producer_version"] = StringAttr(model.producer_version)
        if model.graph.name:
            attributes["onnx.graph_name"] = StringAttr(model.graph.name)
        return attributes


def _ai_onnx_opset(model: onnx.ModelProto) -> int:
    for entry in model.opset_import:
        if entry.domain in ONNX_DOMAINS:
            return entry.version
    return 1


def _hint(name: str) -> str | None:
    cleaned = "".join(c if c.isalnum() or c in "_.$-" else "_" for c in name)
    if not cleaned:
        return None
    return cleaned if not cleaned[0].isdigit() else "v" + cleaned


def _io_attrs(value_infos) -> list[DictionaryAttr]:
    attrs = []
    for vi in value_infos:
        entries: dict[str, Attribute] = {"onnx.name": StringAttr(vi.name)}
        if vi.type.HasField("tensor_type"):
            dims = tensor_dims(vi.type.tensor_type)
            if dims is not None and dims[1]:
                text = ",".join(f"{i}:{n}" for i, n in sorted(dims[1].items()))
                entries["onnx.dim_params"] = StringAttr(text)
        attrs.append(DictionaryAttr(entries))
    return attrs


def import_model(model: str | os.PathLike | onnx.ModelProto, *, source: str | None = None) -> ModuleOp:
    """Import an ONNX model (a file path or a ModelProto) into an ``onnx``-dialect module."""
    if isinstance(model, onnx.ModelProto):
        proto, base_dir = model, None
        source = source or "<model>"
    else:
        proto, base_dir = load_model_proto(model), base_dir_of(model)
        source = source or str(model)
    if proto.functions:
        proto = _inline_local_functions(proto, source)
    importer = _Importer(proto, base_dir, source)
    for tensor in proto.graph.initializer:
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            check_external_data(tensor, base_dir)
    return importer.import_main()


def _inline_local_functions(model: onnx.ModelProto, source: str) -> onnx.ModelProto:
    try:
        import onnx.inliner

        return onnx.inliner.inline_local_functions(model)
    except Exception as error:  # the inliner reports malformed functions this way
        raise QaiccError(f"{source}: cannot inline the model's local functions: {error}") from None
