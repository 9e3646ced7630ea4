"""Alias and side-effect facts for the passes: which values may share
memory, which nodes write to them, which nodes do more than compute.

Note [Alias classes]
--------------------
The analysis errs towards "may alias" and "may write":

- Values of immutable types (int, float, bool, str, None, Device, dtype,
  and tuples/optionals of those) never alias anything.
- Every other value belongs to one alias class (union-find); values in
  different classes never share memory.
- A class of containers (lists, tuples, dicts, futures) has a *contents*
  class: what its elements may alias. `prim::ListConstruct(%a, %b)` puts
  `%a` and `%b` in the list's contents; `prim::getitem.list` returns a value
  of the contents; `prim::append.list(%l, %t)` writes `%l`'s class only (the
  elements are not changed) and puts `%t` in the contents. For `prim::` ops
  this is read from the node's types: a value whose type is an element type
  of another's (List[T] and T, Dict(K, V) and V, ...) goes in its contents,
  values of the same level are put in one class. Objects (modules, script
  classes) and `Any` are their own contents: every attribute read may alias
  the object and each other.
- `aten::` ops follow their dispatcher schema: values sharing an alias set
  (`Tensor(a) self -> Tensor(a)`) are one class (`Tensor(a)[]`: the list's
  contents), an unannotated output is fresh, `*` is the wildcard class.
- All mutable graph inputs are one class, the wildcard (the caller may pass
  the same tensor twice, or a module and one of its parameters); it is its
  own contents. It and what the graph outputs reach *escape*: a write to
  them is seen by the caller, and swapping one of their values for another
  changes what the caller sees.
- A node *writes* the inputs its schema marks `(a!)` (that class only;
  `prim::SetAttr` writes its object). An op impure for another reason is
  *effectful*: `Print`, `RaiseException`, random ops (the op table says they
  write nothing), and calls (`prim::CallFunction`, `CallMethod`, `fork`),
  ops missing from the table and nodes with blocks of an unknown kind,
  which also count as writing everything their mutable inputs reach.
- A value is *written* when a write hits a class it reaches (its own or,
  transitively, its contents): reading `cat(list)` depends on the tensors.

Passes build the analysis when they start and keep it current with
`replaced` when they make one value stand for another.

With `attr_key` (used by freezing), a `prim::GetAttr` whose key is not None
starts a class of its own, shared by the GetAttrs with the same key, instead
of joining its object's contents: module state then counts as written only
where the graph really writes that piece of state.
"""
from __future__ import annotations

import threading
from typing import Callable, Dict, Hashable, Iterable, List, Optional, Set, Tuple

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
    DictType,
    TensorType,
    FutureType,
    ListType,
    OptionalType,
    TupleType,
    Type,
    UnionType,
)
from .common import CALL_FUNCTION, CALL_METHOD, CONSTANT, GETATTR, IF, LOOP, SETATTR, is_deletable, is_nondeterministic, op_info

_IMMUTABLE = (INT, FLOAT, BOOL, STR, NONE, DEVICE, SCALAR_TYPE, LAYOUT, MEMORY_FORMAT, SCALAR)
_CALLS = (CALL_FUNCTION, CALL_METHOD, "prim::fork")  # callees are not analysed


# Answers of `is_mutable_type` by the type object's identity (the entry keeps
# the type alive, so an id is never reused while cached). Types are immutable
# values except class types, which are always mutable.
_MUTABLE_CACHE: Dict[int, Tuple[Type, bool]] = {}
_MUTABLE_CACHE_MAX = 1 << 14


def is_mutable_type(t: Type) -> bool:
    """Whether a value of type `t` may share memory with another (see Note [Alias classes])."""
    if type(t) is TensorType:
        return True
    hit = _MUTABLE_CACHE.get(id(t))
    if hit is not None and hit[0] is t:
        return hit[1]
    return _cache_mutable(t)


def _cache_mutable(t: Type) -> bool:
    result = _is_mutable_type(t)
    if len(_MUTABLE_CACHE) >= _MUTABLE_CACHE_MAX:
        _MUTABLE_CACHE.clear()
    _MUTABLE_CACHE[id(t)] = (t, result)
    return result


