"""Attributes and methods of IR values, by type.

```
x.shape  x.dtype  x.device  x.ndim  x.T      prim::size, prim::dtype, prim::device, aten::dim, aten::numpy_T
x.view(2, -1)  x.sum(dim=1)                  the ATen overload of `aten::view`, `aten::sum` with `self` = x
x.float()  x.to(device)  x.cpu()             aten::to.dtype / aten::to.dtype_layout
xs.append(v)  d.get(k, 0)  s.split(",")      prim::append.list, prim::get.default, prim::str_split
obj.attr  obj.method(...)                    modules and script classes (classes.py, modules.py)
```
"""
from __future__ import annotations

import ast
from typing import Dict, Tuple

import torch

from .lambdas import reverse_flag, sort_in_place_by_key, sort_objects_in_place, sorts_objects
from .enums import EnumType, enum_attr
from ...ir.core import Value
from ...ir.types import (
    BOOL,
    DEVICE,
    FLOAT,
    INT,
    LAYOUT,
    SCALAR_TYPE,
    STR,
    TENSOR,
    ClassType,
    DictType,
    FutureType,
    ListType,
    OptionalType,
    TensorType,
    TupleType,
    Type,
)
from .autograd import tensor_backward
from .calls import op_values
from .classes import InterfaceView
from .emitter import FunctionEmitter, has_overloads
from .interfaces import InterfaceType
from .sugared import Args, Kwargs, SimpleValue, SugaredValue

# Tensor properties: name -> (op, output type)
TENSOR_PROPERTIES: Dict[str, Tuple[str, Type]] = {
    "shape": ("prim::size", ListType(INT)),
    "dtype": ("prim::dtype", SCALAR_TYPE),
    "device": ("prim::device", DEVICE),
    "layout": ("prim::layout", LAYOUT),
    "is_cuda": ("prim::is_cuda", BOOL),
    "requires_grad": ("prim::requires_grad", BOOL),
    "data": ("prim::data", TENSOR),
    "ndim": ("aten::dim", INT),
    "T": ("aten::numpy_T", TENSOR),
    "mT": ("aten::mT", TENSOR),
    "H": ("aten::matrix_H", TENSOR),
    "mH": ("aten::mH", TENSOR),
    "real": ("aten::real", TENSOR),
    "imag": ("aten::imag", TENSOR),
    **{flag: (f"prim::{flag}", BOOL) for flag in ("is_nested", "is_sparse", "is_quantized", "is_meta", "is_cpu", "is_mkldnn")},
    **{flag: (f"prim::{flag}", BOOL) for flag in ("is_xla", "is_xpu", "is_mps", "is_vulkan", "is_ipu", "is_sparse_csr", "is_maia", "is_mtia")},
    "is_leaf": ("aten::is_leaf", BOOL),
    "retains_grad": ("aten::retains_grad", BOOL),
    "grad": ("prim::grad", OptionalType(TENSOR)),
    "nbytes": ("prim::nbytes", INT),
    "itemsize": ("prim::itemsize", INT),
    "name": ("prim::name", OptionalType(STR)),
}
DEVICE_PROPERTIES: Dict[str, Tuple[str, Type]] = {"type": ("prim::device_type", STR), "index": ("prim::device_index", OptionalType(INT))}

_DTYPE_METHODS = {
    "float": torch.float32, "double": torch.float64, "half": torch.float16, "bfloat16": torch.bfloat16,
    "int": torch.int32, "long": torch.int64, "short": torch.int16, "char": torch.int8, "byte": torch.uint8,
    "bool": torch.bool,
}  # fmt: skip
_METHOD_ALIASES = {"nelement": "numel", "ndimension": "dim"}


