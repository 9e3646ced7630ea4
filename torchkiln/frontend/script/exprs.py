"""Expressions: one `emit_<expression>` function each.

Operators are in `operators.py`, indexing in `subscripts.py`, calls in
`calls.py`, comprehensions in `comprehensions.py`.
"""
from __future__ import annotations

import ast
from typing import Callable, Dict, List, Optional, Type as PyType

from .lambdas import emit_lambda
from ...ir.core import Value
from ...ir.types import STR, TENSOR, DictType, ListType, OptionalType, TupleType, Type, unify
from .conditions import ConditionSugar, _refined, emit_bool_value
from .emitter import FunctionEmitter, constant_type
from .sugared import SimpleValue, SugaredValue, TupleSugar
from . import calls, operators  # modules, read at call time (neither imports this one)


def emit_expr(em: FunctionEmitter, node: ast.expr, hint: Optional[Type] = None) -> SugaredValue:
    if type(node) is _NAME:  # almost half of all expressions; `lookup` places what it makes itself
        return em.lookup(node.id, node)
    handler = EXPRESSIONS.get(type(node))
    if handler is None:
        what, why = UNSUPPORTED.get(type(node), (f"`{type(node).__name__}` expressions are not supported", None))
        em.fail(node, what, why)
    # `with em.at(node):`, spelled out: this runs for every expression.
    builder = em.builder
    saved = builder.loc
    builder.loc = em.loc(node)
    try:
        return handler(em, node, hint)
    finally:
        builder.loc = saved


def emit_constant(em: FunctionEmitter, node: ast.Constant, hint: Optional[Type]) -> SugaredValue:
    value = node.value
    if value is Ellipsis:
        return EllipsisValue()
    typ = constant_type(value)
    if typ is None:
        em.fail(node, f"constants of type {type(value).__name__} are not supported", hint="use int, float, bool, str or None")
    return SimpleValue(em.const(value, typ))


_NAME = ast.Name


class EllipsisValue(SugaredValue):
    def describe(self) -> str:
        return "`...`"


def emit_name(em: FunctionEmitter, node: ast.Name, hint: Optional[Type]) -> SugaredValue:
    return em.lookup(node.id, node)


def emit_attribute(em: FunctionEmitter, node: ast.Attribute, hint: Optional[Type]) -> SugaredValue:
    base = em.emit_expr(node.value)
    return base.attr(em, node, node.attr)


def emit_call(em: FunctionEmitter, node: ast.Call, hint: Optional[Type]) -> SugaredValue:
    return calls.emit_call(em, node, hint)


def emit_bin_op(em: FunctionEmitter, node: ast.BinOp, hint: Optional[Type]) -> SugaredValue:
    return operators.binary(em, node, em.emit_expr(node.left), em.emit_expr(node.right), node.op)


def emit_unary_op(em: FunctionEmitter, node: ast.UnaryOp, hint: Optional[Type]) -> SugaredValue:
    if isinstance(node.op, ast.Not):
        return ConditionSugar(em.emit_condition(node))
    return operators.unary(em, node, em.emit_expr(node.operand), node.op)


def emit_bool_op(em: FunctionEmitter, node: ast.BoolOp, hint: Optional[Type]) -> SugaredValue:
    return emit_bool_value(em, node, hint)


def emit_compare(em: FunctionEmitter, node: ast.Compare, hint: Optional[Type]) -> SugaredValue:
    return operators.compare(em, node)


def emit_if_exp(em: FunctionEmitter, node: ast.IfExp, hint: Optional[Type]) -> SugaredValue:
    cond = em.emit_condition(node.test)
    if cond.static is not None:
        with _refined(em, cond.true_refs if cond.static else cond.false_refs):
            return em.emit_expr(node.body if cond.static else node.orelse, hint)
    if_node = em.op("prim::If", [cond.value], [], n_blocks=2)
    values: List[Value] = []
    frames = []
    for block, refs, expr in ((if_node.blocks[0], cond.true_refs, node.body), (if_node.blocks[1], cond.false_refs, node.orelse)):
        with em.child_frame("if", block) as frame, _refined(em, refs):
            values.append(em.emit_value(expr, hint))
        frames.append(frame)
    if any(f.vars or f.errors for f in frames):  # `:=` or a nested function's `nonlocal` in a branch
        from .control import join_if

        join_if(em, frames[0], frames[1], node)
    joined = hint if hint is not None and all(v.type.is_subtype_of(hint) for v in values) else unify(values[0].type, values[1].type)
    if joined is None:
        em.fail(node, f"the two sides of the conditional expression have different types: {values[0].type} and {values[1].type}", hint="make both sides the same type")
    for block, v in zip(if_node.blocks, values):
        block.add_return(v)
    return SimpleValue(if_node.add_output(joined))


