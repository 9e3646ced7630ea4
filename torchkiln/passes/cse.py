"""Common-subexpression elimination of pure ops, by blocks and alias-aware.

```
graph(%x : Tensor):                              graph(%x : Tensor):
  %a : Tensor = aten::relu(%x)                     %a : Tensor = aten::relu(%x)
  %b : Tensor = aten::relu(%x)              ->     %c : Tensor = aten::mul.Tensor(%a, %a)
  %c : Tensor = aten::mul.Tensor(%a, %b)           return (%c)
  return (%c)
```

Two nodes are the same when they have the same kind, the same input values,
equal attributes (constants compare by type and value, see
`common.value_key`) and the same output types. The later node is replaced
by the earlier one when

- the node is pure and deterministic (the op table; `prim::GetAttr`, a read,
  is treated like a pure op), has no blocks;
- the earlier node is in the same block or an enclosing one (a value from
  an enclosing block reaches into nested blocks; one from a sibling or
  nested block does not reach out);
- no input of the node is written anywhere in the graph (a read of a
  tensor, list or object before and after a write differs), and
  `AliasDb.can_replace` allows merging the outputs (neither written, not
  both escaping), Note [Alias classes] in `alias.py`.
"""
from __future__ import annotations

from collections import ChainMap
from typing import Dict, Hashable, Optional

from ..ir.core import Block, Graph, Node
from .alias import AliasDb, is_pure_node, shared_db
from .common import GETATTR, value_key


def run(graph: Graph) -> bool:
    """Merge repeated pure computations in `graph`; True if anything changed."""
    return eliminate_common_subexpressions(graph)


def eliminate_common_subexpressions(graph: Graph) -> bool:
    return _cse_block(graph.block, ChainMap(), shared_db(graph), {})


def _cse_block(block: Block, outer: ChainMap, db: AliasDb, pure: Dict[str, bool]) -> bool:
    seen = outer.new_child()
    changed = False
    for node in list(block.nodes):
        for b in node.blocks:
            changed |= _cse_block(b, seen, db, pure)
        key = _key(node, db, pure)
        if key is None:
            continue
        earlier: Optional[Node] = seen.get(key)
        if earlier is None or not all(db.can_replace(o, e) for o, e in zip(node.outputs, earlier.outputs)):
            seen[key] = node
            continue
        for old, new in zip(node.outputs, earlier.outputs):
            old.replace_all_uses_with(new)
            db.replaced(old, new)
        node.destroy()
        changed = True
    return changed


def _key(node: Node, db: AliasDb, pure: Dict[str, bool]) -> Optional[Hashable]:
    """None, or what `node` computes; `pure` caches `is_pure_node` by kind (for nodes without blocks)."""
    if not node.outputs:
        return None
    kind = node.kind
    if kind != GETATTR:
        if node.blocks:
            return None
        ok = pure.get(kind)
        if ok is None:
            ok = pure[kind] = is_pure_node(node)
        if not ok:
            return None
    if any(db.is_written(v) for v in node.inputs):
        return None
    attrs = tuple(sorted((name, value_key(value)) for name, value in node.attrs.items()))
    return (node.kind, tuple(node.inputs), attrs, tuple(o.type for o in node.outputs))
