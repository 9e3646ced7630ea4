"""What `for x in <iterable>` iterates: a counted `prim::Loop`, or an unrolled sequence.

```
for i in range(a, b, s)     Counted(length=range_length(a, b, s), item=a + iter * s)
for x in xs  (a list)       Counted(length=len(xs), item=xs[iter])
for k in d   (a dict)       the list of keys
for c in s   (a str)        Counted over the characters
for t in x   (a Tensor)     Counted(length=x.size(0), item=x.select(0, iter))
for m in self.layers        Unrolled([layer0, layer1, ...])   (modules differ: one copy per item)
for a in (x, 1, "s")        Unrolled: a tuple's items may differ in type
enumerate(...), zip(...)    built from their operands
```
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any, Callable, List, Optional

from ...ir.core import Value
from ...ir.types import INT, STR, ClassType, DictType, ListType, TensorType, TupleType
from .sugared import SimpleValue, SugaredValue, TupleSugar

ItemFn = Callable[[Any, ast.AST, Value], SugaredValue]  # (emitter, node, iteration index) -> element


class Iteration:
    """Base of the two ways to iterate."""


@dataclass
class Counted(Iteration):
    """A `prim::Loop` running `length` times; `item(em, node, iter)` emits the element in the body."""

    length: Value
    item: ItemFn


@dataclass
class Unrolled(Iteration):
    """Compile-time items: the loop body is emitted once per item."""

    items: List[SugaredValue]


def iterate_value(em, node: ast.AST, sv: SimpleValue) -> Iteration:
    v = sv.value
    t = v.type
    if isinstance(t, ClassType):
        return em.compiler.classes.iterate(em, node, v)
    with em.at(node):
        if isinstance(t, ListType):
            return _over_list(em, v)
        if isinstance(t, DictType):
            keys = em.op("prim::keys", [v], [ListType(t.key)]).output
            return _over_list(em, keys)
        if t == STR:
            length = em.op("prim::len.str", [v], [INT]).output
            return Counted(length, lambda em, node, i: SimpleValue(em.op("prim::getitem.str", [v, i], [STR]).output))
        if isinstance(t, TensorType):
            length = em.op("aten::size.int", [v, em.const(0)], [INT]).output
            return Counted(length, lambda em, node, i: SimpleValue(em.op("aten::select.int", [v, em.const(0), i], [t]).output))
        if isinstance(t, TupleType):
            return Unrolled([SimpleValue(em.op("prim::TupleIndex", [v], [e], {"index": k}).output) for k, e in enumerate(t.elems)])
    em.fail(node, f"cannot iterate over a value of type {t}", hint="iterate over a list, dict, str, tuple, range, Tensor or module container")


def _over_list(em, lst: Value) -> Counted:
    assert isinstance(lst.type, ListType)
    elem = lst.type.elem
    length = em.op("prim::len.list", [lst], [INT]).output
    return Counted(length, lambda em, node, i: SimpleValue(em.op("prim::getitem.list", [lst, i], [elem]).output))


class RangeValue(SugaredValue):
    """`range(start, stop, step)` with int values (a zero step raises ValueError when the program runs)."""

    def __init__(self, start: Value, stop: Value, step: Value, default_start: bool, default_step: bool):
        self.start, self.stop, self.step = start, stop, step
        self.default_start, self.default_step = default_start, default_step

    def describe(self) -> str:
        return "a range"

    def length(self, em) -> Value:
        if self.default_start and self.default_step:
            return self.stop
        return em.op("prim::range_length", [self.start, self.stop, self.step], [INT]).output

    def iterate(self, em, node):
        with em.at(node):
            length = self.length(em)

        def item(em, node, i: Value) -> SugaredValue:
            if self.default_start and self.default_step:
                return SimpleValue(i)
            scaled = i if self.default_step else em.op("prim::mul.int", [i, self.step], [INT]).output
            return SimpleValue(em.op("prim::add.int", [self.start, scaled], [INT]).output)

        return Counted(length, item)

    def as_value(self, em, node) -> Value:
        with em.at(node):
            return em.op("prim::range_list", [self.start, self.stop, self.step], [ListType(INT)]).output

    def getitem(self, em, node, index):
        return SimpleValue(self.as_value(em, node)).getitem(em, node, index)


class EnumerateValue(SugaredValue):
    def __init__(self, inner: SugaredValue, start: Value, static_start: Optional[int]):
        self.inner = inner
        self.start = start
        self.static_start = static_start

    def describe(self) -> str:
        return "an enumerate(...)"

    def iterate(self, em, node):
        it = self.inner.iterate(em, node)
        if isinstance(it, Unrolled):
            if self.static_start is None:
                em.fail(node, "enumerate over a tuple or module list needs a constant start")
            return Unrolled([TupleSugar([SimpleValue(em.const(self.static_start + k)), item]) for k, item in enumerate(it.items)])
        inner_item = it.item

        def item(em, node, i: Value) -> SugaredValue:
            index = i if self.static_start == 0 else em.op("prim::add.int", [i, self.start], [INT]).output
            return TupleSugar([SimpleValue(index), inner_item(em, node, i)])

        return Counted(it.length, item)


class ZipValue(SugaredValue):
    def __init__(self, inners: List[SugaredValue], strict: bool = False):
        self.inners = inners
        self.strict = strict

    def describe(self) -> str:
        return "a zip(...)"

    def iterate(self, em, node):
        its = [inner.iterate(em, node) for inner in self.inners]
        if self.strict and len(its) > 1:
            _check_strict(em, node, its)
        return zip_iterations(em, node, its, "zip")


# Note [zip strict]
# ~~~~~~~~~~~~~~~~~
# `zip(a, b, strict=True)` raises Python's ValueError ("zip() argument 2 is
# shorter than argument 1") when the lengths differ. Python raises it when
# the shortest argument runs out, after the loop body has run for the items
# before; script compares the lengths before the first item (one call of
# `helpers.zip_strict_check`), so a body with side effects has not run when
# the error comes. The lengths are the iterations' own: constants for tuples
# and module containers, `len` for lists, strings and tensors.


def _check_strict(em, node: ast.AST, its: List[Iteration]) -> None:
    from . import helpers
    from .functions_value import PythonFunctionValue
    from .values import SimpleValue

    with em.at(node):
        lengths = [em.const(len(it.items)) if isinstance(it, Unrolled) else it.length for it in its]  # type: ignore[attr-defined]
        listed = em.op("prim::ListConstruct", lengths, [ListType(INT)]).output
    PythonFunctionValue(helpers.zip_strict_check, "zip").call(em, node, [SimpleValue(listed)], {})


def zip_iterations(em, node: ast.AST, its: List[Iteration], name: str) -> Iteration:
    """Iterations side by side, as far as the shortest goes; each item a `TupleSugar` (zip, and map's iterables)."""
    if any(isinstance(it, Unrolled) for it in its) and not all(isinstance(it, Unrolled) for it in its):
        its = [_as_counted(em, node, it, name) if isinstance(it, Unrolled) else it for it in its]
    if any(isinstance(it, Unrolled) for it in its):
        n = min(len(it.items) for it in its)  # type: ignore[attr-defined]
        return Unrolled([TupleSugar([it.items[k] for it in its]) for k in range(n)])  # type: ignore[attr-defined]
    length = its[0].length  # type: ignore[attr-defined]
    with em.at(node):
        for it in its[1:]:
            length = em.op("prim::min.int", [length, it.length], [INT]).output  # type: ignore[attr-defined]

    def item(em, node, i: Value) -> SugaredValue:
        return TupleSugar([it.item(em, node, i) for it in its])  # type: ignore[attr-defined]

    return Counted(length, item)


def _as_counted(em, node: ast.AST, it: Unrolled, name: str) -> Counted:
    """A tuple's items iterated beside a list, range or tensor: a list of them, when they are values of one type."""
    values = [item.as_value(em, node) if item.is_value() else None for item in it.items]
    types = {v.type for v in values if v is not None}
    if None in values or len(types) > 1:
        em.fail(node, f"{name} of a tuple of mixed types or of a module container with a list, range or tensor is not supported", hint="pass containers of the same kind, or index the list inside the loop")
    elem = types.pop() if types else INT
    with em.at(node):
        listed = em.op("prim::ListConstruct", values, [ListType(elem)]).output  # type: ignore[arg-type]
    return _over_list(em, listed)


__all__ = ["Iteration", "Counted", "Unrolled", "iterate_value", "RangeValue", "EnumerateValue", "ZipValue", "zip_iterations"]