def value_attr(em: FunctionEmitter, node: ast.AST, sv: SimpleValue, name: str) -> SugaredValue:
    v = sv.value
    t = v.type
    if isinstance(t, TensorType):
        prop = TENSOR_PROPERTIES.get(name)
        if prop is not None:
            kind, out = prop
            return SimpleValue(em.op(kind, [v], [out]).output)
        return TensorMethod(v, name)._check(em, node)
    if isinstance(t, ClassType):
        return em.compiler.classes.attr(em, node, v, name)
    if isinstance(t, EnumType):
        return enum_attr(em, node, v, name)
    if isinstance(t, InterfaceType):
        return InterfaceView(v, t).attr(em, node, name)
    if isinstance(t, TupleType) and t.fields is not None and name in t.fields:
        i = t.fields.index(name)
        return SimpleValue(em.op("prim::TupleIndex", [v], [t.elems[i]], {"index": i}).output)
    if isinstance(t, ListType) and name in LIST_METHODS:
        return BoundMethod(v, name, LIST_METHODS[name])
    if isinstance(t, DictType) and name in DICT_METHODS:
        return BoundMethod(v, name, DICT_METHODS[name])
    if (t, name) in _HELPER_METHODS:
        return BoundMethod(v, name, _helper_method(*_HELPER_METHODS[(t, name)]))
    if t == STR and name in _STR_REFUSED:
        em.fail(node, f"str.{name}() is not supported in script", hint=_STR_REFUSED[name])
    if t == STR and (name in STR_METHODS or name == "format"):
        return BoundMethod(v, name, lambda em, node, v, args, kwargs: _str_method(em, node, v, args, kwargs, name))
    if t == DEVICE and name in DEVICE_PROPERTIES:
        kind, out = DEVICE_PROPERTIES[name]
        return SimpleValue(em.op(kind, [v], [out]).output)
    if isinstance(t, FutureType) and name == "wait":
        return BoundMethod(v, name, lambda em, node, v, args, kwargs: SimpleValue(em.op("prim::wait", [v], [v.type.elem]).output))
    if isinstance(t, OptionalType):
        em.fail(node, f"a value of type {t} may be None: it has no attribute '{name}'", hint="check `if x is not None:` first (this refines x to its non-None type)")
    em.fail(node, f"a value of type {t} has no attribute or method '{name}'")


def call_value(em: FunctionEmitter, node: ast.Call, sv: SimpleValue, args: Args, kwargs: Kwargs) -> SugaredValue:
    t = sv.value.type
    if isinstance(t, ClassType):
        return em.compiler.classes.call(em, node, sv.value, args, kwargs)
    if isinstance(t, InterfaceType):
        return InterfaceView(sv.value, t).call(em, node, args, kwargs)
    em.fail(node, f"a value of type {t} is not callable")


def fork_target(em: FunctionEmitter, node: ast.Call, sv: SimpleValue, args: Args, kwargs: Kwargs):
    """`fork(obj, ...)` of a module or object: (function, input values) of its forward / __call__."""
    t = sv.value.type
    if isinstance(t, InterfaceType):
        return InterfaceView(sv.value, t).as_function(em, node, args, kwargs)
    if isinstance(t, ClassType):
        name = "forward" if t.is_module else "__call__"
        info = em.compiler.classes._module(t)
        if info is not None and info.container is not None and not em.compiler.classes.has_attr(t, name):
            em.fail(node, f"fork() of {sv.describe()}: a module container cannot be called", hint="fork each module in it")
        if not em.compiler.classes.has_attr(t, name):
            em.fail(node, f"fork() of {sv.describe()}: it has no method {name}")
        return em.compiler.classes.attr(em, node, sv.value, name).as_function(em, node, args, kwargs)
    em.fail(node, f"fork() of {sv.describe()} is not supported", hint="fork a function, a method (`self.helper`) or a module (`self.sub`)")


class BoundMethod(SugaredValue):
    """A method of a list, dict, str or Future value."""

    def __init__(self, receiver: Value, name: str, impl):
        self.receiver = receiver
        self.name = name
        self.impl = impl

    def describe(self) -> str:
        return f"the method {self.name} of a {self.receiver.type}"

    def call(self, em, node, args, kwargs):
        return self.impl(em, node, self.receiver, args, kwargs)


