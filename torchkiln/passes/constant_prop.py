"""Constant propagation: run pure ops whose inputs are all constants, fold
`if`s with a constant condition and loops that never run.

```
graph(%x : Tensor):                                graph(%x : Tensor):
  %2 : int = prim::Constant[value=2]()               %6 : int = prim::Constant[value=6]()
  %3 : int = prim::Constant[value=3]()        ->     %y : Tensor = aten::mul.Tensor(%x, %6)
  %f : int = prim::mul.int(%2, %3)                   return (%y)
  %y : Tensor = aten::mul.Tensor(%x, %f)
  return (%y)
```

What folds (everything else is left alone):

- a node whose op is pure and deterministic in the op table (random ops,
  writers and calls never fold), not structural, with every input a
  constant (a `prim::ListConstruct`/`TupleConstruct` of constants counts)
  that nothing in the graph writes,
  when running it succeeds and every result fits its output type and is a
  value a `prim::Constant` can hold; an op that raises is left to raise at
  run time;
- `prim::ListConstruct` / `prim::TupleConstruct` of non-tensor constants
  (lists are materialized fresh on every run by the executors), unless the
  list is written;
- `prim::If` with a constant condition: the taken block's nodes move before
  the `if` and its results replace the outputs;
- `prim::Loop` whose trip count is 0 or whose start condition is False: the
  initial carried values replace the outputs.

Note [Big constants]
--------------------
A folded tensor becomes a constant held by the graph, saved in archives and
kept in memory for the module's life. Folding is refused when the result has
more than `config.fold_max_numel` elements *and* more than its tensor
constant inputs together: `W.t()` on a frozen weight folds (the input usually
dies), `torch.zeros(1000, 1000)` or an `expand` of a small constant does
not. A tensor result that is written later, or that the caller gets back
(the caller could write it), never folds: executors share tensor constants
between runs. Folding runs under `torch.no_grad()`; a result that shares
memory with an input constant is copied.

Note [Leaves that require grad]
-------------------------------
`torch.tensor([1.0, 2.0], requires_grad=True)` (`prim::tensor`) has constant
inputs but makes a new autograd leaf on every run: gradients flow into it
and `.grad` accumulates on it. A constant would be one shared tensor, and
constants are detached, so `(a * x).sum()` would lose its `grad_fn`. A node
whose result requires grad (even under folding's `no_grad`, a factory's
`requires_grad=True` makes a leaf that does) never folds.

Tensor results are not folded after an autocast enter or exit in walk order
(Note [Mode barriers] in `cse.py`): folding runs without autocast, so
`torch.ones(2, 2) @ torch.ones(2, 2)` inside `with torch.autocast("cpu"):`
would become a float32 constant where the run gives bfloat16.
"""
from __future__ import annotations

from typing import Any, List, Optional

import torch

from ..ir.core import Block, Graph, Node
from ..ir.types import (
    ANY,
    BOOL,
    DEVICE,
    FLOAT,
    INT,
    LAYOUT,
    MEMORY_FORMAT,
    NONE,
    SCALAR,
    SCALAR_TYPE,
    STR,
    ListType,
    OptionalType,
    TensorType,
    TupleType,
    Type,
)
from .alias import AliasDb, LazyDb, is_mutable_type, is_pure_node
from .common import (
    CONSTANT,
    IF,
    LIST_CONSTRUCT,
    LOOP,
    TUPLE_CONSTRUCT,
    constant_value,
    has_constant_value,
    inline_block_before,
    insert_constant,
    op_info,
    sets_mode,
)
from .config import config


def run(graph: Graph) -> bool:
    """Fold constants in `graph`; True if anything changed."""
    return propagate_constants(graph)


def propagate_constants(graph: Graph) -> bool:
    return _Folder(LazyDb(graph)).block(graph.block)


