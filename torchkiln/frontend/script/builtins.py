"""Python builtins (`len`, `range`, `min`, `int`, `print`, ...) and the `math` module.

Each builtin is a `BuiltinFunction` whose handler emits the ops for the
argument types; a call whose arguments are all compile-time constants
(`float("inf")`, `int("3")`) folds to a constant.
"""
from __future__ import annotations

import ast
import builtins as py_builtins
import math
from typing import Any, Callable, Dict, List, Optional

from .lambdas import extreme_by_key, reverse_flag, sort_objects_in_place, sorted_by_key, sorts_objects
from ...ir.core import Value
from ...ir.types import (
    BOOL,
    FLOAT,
    INT,
    SCALAR,
    STR,
    TENSOR,
    NONE,
    DictType,
    ListType,
    OptionalType,
    TensorType,
    TupleType,
    Type,
    unify,
)
from .emitter import FunctionEmitter, constant_type
from .loops import EnumerateValue, RangeValue, Unrolled, ZipValue
from .sugared import NO_STATIC, Args, Kwargs, SimpleValue, SugaredValue, TupleSugar

Handler = Callable[[FunctionEmitter, ast.Call, Args, Kwargs], SugaredValue]


class BuiltinFunction(SugaredValue):
    def __init__(self, name: str, impl: Handler, foldable: Optional[Callable] = None):
        self.name = name
        self.impl = impl
        self.foldable = foldable

    def describe(self) -> str:
        return f"the builtin {self.name}"

    def call(self, em, node, args, kwargs):
        if self.foldable is not None and not kwargs and args:
            statics = [a.static_value() for a in args]
            if all(s is not NO_STATIC and constant_type(s) is not None for s in statics):
                try:
                    result = self.foldable(*statics)
                except (ValueError, TypeError, OverflowError, ZeroDivisionError):
                    # `int("a")` raises when it runs, as in Python (the call may sit in a branch
                    # never taken); the op raises the same error (constant_prop leaves it too).
                    return self.impl(em, node, args, kwargs)
                if constant_type(result) is not None:
                    return SimpleValue(em.const(result))
        return self.impl(em, node, args, kwargs)

    def attr(self, em, node, name):
        if self.name == "dict" and name == "fromkeys":
            return BuiltinFunction("dict.fromkeys", _dict_fromkeys)
        return super().attr(em, node, name)


def _helper(em, node, fn_name: str, what: str, args: Args) -> SugaredValue:
    """Call the script-compilable helpers.<fn_name> with these arguments."""
    from . import helpers
    from .functions_value import PythonFunctionValue

    return PythonFunctionValue(getattr(helpers, fn_name), what).call(em, node, list(args), {})


def _value(em: FunctionEmitter, node: ast.AST, sv: SugaredValue) -> Value:
    return sv.as_value(em, node)


def _expect(em: FunctionEmitter, node: ast.AST, name: str, args: Args, kwargs: Kwargs, lo: int, hi: int, kw_ok=()) -> None:
    for k in kwargs:
        if k not in kw_ok:
            em.fail(node, f"{name}() got an unexpected keyword argument '{k}'")
    if not lo <= len(args) <= hi:
        em.fail(node, f"{name}() takes {lo if lo == hi else f'{lo} to {hi}'} arguments ({len(args)} given)")


def _to_int(em: FunctionEmitter, node: ast.AST, v: Value, what: str) -> Value:
    if v.type == INT:
        return v
    if v.type in (BOOL, SCALAR, FLOAT):
        if v.type == FLOAT:
            em.fail(node, f"{what} must be an int, not a float")
        return em.op("prim::Int.Scalar", [v], [INT]).output
    if isinstance(v.type, TensorType):
        return em.op("prim::Int.Tensor", [v], [INT]).output
    em.fail(node, f"{what} must be an int, not {v.type}")


# -- len, range, enumerate, zip, reversed, sorted -------------------------------------------------------


