"""Helpers for codegen tests: build Functions from IR text, run them on both
executors (generated Python and the reference interpreter), compare."""
from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

import torch
import torch.nn as nn

from torchkiln import interpreter
from torchkiln.codegen import compile_function
from torchkiln.ir.core import CompilationUnit, Function
from torchkiln.ir.parser import parse_function
from torchkiln.ir.types import ClassType


def fn_from(text: str, unit: Optional[CompilationUnit] = None) -> Function:
    """A Function from `print_function`'s text, added to `unit` when given."""
    classes = dict(unit.classes) if unit is not None else None
    fn = parse_function(text, classes)
    if unit is not None:
        unit.add_function(fn)
    return fn


def same(a: Any, b: Any) -> bool:
    """Equal values of equal types (tensors: dtype, shape and elements)."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return (
            isinstance(a, torch.Tensor)
            and isinstance(b, torch.Tensor)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and torch.equal(a, b)
        )
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, float) and a != a:
        return b != b
    return a == b


def run_both(fn: Function, unit: Optional[CompilationUnit], make_args: Callable[[], Sequence[Any]]):
    """(interpreter result, generated-code result), each on fresh arguments."""
    expected = interpreter.run(fn, unit, list(make_args()))
    got = compile_function(fn, unit)(*make_args())
    return expected, got


def check(fn: Function, args: Sequence[Any], eager: Any = None, unit: Optional[CompilationUnit] = None) -> Any:
    """Run both executors on `args` (tensors cloned for each, as ops may write
    them); both must agree, and with `eager` when given."""
    expected, got = run_both(fn, unit, lambda: [a.clone() if isinstance(a, torch.Tensor) else a for a in args])
    assert same(expected, got), f"interpreter {expected!r} != codegen {got!r}"
    if eager is not None:
        assert same(expected, eager), f"executors gave {expected!r}, eager {eager!r}"
    return got


def fake_module(kiln_type: ClassType, **values: Any) -> nn.Module:
    """An nn.Module standing in for a ScriptModule: attributes stored as the
    ClassType's `attr_kinds` say, and `_kiln_type` set."""
    m = nn.Module()
    for name, value in values.items():
        kind = kiln_type.attr_kinds[name]
        if kind == "parameter":
            m.register_parameter(name, nn.Parameter(value))
        elif kind == "buffer":
            m.register_buffer(name, value)
        elif kind == "module":
            m.add_module(name, value)
        else:
            m.__dict__[name] = value
    m._kiln_type = kiln_type
    return m
