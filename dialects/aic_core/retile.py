"""Re-tiling a task whose working set does not fit in VTCM (used by ``plan-memory``).

A task computes its output block in ``tiles`` pieces along one axis. The op in its
compute region has the tile's shapes, so cutting that tile further with
``qaicc.dialects.aic_graph.slicing.operand_blocks`` gives the sub-blocks of the tiles its
loads bring in. Two ways to cut, combined:

- more tiles along the loop axis (any parallel axis of the op when the task has one
  tile): ``tiles`` grows by k, every block's ``tile_steps`` shrink by k; a load whose
  block does not move stays resident, the others stream from DDR;
- k consecutive tasks on the same core, each for one k-th of the tile along another
  parallel axis (each repeats the task's waits; the signals follow the last one).

Cuts always divide the tile. ``retile(task, core, hw)`` picks the fewest pieces that fit
(double-buffered if that fits, preferring the cut that reads the least from DDR) and
rewrites the program; when nothing fits it raises a ``QaiccError`` naming the op, its
working set and the limit.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.dialects.builtin import ArrayAttr, IntegerAttr, TensorType, i64
from xdsl.ir import Block, Operation, Region

from qaicc.dialects.aic_core import ops as c
from qaicc.dialects.aic_core.analysis import Item, align_up, ols_of, tiles_of
from qaicc.dialects.aic_core.partition import _array
from qaicc.dialects.aic_graph import ops as g
from qaicc.dialects.aic_graph.slicing import operand_blocks, parallel_axes
from qaicc.dialects.aic_graph.types import MXFP6Type
from qaicc.dialects.aic_graph.work import tensor_bytes
from qaicc.errors import QaiccError
from qaicc.semantics.mxfp6 import BLOCK as MXFP6_BLOCK


@dataclass
class TaskForm:
    """A task in the converter's form: loads, one compute holding one op (after any
    dequantizes of its operands), one store of the op's result."""

    task: c.TaskOp
    loads: list[c.DMALoadOp]
    compute: c.ComputeOp
    op: g.AicGraphOp
    operand_load: list[int]  # for each operand of op: the index of the load feeding it
    store: c.DMAStoreOp
    tile_axis: int | None  # the loop axis of the output, None with one tile


def task_form(task: c.TaskOp) -> TaskForm | None:
    """The task's form, or None when it is not one this module can re-tile."""
    body = list(task.body.block.ops)
    loads = [op for op in body if isinstance(op, c.DMALoadOp)]
    computes = [op for op in body if isinstance(op, c.ComputeOp)]
    stores = [op for op in body if isinstance(op, c.DMAStoreOp)]
    if len(computes) != 1 or len(stores) != 1 or len(loads) + 2 != len(body):
        return None
    compute, store = computes[0], stores[0]
    if len(compute.outputs) != 1 or store.value is not compute.outputs[0]:
        return None
    if any(v.owner not in loads for v in compute.inputs):
        return None
    region = list(compute.body.block.ops)
    main = [op for op in region if not isinstance(op, (g.DequantizeOp, c.YieldOp))]
    if len(main) != 1 or not isinstance(main[0], g.AicGraphOp) or len(main[0].results) != 1:
        return None
    op = main[0]
    if not isinstance(region[-1], c.YieldOp) or list(region[-1].operands) != [op.results[0]]:
        return None
    args = list(compute.body.block.args)
    operand_load = []
    for operand in op.operands:
        if isinstance(operand.owner, g.DequantizeOp):
            operand = operand.owner.input
        if operand not in args:
            return None
        operand_load.append(loads.index(compute.inputs[args.index(operand)].owner))
    tiles = tiles_of(task)
    tile_axis = None
    if tiles > 1:
        moving = [axis for axis, step in enumerate(store.int_list("tile_steps")) if step]
        if len(moving) != 1:
            return None
        tile_axis = moving[0]
    return TaskForm(task, loads, compute, op, operand_load, store, tile_axis)


