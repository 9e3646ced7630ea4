"""Structural and core `prim::` ops: the part of the table torchkiln defines itself.

Python-language ops the script compiler emits (int/float/str/list/dict
arithmetic, `len` of lists, comparisons, `__is__`, ...) live in `ops/lang.py`.
This module holds the structural ops (executors handle them themselves), the
container constructors/destructors, exceptions, printing, futures, and tensor
properties and tensor -> Python conversions that are not dispatcher ops.
Where the dispatcher has an op, it is used instead of a prim: `aten::size.int`,
`aten::dim`, `aten::numel`, `aten::item`, `aten::stride.int`,
`aten::is_floating_point`, `aten::scalar_tensor`.

Note [Prim impl convention]
---------------------------
How an executor calls `op.impl` for a non-structural prim node:

- inputs are passed positionally, in node order (varargs included);
- each attribute named in `op.extra["attrs"]` is passed by keyword with the
  node's attribute value: `prim::TupleIndex[index=1](%t)` runs
  `impl(t, index=1)`;
- when `op.extra.get("out_types")` is True the node's output types are passed
  as `out_types=[...]` (`prim::TupleConstruct` builds NamedTuples with it);
- `emit` templates use `{0}`, `{1}`... for inputs, `{args}` for all inputs
  joined by commas (variadic ops) and `{<attr>}` for an attribute's value
  (ints only; other constants go through the executor's constant table);
- the result: for a schema with exactly one return (not `...`) the impl
  returns that value; for `-> ...` or several returns it returns a sequence
  with one item per node output; for `-> ()` its result is ignored.

Types written `Any` in a result are the node's own output types (a
`prim::ListConstruct` node's output says which list it builds); `op_checker`
in `ops/__init__.py` checks those nodes specially.

Structural ops (`structural=True`: Constant, If, Loop, GetAttr, SetAttr,
CallMethod, CallFunction, CreateObject, fork, Return) are executed by each
executor itself; their decorated functions are never called.
"""
from __future__ import annotations

import builtins
import collections
from typing import Dict, List, Tuple

import torch

from ..diagnostics import Error
from ..ir.types import TupleType
from .registry import declare_prim

# -- structural ---------------------------------------------------------------


def _structural(*_args, **_kwargs):
    raise AssertionError("structural ops are executed by the executor itself")


declare_prim("prim::Constant() -> ...", structural=True, attrs=("value",))(_structural)
declare_prim("prim::If(bool cond) -> ...", pure=False, structural=True)(_structural)
declare_prim("prim::Loop(int max_trip_count, bool start_condition, ...) -> ...", pure=False, structural=True)(_structural)
declare_prim("prim::Return(...) -> ()", pure=False, structural=True)(_structural)
# Reading an attribute is ordered against SetAttr, so it is not pure; it has
# no side effect, so dead-code elimination may delete it (`deletable`).
declare_prim("prim::GetAttr(Any obj) -> Any", pure=False, structural=True, attrs=("name",), deletable=True)(_structural)
declare_prim("prim::SetAttr(Any obj, Any value) -> ()", pure=False, structural=True, attrs=("name",))(_structural)
declare_prim("prim::CallMethod(Any self, ...) -> ...", pure=False, structural=True, attrs=("name",))(_structural)
declare_prim("prim::CallFunction(...) -> ...", pure=False, structural=True, attrs=("name",))(_structural)
# Each call makes a fresh object: never CSE'd, deletable when unused.
declare_prim("prim::CreateObject() -> Any", pure=False, structural=True, deletable=True)(_structural)
declare_prim("prim::fork(...) -> Any", pure=False, structural=True, attrs=("name",))(_structural)

# -- containers ---------------------------------------------------------------


@declare_prim("prim::ListConstruct(...) -> Any", emit="[{args}]", deletable=True)
def _list_construct(*items):
    return list(items)


@declare_prim("prim::ListUnpack(Any l) -> ...")
def _list_unpack(lst):
    return lst


@declare_prim("prim::TupleConstruct(...) -> Any", out_types=True)
def _tuple_construct(*items, out_types):
    t = out_types[0]
    if isinstance(t, TupleType) and t.name is not None:
        return namedtuple_class(t)(*items)
    return tuple(items)


@declare_prim("prim::TupleUnpack(Any tup) -> ...")
def _tuple_unpack(tup):
    return tup


@declare_prim("prim::TupleIndex(Any tup) -> Any", emit="{0}[{index}]", attrs=("index",))
def _tuple_index(tup, index):
    return tup[index]


@declare_prim("prim::DictConstruct(...) -> Any", deletable=True)
def _dict_construct(*items):
    return dict(zip(items[0::2], items[1::2]))


_NAMEDTUPLES: Dict[Tuple[str, Tuple[str, ...]], type] = {}


