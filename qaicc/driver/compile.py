"""``qaicc.compile``: a qaic-exec command line, from Python or from the ``qaicc`` tool.

    import qaicc
    result = qaicc.compile("bert.onnx", flags="-onnx-define-symbol=batch_size,1 "
                           "-onnx-define-symbol=sequence,128 -convert-to-fp16 -aic-num-cores=4 -compile-only",
                           aic_binary_dir="out/bert")
    result.metrics["vtcm"]["peak_bytes"], result.metrics["traffic"]["ddr_read_bytes"]

``compile(model=None, *, flags=None, out=None, err=None, quiet=False, **options)``:
``flags`` are qaic-exec words (a string or a list); ``options`` the same flags as Python
keywords (``aic_num_cores=4``, ``convert_to_fp16=True``, ``onnx_define_symbol={"sequence":
128}``); ``model`` a path or an ``onnx.ModelProto`` (else ``-m=``). It does what the
``qaicc`` command does with the same flags and prints the same (reports on ``out``,
default stdout; warnings ``qaicc: warning: ...`` on ``err``, default stderr; nothing
with ``quiet=True``), and returns a ``CompileResult`` whose ``metrics`` are the static
figures of ``qaicc.driver.report``. A mistake raises ``QaiccError`` (one line).

What happens, in order:

1. every flag and file is checked before any work: the model file, the target
   (``-aic-hw-version``), cores and instances against the target, the custom I/O and
   specialization files, the binary directory (a staging directory is created in it,
   or in its nearest existing parent);
2. the model is imported; custom I/O names, specialization keys and retained-state pairs
   are checked against its inputs, outputs and symbols;
3. each program (one, or one per specialization) runs the pipeline of
   ``qaicc.driver.pipeline`` up to ``convert-aic-core-to-qpc``; its static metrics are
   taken on the final aic-core module; the conversion to qpc follows, then ``emit-qpc``
   (or, with several programs or retained state, ``qaicc.qpc.programs.write_programs``),
   into the staging directory;
4. without ``-compile-only``, every program runs on the simulator (functional run on
   numpy with random inputs or ``-input-list-file``, timing of ``qaicc.simulator``) and
   its statistics are printed as qaic-runner's;
5. the QPC is moved into ``-aic-binary-dir`` (created if needed) and ``Generated binary
   is present at <dir>`` is printed last.

Any failure removes the staging directory and every directory created: the disk is
as it was (an existing ``programqpc.bin`` is kept).
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from qaicc.driver.config_files import (
    check_custom_io,
    check_specializations,
    describe,
    read_custom_io,
    read_specializations,
)
from qaicc.driver.flags import ParsedFlags, options_to_argv, parse_command_line
from qaicc.driver.pipeline import QPC_CONVERSION, CompileOptions, pipeline_spec
from qaicc.driver.report import (
    add_qpc_figures,
    format_metrics,
    format_timings,
    perf_warnings,
    program_metrics,
)
from qaicc.errors import QaiccError

PROG = "qaicc"
QPC_FILE = "programqpc.bin"
RETAINED_SUFFIX = "_RetainedState"
GENERATED = "Generated binary is present at {}"


@dataclass
class ProgramResult:
    """One compiled program: the symbol sizes it was compiled for, its pipeline, metrics."""

    index: int
    specialization: dict[str, int]
    pipeline: str
    metrics: dict
    perf_warnings: list[str] = field(default_factory=list)


@dataclass
class RunResult:
    """The run of one program on the simulator."""

    program: int
    simulation: Any  # qaicc.simulator.SimulationResult
    outputs: list[dict]  # the functional results, one dict per input set
    stats_line: str
    written: list[Path] = field(default_factory=list)


@dataclass
class CompileResult:
    qpc_dir: Path
    metrics: dict  # program 0's metrics (see qaicc.driver.report), plus "qpc_bytes" and "programs"
    programs: list[ProgramResult]
    timings: list[tuple[str, float]]
    warnings: list[str]
    perf_warnings: list[str]
    runs: list[RunResult]
    options: CompileOptions
    seconds: float

    @property
    def qpc_path(self) -> Path:
        return self.qpc_dir / QPC_FILE

    @property
    def pipeline(self) -> str:
        return self.programs[0].pipeline


# -- the Python entry point --------------------------------------------------------------


def compile(  # noqa: A001 - qaicc.compile, as the issue asks
    model: Any = None,
    *,
    flags: str | Sequence[str] | None = None,
    out: IO[str] | None = None,
    err: IO[str] | None = None,
    quiet: bool = False,
    **options: Any,
) -> CompileResult:
    words = shlex.split(flags) if isinstance(flags, str) else list(flags or [])
    words += options_to_argv(options)
    proto = None
    if model is not None:
        import onnx

        if isinstance(model, onnx.ModelProto):
            proto = model
        else:
            words.insert(0, f"-m={os.fspath(model)}")
    parsed = parse_command_line(words)
    for name in ("h", "version", "operators-supported"):
        if parsed.get(name):
            raise QaiccError(f"-{name} is a command of the qaicc tool, not a compile option")
    if proto is not None and parsed.get("m"):
        raise QaiccError("the model is given twice: as an argument and with -m")
    if quiet:
        import io

        out = err = io.StringIO()
    return compile_flags(parsed, model_proto=proto, out=out or sys.stdout, err=err or sys.stderr)


def compile_flags(parsed: ParsedFlags, *, model_proto=None, out: IO[str], err: IO[str]) -> CompileResult:
    return _Compilation(CompileOptions.from_flags(parsed), model_proto, out, err).run()


# -- the staging directory ---------------------------------------------------------------


class _Staging:
    """The QPC is written into a hidden directory beside its destination and moved there
    only when everything succeeded."""

    def __init__(self, binary_dir: str):
        self.shown = binary_dir
        self.final = Path(binary_dir)
        flag = f"-aic-binary-dir={binary_dir}"
        if self.final.exists() and not self.final.is_dir():
            raise QaiccError(f"{flag}: exists and is not a directory")
        anchor = self.final
        while not anchor.exists():
            parent = anchor.parent
            if parent == anchor:
                break
            anchor = parent
        if not anchor.is_dir():
            raise QaiccError(f"{flag}: '{anchor}' is a file, not a directory")
        try:
            self.path = Path(tempfile.mkdtemp(prefix=".qaicc-staging-", dir=anchor))
        except OSError as error:
            raise QaiccError(f"{flag}: cannot write in '{anchor}' ({error.strerror or error})") from None
        self.created: list[Path] = []

    def commit(self) -> Path:
        missing = []
        folder = self.final
        while not folder.exists():
            missing.append(folder)
            folder = folder.parent
        try:
            for folder in reversed(missing):
                folder.mkdir()
                self.created.append(folder)
            os.replace(self.path / QPC_FILE, self.final / QPC_FILE)
        except OSError as error:
            self.undo()
            raise QaiccError(f"-aic-binary-dir={self.shown}: cannot write {self.final / QPC_FILE} "
                             f"({error.strerror or error})") from None
        return self.final

    def undo(self) -> None:
        for folder in reversed(self.created):
            try:
                folder.rmdir()
            except OSError:
                pass
        self.created = []

    def cleanup(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


# -- one compilation ---------------------------------------------------------------------


class _Compilation:
    def __init__(self, options: CompileOptions, model_proto, out: IO[str], err: IO[str]):
        self.options = options
        self.model_proto = model_proto
        self.out = out
        self.err = err
        self.timings: list[tuple[str, float]] = []
        self.warnings: list[str] = []

    # -- messages --------------------------------------------------------------------------
    def say(self, text: str, level: int = 1) -> None:
        if self.options.verbose >= level:
            self.out.write(f"{PROG}: {text}\n")
            self.out.flush()

    def warn(self, text: str) -> None:
        if text in self.warnings:
            return
        self.warnings.append(text)
        self.err.write(f"{PROG}: warning: {text}\n")
        self.err.flush()

    def _show_warning(self, message, category, filename, lineno, file=None, line=None) -> None:
        self.warn(str(message).strip().splitlines()[0] if str(message).strip() else category.__name__)

    # -- checks before any work ---------------------------------------------------------
    def check_flags(self) -> None:
        from qaicc.hardware import load_target

        options = self.options
        if self.model_proto is None:
            if not options.model:
                raise QaiccError("no model: give the ONNX model with -m=MODEL.onnx (qaicc -h lists the flags)")
            path = Path(options.model)
            if not path.exists():
                raise QaiccError(f"-m={options.model}: no such file")
            if not path.is_file():
                raise QaiccError(f"-m={options.model}: is not a file")
            if not os.access(path, os.R_OK):
                raise QaiccError(f"-m={options.model}: cannot read the file (permission denied)")
        try:
            self.hw = load_target(options.hw_version)
        except QaiccError as error:
            raise QaiccError(f"-aic-hw-version={options.hw_version}: {error}") from None
        text = str(options.hw_version)
        self.target = text if text.endswith(".json") or Path(text).is_file() else self.hw.name
        if options.num_cores > self.hw.cores:
            raise QaiccError(f"-aic-num-cores={options.num_cores}: {self.hw.name} has {self.hw.cores} cores")
        if not options.compile_only and options.instances * options.num_cores > self.hw.cores:
            raise QaiccError(
                f"-aic-num-of-instances={options.instances} x -aic-num-cores={options.num_cores} = "
                f"{options.instances * options.num_cores} cores, more than the {self.hw.cores} of {self.hw.name}")
        if options.compile_only:
            ignored = [name for name, value in (
                ("-aic-profiling-type", options.profiling_types), ("-input-list-file", options.input_list_file),
                ("-write-output-dir", options.write_output_dir),
                ("-aic-num-of-instances", options.instances != 1)) if value]
            if ignored:
                self.warn(f"{', '.join(ignored)} only matter(s) for the run, which -compile-only skips")
        elif options.input_list_file and not Path(options.input_list_file).is_file():
            raise QaiccError(f"-input-list-file={options.input_list_file}: no such file")
        if options.write_output_dir and not options.compile_only:
            target = Path(options.write_output_dir)
            if target.exists() and not target.is_dir():
                raise QaiccError(f"-write-output-dir={options.write_output_dir}: exists and is not a directory")
        self.custom_io = read_custom_io(options.custom_io_file) if options.custom_io_file else {}
        self.specializations = (read_specializations(options.specialization_config)
                                if options.specialization_config else [])

    # -- checks against the model -------------------------------------------------------
    def check_model(self, module) -> None:
        from qaicc.dialects.onnx.element_types import from_xdsl
        from qaicc.passes.bind_symbols import io_attrs, io_name, main_function, model_symbols

        options = self.options
        function = main_function(module)
        types = function.function_type

        def described(attrs, type_list, prefix):
            found = {}
            for index, (entry, type) in enumerate(zip(io_attrs(attrs, len(type_list)), type_list)):
                element = getattr(type, "element_type", None)
                known = from_xdsl(element) if element is not None else None
                found[io_name(entry, f"{prefix}{index}")] = known.numpy.name if known is not None else str(type)
            return found

        inputs = described(function.arg_attrs, types.inputs.data, "input")
        outputs = described(function.res_attrs, types.outputs.data, "output")
        self.float16_io = (check_custom_io(self.custom_io, options.custom_io_file, inputs, outputs)
                           if self.custom_io else [])
        if self.specializations:
            check_specializations(self.specializations, options.specialization_config, model_symbols(module),
                                  options.symbols)
        self.retained: list[dict[str, str]] = []
        if options.retained_state:
            for output in outputs:
                if not output.endswith(RETAINED_SUFFIX):
                    continue
                state = output[: -len(RETAINED_SUFFIX)]
                if state not in inputs:
                    raise QaiccError(f"-retained-state: the output '{output}' has no input '{state}' to feed")
                self.retained.append({"output": output, "input": state})
            if not self.retained:
                self.warn(f"-retained-state: the model has no output named <input>{RETAINED_SUFFIX}; nothing is "
                          "retained")

    # -- the work ---------------------------------------------------------------------------
    def run(self) -> CompileResult:
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numpy's RuntimeWarnings and library deprecations are not for users
            warnings.filterwarnings("always", category=UserWarning)  # what passes tell the user
            warnings.showwarning = self._show_warning
            self.check_flags()
            staging = _Staging(self.options.binary_dir)
            try:
                result = self.compile_into(staging)
                result.qpc_dir = staging.commit()
            finally:
                staging.cleanup()
        result.seconds = time.perf_counter() - started
        self.out.write(GENERATED.format(self.options.binary_dir) + "\n")
        self.out.flush()
        return result

    def compile_into(self, staging: _Staging) -> CompileResult:
        from xdsl.dialects.builtin import IntegerAttr, StringAttr, i64

        options = self.options
        source = options.model if self.model_proto is None else "<model>"
        self.say(f"importing {source}")
        began = time.perf_counter()
        from qaicc.onnx_io import import_model

        module = import_model(self.model_proto if self.model_proto is not None else options.model)
        self.timings.append(("import-onnx", time.perf_counter() - began))
        self.check_model(module)
        module.attributes["qaicc.compile_flags"] = StringAttr(shlex.join(options.given))
        module.attributes["qaicc.target"] = StringAttr(self.target)
        module.attributes["qaicc.batch_size"] = IntegerAttr(options.batch_size, i64)

        sets = self.specializations or [{}]
        single = len(sets) == 1 and not self.retained
        programs: list[ProgramResult] = []
        containers = []
        for index, values in enumerate(sets):
            symbols = {**options.symbols, **values}
            work = module.clone() if len(sets) > 1 else module
            label = f"program {index} ({describe(values)})" if self.specializations else ""
            try:
                program, container = self.compile_program(
                    work, index, values, symbols, staging.path if single else None, label)
            except QaiccError as error:
                if not label:
                    raise
                raise QaiccError(f"{options.specialization_config}: specialization {index + 1} "
                                 f"({describe(values)}): {error}") from None
            programs.append(program)
            containers.append(container)
        if not single:
            began = time.perf_counter()
            self.write_programs(staging.path, containers, sets)
            self.timings.append(("write-programs", time.perf_counter() - began))
        path = staging.path / QPC_FILE
        self.say(f"wrote {options.binary_dir}/{QPC_FILE} ({path.stat().st_size:,} B, {len(programs)} program(s))")
        self.add_qpc_figures(staging.path, programs)
        self.check_retained(programs)

        metrics = dict(programs[0].metrics)
        metrics["qpc_bytes"] = path.stat().st_size
        metrics["programs"] = [p.metrics for p in programs]
        found_warnings = [w for p in programs for w in p.perf_warnings]
        self.report(programs, found_warnings)
        runs = []
        if not options.compile_only:
            from qaicc.driver.run import run_programs

            runs = run_programs(staging.path, options, len(programs), self.out, self.say, self.timings)
        return CompileResult(qpc_dir=staging.final, metrics=metrics, programs=programs, timings=self.timings,
                             warnings=self.warnings, perf_warnings=found_warnings, runs=runs, options=options,
                             seconds=0.0)

    def compile_program(self, module, index: int, values: Mapping[str, int], symbols: Mapping[str, int],
                        emit_dir: Path | None, label: str):
        from qaicc.ir.context import make_context
        from qaicc.ir.pipeline import Instrumentation, build_pipeline, run_pipeline
        from qaicc.passes import ALL_PASSES
        from qaicc.qpc.encoding import find_container

        options = self.options
        spec = pipeline_spec(options, target=self.target, symbols=symbols, float16_io=self.float16_io,
                             emit_dir=str(emit_dir) if emit_dir is not None else None)
        shown = spec.replace(str(emit_dir), options.binary_dir) if emit_dir is not None else spec
        if label:
            self.say(f"compiling {label}")
        self.say(f"pipeline: {shown}", level=3)
        passes = build_pipeline(spec, ALL_PASSES)
        ctx = make_context()
        instrumentation = Instrumentation(verify_each=False)
        suffix = f" ({label.split(' (')[0]})" if label else ""
        metrics = None
        for number, module_pass in enumerate(passes, start=1):
            if module_pass.name == QPC_CONVERSION:
                began = time.perf_counter()
                metrics = program_metrics(module, self.hw, options.batch_size)
                self.timings.append((f"static-metrics{suffix}", time.perf_counter() - began))
            run_pipeline([module_pass], module, ctx, instrumentation)
            name, seconds = instrumentation.timings[-1]
            self.timings.append((f"{name}{suffix}", seconds))
            self.say(f"[{number}/{len(passes)}] {name}{suffix} {seconds:.3f} s")
        container = find_container(module, PROG)
        assert metrics is not None
        return ProgramResult(index, dict(values), shown, metrics), container

    def write_programs(self, directory: Path, containers, sets) -> None:
        from qaicc.qpc.programs import write_programs

        programs = []
        for container, values in zip(containers, sets):
            extra: dict[str, Any] = {}
            if self.specializations:
                extra["specialization"] = dict(values)
            if self.retained:
                extra["retained_state"] = [dict(pair) for pair in self.retained]
            programs.append((container, extra))
        write_programs(directory, programs)

    def add_qpc_figures(self, directory: Path, programs: list[ProgramResult]) -> None:
        from qaicc.qpc.programs import load_programs

        for program, loaded in zip(programs, load_programs(directory, verify=False)):
            add_qpc_figures(program.metrics, loaded.meta, self.hw)
            program.metrics["specialization"] = dict(program.specialization)
            program.perf_warnings = perf_warnings(program.metrics, self.options)
            program.metrics["inputs"] = [{k: io[k] for k in ("name", "shape", "dtype")} for io in loaded.meta["inputs"]]
            program.metrics["outputs"] = [{k: io[k] for k in ("name", "shape", "dtype")} for io in loaded.meta["outputs"]]

    def check_retained(self, programs: list[ProgramResult]) -> None:
        for program in programs:
            inputs = {io["name"]: io for io in program.metrics["inputs"]}
            outputs = {io["name"]: io for io in program.metrics["outputs"]}
            for pair in self.retained:
                a, b = outputs[pair["output"]], inputs[pair["input"]]
                if (a["shape"], a["dtype"]) != (b["shape"], b["dtype"]):
                    shape = lambda io: f"{'x'.join(map(str, io['shape']))} {io['dtype']}"
                    raise QaiccError(
                        f"-retained-state: the output '{a['name']}' is {shape(a)} but the input '{b['name']}' is "
                        f"{shape(b)}; they must match (give both the same Precision in -custom-IO-list-file)")

    def report(self, programs: list[ProgramResult], found_warnings: list[str]) -> None:
        options = self.options
        if options.time_passes:
            self.out.write(format_timings(self.timings))
        if options.perf_metrics:
            for program in programs:
                title = (f" (program {program.index}: {describe(program.specialization)})"
                         if len(programs) > 1 else "")
                self.out.write(format_metrics(program.metrics, title))
        if options.perf_warnings:
            for program in programs:
                where = f"program {program.index}: " if len(programs) > 1 else ""
                for text in program.perf_warnings:
                    self.err.write(f"{PROG}: performance warning: {where}{text}\n")
            if not found_warnings:
                self.out.write(f"{PROG}: no performance warnings\n")
        self.out.flush()
        self.err.flush()


__all__ = ["CompileResult", "ProgramResult", "RunResult", "compile", "compile_flags"]
