"""Indexing and slicing: `x[i]`, `x[a:b:c]`, `x[..., None, mask]`, and `x[i] = v`.

Tensor indexing follows `Tensor.__getitem__` (as TorchScript emits it):

```
x[0]        aten::select.int(x, 0, 0)
x[1:3]      aten::slice.Tensor(x, 0, 1, 3, 1)
x[:, None]  aten::unsqueeze(x, 1)
x[..., 0]   aten::select.int(x, -1, 0)
x[mask]     aten::index.Tensor(x, [mask])         (tensor and bool-mask indices)
x[i] = v    aten::copy_ / aten::fill_ on the view, aten::index_put_ with tensor indices
```
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import List, Optional

from ...ir.core import Value
from ...ir.types import (
    BOOL,
    DEVICE,
    INT,
    SCALAR,
    SCALAR_TYPE,
    STR,
    TENSOR,
    ClassType,
    DictType,
    ListType,
    OptionalType,
    TensorType,
    TupleType,
)
from .emitter import FunctionEmitter
from .exprs import EllipsisValue
from .sugared import NO_STATIC, SimpleValue, SugaredValue, TupleSugar


@dataclass
class SliceValue(SugaredValue):
    """`a:b:c` inside `[...]` (parts None when omitted)."""

    start: Optional[SugaredValue]
    stop: Optional[SugaredValue]
    step: Optional[SugaredValue]

    def describe(self) -> str:
        return "a slice"


def emit_index(em: FunctionEmitter, node: ast.expr) -> SugaredValue:
    """The index expression of a subscript (slices allowed)."""
    if isinstance(node, ast.Slice):
        parts = [em.emit_expr(p) if p is not None else None for p in (node.lower, node.upper, node.step)]
        return SliceValue(*parts)
    if isinstance(node, ast.Tuple):
        return TupleSugar([emit_index(em, e) for e in node.elts])
    return em.emit_expr(node)


def getitem_value(em: FunctionEmitter, node: ast.AST, sv: SimpleValue, index: SugaredValue) -> SugaredValue:
    v = sv.value
    t = v.type
    if isinstance(t, TensorType):
        return SimpleValue(tensor_getitem(em, node, v, index))
    if isinstance(t, ClassType):
        return em.compiler.classes.getitem(em, node, v, index)
    if isinstance(t, ListType):
        if isinstance(index, SliceValue):
            return SimpleValue(em.op("prim::slice.list", [v] + _slice_args(em, node, index), [t]).output)
        i = _int_index(em, node, index, "list")
        return SimpleValue(em.op("prim::getitem.list", [v, i], [t.elem]).output)
    if t == STR:
        if isinstance(index, SliceValue):
            return SimpleValue(em.op("prim::slice.str", [v] + _slice_args(em, node, index), [STR]).output)
        i = _int_index(em, node, index, "str")
        return SimpleValue(em.op("prim::getitem.str", [v, i], [STR]).output)
    if isinstance(t, DictType):
        key = index.as_value(em, node)
        key = em.coerce(key, t.key, node, f"a dict with {t.key} keys cannot be indexed with a {key.type}")
        return SimpleValue(em.op("prim::getitem.dict", [v, key], [t.value]).output)
    if isinstance(t, TupleType):
        items = [SimpleValue(o) for o in em.op("prim::TupleUnpack", [v], list(t.elems)).outputs] if t.elems else []
        return static_tuple_index(em, node, items, index, v)
    if isinstance(t, OptionalType):
        em.fail(node, f"cannot index a value of type {t}: it may be None", hint="check `if x is not None:` first")
    em.fail(node, f"a value of type {t} cannot be indexed")


def static_tuple_index(em: FunctionEmitter, node: ast.AST, items: List[SugaredValue], index: SugaredValue, whole: Optional[Value] = None) -> SugaredValue:
    n = len(items)
    if isinstance(index, SliceValue):
        bounds = [p.static_value() if p is not None else None for p in (index.start, index.stop, index.step)]
        if any(b is NO_STATIC or not (b is None or isinstance(b, int)) for b in bounds):
            em.fail(node, "tuple slices need constant bounds")
        if bounds[2] == 0:
            em.fail(node, "slice step cannot be zero", hint="use a nonzero step")
        return TupleSugar(items[slice(*bounds)])
    k = index.static_value()
    if isinstance(k, bool) or not isinstance(k, int):
        if whole is not None:
            return _dynamic_tuple_index(em, node, whole, index)
        em.fail(node, "a tuple index must be a constant int", hint="use a list to index with a variable")
    if not -n <= k < n:
        em.fail(node, f"tuple index {k} is out of range for a tuple of {n}")
    return items[k]


def _dynamic_tuple_index(em: FunctionEmitter, node: ast.AST, whole: Value, index: SugaredValue) -> SugaredValue:
    t = whole.type
    assert isinstance(t, TupleType)
    if not t.elems or any(e != t.elems[0] for e in t.elems):
        em.fail(node, "a tuple whose items differ in type must be indexed with a constant int")
    parts = em.op("prim::TupleUnpack", [whole], list(t.elems)).outputs
    lst = em.op("prim::ListConstruct", parts, [ListType(t.elems[0])]).output
    i = _int_index(em, node, index, "tuple")
    return SimpleValue(em.op("prim::getitem.list", [lst, i], [t.elems[0]]).output)


def _int_index(em: FunctionEmitter, node: ast.AST, index: SugaredValue, what: str) -> Value:
    if isinstance(index, (SliceValue, TupleSugar, EllipsisValue)):
        em.fail(node, f"a {what} index must be an int")
    v = index.as_value(em, node)
    if v.type == BOOL:
        v = em.op("prim::Int.Scalar", [v], [INT]).output
    if v.type == SCALAR:
        v = em.op("prim::Int.Scalar", [v], [INT]).output
    if isinstance(v.type, TensorType):
        v = em.op("prim::Int.Tensor", [v], [INT]).output
    if v.type != INT:
        em.fail(node, f"a {what} index must be an int, not {v.type}")
    return v


def _opt_int(em: FunctionEmitter, node: ast.AST, part: Optional[SugaredValue]) -> Value:
    if part is None:
        return em.const(None)
    if part.static_value() is None:
        return em.const(None)
    return _int_index(em, node, part, "slice")


def _slice_args(em: FunctionEmitter, node: ast.AST, s: SliceValue) -> List[Value]:
    return [_opt_int(em, node, s.start), _opt_int(em, node, s.stop), _opt_int(em, node, s.step)]


# -- tensors ------------------------------------------------------------------------------------------


def _index_items(index: SugaredValue) -> List[SugaredValue]:
    return list(index.items) if isinstance(index, TupleSugar) else [index]


def _consumes_dim(em: FunctionEmitter, node: ast.AST, item: SugaredValue) -> bool:
    return not isinstance(item, EllipsisValue) and item.static_value() is not None


def _views(em: FunctionEmitter, node: ast.AST, x: Value, index: SugaredValue):
    """Apply the basic indices (ints, slices, None, ...); collect tensor indices by dim.

    Returns (view, [(dim, tensor index)]). After `...` dims count from the
    end: with r dim-consuming indices left, the next one works on dim -r.
    """
    items = _index_items(index)
    if sum(isinstance(i, EllipsisValue) for i in items) > 1:
        em.fail(node, "an index can only have a single ellipsis ('...')")
    dim = 0
    remaining: Optional[int] = None  # set after `...`: dim-consuming indices still to come
    advanced: List[tuple] = []
    for k, item in enumerate(items):
        if isinstance(item, EllipsisValue):
            remaining = sum(_consumes_dim(em, node, i) for i in items[k + 1 :])
            continue
        if item.static_value() is None:
            at = dim if remaining is None else -(remaining + 1)
            x = em.call_op(node, "aten::unsqueeze", [x, em.const(at)])[0][0]
            if remaining is None:
                dim += 1
            continue
        at = dim if remaining is None else -remaining
        if remaining is not None:
            remaining -= 1
        if isinstance(item, SliceValue):
            x = _slice_tensor(em, node, x, at, item)
            dim += 1
            continue
        v = item.as_value(em, node)
        if v.type in (INT, SCALAR):
            x = em.op("aten::select.int", [x, em.const(at), _int_index(em, node, item, "tensor")], [TENSOR]).output
            continue
        if isinstance(v.type, (TensorType, ListType)) or v.type == BOOL:
            if remaining is not None:
                em.fail(node, "tensor indices after `...` are not supported", hint="index explicitly with `:` for each leading dim")
            if v.type == BOOL:
                em.fail(node, "indexing a tensor with a bool is not supported", hint="use x.unsqueeze(0) for x[True]")
            if not isinstance(v.type, TensorType):
                none_dtype, none_device = em.const(None, OptionalType(SCALAR_TYPE)), em.const(None, OptionalType(DEVICE))
                v = em.op("prim::tensor", [v, none_dtype, none_device, em.const(False)], [TENSOR]).output
            advanced.append((at, v))
            dim += 1
            continue
        em.fail(node, f"a tensor cannot be indexed with a value of type {v.type}", hint="index with ints, slices, None, ..., or tensors")
    return x, advanced


def _slice_tensor(em: FunctionEmitter, node: ast.AST, x: Value, dim: int, s: SliceValue) -> Value:
    if s.start is None and s.stop is None and s.step is None:
        return x
    start = _opt_int(em, node, s.start)
    stop = _opt_int(em, node, s.stop)
    step = _int_index(em, node, s.step, "slice") if s.step is not None and s.step.static_value() is not None else em.const(1)
    return em.op("aten::slice.Tensor", [x, em.const(dim), start, stop, step], [TENSOR]).output


def _index_list(em: FunctionEmitter, advanced) -> Value:
    last = max(d for d, _ in advanced)
    by_dim = dict(advanced)
    entries = [by_dim[d] if d in by_dim else em.const(None, OptionalType(TENSOR)) for d in range(last + 1)]
    return em.op("prim::ListConstruct", entries, [ListType(OptionalType(TENSOR))]).output


def tensor_getitem(em: FunctionEmitter, node: ast.AST, x: Value, index: SugaredValue) -> Value:
    view, advanced = _views(em, node, x, index)
    if not advanced:
        return view
    return em.op("aten::index.Tensor", [view, _index_list(em, advanced)], [TENSOR]).output


def emit_setitem(em: FunctionEmitter, target: ast.Subscript, value: Value, container: Optional[SugaredValue] = None, index: Optional[SugaredValue] = None) -> None:
    if container is None:
        container = em.emit_expr(target.value)
    if index is None:
        index = emit_index(em, target.slice)
    c = container.as_value(em, target)
    t = c.type
    with em.at(target):
        if isinstance(t, TensorType):
            _tensor_setitem(em, target, c, index, value)
            return
        if isinstance(t, ListType):
            i = _int_index(em, target, index, "list")
            value = em.coerce(value, t.elem, target, f"a list of {t.elem} cannot hold a value of type {value.type}")
            em.op("prim::setitem.list", [c, i, value], [])
            return
        if isinstance(t, DictType):
            key = em.coerce(index.as_value(em, target), t.key, target, f"a dict with {t.key} keys cannot take this key")
            value = em.coerce(value, t.value, target, f"a dict with {t.value} values cannot hold a value of type {value.type}")
            em.op("prim::setitem.dict", [c, key, value], [])
            return
        if em.compiler.classes.dunder(em, target, c, "__setitem__", [index, value]) is not None:
            return
    em.fail(target, f"a value of type {t} does not support item assignment")


def _tensor_setitem(em: FunctionEmitter, node: ast.AST, x: Value, index: SugaredValue, value: Value) -> None:
    view, advanced = _views(em, node, x, index)
    if advanced:
        if not isinstance(value.type, TensorType):
            dtype = em.op("prim::dtype", [view], [SCALAR_TYPE]).output
            device = em.op("prim::device", [view], [DEVICE]).output
            value = em.call_op(node, "aten::scalar_tensor", [value], {"dtype": dtype, "device": device})[0][0]
        em.call_op(node, "aten::index_put_", [view, _index_list(em, advanced), value, em.const(False)])
        return
    if isinstance(value.type, TensorType):
        em.call_op(node, "aten::copy_", [view, value])
    else:
        em.call_op(node, "aten::fill_", [view, value])


def emit_delitem(em: FunctionEmitter, target: ast.Subscript) -> None:
    c = em.emit_value(target.value)
    index = emit_index(em, target.slice)
    t = c.type
    if isinstance(t, ListType):
        em.op("prim::delitem.list", [c, _int_index(em, target, index, "list")], [])
        return
    if isinstance(t, DictType):
        key = em.coerce(index.as_value(em, target), t.key, target, f"a dict with {t.key} keys cannot take this key")
        em.op("prim::delitem.dict", [c, key], [])
        return
    em.fail(target, f"cannot delete items of a value of type {t}")


__all__ = ["SliceValue", "emit_index", "getitem_value", "static_tuple_index", "tensor_getitem", "emit_setitem", "emit_delitem"]
