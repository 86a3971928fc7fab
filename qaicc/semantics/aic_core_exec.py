"""Reference semantics of the ``aic_core`` dialect: every core's program, run on numpy.

``aic_core.launch`` writes its arguments to the input DDR tensors, then runs the
programs of all cores as coroutines: a core runs until it waits on a semaphore whose
count is not reached, then the next core runs (round robin), so any order the
synchronization allows gives the same result. A round where no core makes progress is a
deadlock, reported with every blocked core. DMA loads copy DDR blocks into VTCM tiles
(block offsets advance by ``tile_steps`` per tile), compute regions run their aic_graph
ops with the aic_graph semantics, DMA stores write the tiles back.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from xdsl.dialects.builtin import ArrayAttr, ModuleOp

from qaicc.dialects.aic_core import ops as c
from qaicc.dialects.onnx.element_types import from_xdsl
from qaicc.errors import QaiccError
from qaicc.semantics.mxfp6 import MXFP6Weight
from qaicc.semantics.registry import register_op


class DDR:
    """The chip's DDR: one numpy array per root tensor; aliases are reshaped views."""

    def __init__(self, module: ModuleOp):
        self.arrays: dict[str, object] = {}
        self.aliases: dict[str, tuple[str, tuple[int, ...]]] = {}
        for op in module.body.block.ops:
            if isinstance(op, c.DDRTensorOp):
                self._declare(op)

    def _declare(self, op: c.DDRTensorOp) -> None:
        name, shape = op.sym_name.data, tuple(op.type.get_shape())
        kind = op.kind.data
        if kind == "alias":
            self.aliases[name] = (op.alias.root_reference.data, shape)
            return
        if kind == "constant":
            self.arrays[name] = _constant_value(op)
            return
        element = from_xdsl(op.type.element_type)
        dtype = element.numpy if element else np.float32
        self.arrays[name] = np.zeros(shape, dtype)

    def array(self, name: str):
        if name in self.aliases:
            root, shape = self.aliases[name]
            return np.reshape(self.array(root), shape)
        return self.arrays[name]

    def read(self, name: str, offsets, sizes, in_place: bool = False):
        source = self.array(name)
        if isinstance(source, MXFP6Weight):
            return source.block(offsets, sizes)
        index = tuple(slice(o, o + s) for o, s in zip(offsets, sizes))
        return source[index] if in_place else np.array(source[index], order="C")

    def write(self, name: str, offsets, value: np.ndarray) -> None:
        target = self.array(name)
        index = tuple(slice(o, o + s) for o, s in zip(offsets, np.shape(value)))
        target[index] = value


def _constant_value(op: c.DDRTensorOp):
    value = op.value
    if isinstance(value, ArrayAttr):  # MXFP6: [elements, scales, axis]
        elements, scales, axis = value.data
        return MXFP6Weight(elements.to_numpy(), scales.to_numpy(), axis.value.data, tuple(op.type.get_shape()))
    return value.to_numpy()


class _Machine:
    def __init__(self, module: ModuleOp, runner):
        self.module = module
        self.runner = runner
        self.ddr = DDR(module)
        self.semaphores: dict[str, int] = {}
        self.blocked: dict[int, str] = {}

    def run_task(self, task: c.TaskOp) -> None:
        for tile in range(task.tiles.value.data):
            env: dict = {}
            for op in task.body.block.ops:
                if isinstance(op, c.DMALoadOp):
                    offsets = [o + tile * s for o, s in zip(op.int_list("offsets"), op.int_list("tile_steps"))]
                    env[op.output] = self.ddr.read(op.source.root_reference.data, offsets,
                                                   op.output.type.get_shape(), op.in_ddr is not None)
                elif isinstance(op, c.ComputeOp):
                    values = self.runner.run_block(op.body.block, [env[v] for v in op.inputs])
                    env.update(zip(op.outputs, values))
                elif isinstance(op, c.DMAStoreOp):
                    offsets = [o + tile * s for o, s in zip(op.int_list("offsets"), op.int_list("tile_steps"))]
                    self.ddr.write(op.target.root_reference.data, offsets, env[op.value])

    def core(self, program: c.ProgramOp) -> Iterator[None]:
        core = program.core.value.data
        for op in program.body.block.ops:
            if isinstance(op, c.WaitOp):
                name = op.semaphore.root_reference.data
                while self.semaphores.get(name, 0) < op.count.value.data:
                    self.blocked[core] = f"waits on @{name} for {op.count.value.data} (has {self.semaphores.get(name, 0)})"
                    yield
                self.blocked.pop(core, None)
            elif isinstance(op, c.SignalOp):
                name = op.semaphore.root_reference.data
                self.semaphores[name] = self.semaphores.get(name, 0) + 1
            elif isinstance(op, c.TaskOp):
                self.run_task(op)

    def run(self) -> None:
        cores = [self.core(p) for p in self.module.body.block.ops if isinstance(p, c.ProgramOp)]
        while cores:
            before = dict(self.semaphores)
            still = []
            for program in cores:
                try:
                    next(program)
                    still.append(program)
                except StopIteration:
                    pass
            if len(still) == len(cores) and before == self.semaphores and still:
                detail = "; ".join(f"core {k} {v}" for k, v in sorted(self.blocked.items()))
                raise QaiccError(f"aic_core deadlock: {detail}")
            cores = still


@register_op("aic_core.launch")
def launch_kernel(op: c.LaunchOp):
    module = op.get_toplevel_object()
    inputs = [s.root_reference.data for s in op.inputs.data]
    outputs = [s.root_reference.data for s in op.outputs.data]

    def kernel(args, runner, env):
        machine = _Machine(module, runner)
        for name, value in zip(inputs, args):
            machine.ddr.arrays[name] = np.array(value)
        machine.run()
        return [np.array(machine.ddr.array(name)) for name in outputs]

    return kernel
