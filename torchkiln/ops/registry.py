"""The one op table: every op's schema, purity/alias facts and executor rules.

Two sources feed it:

- `aten::` ops are read lazily from the dispatcher's schemas
  (`ops/aten.py`); nothing lists ATen ops by hand.
- `prim::` ops are declared once, with `declare_prim`, in `ops/prim.py`
  (structural and core ops) and `ops/lang.py` (Python-language ops on
  int/float/bool/str/list/dict/tuple that the script compiler emits).
  `ops/__init__.py` imports both modules to fill the table; nothing else
  registers ops.

```python
@declare_prim("prim::add.int(int a, int b) -> int", emit="({0} + {1})")
def _add_int(a, b):
    return a + b
```

`declare_prim` arguments:
- schema: TorchScript schema syntax (see `ops/schema.py`); `...` in the
  argument list means variadic inputs, in the return list variadic outputs
  (types then come from the node).
- `pure` (default True): no side effects, result depends only on inputs;
  passes may fold, CSE and delete it. Mutation of an input is written in the
  schema as `t[](a!) self`, which makes the op impure.
- `emit`: optional Python expression template for the Python executor,
  `{0}`, `{1}`... are the inputs' expressions; without it the executor calls
  the decorated function.
- `sets_mode` ("grad" or "autocast"): the op changes the thread-local
  state ATen ops run under (`prim::set_grad_enabled`, the autocast
  enter/exit): the same op before and after it may compute different
  results, so passes neither merge nor move ops across it (Note [Mode
  barriers] in `passes/cse.py`).
- `runs_autograd=True`: the op runs the autograd engine (`backward`,
  `torch.autograd.grad`): it frees the saved tensors of the graph it walks
  and accumulates into leaves' `.grad`, so a tensor computed before it is
  not interchangeable with the same computation after it; passes treat it
  as a mode barrier too (Note [Mode barriers]).
- `structural=True`: the op is handled by each executor itself (If, Loop,
  Constant, GetAttr, CallMethod, ...); the decorated function is not called.
The decorated function is the Python implementation (reference interpreter
and, without `emit`, the Python executor). The C++ runtime implements each
prim op by name; a test checks that none is missing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

from .schema import Schema, parse_schema


@dataclass
class OpInfo:
    """Everything the project knows about one op overload."""

    schema: Schema
    pure: bool = True
    structural: bool = False
    impl: Optional[Callable] = None
    emit: Optional[str] = None
    extra: Dict[str, object] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """Qualified name with overload, e.g. `aten::add.Tensor`, `aten::relu`."""
        return self.schema.qualified_name


_PRIMS: Dict[str, OpInfo] = {}


def declare_prim(schema: str, pure: bool = True, emit: Optional[str] = None, structural: bool = False, **extra):
    """Declare a `prim::` op; decorates its Python implementation."""

    def register(fn: Callable) -> Callable:
        parsed = parse_schema(schema)
        name = parsed.qualified_name
        if name in _PRIMS:
            raise AssertionError(f"prim op {name} declared twice")
        global _BY_BASE
        _PRIMS[name] = OpInfo(parsed, pure=pure and not parsed.is_mutable, structural=structural, impl=fn, emit=emit, extra=extra)
        _BY_BASE = {}
        return fn

    return register


def prim_ops() -> Dict[str, OpInfo]:
    return _PRIMS


# `prim_overloads` answers by base name, rebuilt when a prim is declared. The
# table is built whole and then published by one assignment, so a thread never
# reads a half-built one (script() may run on several threads at once).
_BY_BASE: Dict[str, List[OpInfo]] = {}


def prim_overloads(base: str) -> List[OpInfo]:
    """All prim ops whose name without overload is `base` (e.g. `prim::add`)."""
    global _BY_BASE
    table = _BY_BASE
    if not table and _PRIMS:
        table = {}
        for op in list(_PRIMS.values()):
            table.setdefault(op.schema.base_name, []).append(op)
        _BY_BASE = table
    return list(table.get(base, ()))
