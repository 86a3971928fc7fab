"""Round-trip every ONNX backend node case through qaicc and report the results.

Usage: ``python -m qaicc.tools.onnx_node_report [--write-expectations FILE] [--by-op]``

For each case generated in memory by the installed onnx package: import -> verify ->
export -> onnxruntime, compared with onnxruntime on the original model. Prints counts by
status; ``--by-op`` prints the pass rate by operator; ``--write-expectations`` writes the
file of cases that cannot be compared, grouped by reason (the test suite checks it).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

from qaicc.testing.node_cases import CaseResult, node_cases, round_trip

HEADER = """\
# ONNX backend node cases (generated in memory by the installed onnx package) whose
# import -> export round trip cannot be compared with onnxruntime, grouped by reason.
# Every case not listed here must import, verify, export, and give outputs identical to
# onnxruntime on the original model. Regenerate with:
#   python -m qaicc.tools.onnx_node_report --write-expectations tests/onnx_backend/not_compared.txt
# Statuses: 'ort-fails' = the case imports and exports, but onnxruntime cannot run the
# original model; 'unsupported' = the model uses a domain other than ai.onnx, which the
# importer reports (as it should).
"""


def reason_group(result: CaseResult) -> str:
    """The reason with names, numbers of nodes and versions made generic."""
    reason = re.sub(r"'[^']*'", "'*'", result.reason)
    reason = re.sub(r"node\(s\): .*", "node(s)", reason)
    reason = re.sub(r"Name:'\*' Status Message: .*", "", reason)
    reason = re.sub(r"/onnxruntime_src/\S+", "<ort source>", reason)
    return reason[:160].strip()


def op_of(case) -> str:
    types = sorted({node.op_type for node in case.model.graph.node})
    return types[0] if len(types) == 1 else "+".join(types[:3]) + ("+..." if len(types) > 3 else "")


def write_expectations(results: list[CaseResult], path: Path) -> None:
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for result in results:
        if result.status in ("ort-fails", "unsupported"):
            groups[(result.status, reason_group(result))].append(result.name)
    lines = [HEADER]
    for (status, reason), names in sorted(groups.items()):
        lines.append(f"[{status}] {reason}")
        lines += sorted(names)
        lines.append("")
    path.write_text("\n".join(lines))


def read_expectations(path: Path) -> dict[str, str]:
    """case name -> expected status."""
    expected: dict[str, str] = {}
    status = None
    for line in path.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            status = line[1:line.index("]")]
            continue
        expected[line.strip()] = status or "?"
    return expected


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write-expectations", type=Path, metavar="FILE")
    parser.add_argument("--by-op", action="store_true", help="print the pass rate by operator")
    args = parser.parse_args(argv)
    cases = node_cases()
    results = [round_trip(case) for case in cases]
    counts = Counter(r.status for r in results)
    print(f"{len(results)} cases: " + ", ".join(f"{n} {s}" for s, n in counts.most_common()))
    compared = counts["pass"] + counts["fail"]
    if compared:
        print(f"pass rate among cases onnxruntime runs: {counts['pass']}/{compared} = {counts['pass'] / compared:.1%}")
    for result in results:
        if result.status == "fail":
            print(f"FAIL {result.name}: {result.reason}")
    if args.by_op:
        by_op: dict[str, Counter] = defaultdict(Counter)
        for case, result in zip(cases, results):
            by_op[op_of(case)][result.status] += 1
        for op, c in sorted(by_op.items()):
            print(f"{op:40s} pass {c['pass']:3d}  fail {c['fail']:3d}  ort-fails {c['ort-fails']:3d}  unsupported {c['unsupported']:3d}")
    if args.write_expectations:
        write_expectations(results, args.write_expectations)
        print(f"wrote {args.write_expectations}")
    return 1 if counts["fail"] else 0


if __name__ == "__main__":
    sys.exit(main())
