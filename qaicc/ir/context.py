"""The xDSL Context with every dialect qaicc's IR can hold."""

from __future__ import annotations

from xdsl.context import Context
from xdsl.dialects.arith import Arith
from xdsl.dialects.builtin import Builtin
from xdsl.dialects.func import Func

from qaicc.dialects import ALL_DIALECTS


def make_context() -> Context:
    ctx = Context()
    for dialect in (Builtin, Func, Arith, *ALL_DIALECTS):
        ctx.load_dialect(dialect)
    return ctx
