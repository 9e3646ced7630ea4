"""`torch.finfo(d)` and `torch.iinfo(d)` in scripted code.

Note [finfo and iinfo]
----------------------
TorchScript refuses both, so attention code hard-codes `-65504.0` where it
means `torch.finfo(scores.dtype).min`. Here the call is a compile-time
object (`TypeInfoValue`) holding the dtype value; reading a field emits
that field's op, typed as the Python attribute:

```
torch.finfo(x.dtype).min       %d : ScalarType = prim::dtype(%x)
                               %m : float = prim::finfo_min(%d)
torch.finfo(torch.half).eps    %e : float = prim::Constant[value=0.0009765625]()
```

- The dtype is a `ScalarType` value: `x.dtype`, a `torch.dtype`
  parameter, a constant. `torch.finfo()` reads the default dtype when the
  program runs (`prim::get_default_dtype`), as `torch.zeros(2)` does.
- A constant dtype folds the field to a constant with the op's own
  implementation, and a dtype of the wrong kind (`torch.finfo(torch.int32)`,
  `torch.iinfo(torch.bool)`) is a `CompileError` at the call with torch's
  message. A dtype known only at run time raises torch's `TypeError` when a
  field is read (Python raises it at the call; a program that never reads a
  field does not raise).
- The object itself is not a value: it may be bound to a name and read
  later (`fi = torch.finfo(d); fi.max`), but returning it, storing it in a
  container or passing it to a call is refused.

The fields are the ops `prim::finfo_<field>` / `prim::iinfo_<field>`
declared in `ops/lang.py`; the op table is the list of fields.
"""
from __future__ import annotations

import ast
from typing import List

import torch

from ... import ops
from ...ir.core import Value
from ...ir.types import INT, SCALAR_TYPE, OptionalType
from .emitter import FunctionEmitter
from .sugared import NO_STATIC, Args, Kwargs, SimpleValue, SugaredValue

_INT64 = (-(2**63), 2**63 - 1)


def _fields(kind: str) -> List[str]:
    prefix = f"prim::{kind}_"
    return [name[len(prefix):] for name in ops.all_prim_ops() if name.startswith(prefix)]


class TypeInfoValue(SugaredValue):
    """The result of `torch.finfo(d)` / `torch.iinfo(d)`: fields are ops on `dtype` (Note [finfo and iinfo])."""

    def __init__(self, kind: str, dtype: Value):
        self.kind = kind
        self.dtype = dtype

    def describe(self) -> str:
        return f"a torch.{self.kind} object"

    def as_value(self, em, node) -> Value:
        em.fail(node, f"{self.describe()} cannot be used as a value in script", hint=f"read the field you need where you use it (torch.{self.kind}(dtype).max)")

    def attr(self, em, node, name):
        op = ops.find(f"prim::{self.kind}_{name}")
        if op is None:
            em.fail(node, f"torch.{self.kind} has no attribute '{name}'", hint=f"use one of its fields: {', '.join(_fields(self.kind))}")
        static = SimpleValue(self.dtype).static_value()
        if static is NO_STATIC:
            return SimpleValue(em.op(op.name, [self.dtype], [op.schema.returns[0].type]).output)
        try:
            value = op.impl(static)
        except (TypeError, NotImplementedError) as e:
            em.fail(node, f"torch.{self.kind}({static}).{name}: {e}")
        if isinstance(value, int) and op.schema.returns[0].type == INT and not _INT64[0] <= value <= _INT64[1]:
            em.fail(node, f"torch.{self.kind}({static}).{name} is {value}, which does not fit in a script int (64 bits)")
        return SimpleValue(em.const(value))


def _type_info(kind: str):
    info = getattr(torch, kind)

    def impl(em: FunctionEmitter, node: ast.Call, args: Args, kwargs: Kwargs) -> SugaredValue:
        if len(args) + len(kwargs) > 1 or set(kwargs) - {"type"}:
            em.fail(node, f"torch.{kind}() takes one dtype argument")
        given = args[0] if args else kwargs.get("type")
        if given is None:
            if kind == "iinfo":
                em.fail(node, "torch.iinfo() needs a dtype", hint="pass an integer dtype: torch.iinfo(torch.int32)")
            return TypeInfoValue(kind, em.op("prim::get_default_dtype", [], [SCALAR_TYPE]).output)
        dtype = given.as_value(em, node)
        if dtype.type != SCALAR_TYPE:
            hint = "refine it first (`if d is not None:`)" if isinstance(dtype.type, OptionalType) else "pass a dtype, such as x.dtype"
            em.fail(node, f"torch.{kind}() takes a dtype, not {dtype.type}", hint=hint)
        static = SimpleValue(dtype).static_value()
        if static is not NO_STATIC:
            try:
                info(static)
            except TypeError as e:
                em.fail(node, str(e), hint="torch.finfo is for floating point dtypes, torch.iinfo for integer dtypes")
        return TypeInfoValue(kind, dtype)

    return impl


def _get_default_dtype(em: FunctionEmitter, node: ast.Call, args: Args, kwargs: Kwargs) -> SugaredValue:
    if args or kwargs:
        em.fail(node, "torch.get_default_dtype() takes no arguments")
    return SimpleValue(em.op("prim::get_default_dtype", [], [SCALAR_TYPE]).output)


finfo = _type_info("finfo")
iinfo = _type_info("iinfo")
get_default_dtype = _get_default_dtype

__all__ = ["TypeInfoValue", "finfo", "iinfo", "get_default_dtype"]
