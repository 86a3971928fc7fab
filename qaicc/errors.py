"""User-facing errors.

A ``QaiccError`` is a mistake of the user (bad model, bad flag, bad file) or a limit of
qaicc that the user can act on. Tools print ``str(error)`` as one line (plus the listed
problems of an ``UnsupportedModelError``) and exit with status 1: never a traceback.
Anything else escaping a tool is a bug in qaicc.
"""

from __future__ import annotations

from collections.abc import Sequence


class QaiccError(Exception):
    """A problem the user can fix; the message says what, where, and what to do."""


class UnsupportedModelError(QaiccError):
    """A model with parts qaicc cannot handle; every problem is listed, not only the first."""

    def __init__(self, source: str, problems: Sequence[str]):
        self.source = source
        self.problems = list(problems)
        lines = [f"{source}: {len(self.problems)} unsupported part(s) in the model:"]
        lines += [f"  - {problem}" for problem in self.problems]
        super().__init__("\n".join(lines))
