"""Record every call of a ScriptFunction / ScriptModule method while a test runs.

```python
with recording() as rec:          # patches the three __call__s of torchkiln.api
    m(x)                          # runs as usual; rec.calls[-1] holds the archive, inputs, outcomes
```

For each top-level call (not calls made by a program, by the Python
reference run, or while a trace is recorded) a `Record` keeps:

- the program as archive bytes (`torchkiln.save` of the function, or of the
  module owning the method), saved before the call, so module state is the
  state the call saw;
- the arguments, bound (keywords and defaults resolved) and copied before
  the call (programs may update them in place);
- the CPU generator's state before the call, when the program draws random
  numbers (so the C++ run draws the same numbers);
- `expected`: the outcome on the Python executor: the value, or the
  exception's class and message, and the arguments after the call. When the
  test's call runs on another executor (the default is "cpp"), the Python
  executor runs the call first on copies (a deep copy of the module, copies
  of the arguments), with the same generator state;
- `actual`: the outcome of the test's own call (its executor);
- `to_python`: what the call boundary does to a result (Enum members for a
  function whose return type holds an Enum: Note [Enums at the Python
  boundary]), which the runner's values go through before they are compared.

Argument-binding errors (`ArgumentError` before any program runs) are counted,
not recorded: no program runs.
"""
from __future__ import annotations

import copy
import hashlib
import io
import re
import threading
import warnings
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, List, Optional

import torch

import torchkiln
from torchkiln import api, ops


@dataclass
class Outcome:
    """A call's value and arguments afterwards, or its exception."""

    value: Any = None
    args_after: Optional[List[Any]] = None
    error_type: Optional[str] = None  # the class name, e.g. "ValueError"
    message: Optional[str] = None

    @property
    def ok(self) -> bool:
        return self.error_type is None


@dataclass
class Record:
    program: str  # qualified name of the function or module class
    method: str  # what torchkiln-run calls: "forward" for a function archive
    executor: str  # the test's executor
    archive: Optional[bytes]  # None when it cannot be saved (see `problem`)
    args: List[Any]  # copies, before the call
    rng_state: Optional[torch.Tensor]
    grad_enabled: bool
    expected: Optional[Outcome] = None  # the Python executor's
    actual: Optional[Outcome] = None  # the test's call
    problem: Optional[str] = None  # why the call cannot go through torchkiln-run
    to_python: Optional[Callable[[Any], Any]] = None  # api.result_converter of the called function

    @property
    def digest(self) -> str:
        return hashlib.sha1(self.archive or b"").hexdigest()[:16]


@dataclass
class Recording:
    calls: List[Record] = field(default_factory=list)
    binding_errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


_ACTIVE: List[Optional[Recording]] = [None]
_INSIDE = threading.local()  # set while a recorded call (or its reference run) is running


def snapshot(v: Any) -> Any:
    """A copy of `v` that later in-place updates of `v` do not reach (tensors cloned)."""
    if isinstance(v, torch.Tensor):
        c = v.detach().clone()
        return c.requires_grad_(True) if v.requires_grad else c
    if isinstance(v, list):
        return [snapshot(x) for x in v]
    if isinstance(v, tuple):
        items = [snapshot(x) for x in v]
        return type(v)(*items) if hasattr(v, "_fields") else tuple(items)
    if isinstance(v, dict):
        return {k: snapshot(x) for k, x in v.items()}
    return v


_OP_KIND = re.compile(rb'"kind":\s*"([A-Za-z_]+::[^"]+)"')


def _draws_random_numbers(archive: bytes) -> bool:
    """Whether an op of the program (ir.json: nodes' "kind") is `nondeterministic` in the op table."""
    ir = zipfile.ZipFile(io.BytesIO(archive)).read("ir.json")
    for kind in set(_OP_KIND.findall(ir)):
        op = ops.find(kind.decode())
        if op is not None and op.extra.get("nondeterministic"):
            return True
    return False


def _archive(obj: Any) -> bytes:
    buf = io.BytesIO()
    torchkiln.save(obj, buf)
    return buf.getvalue()


def _exception_outcome(e: BaseException) -> Outcome:
    message = str(e)
    if isinstance(e, KeyError) and len(e.args) == 1 and "\nTraceback of the program" in str(e.args[0]):
        message = e.args[0]  # the C++ executor's: the key's repr and the traceback (Note [Comparing messages])
    return Outcome(error_type=type(e).__name__, message=message)


def _run(call: Callable[[], Any], args: List[Any]) -> Outcome:
    try:
        value = call()
    except Exception as e:  # noqa: BLE001 - the outcome is what is compared
        return _exception_outcome(e)
    return Outcome(value=snapshot(value), args_after=snapshot(args))


