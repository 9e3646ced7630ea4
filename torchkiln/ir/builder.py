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
from .core import _EMPTY, Block, Node, Use, Value, _ids, _use
from .types import Type

CONSTANT = "prim::Constant"
_new = object.__new__


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
        # `Node(kind, attrs, loc)` and, for each, `node.add_input(v)` / `node.add_output(t)`,
        # inlined: every node is made here (Note [Empty node lists] in core.py).
        node = _new(Node)
        node.kind = kind
        node.attrs = dict(attrs) if attrs else {}
        node.blocks = _EMPTY
        if inputs:
            node.inputs = ins = list(inputs)
            for i, v in enumerate(ins):
                v.uses.append(_use(Use, (node, i)))
        else:
            node.inputs = _EMPTY
        if out_types:
            node.outputs = outs = []
            i = 0
            for t in out_types:
                out = _new(Value)  # `Value(t)`, inlined
                out.type = t
                out.id = next(_ids)
                out.name = None
                out.node = node
                out.offset = i
                out.block = None
                out.uses = []
                outs.append(out)
                i += 1
        else:
            node.outputs = _EMPTY
        if n_blocks:
            for _ in range(n_blocks):
                node.add_block()
        node.loc = self.loc if loc is None else loc
        block = node.block = self.block
        if self.before is None:
            block.nodes.append(node)
        else:
            block.nodes.insert(block.nodes.index(self.before), node)
        return node

    def constant(self, value: Any, typ: Type, loc: Optional[SourceRange] = None) -> Value:
        """`prim::Constant[value=...]() -> typ` (value None for a None constant)."""
        return self.op(CONSTANT, (), (typ,), {"value": value}, loc).outputs[0]

    def at_block(self, block: Block, before: Optional[Node] = None) -> "_AtBlock":
        """`with b.at_block(block):` inserts into `block` (before `before`), then back where it was."""
        return _AtBlock(self, block, before)

    @contextlib.contextmanager
    def at_loc(self, loc: Optional[SourceRange]) -> Iterator["Builder"]:
        saved = self.loc
        self.loc = loc
        try:
            yield self
        finally:
            self.loc = saved


class _AtBlock:
    """The context of `Builder.at_block` (a class, not a generator: the frontend enters one per branch)."""

    __slots__ = ("b", "block", "before", "saved")

    def __init__(self, b: Builder, block: Block, before: Optional[Node]):
        self.b, self.block, self.before = b, block, before

    def __enter__(self) -> Builder:
        b = self.b
        self.saved = (b.block, b.before)
        b.block, b.before = self.block, self.before
        return b

    def __exit__(self, *exc) -> bool:
        self.b.block, self.b.before = self.saved
        return False


def outputs_of(nodes: List[Node]) -> List[Value]:
    return [o for n in nodes for o in n.outputs]
