"""`match` statements: each case a condition, bindings and a body, emitted as an if/elif chain.

Note [Match lowering]
---------------------
The subject is evaluated once, before the first case; its value is used
directly by every case (it dominates the whole chain, so no variable holds
it). Each case is the `if` the equivalent if/elif/else chain would have:

```
match p:                          %n : int = prim::len.list(%p)
    case [x, y] if x < y:         %ok : bool = prim::eq(%n, 2)
        body1                     %c : bool = prim::If(%ok)
    case _:                         block0():  -> (prim::lt(getitem.list(%p, 0), getitem.list(%p, 1)))
        body2                       block1():  -> (False)
                                  prim::If(%c)
                                    block0():  x = p[0]; y = p[1]; body1
                                    block1():  body2
```

- The condition of a case is the pattern's test and then its guard, each
  part emitted only where the parts before it hold (`_all`), as `and` does:
  an item of a list is read after the length check. The guard sees the
  pattern's captures as values read in the condition; the body reads them
  again and assigns them (`x = p[0]`), as the if/elif chain would.
- A case decided at compile time (a wildcard, a capture, a tuple of another
  length, an `isinstance` the types decide) compiles as an `if` with a
  constant condition does: only what runs is compiled, and the cases after
  an irrefutable one are not.
- Refinement: a test that narrows the subject (`case None:`, `case int():`,
  a sequence pattern on an Optional) refines it in the case body and in the
  later cases, and refines the variable the subject names as `is None` /
  `isinstance` refine it. Tests narrow by key (`Subject.key`: `$match1`,
  `$match1.0` for its first item), so a nested pattern sees its item
  narrowed too; only the subject's variable is refined by name.
- Variables set in the bodies join as after `if`/`elif` (`join_if`).
"""
from __future__ import annotations

import ast
import itertools
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

from ...ir.core import Value
from ...ir.types import ANY, BOOL, INT, SCALAR, ListType, OptionalType, Type, UnionType, unify
from .conditions import isinstance_cond, none_cond, refine_in_frame
from .control import join_if
from .emitter import Cond, FunctionEmitter
from .environment import Frame, VarInfo
from .operators import compare_one
from .sugared import NO_STATIC, SimpleValue, SugaredValue, TupleSugar

Refs = Dict[str, Type]
Test = Callable[[Refs], Cond]

_subject_keys = itertools.count(1)

# Classes whose class pattern takes one positional pattern, matched against the subject itself
# (`case int(n):` is `case int() as n:`), as Python's `match` does.
_SELF_MATCHING = (bool, bytearray, bytes, dict, float, frozenset, int, list, set, str, tuple)


@dataclass(frozen=True)
class Subject:
    """What a pattern is matched against: the match's subject or an item of it.

    `key` names it in refinements (`Cond.true_refs`); `name` is the variable
    the match's subject is, when it is one (refined like `x` in `if x is None`).
    """

    sv: SugaredValue
    key: str
    name: Optional[str] = None

    def narrow(self, em: FunctionEmitter, node: ast.AST, refs: Refs) -> "Subject":
        """The subject as `refs` narrow it (a `prim::unchecked_cast`)."""
        t = refs.get(self.key)
        sv = self.sv
        if t is None or not isinstance(sv, SimpleValue) or sv.value.type == t:
            return self
        with em.at(node):
            cast = em.op("prim::unchecked_cast", [sv.value], [t]).output
        return Subject(SimpleValue(cast), self.key, self.name)


def emit_match(em: FunctionEmitter, node: ast.Match) -> None:
    """`match subject: case ...`: the subject once, then one `prim::If` per case (Note [Match lowering]).

    ```
    match x:                    %c : bool = prim::is(%x, None)      # x : Optional[int]
        case None:              prim::If(%c)
            y = 0                 block0():  y = 0
        case n:                   block1():  %n : int = prim::unchecked_cast(%x); n = %n; y = n
            y = n
    ```
    """
    for case in node.cases:
        _check_pattern(em, case.pattern)
        if case.guard is not None:
            _check_guard(em, case.guard)
    sv = em.emit_expr(node.subject)
    if sv.is_value() and not isinstance(sv, (SimpleValue, TupleSugar)):
        sv = SimpleValue(sv.as_value(em, node.subject))  # evaluated once (`match x is None:`)
    name = None
    if isinstance(node.subject, ast.Name) and isinstance(em.frame.find(node.subject.id)[1], VarInfo):
        name = node.subject.id
    _emit_cases(em, Subject(sv, f"$match{next(_subject_keys)}", name), node.cases)