def _is_mutable_type(t: Type) -> bool:
    if any(t == s for s in _IMMUTABLE):
        return False
    if isinstance(t, (OptionalType, TupleType, UnionType)):
        return any(is_mutable_type(c) for c in t.contained())
    return True


def _strip_optional(t: Type) -> Type:
    while isinstance(t, OptionalType):
        t = t.elem
    return t


def _element_types(t: Type) -> Tuple[Type, ...]:
    """The types one level inside a container type (empty for non-containers)."""
    t = _strip_optional(t)
    if isinstance(t, (ListType, FutureType)):
        return (t.elem,)
    if isinstance(t, TupleType):
        return t.elems
    if isinstance(t, DictType):
        return (t.key, t.value)
    return ()


def _is_container(t: Type) -> bool:
    return bool(_element_types(t))


def _related(a: Type, b: Type) -> bool:
    a, b = _strip_optional(a), _strip_optional(b)
    return a.is_subtype_of(b) or b.is_subtype_of(a)


_B_IN_A, _A_IN_B, _SAME, _CONTENTS, _UNRELATED = range(5)

# `_relation` answers by the type objects' identities (as `_MUTABLE_CACHE`:
# equal types need not answer alike, e.g. interface types); the entry keeps
# the types alive, so an id is never reused while cached.
_RELATION_CACHE: Dict[Tuple[int, int, bool], Tuple[Type, Type, int]] = {}


def _relation(a: Type, b: Type, same_object: bool) -> int:
    """How `AliasDb._relate` relates values of types `a` and `b` (a function of the types alone)."""
    key = (id(a), id(b), same_object)
    hit = _RELATION_CACHE.get(key)
    if hit is not None and hit[0] is a and hit[1] is b:
        return hit[2]
    if any(_related(e, b) for e in _element_types(a)):
        how = _B_IN_A
    elif any(_related(e, a) for e in _element_types(b)):
        how = _A_IN_B
    elif same_object or not (_is_container(a) or _is_container(b)):
        how = _SAME
    elif _is_container(a) and _is_container(b):
        how = _CONTENTS
    else:
        how = _UNRELATED
    if len(_RELATION_CACHE) >= _MUTABLE_CACHE_MAX:
        _RELATION_CACHE.clear()
    _RELATION_CACHE[key] = (a, b, how)
    return how


# `_facts` answers by kind, with the op table entry they were computed from.
_FACTS_CACHE: Dict[str, Tuple[object, tuple]] = {}


def _facts(kind: str) -> tuple:
    """What `_visit` needs to know of an op: (info or None for an unknown op or
    a call, is an aten op, nondeterministic, deletable, may write something,
    the schema's alias annotations as `_alias_plan` lists them)."""
    info = op_info(kind)
    hit = _FACTS_CACHE.get(kind)
    if hit is not None and hit[0] is info:
        return hit[1]
    facts = _compute_facts(kind, info)
    _FACTS_CACHE[kind] = (info, facts)
    return facts


def _compute_facts(kind: str, info) -> tuple:
    if info is None or kind in _CALLS:
        return (None, False, False, False, True, ())
    schema = info.schema
    may_write = kind == SETATTR or any(a.is_write for a in schema.arguments)
    is_aten = schema.namespace == "aten"
    plan = _alias_plan(schema) if is_aten else ()
    return (info, is_aten, is_nondeterministic(info), is_deletable(info), may_write, plan)


def _alias_plan(schema) -> tuple:
    """The annotated arguments, then returns (none for a vararg return), of an
    aten schema: `(is_output, index, on_element, sets)` each, in the order
    `AliasDb._union_by_schema` relates them. Most ops have none."""
    plan = []
    for i, a in enumerate(schema.arguments):
        if a.alias is not None:
            plan.append((False, i, a.alias.on_element, a.alias.sets + (a.alias.after or ())))
    if not schema.is_varret:
        for i, a in enumerate(schema.returns):
            if a.alias is not None:
                plan.append((True, i, a.alias.on_element, a.alias.sets + (a.alias.after or ())))
    return tuple(plan)


