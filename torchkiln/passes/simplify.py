"""Algebraic simplification: identities that remove work without changing results.

```
graph(%x : Tensor):                                  graph(%x : Tensor):
  %0 : int = prim::Constant[value=0]()                 %r : Tensor = aten::add.Tensor(%x, %x, %1)
  %1 : int = prim::Constant[value=1]()          ->     return (%r)
  %a : Tensor = aten::add.Tensor(%x, %0, %1)
  %b : Tensor = aten::mul.Tensor(%a, %1)
  %r : Tensor = aten::add.Tensor(%b, %b, %1)
  return (%r)
```

Rules (a table, `_RULES`, by op kind):

- `x + 0`, `x - 0` (`aten::add`/`aten::sub`, `.Scalar`/`.Tensor`, alpha an
  int), `x * 1` -> `x`; `x / 1` -> `x` only for a floating `x`. The number
  must be a Python number constant (the script compiler picks the `.Scalar`
  overloads for those). See Note [x + 0].
- `aten::dropout` & co. with `train=False` -> the input (ATen returns the
  input object itself, so this is exact, aliasing included).
- `prim::TupleIndex` / `prim::TupleUnpack` of a `prim::TupleConstruct` -> its
  inputs; `prim::ListUnpack` of an unwritten `prim::ListConstruct` -> its
  inputs.
- `prim::unchecked_cast(x)` where `x` already has the target type -> `x`.
- `x is None` / `x is not None` (`prim::is`, `prim::isnot`) when `x`'s type
  is `NoneType` or cannot hold None -> a constant.
- a `prim::If` output that both blocks compute as the same outside value
  -> that value.

Constant `if`s are folded by `constant_prop`.

Note [x + 0]
------------
`x + 0` makes a new tensor equal to `x`; using `x` instead is right when

1. the dtype is unchanged. Type promotion makes `int_tensor + 0.0` float and
   `bool_tensor + 0` int64, and `x / 1` is always floating. So: an int
   constant needs `x` not known to be bool; a float constant (and any
   division) needs `x` known to be floating or complex. An `x` of unknown
   dtype counts as not bool, as in TorchScript's peephole
   (`peephole_alias_sensitive.cpp`): graphs from the script compiler carry no
   dtypes and `x + 0` on a bool tensor is far-fetched. A refined `Bool`
   tensor type is respected.
2. the shape is unchanged: only Python number constants qualify, never
   tensors (those broadcast, and even a 0-dim one promotes a 0-dim `x`).
3. nobody can tell the result from `x` by identity. After the rewrite both
   names are one tensor: a later in-place write to either would show in the
   other, and a caller given both (input `x` returned as `x + 0`) would get
   one object. `AliasDb.can_replace` refuses when either alias class is
   written anywhere or both escape -- TorchScript's
   `safeToChangeAliasingRelationship`. So `def f(x): return x + 0` keeps
   its add, while in `a = x + 0; b = a * 1; return b + b` both go.

Values are equal, not always bit-identical: `-0.0 + 0` is `+0.0`.
"""
from __future__ import annotations

from typing import Callable, Dict, List, Optional

import torch

from ..ir.core import Graph, Node, Value
from ..ir.types import BOOL, NONE, AnyType, OptionalType, TensorType, UnionType
from .alias import AliasDb, LazyDb, invalidate
from .common import IF, LIST_CONSTRUCT, TUPLE_CONSTRUCT, insert_constant, scalar_of


def run(graph: Graph) -> bool:
    """Apply the simplification rules everywhere in `graph`; True if anything changed."""
    return simplify(graph)


