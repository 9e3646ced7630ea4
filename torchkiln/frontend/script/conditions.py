"""Conditions: truth values, `is None` checks, `isinstance`, `and`/`or`/`not`, refinement.

`emit_condition(em, node)` returns a `Cond`: either a compile-time bool
(only the taken branch of an `if` is compiled, as TorchScript does for
`x is None` on a non-Optional `x`, `hasattr`, `isinstance`,
`torch.jit.is_scripting()`), or a `bool` value; with the refinements the
condition implies:

```
if x is not None:          # x : Optional[Tensor]
    return x + 1           # here x : Tensor  (prim::unchecked_cast)
```
"""
from __future__ import annotations

import ast
from typing import Any, Dict, List, Optional

import torch

from ...ir.core import Value
from ...ir.types import (
    ANY,
    BOOL,
    FLOAT,
    INT,
    NONE,
    SCALAR,
    STR,
    DictType,
    ListType,
    OptionalType,
    TensorType,
    TupleType,
    Type,
    UnionType,
    unify,
)
from .emitter import Cond, FunctionEmitter
from .environment import Frame, VarInfo
from .sugared import NO_STATIC, SimpleValue, SugaredValue


def emit_condition(em: FunctionEmitter, node: ast.expr) -> Cond:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        inner = emit_condition(em, node.operand)
        if inner.static is not None:
            return inner.negate()
        with em.at(node):
            negated = em.op("prim::not", [inner.value], [BOOL]).output
        return Cond(negated, None, inner.false_refs, inner.true_refs)
    if isinstance(node, ast.BoolOp):
        return _emit_bool_op(em, node, node.values, isinstance(node.op, ast.And))
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], (ast.Is, ast.IsNot, ast.Eq, ast.NotEq)):
        cond = _none_check(em, node)
        if cond is not None:
            return cond
    sv = em.emit_expr(node)
    return cond_of(em, node, sv)


def cond_of(em: FunctionEmitter, node: ast.AST, sv: SugaredValue) -> Cond:
    """The condition an already emitted value stands for."""
    if isinstance(sv, ConditionSugar):
        return sv.cond
    static = sv.static_value()
    if static is not NO_STATIC and isinstance(static, (bool, int, float, str, type(None))):
        return Cond(static=bool(static))
    if static is not NO_STATIC and isinstance(static, tuple):
        return Cond(static=bool(static))
    v = sv.as_value(em, node)
    return Cond(truth_value(em, node, v))


class ConditionSugar(SugaredValue):
    """A condition with refinements, as the value of `x is None` or `isinstance(x, T)` in an expression."""

    def __init__(self, cond: Cond):
        self.cond = cond

    def describe(self) -> str:
        return "a condition"

    def is_value(self) -> bool:
        return True

    def as_value(self, em, node) -> Value:
        if self.cond.static is not None:
            return em.const(self.cond.static)
        return self.cond.value

    def static_value(self) -> Any:
        return self.cond.static if self.cond.static is not None else NO_STATIC


def truth_value(em: FunctionEmitter, node: ast.AST, v: Value) -> Value:
    """`bool(v)` with Python's meaning, for `if v:` and `while v:`."""
    t = v.type
    if t is BOOL:
        return v  # most conditions: nothing to make
    with em.at(node):
        if isinstance(t, TensorType):
            return em.op("prim::Bool.Tensor", [v], [BOOL]).output
        if t in (INT, FLOAT, SCALAR):
            return em.op("prim::Bool.Scalar", [v], [BOOL]).output
        if t == STR:
            return em.op("prim::Bool.str", [v], [BOOL]).output
        if isinstance(t, ListType):
            return em.op("prim::Bool.list", [v], [BOOL]).output
        if isinstance(t, DictType):
            return em.op("prim::Bool.dict", [v], [BOOL]).output
        if t == NONE:
            return em.const(False)
        if isinstance(t, OptionalType):
            return _optional_truth(em, node, v)
        for name in ("__bool__", "__len__"):
            r = em.compiler.classes.dunder(em, node, v, name, [])
            if r is not None:
                return truth_value(em, node, r.as_value(em, node))
    em.fail(node, f"a value of type {t} cannot be used as a condition", hint="compare it explicitly (e.g. `x is not None`, `len(x) > 0`)")


def _optional_truth(em: FunctionEmitter, node: ast.AST, v: Value) -> Value:
    """`bool(x)` for `x : Optional[T]`: `x is not None and bool(x)`."""
    assert isinstance(v.type, OptionalType)
    present = em.op("prim::isnot", [v, em.const(None)], [BOOL]).output
    if_node = em.op("prim::If", [present], [BOOL], n_blocks=2)
    with em.builder.at_block(if_node.blocks[0]):
        inner = em.op("prim::unchecked_cast", [v], [v.type.elem]).output
        if_node.blocks[0].add_return(truth_value(em, node, inner))
    with em.builder.at_block(if_node.blocks[1]):
        if_node.blocks[1].add_return(em.const(False))
    return if_node.output