class TensorMethod(SugaredValue):
    """`x.<name>`: an ATen op called with `self` = x (Note [Overload resolution])."""

    def __init__(self, receiver: Value, name: str):
        self.receiver = receiver
        self.name = _METHOD_ALIASES.get(name, name)

    def describe(self) -> str:
        return f"the Tensor method {self.name}"

    def _check(self, em, node) -> "TensorMethod":
        if self.name in _DTYPE_METHODS or self.name in _SPECIAL_TENSOR_METHODS:
            return self
        if not has_overloads(f"aten::{self.name}"):
            em.fail(node, f"unknown method '{self.name}' on a value of type Tensor", hint="call a torch function or Tensor method that exists (see torch.Tensor's documentation)")
        return self

    def call(self, em, node, args, kwargs):
        x = self.receiver
        special = _SPECIAL_TENSOR_METHODS.get(self.name)
        if special is not None:
            return special(em, node, x, args, kwargs)
        if self.name in _DTYPE_METHODS:
            if args:
                em.fail(node, f"x.{self.name}() takes no positional arguments here")
            dtype = em.const(_DTYPE_METHODS[self.name])
            return em.call_op_sugar(node, "aten::to", [], {"dtype": dtype, **_values(em, node, kwargs)}, self_value=x, what=f"Tensor.{self.name}")

        return em.call_op_sugar(node, f"aten::{self.name}", op_values(em, node, args), _values(em, node, kwargs), self_value=x, what=f"Tensor.{self.name}")


def _values(em: FunctionEmitter, node: ast.AST, items):
    if isinstance(items, dict):
        return {k: v.as_value(em, node) for k, v in items.items()}
    return [a.as_value(em, node) for a in items]


def _tensor_size(em, node, x, args, kwargs):
    if not args and not kwargs:
        return SimpleValue(em.op("prim::size", [x], [ListType(INT)]).output)
    return em.call_op_sugar(node, "aten::size", _values(em, node, args), _values(em, node, kwargs), self_value=x, what="Tensor.size")


def _tensor_stride(em, node, x, args, kwargs):
    if not args and not kwargs:
        return SimpleValue(em.op("prim::stride", [x], [ListType(INT)]).output)
    return em.call_op_sugar(node, "aten::stride", _values(em, node, args), _values(em, node, kwargs), self_value=x, what="Tensor.stride")


def _tensor_element_size(em, node, x, args, kwargs):
    if args or kwargs:
        em.fail(node, "Tensor.element_size() takes no arguments")
    return SimpleValue(em.op("prim::itemsize", [x], [INT]).output)


def _tensor_type(em, node, x, args, kwargs):
    """`x.type(dtype)`: as `x.to(dtype)` (TorchScript's reading); `x.type()` (a type string) is not supported."""
    a = _values(em, node, args)
    kw = _values(em, node, kwargs)
    if not a and not kw:
        em.fail(node, "x.type() with no arguments (the tensor type's name) is not supported in script", hint="compare x.dtype instead")
    dtype = a[0] if a else kw.pop("dtype", None)
    if dtype is None or dtype.type != SCALAR_TYPE:
        em.fail(node, "x.type() takes a dtype here (x.type(torch.float64))")
    return em.call_op_sugar(node, "aten::to", [dtype], kw, self_value=x, what="Tensor.type")


def _tensor_to(em, node, x, args, kwargs):
    a = _values(em, node, args)
    kw = _values(em, node, kwargs)
    if a and (a[0].type in (DEVICE, STR) or a[0].type == OptionalType(DEVICE)):
        kw["device"] = a[0] if a[0].type != STR else em.op("prim::device.str", [a[0]], [DEVICE]).output
        if len(a) > 1:
            kw["dtype"] = a[1]
        a = a[2:]
        if a:
            em.fail(node, "too many positional arguments for Tensor.to(device, dtype)")
        return em.call_op_sugar(node, "aten::to", [], kw, self_value=x, what="Tensor.to")
    return em.call_op_sugar(node, "aten::to", a, kw, self_value=x, what="Tensor.to")


def _device_method(device: str):
    def impl(em, node, x, args, kwargs):
        kw = {"device": em.const(torch.device(device))}
        if "non_blocking" in kwargs:
            kw["non_blocking"] = kwargs["non_blocking"].as_value(em, node)
        return em.call_op_sugar(node, "aten::to", [], kw, self_value=x, what=f"Tensor.{device}")

    return impl


