"""Small helpers for matching and building ``aic_graph`` IR in rewrite patterns.

Reading constants: ``constant_array(value)`` is the array of an ``aic_graph.constant``
(None for anything else, or for a constant without data); ``scalar(value)`` is the
single value of a small constant whose elements are all equal (0.5, ``[1.0]``...);
``is_close(value, target)`` compares such a scalar with a tolerance (exporters write
0.7071067 for 1/sqrt(2), and float16 constants are rounded).

Matching: ``producer(value, op_class, kind)`` is the op defining ``value`` if it is of
that class (and ``kind``); ``other_operand(op, value)`` is the operand of a binary op
that is not ``value``; ``product_factors(value)`` flattens a tree of single-use
``mul`` (and divisions by a constant) into a constant factor and the other factors.

Building: ``make_constant(array, name)`` is a new ``aic_graph.constant``;
``with_element_type`` and ``with_shape`` make tensor types.
"""

from __future__ import annotations

import math

import numpy as np
from xdsl.dialects.builtin import TensorType
from xdsl.ir import Attribute, Operation, SSAValue

from qaicc.dialects.aic_graph import ops as g
from qaicc.dialects.onnx.element_types import from_numpy, from_xdsl
from qaicc.dialects.qaicc_attrs import DenseBlobAttr

CONSTANT_RTOL = 1e-3
"""Relative tolerance on the constants of decomposed patterns (float16-rounded ones pass)."""

SCALAR_MAX_ELEMENTS = 16
"""A constant read as a scalar has at most this many (equal) elements."""


# -- constants -----------------------------------------------------------------------
def constant_op(value: SSAValue) -> g.ConstantOp | None:
    owner = value.owner
    if not isinstance(owner, g.ConstantOp) or not owner.value.blob.has_data:
        return None
    return owner


def constant_array(value: SSAValue) -> np.ndarray | None:
    op = constant_op(value)
    return op.value.to_numpy() if op is not None else None


def constant_name(value: SSAValue) -> str:
    op = constant_op(value)
    return op.value.blob_name.data if op is not None else (value.name_hint or "constant")


def scalar(value: SSAValue) -> float | None:
    """The value of a small float or integer constant whose elements are all equal."""
    op = constant_op(value)
    if op is None or op.value.blob.size == 0 or op.value.blob.size > SCALAR_MAX_ELEMENTS:
        return None
    array = op.value.to_numpy()
    if array.dtype.kind not in "fiu":
        return None
    first = float(array.reshape(-1)[0])
    if not np.all(array == array.reshape(-1)[0]):
        return None
    return first


def is_close(value: SSAValue, target: float, rtol: float = CONSTANT_RTOL) -> bool:
    found = scalar(value)
    return found is not None and math.isclose(found, target, rel_tol=rtol, abs_tol=0.0)


def make_constant(array: np.ndarray, name: str) -> g.ConstantOp:
    """A new ``aic_graph.constant`` holding ``array`` (not copied), its value named ``name``."""
    element = from_numpy(array.dtype)
    if element is None:
        raise ValueError(f"no element type for dtype {array.dtype}")
    type = TensorType(element.xdsl, array.shape)
    op = g.ConstantOp.build(result_types=[type], properties={"value": DenseBlobAttr.from_array(array, name, type)})
    if SSAValue.is_valid_name(name):  # the IR reads %conv.weight.folded, not the replaced op's name
        op.output.name_hint = name
    return op


# -- types -----------------------------------------------------------------------------
def shape_of(value: SSAValue) -> tuple[int, ...]:
    return tuple(value.type.get_shape())


def dtype_of(value: SSAValue) -> np.dtype | None:
    type = value.type
    if not isinstance(type, TensorType):
        return None
    element = from_xdsl(type.element_type)
    return element.numpy if element is not None else None


def is_float(value: SSAValue) -> bool:
    dtype = dtype_of(value)
    return dtype is not None and dtype.kind == "f"


def with_element_type(type: Attribute, element: Attribute) -> TensorType:
    assert isinstance(type, TensorType)
    return TensorType(element, type.get_shape())


def with_shape(type: Attribute, shape) -> TensorType:
    assert isinstance(type, TensorType)
    return TensorType(type.element_type, tuple(shape))


# -- matching --------------------------------------------------------------------------
def producer(value: SSAValue, op_class: type[Operation], kind: str | tuple[str, ...] | None = None):
    """The op of class ``op_class`` (with ``kind``) defining ``value``, else None."""
    owner = value.owner
    if not isinstance(owner, op_class):
        return None
    if kind is not None:
        kinds = (kind,) if isinstance(kind, str) else kind
        if owner.kind.data not in kinds:
            return None
    return owner


def is_binary(op: Operation, *kinds: str) -> bool:
    return isinstance(op, g.BinaryOp) and op.kind.data in kinds


def is_unary(op: Operation, *kinds: str) -> bool:
    return isinstance(op, g.UnaryOp) and op.kind.data in kinds


def other_operand(op: Operation, value: SSAValue) -> SSAValue | None:
    """For a two-operand op using ``value``: the other operand (``value`` for x*x)."""
    lhs, rhs = op.operands[0], op.operands[1]
    if lhs is value:
        return rhs
    if rhs is value:
        return lhs
    return None


def split_constant(op: Operation) -> tuple[SSAValue, SSAValue] | None:
    """For a binary op with exactly one constant operand: (the other, the constant)."""
    lhs, rhs = op.operands[0], op.operands[1]
    if constant_op(rhs) is not None and constant_op(lhs) is None:
        return lhs, rhs
    if constant_op(lhs) is not None and constant_op(rhs) is None:
        return rhs, lhs
    return None


def single_use(value: SSAValue) -> bool:
    return value.has_one_use()


def product_factors(root: Operation, max_depth: int = 4) -> tuple[float, list[SSAValue]] | None:
    """``root`` (a ``mul`` or a ``div`` by a constant) as ``constant * f1 * f2 * ...``.

    Inner ``mul`` / ``div`` ops are looked through only when their result has one use
    (the product), so a match never duplicates work. None when ``root`` is neither.
    """
    if not is_binary(root, "mul", "div"):
        return None
    factors: list[SSAValue] = []
    scale = _collect(root, factors, max_depth)
    return None if scale is None else (scale, factors)


def _collect(op: Operation, factors: list[SSAValue], depth: int) -> float | None:
    lhs, rhs = op.operands[0], op.operands[1]
    if op.kind.data == "div":
        divisor = scalar(rhs)
        if divisor is None or divisor == 0.0:
            return None
        scale = _factor(lhs, factors, depth)
        return None if scale is None else scale / divisor
    left = _factor(lhs, factors, depth)
    right = _factor(rhs, factors, depth)
    return None if left is None or right is None else left * right


def _factor(value: SSAValue, factors: list[SSAValue], depth: int) -> float | None:
    constant = scalar(value)
    if constant is not None:
        return constant
    owner = value.owner
    if depth > 0 and is_binary(owner, "mul", "div") and single_use(value):
        nested: list[SSAValue] = []
        scale = _collect(owner, nested, depth - 1)
        if scale is not None:
            factors.extend(nested)
            return scale
    factors.append(value)
    return 1.0


def copy_node_name(source: Operation, target: Operation) -> Operation:
    """Carry discardable attributes (node name...) from the op a new op replaces."""
    for key, attr in source.attributes.items():
        target.attributes.setdefault(key, attr)
    return target