class _Folder:
    """Folds one graph; the analysis is built on the first question or change (Note [Lazy AliasDb])."""

    def __init__(self, lazy: LazyDb):
        self.lazy = lazy
        self.after_autocast = False  # passed an autocast enter or exit: no tensor results fold

    @property
    def db(self) -> AliasDb:
        return self.lazy.get()

    def block(self, block: Block) -> bool:
        changed = False
        i = 0
        while i < len(block.nodes):
            node = block.nodes[i]
            if node.kind == IF and _constant_bool(node.inputs[0]) is not None:
                self._fold_if(node)  # the taken block's nodes now sit at i
                changed = True
                continue
            if node.kind == LOOP and _never_runs(node):
                self._replace(node, list(node.inputs[2:]))
                changed = True
                continue
            for b in node.blocks:
                changed |= self.block(b)
            if self._try_fold(node):
                changed = True
                continue
            if not node.outputs and sets_mode(op_info(node.kind)) == "autocast":
                self.after_autocast = True
            i += 1
        return changed

    def _fold_if(self, node: Node) -> None:
        self.lazy.get()  # before the taken block's nodes move
        taken = node.blocks[0] if _constant_bool(node.inputs[0]) else node.blocks[1]
        self._replace(node, inline_block_before(taken, node))

    def _replace(self, node: Node, results: list) -> None:
        db = self.db  # built before the change, if nothing asked for it yet
        for out, new in zip(node.outputs, results):
            if new.name is None and new.node is not None and new.node.kind == CONSTANT:
                new.name = out.name
            out.replace_all_uses_with(new)
            db.replaced(out, new)
        node.destroy()

    def _written(self, v) -> bool:
        """`db.is_written(v)`, without building the analysis for a value of an immutable type."""
        return is_mutable_type(v.type) and self.db.is_written(v)

    def _try_fold(self, node: Node) -> bool:
        if not node.outputs or not _all_constant(node.inputs):
            return False
        if node.kind in (LIST_CONSTRUCT, TUPLE_CONSTRUCT):
            if any(self._written(v) for v in node.inputs):  # reads state that changes
                return False
            return self._fold_construct(node)
        # The questions to the analysis come after the checks that need none
        # (Note [Lazy AliasDb]: most all-constant nodes are not foldable ops).
        if not is_pure_node(node):
            return False
        info = op_info(node.kind)
        if info is None or info.structural or info.impl is None:
            return False
        if any(self._written(v) for v in node.inputs):  # reads state that changes
            return False
        args = [constant_value(v) for v in node.inputs]
        try:
            with torch.no_grad():
                results = _call(node, info, args)
        except Exception:  # the op fails on these inputs: let it fail at run time
            return False
        if len(results) != len(node.outputs):
            return False
        if any(isinstance(r, torch.Tensor) and r.requires_grad for r in results):
            return False  # a fresh leaf per run (Note [Leaves that require grad])
        if self.after_autocast and any(_has_tensor(r) for r in results):
            return False  # the run may autocast it
        results = [_own_copy(r, args) for r in results]
        budget = max(config.fold_max_numel, sum(a.numel() for a in args if isinstance(a, torch.Tensor)))
        for out, r in zip(node.outputs, results):
            if not fits(r, out.type):
                return False
            if isinstance(r, torch.Tensor) and (r.numel() > budget or self.db.is_written(out) or self.db.escapes(out)):
                return False
        self.lazy.get()  # before the constants go in
        self._replace(node, [insert_constant(node, r, out.type) for out, r in zip(node.outputs, results)])
        return True

    def _fold_construct(self, node: Node) -> bool:
        out = node.output
        value = constant_value(out)
        if _has_tensor(value) or not fits(value, out.type) or self._written(out):
            return False
        self.lazy.get()
        self._replace(node, [insert_constant(node, value, out.type)])
        return True


def _all_constant(values) -> bool:
    """`all(has_constant_value(v) for v in values)`, without a call per plain constant."""
    for v in values:
        node = v.node
        if node is None:
            return False
        if node.kind != CONSTANT and not (node.kind in (LIST_CONSTRUCT, TUPLE_CONSTRUCT) and has_constant_value(v)):
            return False
    return True


def _constant_bool(v) -> Optional[bool]:
    value = constant_value(v, None)
    return value if isinstance(value, bool) else None


def _never_runs(loop: Node) -> bool:
    trips = constant_value(loop.inputs[0], None)
    return (isinstance(trips, int) and not isinstance(trips, bool) and trips <= 0) or _constant_bool(loop.inputs[1]) is False


def _call(node: Node, info, args: List[Any]) -> List[Any]:
    """Run the op as the executors do (Note [Prim impl convention] in `ops/prim.py`)."""
    if info.schema.namespace == "aten":
        schema_args = info.schema.arguments
        npos = sum(1 for a in schema_args if not a.kwarg_only)
        kwargs = {a.name: v for a, v in zip(schema_args[npos:], args[npos:])}
        result = info.impl(*args[:npos], **kwargs)
    else:
        kwargs = {name: node.attrs[name] for name in info.extra.get("attrs", ()) if name in node.attrs}
        if info.extra.get("out_types"):
            kwargs["out_types"] = [o.type for o in node.outputs]
        result = info.impl(*args, **kwargs)
    if len(node.outputs) == 1:
        return [result]
    return list(result)


def _own_copy(value: Any, args: List[Any]) -> Any:
    """A tensor result sharing memory with an input constant is copied (and detached)."""
    if not isinstance(value, torch.Tensor):
        return value
    value = value.detach()
    ptr = value.untyped_storage().data_ptr() if value.numel() else None
    for a in args:
        if isinstance(a, torch.Tensor) and a.numel() and a.untyped_storage().data_ptr() == ptr:
            return value.clone()
    return value


def _has_tensor(value: Any) -> bool:
    if isinstance(value, torch.Tensor):
        return True
    return isinstance(value, (list, tuple)) and any(_has_tensor(v) for v in value)


_SIMPLE = {
    INT: lambda v: type(v) is int,
    FLOAT: lambda v: type(v) is float,
    BOOL: lambda v: type(v) is bool,
    STR: lambda v: type(v) is str,
    NONE: lambda v: v is None,
    DEVICE: lambda v: isinstance(v, torch.device),
    SCALAR_TYPE: lambda v: isinstance(v, torch.dtype),
    LAYOUT: lambda v: isinstance(v, torch.layout),
    MEMORY_FORMAT: lambda v: isinstance(v, torch.memory_format),
    SCALAR: lambda v: type(v) in (int, float, bool),
}


def fits(value: Any, t: Type) -> bool:
    """Whether `value` is a runtime value of `t` that a constant can hold."""
    if isinstance(t, TensorType):
        return isinstance(value, torch.Tensor) and value.layout == torch.strided and not value.requires_grad
    if isinstance(t, OptionalType):
        return value is None or fits(value, t.elem)
    if isinstance(t, ListType):
        return type(value) is list and all(fits(v, t.elem) for v in value)
    if isinstance(t, TupleType):
        return isinstance(value, tuple) and len(value) == len(t.elems) and all(fits(v, e) for v, e in zip(value, t.elems))
    if t == ANY:
        return False
    for simple, check in _SIMPLE.items():
        if t == simple:
            return check(value)
    return False
