"""`trace` and `trace_module`: run once on example inputs, return compiled results.

```python
traced = trace(model, torch.randn(2, 3))              # a ScriptModule
traced = trace(fn, (x, y))                            # a ScriptFunction
traced = trace_module(model, {"forward": (x,), "doubled": (x,)})
```

A module becomes a `ScriptModule` of a class type per module of its
hierarchy (names kept, parameters and buffers shared with the original,
read with `prim::GetAttr` chains), whose traced methods run the default
pass pipeline and then the executor. `check_trace` runs the result and the
original again and compares (`TracingCheckError` on mismatch).
"""
from __future__ import annotations

import copy
import inspect
import re
import warnings
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

import torch
import torch.nn as nn

from ..names import unique_name
from ... import api
from ...diagnostics import Error, TracerWarning
from ...ir import types as T
from ...ir.core import CompilationUnit, Function, Graph
from .frame import Frame, TraceError
from .recorder import Recorder, _arg_names, current, finish_frame, positional_only_names

__all__ = ["TraceError", "TracingCheckError", "is_tracing", "trace", "trace_module"]


class TracingCheckError(Error):
    """`check_trace`: the traced program and the original disagree."""


def is_tracing() -> bool:
    """True while `torchkiln.trace` records a program."""
    return current() is not None


def trace(
    func: Any,
    example_inputs: Any = None,
    optimize: Any = None,
    check_trace: bool = True,
    check_inputs: Optional[Sequence[Any]] = None,
    check_tolerance: float = 1e-5,
    strict: bool = True,
    _force_outplace: bool = False,
    _module_class: Any = None,
    _compilation_unit: Any = None,
    example_kwarg_inputs: Optional[Mapping[str, Any]] = None,
    _store_inputs: bool = True,
    executor: Any = None,
) -> Any:
    """Record one run of `func` (a function or `nn.Module`) on `example_inputs`.

    As `torch.jit.trace`: a module is traced through its `forward`; a
    function gives a `ScriptFunction`. `check_trace` re-runs both on
    `check_inputs` (default: the example) and compares the outputs.
    """
    if isinstance(func, (api.ScriptModule, api.ScriptFunction)):
        warnings.warn("the object given to trace is already compiled; it is returned as it is", TracerWarning, stacklevel=2)
        return func
    if isinstance(func, nn.Module):
        inputs = _example(func.forward, example_inputs, example_kwarg_inputs)
        checks = None if check_inputs is None else [{"forward": c} for c in check_inputs]
        return trace_module(func, {"forward": inputs}, None, check_trace, checks, check_tolerance, strict, executor=executor)
    owner = getattr(func, "__self__", None)
    if isinstance(owner, nn.Module) and inspect.ismethod(func):
        inputs = _example(func, example_inputs, example_kwarg_inputs)
        checks = None if check_inputs is None else [{func.__name__: c} for c in check_inputs]
        traced = trace_module(owner, {func.__name__: inputs}, None, check_trace, checks, check_tolerance, strict, executor=executor)
        # `trace(m.method, x)` gives that method of the traced module (torch.jit.trace refuses bound methods)
        return traced if func.__name__ == "forward" else getattr(traced, func.__name__)
    if not callable(func):
        raise TraceError(f"trace expects a function or an nn.Module, not {type(func).__name__}")
    inputs = _example(func, example_inputs, example_kwarg_inputs)
    saved = _clone(inputs) if check_trace else None
    unit = CompilationUnit()
    frame = Frame(Graph())
    names = _arg_names(func, len(inputs))
    for name, x in zip(names, inputs):
        frame.add_input(x, name)
    recorder = Recorder(unit, frame, lambda m: None)
    with recorder.active():
        output = func(*inputs)
    fn = finish_frame(frame, unit.unique_name(_qualified(func)), output, strict, names, positional_only_names(func))
    unit.add_function(fn)
    _optimize(fn, unit)
    result = api.ScriptFunction(unit, fn, executor)
    if check_trace:
        sets = [saved] + [_example(func, c, None) for c in (check_inputs or [])]
        _check(func, result, sets, check_tolerance, recorder.nondeterministic)
    return result


