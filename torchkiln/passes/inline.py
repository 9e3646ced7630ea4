"""Inlining of `prim::CallFunction` and `prim::CallMethod` calls.

```
graph(%self : __torch__.Net, %x : Tensor):          graph(%self : __torch__.Net, %x : Tensor):
  %y : Tensor = prim::CallMethod[name="helper"](      %1 : int = prim::Constant[value=1]()
      %self, %x)                               ->     %y : Tensor = aten::add.Tensor(%x, %x, %1)  # net.py:9:15
  return (%y)                                         return (%y)
```

Callees: `prim::CallFunction[name=q]` calls `unit.functions[q]`;
`prim::CallMethod[name=m](%obj, ...)` calls `m` of `%obj`'s class type
(`ClassType.methods`), so methods need no unit.

Entry points:

- `run(graph)`: the generic pass, as the default pipeline lists it. Without
  a unit it inlines small methods only.
- `Inliner(unit)`: the same pass with a unit (so small free functions too);
  `manager.pipeline_for(unit)` puts one in the pipeline.
- `inline_calls(graph, unit, max_nodes)`: the function behind both;
  `max_nodes=NO_LIMIT` inlines every call.
- `inline_all(graph, unit)`: inline everything, in place (freezing does this).
- `inlined_graph(graph, unit)`: a copy of `graph` with everything inlined
  and nothing else done: what `.inlined_graph` shows.

A callee is inlined when it is small (at most `config.inline_max_nodes`
nodes, constants not counted; `inline_all` has no bound), its signature
matches the call (as many inputs and outputs, return types fitting the call's
output types), and it is not already being inlined further up the same
chain (recursion) nor deeper than `config.inline_max_depth` calls. Inlined
nodes keep their own source ranges (the callee's lines); nodes without one
take the call's. The callee's graph is copied, never changed.
"""
from __future__ import annotations

from collections import deque
from typing import Dict, List, Optional, Tuple

from ..ir.core import CompilationUnit, Function, Graph, Node, clone_node
from ..ir.nesting import MAX_BLOCK_DEPTH, block_depth
from ..ir.types import ClassType
from .common import CALL_FUNCTION, CALL_METHOD, has_at_most_nodes
from .config import config

_CALLS = (CALL_FUNCTION, CALL_METHOD)
NO_LIMIT = float("inf")


def run(graph: Graph) -> bool:
    """Inline small methods called in `graph` (no unit: no free functions)."""
    return inline_calls(graph, None)


class Inliner:
    """The inlining pass bound to a CompilationUnit: `Inliner(unit)(graph) -> bool`."""

    name = "inline"

    def __init__(self, unit: Optional[CompilationUnit], max_nodes: Optional[float] = None):
        self.unit = unit
        self.max_nodes = max_nodes

    def __call__(self, graph: Graph) -> bool:
        return inline_calls(graph, self.unit, self.max_nodes)


def inline_all(graph: Graph, unit: Optional[CompilationUnit]) -> bool:
    """Inline every call in `graph` whose callee is known, in place."""
    return inline_calls(graph, unit, max_nodes=NO_LIMIT)


def inlined_graph(graph: Graph, unit: Optional[CompilationUnit]) -> Graph:
    """A copy of `graph` with every known call inlined (the `.inlined_graph` view)."""
    g = graph.copy()
    inline_all(g, unit)
    return g


def inline_calls(graph: Graph, unit: Optional[CompilationUnit], max_nodes: Optional[float] = None) -> bool:
    """Inline calls to callees of at most `max_nodes` nodes (None: `config.inline_max_nodes`)."""
    limit = config.inline_max_nodes if max_nodes is None else max_nodes
    chains: Dict[Node, Tuple[str, ...]] = {}
    work = deque(n for n in graph.all_nodes() if n.kind in _CALLS)
    changed = False
    while work:
        node = work.popleft()
        callee = callee_of(node, unit)
        chain = chains.get(node, ())
        if callee is None or not _inlinable(node, callee, chain, limit):
            continue
        for new in _inline_call(node, callee):
            if new.kind in _CALLS:
                chains[new] = chain + (callee.name,)
                work.append(new)
        changed = True
    return changed


def callee_of(node: Node, unit: Optional[CompilationUnit]) -> Optional[Function]:
    """The Function a call node runs, when it is known statically."""
    fn = None
    if node.kind == CALL_FUNCTION and unit is not None:
        fn = unit.functions.get(node.attrs.get("name"))
    elif node.kind == CALL_METHOD and node.inputs:
        cls = node.inputs[0].type
        if isinstance(cls, ClassType) and not getattr(cls, "is_interface", False):
            fn = cls.methods.get(node.attrs.get("name"))
    return fn if isinstance(fn, Function) else None


def _inlinable(node: Node, callee: Function, chain: Tuple[str, ...], limit: float) -> bool:
    g = callee.graph
    if callee.name in chain or len(chain) >= config.inline_max_depth:
        return False
    if len(node.inputs) != len(g.inputs) or len(node.outputs) != len(g.outputs):
        return False
    if not all(r.type.is_subtype_of(o.type) for r, o in zip(g.outputs, node.outputs)):
        return False
    if not has_at_most_nodes(g.block, limit):
        return False
    # Never nest deeper than every stage accepts (Note [Block nesting limit] in ir/nesting.py).
    return _depth_at(node) + block_depth(g) <= MAX_BLOCK_DEPTH


def _depth_at(node: Node) -> int:
    """How many blocks enclose `node`'s block (0: the graph's top block)."""
    depth, block = 0, node.block
    while block is not None and block.owner is not None:
        depth, block = depth + 1, block.owner.block
    return depth


def _inline_call(node: Node, callee: Function) -> List[Node]:
    """Replace `node` by a copy of `callee`'s body; return the new nodes (nested ones too)."""
    block = node.block
    assert block is not None
    env = dict(zip(callee.graph.inputs, node.inputs))
    index = block.nodes.index(node)
    new_nodes: List[Node] = []
    for src in callee.graph.nodes:
        new = clone_node(src, env)
        block.insert(index, new)
        index += 1
        new_nodes.append(new)
        new_nodes.extend(new.walk())
    for n in new_nodes:
        if n.loc is None:
            n.loc = node.loc
    for out, ret in zip(node.outputs, callee.graph.outputs):
        out.replace_all_uses_with(env.get(ret, ret))
    node.destroy()
    return new_nodes