# -- and / or ----------------------------------------------------------------------------------


def emit_bool_value(em: FunctionEmitter, node: ast.BoolOp, hint: Optional[Type]) -> SugaredValue:
    """`a or b` / `a and b` used as a value: Python's meaning, the operand that decides.

    A bool first operand (a comparison, `x is None`...) keeps the condition
    form (refinements hold in the later operands; the result is a bool, as in
    TorchScript). Otherwise `a or b` is `a if a else b` and `a and b` is
    `b if a else a`, each operand evaluated once and only when needed:
    `dim = dim or -1` with `dim: Optional[int]` gives an int.
    """
    is_and = isinstance(node.op, ast.And)
    first = em.emit_expr(node.values[0])
    static = first.static_value()
    if not isinstance(first, ConditionSugar) and static is not NO_STATIC and isinstance(static, (bool, int, float, str, type(None), tuple)):
        if bool(static) != is_and:
            return first  # `x or ...` with x truthy, `x and ...` with x falsy: x, and the rest is not compiled
        if len(node.values) == 2:
            return em.emit_expr(node.values[1], hint)
        return emit_bool_value(em, ast.copy_location(ast.BoolOp(op=node.op, values=node.values[1:]), node), hint)
    if isinstance(first, ConditionSugar) or not first.is_value():
        return ConditionSugar(_emit_bool_op(em, node, node.values, is_and, cond_of(em, node.values[0], first)))
    v = first.as_value(em, node)
    if v.type == BOOL:
        return ConditionSugar(_emit_bool_op(em, node, node.values, is_and, Cond(v)))
    return SimpleValue(_bool_value(em, node, v, node.values[1:], is_and, hint))


def _bool_value(em: FunctionEmitter, node: ast.BoolOp, v: Value, rest: List[ast.expr], is_and: bool, hint: Optional[Type]) -> Value:
    if not rest:
        return v
    truth = truth_value(em, node, v)
    with em.at(node):
        if_node = em.op("prim::If", [truth], [], n_blocks=2)
    keep_block, rest_block = (if_node.blocks[1], if_node.blocks[0]) if is_and else (if_node.blocks[0], if_node.blocks[1])
    with em.builder.at_block(keep_block):
        kept = v
        if not is_and and isinstance(v.type, OptionalType):  # truthy: not None
            kept = em.op("prim::unchecked_cast", [v], [v.type.elem]).output
    first_node = node.values[len(node.values) - len(rest) - 1]
    refs: Dict[str, Type] = {}
    if is_and and isinstance(first_node, ast.Name) and isinstance(v.type, OptionalType):
        refs[first_node.id] = v.type.elem  # `x and x + 1`: x is not None in the rest
    with em.child_frame("if", rest_block) as frame, _refined(em, refs):
        nxt = em.emit_expr(rest[0]).as_value(em, node)
        other = _bool_value(em, node, nxt, rest[1:], is_and, hint) if len(rest) > 1 else nxt
    _join_branch(em, frame, node)
    def fits(t: Type) -> bool:
        return hint is not None and (t.is_subtype_of(hint) or t in (INT, BOOL) and hint == FLOAT)

    joined = hint if fits(kept.type) and fits(other.type) else unify(kept.type, other.type)
    if joined is None:
        joined = UnionType((kept.type, other.type))  # Python's result: either operand
    for block, value in ((keep_block, kept), (rest_block, other)):
        with em.builder.at_block(block):
            block.add_return(em.coerce(value, joined, node, f"cannot use {value.type} as {joined}"))
    return if_node.add_output(joined)


def _emit_bool_op(em: FunctionEmitter, node: ast.BoolOp, values: List[ast.expr], is_and: bool, first: Optional[Cond] = None) -> Cond:
    if first is None:
        first = emit_condition(em, values[0])
    if len(values) == 1:
        return first
    if first.static is not None:
        if first.static != is_and:
            return first  # `False and ...` / `True or ...`: the rest is not compiled
        with _refined(em, first.true_refs if is_and else first.false_refs):
            return _emit_bool_op(em, node, values[1:], is_and)
    with em.at(node):
        if_node = em.op("prim::If", [first.value], [BOOL], n_blocks=2)
    rest_block, short_block = (if_node.blocks[0], if_node.blocks[1]) if is_and else (if_node.blocks[1], if_node.blocks[0])
    with em.child_frame("if", rest_block) as frame:
        with _refined(em, first.true_refs if is_and else first.false_refs):
            rest = _emit_bool_op(em, node, values[1:], is_and)
        rest_value = rest.value if rest.static is None else em.const(rest.static)
        rest_block.add_return(rest_value)
    _join_branch(em, frame, node)
    with em.builder.at_block(short_block):
        short_block.add_return(em.const(not is_and))
    if is_and:
        refs = dict(first.true_refs)
        refs.update(rest.true_refs)
        return Cond(if_node.output, None, refs, {})
    refs = dict(first.false_refs)
    refs.update(rest.false_refs)
    return Cond(if_node.output, None, {}, refs)