@dataclass
class Cut:
    """``loop_axis`` cut into ``k_loop`` more tiles, ``split_axis`` into ``k_split`` tasks."""

    loop_axis: int | None
    k_loop: int
    split_axis: int | None
    k_split: int
    ols: int
    tiles: int  # tiles of each new task
    load_sizes: list[list[int]]
    load_offsets: list[list[list[int]]]  # [split j][load] absolute offsets of tile 0
    load_steps: list[list[int]]
    out_sizes: list[int]
    working_set: int
    ddr_bytes: int

    @property
    def pieces(self) -> int:
        return self.k_loop * self.k_split


def _divisors(n: int) -> list[int]:
    return [k for k in range(1, n + 1) if n % k == 0]


class _Planner:
    def __init__(self, form: TaskForm, mxfp6_axes: dict[str, int], alignment: int = 1):
        self.form = form
        self.mxfp6_axes = mxfp6_axes
        self.alignment = alignment
        self.out = list(form.op.results[0].type.get_shape())
        self.tiles = tiles_of(form.task)
        self.ols = ols_of(form.task)
        self.old_offsets = [load.int_list("offsets") for load in form.loads]
        self.old_steps = [load.int_list("tile_steps") for load in form.loads]
        self.old_sizes = [list(load.output.type.get_shape()) for load in form.loads]

    def relative_blocks(self, rel: list[int], sizes: list[int]) -> list[tuple[list[int], list[int]]] | None:
        """Each load's block (relative to its current tile) for an output sub-block."""
        blocks: list[tuple[list[int], list[int]] | None] = [None] * len(self.form.loads)
        found = operand_blocks(self.form.op, rel, sizes)
        for block, index in zip(found, self.form.operand_load):
            if block is None:
                block = ([0] * len(self.old_sizes[index]), list(self.old_sizes[index]))
            block = (list(block[0]), list(block[1]))
            if blocks[index] is not None and blocks[index] != block:
                return None
            blocks[index] = block
        return [b if b is not None else ([0] * len(self.old_sizes[i]), self.old_sizes[i]) for i, b in enumerate(blocks)]

    def cut(self, loop_axis, k_loop, split_axis, k_split, ols, limit) -> Cut | None:
        sizes = list(self.out)
        if loop_axis is not None:
            sizes[loop_axis] //= k_loop
        if split_axis is not None:
            sizes[split_axis] //= k_split

        def rel(i: int, j: int) -> list[int]:
            offsets = [0] * len(sizes)
            if loop_axis is not None:
                offsets[loop_axis] += i * sizes[loop_axis]
            if split_axis is not None:
                offsets[split_axis] += j * sizes[split_axis]
            return offsets

        base = self.relative_blocks(rel(0, 0), sizes)
        if base is None:
            return None
        load_sizes = [b[1] for b in base]
        tiles = self.tiles * k_loop
        if k_loop == 1:
            steps = [list(s) for s in self.old_steps]
        else:
            second = self.relative_blocks(rel(1, 0), sizes)
            if second is None:
                return None
            steps = [[b - a for a, b in zip(first[0], later[0])] for first, later in zip(base, second)]
        resident = [tiles == 1 or not any(s) for s in steps]
        double = tiles > 1 and ols >= 2
        elements = [load.output.type.element_type for load in self.form.loads]
        # every buffer apart (an upper bound of the planned peak), each start aligned
        working = sum(
            align_up(tensor_bytes(TensorType(e, s)) * (1 if r else (2 if double else 1)), self.alignment)
            for e, s, r in zip(elements, load_sizes, resident)
        )
        out_bytes = tensor_bytes(TensorType(self.form.op.results[0].type.element_type, sizes))
        working += align_up(out_bytes * (2 if double else 1), self.alignment)
        ddr = k_split * sum(
            tensor_bytes(TensorType(e, s)) * (1 if r else tiles) for e, s, r in zip(elements, load_sizes, resident)
        )
        cut = Cut(loop_axis, k_loop, split_axis, k_split, ols, tiles, load_sizes, [], steps, sizes, working, ddr)
        if working > limit:
            return cut  # the caller only compares its working set
        # exact checks for a candidate that fits: linear offsets, MXFP6 block alignment
        for j in range(k_split):
            first = self.relative_blocks(rel(0, j), sizes)
            if first is None:
                return None
            cut.load_offsets.append([[o + r for o, r in zip(self.old_offsets[i], first[i][0])] for i in range(len(first))])
            for i in range(1, k_loop):
                later = self.relative_blocks(rel(i, j), sizes)
                if later is None:
                    return None
                for index, (offsets, block_sizes) in enumerate(later):
                    expected = [a + i * s for a, s in zip(first[index][0], steps[index])]
                    if offsets != expected or block_sizes != load_sizes[index]:
                        return None
        if k_loop > 1 and self.tiles > 1:
            for index in range(len(steps)):
                if [k_loop * s for s in steps[index]] != list(self.old_steps[index]):
                    return None
        for index, load in enumerate(self.form.loads):
            axis = self.mxfp6_axes.get(load.source.root_reference.data)
            if axis is None or not isinstance(load.output.type.element_type, MXFP6Type):
                continue
            if steps[index][axis] % MXFP6_BLOCK or any(o[index][axis] % MXFP6_BLOCK for o in cut.load_offsets):
                return None
        return cut

    def candidates(self, limit: int) -> tuple[Cut | None, int | None]:
        """The best cut that fits, and the smallest working set of any cut (None: the
        tile cannot be cut along a parallel axis)."""
        axes = list(parallel_axes(self.form.op))
        loops = [self.form.tile_axis] if self.tiles > 1 else axes
        smallest = None
        options = []
        for loop_axis in loops:
            if loop_axis is None:
                continue
            for k_loop in _divisors(self.out[loop_axis]):
                for split_axis in [None, *[a for a in axes if a != loop_axis]]:
                    splits = [1] if split_axis is None else _divisors(self.out[split_axis])[1:]
                    for k_split in splits:
                        tiles = self.tiles * k_loop
                        if k_loop == 1 and k_split == 1:
                            continue
                        if tiles == 1 and k_split > 1:
                            continue  # the same as more tiles along the split axis
                        for ols in ([max(self.ols, 2), 1] if tiles > 1 else [1]):
                            options.append((k_loop * k_split, 0 if ols >= 2 or tiles == 1 else 1,
                                            loop_axis, k_loop, split_axis, k_split, ols))
        options.sort(key=lambda o: (o[0], o[1], o[5], o[2], o[4] if o[4] is not None else -1, o[3]))
        best: Cut | None = None
        for pieces, _, loop_axis, k_loop, split_axis, k_split, ols in options:
            if best is not None and pieces > best.pieces:
                break
            cut = self.cut(loop_axis, k_loop, split_axis, k_split, ols, limit)
            if cut is None:
                continue
            smallest = cut.working_set if smallest is None else min(smallest, cut.working_set)
            if cut.working_set > limit or not cut.load_offsets:
                continue
            better = best is None or (
                (0 if cut.ols >= 2 or cut.tiles == 1 else 1, cut.ddr_bytes)
                < (0 if best.ols >= 2 or best.tiles == 1 else 1, best.ddr_bytes)
            )
            if better:
                best = cut
        return best, smallest


