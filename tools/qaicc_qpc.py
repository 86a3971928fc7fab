"""``qaicc-qpc``: look into a compiled program container (``programqpc.bin``).

    qaicc-qpc inspect out/bert            # the directory holding programqpc.bin, or the file
    qaicc-qpc inspect out/bert --json     # the same as one JSON object

``inspect`` checks the whole file (structure and every section's SHA-256) and prints the
target, cores, batch, compile flags, I/O (names, shapes, types), the sections with their
sizes, the VTCM and DDR requirements, and the kernels and per-core instruction counts.

A missing, truncated or corrupted file is one line ``qaicc-qpc: error: ...`` on stderr
and exit status 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from qaicc.errors import QaiccError

PROG = "qaicc-qpc"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, as every qaicc tool
        sys.stderr.write(f"{PROG}: error: {message} (see {PROG} --help)\n")
        raise SystemExit(2)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Inspect a program container (programqpc.bin) written by qaicc.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    inspect = commands.add_parser("inspect", help="show what a QPC holds")
    inspect.add_argument("path", metavar="DIR", help="the directory holding programqpc.bin (or the file)")
    inspect.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def flags_text(flags: dict) -> str:
    parts = []
    for key in sorted(flags):
        values = flags[key] if isinstance(flags[key], list) else [flags[key]]
        parts += [f"-{key}" if value == "true" else f"-{key}={value}" for value in values]
    return " ".join(parts)


def summary(loaded) -> dict:
    """What ``inspect --json`` prints."""
    meta = loaded.meta
    ddr = {k: v for k, v in meta["ddr"].items() if k != "tensors"}
    constants = {k: v for k, v in meta["constants"].items() if k != "entries"}
    io = lambda e: {k: e[k] for k in ("name", "shape", "dtype", "type", "batch", "bytes")}
    return {
        "path": str(loaded.path),
        "file_bytes": loaded.container.file_size,
        "format_version": "{}.{}".format(*loaded.version),
        "qpc_ir_version": meta["qpc_ir_version"],
        "target": meta["target"],
        "num_cores": meta["num_cores"],
        "batch_size": meta["batch_size"],
        "flags": meta["flags"],
        "inputs": [io(e) for e in meta["inputs"]],
        "outputs": [io(e) for e in meta["outputs"]],
        "sections": [{"name": s.name, "offset": s.offset, "bytes": s.size, "sha256": s.sha256}
                     for s in loaded.sections],
        "vtcm": meta["vtcm"],
        "ddr": ddr,
        "constants": constants,
        "kernels": meta["kernels"],
        "streams": meta["streams"],
    }


def _bytes(count: int) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= size:
            return f"{count:,} B ({count / size:.1f} {unit})"
    return f"{count:,} B"


def _runs(values: list[int]) -> str:
    """``[5, 5, 5, 7]`` -> ``"0-2: 5, 3: 7"``."""
    parts, start = [], 0
    for index in range(1, len(values) + 1):
        if index == len(values) or values[index] != values[start]:
            cores = f"{start}" if index - 1 == start else f"{start}-{index - 1}"
            parts.append(f"{cores}: {values[start]:,}")
            start = index
    return ", ".join(parts)


def render(info: dict) -> str:
    lines = []
    add = lines.append
    target = info["target"]
    add(f"QPC {info['path']}")
    add(f"  format {info['format_version']} (qpc IR {info['qpc_ir_version']}), {_bytes(info['file_bytes'])}")
    add(f"target: {target['name']} ({target['cores']} cores, {_bytes(target['vtcm_usable_bytes'])} usable VTCM per core)")
    add(f"cores: {info['num_cores']}")
    add(f"batch: {info['batch_size']}")
    add(f"flags: {flags_text(info['flags']) or '(none)'}")
    for title, entries in (("inputs", info["inputs"]), ("outputs", info["outputs"])):
        add(f"{title}:")
        width = max((len(e["name"]) for e in entries), default=0)
        for e in entries:
            shape = "x".join(str(d) for d in e["shape"]) or "scalar"
            add(f"  {e['name']:<{width}}  {e['dtype']:<8}  {shape:<16}  batch {e['batch']}  {_bytes(e['bytes'])}")
    add("sections:")
    for s in info["sections"]:
        add(f"  {s['name']:<10} offset {s['offset']:>12,}  size {_bytes(s['bytes']):<26}  sha256 {s['sha256'][:16]}")
    vtcm = info["vtcm"]
    how = "planned" if vtcm["planned"] else "estimated, no VTCM plan: the largest task working set"
    add(f"VTCM: peak {_bytes(vtcm['peak_bytes'])} of {_bytes(vtcm['capacity_bytes'])} per core ({how})")
    add("  per core: " + _runs(vtcm["peak_bytes_per_core"]))
    ddr = info["ddr"]
    how = "planned offsets" if ddr["planned"] else "not planned: the sum of the tensors"
    add(f"DDR: {_bytes(ddr['total_bytes'])} ({how})")
    add("  " + ", ".join(f"{kind} {_bytes(size)}" for kind, size in ddr["bytes_by_kind"].items()))
    constants = info["constants"]
    add(f"constants: {constants['count']} in a {_bytes(constants['segment_bytes'])} segment")
    kernels = info["kernels"]
    by_unit = ", ".join(f"{n} {unit}" for unit, n in kernels["by_unit"].items())
    add(f"kernels: {kernels['count']} unique ({by_unit})")
    add("streams:")
    columns = ("tasks", "tile_iterations", "dma_loads", "execs", "dma_stores", "waits", "signals")
    widths = [max(len(c), *(len(f"{s[c]:,}") for s in info["streams"])) for c in columns]
    add("  core " + " ".join(f"{c:>{w}}" for c, w in zip(columns, widths)))
    for stream in info["streams"]:
        add(f"  {stream['core']:>4} " + " ".join(f"{stream[c]:>{w},}" for c, w in zip(columns, widths)))
    return "\n".join(lines) + "\n"


def inspect(path: str, as_json: bool) -> None:
    from qaicc.qpc.loader import load_qpc

    loaded = load_qpc(path)
    try:
        info = summary(loaded)
        text = json.dumps(info, indent=2, sort_keys=True) + "\n" if as_json else render(info)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise QaiccError(f"{loaded.path}: corrupted QPC: the meta data is incomplete ({type(error).__name__}: {error})") from None
    sys.stdout.write(text)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "inspect":
            inspect(args.path, args.json)
    except QaiccError as error:
        message = str(error).strip().splitlines()
        sys.stderr.write(f"{PROG}: error: {message[0] if message else 'failed'}\n")
        return 1
    except BrokenPipeError:
        return 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
