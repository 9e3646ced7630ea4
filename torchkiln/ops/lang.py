"""Python-language `prim::` ops: what the script compiler emits for Python code.

Numbers, strings, lists, dicts, builtins (`len`, `min`, `abs`, `round`...),
the `math` module, formatting and grad mode. Tensor operations are never
here: they are ATen ops read from the dispatcher.

Note [Language op set]
----------------------
The set is kept small and generic because every op must also be written in
C++ (`torchkiln/csrc`):

- container ops are generic over the element type with type variables
  (`prim::append.list(t[](a!) self, t el) -> ()`), never one op per element
  type;
- binary number ops come in three overloads: `.int` (int, int), `.float`
  (float, float) and `.Scalar` (a `Scalar`, i.e. a number of unknown kind,
  on either side). The compiler converts mixed operands first
  (`1 + 2.0` is `prim::add.float(prim::Float.Scalar(1), 2.0)`) and `bool`
  operands to `int`, so no `int_float` overloads exist;
- comparisons (`eq`, `ne`, `lt`, `le`, `gt`, `ge`) are generic over one
  type `t`: both operands have the same type after conversion;
- methods of `str` are `prim::str_<method>`; functions of the `math` module
  are `prim::math_<function>`;
- ops that Python spells as statements returning None (`l.append(x)`,
  `d[k] = v`) return `()`; the compiler supplies the None;
- ops whose Python result is a fixed-size tuple (`divmod`, `math.modf`,
  `str.partition`, `dict.popitem`) have one output per item, and the
  compiler builds the tuple (`prim::TupleConstruct`): no prim returns a tuple
  type.

Semantics are Python's: `//` and `%` floor, `/` is true division,
`int(x)` truncates, `round` rounds half to even, `str(1.5)` is `'1.5'`.
`prim::pow.int` returns an `int` (it raises for a negative exponent: write
`float(a) ** b` for that), unlike TorchScript's `float`.
"""
from __future__ import annotations

import math
import operator
import threading
import warnings

import torch

from .registry import declare_prim

# -- numbers ------------------------------------------------------------------------


def _declare_binary(name: str, fn, symbol: str, result_int: str = "int", result_scalar: str = "Scalar") -> None:
    emit = f"({{0}} {symbol} {{1}})" if symbol else None
    declare_prim(f"prim::{name}.int(int a, int b) -> {result_int}", emit=emit)(fn)
    declare_prim(f"prim::{name}.float(float a, float b) -> float", emit=emit)(fn)
    declare_prim(f"prim::{name}.Scalar(Scalar a, Scalar b) -> {result_scalar}", emit=emit)(fn)


def _pow_int(a, b):
    if isinstance(a, int) and isinstance(b, int) and b < 0:
        raise ValueError(f"int ** int with a negative exponent ({a} ** {b}) has no int result; write float({a}) ** {b}")
    return a**b


_declare_binary("add", operator.add, "+")
_declare_binary("sub", operator.sub, "-")
_declare_binary("mul", operator.mul, "*")
_declare_binary("truediv", operator.truediv, "/", result_int="float", result_scalar="float")
_declare_binary("floordiv", operator.floordiv, "//")
_declare_binary("mod", operator.mod, "%")
declare_prim("prim::pow.int(int a, int b) -> int")(_pow_int)
def _pow_real(a, b):
    """`a ** b` of real numbers; a result Python would make complex (`(-8.0) ** (1/3)`) raises,
    as in the C++ runtime (docs/runtime.md): a float result cannot hold it."""
    r = a**b
    if isinstance(r, complex) and not isinstance(a, complex) and not isinstance(b, complex):
        raise ValueError("a negative float cannot be raised to a fractional power (the result is complex)")
    return r


declare_prim("prim::pow.float(float a, float b) -> float")(_pow_real)
declare_prim("prim::pow.Scalar(Scalar a, Scalar b) -> Scalar")(_pow_real)

for _name, _fn, _sym in (("and", operator.and_, "&"), ("or", operator.or_, "|"), ("xor", operator.xor, "^")):
    declare_prim(f"prim::{_name}.int(int a, int b) -> int", emit=f"({{0}} {_sym} {{1}})")(_fn)
    declare_prim(f"prim::{_name}.bool(bool a, bool b) -> bool", emit=f"({{0}} {_sym} {{1}})")(_fn)
