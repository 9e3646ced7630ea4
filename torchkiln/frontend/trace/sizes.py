"""`TracedInt`: an int the recorder knows the origin of.

`x.size(0)` during a trace returns a `TracedInt` equal to the size, bound to
the output of an `aten::size.int` node. Ints are values (`2 is 2`), so the
recorder cannot recognise a size by its value; a `TracedInt` is a distinct
object, recognised by identity wherever it flows (`x.view(n, -1)`,
`torch.Size` entries, arithmetic results):

```
%n : int = aten::size.int(%x, %c0)
%shape : int[] = prim::ListConstruct(%n, %cm1)
%y : Tensor = aten::view(%x, %shape)
```

Arithmetic on a `TracedInt` (`n * 2`, `n // 2`, `-n`) records the matching
`prim::` int op when the op table has it and returns a `TracedInt`;
anything else yields a plain int (the value is baked).
"""
from __future__ import annotations

from typing import Any, Callable, Optional

# The recorder installs its `record_int_op(kind, operands, result)` here while
# a trace runs; it returns a TracedInt bound to the recorded node, or None.
_RECORD: list = [None]


def set_int_recorder(fn: Optional[Callable[[str, tuple, int], Optional[int]]]) -> None:
    _RECORD[0] = fn


def _record_unary(kind: str, a: int, result: int) -> int:
    record = _RECORD[0]
    if record is None:
        return result
    traced = record(kind, (a,), result)
    return result if traced is None else traced


def _warn_baked(result: Any) -> None:
    """A size turned into a number the recorder cannot follow (`n * 0.5`, `n ** -0.5`): warn, it is baked."""
    record = _RECORD[0]
    if record is None or getattr(getattr(record, "__self__", None), "suspended", 0):
        return
    from .locations import warn

    warn(
        f"Converting a tensor size to the Python number {result!r} might cause the trace to be incorrect: "
        "float arithmetic on sizes is not recorded, so this value will be treated as a constant in the "
        "future. This means that the trace might not generalize to inputs of other sizes!"
    )


def _binary(plain: Callable[[int, Any], Any], kind: Optional[str], swapped: bool) -> Callable[[Any, Any], Any]:
    def op(self: int, other: Any) -> Any:
        result = plain(int(self), other)
        if result is NotImplemented and type(other) is float:
            result = getattr(float, plain.__name__)(float(self), other)  # `n * 0.5`: as Python would, via float
        if isinstance(result, (int, float)) and not isinstance(result, bool) and isinstance(other, (int, float)) and (
            kind is None or isinstance(result, float) or not isinstance(other, int) or type(other) is bool
        ):
            _warn_baked(result)
            return result
        if result is NotImplemented or type(other) is bool or not isinstance(other, int) or not isinstance(result, int):
            return result
        record = _RECORD[0]
        if record is None:
            return result
        operands = (other, self) if swapped else (self, other)
        traced = record(kind, operands, result)
        return result if traced is None else traced

    op.__name__ = plain.__name__
    return op



class TracedInt(int):
    """An int produced by a recorded op (see module docstring)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return int.__repr__(self)

    def __neg__(self) -> int:  # type: ignore[override]
        return _record_unary("prim::neg.int", self, -int(self))

    def __pos__(self) -> int:  # type: ignore[override]
        return self

    __add__ = _binary(int.__add__, "prim::add.int", False)
    __radd__ = _binary(int.__radd__, "prim::add.int", True)
    __sub__ = _binary(int.__sub__, "prim::sub.int", False)
    __rsub__ = _binary(int.__rsub__, "prim::sub.int", True)
    __mul__ = _binary(int.__mul__, "prim::mul.int", False)
    __rmul__ = _binary(int.__rmul__, "prim::mul.int", True)
    __floordiv__ = _binary(int.__floordiv__, "prim::floordiv.int", False)
    __rfloordiv__ = _binary(int.__rfloordiv__, "prim::floordiv.int", True)
    __mod__ = _binary(int.__mod__, "prim::mod.int", False)
    __rmod__ = _binary(int.__rmod__, "prim::mod.int", True)
    __truediv__ = _binary(int.__truediv__, None, False)
    __rtruediv__ = _binary(int.__rtruediv__, None, True)
    __pow__ = _binary(int.__pow__, None, False)  # type: ignore[assignment]
    __rpow__ = _binary(int.__rpow__, None, True)  # type: ignore[assignment]
