"""``convert-onnx-to-aic-graph``: lower the onnx dialect to the device's operator set.

    qaicc-opt model.onnx -p 'bind-symbols{batch_size=1 sequence=128},shape-inference,canonicalize,convert-onnx-to-aic-graph'

Input: onnx-dialect IR whose values are static (after ``shape-inference`` and
``canonicalize``). Unused ops are erased first; then every onnx op of ``@main_graph``
is rewritten by the patterns of ``qaicc.passes.onnx_to_aic_graph`` (one group per
operator family) into ``aic_graph`` ops: Constant becomes ``aic_graph.constant`` with
the same blob (weights are never copied), Conv ``aic_graph.conv``, MatMul / Gemm /
Einsum ``aic_graph.matmul``, BatchNormalization a per-channel multiply-add, and so on
(``qaicc-opt --operators-supported`` writes the list, with each operator's limits, to
OnnxSupportedOperators.txt). New ops keep the ONNX node name (``onnx_node_name``) and
element types stay as in the model (float32 stays float32; int64 indices stay int64).
``@main_graph`` keeps its signature, its argument and result attributes, and its
``func.return``.

An op converts only when the device can compute it: static shapes, supported element
types, constant operands where a pattern needs them (Slice starts, Reduce axes, ...)
and supported attribute values (Resize mode cubic does not convert). When any op is
left, the pass raises one ``UnsupportedModelError`` listing every op type left, with
its node names and, when a pattern knows it, the reason:

    Resize: 2 node(s) not converted: 'up_1', 'up_2' (mode cubic is not supported)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, PatternRewriteWalker, RewritePattern
from xdsl.transforms.dead_code_elimination import RemoveUnusedOperations, is_trivially_dead

from qaicc.dialects.onnx.base import OnnxOp
from qaicc.errors import UnsupportedModelError
from qaicc.passes.onnx_to_aic_graph import ALL_PATTERNS, OnnxToAicGraphPattern

PASS_NAME = "convert-onnx-to-aic-graph"
MAX_NAMES_SHOWN = 10


class _Dispatch(RewritePattern):
    """Tries, on each onnx op of a function body, the patterns declared for its op type;
    erases unused pure ops on the way."""

    def __init__(self, patterns: Sequence[OnnxToAicGraphPattern]):
        self.by_type: dict[str, list[OnnxToAicGraphPattern]] = defaultdict(list)
        for pattern in patterns:
            for op_type in pattern.ONNX_OPS:
                self.by_type[op_type].append(pattern)

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if is_trivially_dead(op) and op.parent is not None:
            rewriter.erase(op)
            return
        if not isinstance(op, OnnxOp) or not isinstance(op.parent_op(), func.FuncOp):
            return
        for pattern in self.by_type.get(op.ONNX_SIGNATURE.op_type, ()):
            pattern.match_and_rewrite(op, rewriter)
            if rewriter.has_done_action:
                return


def _node_label(op: Operation) -> str:
    name = op.attributes.get("onnx_node_name")
    if name is not None:
        return repr(name.data)
    hint = op.results[0].name_hint if op.results else None
    return f"<unnamed, output '{hint}'>" if hint else "<unnamed>"


def unconverted_problems(module: ModuleOp, reasons: dict[Operation, str]) -> list[str]:
    """One line per op type left in the function bodies: count, node names, reasons."""
    left: dict[str, list[Operation]] = defaultdict(list)
    for function in module.ops:
        if not isinstance(function, func.FuncOp) or not function.body.blocks:
            continue
        for op in function.body.block.ops:
            if isinstance(op, OnnxOp):
                left[op.ONNX_SIGNATURE.op_type].append(op)
            elif op.dialect_name() == "onnx":
                left[op.name.removeprefix("onnx.")].append(op)
    problems = []
    for op_type, ops in sorted(left.items()):
        names = [_node_label(op) for op in ops]
        shown = ", ".join(names[:MAX_NAMES_SHOWN])
        if len(names) > MAX_NAMES_SHOWN:
            shown += f", ... ({len(names) - MAX_NAMES_SHOWN} more)"
        why = []
        for op in ops:
            reason = reasons.get(op)
            if reason and reason not in why:
                why.append(reason)
        suffix = f" ({'; '.join(why)})" if why else ""
        problems.append(f"{op_type}: {len(ops)} node(s) not converted: {shown}{suffix}")
    return problems


def convert_module(module: ModuleOp) -> list[str]:
    """Convert every op that can be; return the problem lines for the ops left."""
    PatternRewriteWalker(RemoveUnusedOperations(), apply_recursively=True).rewrite_module(module)
    reasons: dict[Operation, str] = {}
    patterns = [pattern_class(reasons) for pattern_class in ALL_PATTERNS]
    PatternRewriteWalker(_Dispatch(patterns), apply_recursively=True, walk_reverse=True).rewrite_module(module)
    return unconverted_problems(module, reasons)


@dataclass(frozen=True)
class ConvertOnnxToAicGraphPass(ModulePass):
    name = PASS_NAME

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        problems = convert_module(op)
        if problems:
            raise UnsupportedModelError(PASS_NAME, problems)
