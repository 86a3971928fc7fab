"""``schedule``: the order of each core's program, so that cores wait as little as possible.

    qaicc-opt m.mlir -p 'convert-aic-graph-to-aic-core,insert-multicast,schedule{target=ai100-pro}'

The converter emits every core's tasks in the order of the aic-graph function, so a core
may wait for another core's result while it has independent work left. This pass cuts
each program into items (``wait* task signal*``: a task's waits stay right before it,
its signals right after it) and builds the task graph of the whole chip with networkx:
an edge from every item that signals a semaphore to every item that waits on it, and
between the items of one core that touch the same DDR tensor, one of them writing (in
their current order). It then list-schedules that graph: each core, when free, starts
the ready item (its predecessors finished, at the times of the cost model,
``qaicc.metrics.static_metrics.task_costs``) with the longest path to the end of the
graph (critical path first). The new order of each core is the order of its items.

Every order this produces is a topological order of the task graph, so every wait's
signals are given before it in some execution: no deadlock, and every task reads the
same data as before, so results are identical. A plan from ``plan-memory`` stays valid
(it relies only on the edges above). If the event simulation of
``qaicc.metrics.static_metrics`` estimates the new order slower than the current one,
the current order is kept (a current order that deadlocks is always replaced). If the
graph has a cycle (a semaphore waited on before all its signals can be given), the
module is left as it is.

Option: ``target`` (hardware version or target JSON file, default ai100-pro). Example:
core 1 computes ``d`` (long, from ``a``) and then ``b``, which core 0 waits for:

    core 0:         task a; signal a.ready; wait b.ready; task c
    core 1 before:  wait a.ready; task d; task b; signal b.ready
    core 1 after:   task b; signal b.ready; wait a.ready; task d

(``b`` needs nothing from ``d``: it moves first, and core 0 no longer waits for ``d``).
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass

from qaicc.dialects.aic_core import ops as c
from qaicc.dialects.aic_core.analysis import DDRTable, Item, program_items, programs, require_programs, task_accesses
from qaicc.errors import QaiccError
from qaicc.hardware import load_target
from qaicc.hardware.model import DEFAULT_TARGET
from qaicc.metrics.static_metrics import TaskCost, simulate, task_costs

PASS_NAME = "schedule"

Node = tuple[int, int]  # (core, index of the item in the core's current order)


def task_graph(module: ModuleOp, items: dict[int, list[Item]]) -> nx.DiGraph:
    """The items of every core and the edges a valid order must keep."""
    table = DDRTable(module)
    graph = nx.DiGraph()
    signalers: dict[str, list[Node]] = {}
    for core, found in items.items():
        last_writer: dict[str, Node] = {}
        readers: dict[str, list[Node]] = {}
        previous: Node | None = None
        pin_next = False
        for index, item in enumerate(found):
            node = (core, index)
            graph.add_node(node, item=item)
            for signal in item.signals:
                signalers.setdefault(signal.semaphore.root_reference.data, []).append(node)
            if item.task is None or item.others:
                # a wait or signal on its own: it keeps its place among its neighbours
                if previous is not None:
                    graph.add_edge(previous, node)
                pin_next = True
            elif pin_next and previous is not None:
                graph.add_edge(previous, node)
                pin_next = False
            previous = node
            if item.task is None:
                continue
            reads, writes = task_accesses(item.task, table)
            for root in reads | writes:
                if root in last_writer:
                    graph.add_edge(last_writer[root], node)
                if root in writes:
                    for reader in readers.get(root, []):
                        graph.add_edge(reader, node)
            for root in writes:
                last_writer[root] = node
                readers[root] = []
            for root in reads - writes:
                readers.setdefault(root, []).append(node)
    for node, data in graph.nodes(data=True):
        for wait in data["item"].waits:
            for signaler in signalers.get(wait.semaphore.root_reference.data, []):
                if signaler != node:
                    graph.add_edge(signaler, node)
    return graph


def list_schedule(graph: nx.DiGraph, duration: dict[Node, float]) -> dict[int, list[Node]]:
    """Critical-path-first list scheduling of the graph's items on their cores."""
    rank: dict[Node, float] = {}
    for node in reversed(list(nx.topological_sort(graph))):
        rank[node] = duration[node] + max((rank[s] for s in graph.successors(node)), default=0.0)
    missing = {node: graph.in_degree(node) for node in graph}
    earliest = dict.fromkeys(graph, 0.0)
    released: dict[int, list[Node]] = {}
    for node, count in missing.items():
        if count == 0:
            released.setdefault(node[0], []).append(node)
    free: dict[int, float] = {}
    order: dict[int, list[Node]] = {}
    remaining = graph.number_of_nodes()
    while remaining:
        best = None
        for core, ready in released.items():
            if not ready:
                continue
            start = max(free.get(core, 0.0), min(earliest[n] for n in ready))
            if best is None or (start, core) < best:
                best = (start, core)
        if best is None:
            raise QaiccError(f"{PASS_NAME}: the task graph has a cycle")
        start, core = best
        ready = released[core]
        node = max((n for n in ready if earliest[n] <= start), key=lambda n: (rank[n], -n[1]))
        ready.remove(node)
        finish = max(free.get(core, 0.0), earliest[node]) + duration[node]
        free[core] = finish
        order.setdefault(core, []).append(node)
        remaining -= 1
        for successor in graph.successors(node):
            earliest[successor] = max(earliest[successor], finish)
            missing[successor] -= 1
            if missing[successor] == 0:
                released.setdefault(successor[0], []).append(successor)
    return order


def _reorder(module: ModuleOp, items: dict[int, list[Item]], order: dict[int, list[Node]]) -> None:
    for program in programs(module):
        core = program.core.value.data
        block = program.body.block
        ops = [op for node in order.get(core, []) for op in items[core][node[1]].ops]
        for op in list(block.ops):
            op.detach()
        for op in ops:
            block.add_op(op)


def schedule(module: ModuleOp, costs: dict[c.TaskOp, TaskCost]) -> bool:
    """Reorder every core's program; returns whether the order changed."""
    items = {p.core.value.data: program_items(p) for p in programs(module)}
    graph = task_graph(module, items)
    if not nx.is_directed_acyclic_graph(graph):
        return False
    duration = {
        node: costs[data["item"].task].seconds if data["item"].task is not None else 0.0
        for node, data in graph.nodes(data=True)
    }
    try:
        before = simulate(module, costs).end
    except QaiccError:
        before = float("inf")  # the current order deadlocks: any order of the graph is better
    current = {core: [(core, i) for i in range(len(found))] for core, found in items.items()}
    order = list_schedule(graph, duration)
    if order == {core: nodes for core, nodes in current.items() if nodes}:
        return False
    _reorder(module, items, order)
    try:
        after = simulate(module, costs).end
    except QaiccError:
        after = float("inf")
    if after > before:
        _reorder(module, items, current)
        return False
    return True


@dataclass(frozen=True)
class SchedulePass(ModulePass):
    name = PASS_NAME

    target: str = DEFAULT_TARGET

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        require_programs(op, PASS_NAME)
        hw = load_target(self.target)
        schedule(op, task_costs(op, hw))