class _refined:
    """Within an expression: names seen with refined types (bound as casts, not stores)."""

    def __init__(self, em: FunctionEmitter, refs: Dict[str, Type]):
        self.em = em
        self.refs = refs
        self.frame: Optional[Frame] = None

    def __enter__(self):
        if not self.refs:
            return self
        em = self.em
        self.frame = Frame("if", em.frame.block, em.frame)
        for name, t in self.refs.items():
            current = em.lookup(name, None)
            v = current.as_value(em, None)
            cast = em.op("prim::unchecked_cast", [v], [t]).output
            self.frame.sugared[name] = SimpleValue(cast)
        self.saved = em.frame
        em.frame = self.frame
        return self

    def __exit__(self, *exc):
        if self.frame is not None:
            self.em.frame = self.saved
            for name, info in self.frame.vars.items():  # assigned here (`:=`, `nonlocal`): assigned where it is
                self.saved.set_var(name, info)
            for name, error in self.frame.errors.items():
                self.saved.set_error(name, error)
        return False


def _join_branch(em: FunctionEmitter, frame: Frame, node: ast.AST) -> None:
    if frame.vars or frame.errors:  # rare: `:=` or a nested function's `nonlocal` in the branch
        from .control import join_branch

        join_branch(em, frame, node)


def refine_in_frame(em: FunctionEmitter, refs: Dict[str, Type], node: ast.AST) -> None:
    """Statement level: store the refined (cast) values of `refs` in the current frame."""
    for name, t in refs.items():
        refine_name(em, name, t, node)


def refine_name(em: FunctionEmitter, name: str, t: Type, node: ast.AST) -> None:
    """Bind `name` in the current frame to its value cast to `t`, unless it is already as narrow;
    the binding records the one it narrows (Note [Refinement joins] in control.py)."""
    sv = em.lookup(name, node)
    v = sv.as_value(em, node)
    if v.type == t or v.type.is_subtype_of(t) and v.type != ANY:
        return  # already as narrow (refined further on the path that goes on)
    before = em.frame.find(name)[1]
    with em.at(node):
        cast = em.op("prim::unchecked_cast", [v], [t]).output
    em.assign(name, SimpleValue(cast), node)
    info = em.frame.vars.get(name)
    if info is not None and isinstance(before, VarInfo):
        info.refines = before


# -- None checks and isinstance ------------------------------------------------------------------------


