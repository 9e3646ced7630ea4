"""Python `enum.Enum` classes in script (as TorchScript supports them).

Note [Enums]
------------
An Enum class used in script (an annotation `c: Color`, a member
`Color.RED`, a module attribute holding a member) has an `EnumType` while
the frontend compiles: members are constants of that type, `c.value` and
`c.name` work, `==`, `!=`, `is`, `is not` compare members, and
`for c in Color` is unrolled over the members. At run time a member is its
value (an int, float or str): when `script()` finishes, every `EnumType`
in the compiled graphs, signatures and attribute types is replaced by the
type of its values (`erase`), so passes, executors, archives and the C++
runtime never see one. Erasure keeps what it changed: `Function.frontend_types`
(argument and return types) and `ClassType.frontend_attributes`. Later
compiles that call a compiled function or read a compiled class's
attributes (the compile cache, a ScriptFunction called from script) type
them with those (`typed_signature`, `typed_attribute`), so a member compared
with a cached function's result is still compared as a member.

```python
class Color(Enum):
    RED = 1
    GREEN = 2

def f(c: Color) -> int:       # graph(%c : int): ...
    if c == Color.RED:        #   prim::eq(%c, 1)
        return c.value
    return len(c.name)        #   names looked up by the member's position
```

Note [Enums at the Python boundary]
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
Python sees members, as with torch.jit.script, wherever the frontend's type
says so; the program sees values:

- results: a function or method whose return type holds an Enum (the Enum,
  `Optional`, `List`, `Tuple`, `Dict` keys or values, a `Union` whose Enum's
  value type no other member has) returns members. `api` wraps the compiled
  callable with `to_members(returns)` when the ScriptFunction/ScriptMethod is
  made (`api._entry`); a function without an Enum gets the executor's
  callable itself, so its calls cost nothing more. The same for every
  executor.
- arguments: a parameter whose type holds an Enum takes members of that
  class (inside containers too), passed as their values (`to_values`), and
  the plain value of a member, as `Color(1)` is `Color.RED` in Python (what
  torchkiln always accepted; torch.jit.script refuses it). Anything else (a
  value no member has, a member of another Enum) is an `ArgumentError`
  before the program runs, not a failure inside it. These parameters always
  take the binding's slow path (Note [Call path] in api.py). A list of
  members is passed as a new list of values: the program's in-place changes
  to it are not seen by the caller (the C++ executor copies every list anyway).
- module attributes: an Enum member held by a module is a constant and reads
  back from the ScriptModule as the member (`ClassType.constants`), unless
  annotated (`c: Color` on the class, `self.c: Color = ...` in `__init__`):
  then it is an attribute holding the value (the executors read it), which
  reads as the member and takes a member or a member's value when assigned
  (`api._enum_module_class`, `ScriptModule.__setattr__`).
- archives hold values only: a loaded program has no Enum types (in any
  process, even where the class could be imported), so it returns values
  and takes members (as their values) or values.
"""
from __future__ import annotations

import ast
import enum
import threading
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from ...diagnostics import CompileError, SourceRange
from ...ir.core import Function, Graph, Value
from ...ir.types import (
    FLOAT,
    INT,
    STR,
    DictType,
    FutureType,
    ListType,
    OptionalType,
    ClassType,
    TupleType,
    Type,
    UnionType,
)
from .emitter import FunctionEmitter
from .sugared import SimpleValue, SugaredValue


class EnumType(Type):
    """The frontend's type of the members of one Enum class (Note [Enums])."""

    __slots__ = ("name", "cls", "value_type", "members")

    def __init__(self, cls: type, value_type: Type):
        self.cls = cls
        self.name = f"{cls.__module__}.{cls.__qualname__}"
        self.value_type = value_type
        self.members: Tuple[Tuple[str, Any], ...] = tuple((m.name, m.value) for m in cls)  # type: ignore[attr-defined]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EnumType) and other.cls is self.cls

    def __hash__(self) -> int:
        return hash(("Enum", self.name))

    def __repr__(self) -> str:
        return f"Enum<{self.name}>"

    __str__ = __repr__


_TYPES: Dict[type, EnumType] = {}
_LOCK = threading.Lock()


