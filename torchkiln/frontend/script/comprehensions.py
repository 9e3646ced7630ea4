"""List and dict comprehensions (and generator expressions, built as lists).

```
[f(x) for x in xs if x > 0]        %r = prim::ListConstruct()          (its element type is fixed once f(x) is typed)
                                   prim::Loop(len(xs), True)
                                     block0(%i):  x = xs[i]; if x > 0: prim::append.list(%r, f(x))
{k: v for k, v in d.items()}       prim::DictConstruct() and prim::setitem.dict in the loop
```
The comprehension has its own scope (its targets are not visible after
it). Iterating a tuple or module container unrolls, as a `for` loop does.

`map(f, xs, ...)` and `filter(f, xs)` are comprehensions too (Note [map and
filter are lists]):

```
list(map(f, xs))      [f(x) for x in xs]         (several iterables: f(x, y) for x, y in zip(...))
filter(f, xs)         [x for x in xs if f(x)]    (f None: `if x`)
```

Note [map and filter are lists]
-------------------------------
Python's map and filter return iterators; script has no iterator values, so
they are lists, the closest value. `for v in map(f, xs)` (and a comprehension
over it) calls `f` in the loop body, item by item, as Python's iterator does;
anywhere else (an assignment, an argument, `sum(...)`, `list(...)`) the map
becomes a new list at once. `filter(...)` is always built as a list first.
Over a tuple or module container, `f` is compiled once per item and
`tuple(map(f, t))` is a tuple (its length is known when compiling).
"""
from __future__ import annotations

import ast
from typing import List, Optional

from ...ir.core import Value
from ...ir.types import INT, STR, TENSOR, ClassType, DictType, ListType, OptionalType, TupleType, Type, unify
from .conditions import cond_of, refine_in_frame
from .control import join_branch, join_inline, join_loop
from .emitter import FunctionEmitter
from .loops import Counted, Iteration, Unrolled, zip_iterations
from .sugared import Args, Kwargs, SimpleValue, SugaredValue, TupleSugar


class _Result:
    """The list or dict being built, and the element types seen so far."""

    def __init__(self, em: FunctionEmitter, node: ast.AST, is_dict: bool, hint: Optional[Type]):
        self.em = em
        self.is_dict = is_dict
        if isinstance(hint, OptionalType):
            hint = hint.elem
        self.hint = hint if isinstance(hint, (DictType if is_dict else ListType)) else None
        placeholder = self.hint or (DictType(STR, TENSOR) if is_dict else ListType(TENSOR))
        kind = "prim::DictConstruct" if is_dict else "prim::ListConstruct"
        self.value = em.op(kind, [], [placeholder]).output
        self.key_t: Optional[Type] = None
        self.elem_t: Optional[Type] = None
        self.truth = False
        self.literal = False  # collect the elements for a list literal instead of appending
        self.items: List[Value] = []
        self.producer = "the comprehension"  # who produces the values, for the error on mixed types
        self.mixed_hint = "annotate the result, e.g. `xs: List[Optional[int]] = [...]`"

    def add(self, node: ast.AST, key: Optional[Value], value: Value) -> None:
        em = self.em
        if self.hint is not None:
            if self.is_dict:
                key = em.coerce(key, self.hint.key, node, f"the dict has {self.hint.key} keys, not {key.type}")  # type: ignore[arg-type,union-attr]
                value = em.coerce(value, self.hint.value, node, f"the dict has {self.hint.value} values, not {value.type}")  # type: ignore[union-attr]
            else:
                value = em.coerce(value, self.hint.elem, node, f"the list holds {self.hint.elem}, not {value.type}")  # type: ignore[union-attr]
        else:
            self.elem_t = self._join(node, self.elem_t, value.type)
            if self.is_dict:
                self.key_t = self._join(node, self.key_t, key.type)  # type: ignore[union-attr]
        if self.is_dict:
            em.op("prim::setitem.dict", [self.value, key, value], [])  # type: ignore[list-item]
        elif self.literal:
            self.items.append(value)
        else:
            em.op("prim::append.list", [self.value, value], [])

    def build_literal(self) -> None:
        """Give the (still unused, empty) list construction the collected elements."""
        for v in self.items:
            self.value.node.add_input(v)  # type: ignore[union-attr]
        # The construction must come after its elements: move it to the end.
        node = self.value.node
        assert node is not None
        node.block.nodes.remove(node)  # type: ignore[union-attr]
        node.block = None
        self.em.builder.insert(node)

    def _join(self, node: ast.AST, seen: Optional[Type], new: Type) -> Type:
        if seen is None:
            return new
        joined = unify(seen, new)
        if joined is None or joined != seen:
            self.em.fail(node, f"{self.producer} produces values of different types: {seen} and {new}", hint=self.mixed_hint)
        return joined

    def finish(self) -> Value:
        if self.hint is None and self.elem_t is not None:
            self.value.type = DictType(self.key_t, self.elem_t) if self.is_dict else ListType(self.elem_t)  # type: ignore[arg-type]
        return self.value


