"""Alias and side-effect facts for the passes: which values may share
memory, which nodes write to them, which nodes do more than compute.

Note [Alias classes]
--------------------
The analysis is deliberately coarse and always errs towards "may alias":

- Values of immutable types (int, float, bool, str, None, Device, dtype,
  and tuples/optionals of those) never alias anything.
- Every other value belongs to one alias class (union-find). Two values in
  different classes never share memory.
- A container and what it contains are one class: `prim::ListConstruct`,
  `prim::TupleIndex`, `prim::GetAttr` and every other `prim::` op put all
  their mutable inputs and outputs in one class. A write to the list is a
  write to its elements and the reverse.
- `aten::` ops follow their dispatcher schema: inputs and outputs sharing an
  alias set (`Tensor(a) self -> Tensor(a)`) are one class; an unannotated
  output is fresh; `*` (wildcard) joins the class of the graph inputs.
- All mutable graph inputs are one class (the caller may pass the same
  tensor twice, or a module and one of its parameters). That class, and the
  classes of the graph outputs, *escape*: a write to them is seen by the
  caller, and replacing one of their values by another changes what the
  caller sees.
- A node *writes* the inputs its schema marks `(a!)`. A node whose op is
  impure for another reason (unknown op, `prim::CallFunction`/`CallMethod`,
  `prim::Print`, `prim::RaiseException`, random ops, a node with blocks of an
  unknown kind) is *effectful*; an effectful node counts as writing all its
  mutable inputs.

Passes recompute the analysis when they start and keep it current with
`union` when they make a value stand for another.

With `attr_key` (used by freezing), a `prim::GetAttr` whose key is not None
starts a class of its own, shared by the GetAttrs with the same key, instead
of joining its object's class: module state then counts as written only
where the graph really writes that piece of state.
"""
from __future__ import annotations

from typing import Callable, Dict, Hashable, Iterable, List, Optional, Set

from ..ir.core import Graph, Node, Value
from ..ir.types import (
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
    OptionalType,
    TupleType,
    Type,
    UnionType,
)
from .common import CALL_FUNCTION, CALL_METHOD, CONSTANT, GETATTR, IF, LOOP, is_deletable, is_nondeterministic, op_info

_IMMUTABLE = (INT, FLOAT, BOOL, STR, NONE, DEVICE, SCALAR_TYPE, LAYOUT, MEMORY_FORMAT, SCALAR)
_CALLS = (CALL_FUNCTION, CALL_METHOD)  # callees are not analysed: effectful


def is_mutable_type(t: Type) -> bool:
    """Whether a value of type `t` may share memory with another (see Note [Alias classes])."""
    if any(t == s for s in _IMMUTABLE):
        return False
    if isinstance(t, (OptionalType, TupleType, UnionType)):
        return any(is_mutable_type(c) for c in t.contained())
    return True


class _Anchor:
    """A union-find member standing for something that is not a Value."""

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