def emit_named_expr(em: FunctionEmitter, node: ast.NamedExpr, hint: Optional[Type]) -> SugaredValue:
    value = em.emit_expr(node.value, hint)
    em.assign(node.target.id, value, node)
    return value


# -- literals ------------------------------------------------------------------------------------------


def emit_list(em: FunctionEmitter, node: ast.List, hint: Optional[Type]) -> SugaredValue:
    hinted = _list_hint(hint)
    values = [_element(em, e, hinted.elem if hinted is not None else None) for e in node.elts]
    return SimpleValue(build_list(em, node, values, hinted))


def _element(em: FunctionEmitter, node: ast.expr, hint: Optional[Type]) -> Value:
    if isinstance(node, ast.Starred):
        em.fail(node, "starred expressions in list literals are not supported", hint="use `+` to concatenate lists")
    return em.emit_value(node, hint)


def build_list(em: FunctionEmitter, node: ast.AST, values: List[Value], hinted: Optional[ListType]) -> Value:
    if hinted is not None:
        elem = hinted.elem
        values = [em.coerce(v, elem, node, f"a list of {elem} cannot hold a value of type {v.type}") for v in values]
    elif not values:
        elem = TENSOR  # TorchScript's default for `[]`; annotate for other element types
    else:
        elem = values[0].type
        for v in values[1:]:
            joined = unify(elem, v.type)
            if joined is None:
                em.fail(node, f"list elements have different types: {elem} and {v.type}", hint="lists hold one type; use a tuple for mixed types, or annotate the list (e.g. List[Union[int, str]])")
            elem = joined
    return em.op("prim::ListConstruct", values, [ListType(elem)]).output


def _list_hint(hint: Optional[Type]) -> Optional[ListType]:
    if isinstance(hint, OptionalType):
        hint = hint.elem
    return hint if isinstance(hint, ListType) else None


def emit_tuple(em: FunctionEmitter, node: ast.Tuple, hint: Optional[Type]) -> SugaredValue:
    hints = list(hint.elems) if isinstance(hint, TupleType) and len(hint.elems) == len(node.elts) else [None] * len(node.elts)
    items = []
    for e, h in zip(node.elts, hints):
        if isinstance(e, ast.Starred):
            inner = em.emit_expr(e.value)
            if isinstance(inner, TupleSugar):
                items.extend(inner.items)
                continue
            n = inner.static_len()
            if n is None:
                em.fail(e, "only tuples can be unpacked with `*` in a tuple literal")
            from .stmts import unpack

            items.extend(unpack(em, e, inner, n))
            continue
        items.append(em.emit_expr(e, h))
    return TupleSugar(items)


def emit_dict(em: FunctionEmitter, node: ast.Dict, hint: Optional[Type]) -> SugaredValue:
    if isinstance(hint, OptionalType):
        hint = hint.elem
    hinted = hint if isinstance(hint, DictType) else None
    inputs: List[Value] = []
    key_t: Optional[Type] = hinted.key if hinted is not None else None
    value_t: Optional[Type] = hinted.value if hinted is not None else None
    pairs = []
    for k, v in zip(node.keys, node.values):
        if k is None:
            em.fail(v, "`**` in dict literals is not supported", hint="use d.update(other)")
        kv = em.emit_value(k, key_t if hinted else None)
        vv = em.emit_value(v, value_t if hinted else None)
        pairs.append((kv, vv, k, v))
    if hinted is None:
        if not pairs:
            key_t, value_t = STR, TENSOR  # TorchScript's default for `{}`
        else:
            key_t, value_t = pairs[0][0].type, pairs[0][1].type
            for kv, vv, k, v in pairs[1:]:
                key_t = _join(em, k, key_t, kv.type, "keys")
                value_t = _join(em, v, value_t, vv.type, "values")
    assert key_t is not None and value_t is not None
    for kv, vv, k, v in pairs:
        inputs.append(em.coerce(kv, key_t, k, f"a dict with {key_t} keys cannot hold a key of type {kv.type}"))
        inputs.append(em.coerce(vv, value_t, v, f"a dict with {value_t} values cannot hold a value of type {vv.type}"))
    return SimpleValue(em.op("prim::DictConstruct", inputs, [DictType(key_t, value_t)]).output)


