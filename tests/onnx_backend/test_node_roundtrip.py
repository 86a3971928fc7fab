"""Every ONNX backend node case imports; import -> export gives outputs identical to
onnxruntime on the original model, except the cases listed (by reason) in
``not_compared.txt``."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from qaicc.testing.node_cases import node_cases, round_trip
from qaicc.tools.onnx_node_report import read_expectations

EXPECTATIONS = Path(__file__).with_name("not_compared.txt")


@pytest.fixture(scope="module")
def results():
    return {case.name: round_trip(case) for case in node_cases()}


def test_the_installed_onnx_generates_the_node_cases():
    assert len(node_cases()) > 1500


def test_no_case_fails(results):
    failures = [f"{r.name}: {r.reason}" for r in results.values() if r.status == "fail"]
    assert not failures, "\n".join(failures)


def test_only_listed_cases_are_not_compared(results):
    expected = read_expectations(EXPECTATIONS)
    actual = {name: r.status for name, r in results.items() if r.status != "pass"}
    unexpected = {n: s for n, s in actual.items() if expected.get(n) != s}
    now_passing = sorted(n for n in expected if results.get(n) and results[n].status == "pass")
    assert not unexpected, f"not compared but not listed in {EXPECTATIONS.name}: {unexpected}"
    assert not now_passing, f"now pass, remove from {EXPECTATIONS.name}: {now_passing}"


def test_most_cases_are_compared(results):
    counts = Counter(r.status for r in results.values())
    assert counts["pass"] >= 1500
    assert counts["unsupported"] < 40