def enum_type(cls: type, loc: Optional[SourceRange] = None) -> EnumType:
    """The EnumType of an Enum class whose members all have int, float or str values."""
    done = _TYPES.get(cls)
    if done is not None:
        return done
    value_types = {type(m.value) for m in cls}  # type: ignore[attr-defined]
    simple = {int: INT, float: FLOAT, str: STR}
    if not value_types or len(value_types) != 1 or next(iter(value_types)) not in simple:
        found = ", ".join(sorted(t.__name__ for t in value_types)) or "no members"
        raise CompileError(
            f"the Enum {cls.__qualname__} cannot be used in script: its members' values must all be ints, all floats or all strs (found {found})",
            loc,
            hint="give every member a value of one of those types",
        )
    t = EnumType(cls, simple[next(iter(value_types))])
    with _LOCK:
        return _TYPES.setdefault(cls, t)


def is_enum_class(obj: Any) -> bool:
    return isinstance(obj, type) and issubclass(obj, enum.Enum) and obj is not enum.Enum


def member_value(em: FunctionEmitter, node: ast.AST, member: enum.Enum) -> Value:
    """A member as a constant of its class's EnumType."""
    em.compiler.uses_enums = True
    return em.const(member.value, enum_type(type(member), em.loc(node)))


class EnumClassValue(SugaredValue):
    """An Enum class: `Color.RED`, `for c in Color`, `len(Color)`."""

    def __init__(self, cls: type):
        self.cls = cls

    def describe(self) -> str:
        return f"the Enum {self.cls.__qualname__}"

    def attr(self, em, node, name):
        member = self.cls.__members__.get(name)  # type: ignore[attr-defined]
        if member is None:
            em.fail(node, f"the Enum {self.cls.__qualname__} has no member '{name}'", hint=f"its members are: {', '.join(self.cls.__members__)}")  # type: ignore[attr-defined]
        return SimpleValue(member_value(em, node, member))

    def iterate(self, em, node):
        from .loops import Unrolled

        return Unrolled([SimpleValue(member_value(em, node, m)) for m in self.cls])  # type: ignore[attr-defined]

    def static_len(self) -> Optional[int]:
        return len(self.cls)  # type: ignore[arg-type]

    def call(self, em, node, args, kwargs):
        em.fail(node, f"{self.cls.__qualname__}(value) is not supported in script", hint=f"use the members ({self.cls.__qualname__}.NAME) directly")

    def static_value(self):
        return self.cls


def enum_attr(em: FunctionEmitter, node: ast.AST, v: Value, name: str) -> SugaredValue:
    """`c.value` and `c.name` of a member value."""
    t = v.type
    assert isinstance(t, EnumType)
    if name == "value":
        return SimpleValue(em.op("prim::unchecked_cast", [v], [t.value_type]).output)
    if name == "name":
        values = [em.const(value, t.value_type) for _, value in t.members]
        names = [em.const(n) for n, _ in t.members]
        value_list = em.op("prim::ListConstruct", values, [ListType(t.value_type)]).output
        name_list = em.op("prim::ListConstruct", names, [ListType(STR)]).output
        raw = em.op("prim::unchecked_cast", [v], [t.value_type]).output
        index = em.op("prim::index.list", [value_list, raw], [INT]).output
        return SimpleValue(em.op("prim::getitem.list", [name_list, index], [STR]).output)
    em.fail(node, f"a member of the Enum {t.cls.__qualname__} has no attribute '{name}' in script", hint="use .name or .value")


# -- erasure (Note [Enums]) --------------------------------------------------------------------------


def erase(t: Type) -> Type:
    """`t` with every EnumType replaced by the type of its values."""
    if isinstance(t, EnumType):
        return t.value_type
    if isinstance(t, ListType):
        e = erase(t.elem)
        return t if e is t.elem else ListType(e)
    if isinstance(t, OptionalType):
        e = erase(t.elem)
        return t if e is t.elem else OptionalType(e)
    if isinstance(t, TupleType):
        elems = [erase(e) for e in t.elems]
        return t if all(a is b for a, b in zip(elems, t.elems)) else TupleType(elems, t.name, t.fields)
    if isinstance(t, DictType):
        k, v = erase(t.key), erase(t.value)
        return t if k is t.key and v is t.value else DictType(k, v)
    if isinstance(t, UnionType):
        members = [erase(m) for m in t.members]
        if all(a is b for a, b in zip(members, t.members)):
            return t
        unique: List[Type] = []
        for m in members:
            if m not in unique:
                unique.append(m)
        return unique[0] if len(unique) == 1 else UnionType(unique)
    if isinstance(t, FutureType):
        e = erase(t.elem)
        return t if e is t.elem else FutureType(e)
    return t