declare_prim("prim::lshift.int(int a, int b) -> int", emit="({0} << {1})")(operator.lshift)
declare_prim("prim::rshift.int(int a, int b) -> int", emit="({0} >> {1})")(operator.rshift)
declare_prim("prim::invert.int(int a) -> int", emit="(~{0})")(operator.invert)

for _t in ("int", "float", "Scalar"):
    declare_prim(f"prim::neg.{_t}({_t} a) -> {_t}", emit="(-{0})")(operator.neg)
    declare_prim(f"prim::abs.{_t}({_t} a) -> {_t}", emit="abs({0})")(abs)
for _t in ("int", "float"):
    declare_prim(f"prim::min.{_t}({_t} a, {_t} b) -> {_t}", emit="min({0}, {1})")(min)
    declare_prim(f"prim::max.{_t}({_t} a, {_t} b) -> {_t}", emit="max({0}, {1})")(max)


# `divmod` has two outputs (the quotient and the remainder); the compiler builds the tuple.
declare_prim("prim::divmod.int(int a, int b) -> (int, int)", emit="divmod({0}, {1})")(divmod)
declare_prim("prim::divmod.float(float a, float b) -> (float, float)", emit="divmod({0}, {1})")(divmod)
declare_prim("prim::hex(int i) -> str", emit="hex({0})")(hex)
declare_prim("prim::oct(int i) -> str", emit="oct({0})")(oct)
declare_prim("prim::bin(int i) -> str", emit="bin({0})")(bin)


@declare_prim("prim::round.float(float a) -> int", emit="round({0})")
def _round(a):
    return round(a)


@declare_prim("prim::round.ndigits(float a, int ndigits) -> float", emit="round({0}, {1})")
def _round_ndigits(a, ndigits):
    return round(a, ndigits)


# -- comparisons and truth --------------------------------------------------------------

for _name, _sym in (("eq", "=="), ("ne", "!="), ("lt", "<"), ("le", "<="), ("gt", ">"), ("ge", ">=")):
    declare_prim(f"prim::{_name}(t a, t b) -> bool", emit=f"({{0}} {_sym} {{1}})")(getattr(operator, _name))


@declare_prim("prim::is(Any a, Any b) -> bool", emit="({0} is {1})")
def _is(a, b):
    return a is b


@declare_prim("prim::isnot(Any a, Any b) -> bool", emit="({0} is not {1})")
def _isnot(a, b):
    return a is not b


@declare_prim("prim::not(bool a) -> bool", emit="(not {0})")
def _not(a):
    return not a


# -- conversions ------------------------------------------------------------------------
# `prim::{Int,Float,Bool}.Tensor`, `prim::{Int,Float}.Scalar` and `prim::device.str`
# are in ops/prim.py.

declare_prim("prim::Int.str(str a) -> int", emit="int({0})")(int)
declare_prim("prim::Float.str(str a) -> float", emit="float({0})")(float)
declare_prim("prim::Bool.Scalar(Scalar a) -> bool", emit="bool({0})")(bool)
declare_prim("prim::Bool.str(str a) -> bool", emit="bool({0})")(bool)
declare_prim("prim::Bool.list(t[] a) -> bool", emit="bool({0})")(bool)
declare_prim("prim::Bool.dict(Dict(k, v) a) -> bool", emit="bool({0})")(bool)
declare_prim("prim::str(t a) -> str", emit="str({0})")(str)


# -- the math module ---------------------------------------------------------------------

_MATH_FLOAT = (
    "sqrt", "exp", "log", "log10", "log2", "log1p", "expm1", "sin", "cos", "tan", "asin", "acos", "atan",
    "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "erf", "erfc", "gamma", "lgamma", "fabs",
    "degrees", "radians",
)  # fmt: skip
for _name in _MATH_FLOAT:
    declare_prim(f"prim::math_{_name}(float x) -> float")(getattr(math, _name))
for _name in ("floor", "ceil", "trunc"):
    declare_prim(f"prim::math_{_name}(float x) -> int")(getattr(math, _name))
for _name in ("isnan", "isinf", "isfinite"):
    declare_prim(f"prim::math_{_name}(float x) -> bool")(getattr(math, _name))
for _name in ("pow", "atan2", "fmod", "copysign", "hypot", "remainder"):
    declare_prim(f"prim::math_{_name}(float x, float y) -> float")(getattr(math, _name))
