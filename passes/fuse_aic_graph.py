"""``fuse-aic-graph``: fuse the ``aic_graph`` ops of common layers into the device's fused ops.

    qaicc-opt model.onnx -p 'bind-symbols{batch_size=1 sequence=128},shape-inference,canonicalize,convert-onnx-to-aic-graph,fuse-aic-graph'

Rewrites, until nothing changes (patterns in ``passes/aic_graph_patterns/``):

- convolution: a BatchNormalization after a conv (per-channel ``mul`` / ``add`` /
  ``sub`` / ``div`` by constants) and a bias ``add`` fold into the conv's weight and
  bias; a following ``relu``, ``clip`` (as ``activation_min`` / ``activation_max``),
  ``sigmoid``, ``tanh`` or ``silu`` becomes the conv's ``activation``;
- matmul: an ``add`` of a constant varying along the last dimension becomes its
  ``bias``; a following ``relu``, ``clip``, ``sigmoid``, ``tanh``, ``silu`` or GELU
  becomes its ``activation`` (``gelu`` / ``gelu_tanh``); an operand transposed over its
  last two axes is read directly with ``transpose_a`` / ``transpose_b``;
- decomposed layers as exporters emit them: GELU (erf and tanh forms, any order of the
  product) -> ``aic_graph.gelu``; LayerNorm (mean, sub, square, mean, add eps, sqrt,
  div, then scale and bias) -> ``aic_graph.layer_norm``; softmax (exp(x - max) / sum)
  -> ``aic_graph.softmax``; ``x * sigmoid(x)`` -> ``unary{kind = "silu"}``;
- ops whose results are unused are erased.

A fold happens only when the intermediate result has no other use (a conv output read
by a residual add keeps its own add). Constants of the decomposed forms match with a
relative tolerance of 1e-3 (0.7071067 for 1/sqrt(2), float16-rounded constants).
Results are unchanged up to float rounding of the folded weights.

Options: none. From Python: ``fuse_aic_graph(module)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import GreedyRewritePatternApplier, PatternRewriteWalker, RewritePattern
from xdsl.transforms.dead_code_elimination import RemoveUnusedOperations

from qaicc.passes.aic_graph_patterns.activations import FuseGelu, FuseSiLU
from qaicc.passes.aic_graph_patterns.conv_fusion import FoldConvScale, FoldConvShift, FuseConvActivation
from qaicc.passes.aic_graph_patterns.matmul_fusion import (
    FoldTransposeIntoMatMul,
    FuseMatMulActivation,
    FuseMatMulBias,
)
from qaicc.passes.aic_graph_patterns.normalization import (
    FoldLayerNormScale,
    FoldLayerNormShift,
    FuseLayerNorm,
    FuseSoftmax,
)


def fusion_patterns() -> list[RewritePattern]:
    """The patterns of ``fuse-aic-graph``, decompositions first."""
    return [
        FuseGelu(),
        FuseSiLU(),
        FuseLayerNorm(),
        FuseSoftmax(),
        FoldLayerNormScale(),
        FoldLayerNormShift(),
        FoldConvScale(),
        FoldConvShift(),
        FuseConvActivation(),
        FuseMatMulBias(),
        FuseMatMulActivation(),
        FoldTransposeIntoMatMul(),
        RemoveUnusedOperations(),
    ]


def fuse_aic_graph(module: ModuleOp) -> bool:
    """Apply the fusions to a fixpoint; True if anything changed."""
    walker = PatternRewriteWalker(GreedyRewritePatternApplier(fusion_patterns()), apply_recursively=True)
    return walker.rewrite_module(module)


@dataclass(frozen=True)
class FuseAicGraphPass(ModulePass):
    name = "fuse-aic-graph"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        fuse_aic_graph(op)