class _Anchor:
    """A union-find member standing for something that is not a Value."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


Member = object  # a Value or an _Anchor
_NO_NODES: List[Node] = []  # shared empty answer of `writers_view`; never changed


class AliasDb:
    """Alias classes, writes and effects of one graph; see Note [Alias classes].

    ```
    graph(%x : Tensor):
      %v : Tensor = aten::view(%x, %shape)            # %v in %x's class (`Tensor(a)`)
      %w : Tensor = aten::add_.Tensor(%v, %x, %one)   # writes %v: %x is written
      %y : Tensor = aten::mul.Tensor(%x, %x)          # fresh class
    ```
    """

    def __init__(self, graph: Graph, attr_key: Optional[Callable[[Node], Optional[Hashable]]] = None):
        self._parent: Dict[Member, Member] = {}
        self._contents: Dict[Member, Member] = {}  # root -> a member of its contents class
        self._writes: Dict[Node, List[Tuple[Member, bool]]] = {}  # (member, deep)
        self._effectful: Set[Node] = set()
        self._attr_key = attr_key
        self._attr_anchors: Dict[Hashable, _Anchor] = {}
        self._wildcard = _Anchor("wildcard")
        self._contents[self._wildcard] = self._wildcard
        self._escaping: List[Member] = [self._wildcard]
        self._version = 0
        self._cache_version = -1
        self._written_roots: Set[Member] = set()
        self._writers_by_root: Dict[Member, List[Node]] = {}
        self._escaping_roots: Set[Member] = set()
        self._writers_memo: Dict[Member, List[Node]] = {}
        #: Nodes that may write anything their inputs reach (calls, unknown ops).
        self.unknown_writers: List[Node] = []
        self._kind_facts: Dict[str, tuple] = {}  # kind -> _facts(kind), for this build

        for v in graph.inputs:
            if is_mutable_type(v.type):
                self._union(v, self._wildcard)
        visit = self._visit
        for node in graph.block.all_nodes():
            if node.kind != CONSTANT:  # constants relate nothing
                visit(node)
        for v in graph.outputs:
            if is_mutable_type(v.type):
                self._escaping.append(v)

    # -- union-find -------------------------------------------------------------
    def _find(self, x: Member) -> Member:
        parent = self._parent.get(x)
        if parent is None:
            return x
        if parent not in self._parent:
            return parent
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

    def _union(self, a: Member, b: Member) -> None:
        ra, rb = self._find(a), self._find(b)
        if ra is rb:
            return
        self._parent[ra] = rb
        self._version += 1
        ca, cb = self._contents.pop(ra, None), self._contents.get(rb)
        if ca is None:
            return
        if cb is None:
            self._contents[rb] = ca
        else:
            self._union(ca, cb)

    def _contents_of(self, x: Member) -> Member:
        """A member of the contents class of `x`'s class (created on demand)."""
        root = self._find(x)
        c = self._contents.get(root)
        if c is None:
            t = x.type if isinstance(x, Value) else None
            c = _Anchor("contents") if t is not None and _is_container(t) else root
            self._contents[root] = c
            self._version += 1  # `_reach` answers change
        return c

    def _reach(self, x: Member) -> List[Member]:
        """The roots of `x`'s class and, transitively, of its contents."""
        out: List[Member] = []
        seen: Set[Member] = set()
        root: Optional[Member] = self._find(x)
        while root is not None and root not in seen:
            seen.add(root)
            out.append(root)
            c = self._contents.get(root)
            root = self._find(c) if c is not None else None
        return out

    # -- building ---------------------------------------------------------------
    def _visit(self, node: Node) -> None:
        kind = node.kind
        if kind == CONSTANT:
            return
        if kind == IF:
            for i, out in enumerate(node.outputs):
                if is_mutable_type(out.type):  # one class with each block's result of a mutable type
                    for b in node.blocks:
                        v = b.return_node.inputs[i]
                        if is_mutable_type(v.type):
                            self._union(out, v)
            return
        if kind == LOOP:
            body = node.blocks[0]
            for k, out in enumerate(node.outputs):
                if is_mutable_type(out.type):
                    for v in (node.inputs[k + 2], body.params[k + 1], body.return_node.inputs[k + 1]):
                        if is_mutable_type(v.type):
                            self._union(out, v)
            return
        if node.blocks:
            everything = list(node.inputs) + list(node.outputs)
            for b in node.blocks:
                everything += list(b.params) + list(b.returns)
            self._union_all(everything)
            self._mark_effectful(node, writes_all=True)
            return
        if kind == GETATTR:
            out = node.outputs[0]
            key = self._attr_key(node) if self._attr_key is not None else None
            if key is not None:
                anchor = self._attr_anchors.setdefault(key, _Anchor(f"attr {key}"))
                self._union(out, anchor)
            elif type(out.type) is TensorType or is_mutable_type(out.type):
                self._union(out, self._contents_of(node.inputs[0]))
            return
        facts = self._kind_facts.get(kind)
        if facts is None:
            facts = self._kind_facts[kind] = _facts(kind)
        info, is_aten, nondet, deletable, any_write, plan = facts
        if info is None:
            self._union_all(list(node.inputs) + list(node.outputs))
            self._mark_effectful(node, writes_all=True)
            return
        writes = self._schema_writes(node, info) if any_write else []
        if is_aten:
            if plan:  # an op without alias annotations relates nothing
                self._union_by_schema(node, plan)
        elif writes:
            self._union_by_types(node, relate_inputs=True)
        else:
            for out in node.outputs:  # without a mutable output, `_union_by_types` relates nothing
                if is_mutable_type(out.type):
                    self._union_by_types(node, relate_inputs=False)
                    break
        if writes:
            self._writes[node] = writes
        if nondet or (not deletable and not writes):
            self._mark_effectful(node, writes_all=False)

    def _schema_writes(self, node: Node, info) -> List[Tuple[Member, bool]]:
        """What `node` writes: the `(a!)` arguments (`prim::SetAttr`: its object)."""
        if node.kind == SETATTR:
            return [(node.inputs[0], False)]
        schema = info.schema
        args = schema.arguments
        n_fixed = len(args) if not schema.is_vararg else sum(1 for a in args if not a.kwarg_only)
        writes: List[Tuple[Member, bool]] = []
        for v, a in zip(node.inputs[:n_fixed], args):
            if a.is_write and is_mutable_type(v.type):
                target = self._contents_of(v) if a.alias is not None and a.alias.on_element else v
                writes.append((target, False))
        return writes

    def _union_all(self, values: Iterable[Value]) -> None:
        mutable = [v for v in values if is_mutable_type(v.type)]
        for v in mutable[1:]:
            self._union(mutable[0], v)

    def _union_by_schema(self, node: Node, plan: tuple) -> None:
        """Values sharing an alias set of the schema (`_alias_plan`) are one class."""
        sets: Dict[str, List[Member]] = {}
        inputs, outputs = node.inputs, node.outputs
        for is_output, i, on_element, names in plan:
            values = outputs if is_output else inputs
            if i >= len(values):
                continue
            v = values[i]
            if not is_mutable_type(v.type):
                continue
            member = self._contents_of(v) if on_element else v
            for s in names:
                sets.setdefault(s, []).append(member)
        for s, members in sets.items():
            if s == "*":
                for m in members:
                    self._union(m, self._wildcard)
            else:
                for m in members[1:]:
                    self._union(members[0], m)

    def _union_by_types(self, node: Node, relate_inputs: bool) -> None:
        """`prim::` ops: relate inputs and outputs by their types' nesting
        (inputs among themselves only for a writer: `append` stores its element)."""
        outs = [v for v in node.outputs if type(v.type) is TensorType or is_mutable_type(v.type)]
        if not outs and not relate_inputs:
            return
        ins = [v for v in node.inputs if type(v.type) is TensorType or is_mutable_type(v.type)]
        if not ins or (not outs and len(ins) < 2):
            return
        for n, a in enumerate(ins):
            for b in outs:
                self._relate(a, b, same_object=True)
            if relate_inputs:
                for b in ins[n + 1:]:
                    self._relate(a, b, same_object=False)

    def _relate(self, a: Value, b: Value, same_object: bool) -> None:
        """`b` may be an element of `a` or the reverse; else they are one level:
        an input and an output may be one object, two inputs' contents may mix."""
        how = _relation(a.type, b.type, same_object)
        if how == _B_IN_A:
            self._union(b, self._contents_of(a))
        elif how == _A_IN_B:
            self._union(a, self._contents_of(b))
        elif how == _SAME:
            self._union(a, b)
        elif how == _CONTENTS:
            self._union(self._contents_of(a), self._contents_of(b))

    def _mark_effectful(self, node: Node, writes_all: bool) -> None:
        self._effectful.add(node)
        if writes_all:
            self._writes[node] = [(v, True) for v in node.inputs if is_mutable_type(v.type)]
            self.unknown_writers.append(node)
        self._version += 1

    # -- queries ----------------------------------------------------------------
    def _refresh(self) -> None:
        if self._cache_version == self._version:
            return
        self._writers_by_root = {}
        for node, targets in self._writes.items():
            for member, deep in targets:
                for root in self._reach(member) if deep else [self._find(member)]:
                    self._writers_by_root.setdefault(root, []).append(node)
        self._written_roots = set(self._writers_by_root)
        self._escaping_roots = {r for x in self._escaping for r in self._reach(x)}
        self._writers_memo = {}
        self._cache_version = self._version

    def _writers_of_root(self, root: Member) -> List[Node]:
        """`writers` of a class root (after `_refresh`), memoized until the analysis changes."""
        out = self._writers_memo.get(root)
        if out is None:
            out = self._writers_memo[root] = [n for r in self._reach(root) for n in self._writers_by_root.get(r, ())]
        return out

    def may_alias(self, a: Value, b: Value) -> bool:
        if not (is_mutable_type(a.type) and is_mutable_type(b.type)):
            return False
        return self._find(a) is self._find(b)

    def is_written(self, v: Value) -> bool:
        """Whether any node may write `v`, a value aliasing it, or what it contains."""
        if not is_mutable_type(v.type):
            return False
        self._refresh()
        return bool(self._writers_of_root(self._find(v)))

    def writers(self, v: Value) -> List[Node]:
        """Every node that may write `v`, its aliases, or what it contains."""
        if not is_mutable_type(v.type):
            return []
        self._refresh()
        return list(self._writers_of_root(self._find(v)))

    def escapes(self, v: Value) -> bool:
        """Whether the caller may see `v` (it may alias or be reached from a graph input or output)."""
        if not is_mutable_type(v.type):
            return False
        self._refresh()
        return self._find(v) in self._escaping_roots

    def writes_escaping(self, node: Node) -> bool:
        """Whether `node` writes something the caller may see."""
        self._refresh()
        for member, deep in self._writes.get(node, ()):
            roots = self._reach(member) if deep else [self._find(member)]
            if any(r in self._escaping_roots for r in roots):
                return True
        return False

    def must_keep(self, node: Node) -> bool:
        """`is_effectful(node) or writes_escaping(node)`: dead-code elimination's roots."""
        if node in self._effectful:
            return True
        return node in self._writes and self.writes_escaping(node)

    def writers_view(self, v: Value) -> List[Node]:
        """`writers(v)` without the copy: the caller must not change the list."""
        if not self._writes or not is_mutable_type(v.type):
            return _NO_NODES
        self._refresh()
        return self._writers_of_root(self._find(v))

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
            self._union(old, new)