def _rebuild(form: TaskForm, cut: Cut, j: int) -> c.TaskOp:
    """The task for split j of a cut."""
    body = Block()
    new_loads = []
    for index, load in enumerate(form.loads):
        properties = {k: v for k, v in load.properties.items()
                      if k not in ("offsets", "tile_steps", "vtcm_offset", "buffers", "multicast_cores")}
        properties["offsets"] = _array(cut.load_offsets[j][index])
        properties["tile_steps"] = _array(cut.load_steps[index])
        element = load.output.type.element_type
        new = c.DMALoadOp.create(properties=properties, attributes=dict(load.attributes),
                                 result_types=[TensorType(element, cut.load_sizes[index])])
        body.add_op(new)
        new_loads.append(new)
    old_inputs = [form.loads.index(v.owner) for v in form.compute.inputs]
    region = Block(arg_types=[new_loads[i].output.type for i in old_inputs])
    mapping = dict(zip(form.compute.body.block.args, region.args))
    for op in form.compute.body.block.ops:
        operands = [mapping[v] for v in op.operands]
        if isinstance(op, c.YieldOp):
            region.add_op(c.YieldOp.create(operands=operands))
            continue
        if op is form.op:
            result = TensorType(op.results[0].type.element_type, cut.out_sizes)
        else:  # a dequantize: elementwise
            result = TensorType(op.results[0].type.element_type, operands[0].type.get_shape())
        new = type(op).create(operands=operands, result_types=[result], properties=dict(op.properties),
                              attributes=dict(op.attributes))
        if isinstance(new, g.ConvOp) and new.int_prop("group", 1) > 1:
            new.properties["group"] = IntegerAttr(cut.out_sizes[1], i64)  # depthwise: one group per channel
        mapping[op.results[0]] = new.results[0]
        region.add_op(new)
    out_type = TensorType(form.op.results[0].type.element_type, cut.out_sizes)
    compute = c.ComputeOp.create(
        operands=[new_loads[i].output for i in old_inputs], result_types=[out_type],
        properties={k: v for k, v in form.compute.properties.items() if k not in ("vtcm_offset", "buffers")},
        attributes=dict(form.compute.attributes), regions=[Region(region)],
    )
    body.add_op(compute)
    offsets = form.store.int_list("offsets")
    if cut.split_axis is not None:
        offsets[cut.split_axis] += j * cut.out_sizes[cut.split_axis]
    steps = [0] * len(offsets)
    if cut.tiles > 1:
        steps[cut.loop_axis] = cut.out_sizes[cut.loop_axis]
    store_properties = dict(form.store.properties)
    store_properties.update(offsets=_array(offsets), tile_steps=_array(steps))
    body.add_op(c.DMAStoreOp.create(operands=[compute.outputs[0]], properties=store_properties,
                                    attributes=dict(form.store.attributes)))
    properties = dict(form.task.properties)
    properties["tiles"] = IntegerAttr(cut.tiles, i64)
    properties["ols"] = IntegerAttr(min(cut.ols, cut.tiles), i64)
    return c.TaskOp.create(properties=properties, attributes=dict(form.task.attributes), regions=[Region(body)])