def emit_comprehension(em: FunctionEmitter, node, hint: Optional[Type], truth: bool = False) -> SugaredValue:
    """`truth`: collect `bool(element)` (for any() and all())."""
    is_dict = isinstance(node, ast.DictComp)
    for gen in node.generators:
        if gen.is_async:
            em.fail(gen, "async comprehensions are not supported")
    result = _Result(em, node, is_dict, hint)
    result.truth = truth
    with em.child_frame("comprehension", em.frame.block) as frame:
        _generators(em, node, node.generators, result)
    join_inline(em, frame)
    return SimpleValue(result.finish())


def _generators(em: FunctionEmitter, node, gens: List[ast.comprehension], result: _Result, literal: bool = False) -> None:
    if not gens:
        result.literal = literal
        if isinstance(node, ast.DictComp):
            result.add(node, em.emit_value(node.key), em.emit_value(node.value))
        elif result.truth:
            cond = cond_of(em, node.elt, em.emit_expr(node.elt))
            result.add(node, None, cond.value if cond.value is not None else em.const(bool(cond.static)))
        else:
            result.add(node, None, em.emit_value(node.elt))
        return
    from .stmts import assign_target

    gen, rest = gens[0], gens[1:]
    it = em.emit_expr(gen.iter).iterate(em, gen.iter)
    em.rename_in_comprehension([n.id for n in ast.walk(gen.target) if isinstance(n, ast.Name)])  # Python 3 scoping
    if isinstance(it, Unrolled) and not rest and not gen.ifs and not result.is_dict and len(gens) == 1 and result.value.node is not None and not result.value.uses:
        # `[f(m) for m in self.layers]`: one element per item, known when compiling: a list literal.
        for item in it.items:
            assign_target(em, gen.target, item, gen)
            _generators(em, node, [], result, literal=True)
        result.build_literal()
        return
    if isinstance(it, Unrolled):
        for item in it.items:
            assign_target(em, gen.target, item, gen)
            _conditions(em, node, gen.ifs, rest, result)
        return
    assert isinstance(it, Counted)
    loop = em.op("prim::Loop", [it.length, em.const(True)], [], n_blocks=2)
    body, cond_block = loop.blocks
    i = body.add_param(INT)
    with em.child_frame("loop", body) as frame:
        em.loop_depth += 1
        try:
            assign_target(em, gen.target, it.item(em, gen.target, i), gen)
            _conditions(em, node, gen.ifs, rest, result)
        finally:
            em.loop_depth -= 1
    join_loop(em, frame)
    with em.builder.at_block(cond_block):
        cond_block.add_return(em.const(True))


def _conditions(em: FunctionEmitter, node, ifs: List[ast.expr], rest, result: _Result) -> None:
    if not ifs:
        _generators(em, node, rest, result)
        return
    cond = em.emit_condition(ifs[0])
    if cond.static is False:
        return
    if cond.static is True:
        _conditions(em, node, ifs[1:], rest, result)
        return
    if_node = em.op("prim::If", [cond.value], [], n_blocks=2)
    with em.child_frame("if", if_node.blocks[0]) as frame:
        refine_in_frame(em, cond.true_refs, ifs[0])
        _conditions(em, node, ifs[1:], rest, result)
    join_branch(em, frame, node, cond.true_refs)


# -- dict(pairs) ---------------------------------------------------------------------------------