declare_prim("prim::math_log.base(float x, float base) -> float")(math.log)
declare_prim("prim::math_gcd(int a, int b) -> int")(math.gcd)
declare_prim("prim::math_factorial(int a) -> int")(math.factorial)
declare_prim("prim::math_modf(float x) -> (float, float)")(math.modf)  # two outputs: (fractional, integral)

# -- builtins over lists ---------------------------------------------------------------------

declare_prim("prim::sum.int(int[] l) -> int", emit="sum({0})")(sum)
declare_prim("prim::sum.float(float[] l) -> float", emit="sum({0})")(sum)
declare_prim("prim::any(bool[] l) -> bool", emit="any({0})")(any)
declare_prim("prim::all(bool[] l) -> bool", emit="all({0})")(all)
declare_prim("prim::min.list(t[] l) -> t", emit="min({0})")(min)
declare_prim("prim::max.list(t[] l) -> t", emit="max({0})")(max)


@declare_prim("prim::sorted(t[] l, bool reverse) -> t[]", emit="sorted({0}, reverse={1})")
def _sorted(lst, reverse):
    return sorted(lst, reverse=reverse)


@declare_prim("prim::argsort.list(t[] keys, bool reverse) -> int[]")
def _argsort_list(keys, reverse):
    """The positions of `keys` in sorted order: stable, equal keys keep their order (reverse too, as Python)."""
    return sorted(range(len(keys)), key=keys.__getitem__, reverse=reverse)


@declare_prim("prim::range_length(int start, int stop, int step) -> int", emit="len(range({0}, {1}, {2}))")
def _range_length(start, stop, step):
    return len(range(start, stop, step))


@declare_prim("prim::range_list(int start, int stop, int step) -> int[]", emit="list(range({0}, {1}, {2}))")
def _range_list(start, stop, step):
    return list(range(start, stop, step))


@declare_prim("prim::broadcast_shapes(int[][] shapes) -> int[]")
def _broadcast_shapes(shapes):
    return list(torch.broadcast_shapes(*shapes))


# -- strings -----------------------------------------------------------------------------------

declare_prim("prim::add.str(str a, str b) -> str", emit="({0} + {1})")(operator.add)
declare_prim("prim::mul.str(str a, int n) -> str", emit="({0} * {1})")(operator.mul)
declare_prim("prim::len.str(str s) -> int", emit="len({0})")(len)
declare_prim("prim::getitem.str(str s, int index) -> str", emit="{0}[{1}]")(operator.getitem)
declare_prim("prim::contains.str(str s, str sub) -> bool", emit="({1} in {0})")(operator.contains)
declare_prim("prim::list.str(str s) -> str[]", emit="list({0})")(list)
declare_prim("prim::ord(str c) -> int", emit="ord({0})")(ord)
declare_prim("prim::chr(int i) -> str", emit="chr({0})")(chr)


@declare_prim("prim::slice.str(str s, int? start, int? stop, int? step) -> str", emit="{0}[{1}:{2}:{3}]")
def _slice_str(s, start, stop, step):
    return s[start:stop:step]


@declare_prim("prim::format(str fmt, ...) -> str")
def _format(fmt, *args):
    return fmt.format(*args)


@declare_prim("prim::percent_format(str fmt, ...) -> str")
def _percent_format(fmt, *args):
    return fmt % args


_STR_METHODS = (
    # name, schema tail (after `str self`), result
    ("lower", "", "str"), ("upper", "", "str"), ("capitalize", "", "str"), ("title", "", "str"),
    ("swapcase", "", "str"), ("isdigit", "", "bool"), ("isalpha", "", "bool"), ("isalnum", "", "bool"),
    ("isspace", "", "bool"), ("islower", "", "bool"), ("isupper", "", "bool"), ("isidentifier", "", "bool"),
    ("strip", ", str? chars", "str"), ("lstrip", ", str? chars", "str"), ("rstrip", ", str? chars", "str"),
    ("split", ", str? sep, int maxsplit", "str[]"), ("rsplit", ", str? sep, int maxsplit", "str[]"),
    ("splitlines", ", bool keepends", "str[]"), ("join", ", str[] items", "str"),
    ("startswith", ", str prefix, int? start, int? end", "bool"), ("endswith", ", str suffix, int? start, int? end", "bool"),
    ("find", ", str sub, int? start, int? end", "int"), ("rfind", ", str sub, int? start, int? end", "int"),
    ("index", ", str sub, int? start, int? end", "int"), ("rindex", ", str sub, int? start, int? end", "int"),
    ("count", ", str sub, int? start, int? end", "int"),
    ("partition", ", str sep", "(str, str, str)"), ("rpartition", ", str sep", "(str, str, str)"),
    ("expandtabs", ", int tabsize", "str"), ("isdecimal", "", "bool"), ("isnumeric", "", "bool"),
    ("istitle", "", "bool"), ("isprintable", "", "bool"),
    ("replace", ", str old, str new, int count", "str"), ("zfill", ", int width", "str"),
    ("center", ", int width, str fillchar", "str"), ("ljust", ", int width, str fillchar", "str"),
    ("rjust", ", int width, str fillchar", "str"),
)  # fmt: skip


