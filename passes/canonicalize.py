"""``canonicalize``: simplify the onnx-level IR to a fixpoint.

    qaicc-opt model.onnx -p 'bind-symbols{batch_size=1 sequence=128},shape-inference,canonicalize'

Repeats, until nothing changes:
- constant folding: ops whose operands are all constants are evaluated with the
  reference semantics (up to ``max-fold-elements`` elements per result), and Shape/Size
  of statically shaped values become constants, so shape arithmetic chains such as
  Shape -> Gather -> Concat -> Reshape fold away once shapes are static;
- Identity, and Dropout in inference mode, are removed;
- common subexpressions of pure ops are merged, and unused pure ops are erased;
- types are refined (``shape-inference``) after folding made new shapes known.

Options: ``max-fold-elements`` (default 16M), ``max-rounds`` (default 8).
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import GreedyRewritePatternApplier, PatternRewriteWalker
from xdsl.transforms.dead_code_elimination import RemoveUnusedOperations

from qaicc.passes.onnx_patterns.constant_folding import DEFAULT_MAX_ELEMENTS, FoldConstantOp, FoldShape
from qaicc.passes.onnx_patterns.cse import cse
from qaicc.passes.onnx_patterns.identity_removal import RemoveIdentity, RemoveInferenceDropout
from qaicc.semantics.runner import Runner


def refresh_function_types(module: ModuleOp) -> None:
    """Make every function's result types those of the values it returns."""
    for op in module.ops:
        if not isinstance(op, func.FuncOp) or not op.body.blocks:
            continue
        returned = op.body.block.last_op
        if not isinstance(returned, func.ReturnOp):
            continue
        outputs = [value.type for value in returned.arguments]
        if list(op.function_type.outputs.data) != outputs:
            op.function_type = func.FunctionType.from_lists(list(op.function_type.inputs.data), outputs)


@dataclass(frozen=True)
class CanonicalizePass(ModulePass):
    name = "canonicalize"

    max_fold_elements: int = DEFAULT_MAX_ELEMENTS
    max_rounds: int = 8

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        from qaicc.passes.shape_inference import infer_shapes

        runner = Runner()
        patterns = GreedyRewritePatternApplier([
            FoldShape(),
            FoldConstantOp(self.max_fold_elements, runner),
            RemoveIdentity(),
            RemoveInferenceDropout(),
            RemoveUnusedOperations(),
        ])
        for _ in range(self.max_rounds):
            walker = PatternRewriteWalker(patterns, apply_recursively=True)
            changed = walker.rewrite_module(op)
            changed |= cse(op)
            refresh_function_types(op)
            changed |= bool(infer_shapes(op))
            if not changed:
                break
        refresh_function_types(op)