def trace_module(
    mod: nn.Module,
    inputs: Mapping[str, Any],
    optimize: Any = None,
    check_trace: bool = True,
    check_inputs: Optional[Sequence[Mapping[str, Any]]] = None,
    check_tolerance: float = 1e-5,
    strict: bool = True,
    _force_outplace: bool = False,
    _module_class: Any = None,
    _compilation_unit: Any = None,
    example_inputs_is_kwarg: bool = False,
    _store_inputs: bool = True,
    executor: Any = None,
) -> api.ScriptModule:
    """Trace several methods of `mod`: `inputs` maps method names to example inputs."""
    if not isinstance(mod, nn.Module):
        raise TraceError(f"trace_module expects an nn.Module, not {type(mod).__name__}")
    if not isinstance(inputs, Mapping) or not inputs:
        raise TraceError("trace_module expects a dict mapping method names to example inputs")
    unit = CompilationUnit()
    classes = _ClassTypes(unit)
    root_type = classes.build(mod)
    nondeterministic: List[str] = []
    saved: Dict[str, tuple] = {}
    for method_name, example in inputs.items():
        method = getattr(mod, method_name, None)
        if method is None or not callable(method):
            raise TraceError(f"{type(mod).__name__} has no method '{method_name}' to trace")
        args = _example(method, example, None)
        if check_trace:
            saved[method_name] = _clone(args)
        frame = Frame(Graph(), mod, classes.of)
        names = _arg_names(method, len(args))
        for name, x in zip(names, args):
            frame.add_input(x, name)
        recorder = Recorder(unit, frame, classes.of_or_none)
        with recorder.active():
            output = mod(*args) if method_name == "forward" else method(*args)
        root_type.methods[method_name] = finish_frame(frame, method_name, output, strict, names, positional_only_names(method))
        for module_id, fn in recorder.methods.items():
            classes.by_id[module_id].methods.setdefault("forward", fn)
        nondeterministic += recorder.nondeterministic
    for cls in classes.built:
        for fn in cls.methods.values():
            _optimize(fn, unit)  # type: ignore[arg-type]
    result = classes.instantiate(mod, executor)
    if check_trace:
        sets = [saved] + [{k: _example(getattr(mod, k), v, None) for k, v in c.items()} for c in (check_inputs or [])]
        for checks in sets:
            for method_name, args in checks.items():
                eager = mod if method_name == "forward" else getattr(mod, method_name)
                _check(eager, getattr(result, method_name) if method_name != "forward" else result,
                       [args], check_tolerance, nondeterministic, mod)  # fmt: skip
    return result


# -- class types of a module hierarchy ---------------------------------------------------


class _ClassTypes:
    """One class type per module instance of the traced hierarchy.

    Each module instance gets its own type (`__torch__.Linear`,
    `__torch__.Linear_1`, ...): its traced `forward` belongs to it alone.
    A `ScriptModule` inside keeps its own type, and its unit is merged in.
    """

    def __init__(self, unit: CompilationUnit):
        self.unit = unit
        self.by_id: Dict[int, T.ClassType] = {}
        self.built: List[T.ClassType] = []
        self._made: Dict[int, api.ScriptModule] = {}

    def build(self, m: nn.Module) -> T.ClassType:
        if isinstance(m, api.ScriptModule):
            self._merge(m._kiln_unit)
            return m._kiln_type
        known = self.by_id.get(id(m))
        if known is not None:
            return known
        cls = T.ClassType(self._unique(_sanitize(type(m).__qualname__)))
        self.unit.add_class(cls)
        self.by_id[id(m)] = cls
        self.built.append(cls)
        for name, p in m._parameters.items():
            cls.add_attribute(name, T.TENSOR if p is not None else T.NONE, "parameter")
        for name, b in m._buffers.items():
            cls.add_attribute(name, T.TENSOR if b is not None else T.NONE, "buffer")
        for name, sub in m._modules.items():
            cls.add_attribute(name, self.build(sub) if sub is not None else T.NONE, "module")
        cls.add_attribute("training", T.BOOL)
        return cls

    def _unique(self, qualname: str) -> str:
        """`__torch__.Linear`, then `__torch__.___torch_mangle_1.Linear`, ... (the last part stays the class name).

        Unique in the process, as the script compiler's names (and torch.jit's):
        two modules traced apart can be held by one module and saved together.
        """
        unit = self.unit
        return unique_name(f"__torch__.{qualname}", True, lambda name: name in unit.classes or name in unit.functions)

    def _merge(self, unit: CompilationUnit) -> None:
        for name, cls in unit.classes.items():
            if self.unit.classes.get(name, cls) is not cls:
                raise TraceError(f"two different classes are named {name} in one trace")
            self.unit.classes[name] = cls
        for name, fn in unit.functions.items():
            if self.unit.functions.get(name, fn) is not fn:
                raise TraceError(f"two different functions are named {name} in one trace")
            self.unit.functions[name] = fn

    def of(self, m: nn.Module) -> T.ClassType:
        if isinstance(m, api.ScriptModule):
            return m._kiln_type
        return self.by_id[id(m)]

    def of_or_none(self, m: nn.Module) -> Optional[T.ClassType]:
        if isinstance(m, api.ScriptModule):
            return m._kiln_type
        return self.by_id.get(id(m))

    def instantiate(self, m: nn.Module, executor: Any, root: bool = True) -> api.ScriptModule:
        """The ScriptModule for `m`, sharing its parameters and buffers."""
        if isinstance(m, api.ScriptModule):
            return m
        made = self._made.get(id(m))
        if made is not None:
            return made
        values: Dict[str, Any] = {}
        values.update(m._parameters)
        values.update(m._buffers)
        for name, sub in m._modules.items():
            values[name] = self.instantiate(sub, executor, root=False) if sub is not None else None
        values["training"] = m.training
        result = api.ScriptModule.create(self.unit, self.by_id[id(m)], values, executor, eager=root)
        result._non_persistent_buffers_set = set(m._non_persistent_buffers_set)
        self._made[id(m)] = result
        return result


