"""A builder that appends nodes at an insertion point.

```python
b = Builder(graph.block)                 # insert at the end of the block
one = b.constant(1, INT)
y = b.op("aten::add.Tensor", [x, x, one], [TENSOR]).output
with b.at_block(if_node.blocks[0]):      # temporarily insert elsewhere
    ...
```
"""
from __future__ import annotations

import contextlib
from typing import Any, Dict, Iterator, List, Optional, Sequence

from ..diagnostics import SourceRange
from .core import Block, Node, Value
from .types import Type

CONSTANT = "prim::Constant"


class Builder:
    """Inserts nodes into `block` before `before` (None: at the end)."""

    def __init__(self, block: Block, before: Optional[Node] = None, loc: Optional[SourceRange] = None):
        self.block = block
        self.before = before
        self.loc = loc

    def insert(self, node: Node) -> Node:
        if node.loc is None:
            node.loc = self.loc
        if self.before is None:
            return self.block.append(node)
        return self.block.insert(self.block.nodes.index(self.before), node)

    def op(
        self,
        kind: str,
        inputs: Sequence[Value],
        out_types: Sequence[Type],
        attrs: Optional[Dict[str, Any]] = None,
        loc: Optional[SourceRange] = None,
        n_blocks: int = 0,
    ) -> Node:
        """Create and insert `kind(inputs) -> out_types`."""
        node = Node(kind, attrs, loc)
        for v in inputs:
            node.add_input(v)
        for t in out_types:
            node.add_output(t)
        for _ in range(n_blocks):
            node.add_block()
        return self.insert(node)

    def constant(self, value: Any, typ: Type, loc: Optional[SourceRange] = None) -> Value:
        """`prim::Constant[value=...]() -> typ` (value None for a None constant)."""
        return self.op(CONSTANT, [], [typ], {"value": value}, loc).output

    @contextlib.contextmanager
    def at_block(self, block: Block, before: Optional[Node] = None) -> Iterator["Builder"]:
        saved = (self.block, self.before)
        self.block, self.before = block, before
        try:
            yield self
        finally:
            self.block, self.before = saved

    @contextlib.contextmanager
    def at_loc(self, loc: Optional[SourceRange]) -> Iterator["Builder"]:
        saved = self.loc
        self.loc = loc
        try:
            yield self
        finally:
            self.loc = saved


def outputs_of(nodes: List[Node]) -> List[Value]:
    return [o for n in nodes for o in n.outputs]
