"""The run after compiling (qaic-exec without ``-compile-only``), on the simulator.

Each program of the QPC is loaded back from the file (what runs is what was written),
executed on numpy (``qaicc.simulator.runner.run_functional``) with one random input set
(seeded, as ``qaicc-run``) or the inferences of ``-input-list-file``, and timed by
``qaicc.simulator.simulate`` on ``-aic-num-of-instances`` instances (``RUN_INFERENCES``
inferences, qaic-runner's default). With ``-retained-state`` the inferences run in
order and each ``<x>_RetainedState`` output feeds input ``<x>`` of the next one.

Printed, per program, as qaic-runner does::

     ---- Stats ----
    InferenceCnt 40 TotalDuration 1234us BatchSize 1 Inf/Sec 32414.911

(``-stats-batchsize`` replaces the batch size in these figures.) ``-write-output-dir``
gets ``<output>-activation-0-inf-<i>.bin`` per inference, ``-aic-profiling-type`` the
files of ``qaicc.simulator.profiling`` in the current directory; both are written all at
once, atomically.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

import numpy as np

from qaicc.errors import QaiccError

RUN_INFERENCES = 40
SEED = 0


def read_input_list(path: str, meta: dict) -> list[list[str]]:
    """Each line: the raw input files of one inference, in the QPC's input order, or
    ``name:=file`` items in any order; separated by spaces or commas; ``#`` comments."""
    names = [io["name"] for io in meta["inputs"]]
    base = Path(path).parent
    inferences = []
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as error:
        raise QaiccError(f"-input-list-file={path}: cannot read the file ({error.strerror or error})") from None
    for number, line in enumerate(lines, start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        items = [item for item in re.split(r"[,\s]+", line) if item]
        if any(":=" in item for item in items):
            by_name = {}
            for item in items:
                name, sep, file = item.partition(":=")
                if not sep or name not in names:
                    raise QaiccError(f"-input-list-file={path}:{number}: '{item}' is not NAME:=FILE with NAME one of "
                                     f"{', '.join(names)}")
                by_name[name] = file
            missing = [n for n in names if n not in by_name]
            if missing:
                raise QaiccError(f"-input-list-file={path}:{number}: no file for input '{missing[0]}'")
            items = [by_name[n] for n in names]
        files = [str(Path(item) if Path(item).is_absolute() or Path(item).exists() else base / item) for item in items]
        inferences.append(files)
    if not inferences:
        raise QaiccError(f"-input-list-file={path}: no inference listed (one line of input files per inference)")
    return inferences


def run_programs(directory: Path, options, count: int, out: IO[str], say: Callable, timings: list) -> list:
    from qaicc.driver.compile import RunResult
    from qaicc.driver.config_files import describe
    from qaicc.hardware import load_target
    from qaicc.qpc.programs import load_program
    from qaicc.simulator import simulate, stats_line
    from qaicc.simulator.profiling import profiling_file, profiling_files
    from qaicc.simulator.runner import (
        output_file_name,
        random_input_sets,
        read_input_files,
        run_functional,
        write_files,
    )

    runs = []
    files = []
    for index in range(count):
        loaded = load_program(directory, index, verify=False)
        meta = loaded.meta
        began = time.perf_counter()
        module = loaded.to_aic_core()
        if options.input_list_file:
            input_sets = [read_input_files(meta, paths) for paths in read_input_list(options.input_list_file, meta)]
        else:
            input_sets = random_input_sets(meta, 1, SEED)
        results = run_functional(module, input_sets, meta.get("retained_state") or [])
        executed = time.perf_counter() - began
        began = time.perf_counter()
        simulation = simulate(loaded, instances=options.instances, inferences=RUN_INFERENCES,
                              record="trace" in options.profiling_types, module=module)
        timed = time.perf_counter() - began
        timings.append((f"run-functional (program {index})", executed))
        timings.append((f"run-timing (program {index})", timed))
        hw = load_target(meta["target"]["name"])
        say(f"program {index}: {len(input_sets)} input set(s) run on numpy in {executed:.2f} s, timed in {timed:.2f} s")
        for name, value in results[0].items():
            array = np.asarray(value)
            summary = (f"mean {float(array.mean()):.4g}, max |x| {float(np.abs(array).max()):.4g}"
                       if array.size and array.dtype.kind in "fc" else f"{array.size} values")
            say(f"  output {name}: {'x'.join(map(str, array.shape))} {array.dtype} ({summary})")
        if options.write_output_dir:
            outputs = [(io["name"], np.dtype(io["dtype"])) for io in meta["outputs"]]
            for inference, values in enumerate(results):
                for name, dtype in outputs:
                    file = output_file_name(name if count == 1 else f"program-{index}-{name}", 0, inference)
                    array = np.asarray(values[name])
                    files.append((Path(options.write_output_dir) / file,
                                  lambda a=array, d=dtype: np.ascontiguousarray(a, dtype=d.newbyteorder("<")).tobytes()))
        if options.profiling_types:
            made = profiling_files(simulation, options.profiling_types, Path.cwd())
            kinds = list(dict.fromkeys(options.profiling_types))
            files += [(Path.cwd() / profiling_file(kind, index), maker) for kind, (_, maker) in zip(kinds, made)]
        line = _stats_line(simulation, options.stats_batch_size) if options.stats_batch_size else stats_line(simulation)
        title = f" (program {index}: {describe(meta.get('specialization', {}))})" if count > 1 else ""
        out.write(f" ---- Stats{title} ----\n{line}\n")
        out.write(f"(simulated on the {hw.name} timing model, not measured: {simulation.num_cores} core(s) x "
                  f"{simulation.instances} instance(s), latency {simulation.latency_seconds * 1e6:.1f} us per "
                  "inference)\n")
        runs.append(RunResult(index, simulation, results, line))
    written = write_files(files) if files else []
    for path in written:
        say(f"wrote {path}")
    if runs:
        runs[-1].written = written
    out.flush()
    return runs


def _stats_line(result, batch: int) -> str:
    rate = result.inference_count * batch / result.total_duration_seconds if result.total_duration_seconds > 0 else 0.0
    return (f"InferenceCnt {result.inference_count} TotalDuration {result.total_duration_us}us "
            f"BatchSize {batch} Inf/Sec {rate:.3f}")
