"""qaicc-run's command line: the statistics, the profiling files, and every user mistake
as one line with nothing left on disk."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pytest

from qaicc.qpc import load_qpc
from qaicc.simulator.profiling import profiling_file
from qaicc.simulator.runner import io_descriptors
from qaicc.tools.qaicc_run import main

STATS = re.compile(r"^InferenceCnt (\d+) TotalDuration (\d+)us BatchSize (\d+) Inf/Sec (\d+\.\d{3})$")


def _error(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("qaicc-run: error: ")
    assert "Traceback" not in captured.err
    return lines[0]


def run(capsys, args) -> int:
    """``main(args)`` with the capture emptied first (compiling a fixture may warn)."""
    capsys.readouterr()
    return main(args)


def _nothing_written(tmp_path, *names):
    for name in names:
        assert not (tmp_path / name).exists(), name
    assert not list(tmp_path.rglob("*.tmp-*"))


def test_the_statistics_lines(qpc_dir, tmp_path, capsys):
    stats = tmp_path / "stats.json"
    assert run(capsys, ["-t", str(qpc_dir("resnet50_small")), "-n", "9", "-a", "2", "--stats-json", str(stats)]) == 0
    lines = capsys.readouterr().out.splitlines()
    at = lines.index(" ---- Stats ----")
    match = STATS.match(lines[at + 1])
    assert match, lines[at + 1]
    count, duration, batch, rate = int(match[1]), int(match[2]), int(match[3]), float(match[4])
    assert (count, batch) == (9, 1)
    assert "simulated" in lines[at + 2]
    data = json.loads(stats.read_text())
    assert data["inference_count"] == 9 and data["instances"] == 2 and data["simulated"] is True
    assert data["total_duration_us"] == duration
    assert rate == pytest.approx(count * batch / data["total_duration_seconds"], rel=1e-3)
    assert data["stats_line"] == lines[at + 1]
    for key in ("latency_seconds", "round_seconds", "throughput", "ddr_read_bytes", "ddr_write_bytes",
                "multicast_bytes", "ddr_utilization", "cores", "ops", "figures", "latency"):
        assert key in data
    assert len(data["cores"]) == 2 * data["num_cores"]
    assert data["functional_runs"] == 9


def test_time_runs_as_many_inferences_as_fit(qpc_dir, capsys):
    assert run(capsys, ["-t", str(qpc_dir("resnet50_small")), "--time", "0.001", "-S", "1"]) == 0
    match = STATS.match(capsys.readouterr().out.splitlines()[1])
    assert int(match[1]) > 40 and 900 <= int(match[2]) <= 1000


def test_profiling_files(qpc_dir, tmp_path, capsys):
    directory = qpc_dir("bert_small")
    num_cores = load_qpc(directory).meta["num_cores"]
    out = tmp_path / "prof"
    args = ["-t", str(directory), "-n", "6", "-a", "3", "--aic-profiling-type", "stats",
            "--aic-profiling-type", "trace,latency", "--aic-profiling-out-dir", str(out)]
    assert run(capsys, args) == 0
    trace = json.loads((out / profiling_file("trace")).read_text())
    events = trace["traceEvents"]
    threads = {(e["pid"], e["tid"]): e["args"]["name"] for e in events if e["name"] == "thread_name"}
    assert len(threads) == 3 * num_cores * 3  # instances x cores x units
    expected = {f"core {k * num_cores + c} {u}" for k in range(3) for c in range(num_cores)
                for u in ("dma", "matrix", "vector")}
    assert set(threads.values()) == expected
    processes = {e["pid"]: e["args"]["name"] for e in events if e["name"] == "process_name"}
    assert [processes[k].split(" (")[0] for k in range(3)] == ["instance 0", "instance 1", "instance 2"]
    spans = [e for e in events if e["ph"] == "X"]
    assert spans and all((e["pid"], e["tid"]) in threads and e["dur"] >= 0 for e in spans)
    assert {e["cat"] for e in spans} == {"dma", "matrix", "vector"}
    for track in threads:  # one unit does one thing at a time
        mine = sorted((e["ts"], e["ts"] + e["dur"]) for e in spans if (e["pid"], e["tid"]) == track)
        assert all(a[1] <= b[0] + 1e-3 for a, b in zip(mine, mine[1:]))
    assert trace["otherData"]["simulated"] is True
    latency = (out / profiling_file("latency")).read_text().splitlines()
    assert "SIMULATED" in latency[0]
    rows = [line for line in latency if not line.startswith("#")]
    assert len(rows) == 6 and [int(r.split()[1]) for r in rows] == [0, 1, 2, 0, 1, 2]
    stats = (out / profiling_file("stats")).read_text()
    assert "SIMULATED" in stats and "node_embedding" in stats and "matmul" in stats


def test_an_input_file_of_the_wrong_size(qpc_dir, tmp_path, capsys):
    directory = qpc_dir("bert_small")
    inputs = io_descriptors(load_qpc(directory).meta, "inputs")
    files = []
    for index, desc in enumerate(inputs):
        path = tmp_path / f"{desc.name}.bin"
        path.write_bytes(bytes(desc.bytes - (8 if index == 1 else 0)))
        files += ["-i", str(path)]
    args = ["-t", str(directory), *files, "--write-output-dir", str(tmp_path / "out"),
            "--aic-profiling-type", "trace", "--aic-profiling-out-dir", str(tmp_path / "prof"),
            "--stats-json", str(tmp_path / "s.json")]
    assert run(capsys, args) == 1
    line = _error(capsys)
    wrong = inputs[1]
    assert f"input '{wrong.name}'" in line
    assert f"{wrong.bytes - 8} bytes" in line and f"expects {wrong.bytes} bytes" in line
    _nothing_written(tmp_path, "out", "prof", "s.json")
    assert run(capsys, ["-t", str(directory), *files[:2]]) == 1
    assert "takes 3 input(s)" in _error(capsys)


@pytest.mark.parametrize("damage", ["truncated", "flipped", "empty", "missing-dir", "not-a-qpc"])
def test_a_corrupted_or_missing_qpc(qpc_dir, tmp_path, capsys, damage):
    broken = tmp_path / "broken"
    shutil.copytree(qpc_dir("resnet50_small"), broken)
    path = broken / "programqpc.bin"
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "flipped":
        middle = len(data) // 2
        path.write_bytes(data[:middle] + bytes(b ^ 0xFF for b in data[middle:middle + 16]) + data[middle + 16:])
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "not-a-qpc":
        path.write_text("hello\n")
    else:
        broken = tmp_path / "nowhere"
    args = ["-t", str(broken), "--write-output-dir", str(tmp_path / "out"), "--aic-profiling-type", "latency",
            "--aic-profiling-out-dir", str(tmp_path / "prof"), "--stats-json", str(tmp_path / "s.json")]
    assert run(capsys, args) == 1
    line = _error(capsys)
    assert str(tmp_path) in line
    _nothing_written(tmp_path, "out", "prof", "s.json")


def test_too_many_instances(qpc_dir, tmp_path, capsys):
    directory = qpc_dir("resnet50_small")  # 2 cores
    assert run(capsys, ["-t", str(directory), "-a", "9", "--stats-json", str(tmp_path / "s.json")]) == 1
    line = _error(capsys)
    assert "9 instances x 2 cores = 18 cores" in line and "16 cores of ai100-pro" in line
    _nothing_written(tmp_path, "s.json")
    assert run(capsys, ["-t", str(directory), "-a", "8", "-n", "8", "-S", "1"]) == 0


@pytest.mark.parametrize("args,message", [
    (["-n", "0"], "argument -n/--num-iter: must be at least 1"),
    (["-a", "x"], "argument -a/--aic-num-of-activations: 'x' is not a whole number"),
    (["--time", "-1"], "argument --time: must be positive"),
    (["--aic-profiling-type", "flame"], "unknown --aic-profiling-type 'flame'"),
])
def test_bad_flags(qpc_dir, capsys, args, message):
    assert run(capsys, ["-t", str(qpc_dir("resnet50_small")), *args]) == 1
    assert message in _error(capsys)


def test_an_output_directory_that_cannot_be_made(qpc_dir, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("in the way")
    args = ["-t", str(qpc_dir("resnet50_small")), "-n", "2", "--write-output-dir", str(blocker / "out"),
            "--aic-profiling-type", "stats", "--aic-profiling-out-dir", str(tmp_path / "prof")]
    assert run(capsys, args) == 1
    assert "cannot write" in _error(capsys)
    _nothing_written(tmp_path, "prof")


def test_the_console_script_runs_without_a_traceback(qpc_dir, tmp_path):
    command = [sys.executable, "-m", "qaicc.tools.qaicc_run"]
    ok = subprocess.run([*command, "-t", str(qpc_dir("resnet50_small")), "-n", "2"], capture_output=True, text=True)
    assert ok.returncode == 0 and STATS.match(ok.stdout.splitlines()[1])
    bad = subprocess.run([*command, "-t", str(tmp_path / "none")], capture_output=True, text=True)
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr


@pytest.mark.parametrize("damage", ["no-target", "no-outputs", "bad-dtype", "bad-stream"])
def test_meta_data_damaged_behind_valid_checksums(qpc_dir, tmp_path, capsys, damage):
    from qaicc.qpc.container import write_atomically, write_container

    loaded = load_qpc(qpc_dir("resnet50_small"))
    meta = dict(loaded.meta)
    sections = {name: bytes(loaded.container.section(name)) for name in ("meta", "kernels", "streams", "constants")}
    if damage == "no-target":
        del meta["target"]
    elif damage == "no-outputs":
        del meta["outputs"]
    elif damage == "bad-dtype":
        meta["inputs"] = [dict(meta["inputs"][0], dtype="quaternion")]
    else:
        sections["streams"] = sections["streams"][:-8]
    if damage != "bad-stream":
        sections["meta"] = json.dumps(meta).encode()
    broken = tmp_path / "broken"
    broken.mkdir()
    write_atomically(broken / "programqpc.bin",
                     lambda out: write_container(out, [(name, [data]) for name, data in sections.items()]))
    assert run(capsys, ["-t", str(broken), "--stats-json", str(tmp_path / "s.json")]) == 1
    assert "broken" in _error(capsys)
    _nothing_written(tmp_path, "s.json")
