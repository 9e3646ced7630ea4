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
  both escaping), Note [Alias classes] in `alias.py`;
- no grad-mode change and no autograd call (backward, autograd.grad) lies
  between them when the node makes tensors (Note [Mode barriers]).
"""
from __future__ import annotations

from typing import Dict, Hashable, List, Optional, Tuple

from ..ir.core import Block, Graph, Node
from ..ir.types import TensorType
from .alias import LazyDb, is_mutable_type, is_pure_node
from .common import GETATTR, op_info, runs_autograd, sets_mode, value_key


def run(graph: Graph) -> bool:
    """Merge repeated pure computations in `graph`; True if anything changed."""
    return eliminate_common_subexpressions(graph)


def eliminate_common_subexpressions(graph: Graph) -> bool:
    return _cse_block(graph.block, {}, LazyDb(graph), {}, _Epochs(), top=True)


# Note [Mode barriers]
# ~~~~~~~~~~~~~~~~~~
# Grad mode and autocast are thread-local state the dispatcher reads, no
# input of any node: after `with torch.no_grad(): a = x * w`, a later
# `b = x * w` requires grad and `a` does not; `x @ w` under
# `with torch.autocast("cpu"):` gives bfloat16 and float32 outside. A node
# that changes that state (an op with `sets_mode` in the op table:
# `prim::set_grad_enabled`, `prim::autocast_enter`/`exit`; a call, which may;
# or a node whose blocks hold one) starts a new epoch, and nodes that make
# tensors carry the epoch in their key, so they merge only within one epoch.
# A `with` block leaves the state as it found it, so a loop body holding one
# starts each iteration in the loop's state; a bare `torch.set_grad_enabled(b)`
# in a loop body is the exception (its second iteration runs in the changed
# mode) and is not seen here. `constant_prop` does not fold tensor ops after
# an autocast change (the folded value would have a run's dtype without it).
#
# An op that runs the autograd engine (`runs_autograd` in the op table:
# `prim::autograd_backward`, `prim::autograd_grad`, `aten::_backward`) starts
# an epoch too. It changes no mode, but it frees the saved tensors of the
# graph it walks: `a = x * w` before `loss.backward()` and `b = x * w` after
# it compute equal values, yet a second backward through `a` fails where one
# through `b` works (and the leaves' `.grad` read by `prim::grad`, not pure,
# changes). So tensor results merge only between two such calls.
_CALLS = frozenset(["prim::CallFunction", "prim::CallMethod"])


class _Epochs:
    def __init__(self) -> None:
        self.now = 0
        self._kinds: Dict[str, bool] = {}  # by kind: whether the op changes the mode
        self._changes: Dict[int, bool] = {}  # id(node with blocks) -> whether a mode change is inside

    def changes_mode(self, node: Node) -> bool:
        if not node.blocks:
            kind = node.kind
            found = self._kinds.get(kind)
            if found is None:
                info = op_info(kind)
                found = self._kinds[kind] = kind in _CALLS or sets_mode(info) is not None or runs_autograd(info)
            return found
        found = self._changes.get(id(node))
        if found is None:
            found = self._changes[id(node)] = any(self.changes_mode(n) for b in node.blocks for n in b.nodes)
        return found


def _cse_block(block: Block, seen: Dict[Hashable, Node], lazy: LazyDb, pure: Dict[str, bool], epochs: _Epochs, top: bool = False) -> bool:
    """CSE in `block`; `seen` holds the keys of the enclosing blocks' nodes
    (and, while this runs, this block's: they are taken out again at the end,
    unless `block` is the graph's, `top`: then `seen` is dropped anyway).

    The analysis is asked only when a node meets an earlier one with its key
    (Note [Lazy AliasDb]): a node whose inputs are written is recorded too,
    but a later node with the same key has the same inputs, so it finds them
    written and takes the entry over, as if neither had been recorded.
    """
    shadowed: List[Tuple[Hashable, Optional[Node]]] = []  # (key, entry before this block)
    changed = False
    for node in list(block.nodes):
        if node.blocks:
            for b in node.blocks:
                changed |= _cse_block(b, seen, lazy, pure, epochs)
            if epochs.changes_mode(node):
                epochs.now += 1  # whichever way the blocks went, the mode after them may differ
            continue  # nodes with blocks are never merged
        if epochs.changes_mode(node):
            epochs.now += 1
            continue
        key = _key(node, pure)
        if key is None:
            continue
        if any(_makes_tensors(o.type) for o in node.outputs):
            key = (key, epochs.now)
        earlier: Node = seen.setdefault(key, node)  # one hash of the key when it is new
        if earlier is node:
            if not top:
                shadowed.append((key, None))
            continue
        if _mergeable(node, earlier, lazy):
            for old, new in zip(node.outputs, earlier.outputs):
                old.replace_all_uses_with(new)
                if lazy.built:
                    lazy.get().replaced(old, new)
            node.destroy()
            changed = True
            continue
        if not top:
            shadowed.append((key, earlier))
        seen[key] = node
    for key, before in reversed(shadowed):
        if before is None:
            del seen[key]
        else:
            seen[key] = before
    return changed


def _makes_tensors(t) -> bool:
    return isinstance(t, TensorType) or any(_makes_tensors(c) for c in t.contained())


def _mergeable(node: Node, earlier: Node, lazy: LazyDb) -> bool:
    """No input of `node` is written and each output may be replaced by `earlier`'s.

    Values of immutable types need no analysis (`is_written` is False,
    `can_replace` True): it is built only for a mutable one. A merge made
    without it removes a pure node all of whose inputs and outputs are of
    immutable types, from which the analysis learns nothing, so building it
    after such merges gives the answers it would have given before them
    (Note [Lazy AliasDb]).
    """
    needs_db = any(is_mutable_type(v.type) for v in node.inputs) or any(
        is_mutable_type(o.type) and is_mutable_type(e.type) for o, e in zip(node.outputs, earlier.outputs)
    )
    if not needs_db:
        return True
    db = lazy.get()
    if any(db.is_written(v) for v in node.inputs):
        return False
    return all(db.can_replace(o, e) for o, e in zip(node.outputs, earlier.outputs))


def _key(node: Node, pure: Dict[str, bool]) -> Optional[Hashable]:
    """None, or what `node` computes; `pure` caches `is_pure_node` by kind (for nodes without blocks)."""
    if not node.outputs:
        return None
    kind = node.kind
    if kind != GETATTR:
        ok = pure.get(kind)
        if ok is None:
            ok = pure[kind] = is_pure_node(node)
        if not ok:
            return None
    attrs = node.attrs
    if not attrs:
        attr_key: tuple = ()
    elif len(attrs) == 1:
        for name, value in attrs.items():
            attr_key = ((name, value_key(value)),)
    else:
        attr_key = tuple(sorted((name, value_key(value)) for name, value in attrs.items()))
    outputs = node.outputs
    out_types = (outputs[0].type,) if len(outputs) == 1 else tuple(o.type for o in outputs)
    return (kind, tuple(node.inputs), attr_key, out_types)
