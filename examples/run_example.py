"""Run a compiled QPC with ``qaicc-run`` and compare its outputs with onnxruntime.

    qaicc -m=examples/tiny_cnn.onnx -convert-to-fp16 -aic-num-cores=2 -ols=2 \\
          -aic-binary-dir=out/tiny_cnn -compile-only
    python examples/run_example.py --model examples/tiny_cnn.onnx --qpc out/tiny_cnn

Writes one seeded random input per model input as raw bytes (in the QPC's order and
types), runs ``qaicc-run -t QPC -i ... -n 40 --write-output-dir`` (which prints
qaic-runner's statistics from the simulator), reads the written outputs back and
compares each with onnxruntime on the same inputs. Exit status 0 when every output is
within the tolerance (float16 computation: 2e-2 relative to the output's range), else 1.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np


def _inputs(meta: dict, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    values = {}
    for io in meta["inputs"]:
        dtype, shape = np.dtype(io["dtype"]), tuple(io["shape"])
        if np.issubdtype(dtype, np.floating):
            values[io["name"]] = rng.standard_normal(shape).astype(dtype)
        elif dtype == np.bool_:
            values[io["name"]] = rng.integers(0, 2, shape).astype(dtype)
        else:
            values[io["name"]] = rng.integers(0, 100, shape).astype(dtype)
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="the ONNX model the QPC was compiled from")
    parser.add_argument("--qpc", required=True, help="the directory holding programqpc.bin")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rtol", type=float, default=2e-2, help="tolerance relative to each output's range")
    args = parser.parse_args(argv)

    import onnxruntime as ort

    from qaicc.qpc import load_qpc

    meta = load_qpc(args.qpc).meta
    values = _inputs(meta, args.seed)
    work = Path(tempfile.mkdtemp(prefix="qaicc-example-"))
    try:
        words = []
        for name, array in values.items():
            path = work / f"{name}.raw"
            np.ascontiguousarray(array).tofile(path)
            words += ["-i", str(path)]
        runner = Path(sys.executable).parent / "qaicc-run"
        command = [str(runner), "-t", args.qpc, *words, "-n", "40", "--write-output-dir", str(work / "outputs")]
        shown = ["qaicc-run"] + [c if "/" not in c or c == args.qpc else Path(c).name for c in command[1:]]
        print(f"$ {' '.join(shown)}    (inputs and outputs in {work})", flush=True)
        done = subprocess.run(command)
        if done.returncode != 0:
            return done.returncode

        session = ort.InferenceSession(args.model)
        feeds = {i.name: values[i.name].astype(np.float32) if values[i.name].dtype == np.float16 else values[i.name]
                 for i in session.get_inputs()}
        expected = dict(zip([o.name for o in session.get_outputs()], session.run(None, feeds)))
        ok = True
        print("\nqaicc (simulator, functional) vs onnxruntime:")
        for io in meta["outputs"]:
            name = io["name"]
            file = next((work / "outputs").glob(f"{name}-activation-0-inf-0.bin"))
            got = np.fromfile(file, dtype=np.dtype(io["dtype"])).reshape(io["shape"]).astype(np.float64)
            want = expected[name].astype(np.float64)
            error = float(np.abs(got - want).max())
            scale = float(np.abs(want).max()) or 1.0
            same = error <= args.rtol * scale
            ok &= same
            top = "" if got.ndim != 2 else (f", top-1 {'agrees' if (got.argmax(-1) == want.argmax(-1)).all() else 'differs'}")
            print(f"  {name:<20} {'x'.join(map(str, io['shape']))} {io['dtype']}: max |difference| {error:.3g} "
                  f"(output range {scale:.3g}){top}: {'OK' if same else 'MISMATCH'}")
        print("all outputs match onnxruntime" if ok else "some outputs differ from onnxruntime")
        return 0 if ok else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
