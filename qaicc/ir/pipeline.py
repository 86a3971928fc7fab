"""Running a pass pipeline with the instrumentation compiler developers expect.

``build_pipeline(spec)`` turns ``'pass-a,pass-b{opt=v}'`` into ModulePass instances, with
a one-line ``QaiccError`` for an unknown pass (suggesting the closest name) or a bad
option. ``run_pipeline`` applies them with ``Instrumentation``: verify after each pass,
print the IR before/after chosen passes, time each pass, dump the IR after every pass
into numbered files, and on a failing pass write a reproducer (the IR before the pass
and the pipeline that reproduces the failure).
"""

from __future__ import annotations

import difflib
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass
from xdsl.utils.arg_spec import ArgSpecParseError, parse_pipeline
from xdsl.utils.exceptions import VerifyException

from qaicc.errors import QaiccError
from qaicc.ir.printing import DEFAULT_ELIDE_LARGER_THAN, print_module

PassRegistry = dict[str, Callable[[], type[ModulePass]]]


def build_pipeline(spec: str, registry: PassRegistry) -> list[ModulePass]:
    try:
        specs = list(parse_pipeline(spec))
    except ArgSpecParseError as error:
        raise QaiccError(f"bad pass pipeline '{spec}': {error.args[-1] if error.args else error}") from None
    passes = []
    for pass_spec in specs:
        factory = registry.get(pass_spec.name)
        if factory is None:
            close = difflib.get_close_matches(pass_spec.name, registry, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise QaiccError(
                f"unknown pass '{pass_spec.name}' in -p{hint} (qaicc-opt --list-passes lists them)"
            )
        try:
            passes.append(factory().from_pass_spec(pass_spec))
        except (ValueError, TypeError) as error:
            raise QaiccError(f"bad option for pass '{pass_spec.name}': {error}") from None
    return passes


def pass_spec_text(module_pass: ModulePass) -> str:
    return str(module_pass.pipeline_pass_spec())


@dataclass
class Instrumentation:
    verify_each: bool = True
    print_before: set[str] = field(default_factory=set)
    print_after: set[str] = field(default_factory=set)
    print_after_all: bool = False
    time_passes: bool = False
    dump_dir: Path | None = None
    reproducer_dir: Path | None = None
    elide_larger_than: int | None = DEFAULT_ELIDE_LARGER_THAN
    stream: IO[str] = field(default_factory=lambda: sys.stderr)
    timings: list[tuple[str, float]] = field(default_factory=list)

    def _print(self, title: str, module: ModuleOp) -> None:
        self.stream.write(f"// -----// IR Dump {title} //----- //\n")
        print_module(module, self.stream, elide_larger_than=self.elide_larger_than)

    def _dump(self, index: int, name: str, module: ModuleOp) -> None:
        assert self.dump_dir is not None
        self.dump_dir.mkdir(parents=True, exist_ok=True)
        path = self.dump_dir / f"{index:02d}_{name}.mlir"
        with open(path, "w") as out:
            print_module(module, out, elide_larger_than=self.elide_larger_than)

    def report_timings(self) -> None:
        if not self.time_passes:
            return
        total = sum(t for _, t in self.timings) or 1e-12
        out = self.stream
        out.write("===" + "-" * 73 + "===\n")
        out.write(" " * 26 + "... Pass execution timing report ...\n")
        out.write("===" + "-" * 73 + "===\n")
        out.write(f"  Total Execution Time: {total:.4f} seconds\n\n")
        out.write("  ----Wall Time----  ----Name----\n")
        for name, seconds in self.timings:
            out.write(f"  {seconds:8.4f} ({100 * seconds / total:5.1f}%)  {name}\n")
        out.write(f"  {total:8.4f} (100.0%)  Total\n")


def run_pipeline(
    passes: list[ModulePass],
    module: ModuleOp,
    ctx: Context,
    instrumentation: Instrumentation | None = None,
) -> None:
    inst = instrumentation or Instrumentation()
    if inst.dump_dir is not None:
        inst._dump(0, "input", module)
    for index, module_pass in enumerate(passes, start=1):
        name = module_pass.name
        if name in inst.print_before:
            inst._print(f"Before {name}", module)
        before = module.clone() if inst.reproducer_dir else None
        start = time.perf_counter()
        try:
            module_pass.apply(ctx, module)
        except QaiccError:
            raise
        except Exception as error:
            path = _write_reproducer(inst, before, module_pass)
            where = f"; reproducer written to {path}" if path else ""
            raise QaiccError(f"pass '{name}' failed: {type(error).__name__}: {_first_line(error)}{where}") from error
        inst.timings.append((name, time.perf_counter() - start))
        if inst.verify_each:
            try:
                module.verify()
            except VerifyException as error:
                path = _write_reproducer(inst, before, module_pass)
                where = f"; reproducer written to {path}" if path else ""
                raise QaiccError(f"the IR does not verify after pass '{name}': {_first_line(error)}{where}") from None
        if inst.print_after_all or name in inst.print_after:
            inst._print(f"After {name}", module)
        if inst.dump_dir is not None:
            inst._dump(index, name, module)
    inst.report_timings()


REPRODUCER_ELIDE_LARGER_THAN = 4096


def _write_reproducer(inst: Instrumentation, before: ModuleOp | None, module_pass: ModulePass) -> Path | None:
    """Write the IR before the failing pass (weights over 4096 elements elided)."""
    if before is None or inst.reproducer_dir is None:
        return None
    text = print_module(before, elide_larger_than=REPRODUCER_ELIDE_LARGER_THAN)
    inst.reproducer_dir.mkdir(parents=True, exist_ok=True)
    path = inst.reproducer_dir / "qaicc-reproducer.mlir"
    header = f"// Reproduce with: qaicc-opt {path.name} -p '{pass_spec_text(module_pass)}'\n"
    path.write_text(header + text)
    return path


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