def emit_dict_of_pairs(em: FunctionEmitter, node: ast.Call, pairs: SugaredValue, hint: Optional[Type]) -> Value:
    """`dict(pairs)`: the comprehension `{k: v for k, v in pairs}`, each item a 2-tuple.

    ```
    dict([("a", 1), ("b", 2)])     %d = prim::DictConstruct()
                                   prim::Loop(len(pairs), True)
                                     block0(%i):  k, v = pairs[i]; prim::setitem.dict(%d, k, v)
    ```
    """
    result = _Result(em, node, True, hint)
    result.producer = "dict(...)"
    result.mixed_hint = "annotate the result, e.g. `d: Dict[str, Optional[int]] = dict(...)`"
    arg = _arg_node(node, 0)

    def add(item: SugaredValue) -> None:
        key, value = _pair(em, arg, item)
        result.add(arg, key, value)

    _each(em, arg, pairs.iterate(em, arg), add)
    return result.finish()


def _pair(em: FunctionEmitter, node: ast.AST, item: SugaredValue) -> List[Value]:
    if isinstance(item, TupleSugar):
        if len(item.items) == 2:
            return [x.as_value(em, node) for x in item.items]
        em.fail(node, f"dict() takes (key, value) pairs, not tuples of {len(item.items)} items")
    v = item.as_value(em, node)
    if isinstance(v.type, TupleType) and len(v.type.elems) == 2:
        return list(em.op("prim::TupleUnpack", [v], list(v.type.elems)).outputs)
    em.fail(node, f"dict() takes (key, value) pairs, not items of type {v.type}", hint="pass a list of 2-tuples, a dict, or zip(keys, values)")
    raise AssertionError("unreachable")


# -- map and filter -------------------------------------------------------------------------------


class MapValue(SugaredValue):
    """`map(f, xs, ...)`: iterated item by item, a new list as a value (Note [map and filter are lists])."""

    def __init__(self, node: ast.Call, fn: SugaredValue, inners: List[SugaredValue], hint: Optional[Type]):
        self.node = node
        self.fn = fn
        self.inners = inners
        self.hint = hint
        self.value: Optional[Value] = None

    def describe(self) -> str:
        return "a map(...)"

    def is_value(self) -> bool:
        return True

    def static_len(self) -> Optional[int]:
        lengths = [inner.static_len() for inner in self.inners]
        return None if any(n is None for n in lengths) else min(lengths)  # type: ignore[type-var]

    def _apply(self, em: FunctionEmitter, item: SugaredValue) -> SugaredValue:
        args = item.items if len(self.inners) > 1 else [item]  # type: ignore[attr-defined]  # zip items are TupleSugar
        return self.fn.call(em, self.node, args, {})

    def iterate(self, em, node):
        its = [inner.iterate(em, _arg_node(self.node, k + 1)) for k, inner in enumerate(self.inners)]
        it = its[0] if len(its) == 1 else zip_iterations(em, self.node, its, "map")
        if isinstance(it, Unrolled):
            return Unrolled([self._apply(em, item) for item in it.items])
        assert isinstance(it, Counted)
        inner_item = it.item
        return Counted(it.length, lambda em, node, i: self._apply(em, inner_item(em, node, i)))

    def as_value(self, em, node) -> Value:
        if self.value is not None:  # built once, where it is first used as a value
            return self.value
        self.value = iteration_list(
            em, self.node, self, self.hint, "map()",
            "a list holds one type: make the function return the same type for every item, or use tuple(map(...))",
        )  # fmt: skip
        return self.value


def iteration_list(em: FunctionEmitter, node: ast.AST, iterable: SugaredValue, hint: Optional[Type], producer: str, mixed_hint: str) -> Value:
    """A new list of the items `for` would take from `iterable` (a map, an enumerate, a zip)."""
    with em.at(node):
        result = _Result(em, node, False, hint)
        result.producer = producer
        result.mixed_hint = mixed_hint
        it = iterable.iterate(em, node)
        result.literal = isinstance(it, Unrolled)  # one element per item, known when compiling
        _each(em, node, it, lambda item: result.add(node, None, item.as_value(em, node)))
        if result.literal:
            result.build_literal()
    return result.finish()


def emit_map(em: FunctionEmitter, node: ast.Call, args: Args, kwargs: Kwargs) -> SugaredValue:
    if kwargs:
        em.fail(node, "map() takes no keyword arguments")
    if len(args) < 2:
        em.fail(node, "map() needs a function and at least one iterable", hint="write map(f, xs) or map(f, xs, ys)")
    _check_function(em, node, "map", args[0], len(args) - 1)
    return MapValue(node, args[0], list(args[1:]), getattr(em, "call_hint", None))