def namedtuple_class(t: TupleType) -> type:
    """The Python namedtuple class for a NamedTuple type (one per name and fields)."""
    assert t.name is not None and t.fields is not None
    key = (t.name, t.fields)
    cls = _NAMEDTUPLES.get(key)
    if cls is None:
        made = collections.namedtuple(t.name.rsplit(".", 1)[-1], t.fields)  # type: ignore[misc]
        made.__qualname__ = t.name
        cls = _NAMEDTUPLES.setdefault(key, made)  # one class per key, whichever thread made it first
    return cls


# -- control ------------------------------------------------------------------


class ScriptException(Error):
    """Raised by `prim::RaiseException` when `cls` names no builtin exception
    (the Python executor raises the same: a `torchkiln.Error` named after it)."""


@declare_prim("prim::RaiseException(str msg) -> ()", pure=False, attrs=("cls",), optional_attrs=("cls",))
def _raise_exception(msg, cls="Exception"):
    exc = getattr(builtins, cls.rsplit(".", 1)[-1], None)
    if isinstance(exc, type) and issubclass(exc, Exception):
        raise exc(msg)
    raise ScriptException(f"{cls}: {msg}")


@declare_prim("prim::Uninitialized() -> Any")
def _uninitialized():
    return None


@declare_prim("prim::unchecked_cast(Any x) -> Any", emit="{0}")
def _unchecked_cast(x):
    return x


@declare_prim("prim::Print(...) -> ()", pure=False)
def _print(*items):
    print(*items)


@declare_prim("prim::wait(Future(t) self) -> t", pure=False)
def _wait(fut):
    return fut.wait()


# -- tensor -> Python ---------------------------------------------------------


@declare_prim("prim::Bool.Tensor(Tensor a) -> bool", emit="bool({0})")
def _bool_tensor(a):
    return bool(a)


@declare_prim("prim::Int.Tensor(Tensor a) -> int", emit="int({0})")
def _int_tensor(a):
    return int(a)


@declare_prim("prim::Float.Tensor(Tensor a) -> float", emit="float({0})")
def _float_tensor(a):
    return float(a)


# Implicit conversions that overload resolution inserts (ops/resolve.py).
@declare_prim("prim::Float.Scalar(Scalar a) -> float", emit="float({0})")
def _float_scalar(a):
    return float(a)


@declare_prim("prim::Int.Scalar(Scalar a) -> int", emit="int({0})")
def _int_scalar(a):
    return int(a)


@declare_prim("prim::device.str(str a) -> Device", emit="torch.device({0})")
def _device_str(a):
    return torch.device(a)


# TorchScript's dtypes are ints (c10::ScalarType numbering): an int fits a ScalarType argument.
DTYPE_OF_INT = [
    torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.float16, torch.float32, torch.float64,
    torch.complex32, torch.complex64, torch.complex128, torch.bool, torch.qint8, torch.quint8, torch.qint32,
    torch.bfloat16,
]  # fmt: skip


@declare_prim("prim::dtype.int(int a) -> ScalarType")
def _dtype_int(a):
    if not 0 <= a < len(DTYPE_OF_INT):
        raise RuntimeError(f"{a} is not a dtype number supported here")
    return DTYPE_OF_INT[a]


@declare_prim("prim::dtype.int_optional(int? a) -> ScalarType?")
def _dtype_int_optional(a):
    return None if a is None else _dtype_int(a)


@declare_prim("prim::tolist(Tensor a) -> Any", emit="{0}.tolist()")
def _tolist(a):
    return a.tolist()


@declare_prim("prim::NumToTensor.Scalar(Scalar a) -> Tensor", emit="torch.tensor({0})")
def _num_to_tensor(a):
    return torch.tensor(a)


# -- tensor properties --------------------------------------------------------


@declare_prim("prim::size(Tensor self) -> int[]", emit="list({0}.shape)")
def _size(a):
    return list(a.shape)


@declare_prim("prim::len.Tensor(Tensor t) -> int", emit="len({0})")
def _len_tensor(a):
    return len(a)


@declare_prim("prim::device(Tensor a) -> Device", emit="{0}.device")
def _device(a):
    return a.device


@declare_prim("prim::dtype(Tensor a) -> ScalarType", emit="{0}.dtype")
def _dtype(a):
    return a.dtype


@declare_prim("prim::layout(Tensor a) -> Layout", emit="{0}.layout")
def _layout(a):
    return a.layout


@declare_prim("prim::requires_grad(Tensor a) -> bool", emit="{0}.requires_grad")
def _requires_grad(a):
    return a.requires_grad


@declare_prim("prim::is_cuda(Tensor a) -> bool", emit="{0}.is_cuda")
def _is_cuda(a):
    return a.is_cuda


@declare_prim("prim::data(Tensor(a) a) -> Tensor(a)", emit="{0}.data")
def _data(a):
    return a.data


def structural_kinds() -> List[str]:
    from .registry import prim_ops

    return sorted(k for k, op in prim_ops().items() if op.structural)