def _tensor_tolist(em, node, x, args, kwargs):
    hint = getattr(em, "call_hint", None)
    if hint is None:
        em.fail(node, "the type of `x.tolist()` must be annotated", hint="write `torch.jit.annotate(List[float], x.tolist())` or assign it to an annotated variable")
    return SimpleValue(em.op("prim::tolist", [x], [hint]).output)


def _tensor_norm(em, node, x, args, kwargs):
    """`x.norm(p="fro", dim=None, keepdim=False, dtype=None)` (torch.Tensor.norm's Python defaults).

    The ATen overloads taking `dim` have no default for `p`; "fro" is the
    2-norm over the given dims (torch.norm computes it as a vector norm).
    """
    a = _values(em, node, args)
    kw = _values(em, node, kwargs)
    if not a and "p" not in kw and kw:
        kw["p"] = em.const(2)
    if a and a[0].type == STR and a[0].node is not None and a[0].node.attrs.get("value") == "fro":
        a[0] = em.const(2)
    if kw.get("p") is not None and kw["p"].type == STR and kw["p"].node is not None and kw["p"].node.attrs.get("value") == "fro":
        kw["p"] = em.const(2)
    has_dim = len(a) > 1 or "dim" in kw
    if "dtype" in kw and has_dim and len(a) < 3 and "keepdim" not in kw:
        kw["keepdim"] = em.const(False)
    return em.call_op_sugar(node, "aten::norm", a, kw, self_value=x, what="Tensor.norm")


def _refuse(what: str, hint: str):
    def impl(em, node, x, args, kwargs):
        em.fail(node, what, hint=hint)

    return impl


_SPECIAL_TENSOR_METHODS = {
    "size": _tensor_size,
    "stride": _tensor_stride,
    "type": _tensor_type,
    "element_size": _tensor_element_size,
    "to": _tensor_to,
    "cpu": _device_method("cpu"),
    "cuda": _device_method("cuda"),
    "tolist": _tensor_tolist,
    "norm": _tensor_norm,
    "numpy": _refuse("Tensor.numpy() cannot be used in script: numpy arrays are not values here", "keep working with tensors, or convert outside the scripted code"),
    "backward": tensor_backward,  # Note [Autograd calls in script] in autograd.py
    "register_hook": _refuse("Tensor.register_hook cannot be used in script", "register hooks outside the scripted code"),
}


# -- lists ------------------------------------------------------------------------------------------


def _arity(em, node, name: str, args, kwargs, lo: int, hi: int, kw_ok=()) -> None:
    bad = [k for k in kwargs if k not in kw_ok]
    if bad:
        em.fail(node, f"{name}() got an unexpected keyword argument '{bad[0]}'")
    if not lo <= len(args) <= hi:
        expect = str(lo) if lo == hi else f"{lo} to {hi}"
        em.fail(node, f"{name}() takes {expect} argument{'s' if hi != 1 else ''} ({len(args)} given)")


def _elem(em, node, lst: Value, sv: SugaredValue) -> Value:
    elem = lst.type.elem  # type: ignore[attr-defined]
    v = sv.as_value(em, node)
    return em.coerce(v, elem, node, f"a list of {elem} cannot hold a value of type {v.type}")


def _list_simple(op: str, n_args: int, out=None):
    def impl(em, node, lst, args, kwargs):
        _arity(em, node, op, args, kwargs, n_args, n_args)
        vals = [_elem(em, node, lst, a) for a in args]
        outs = [out(lst.type)] if out is not None else []
        res = em.op(f"prim::{op}.list", [lst] + vals, outs)
        return SimpleValue(res.output) if outs else SimpleValue(em.const(None))

    return impl


def _list_extend(em, node, lst, args, kwargs):
    _arity(em, node, "extend", args, kwargs, 1, 1)
    other = args[0].as_value(em, node)
    if other.type != lst.type:
        em.fail(node, f"cannot extend a {lst.type} with a {other.type}")
    em.op("prim::extend.list", [lst, other], [])
    return SimpleValue(em.const(None))


def _list_insert(em, node, lst, args, kwargs):
    _arity(em, node, "insert", args, kwargs, 2, 2)
    em.op("prim::insert.list", [lst, _int(em, node, args[0]), _elem(em, node, lst, args[1])], [])
    return SimpleValue(em.const(None))


