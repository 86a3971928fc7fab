"""Partition attributes written by hand, for tests of the aic-core passes.

The real placement comes from ``partition-cores`` / ``mos`` / ``ols-split``; these
helpers write the same ``aic.*`` attributes (``qaicc.dialects.aic_core.partition``) with
simple rules, so that tests can lower a model to aic-core on any number of cores.

- ``split_evenly(module, cores, tiles, prefer)``: every op whose output has a parallel
  axis divisible by ``cores`` is cut into ``cores`` equal blocks along it ("rows",
  "channels" or "any" axis kind preferred), each block in ``tiles`` pieces (when they
  divide it) with ols = tiles; the other ops run whole on core 0.
- ``round_robin(module, cores)``: op i runs whole on core ``i % cores`` (independent
  ops land on different cores: a test bed for scheduling).
- ``lower_to_aic_core(module_or_path, cores, ...)``: an ONNX model (or aic_graph module)
  through the front end, a partition, and ``convert-aic-graph-to-aic-core``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp

from qaicc.dialects.aic_core.partition import CoreBlock, Partition, write_partition
from qaicc.dialects.aic_graph import ops as g
from qaicc.dialects.aic_graph.slicing import parallel_axes

FRONT_END = "bind-symbols{{batch_size={batch} sequence={sequence}}},shape-inference,canonicalize,convert-onnx-to-aic-graph"
_NOT_PARTITIONED = (g.ConstantOp, g.MXFP6ConstantOp, g.ReshapeOp, g.DequantizeOp)


def _compute_ops(module: ModuleOp):
    for function in module.ops:
        if isinstance(function, func.FuncOp) and function.sym_name.data == "main_graph":
            for op in function.body.block.ops:
                if isinstance(op, g.AicGraphOp) and not isinstance(op, _NOT_PARTITIONED) and len(op.results) == 1:
                    yield op


def split_evenly(module: ModuleOp, cores: int, tiles: int = 1, prefer: str = "rows") -> int:
    """Cut every op that can be cut across ``cores``; returns how many ops were cut."""
    count = 0
    for op in _compute_ops(module):
        axes = parallel_axes(op)
        shape = list(op.results[0].type.get_shape())
        fits = [a for a, kind in axes.items() if shape[a] % cores == 0 and shape[a] >= cores]
        preferred = [a for a in fits if prefer == "any" or axes[a] == prefer] or fits
        if not preferred:
            continue
        axis = preferred[-1] if prefer == "channels" else preferred[0]
        size = shape[axis] // cores
        blocks = []
        for core in range(cores):
            offsets, sizes = [0] * len(shape), list(shape)
            offsets[axis], sizes[axis] = core * size, size
            blocks.append(CoreBlock(core, offsets, sizes))
        pieces = tiles if size % tiles == 0 else 1
        write_partition(op, Partition(blocks, tiles=pieces, tile_axis=axis, ols=pieces))
        count += 1
    return count


def round_robin(module: ModuleOp, cores: int) -> int:
    """Op i whole on core i % cores; returns how many ops were placed."""
    count = 0
    for index, op in enumerate(_compute_ops(module)):
        shape = list(op.results[0].type.get_shape())
        write_partition(op, Partition([CoreBlock(index % cores, [0] * len(shape), shape)]))
        count += 1
    return count


def lower_to_aic_graph(model: str | Path, batch: int = 1, sequence: int = 16) -> ModuleOp:
    from qaicc.ir.context import make_context
    from qaicc.ir.pipeline import build_pipeline, run_pipeline
    from qaicc.onnx_io.importer import import_model
    from qaicc.passes import ALL_PASSES

    module = import_model(str(model))
    spec = FRONT_END.format(batch=batch, sequence=sequence)
    run_pipeline(build_pipeline(spec, ALL_PASSES), module, make_context())
    return module


def lower_to_aic_core(
    module: ModuleOp, cores: int, partition: Callable[[ModuleOp], object] | None = None, passes: str = ""
) -> ModuleOp:
    """Partition an aic_graph module (in place) and convert it to aic-core on ``cores``;
    then run ``passes`` (a pipeline string) if given."""
    from qaicc.ir.context import make_context
    from qaicc.ir.pipeline import build_pipeline, run_pipeline
    from qaicc.passes import ALL_PASSES

    if partition is not None:
        partition(module)
    spec = f"convert-aic-graph-to-aic-core{{num_cores={cores}}}" + (f",{passes}" if passes else "")
    run_pipeline(build_pipeline(spec, ALL_PASSES), module, make_context())
    return module
