"""`aten::` ops, read lazily from the dispatcher; nothing lists them by hand.

```python
aten_op("aten::add.Tensor")       # OpInfo(schema=aten::add.Tensor(...), pure=True, impl=torch.ops.aten.add.Tensor)
aten_op("aten::len.t")            # None: a JIT-only registration, not a dispatcher op
aten_overloads("aten::add")       # [add.Tensor, add.Scalar, add.out, add.Scalar_out]
```

Only ops registered with the dispatcher (`torch._C._dispatch_get_all_op_names`)
count. JIT-only schemas that TorchScript files under `aten::` (`aten::len.t`,
`aten::add.int`, `aten::append.t`, ...) are not ATen ops here; torchkiln has
its own `prim::` ops for those (`ops/prim.py`, `ops/lang.py`).

Note [ATen purity]
------------------
An aten op is impure (passes must not delete, reorder, CSE or fold it) when

- its schema writes an argument (`Tensor(a!) self`, `Tensor(a!)[] self`),
- it draws random numbers (`torch.Tag.nondeterministic_seeded` in the
  OpOverload's tags: `rand`, `dropout`, `bernoulli`, ...), or
- it returns nothing (`-> ()`) and writes nothing: such an op exists only for
  its side effect (`aten::_assert_async.msg`, `aten::record_stream`, ...).

`aten::_backward` (what C++'s `Tensor::backward` calls) is the dispatcher's
one op that runs the autograd engine: its `extra` says `runs_autograd`, as
the prims `prim::autograd_backward` / `prim::autograd_grad` do (`ops/lang.py`).

Views (`Tensor(a) self -> Tensor(a)`) are pure; their outputs alias inputs,
which the schema's alias annotations tell alias-aware passes.
"""
from __future__ import annotations

import functools
from typing import Dict, List, Optional

import torch

from .registry import OpInfo
from .schema import from_torch_schema


@functools.lru_cache(maxsize=None)
def _dispatcher_names() -> Dict[str, List[str]]:
    """Base name -> qualified names of the dispatcher's aten ops (unordered)."""
    by_base: Dict[str, List[str]] = {}
    for name in torch._C._dispatch_get_all_op_names():
        if name.startswith("aten::"):
            by_base.setdefault(name.split(".", 1)[0], []).append(name)
    return by_base


@functools.lru_cache(maxsize=None)
def is_aten_op(qualified_name: str) -> bool:
    """Whether the dispatcher has this op (asked per name: listing all ops costs a cold compile ~5 ms).

    Every aten op the dispatcher has has a kernel, and a JIT-only
    registration (`aten::add.int`) has none, so `_dispatch_has_kernel`
    answers (on torch 2.13, the pinned version; `tests/ops/test_aten.py`
    checks it against the dispatcher's schema lookup for every aten schema).
    It does not raise for a missing op, as the schema lookup does, at ten
    times the cost; half the overloads a name lists are JIT-only.
    """
    if not qualified_name.startswith("aten::"):
        return False
    return torch._C._dispatch_has_kernel(qualified_name)


def op_overload(qualified_name: str) -> "torch._ops.OpOverload":
    """`torch.ops.aten.add.Tensor` for `aten::add.Tensor` (`.default` for `aten::relu`)."""
    base, _, overload = qualified_name[len("aten::"):].partition(".")
    return getattr(getattr(torch.ops.aten, base), overload or "default")


_CACHE: Dict[str, Optional[OpInfo]] = {}

# Dispatcher ops that run the autograd engine (Note [ATen purity]).
_RUNS_AUTOGRAD = frozenset(["aten::_backward"])


def aten_op(qualified_name: str) -> Optional[OpInfo]:
    """The OpInfo of a dispatcher aten op, or None if the dispatcher has no such op."""
    try:
        return _CACHE[qualified_name]
    except KeyError:
        pass
    info = _make(qualified_name) if qualified_name.startswith("aten::") and is_aten_op(qualified_name) else None
    return _CACHE.setdefault(qualified_name, info)  # one OpInfo per op, whichever thread made it first


def _make(qualified_name: str) -> OpInfo:
    return AtenOpInfo(None, qualified_name=qualified_name)


