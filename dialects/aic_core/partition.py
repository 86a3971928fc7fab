"""How an aic_graph op's work is shared among cores, as attributes on the op.

``partition-cores`` / ``mos`` / ``ols-split`` write them; ``convert-aic-graph-to-aic-core``
reads them:

- ``aic.blocks = [array<i64: core, offsets..., sizes...>, ...]``: the output block each
  participating core computes (offsets and sizes on every axis of result 0);
- ``aic.tiles = K``, ``aic.tile_axis = a``: each core computes its block in K equal
  pieces cut along output axis a;
- ``aic.ols = K``: how many of those pieces are in flight (overlap of DMA and compute).

An op without ``aic.blocks`` runs whole on core 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xdsl.dialects.builtin import ArrayAttr, BytesAttr, DenseArrayBase, IntegerAttr, i64
from xdsl.ir import Operation

import numpy as np


@dataclass
class CoreBlock:
    core: int
    offsets: list[int]
    sizes: list[int]


@dataclass
class Partition:
    blocks: list[CoreBlock]
    tiles: int = 1
    tile_axis: int = 0
    ols: int = 1
    channel_split: int = 1
    extra: dict = field(default_factory=dict)

    @property
    def cores(self) -> list[int]:
        return [b.core for b in self.blocks]


def _array(values) -> DenseArrayBase:
    return DenseArrayBase(i64, BytesAttr(np.asarray(list(values), dtype="<i8").tobytes()))


def whole(op: Operation, core: int = 0) -> Partition:
    shape = list(op.results[0].type.get_shape())
    return Partition([CoreBlock(core, [0] * len(shape), shape)])


def read_partition(op: Operation) -> Partition:
    blocks_attr = op.attributes.get("aic.blocks")
    if blocks_attr is None or not op.results:
        return whole(op) if op.results else Partition([])
    rank = len(op.results[0].type.get_shape())
    blocks = []
    for entry in blocks_attr.data:
        values = list(entry.get_values())
        blocks.append(CoreBlock(values[0], values[1:1 + rank], values[1 + rank:1 + 2 * rank]))
    get = lambda name, default: op.attributes[name].value.data if name in op.attributes else default
    return Partition(blocks, get("aic.tiles", 1), get("aic.tile_axis", 0), get("aic.ols", 1),
                     get("aic.channel_split", 1))


def write_partition(op: Operation, partition: Partition) -> None:
    op.attributes["aic.blocks"] = ArrayAttr([_array([b.core, *b.offsets, *b.sizes]) for b in partition.blocks])
    op.attributes["aic.tiles"] = IntegerAttr(partition.tiles, i64)
    op.attributes["aic.tile_axis"] = IntegerAttr(partition.tile_axis, i64)
    op.attributes["aic.ols"] = IntegerAttr(partition.ols, i64)
    op.attributes["aic.channel_split"] = IntegerAttr(partition.channel_split, i64)
