"""Printing and parsing qaicc IR text.

``print_module`` elides the data of constants with more than ``elide_larger_than``
elements (16 by default, as MLIR's ``--mlir-elide-elementsattrs-if-larger``); pass
``None`` to print every constant in full (then the text round-trips exactly).
``parse_module`` reads text in the same syntax; elided constants come back without data.
"""

from __future__ import annotations

import io
from typing import IO

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.parser import Parser
from xdsl.printer import Printer
from xdsl.utils.exceptions import ParseError

from qaicc.dialects.qaicc_attrs import elide_threshold
from qaicc.errors import QaiccError
from qaicc.ir.context import make_context

DEFAULT_ELIDE_LARGER_THAN = 16


def print_module(
    module: ModuleOp,
    stream: IO[str] | None = None,
    *,
    elide_larger_than: int | None = DEFAULT_ELIDE_LARGER_THAN,
    generic: bool = False,
) -> str | None:
    """Print ``module``; returns the text when no stream is given."""
    out = stream if stream is not None else io.StringIO()
    token = elide_threshold.set(elide_larger_than)
    try:
        printer = Printer(stream=out, print_generic_format=generic)
        printer.print_op(module)
        out.write("\n")
    finally:
        elide_threshold.reset(token)
    return out.getvalue() if stream is None else None


def parse_module(text: str, ctx: Context | None = None, *, source: str = "<text>") -> ModuleOp:
    ctx = ctx or make_context()
    try:
        parsed = Parser(ctx, text, name=source).parse_module()
    except ParseError as error:
        raise QaiccError(f"{source}: cannot parse the IR: {_first_line(error)}") from None
    return parsed


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