def _emit_cases(em: FunctionEmitter, subject: Subject, cases: List[ast.match_case]) -> None:
    if not cases:
        return  # no case matched: nothing happens
    case, rest = cases[0], cases[1:]
    cond = _case_cond(em, case, subject)
    if cond.static is True:
        _emit_body(em, case, subject, cond.true_refs)  # the cases after it are never reached
        return
    if cond.static is False:
        _emit_cases(em, subject, rest)
        return
    with em.at(case.pattern):
        if_node = em.op("prim::If", [cond.value], [], n_blocks=2)
    with em.child_frame("if", if_node.blocks[0]) as tf:
        _emit_body(em, case, subject, cond.true_refs)
    with em.child_frame("if", if_node.blocks[1]) as ff:
        _refine_subject(em, subject, cond.false_refs, case.pattern)
        _emit_cases(em, subject.narrow(em, case.pattern, cond.false_refs), rest)
    join_if(em, tf, ff, case.pattern)


def _emit_body(em: FunctionEmitter, case: ast.match_case, subject: Subject, refs: Refs) -> None:
    _refine_subject(em, subject, refs, case.pattern)
    for name, sv, at in _bindings(em, case.pattern, subject, refs):
        em.assign(name, sv, at)
    named = {n: t for n, t in refs.items() if not n.startswith("$")}  # from the guard
    if named:
        refine_in_frame(em, named, case.guard)
    em.emit_stmts(case.body)


def _refine_subject(em: FunctionEmitter, subject: Subject, refs: Refs, node: ast.AST) -> None:
    t = refs.get(subject.key)
    if subject.name is not None and t is not None:
        refine_in_frame(em, {subject.name: t}, node)


# -- conditions ------------------------------------------------------------------------------------


def _case_cond(em: FunctionEmitter, case: ast.match_case, subject: Subject) -> Cond:
    tests: List[Test] = [lambda known: _test(em, case.pattern, subject, known)]
    if case.guard is not None:
        tests.append(lambda known: _guard(em, case, subject, known))
    return _all(em, case.pattern, tests, {})


def _guard(em: FunctionEmitter, case: ast.match_case, subject: Subject, known: Refs) -> Cond:
    """The guard, in a scope where the subject's variable is narrowed and the captures are bound."""
    frame = Frame("if", em.frame.block, em.frame)
    if subject.name is not None and subject.key in known:
        frame.sugared[subject.name] = subject.narrow(em, case.pattern, known).sv
    for name, sv, _ in _bindings(em, case.pattern, subject, known):
        frame.sugared[name] = sv
    saved, em.frame = em.frame, frame
    try:
        return em.emit_condition(case.guard)
    finally:
        em.frame = saved


def _all(em: FunctionEmitter, node: ast.AST, tests: List[Test], known: Refs) -> Cond:
    """`t1 and t2 and ...`: each test emitted where those before it hold, knowing their refinements."""
    first = tests[0](known)
    if len(tests) == 1 or first.static is False:
        return first
    if first.static is True:
        return _all(em, node, tests[1:], known)
    with em.at(node):
        if_node = em.op("prim::If", [first.value], [BOOL], n_blocks=2)
    then_block, else_block = if_node.blocks
    with em.child_frame("if", then_block):
        rest = _all(em, node, tests[1:], {**known, **first.true_refs})
        then_block.add_return(_bool(em, rest))
    with em.builder.at_block(else_block):
        else_block.add_return(em.const(False))
    return Cond(if_node.output, None, {**first.true_refs, **rest.true_refs}, {})


def _any(em: FunctionEmitter, node: ast.AST, tests: List[Test], known: Refs) -> Cond:
    """`t1 or t2 or ...`: each test emitted where those before it failed, knowing their refinements."""
    first = tests[0](known)
    if len(tests) == 1 or first.static is True:
        return first
    if first.static is False:
        return _any(em, node, tests[1:], known)
    with em.at(node):
        if_node = em.op("prim::If", [first.value], [BOOL], n_blocks=2)
    then_block, else_block = if_node.blocks
    with em.builder.at_block(then_block):
        then_block.add_return(em.const(True))
    with em.child_frame("if", else_block):
        rest = _any(em, node, tests[1:], {**known, **first.false_refs})
        else_block.add_return(_bool(em, rest))
    true_refs = first.true_refs if rest.static is False else _joined(first.true_refs, rest.true_refs)
    return Cond(if_node.output, None, true_refs, {**first.false_refs, **rest.false_refs})