class AtenOpInfo(OpInfo):
    """A dispatcher op's OpInfo, filled from torch as it is read.

    `schema` is parsed at its first read: resolving an overload reads the
    schemas of the overloads it tries, in order, and usually stops at the
    first or second (Note [Overload resolution]). `impl`, `pure` and `extra`
    need the op's `OpOverload` (its tags decide purity, Note [ATen purity]);
    making one costs more than parsing the schema, and compiling a program
    needs only schemas (passes and executors read the rest later). Each is
    computed once; two threads racing compute equal values and keep the first.
    """

    def __init__(self, schema=None, pure=None, structural=False, impl=None, emit=None, extra=None, qualified_name=None):
        # OpInfo's fields; None leaves `schema`, `pure`, `impl`, `extra` to be read from torch.
        self.structural = structural
        self.emit = emit
        for key, value in (("_schema", schema), ("_pure", pure), ("_impl", impl), ("_extra", extra)):
            if value is not None:
                self.__dict__[key] = value
        self._qualified = qualified_name if qualified_name is not None else schema.qualified_name

    def __repr__(self) -> str:
        return "Op" + super().__repr__()[len("AtenOp"):]  # prints as the OpInfo it stands for

    @property
    def name(self) -> str:
        return self._qualified

    @property
    def schema(self):  # type: ignore[override]
        found = self.__dict__.get("_schema")
        if found is None:
            name, _, overload = self._qualified.partition(".")
            handle = torch._C._dispatch_find_schema_or_throw(name, overload)
            found = self.__dict__.setdefault("_schema", from_torch_schema(handle.schema()))
        return found

    @schema.setter
    def schema(self, value) -> None:
        self.__dict__["_schema"] = value

    def _facts(self) -> None:
        impl = op_overload(self._qualified)
        tags = tuple(impl.tags)
        random = torch.Tag.nondeterministic_seeded in tags
        schema = self.schema
        side_effect_only = not schema.returns and not schema.is_varret
        d = self.__dict__
        d.setdefault("_impl", impl)
        d.setdefault("_pure", not (schema.is_mutable or random or side_effect_only))
        extra = {"tags": tags, "nondeterministic": random}
        if self._qualified in _RUNS_AUTOGRAD:
            extra["runs_autograd"] = True
        d.setdefault("_extra", extra)

    def _get(self, key: str):
        d = self.__dict__
        if key not in d:
            self._facts()
        return d[key]

    impl = property(lambda self: self._get("_impl"), lambda self, v: self.__dict__.__setitem__("_impl", v))  # type: ignore[assignment]
    pure = property(lambda self: self._get("_pure"), lambda self, v: self.__dict__.__setitem__("_pure", v))  # type: ignore[assignment]
    extra = property(lambda self: self._get("_extra"), lambda self, v: self.__dict__.__setitem__("_extra", v))  # type: ignore[assignment]


@functools.lru_cache(maxsize=None)
def _overload_order(base_name: str) -> List[str]:
    """The dispatcher's overloads of `base_name`, in TorchScript's registration order.

    TorchScript tries overloads in the order `_jit_get_schemas_for_operator`
    lists them, JIT-only registrations left out. Every dispatcher op is
    listed there (as of torch 2.13; `tests/ops/test_aten.py` checks it), so
    the dispatcher's full list is not read here.
    """
    order: List[str] = []
    for s in torch._C._jit_get_schemas_for_operator(base_name):
        q = f"{s.name}.{s.overload_name}" if s.overload_name else s.name
        if q not in order and is_aten_op(q):
            order.append(q)
    return order


def aten_overloads(base_name: str) -> List[OpInfo]:
    """All dispatcher overloads of `base_name` (e.g. `aten::add`), in resolution order."""
    out = []
    for q in _overload_order(base_name):
        info = _CACHE.get(q)
        if info is None:  # `_overload_order` lists dispatcher ops only: no second `is_aten_op`
            info = _CACHE.setdefault(q, _make(q))  # one OpInfo per op, whichever thread made it first
            if info is None:  # cached as missing before a library registered it
                info = _CACHE[q] = _make(q)
        out.append(info)
    return out


def all_aten_names() -> List[str]:
    """Every dispatcher aten op's qualified name, sorted."""
    return sorted(q for names in _dispatcher_names().values() for q in names)