def _str_method(name: str):
    method = getattr(str, name)

    def impl(self, *args):
        return method(self, *args)

    impl.__name__ = f"str_{name}"
    return impl


for _name, _tail, _ret in _STR_METHODS:
    _n_args = _tail.count(",")
    _emit = "{0}.%s(%s)" % (_name, ", ".join("{%d}" % (i + 1) for i in range(_n_args)))
    declare_prim(f"prim::str_{_name}(str self{_tail}) -> {_ret}", emit=_emit)(_str_method(_name))

# -- lists -------------------------------------------------------------------------------------

declare_prim("prim::len.list(t[] l) -> int", emit="len({0})")(len)
declare_prim("prim::getitem.list(t[] l, int index) -> t", emit="{0}[{1}]")(operator.getitem)
declare_prim("prim::contains.list(t[] l, t el) -> bool", emit="({1} in {0})")(operator.contains)
declare_prim("prim::add.list(t[] a, t[] b) -> t[]", emit="({0} + {1})")(operator.add)
declare_prim("prim::mul.list(t[] l, int n) -> t[]", emit="({0} * {1})")(operator.mul)
declare_prim("prim::list.list(t[] l) -> t[]", emit="list({0})")(list)
declare_prim("prim::copy.list(t[] l) -> t[]", emit="{0}.copy()")(list.copy)
declare_prim("prim::index.list(t[] l, t el) -> int", emit="{0}.index({1})")(list.index)
declare_prim("prim::count.list(t[] l, t el) -> int", emit="{0}.count({1})")(list.count)


@declare_prim("prim::slice.list(t[] l, int? start, int? stop, int? step) -> t[]", emit="{0}[{1}:{2}:{3}]")
def _slice_list(lst, start, stop, step):
    return lst[start:stop:step]


@declare_prim("prim::setitem.list(t[](a!) l, int index, t el) -> ()", emit="{0}.__setitem__({1}, {2})")
def _setitem_list(lst, index, el):
    lst[index] = el


@declare_prim("prim::delitem.list(t[](a!) l, int index) -> ()", emit="{0}.__delitem__({1})")
def _delitem_list(lst, index):
    del lst[index]


declare_prim("prim::append.list(t[](a!) self, t el) -> ()", emit="{0}.append({1})")(list.append)
declare_prim("prim::extend.list(t[](a!) self, t[] other) -> ()", emit="{0}.extend({1})")(list.extend)
declare_prim("prim::insert.list(t[](a!) self, int index, t el) -> ()", emit="{0}.insert({1}, {2})")(list.insert)
declare_prim("prim::pop.list(t[](a!) self, int index) -> t", emit="{0}.pop({1})")(list.pop)
declare_prim("prim::remove.list(t[](a!) self, t el) -> ()", emit="{0}.remove({1})")(list.remove)
declare_prim("prim::clear.list(t[](a!) self) -> ()", emit="{0}.clear()")(list.clear)
declare_prim("prim::reverse.list(t[](a!) self) -> ()", emit="{0}.reverse()")(list.reverse)


@declare_prim("prim::sort.list(t[](a!) self, bool reverse) -> ()", emit="{0}.sort(reverse={1})")
def _sort_list(lst, reverse):
    lst.sort(reverse=reverse)


# -- dicts --------------------------------------------------------------------------------------