# -- sharing one analysis between passes -------------------------------------------------
#
# Note [Shared AliasDb]
# ---------------------
# The analysis of a graph depends only on the graph, so passes that run one
# after another on an unchanged graph can share it. `run_pipeline` opens a
# `sharing(graph)` scope; inside it `shared_db(graph)` hands out the analysis
# built last, and the pipeline calls `invalidate(graph)` after every pass that
# reports a change (and after any pass it does not know), except after a pass
# listed as keeping the analysis exact (`manager._KEEPS_ALIAS_DB`: CSE, whose
# merges leave every answer about the remaining values and nodes as a fresh
# build would give it). A pass that changes the graph without reporting it
# must call `invalidate` itself. Outside a scope, `shared_db` builds a fresh
# analysis every time.
#
# Note [Lazy AliasDb]
# -------------------
# Building the analysis is most of a pass's cost on small graphs, and many
# runs of a pass never ask it anything (no candidate for folding, no repeated
# expression). Such passes hold a `LazyDb` and build (or take the shared) analysis
# on the first question. The answers must be those of the analysis of the
# graph as the pass found it, kept current by `replaced`: so the analysis is
# built before the pass's first change to the graph, unless the pass asks
# nothing after that change (then an unbuilt analysis needs no upkeep).
# Questions whose answer the types alone give (`is_written` of a value of
# an immutable type is False) are answered without building it; simplify
# builds it before its first change only when a node that may ask comes
# later; CSE's merges keep it exact, so CSE builds it at its first real
# question even after merging; and dead-code elimination on a graph where
# nothing writes (`effects_without_writes`) needs only the effectful nodes.

