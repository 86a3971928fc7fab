"""From flags to the pass pipeline: the one place that says which pass a flag means.

    options = CompileOptions.from_flags(parse_command_line(argv))
    pipeline_spec(options, target="ai100-pro", symbols={"batch_size": 1, "sequence": 128})

gives, for ``-convert-to-fp16 -aic-num-cores=4 -ols=2 -mos=2 -multicast-weights``::

    bind-symbols{batch_size=1 sequence=128},shape-inference,canonicalize,
    convert-onnx-to-aic-graph,fuse-aic-graph,legalize-fp16,
    partition-cores{num-cores=4 target="ai100-pro"},mos{effort=2 target="ai100-pro"},
    ols-split{factor=2 target="ai100-pro"},convert-aic-graph-to-aic-core,insert-multicast,
    plan-memory{target="ai100-pro"},schedule{target="ai100-pro"},keep-on-chip{target="ai100-pro"},
    convert-aic-core-to-qpc,emit-qpc{dir="out"}

| flag | pass |
|---|---|
| ``-onnx-define-symbol=s,N`` (and a specialization's sizes) | ``bind-symbols{s=N}`` |
| ``-convert-to-fp16`` (``-custom-IO-list-file`` float16 I/O) | ``legalize-fp16`` (``{float16-io=...}``) |
| ``-mxfp6-matmul`` | ``mxfp6-weights{format=e2m3}`` |
| ``-batchsize=B`` (B > 1) | ``batch{size=B}`` |
| ``-aic-num-cores=N`` (default 1), ``-aic-hw-version`` | ``partition-cores{num-cores=N target=T}`` |
| ``-mos=M`` (default: off) | ``mos{effort=M}`` |
| ``-ols=K`` (default 1: the pass still makes every tile fit VTCM) | ``ols-split{factor=K}`` |
| ``-multicast-weights`` | ``insert-multicast`` |
| (always) | ``plan-memory``, ``schedule``, ``keep-on-chip`` (activations a core reads back only from itself stay in its VTCM) |
| ``-aic-binary-dir=D`` | ``emit-qpc{dir=D}`` |

Without flags the program computes in float32 on one core.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from qaicc.driver.flags import DEFAULT_BINARY_DIR, ParsedFlags
from qaicc.errors import QaiccError

QPC_CONVERSION = "convert-aic-core-to-qpc"
MXFP6_FORMAT = "e2m3"


@dataclass
class CompileOptions:
    """The meaning of a command line, typed (see ``qaicc.driver.flags.FLAGS``)."""

    model: str | None = None
    symbols: dict[str, int] = field(default_factory=dict)
    specialization_config: str | None = None
    batch_size: int = 1
    stats_batch_size: int | None = None
    fp16: bool = False
    mxfp6: bool = False
    custom_io_file: str | None = None
    retained_state: bool = False
    hw_version: str = "2.0"
    num_cores: int = 1
    ols: int = 1
    mos: int | None = None
    multicast: bool = False
    binary_dir: str = DEFAULT_BINARY_DIR
    compile_only: bool = False
    operators_supported: str | None = None
    perf_metrics: bool = False
    perf_warnings: bool = False
    time_passes: bool = False
    verbose: int = 0  # 1 with -v, 3 with -vvv
    instances: int = 1
    profiling_types: list[str] = field(default_factory=list)
    input_list_file: str | None = None
    write_output_dir: str | None = None
    given: list[str] = field(default_factory=list)  # the flags as given

    @classmethod
    def from_flags(cls, flags: ParsedFlags) -> CompileOptions:
        symbols: dict[str, int] = {}
        for symbol, size in flags.get("onnx-define-symbol"):
            if symbol in symbols and symbols[symbol] != size:
                raise QaiccError(f"-onnx-define-symbol={symbol},{size}: '{symbol}' is already defined as "
                                 f"{symbols[symbol]}")
            symbols[symbol] = size
        profiling = []
        for kind in flags.get("aic-profiling-type"):
            if kind not in profiling:
                profiling.append(kind)
        verbose = 3 if flags.get("vvv") else 1 if flags.get("v") else 0
        return cls(
            model=flags.get("m"),
            symbols=symbols,
            specialization_config=flags.get("network-specialization-config"),
            batch_size=flags.get("batchsize"),
            stats_batch_size=flags.get("stats-batchsize"),
            fp16=bool(flags.get("convert-to-fp16")),
            mxfp6=bool(flags.get("mxfp6-matmul")),
            custom_io_file=flags.get("custom-IO-list-file"),
            retained_state=bool(flags.get("retained-state")),
            hw_version=flags.get("aic-hw-version"),
            num_cores=flags.get("aic-num-cores"),
            ols=flags.get("ols"),
            mos=flags.get("mos"),
            multicast=bool(flags.get("multicast-weights")),
            binary_dir=flags.get("aic-binary-dir") or DEFAULT_BINARY_DIR,
            compile_only=bool(flags.get("compile-only")),
            operators_supported=flags.get("operators-supported"),
            perf_metrics=bool(flags.get("aic-perf-metrics")),
            perf_warnings=bool(flags.get("aic-perf-warnings")),
            time_passes=bool(flags.get("time-passes")),
            verbose=verbose,
            instances=flags.get("aic-num-of-instances"),
            profiling_types=profiling,
            input_list_file=flags.get("input-list-file"),
            write_output_dir=flags.get("write-output-dir"),
            given=list(flags.given),
        )


def quote(text: str) -> str:
    """A string option of a pass spec (quotes and backslashes escaped)."""
    if any(char in text for char in "\n\r\f\v"):
        raise QaiccError(f"{text!r} cannot be passed to a pass: it holds a line break")
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def symbol_key(symbol: str) -> str:
    """A symbol as a bind-symbols option name."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", symbol):
        raise QaiccError(f"the symbol '{symbol}' cannot be bound: qaicc binds symbols named with letters, digits, "
                         "'_' and '-'")
    return symbol


