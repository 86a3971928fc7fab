"""qaicc's passes (installed as ``qaicc.passes``).

``ALL_PASSES`` maps every pipeline name to a factory of its ModulePass class: the
one registry that ``qaicc-opt``, the ``qaicc`` driver and scripts use. Each pass lives
in a file named after it, with its test beside it.
"""

from __future__ import annotations

from collections.abc import Callable

from xdsl.passes import ModulePass


def _xdsl_cse() -> type[ModulePass]:
    from xdsl.transforms.common_subexpression_elimination import CommonSubexpressionElimination

    return CommonSubexpressionElimination


def _xdsl_dce() -> type[ModulePass]:
    from xdsl.transforms.dead_code_elimination import DeadCodeElimination

    return DeadCodeElimination


def _canonicalize() -> type[ModulePass]:
    from qaicc.passes.canonicalize import CanonicalizePass

    return CanonicalizePass


def _bind_symbols() -> type[ModulePass]:
    from qaicc.passes.bind_symbols import BindSymbolsPass

    return BindSymbolsPass


def _shape_inference() -> type[ModulePass]:
    from qaicc.passes.shape_inference import ShapeInferencePass

    return ShapeInferencePass


ALL_PASSES: dict[str, Callable[[], type[ModulePass]]] = {
    "bind-symbols": _bind_symbols,
    "canonicalize": _canonicalize,
    "cse": _xdsl_cse,
    "dce": _xdsl_dce,
    "shape-inference": _shape_inference,
}
