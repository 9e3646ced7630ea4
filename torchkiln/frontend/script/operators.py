"""Python operators on tensors, numbers, strings, lists and tuples.

Tensors use the ATen op Python's `Tensor.__add__` & co. call; numbers use
`prim::` ops after Python's promotion (bool -> int, int -> float, Note
[Language op set] in `ops/lang.py`):

```
x + y        aten::add.Tensor      x + 1       aten::add.Scalar       1 - x       aten::rsub.Scalar(x, 1)
2 / x        aten::reciprocal then aten::mul.Scalar (as Tensor.__rtruediv__)
i // 2       prim::floordiv.int    i + 0.5     prim::add.float(prim::Float.Scalar(i), 0.5)
"a" + s      prim::add.str         xs + ys     prim::add.list           x += y (Tensor)  aten::add_.Tensor
```
"""
from __future__ import annotations

import ast
import operator
from typing import Optional, Tuple

from .enums import EnumType
from ...ir.core import Value
from ...ir.types import (
    BOOL,
    FLOAT,
    INT,
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
from .conditions import ConditionSugar, none_cond
from .emitter import Cond, FunctionEmitter
from .sugared import SimpleValue, SugaredValue, TupleSugar

NUMBERS = (INT, FLOAT, BOOL, SCALAR)

# Python operator -> (prim op base for numbers, ATen op for `tensor <op> other`, in-place ATen op)
BINARY = {
    ast.Add: ("add", "aten::add", "aten::add_"),
    ast.Sub: ("sub", "aten::sub", "aten::sub_"),
    ast.Mult: ("mul", "aten::mul", "aten::mul_"),
    ast.Div: ("truediv", "aten::div", "aten::div_"),
    ast.FloorDiv: ("floordiv", "aten::floor_divide", "aten::floor_divide_"),
    ast.Mod: ("mod", "aten::remainder", "aten::remainder_"),
    ast.Pow: ("pow", "aten::pow", "aten::pow_"),
    ast.MatMult: (None, "aten::matmul", None),
    ast.BitAnd: ("and", "aten::__and__", "aten::__iand__"),
    ast.BitOr: ("or", "aten::__or__", "aten::__ior__"),
    ast.BitXor: ("xor", "aten::__xor__", "aten::__ixor__"),
    ast.LShift: ("lshift", "aten::__lshift__", "aten::__ilshift__"),
    ast.RShift: ("rshift", "aten::__rshift__", "aten::__irshift__"),
}
SYMBOL = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%", ast.Pow: "**",
    ast.MatMult: "@", ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^", ast.LShift: "<<", ast.RShift: ">>",
}  # fmt: skip
# `number <op> tensor`: the ATen op and whether the operands swap (Tensor.__radd__ & co.)
REVERSED = {
    ast.Add: ("aten::add", True),
    ast.Mult: ("aten::mul", True),
    ast.Sub: ("aten::rsub", True),
    ast.Mod: ("aten::remainder", False),
    ast.Pow: ("aten::pow", False),
    ast.BitAnd: ("aten::__and__", True),
    ast.BitOr: ("aten::__or__", True),
    ast.BitXor: ("aten::__xor__", True),
}
COMPARE = {ast.Eq: "eq", ast.NotEq: "ne", ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt", ast.GtE: "ge"}
FLIPPED = {"eq": "eq", "ne": "ne", "lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}
COMPARE_SYMBOL = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}


def _is_number(t: Type) -> bool:
    return t in NUMBERS


def _number_union_as_scalar(em: FunctionEmitter, v: Value) -> Value:
    """A `Union` of number types (`int | float`) is a `Scalar` in arithmetic, as in TorchScript."""
    t = v.type
    if isinstance(t, UnionType) and all(m in NUMBERS for m in t.members):
        return em.op("prim::unchecked_cast", [v], [SCALAR]).output
    return v


def _folded(em: FunctionEmitter, fn, *operands: SugaredValue) -> Optional[SugaredValue]:
    """The constant result of a number or string operation on constants (None: emit the op)."""
    statics = [o.static_value() for o in operands]
    if not all(type(s) in (int, float, bool, str) for s in statics):
        return None
    try:
        result = fn(*statics)
    except (ArithmeticError, ValueError, TypeError):
        return None  # raised when the program runs, as Python would
    if type(result) not in (int, float, bool, str) or (type(result) is str and len(result) > 1000):
        return None
    if type(result) is int and not -(2**63) <= result < 2**63:
        return None
    return SimpleValue(em.const(result))


_PY_BINARY = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow, ast.BitAnd: operator.and_,
    ast.BitOr: operator.or_, ast.BitXor: operator.xor, ast.LShift: operator.lshift, ast.RShift: operator.rshift,
}  # fmt: skip
_PY_COMPARE = {"eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge}


_BINARY_DUNDER = {
    ast.Add: "__add__", ast.Sub: "__sub__", ast.Mult: "__mul__", ast.Div: "__truediv__", ast.FloorDiv: "__floordiv__",
    ast.Mod: "__mod__", ast.Pow: "__pow__", ast.BitAnd: "__and__", ast.BitOr: "__or__", ast.BitXor: "__xor__",
    ast.LShift: "__lshift__", ast.RShift: "__rshift__", ast.MatMult: "__matmul__",
}  # fmt: skip


def binary(em: FunctionEmitter, node: ast.AST, left: SugaredValue, right: SugaredValue, op: ast.operator) -> SugaredValue:
    kind = type(op)
    if isinstance(left, TupleSugar) and isinstance(right, TupleSugar) and kind is ast.Add:
        return TupleSugar(left.items + right.items)
    if kind in _PY_BINARY and not (kind is ast.Pow and isinstance(right.static_value(), int) and right.static_value() < 0):
        folded = _folded(em, _PY_BINARY[kind], left, right)
        if folded is not None:
            return folded
    if kind is ast.Mult:
        repeated = _repeat_tuple(em, node, left, right)
        if repeated is not None:
            return repeated
    lv, rv = _number_union_as_scalar(em, left.as_value(em, node)), _number_union_as_scalar(em, right.as_value(em, node))
    lt, rt = lv.type, rv.type
    if kind in _BINARY_DUNDER:
        r = em.compiler.classes.dunder(em, node, lv, _BINARY_DUNDER[kind], [rv])
        if r is None:
            r = em.compiler.classes.dunder(em, node, rv, "__r" + _BINARY_DUNDER[kind][2:], [lv])
        if r is not None:
            return r
    if lt == STR and kind is ast.Mod:  # before the tensor case: `"%s" % x` formats a Tensor x
        items = right.items if isinstance(right, TupleSugar) else [right]
        args = [i.as_value(em, node) for i in items]
        if len(args) == 1 and isinstance(args[0].type, TupleType):  # `fmt % t`, t a tuple value
            args = list(em.op("prim::TupleUnpack", [args[0]], list(args[0].type.elems)).outputs) if args[0].type.elems else []
        return SimpleValue(em.op("prim::percent_format", [lv] + args, [STR]).output)
    if isinstance(lt, TensorType) or isinstance(rt, TensorType):
        return SimpleValue(_tensor_binary(em, node, lv, rv, kind))
    if _is_number(lt) and _is_number(rt):
        return SimpleValue(number_binary(em, node, lv, rv, kind))
    if lt == STR and kind is ast.Add and rt == STR:
        return SimpleValue(em.op("prim::add.str", [lv, rv], [STR]).output)
    if lt == STR and kind is ast.Mult and rt in (INT, BOOL):
        return SimpleValue(em.op("prim::mul.str", [lv, _int(em, rv)], [STR]).output)
    if rt == STR and kind is ast.Mult and lt in (INT, BOOL):  # 2 * "ab"
        return SimpleValue(em.op("prim::mul.str", [rv, _int(em, lv)], [STR]).output)
    if isinstance(lt, ListType) and kind is ast.Add and isinstance(rt, ListType):
        if lt != rt:
            em.fail(node, f"cannot add lists of different types: {lt} and {rt}")
        return SimpleValue(em.op("prim::add.list", [lv, rv], [lt]).output)
    if isinstance(lt, ListType) and kind is ast.Mult and rt in (INT, BOOL):
        return SimpleValue(em.op("prim::mul.list", [lv, _int(em, rv)], [lt]).output)
    if isinstance(rt, ListType) and kind is ast.Mult and lt in (INT, BOOL):  # 2 * [0]
        return SimpleValue(em.op("prim::mul.list", [rv, _int(em, lv)], [rt]).output)
    if isinstance(lt, TupleType) and isinstance(rt, TupleType) and kind is ast.Add:
        parts = list(em.op("prim::TupleUnpack", [lv], list(lt.elems)).outputs) + list(em.op("prim::TupleUnpack", [rv], list(rt.elems)).outputs)
        return SimpleValue(em.op("prim::TupleConstruct", parts, [TupleType(list(lt.elems) + list(rt.elems))]).output)
    if isinstance(lt, DictType) and kind is ast.BitOr and isinstance(rt, DictType):  # d1 | d2: a new dict
        _check_dict_merge(em, node, lt, rt)
        merged = em.op("prim::copy.dict", [lv], [lt]).output
        em.op("prim::update", [merged, rv], [])
        return SimpleValue(merged)
    as_lists = _tuples_as_lists(em, lv, rv, kind)
    if as_lists is not None:
        return binary(em, node, SimpleValue(as_lists[0]), SimpleValue(as_lists[1]), op)
    _fail_operands(em, node, SYMBOL[kind], lt, rt)


# Note [Tuples as lists]
# ~~~~~~~~~~~~~~~~~~~~~~
# A tuple's length is part of its type, so `(1,) * n` with `n` known only at
# run time, or `(x.shape[0],) + rest` with `rest` a list (`x.shape` is a
# List[int]), has no tuple type. TorchScript converts a tuple whose items
# share one type into a list for these (timm's `drop_path` builds
# `(x.shape[0],) + (1,) * (x.ndim - 1)` this way), and so does script here:
# the result is a list, as in TorchScript (Python would give a tuple).
def _repeat_tuple(em: FunctionEmitter, node: ast.AST, left: SugaredValue, right: SugaredValue) -> Optional[SugaredValue]:
    """`t * k` / `k * t` with `k` a constant int: a tuple of the items `k` times, as Python gives."""
    for tup, k in ((left, right), (right, left)):
        count = k.static_value()
        if type(count) is not int:
            continue
        if isinstance(tup, TupleSugar):
            return TupleSugar(list(tup.items) * max(count, 0))
        if isinstance(getattr(tup, "type", None), TupleType):
            v = tup.as_value(em, node)
            items = [SimpleValue(i) for i in em.op("prim::TupleUnpack", [v], list(v.type.elems)).outputs] if v.type.elems else []
            return TupleSugar(items * max(count, 0))
    return None


def _tuples_as_lists(em: FunctionEmitter, lv: Value, rv: Value, kind) -> Optional[Tuple[Value, Value]]:
    lt, rt = lv.type, rv.type
    if kind is ast.Mult and (isinstance(lt, TupleType) and rt in (INT, BOOL) or isinstance(rt, TupleType) and lt in (INT, BOOL)):
        tup = lv if isinstance(lt, TupleType) else rv
        as_list = _tuple_as_list(em, tup, None)
        if as_list is None:
            return None
        return (as_list, rv) if tup is lv else (lv, as_list)
    if kind is ast.Add and isinstance(lt, TupleType) and isinstance(rt, ListType):
        as_list = _tuple_as_list(em, lv, rt)
        return None if as_list is None else (as_list, rv)
    if kind is ast.Add and isinstance(rt, TupleType) and isinstance(lt, ListType):
        as_list = _tuple_as_list(em, rv, lt)
        return None if as_list is None else (lv, as_list)
    return None


def _tuple_as_list(em: FunctionEmitter, tup: Value, want: Optional[ListType]) -> Optional[Value]:
    """The tuple's items as a list of `want` (or of their one shared type); None when they have none."""
    elems = list(tup.type.elems)  # type: ignore[attr-defined]
    if want is None:
        if not elems:
            return None
        elem: Optional[Type] = elems[0]
        for e in elems[1:]:
            elem = unify(elem, e) if elem is not None else None
        if elem is None or isinstance(elem, UnionType):
            return None  # no one item type: a list of them would be a list of a union
        want = ListType(elem)
    if not all(e.is_subtype_of(want.elem) for e in elems):
        return None
    items = list(em.op("prim::TupleUnpack", [tup], elems).outputs) if elems else []
    return em.op("prim::ListConstruct", items, [want]).output


def _fail_operands(em: FunctionEmitter, node: ast.AST, symbol: str, lt: Type, rt: Type):
    hint = None
    if isinstance(lt, OptionalType) or isinstance(rt, OptionalType):
        hint = "a value that may be None must be checked first: `if x is not None:`"
    elif isinstance(lt, TupleType) or isinstance(rt, TupleType):
        hint = "a tuple's length is part of its type: repeat it by a constant, or use a list (a tuple whose items share one type becomes a list here)"
    em.fail(node, f"unsupported operand types for {symbol}: {lt} and {rt}", hint=hint)


def _int(em: FunctionEmitter, v: Value) -> Value:
    if v.type == BOOL:
        return em.op("prim::Int.Scalar", [v], [INT]).output
    return v


def promote(em: FunctionEmitter, a: Value, b: Value) -> Tuple[Value, Value, str]:
    """Python's numeric promotion: bool -> int, int -> float; `Scalar` stays generic."""
    ta, tb = a.type, b.type
    if ta == SCALAR or tb == SCALAR:
        return a, b, "Scalar"
    if ta == BOOL:
        a, ta = _int(em, a), INT
    if tb == BOOL:
        b, tb = _int(em, b), INT
    if ta == FLOAT and tb == INT:
        b = em.op("prim::Float.Scalar", [b], [FLOAT]).output
    elif ta == INT and tb == FLOAT:
        a = em.op("prim::Float.Scalar", [a], [FLOAT]).output
    return a, b, "float" if FLOAT in (ta, tb) else "int"


_RESULT = {"int": INT, "float": FLOAT, "Scalar": SCALAR}


def number_binary(em: FunctionEmitter, node: ast.AST, a: Value, b: Value, kind) -> Value:
    base = BINARY[kind][0]
    if base is None:
        _fail_operands(em, node, SYMBOL[kind], a.type, b.type)
    if base in ("and", "or", "xor") and a.type == BOOL and b.type == BOOL:
        return em.op(f"prim::{base}.bool", [a, b], [BOOL]).output
    if base in ("and", "or", "xor", "lshift", "rshift"):
        a, b = _int(em, a), _int(em, b)
        if a.type != INT or b.type != INT:
            _fail_operands(em, node, SYMBOL[kind], a.type, b.type)
        return em.op(f"prim::{base}.int", [a, b], [INT]).output
    if base == "pow" and a.type in (INT, BOOL) and b.node is not None and b.node.kind == "prim::Constant":
        exponent = b.node.attrs.get("value")
        if type(exponent) is int and exponent < 0:  # `n ** -2` is a float in Python: so here
            a = em.op("prim::Float.Scalar", [a], [FLOAT]).output
    a, b, overload = promote(em, a, b)
    result = _RESULT[overload]
    if base == "truediv":
        result = FLOAT
    return em.op(f"prim::{base}.{overload}", [a, b], [result]).output


def _tensor_binary(em: FunctionEmitter, node: ast.AST, lv: Value, rv: Value, kind) -> Value:
    symbol = SYMBOL[kind]
    if isinstance(lv.type, TensorType):
        if not (isinstance(rv.type, TensorType) or _is_number(rv.type)):
            _fail_operands(em, node, symbol, lv.type, rv.type)
        outs, _ = em.call_op(node, BINARY[kind][1], [lv, rv], what=f"`{symbol}`")
        return outs[0]
    if not _is_number(lv.type):
        _fail_operands(em, node, symbol, lv.type, rv.type)
    # number <op> tensor
    if kind is ast.Div:
        recip, _ = em.call_op(node, "aten::reciprocal", [rv])
        outs, _ = em.call_op(node, "aten::mul", [recip[0], lv], what="`/`")
        return outs[0]
    if kind in REVERSED:
        name, swap = REVERSED[kind]
        args = [rv, lv] if swap else [lv, rv]
        outs, _ = em.call_op(node, name, args, what=f"`{symbol}`")
        return outs[0]
    # `//`, `@`, shifts: the number becomes a 0-dim tensor, as Python's `torch.floor_divide(other, self)`.
    as_tensor = em.op("prim::NumToTensor.Scalar", [lv], [rv.type]).output
    outs, _ = em.call_op(node, BINARY[kind][1], [as_tensor, rv], what=f"`{symbol}`")
    return outs[0]


def unary(em: FunctionEmitter, node: ast.AST, operand: SugaredValue, op: ast.unaryop) -> SugaredValue:
    fn = {ast.UAdd: operator.pos, ast.USub: operator.neg, ast.Invert: operator.invert}[type(op)]
    folded = _folded(em, fn, operand)
    if folded is not None:
        return folded
    v = _number_union_as_scalar(em, operand.as_value(em, node))
    t = v.type
    r = em.compiler.classes.dunder(em, node, v, {ast.UAdd: "__pos__", ast.USub: "__neg__", ast.Invert: "__invert__"}[type(op)], [])
    if r is not None:
        return r
    if isinstance(op, ast.UAdd):
        if isinstance(t, TensorType) or _is_number(t):
            return SimpleValue(_int(em, v) if t == BOOL else v)
    elif isinstance(op, ast.USub):
        if isinstance(t, TensorType):
            return SimpleValue(em.call_op(node, "aten::neg", [v])[0][0])
        if _is_number(t):
            v = _int(em, v)
            name = {INT: "int", FLOAT: "float", SCALAR: "Scalar"}[v.type]
            return SimpleValue(em.op(f"prim::neg.{name}", [v], [v.type]).output)
    elif isinstance(op, ast.Invert):
        if isinstance(t, TensorType):
            return SimpleValue(em.call_op(node, "aten::bitwise_not", [v])[0][0])
        if t in (INT, BOOL):
            return SimpleValue(em.op("prim::invert.int", [_int(em, v)], [INT]).output)
    symbol = {ast.UAdd: "+", ast.USub: "-", ast.Invert: "~"}[type(op)]
    em.fail(node, f"bad operand type for unary {symbol}: {t}")


def augmented(em: FunctionEmitter, node: ast.AugAssign, current: SugaredValue, value: SugaredValue, op: ast.operator) -> SugaredValue:
    """`x <op>= y`: in place for tensors and lists (Python's `__iadd__`), else `x = x <op> y`."""
    kind = type(op)
    cur = current.as_value(em, node) if not isinstance(current, TupleSugar) else None
    if cur is not None and isinstance(cur.type, TensorType) and BINARY[kind][2] is not None:
        rv = value.as_value(em, node)
        outs, _ = em.call_op(node, BINARY[kind][2], [cur, rv], what=f"`{SYMBOL[kind]}=`")
        return SimpleValue(outs[0])
    if cur is not None and isinstance(cur.type, ListType) and kind is ast.Add:
        rv = value.as_value(em, node)
        if rv.type != cur.type:
            em.fail(node, f"cannot extend a list of type {cur.type} with {rv.type}")
        em.op("prim::extend.list", [cur, rv], [])
        return SimpleValue(cur)
    if cur is not None and isinstance(cur.type, DictType) and kind is ast.BitOr:  # d |= other: update in place
        rv = value.as_value(em, node)
        if not isinstance(rv.type, DictType):
            em.fail(node, f"unsupported operand types for |=: {cur.type} and {rv.type}")
        _check_dict_merge(em, node, cur.type, rv.type)
        em.op("prim::update", [cur, rv], [])
        return SimpleValue(cur)
    return binary(em, node, current, value, op)


def _check_dict_merge(em: FunctionEmitter, node: ast.AST, lt: Type, rt: Type) -> None:
    if lt != rt:
        em.fail(node, f"cannot merge a {rt} into a {lt}: script dicts must have the same key and value types")


# -- comparisons -----------------------------------------------------------------------------------------


def compare(em: FunctionEmitter, node: ast.Compare) -> SugaredValue:
    """Comparisons, chained as Python does: `a < b < c` is `a < b and b < c`, b evaluated once.

    Each later operand is evaluated only when the comparisons before it hold
    (Note [Chained comparisons]).
    """
    left = em.emit_expr(node.left)
    if len(node.ops) == 1:
        cond = compare_one(em, node, left, node.ops[0], em.emit_expr(node.comparators[0]), node.left, node.comparators[0])
        if cond.value is not None and cond.value.type != BOOL:
            return SimpleValue(cond.value)  # an elementwise tensor comparison
        return ConditionSugar(cond)
    return ConditionSugar(_compare_chain(em, node, left, 0))


# Note [Chained comparisons]
# --------------------------
# `a < f(b) <= xs[i]` is Python's `a < f(b) and f(b) <= xs[i]` with `f(b)` evaluated once:
# when `a < f(b)` is false, `xs[i]` is not evaluated (it may raise, or call a function that
# changes state). Each link after the first is emitted in the true branch of a `prim::If`
# on the links before it, as `and` is (`conditions._emit_bool_op`); a link known when
# compiling decides at once (a false one leaves the rest uncompiled, as Python never runs
# it). TorchScript `__and__`s every link, evaluating all operands.
#
#     0 < n < xs[n]          %c1 = prim::lt(0, %n)
#                            %r = prim::If(%c1)
#                              block0(): %e = prim::getitem(%xs, %n); %c2 = prim::lt(%n, %e) -> (%c2)
#                              block1(): -> (False)


def _compare_chain(em: FunctionEmitter, node: ast.Compare, left: SugaredValue, i: int) -> Cond:
    """The links `i...` of a chained comparison whose operand `i` is `left`."""
    right = em.emit_expr(node.comparators[i])
    cond = compare_one(em, node, left, node.ops[i], right, node.left if i == 0 else node.comparators[i - 1], node.comparators[i])
    if cond.value is not None and cond.value.type != BOOL:
        cond = Cond(em.to_bool(cond.value, node))
    if i == len(node.ops) - 1 or cond.static is False:
        return cond
    if cond.static is True:
        return _compare_chain(em, node, right, i + 1)
    from .conditions import _join_branch

    with em.at(node):
        if_node = em.op("prim::If", [cond.value], [BOOL], n_blocks=2)
    rest_block, short_block = if_node.blocks
    with em.child_frame("if", rest_block) as frame:
        rest = _compare_chain(em, node, right, i + 1)
        rest_block.add_return(rest.value if rest.static is None else em.const(rest.static))
    _join_branch(em, frame, node)
    with em.builder.at_block(short_block):
        short_block.add_return(em.const(False))
    return Cond(if_node.output)


def compare_one(em: FunctionEmitter, node: ast.AST, left: SugaredValue, op: ast.cmpop, right: SugaredValue, left_node: ast.AST, right_node: ast.AST) -> Cond:
    if isinstance(op, (ast.Is, ast.IsNot)):
        return _identity(em, node, left, right, left_node, right_node, isinstance(op, ast.IsNot))
    if isinstance(op, (ast.In, ast.NotIn)):
        cond = _contains(em, node, right, left)
        if isinstance(op, ast.NotIn):
            return cond.negate() if cond.static is not None else Cond(em.op("prim::not", [cond.value], [BOOL]).output)
        return cond
    name = COMPARE[type(op)]
    folded = _folded(em, _PY_COMPARE[name], left, right)
    if folded is not None:
        return Cond(static=bool(folded.static_value()))
    if name in ("eq", "ne"):
        for a, b, a_node in ((left, right, left_node), (right, left, right_node)):
            if b.static_value() is None and not isinstance(a, TupleSugar):
                return _identity(em, node, a, b, a_node, None, name == "ne")
    lv, rv = left.as_value(em, node), right.as_value(em, node)
    return Cond(compare_values(em, node, lv, rv, name))


def compare_values(em: FunctionEmitter, node: ast.AST, lv: Value, rv: Value, name: str) -> Value:
    lv, rv = _number_union_as_scalar(em, lv), _number_union_as_scalar(em, rv)
    lt, rt = lv.type, rv.type
    r = em.compiler.classes.dunder(em, node, lv, f"__{name}__", [rv])
    if r is None:
        r = em.compiler.classes.dunder(em, node, rv, f"__{FLIPPED[name]}__", [lv])
    if r is not None:
        result = r.as_value(em, node)
        return result if result.type == BOOL else em.to_bool(result, node)
    if isinstance(lt, TensorType) or isinstance(rt, TensorType):
        if isinstance(lt, TensorType):
            outs, _ = em.call_op(node, f"aten::{name}", [lv, rv], what=f"`{COMPARE_SYMBOL[name]}`")
        elif _is_number(lt):
            outs, _ = em.call_op(node, f"aten::{FLIPPED[name]}", [rv, lv], what=f"`{COMPARE_SYMBOL[name]}`")
        else:
            _fail_operands(em, node, COMPARE_SYMBOL[name], lt, rt)
        return outs[0]
    if _is_number(lt) and _is_number(rt):
        a, b, _ = promote(em, lv, rv)
        return em.op(f"prim::{name}", [a, b], [BOOL]).output
    if isinstance(lt, ListType) and isinstance(rt, TupleType) or isinstance(rt, ListType) and isinstance(lt, TupleType):
        # torch.Size (a list here) against a tuple: compare as lists, as Python compares a Size with a tuple.
        lv2 = em.try_convert(lv, rt) if isinstance(rt, ListType) else lv
        rv2 = em.try_convert(rv, lt) if isinstance(lt, ListType) else rv
        if lv2 is not None and rv2 is not None and lv2.type == rv2.type:
            return em.op(f"prim::{name}", [lv2, rv2], [BOOL]).output
    if lt == rt or (name in ("eq", "ne") and (lt.is_subtype_of(rt) or rt.is_subtype_of(lt))):
        if name not in ("eq", "ne") and not (lt == STR or isinstance(lt, (ListType, TupleType))):
            _fail_operands(em, node, COMPARE_SYMBOL[name], lt, rt)
        return em.op(f"prim::{name}", [lv, rv], [BOOL]).output
    if name in ("eq", "ne"):
        # Values of unrelated types are never equal (Python's default __eq__).
        return em.const(name == "ne")
    _fail_operands(em, node, COMPARE_SYMBOL[name], lt, rt)


def _identity(em: FunctionEmitter, node: ast.AST, left: SugaredValue, right: SugaredValue, left_node, right_node, negate: bool) -> Cond:
    for a, b, a_node in ((left, right, left_node), (right, left, right_node)):
        if b.static_value() is None:
            name = a_node.id if isinstance(a_node, ast.Name) else None
            cond = none_cond(em, node, a, name)
            if negate:
                if cond.static is not None:
                    return cond.negate()
                return Cond(em.op("prim::not", [cond.value], [BOOL]).output, None, cond.false_refs, cond.true_refs)
            return cond
    lv, rv = left.as_value(em, node), right.as_value(em, node)
    if isinstance(lv.type, EnumType) or isinstance(rv.type, EnumType):  # members are singletons: `is` is `==`
        return Cond(compare_values(em, node, lv, rv, "ne" if negate else "eq"))
    return Cond(em.op("prim::isnot" if negate else "prim::is", [lv, rv], [BOOL]).output)


def _contains(em: FunctionEmitter, node: ast.AST, container: SugaredValue, item: SugaredValue) -> Cond:
    if isinstance(container, TupleSugar) or isinstance(getattr(container, "type", None), TupleType):
        from .stmts import unpack

        n = container.static_len()
        items = unpack(em, node, container, n or 0)
        result = Cond(static=False)
        for other in items:
            cond = compare_one(em, node, item, ast.Eq(), other, node, node)
            result = _or_values(em, result, cond)
        return result
    cv = container.as_value(em, node)
    static = em.compiler.classes.static_contains(cv.type, item.static_value())
    if static is not None:  # `"name" in self.module_dict`: decided by the module's keys
        return Cond(static=static)
    iv = item.as_value(em, node)
    t = cv.type
    r = em.compiler.classes.dunder(em, node, cv, "__contains__", [iv])
    if r is not None:
        return Cond(r.as_value(em, node))
    if isinstance(t, ListType):
        iv = em.coerce(iv, t.elem, node, f"cannot look for a {iv.type} in a list of {t.elem}")
        return Cond(em.op("prim::contains.list", [cv, iv], [BOOL]).output)
    if isinstance(t, DictType):
        iv = em.coerce(iv, t.key, node, f"cannot look for a {iv.type} key in a dict with {t.key} keys")
        return Cond(em.op("prim::contains.dict", [cv, iv], [BOOL]).output)
    if t == STR and iv.type == STR:
        return Cond(em.op("prim::contains.str", [cv, iv], [BOOL]).output)
    em.fail(node, f"`in` is not supported for a {iv.type} in a {t}")


def _or_values(em: FunctionEmitter, a: Cond, b: Cond) -> Cond:
    if a.static is not None:
        return a if a.static else b
    if b.static is not None:
        return b if b.static else a
    return Cond(em.op("prim::or.bool", [a.value, b.value], [BOOL]).output)


__all__ = ["binary", "unary", "augmented", "compare", "promote", "number_binary", "compare_values"]
