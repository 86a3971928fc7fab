"""What an ONNX operator schema says about one group of op versions.

The generated op classes (``ops.py``) each carry an ``OpSignature`` built from the
``onnx.defs`` schemas of the versions they cover. The importer and exporter use it to
map ONNX inputs, outputs and attributes to operands, results, properties and regions;
the verifier in ``base.py`` uses its type constraints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Arity(Enum):
    SINGLE = "single"
    OPTIONAL = "optional"
    VARIADIC = "variadic"


class AttrKind(Enum):
    INT = "int"
    FLOAT = "float"
    STRING = "string"
    TENSOR = "tensor"
    GRAPH = "graph"
    SPARSE_TENSOR = "sparse_tensor"
    TYPE_PROTO = "type_proto"
    INTS = "ints"
    FLOATS = "floats"
    STRINGS = "strings"
    TENSORS = "tensors"
    GRAPHS = "graphs"
    SPARSE_TENSORS = "sparse_tensors"
    TYPE_PROTOS = "type_protos"


@dataclass(frozen=True)
class Formal:
    """One formal input or output of a schema."""

    name: str  # as in the ONNX schema
    field: str  # the Python accessor on the op class
    type: str  # a type variable ("T") or a concrete type string ("tensor(int64)")
    arity: Arity
    homogeneous: bool = True


@dataclass(frozen=True)
class AttrFormal:
    """One attribute of a schema. ``default`` is the schema default, if any."""

    name: str
    field: str
    kind: AttrKind
    required: bool = False
    default: object = None


@dataclass(frozen=True)
class OpSignature:
    op_type: str
    since_versions: tuple[int, ...]
    inputs: tuple[Formal, ...]
    outputs: tuple[Formal, ...]
    attributes: tuple[AttrFormal, ...]
    type_constraints: dict[str, frozenset[str]] = field(default_factory=dict)

    def attribute(self, name: str) -> AttrFormal | None:
        for formal in self.attributes:
            if formal.name == name:
                return formal
        return None

    @property
    def graph_attributes(self) -> tuple[AttrFormal, ...]:
        return tuple(a for a in self.attributes if a.kind is AttrKind.GRAPH)