def _list_pop(em, node, lst, args, kwargs):
    _arity(em, node, "pop", args, kwargs, 0, 1)
    index = _int(em, node, args[0]) if args else em.const(-1)
    return SimpleValue(em.op("prim::pop.list", [lst, index], [lst.type.elem]).output)


def _list_sort(em, node, lst, args, kwargs):
    _arity(em, node, "sort", args, kwargs, 0, 0, kw_ok=("reverse", "key"))
    reverse = reverse_flag(em, node, kwargs)
    key = kwargs.get("key")
    if key is not None and key.static_value() is not None:
        sort_in_place_by_key(em, node, lst, key, reverse)
    elif sorts_objects(lst):
        sort_objects_in_place(em, node, lst, reverse)
    else:
        em.op("prim::sort.list", [lst, reverse], [])
    return SimpleValue(em.const(None))


def _list_nullary(op: str, returns_self_type: bool = False):
    def impl(em, node, lst, args, kwargs):
        _arity(em, node, op, args, kwargs, 0, 0)
        if returns_self_type:
            return SimpleValue(em.op(f"prim::{op}.list", [lst], [lst.type]).output)
        em.op(f"prim::{op}.list", [lst], [])
        return SimpleValue(em.const(None))

    return impl


def _int(em, node, sv: SugaredValue) -> Value:
    v = sv.as_value(em, node)
    if v.type == BOOL:
        return em.op("prim::Int.Scalar", [v], [INT]).output
    if v.type != INT:
        em.fail(node, f"expected an int, found {v.type}")
    return v


LIST_METHODS = {
    "append": _list_simple("append", 1),
    "remove": _list_simple("remove", 1),
    "index": _list_simple("index", 1, out=lambda t: INT),
    "count": _list_simple("count", 1, out=lambda t: INT),
    "extend": _list_extend,
    "insert": _list_insert,
    "pop": _list_pop,
    "sort": _list_sort,
    "clear": _list_nullary("clear"),
    "reverse": _list_nullary("reverse"),
    "copy": _list_nullary("copy", returns_self_type=True),
}


# -- dicts ------------------------------------------------------------------------------------------


def _key(em, node, d: Value, sv: SugaredValue) -> Value:
    v = sv.as_value(em, node)
    return em.coerce(v, d.type.key, node, f"a dict with {d.type.key} keys cannot take a key of type {v.type}")  # type: ignore[attr-defined]


def _val(em, node, d: Value, sv: SugaredValue) -> Value:
    v = sv.as_value(em, node)
    return em.coerce(v, d.type.value, node, f"a dict with {d.type.value} values cannot hold a value of type {v.type}")  # type: ignore[attr-defined]


def _dict_view(op: str):
    def impl(em, node, d, args, kwargs):
        _arity(em, node, op, args, kwargs, 0, 0)
        t = d.type
        out = {"keys": ListType(t.key), "values": ListType(t.value), "items": ListType(TupleType([t.key, t.value]))}[op]
        return SimpleValue(em.op(f"prim::{op}", [d], [out]).output)

    return impl


def _dict_get(em, node, d, args, kwargs):
    _arity(em, node, "get", args, kwargs, 1, 2)
    key = _key(em, node, d, args[0])
    if len(args) == 1 or args[1].static_value() is None:
        return SimpleValue(em.op("prim::get.dict", [d, key], [OptionalType(d.type.value)]).output)
    return SimpleValue(em.op("prim::get.default", [d, key, _val(em, node, d, args[1])], [d.type.value]).output)


def _dict_setdefault(em, node, d, args, kwargs):
    _arity(em, node, "setdefault", args, kwargs, 2, 2)
    return SimpleValue(em.op("prim::setdefault", [d, _key(em, node, d, args[0]), _val(em, node, d, args[1])], [d.type.value]).output)


def _dict_update(em, node, d, args, kwargs):
    _arity(em, node, "update", args, kwargs, 1, 1)
    other = args[0].as_value(em, node)
    if other.type != d.type:
        em.fail(node, f"cannot update a {d.type} with a {other.type}")
    em.op("prim::update", [d, other], [])
    return SimpleValue(em.const(None))