class _Scopes(threading.local):
    def __init__(self) -> None:
        self.stack: List[List[object]] = []  # [graph, AliasDb or None], innermost last


_SCOPES = _Scopes()  # per thread: pipelines may run on several threads (Note [Lazy optimization])


class sharing:
    """Context manager: share `shared_db(graph)` until `invalidate(graph)`."""

    def __init__(self, graph: Graph):
        self.graph = graph

    def __enter__(self) -> "sharing":
        _SCOPES.stack.append([self.graph, None])
        return self

    def __exit__(self, *exc) -> None:
        _SCOPES.stack.pop()


def shared_db(graph: Graph) -> AliasDb:
    """`AliasDb(graph)`, reused while the graph is unchanged (Note [Shared AliasDb])."""
    stack = _SCOPES.stack
    if stack and stack[-1][0] is graph:
        entry = stack[-1]
        db = entry[1]
        if db is None:
            db = entry[1] = AliasDb(graph)
        return db  # type: ignore[return-value]
    return AliasDb(graph)


def cached_db(graph: Graph) -> Optional[AliasDb]:
    """The analysis `shared_db(graph)` would hand out without building one, or None."""
    stack = _SCOPES.stack
    if stack and stack[-1][0] is graph:
        return stack[-1][1]  # type: ignore[return-value]
    return None


