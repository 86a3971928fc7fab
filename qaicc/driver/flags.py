"""The ``qaicc`` command line: every documented flag of qaic-exec / qaic-compile.

    qaicc -m=bert.onnx -onnx-define-symbol=batch_size,1 -onnx-define-symbol=sequence,128 \\
          -convert-to-fp16 -aic-num-cores=4 -ols=2 -aic-binary-dir=out/bert -compile-only

``FLAGS`` is the one table of the flags: name (and aliases), value kind (``none``,
``int``, ``float``, ``str``, ``list``), whether it may be repeated, its default, its
help text and its status: ``implemented``, or ``not-supported-yet`` (the flag is
documented for the original tool and refused here with one line saying so).

Syntax, as the original: single dash, ``-flag`` or ``-flag=value`` (a value may hold
commas: ``-onnx-define-symbol=batch_size,8``); ``-flag value`` is accepted too when the
flag takes a value and the next word does not start with ``-``; ``--flag`` is read as
``-flag``. A flag without a value may be written ``-flag=true`` / ``-flag=false``.
Repeatable flags (``-onnx-define-symbol``, ``-aic-profiling-type``) collect their
values in order; any other flag given twice is an error unless both values agree.

``parse_command_line(argv) -> ParsedFlags``: every mistake is a ``QaiccError`` with one
line, e.g. ``unknown flag '-ols2'; did you mean '-ols'?``, ``-onnx-define-symbol=seq:
expected SYMBOL,VALUE (e.g. -onnx-define-symbol=batch_size,8)``, ``-aic-enable-depth-first
is not supported yet``. ``options_to_argv(**options)`` turns Python keyword options
(``aic_num_cores=4``, ``convert_to_fp16=True``, ``onnx_define_symbol={"sequence": 128}``)
into the same words, so that ``qaicc.compile`` checks them the same way.
``help_text()`` is what ``qaicc -h`` prints.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from qaicc.errors import QaiccError

IMPLEMENTED = "implemented"
NOT_SUPPORTED_YET = "not-supported-yet"
KINDS = ("none", "int", "float", "str", "list")
TRUE_WORDS = {"true": True, "1": True, "yes": True, "on": True, "false": False, "0": False, "no": False, "off": False}
DEFAULT_BINARY_DIR = "qpc"


@dataclass(frozen=True)
class Flag:
    name: str
    kind: str
    help: str
    status: str = IMPLEMENTED
    default: Any = None
    repeatable: bool = False
    aliases: tuple[str, ...] = ()
    metavar: str = ""
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    check: Callable[[str, str], Any] | None = None  # (shown flag, text) -> value, for special forms

    def __post_init__(self) -> None:
        assert self.kind in KINDS, self.kind
        assert self.status in (IMPLEMENTED, NOT_SUPPORTED_YET), self.status

    @property
    def usage(self) -> str:
        if self.kind == "none":
            return f"-{self.name}"
        metavar = self.metavar or {"int": "N", "float": "X", "str": "VALUE", "list": "A,B"}[self.kind]
        return f"-{self.name}={metavar}"


def _symbol(shown: str, text: str) -> tuple[str, int]:
    """``sym,N`` of ``-onnx-define-symbol``."""
    example = "(e.g. -onnx-define-symbol=batch_size,8)"
    symbol, comma, value = text.partition(",")
    symbol, value = symbol.strip(), value.strip()
    if not comma or not symbol or not value or "," in value:
        raise QaiccError(f"{shown}={text}: expected SYMBOL,VALUE {example}")
    if not re.fullmatch(r"[+]?\d+", value) or int(value) < 1:
        raise QaiccError(f"{shown}={text}: the value of '{symbol}' must be a positive integer, not '{value}' {example}")
    return symbol, int(value)


def _f(name: str, kind: str, help: str, **fields) -> Flag:
    return Flag(name, kind, help, **fields)


def _nsy(name: str, kind: str, help: str, **fields) -> Flag:
    return Flag(name, kind, help, status=NOT_SUPPORTED_YET, **fields)


FLAGS: tuple[Flag, ...] = (
    # -- the model and its shapes ------------------------------------------------------
    _f("m", "str", "path of the ONNX model to compile", aliases=("model",), metavar="PATH"),
    _f("onnx-define-symbol", "list", "give the symbolic dimension SYM the size N",
       repeatable=True, metavar="SYM,N", check=_symbol),
    _f("network-specialization-config", "str",
       'several static shape sets in one QPC sharing the weights: JSON {"specializations": '
       '[{"batch_size": "1", "seq_len": "32"}, ...]}', metavar="FILE.json"),
    _f("batchsize", "int", "compile for B samples per inference (the leading axis of every input and output)",
       default=1, minimum=1, metavar="B"),
    _f("stats-batchsize", "int", "the batch size used in reported figures only (Inf/Sec)", minimum=1, metavar="B"),
    # -- precision ---------------------------------------------------------------------
    _f("convert-to-fp16", "none", "compute in float16 (constants outside its range are clipped, with a warning); "
       "inputs and outputs keep their ONNX type"),
    _f("mxfp6-matmul", "none", "store MatMul weights as MXFP6 (6-bit elements, a shared scale per 32)"),
    _f("custom-IO-list-file", "str", "per input/output precision, YAML entries '- IOName: x' / "
       "'  Precision: float16'", metavar="FILE.yaml"),
    _f("retained-state", "none", "outputs named <x>_RetainedState feed input <x> on the next inference "
       "(recorded in the QPC)"),
    # -- the chip ----------------------------------------------------------------------
    _f("aic-hw-version", "str", "the target: 2.0, ai100 (Pro, 16 cores), ai100-standard (14 cores) or a "
       "target .json file", default="2.0", metavar="VERSION"),
    _f("aic-hw", "none", "run on the accelerator (here: the simulator); accepted for compatibility"),
    _f("aic-num-cores", "int", "cores of one chip the program is partitioned over", default=1, minimum=1,
       metavar="N"),
    _f("ols", "int", "overlap split factor: K pieces per op and core so DMA and compute overlap", default=1,
       minimum=1, metavar="K"),
    _f("mos", "int", "maximum output channel split: weights split over up to M cores; M >= 2 also "
       "rematerializes what does not fit VTCM (default: off)", minimum=1, metavar="M"),
    _f("multicast-weights", "none", "read a weight several cores need from DDR once and multicast it"),
    # -- output ------------------------------------------------------------------------
    _f("aic-binary-dir", "str", f"where programqpc.bin goes (default: ./{DEFAULT_BINARY_DIR})", metavar="DIR"),
    _f("compile-only", "none", "only compile; without it the program also runs on random inputs in the "
       "simulator and prints statistics"),
    _f("operators-supported", "str", "write OnnxSupportedOperators.txt (in the current directory, or "
       "-aic-binary-dir) and exit", metavar="onnx", choices=("onnx", "tensorflow", "pytorch", "caffe", "caffe2")),
    # -- reports -----------------------------------------------------------------------
    _f("aic-perf-metrics", "none", "print performance metrics: VTCM and DDR usage, DDR traffic, constants size"),
    _f("aic-perf-warnings", "none", "print performance warnings (VTCM nearly full, weight traffic, ...)"),
    _f("time-passes", "none", "print the compile time of every pass"),
    _f("v", "none", "print progress"),
    _f("vvv", "none", "print progress and the pass pipeline with every pass's options"),
    _f("version", "none", "print the version and exit"),
    _f("h", "none", "print this help and exit", aliases=("help",)),
    # -- the run after compiling (without -compile-only) -------------------------------
    _f("aic-num-of-instances", "int", "instances of the program in the run after compiling", default=1, minimum=1,
       metavar="N"),
    _f("aic-profiling-type", "str", "what the run writes: stats, trace (Perfetto) or latency",
       repeatable=True, metavar="TYPE", choices=("stats", "trace", "latency")),
    _f("input-list-file", "str", "inputs of the run: one line per inference listing raw input files, in the "
       "model's input order (or name:=file), separated by spaces or commas", metavar="FILE"),
    _f("write-output-dir", "str", "write the run's outputs as <output>-activation-0-inf-<i>.bin", metavar="DIR"),
    # -- documented for the original, not supported yet --------------------------------
    _nsy("execute-nodes-in-fp16", "list", "run these op types in float16 (mixed precision)", metavar="OP,OP"),
    _nsy("node-precision-info", "str", "per-node precision overrides", metavar="FILE.yaml"),
    _nsy("aic-enable-depth-first", "none", "depth-first scheduling"),
    _nsy("aic-depth-first-mem", "int", "memory size for depth-first scheduling (8..32)"),
    _nsy("size-split-granularity", "int", "max tile size target for ops too large for VTCM", metavar="KiB"),
    _nsy("vtcm-working-set-limit-ratio", "float", "max share of VTCM a single instruction may use"),
    _nsy("allocator-dealloc-delay", "int", "extend buffer lifetimes to reduce false dependencies"),
    _nsy("sdp-cluster-sizes", "list", "single-device partitioning into clusters"),
    _nsy("use-producer-dma", "int", "start DMAs from the producing thread"),
    _nsy("output-node-name", "str", "compile up to these outputs only", repeatable=True),
    _nsy("quantization-schema", "str", "INT8 post-training quantization"),
    _nsy("quantization-precision", "str", "INT8 post-training quantization"),
    _nsy("quantization-precision-bias", "str", "INT8 post-training quantization"),
    _nsy("quantization-calibration", "str", "INT8 post-training quantization"),
    _nsy("dump-profile", "str", "INT8 quantization: write the calibration profile", metavar="FILE"),
    _nsy("load-profile", "str", "INT8 quantization: read a calibration profile", metavar="FILE"),
    _nsy("convert-to-quantize", "none", "INT8 post-training quantization"),
    _nsy("enable-channelwise", "none", "INT8 quantization per channel"),
    _nsy("enable-rowwise", "none", "INT8 quantization per row"),
    _nsy("mdp-load-partition-config", "str", "split one model over several chips", metavar="FILE"),
    _nsy("mdp-dump-partition-config", "str", "split one model over several chips", metavar="FILE"),
    _nsy("register-custom-op", "str", "register a custom operator", metavar="FILE.yaml"),
)

NOT_SUPPORTED_PREFIXES = ("quantization-",)  # the family of INT8 quantization flags

BY_NAME: dict[str, Flag] = {}
for _flag in FLAGS:
    for _name in (_flag.name, *_flag.aliases):
        assert _name not in BY_NAME, _name
        BY_NAME[_name] = _flag


def option_name(flag: Flag) -> str:
    """The Python keyword of a flag: ``aic-num-cores`` -> ``aic_num_cores``,
    ``custom-IO-list-file`` -> ``custom_io_list_file``."""
    return flag.name.replace("-", "_").lower()


BY_OPTION: dict[str, Flag] = {option_name(f): f for f in FLAGS}
BY_OPTION.update({a.replace("-", "_").lower(): f for f in FLAGS for a in f.aliases})


@dataclass
class ParsedFlags:
    """The flags of one command line: ``values`` by canonical name (a list for repeatable
    flags), ``given`` the words as given (``-name=value``, in order, as the QPC records)."""

    values: dict[str, Any] = field(default_factory=dict)
    given: list[str] = field(default_factory=list)

    def get(self, name: str) -> Any:
        flag = BY_NAME[name]
        if flag.name in self.values:
            return self.values[flag.name]
        return [] if flag.repeatable else flag.default

    def has(self, name: str) -> bool:
        return BY_NAME[name].name in self.values

    def __contains__(self, name: str) -> bool:
        return self.has(name)


def closest_flag(name: str) -> str | None:
    candidates = [n for n in BY_NAME if len(n) > 1 or len(name) <= 2]
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    if not close:
        lowered = {n.lower(): n for n in BY_NAME}
        close = [lowered[name.lower()]] if name.lower() in lowered else []
    return close[0] if close else None


def _unknown(word: str, name: str) -> QaiccError:
    close = closest_flag(name)
    hint = f"; did you mean '-{close}'?" if close else " (qaicc -h lists the flags)"
    return QaiccError(f"unknown flag '{word.split('=', 1)[0]}'{hint}")


def convert_value(flag: Flag, shown: str, text: str) -> Any:
    """The value of ``-flag=text``, checked."""
    if flag.kind == "none":
        truth = TRUE_WORDS.get(text.strip().lower())
        if truth is None:
            raise QaiccError(f"{shown} takes no value (or =true / =false), not '{text}'")
        return truth
    if flag.check is not None:
        return flag.check(shown, text)
    if text == "" and flag.kind != "list":
        raise QaiccError(f"{shown} needs a value: {flag.usage}")
    if flag.kind == "int":
        if not re.fullmatch(r"[+-]?\d+", text.strip()):
            raise QaiccError(f"{shown}={text}: expected a whole number ({flag.usage})")
        value: Any = int(text)
    elif flag.kind == "float":
        try:
            value = float(text)
        except ValueError:
            raise QaiccError(f"{shown}={text}: expected a number ({flag.usage})") from None
    elif flag.kind == "list":
        value = [item.strip() for item in text.split(",") if item.strip()]
        if not value:
            raise QaiccError(f"{shown} needs a value: {flag.usage}")
        return value
    else:
        value = text
    if flag.minimum is not None and value < flag.minimum:
        raise QaiccError(f"{shown}={text}: must be at least {flag.minimum:g}")
    if flag.maximum is not None and value > flag.maximum:
        raise QaiccError(f"{shown}={text}: must be at most {flag.maximum:g}")
    if flag.choices and value not in flag.choices:
        raise QaiccError(f"{shown}={text}: use one of {', '.join(flag.choices)}")
    return value


def parse_command_line(argv: Sequence[str]) -> ParsedFlags:
    """Read qaic-exec / qaic-compile words (see the module docstring)."""
    parsed = ParsedFlags()
    words = list(argv)
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        if not word.startswith("-") or word in ("-", "--"):
            raise QaiccError(f"unexpected argument '{word}'; flags start with '-' (the model is given with -m=PATH)")
        body = word[2:] if word.startswith("--") else word[1:]
        name, has_value, text = body.partition("=")
        flag = BY_NAME.get(name)
        if flag is None:
            if name.startswith(NOT_SUPPORTED_PREFIXES):
                raise QaiccError(f"-{name} is not supported yet (INT8 quantization; qaicc compiles float models)")
            raise _unknown(word, name)
        shown = f"-{name}"
        if flag.status == NOT_SUPPORTED_YET:
            raise QaiccError(f"{shown} is not supported yet ({flag.help})")
        if not has_value:
            if flag.kind == "none":
                text = "true"
            elif index < len(words) and not words[index].startswith("-"):
                text = words[index]  # -flag value
                index += 1
            else:
                raise QaiccError(f"{shown} needs a value: {flag.usage}")
        value = convert_value(flag, shown, text)
        _store(parsed, flag, shown, value, text)
        parsed.given.append(shown if flag.kind == "none" and not has_value else f"{shown}={text}")
    return parsed


def _store(parsed: ParsedFlags, flag: Flag, shown: str, value: Any, text: str) -> None:
    if flag.repeatable:
        parsed.values.setdefault(flag.name, []).append(value)
        return
    if flag.name in parsed.values and parsed.values[flag.name] != value:
        raise QaiccError(f"{shown} is given twice with different values ({parsed.values[flag.name]!r} and {value!r})")
    parsed.values[flag.name] = value


# -- Python keyword options --------------------------------------------------------------


def _words_of(flag: Flag, value: Any) -> list[str]:
    shown = f"-{flag.name}"
    if value is None:
        return []
    if flag.kind == "none":
        if not isinstance(value, bool):
            raise QaiccError(f"option {option_name(flag)} takes True or False, not {value!r}")
        return [shown] if value else []
    if flag.name == "onnx-define-symbol":
        items = value.items() if isinstance(value, Mapping) else value
        words = []
        for item in items:
            if isinstance(item, str):
                words.append(f"{shown}={item}")
            else:
                symbol, size = item
                words.append(f"{shown}={symbol},{size}")
        return words
    if flag.repeatable and isinstance(value, Iterable) and not isinstance(value, str):
        return [f"{shown}={item}" for item in value]
    if flag.kind == "list" and isinstance(value, Iterable) and not isinstance(value, str):
        return [f"{shown}={','.join(str(v) for v in value)}"]
    return [f"{shown}={value}"]


def options_to_argv(options: Mapping[str, Any]) -> list[str]:
    """``{"aic_num_cores": 4, "convert_to_fp16": True}`` -> ``["-aic-num-cores=4", "-convert-to-fp16"]``."""
    words: list[str] = []
    for key, value in options.items():
        flag = BY_OPTION.get(key.lower())
        if flag is None:
            close = difflib.get_close_matches(key, BY_OPTION, n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise QaiccError(f"unknown option '{key}'{hint}")
        words += _words_of(flag, value)
    return words


# -- help --------------------------------------------------------------------------------


def help_text() -> str:
    lines = [
        "usage: qaicc -m=MODEL.onnx [-flag | -flag=value ...]",
        "",
        "Compile an ONNX model for Cloud AI 100 class accelerators into <dir>/programqpc.bin;",
        "the command line of qaic-exec / qaic-compile (single dash, -flag=value, repeatable flags).",
        "",
    ]
    width = max(len(_usage(f)) for f in FLAGS) + 2
    for title, status in (("flags:", IMPLEMENTED), ("documented for qaic-exec, not supported yet:", NOT_SUPPORTED_YET)):
        lines.append(title)
        for flag in FLAGS:
            if flag.status != status:
                continue
            notes = []
            if flag.default is not None and flag.kind != "none":
                notes.append(f"default {flag.default}")
            if flag.repeatable:
                notes.append("repeatable")
            note = f" [{', '.join(notes)}]" if notes else ""
            lines.append(f"  {_usage(flag):<{width}}{flag.help}{note}")
        lines.append("")
    lines.append("Every mistake is one line 'qaicc: error: ...' and exit status 1; nothing is left on disk.")
    return "\n".join(lines) + "\n"


def _usage(flag: Flag) -> str:
    names = [flag.usage] + [flag.usage.replace(f"-{flag.name}", f"-{alias}", 1) for alias in flag.aliases]
    return ", ".join(names)


__all__ = [
    "BY_NAME", "DEFAULT_BINARY_DIR", "FLAGS", "Flag", "IMPLEMENTED", "NOT_SUPPORTED_YET", "ParsedFlags",
    "closest_flag", "help_text", "options_to_argv", "parse_command_line",
]
