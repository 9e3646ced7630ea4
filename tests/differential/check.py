"""Run recorded calls through `torchkiln-run --serve` and compare with the Python executor.

```python
report = check(rec)           # rec: a recorder.Recording
report.mismatches             # ["f(x=...): torchkiln-run gave ..., the Python executor ..."]
report.unrunnable             # [(program, why it cannot go through torchkiln-run)]
```

Each distinct call (same archive, method, arguments and generator state) runs
once, on a freshly loaded archive (module state is the state the Python call
saw). Archives hold Enum members as their values, so the runner's result
goes through what the Python call boundary does to it (`Record.to_python`)
first. The C++ result must equal the Python executor's exactly (`same`):
value, and the arguments after the call (in-place updates); an exception must
have the same class and message (Note [Comparing messages]). Every recorded
call of the test's own executor is compared with the Python executor too.

Note [Comparing messages]
~~~~~~~~~~~~~~~~~~~~~~~~~
Messages are compared after dropping what the C++ runtime adds by design
(docs/runtime.md, Errors): the traceback (the in-process executor appends
"Traceback of the program ..." to the message) and the op name in front of
an op's failure ("aten::mm: mat1 and mat2 ..."). Everything else must be equal.
A KeyError's message is str(e), the key's repr; the in-process C++ executor
raises KeyError("'key'" + traceback), whose str() quotes it once more, so
its message is taken from e.args[0] (recorder._exception_outcome).
"""
from __future__ import annotations

import atexit
import hashlib
import math
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Set, Tuple

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "csrc"))
import cpp_runtime  # noqa: E402

from .recorder import Outcome, Record, Recording  # noqa: E402


@dataclass
class Report:
    calls: int = 0  # calls recorded
    checked: int = 0  # distinct calls run through torchkiln-run
    programs: Set[str] = field(default_factory=set)  # archive digests run
    random: int = 0  # distinct calls of programs drawing random numbers (run with the same generator state)
    raising: int = 0  # distinct calls that raise (class and message compared)
    other_executors: int = 0  # calls made on another executor than "python", compared with the Python executor
    binding_errors: int = 0
    unrunnable: List[Tuple[str, str]] = field(default_factory=list)  # (program, reason), distinct
    mismatches: List[str] = field(default_factory=list)

    def summary(self) -> Dict[str, Any]:
        return {"calls": self.calls, "checked": self.checked, "programs": sorted(self.programs),
                "random": self.random, "raising": self.raising, "other_executors": self.other_executors,
                "binding_errors": self.binding_errors,
                "unrunnable": [list(u) for u in self.unrunnable], "mismatches": len(self.mismatches)}


# -- comparing --------------------------------------------------------------------------------


def same(a: Any, b: Any, grad: bool = True) -> bool:
    """Equal values of equal types: tensors by dtype, shape, elements (NaN equals NaN)
    and, with `grad`, requires_grad; floats exactly (-0.0 is not 0.0); named tuples
    by field names and values."""
    return difference(a, b, grad) is None


def difference(a: Any, b: Any, grad: bool = True, path: str = "") -> Optional[str]:
    """Where and how `b` differs from `a` (None: `same`): "[1][0]: max |difference| 2e-07"."""
    here = path or "the value"
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
            return f"{here}: {type(a).__name__} vs {type(b).__name__}"
        for what in ("dtype", "shape") + (("requires_grad",) if grad else ()):
            if getattr(a, what) != getattr(b, what):
                return f"{here}: {what} {getattr(a, what)} vs {getattr(b, what)}"
        return _element_difference(a.detach(), b.detach(), here)
    if isinstance(a, tuple) and isinstance(b, tuple):
        if getattr(a, "_fields", None) != getattr(b, "_fields", None):
            return f"{here}: fields {getattr(a, '_fields', None)} vs {getattr(b, '_fields', None)}"
        return _items_difference(list(a), list(b), grad, path)
    if type(a) is not type(b):
        return f"{here}: {type(a).__name__} {_show(a)} vs {type(b).__name__} {_show(b)}"
    if isinstance(a, list):
        return _items_difference(a, b, grad, path)
    if isinstance(a, dict):
        if len(a) != len(b):
            return f"{here}: {len(a)} vs {len(b)} entries"
        for i, ((ka, va), (kb, vb)) in enumerate(zip(a.items(), b.items())):
            d = difference(ka, kb, grad, f"{path}<key {i}>") or difference(va, vb, grad, f"{path}[{ka!r}]")
            if d is not None:
                return d
        return None
    if isinstance(a, float):
        if (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b)):
            return None
        return f"{here}: {a!r} vs {b!r}"
    if isinstance(a, complex):
        return difference(a.real, b.real, grad, f"{path}.real") or difference(a.imag, b.imag, grad, f"{path}.imag")
    if hasattr(a, "__dict__") and not isinstance(a, (torch.nn.Module, type)):  # script-class objects
        return difference(vars(a), vars(b), grad, path)
    return None if a == b else f"{here}: {_show(a)} vs {_show(b)}"