class LazyDb:
    """`shared_db(graph)`, built on the first `get()` (Note [Lazy AliasDb]).

    A pass that holds one must call `get()` before its first change to the
    graph whenever it may query the analysis after that change.
    """

    __slots__ = ("graph", "_db")

    def __init__(self, graph: Graph):
        self.graph = graph
        self._db: Optional[AliasDb] = cached_db(graph)

    @property
    def built(self) -> bool:
        return self._db is not None

    def get(self) -> AliasDb:
        db = self._db
        if db is None:
            db = self._db = shared_db(self.graph)
        return db


def invalidate(graph: Graph) -> None:
    """Forget the shared analysis of `graph` (it changed)."""
    for entry in _SCOPES.stack:
        if entry[0] is graph:
            entry[1] = None


def effects_without_writes(graph: Graph) -> Optional[Set[Node]]:
    """The nodes `AliasDb(graph).is_effectful` names, when no node of `graph`
    may write anything (else None): then `must_keep` is `is_effectful` and
    every `writers` list is empty, whatever the alias classes, so a pass
    needing only those answers (dead-code elimination) need not build them.

    A node that may write is one `AliasDb` would give writes: a schema
    `(a!)` argument or `prim::SetAttr`, a call or unknown op, a node with
    blocks of a kind other than `prim::If`/`prim::Loop`.
    """
    effectful: Set[Node] = set()
    kind_facts: Dict[str, tuple] = {}
    for node in graph.block.all_nodes():
        kind = node.kind
        if kind == CONSTANT or kind == IF or kind == LOOP or kind == GETATTR:
            continue
        if node.blocks:
            return None
        facts = kind_facts.get(kind)
        if facts is None:
            facts = kind_facts[kind] = _facts(kind)
        info, _, nondet, deletable, any_write, _ = facts
        if info is None or any_write:
            return None
        if nondet or not deletable:
            effectful.add(node)
    return effectful


def is_pure_node(node: Node) -> bool:
    """A node that only computes: a pure, deterministic table op without blocks."""
    if node.blocks or node.kind in _CALLS:
        return False
    info = op_info(node.kind)
    if info is None:
        return False
    hit = _PURE_CACHE.get(node.kind)
    if hit is not None and hit[0] is info:
        return hit[1]
    pure = info.pure and not info.schema.is_mutable and not is_nondeterministic(info)
    _PURE_CACHE[node.kind] = (info, pure)
    return pure


# `is_pure_node`'s answer for an op without blocks, by kind, with the op table entry it came from.
_PURE_CACHE: Dict[str, Tuple[object, bool]] = {}
