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
runtime never see one. From Python, a member passed where its value's type
is expected is passed as its value (`api._bind`); a member returned comes
back as its value.

```python
class Color(Enum):
    RED = 1
    GREEN = 2

def f(c: Color) -> int:       # graph(%c : int): ...
    if c == Color.RED:        #   prim::eq(%c, 1)
        return c.value
    return len(c.name)        #   names looked up by the member's position
```
"""
from __future__ import annotations

import ast
import enum
import threading
from typing import Any, Dict, Iterable, List, Optional, Tuple

from ...diagnostics import CompileError, SourceRange
from ...ir.core import Graph, Value
from ...ir.types import (
    FLOAT,
    INT,
    STR,
    DictType,
    FutureType,
    ListType,
    OptionalType,
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
    """Erase EnumTypes from these functions (graphs and signatures) and class attribute types."""
    for fn in functions:
        erase_graph(fn._graph)  # before the deferred pipeline (compiler.finish)
        for a in fn.args:
            a.type = erase(a.type)
            if isinstance(a.default, enum.Enum):
                a.default = a.default.value
        fn.returns = erase(fn.returns)
    for cls in classes:
        for name, at in list(cls.attributes.items()):
            cls.attributes[name] = erase(at)


__all__ = ["EnumType", "EnumClassValue", "enum_type", "is_enum_class", "member_value", "enum_attr", "erase", "erase_unit"]
