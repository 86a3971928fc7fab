"""Semantics of the ``onnx`` ops with regions: If, Loop, Scan, SequenceMap.

Regions run in the environment of their op, so a subgraph reads outer values directly
(as ONNX subgraphs do). Follows the ONNX specification of each operator (opset 11+ for
Loop and Scan; the batch-axis Scan of opset 8 has no semantics here).
"""

from __future__ import annotations

import numpy as np
from xdsl.dialects.builtin import TensorType

from qaicc.dialects.onnx.element_types import from_xdsl
from qaicc.semantics.registry import register_op


def _int_list(op, name: str, default: list[int]) -> list[int]:
    attr = op.properties.get(name)
    return list(attr.get_values()) if attr is not None else default


def _int(op, name: str, default: int) -> int:
    attr = op.properties.get(name)
    return attr.value.data if attr is not None else default


@register_op("onnx.If")
def if_kernel(op):
    then_block, else_block = op.then_branch.block, op.else_branch.block

    def kernel(args, runner, env):
        taken = then_block if bool(np.asarray(args[0]).reshape(-1)[0]) else else_block
        return runner.run_block(taken, [], env)

    return kernel


def _empty_stack(result_type) -> np.ndarray:
    """The value of a scan output that no iteration produced."""
    if not isinstance(result_type, TensorType):
        return np.zeros((0,), np.float32)
    element = from_xdsl(result_type.element_type)
    inner = [max(d, 0) for d in result_type.get_shape()[1:]]
    return np.zeros((0, *inner), element.numpy if element else np.float32)


@register_op("onnx.Loop")
def loop_kernel(op):
    body = op.body.block
    has_trip_count = op.M is not None
    has_condition = op.cond is not None
    n_carried = len(op.v_initial)
    result_types = [r.type for r in op.results]

    def kernel(args, runner, env):
        position = 0
        trip_count = None
        if has_trip_count:
            trip_count = int(np.asarray(args[0]).reshape(-1)[0])
            position += 1
        condition = True
        if has_condition:
            condition = bool(np.asarray(args[position]).reshape(-1)[0])
            position += 1
        carried = list(args[position:position + n_carried])
        scans: list[list] = []
        iteration = 0
        while condition and (trip_count is None or iteration < trip_count):
            outputs = runner.run_block(
                body, [np.array(iteration, np.int64), np.array(condition), *carried], env
            )
            condition = bool(np.asarray(outputs[0]).reshape(-1)[0])
            carried = list(outputs[1:1 + n_carried])
            step_scans = outputs[1 + n_carried:]
            if not scans:
                scans = [[] for _ in step_scans]
            for collected, value in zip(scans, step_scans):
                collected.append(value)
            iteration += 1
        n_scan = len(result_types) - n_carried
        stacked = []
        for index in range(n_scan):
            if scans and scans[index]:
                stacked.append(np.stack(scans[index]))
            else:
                stacked.append(_empty_stack(result_types[n_carried + index]))
        return carried + stacked

    return kernel


@register_op("onnx.Scan")
def scan_kernel(op):
    body = op.body.block
    n_scan_inputs = _int(op, "num_scan_inputs", 0)

    def kernel(args, runner, env):
        n_state = len(args) - n_scan_inputs
        states = list(args[:n_state])
        scan_inputs = [np.asarray(a) for a in args[n_state:]]
        in_axes = _int_list(op, "scan_input_axes", [0] * n_scan_inputs)
        in_dirs = _int_list(op, "scan_input_directions", [0] * n_scan_inputs)
        in_axes = [a + x.ndim if a < 0 else a for a, x in zip(in_axes, scan_inputs)]
        length = scan_inputs[0].shape[in_axes[0]] if scan_inputs else 0
        collected: list[list] = []
        for step in range(length):
            slices = []
            for x, axis, direction in zip(scan_inputs, in_axes, in_dirs):
                index = length - 1 - step if direction else step
                slices.append(np.take(x, index, axis=axis))
            outputs = runner.run_block(body, [*states, *slices], env)
            states = list(outputs[:n_state])
            step_outputs = outputs[n_state:]
            if not collected:
                collected = [[] for _ in step_outputs]
            for into, value in zip(collected, step_outputs):
                into.append(np.asarray(value))
        n_outputs = len(op.results) - n_state
        out_axes = _int_list(op, "scan_output_axes", [0] * n_outputs)
        out_dirs = _int_list(op, "scan_output_directions", [0] * n_outputs)
        scanned = []
        for index in range(n_outputs):
            values = collected[index] if collected else []
            if out_dirs[index]:
                values = values[::-1]
            stacked = np.stack(values) if values else _empty_stack(op.results[n_state + index].type)
            axis = out_axes[index]
            axis = axis + stacked.ndim if axis < 0 else axis
            scanned.append(np.moveaxis(stacked, 0, axis))
        return states + scanned

    return kernel


@register_op("onnx.SequenceMap")
def sequence_map_kernel(op):
    body = op.body.block

    def kernel(args, runner, env):
        sequence, extra = args[0], args[1:]
        results: list[list] = [[] for _ in op.results]
        for index in range(len(sequence)):
            step_args = [sequence[index]] + [e[index] if isinstance(e, list) else e for e in extra]
            outputs = runner.run_block(body, step_args, env)
            for into, value in zip(results, outputs):
                into.append(value)
        return results

    return kernel