def _qualified(func: Any) -> str:
    return "__torch__." + _sanitize(getattr(func, "__qualname__", None) or getattr(func, "__name__", "traced"))


def _sanitize(name: str) -> str:
    name = name.replace("<locals>.", "").replace("<lambda>", "lambda_fn")
    return re.sub(r"[^A-Za-z0-9_.]", "_", name)


# -- inputs -------------------------------------------------------------------------------


def _example(fn: Any, example: Any, kwarg_example: Optional[Mapping[str, Any]]) -> tuple:
    """Example inputs as a tuple of positional arguments (as torch.jit reads them)."""
    if kwarg_example is not None:
        try:
            bound = inspect.signature(fn).bind(**kwarg_example)
        except (TypeError, ValueError) as e:
            raise TraceError(f"example_kwarg_inputs do not fit the signature: {e}") from None
        return tuple(bound.args)
    if example is None:
        return ()
    if isinstance(example, tuple):
        return example
    return (example,)


def _clone(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.detach().clone()
    if isinstance(obj, tuple):
        return tuple(_clone(x) for x in obj)
    if isinstance(obj, list):
        return [_clone(x) for x in obj]
    if isinstance(obj, dict):
        return {k: _clone(v) for k, v in obj.items()}
    return copy.copy(obj)


def _optimize(fn: Function, unit: CompilationUnit) -> None:
    from ...passes import manager

    manager.run_on_function(fn, unit)


# -- check_trace ------------------------------------------------------------------------------


def _check(
    eager: Callable, traced: Callable, input_sets: Sequence[tuple], tolerance: float, nondeterministic: List[str],
    module: Optional[nn.Module] = None,
) -> None:
    """Run both on each input set and compare; a mismatch raises, or only warns
    when the trace has ops that draw random numbers or the module's buffers
    change from run to run (`self.count += 1`: the two runs see different
    state; torch.jit only warns on output mismatches too)."""
    for inputs in input_sets:
        before = [b.clone() for b in module.buffers()] if module is not None else []
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", TracerWarning)
            expected = eager(*_clone(inputs))
            got = traced(*_clone(inputs))
        problem = _difference(expected, got, tolerance, "output")
        if problem is None:
            continue
        stateful = module is not None and any(
            not torch.equal(a, b) for a, b in zip(before, module.buffers())
        )
        if stateful:
            warnings.warn(
                f"the trace does not reproduce the original ({problem}), but the module's buffers "
                "changed while it ran, which may explain it",
                TracerWarning,
                stacklevel=3,
            )
            return
        if nondeterministic:
            warnings.warn(
                f"the trace does not reproduce the original ({problem}), but it has nondeterministic "
                f"nodes ({', '.join(sorted(set(nondeterministic)))}), which may explain it",
                TracerWarning,
                stacklevel=3,
            )
            return
        raise TracingCheckError(
            "the traced program does not reproduce the original on the check inputs: "
            f"{problem}.\nThe program likely depends on Python values computed from tensors "
            "(see the TracerWarnings above), on global state, or on randomness; compile it "
            "with torchkiln.script to keep its control flow, or trace with check_trace=False"
        )


def _difference(a: Any, b: Any, tolerance: float, where: str) -> Optional[str]:
    if isinstance(a, torch.Tensor):
        if not isinstance(b, torch.Tensor):
            return f"{where} is a Tensor in the original but {type(b).__name__} in the trace"
        if a.shape != b.shape:
            return f"{where} has shape {tuple(a.shape)} in the original but {tuple(b.shape)} in the trace"
        if a.dtype != b.dtype:
            return f"{where} has dtype {a.dtype} in the original but {b.dtype} in the trace"
        # Not torch.testing.assert_close: it imports torch.distributed (~1 s) on first use.
        if a.is_floating_point() or a.is_complex():
            if torch.allclose(b, a, rtol=tolerance, atol=tolerance, equal_nan=True):
                return None
            worst = (b - a).abs().nan_to_num(float("inf")).max().item()
            return f"{where} differs by up to {worst:.3g} (tolerance {tolerance:g})"
        if torch.equal(a, b):
            return None
        return f"{where} differs ({int((a != b).sum())} of {a.numel()} elements)"
    if isinstance(a, (tuple, list)):
        if not isinstance(b, (tuple, list)) or len(a) != len(b):
            return f"{where} has a different structure in the trace"
        for i, (x, y) in enumerate(zip(a, b)):
            problem = _difference(x, y, tolerance, f"{where}[{i}]")
            if problem is not None:
                return problem
        return None
    if isinstance(a, dict):
        if not isinstance(b, dict) or set(a) != set(b):
            return f"{where} has different keys in the trace"
        for k in a:
            problem = _difference(a[k], b[k], tolerance, f"{where}[{k!r}]")
            if problem is not None:
                return problem
        return None
    if a != b:
        return f"{where} is {a!r} in the original but {b!r} in the trace"
    return None