declare_prim("prim::len.dict(Dict(k, v) self) -> int", emit="len({0})")(len)
declare_prim("prim::getitem.dict(Dict(k, v) self, k key) -> v", emit="{0}[{1}]")(operator.getitem)
declare_prim("prim::contains.dict(Dict(k, v) self, k key) -> bool", emit="({1} in {0})")(operator.contains)
declare_prim("prim::keys(Dict(k, v) self) -> k[]", emit="list({0}.keys())")(lambda d: list(d.keys()))
declare_prim("prim::values(Dict(k, v) self) -> v[]", emit="list({0}.values())")(lambda d: list(d.values()))
declare_prim("prim::items(Dict(k, v) self) -> (k, v)[]", emit="list({0}.items())")(lambda d: list(d.items()))
declare_prim("prim::get.dict(Dict(k, v) self, k key) -> v?", emit="{0}.get({1})")(dict.get)
declare_prim("prim::get.default(Dict(k, v) self, k key, v default) -> v", emit="{0}.get({1}, {2})")(dict.get)
declare_prim("prim::copy.dict(Dict(k, v) self) -> Dict(k, v)", emit="dict({0})")(dict)
declare_prim("prim::setdefault(Dict(k, v)(a!) self, k key, v default) -> v", emit="{0}.setdefault({1}, {2})")(dict.setdefault)
declare_prim("prim::update(Dict(k, v)(a!) self, Dict(k, v) other) -> ()", emit="{0}.update({1})")(dict.update)
declare_prim("prim::pop.dict(Dict(k, v)(a!) self, k key) -> v", emit="{0}.pop({1})")(dict.pop)
declare_prim("prim::pop.dict_default(Dict(k, v)(a!) self, k key, v default) -> v", emit="{0}.pop({1}, {2})")(dict.pop)
declare_prim("prim::clear.dict(Dict(k, v)(a!) self) -> ()", emit="{0}.clear()")(dict.clear)
# two outputs (the key and the value); the compiler builds the tuple
declare_prim("prim::popitem(Dict(k, v)(a!) self) -> (k, v)", emit="{0}.popitem()")(dict.popitem)


@declare_prim("prim::dict_zip(k[] keys, v[] values) -> Dict(k, v)", emit="dict(zip({0}, {1}))")
def _dict_zip(keys, values):
    """`dict(zip(keys, values))`: the shorter list decides the length; a repeated key keeps its last value."""
    return dict(zip(keys, values))


@declare_prim("prim::setitem.dict(Dict(k, v)(a!) self, k key, v value) -> ()", emit="{0}.__setitem__({1}, {2})")
def _setitem_dict(d, key, value):
    d[key] = value


@declare_prim("prim::delitem.dict(Dict(k, v)(a!) self, k key) -> ()", emit="{0}.__delitem__({1})")
def _delitem_dict(d, key):
    del d[key]


# -- effects --------------------------------------------------------------------------------------


@declare_prim("prim::warn(str message) -> ()", pure=False)
def _warn(message):
    warnings.warn(message, stacklevel=2)


@declare_prim("prim::is_grad_enabled() -> bool", pure=False, deletable=True, emit="torch.is_grad_enabled()")
def _is_grad_enabled():
    return torch.is_grad_enabled()


@declare_prim("prim::set_grad_enabled(bool enabled) -> ()", pure=False, sets_mode="grad", emit="torch._C._set_grad_enabled({0})")
def _set_grad_enabled(enabled):
    torch._C._set_grad_enabled(enabled)


# -- autograd (Note [Autograd calls in script] in frontend/script/autograd.py) -----------------------
# TorchScript's `aten::grad` and `aten::backward` are JIT-only registrations, not dispatcher
# ops: these are their prims, with TorchScript's schemas (`autograd_backward` also takes
# `inputs`, as torch.autograd.backward does). Both run the autograd engine (`runs_autograd`).

_GRAD_SCHEMA = (
    "prim::autograd_grad(Tensor[] outputs, Tensor[] inputs, Tensor?[]? grad_outputs=None, bool? retain_graph=None, "
    "bool create_graph=False, bool allow_unused=False) -> Tensor?[]"
)
_BACKWARD_SCHEMA = (
    "prim::autograd_backward(Tensor[] tensors, Tensor?[]? grad_tensors=None, bool? retain_graph=None, "
    "bool create_graph=False, Tensor[]? inputs=None) -> ()"
)


