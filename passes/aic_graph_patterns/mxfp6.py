"""``QuantizeMatMulWeights``: matmul weights stored as MXFP6.

Anchored on an ``aic_graph.constant`` of floats that is the ``b`` operand of one or
more ``aic_graph.matmul``: the weight is quantized once per reduction axis (the
second-to-last axis of ``b``, the last one with ``transpose_b``; see
``qaicc/semantics/mxfp6.py`` for the layout) into an ``aic_graph.mxfp6_constant``,
followed by an ``aic_graph.dequantize`` to the weight's own type (float16 after
``legalize-fp16``), placed right after the constant; those matmuls read the
dequantized value. Other users of the constant keep it.
"""

from __future__ import annotations

from collections import defaultdict

from xdsl.dialects.builtin import IntegerAttr, StringAttr, TensorType, i64
from xdsl.ir import Operation, SSAValue, Use
from xdsl.pattern_rewriter import PatternRewriter, RewritePattern
from xdsl.rewriter import InsertPoint

from qaicc.dialects.aic_graph import MXFP6Type
from qaicc.dialects.aic_graph import ops as g
from qaicc.dialects.onnx.element_types import from_numpy
from qaicc.dialects.qaicc_attrs import DenseBlobAttr
from qaicc.semantics.mxfp6 import quantize


def reduction_axis(matmul: g.MatMulOp) -> int:
    """The axis of ``b`` that the matmul sums over."""
    rank = len(matmul.b.type.get_shape())
    if rank == 1:
        return 0
    transpose_b = matmul.transpose_b is not None and bool(matmul.transpose_b.value.data)
    return rank - 1 if transpose_b else rank - 2


def _weight_uses(value: SSAValue) -> dict[int, list[Use]]:
    """The uses of ``value`` as a matmul's ``b``, by reduction axis."""
    by_axis: dict[int, list[Use]] = defaultdict(list)
    for use in value.uses:
        if isinstance(use.operation, g.MatMulOp) and use.index == 1:
            by_axis[reduction_axis(use.operation)].append(use)
    return by_axis


def mxfp6_ops(constant: g.ConstantOp, axis: int, fmt: str) -> tuple[g.MXFP6ConstantOp, g.DequantizeOp]:
    """The mxfp6_constant holding ``constant``'s weight and its dequantize."""
    attr = constant.value
    elements, scales = quantize(attr.to_numpy(), axis, fmt)
    name = attr.blob_name.data
    blob = lambda array, suffix: DenseBlobAttr.from_array(
        array, f"{name}.mxfp6_{suffix}", TensorType(from_numpy(array.dtype).xdsl, array.shape)
    )
    weight_type = constant.output.type
    mxfp6 = g.MXFP6ConstantOp.build(
        result_types=[TensorType(MXFP6Type(StringAttr(fmt)), weight_type.get_shape())],
        properties={"elements": blob(elements, "elements"), "scales": blob(scales, "scales"),
                    "axis": IntegerAttr(axis, i64)},
    )
    dequantize = g.DequantizeOp.build(operands=[mxfp6.output], result_types=[weight_type])
    hint = constant.output.name_hint
    if hint:
        mxfp6.output.name_hint, dequantize.output.name_hint = f"{hint}.mxfp6", f"{hint}.dequantized"
    return mxfp6, dequantize


class QuantizeMatMulWeights(RewritePattern):
    def __init__(self, fmt: str = "e2m3"):
        self.fmt = fmt

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not isinstance(op, g.ConstantOp) or not op.value.blob.has_data:
            return
        if op.value.blob.dtype is None or op.value.blob.dtype.kind != "f":
            return
        by_axis = _weight_uses(op.output)
        if not by_axis:
            return
        point = InsertPoint.after(op)
        for axis, uses in sorted(by_axis.items()):
            mxfp6, dequantize = mxfp6_ops(op, axis, self.fmt)
            rewriter.insert([mxfp6, dequantize], point)
            point = InsertPoint.after(dequantize)
            users = {id(use.operation) for use in uses}
            rewriter.replace_uses_with_if(
                op.output, dequantize.output,
                lambda use, users=users: id(use.operation) in users and use.index == 1,
            )
        if not op.output.uses:
            rewriter.erase(op)
