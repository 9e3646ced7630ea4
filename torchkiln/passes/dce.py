"""Dead-code elimination, aware of side effects and of writes through aliases.

```
graph(%x : Tensor):                              graph(%x : Tensor):
  %1 : int = prim::Constant[value=1]()             %2 : int = prim::Constant[value=2]()
  %u : Tensor = aten::add.Tensor(%x, %x, %1)  ->   %r : Tensor = aten::mul.Tensor(%x, %2)
  %2 : int = prim::Constant[value=2]()             return (%r)
  %r : Tensor = aten::mul.Tensor(%x, %2)
  return (%r)
```

Note [Liveness]
---------------
A mark-and-sweep over the whole graph (`AliasDb`, Note [Alias classes]):

- Roots: the graph's outputs; every effectful node (`prim::Print`,
  `prim::RaiseException`, calls, random ops, ops of unknown kinds); every
  node that writes a class that escapes (a graph input's or output's).
- A live node makes its inputs live; a node inside a block makes the node
  that owns the block live (an `if` holding a `raise` stays).
- A live value makes every writer of its alias class live: `%a.add_(1)`
  stays when `%a` (or a view of it) is read later.
- Through control flow: a live output of `prim::If` makes the matching
  result of both blocks live; a live loop output or loop-carried block
  parameter makes the initial value and the block's next value live. A
  live `If`/`Loop` always keeps its condition (and a loop its trip count
  and continue-condition).

The sweep removes dead nodes, dead `If` outputs (with the blocks' matching
results) and loop-carried values whose output and block parameter are both
dead (with the initial value and the block result).
"""
from __future__ import annotations

from typing import List, Set

from ..ir.core import Block, Graph, Node, Value
from .alias import AliasDb, shared_db
from .common import IF, LOOP


def run(graph: Graph) -> bool:
    """Remove dead code from `graph`; True if anything was removed."""
    return eliminate_dead_code(graph)


def eliminate_dead_code(graph: Graph) -> bool:
    live = _Liveness(graph, shared_db(graph))
    return _sweep_block(graph.block, live)


class _Liveness:
    """Live nodes and values of one graph; see Note [Liveness]."""

    def __init__(self, graph: Graph, db: AliasDb):
        self.db = db
        self.values: Set[Value] = set()
        self.nodes: Set[Node] = set()
        self._work: List[Value] = []
        for v in graph.outputs:
            self.mark_value(v)
        for node in graph.block.all_nodes():
            if db.must_keep(node):
                self.mark_node(node)
        while self._work:
            self._process(self._work.pop())

    def mark_value(self, v: Value) -> None:
        if v not in self.values:
            self.values.add(v)
            self._work.append(v)

    def mark_node(self, node: Node) -> None:
        if node in self.nodes:
            return
        self.nodes.add(node)
        if node.kind == IF:
            self.mark_value(node.inputs[0])
        elif node.kind == LOOP:
            self.mark_value(node.inputs[0])
            self.mark_value(node.inputs[1])
            self.mark_value(node.blocks[0].returns[0])
        else:
            for v in node.inputs:
                self.mark_value(v)
            for b in node.blocks:  # an unknown structured op: keep all of it
                for v in b.returns:
                    self.mark_value(v)
        owner = node.block.owner if node.block is not None else None
        if owner is not None:
            self.mark_node(owner)

    def _process(self, v: Value) -> None:
        for writer in self.db.writers_view(v):
            self.mark_node(writer)
        node = v.node
        if node is not None:
            self.mark_node(node)
            if node.kind == IF:
                for b in node.blocks:
                    self.mark_value(b.returns[v.offset])
            elif node.kind == LOOP:
                self._mark_carried(node, v.offset)
            return
        owner = v.block.owner if v.block is not None else None
        if owner is None:
            return  # a graph input
        self.mark_node(owner)
        if owner.kind == LOOP and v.offset > 0:
            self._mark_carried(owner, v.offset - 1)

    def _mark_carried(self, loop: Node, k: int) -> None:
        body = loop.blocks[0]
        self.mark_value(loop.inputs[k + 2])
        self.mark_value(body.returns[k + 1])
        self.mark_value(body.params[k + 1])


def _sweep_block(block: Block, live: _Liveness) -> bool:
    changed = False
    for node in reversed(list(block.nodes)):
        if node not in live.nodes:
            node.destroy()
            changed = True
        elif node.kind == IF:
            changed |= _prune_if_outputs(node, live)
            for b in node.blocks:
                changed |= _sweep_block(b, live)
        elif node.kind == LOOP:
            changed |= _sweep_loop(node, live)
        else:
            for b in node.blocks:
                changed |= _sweep_block(b, live)
    return changed


def _prune_if_outputs(node: Node, live: _Liveness) -> bool:
    changed = False
    for i in reversed(range(len(node.outputs))):
        if node.outputs[i] in live.values:
            continue
        for b in node.blocks:
            b.return_node.remove_input(i)
        node.remove_output(i)
        changed = True
    return changed


def _sweep_loop(loop: Node, live: _Liveness) -> bool:
    """Sweep the body, dropping dead carried values (result first, parameter last)."""
    body = loop.blocks[0]
    dead = [
        k
        for k in range(len(loop.outputs))
        if loop.outputs[k] not in live.values and body.params[k + 1] not in live.values
    ]
    for k in reversed(dead):
        body.return_node.remove_input(k + 1)
    changed = _sweep_block(body, live)
    for k in reversed(dead):
        body.remove_param(k + 1)
        loop.remove_output(k)
        loop.remove_input(k + 2)
    return changed or bool(dead)
