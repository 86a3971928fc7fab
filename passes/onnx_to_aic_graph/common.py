"""What every onnx -> aic_graph pattern shares.

- ``OnnxToAicGraphPattern``: the base class. A subclass declares ``ONNX_OPS`` (ONNX op
  type -> its limits, in words, for OnnxSupportedOperators.txt) and implements
  ``convert(node, emit)``, which returns the values that replace the op's results, or
  raises ``NotConvertible(reason)``; the op then stays and the reason is reported.
  ``convert`` builds new ops only through the ``Emitter``, which inserts them all at
  once after ``convert`` returns, so a pattern that gives up never leaves ops behind.
- ``Node``: an onnx op read by ONNX names (inputs, outputs, attributes with their schema
  defaults, the op's version in the model's opset).
- ``const_array``: the value of an ``onnx.Constant`` or ``aic_graph.constant``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from xdsl.dialects import builtin
from xdsl.dialects.builtin import (
    ArrayAttr,
    BoolAttr,
    DenseArrayBase,
    FloatAttr,
    IntegerAttr,
    IntegerType,
    Signedness,
    StringAttr,
    TensorType,
    i64,
)
from xdsl.ir import Attribute, Operation, SSAValue
from xdsl.pattern_rewriter import PatternRewriter, RewritePattern

from qaicc.dialects.aic_graph import ops as aic
from qaicc.dialects.onnx.base import OnnxOp
from qaicc.dialects.onnx.element_types import from_numpy, from_xdsl
from qaicc.dialects.onnx.signature import Arity
from qaicc.dialects.qaicc_attrs import DenseBlobAttr
from qaicc.semantics.onnx_ops import module_opset


class NotConvertible(Exception):
    """The op cannot become aic_graph ops; the message says why (reported to the user)."""


def _u(width: int) -> IntegerType:
    return IntegerType(width, Signedness.UNSIGNED)


FLOAT_TYPES: tuple[Attribute, ...] = (builtin.f16, builtin.bf16, builtin.f32, builtin.f64)
INT_TYPES: tuple[Attribute, ...] = (builtin.i8, builtin.i16, builtin.i32, builtin.i64, _u(8), _u(16), _u(32), _u(64))
BOOL_TYPES: tuple[Attribute, ...] = (builtin.i1,)
DEVICE_ELEMENT_TYPES = frozenset(FLOAT_TYPES + INT_TYPES + BOOL_TYPES)
"""Element types an aic_graph value may have (no strings, complex, float8/6/4, int4/2)."""


def type_text(element: Attribute) -> str:
    found = from_xdsl(element)
    return found.onnx_name if found is not None else str(element)


# -- reading onnx ops -------------------------------------------------------------------


def attr_value(attr: Attribute | None) -> Any:
    """An xDSL attribute as a Python value (int, float, str, list, numpy array)."""
    if attr is None:
        return None
    if isinstance(attr, IntegerAttr):
        return int(attr.value.data)
    if isinstance(attr, FloatAttr):
        return float(attr.value.data)
    if isinstance(attr, StringAttr):
        return attr.data
    if isinstance(attr, DenseArrayBase):
        return list(attr.get_values())
    if isinstance(attr, ArrayAttr):
        return [attr_value(a) for a in attr.data]
    if isinstance(attr, DenseBlobAttr):
        return attr.to_numpy()
    return attr


class Node:
    """An onnx op, read by its ONNX formal names."""

    __slots__ = ("op", "signature")

    def __init__(self, op: OnnxOp):
        self.op = op
        self.signature = op.ONNX_SIGNATURE

    @property
    def op_type(self) -> str:
        return self.signature.op_type

    @property
    def name(self) -> str | None:
        return self.op.node_name

    @property
    def version(self) -> int:
        """The version of the operator that the model's opset selects."""
        opset = module_opset(self.op)
        versions = [v for v in self.signature.since_versions if v <= opset]
        return max(versions) if versions else self.signature.since_versions[0]

    def _formal_value(self, formals, name: str):
        for formal in formals:
            if formal.name == name:
                return formal, getattr(self.op, formal.field)
        return None, None

    def has_input(self, name: str) -> bool:
        return any(f.name == name for f in self.signature.inputs)

    def input(self, name: str) -> SSAValue | None:
        formal, value = self._formal_value(self.signature.inputs, name)
        if formal is None:
            return None
        if formal.arity is Arity.VARIADIC:
            raise ValueError(f"{self.op_type}: input '{name}' is variadic")
        return value

    def inputs(self, name: str) -> tuple[SSAValue, ...]:
        formal, value = self._formal_value(self.signature.inputs, name)
        if value is None:
            return ()
        return (value,) if isinstance(value, SSAValue) else tuple(value)

    def output(self, name: str) -> SSAValue | None:
        formal, value = self._formal_value(self.signature.outputs, name)
        if formal is None or value is None:
            return None
        if formal.arity is Arity.VARIADIC:
            raise ValueError(f"{self.op_type}: output '{name}' is variadic")
        return value

    def has_attr(self, name: str) -> bool:
        return self.signature.attribute(name) is not None

    def is_set(self, name: str) -> bool:
        return name in self.op.properties

    def attr(self, name: str, default: Any = None) -> Any:
        """The attribute's value; the schema default (else ``default``) when absent."""
        attr = self.op.properties.get(name)
        if attr is not None:
            return attr_value(attr)
        formal = self.signature.attribute(name)
        if formal is not None and formal.default is not None:
            return formal.default
        return default

    @property
    def result(self) -> SSAValue:
        return self.op.results[0]

    def require_unused(self, *names: str) -> None:
        """Optional outputs the device does not compute must be absent or unused."""
        for name in names:
            value = self.output(name)
            if value is not None and value.uses:
                raise NotConvertible(f"output '{name}' is used")


