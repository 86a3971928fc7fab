"""``bind-symbols``: give symbolic dimensions of the model's inputs and outputs a size.

    qaicc-opt bert.onnx -p 'bind-symbols{batch_size=8 sequence=128}'

An ONNX model may leave dimensions of its inputs and outputs symbolic ("batch_size",
"sequence"); qaicc keeps their names in the ``onnx.dim_params`` attribute of
``@main_graph``'s arguments and results, and their size is ``?`` in the types. This
pass does what ``qaic-exec -onnx-define-symbol=batch_size,8`` does: every dimension
named by a bound symbol gets that size in the argument and result types (and in the
function type); the bound names leave ``onnx.dim_params``. Values inside the function
keep their types: run ``shape-inference`` next to propagate the sizes.

Options: any number of ``SYMBOL=N`` (N a positive integer), separated by spaces.

- Binding a symbol the model does not have is a warning (the binding is ignored).
- A value that is not a positive integer is an error naming the symbol.
- Binding a symbol whose dimension is already static with another size is an error.

From Python: ``bind_symbols(module, {"batch_size": 8})``, or
``BindSymbolsPass.of(batch_size=8).apply(ctx, module)``. ``unbound_symbols(module)``
lists the symbols of the inputs that are still unbound (``shape-inference`` uses it).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Self

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import (
    DYNAMIC_INDEX,
    ArrayAttr,
    DictionaryAttr,
    ModuleOp,
    StringAttr,
    TensorType,
)
from xdsl.ir import Attribute, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import Rewriter
from xdsl.utils.arg_spec import ArgSpec

from qaicc.errors import QaiccError

PASS_NAME = "bind-symbols"
MAIN_FUNCTION = "main_graph"
DIM_PARAMS = "onnx.dim_params"
ONNX_NAME = "onnx.name"


# -- onnx.dim_params ---------------------------------------------------------------------


def parse_dim_params(text: str) -> dict[int, str]:
    """``"0:batch_size,1:sequence"`` -> ``{0: "batch_size", 1: "sequence"}``."""
    params: dict[int, str] = {}
    for item in text.split(","):
        index, sep, symbol = item.partition(":")
        if sep and index.strip().isdigit():
            params[int(index)] = symbol
    return params


def format_dim_params(params: Mapping[int, str]) -> str:
    return ",".join(f"{index}:{symbol}" for index, symbol in sorted(params.items()))


def io_dim_params(attrs: Attribute | None) -> dict[int, str]:
    """The symbolic dims recorded in one entry of ``arg_attrs`` / ``res_attrs``."""
    if not isinstance(attrs, DictionaryAttr):
        return {}
    text = attrs.data.get(DIM_PARAMS)
    return parse_dim_params(text.data) if isinstance(text, StringAttr) else {}


def io_name(attrs: Attribute | None, fallback: str) -> str:
    if isinstance(attrs, DictionaryAttr):
        name = attrs.data.get(ONNX_NAME)
        if isinstance(name, StringAttr):
            return name.data
    return fallback


def with_dim_params(attrs: Attribute | None, params: Mapping[int, str]) -> DictionaryAttr:
    """``attrs`` with ``onnx.dim_params`` set to ``params`` (removed when empty)."""
    entries = dict(attrs.data) if isinstance(attrs, DictionaryAttr) else {}
    entries.pop(DIM_PARAMS, None)
    if params:
        entries[DIM_PARAMS] = StringAttr(format_dim_params(params))
    return DictionaryAttr(entries)


def io_attrs(attrs: ArrayAttr | None, count: int) -> list[Attribute | None]:
    entries: list[Attribute | None] = list(attrs.data) if attrs is not None else []
    return entries + [None] * (count - len(entries))


# -- the module --------------------------------------------------------------------------


def main_function(module: ModuleOp) -> func.FuncOp:
    for op in module.ops:
        if isinstance(op, func.FuncOp) and op.sym_name.data == MAIN_FUNCTION and op.body.blocks:
            return op
    raise QaiccError(f"the module has no func.func @{MAIN_FUNCTION}; import an ONNX model to get one")


def _return_op(function: func.FuncOp) -> func.ReturnOp:
    returned = function.body.block.last_op
    if not isinstance(returned, func.ReturnOp):
        raise QaiccError(f"@{MAIN_FUNCTION} does not end in func.return")
    return returned


@dataclass(frozen=True)
class _Port:
    """One input or output of @main_graph: its ONNX name, type and symbolic dims."""

    kind: str  # "input" or "output"
    name: str
    type: Attribute
    params: dict[int, str]

    def symbolic(self) -> dict[int, str]:
        """Named dims that are still dynamic in the type."""
        if not isinstance(self.type, TensorType):
            return {}
        shape = self.type.get_shape()
        return {i: s for i, s in self.params.items() if i < len(shape) and shape[i] == DYNAMIC_INDEX}


def _inputs(function: func.FuncOp) -> list[_Port]:
    args = function.body.block.args
    attrs = io_attrs(function.arg_attrs, len(args))
    return [
        _Port("input", io_name(a, f"input_{i}"), arg.type, io_dim_params(a))
        for i, (arg, a) in enumerate(zip(args, attrs))
    ]


def _outputs(function: func.FuncOp) -> list[_Port]:
    types = function.function_type.outputs.data
    attrs = io_attrs(function.res_attrs, len(types))
    return [
        _Port("output", io_name(a, f"output_{i}"), t, io_dim_params(a))
        for i, (t, a) in enumerate(zip(types, attrs))
    ]


def model_symbols(module: ModuleOp) -> set[str]:
    """Every symbol named in ``onnx.dim_params`` of @main_graph's inputs and outputs."""
    function = main_function(module)
    return {s for port in (*_inputs(function), *_outputs(function)) for s in port.params.values()}


