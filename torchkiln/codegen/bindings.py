"""How the generated code calls an ATen op: which Python callable, which
inputs positionally, which by keyword, which left out.

```
aten::add.Tensor(%x, %y, %one)   ->  torch.add(x, y)            (alpha=1 is the default)
aten::add.Tensor(%x, %y, %two)   ->  torch.add(x, y, alpha=2)
aten::contiguous(%x, %fmt)       ->  x.contiguous()             (a Tensor method binding)
```

The op table chooses the binding (`ops.bindings.python_binding`: the
fastest torch function or Tensor method proven to run the overload, with its
argument layout, else the `OpOverload` itself); this module only decides,
per node, which inputs the call spells out: trailing positional inputs and
keyword inputs whose constant value equals the schema default (same type,
equal value) are left out, except those of Note [Bindings' own defaults].

Note [Bindings' own defaults]
-----------------------------
Leaving an input out lets the binding's Python signature supply it, which is
only right where that default is the schema's. The loss ops' `int
reduction=Mean` is not: their Python bindings (`torch._C._nn.nll_loss`,
`torch._C._nn.mse_loss`, `torch.kl_div`, ...) default `reduction` to 0
(None), so `F.nll_loss(x, t)`, scripted as `aten::nll_loss_nd(x, t, None,
1, -100)`, returned the unreduced losses. So the inputs named in
`ALWAYS_PASSED` (ops/bindings.py) are always spelled out, and the binding
probes call each candidate with the other defaults left out as here, taking
no binding whose own defaults differ (Note [Python bindings], step 3).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Sequence, Tuple

from ..ops.bindings import ALWAYS_PASSED, python_binding
from ..ops.registry import OpInfo

NOT_CONSTANT = object()


@dataclass
class AtenCall:
    """One call: `target(inputs[positional]..., kw=inputs[i]...)` or, with
    `method`, `inputs[receiver].method(inputs[positional]..., ...)`;
    `to_list` wraps the result in `list(...)`."""

    target: Callable
    pretty: str  # how `.code` writes the callee: `torch.add`
    hint: str  # the name the executed code binds it to: `torch_add`
    method: Optional[str]
    receiver: Optional[int]
    positional: List[int]
    keyword: List[Tuple[str, int]]
    to_list: bool = False


def aten_call(info: OpInfo, constants: Sequence[Any]) -> AtenCall:
    """The call for a node of op `info` whose inputs have `constants`
    (`NOT_CONSTANT` where an input is not a `prim::Constant`)."""
    b = python_binding(info)
    method = b.expr if b.is_method else None
    positional = list(b.positional)
    keyword = [(name, i) for i, name in b.keywords]
    positional, keyword = _drop_defaults(info.schema.arguments, constants, positional, keyword)
    target = b.fn
    if b.is_overload:
        # `OpOverload.__call__` only forwards to `_op`, the C++ builtin; calling
        # that directly saves a Python frame (~0.4 us of ~1.9 us).
        target = getattr(b.fn, "_op", b.fn)
    return AtenCall(target, b.expr, b.expr.replace(".", "_"), method, b.receiver, positional, keyword, b.to_list)


def _drop_defaults(args, constants, positional, keyword):
    """Leave out trailing positional and any keyword inputs equal to their defaults."""

    def is_default(i: int) -> bool:
        return (i < len(args) and args[i].has_default and args[i].name not in ALWAYS_PASSED
                and i < len(constants) and _same(constants[i], args[i].default))

    while positional and is_default(positional[-1]):
        positional.pop()
    keyword = [(kw, i) for kw, i in keyword if not is_default(i)]
    return positional, keyword


def _same(value: Any, default: Any) -> bool:
    """`value` is exactly `default`: same type (a bool is not an int) and equal."""
    if value is NOT_CONSTANT:
        return False
    if isinstance(value, (list, tuple)) and isinstance(default, (list, tuple)):
        return len(value) == len(default) and all(_same(a, b) for a, b in zip(value, default))
    return type(value) is type(default) and value == default
