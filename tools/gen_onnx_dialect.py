"""Generate ``dialects/onnx/ops.py``: one op class per ONNX operator signature.

Usage: ``python -m qaicc.tools.gen_onnx_dialect [--check]`` (or run this file).

Every schema of the ai.onnx domain in the installed ``onnx`` package is read from
``onnx.defs``. The versions of one operator are grouped by signature (the names and
arities of inputs and outputs and the set of attribute names): the newest group is the
op ``onnx.<OpType>``; older groups that differ are ``onnx.<OpType>V<first version>``
(for example ``onnx.SplitV13``), so that models of any opset import faithfully. Type
constraints are the union over the group's versions.

The output is deterministic; ``--check`` fails when the checked-in file is stale (the
test suite runs it).
"""

from __future__ import annotations

import argparse
import keyword
import sys
from collections import defaultdict
from pathlib import Path

import onnx
import onnx.defs
from onnx import helper

OUT_PATH = Path(__file__).resolve().parent.parent / "dialects" / "onnx" / "ops.py"

def _reserved_names() -> set[str]:
    """Names an op class already has (xDSL's Operation and qaicc's OnnxOp)."""
    from qaicc.dialects.onnx.base import OnnxOp

    return set(dir(OnnxOp)) | {"name", "irdl_options", "traits", "assembly_format"}


_RESERVED = _reserved_names()

_ATTR_KIND = {
    onnx.defs.OpSchema.AttrType.FLOAT: "FLOAT",
    onnx.defs.OpSchema.AttrType.INT: "INT",
    onnx.defs.OpSchema.AttrType.STRING: "STRING",
    onnx.defs.OpSchema.AttrType.TENSOR: "TENSOR",
    onnx.defs.OpSchema.AttrType.GRAPH: "GRAPH",
    onnx.defs.OpSchema.AttrType.SPARSE_TENSOR: "SPARSE_TENSOR",
    onnx.defs.OpSchema.AttrType.TYPE_PROTO: "TYPE_PROTO",
    onnx.defs.OpSchema.AttrType.FLOATS: "FLOATS",
    onnx.defs.OpSchema.AttrType.INTS: "INTS",
    onnx.defs.OpSchema.AttrType.STRINGS: "STRINGS",
    onnx.defs.OpSchema.AttrType.TENSORS: "TENSORS",
    onnx.defs.OpSchema.AttrType.GRAPHS: "GRAPHS",
    onnx.defs.OpSchema.AttrType.SPARSE_TENSORS: "SPARSE_TENSORS",
    onnx.defs.OpSchema.AttrType.TYPE_PROTOS: "TYPE_PROTOS",
}

_ATTR_CONSTRAINT = {
    "INT": "IntegerAttr",
    "FLOAT": "FloatAttr",
    "STRING": "StringAttr",
    "INTS": "DenseArrayBase",
    "FLOATS": "DenseArrayBase",
    "STRINGS": "ArrayAttr",
    "TENSORS": "ArrayAttr",
    "GRAPHS": "ArrayAttr",
    "SPARSE_TENSORS": "ArrayAttr",
    "TYPE_PROTOS": "ArrayAttr",
    "TYPE_PROTO": "TypeProtoAttr",
    "SPARSE_TENSOR": "SparseTensorAttr",
    "TENSOR": "Attribute",
}

_ARITY = {
    onnx.defs.OpSchema.FormalParameterOption.Single: "SINGLE",
    onnx.defs.OpSchema.FormalParameterOption.Optional: "OPTIONAL",
    onnx.defs.OpSchema.FormalParameterOption.Variadic: "VARIADIC",
}


def _signature_key(schema) -> tuple:
    return (
        tuple((p.name, _ARITY[p.option]) for p in schema.inputs),
        tuple((p.name, _ARITY[p.option]) for p in schema.outputs),
        tuple(sorted(schema.attributes)),
    )