def unbound_symbols(module: ModuleOp) -> dict[str, list[str]]:
    """Symbol -> names of the inputs with a still dynamic dimension of that name."""
    found: dict[str, list[str]] = {}
    for port in _inputs(main_function(module)):
        for symbol in dict.fromkeys(port.symbolic().values()):
            found.setdefault(symbol, []).append(port.name)
    return found


# -- binding -----------------------------------------------------------------------------


def check_symbol_value(symbol: str, value: object) -> int:
    """The size bound to ``symbol``; a QaiccError naming it unless a positive integer."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise QaiccError(
            f"{PASS_NAME}: symbol '{symbol}' must be bound to a positive integer, got {_shown(value)} "
            f"(write {PASS_NAME}{{{symbol}=N}})"
        )
    return value


def _shown(value: object) -> str:
    if value == ():
        return "no value"
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value)


def _bound_type(port: _Port, symbols: Mapping[str, int]) -> Attribute:
    """``port``'s type with the dims of bound symbols made static."""
    if not isinstance(port.type, TensorType) or not port.params:
        return port.type
    shape = list(port.type.get_shape())
    for index, symbol in port.params.items():
        if symbol not in symbols or index >= len(shape):
            continue
        size = symbols[symbol]
        if shape[index] not in (DYNAMIC_INDEX, size):
            raise QaiccError(
                f"{PASS_NAME}: {symbol}={size} contradicts {port.kind} '{port.name}', whose "
                f"dimension {index} is {shape[index]}; bind {symbol}={shape[index]} or fix the model"
            )
        shape[index] = size
    return TensorType(port.type.element_type, shape, port.type.encoding)


def _merge_returned(value_type: Attribute, bound: Attribute, port: _Port) -> Attribute:
    """The type of a returned value once its output is bound (value and output agree)."""
    if value_type == bound or not isinstance(value_type, TensorType) or not isinstance(bound, TensorType):
        return bound
    dims = []
    for have, want in zip(value_type.get_shape(), bound.get_shape()):
        if DYNAMIC_INDEX not in (have, want) and have != want:
            raise QaiccError(
                f"{PASS_NAME}: the bindings give output '{port.name}' the type {bound}, but the "
                f"value it returns is {value_type}; the bound sizes contradict each other"
            )
        dims.append(want if want != DYNAMIC_INDEX else have)
    return TensorType(bound.element_type, dims, bound.encoding)


def _warn_unknown(symbols: Mapping[str, int], present: set[str]) -> None:
    for symbol in sorted(set(symbols) - present):
        known = ", ".join(sorted(present)) if present else "none"
        warnings.warn(
            f"{PASS_NAME}: the model has no symbol '{symbol}'; the binding {symbol}="
            f"{symbols[symbol]} is ignored (the model's symbols: {known})",
            UserWarning,
            stacklevel=3,
        )


