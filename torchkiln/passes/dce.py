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

from typing import Dict, List, Set

from ..ir.core import Block, Graph, Node, Value
from .alias import AliasDb, cached_db, effects_without_writes, shared_db
from .common import IF, LOOP


def run(graph: Graph) -> bool:
    """Remove dead code from `graph`; True if anything was removed."""
    return eliminate_dead_code(graph)


def eliminate_dead_code(graph: Graph) -> bool:
    db = cached_db(graph)
    if db is None:
        effects = effects_without_writes(graph)
        if effects is not None:  # no writes: the alias classes do not matter
            db = _EffectsOnly(effects)  # type: ignore[assignment]
    live = _Liveness(graph, db if db is not None else shared_db(graph))
    return _sweep_block(graph.block, live)


class _EffectsOnly:
    """The answers `_Liveness` asks of `AliasDb` for a graph in which nothing
    is written (`alias.effects_without_writes`): the effectful nodes are the
    roots, and no value has writers."""

    __slots__ = ("effectful",)

    def __init__(self, effectful: Set[Node]):
        self.effectful = effectful

    def must_keep(self, node: Node) -> bool:
        return node in self.effectful

    def writers_view(self, v: Value) -> List[Node]:
        return _NO_WRITERS


_NO_WRITERS: List[Node] = []


class _Liveness:
    """Live nodes and values of one graph; see Note [Liveness]."""

    def __init__(self, graph: Graph, db: AliasDb):
        self.db = db
        self.values: Set[Value] = set()
        self.nodes: Set[Node] = set()
        self._work: List[Value] = []
        self._done_writers: Dict[int, List[Node]] = {}  # `writers_view` lists already marked, by id
        for v in graph.outputs:
            self.mark_value(v)
        must_keep = db.must_keep
        for node in graph.block.all_nodes():
            if must_keep(node):
                self.mark_node(node)
        work = self._work
        process = self._process
        while work:
            process(work.pop())

    def mark_value(self, v: Value) -> None:
        if v not in self.values:
            self.values.add(v)
            self._work.append(v)

    def mark_node(self, node: Node) -> None:
        nodes = self.nodes
        while node not in nodes:  # the node, then the nodes owning its block
            nodes.add(node)
            values, work = self.values, self._work
            kind = node.kind
            if kind == IF:
                marked = (node.inputs[0],)
            elif kind == LOOP:
                marked = (node.inputs[0], node.inputs[1], node.blocks[0].returns[0])
            elif node.blocks:  # an unknown structured op: keep all of it
                marked = list(node.inputs)
                for b in node.blocks:
                    marked += b.returns
            else:
                marked = node.inputs
            for v in marked:  # `mark_value(v)` each
                if v not in values:
                    values.add(v)
                    work.append(v)
            block = node.block
            if block is None or block.owner is None:
                return
            node = block.owner

    def _process(self, v: Value) -> None:
        writers = self.db.writers_view(v)
        if writers and id(writers) not in self._done_writers:
            # `writers_view` hands out one list per alias class: mark its
            # nodes once (the dict keeps it alive, so its id stays its own).
            self._done_writers[id(writers)] = writers
            for writer in writers:
                self.mark_node(writer)
        node = v.node
        if node is not None:
            if node not in self.nodes:
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