def shape_of(value: SSAValue) -> tuple[int, ...]:
    return tuple(value.type.get_shape())


def element_of(value: SSAValue) -> Attribute:
    return value.type.element_type


def rank_of(value: SSAValue) -> int:
    return len(value.type.get_shape())


def is_float(value: SSAValue) -> bool:
    return element_of(value) in FLOAT_TYPES


def require_float(value: SSAValue, what: str = "the input") -> None:
    if not is_float(value):
        raise NotConvertible(f"{what} is {type_text(element_of(value))}; only float types are supported")


def check_value(value: SSAValue, what: str) -> None:
    type = value.type
    if not isinstance(type, TensorType):
        if type.name == "onnx.unknown":
            raise NotConvertible(f"{what} has no known type; run shape-inference and canonicalize first")
        raise NotConvertible(f"{what} is not a tensor ({type})")
    if any(d < 0 for d in type.get_shape()):
        raise NotConvertible(f"{what} has no static shape ({type}); run shape-inference and canonicalize first")
    if type.element_type not in DEVICE_ELEMENT_TYPES:
        raise NotConvertible(f"element type {type_text(type.element_type)} is not supported")


def check_node_values(node: Node) -> None:
    """Every operand and every used (or first) result: a static tensor of a device type."""
    op = node.op
    for formal in node.signature.inputs:
        for value in node.inputs(formal.name):
            check_value(value, f"input '{formal.name}'")
    for index, result in enumerate(op.results):
        if index == 0 or result.uses:
            check_value(result, "the result" if len(op.results) == 1 else f"result {index}")


def normalize_axis(axis: int, rank: int) -> int:
    if not -rank <= axis < max(rank, 1):
        raise NotConvertible(f"axis {axis} is out of range for rank {rank}")
    return axis + rank if axis < 0 else axis