def _joined(a: Refs, b: Refs) -> Refs:
    """What is known where one of two conditions holds: each key both narrow, to the types' union."""
    out: Refs = {}
    for key, ta in a.items():
        tb = b.get(key)
        if tb is None:
            continue
        joined = unify(ta, tb)
        if joined is None:
            members: List[Type] = []
            for t in (ta, tb):
                for m in t.members if isinstance(t, UnionType) else (t,):
                    if m not in members:
                        members.append(m)
            joined = UnionType(members)
        out[key] = joined
    return out


def _bool(em: FunctionEmitter, cond: Cond) -> Value:
    return cond.value if cond.value is not None else em.const(bool(cond.static))


def _as_bool(em: FunctionEmitter, node: ast.AST, cond: Cond) -> Cond:
    """A comparison of tensors is an elementwise tensor: a case takes its truth, as Python does."""
    if cond.value is not None and cond.value.type != BOOL:
        return Cond(em.to_bool(cond.value, node))
    return cond


# -- patterns: tests --------------------------------------------------------------------------------


def _test(em: FunctionEmitter, p: ast.pattern, subject: Subject, known: Refs) -> Cond:
    return _TESTS[type(p)](em, p, subject, known)


def _test_value(em: FunctionEmitter, p: ast.MatchValue, subject: Subject, known: Refs) -> Cond:
    """`case 1:`, `case "a":`, `case -2.5:`, `case Color.RED:`: `subject == value`."""
    s = subject.narrow(em, p, known)
    value = em.emit_expr(p.value)
    with em.at(p):
        return _as_bool(em, p, compare_one(em, p, s.sv, ast.Eq(), value, p, p.value))


def _test_singleton(em: FunctionEmitter, p: ast.MatchSingleton, subject: Subject, known: Refs) -> Cond:
    """`case None:` / `case True:` / `case False:`: `subject is value`."""
    s = subject.narrow(em, p, known)
    if p.value is None:
        return none_cond(em, p, s.sv, s.key)
    static = s.sv.static_value()
    if static is not NO_STATIC:
        return Cond(static=static is p.value)
    if not isinstance(s.sv, SimpleValue):
        return Cond(static=False)
    v = s.sv.value
    with em.at(p):
        if v.type == BOOL:
            return Cond(em.op("prim::eq", [v, em.const(p.value)], [BOOL]).output)
        if _may_be_bool(v.type):
            return Cond(em.op("prim::is", [v, em.const(p.value)], [BOOL]).output)
    return Cond(static=False)  # an int 1 is not True


def _may_be_bool(t: Type) -> bool:
    if t in (BOOL, ANY, SCALAR):
        return True
    if isinstance(t, OptionalType):
        return _may_be_bool(t.elem)
    return isinstance(t, UnionType) and any(_may_be_bool(m) for m in t.members)


def _test_as(em: FunctionEmitter, p: ast.MatchAs, subject: Subject, known: Refs) -> Cond:
    """`case _:`, `case x:` (always match) and `case <pattern> as x:`."""
    if p.pattern is None:
        return Cond(static=True)
    return _test(em, p.pattern, subject, known)


def _test_or(em: FunctionEmitter, p: ast.MatchOr, subject: Subject, known: Refs) -> Cond:
    tests: List[Test] = [lambda k, alt=alt: _test(em, alt, subject, k) for alt in p.patterns]
    return _any(em, p, tests, known)


def _test_class(em: FunctionEmitter, p: ast.MatchClass, subject: Subject, known: Refs) -> Cond:
    """`case int():`, `case torch.Tensor():`: an isinstance test; `case int(n):` also matches `n` to the subject."""
    targets = _class_targets(em, p)
    s = subject.narrow(em, p, known)
    if isinstance(s.sv, TupleSugar):
        cond = Cond(static=any(issubclass(tuple, t) for t in targets))
    else:
        cond = isinstance_cond(em, p, s.sv, targets, s.key)
    if not p.patterns:
        return cond
    inner = p.patterns[0]
    return _all(em, p, [lambda k: cond, lambda k: _test(em, inner, subject, k)], known)


def _class_targets(em: FunctionEmitter, p: ast.MatchClass) -> List[Any]:
    cls = em.compiler.resolver.python_object(em, p.cls)
    if not isinstance(cls, type):
        em.fail(p.cls, f"`{ast.unparse(p.cls)}` in a class pattern is not a class", hint="name a class: `case int():`, `case torch.Tensor():`")
    if cls is int:
        return [int, bool]  # `case int():` matches True, as in Python (bool is an int)
    return [cls]