def simplify(graph: Graph) -> bool:
    nodes = graph.block.all_nodes()
    # Note [Lazy AliasDb]: only some rules ask the analysis, and only on
    # nodes that pass their other checks. It is built on the first question,
    # or before the first change when a node that may ask comes later;
    # otherwise the pass needs none (an unbuilt one needs no upkeep).
    db = _LazyAnalysis(graph)
    last_asking = max((i for i, n in enumerate(nodes) if n.kind in _RULES_ASKING), default=-1)
    changed = False
    for i, node in enumerate(nodes):
        if node.block is None:  # removed together with an enclosing node
            continue
        rule = _RULES.get(node.kind)
        if rule is None:
            continue
        replacement = rule(node, db)
        if replacement is None:
            continue
        for out, new in zip(node.outputs, replacement):
            if new is None or new is out:
                continue
            if not changed and last_asking > i:
                db.build()  # before the first change: a later node may ask
            out.replace_all_uses_with(new)
            db.replaced(out, new)
            changed = True
        if node.kind in _DESTROY_WHEN_UNUSED and not any(o.uses for o in node.outputs):
            node.destroy()
            invalidate(graph)  # may not count as a change (Note [Shared AliasDb])
    return changed


# -- arithmetic identities ------------------------------------------------------------

Replacement = Optional[List[Optional[Value]]]


def _dtype(v: Value) -> Optional[torch.dtype]:
    return v.type.dtype if isinstance(v.type, TensorType) else None


def _keeps_dtype(x: Value, number, divides: bool = False) -> bool:
    """Whether `x <op> number` has `x`'s dtype (Note [x + 0], point 1)."""
    dtype = _dtype(x)
    if isinstance(number, bool):
        return False
    if isinstance(number, float) or divides:
        return dtype is not None and (dtype.is_floating_point or dtype.is_complex)
    return dtype != torch.bool


def _identity(node: Node, db: AliasDb, x: Value, number, neutral, divides: bool = False) -> Replacement:
    if not isinstance(x.type, TensorType) or not isinstance(node.output.type, TensorType):
        return None
    if number != neutral or not _keeps_dtype(x, number, divides):
        return None
    if not db.can_replace(node.output, x):
        return None
    return [x]


def _int_alpha(node: Node) -> bool:
    if len(node.inputs) < 3:
        return True
    ok, alpha = scalar_of(node.inputs[2])
    return ok and type(alpha) is int


def _add_sub_zero(node: Node, db: AliasDb) -> Replacement:
    ok, number = scalar_of(node.inputs[1])
    if not ok or not _int_alpha(node):
        return None
    return _identity(node, db, node.inputs[0], number, 0)


def _mul_one(node: Node, db: AliasDb) -> Replacement:
    ok, number = scalar_of(node.inputs[1])
    if not ok:
        return None
    return _identity(node, db, node.inputs[0], number, 1)


def _div_one(node: Node, db: AliasDb) -> Replacement:
    if len(node.inputs) != 2:  # div.Tensor_mode / div.Scalar_mode round
        return None
    ok, number = scalar_of(node.inputs[1])
    if not ok:
        return None
    return _identity(node, db, node.inputs[0], number, 1, divides=True)


def _dropout_eval(node: Node, db: AliasDb) -> Replacement:
    ok, train = scalar_of(node.inputs[2])
    if not ok or train is not False:
        return None
    return [node.inputs[0]]


# -- containers and casts -----------------------------------------------------------


def _tuple_index(node: Node, db: AliasDb) -> Replacement:
    tup = node.inputs[0]
    index = node.attrs.get("index")
    if tup.node is None or tup.node.kind != TUPLE_CONSTRUCT or not isinstance(index, int):
        return None
    items = tup.node.inputs
    if not -len(items) <= index < len(items):
        return None
    return [items[index]]


def _unpack(node: Node, db: AliasDb) -> Replacement:
    src = node.inputs[0]
    construct = TUPLE_CONSTRUCT if node.kind == "prim::TupleUnpack" else LIST_CONSTRUCT
    if src.node is None or src.node.kind != construct or len(src.node.inputs) != len(node.outputs):
        return None
    if construct == LIST_CONSTRUCT and db.is_written(src):
        return None
    return list(src.node.inputs)


