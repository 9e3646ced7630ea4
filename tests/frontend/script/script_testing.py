"""Shared helpers: compile with torchkiln, verify the IR, compare with eager Python."""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import torch

import torchkiln
from torchkiln.ir.verify import verify
from torchkiln import ops


def same(a: Any, b: Any) -> bool:
    """Exact structural equality of results (tensors, containers, numbers, NaN-aware)."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.shape == b.shape and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return type(a) is type(b) and a == b


def scripted(fn: Callable) -> Any:
    s = torchkiln.script(fn)
    check_ir(s)
    return s


def check_ir(s: Any) -> None:
    unit = s._kiln_unit
    for f in list(unit.functions.values()):
        verify(f.graph, ops.op_checker)
    for cls in unit.classes.values():
        for m in cls.methods.values():
            verify(m.graph, ops.op_checker)


def matches_eager(fn: Callable, *input_sets: Sequence[Any]) -> Any:
    """Script `fn`, run it and `fn` on each input tuple, and assert the results are equal."""
    s = scripted(fn)
    from torchkiln.api import ScriptFunction

    # The frontend's output is checked on the generated-Python executor, the reference
    # interpreter and the in-process C++ executor; every call also goes through
    # torchkiln-run (tests/differential).
    runs = {name: ScriptFunction(s._kiln_unit, s._kiln_fn, executor=name) for name in EXECUTORS}
    for inputs in input_sets:
        expected = fn(*_copy(inputs))
        for name, run in runs.items():
            got = run(*_copy(inputs))
            assert same(got, expected), f"{fn.__name__}{inputs!r}: the {name} executor gave {got!r}, eager {expected!r}"
    return s


EXECUTORS = ("python", "interpreter", "cpp")


def outcome(fn: Callable, args: Sequence[Any]) -> Any:
    """`fn(*args)`, or "ExceptionType: message" when it raises (to compare raising calls too)."""
    try:
        return fn(*args)
    except Exception as e:  # noqa: BLE001 - the comparison is the point
        return f"{type(e).__name__}: {e}"


def executor_runs(s: Any) -> dict:
    """The scripted function `s` on each executor (name -> callable)."""
    from torchkiln.api import ScriptFunction

    return {name: ScriptFunction(s._kiln_unit, s._kiln_fn, executor=name) for name in EXECUTORS}


def _copy(inputs: Sequence[Any]) -> list:
    out = []
    for x in inputs:
        if isinstance(x, torch.Tensor):
            out.append(x.clone())
        elif isinstance(x, list):
            out.append(list(x))
        elif isinstance(x, dict):
            out.append(dict(x))
        else:
            out.append(x)
    return out


def run_fresh(code: str) -> str:
    """Run `code` (dedented) in a fresh Python process (one that never saw the test's classes); its stdout."""
    import subprocess
    import sys
    import textwrap

    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], check=True, capture_output=True, text=True).stdout