@declare_prim(_GRAD_SCHEMA, pure=False, runs_autograd=True,
              emit="list(torch.autograd.grad({0}, {1}, {2}, {3}, {4}, allow_unused={5}))")  # fmt: skip
def _autograd_grad(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused):
    """`torch.autograd.grad`: the gradients as a list, None for an unused input (with allow_unused)."""
    return list(torch.autograd.grad(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused=allow_unused))


@declare_prim(_BACKWARD_SCHEMA, pure=False, runs_autograd=True,
              emit="torch.autograd.backward({0}, {1}, {2}, {3}, inputs={4})")  # fmt: skip
def _autograd_backward(tensors, grad_tensors, retain_graph, create_graph, inputs):
    """`torch.autograd.backward` (and `Tensor.backward`): accumulates into the leaves' `.grad`."""
    torch.autograd.backward(tensors, grad_tensors, retain_graph, create_graph, inputs=inputs)


# -- tensors from Python values -------------------------------------------------------------------


@declare_prim("prim::tensor(t data, ScalarType? dtype, Device? device, bool requires_grad) -> Tensor")
def _tensor(data, dtype, device, requires_grad):
    """`torch.tensor(data, dtype=, device=, requires_grad=)` of a number or (nested) list."""
    return torch.tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)


# -- calls back into Python ----------------------------------------------------------------------------

_PYTHON_FUNCTIONS: dict = {}


def register_python_function(key: str, fn) -> str:
    """Make `fn` callable by `prim::PythonOp[name=key]` in this process; returns `key`."""
    _PYTHON_FUNCTIONS[key] = fn
    return key


@declare_prim("prim::PythonOp(...) -> ...", pure=False, attrs=("name",))
def _python_op(*args, name):
    """A call of an `@ignore` Python function: runs in Python only; not saved, no C++ version.

    The script compiler always gives the node exactly one output (None for
    a function returning nothing), so the result is that value. The C++
    runtime and the archive refuse it (the program must be exported without
    Python calls, as with TorchScript).
    """
    fn = _PYTHON_FUNCTIONS.get(name)
    if fn is None:
        raise RuntimeError(f"the Python function {name!r} called by this program is not available in this process (@ignore functions are not saved)")
    return fn(*args)


# -- properties the language reads (tensor flags, device parts) -----------------------------------------

for _flag in ("is_nested", "is_sparse", "is_quantized", "is_meta", "is_cpu", "is_mkldnn"):
    declare_prim(f"prim::{_flag}(Tensor a) -> bool", emit="{0}.%s" % _flag)(operator.attrgetter(_flag))
for _flag in ("is_xla", "is_xpu", "is_mps", "is_vulkan", "is_ipu", "is_sparse_csr", "is_maia", "is_mtia"):
    declare_prim(f"prim::{_flag}(Tensor a) -> bool", emit="{0}.%s" % _flag)(operator.attrgetter(_flag))
declare_prim("prim::nbytes(Tensor a) -> int", emit="{0}.nbytes")(operator.attrgetter("nbytes"))
declare_prim("prim::itemsize(Tensor a) -> int", emit="{0}.itemsize")(operator.attrgetter("itemsize"))
declare_prim("prim::name(Tensor a) -> str?", emit="{0}.name")(operator.attrgetter("name"))
declare_prim("prim::stride(Tensor a) -> int[]", emit="list({0}.stride())")(lambda a: list(a.stride()))
# .grad changes when backward() runs: not pure (no CSE or hoisting)
declare_prim("prim::grad(Tensor a) -> Tensor?", pure=False, emit="{0}.grad")(operator.attrgetter("grad"))
declare_prim("prim::device_type(Device d) -> str", emit="{0}.type")(operator.attrgetter("type"))
declare_prim("prim::device_index(Device d) -> int?", emit="{0}.index")(operator.attrgetter("index"))


# -- dtype limits: torch.finfo / torch.iinfo (Note [finfo and iinfo] in frontend/script/typeinfo.py) --------

# One op per field, typed as the Python attribute: `prim::finfo_min(ScalarType dtype) -> float`.
# `dtype` is the name (`'float32'`; a complex dtype's real type). Errors are torch's: TypeError
# for a dtype of the wrong kind, NotImplementedError for a field torch lacks for the dtype.
_FINFO_FIELDS = (("min", "float"), ("max", "float"), ("eps", "float"), ("tiny", "float"),
                ("smallest_normal", "float"), ("resolution", "float"), ("bits", "int"), ("dtype", "str"))  # fmt: skip