def erase_graph(graph: Graph) -> None:
    for v in graph.inputs:
        v.type = erase(v.type)  # `erase` returns the type itself when it holds no Enum
    for node in graph.all_nodes():
        for b in node.blocks:
            for v in b.params:
                v.type = erase(v.type)
        for v in node.outputs:
            v.type = erase(v.type)


def erase_unit(functions: Iterable[Any], classes: Iterable[Any]) -> None:
    """Erase EnumTypes from these functions (graphs and signatures) and class attribute types,
    keeping the types they had in `Function.frontend_types` / `ClassType.frontend_attributes`."""
    for fn in functions:
        erase_graph(fn._graph)  # before the deferred pipeline (compiler.finish)
        typed = (tuple(a.type for a in fn.args), fn.returns)
        changed = False
        for a in fn.args:
            e = erase(a.type)
            changed = changed or e is not a.type
            a.type = e
            if isinstance(a.default, enum.Enum):
                a.default = a.default.value
        e = erase(fn.returns)
        if changed or e is not fn.returns:
            fn.frontend_types = typed
        fn.returns = e
    for cls in classes:
        for name, at in list(cls.attributes.items()):
            e = erase(at)
            if e is not at:
                cls.frontend_attributes[name] = at
                cls.attributes[name] = e


# -- later compiles typing compiled code (Note [Enums]) -------------------------------------------------


def typed_signature(em: FunctionEmitter, fn: Function) -> Tuple[Sequence[Type], Type]:
    """The argument types and return type of a call of `fn`, as the frontend typed `fn`.

    A function compiled by an earlier `script()` (the compile cache, a
    ScriptFunction) has erased types; calling it with members, or comparing
    its result with one, needs the Enum types back. They are erased again
    in this compile's `finish`.
    """
    typed = fn.frontend_types
    if typed is None:
        return [a.type for a in fn.args], fn.returns
    em.compiler.uses_enums = True
    return typed


def typed_returns(em: FunctionEmitter, fn: Function) -> Type:
    return typed_signature(em, fn)[1]


def typed_attribute(em: FunctionEmitter, cls: ClassType, name: str) -> Type:
    """The type of attribute `name` of `cls` as the frontend typed it (`typed_signature`)."""
    t = cls.frontend_attributes.get(name)
    if t is None:
        return cls.attributes[name]
    em.compiler.uses_enums = True
    return t


# -- the Python boundary (Note [Enums at the Python boundary]) ------------------------------------------

_PY_CLASS = {INT: int, FLOAT: float, STR: str}


def _map_enums(t: Type, leaf: Callable[[EnumType], Callable[[Any], Any]], union: Callable[[UnionType], Optional[Callable[[Any], Any]]]) -> Optional[Callable[[Any], Any]]:
    """What applies `leaf(e)` to each value of an EnumType `e` inside a value of type `t`
    (`union(u)` for a Union), through Optional, List, Tuple (NamedTuples too) and Dict; None
    when `t` holds no Enum. A container of another kind than `t`'s is left as it is."""
    if isinstance(t, EnumType):
        return leaf(t)
    if isinstance(t, OptionalType):
        inner = _map_enums(t.elem, leaf, union)
        return None if inner is None else lambda v: None if v is None else inner(v)
    if isinstance(t, ListType):
        item = _map_enums(t.elem, leaf, union)
        if item is None:
            return None
        return lambda v: [item(x) for x in v] if isinstance(v, (list, tuple)) else v
    if isinstance(t, TupleType):
        items = [_map_enums(e, leaf, union) for e in t.elems]
        if all(c is None for c in items):
            return None

        def each_item(v: Any) -> Any:
            if not isinstance(v, tuple) or len(v) != len(items):
                return v
            out = [x if c is None else c(x) for x, c in zip(v, items)]
            return type(v)(*out) if hasattr(v, "_fields") else tuple(out)

        return each_item
    if isinstance(t, DictType):
        key, value = _map_enums(t.key, leaf, union), _map_enums(t.value, leaf, union)
        if key is None and value is None:
            return None
        k = key or (lambda x: x)
        val = value or (lambda x: x)
        return lambda v: {k(a): val(b) for a, b in v.items()} if isinstance(v, dict) else v
    if isinstance(t, UnionType):
        return union(t)
    return None  # Future, class objects, Any: values, as before


