"""``qaicc``: compile an ONNX model into a QPC with a qaic-exec / qaic-compile command line.

    qaicc -m=bert.onnx -onnx-define-symbol=batch_size,1 -onnx-define-symbol=sequence,128 \\
          -convert-to-fp16 -aic-num-cores=4 -ols=2 -mos=2 -multicast-weights \\
          -aic-binary-dir=out/bert -compile-only
    ...
    Generated binary is present at out/bert

The flags are the original's (``qaicc -h`` lists them, ``qaicc.driver.flags`` is the
table); the same words work when the command is installed or called as ``qaic-exec``.
Without ``-compile-only`` the compiled program also runs on random inputs in the
simulator and qaic-runner's statistics are printed. ``-operators-supported=onnx`` writes
``OnnxSupportedOperators.txt`` (in the current directory, or ``-aic-binary-dir``) and
exits; ``-h`` prints the flags, ``-version`` the version.

Every user mistake is one line ``qaicc: error: ...`` on stderr and exit status 1 (a
model with unsupported operators lists every one of them), and nothing is left on disk.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from qaicc.errors import QaiccError, UnsupportedModelError

PROG = "qaicc"


def write_operators_supported(directory: str | None) -> Path:
    from qaicc.passes.onnx_to_aic_graph import SUPPORTED_OPERATORS_FILE, format_supported_operators

    folder = Path(directory) if directory else Path.cwd()
    if folder.exists() and not folder.is_dir():
        raise QaiccError(f"-aic-binary-dir={directory}: exists and is not a directory")
    created = []
    try:
        missing = []
        probe = folder
        while not probe.exists():
            missing.append(probe)
            probe = probe.parent
        for path in reversed(missing):
            path.mkdir()
            created.append(path)
        path = folder / SUPPORTED_OPERATORS_FILE
        fd, temporary = tempfile.mkstemp(prefix=f".{SUPPORTED_OPERATORS_FILE}.", dir=folder)
        try:
            with os.fdopen(fd, "w") as out:
                out.write(format_supported_operators())
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError as error:
        for path in reversed(created):
            try:
                path.rmdir()
            except OSError:
                pass
        raise QaiccError(f"cannot write {folder / SUPPORTED_OPERATORS_FILE}: {error.strerror or error}") from None
    return path


def run(argv: Sequence[str], out=None, err=None) -> int:
    from qaicc.driver.flags import help_text, parse_command_line

    out = out or sys.stdout
    err = err or sys.stderr
    parsed = parse_command_line(argv)
    if parsed.get("h"):
        out.write(help_text())
        return 0
    if parsed.get("version"):
        from qaicc import __version__

        out.write(f"qaicc {__version__} (qaic-exec compatible command line)\n")
        return 0
    if parsed.has("operators-supported"):
        kind = parsed.get("operators-supported")
        if kind != "onnx":
            raise QaiccError(f"-operators-supported={kind} is not supported yet (qaicc compiles ONNX models: "
                             "use -operators-supported=onnx)")
        path = write_operators_supported(parsed.get("aic-binary-dir"))
        out.write(f"Supported operators written to {path}\n")
        return 0
    if not argv:
        raise QaiccError("no model: give the ONNX model with -m=MODEL.onnx (qaicc -h lists the flags)")
    from qaicc.driver.compile import compile_flags

    compile_flags(parsed, out=out, err=err)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        return run(argv)
    except UnsupportedModelError as error:
        sys.stderr.write(f"{PROG}: error: {error}\n")
        return 1
    except QaiccError as error:
        text = str(error).strip()
        sys.stderr.write(f"{PROG}: error: {text.splitlines()[0] if text else type(error).__name__}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG}: interrupted\n")
        return 130
    except BrokenPipeError:  # qaicc -h | head
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as error:  # a bug in qaicc: still one line, with a way to see more
        if os.environ.get("QAICC_TRACEBACK"):
            raise
        text = str(error).strip()
        first = text.splitlines()[0] if text else ""
        sys.stderr.write(f"{PROG}: error: internal error: {type(error).__name__}: {first} (a bug in qaicc; set "
                         "QAICC_TRACEBACK=1 for the traceback)\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())