_IINFO_FIELDS = (("min", "int"), ("max", "int"), ("bits", "int"), ("dtype", "str"))


def _type_info_field(info, field: str):
    def impl(dtype):
        return getattr(info(dtype), field)

    impl.__name__ = f"{info.__name__}_{field}"
    return impl


for _info, _fields in ((torch.finfo, _FINFO_FIELDS), (torch.iinfo, _IINFO_FIELDS)):
    for _field, _ret in _fields:
        _kind = _info.__name__
        declare_prim(f"prim::{_kind}_{_field}(ScalarType dtype) -> {_ret}", emit=f"torch.{_kind}({{0}}).{_field}")(_type_info_field(_info, _field))


# The default dtype when the program runs (torch.zeros() without a dtype reads it then too).
@declare_prim("prim::get_default_dtype() -> ScalarType", pure=False, deletable=True, emit="torch.get_default_dtype()")
def _get_default_dtype():
    return torch.get_default_dtype()


@declare_prim("prim::manual_seed(int seed) -> ()", pure=False, emit="torch.manual_seed({0})")
def _manual_seed(seed):
    torch.manual_seed(seed)


@declare_prim("prim::is_autocast_enabled() -> bool", pure=False, deletable=True, emit="torch.is_autocast_enabled()")
def _is_autocast_enabled():
    return torch.is_autocast_enabled()


# -- autocast -------------------------------------------------------------------------------------

# Note [Autocast in script]
# -------------------------
# `with torch.autocast(device_type, dtype, enabled, cache_enabled):` is
#
#     prim::autocast_enter[device_type="cpu"](%dtype, %enabled, %cache_enabled)
#     ...the body...
#     prim::autocast_exit()
#
# (`exits.py` runs the exit on every normal way out of the body). The enter
# does what `torch.autocast(...)` and its `__enter__` do
# (torch/amp/autocast_mode.py): `dtype` None is the device's autocast dtype,
# `cache_enabled` None the current cache flag; an enabled block warns and
# disables autocast for a dtype other than bfloat16/float16 (any device but
# "cuda") or when CUDA is not available ("cuda"); then it sets the device's
# enabled flag and dtype, increments the nesting and sets the cache flag.
# The device type is an attribute: the compiler checks it (it must be a
# constant string autocast supports).
#
# What the exit restores is not a value of the graph: the enter pushes the
# previous enabled flag, dtype and cache flag on a per-thread list of the
# blocks entered and not left, and the exit pops the innermost, decrements
# the nesting (clearing the autocast cache at 0) and restores them, as
# `__exit__` does. Blocks nest properly (script has no `try`, so the only
# way out of a body other than its end is an exception, which leaves the
# whole call), so the list is a stack per call. An exception leaving a call
# (`autocast_unwind`, called by every executor: the generated code's
# `except`, `interpreter.run_graph`, `run_code` in the C++ interpreter) leaves
# the blocks the call entered, innermost first, as Python's `with` would.
# The C++ runtime keeps its own list (csrc/src/prims_autocast.cpp).
#
# Autocast works at the dispatcher, so the ops in the body need nothing
# else; the passes must not move an op across an enter or exit or merge it
# with one on the other side (the op table's `sets_mode`, `passes/cse.py`,
# `passes/constant_prop.py`).

_entered = threading.local()


def _entered_blocks() -> list:
    blocks = getattr(_entered, "blocks", None)
    if blocks is None:
        blocks = _entered.blocks = []
    return blocks


def _autocast_allowed(device_type: str, dtype: torch.dtype) -> bool:
    """`torch.autocast.__init__`'s checks of an enabled block: False where it warns and disables autocast."""
    if device_type == "cuda":
        if torch.cuda.amp.common.amp_definitely_not_available():
            warnings.warn("CUDA is not available or torch_xla is imported. Disabling autocast.", stacklevel=3)
            return False
        if dtype == torch.bfloat16 and not torch.cuda.is_bf16_supported():
            raise RuntimeError("Current CUDA Device does not support bfloat16. Please switch dtype to float16.")
        return True
    if dtype in (torch.bfloat16, torch.float16):
        return True
    name = device_type.upper()
    warnings.warn(
        f"In {name} autocast, but the target dtype is not supported. Disabling autocast.\n"
        f"{name} Autocast only supports dtypes of torch.bfloat16, torch.float16 currently.",
        stacklevel=3,
    )
    return False