def onnx_constant_array(op: Operation) -> np.ndarray | None:
    """The value of an onnx.Constant of any form (value, value_float(s), value_int(s))."""
    props = op.properties
    value = props.get("value")
    if isinstance(value, DenseBlobAttr):
        return value.to_numpy() if value.blob.has_data else None
    if "value_float" in props:
        return np.array(attr_value(props["value_float"]), dtype=np.float32)
    if "value_floats" in props:
        return np.array(attr_value(props["value_floats"]), dtype=np.float32)
    if "value_int" in props:
        return np.array(attr_value(props["value_int"]), dtype=np.int64)
    if "value_ints" in props:
        return np.array(attr_value(props["value_ints"]), dtype=np.int64)
    return None


def const_array(value: SSAValue | None) -> np.ndarray | None:
    """The array of a value defined by onnx.Constant or aic_graph.constant, else None."""
    if value is None:
        return None
    owner = value.owner
    if isinstance(owner, aic.ConstantOp):
        return owner.value.to_numpy() if owner.value.blob.has_data else None
    if isinstance(owner, OnnxOp) and owner.ONNX_SIGNATURE.op_type == "Constant":
        return onnx_constant_array(owner)
    return None


def require_const(node: Node, name: str, value: SSAValue | None = None) -> np.ndarray:
    value = node.input(name) if value is None else value
    array = const_array(value)
    if array is None:
        raise NotConvertible(f"input '{name}' must be a constant")
    return array


def optional_const(node: Node, name: str) -> np.ndarray | None:
    """None when the optional input is absent; its array when constant; else not convertible."""
    value = node.input(name)
    if value is None:
        return None
    return require_const(node, name, value)


def int_list(array: np.ndarray) -> list[int]:
    return [int(v) for v in np.asarray(array).reshape(-1)]


# -- building aic_graph ops ---------------------------------------------------------------


def tensor(element: Attribute, shape: Sequence[int]) -> TensorType:
    return TensorType(element, list(shape))


def i64_array(values: Sequence[int]) -> DenseArrayBase:
    return DenseArrayBase.from_list(i64, [int(v) for v in values])


def i64_attr(value: int) -> IntegerAttr:
    return IntegerAttr(int(value), 64)


def f32_attr(value: float) -> FloatAttr:
    return FloatAttr(float(value), builtin.f32)


def bool_attr(value: bool) -> BoolAttr:
    return BoolAttr.from_bool(bool(value))


def str_attr(value: str) -> StringAttr:
    return StringAttr(value)


COMPARISONS = frozenset({"equal", "less", "less_equal", "greater", "greater_equal"})
LOGICAL = frozenset({"and", "or", "xor"})


