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
first (anything else is an error naming the op).

Option ``float16-io`` (``qaic-exec -custom-IO-list-file`` entries with ``Precision:
float16``): the inputs and outputs so named (their ONNX names) become float16 at the
boundary instead of keeping their type: the argument or result type changes and no
cast is inserted for it, e.g. ``legalize-fp16{float16-io="past_key.0","logits"}``. A
name that is not a float input or output of ``@main_graph`` is an error naming it.

From Python: ``legalize_fp16(module, float16_io=())`` returns the list of (blob name,
clipped count).
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr, ModuleOp, StringAttr
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


def _io_names(attrs: ArrayAttr | None, count: int) -> list[str | None]:
    """The ONNX names (``onnx.name``) of a function's arguments or results."""
    names: list[str | None] = [None] * count
    for index, entry in enumerate(attrs.data if attrs is not None else ()):
        if index < count and isinstance(entry, DictionaryAttr) and isinstance(entry.data.get("onnx.name"), StringAttr):
            names[index] = entry.data["onnx.name"].data
    return names


def _float16_io(function: func.FuncOp, float16_io: tuple[str, ...]) -> tuple[set[int], set[int]]:
    """The argument and result numbers named in ``float16_io``; an unknown name is an error."""
    if not float16_io:
        return set(), set()
    types = function.function_type
    inputs = _io_names(function.arg_attrs, len(types.inputs.data))
    outputs = _io_names(function.res_attrs, len(types.outputs.data))
    args = {i for i, name in enumerate(inputs) if name in float16_io and is_wide_float(types.inputs.data[i])}
    results = {i for i, name in enumerate(outputs) if name in float16_io and is_wide_float(types.outputs.data[i])}
    found = {inputs[i] for i in args} | {outputs[i] for i in results}
    missing = [name for name in float16_io if name not in found]
    if missing:
        raise QaiccError(f"{PASS_NAME}: float16-io: '{missing[0]}' is not a float32/float64/bfloat16 input or output "
                         f"of @{function.sym_name.data}")
    return args, results


def _cast_inputs(block: Block, float16_args: set[int] = frozenset()) -> None:
    """A cast to float16 after each float argument (the argument keeps its type; an
    argument returned as it is stays exact). Arguments in ``float16_args`` become float16
    themselves."""
    for arg in list(block.args):
        if arg.index in float16_args:
            Rewriter.replace_value_with_new_type(arg, float16_type(arg.type))
            continue
        if not is_wide_float(arg.type) or all(isinstance(use.operation, func.ReturnOp) for use in arg.uses):
            continue
        cast = _cast(arg, float16_type(arg.type))
        Rewriter.insert_op(cast, InsertPoint.at_start(block))
        arg.replace_uses_with_if(
            cast.output, lambda use, cast=cast: use.operation is not cast and not isinstance(use.operation, func.ReturnOp)
        )


def _cast_outputs(function: func.FuncOp, float16_results: set[int] = frozenset()) -> None:
    """A cast back to each result's declared type before the return (results in
    ``float16_results`` become float16 instead)."""
    returned = function.body.block.last_op
    if not isinstance(returned, func.ReturnOp):
        return
    outputs = list(function.function_type.outputs.data)
    for index in float16_results:
        outputs[index] = float16_type(outputs[index])
    block = function.body.block
    function.function_type = func.FunctionType.from_lists([arg.type for arg in block.args], outputs)
    for index, (value, expected) in enumerate(zip(returned.arguments, outputs)):
        if value.type == expected:
            continue
        cast = _cast(value, expected)
        Rewriter.insert_op(cast, InsertPoint.before(returned))
        returned.operands[index] = cast.output


def legalize_fp16(module: ModuleOp, float16_io: tuple[str, ...] = ()) -> list[tuple[str, int]]:
    """Make ``module``'s computation float16; returns (blob name, clipped count) per
    clipped constant (each also reported as a ``Float16ClipWarning``). The inputs and
    outputs named in ``float16_io`` become float16 at the boundary."""
    functions = [op for op in module.ops if isinstance(op, func.FuncOp) and op.body.blocks]
    for function in functions:
        _check_aic_graph_only(function)
    boundary = {}
    for function in functions:
        if float16_io and function.sym_name.data != "main_graph":
            continue
        boundary[function] = _float16_io(function, tuple(float16_io))
    if float16_io and not boundary:
        raise QaiccError(f"{PASS_NAME}: float16-io needs a func.func @main_graph")
    constants = Float16Constants()
    patterns = GreedyRewritePatternApplier([
        ConstantToFloat16(constants), ResultsToFloat16(), RemoveNoOpCast(), RemoveUnusedOperations(),
    ])
    PatternRewriteWalker(patterns, apply_recursively=True).rewrite_module(module)
    for function in functions:
        args, results = boundary.get(function, (set(), set()))
        _cast_inputs(function.body.block, args)
        _cast_outputs(function, results)
    PatternRewriteWalker(RemoveNoOpCast()).rewrite_module(module)  # a second run adds nothing
    return constants.clipped


@dataclass(frozen=True)
class LegalizeFp16Pass(ModulePass):
    name = PASS_NAME

    float16_io: tuple[str, ...] = ()

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        legalize_fp16(op, self.float16_io)