def _len(em, node, args, kwargs):
    _expect(em, node, "len", args, kwargs, 1, 1)
    sv = args[0]
    n = sv.static_len()
    if n is not None:
        return SimpleValue(em.const(n))
    if isinstance(sv, RangeValue):
        return SimpleValue(sv.length(em))
    v = _value(em, node, sv)
    t = v.type
    n = em.compiler.classes.static_len(t)
    if n is not None:
        return SimpleValue(em.const(n))
    fresh = v.node is not None and v.node.kind in ("prim::ListConstruct", "prim::DictConstruct") and not v.uses
    if fresh:  # a literal nothing else has seen yet: its length is known
        return SimpleValue(em.const(len(v.node.inputs) // (2 if v.node.kind == "prim::DictConstruct" else 1)))
    op = {STR: "prim::len.str"}.get(t)
    if isinstance(t, ListType):
        op = "prim::len.list"
    elif isinstance(t, DictType):
        op = "prim::len.dict"
    elif isinstance(t, TensorType):
        op = "prim::len.Tensor"
    if op is None:
        r = em.compiler.classes.dunder(em, node, v, "__len__", [])
        if r is not None:
            return r
    if op is None:
        em.fail(node, f"len() of a value of type {t} is not supported")
    return SimpleValue(em.op(op, [v], [INT]).output)


def _range(em, node, args, kwargs):
    _expect(em, node, "range", args, kwargs, 1, 3)
    values = [_to_int(em, node, _value(em, node, a), "a range bound") for a in args]
    if len(values) == 1:
        return RangeValue(em.const(0), values[0], em.const(1), True, True)
    step = values[2] if len(values) == 3 else em.const(1)
    # a zero step raises ValueError("range() arg 3 must not be zero") when the program runs
    # (prim::range_length / prim::range_list), as in Python
    default_step = len(values) == 2 or args[2].static_value() == 1
    default_start = args[0].static_value() == 0 and default_step
    return RangeValue(values[0], values[1], step, default_start, default_step)


def _enumerate(em, node, args, kwargs):
    _expect(em, node, "enumerate", args, kwargs, 1, 2, kw_ok=("start",))
    start_sv = args[1] if len(args) > 1 else kwargs.get("start")
    if start_sv is None:
        return EnumerateValue(args[0], em.const(0), 0)
    start = _to_int(em, node, _value(em, node, start_sv), "the start of enumerate")
    static = start_sv.static_value()
    return EnumerateValue(args[0], start, static if isinstance(static, int) else None)


def _zip(em, node, args, kwargs):
    _expect(em, node, "zip", args, kwargs, 1, 16, kw_ok=("strict",))
    strict = kwargs.get("strict")
    flag = strict.static_value() if strict is not None else False
    if not isinstance(flag, bool):
        em.fail(node, "zip()'s strict must be True or False, written as a constant", hint="write strict=True or strict=False")
    return ZipValue(list(args), strict=flag)


def _reversed(em, node, args, kwargs):
    _expect(em, node, "reversed", args, kwargs, 1, 1)
    if isinstance(args[0], TupleSugar):
        return TupleSugar(list(reversed(args[0].items)))
    v = _value(em, node, args[0])
    if isinstance(v.type, ListType):
        none = em.const(None)
        return SimpleValue(em.op("prim::slice.list", [v, none, none, em.const(-1)], [v.type]).output)
    em.fail(node, f"reversed() of a value of type {v.type} is not supported")


def _sorted(em, node, args, kwargs):
    _expect(em, node, "sorted", args, kwargs, 1, 1, kw_ok=("reverse", "key"))
    v = _value(em, node, args[0])
    if not isinstance(v.type, ListType):
        em.fail(node, f"sorted() of a value of type {v.type} is not supported")
    reverse = reverse_flag(em, node, kwargs)
    key = kwargs.get("key")
    if key is not None and key.static_value() is not None:
        return SimpleValue(sorted_by_key(em, node, v, key, reverse))
    if sorts_objects(v):
        out = em.op("prim::copy.list", [v], [v.type]).output
        sort_objects_in_place(em, node, out, reverse)
        return SimpleValue(out)
    return SimpleValue(em.op("prim::sorted", [v, reverse], [v.type]).output)


def _map(em, node, args, kwargs):
    from .comprehensions import emit_map

    return emit_map(em, node, args, kwargs)


def _filter(em, node, args, kwargs):
    from .comprehensions import emit_filter

    return emit_filter(em, node, args, kwargs)


# -- numbers ------------------------------------------------------------------------------------------------


def _min_max(which: str):
    def impl(em, node, args, kwargs):
        _expect(em, node, which, args, kwargs, 1, 16, kw_ok=("key", "default"))
        if len(args) == 1 and isinstance(args[0], TupleSugar):
            args = args[0].items
        if "default" in kwargs:
            # `min(xs, default=d)`: d for an empty list (Python allows default= with one iterable only)
            if len(args) != 1 or "key" in kwargs:
                em.fail(node, f"{which}() takes default= with one list and no key= in script", hint=f"write `{which}(xs) if len(xs) > 0 else d`")
            return _helper(em, node, f"{which}_or_default", f"{which}()", [args[0], kwargs["default"]])
        key = kwargs.get("key")
        if key is not None and key.static_value() is not None:
            if len(args) == 1 and isinstance(_value(em, node, args[0]).type, ListType):
                return SimpleValue(extreme_by_key(em, node, _value(em, node, args[0]), key, which))
            em.fail(node, f"{which}(..., key=...) takes one list here", hint=f"write {which}([a, b, ...], key=...)")
        if len(args) == 1:
            v = _value(em, node, args[0])
            if isinstance(v.type, ListType):
                return SimpleValue(em.op(f"prim::{which}.list", [v], [v.type.elem]).output)
            if isinstance(v.type, TensorType):
                return em.call_op_sugar(node, f"aten::{which}", [v], what=f"{which}()")
            em.fail(node, f"{which}() of a value of type {v.type} is not supported")
        from .operators import promote

        acc = _value(em, node, args[0])
        for a in args[1:]:
            v = _value(em, node, a)
            if isinstance(acc.type, TensorType) or isinstance(v.type, TensorType):
                acc = em.call_op(node, f"aten::{'minimum' if which == 'min' else 'maximum'}", [acc, v], what=f"{which}()")[0][0]
                continue
            a_, b_, overload = promote(em, acc, v)
            if overload == "Scalar":  # `max(x.item(), 0.0)`: Python's rule, by comparing
                acc = _helper(em, node, f"{which}2", f"{which}()", [SimpleValue(acc), SimpleValue(v)]).as_value(em, node)
                continue
            acc = em.op(f"prim::{which}.{overload}", [a_, b_], [a_.type]).output
        return SimpleValue(acc)

    return impl


def _abs(em, node, args, kwargs):
    _expect(em, node, "abs", args, kwargs, 1, 1)
    v = _value(em, node, args[0])
    if isinstance(v.type, TensorType):
        return em.call_op_sugar(node, "aten::abs", [v])
    if v.type == BOOL:
        v = em.op("prim::Int.Scalar", [v], [INT]).output
    names = {INT: "int", FLOAT: "float", SCALAR: "Scalar"}
    if v.type not in names:
        em.fail(node, f"abs() of a value of type {v.type} is not supported")
    return SimpleValue(em.op(f"prim::abs.{names[v.type]}", [v], [v.type]).output)


def _round(em, node, args, kwargs):
    _expect(em, node, "round", args, kwargs, 1, 2, kw_ok=("ndigits",))
    v = _value(em, node, args[0])
    nd = args[1] if len(args) > 1 else kwargs.get("ndigits")
    if isinstance(v.type, TensorType):
        kw = {"decimals": _value(em, node, nd)} if nd is not None else {}
        return em.call_op_sugar(node, "aten::round", [v], kw)
    if v.type in (INT, BOOL):
        return SimpleValue(_to_int(em, node, v, "round's argument"))
    if v.type == SCALAR:
        v = em.op("prim::Float.Scalar", [v], [FLOAT]).output
    if v.type != FLOAT:
        em.fail(node, f"round() of a value of type {v.type} is not supported")
    if nd is None or nd.static_value() is None:
        return SimpleValue(em.op("prim::round.float", [v], [INT]).output)
    return SimpleValue(em.op("prim::round.ndigits", [v, _to_int(em, node, _value(em, node, nd), "ndigits")], [FLOAT]).output)


def _fold(em, node, items: List[SugaredValue], start: SugaredValue, op: ast.operator) -> SugaredValue:
    """`start op item0 op item1 ...`, left to right (a tuple's `sum` / `math.prod`)."""
    from .operators import binary

    acc = start
    for item in items:
        acc = binary(em, node, acc, item, op)
    return acc


def _sum(em, node, args, kwargs):
    _expect(em, node, "sum", args, kwargs, 1, 2, kw_ok=("start",))
    start = args[1] if len(args) > 1 else kwargs.get("start")
    if isinstance(args[0], TupleSugar):
        return _fold(em, node, args[0].items, start if start is not None else SimpleValue(em.const(0)), ast.Add())
    v = _value(em, node, args[0])
    t = v.type
    if isinstance(t, ListType) and t.elem in (INT, FLOAT, BOOL):
        if t.elem == BOOL:
            em.fail(node, "sum() of a list of bools is not supported", hint="count with a loop or convert to ints")
        total = SimpleValue(em.op(f"prim::sum.{'int' if t.elem == INT else 'float'}", [v], [t.elem]).output)
        if start is None:
            return total
        from .operators import binary

        return binary(em, node, start, total, ast.Add())
    if isinstance(t, ListType) and isinstance(t.elem, TensorType):
        from .functions_value import PythonFunctionValue
        from . import helpers

        extra = [start] if start is not None else []
        return PythonFunctionValue(helpers.sum_tensors, "sum").call(em, node, [SimpleValue(v)] + extra, {})
    if isinstance(t, TensorType):
        em.fail(node, "sum() of a Tensor iterates over its first dimension, which script does not support", hint="use x.sum(0) or torch.sum(x, 0)")
    em.fail(node, f"sum() of a value of type {t} is not supported")


class _AnyAll(BuiltinFunction):
    """any()/all(): a generator or list comprehension argument is built as a list of truth values."""

    special_form = True

    def call_ast(self, em, node):
        if len(node.args) == 1 and not node.keywords and isinstance(node.args[0], (ast.GeneratorExp, ast.ListComp)):
            from .comprehensions import emit_comprehension

            with em.at(node.args[0]):
                lst = emit_comprehension(em, node.args[0], None, truth=True)
            return self.impl(em, node, [lst], {})
        from .calls import emit_args, emit_kwargs

        return self.call(em, node, emit_args(em, node.args), emit_kwargs(em, node.keywords))


def _any_all(which: str):
    def impl(em, node, args, kwargs):
        _expect(em, node, which, args, kwargs, 1, 1)
        if isinstance(args[0], TupleSugar):
            args = [SimpleValue(_list_of(em, node, args[0].items))]
        v = _value(em, node, args[0])
        if isinstance(v.type, TensorType):
            return em.call_op_sugar(node, f"aten::{which}", [v])
        if v.node is not None and v.node.kind == "prim::ListConstruct" and not v.uses:
            statics = [SimpleValue(i).static_value() for i in v.node.inputs]
            if all(isinstance(s, bool) for s in statics):
                return SimpleValue(em.const(any(statics) if which == "any" else all(statics)))
        if isinstance(v.type, ListType) and v.type.elem == BOOL:
            return SimpleValue(em.op(f"prim::{which}", [v], [BOOL]).output)
        em.fail(node, f"{which}() needs a list of bools or a Tensor, not {v.type}")

    return impl


def _list_of(em: FunctionEmitter, node: ast.AST, items: List[SugaredValue]) -> Value:
    from .exprs import build_list

    return build_list(em, node, [_value(em, node, i) for i in items], None)


# -- conversions -------------------------------------------------------------------------------------------


def _int(em, node, args, kwargs):
    _expect(em, node, "int", args, kwargs, 0, 2, kw_ok=("base",))
    if "base" in kwargs:
        if len(args) != 1:
            em.fail(node, "int() takes a string and a base")
        args = list(args) + [kwargs["base"]]
    if len(args) == 2:  # int(s, base)
        s = _value(em, node, args[0])
        if s.type != STR:
            em.fail(node, f"int() can't convert non-string with explicit base (got {s.type})")
        base = _to_int(em, node, _value(em, node, args[1]), "int()'s base")
        return _helper(em, node, "int_from_str", "int", [SimpleValue(s), SimpleValue(base)])
    if not args:
        return SimpleValue(em.const(0))
    v = _value(em, node, args[0])
    t = v.type
    if t == INT:
        return SimpleValue(v)
    if t in (FLOAT, BOOL, SCALAR):
        return SimpleValue(em.op("prim::Int.Scalar", [v], [INT]).output)
    if t == STR:
        return SimpleValue(em.op("prim::Int.str", [v], [INT]).output)
    if isinstance(t, TensorType):
        return SimpleValue(em.op("prim::Int.Tensor", [v], [INT]).output)
    em.fail(node, f"int() of a value of type {t} is not supported")


def _float(em, node, args, kwargs):
    _expect(em, node, "float", args, kwargs, 0, 1)
    if not args:
        return SimpleValue(em.const(0.0))
    v = _value(em, node, args[0])
    t = v.type
    if t == FLOAT:
        return SimpleValue(v)
    if t in (INT, BOOL, SCALAR):
        return SimpleValue(em.op("prim::Float.Scalar", [v], [FLOAT]).output)
    if t == STR:
        return SimpleValue(em.op("prim::Float.str", [v], [FLOAT]).output)
    if isinstance(t, TensorType):
        return SimpleValue(em.op("prim::Float.Tensor", [v], [FLOAT]).output)
    em.fail(node, f"float() of a value of type {t} is not supported")


def _bool(em, node, args, kwargs):
    _expect(em, node, "bool", args, kwargs, 0, 1)
    if not args:
        return SimpleValue(em.const(False))
    from .conditions import cond_of

    cond = cond_of(em, node, args[0])
    return SimpleValue(cond.value if cond.value is not None else em.const(bool(cond.static)))


def _str(em, node, args, kwargs):
    _expect(em, node, "str", args, kwargs, 0, 1)
    if not args:
        return SimpleValue(em.const(""))
    return SimpleValue(em.to_str(args[0], node))


def _print(em, node, args, kwargs):
    for k in kwargs:
        if k not in ("flush", "sep", "end"):
            em.fail(node, f"print() with '{k}=' is not supported in script", hint="format the text with an f-string instead")
    end = kwargs.get("end")
    if end is not None and end.static_value() not in (None, "\n"):
        em.fail(node, "print() with an end= other than '\\n' is not supported in script", hint="build the whole line (an f-string) and print it")
    sep = kwargs.get("sep")
    if sep is not None and sep.static_value() not in (None, " "):
        # `print(a, b, sep=s)` prints `s.join([str(a), str(b)])`
        sep_value = _value(em, node, sep)
        if sep_value.type != STR:
            em.fail(node, f"print()'s sep must be a str, not {sep_value.type}")
        parts = em.op("prim::ListConstruct", [em.to_str(a, node) for a in args], [ListType(STR)]).output
        em.op("prim::Print", [em.op("prim::str_join", [sep_value, parts], [STR]).output], [])
        return SimpleValue(em.const(None))
    em.op("prim::Print", [_value(em, node, a) for a in args], [])
    return SimpleValue(em.const(None))


def _list(em, node, args, kwargs):
    _expect(em, node, "list", args, kwargs, 0, 1)
    hint = getattr(em, "call_hint", None)
    if not args:
        elem = hint.elem if isinstance(hint, ListType) else TENSOR
        return SimpleValue(em.op("prim::ListConstruct", [], [ListType(elem)]).output)
    sv = args[0]
    if isinstance(sv, TupleSugar):
        return SimpleValue(_list_of(em, node, sv.items))
    from .comprehensions import MapValue

    if isinstance(sv, MapValue):
        return SimpleValue(sv.as_value(em, node))  # already a new list
    if isinstance(sv, RangeValue):
        return SimpleValue(sv.as_value(em, node))
    if isinstance(sv, (EnumerateValue, ZipValue)):  # `list(enumerate(xs))`: a list of tuples
        from .comprehensions import iteration_list

        what = "enumerate()" if isinstance(sv, EnumerateValue) else "zip()"
        return SimpleValue(iteration_list(em, node, sv, hint, what, "a list holds one type: make the items of one type"))
    v = _value(em, node, sv)
    t = v.type
    if isinstance(t, ListType):
        return SimpleValue(em.op("prim::list.list", [v], [t]).output)
    if t == STR:
        return SimpleValue(em.op("prim::list.str", [v], [ListType(STR)]).output)
    if isinstance(t, DictType):
        return SimpleValue(em.op("prim::keys", [v], [ListType(t.key)]).output)
    if isinstance(t, TupleType):
        parts = em.op("prim::TupleUnpack", [v], list(t.elems)).outputs
        return SimpleValue(_list_of(em, node, [SimpleValue(p) for p in parts]))
    em.fail(node, f"list() of a value of type {t} is not supported")


def _tuple(em, node, args, kwargs):
    _expect(em, node, "tuple", args, kwargs, 0, 1)
    if not args:
        return TupleSugar([])
    sv = args[0]
    if isinstance(sv, TupleSugar) or isinstance(getattr(sv, "type", None), TupleType):
        return sv
    from .comprehensions import MapValue

    if isinstance(sv, MapValue) and sv.static_len() is not None:  # map over tuples: one item each
        it = sv.iterate(em, node)
        if isinstance(it, Unrolled):
            return TupleSugar(it.items)
    if not isinstance(sv, MapValue):
        v = _value(em, node, sv)
        if isinstance(v.type, ListType):
            # `tuple(x.shape)`: no tuple type has a length known only at run time, so it is a new
            # list, as other such tuples are (Note [Tuples as lists] in operators.py).
            return SimpleValue(em.op("prim::list.list", [v], [v.type]).output)
    em.fail(node, "tuple() of this value is not supported: a tuple's length must be known when compiling", hint="keep it a list, or build the tuple from its items")


def _dict(em, node, args, kwargs):
    """`dict()`, `dict(**kw)`, `dict(mapping)`, `dict(pairs)`, `dict(zip(ks, vs))`, and the last three with `**kw` added."""
    hint = getattr(em, "call_hint", None)
    if len(args) > 1:
        em.fail(node, f"dict expected at most 1 argument, got {len(args)}")
    if not args and not kwargs:
        t = hint if isinstance(hint, DictType) else DictType(STR, TENSOR)
        return SimpleValue(em.op("prim::DictConstruct", [], [t]).output)
    if not args:
        return SimpleValue(_dict_of_kwargs(em, node, kwargs))
    d = _dict_of(em, node, args[0], hint)
    if kwargs and d.type.key != STR:
        em.fail(node, f"dict(..., key=value) adds str keys to a dict with {d.type.key} keys")
    for k, sv in kwargs.items():
        v = em.coerce(_value(em, node, sv), d.type.value, node, f"the dict has {d.type.value} values, not {_value(em, node, sv).type}")
        em.op("prim::setitem.dict", [d, em.const(k), v], [])
    return SimpleValue(d)


def _dict_fromkeys(em, node, args, kwargs):
    """`dict.fromkeys(keys, value=None)`: `dict(zip(keys, [value] * len(keys)))`, every key sharing the one value."""
    if kwargs:
        em.fail(node, "dict.fromkeys() takes no keyword arguments")
    _expect(em, node, "dict.fromkeys", args, kwargs, 1, 2)
    keys = _list(em, node, [args[0]], {}).as_value(em, node)
    hint = getattr(em, "call_hint", None)
    if len(args) == 2:
        value = _value(em, node, args[1])
        if isinstance(hint, DictType):
            value = em.coerce(value, hint.value, node, f"the dict has {hint.value} values, not {value.type}")
    elif isinstance(hint, DictType) and (hint.value == NONE or isinstance(hint.value, OptionalType)):
        value = em.const(None, hint.value) if isinstance(hint.value, OptionalType) else em.const(None)
    else:
        em.fail(node, "dict.fromkeys(keys) without a value gives None values: annotate the result's type", hint="e.g. `d: Dict[str, Optional[int]] = dict.fromkeys(keys)`, or pass a value")
    n = _len(em, node, [SimpleValue(keys)], {}).as_value(em, node)
    one = em.op("prim::ListConstruct", [value], [ListType(value.type)]).output
    values = em.op("prim::mul.list", [one, n], [ListType(value.type)]).output
    return SimpleValue(em.op("prim::dict_zip", [keys, values], [DictType(keys.type.elem, value.type)]).output)


def _dict_of(em, node, sv, hint) -> Value:
    """A new dict from dict()'s positional argument: a mapping (copied), `zip(keys, values)` or (key, value) pairs."""
    from .comprehensions import emit_dict_of_pairs

    if isinstance(sv, ZipValue) and len(sv.inners) == 2:
        keys, values = (_list(em, node, [inner], {}).as_value(em, node) for inner in sv.inners)
        return em.op("prim::dict_zip", [keys, values], [DictType(keys.type.elem, values.type.elem)]).output
    arg = node.args[0] if node.args else node
    if isinstance(arg, (ast.List, ast.Tuple)) and not arg.elts:  # dict([]): no pairs, so no types to read
        t = hint if isinstance(hint, DictType) else DictType(STR, TENSOR)
        return em.op("prim::DictConstruct", [], [t]).output
    if isinstance(getattr(sv, "type", None), DictType):
        v = _value(em, node, sv)
        return em.op("prim::copy.dict", [v], [v.type]).output
    return emit_dict_of_pairs(em, node, sv, hint)


def _dict_of_kwargs(em, node, kwargs) -> Value:
    values = [_value(em, node, v) for v in kwargs.values()]
    vt: Optional[Type] = values[0].type
    for v in values[1:]:
        vt = unify(vt, v.type) if vt is not None else None
    if vt is None:
        em.fail(node, "dict(...) values have different types")
    inputs: List[Value] = []
    for k, v in zip(kwargs, values):
        inputs += [em.const(k), v]
    return em.op("prim::DictConstruct", inputs, [DictType(STR, vt)]).output


def _simple(op: str, arg: Type, ret: Type):
    def impl(em, node, args, kwargs):
        _expect(em, node, op.split("::")[1], args, kwargs, 1, 1)
        v = _value(em, node, args[0])
        if v.type != arg:
            em.fail(node, f"{op.split('::')[1]}() expects {arg}, not {v.type}")
        return SimpleValue(em.op(op, [v], [ret]).output)

    return impl


def _divmod(em, node, args, kwargs):
    _expect(em, node, "divmod", args, kwargs, 2, 2)
    from .operators import promote

    a, b = (_value(em, node, x) for x in args)
    if not all(v.type in (INT, FLOAT, BOOL, SCALAR) for v in (a, b)):
        em.fail(node, f"divmod() of values of types {a.type} and {b.type} is not supported")
    a, b, overload = promote(em, a, b)
    if overload == "Scalar":
        em.fail(node, "divmod() of numbers of unknown kind (Scalar) is not supported", hint="convert with int() or float() first")
    t = a.type
    q, r = em.op(f"prim::divmod.{overload}", [a, b], [t, t]).outputs
    return SimpleValue(em.op("prim::TupleConstruct", [q, r], [TupleType([t, t])]).output)


def _int_to_base(name: str) -> Handler:
    def impl(em, node, args, kwargs):
        _expect(em, node, name, args, kwargs, 1, 1)
        v = _value(em, node, args[0])
        if v.type not in (INT, BOOL):
            em.fail(node, f"{name}() takes an int, not {v.type}")
        return SimpleValue(em.op(f"prim::{name}", [_to_int(em, node, v, f"{name}()'s argument")], [STR]).output)

    return impl


def _pow(em, node, args, kwargs):
    _expect(em, node, "pow", args, kwargs, 2, 3, kw_ok=("base", "exp", "mod"))
    args = list(args) + [kwargs[k] for k in ("base", "exp", "mod")[len(args):] if k in kwargs]
    if len(args) == 3 and args[2].static_value() is not None:  # `pow(b, e, None)` is `b ** e`
        return _helper(em, node, "pow_mod", "pow()", args)
    args = args[:2]
    from .operators import binary

    return binary(em, node, args[0], args[1], ast.Pow())


def _super(em, node, args, kwargs):
    from .classes import super_value

    return super_value(em, node, args, kwargs)


def _type(em, node, args, kwargs):
    """`type(obj)` of a module or script-class object: its class, for `type(self).make(...)`
    and `type(self).LIMIT` (Note [Class methods] in `functions_value.py`)."""
    if len(args) == 1 and not kwargs and args[0].is_value():
        classes = em.compiler.classes
        cls = classes.python_class(args[0].as_value(em, node).type)
        if cls is not None:
            return classes.class_value(em, node, cls, cls.__qualname__)
    em.fail(node, "type() is only supported in script on a module or script-class object (`type(self).LIMIT`)", hint="use isinstance() to test a value's type")


def _refused(name: str, hint: str) -> Handler:
    def impl(em, node, args, kwargs):
        em.fail(node, f"{name}() is not supported in script", hint=hint)

    return impl


# -- math ----------------------------------------------------------------------------------------------------

_MATH_FLOAT = ("sqrt", "exp", "log10", "log2", "log1p", "expm1", "sin", "cos", "tan", "asin", "acos", "atan", "sinh",
               "cosh", "tanh", "asinh", "acosh", "atanh", "erf", "erfc", "gamma", "lgamma", "fabs", "degrees", "radians")  # fmt: skip
_MATH_RESULT = {"floor": INT, "ceil": INT, "trunc": INT, "isnan": BOOL, "isinf": BOOL, "isfinite": BOOL}
_MATH_BINARY = ("pow", "atan2", "fmod", "copysign", "hypot", "remainder")


def _as_float(em: FunctionEmitter, node: ast.AST, sv: SugaredValue, fname: str) -> Value:
    v = _value(em, node, sv)
    if v.type == FLOAT:
        return v
    if v.type in (INT, BOOL, SCALAR):
        return em.op("prim::Float.Scalar", [v], [FLOAT]).output
    em.fail(node, f"math.{fname}() takes a number, not {v.type}", hint=f"for tensors use torch.{fname}")


def _math_prod(em, node, args, kwargs):
    """`math.prod(xs, *, start=1)`: a tuple folds with `*`; a list of numbers multiplies in a loop."""
    _expect(em, node, "math.prod", args, kwargs, 1, 1, kw_ok=("start",))
    start = kwargs.get("start")
    if isinstance(args[0], TupleSugar):
        return _fold(em, node, args[0].items, start if start is not None else SimpleValue(em.const(1)), ast.Mult())
    v = _value(em, node, args[0])
    t = v.type
    from .emitter import is_empty_list

    if is_empty_list(v):  # `math.prod([])`: the start, as in Python
        return start if start is not None else SimpleValue(em.const(1))
    if not (isinstance(t, ListType) and t.elem in (INT, FLOAT)):
        em.fail(node, f"math.prod() of a value of type {t} is not supported", hint="pass a list or tuple of numbers; for tensors use torch.prod")
    from . import helpers
    from .functions_value import PythonFunctionValue

    start_type = start.as_value(em, node).type if start is not None else t.elem
    if start_type not in (INT, FLOAT, BOOL):
        em.fail(node, f"math.prod()'s start must be a number, not {start_type}")
    if t.elem == FLOAT:
        fn, name = helpers.prod_float, "math.prod"
    elif start_type == FLOAT:
        fn, name = helpers.prod_ints_from_float, "math.prod"
    else:
        fn, name = helpers.prod_int, "math.prod"
    extra = [start] if start is not None else []
    return PythonFunctionValue(fn, name).call(em, node, [SimpleValue(v)] + extra, {})


def _math_isclose(em, node, args, kwargs):
    _expect(em, node, "math.isclose", args, kwargs, 2, 2, kw_ok=("rel_tol", "abs_tol"))
    values = [_as_float(em, node, a, "isclose") for a in args]
    rel = _as_float(em, node, kwargs["rel_tol"], "isclose") if "rel_tol" in kwargs else em.const(1e-09)
    abs_ = _as_float(em, node, kwargs["abs_tol"], "isclose") if "abs_tol" in kwargs else em.const(0.0)
    return _helper(em, node, "math_isclose", "math.isclose", [SimpleValue(v) for v in values + [rel, abs_]])


def _math_ints(fname: str, n: int) -> Handler:
    """math.comb / math.isqrt: int arguments, a helper."""

    def impl(em, node, args, kwargs):
        _expect(em, node, f"math.{fname}", args, kwargs, n, n)
        values = [SimpleValue(_to_int(em, node, _value(em, node, a), f"math.{fname}'s argument")) for a in args]
        return _helper(em, node, f"math_{fname}", f"math.{fname}", values)

    return impl


def _math_lcm(em, node, args, kwargs):
    """`math.lcm(*ints)`: folded pairwise, as Python does (lcm() is 1, lcm(a) is abs(a))."""
    _expect(em, node, "math.lcm", args, kwargs, 0, 1 << 30)
    values = [_to_int(em, node, _value(em, node, a), "math.lcm's argument") for a in args]
    if not values:
        return SimpleValue(em.const(1))
    acc = values[0]
    if len(values) == 1:
        return _helper(em, node, "math_lcm2", "math.lcm", [SimpleValue(acc), SimpleValue(em.const(1))])
    for v in values[1:]:
        acc = _helper(em, node, "math_lcm2", "math.lcm", [SimpleValue(acc), SimpleValue(v)]).as_value(em, node)
    return SimpleValue(acc)


def _math_exp2(em, node, args, kwargs):
    """`math.exp2(x)` as `math.pow(2.0, x)`: exact powers of two, and OverflowError past the float range."""
    _expect(em, node, "math.exp2", args, kwargs, 1, 1)
    x = _as_float(em, node, args[0], "exp2")
    return SimpleValue(em.op("prim::math_pow", [em.const(2.0), x], [FLOAT]).output)


def _float_list(em, node, sv: SugaredValue, what: str) -> Value:
    v = _list(em, node, [sv], {}).as_value(em, node)
    if v.type == ListType(INT):
        em.fail(node, f"{what} of a list of ints is not supported here", hint="pass floats (e.g. [1.0, 2.0])")
    if v.type != ListType(FLOAT):
        em.fail(node, f"{what} takes a list or tuple of floats, not {v.type}")
    return v


def _math_dist(em, node, args, kwargs):
    _expect(em, node, "math.dist", args, kwargs, 2, 2)
    p, q = (_float_list(em, node, a, "math.dist()") for a in args)
    return _helper(em, node, "math_dist", "math.dist", [SimpleValue(p), SimpleValue(q)])


def _math_fsum(em, node, args, kwargs):
    _expect(em, node, "math.fsum", args, kwargs, 1, 1)
    from .emitter import is_empty_list

    v = _value(em, node, args[0]) if not isinstance(args[0], TupleSugar) else None
    if v is not None and is_empty_list(v):
        return SimpleValue(em.const(0.0))
    return _helper(em, node, "math_fsum", "math.fsum", [SimpleValue(_float_list(em, node, args[0], "math.fsum()"))])


def _math(fname: str) -> Handler:
    def impl(em, node, args, kwargs):
        if fname == "log":
            _expect(em, node, "math.log", args, kwargs, 1, 2)
            values = [_as_float(em, node, a, fname) for a in args]
            op = "prim::math_log" if len(values) == 1 else "prim::math_log.base"
            return SimpleValue(em.op(op, values, [FLOAT]).output)
        if fname == "modf":
            _expect(em, node, "math.modf", args, kwargs, 1, 1)
            frac, whole = em.op("prim::math_modf", [_as_float(em, node, args[0], fname)], [FLOAT, FLOAT]).outputs
            return SimpleValue(em.op("prim::TupleConstruct", [frac, whole], [TupleType([FLOAT, FLOAT])]).output)
        if fname in ("gcd", "factorial"):
            n = 2 if fname == "gcd" else 1
            _expect(em, node, f"math.{fname}", args, kwargs, n, n)
            values = [_to_int(em, node, _value(em, node, a), f"math.{fname}'s argument") for a in args]
            return SimpleValue(em.op(f"prim::math_{fname}", values, [INT]).output)
        n = 2 if fname in _MATH_BINARY else 1
        _expect(em, node, f"math.{fname}", args, kwargs, n, n)
        values = [_as_float(em, node, a, fname) for a in args]
        return SimpleValue(em.op(f"prim::math_{fname}", values, [_MATH_RESULT.get(fname, FLOAT)]).output)

    return impl


# -- the table -----------------------------------------------------------------------------------------------

_TABLE: Optional[Dict[int, SugaredValue]] = None


def _build() -> Dict[int, SugaredValue]:
    b = py_builtins
    entries: List[tuple] = [
        (b.len, "len", _len, None),
        (b.range, "range", _range, None),
        (b.enumerate, "enumerate", _enumerate, None),
        (b.zip, "zip", _zip, None),
        (b.reversed, "reversed", _reversed, None),
        (b.sorted, "sorted", _sorted, None),
        (b.min, "min", _min_max("min"), min),
        (b.max, "max", _min_max("max"), max),
        (b.abs, "abs", _abs, abs),
        (b.round, "round", _round, round),
        (b.sum, "sum", _sum, None),
        (b.map, "map", _map, None),
        (b.filter, "filter", _filter, None),

        (b.int, "int", _int, int),
        (b.float, "float", _float, float),
        (b.bool, "bool", _bool, bool),
        (b.str, "str", _str, str),
        (b.print, "print", _print, None),
        (b.list, "list", _list, None),
        (b.tuple, "tuple", _tuple, None),
        (b.dict, "dict", _dict, None),
        (b.ord, "ord", _simple("prim::ord", STR, INT), ord),
        (b.chr, "chr", _simple("prim::chr", INT, STR), chr),
        (b.pow, "pow", _pow, pow),
        (b.divmod, "divmod", _divmod, None),
        (b.hex, "hex", _int_to_base("hex"), hex),
        (b.oct, "oct", _int_to_base("oct"), oct),
        (b.bin, "bin", _int_to_base("bin"), bin),
    ]
    entries.append((b.type, "type", _type, None))
    for fn, why in ((b.iter, "iterate with a for loop"), (b.next, "iterate with a for loop"),
                    (b.id, "compare with `is`"), (b.hash, "use the value itself as a dict key"), (b.open, "do file I/O outside the scripted code"),
                    (b.input, "read input outside the scripted code"), (b.eval, "write the code directly"), (b.exec, "write the code directly"),
                    (b.callable, "check before scripting"),
                    (b.set, "use a list or a dict with the items as keys"),
                    (b.vars, None), (b.globals, None), (b.locals, None), (b.setattr, "assign the attribute directly")):  # fmt: skip
        entries.append((fn, fn.__name__, _refused(fn.__name__, why or "restructure the code"), None))
    table: Dict[int, SugaredValue] = {}
    for obj, name, impl, fold in entries:
        table[id(obj)] = BuiltinFunction(name, impl, fold)
    table[id(b.super)] = BuiltinFunction("super", _super)
    table[id(b.any)] = _AnyAll("any", _any_all("any"))
    table[id(b.all)] = _AnyAll("all", _any_all("all"))
    for fname in _MATH_FLOAT + tuple(_MATH_RESULT) + _MATH_BINARY + ("log", "gcd", "factorial", "modf"):
        fn = getattr(math, fname)
        table[id(fn)] = BuiltinFunction(f"math.{fname}", _math(fname), fn)
    table[id(math.prod)] = BuiltinFunction("math.prod", _math_prod, None)
    table[id(math.isclose)] = BuiltinFunction("math.isclose", _math_isclose)
    table[id(math.comb)] = BuiltinFunction("math.comb", _math_ints("comb", 2))
    table[id(math.isqrt)] = BuiltinFunction("math.isqrt", _math_ints("isqrt", 1))
    table[id(math.lcm)] = BuiltinFunction("math.lcm", _math_lcm)
    table[id(math.dist)] = BuiltinFunction("math.dist", _math_dist)
    table[id(math.fsum)] = BuiltinFunction("math.fsum", _math_fsum)
    if hasattr(math, "exp2"):  # Python 3.11+
        table[id(math.exp2)] = BuiltinFunction("math.exp2", _math_exp2)
    return table


def lookup(obj: Any) -> Optional[SugaredValue]:
    global _TABLE
    if _TABLE is None:
        _TABLE = _build()
    return _TABLE.get(id(obj))


__all__ = ["lookup", "BuiltinFunction"]