def _python_reference(fn: Any, unit: Any, module: Any, args: List[Any], rng_state: Optional[torch.Tensor]) -> Optional[Outcome]:
    """`fn` on the Python executor, on copies: the module deep-copied, the arguments copied.

    None when the module cannot be deep-copied (the test's outcome is then the reference).
    """
    python = api.get_executor("python")
    call = api._entry(fn, unit, python)  # as a call from Python: Enum results are members
    copies = snapshot(args)
    if module is not None:
        try:
            module = copy.deepcopy(module).with_executor(python)
        except Exception:  # noqa: BLE001
            return None
    if rng_state is not None:
        torch.set_rng_state(rng_state)
    with warnings.catch_warnings():  # the call itself warns: the reference run must not warn again
        warnings.simplefilter("ignore")
        if module is None:
            return _run(lambda: call(*copies), copies)
        return _run(lambda: call(module, *copies), copies)


def _record(root: Any, program: str, method: str, fn: Any, unit: Any, module: Any, executor: Any,
            bind: Callable[[], tuple], original: Callable[[], Any]) -> Any:
    """Record one call of `fn` (on `module`, None for a free function), then make it."""
    recording = _ACTIVE[0]
    try:
        bound = list(bind())
    except api.ArgumentError:
        if recording is not None:
            with recording.lock:
                recording.binding_errors += 1
        return original()
    _INSIDE.active = True
    try:
        record = Record(program, method, executor.name, archive=None, args=snapshot(bound), rng_state=None,
                        grad_enabled=torch.is_grad_enabled(), to_python=api.result_converter(fn))
        try:
            record.archive = _archive(root)
        except Exception as e:  # noqa: BLE001 - reported as the reason the call is not run in C++
            record.problem = f"cannot be saved: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        if record.archive is not None and _draws_random_numbers(record.archive):
            record.rng_state = torch.get_rng_state()
        if executor.name != "python":
            record.expected = _python_reference(fn, unit, module, bound, record.rng_state)
        if record.rng_state is not None:
            torch.set_rng_state(record.rng_state)
        try:
            value = original()
        except Exception as e:
            record.actual = _exception_outcome(e)
            raise
        else:
            record.actual = Outcome(value=snapshot(value), args_after=snapshot(bound))
            return value
        finally:
            if record.expected is None:
                record.expected = record.actual
            if recording is not None:
                with recording.lock:
                    recording.calls.append(record)
    finally:
        _INSIDE.active = False


def _recordable() -> bool:
    return _ACTIVE[0] is not None and not getattr(_INSIDE, "active", False) and api._TraceHook.recorder is None


# -- the patched __call__s ------------------------------------------------------------------

_ORIGINAL = {
    "function": api.ScriptFunction.__call__,
    "method": api.ScriptMethod.__call__,
    "module": api.ScriptModule.__call__,
}


def _function_call(self: api.ScriptFunction, *args: Any, **kwargs: Any) -> Any:
    original = _ORIGINAL["function"]
    if not _recordable():
        return original(self, *args, **kwargs)
    return _record(self, self.qualified_name, "forward", self._kiln_fn, self._kiln_unit, None, self._executor,
                   lambda: self._bind(args, kwargs), lambda: original(self, *args, **kwargs))


def _method_name(module: api.ScriptModule, fn: Any) -> str:
    return next(name for name, f in module._kiln_type.methods.items() if f is fn)


def _method_call(self: api.ScriptMethod, *args: Any, **kwargs: Any) -> Any:
    original = _ORIGINAL["method"]
    if not _recordable():
        return original(self, *args, **kwargs)
    m = self._module
    return _record(m, m._kiln_type.name, _method_name(m, self._fn), self._fn, self._unit, m, self._executor,
                   lambda: self._bind(args, kwargs), lambda: original(self, *args, **kwargs))


def _module_call(self: api.ScriptModule, *args: Any, **kwargs: Any) -> Any:
    original = _ORIGINAL["module"]
    forward = self.__dict__.get("forward")
    # With hooks, nn.Module.__call__ calls `self.forward`: that ScriptMethod call is recorded.
    if not _recordable() or not isinstance(forward, api.ScriptMethod) or _has_hooks(self):
        return original(self, *args, **kwargs)
    return _record(self, self._kiln_type.name, "forward", forward._fn, forward._unit, self, forward._executor,
                   lambda: forward._bind(args, kwargs), lambda: original(self, *args, **kwargs))


def _has_hooks(m: api.ScriptModule) -> bool:
    from torch.nn.modules import module as nn_module

    d = m.__dict__
    return bool(
        d["_forward_hooks"] or d["_forward_pre_hooks"] or d["_backward_hooks"] or d["_backward_pre_hooks"]
        or nn_module._global_forward_hooks or nn_module._global_forward_pre_hooks
        or nn_module._global_backward_hooks or nn_module._global_backward_pre_hooks
    )


_INSTALLED = [False]


def install() -> None:
    """Patch the three __call__s (once per process); they record only inside `recording()`."""
    if _INSTALLED[0]:
        return
    api.ScriptFunction.__call__ = _function_call  # type: ignore[method-assign]
    api.ScriptMethod.__call__ = _method_call  # type: ignore[method-assign]
    api.ScriptModule.__call__ = _module_call  # type: ignore[method-assign]
    _INSTALLED[0] = True


@contextmanager
def recording() -> Iterator[Recording]:
    install()
    rec = Recording()
    previous = _ACTIVE[0]
    _ACTIVE[0] = rec
    try:
        yield rec
    finally:
        _ACTIVE[0] = previous
