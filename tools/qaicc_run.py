"""``qaicc-run``: run a compiled QPC on the simulator (qaic-runner's command line).

    qaicc-run -t out/bert                      # random inputs, 40 inferences
    qaicc-run -t out/bert -i ids.bin -i mask.bin -i types.bin -n 100 -a 7
    qaicc-run -t out/bert --aic-profiling-type trace --aic-profiling-out-dir prof
    qaicc-run -t out/bert --write-output-dir outs --stats-json stats.json

The program is executed on numpy (the functional result: each distinct input set once,
``-S`` random sets, or the ``-i`` files) and timed with the event model of the chip
(``qaicc.simulator``): per core a DMA engine, the matrix unit and the vector units, DDR
bandwidth shared by every core of every instance, multicast over the on-chip network,
semaphores. The statistics are qaic-runner's, computed from simulated time::

     ---- Stats ----
    InferenceCnt 40 TotalDuration 755361us BatchSize 8 Inf/Sec 423.628

Options:

- ``-t/--test-data DIR``: the directory holding ``programqpc.bin`` (or the file).
- ``-i/--input-file FILE``: raw little-endian bytes of one input, once per input in the
  QPC's order (``qaicc-qpc inspect`` lists them); without ``-i``: seeded random inputs.
- ``-n/--num-iter N`` (40): inferences; ``--time SECONDS``: as many as fit in that much
  simulated time instead.
- ``-a/--aic-num-of-activations I`` (1): instances of the program, each on its own
  cores (instance k on cores k*C .. k*C+C-1); cores x instances above the chip's cores
  is refused.
- ``-S/--set-size S`` (10): distinct random input sets (inference j uses set j mod S).
- ``--write-output-dir DIR``: raw output bytes, ``<output>-activation-<a>-inf-<i>.bin``
  (inference j runs on activation j mod I as its inference j // I);
  ``--write-output-start-iter`` / ``--write-output-num-samples`` choose which.
- ``--aic-profiling-type stats|trace|latency`` (repeatable), ``--aic-profiling-out-dir
  DIR`` (default: the current directory): ``aic-profiling-program-0-stats.txt``,
  ``aic-profiling-program-0-trace.json`` (Chrome trace events: Perfetto,
  chrome://tracing), ``aic-profiling-program-0-latency.txt``.
- ``--stats-json FILE``: every simulated figure as one JSON object.
- ``--seed N`` (0): the random inputs' seed. ``-v``: more detail.

Every user mistake (a missing directory, a corrupted or truncated programqpc.bin, an
input file of the wrong size, too many instances) is one line ``qaicc-run: error: ...``
on stderr and exit status 1; nothing is written then (outputs and profiling files are
written all at once, atomically, after the run).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from qaicc.errors import QaiccError

PROG = "qaicc-run"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 1, as every user mistake
        sys.stderr.write(f"{PROG}: error: {message} (see {PROG} --help)\n")
        raise SystemExit(1)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, not {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, not {text}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Run a compiled QPC (programqpc.bin) on the qaicc simulator: the functional result on numpy, "
                    "the statistics of qaic-runner from a timing model of the chip (simulated, not measured).")
    parser.add_argument("-t", "--test-data", required=True, metavar="DIR",
                        help="the directory holding programqpc.bin (or the file)")
    parser.add_argument("-i", "--input-file", action="append", default=[], metavar="FILE",
                        help="raw bytes of one input, once per input in the QPC's order (default: random inputs)")
    parser.add_argument("-n", "--num-iter", type=_positive_int, default=40, metavar="N",
                        help="number of inferences (default 40)")
    parser.add_argument("--time", type=_seconds, metavar="SECONDS",
                        help="run for this much simulated time instead of -n inferences")
    parser.add_argument("-a", "--aic-num-of-activations", type=_positive_int, default=1, metavar="I",
                        help="instances of the program, each on its own cores (default 1)")
    parser.add_argument("-S", "--set-size", type=_positive_int, default=10, metavar="S",
                        help="distinct random input sets (default 10)")
    parser.add_argument("--write-output-dir", metavar="DIR",
                        help="write each output as <output>-activation-<a>-inf-<i>.bin here")
    parser.add_argument("--write-output-start-iter", type=_non_negative_int, default=0, metavar="N",
                        help="the first inference whose outputs are written (default 0)")
    parser.add_argument("--write-output-num-samples", type=_positive_int, metavar="N",
                        help="how many inferences' outputs are written (default: all)")
    parser.add_argument("--aic-profiling-type", action="append", default=[], metavar="TYPE",
                        help="stats, trace or latency (repeatable, or comma separated)")
    parser.add_argument("--aic-profiling-out-dir", default=".", metavar="DIR",
                        help="where profiling files go (default: the current directory)")
    parser.add_argument("--stats-json", metavar="FILE", help="write every simulated figure as JSON")
    parser.add_argument("--seed", type=_non_negative_int, default=0, help="seed of the random inputs (default 0)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print more detail")
    return parser


def _profiling_types(values: list[str]) -> list[str]:
    from qaicc.simulator.profiling import PROFILING_TYPES

    kinds = []
    for value in values:
        for kind in filter(None, (v.strip() for v in value.split(","))):
            if kind not in PROFILING_TYPES:
                raise QaiccError(f"unknown --aic-profiling-type '{kind}'; use {', '.join(PROFILING_TYPES)}")
            kinds.append(kind)
    return kinds


def _select_program(path: str, input_files: Sequence[str] | None):
    """The program to run: with several (``-network-specialization-config``), the one
    whose input sizes match the ``-i`` files; program 0 without ``-i``."""
    from qaicc.qpc import load_qpc
    from qaicc.qpc.programs import load_program, program_count
    from qaicc.simulator.runner import read_input_files

    first = load_qpc(path)
    count = program_count(first.meta)
    if count == 1 or not input_files:
        return first
    for index in range(count):
        candidate = load_program(first, index)
        try:
            read_input_files(candidate.meta, input_files)
        except QaiccError:
            continue
        return candidate
    raise QaiccError(
        f"{first.path}: none of its {count} programs (specializations) takes inputs of the sizes of the -i files"
    )


def _load(path: str, input_files: Sequence[str] | None = None):
    """The checked QPC (the program the inputs select), its aic-core module and its target;
    a file damaged in a way the container's checks let through is a one-line error too."""
    from qaicc.hardware import load_target
    from qaicc.simulator.runner import io_descriptors

    loaded = _select_program(path, input_files)
    try:
        hw = load_target(loaded.meta["target"]["name"])
        int(loaded.meta["num_cores"])
        try:
            io_descriptors(loaded.meta, "inputs")
            io_descriptors(loaded.meta, "outputs")
        except QaiccError as error:
            raise QaiccError(f"{loaded.path}: {error}") from None
        module = loaded.to_aic_core()
    except QaiccError:
        raise
    except Exception as error:
        raise QaiccError(f"{loaded.path}: corrupted QPC: cannot rebuild the program ({type(error).__name__}: {error})") from None
    return loaded, module, hw