def group_schemas() -> dict[str, list[list]]:
    """op type -> groups of schemas (oldest first) sharing one signature."""
    by_op: dict[str, list] = defaultdict(list)
    for schema in onnx.defs.get_all_schemas_with_history():
        if schema.domain in ("", "ai.onnx"):
            by_op[schema.name].append(schema)
    groups: dict[str, list[list]] = {}
    for op_type, schemas in sorted(by_op.items()):
        schemas.sort(key=lambda s: s.since_version)
        keyed: dict[tuple, list] = {}
        for schema in schemas:
            keyed.setdefault(_signature_key(schema), []).append(schema)
        groups[op_type] = sorted(keyed.values(), key=lambda g: g[0].since_version)
    return groups


def _field_name(name: str, taken: set[str]) -> str:
    field = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    if not field or field[0].isdigit():
        field = "_" + field
    if keyword.iskeyword(field) or field in _RESERVED or field.startswith("__"):
        field += "_"
    while field in taken:
        field += "_"
    taken.add(field)
    return field


def _default_literal(attr) -> str:
    if not attr.default_value or attr.default_value.type == 0:
        return "None"
    value = helper.get_attribute_value(attr.default_value)
    if isinstance(value, bytes):
        return repr(value.decode())
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list) and all(isinstance(v, (int, float)) for v in value):
        return repr(tuple(value))
    if isinstance(value, list) and all(isinstance(v, bytes) for v in value):
        return repr(tuple(v.decode() for v in value))
    return "None"


