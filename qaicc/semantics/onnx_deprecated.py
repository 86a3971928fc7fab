"""Semantics of deprecated ONNX ops that onnx's reference implementation no longer has:
``Scatter`` (opsets 9-10, the same as ScatterElements without reduction) and the
batched ``Scan`` of opset 8 (axis 0 is the batch, axis 1 the scanned one)."""

from __future__ import annotations

import numpy as np

from qaicc.semantics.onnx_regions import _int, _int_list
from qaicc.semantics.registry import register_op


@register_op("onnx.Scatter")
def scatter_kernel(op):
    axis = _int(op, "axis", 0)

    def kernel(args, runner, env):
        data, indices, updates = (np.asarray(a) for a in args)
        out = data.copy()
        axis_ = axis + data.ndim if axis < 0 else axis
        indices = np.where(indices < 0, indices + data.shape[axis_], indices)
        np.put_along_axis(out, indices, updates, axis=axis_)
        return [out]

    return kernel


@register_op("onnx.ScanV8")
def scan8_kernel(op):
    body = op.body.block
    n_scan_inputs = _int(op, "num_scan_inputs", 0)

    def kernel(args, runner, env):
        has_lens = op.sequence_lens is not None
        lens = np.asarray(args[0]) if has_lens else None
        values = args[1:] if has_lens else args
        n_state = len(values) - n_scan_inputs
        directions = _int_list(op, "directions", [0] * n_scan_inputs)
        batch = np.asarray(values[0]).shape[0]
        outputs_per_batch = []
        for b in range(batch):
            states = [np.asarray(v)[b] for v in values[:n_state]]
            scans = [np.asarray(v)[b] for v in values[n_state:]]
            length = int(lens[b]) if lens is not None else scans[0].shape[0]
            collected: list[list] = []
            for step in range(length):
                slices = [s[length - 1 - step] if d else s[step] for s, d in zip(scans, directions)]
                outs = runner.run_block(body, [*states, *slices], env)
                states = list(outs[:n_state])
                if not collected:
                    collected = [[] for _ in outs[n_state:]]
                for into, value in zip(collected, outs[n_state:]):
                    into.append(np.asarray(value))
            outputs_per_batch.append(states + [np.stack(c) for c in collected])
        return [np.stack([per[i] for per in outputs_per_batch]) for i in range(len(op.results))]

    return kernel