def _spec(name: str, options: Mapping[str, object]) -> str:
    if not options:
        return name
    return name + "{" + " ".join(f"{key}={value}" for key, value in options.items()) + "}"


def pipeline_spec(
    options: CompileOptions,
    *,
    target: str,
    symbols: Mapping[str, int] | None = None,
    float16_io: Sequence[str] = (),
    emit_dir: str | None = None,
) -> str:
    """The pass pipeline of ``options`` for one program (``symbols``: every symbol's size
    for this program; ``emit_dir``: where emit-qpc writes, None to stop after the
    conversion to qpc)."""
    symbols = options.symbols if symbols is None else symbols
    on_target = {"target": quote(target)}
    passes = []
    if symbols:
        passes.append(_spec("bind-symbols", {symbol_key(s): v for s, v in symbols.items()}))
    passes += ["shape-inference", "canonicalize", "convert-onnx-to-aic-graph", "fuse-aic-graph"]
    if options.fp16:
        io = ",".join(quote(name) for name in float16_io)
        passes.append(_spec("legalize-fp16", {"float16-io": io} if io else {}))
    elif float16_io:
        raise QaiccError(f"{options.custom_io_file}: float16 inputs and outputs ({', '.join(float16_io)}) need "
                         "-convert-to-fp16")
    if options.mxfp6:
        passes.append(_spec("mxfp6-weights", {"format": MXFP6_FORMAT}))
    if options.batch_size > 1:
        passes.append(_spec("batch", {"size": options.batch_size}))
    passes.append(_spec("partition-cores", {"num-cores": options.num_cores, **on_target}))
    if options.mos is not None:
        passes.append(_spec("mos", {"effort": options.mos, **on_target}))
    passes.append(_spec("ols-split", {"factor": options.ols, **on_target}))
    passes.append("convert-aic-graph-to-aic-core")
    if options.multicast:
        passes.append("insert-multicast")
    passes.append(_spec("plan-memory", on_target))
    passes.append(_spec("schedule", on_target))
    passes.append(_spec("keep-on-chip", on_target))
    passes.append(QPC_CONVERSION)
    if emit_dir is not None:
        passes.append(_spec("emit-qpc", {"dir": quote(emit_dir)}))
    return ",".join(passes)


__all__ = ["CompileOptions", "QPC_CONVERSION", "pipeline_spec", "quote"]
