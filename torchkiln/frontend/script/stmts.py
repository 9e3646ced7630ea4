"""Statements: one `emit_<statement>` function each (control flow is in `control.py`)."""
from __future__ import annotations

import ast
from typing import Callable, Dict, List, Optional, Type as PyType

from ...ir.core import Value
from ...ir.types import BOOL, INT, STR, DictType, ListType, TensorType, TupleType, Type
from .conditions import refine_in_frame
from .control import emit_break, emit_continue, emit_for, emit_if, emit_while, emit_with
from .emitter import FunctionEmitter
from .patterns import emit_match
from .environment import STORE, PendingError, VarInfo
from .sugared import ExceptionClassValue, ExceptionValue, SimpleValue, SugaredValue, TupleSugar


def emit_stmt(em: FunctionEmitter, node: ast.stmt) -> None:
    handler = STATEMENTS.get(type(node))
    if handler is None:
        what, hint = UNSUPPORTED.get(type(node), (f"`{type(node).__name__}` statements are not supported", None))
        em.fail(node, what, hint)
    # `with em.at(node):`, spelled out: this runs for every statement.
    builder = em.builder
    saved = builder.loc
    builder.loc = em.loc(node)
    try:
        handler(em, node)
    finally:
        builder.loc = saved


# -- assignment ------------------------------------------------------------------------------------


def emit_assign(em: FunctionEmitter, node: ast.Assign) -> None:
    hint = _single_name_hint(em, node.targets)
    value = em.emit_expr(node.value, hint)
    if len(node.targets) > 1 and value.is_value() and not isinstance(value, (SimpleValue, TupleSugar)):
        value = SimpleValue(value.as_value(em, node.value))  # `a = b = <condition>`: evaluate once
    for target in node.targets:
        assign_target(em, target, value, node)


def _single_name_hint(em: FunctionEmitter, targets) -> Optional[Type]:
    """An assignment to an existing variable passes its type as a hint (`x = []` after `x: List[int] = ...`)."""
    if len(targets) == 1 and isinstance(targets[0], ast.Name):
        found = em.frame.find(targets[0].id)[1]
        if isinstance(found, VarInfo):
            return found.type
    return None


def emit_ann_assign(em: FunctionEmitter, node: ast.AnnAssign) -> None:
    annotated = em.compiler.parse_annotation(em, node.annotation)
    if node.value is None:
        return  # a declaration without a value defines nothing, as in Python
    value = em.emit_expr(node.value, annotated)
    if isinstance(node.target, ast.Name):
        em.assign(node.target.id, value, node, annotated)
        return
    v = value.as_value(em, node.value)
    v = em.coerce(v, annotated, node, f"the value has type {v.type}, not the annotated {annotated}")
    assign_target(em, node.target, SimpleValue(v), node)


def assign_target(em: FunctionEmitter, target: ast.expr, value: SugaredValue, node: ast.AST) -> None:
    """Bind one assignment target (name, tuple/list pattern, subscript, attribute)."""
    if isinstance(target, ast.Name):
        em.assign(target.id, value, target)
        return
    if isinstance(target, (ast.Tuple, ast.List)):
        _assign_unpack(em, target, value, node)
        return
    if isinstance(target, ast.Subscript):
        from .subscripts import emit_setitem

        emit_setitem(em, target, value.as_value(em, target))
        return
    if isinstance(target, ast.Attribute):
        obj = em.emit_expr(target.value)
        setter = getattr(obj, "setattr", None)
        if setter is None:
            em.fail(target, f"cannot assign to an attribute of {obj.describe()}", hint="attributes can be set on `self` and on script class objects")
        setter(em, target, target.attr, value.as_value(em, target))
        return
    if isinstance(target, ast.Starred):
        em.fail(target, "starred assignment targets are only supported inside a tuple pattern")
    em.fail(target, f"cannot assign to `{ast.unparse(target)}`")