def _items_difference(a: List[Any], b: List[Any], grad: bool, path: str) -> Optional[str]:
    if len(a) != len(b):
        return f"{path or 'the value'}: {len(a)} vs {len(b)} items"
    for i, (x, y) in enumerate(zip(a, b)):
        d = difference(x, y, grad, f"{path}[{i}]")
        if d is not None:
            return d
    return None


def _element_difference(a: torch.Tensor, b: torch.Tensor, here: str) -> Optional[str]:
    if a.is_complex():
        return _element_difference(torch.view_as_real(a), torch.view_as_real(b), here)
    if not a.is_floating_point():
        return None if torch.equal(a, b) else f"{here}: {(a != b).sum().item()} elements differ"
    nan = a.isnan()
    if not torch.equal(nan, b.isnan()):
        return f"{here}: NaNs at other places"
    a0, b0 = a.masked_fill(nan, 0), b.masked_fill(nan, 0)
    if not torch.equal(a0, b0):
        finite = a0.isfinite() & b0.isfinite()
        worst = (a0.double() - b0.double())[finite].abs().max().item() if finite.any() else math.inf
        return f"{here}: {(a0 != b0).sum().item()} of {a.numel()} elements differ (max |difference| {worst:.3g})"
    if not torch.equal(a.signbit() & ~nan, b.signbit() & ~nan):
        return f"{here}: the sign of a zero differs"
    return None


_OP_PREFIX = re.compile(r"^(aten|prim)::[\w.]+: ")
_TRACEBACK = "\nTraceback of the program (most recent call last):"


def normalize_message(message: Optional[str]) -> str:
    """Note [Comparing messages]."""
    text = (message or "").split(_TRACEBACK, 1)[0]
    return _OP_PREFIX.sub("", text, count=1)


def _short(v: Any) -> str:
    if isinstance(v, torch.Tensor):
        return repr(v) if v.numel() <= 6 else f"Tensor({str(v.dtype)[6:]}, {list(v.shape)})"
    if isinstance(v, list):
        return "[" + ", ".join(_short(x) for x in v) + "]"
    if isinstance(v, tuple):
        return "(" + ", ".join(_short(x) for x in v) + ("," if len(v) == 1 else "") + ")"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_short(k)}: {_short(x)}" for k, x in v.items()) + "}"
    return repr(v)


def _show(v: Any) -> str:
    text = _short(v)
    return text if len(text) <= 300 else text[:300] + "..."


def _describe(o: Outcome) -> str:
    if o.ok:
        return f"{_show(o.value)} (arguments after: {_show(o.args_after)})"
    return f"{o.error_type}: {o.message}"


def compare(expected: Outcome, got: Outcome, grad: bool, containers: bool = True) -> Optional[str]:
    """None if `got` agrees with `expected`, else what differs.

    Arguments after the call: tensors, and with `containers` lists, dicts and
    tuples (updated in place by the program). The in-process C++ executor
    converts containers at the call, as TorchScript does, so its callers do
    not see a program's `xs.append(...)`; it is compared with `containers` off.
    """
    if expected.ok != got.ok:
        return f"expected {_describe(expected)}, got {_describe(got)}"
    if not expected.ok:
        if expected.error_type != got.error_type or normalize_message(expected.message) != normalize_message(got.message):
            return f"expected {expected.error_type}: {expected.message!r}, got {got.error_type}: {got.message!r}"
        return None
    d = difference(expected.value, got.value, grad)
    if d is not None:
        return f"{d} (expected {_show(expected.value)}, got {_show(got.value)})"
    if expected.args_after is None or got.args_after is None:
        return None
    for i, (a, b) in enumerate(zip(expected.args_after, got.args_after)):
        if isinstance(a, torch.Tensor) or (containers and isinstance(a, (list, dict, tuple))):
            d = difference(a, b, grad, f"argument {i} after the call")
            if d is not None:
                return f"{d} (expected {_show(a)}, got {_show(b)})"
    return None