def _dict_pop(em, node, d, args, kwargs):
    _arity(em, node, "pop", args, kwargs, 1, 2)
    key = _key(em, node, d, args[0])
    if len(args) == 1:
        return SimpleValue(em.op("prim::pop.dict", [d, key], [d.type.value]).output)
    return SimpleValue(em.op("prim::pop.dict_default", [d, key, _val(em, node, d, args[1])], [d.type.value]).output)


def _dict_clear(em, node, d, args, kwargs):
    _arity(em, node, "clear", args, kwargs, 0, 0)
    em.op("prim::clear.dict", [d], [])
    return SimpleValue(em.const(None))


def _dict_copy(em, node, d, args, kwargs):
    _arity(em, node, "copy", args, kwargs, 0, 0)
    return SimpleValue(em.op("prim::copy.dict", [d], [d.type]).output)


def _dict_popitem(em, node, d, args, kwargs):
    _arity(em, node, "popitem", args, kwargs, 0, 0)
    t = d.type
    key, value = em.op("prim::popitem", [d], [t.key, t.value]).outputs
    return SimpleValue(em.op("prim::TupleConstruct", [key, value], [TupleType([t.key, t.value])]).output)


DICT_METHODS = {
    "popitem": _dict_popitem,
    "keys": _dict_view("keys"),
    "values": _dict_view("values"),
    "items": _dict_view("items"),
    "get": _dict_get,
    "setdefault": _dict_setdefault,
    "update": _dict_update,
    "pop": _dict_pop,
    "clear": _dict_clear,
    "copy": _dict_copy,
}


# -- methods written as script helpers (helpers.py) ------------------------------------------------------

# (receiver type, name) -> (helpers function name, number of arguments after the receiver)
_HELPER_METHODS = {
    (FLOAT, "is_integer"): ("float_is_integer", 0),
    (INT, "bit_length"): ("int_bit_length", 0),
    (STR, "removeprefix"): ("str_removeprefix", 1),
    (STR, "removesuffix"): ("str_removesuffix", 1),
}
_STR_REFUSED = {
    "casefold": "script has no Unicode case-folding tables; use s.lower() (the same for ASCII text)",
    "encode": "script has no bytes type; work on the str, or encode outside the scripted code",
}


def _helper_method(fn_name: str, n: int):
    def impl(em, node, v, args, kwargs):
        from . import helpers
        from .functions_value import PythonFunctionValue

        what = f"{v.type}.{fn_name.split('_', 1)[1]}"
        if kwargs:
            em.fail(node, f"{what}() takes no keyword arguments")
        if len(args) != n:
            em.fail(node, f"{what}() takes exactly {n} argument{'s' if n != 1 else ''} ({len(args)} given)")
        return PythonFunctionValue(getattr(helpers, fn_name), what).call(em, node, [SimpleValue(v)] + list(args), {})

    return impl


# -- strings -----------------------------------------------------------------------------------------

# name -> (argument defaults after `self`: value, REQUIRED or NO_INT (an `int?` None), result type);
# a tuple result means an op with one output per item, returned as a tuple.
REQUIRED = object()
NO_INT = object()
_RANGE = (REQUIRED, NO_INT, NO_INT)  # (sub, start=None, end=None)
STR_METHODS = {
    "lower": ((), STR), "upper": ((), STR), "capitalize": ((), STR), "title": ((), STR), "swapcase": ((), STR),
    "isdigit": ((), BOOL), "isalpha": ((), BOOL), "isalnum": ((), BOOL), "isspace": ((), BOOL),
    "islower": ((), BOOL), "isupper": ((), BOOL), "isidentifier": ((), BOOL), "splitlines": ((False,), ListType(STR)),
    "isdecimal": ((), BOOL), "isnumeric": ((), BOOL), "istitle": ((), BOOL), "isprintable": ((), BOOL),
    "strip": ((None,), STR), "lstrip": ((None,), STR), "rstrip": ((None,), STR),
    "split": ((None, -1), ListType(STR)), "rsplit": ((None, -1), ListType(STR)),
    "join": ((REQUIRED,), STR), "startswith": (_RANGE, BOOL), "endswith": (_RANGE, BOOL),
    "find": (_RANGE, INT), "rfind": (_RANGE, INT), "index": (_RANGE, INT), "rindex": (_RANGE, INT), "count": (_RANGE, INT),
    "replace": ((REQUIRED, REQUIRED, -1), STR), "zfill": ((REQUIRED,), STR),
    "center": ((REQUIRED, " "), STR), "ljust": ((REQUIRED, " "), STR), "rjust": ((REQUIRED, " "), STR),
    "partition": ((REQUIRED,), TupleType([STR, STR, STR])), "rpartition": ((REQUIRED,), TupleType([STR, STR, STR])),
    "expandtabs": ((8,), STR),
}  # fmt: skip
# methods that take arguments by keyword too: name -> the keywords, in order
_STR_KEYWORDS = {"splitlines": ("keepends",), "expandtabs": ("tabsize",), "split": ("sep", "maxsplit"), "rsplit": ("sep", "maxsplit")}