class AliasDb:
    """Alias classes, writes and effects of one graph; see Note [Alias classes].

    ```
    graph(%x : Tensor):
      %v : Tensor = aten::view(%x, %shape)     # %v in %x's class (the schema says `Tensor(a)`)
      %w : Tensor = aten::add_.Tensor(%v, %x, %one)   # writes %v: %x is written
      %y : Tensor = aten::mul.Tensor(%x, %x)   # fresh class
    ```
    """

    def __init__(self, graph: Graph, attr_key: Optional[Callable[[Node], Optional[Hashable]]] = None):
        self._parent: Dict[object, object] = {}
        self._writes: Dict[Node, List[Value]] = {}
        self._effectful: Set[Node] = set()
        self._attr_key = attr_key
        self._attr_anchors: Dict[Hashable, _Anchor] = {}
        self._wildcard = _Anchor("wildcard")
        self._escaping: List[object] = [self._wildcard]
        self._version = 0
        self._cache_version = -1
        self._written_roots: Set[object] = set()
        self._writers_by_root: Dict[object, List[Node]] = {}
        self._escaping_roots: Set[object] = set()

        for v in graph.inputs:
            if is_mutable_type(v.type):
                self.union(v, self._wildcard)
        for node in graph.walk():
            self._visit(node)
        for v in graph.outputs:
            if is_mutable_type(v.type):
                self._escaping.append(v)

    # -- union-find -------------------------------------------------------------
    def _find(self, x: object) -> object:
        root = x
        while True:
            parent = self._parent.get(root, root)
            if parent is root:
                break
            root = parent
        while x is not root:
            nxt = self._parent.get(x, x)
            self._parent[x] = root
            x = nxt
        return root

    def union(self, a: object, b: object) -> None:
        """Put `a` and `b` in one class (Values of immutable types are ignored)."""
        for v in (a, b):
            if isinstance(v, Value) and not is_mutable_type(v.type):
                return
        ra, rb = self._find(a), self._find(b)
        if ra is not rb:
            self._parent[ra] = rb
            self._version += 1

    def _union_all(self, values: Iterable[Value]) -> None:
        mutable = [v for v in values if is_mutable_type(v.type)]
        for v in mutable[1:]:
            self.union(mutable[0], v)

    # -- building ---------------------------------------------------------------
    def _visit(self, node: Node) -> None:
        kind = node.kind
        if kind == CONSTANT:
            return
        if kind == IF:
            for i, out in enumerate(node.outputs):
                for b in node.blocks:
                    self.union(out, b.returns[i])
            return
        if kind == LOOP:
            body = node.blocks[0]
            for k, out in enumerate(node.outputs):
                for v in (node.inputs[k + 2], body.params[k + 1], body.returns[k + 1]):
                    self.union(out, v)
            return
        if node.blocks:
            everything = list(node.inputs) + list(node.outputs)
            for b in node.blocks:
                everything += list(b.params) + list(b.returns)
            self._union_all(everything)
            self._mark_effectful(node)
            return
        if kind == GETATTR and self._attr_key is not None:
            key = self._attr_key(node)
            if key is not None:
                anchor = self._attr_anchors.setdefault(key, _Anchor(f"attr {key}"))
                self.union(node.output, anchor)
                return
        info = op_info(kind)
        if info is None or kind in _CALLS:
            self._union_all(list(node.inputs) + list(node.outputs))
            self._mark_effectful(node)
            return
        schema = info.schema
        args = schema.arguments
        n_fixed = len(args) if not schema.is_vararg else sum(1 for a in args if not a.kwarg_only)
        writes = [v for v, a in zip(node.inputs[:n_fixed], args) if a.is_write and is_mutable_type(v.type)]
        if schema.namespace == "aten":
            self._union_by_schema(node, info)
        else:
            self._union_all(list(node.inputs) + list(node.outputs))
        if writes:
            self._writes[node] = writes
        if is_nondeterministic(info) or (not is_deletable(info) and not writes):
            self._mark_effectful(node)

    def _union_by_schema(self, node: Node, info) -> None:
        schema = info.schema
        sets: Dict[str, List[Value]] = {}
        pairs = list(zip(node.inputs, schema.arguments))
        if not schema.is_varret:
            pairs += list(zip(node.outputs, schema.returns))
        for v, a in pairs:
            if a.alias is None:
                continue
            for s in a.alias.sets + (a.alias.after or ()):
                sets.setdefault(s, []).append(v)
        for s, values in sets.items():
            if s == "*":
                for v in values:
                    self.union(v, self._wildcard)
            else:
                self._union_all(values)

    def _mark_effectful(self, node: Node) -> None:
        self._effectful.add(node)
        mutable = [v for v in node.inputs if is_mutable_type(v.type)]
        if mutable:
            self._writes[node] = mutable
        self._version += 1

    # -- queries ----------------------------------------------------------------
    def _refresh(self) -> None:
        if self._cache_version == self._version:
            return
        self._writers_by_root = {}
        for node, values in self._writes.items():
            for v in values:
                self._writers_by_root.setdefault(self._find(v), []).append(node)
        self._written_roots = set(self._writers_by_root)
        self._escaping_roots = {self._find(x) for x in self._escaping}
        self._cache_version = self._version

    def may_alias(self, a: Value, b: Value) -> bool:
        if not (is_mutable_type(a.type) and is_mutable_type(b.type)):
            return False
        return self._find(a) is self._find(b)

    def is_written(self, v: Value) -> bool:
        """Whether any node in the graph may write `v` or a value aliasing it."""
        if not is_mutable_type(v.type):
            return False
        self._refresh()
        return self._find(v) in self._written_roots

    def writers(self, v: Value) -> List[Node]:
        if not is_mutable_type(v.type):
            return []
        self._refresh()
        return list(self._writers_by_root.get(self._find(v), ()))

    def escapes(self, v: Value) -> bool:
        """Whether `v` may alias a graph input or output (the caller sees it)."""
        if not is_mutable_type(v.type):
            return False
        self._refresh()
        return self._find(v) in self._escaping_roots

    def writes(self, node: Node) -> List[Value]:
        """The inputs `node` writes (all mutable inputs for an effectful node)."""
        return list(self._writes.get(node, ()))

    def is_effectful(self, node: Node) -> bool:
        """Side effects beyond writing inputs; see Note [Alias classes]."""
        return node in self._effectful

    def is_writer(self, node: Node) -> bool:
        return node in self._writes

    def can_replace(self, old: Value, new: Value) -> bool:
        """Whether every use of `old` may read `new` instead, unobservably.

        They must hold equal contents (the caller's business). Then the
        swap makes them one object, which nobody notices when neither is
        ever written and the caller does not get to see both (they do not
        both escape) -- TorchScript's `safeToChangeAliasingRelationship`.
        """
        if not (is_mutable_type(old.type) and is_mutable_type(new.type)):
            return True
        if self.is_written(old) or self.is_written(new):
            return False
        return not (self.escapes(old) and self.escapes(new))

    def replaced(self, old: Value, new: Value) -> None:
        """Record that `new` now stands for `old` (keeps the classes current)."""
        if is_mutable_type(old.type) and is_mutable_type(new.type):
            self.union(old, new)


def is_pure_node(node: Node) -> bool:
    """A node that only computes: a pure, deterministic table op without blocks."""
    if node.blocks or node.kind in _CALLS:
        return False
    info = op_info(node.kind)
    return info is not None and info.pure and not info.schema.is_mutable and not is_nondeterministic(info)
