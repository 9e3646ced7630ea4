"""Runtime values and helpers shared by the executors.

Both the reference interpreter (`torchkiln.interpreter`) and the generated
Python (`torchkiln.codegen`) build their values with these, so the two agree
on what a NamedTuple, a Future, a script-class object or a raised exception
is:

- `make_tuple(t, items)`: a tuple, or for a NamedTuple `TupleType` an
  instance of its one namedtuple class (`ops.prim.namedtuple_class`).
- `Future`: what `prim::fork` returns; `.wait()` gives the result or raises
  what the forked call raised. Forked calls run synchronously (see
  Note [fork runs at once]).
- `ScriptObject`: an instance of a script class made by `prim::CreateObject`.
- `exception_class(name)`: the class `prim::RaiseException[cls=name]` raises.
- `materialize(value, type)`: a `prim::Constant`'s runtime value.
"""
from __future__ import annotations

import builtins
from typing import Any, Callable, Optional

import torch

from ..diagnostics import Error
from ..ir.types import ClassType, DictType, ListType, OptionalType, TupleType, Type
from ..ops.prim import namedtuple_class

# -- NamedTuple -------------------------------------------------------------


def make_tuple(t: Type, items) -> tuple:
    """A tuple of type `t`: a namedtuple when `t` is a NamedTuple type.

    The namedtuple classes come from the op table's one cache
    (`ops.prim.namedtuple_class`), so every executor builds the same class.
    """
    if isinstance(t, TupleType) and t.name is not None and t.fields is not None:
        return namedtuple_class(t)(*items)
    return tuple(items)


# -- fork / wait --------------------------------------------------------------


class Future:
    """The result of `prim::fork`: `.wait()` returns the value or raises the error.

    Note [fork runs at once]
    ------------------------
    `fork(fn, *args)` calls `fn` before returning, so results and side
    effects happen in program order and every executor gives the same answer
    (TorchScript's interpreter also may run a forked task inline). An
    exception raised by the call is kept and raised by `wait()`, as in
    TorchScript, not by `fork`.
    """

    __slots__ = ("_value", "_error")

    def __init__(self, value: Any = None, error: Optional[BaseException] = None):
        self._value = value
        self._error = error

    def wait(self) -> Any:
        if self._error is not None:
            raise self._error
        return self._value

    def done(self) -> bool:
        return True

    def value(self) -> Any:
        return self.wait()

    def __repr__(self) -> str:
        return f"<torchkiln.Future {'error' if self._error is not None else 'done'}>"


def fork(fn: Callable, *args: Any) -> Future:
    """Run `fn(*args)` now (see Note [fork runs at once]); a `Future` of its result."""
    try:
        return Future(fn(*args))
    except Exception as e:  # noqa: BLE001 - delivered by wait()
        return Future(error=e)


def wait(fut: Any) -> Any:
    """`prim::wait`: the value of a `Future` (a plain value passes through)."""
    return fut.wait() if isinstance(fut, Future) else fut


# -- objects ----------------------------------------------------------------


class ScriptObject:
    """An instance of a script class (`ClassType` with `is_module` False).

    Attributes are plain Python attributes; `_kiln_type` is the class type,
    whose `methods` the executors call.
    """

    def __init__(self, kiln_type: ClassType):
        object.__setattr__(self, "_kiln_type", kiln_type)

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={getattr(self, k, '<unset>')!r}" for k in self._kiln_type.attributes)
        return f"{self._kiln_type.name}({fields})"


def new_object(t: ClassType) -> ScriptObject:
    """`prim::CreateObject() -> t`: an object with no attributes set yet."""
    return ScriptObject(t)


# -- exceptions -------------------------------------------------------------


def exception_class(name: str) -> Callable[[str], BaseException]:
    """What `prim::RaiseException[cls=name](msg)` raises.

    Builtin exception names (`ValueError`, `builtins.KeyError`, ...) give
    that class; anything else (a user exception class, which torchkiln does
    not compile) gives a factory of `torchkiln.Error` whose message starts
    with the name.
    """
    short = name[len("builtins."):] if name.startswith("builtins.") else name
    cls = getattr(builtins, short, None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        return cls
    return _ScriptError(name)


class _ScriptError:
    """Makes a `torchkiln.Error` for an exception class torchkiln does not know."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __call__(self, message: str = "") -> Error:
        return Error(f"{self.name}: {message}" if message else self.name)

    def __repr__(self) -> str:
        return f"torchkiln.Error  # raised as {self.name}"


# -- constants --------------------------------------------------------------


def materialize(value: Any, t: Type) -> Any:
    """The runtime value of `prim::Constant[value=value]() -> t`.

    Lists are fresh Python lists (a program may mutate them), tuples are
    tuples (namedtuples for NamedTuple types), everything else is `value`.
    """
    if value is None:
        return None
    if isinstance(t, OptionalType):
        t = t.elem
    if isinstance(t, ListType):
        return [materialize(v, t.elem) for v in value]
    if isinstance(t, TupleType):
        return make_tuple(t, [materialize(v, e) for v, e in zip(value, t.elems)])
    if isinstance(t, DictType):
        return {materialize(k, t.key): materialize(v, t.value) for k, v in dict(value).items()}
    return value


def is_immutable_value(value: Any) -> bool:
    """Whether sharing `value` between runs is safe (it cannot be mutated in place).

    Tensors count as immutable here: the IR mutates tensors only through
    ops whose schemas say so, and a pass never feeds a constant to one.
    """
    if value is None or type(value) in (int, float, bool, str, torch.dtype, torch.device, torch.layout, torch.memory_format):
        return True
    if isinstance(value, torch.Tensor):
        return True
    if type(value) is tuple:
        return all(is_immutable_value(v) for v in value)
    return False