def _str_method(em, node, s: Value, args, kwargs, name: str):
    if name == "format":
        if kwargs:
            em.fail(node, "str.format with keyword arguments is not supported", hint="use positional fields: '{} {}'.format(a, b), or an f-string")
        return SimpleValue(em.op("prim::format", [s] + [a.as_value(em, node) for a in args], [STR]).output)
    defaults, result = STR_METHODS[name]
    if kwargs:
        names = _STR_KEYWORDS.get(name, ())
        unknown = [k for k in kwargs if k not in names or names.index(k) < len(args)]
        if unknown:
            em.fail(node, f"str.{name}() got an unexpected or repeated keyword argument '{unknown[0]}'", hint="pass the arguments by position")
        # fill the positions up to the last keyword given (the defaults in between)
        last = max(names.index(k) for k in kwargs)
        filled = list(args)
        for i in range(len(args), last + 1):
            filled.append(kwargs[names[i]] if names[i] in kwargs else _default_arg(em, defaults[i]))
        args = filled
    if len(args) > len(defaults):
        em.fail(node, f"str.{name}() takes at most {len(defaults)} arguments ({len(args)} given)")
    if name in ("startswith", "endswith") and args:
        prefixes = _str_tuple_items(em, node, args[0])
        if prefixes is not None:  # s.startswith(("a", "b")): any of them
            rest = list(args[1:])
            acc = None
            for p in prefixes:
                r = _str_method(em, node, s, [SimpleValue(p)] + rest, {}, name).value
                acc = r if acc is None else em.op("prim::or.bool", [acc, r], [BOOL]).output
            return SimpleValue(acc if acc is not None else em.const(False))
    values = [a.as_value(em, node) for a in args]
    for d in defaults[len(args):]:
        if d is REQUIRED:
            em.fail(node, f"str.{name}() is missing an argument")
        if d is NO_INT:
            values.append(em.const(None, OptionalType(INT)))
        else:
            values.append(em.const(d, OptionalType(STR)) if d is None else em.const(d))
    if isinstance(result, TupleType):
        outs = em.op(f"prim::str_{name}", [s] + values, list(result.elems)).outputs
        return SimpleValue(em.op("prim::TupleConstruct", list(outs), [result]).output)
    return SimpleValue(em.op(f"prim::str_{name}", [s] + values, [result]).output)


def _default_arg(em, d) -> SugaredValue:
    """A str method's default argument (from STR_METHODS) as a value."""
    if d is NO_INT:
        return SimpleValue(em.const(None, OptionalType(INT)))
    return SimpleValue(em.const(d, OptionalType(STR)) if d is None else em.const(d))


def _str_tuple_items(em, node, sv: SugaredValue):
    """The str values of a tuple argument (`s.startswith(("a", "b"))`), or None when it is no tuple."""
    from .sugared import TupleSugar

    if isinstance(sv, TupleSugar):
        items = [i.as_value(em, node) for i in sv.items]
    else:
        v = sv.as_value(em, node)
        if not isinstance(v.type, TupleType):
            return None
        items = list(em.op("prim::TupleUnpack", [v], list(v.type.elems)).outputs) if v.type.elems else []
    for i in items:
        if i.type != STR:
            em.fail(node, f"a tuple of prefixes must hold str values, not {i.type}")
    return items


__all__ = ["value_attr", "call_value", "TensorMethod", "BoundMethod"]