def _test_sequence(em: FunctionEmitter, p: ast.MatchSequence, subject: Subject, known: Refs) -> Cond:
    """`case (a, b):`, `case [0, *rest]:`: a list or tuple (not a str) of that length, item by item."""
    tests: List[Test] = [
        lambda k: _sequence_kind(em, p, subject.narrow(em, p, k)),
        lambda k: _sequence_items(em, p, subject.narrow(em, p, k), k),
    ]
    return _all(em, p, tests, known)


def _sequence_kind(em: FunctionEmitter, p: ast.MatchSequence, s: Subject) -> Cond:
    sv = s.sv
    if isinstance(sv, TupleSugar):
        return Cond(static=True)
    if not isinstance(sv, SimpleValue):
        return Cond(static=isinstance(sv.static_value(), (list, tuple)))  # a module, a function: not a sequence
    if sv.value.type == ANY:
        em.fail(p, "a sequence pattern needs a subject of list or tuple type, not Any", hint="annotate the subject as a List[...] or a Tuple[...]")
    return isinstance_cond(em, p, sv, [list, tuple], s.key)


def _sequence_items(em: FunctionEmitter, p: ast.MatchSequence, s: Subject, known: Refs) -> Cond:
    patterns = p.patterns
    star = _star_index(p)
    n_fixed = len(patterns) - (star is not None)
    n = s.sv.static_len()
    if n is not None:  # a tuple: its length decides
        fits = n == n_fixed if star is None else n >= n_fixed
        if not fits:
            return Cond(static=False)
        items = _tuple_items(em, p, s, n)
        tests: List[Test] = [
            lambda k, i=i, q=q: _test(em, q, Subject(items[_tuple_position(i, star, len(patterns), n)], f"{s.key}.{i}"), k)
            for i, q in enumerate(patterns)
            if i != star and not _irrefutable(q)
        ]
        return _all(em, p, tests, known) if tests else Cond(static=True)
    v = _list_value(em, p, s)
    tests = []
    if star is None or n_fixed > 0:
        with em.at(p):
            length = em.op("prim::len.list", [v], [INT]).output
            ok = em.op("prim::eq" if star is None else "prim::ge", [length, em.const(n_fixed)], [BOOL]).output
        tests.append(lambda k: Cond(ok))
    for i, q in enumerate(patterns):
        if i != star and not _irrefutable(q):
            tests.append(lambda k, i=i, q=q: _test(em, q, _list_item(em, p, s, i, star), k))
    return _all(em, p, tests, known) if tests else Cond(static=True)


def _irrefutable(p: ast.pattern) -> bool:
    """`_`, `x`, `_ as x`: an item matched by these needs no test (nor reading)."""
    return isinstance(p, ast.MatchAs) and (p.pattern is None or _irrefutable(p.pattern))


def _star_index(p: ast.MatchSequence) -> Optional[int]:
    for i, q in enumerate(p.patterns):
        if isinstance(q, ast.MatchStar):
            return i  # Python allows one
    return None


def _tuple_items(em: FunctionEmitter, p: ast.AST, s: Subject, n: int) -> List[SugaredValue]:
    from .stmts import unpack

    with em.at(p):
        return unpack(em, p, s.sv, n)


def _tuple_position(i: int, star: Optional[int], n_patterns: int, n: int) -> int:
    """The item of an `n`-tuple that pattern `i` matches (after a star, counted from the end)."""
    return i if star is None or i < star else n - (n_patterns - i)


def _list_value(em: FunctionEmitter, p: ast.AST, s: Subject) -> Value:
    sv = s.sv
    assert isinstance(sv, SimpleValue)
    t = sv.value.type
    if not isinstance(t, ListType):
        em.fail(p, f"a sequence pattern cannot match a value of type {t}", hint="match a List[...] or a Tuple[...]; for a value that may be either, annotate it as one of them")
    return sv.value


def _list_item(em: FunctionEmitter, p: ast.MatchSequence, s: Subject, i: int, star: Optional[int]) -> Subject:
    v = _list_value(em, p, s)
    index = i if star is None or i < star else i - len(p.patterns)  # after a star: from the end
    with em.at(p.patterns[i]):
        item = em.op("prim::getitem.list", [v, em.const(index)], [v.type.elem]).output
    return Subject(SimpleValue(item), f"{s.key}.{i}")


_TESTS: Dict[type, Callable[..., Cond]] = {
    ast.MatchValue: _test_value,
    ast.MatchSingleton: _test_singleton,
    ast.MatchAs: _test_as,
    ast.MatchOr: _test_or,
    ast.MatchClass: _test_class,
    ast.MatchSequence: _test_sequence,
}