def _is_none_literal(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _none_check(em: FunctionEmitter, node: ast.Compare) -> Optional[Cond]:
    left, right = node.left, node.comparators[0]
    op = node.ops[0]
    if _is_none_literal(left) and not _is_none_literal(right):
        left, right = right, left
    if not _is_none_literal(right):
        return None
    sv = em.emit_expr(left)
    name = left.id if isinstance(left, ast.Name) else None
    cond = none_cond(em, node, sv, name)
    if isinstance(op, (ast.IsNot, ast.NotEq)):
        return cond.negate() if cond.static is not None else _negate_value(em, node, cond)
    return cond


def _negate_value(em: FunctionEmitter, node: ast.AST, cond: Cond) -> Cond:
    v = em.op("prim::not", [cond.value], [BOOL], None, em.loc(node)).outputs[0]
    return Cond(v, None, cond.false_refs, cond.true_refs)


def none_cond(em: FunctionEmitter, node: ast.AST, sv: SugaredValue, name: Optional[str]) -> Cond:
    """`<sv> is None`, statically when the type decides it."""
    if not isinstance(sv, SimpleValue):
        static = sv.static_value()
        return Cond(static=static is None)
    t = sv.value.type
    if t == NONE:
        return Cond(static=True)
    if not _may_be_none(t):
        return Cond(static=False)
    with em.at(node):
        v = em.op("prim::is", [sv.value, em.const(None)], [BOOL]).output
    refs: Dict[str, Type] = {}
    if name is not None:
        refs[name] = _without_none(t)
    return Cond(v, None, {}, refs)


def _may_be_none(t: Type) -> bool:
    return isinstance(t, OptionalType) or t == ANY or (isinstance(t, UnionType) and NONE in t.members)


def _without_none(t: Type) -> Type:
    if isinstance(t, OptionalType):
        return t.elem
    if isinstance(t, UnionType):
        rest = [m for m in t.members if m != NONE]
        return rest[0] if len(rest) == 1 else UnionType(rest)
    return t


def isinstance_cond(em: FunctionEmitter, node: ast.Call, sv: SugaredValue, targets: List[Any], name: Optional[str]) -> Cond:
    """`isinstance(<sv>, targets)`: static, or an `is not None` check for Optional values."""
    if not isinstance(sv, SimpleValue):
        obj = sv.static_value()
        py = getattr(sv, "python_object", None)
        if py is not None:
            return Cond(static=any(isinstance(t, type) and isinstance(py, t) for t in targets))
        if obj is not NO_STATIC:
            return Cond(static=any(isinstance(t, type) and isinstance(obj, t) for t in targets))
        em.fail(node, f"isinstance of {sv.describe()} is not supported")
    t = sv.value.type
    if any(type_matches(em, node, t, target) for target in targets):
        return Cond(static=True)
    if isinstance(t, OptionalType) and isinstance(t.elem, UnionType):  # `Union[int, str, None]`
        return _runtime_isinstance(em, node, sv.value, targets, name)
    if isinstance(t, OptionalType):
        if any(type_matches(em, node, t.elem, target) for target in targets):
            cond = none_cond(em, node, sv, name)
            return _negate_value(em, node, cond)
        if any(target is type(None) for target in targets):
            return none_cond(em, node, sv, name)
        return Cond(static=False)
    if isinstance(t, UnionType) or t == ANY:
        return _runtime_isinstance(em, node, sv.value, targets, name)
    return Cond(static=False)


def _runtime_isinstance(em: FunctionEmitter, node: ast.AST, v: Value, targets: List[Any], name: Optional[str]) -> Cond:
    """`isinstance(x, T)` for a Union (or Any) `x`: a runtime test, refining x both ways."""
    t = v.type
    optional = isinstance(t, OptionalType)
    union = t.elem if optional else t  # type: ignore[attr-defined]
    members = list(union.members) + ([NONE] if optional else []) if isinstance(union, UnionType) else None
    if members is not None:
        chosen = [m for m in members if any(type_matches(em, node, m, tg) for tg in targets)]
        if not chosen:
            return Cond(static=False)
        if len(chosen) == len(members):
            return Cond(static=True)
        test_types = chosen
    else:
        test_types = [t for t in (em.compiler.type_of_annotation_object(em, node, tg) for tg in targets) if t is not None]
        chosen = test_types
        if not test_types:
            em.fail(node, "isinstance of an Any value needs script types as targets")
    with em.at(node):
        result = em.op("prim::isinstance", [v], [BOOL], {"types": list(test_types)}).output
    true_refs: Dict[str, Type] = {}
    false_refs: Dict[str, Type] = {}
    if name is not None:
        true_refs[name] = _members_type(chosen, optional)
        if members is not None:
            false_refs[name] = _members_type([m for m in members if m not in chosen], optional)
    return Cond(result, None, true_refs, false_refs)


def _members_type(members: List[Type], optional: bool) -> Type:
    """The type holding `members` (of a Union); `Optional[...]` when the Union was one."""
    if len(members) == 1:
        return members[0]
    if optional and NONE in members:
        return OptionalType(_members_type([m for m in members if m != NONE], False))
    return UnionType(members)


def type_matches(em: FunctionEmitter, node: ast.AST, t: Type, target: Any) -> bool:
    """Whether every value of IR type `t` is an instance of the Python class (or typing form) `target`."""
    simple = {
        torch.Tensor: lambda: isinstance(t, TensorType),
        bool: lambda: t == BOOL,
        int: lambda: t == INT,
        float: lambda: t == FLOAT,
        str: lambda: t == STR,
        type(None): lambda: t == NONE,
        list: lambda: isinstance(t, ListType),
        tuple: lambda: isinstance(t, TupleType),
        dict: lambda: isinstance(t, DictType),
    }
    try:
        check = simple.get(target)
    except TypeError:
        check = None
    if check is not None:
        return check()
    ir_type = em.compiler.type_of_annotation_object(em, node, target)
    return ir_type is not None and t.is_subtype_of(ir_type) and not isinstance(t, OptionalType)


def isinstance_targets(em: FunctionEmitter, node: ast.expr) -> List[Any]:
    """The Python classes named by isinstance's second argument (a class or a tuple of classes)."""
    if isinstance(node, ast.Tuple):
        out: List[Any] = []
        for e in node.elts:
            out.extend(isinstance_targets(em, e))
        return out
    obj = em.compiler.resolver.python_object(em, node)
    if isinstance(obj, tuple):
        return list(obj)
    return [obj]


__all__ = ["emit_condition", "cond_of", "truth_value", "refine_in_frame", "refine_name", "ConditionSugar", "isinstance_cond", "isinstance_targets", "none_cond"]