def unpack(em: FunctionEmitter, node: ast.AST, value: SugaredValue, n: int) -> List[SugaredValue]:
    """The `n` elements of a tuple or list being unpacked."""
    if isinstance(value, TupleSugar):
        items = value.items
        if len(items) != n:
            em.fail(node, f"cannot unpack a tuple of {len(items)} into {n} names")
        return items
    v = value.as_value(em, node)
    t = v.type
    with em.at(node):
        if isinstance(t, TupleType):
            if len(t.elems) != n:
                em.fail(node, f"cannot unpack a tuple of {len(t.elems)} into {n} names")
            return [SimpleValue(o) for o in em.op("prim::TupleUnpack", [v], list(t.elems)).outputs]
        lst = _as_list(em, v)
        if lst is not None:  # the length is checked when the program runs (ValueError, as Python)
            return [SimpleValue(o) for o in em.op("prim::ListUnpack", [lst], [lst.type.elem] * n).outputs]  # type: ignore[attr-defined]
    it = value.iterate(em, node)
    from .loops import Unrolled

    if isinstance(it, Unrolled) and len(it.items) == n:
        return it.items
    em.fail(node, f"cannot unpack {value.describe()} into {n} names")


def _assign_unpack(em: FunctionEmitter, target, value: SugaredValue, node: ast.AST) -> None:
    elts = target.elts
    starred = [i for i, e in enumerate(elts) if isinstance(e, ast.Starred)]
    if starred:
        _assign_starred(em, target, value, starred, node)
        return
    for sub, item in zip(elts, unpack(em, target, value, len(elts))):
        assign_target(em, sub, item, node)


def _assign_starred(em: FunctionEmitter, target, value: SugaredValue, starred: List[int], node: ast.AST) -> None:
    if len(starred) > 1:
        em.fail(target, "only one starred target is allowed")
    k = starred[0]
    elts = target.elts
    n_after = len(elts) - k - 1
    if isinstance(value, TupleSugar) or isinstance(getattr(value, "type", None), TupleType):
        n = value.static_len() if isinstance(value, TupleSugar) else len(value.type.elems)  # type: ignore[union-attr]
        items = unpack(em, target, value, n)
        middle = items[k : n - n_after]
        for sub, item in zip(elts[:k], items[:k]):
            assign_target(em, sub, item, node)
        assign_target(em, elts[k].value, SimpleValue(_list_of(em, target, middle)), node)
        for sub, item in zip(elts[k + 1 :], items[n - n_after :]):
            assign_target(em, sub, item, node)
        return
    v = value.as_value(em, target)
    with em.at(target):
        lst = _as_list(em, v)
    if lst is None:
        hint = "unpack x.unbind(0), a list of the tensor's rows" if isinstance(v.type, TensorType) else "unpack a list, tuple, str or dict"
        em.fail(target, f"cannot unpack a value of type {v.type} into a starred pattern", hint=hint)
    parts = _split_list(em, target, lst, k, n_after)
    for sub, part in zip(elts[:k] + [elts[k].value] + elts[k + 1 :], parts):
        assign_target(em, sub, SimpleValue(part), node)


def _as_list(em: FunctionEmitter, v: Value) -> Optional[Value]:
    """`v` as a list to unpack: a list itself, a str's characters, a dict's keys; None for other types."""
    t = v.type
    if isinstance(t, ListType):
        return v
    if t == STR:
        return em.op("prim::list.str", [v], [ListType(STR)]).output
    if isinstance(t, DictType):
        return em.op("prim::keys", [v], [ListType(t.key)]).output
    return None