@declare_prim("prim::autocast_enter(ScalarType? dtype, bool enabled, bool? cache_enabled) -> ()", pure=False, attrs=("device_type",), sets_mode="autocast")
def _autocast_enter(dtype, enabled, cache_enabled, device_type):
    """Enter `with torch.autocast(device_type, dtype, enabled, cache_enabled)` (Note [Autocast in script])."""
    if dtype is None:
        dtype = torch.get_autocast_dtype(device_type)
    if cache_enabled is None:
        cache_enabled = torch.is_autocast_cache_enabled()
    if enabled:
        enabled = _autocast_allowed(device_type, dtype)
    previous = (torch.is_autocast_enabled(device_type), torch.get_autocast_dtype(device_type), torch.is_autocast_cache_enabled())
    _entered_blocks().append((device_type,) + previous)
    torch.set_autocast_enabled(device_type, enabled)
    torch.set_autocast_dtype(device_type, dtype)
    torch.autocast_increment_nesting()
    torch.set_autocast_cache_enabled(cache_enabled)


@declare_prim("prim::autocast_exit() -> ()", pure=False, sets_mode="autocast")
def _autocast_exit():
    """Leave the innermost autocast block (Note [Autocast in script])."""
    blocks = _entered_blocks()
    if not blocks:
        raise RuntimeError("prim::autocast_exit without an autocast block to leave")
    device_type, enabled, dtype, cache_enabled = blocks.pop()
    if torch.autocast_decrement_nesting() == 0:
        torch.clear_autocast_cache()
    torch.set_autocast_enabled(device_type, enabled)
    torch.set_autocast_dtype(device_type, dtype)
    torch.set_autocast_cache_enabled(cache_enabled)


def autocast_depth() -> int:
    """How many autocast blocks this thread has entered and not left."""
    return len(_entered_blocks())


def autocast_unwind(depth: int) -> None:
    """Leave the innermost autocast blocks until `depth` remain: an exception leaves the call."""
    blocks = _entered_blocks()
    while len(blocks) > depth:
        _autocast_exit()


@declare_prim("prim::is_autocast_enabled.device(str device_type) -> bool", pure=False, deletable=True, emit="torch.is_autocast_enabled({0})")
def _is_autocast_enabled_device(device_type):
    return torch.is_autocast_enabled(device_type)


@declare_prim("prim::get_autocast_dtype(str device_type) -> ScalarType", pure=False, deletable=True, emit="torch.get_autocast_dtype({0})")
def _get_autocast_dtype(device_type):
    return torch.get_autocast_dtype(device_type)


# -- runtime type tests (isinstance on Union / Any values) --------------------------------------------------


def _is_instance_of(value, t) -> bool:
    from ..ir import types as T

    if isinstance(t, T.OptionalType):
        return value is None or _is_instance_of(value, t.elem)
    if isinstance(t, T.UnionType):
        return any(_is_instance_of(value, m) for m in t.members)
    if isinstance(t, T.TensorType):
        return isinstance(value, torch.Tensor)
    if isinstance(t, T.ListType):
        return isinstance(value, list) and all(_is_instance_of(v, t.elem) for v in value)
    if isinstance(t, T.TupleType):
        return isinstance(value, tuple) and len(value) == len(t.elems) and all(_is_instance_of(v, e) for v, e in zip(value, t.elems))
    if isinstance(t, T.DictType):
        return isinstance(value, dict) and all(_is_instance_of(k, t.key) and _is_instance_of(v, t.value) for k, v in value.items())
    simple = {T.INT: int, T.FLOAT: float, T.BOOL: bool, T.STR: str, T.DEVICE: torch.device, T.SCALAR_TYPE: torch.dtype}
    if t == T.NONE:
        return value is None
    if t == T.INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if t in simple:
        return isinstance(value, simple[t])
    if t == T.ANY:
        return True
    return False


@declare_prim("prim::isinstance(Any x) -> bool", attrs=("types",))
def _isinstance(x, types):
    """Whether `x` has one of `types` (a list of IR types): Python's isinstance on typed values."""
    return any(_is_instance_of(x, t) for t in types)