def _join(em: FunctionEmitter, node: ast.AST, a: Type, b: Type, what: str) -> Type:
    joined = unify(a, b)
    if joined is None:
        em.fail(node, f"dict {what} have different types: {a} and {b}", hint="annotate the dict, e.g. Dict[str, Union[int, str]]")
    return joined


def emit_joined_str(em: FunctionEmitter, node: ast.JoinedStr, hint: Optional[Type]) -> SugaredValue:
    """f-strings: `f"{x} is {y:.2f}"` -> `prim::format("{} is {:.2f}", x, y)`."""
    parts: List[str] = []
    values: List[Value] = []
    for piece in node.values:
        if isinstance(piece, ast.Constant):
            parts.append(str(piece.value).replace("{", "{{").replace("}", "}}"))
            continue
        assert isinstance(piece, ast.FormattedValue)
        values.append(em.emit_value(piece.value))
        conversion = "" if piece.conversion == -1 else "!" + chr(piece.conversion)
        spec = ""
        if piece.format_spec is not None:
            spec_parts = []
            for s in piece.format_spec.values:  # type: ignore[attr-defined]
                if not isinstance(s, ast.Constant):
                    em.fail(s, "nested replacement fields in a format spec are not supported")
                spec_parts.append(str(s.value))
            spec = ":" + "".join(spec_parts)
        parts.append("{" + conversion + spec + "}")
    text = "".join(parts)
    folded = _constant_items(values)
    if folded is not None:  # every field a constant (an unrolled loop's index): the string is one
        return SimpleValue(em.const(text.format(*folded)))
    fmt = em.const(text)
    return SimpleValue(em.op("prim::format", [fmt] + values, [STR]).output)


def _constant_items(values: List[Value]) -> Optional[list]:
    """The Python values of `values` when each is a constant int, float, bool or str; else None."""
    out = []
    for v in values:
        n = v.node
        if n is None or n.kind != "prim::Constant" or type(n.attrs.get("value")) not in (int, float, bool, str):
            return None
        out.append(n.attrs["value"])
    return out


def emit_subscript(em: FunctionEmitter, node: ast.Subscript, hint: Optional[Type]) -> SugaredValue:
    base = em.emit_expr(node.value)
    index = subscripts.emit_index(em, node.slice)
    return base.getitem(em, node, index)


def emit_comprehension(em: FunctionEmitter, node, hint: Optional[Type]) -> SugaredValue:
    from .comprehensions import emit_comprehension as comp

    return comp(em, node, hint)


EXPRESSIONS: Dict[PyType[ast.AST], Callable] = {
    ast.Constant: emit_constant,
    ast.Name: emit_name,
    ast.Attribute: emit_attribute,
    ast.Call: emit_call,
    ast.BinOp: emit_bin_op,
    ast.UnaryOp: emit_unary_op,
    ast.BoolOp: emit_bool_op,
    ast.Compare: emit_compare,
    ast.IfExp: emit_if_exp,
    ast.NamedExpr: emit_named_expr,
    ast.List: emit_list,
    ast.Tuple: emit_tuple,
    ast.Dict: emit_dict,
    ast.JoinedStr: emit_joined_str,
    ast.Subscript: emit_subscript,
    ast.ListComp: emit_comprehension,
    ast.DictComp: emit_comprehension,
    ast.GeneratorExp: emit_comprehension,
    ast.Lambda: emit_lambda,
}

UNSUPPORTED = {
    ast.Yield: ("`yield` is not supported: generators cannot be compiled", "build and return a list instead"),
    ast.YieldFrom: ("`yield from` is not supported: generators cannot be compiled", "build and return a list instead"),
    ast.Await: ("`await` is not supported", "use torchkiln.fork / torchkiln.wait for asynchronous calls"),
    ast.Set: ("sets are not supported", "use a list or a dict with the items as keys"),
    ast.SetComp: ("set comprehensions are not supported", "use a list or dict comprehension"),
    ast.Starred: ("`*` unpacking is only supported in calls and tuple literals", None),
    ast.Slice: ("a slice is only allowed inside `[...]`", None),
}

__all__ = ["emit_expr", "build_list", "EllipsisValue"]

from . import subscripts  # noqa: E402  (it imports this module, so it comes last; read at call time)