def _split_list(em: FunctionEmitter, target: ast.AST, lst: Value, k: int, n_after: int) -> List[Value]:
    """`a, *rest, z = lst`: the `k` first items, a new list of the middle, the `n_after` last items.

    ```
    %n = prim::len.list(%lst)
    prim::If(prim::lt(%n, k + n_after)):  raise ValueError("not enough values to unpack (expected at least 2, got 1)")
    %a = prim::getitem.list(%lst, 0)
    %rest = prim::slice.list(%lst, k, %n - n_after, None)
    %z = prim::getitem.list(%lst, -1)
    ```
    """
    assert isinstance(lst.type, ListType)
    elem = lst.type.elem
    none = em.const(None)
    with em.at(target):
        n = em.op("prim::len.list", [lst], [INT]).output
        need = k + n_after
        if need > 0:
            short = em.op("prim::lt", [n, em.const(need)], [BOOL]).output
            if_node = em.op("prim::If", [short], [], n_blocks=2)
            with em.builder.at_block(if_node.blocks[0]):
                fmt = em.const(f"not enough values to unpack (expected at least {need}, got {{}})")
                message = em.op("prim::format", [fmt, n], [STR]).output
                em.op("prim::RaiseException", [message], [], {"cls": "ValueError"})
        heads = [em.op("prim::getitem.list", [lst, em.const(i)], [elem]).output for i in range(k)]
        stop = em.op("prim::sub.int", [n, em.const(n_after)], [INT]).output if n_after else none
        middle = em.op("prim::slice.list", [lst, em.const(k), stop, none], [lst.type]).output
        tails = [em.op("prim::getitem.list", [lst, em.const(j - n_after)], [elem]).output for j in range(n_after)]
    return heads + [middle] + tails


def _list_of(em: FunctionEmitter, node: ast.AST, items: List[SugaredValue]) -> Value:
    from ...ir.types import unify

    values = [i.as_value(em, node) for i in items]
    elem: Optional[Type] = values[0].type if values else None
    for v in values[1:]:
        elem = unify(elem, v.type) if elem is not None else None
    if elem is None:
        if values:
            em.fail(node, "starred unpacking of a tuple whose items have different types")
        from ...ir.types import TENSOR

        elem = TENSOR
    return em.op("prim::ListConstruct", values, [ListType(elem)]).output


def emit_aug_assign(em: FunctionEmitter, node: ast.AugAssign) -> None:
    from .operators import augmented

    target = node.target
    if isinstance(target, ast.Name):
        current = em.lookup(target.id, target)
        result = augmented(em, node, current, em.emit_expr(node.value), node.op)
        em.assign(target.id, result, target)
        return
    if isinstance(target, ast.Attribute):
        obj = em.emit_expr(target.value)
        current = obj.attr(em, target, target.attr)
        result = augmented(em, node, current, em.emit_expr(node.value), node.op)
        setter = getattr(obj, "setattr", None)
        if setter is None:
            em.fail(target, f"cannot assign to an attribute of {obj.describe()}")
        setter(em, target, target.attr, result.as_value(em, node))
        return
    if isinstance(target, ast.Subscript):
        from .subscripts import emit_index, emit_setitem

        container = em.emit_expr(target.value)
        index = emit_index(em, target.slice)
        current = container.getitem(em, target, index)
        result = augmented(em, node, current, em.emit_expr(node.value), node.op)
        emit_setitem(em, target, result.as_value(em, node), container=container, index=index)
        return
    em.fail(target, f"cannot assign to `{ast.unparse(target)}`")


# -- return, raise, assert ----------------------------------------------------------------------------------


def emit_return(em: FunctionEmitter, node: ast.Return) -> None:
    declared = em.declared_return
    if node.value is None:
        v = em.const(None)
    else:
        v = em.emit_value(node.value, declared)
    if declared is not None:
        v = em.coerce_argument(v, declared, node, f"the function is declared to return {declared} but this returns {v.type}")
    em.return_types.append((v.type, em.loc(node)))
    if declared is not None and v.type != declared:
        # keep the declared type (a Union): the value reaches the end through joins (to_ssa.py)
        em.op(STORE, [v], [], {"name": "$ret", "type": declared})
    else:
        em.store_internal("$ret", v)
    em.exit("return")


def emit_raise(em: FunctionEmitter, node: ast.Raise) -> None:
    if node.exc is None:
        em.fail(node, "a bare `raise` (re-raise) is not supported", hint="raise an exception object: `raise ValueError(\"...\")`")
    exc = em.emit_expr(node.exc)
    if isinstance(exc, ExceptionClassValue):
        exc = ExceptionValue(exc.cls.__name__, None)
    if not isinstance(exc, ExceptionValue):
        em.fail(node.exc, f"cannot raise {exc.describe()}", hint="raise a built-in exception: `raise ValueError(\"message\")`")
    raise_exception(em, exc)