def _unchecked_cast(node: Node, db: AliasDb) -> Replacement:
    x = node.inputs[0]
    return [x] if x.type.is_subtype_of(node.output.type) else None


def _is_none_check(node: Node, db: AliasDb) -> Replacement:
    """`x is None` / `x is not None` decided by `x`'s type alone."""
    a, b = node.inputs
    if b.type != NONE:
        a, b = b, a
    if b.type != NONE:
        return None
    if a.type == NONE:
        answer = True
    elif not _may_be_none(a.type):
        answer = False
    else:
        return None
    if node.kind == "prim::isnot":
        answer = not answer
    return [insert_constant(node, answer, BOOL)]


def _may_be_none(t) -> bool:
    if isinstance(t, (OptionalType, AnyType)) or t == NONE:
        return True
    if isinstance(t, UnionType):
        return any(_may_be_none(m) for m in t.members)
    return False


def _if_same_result(node: Node, db: AliasDb) -> Replacement:
    """`if c: y = a else: y = a` with `a` defined outside -> `a`."""
    out: List[Optional[Value]] = []
    then_block, else_block = node.blocks
    for i, o in enumerate(node.outputs):
        a, b = then_block.returns[i], else_block.returns[i]
        same = a is b and not (then_block.is_ancestor_of(a.owning_block) or else_block.is_ancestor_of(a.owning_block))
        out.append(a if same and a.type.is_subtype_of(o.type) else None)
    return out if any(v is not None for v in out) else None


_RULES: Dict[str, Callable[[Node, AliasDb], Replacement]] = {
    "aten::add.Tensor": _add_sub_zero,
    "aten::add.Scalar": _add_sub_zero,
    "aten::sub.Tensor": _add_sub_zero,
    "aten::sub.Scalar": _add_sub_zero,
    "aten::mul.Tensor": _mul_one,
    "aten::mul.Scalar": _mul_one,
    "aten::div.Tensor": _div_one,
    "aten::div.Scalar": _div_one,
    "aten::dropout": _dropout_eval,
    "aten::feature_dropout": _dropout_eval,
    "aten::alpha_dropout": _dropout_eval,
    "aten::feature_alpha_dropout": _dropout_eval,
    "prim::TupleIndex": _tuple_index,
    "prim::TupleUnpack": _unpack,
    "prim::ListUnpack": _unpack,
    "prim::unchecked_cast": _unchecked_cast,
    "prim::is": _is_none_check,
    "prim::isnot": _is_none_check,
    IF: _if_same_result,
}

# The rules that ask the analysis (the others only read the graph).
_RULES_ASKING = frozenset(
    [k for k, rule in _RULES.items() if rule in (_add_sub_zero, _mul_one, _div_one)] + ["prim::ListUnpack"]
)


class _LazyAnalysis:
    """The analysis the rules are given: `AliasDb`'s questions, built on the
    first one (`LazyDb`); `replaced` keeps it current once built and does
    nothing before (then no node that may ask is left, see `simplify`)."""

    __slots__ = ("lazy",)

    def __init__(self, graph: Graph):
        self.lazy = LazyDb(graph)

    def build(self) -> None:
        self.lazy.get()

    def can_replace(self, old: Value, new: Value) -> bool:
        return self.lazy.get().can_replace(old, new)

    def is_written(self, v: Value) -> bool:
        return self.lazy.get().is_written(v)

    def replaced(self, old: Value, new: Value) -> None:
        if self.lazy.built:
            self.lazy.get().replaced(old, new)


# Random ops count as effectful, so dead-code elimination keeps them; with
# `train=False` these draw nothing and go as soon as they are unused.
_DESTROY_WHEN_UNUSED = {"aten::dropout", "aten::feature_dropout", "aten::alpha_dropout", "aten::feature_alpha_dropout"}
