"""The files some flags name: ``-custom-IO-list-file`` (YAML) and
``-network-specialization-config`` (JSON).

**Custom I/O** (``read_custom_io(path) -> dict[name, precision]``)::

    - IOName: past_key.0
      Precision: float16
    - IOName: logits
      Precision: float16

Read with PyYAML when it is installed, else with a small parser of exactly this shape
(a list of mappings, ``key: value`` lines, ``#`` comments, optionally quoted values,
``- {IOName: x, Precision: float16}`` flow entries), so no YAML dependency is needed.
``check_custom_io(entries, inputs, outputs)`` checks the names against the model's
inputs and outputs and the precisions (``float16``; ``float32`` / ``float`` keep a
float32 I/O as it is; ``mxint8`` is not supported yet), each mistake one line naming the
file and the entry.

**Specializations** (``read_specializations(path) -> list[dict[symbol, size]]``)::

    {"specializations": [{"batch_size": "1", "seq_len": "32", "ctx_len": "128"},
                         {"batch_size": "1", "seq_len": "1", "ctx_len": "128"}]}

Sizes may be strings or integers, positive. ``check_specializations(sets, symbols,
defined)`` checks every key against the model's symbols (a clear error naming the bad
key and the model's symbols) and against ``-onnx-define-symbol``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from qaicc.errors import QaiccError

CUSTOM_IO_FLAG = "-custom-IO-list-file"
SPECIALIZATION_FLAG = "-network-specialization-config"
PRECISIONS = {"float16": "float16", "fp16": "float16", "half": "float16",
              "float32": "float32", "fp32": "float32", "float": "float32"}
NOT_SUPPORTED_PRECISIONS = ("mxint8", "int8", "uint8", "bfloat16")


def _read_text(flag: str, path: str | Path) -> str:
    path = Path(path)
    if not path.exists():
        raise QaiccError(f"{flag}={path}: no such file")
    if path.is_dir():
        raise QaiccError(f"{flag}={path}: is a directory, not a file")
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise QaiccError(f"{flag}={path}: cannot read the file ({getattr(error, 'strerror', None) or error})") from None


# -- a tiny YAML reader for lists of flat mappings ---------------------------------------


def _scalar(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def _strip_comment(line: str) -> str:
    quote = None
    for position, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "#" and (position == 0 or line[position - 1].isspace()):
            return line[:position]
    return line


def _pair(text: str, where: str) -> tuple[str, str]:
    key, colon, value = text.partition(":")
    if not colon or not key.strip():
        raise QaiccError(f"{where}: expected 'Key: value', got '{text.strip()}'")
    return _scalar(key), _scalar(value)


def parse_simple_yaml(text: str, source: str) -> list[dict[str, str]]:
    """A YAML list of flat mappings of scalars (the custom I/O file's shape)."""
    entries: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        where = f"{source}:{number}"
        line = _strip_comment(raw).rstrip()
        if not line.strip() or line.strip() in ("---", "..."):
            continue
        stripped = line.lstrip()
        if stripped.startswith("- ") or stripped == "-":
            current = {}
            entries.append(current)
            rest = stripped[1:].strip()
            if rest.startswith("{"):
                if not rest.endswith("}"):
                    raise QaiccError(f"{where}: an entry written '{{...}}' must end on its line with '}}'")
                for item in filter(str.strip, rest[1:-1].split(",")):
                    key, value = _pair(item, where)
                    current[key] = value
                current = None
                continue
            if not rest:
                continue
            stripped = rest
        elif current is None:
            raise QaiccError(f"{where}: expected a list entry starting with '- ', got '{stripped}'")
        elif line == stripped:
            raise QaiccError(f"{where}: '{stripped}' must be indented under its '- ' entry")
        key, value = _pair(stripped, where)
        if key in current:
            raise QaiccError(f"{where}: '{key}' is given twice in one entry")
        current[key] = value
    return entries


def _load_yaml(text: str, source: str) -> object:
    try:
        import yaml  # optional
    except ImportError:
        return parse_simple_yaml(text, source)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise QaiccError(f"{where}: not valid YAML ({problem})") from None


# -- custom I/O --------------------------------------------------------------------------


def read_custom_io(path: str | Path) -> dict[str, str]:
    """IOName -> precision (as written, lower-cased), in file order."""
    source = f"{CUSTOM_IO_FLAG}={path}"
    data = _load_yaml(_read_text(CUSTOM_IO_FLAG, path), source)
    if data is None:
        data = []
    if not isinstance(data, list):
        raise QaiccError(f"{source}: expected a list of entries '- IOName: NAME' / '  Precision: float16'")
    found: dict[str, str] = {}
    for number, entry in enumerate(data, start=1):
        if not isinstance(entry, Mapping):
            raise QaiccError(f"{source}: entry {number} is not 'IOName: NAME' / 'Precision: TYPE'")
        unknown = sorted(str(k) for k in entry if k not in ("IOName", "Precision"))
        if unknown:
            raise QaiccError(f"{source}: entry {number} has the unknown key '{unknown[0]}' (use IOName and Precision)")
        if "IOName" not in entry or entry["IOName"] in (None, ""):
            raise QaiccError(f"{source}: entry {number} has no IOName")
        name = str(entry["IOName"])
        if "Precision" not in entry or entry["Precision"] in (None, ""):
            raise QaiccError(f"{source}: entry {number} ('{name}') has no Precision")
        precision = str(entry["Precision"]).strip().lower()
        if name in found and found[name] != precision:
            raise QaiccError(f"{source}: '{name}' is listed twice with different precisions")
        found[name] = precision
    return found


def check_custom_io(
    entries: Mapping[str, str], path: str | Path, inputs: Mapping[str, str], outputs: Mapping[str, str]
) -> list[str]:
    """The I/O names to keep float16 at the boundary. ``inputs`` / ``outputs``: name ->
    numpy dtype name of the model's I/O."""
    source = f"{CUSTOM_IO_FLAG}={path}"
    ios = {**inputs, **outputs}
    float16 = []
    for name, precision in entries.items():
        if name not in ios:
            listed = ", ".join(list(inputs) + list(outputs))
            close = [n for n in ios if n.lower() == name.lower()]
            hint = f"; did you mean '{close[0]}'?" if close else f" (its inputs and outputs: {listed})"
            raise QaiccError(f"{source}: '{name}' is not an input or output of the model{hint}")
        if precision in NOT_SUPPORTED_PRECISIONS:
            raise QaiccError(f"{source}: '{name}': Precision {precision} is not supported yet (use float16)")
        wanted = PRECISIONS.get(precision)
        if wanted is None:
            raise QaiccError(f"{source}: '{name}': unknown Precision '{precision}' (use float16 or float32)")
        actual = ios[name]
        if actual not in ("float32", "float16", "float64"):
            raise QaiccError(f"{source}: '{name}' is {actual} in the model; only float inputs and outputs can "
                             f"change precision")
        if wanted == "float16" and actual != "float16":
            float16.append(name)
        elif wanted == "float32" and actual != "float32":
            raise QaiccError(f"{source}: '{name}' is {actual} in the model, it cannot be float32 at the boundary")
    return float16


# -- specializations ---------------------------------------------------------------------


def read_specializations(path: str | Path) -> list[dict[str, int]]:
    source = f"{SPECIALIZATION_FLAG}={path}"
    text = _read_text(SPECIALIZATION_FLAG, path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise QaiccError(f"{source}: not valid JSON (line {error.lineno}: {error.msg})") from None
    example = '{"specializations": [{"batch_size": "1", "seq_len": "32"}, ...]}'
    if not isinstance(data, dict) or "specializations" not in data:
        raise QaiccError(f"{source}: expected an object {example}")
    extra = sorted(k for k in data if k != "specializations")
    if extra:
        raise QaiccError(f"{source}: unknown key '{extra[0]}' (the file holds {example})")
    sets = data["specializations"]
    if not isinstance(sets, list) or not sets:
        raise QaiccError(f"{source}: 'specializations' must be a non-empty list of objects {example}")
    found: list[dict[str, int]] = []
    for number, entry in enumerate(sets, start=1):
        if not isinstance(entry, dict) or not entry:
            raise QaiccError(f"{source}: specialization {number} must be a non-empty object of symbol sizes")
        values = {}
        for key, value in entry.items():
            text_value = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else None
            if text_value is None or not re.fullmatch(r"\d+", text_value) or int(text_value) < 1:
                raise QaiccError(f"{source}: specialization {number}: '{key}' must be a positive integer, "
                                 f"not {json.dumps(value)}")
            values[key] = int(text_value)
        if values in found:
            raise QaiccError(f"{source}: specialization {number} repeats specialization {found.index(values) + 1}")
        found.append(values)
    return found


def check_specializations(
    sets: Sequence[Mapping[str, int]], path: str | Path, symbols: set[str], defined: Mapping[str, int]
) -> None:
    """Every key a symbol of the model, not also given by -onnx-define-symbol."""
    source = f"{SPECIALIZATION_FLAG}={path}"
    listed = ", ".join(sorted(symbols)) or "none"
    for number, values in enumerate(sets, start=1):
        for key in values:
            if key not in symbols:
                close = [s for s in symbols if s.lower() == key.lower()]
                hint = f"; did you mean '{close[0]}'?" if close else ""
                raise QaiccError(f"{source}: specialization {number}: '{key}' is not a symbol of the model "
                                 f"(its symbols: {listed}){hint}")
            if key in defined:
                raise QaiccError(f"{source}: specialization {number}: '{key}' is also given by "
                                 f"-onnx-define-symbol={key},{defined[key]}; give it in one place")


def describe(values: Mapping[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items())
