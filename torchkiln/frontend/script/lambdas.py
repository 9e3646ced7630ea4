"""Lambdas, and the `key=` of `sorted`, `list.sort`, `min` and `max`.

A `lambda` is not a value at run time: it is compiled where it is called,
its parameters bound in a scope of their own (as a comprehension's
variables, `Frame.renames`) and its body read the variables of the enclosing
function as they are at the call (Python's late binding):

```python
scale = 2
f = lambda v: v * scale       # nothing emitted here
y = f(3)                      # emits 3 * scale
cand.sort(key=lambda c: c[0], reverse=True)
```

`key=` sorts through `prim::argsort.list`: the keys are computed once per
item (in a loop), sorted stably (Python's order for equal keys, `reverse`
included), and the items taken in that order.
"""
from __future__ import annotations

import ast
import threading
from typing import Any, Dict, List

from ...ir.core import Value
from ...ir.types import BOOL, INT, TENSOR, ClassType, ListType
from .control import join_inline, join_loop
from .emitter import FunctionEmitter
from .sugared import SimpleValue, SugaredValue


_ACTIVE = threading.local()  # ids of the lambdas being inlined, per thread


class LambdaValue(SugaredValue):
    def __init__(self, node: ast.Lambda):
        self.node = node

    def describe(self) -> str:
        return "a lambda"

    def call(self, em: FunctionEmitter, node: ast.AST, args: List[SugaredValue], kwargs: Dict[str, SugaredValue]) -> SugaredValue:
        a = self.node.args
        if a.vararg or a.kwarg or a.kwonlyargs or a.posonlyargs:
            em.fail(self.node, "lambdas with *args, **kwargs or keyword-only parameters are not supported", hint="use plain parameters")
        params = [p.arg for p in a.args]
        defaults: Dict[str, ast.expr] = dict(zip(params[len(params) - len(a.defaults) :], a.defaults))
        if len(args) > len(params):
            em.fail(node, f"the lambda takes {len(params)} argument{'s' if len(params) != 1 else ''} but {len(args)} were given")
        given: Dict[str, SugaredValue] = dict(zip(params, args))
        for k, v in kwargs.items():
            if k not in params or k in given:
                em.fail(node, f"the lambda got an unexpected or repeated argument '{k}'")
            given[k] = v
        for p in params:
            if p not in given:
                if p not in defaults:
                    em.fail(node, f"the lambda is missing the argument '{p}'")
                given[p] = em.emit_expr(defaults[p])
        active = _ACTIVE.__dict__.setdefault("nodes", set())
        if id(self.node) in active:  # each call is inlined: a lambda calling itself never ends
            em.fail(node, "a lambda cannot call itself (lambdas are inlined where they are called)", hint="write the recursion as a loop, or as a def function")
        active.add(id(self.node))
        try:
            with em.child_frame("comprehension", em.frame.block) as frame:
                em.rename_in_comprehension(params)
                for p in params:
                    em.assign(p, given[p], self.node)
                result = SimpleValue(em.emit_value(self.node.body))
            join_inline(em, frame, existing_only=True)  # a called nested function's `nonlocal`
            return result
        finally:
            active.discard(id(self.node))


def emit_lambda(em: FunctionEmitter, node: ast.Lambda, hint: Any) -> SugaredValue:
    return LambdaValue(node)


def _loop(em: FunctionEmitter, n: Value, body_fn) -> None:
    """for i in range(n): body_fn(i) — a loop with nothing carried (its effects are on lists)."""
    loop = em.op("prim::Loop", [n, em.const(True)], [], n_blocks=2)
    body, cond = loop.blocks
    i = body.add_param(INT)
    with em.child_frame("loop", body) as frame:
        em.loop_depth += 1
        try:
            body_fn(i)
        finally:
            em.loop_depth -= 1
    join_loop(em, frame)  # a key function may rebind variables (`nonlocal`)
    with em.builder.at_block(cond):
        cond.add_return(em.const(True))


def sorted_by_key(em: FunctionEmitter, node: ast.AST, lst: Value, key: SugaredValue, reverse: Value) -> Value:
    """A new list of `lst`'s items ordered by `key(item)` (stable, as Python's sorted)."""
    assert isinstance(lst.type, ListType)
    elem = lst.type.elem
    keys = em.op("prim::ListConstruct", [], [ListType(TENSOR)]).output  # typed below, once a key is seen
    n = em.op("prim::len.list", [lst], [INT]).output
    key_types: List[Any] = []

    def add_key(i: Value) -> None:
        item = em.op("prim::getitem.list", [lst, i], [elem]).output
        k = key.call(em, node, [SimpleValue(item)], {}).as_value(em, node)
        key_types.append(k.type)
        em.op("prim::append.list", [keys, k], [])

    _loop(em, n, add_key)
    keys.type = ListType(key_types[0])
    order = em.op("prim::argsort.list", [keys, reverse], [ListType(INT)]).output
    out = em.op("prim::ListConstruct", [], [lst.type]).output

    def take(i: Value) -> None:
        j = em.op("prim::getitem.list", [order, i], [INT]).output
        em.op("prim::append.list", [out, em.op("prim::getitem.list", [lst, j], [elem]).output], [])

    _loop(em, n, take)
    return out


def sorts_objects(lst: Value) -> bool:
    """A list of script-class objects sorts by their `__lt__` (`helpers.sort_objects`), as TorchScript's."""
    return isinstance(lst.type, ListType) and isinstance(lst.type.elem, ClassType)


def sort_objects_in_place(em: FunctionEmitter, node: ast.AST, lst: Value, reverse: Value) -> None:
    from . import helpers
    from .functions_value import PythonFunctionValue

    PythonFunctionValue(helpers.sort_objects, "sort").call(em, node, [SimpleValue(lst), SimpleValue(reverse)], {})


def sort_in_place_by_key(em: FunctionEmitter, node: ast.AST, lst: Value, key: SugaredValue, reverse: Value) -> None:
    ordered = sorted_by_key(em, node, lst, key, reverse)
    em.op("prim::clear.list", [lst], [])
    em.op("prim::extend.list", [lst, ordered], [])


def extreme_by_key(em: FunctionEmitter, node: ast.AST, lst: Value, key: SugaredValue, which: str) -> Value:
    """`min(lst, key=f)` / `max(lst, key=f)`: the first item whose key is smallest (largest), as Python."""
    assert isinstance(lst.type, ListType)
    ordered = sorted_by_key(em, node, lst, key, em.const(which == "max"))  # stable: the first extreme comes first
    n = em.op("prim::len.list", [ordered], [INT]).output
    empty = em.op("prim::eq", [n, em.const(0)], [BOOL]).output
    if_node = em.op("prim::If", [empty], [], n_blocks=2)
    with em.builder.at_block(if_node.blocks[0]):
        em.op("prim::RaiseException", [em.const(f"{which}() arg is an empty sequence")], [], {"cls": "ValueError"})
    return em.op("prim::getitem.list", [ordered, em.const(0)], [lst.type.elem]).output


def reverse_flag(em: FunctionEmitter, node: ast.AST, kwargs: Dict[str, SugaredValue]) -> Value:
    if "reverse" not in kwargs:
        return em.const(False)
    v = kwargs["reverse"].as_value(em, node)
    if v.type != BOOL:
        em.fail(node, f"reverse must be a bool, not {v.type}")
    return v


__all__ = ["LambdaValue", "emit_lambda", "sorted_by_key", "sort_in_place_by_key", "extreme_by_key", "reverse_flag"]