def emit_filter(em: FunctionEmitter, node: ast.Call, args: Args, kwargs: Kwargs) -> SugaredValue:
    """`filter(f, xs)`: a new list of the items `x` for which `f(x)` is true (`x` itself for `filter(None, xs)`)."""
    if kwargs or len(args) != 2:
        em.fail(node, f"filter() takes 2 arguments ({len(args)} given{', and keywords' if kwargs else ''})", hint="write filter(f, xs) or filter(None, xs)")
    fn: Optional[SugaredValue] = None if args[0].static_value() is None else args[0]
    if fn is not None:
        _check_function(em, node, "filter", fn, 1)
    result = _Result(em, node, False, getattr(em, "call_hint", None))
    result.producer = "filter()"
    result.mixed_hint = "a list holds one type: filter items of one type, or annotate the result (`xs: List[Union[int, str]] = filter(...)`)"

    def keep(item: SugaredValue) -> None:
        v = item.as_value(em, node)
        cond = cond_of(em, node, SimpleValue(v) if fn is None else fn.call(em, node, [SimpleValue(v)], {}))
        if cond.static is False:
            return
        if cond.static is True:
            result.add(node, None, v)
            return
        if_node = em.op("prim::If", [cond.value], [], n_blocks=2)
        with em.child_frame("if", if_node.blocks[0]):
            result.add(node, None, v)

    _each(em, node, args[1].iterate(em, _arg_node(node, 1)), keep)
    return SimpleValue(result.finish())


def _check_function(em: FunctionEmitter, node: ast.Call, name: str, fn: SugaredValue, n_args: int) -> None:
    """Refuse at the argument what `name` cannot call with `n_args` arguments per item."""
    from .interfaces import InterfaceType
    from .lambdas import LambdaValue

    where = _arg_node(node, 0)
    if isinstance(fn, SimpleValue):
        callable_ = isinstance(fn.type, (ClassType, InterfaceType))
    else:
        callable_ = type(fn).call is not SugaredValue.call
    if not callable_:
        em.fail(where, f"{name}() needs a function as its first argument, not {fn.describe()}", hint=f"pass a lambda, a function or a builtin: {name}(lambda v: ..., xs)")
    if not isinstance(fn, LambdaValue):
        return
    a = fn.node.args
    if a.vararg or a.kwarg or a.kwonlyargs or a.posonlyargs:
        return  # LambdaValue.call refuses these
    most = len(a.args)
    least = most - len(a.defaults)
    if least <= n_args <= most:
        return
    per_item = f"{n_args} argument{'s' if n_args != 1 else ''} per item"
    hint = "a lambda takes one parameter per iterable"
    if n_args == 1 and least > 1:
        hint = "each item is passed whole: take one parameter and index it (`lambda kv: kv[0] + kv[1]`), or pass one iterable per parameter"
    em.fail(fn.node, f"{name}() calls the lambda with {per_item} (one per iterable), but the lambda takes {least if least == most else f'{least} to {most}'}", hint=hint)


def _arg_node(node: ast.Call, k: int) -> ast.AST:
    """The expression of argument `k`, for error locations (the call itself once a `*` has come)."""
    if k < len(node.args) and not any(isinstance(a, ast.Starred) for a in node.args[: k + 1]):
        return node.args[k]
    return node


def _each(em: FunctionEmitter, node: ast.AST, it: Iteration, body) -> None:
    """`body(item)` for each item: once per item when unrolled, else in a `prim::Loop` with nothing carried."""
    if isinstance(it, Unrolled):
        for item in it.items:
            body(item)
        return
    assert isinstance(it, Counted)
    loop = em.op("prim::Loop", [it.length, em.const(True)], [], n_blocks=2)
    block, cond_block = loop.blocks
    i = block.add_param(INT)
    with em.child_frame("loop", block) as frame:
        em.loop_depth += 1
        try:
            body(it.item(em, node, i))
        finally:
            em.loop_depth -= 1
    join_loop(em, frame)  # a called nested function may rebind variables (`nonlocal`)
    with em.builder.at_block(cond_block):
        cond_block.add_return(em.const(True))


__all__ = ["emit_comprehension", "emit_dict_of_pairs", "MapValue", "emit_map", "emit_filter", "iteration_list"]