# -- torchkiln-run ------------------------------------------------------------------------------

_SERVER: List[Optional[cpp_runtime.Server]] = [None]


def server() -> cpp_runtime.Server:
    """This process's `torchkiln-run --serve` (the runtime is built on first use)."""
    if _SERVER[0] is None:
        _SERVER[0] = cpp_runtime.Server(cpp_runtime.build())
        atexit.register(close)
    return _SERVER[0]


def close() -> None:
    if _SERVER[0] is not None:
        _SERVER[0].close()
        _SERVER[0] = None


_LOAD_FAILURE = re.compile(r"^cannot load '[^']*': ")


def _call_label(r: Record) -> str:
    return f"{r.program}.{r.method}({', '.join(_show(a) for a in r.args)})"


def check(rec: Recording) -> Report:
    """Compare every recorded call with the Python executor: on its own executor and through torchkiln-run."""
    report = Report(calls=len(rec.calls), binding_errors=rec.binding_errors)
    seen: Set[str] = set()
    unrunnable: Dict[Tuple[str, str], None] = {}
    archives: Dict[str, str] = {}  # digest -> file, written once per test
    for r in rec.calls:
        if r.actual is not r.expected and r.expected is not None and r.actual is not None:
            report.other_executors += 1
            diff = compare(r.expected, r.actual, r.grad_enabled, containers=False)
            if diff is not None:
                report.mismatches.append(f"{_call_label(r)} on the {r.executor} executor vs the Python executor: {diff}")
        if r.problem is not None:
            unrunnable[(r.program, r.problem)] = None
            continue
        srv = server()
        inputs = os.path.join(srv.tmp.name, "in.safetensors")
        try:
            call = cpp_runtime.Call(r.method, r.args, r.rng_state, return_inputs=True, grad_enabled=r.grad_enabled)
            cpp_runtime.write_calls(inputs, [call])
        except Exception as e:  # noqa: BLE001 - a value the runner's inputs cannot hold
            unrunnable[(r.program, f"an argument cannot be written as a VALUE: {str(e).splitlines()[0]}")] = None
            continue
        key = r.digest + hashlib.sha1(Path(inputs).read_bytes()).hexdigest()
        if key in seen:
            continue
        seen.add(key)
        if r.digest not in archives:
            archives[r.digest] = os.path.join(srv.tmp.name, f"{r.digest}.pt")
            Path(archives[r.digest]).write_bytes(r.archive or b"")
        try:
            result = _run_in_cpp(srv, archives[r.digest], inputs)
        except Unrunnable as e:
            unrunnable[(r.program, str(e))] = None
            continue
        except cpp_runtime.ServerError as e:
            report.mismatches.append(f"{_call_label(r)}: torchkiln-run failed: {e}")
            continue
        report.checked += 1
        report.programs.add(r.digest)
        report.random += r.rng_state is not None
        report.raising += r.expected is not None and not r.expected.ok
        value = result.value
        if r.to_python is not None and result.error_type is None:
            value = r.to_python(value)  # Enum members, as the Python call returned them
        got = Outcome(value=value, args_after=result.inputs, error_type=result.error_type, message=result.message)
        diff = compare(r.expected, got, r.grad_enabled)
        if diff is not None:
            report.mismatches.append(f"{_call_label(r)} through torchkiln-run: {diff}")
    for path in archives.values():
        os.unlink(path)
    report.unrunnable = list(unrunnable)
    return report


class Unrunnable(Exception):
    """Why a call cannot go through torchkiln-run."""


def _run_in_cpp(srv: cpp_runtime.Server, archive: str, inputs: str) -> cpp_runtime.Result:
    outputs = os.path.join(srv.tmp.name, "out.safetensors")
    try:
        srv.run_files(archive, inputs, outputs)
    except cpp_runtime.ServerError as e:
        message = str(e)
        if _LOAD_FAILURE.match(message):
            raise Unrunnable("torchkiln-run refuses to load it: " + _LOAD_FAILURE.sub("", message).splitlines()[0]) from None
        raise
    result = cpp_runtime.read_results(outputs)[0]
    if result.unwritable is not None:
        raise Unrunnable(f"a result cannot be written as a VALUE: {result.unwritable}")
    return result
