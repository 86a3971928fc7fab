"""``emit-qpc``: write the program container to ``<dir>/programqpc.bin``.

    qaicc-opt m.mlir -p 'convert-aic-core-to-qpc,emit-qpc{dir="out/bert"}'

The module must hold one ``qpc.container`` (``convert-aic-core-to-qpc``); the pass
leaves it unchanged. The file's format is ``docs/qpc-format.md`` (sections ``meta``,
``kernels``, ``streams``, ``constants``; code in ``qaicc.qpc``).

- Deterministic: identical containers give byte-identical files (no time stamps, no
  paths, sorted keys, stable order).
- Atomic: the file is written to a temporary file in the same directory and renamed
  over ``programqpc.bin`` only once complete; any failure removes the temporary file,
  so there is never a partial ``programqpc.bin`` and an existing one is kept.
- ``dir`` is created when its parent exists; a missing parent or an unwritable
  directory is a one-line error.

Options: ``dir`` (required; quote paths: ``emit-qpc{dir="/tmp/out"}``).
From Python: ``emit_qpc(module, dir) -> Path``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass

from qaicc.errors import QaiccError
from qaicc.qpc.container import write_atomically, write_container
from qaicc.qpc.encoding import find_container, sections_of
from qaicc.qpc.loader import paused_gc

PASS_NAME = "emit-qpc"
QPC_FILE = "programqpc.bin"


def emit_qpc(module: ModuleOp, directory: str | Path) -> Path:
    """Write ``module``'s container to ``directory/programqpc.bin``; returns the path."""
    container = find_container(module, PASS_NAME)
    path = Path(directory) / QPC_FILE
    with paused_gc():
        write_atomically(path, lambda out: write_container(out, sections_of(container)))
    return path


@dataclass(frozen=True)
class EmitQpcPass(ModulePass):
    name = "emit-qpc"

    dir: str | None = None

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if not self.dir:
            raise QaiccError(f'{PASS_NAME}: give the output directory: emit-qpc{{dir="PATH"}}')
        emit_qpc(op, self.dir)
