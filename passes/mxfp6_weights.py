"""``mxfp6-weights``: store matmul weights as MXFP6 (``qaic-exec -mxfp6-matmul``).

    qaicc-opt model.onnx -p '...,convert-onnx-to-aic-graph,fuse-aic-graph,legalize-fp16,mxfp6-weights'

The constant weight (operand ``b``) of every ``aic_graph.matmul`` becomes an
``aic_graph.mxfp6_constant``: OCP MXFP6 elements in blocks of 32 along the reduction
axis (the second-to-last axis of ``b``, the last with ``transpose_b``) sharing one
E8M0 scale, followed by an ``aic_graph.dequantize`` back to the weight's type (float16
after ``legalize-fp16``, else the weight's own float type) that the matmul reads. A
weight shared by several matmuls is quantized once (once per reduction axis); other
users of the constant keep the original. Weights that are not constants (activations,
as in attention's ``q @ k``) and integer weights are left alone.

A float16 weight of N elements takes 2N bytes; in MXFP6 it takes 6N/8 bytes plus one
scale byte per 32 elements, 6.25/16 of it. The pass logs the figures
(``weight_bytes(module)``) on the ``qaicc.passes.mxfp6_weights`` logger at INFO level.

Options: ``format``: ``e2m3`` (default; 2 exponent bits, 3 mantissa bits: more
precision) or ``e3m2`` (more range). From Python: ``mxfp6_weights(module, "e2m3")``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import GreedyRewritePatternApplier, PatternRewriteWalker

from qaicc.dialects.aic_graph import MXFP6Type
from qaicc.dialects.aic_graph import ops as g
from qaicc.dialects.aic_graph.types import MXFP6_FORMATS
from qaicc.dialects.aic_graph.work import tensor_bytes
from qaicc.errors import QaiccError
from qaicc.passes.aic_graph_patterns.mxfp6 import QuantizeMatMulWeights

PASS_NAME = "mxfp6-weights"
logger = logging.getLogger("qaicc.passes.mxfp6_weights")


def _is_matmul_weight(op) -> bool:
    """A constant (or dequantized MXFP6 constant) read as a matmul's ``b``."""
    values = [op.results[0]]
    for use in op.results[0].uses:
        if isinstance(use.operation, g.DequantizeOp):
            values.append(use.operation.output)
    return any(isinstance(u.operation, g.MatMulOp) and u.index == 1 for v in values for u in v.uses)


def weight_bytes(module: ModuleOp) -> dict[str, int]:
    """Bytes of the module's constants.

    ``constant_bytes``: plain ``aic_graph.constant`` s; ``mxfp6_bytes``: MXFP6 constants
    (6-bit elements, padded to blocks of 32, plus one scale byte per block);
    ``total_bytes``: both; ``matmul_weight_bytes``: the part read as matmul weights;
    ``mxfp6_weights``: the number of MXFP6 constants.
    """
    figures = {"constant_bytes": 0, "mxfp6_bytes": 0, "matmul_weight_bytes": 0, "mxfp6_weights": 0}
    for op in module.walk():
        if isinstance(op, g.ConstantOp):
            size = tensor_bytes(op.output.type)
            figures["constant_bytes"] += size
        elif isinstance(op, g.MXFP6ConstantOp):
            size = MXFP6Type.bytes_for(op.elements.blob.size)
            figures["mxfp6_bytes"] += size
            figures["mxfp6_weights"] += 1
        else:
            continue
        if _is_matmul_weight(op):
            figures["matmul_weight_bytes"] += size
    figures["total_bytes"] = figures["constant_bytes"] + figures["mxfp6_bytes"]
    return figures


def mxfp6_weights(module: ModuleOp, fmt: str = "e2m3") -> dict[str, int]:
    """Quantize the matmul weights of ``module``; returns ``weight_bytes`` after."""
    if fmt not in MXFP6_FORMATS:
        raise QaiccError(f"{PASS_NAME}: unknown format '{fmt}'; use one of {', '.join(MXFP6_FORMATS)}")
    before = weight_bytes(module) if logger.isEnabledFor(logging.INFO) else None
    PatternRewriteWalker(GreedyRewritePatternApplier([QuantizeMatMulWeights(fmt)])).rewrite_module(module)
    after = weight_bytes(module)
    if before is not None:
        logger.info(
            "%s{format=%s}: %d matmul weights in MXFP6; matmul weights %d -> %d bytes; all constants %d -> %d bytes",
            PASS_NAME, fmt, after["mxfp6_weights"], before["matmul_weight_bytes"], after["matmul_weight_bytes"],
            before["total_bytes"], after["total_bytes"],
        )
    return after


@dataclass(frozen=True)
class Mxfp6WeightsPass(ModulePass):
    name = PASS_NAME

    format: str = "e2m3"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        mxfp6_weights(op, self.format)
