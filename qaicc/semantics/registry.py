"""Where op semantics are registered.

A *kernel factory* takes an op and returns a kernel: ``kernel(args, runner, env) ->
list of results``, where ``args`` are the operand values (numpy arrays, lists for
sequences, None for empty optionals), ``runner`` runs regions, and ``env`` is the
environment of the op (for regions that read outer values). Factories are looked up by
op name first, then by dialect prefix; a runner builds each op's kernel once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from xdsl.ir import Operation

Kernel = Callable[[list[Any], Any, Any], list[Any]]
KernelFactory = Callable[[Operation], Kernel]

_BY_OP: dict[str, KernelFactory] = {}
_BY_DIALECT: dict[str, KernelFactory] = {}


def register_op(op_name: str) -> Callable[[KernelFactory], KernelFactory]:
    """Decorator: ``@register_op("onnx.If")`` over a kernel factory."""

    def decorate(factory: KernelFactory) -> KernelFactory:
        _BY_OP[op_name] = factory
        return factory

    return decorate


def register_dialect(dialect: str, factory: KernelFactory) -> None:
    """The fallback factory for every op named ``<dialect>.*`` without its own."""
    _BY_DIALECT[dialect] = factory


def factory_for(op: Operation) -> KernelFactory | None:
    found = _BY_OP.get(op.name)
    if found is not None:
        return found
    return _BY_DIALECT.get(op.name.split(".", 1)[0])


def load_builtin_semantics() -> None:
    """Import the modules that register semantics (idempotent)."""
    import qaicc.semantics.onnx_ops  # noqa: F401
    import qaicc.semantics.aic_core_exec  # noqa: F401
    import qaicc.semantics.aic_graph_ops  # noqa: F401
    import qaicc.semantics.onnx_deprecated  # noqa: F401
    import qaicc.semantics.onnx_optional  # noqa: F401
    import qaicc.semantics.onnx_regions  # noqa: F401