# -- patterns: bindings -------------------------------------------------------------------------------


def _bindings(em: FunctionEmitter, p: ast.pattern, subject: Subject, refs: Refs) -> List[Tuple[str, SugaredValue, ast.AST]]:
    """The names `p` binds and their values, where `p` matched (`refs`: what the match narrowed)."""
    if isinstance(p, ast.MatchAs):
        out = _bindings(em, p.pattern, subject, refs) if p.pattern is not None else []
        if p.name is not None:
            out.append((p.name, subject.narrow(em, p, refs).sv, p))
        return out
    if isinstance(p, ast.MatchClass) and p.patterns:
        return _bindings(em, p.patterns[0], subject, refs)
    if isinstance(p, ast.MatchSequence) and _binds(p):
        return _sequence_bindings(em, p, subject.narrow(em, p, refs), refs)
    return []  # values, singletons, class patterns without arguments, or-patterns (they bind nothing: _check_pattern)


def _sequence_bindings(em: FunctionEmitter, p: ast.MatchSequence, s: Subject, refs: Refs) -> List[Tuple[str, SugaredValue, ast.AST]]:
    patterns = p.patterns
    star = _star_index(p)
    n = s.sv.static_len()
    items = _tuple_items(em, p, s, n) if n is not None else None
    out: List[Tuple[str, SugaredValue, ast.AST]] = []
    for i, q in enumerate(patterns):
        if not _binds(q):
            continue
        if i == star:
            out.append((q.name, SimpleValue(_rest(em, q, s, items, star, len(patterns))), q))  # type: ignore[attr-defined]
            continue
        if items is not None:
            item = Subject(items[_tuple_position(i, star, len(patterns), n)], f"{s.key}.{i}")  # type: ignore[arg-type]
        else:
            item = _list_item(em, p, s, i, star)
        out.extend(_bindings(em, q, item, refs))
    return out


def _rest(em: FunctionEmitter, q: ast.MatchStar, s: Subject, items: Optional[List[SugaredValue]], star: int, n_patterns: int) -> Value:
    """The list `*rest` binds: the items between those matched before and after it."""
    n_after = n_patterns - star - 1
    with em.at(q):
        if items is not None:
            from .stmts import _list_of

            return _list_of(em, q, items[star : len(items) - n_after])
        v = _list_value(em, q, s)
        stop = em.const(-n_after) if n_after else em.const(None)
        return em.op("prim::slice.list", [v, em.const(star), stop, em.const(None)], [v.type]).output


def _binds(p: ast.pattern) -> bool:
    return any(isinstance(q, (ast.MatchAs, ast.MatchStar)) and q.name is not None for q in ast.walk(p))


# -- what is refused ------------------------------------------------------------------------------------


def _check_pattern(em: FunctionEmitter, p: ast.pattern) -> None:
    """Refuse, at the pattern, what script cannot match (before any case is compiled)."""
    for q in ast.walk(p):
        if isinstance(q, ast.MatchMapping):
            em.fail(q, "mapping patterns (`case {...}:`) are not supported in script", hint='test the keys with if/elif: `if "key" in d: v = d["key"]`')
        if isinstance(q, ast.MatchClass) and (q.kwd_patterns or q.patterns):
            cls = em.compiler.resolver.python_object(em, q.cls)
            if q.kwd_patterns or len(q.patterns) > 1 or cls not in _SELF_MATCHING:
                em.fail(q, "class patterns with arguments (`case Point(x=0):`) are not supported in script", hint=f"match the class alone (`case {ast.unparse(q.cls)}():`) and read its attributes in the case body or a guard")
        if isinstance(q, ast.MatchOr) and _binds(q):
            em.fail(q, "or-patterns that bind names are not supported in script", hint="write one `case` per alternative, or bind the whole: `case (1 | 2) as n:`")
        if isinstance(q, ast.MatchValue):
            for c in ast.walk(q.value):
                if isinstance(c, ast.Constant) and isinstance(c.value, (complex, bytes)):
                    kind = "complex numbers" if isinstance(c.value, complex) else "bytes"
                    em.fail(q, f"{kind} in patterns are not supported in script (script has no {kind})", hint="match ints, floats, strs, bools, None or Enum members")


def _check_guard(em: FunctionEmitter, guard: ast.expr) -> None:
    for q in ast.walk(guard):
        if isinstance(q, ast.NamedExpr):
            em.fail(q, "assignment expressions (`:=`) in a case guard are not supported in script", hint="assign the value before the `match` or in the case body")


__all__ = ["emit_match"]
