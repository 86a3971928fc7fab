"""Common-subexpression elimination for pure ops, ignoring node names.

Two pure ops without regions in the same block are the same computation when they have
the same name, operands, properties and result types; the later one is replaced by the
earlier one. Constants with equal small values are merged too (see ``#qaicc.blob``
equality); large weights are compared by identity, never by hashing their bytes.
"""

from __future__ import annotations

from xdsl.ir import Block, Operation
from xdsl.rewriter import Rewriter
from xdsl.traits import Pure


def _key(op: Operation):
    return (
        op.name,
        tuple(op.operands),
        tuple(sorted(op.properties.items())),
        tuple(r.type for r in op.results),
    )


def cse_block(block: Block) -> bool:
    seen: dict[tuple, Operation] = {}
    changed = False
    for op in list(block.ops):
        for region in op.regions:
            for inner in region.blocks:
                changed |= cse_block(inner)
        if op.regions or not op.results or not op.has_trait(Pure):
            continue
        try:
            key = _key(op)
            hash(key)
        except TypeError:
            continue
        earlier = seen.get(key)
        if earlier is None:
            seen[key] = op
            continue
        Rewriter.replace_op(op, [], list(earlier.results))
        changed = True
    return changed


def cse(op: Operation) -> bool:
    changed = False
    for region in op.regions:
        for block in region.blocks:
            changed |= cse_block(block)
    return changed
