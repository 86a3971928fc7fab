"""``shape-inference``: give every value the most static type that can be known.

    qaicc-opt bert.onnx -p 'bind-symbols{batch_size=1 sequence=128},shape-inference'

After this pass every SSA value of the module (inside If/Loop/Scan bodies too) has the
most static type ONNX shape inference finds for it, and ``@main_graph``'s signature
agrees with the values it returns. Once the model's symbols are bound, every value of
transformer models such as BERT and GPT-2 has a static shape and element type.

The model's inputs must be static first: if an input still has a symbolic dimension,
the pass stops with an error that names each unbound symbol and the inputs using it;
bind them with ``bind-symbols{name=N}`` (``qaic-exec -onnx-define-symbol=name,N``).
An input dimension that is dynamic without a name is only warned about.

How: the module is exported as a *skeleton* (its graph, with every constant of more
than ``max-constant-elements`` elements, default 1024, replaced by a typed input so
that no weight is copied), ONNX shape inference runs on it with data propagation, and
the inferred types are mapped back to the SSA values by name. Where ONNX leaves a shape
computed at run time (Shape -> Gather -> Concat -> Reshape, Range, Slice with computed
bounds), the skeleton's small constant computations are evaluated (with
``onnx.reference``, in the skeleton only: the IR's ops are not changed) and inference runs
again, until nothing new is known. ``canonicalize`` folds such chains in the IR itself.

A type is only ever replaced by a more static one: an unknown dimension (or rank, or
type) becomes known. A static type that the inferred one contradicts (another size,
rank or element type) is reported as an error listing every such value: the model's
own value_info, or an earlier pass, is wrong.

From Python: ``infer_shapes(module)`` refines the types without the check of symbols
and returns whether anything changed (other passes re-run it after folding).
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import numpy_helper
from xdsl.context import Context
from xdsl.dialects.builtin import DYNAMIC_INDEX, ModuleOp, TensorType, UnrankedTensorType
from xdsl.ir import Attribute, BlockArgument, OpResult, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import Rewriter

from qaicc.dialects.onnx.base import OnnxOp
from qaicc.dialects.onnx.structural import YieldOp
from qaicc.dialects.onnx.types import OptType, SeqType, UnknownType
from qaicc.errors import QaiccError
from qaicc.onnx_io.exporter import export_skeleton
from qaicc.onnx_io.types import from_type_proto
from qaicc.passes.bind_symbols import (
    drop_static_dim_params,
    io_attrs,
    io_name,
    main_function,
    unbound_symbols,
)

PASS_NAME = "shape-inference"
DEFAULT_MAX_CONSTANT_ELEMENTS = 1024
MAX_EVALUATION_ROUNDS = 8
MAX_LOOP_ROUNDS = 4

# Ops whose values are not a function of their inputs: never evaluated in the skeleton.
_NOT_EVALUATED = frozenset({
    "Bernoulli", "Dropout", "Multinomial", "RandomNormal", "RandomNormalLike",
    "RandomUniform", "RandomUniformLike",
})


class ShapeConflictError(QaiccError):
    """Static types that ONNX shape inference contradicts; every such value is listed."""

    def __init__(self, conflicts: list[str]):
        self.conflicts = conflicts
        lines = [
            f"{PASS_NAME}: {len(conflicts)} value(s) have a static type that ONNX shape inference "
            "contradicts (the model's value_info or an earlier pass is wrong):"
        ]
        lines += [f"  - {conflict}" for conflict in conflicts]
        super().__init__("\n".join(lines))


class _Conflict(Exception):
    pass


# -- the pass ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ShapeInferencePass(ModulePass):
    """``shape-inference``: see the module documentation."""

    name = PASS_NAME

    max_constant_elements: int = DEFAULT_MAX_CONSTANT_ELEMENTS

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        check_inputs_static(op)
        infer_shapes(op, self.max_constant_elements)


def check_inputs_static(module: ModuleOp) -> None:
    """A QaiccError naming every unbound symbol of the inputs; a warning for nameless
    dynamic input dimensions."""
    unbound = unbound_symbols(module)
    if unbound:
        uses = "; ".join(f"'{symbol}' (inputs {', '.join(inputs)})" for symbol, inputs in unbound.items())
        example = " ".join(f"{symbol}=N" for symbol in unbound)
        qaic_exec = " ".join(f"-onnx-define-symbol={symbol},N" for symbol in unbound)
        raise QaiccError(
            f"{PASS_NAME}: unbound symbolic dimension(s): {uses}; bind them first with "
            f"bind-symbols{{{example}}} (qaic-exec: {qaic_exec})"
        )
    for name, index in _nameless_dynamic_dims(module):
        warnings.warn(
            f"{PASS_NAME}: dimension {index} of input '{name}' is dynamic and has no name to bind; "
            "values computed from it may keep dynamic shapes",
            UserWarning,
            stacklevel=3,
        )


def _nameless_dynamic_dims(module: ModuleOp) -> Iterator[tuple[str, int]]:
    function = main_function(module)
    args = function.body.block.args
    for index, (arg, attrs) in enumerate(zip(args, io_attrs(function.arg_attrs, len(args)))):
        if not isinstance(arg.type, TensorType):
            continue
        for dim_index, dim in enumerate(arg.type.get_shape()):
            if dim == DYNAMIC_INDEX:
                yield io_name(attrs, f"input_{index}"), dim_index


# -- refining the module's types ---------------------------------------------------------


def infer_shapes(module: ModuleOp, max_constant_elements: int = DEFAULT_MAX_CONSTANT_ELEMENTS) -> bool:
    """Give every value of ``module`` the most static type ONNX shape inference finds.

    Returns whether any type (or @main_graph's signature) changed. Raises
    ``ShapeConflictError`` if an inferred type contradicts a static one (found before
    any type changes, unless the contradiction only shows once Loop results are refined).
    """
    function = main_function(module)
    changed = False
    for _ in range(MAX_LOOP_ROUNDS):
        refined = _refinements(module, max_constant_elements)
        loop_results = _loop_result_refinements(module)
        for value, new_type in (*refined.items(), *loop_results.items()):
            Rewriter.replace_value_with_new_type(value, new_type)
        changed |= bool(refined) or bool(loop_results)
        if not loop_results:
            break
    signature = function.function_type
    function.update_function_type()
    changed |= function.function_type != signature
    changed |= drop_static_dim_params(function)
    return changed


def _refinements(module: ModuleOp, limit: int) -> dict[SSAValue, Attribute]:
    """Value -> its more static type. A first run states no type but the inputs', so
    that ONNX cannot hide a contradiction; values whose type ONNX then knows less of
    than the IR are stated in a second run, so that their users benefit."""
    refined, lost = _compare(*_run_inference(module, limit, typed_values=()))
    if lost:
        refined, _ = _compare(*_run_inference(module, limit, typed_values=lost))
    return refined


def _run_inference(
    module: ModuleOp, limit: int, typed_values: Collection[SSAValue]
) -> tuple[dict[SSAValue, str], dict[str, onnx.TypeProto]]:
    try:
        skeleton, names = export_skeleton(module, limit, typed_values=typed_values)
    except QaiccError as error:
        raise QaiccError(f"{PASS_NAME} runs on the onnx level only: {error}") from None
    return names, infer_skeleton_types(skeleton, limit)


def _compare(
    names: Mapping[SSAValue, str], types: Mapping[str, onnx.TypeProto]
) -> tuple[dict[SSAValue, Attribute], set[SSAValue]]:
    """The refined types, and the values whose IR type says more than the inferred one."""
    refined: dict[SSAValue, Attribute] = {}
    lost: set[SSAValue] = set()
    conflicts: list[str] = []
    for value, name in names.items():
        inferred = _from_proto(types.get(name))
        try:
            new_type = refine(value.type, inferred)
        except _Conflict:
            conflicts.append(f"{_describe(value, name)}: the IR says {value.type}, ONNX infers {inferred}")
            continue
        if new_type != value.type:
            refined[value] = new_type
        if new_type != inferred:
            lost.add(value)
    if conflicts:
        raise ShapeConflictError(conflicts)
    return refined, lost


def _loop_result_refinements(module: ModuleOp) -> dict[SSAValue, Attribute]:
    """Loop results of loop-carried values, which ONNX leaves without a shape: the final
    value is the initial one (no iteration) or one the body yields, so its type is the
    common part of both types."""
    refined: dict[SSAValue, Attribute] = {}
    conflicts: list[str] = []
    for op in module.walk():
        if not isinstance(op, OnnxOp) or op.ONNX_SIGNATURE.op_type != "Loop":
            continue
        yielded = op.regions[0].block.last_op
        if not isinstance(yielded, YieldOp):
            continue
        initial_values = list(op.v_initial)  # type: ignore[attr-defined]
        body_values = list(yielded.operands)[1:1 + len(initial_values)]  # after the condition
        for initial, body_value, result in zip(initial_values, body_values, op.results):
            common = join(initial.type, body_value.type)
            try:
                new_type = refine(result.type, common)
            except _Conflict:
                conflicts.append(
                    f"{_describe(result, result.name_hint or '?')}: the IR says {result.type}, but the "
                    f"loop-carried value is {initial.type} initially and {body_value.type} after an iteration"
                )
                continue
            if new_type != result.type:
                refined[result] = new_type
    if conflicts:
        raise ShapeConflictError(conflicts)
    return refined


def join(a: Attribute, b: Attribute) -> Attribute:
    """The most static type that covers both ``a`` and ``b``."""
    if a == b:
        return a
    if not (isinstance(a, TensorType | UnrankedTensorType) and isinstance(b, TensorType | UnrankedTensorType)):
        return UnknownType()
    if a.element_type != b.element_type:
        return UnknownType()
    if not (isinstance(a, TensorType) and isinstance(b, TensorType)) or a.get_rank() != b.get_rank():
        return UnrankedTensorType(a.element_type)
    dims = [x if x == y else DYNAMIC_INDEX for x, y in zip(a.get_shape(), b.get_shape())]
    return TensorType(a.element_type, dims)


def _from_proto(type_proto: onnx.TypeProto | None) -> Attribute:
    if type_proto is None or type_proto.WhichOneof("value") is None:
        return UnknownType()
    try:
        return from_type_proto(type_proto)
    except QaiccError:  # sparse tensors, maps: nothing qaicc can use
        return UnknownType()


def _describe(value: SSAValue, name: str) -> str:
    if isinstance(value, OpResult):
        node = value.op.attributes.get("onnx_node_name")
        node_text = f" '{node.data}'" if node is not None else ""  # type: ignore[union-attr]
        return f"'{name}' (result {value.index} of {value.op.name}{node_text})"
    if isinstance(value, BlockArgument):
        return f"'{name}' (argument {value.index} of a block)"
    return f"'{name}'"


def refine(current: Attribute, inferred: Attribute) -> Attribute:
    """The more static of two types of one value; ``_Conflict`` if they contradict."""
    if current == inferred or isinstance(inferred, UnknownType):
        return current
    if isinstance(current, UnknownType):
        return inferred
    if isinstance(current, TensorType | UnrankedTensorType) and isinstance(inferred, TensorType | UnrankedTensorType):
        return _refine_tensor(current, inferred)
    if isinstance(current, SeqType) and isinstance(inferred, SeqType):
        inner = refine(current.element_type, inferred.element_type)
        return current if inner == current.element_type else SeqType(inner)
    if isinstance(current, OptType) and isinstance(inferred, OptType):
        inner = refine(current.element_type, inferred.element_type)
        return current if inner == current.element_type else OptType(inner)
    raise _Conflict()


def _refine_tensor(current: TensorType | UnrankedTensorType, inferred: TensorType | UnrankedTensorType) -> Attribute:
    if current.element_type != inferred.element_type:
        raise _Conflict()
    if isinstance(inferred, UnrankedTensorType):
        return current
    if isinstance(current, UnrankedTensorType):
        return inferred
    have, found = current.get_shape(), inferred.get_shape()
    if len(have) != len(found):
        raise _Conflict()
    dims = []
    for h, f in zip(have, found):
        if h != DYNAMIC_INDEX and f != DYNAMIC_INDEX and h != f:
            raise _Conflict()
        dims.append(h if h != DYNAMIC_INDEX else f)
    if tuple(dims) == tuple(have):
        return current
    return TensorType(current.element_type, dims, current.encoding)


# -- inference on the skeleton -----------------------------------------------------------


def infer_skeleton_types(
    skeleton: onnx.ModelProto, limit: int = DEFAULT_MAX_CONSTANT_ELEMENTS
) -> dict[str, onnx.TypeProto]:
    """Name -> inferred type of every value of ``skeleton``, which this changes: nodes
    that compute small constants are evaluated and become initializers, round after
    round, while that makes new shapes known."""
    opset = _ai_onnx_opset(skeleton)
    known = {t.name: numpy_helper.to_array(t) for t in skeleton.graph.initializer}
    evaluated: dict[str, onnx.TypeProto] = {}
    types: dict[str, onnx.TypeProto] = {}
    fresh = itertools.count()
    for subgraph in list(_walk_graphs(skeleton.graph))[1:]:
        _localize_constants(subgraph, known, fresh)
    for round_index in range(MAX_EVALUATION_ROUNDS):
        try:
            inferred = onnx.shape_inference.infer_shapes(skeleton, strict_mode=False, data_prop=True)
        except Exception as error:
            if round_index == 0:
                message = f"ONNX shape inference failed on the model: {_first_line(error)}"
                raise QaiccError(f"{PASS_NAME}: {message}") from None
            break  # keep what the previous round found
        types = _types_by_name(inferred)
        types.update(evaluated)
        new = _evaluate_graphs(skeleton.graph, types, known, opset, limit, fresh)
        if not new:
            break
        for name, array in new.items():
            evaluated[name] = _tensor_type(array)
        types.update(evaluated)
    return types


def _ai_onnx_opset(model: onnx.ModelProto) -> int:
    for entry in model.opset_import:
        if entry.domain in ("", "ai.onnx"):
            return entry.version
    return onnx.defs.onnx_opset_version()


def _walk_graphs(graph: onnx.GraphProto) -> Iterator[onnx.GraphProto]:
    yield graph
    for node in graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                yield from _walk_graphs(attr.g)
            elif attr.type == onnx.AttributeProto.GRAPHS:
                for subgraph in attr.graphs:
                    yield from _walk_graphs(subgraph)


def _types_by_name(model: onnx.ModelProto) -> dict[str, onnx.TypeProto]:
    types: dict[str, onnx.TypeProto] = {}
    for graph in _walk_graphs(model.graph):
        for tensor in graph.initializer:
            types[tensor.name] = onnx.helper.make_tensor_type_proto(tensor.data_type, list(tensor.dims))
        for value_info in (*graph.input, *graph.output, *graph.value_info):
            if value_info.type.WhichOneof("value") is not None:
                types[value_info.name] = value_info.type
    return types


def _tensor_type(array: np.ndarray) -> onnx.TypeProto:
    element = onnx.helper.np_dtype_to_tensor_dtype(array.dtype)
    return onnx.helper.make_tensor_type_proto(element, list(array.shape))


def _replace_by_initializers(graph: onnx.GraphProto, values: Mapping[str, np.ndarray]) -> None:
    if not values:
        return
    kept = [node for node in graph.node if not any(name in values for name in node.output)]
    del graph.node[:]
    graph.node.extend(kept)
    graph.initializer.extend(numpy_helper.from_array(array, name) for name, array in values.items())


def _evaluate_graphs(
    main: onnx.GraphProto,
    types: Mapping[str, onnx.TypeProto],
    known: dict[str, np.ndarray],
    opset: int,
    limit: int,
    fresh: Iterator[int],
) -> dict[str, np.ndarray]:
    """Evaluate what can be in the main graph, then in each subgraph (whose nodes may
    use the main graph's values); evaluated nodes become initializers of their graph."""
    new: dict[str, np.ndarray] = {}
    for graph in list(_walk_graphs(main)):
        found = _evaluate_constants(graph, types, known, opset, limit)
        _replace_by_initializers(graph, found)
        new.update(found)
        if graph is not main:
            _localize_constants(graph, known, fresh)
    return new


def _localize_constants(graph: onnx.GraphProto, known: Mapping[str, np.ndarray], fresh: Iterator[int]) -> None:
    """Give a subgraph its own copy of the outer constants its nodes use: ONNX shape
    inference reads the values of a subgraph's own initializers only (a Slice in an If
    branch, with bounds defined outside, would otherwise get no shape)."""
    local = {t.name for t in graph.initializer}
    copies: dict[str, str] = {}
    for node in graph.node:
        for index, name in enumerate(node.input):
            if name not in known or name in local:
                continue
            if name not in copies:
                copies[name] = f"{name}__local_{next(fresh)}"
                graph.initializer.append(numpy_helper.from_array(known[name], copies[name]))
            node.input[index] = copies[name]


def _evaluate_constants(
    graph: onnx.GraphProto,
    types: Mapping[str, onnx.TypeProto],
    known: dict[str, np.ndarray],
    opset: int,
    limit: int,
) -> dict[str, np.ndarray]:
    """Evaluate, in order, the nodes of ``graph`` whose inputs are known constants (or
    whose value is a static shape); ``known`` grows with what they give."""
    new: dict[str, np.ndarray] = {}
    for node in graph.node:
        outputs = [name for name in node.output if name]
        if not outputs or any(name in known for name in outputs) or not _evaluable(node):
            continue
        values = _shape_value(node, types, known) if node.op_type in ("Shape", "Size") else None
        if values is None:
            values = _run_node(node, known, opset, limit)
        if values is None:
            continue
        known.update(values)
        new.update(values)
    return new


def _evaluable(node: onnx.NodeProto) -> bool:
    if node.domain not in ("", "ai.onnx") or node.op_type in _NOT_EVALUATED:
        return False
    return not any(
        attr.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for attr in node.attribute
    )


def _static_shape(name: str, types: Mapping[str, onnx.TypeProto], known: Mapping[str, np.ndarray]):
    if name in known:
        return list(known[name].shape)
    type_proto = types.get(name)
    if type_proto is None or not type_proto.HasField("tensor_type"):
        return None
    tensor = type_proto.tensor_type
    if not tensor.HasField("shape"):
        return None
    dims = [d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim]
    return None if None in dims else dims


def _shape_value(node: onnx.NodeProto, types, known) -> dict[str, np.ndarray] | None:
    """Shape / Size of a value whose shape is static."""
    shape = _static_shape(node.input[0], types, known)
    if shape is None:
        return None
    if node.op_type == "Size":
        return {node.output[0]: np.array(math.prod(shape), dtype=np.int64)}
    attrs = {a.name: a.i for a in node.attribute}
    rank = len(shape)
    start, end = attrs.get("start", 0), attrs.get("end", rank)
    start = min(max(start + rank if start < 0 else start, 0), rank)
    end = min(max(end + rank if end < 0 else end, 0), rank)
    return {node.output[0]: np.array(shape[start:end], dtype=np.int64)}


def _run_node(node: onnx.NodeProto, known: Mapping[str, np.ndarray], opset: int, limit: int):
    """The outputs of a node whose inputs are all known, if ONNX says each is a tensor
    of static shape and at most ``limit`` elements, and the evaluation gives exactly
    that type; None when it cannot (or should not) be evaluated."""
    inputs = [name for name in node.input if name]
    if any(name not in known for name in inputs):
        return None
    expected = _expected_outputs(node, known, opset, limit)
    if expected is None:
        return None
    from onnx.reference import ReferenceEvaluator

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            results = ReferenceEvaluator(node, opsets={"": opset}).run(None, {n: known[n] for n in inputs})
    except Exception:  # an op the reference cannot run here: its shapes stay as inferred
        return None
    values = {}
    for name, result in zip(node.output, results):
        if not name:
            continue
        if not isinstance(result, np.ndarray) or _array_type(result) != expected.get(name):
            return None
        values[name] = result
    return values


def _expected_outputs(
    node: onnx.NodeProto, known: Mapping[str, np.ndarray], opset: int, limit: int
) -> dict[str, tuple[int, list[int]]] | None:
    """Output name -> (element type, static shape) as ONNX infers them from the known
    inputs; None unless every output is a tensor of at most ``limit`` elements."""
    try:
        schema = onnx.defs.get_schema(node.op_type, opset, node.domain)
        input_types = {n: _tensor_type(known[n]) for n in node.input if n}
        input_data = {n: numpy_helper.from_array(known[n], n) for n in node.input if n}
        outputs = onnx.shape_inference.infer_node_outputs(
            schema, node, input_types, input_data,
            opset_imports=[onnx.helper.make_opsetid("", opset)],
        )
    except Exception:
        return None
    expected = {}
    for name in node.output:
        if not name:
            continue
        type_proto = outputs.get(name)
        shape = _static_shape(name, {name: type_proto}, {}) if type_proto is not None else None
        if shape is None or math.prod(shape) > limit:
            return None
        expected[name] = (type_proto.tensor_type.elem_type, shape)
    return expected


def _array_type(array: np.ndarray) -> tuple[int, list[int]] | None:
    try:
        return onnx.helper.np_dtype_to_tensor_dtype(array.dtype), list(array.shape)
    except Exception:  # object arrays, dtypes ONNX has no type for
        return None


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
