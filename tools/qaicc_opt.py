"""``qaicc-opt``: run a pass pipeline on an ONNX model or on qaicc IR.

    qaicc-opt model.onnx -p 'cse,dce' -o out.mlir
    qaicc-opt in.mlir -p 'pass-a,pass-b{opt=v}' --print-ir-after-all -o out.onnx

Input: ``.onnx`` (imported into the onnx dialect) or ``.mlir`` (qaicc IR text; ``-``
or no file reads stdin). Output (``-o``): the format follows the suffix, ``.onnx``
exports the module, anything else prints IR text (stdout by default). Large constants
are elided when printing unless ``--print-large-constants`` is given.

Instrumentation: ``--print-ir-before=PASS``, ``--print-ir-after=PASS``,
``--print-ir-after-all``, ``--verify-each`` (default) / ``--no-verify-each``,
``--time-passes``, ``--dump-dir=DIR`` (the IR after every pass in numbered files),
``--reproducer-dir=DIR`` (on a failing pass, the IR before it and the pipeline).

``--operators-supported [PATH]`` writes OnnxSupportedOperators.txt (every ONNX operator
``convert-onnx-to-aic-graph`` converts, one line each with its limits) into the current
directory, or at PATH, and exits.

Every user mistake (unknown pass, bad option, unreadable input) is one line on stderr
and exit status 1.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

from xdsl.dialects.builtin import ModuleOp
from xdsl.xdsl_opt_main import xDSLOptMain

from qaicc.dialects import ALL_DIALECTS
from qaicc.errors import QaiccError, UnsupportedModelError
from qaicc.ir.pipeline import Instrumentation, build_pipeline, run_pipeline
from qaicc.ir.printing import DEFAULT_ELIDE_LARGER_THAN, parse_module, print_module
from qaicc.passes import ALL_PASSES


class QaiccOptMain(xDSLOptMain):
    """xdsl-opt with qaicc's dialects, passes, frontends and instrumentation."""

    def register_all_dialects(self) -> None:
        from xdsl.dialects.arith import Arith
        from xdsl.dialects.builtin import Builtin
        from xdsl.dialects.func import Func

        for dialect in (Builtin, Func, Arith, *ALL_DIALECTS):
            self.ctx.load_dialect(dialect)

    def register_all_passes(self) -> None:
        for name, factory in ALL_PASSES.items():
            self.register_pass(name, factory)

    def register_all_frontends(self) -> None:
        self.available_frontends["mlir"] = lambda stream: parse_module(stream.read().decode(), self.ctx)
        self.available_frontends["onnx"] = _import_onnx_stream

    def register_all_arguments(self, arg_parser: argparse.ArgumentParser) -> None:
        super().register_all_arguments(arg_parser)
        arg_parser.add_argument("--print-ir-after-all", action="store_true", help="print the IR after every pass")
        arg_parser.add_argument("--print-ir-after", action="append", default=[], metavar="PASS")
        arg_parser.add_argument("--print-ir-before", action="append", default=[], metavar="PASS")
        arg_parser.add_argument(
            "--verify-each", action=argparse.BooleanOptionalAction, default=True,
            help="verify the IR after every pass (default: on)",
        )
        arg_parser.add_argument("--dump-dir", type=Path, help="write the IR after every pass into DIR")
        arg_parser.add_argument("--reproducer-dir", type=Path, help="on a failing pass, write a reproducer into DIR")
        arg_parser.add_argument(
            "--print-large-constants", action="store_true",
            help=f"print every constant in full (default: elide those over {DEFAULT_ELIDE_LARGER_THAN} elements)",
        )
        arg_parser.add_argument("--list-passes", action="store_true", help="list the registered passes and exit")
        arg_parser.add_argument(
            "--operators-supported", nargs="?", const=".", default=None, metavar="PATH",
            help="write OnnxSupportedOperators.txt (the ONNX operators convert-onnx-to-aic-graph "
            "converts, with their limits) into the current directory or at PATH, and exit",
        )

    def setup_pipeline(self) -> None:
        self.passes = build_pipeline(self.args.passes, self.available_passes)

    def instrumentation(self) -> Instrumentation:
        args = self.args
        return Instrumentation(
            verify_each=args.verify_each,
            print_before=set(args.print_ir_before),
            print_after=set(args.print_ir_after),
            print_after_all=args.print_ir_after_all or args.print_between_passes,
            time_passes=args.time_passes,
            dump_dir=args.dump_dir,
            reproducer_dir=args.reproducer_dir,
            elide_larger_than=None if args.print_large_constants else DEFAULT_ELIDE_LARGER_THAN,
        )

    def write_operators_supported(self, path: Path) -> None:
        from qaicc.passes.onnx_to_aic_graph import SUPPORTED_OPERATORS_FILE, format_supported_operators

        if path.is_dir():
            path = path / SUPPORTED_OPERATORS_FILE
        text = format_supported_operators()
        _atomic_write(path, lambda tmp: Path(tmp).write_text(text))
        print(f"wrote {path} ({len(text.splitlines())} operators)")

    def read_input(self) -> ModuleOp:
        path = self.args.input_file
        if path in (None, "-"):
            return parse_module(sys.stdin.read(), self.ctx, source="<stdin>")
        suffix = Path(path).suffix
        if suffix == ".onnx":
            from qaicc.onnx_io.importer import import_model

            return import_model(path)
        if not os.path.isfile(path):
            raise QaiccError(f"{path}: no such file")
        return parse_module(Path(path).read_text(), self.ctx, source=path)

    def write_output(self, module: ModuleOp) -> None:
        target = self.args.output_file
        elide = None if self.args.print_large_constants else DEFAULT_ELIDE_LARGER_THAN
        if target is None:
            print_module(module, sys.stdout, elide_larger_than=elide)
            return
        path = Path(target)
        if path.suffix == ".onnx":
            from qaicc.onnx_io.exporter import save_module

            _atomic_write(path, lambda tmp: save_module(module, tmp))
            return
        text = print_module(module, elide_larger_than=elide)
        _atomic_write(path, lambda tmp: Path(tmp).write_text(text))

    def run(self) -> None:
        if self.args.list_passes:
            for name in sorted(self.available_passes):
                print(name)
            return
        if self.args.operators_supported is not None:
            self.write_operators_supported(Path(self.args.operators_supported))
            return
        module = self.read_input()
        if self.args.verify_each:
            module.verify()
        run_pipeline(self.passes, module, self.ctx, self.instrumentation())
        self.write_output(module)


def _import_onnx_stream(stream) -> ModuleOp:
    import onnx

    from qaicc.onnx_io.importer import import_model

    return import_model(onnx.load_model_from_string(stream.read()))


def _atomic_write(path: Path, write) -> None:
    """Write through a temporary file in the same directory, then rename it into place."""
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise QaiccError(f"{path}: the directory {directory} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings of passes are user information: one line, no source location."""
    print(f"qaicc-opt: warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    warnings.showwarning = _show_warning
    try:
        QaiccOptMain(description="qaicc-opt: run qaicc passes on ONNX models and qaicc IR", args=argv).run()
    except UnsupportedModelError as error:
        print(f"qaicc-opt: error: {error}", file=sys.stderr)
        return 1
    except QaiccError as error:
        print(f"qaicc-opt: error: {error}", file=sys.stderr)
        return 1
    except Exception as error:  # verifier errors on user-provided IR
        from xdsl.utils.exceptions import DiagnosticException, VerifyException

        if isinstance(error, (VerifyException, DiagnosticException)):
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            print(f"qaicc-opt: error: the input IR does not verify: {first}", file=sys.stderr)
            return 1
        raise
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
