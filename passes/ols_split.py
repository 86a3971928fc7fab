"""``ols-split``: compute each op's block on a core in K pieces, so that the DMA engine,
the matrix unit and the vector units overlap (``qaic-exec -ols=K``, overlap split factor).

    qaicc-opt m.mlir -p 'partition-cores{num-cores=4},ols-split{factor=2},convert-aic-graph-to-aic-core'

Every op that becomes aic-core tasks gets ``aic.ols = K`` and ``aic.tiles`` pieces along
``aic.tile_axis``, one of its parallel output axes (``slicing.parallel_axes``): K pieces
along an axis of its block that K divides, else the largest divisor of the block's
size below K (an op whose block is one element on every parallel axis stays whole);
among axes with as many pieces, the one the cost model finds fastest (a matmul's rows
keep its weight held, its channels stream the weight). More tiles already chosen (by
``mos``) are kept. convert-aic-graph-to-aic-core makes the pieces one loop with ``min(ols,
tiles)`` in flight. Example, a [1, 16, 64] block with ``factor=2``::

    %y = "aic_graph.binary"(%a, %b) <{kind = "add"}> {aic.blocks = [...], aic.tiles = 2 : i64,
        aic.tile_axis = 1 : i64, aic.ols = 2 : i64, ...}

Then every tile must fit the target's VTCM (``vtcm_usable_bytes``): the blocks a tile
loads plus its output, doubled when two or more tiles are in flight (double buffering;
a block the same for every tile, such as a matmul's weight under a row tiling, is
loaded once and held, not doubled). Where it does not fit, the pass raises the tile
count (divisors of the block, on any parallel axis, the fewest that fit); an op that
fits under no tiling is an error naming the op, its smallest working set and the limit.

Options: ``factor`` (K >= 1; default 1), ``target`` (default: the target
partition-cores recorded, else the default target).
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass

from qaicc.cost.partition_cost import (
    OpInfo,
    check_aic_graph,
    divisors,
    fitting_tiles,
    fused_dequantized,
    is_task,
    main_graph,
    target_of,
    task_cost,
)
from qaicc.dialects.aic_core.partition import Partition, read_partition, write_partition
from qaicc.errors import QaiccError
from qaicc.hardware import HardwareModel

PASS_NAME = "ols-split"


def _pieces(info: OpInfo, partition: Partition, factor: int) -> tuple[int, int]:
    """(axis, tiles): the most pieces up to ``factor`` (or the tiles already chosen, if
    more), ties broken by the estimated time."""
    block = partition.blocks[0]
    sharing = max(1, len(partition.blocks))
    options = [(partition.tile_axis, partition.tiles)]
    for axis in sorted(info.axes):
        options.append((axis, max(divisors(block.sizes[axis], factor), default=1)))
    best, best_key = options[0], None
    for index, (axis, tiles) in enumerate(options):
        cost = task_cost(info, block.offsets, block.sizes, tiles, axis, factor, sharing)
        key = (-tiles, cost.seconds, index)
        if best_key is None or key < best_key:
            best, best_key = (axis, tiles), key
    return best


def _fmt(nbytes: int) -> str:
    return f"{nbytes} bytes ({nbytes / 2**20:.1f} MiB)"


def ols_split(module: ModuleOp, factor: int, hw: HardwareModel) -> None:
    function = main_graph(module, PASS_NAME)
    check_aic_graph(function, PASS_NAME)
    fused = fused_dequantized(function)
    limit = hw.vtcm_usable_bytes
    for op in function.body.block.ops:
        if not is_task(op, fused):
            continue
        info = OpInfo(op, hw, fused)
        partition = read_partition(op)
        axis, tiles = (0, 1) if info.multi else _pieces(info, partition, factor)
        block = partition.blocks[0]
        cost = task_cost(info, block.offsets, block.sizes, tiles, axis, factor, max(1, len(partition.blocks)))
        if cost.working_set_bytes > limit:
            tiling, smallest = fitting_tiles(info, partition, factor, min_tiles=tiles + 1)
            if tiling is None:
                raise QaiccError(
                    f"{PASS_NAME}: op '{info.name}' ({op.name}) needs at least {_fmt(smallest.working_set_bytes)} "
                    f"of VTCM per core under any tiling, more than the {_fmt(limit)} of {hw.name}; "
                    "use more cores (partition-cores{num-cores=N}) or mos{effort=M}"
                )
            axis, tiles = tiling
        write_partition(op, Partition(partition.blocks, tiles=tiles, tile_axis=axis, ols=factor,
                                      channel_split=partition.channel_split))


@dataclass(frozen=True)
class OlsSplitPass(ModulePass):
    name = "ols-split"

    factor: int = 1
    target: str | None = None

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if self.factor < 1:
            raise QaiccError(f"{PASS_NAME}: factor must be at least 1, got {self.factor} (write ols-split{{factor=K}})")
        ols_split(op, self.factor, target_of(op, self.target))