def bind_symbols(module: ModuleOp, symbols: Mapping[str, int]) -> None:
    """Bind ``symbols`` (name -> size) in @main_graph's input and output types.

    Everything is checked before the module changes: on an error it is left as it was.
    """
    for symbol, value in symbols.items():
        check_symbol_value(symbol, value)
    function = main_function(module)
    inputs, outputs = _inputs(function), _outputs(function)
    present = {s for port in (*inputs, *outputs) for s in port.params.values()}
    _warn_unknown(symbols, present)
    bound = {s: v for s, v in symbols.items() if s in present}
    if not bound:
        return
    block = function.body.block
    returned = _return_op(function)
    arg_types = [_bound_type(port, bound) for port in inputs]
    new_types: dict[SSAValue, Attribute] = {
        arg: t for arg, t in zip(block.args, arg_types) if t != arg.type
    }
    for port, value in zip(outputs, returned.arguments):
        want = _bound_type(port, bound)
        current = new_types.get(value, value.type)
        merged = _merge_returned(current, want, port)
        if merged != value.type:
            new_types[value] = merged
    for value, new_type in new_types.items():
        Rewriter.replace_value_with_new_type(value, new_type)
    function.update_function_type()
    _drop_dim_params(function, lambda port, type: {i: n for i, n in port.params.items() if n not in bound})


def drop_static_dim_params(function: func.FuncOp) -> bool:
    """Remove from ``onnx.dim_params`` the dims that are static in the function type."""
    return _drop_dim_params(function, _still_dynamic)


def _drop_dim_params(function: func.FuncOp, keep) -> bool:
    """Set each input's and output's ``onnx.dim_params`` to ``keep(port, type)``."""
    changed = False
    for ports, types, field in (
        (_inputs(function), function.function_type.inputs.data, "arg_attrs"),
        (_outputs(function), function.function_type.outputs.data, "res_attrs"),
    ):
        kept = [keep(port, t) for port, t in zip(ports, types)]
        if all(k == port.params for k, port in zip(kept, ports)):
            continue
        entries = io_attrs(getattr(function, field), len(ports))
        setattr(function, field, ArrayAttr([with_dim_params(a, k) for a, k in zip(entries, kept)]))
        changed = True
    return changed


def _still_dynamic(port: _Port, type: Attribute) -> dict[int, str]:
    if not isinstance(type, TensorType):
        return port.params
    shape = type.get_shape()
    return {i: s for i, s in port.params.items() if i >= len(shape) or shape[i] == DYNAMIC_INDEX}


# -- the pass ----------------------------------------------------------------------------


@dataclass(frozen=True)
class BindSymbolsPass(ModulePass):
    """``bind-symbols{batch_size=8 sequence=128}``: see the module documentation."""

    name = PASS_NAME

    symbols: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        for symbol, value in self.symbols:
            check_symbol_value(symbol, value)

    @classmethod
    def of(cls, **symbols: int) -> Self:
        return cls(tuple(symbols.items()))

    @classmethod
    def from_pass_spec(cls, spec: ArgSpec) -> Self:
        """Every option is a symbol: ``bind-symbols{batch_size=8 sequence=128}``."""
        if spec.name != cls.name:
            raise ValueError(f"spec name mismatch: got '{spec.name}', expected '{cls.name}'")
        symbols = []
        for symbol, values in spec.parameters.items():
            value = values[0] if len(values) == 1 else values
            symbols.append((symbol, check_symbol_value(symbol, value)))
        return cls(tuple(symbols))

    @classmethod
    def from_spec(cls, spec: ArgSpec) -> Self:
        return cls.from_pass_spec(spec)

    def pipeline_pass_spec(self, *, include_default: bool = False) -> ArgSpec:
        return ArgSpec(self.name, {symbol: (value,) for symbol, value in self.symbols})

    def spec(self, *, include_default: bool = False) -> ArgSpec:
        return self.pipeline_pass_spec(include_default=include_default)

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if not self.symbols:
            warnings.warn(f"{PASS_NAME}: no symbol given, nothing to do (write {PASS_NAME}{{name=N}})", stacklevel=2)
            return
        bind_symbols(op, dict(self.symbols))