def to_members(t: Type) -> Optional[Callable[[Any], Any]]:
    """What makes a run-time value of type `erase(t)` the value Python sees (members for
    values of an EnumType); None when `t` holds no Enum.

    A value no member has (possible only if the program made one up) stays as it is.
    """
    return _map_enums(t, _members_of, _union_members)


def _members_of(t: EnumType) -> Callable[[Any], Any]:
    members = {m.value: m for m in t.cls}  # type: ignore[attr-defined]
    return lambda v: members.get(v, v)


def _union_members(t: UnionType) -> Optional[Callable[[Any], Any]]:
    by_class = _union_enums(t)
    if not by_class:
        return None
    return lambda v: by_class[type(v)](v) if type(v) in by_class else v


def _union_enums(t: UnionType) -> Dict[type, Callable[[Any], Any]]:
    """The Enum members of a Union whose values' Python class tells them apart, by that class:
    `Union[Color, str]` erases to `Union[int, str]`, and an int is a Color's value;
    in `Union[Color, int]` it is not known."""
    found: Dict[type, Any] = {}
    taken = set()
    for m in t.members:
        if isinstance(m, EnumType):
            cls = _PY_CLASS[m.value_type]
            if cls in found:
                taken.add(cls)  # two Enums with values of one class
            found[cls] = to_members(m)
        else:
            e = erase(m)
            taken.update(c for vt, c in _PY_CLASS.items() if vt == e or (isinstance(e, OptionalType) and e.elem == vt))
    return {c: conv for c, conv in found.items() if c not in taken}


class NotAMember(Exception):
    """A value passed for an Enum-typed parameter is no member of its class (`to_values`)."""


def to_values(t: Type) -> Optional[Callable[[Any], Any]]:
    """What makes a Python argument for a parameter of type `t` its run-time value: members
    of the Enum (inside containers too) become their values; raises `NotAMember` for a
    value no member of the class has, or a member of another Enum. None when `t` holds no Enum.

    A container of another kind than `t`'s is left as it is, for the binding's type check.
    """
    return _map_enums(t, _value_of_member, _union_values)


def _value_of_member(t: EnumType) -> Callable[[Any], Any]:
    cls = t.cls
    by_value = {m.value: m.value for m in cls}  # type: ignore[attr-defined]
    py = _PY_CLASS[t.value_type]

    def value_of(v: Any) -> Any:
        if isinstance(v, cls):
            return v.value
        if isinstance(v, enum.Enum):
            raise NotAMember(f"a member of the Enum {type(v).__qualname__}, not of {cls.__qualname__}")
        if isinstance(v, (int, float, str)) and not isinstance(v, bool) and (py is not str) == (type(v) is not str):
            if v in by_value:
                return by_value[v]  # the member's own value: 1.0 for a float Enum given 1
            raise NotAMember(f"{type(v).__name__} {v!r}, which is not the value of any member of {cls.__qualname__}")
        raise NotAMember(f"a {type(v).__name__}, not a member of {cls.__qualname__}")

    return value_of


def _union_values(t: UnionType) -> Optional[Callable[[Any], Any]]:
    enums = tuple(m.cls for m in t.members if isinstance(m, EnumType))
    if not enums:
        return None
    return lambda v: v.value if isinstance(v, enums) else v


__all__ = [
    "EnumType", "EnumClassValue", "enum_type", "is_enum_class", "member_value", "enum_attr", "erase", "erase_unit",
    "typed_signature", "typed_returns", "typed_attribute", "to_members", "to_values", "NotAMember",
]  # fmt: skip