class Emitter:
    """Collects the aic_graph ops that replace one onnx op (all named after its node)."""

    def __init__(self, op: Operation):
        self.op = op
        self.ops: list[Operation] = []
        self.node_name = op.attributes.get("onnx_node_name")
        self._count = 0

    def add(self, new: Operation) -> SSAValue:
        if self.node_name is not None:
            new.attributes["onnx_node_name"] = self.node_name
        self.ops.append(new)
        return new.results[0] if new.results else None

    def build(self, cls, operands: list, result_type: Attribute, **props) -> SSAValue:
        properties = {k: v for k, v in props.items() if v is not None}
        return self.add(cls.build(operands=operands, result_types=[result_type], properties=properties))

    # constants
    def constant(self, array: np.ndarray, suffix: str = "const") -> SSAValue:
        array = np.asarray(array)
        element = from_numpy(array.dtype)
        if element is None:
            raise NotConvertible(f"a constant of dtype {array.dtype} cannot be typed")
        self._count += 1
        base = self.node_name.data if isinstance(self.node_name, StringAttr) else self.op.name
        type = tensor(element.xdsl, array.shape)
        attr = DenseBlobAttr.from_array(array, f"{base}.{suffix}", type)
        return self.build(aic.ConstantOp, [], type, value=attr)

    def scalar(self, value, like: SSAValue | Attribute, suffix: str = "scalar") -> SSAValue:
        """A rank-0 constant of ``like``'s element type."""
        element = like if not isinstance(like, SSAValue) else element_of(like)
        dtype = from_xdsl(element).numpy
        return self.constant(np.array(value, dtype=dtype), suffix)

    # elementwise
    def unary(self, x: SSAValue, kind: str, alpha: float | None = None, beta: float | None = None,
              type: Attribute | None = None) -> SSAValue:
        return self.build(
            aic.UnaryOp, [x], type or x.type, kind=str_attr(kind),
            alpha=None if alpha is None else f32_attr(alpha),
            beta=None if beta is None else f32_attr(beta),
        )

    def binary(self, kind: str, a: SSAValue, b: SSAValue, type: Attribute | None = None) -> SSAValue:
        if type is None:
            shape = np.broadcast_shapes(shape_of(a), shape_of(b))
            element = builtin.i1 if kind in COMPARISONS else element_of(a)
            type = tensor(element, shape)
        return self.build(aic.BinaryOp, [a, b], type, kind=str_attr(kind))

    def select(self, condition: SSAValue, on_true: SSAValue, on_false: SSAValue,
               type: Attribute | None = None) -> SSAValue:
        if type is None:
            shape = np.broadcast_shapes(shape_of(condition), shape_of(on_true), shape_of(on_false))
            type = tensor(element_of(on_true), shape)
        return self.build(aic.SelectOp, [condition, on_true, on_false], type)

    def cast(self, x: SSAValue, element: Attribute) -> SSAValue:
        if element_of(x) == element:
            return x
        return self.build(aic.CastOp, [x], tensor(element, shape_of(x)))

    # data movement
    def reshape(self, x: SSAValue, shape: Sequence[int], type: Attribute | None = None) -> SSAValue:
        shape = tuple(int(d) for d in shape)
        if shape_of(x) == shape and (type is None or type == x.type):
            return x
        return self.build(aic.ReshapeOp, [x], type or tensor(element_of(x), shape))

    def transpose(self, x: SSAValue, perm: Sequence[int], type: Attribute | None = None) -> SSAValue:
        perm = [int(p) for p in perm]
        if perm == list(range(len(perm))):
            return x
        shape = shape_of(x)
        return self.build(aic.TransposeOp, [x], type or tensor(element_of(x), [shape[p] for p in perm]),
                          perm=i64_array(perm))

    def reduce(self, x: SSAValue, kind: str, axes: Sequence[int], keepdims: bool,
               type: Attribute | None = None) -> SSAValue:
        if type is None:
            shape = shape_of(x)
            if keepdims:
                out = [1 if i in axes else d for i, d in enumerate(shape)]
            else:
                out = [d for i, d in enumerate(shape) if i not in axes]
            type = tensor(element_of(x), out)
        return self.build(aic.ReduceOp, [x], type, kind=str_attr(kind), axes=i64_array(sorted(axes)),
                          keepdims=bool_attr(keepdims))

    def replace(self, rewriter: PatternRewriter, results: Sequence[SSAValue | None]) -> None:
        rewriter.replace(self.op, self.ops, list(results))


class OnnxToAicGraphPattern(RewritePattern):
    """Base of every onnx -> aic_graph pattern (see the module docstring)."""

    ONNX_OPS: ClassVar[dict[str, str]] = {}
    """ONNX op type -> its limits in words ("" when there are none)."""

    CHECK_VALUES: ClassVar[bool] = True
    """Check that operands and results are static tensors of device element types."""

    def __init__(self, reasons: dict[Operation, str] | None = None):
        self.reasons: dict[Operation, str] = {} if reasons is None else reasons

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not isinstance(op, OnnxOp) or op.ONNX_SIGNATURE.op_type not in self.ONNX_OPS:
            return
        node = Node(op)
        emit = Emitter(op)
        try:
            if self.CHECK_VALUES:
                check_node_values(node)
            results = self.convert(node, emit)
        except NotConvertible as error:
            self.reasons[op] = str(error)
            return
        if results is None:  # a pattern that only matches some graphs (fusion) did not
            return
        emit.replace(rewriter, results)

    def convert(self, node: Node, emit: Emitter) -> Sequence[SSAValue | None] | None:
        raise NotImplementedError