def raise_exception(em: FunctionEmitter, exc: ExceptionValue) -> None:
    message = exc.message if exc.message is not None else em.const("")
    em.op("prim::RaiseException", [message], [], {"cls": exc.cls_name})
    em.frame.exits = True


def emit_assert(em: FunctionEmitter, node: ast.Assert) -> None:
    cond = em.emit_condition(node.test)
    if cond.static is True:
        return
    if cond.static is False:
        _raise_assertion(em, node)
        return
    if_node = em.op("prim::If", [cond.value], [], n_blocks=2)
    with em.child_frame("if", if_node.blocks[1]):
        _raise_assertion(em, node)
    refine_in_frame(em, cond.true_refs, node.test)


def _raise_assertion(em: FunctionEmitter, node: ast.Assert) -> None:
    if node.msg is not None:
        message = em.to_str(em.emit_expr(node.msg), node.msg)
    else:
        message = em.const("")
    raise_exception(em, ExceptionValue("AssertionError", message))


# -- the rest -------------------------------------------------------------------------------------------


def emit_expr_stmt(em: FunctionEmitter, node: ast.Expr) -> None:
    if isinstance(node.value, ast.Constant) and (isinstance(node.value.value, str) or node.value.value is Ellipsis):
        return  # docstring or `...`
    em.emit_expr(node.value)


def emit_pass(em: FunctionEmitter, node: ast.Pass) -> None:
    return None


def emit_delete(em: FunctionEmitter, node: ast.Delete) -> None:
    for target in node.targets:
        if isinstance(target, ast.Name):
            em.lookup(target.id, target)  # must exist
            if em.rebindable is not None and target.id in em.rebindable:
                em.fail(target, f"cannot delete '{target.id}', a variable of the enclosing function (`nonlocal`)", hint=f"assign '{target.id}' a value instead")
            em.frame.set_error(target.id, PendingError(f"'{target.id}' is used after `del {target.id}`"))
        elif isinstance(target, ast.Subscript):
            from .subscripts import emit_delitem

            emit_delitem(em, target)
        else:
            em.fail(target, f"cannot delete `{ast.unparse(target)}`")


def emit_function_def(em: FunctionEmitter, node: ast.FunctionDef) -> None:
    from .nested import emit_function_def as define

    define(em, node)


def emit_nonlocal(em: FunctionEmitter, node: ast.Nonlocal) -> None:
    from .nested import emit_nonlocal as declare

    declare(em, node)


STATEMENTS: Dict[PyType[ast.AST], Callable] = {
    ast.Assign: emit_assign,
    ast.AnnAssign: emit_ann_assign,
    ast.AugAssign: emit_aug_assign,
    ast.Return: emit_return,
    ast.Raise: emit_raise,
    ast.Assert: emit_assert,
    ast.Expr: emit_expr_stmt,
    ast.Pass: emit_pass,
    ast.Delete: emit_delete,
    ast.If: emit_if,
    ast.For: emit_for,
    ast.While: emit_while,
    ast.With: emit_with,
    ast.Match: emit_match,
    ast.Break: emit_break,
    ast.Continue: emit_continue,
    ast.FunctionDef: emit_function_def,
    ast.Nonlocal: emit_nonlocal,
}

UNSUPPORTED = {
    ast.Try: ("try/except is not supported in script", "check the condition before the operation and raise, or move the try into an @torchkiln.ignore function"),
    ast.Global: ("`global` is not supported: scripted code cannot change global variables", "pass the value in as an argument and return the new value, or keep it as a module attribute"),
    ast.Import: ("`import` inside a scripted function is not supported", "import at module level"),
    ast.ImportFrom: ("`import` inside a scripted function is not supported", "import at module level"),
    ast.ClassDef: ("class definitions inside a scripted function are not supported", "define the class at module level"),
    ast.AsyncFunctionDef: ("async functions are not supported", None),
    ast.AsyncFor: ("`async for` is not supported", None),
    ast.AsyncWith: ("`async with` is not supported", None),
}
if hasattr(ast, "TryStar"):
    UNSUPPORTED[ast.TryStar] = UNSUPPORTED[ast.Try]

__all__ = ["emit_stmt", "assign_target", "unpack", "raise_exception"]