def run(args: argparse.Namespace, out=None) -> int:
    out = out or sys.stdout
    from qaicc.simulator import check_instances, simulate, stats_line
    from qaicc.simulator.profiling import profiling_files
    from qaicc.simulator.runner import output_files, random_input_sets, read_input_files, run_functional, write_files

    kinds = _profiling_types(args.aic_profiling_type)
    test_data = Path(args.test_data)
    if not test_data.exists():
        raise QaiccError(f"{test_data}: no such directory (give -t the directory holding programqpc.bin)")
    loaded, module, hw = _load(args.test_data, args.input_file)
    meta = loaded.meta
    check_instances(args.aic_num_of_activations, meta["num_cores"], hw)
    instances = args.aic_num_of_activations
    if args.input_file:
        input_sets = [read_input_files(meta, args.input_file)]
    else:
        input_sets = None

    started = time.perf_counter()
    result = simulate(loaded, instances=instances, inferences=None if args.time else args.num_iter,
                      seconds=args.time, record="trace" in kinds, module=module)
    timed = time.perf_counter() - started
    count = result.inference_count
    if input_sets is None:
        input_sets = random_input_sets(meta, min(args.set_size, count), args.seed)
    retained = meta.get("retained_state") or []
    if retained:  # each inference depends on the one before: run all of them, in order
        input_sets = [input_sets[i % len(input_sets)] for i in range(count)]
    started = time.perf_counter()
    results = run_functional(module, input_sets, retained)
    executed = time.perf_counter() - started

    files = []
    if args.write_output_dir:
        files += output_files(meta, results, Path(args.write_output_dir), count, instances,
                              args.write_output_start_iter, args.write_output_num_samples)
    if kinds:
        files += profiling_files(result, kinds, Path(args.aic_profiling_out_dir))
    if args.stats_json:
        data = result.as_dict()
        data["functional_runs"] = len(results)
        files.append((Path(args.stats_json), lambda: json.dumps(data, indent=2) + "\n"))
    written = write_files(files)

    if args.verbose:
        out.write(f"{PROG}: {loaded.path}: {hw.name}, {result.num_cores} core(s) x {instances} instance(s), "
                  f"batch {result.batch_size}; {len(results)} distinct input set(s) run on numpy in {executed:.2f} s, "
                  f"timed in {timed:.2f} s\n")
        out.write(f"{PROG}: latency {result.latency_seconds * 1e6:.3f} us alone, round {result.round_seconds * 1e6:.3f} us "
                  f"with {instances} instance(s); DDR per inference: {result.ddr_read_bytes} B read, "
                  f"{result.ddr_write_bytes} B written, {result.multicast_bytes} B multicast\n")
        for path in written:
            out.write(f"{PROG}: wrote {path}\n")
    out.write(" ---- Stats ----\n")
    out.write(stats_line(result) + "\n")
    out.write(f"(simulated: figures from the qaicc timing model of {hw.name}, not measured on hardware; "
              f"latency {result.latency_seconds * 1e6:.1f} us per inference)\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as stop:  # --help (0) or a bad flag (1, already said in one line)
        return int(stop.code or 0)
    try:
        return run(args)
    except QaiccError as error:
        sys.stderr.write(f"{PROG}: error: {str(error).splitlines()[0]}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