class _Writer:
    def __init__(self) -> None:
        self.type_sets: dict[frozenset[str], str] = {}
        self.lines: list[str] = []
        self.classes: list[tuple[str, str, tuple[int, ...]]] = []

    def type_set_name(self, types: frozenset[str]) -> str:
        if types not in self.type_sets:
            self.type_sets[types] = f"_TYPES_{len(self.type_sets)}"
        return self.type_sets[types]

    def emit_group(self, op_type: str, group: list, newest: bool) -> None:
        first, last = group[0], group[-1]
        versions = tuple(s.since_version for s in group)
        op_name = op_type if newest else f"{op_type}V{first.since_version}"
        class_name = f"{op_name}Op"
        self.classes.append((class_name, op_type, versions))
        taken: set[str] = set()
        constraints: dict[str, set[str]] = defaultdict(set)
        for schema in group:
            for tc in schema.type_constraints:
                constraints[tc.type_param_str].update(tc.allowed_type_strs)
        required = {
            name for name in last.attributes
            if all(s.attributes[name].required for s in group)
        }

        body = [
            "",
            "",
            "@irdl_op_definition",
            f"class {class_name}(OnnxOp):",
            f'    """ONNX {op_type} (ai.onnx opsets {", ".join(map(str, versions))})."""',
            "",
            f'    name = "onnx.{op_name}"',
        ]
        inputs, outputs, attrs = [], [], []
        n_var_in = sum(p.option != onnx.defs.OpSchema.FormalParameterOption.Single for p in last.inputs)
        n_var_out = sum(p.option != onnx.defs.OpSchema.FormalParameterOption.Single for p in last.outputs)
        for p in last.inputs:
            field = _field_name(p.name, taken)
            arity = _ARITY[p.option]
            body.append(f"    {field} = {_OPERAND_DEF[arity]}()")
            inputs.append(f"Formal({p.name!r}, {field!r}, {p.type_str!r}, Arity.{arity}, {p.is_homogeneous!r})")
        for p in last.outputs:
            field = _field_name(p.name, taken)
            arity = _ARITY[p.option]
            body.append(f"    {field} = {_RESULT_DEF[arity]}()")
            outputs.append(f"Formal({p.name!r}, {field!r}, {p.type_str!r}, Arity.{arity}, {p.is_homogeneous!r})")
        for attr_name in sorted(last.attributes):
            attr = last.attributes[attr_name]
            kind = _ATTR_KIND[attr.type]
            field = _field_name(attr_name, taken)
            if kind == "GRAPH":
                body.append(f'    {field} = region_def("single_block")')
            elif attr_name in required:
                body.append(f"    {field} = prop_def({_ATTR_CONSTRAINT[kind]}, prop_name={attr_name!r})")
            else:
                body.append(f"    {field} = opt_prop_def({_ATTR_CONSTRAINT[kind]}, prop_name={attr_name!r})")
            attrs.append(
                f"AttrFormal({attr_name!r}, {field!r}, AttrKind.{kind}, "
                f"{attr_name in required!r}, {_default_literal(attr)})"
            )
        options = []
        if n_var_in > 1:
            options.append("AttrSizedOperandSegments(as_property=True)")
        if n_var_out > 1:
            options.append("AttrSizedResultSegments(as_property=True)")
        if options:
            body.append(f"    irdl_options = ({', '.join(options)},)")
        if op_type not in IMPURE_OPS:
            body.append("    traits = traits_def(Pure())")
        tc_items = ", ".join(
            f"{k!r}: {self.type_set_name(frozenset(v))}" for k, v in sorted(constraints.items())
        )
        body += [
            "    ONNX_SIGNATURE: ClassVar[OpSignature] = OpSignature(",
            f"        {op_type!r},",
            f"        {versions!r},",
            f"        ({''.join(i + ', ' for i in inputs)}),",
            f"        ({''.join(o + ', ' for o in outputs)}),",
            f"        ({''.join(a + ', ' for a in attrs)}),",
            f"        {{{tc_items}}},",
            "    )",
        ]
        self.lines += body

    def render(self) -> str:
        header = [
            '"""The ops of the ``onnx`` dialect. GENERATED by tools/gen_onnx_dialect.py: do not edit.',
            "",
            f"Source: onnx {onnx.__version__}, ai.onnx opset {onnx.defs.onnx_opset_version()}.",
            '"""',
            "",
            "# fmt: off",
            "# ruff: noqa",
            "from __future__ import annotations",
            "",
            "from typing import ClassVar",
            "",
            "from xdsl.dialects.builtin import ArrayAttr, DenseArrayBase, FloatAttr, IntegerAttr, StringAttr",
            "from xdsl.ir import Attribute",
            "from xdsl.irdl import (",
            "    AttrSizedOperandSegments, AttrSizedResultSegments, irdl_op_definition, operand_def,",
            "    opt_operand_def, opt_prop_def, opt_result_def, prop_def, region_def, result_def,",
            "    traits_def, var_operand_def, var_result_def,",
            ")",
            "from xdsl.traits import Pure",
            "",
            "from qaicc.dialects.onnx.base import OnnxOp",
            "from qaicc.dialects.onnx.signature import Arity, AttrFormal, AttrKind, Formal, OpSignature",
            "from qaicc.dialects.onnx.types import SparseTensorAttr, TypeProtoAttr",
            "",
            f"ONNX_VERSION = {onnx.__version__!r}",
            f"MAX_OPSET = {onnx.defs.onnx_opset_version()}",
            "",
        ]
        for types, name in self.type_sets.items():
            header.append(f"{name} = frozenset({sorted(types)!r})")
        footer = ["", "", "ALL_OPS = ("]
        footer += [f"    {c},"  for c, _, _ in self.classes]
        footer += [")", "", "OP_BY_VERSION = {"]
        for class_name, op_type, versions in self.classes:
            for v in versions:
                footer.append(f"    ({op_type!r}, {v}): {class_name},")
        footer += ["}", ""]
        return "\n".join(header + self.lines + footer)


# Ops whose results are not a function of their inputs and attributes alone (random
# number generators; Dropout in training mode), or that run subgraphs: not Pure.
IMPURE_OPS = {
    "Bernoulli", "Dropout", "Multinomial", "RandomNormal", "RandomNormalLike",
    "RandomUniform", "RandomUniformLike", "If", "Loop", "Scan", "SequenceMap",
}

_OPERAND_DEF = {"SINGLE": "operand_def", "OPTIONAL": "opt_operand_def", "VARIADIC": "var_operand_def"}
_RESULT_DEF = {"SINGLE": "result_def", "OPTIONAL": "opt_result_def", "VARIADIC": "var_result_def"}


def generate() -> str:
    writer = _Writer()
    for op_type, groups in group_schemas().items():
        for index, group in enumerate(groups):
            writer.emit_group(op_type, group, newest=index == len(groups) - 1)
    return writer.render()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if ops.py is stale")
    args = parser.parse_args(argv)
    text = generate()
    if args.check:
        if OUT_PATH.read_text() != text:
            print(f"{OUT_PATH} is stale: run python tools/gen_onnx_dialect.py", file=sys.stderr)
            return 1
        return 0
    OUT_PATH.write_text(text)
    print(f"wrote {OUT_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
