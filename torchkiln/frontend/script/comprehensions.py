"""List and dict comprehensions (and generator expressions, built as lists).

```
[f(x) for x in xs if x > 0]        %r = prim::ListConstruct()          (its element type is fixed once f(x) is typed)
                                   prim::Loop(len(xs), True)
                                     block0(%i):  x = xs[i]; if x > 0: prim::append.list(%r, f(x))
{k: v for k, v in d.items()}       prim::DictConstruct() and prim::setitem.dict in the loop
```
The comprehension has its own scope (its targets are not visible after
it). Iterating a tuple or module container unrolls, as a `for` loop does.
"""
from __future__ import annotations

import ast
from typing import List, Optional

from ...ir.core import Value
from ...ir.types import INT, STR, TENSOR, DictType, ListType, OptionalType, Type, unify
from .conditions import cond_of, refine_in_frame
from .emitter import FunctionEmitter
from .loops import Counted, Unrolled
from .sugared import SimpleValue, SugaredValue


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
            self.em.fail(node, f"the comprehension produces values of different types: {seen} and {new}", hint="annotate the result, e.g. `xs: List[Optional[int]] = [...]`")
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
    with em.child_frame("comprehension", em.frame.block):
        _generators(em, node, node.generators, result)
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
    with em.child_frame("loop", body):
        em.loop_depth += 1
        try:
            assign_target(em, gen.target, it.item(em, gen.target, i), gen)
            _conditions(em, node, gen.ifs, rest, result)
        finally:
            em.loop_depth -= 1
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
    with em.child_frame("if", if_node.blocks[0]):
        refine_in_frame(em, cond.true_refs, ifs[0])
        _conditions(em, node, ifs[1:], rest, result)


__all__ = ["emit_comprehension"]
