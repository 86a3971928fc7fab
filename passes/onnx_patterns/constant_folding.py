"""Constant folding on the ``onnx`` dialect.

``FoldConstantOp``: a pure op without regions whose operands are all constants is
evaluated with the reference semantics and replaced by constants (at most
``max_elements`` elements per result, so weights are not duplicated needlessly).
``FoldShape``: ``Shape`` and ``Size`` of a statically shaped value are constants.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from xdsl.dialects.builtin import DYNAMIC_INDEX, TensorType
from xdsl.ir import Operation
from xdsl.pattern_rewriter import PatternRewriter, RewritePattern
from xdsl.traits import Pure

from qaicc.dialects.onnx.base import OnnxOp
from qaicc.errors import QaiccError
from qaicc.passes.onnx_patterns.constants import constant_value, is_constant, make_constant
from qaicc.semantics.runner import Runner

DEFAULT_MAX_ELEMENTS = 1 << 24


def _folded_name(op: Operation, index: int) -> str:
    hint = op.results[index].name_hint
    return hint or f"{op.name.removeprefix('onnx.')}_folded_{index}"


def _replace_with_constants(op: Operation, values: list, rewriter: PatternRewriter) -> bool:
    constants = []
    for index, value in enumerate(values):
        if not isinstance(value, np.ndarray):
            return False
        constant = make_constant(value, _folded_name(op, index), op)
        if constant is None:
            return False
        constants.append(constant)
    for constant, result in zip(constants, op.results):
        if constant.results[0].type != result.type and not _refines(constant.results[0].type, result.type):
            return False
    rewriter.replace(op, constants, [c.results[0] for c in constants])
    return True


def _refines(new, old) -> bool:
    """``new`` is ``old`` with some unknown dimensions (or an unknown rank) made known."""
    if not isinstance(new, TensorType):
        return False
    if not isinstance(old, TensorType):
        return getattr(old, "element_type", None) == new.element_type or old.name == "onnx.unknown"
    if old.element_type != new.element_type or len(old.get_shape()) != len(new.get_shape()):
        return False
    return all(o in (DYNAMIC_INDEX, n) for o, n in zip(old.get_shape(), new.get_shape()))


@dataclass
class FoldConstantOp(RewritePattern):
    max_elements: int = DEFAULT_MAX_ELEMENTS
    runner: Runner = field(default_factory=Runner)

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not isinstance(op, OnnxOp) or op.regions or not op.has_trait(Pure):
            return
        if op.ONNX_SIGNATURE.op_type == "Constant" and not op.operands:
            return
        if not all(is_constant(operand) for operand in op.operands):
            return  # decided without reading any weight's bytes
        if not self._small_enough(op):
            return
        args = [constant_value(operand) for operand in op.operands]
        try:
            values = self.runner.kernel(op)(args, self.runner, None)
        except (QaiccError, ValueError, TypeError, IndexError, RuntimeError):
            return  # an op that cannot run on these values is left for the device to fail on
        if any(isinstance(v, np.ndarray) and v.size > self.max_elements for v in values):
            return
        _replace_with_constants(op, values, rewriter)

    def _small_enough(self, op: Operation) -> bool:
        for result in op.results:
            type = result.type
            if isinstance(type, TensorType) and DYNAMIC_INDEX not in type.get_shape():
                if int(np.prod(type.get_shape())) > self.max_elements:
                    return False
        return True


class FoldShape(RewritePattern):
    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not isinstance(op, OnnxOp) or op.ONNX_SIGNATURE.op_type not in ("Shape", "Size"):
            return
        type = op.operands[0].type
        if not isinstance(type, TensorType) or DYNAMIC_INDEX in type.get_shape():
            return
        shape = np.array(type.get_shape(), dtype=np.int64)
        if op.ONNX_SIGNATURE.op_type == "Size":
            value = np.array(int(np.prod(shape)), dtype=np.int64)
        else:
            value = shape[_shape_slice(op, len(shape))]
        _replace_with_constants(op, [value], rewriter)


def _shape_slice(op: Operation, rank: int) -> slice:
    start_attr, end_attr = op.properties.get("start"), op.properties.get("end")
    start = start_attr.value.data if start_attr is not None else 0
    end = end_attr.value.data if end_attr is not None else rank
    return slice(start, end)