def mxfp6_axes(decls) -> dict[str, int]:
    """The quantization axis of every MXFP6 constant (by DDR tensor name)."""
    axes = {}
    for name, decl in decls.items():
        if decl.kind.data == "constant" and isinstance(decl.value, ArrayAttr):
            axes[name] = decl.value.data[2].value.data
    return axes


def retile(item: Item, limit: int, working: int, target: str, axes: dict[str, int], alignment: int = 1) -> list[c.TaskOp]:
    """Replace ``item.task`` by the tasks of the best cut that fits in ``limit`` bytes;
    returns the new tasks. ``working``: the task's working set now; ``axes``: the
    quantization axis of every MXFP6 constant (``mxfp6_axes``)."""
    task = item.task
    assert task is not None
    problem = (f"plan-memory: task '{task.op_name.data}' on core {item.core} needs {working} bytes of VTCM, "
               f"more than the {limit} bytes of target '{target}'")
    form = task_form(task)
    if form is None:
        raise QaiccError(f"{problem}, and a task of this form cannot be re-tiled")
    best, smallest = _Planner(form, axes, alignment).candidates(limit)
    if best is None:
        if smallest is None:
            raise QaiccError(f"{problem}, and its tile cannot be cut further along a parallel axis of the op")
        raise QaiccError(f"{problem} (the smallest tiling along a parallel axis needs {smallest} bytes); "
                         "partition the op over more cores")
    new_tasks = [_rebuild(form, best, j) for j in range(best.k_split)]
    block = task.parent_block()
    anchor: Operation = task
    block.insert_op_after(new_tasks[0], anchor)
    anchor = new_tasks[0]
    for new in new_tasks[1:]:
        for wait in item.waits:
            copy = wait.clone()
            block.insert_op_after(copy, anchor)
            anchor = copy
        block.insert_op_after(new, anchor)
        anchor = new
    block.erase_op(task)
    item.task = new_tasks[0]
    return new_tasks
