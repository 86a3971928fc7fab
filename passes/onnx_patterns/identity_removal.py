"""Ops that forward their input: ``Identity``, and ``Dropout`` in inference mode.

The input replaces the result when its type is the same or more static (never less).
A Dropout whose mask is used, or that runs in training mode, is kept.
"""

from __future__ import annotations

from xdsl.dialects.builtin import TensorType
from xdsl.ir import Operation
from xdsl.pattern_rewriter import PatternRewriter, RewritePattern

from qaicc.dialects.onnx.base import OnnxOp
from qaicc.passes.onnx_patterns.constant_folding import _refines
from qaicc.passes.onnx_patterns.constants import constant_value


def _can_forward(op: Operation) -> bool:
    source, result = op.operands[0].type, op.results[0].type
    return source == result or _refines(source, result)


class RemoveIdentity(RewritePattern):
    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not isinstance(op, OnnxOp) or op.ONNX_SIGNATURE.op_type != "Identity":
            return
        if not isinstance(op.operands[0].type, TensorType) or not _can_forward(op):
            return
        rewriter.replace(op, [], [op.operands[0]])


class RemoveInferenceDropout(RewritePattern):
    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not isinstance(op, OnnxOp) or op.ONNX_SIGNATURE.op_type != "Dropout":
            return
        if len(op.results) > 1 and op.results[1].uses:
            return
        if _training_mode(op) or not _can_forward(op):
            return
        rewriter.replace(op, [], [op.operands[0]] + [None] * (len(op.results) - 1))


def _training_mode(op: OnnxOp) -> bool:
    is_test = op.properties.get("is_test")
    if is_test is not None:  # Dropout before opset 7
        return not is_test.value.data
    training = getattr(op, "training_mode", None)
    if training is None:
        return False
    value = constant_value(training)
    return value is None or bool(value)
