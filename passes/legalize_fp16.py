"""``legalize-fp16``: compute in float16 (``qaic-exec -convert-to-fp16``).

    qaicc-opt model.onnx -p '...,convert-onnx-to-aic-graph,fuse-aic-graph,legalize-fp16'

Every float32, float64 and bfloat16 value of the ``aic_graph`` IR becomes float16:

- constants are converted once per blob (constant ops sharing a blob share the new
  one); values outside the float16 range (and infinities) are clipped to +-65504 with
  one ``Float16ClipWarning`` per constant, naming its blob and counting the values,
  e.g. ``legalize-fp16: constant 'mask_min': 16 of 256 values outside the float16
  range clipped to +-65504``;
- op results become float16 (matmul, conv, reductions, softmax and normalizations
  still accumulate in float32 on the device, see ``qaicc/semantics/aic_graph_ops.py``);
- the model's inputs and outputs keep their types, so the function signature does not
  change: an ``aic_graph.cast`` to float16 follows each float input, and one back to
  the output's type precedes each float output;
- integer and bool values, and float8 / MXFP6 weights, are untouched; casts that
  become no-ops are removed.

Only ``aic_graph`` ops may read or produce floats: run ``convert-onnx-to-aic-graph``
first (anything else is an error naming the op). Options: none. From Python:
``legalize_fp16(module)`` returns the list of (blob name, clipped count).
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Block
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import GreedyRewritePatternApplier, PatternRewriteWalker
from xdsl.rewriter import InsertPoint, Rewriter
from xdsl.transforms.dead_code_elimination import RemoveUnusedOperations

from qaicc.dialects.aic_graph import AicGraphOp
from qaicc.dialects.aic_graph import ops as g
from qaicc.errors import QaiccError
from qaicc.passes.aic_graph_patterns.float16 import (
    ConstantToFloat16,
    Float16Constants,
    RemoveNoOpCast,
    ResultsToFloat16,
    float16_type,
    is_wide_float,
)

PASS_NAME = "legalize-fp16"


def _check_aic_graph_only(function: func.FuncOp) -> None:
    for op in function.body.walk():
        if isinstance(op, AicGraphOp | func.ReturnOp):
            continue
        if any(is_wide_float(v.type) for v in (*op.operands, *op.results)):
            where = op.attributes.get("onnx_node_name")
            named = f" ('{where.data}')" if where is not None else ""
            raise QaiccError(
                f"{PASS_NAME}: '{op.name}'{named} in @{function.sym_name.data} is not an aic_graph op; "
                f"run convert-onnx-to-aic-graph first"
            )


def _cast(value, result_type) -> g.CastOp:
    return g.CastOp.build(operands=[value], result_types=[result_type])


def _cast_inputs(block: Block) -> None:
    """A cast to float16 after each float argument (the argument keeps its type; an
    argument returned as it is stays exact)."""
    for arg in block.args:
        if not is_wide_float(arg.type) or all(isinstance(use.operation, func.ReturnOp) for use in arg.uses):
            continue
        cast = _cast(arg, float16_type(arg.type))
        Rewriter.insert_op(cast, InsertPoint.at_start(block))
        arg.replace_uses_with_if(
            cast.output, lambda use, cast=cast: use.operation is not cast and not isinstance(use.operation, func.ReturnOp)
        )


def _cast_outputs(function: func.FuncOp) -> None:
    """A cast back to each result's declared type before the return."""
    returned = function.body.block.last_op
    if not isinstance(returned, func.ReturnOp):
        return
    for index, (value, expected) in enumerate(zip(returned.arguments, function.function_type.outputs.data)):
        if value.type == expected:
            continue
        cast = _cast(value, expected)
        Rewriter.insert_op(cast, InsertPoint.before(returned))
        returned.operands[index] = cast.output


def legalize_fp16(module: ModuleOp) -> list[tuple[str, int]]:
    """Make ``module``'s computation float16; returns (blob name, clipped count) per
    clipped constant (each also reported as a ``Float16ClipWarning``)."""
    functions = [op for op in module.ops if isinstance(op, func.FuncOp) and op.body.blocks]
    for function in functions:
        _check_aic_graph_only(function)
    constants = Float16Constants()
    patterns = GreedyRewritePatternApplier([
        ConstantToFloat16(constants), ResultsToFloat16(), RemoveNoOpCast(), RemoveUnusedOperations(),
    ])
    PatternRewriteWalker(patterns, apply_recursively=True).rewrite_module(module)
    for function in functions:
        _cast_inputs(function.body.block)
        _cast_outputs(function)
    PatternRewriteWalker(RemoveNoOpCast()).rewrite_module(module)  # a second run adds nothing
    return constants.clipped


@dataclass(frozen=True)
class LegalizeFp16Pass(ModulePass):
    name = PASS_NAME

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        legalize_fp16(op)

