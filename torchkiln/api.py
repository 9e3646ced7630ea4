"""What `script` and `trace` return: `ScriptFunction` and `ScriptModule`.

Both wrap IR (`Function`s in a `CompilationUnit`) and run it through an
executor. A `ScriptModule` is an `nn.Module`: parameters, buffers and
submodules are registered the `nn.Module` way, so `named_parameters`,
`state_dict`, `load_state_dict`, `train`/`eval`, `to` and hooks work as on
any module.

```python
m = ScriptModule.create(unit, class_type, {"weight": p, "sub": sub, "training": False})
m(x)                 # fast path: forward without nn.Module's hook machinery
m.forward.graph      # each method is a bound `ScriptMethod`
m.doubled(x)         # any method by name
```

Note [Call path]
~~~~~~~~~~~~~~~~
A call binds and checks its arguments against `Function.args` and then calls
the executor's compiled callable. The common call (every argument given
positionally, the right count) costs one shallow `isinstance` per argument;
keywords, defaults, deep checks of containers and error messages take the
slow path (`_call_slow`, `_Binder.bind`), as do calls made while a trace is
recorded. `ScriptModule.__call__` repeats the fast path of `forward` inline
and skips `nn.Module.__call__` unless a hook is registered. Executors compile
when the result is created with `eager=True` (the default of
`ScriptFunction(...)` and `ScriptModule.create`), so the first call runs at
full speed; with `eager=False` (the methods of a scripted module, the
tracer's submodules) each compiles on its first call, as torch.jit's do
(Note [Lazy optimization] in `frontend/script/compiler.py`). A scripted
free function compiles its executor at once (the C++ executor decides
then whether it can run it, and warns if not). Compiled callables are
cached per `Function` and executor; two threads making the first call at
once compile once. A function whose types hold an Enum calls the compiled
callable through a converter that makes its results members (`_entry`,
Note [Enums at the Python boundary] in frontend/script/enums.py), and its
Enum-typed parameters always take the slow path; every other function calls
the compiled callable itself.
"""
from __future__ import annotations

import copy
import enum

import operator
import re
import threading
import weakref
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Tuple

import torch
import torch.nn as nn
from torch.nn.modules.module import (
    _global_backward_hooks,
    _global_backward_pre_hooks,
    _global_forward_hooks,
    _global_forward_pre_hooks,
)

from .collector import building
from .diagnostics import ArgumentError, Error
from .ir import types as T
from .ir.core import Argument, CompilationUnit, Function, Graph

__all__ = [
    "Executor",
    "ScriptFunction",
    "ScriptMethod",
    "ScriptModule",
    "get_executor",
    "register_executor",
    "set_default_executor",
]


# ---------------------------------------------------------------------------
# Executors
# ---------------------------------------------------------------------------


class Executor:
    """How a `Function` becomes something callable.

    `compile(fn, unit)` returns a callable taking the function's arguments
    positionally (for methods, the `ScriptModule` first).
    """

    name = "abstract"

    def compile(self, fn: Function, unit: CompilationUnit) -> Callable:
        raise NotImplementedError

    def available(self) -> bool:
        return True


class PythonExecutor(Executor):
    """Generated Python source (`torchkiln.codegen`), compiled once."""

    name = "python"

    def compile(self, fn: Function, unit: CompilationUnit) -> Callable:
        from . import codegen

        return codegen.compile_function(fn, unit)


class InterpreterExecutor(Executor):
    """The reference interpreter: slow, used as the test oracle."""

    name = "interpreter"

    def compile(self, fn: Function, unit: CompilationUnit) -> Callable:
        from . import interpreter

        def run(*args):
            return interpreter.run(fn, unit, list(args))

        return run


_EXECUTORS: Dict[str, Executor] = {"python": PythonExecutor(), "interpreter": InterpreterExecutor()}
_DEFAULT = ["python"]


def register_executor(executor: Executor) -> None:
    """Make `executor` selectable by its name (the C++ runtime registers "cpp")."""
    _EXECUTORS[executor.name] = executor


def set_default_executor(name: str) -> None:
    get_executor(name)
    _DEFAULT[0] = name


def get_executor(executor: "Executor | str | None" = None) -> Executor:
    """The executor named `executor` (None: the default), as an object."""
    if isinstance(executor, Executor):
        return executor
    name = executor if executor is not None else _DEFAULT[0]
    try:
        return _EXECUTORS[name]
    except KeyError:
        raise Error(f"unknown executor {name!r}; known: {', '.join(sorted(_EXECUTORS))}") from None


def _state_changed() -> None:
    """Called when a ScriptModule's state is replaced (an attribute, Parameter,
    buffer or submodule assigned, `_apply`/`to`, `train`/`eval`).

    The C++ executor installs its epoch counter here (Note [C++ state of a
    ScriptModule] in cpp_executor.py); otherwise it does nothing.
    """


def _release_tensors(module: nn.Module) -> None:
    """Called before torch may swap the tensors of ScriptModule `module` in place
    (`_apply`, `_load_from_state_dict`; `torch.utils.swap_tensors` refuses a
    tensor that something else references).

    The C++ executor installs a function here that drops its references to
    the module's tensors until the next call (Note [Releasing tensors for
    swap_tensors] in cpp_executor.py); otherwise it does nothing.
    """


_COMPILED: "weakref.WeakKeyDictionary[Function, Dict[str, Callable]]" = weakref.WeakKeyDictionary()


_COMPILE_LOCK = threading.RLock()  # two threads making the first call compile once


def _compiled(fn: Function, unit: CompilationUnit, executor: Executor) -> Callable:
    per_fn = _COMPILED.get(fn)
    entry = per_fn.get(executor.name) if per_fn is not None else None
    if entry is not None:
        return entry
    with _COMPILE_LOCK:
        per_fn = _COMPILED.get(fn)
        if per_fn is None:
            per_fn = _COMPILED[fn] = {}
        entry = per_fn.get(executor.name)
        if entry is None:
            entry = per_fn[executor.name] = executor.compile(fn, unit)
            LAST_COMPILED.fn = fn  # compat.last_executed_optimized_graph
        return entry


LAST_COMPILED = threading.local()


def _entry(fn: Function, unit: CompilationUnit, executor: Executor) -> Callable:
    """What a call from Python runs: the compiled callable, wrapped when its results
    hold Enum members (Note [Enums at the Python boundary]); decided here, once."""
    with building():  # the pass pipeline and the executor's program: Note [Collector while building]
        call = _compiled(fn, unit, executor)
    post = result_converter(fn)
    if post is None:
        return call

    def call_with_members(*args):
        return post(call(*args))

    return call_with_members


def result_converter(fn: Function) -> Optional[Callable[[Any], Any]]:
    """What makes a result of `fn` the value Python sees (Enum members), or None:
    the result is the executor's value as it is. Only a function whose return type
    held an Enum before erasure has one (Note [Enums at the Python boundary])."""
    if fn.frontend_types is None:
        return None
    from .frontend.script.enums import to_members

    return to_members(fn.frontend_types[1])


# ---------------------------------------------------------------------------
# Argument binding (Note [Call path])
# ---------------------------------------------------------------------------

_NONE_T = type(None)
_NUMBER = (int, float, bool, complex)


def _python_classes(t: T.Type) -> Optional[Tuple[type, ...]]:
    """The Python classes a value of IR type `t` may have; None: do not check."""
    if isinstance(t, T.TensorType):
        return (torch.Tensor,)
    if isinstance(t, T.OptionalType):
        inner = _python_classes(t.elem)
        return None if inner is None else (_NONE_T,) + inner
    if isinstance(t, T.ListType):
        return (list, tuple)
    if isinstance(t, T.TupleType):
        return (tuple,)
    if isinstance(t, T.DictType):
        return (dict,)
    if isinstance(t, T.ScalarNumberType):
        return _NUMBER
    return _SIMPLE.get(t)


def _dtype_number(dtype: torch.dtype) -> Any:
    """c10's number of `dtype` (`prim::dtype.int` maps it back); a dtype without one stays as it is."""
    from .ops.prim import DTYPE_OF_INT

    return DTYPE_OF_INT.index(dtype) if dtype in DTYPE_OF_INT else dtype


def _has_interface(t: T.Type, depth: int = 0) -> bool:
    """Whether values of `t` hold a value of an interface type (checked by `_deep_ok`, never on the fast path)."""
    return isinstance(t, T.InterfaceType) or depth < 50 and any(_has_interface(c, depth + 1) for c in t.contained())


def _has_items(t: T.Type) -> bool:
    """A list, tuple or dict type (also inside Optional) whose items have a checkable type."""
    if isinstance(t, T.OptionalType):
        return _has_items(t.elem)
    if isinstance(t, T.ListType):
        return not isinstance(t.elem, T.AnyType)
    return isinstance(t, (T.TupleType, T.DictType))


_SIMPLE: Dict[T.Type, Tuple[type, ...]] = {
    T.INT: (int,),
    T.FLOAT: (float, int),
    T.BOOL: (bool,),
    T.STR: (str,),
    T.NONE: (_NONE_T,),
    T.DEVICE: (torch.device, str),
    T.SCALAR_TYPE: (torch.dtype,),
    T.LAYOUT: (torch.layout,),
    T.MEMORY_FORMAT: (torch.memory_format,),
    T.GENERATOR: (torch.Generator,),
}


def _deep_ok(value: Any, t: T.Type) -> bool:
    """Slow, full check of `value` against `t` (containers element by element)."""
    if isinstance(t, T.InterfaceType):
        # A module or script object whose class implements the interface (Note [Interface types in the IR]).
        kiln_type = getattr(value, "_kiln_type", None)
        return isinstance(kiln_type, T.ClassType) and t.why_not_implemented_by(kiln_type) is None
    if isinstance(t, T.ClassType) and not t.is_module:
        # A script-class object: not None and has the class's attributes (the
        # executors read them; an int or None would fail deep inside a call).
        return value is not None and all(hasattr(value, name) for name in t.attributes)
    if isinstance(t, (T.AnyType, T.ClassType, T.FutureType, T.UnionType)) or t.__class__.__name__ == "TypeVarType":
        if isinstance(t, T.UnionType):
            return any(_deep_ok(value, m) for m in t.members)
        return True
    if isinstance(t, T.OptionalType):
        return value is None or _deep_ok(value, t.elem)
    classes = _python_classes(t)
    if classes is None:
        return True
    if not isinstance(value, classes):
        return False
    if t == T.INT and isinstance(value, bool):
        return True
    if isinstance(t, T.ListType):
        return all(_deep_ok(v, t.elem) for v in value)
    if isinstance(t, T.TupleType):
        return len(value) == len(t.elems) and all(_deep_ok(v, e) for v, e in zip(value, t.elems))
    if isinstance(t, T.DictType):
        return all(_deep_ok(k, t.key) and _deep_ok(v, t.value) for k, v in value.items())
    return True


def _type_name(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return "Tensor"
    if isinstance(value, tuple) and len(value) <= 8:  # a tuple's items in order: (int, str, int)
        return "(" + ", ".join(_type_name(v) for v in value) + ")"
    if isinstance(value, (list, tuple)) and value:
        inner = ", ".join(sorted({_type_name(v) for v in value}))
        return f"{type(value).__name__}[{inner}]"
    return type(value).__name__


def format_signature(fn: Function) -> str:
    """`forward(self, x: Tensor, flag: bool = True) -> Tensor` (self untyped); `/` and `*` as in Python."""
    parts = []
    for i, a in enumerate(fn.args):
        if i == 0 and a.name == "self" and isinstance(a.type, T.ClassType):
            parts.append("self")
        else:
            text = f"{a.name}: {a.type}"
            if a.has_default:
                text += f" = {a.default!r}"
            parts.append(("*, " if a.kwarg_only and not any(p.startswith("*") for p in parts) else "") + text)
        if a.positional_only and (i + 1 == len(fn.args) or not fn.args[i + 1].positional_only):
            parts.append("/")
    return f"{fn.name.rsplit('.', 1)[-1]}({', '.join(parts)}) -> {fn.returns}"


class _LazySignature:
    """`format_signature(fn)`, made when first shown."""

    __slots__ = ("fn",)

    def __init__(self, fn: Function):
        self.fn = fn

    def __format__(self, spec: str) -> str:
        return format(format_signature(self.fn), spec)

    __str__ = lambda self: format_signature(self.fn)  # noqa: E731


class _Binder:
    """Binds call arguments to a Function's user-visible args (self excluded)."""

    __slots__ = ("fn", "args", "checks", "n", "positional", "positional_only", "floats", "ints")

    # `n` is the argument count the fast path accepts: every argument given
    # positionally; -1 when keyword-only arguments rule the fast path out.

    def __init__(self, fn: Function, skip_self: bool, deep_containers: bool = False):
        self.fn = fn
        self.args: List[Argument] = fn.args[1:] if skip_self else list(fn.args)
        # Enum-typed parameters take the slow path: `bind` makes members values (Note [Enums at the Python boundary]).
        skipped = len(fn.args) - len(self.args)
        enum_args = {i - skipped for i, _, _ in _enum_arguments(fn)}
        # A script-class or interface argument has no Python class to test: `()` sends it to `bind`'s deep check;
        # so do containers where the executor would not check their items itself (`deep_containers`:
        # the generated-Python executor; the C++ executor's conversion checks every item).
        self.checks = tuple(
            () if isinstance(a.type, T.ClassType) and not a.type.is_module or _has_interface(a.type) or deep_containers and _has_items(a.type) or i in enum_args
            else (float,) if deep_containers and a.type == T.FLOAT  # an int goes through `bind`, which makes it a float
            else _python_classes(a.type) or (object,)
            for i, a in enumerate(self.args)
        )  # fmt: skip
        self.floats = tuple(i for i, a in enumerate(self.args) if a.type in (T.FLOAT, T.OptionalType(T.FLOAT)))
        self.ints = tuple(i for i, a in enumerate(self.args) if a.type in (T.INT, T.OptionalType(T.INT)))
        self.positional = sum(1 for a in self.args if not a.kwarg_only)
        self.positional_only = tuple(a.name for a in self.args if a.positional_only)  # `def f(x, /)`
        self.n = len(self.args) if self.positional == len(self.args) else -1

    def check_fast(self, args: tuple) -> bool:
        for value, classes in zip(args, self.checks):
            if not isinstance(value, classes):
                return False
        return True

    def bind(self, args: tuple, kwargs: Mapping[str, Any]) -> tuple:
        """Full binding: keywords, defaults, deep type checks, clear errors."""
        sig = _LazySignature(self.fn)  # formatted only for an error message (keyword calls bind every time)
        named = ", ".join(n for n in self.positional_only if n in kwargs) if kwargs and self.positional_only else ""
        if named:  # Python's TypeError (and message) for `def f(x, /)` called as f(x=...)
            raise ArgumentError(f"{sig}: got some positional-only arguments passed as keyword arguments: '{named}'")
        if len(args) > self.positional:
            raise ArgumentError(
                f"{sig}: expected at most {self.positional} positional argument"
                f"{'' if self.positional == 1 else 's'} but got {len(args)}"
            )
        bound: List[Any] = list(args)
        names = {a.name for a in self.args}
        for key in kwargs:
            if key not in names:
                raise ArgumentError(f"{sig}: unexpected keyword argument '{key}'")
        for a in self.args[len(args):]:
            if a.name in kwargs:
                bound.append(kwargs[a.name])
            elif a.has_default:
                bound.append(a.default)
            else:
                raise ArgumentError(f"{sig}: missing argument '{a.name}'")
        for a in self.args[: len(args)]:
            if a.name in kwargs:
                raise ArgumentError(f"{sig}: got multiple values for argument '{a.name}'")
        if self.fn.frontend_types is not None:
            self._enum_values(bound, sig)
        bound = [v.value if isinstance(v, enum.Enum) else v for v in bound]  # a member is its value (Note [Enums])
        for i in self.floats:  # an int where a float is declared is that float (as the C++ executor converts)
            if type(bound[i]) is int:
                bound[i] = float(bound[i])
        for i in self.ints:  # a dtype where an int is declared is its number (TorchScript's dtypes are ints)
            if isinstance(bound[i], torch.dtype):
                bound[i] = _dtype_number(bound[i])
        for a, value in zip(self.args, bound):
            if not _deep_ok(value, a.type):
                raise ArgumentError(
                    f"{sig}: expected a value of type {a.type} for argument '{a.name}' "
                    f"but got {_type_name(value)}"
                )
        return tuple(bound)

    def _enum_values(self, bound: List[Any], sig: "_LazySignature") -> None:
        """Enum-typed arguments as their run-time values; a value that is no member is refused."""
        from .frontend.script.enums import NotAMember

        skipped = len(self.fn.args) - len(self.args)
        for i, to_value, t in _enum_arguments(self.fn):
            i -= skipped
            try:
                bound[i] = to_value(bound[i])
            except NotAMember as e:
                raise ArgumentError(f"{sig}: expected a value of type {t} for argument '{self.args[i].name}' but got {e}") from None


# Note [Shared binders]
# ~~~~~~~~~~~~~~~~~~~~~
# A binder depends only on its function's signature (read once it is
# compiled: Enum erasure, the one later change, happens in `Compiler.finish`,
# before any module is built) and on two flags. A scripted Transformer has 79
# bound methods over 16 functions; each instance's `ScriptMethod` shares the
# function's binder rather than deriving the same checks again (half of what
# building the ScriptModules took).
_BINDERS: "weakref.WeakKeyDictionary[Function, Dict[Tuple[bool, bool], _Binder]]" = weakref.WeakKeyDictionary()


def _binder(fn: Function, skip_self: bool, deep_containers: bool) -> _Binder:
    """The `_Binder` for `fn` with these flags, made once (Note [Shared binders])."""
    per_fn = _BINDERS.get(fn)
    if per_fn is None:
        per_fn = _BINDERS.setdefault(fn, {})
    key = (skip_self, deep_containers)
    found = per_fn.get(key)
    if found is None:
        found = per_fn.setdefault(key, _Binder(fn, skip_self, deep_containers))
    return found


_ENUM_ARGUMENTS: "weakref.WeakKeyDictionary[Function, Tuple[Tuple[int, Callable[[Any], Any], T.Type], ...]]" = weakref.WeakKeyDictionary()


def _enum_arguments(fn: Function) -> Tuple[Tuple[int, Callable[[Any], Any], T.Type], ...]:
    """(index in `fn.args`, what makes an argument its run-time value, the type) for each
    parameter whose type held an Enum (Note [Enums at the Python boundary]); made once per function."""
    if fn.frontend_types is None:
        return ()
    found = _ENUM_ARGUMENTS.get(fn)
    if found is None:
        from .frontend.script.enums import to_values

        converters = ((i, to_values(t), t) for i, t in enumerate(fn.frontend_types[0]))
        found = _ENUM_ARGUMENTS[fn] = tuple((i, c, t) for i, c, t in converters if c is not None)
    return found


# ---------------------------------------------------------------------------
# Trace hook: calls made while a trace is being recorded become call nodes.
# ---------------------------------------------------------------------------


class _TraceHook:
    """The active tracer, if any (`frontend/trace` sets it while recording).

    The recorder's `record_call(callee, module, fn, args)` records a
    `prim::CallFunction` / `prim::CallMethod` and returns the result.
    """

    recorder: Any = None


def set_trace_recorder(recorder: Any) -> Any:
    """Install `recorder` (None to remove); returns the previous one."""
    previous = _TraceHook.recorder
    _TraceHook.recorder = recorder
    return previous


# ---------------------------------------------------------------------------
# ScriptFunction
# ---------------------------------------------------------------------------


class ScriptFunction:
    """A compiled free function: callable, with `.graph`, `.code`, `.schema`.

    `ScriptFunction(unit, fn)` wraps `fn` (a `Function` in `unit`).
    """

    def __init__(self, unit: CompilationUnit, fn: Function, executor: "Executor | str | None" = None, eager: bool = True):
        self._kiln_unit = unit
        self._kiln_fn = fn
        self._executor = get_executor(executor)
        self._binder = _binder(fn, False, self._executor.name != "cpp")
        self._n = self._binder.n
        self._checks = self._binder.checks
        self._call = _entry(fn, unit, self._executor) if eager else self._compile_then_call
        self.__name__ = fn.name.rsplit(".", 1)[-1]
        self.__qualname__ = self.__name__

    def _compile_then_call(self, *args):
        self._call = _entry(self._kiln_fn, self._kiln_unit, self._executor)
        return self._call(*args)

    def __call__(self, *args, **kwargs):
        # Note [Call path]
        if kwargs or _TraceHook.recorder is not None or len(args) != self._n:
            return self._call_slow(args, kwargs)
        for value, classes in zip(args, self._checks):
            if not isinstance(value, classes):
                return self._call_slow(args, kwargs)
        return self._call(*args)

    def _call_slow(self, args: tuple, kwargs: Mapping[str, Any]) -> Any:
        args = self._bind(args, kwargs)
        if _TraceHook.recorder is not None:
            return _TraceHook.recorder.record_call(self, None, self._kiln_fn, args)
        return self._call(*args)

    def _bind(self, args: tuple, kwargs: Mapping[str, Any]) -> tuple:
        if kwargs or len(args) != self._binder.n or not self._binder.check_fast(args):
            return self._binder.bind(args, kwargs)
        return args

    @property
    def name(self) -> str:
        return self.__name__

    @property
    def qualified_name(self) -> str:
        return self._kiln_fn.name

    @property
    def schema(self) -> Function:
        return self._kiln_fn

    @property
    def graph(self) -> Graph:
        return self._kiln_fn.graph

    @property
    def inlined_graph(self) -> Graph:
        return inline_calls(self._kiln_fn.graph, self._kiln_unit)

    @property
    def code(self) -> str:
        return _code_of(self._kiln_fn, self._kiln_unit)

    def save(self, path_or_file, _extra_files: Optional[Dict[str, Any]] = None) -> None:
        _save(self, path_or_file, _extra_files)

    def with_executor(self, executor: "Executor | str") -> "ScriptFunction":
        return ScriptFunction(self._kiln_unit, self._kiln_fn, executor)

    def __repr__(self) -> str:
        return f"<torchkiln.ScriptFunction {format_signature(self._kiln_fn)}>"


# ---------------------------------------------------------------------------
# ScriptModule
# ---------------------------------------------------------------------------


class ScriptMethod:
    """A method of a `ScriptModule`, bound to it: `m.forward`, `m.doubled`."""

    __slots__ = ("_module", "_fn", "_unit", "_binder", "_n", "_checks", "_executor", "_call", "__weakref__")

    def __init__(self, module: "ScriptModule", fn: Function, unit: CompilationUnit, executor: Executor, eager: bool):
        self._module = module
        self._fn = fn
        self._unit = unit
        self._binder = _binder(fn, True, executor.name != "cpp")
        self._n = self._binder.n
        self._checks = self._binder.checks
        self._executor = executor
        self._call = _entry(fn, unit, executor) if eager else self._compile_then_call

    def _compile_then_call(self, *args):
        self._call = _entry(self._fn, self._unit, self._executor)
        return self._call(*args)

    def __call__(self, *args, **kwargs):
        # Note [Call path]; ScriptModule.__call__ repeats this for `forward`.
        if kwargs or _TraceHook.recorder is not None or len(args) != self._n:
            return self._call_slow(args, kwargs)
        for value, classes in zip(args, self._checks):
            if not isinstance(value, classes):
                return self._call_slow(args, kwargs)
        return self._call(self._module, *args)

    def _call_slow(self, args: tuple, kwargs: Mapping[str, Any]) -> Any:
        args = self._bind(args, kwargs)
        if _TraceHook.recorder is not None:
            return _TraceHook.recorder.record_call(self, self._module, self._fn, args)
        return self._call(self._module, *args)

    def _bind(self, args: tuple, kwargs: Mapping[str, Any]) -> tuple:
        binder = self._binder
        if kwargs or len(args) != binder.n or not binder.check_fast(args):
            return binder.bind(args, kwargs)
        return args

    @property
    def name(self) -> str:
        return self._fn.name

    @property
    def owner(self) -> "ScriptModule":
        return self._module

    @property
    def schema(self) -> Function:
        return self._fn

    @property
    def graph(self) -> Graph:
        return self._fn.graph

    @property
    def inlined_graph(self) -> Graph:
        return inline_calls(self._fn.graph, self._unit)

    @property
    def code(self) -> str:
        return _code_of(self._fn, self._unit)

    def __repr__(self) -> str:
        return f"<torchkiln.ScriptMethod {format_signature(self._fn)}>"


class ScriptModule(nn.Module):
    """A compiled `nn.Module`; build one with `ScriptModule.create`.

    Attributes: `_kiln_unit` (the CompilationUnit), `_kiln_type` (its
    ClassType), `_kiln_executor`. Each method of the class type is an
    instance attribute holding a bound `ScriptMethod`.
    """

    _kiln_unit: CompilationUnit
    _kiln_type: T.ClassType

    def __init__(self) -> None:  # noqa: D401 - use create()
        raise Error("construct a ScriptModule with torchkiln.script / trace / load (ScriptModule.create)")

    @classmethod
    def create(
        cls,
        unit: CompilationUnit,
        class_type: T.ClassType,
        values: Mapping[str, Any],
        executor: "Executor | str | None" = None,
        eager: bool = True,
    ) -> "ScriptModule":
        """A module of `class_type` whose attributes hold `values` (name -> value).

        `values` names every attribute of `class_type`: `nn.Parameter` (or
        None) for parameters, tensors (or None) for buffers, `ScriptModule`s
        (or None) for submodules, plain Python values otherwise. With
        `eager`, methods compile now (the first call runs at full speed);
        otherwise each compiles on its first call.
        """
        if cls is ScriptModule:
            cls = _container_class(class_type)
        if class_type.frontend_attributes:
            cls = _enum_module_class(cls, class_type)
        m = cls.__new__(cls)
        nn.Module.__init__(m)
        d = m.__dict__
        d["_kiln_unit"] = unit
        d["_kiln_type"] = class_type
        d["_kiln_executor"] = get_executor(executor)
        missing = [n for n in class_type.attributes if n not in values]
        if missing:
            raise Error(f"ScriptModule.create: no value for attribute(s) {missing} of {class_type.name}")
        for name, kind in class_type.attr_kinds.items():
            value = values[name]
            if kind == "parameter":
                if value is not None and not isinstance(value, nn.Parameter):
                    value = nn.Parameter(value, requires_grad=value.requires_grad)
                m._parameters[name] = value
            elif kind == "buffer":
                m._buffers[name] = value
            elif kind == "module":
                m._modules[name] = value
            elif name == "training":
                d["training"] = bool(value)
            else:
                d[name] = value
        m._kiln_bind_methods(eager)
        return m

    def _kiln_bind_methods(self, eager: bool = False) -> None:
        executor = self.__dict__["_kiln_executor"]
        for name, fn in self._kiln_type.methods.items():
            self.__dict__[name] = ScriptMethod(self, fn, self._kiln_unit, executor, eager)

    # -- calling ------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        d = self.__dict__
        if (
            d["_forward_hooks"]
            or d["_forward_pre_hooks"]
            or d["_backward_hooks"]
            or d["_backward_pre_hooks"]
            or _global_forward_hooks
            or _global_forward_pre_hooks
            or _global_backward_hooks
            or _global_backward_pre_hooks
        ):
            return nn.Module.__call__(self, *args, **kwargs)
        try:
            forward = d["forward"]
        except KeyError:
            raise Error(f"{self._kiln_type.name} has no method 'forward'") from None
        # ScriptMethod.__call__, inlined: this is the hot path (Note [Call path]).
        if kwargs or _TraceHook.recorder is not None or len(args) != forward._n:
            return forward._call_slow(args, kwargs)
        for value, classes in zip(args, forward._checks):
            if not isinstance(value, classes):
                return forward._call_slow(args, kwargs)
        return forward._call(self, *args)

    # -- views of the IR ----------------------------------------------------
    def _kiln_method(self, name: str) -> ScriptMethod:
        method = self.__dict__.get(name)
        if not isinstance(method, ScriptMethod):
            raise AttributeError(f"{self._kiln_type.name} has no method '{name}'")
        return method

    @property
    def graph(self) -> Graph:
        return self._kiln_method("forward").graph

    @property
    def inlined_graph(self) -> Graph:
        return self._kiln_method("forward").inlined_graph

    @property
    def code(self) -> str:
        return self._kiln_method("forward").code

    @property
    def original_name(self) -> str:
        return self._kiln_type.name.rsplit(".", 1)[-1]

    @property
    def method_names(self) -> List[str]:
        return list(self._kiln_type.methods)

    def _get_name(self) -> str:
        return self.original_name

    def save(self, path_or_file, _extra_files: Optional[Dict[str, Any]] = None) -> None:
        _save(self, path_or_file, _extra_files)

    def with_executor(self, executor: "Executor | str") -> "ScriptModule":
        """Rebind every method (in this module tree) to `executor`, in place."""
        chosen = get_executor(executor)
        for mod in self.modules():
            if isinstance(mod, ScriptModule):
                mod.__dict__["_kiln_executor"] = chosen
                mod._kiln_bind_methods(eager=mod is self)
        return self

    def __setattr__(self, name: str, value: Any) -> None:
        cls = self.__dict__.get("_kiln_type")
        if cls is not None and name in cls.methods:
            raise AttributeError(f"cannot assign to method '{name}' of a ScriptModule")
        if cls is not None and name in cls.attributes and name != "training":
            if name in cls.frontend_attributes:
                value = _enum_attribute_value(cls, name, value)
            _check_assignment(cls, name, value)
        super().__setattr__(name, value)
        if cls is not None and "_flat_weights_names" in cls.attributes and name != "_flat_weights":
            self._kiln_refresh_flat_weights(name)
        _state_changed()

    def _kiln_refresh_flat_weights(self, name: Optional[str] = None) -> None:
        """Note [RNN flat weights]
        ~~~~~~~~~~~~~~~~~~~~~~~~~~
        `nn.LSTM`/`GRU`/`RNN.forward` reads its weights from the list attribute
        `_flat_weights`, which `RNNBase.__setattr__` and `_apply` keep in step with
        the parameters named by `_flat_weights_names`. A scripted RNN has no
        `RNNBase` methods, so assigning `m.weight_hh_l0 = nn.Parameter(...)` (or
        `_apply` replacing parameters) left the compiled forward on the old
        tensors: wrong outputs, and no gradient for the new parameter. Any module
        whose class has both attributes gets the list rebuilt here, as eager's
        `_init_flat_weights` does (assigning the list is what executors see),
        once every named parameter is there.
        """
        names = self.__dict__.get("_flat_weights_names")
        if not isinstance(names, list) or (name is not None and name not in names):
            return
        flat = self.__dict__.get("_flat_weights")
        if not isinstance(flat, list):
            return
        if not all(hasattr(self, n) for n in names):  # still being built (`create`, `load`)
            return
        fresh = [getattr(self, n) for n in names]
        if len(fresh) != len(flat) or any(a is not b for a, b in zip(fresh, flat)):
            self._flat_weights = fresh

    # State replaced other than by assignment: tell the executor (_state_changed).
    def __delattr__(self, name: str) -> None:
        super().__delattr__(name)
        _state_changed()

    def _apply(self, fn, recurse=True):  # noqa: ANN001, ANN202 - nn.Module's signature
        _release_tensors(self)  # torch may swap the tensors (swap_module_params_on_conversion, subclasses)
        try:
            result = super()._apply(fn, recurse)
            self._kiln_refresh_flat_weights()  # Note [RNN flat weights]
            return result
        finally:
            _state_changed()

    def _load_from_state_dict(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN202 - nn.Module's signature
        # torch swaps the tensors in place with swap_module_params_on_conversion; the
        # epoch moves on whatever happened (a swap keeps the Python objects, so no
        # assignment would tell the executor).
        if torch.__future__.get_swap_module_params_on_conversion():
            _release_tensors(self)
        try:
            return super()._load_from_state_dict(*args, **kwargs)
        finally:
            _state_changed()

    def register_buffer(self, name: str, tensor: Optional[torch.Tensor], persistent: bool = True) -> None:
        super().register_buffer(name, tensor, persistent)
        _state_changed()

    def register_parameter(self, name: str, param: Optional[nn.Parameter]) -> None:
        super().register_parameter(name, param)
        _state_changed()

    def add_module(self, name: str, module: Optional[nn.Module]) -> None:
        super().add_module(name, module)
        _state_changed()

    register_module = add_module

    def __deepcopy__(self, memo: Dict[int, Any]) -> "ScriptModule":
        # The IR (unit, class type, functions) is shared, state is copied,
        # methods are bound to the copy.
        import copy

        new = self.__class__.__new__(self.__class__)
        memo[id(self)] = new
        for key, value in self.__dict__.items():
            if isinstance(value, ScriptMethod) or key == "_kiln_cpp":
                continue
            shared = key in ("_kiln_unit", "_kiln_type", "_kiln_executor")
            new.__dict__[key] = value if shared else copy.deepcopy(value, memo)
        new._kiln_bind_methods()
        return new

    def __getattr__(self, name: str) -> Any:
        # A compiled `@property` (its getter is the method `__<name>_getter`) reads as in eager.
        if not name.startswith("__"):
            getter = self.__dict__.get(f"__{name}_getter")
            if isinstance(getter, ScriptMethod):
                return getter()
        try:
            return super().__getattr__(name)
        except AttributeError:
            # A constant (`__constants__`, `Final`, an Enum member the module holds) reads as torch.jit's do.
            constants = self.__dict__["_kiln_type"].constants if "_kiln_type" in self.__dict__ else {}
            if name in constants:
                value = constants[name]
                if getattr(value, "kiln_not_archived", False):  # a config dataclass, as it was when compiled
                    return copy.deepcopy(value.obj)
                return value
            raise

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._kiln_type.methods))


# ---------------------------------------------------------------------------
# Helpers shared by both result kinds
# ---------------------------------------------------------------------------


class _ScriptModuleList(ScriptModule):
    """A compiled `nn.Sequential` or `nn.ModuleList`: indexing, `len()` and iteration
    over its submodules from Python, as torch.jit's modules allow."""

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[nn.Module]:
        return iter(self._modules.values())

    def __getitem__(self, index: Any) -> nn.Module:
        items = list(self._modules.values())
        if isinstance(index, slice):
            if _container_kind(self._kiln_type) == "Sequential":
                return nn.Sequential(*items[index])
            return nn.ModuleList(items[index])
        try:
            i = operator.index(index)
        except TypeError:
            raise TypeError(f"{self.original_name} indices must be integers or slices, not {type(index).__name__}") from None
        if not -len(items) <= i < len(items):
            raise IndexError(f"index {i} is out of range for a {self.original_name} of {len(items)} modules")
        return items[i]

    def __bool__(self) -> bool:
        return bool(self._modules)


class _ScriptModuleDict(ScriptModule):
    """A compiled `nn.ModuleDict`: `m[key]`, `key in m`, `len()` and iteration over its keys from Python."""

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def __getitem__(self, key: str) -> nn.Module:
        try:
            return self._modules[key]  # type: ignore[return-value]
        except KeyError:
            raise KeyError(key) from None

    def __bool__(self) -> bool:
        return bool(self._modules)


class _EnumAttribute:
    """An annotated Enum attribute of a ScriptModule (Note [Enums at the Python boundary] in
    frontend/script/enums.py): `__dict__` holds the member's value, which the executors
    read; Python reads the member. Assignments go through `ScriptModule.__setattr__`
    (`_enum_attribute_value`), which makes a member its value."""

    __slots__ = ("name", "to_member")

    def __init__(self, name: str, to_member: Callable[[Any], Any]):
        self.name = name
        self.to_member = to_member

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self
        try:
            value = obj.__dict__[self.name]
        except KeyError:
            raise AttributeError(self.name) from None
        return self.to_member(value)

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.name] = value

    def __delete__(self, obj: Any) -> None:
        del obj.__dict__[self.name]


_ENUM_CLASSES: Dict[Tuple[type, T.ClassType], type] = {}


def _enum_module_class(base: type, class_type: T.ClassType) -> type:
    """`base` with an `_EnumAttribute` for each annotated Enum attribute of `class_type`
    (one subclass per class type, named as `base`)."""
    key = (base, class_type)
    done = _ENUM_CLASSES.get(key)
    if done is not None:
        return done
    from .frontend.script.enums import to_members

    members = {}
    for name, t in class_type.frontend_attributes.items():
        to_member = to_members(t)
        if to_member is not None and class_type.attr_kinds.get(name) == "attribute":
            members[name] = _EnumAttribute(name, to_member)
    cls = type(base.__name__, (base,), {"__qualname__": base.__qualname__, "__module__": base.__module__, **members})
    with _COMPILE_LOCK:
        return _ENUM_CLASSES.setdefault(key, cls)


def _enum_attribute_value(cls: T.ClassType, name: str, value: Any) -> Any:
    """`value` assigned to the Enum-typed attribute `name`, as the value the program sees."""
    from .frontend.script.enums import NotAMember, to_values

    to_value = to_values(cls.frontend_attributes[name])
    if to_value is None:
        return value
    try:
        return to_value(value)
    except NotAMember as e:
        raise Error(f"cannot assign {e} to attribute '{name}' of {cls.name}: its type is {cls.frontend_attributes[name]}") from None


def _container_class(class_type: T.ClassType) -> type:
    """The ScriptModule class for a module of `class_type`: a container's (by its
    original name and submodules named as the container names them), or ScriptModule."""
    kind = _container_kind(class_type)
    if kind is None:
        return ScriptModule
    if kind == "ModuleDict":
        return _ScriptModuleDict
    subs = [n for n, k in class_type.attr_kinds.items() if k == "module"]
    return _ScriptModuleList if subs == [str(i) for i in range(len(subs))] else ScriptModule


def _container_kind(class_type: T.ClassType) -> Optional[str]:
    """"Sequential", "ModuleList" or "ModuleDict" for a class type of that name (`Sequential_1`:
    a second Sequential type, Note [Compile cache]), else None."""
    found = _CONTAINER_NAME.match(class_type.name.rsplit(".", 1)[-1])
    return found.group(1) if found is not None else None


_CONTAINER_NAME = re.compile(r"(Sequential|ModuleList|ModuleDict)(?:_\d+)?$")


def _check_assignment(cls: T.ClassType, name: str, value: Any) -> None:
    """Refuse a value the compiled methods were not compiled for (TorchScript refuses it too).

    A submodule's methods are compiled, and usually inlined, into the parent's
    code, so only a module of the same compiled class may replace it. A
    submodule attribute annotated with a module interface (Note [Interface
    types] in frontend/script/interfaces.py) is called by dynamic dispatch:
    any ScriptModule whose class implements the interface may replace it.
    """
    t = cls.attributes[name]
    kind = cls.attr_kinds.get(name)
    if kind == "module" and isinstance(t, T.AnyType):
        _check_interface_assignment(cls, name, t, value)
        return
    if kind == "module" or (isinstance(t, T.ClassType) and isinstance(value, nn.Module)):
        if isinstance(value, ScriptModule) and value._kiln_type == t:
            return
        what = f"a ScriptModule of class {value._kiln_type.name}" if isinstance(value, ScriptModule) else f"a {_type_name(value)}"
        raise Error(
            f"cannot assign {what} to '{name}' of {cls.name}: it holds a module of class {t}, whose methods "
            "were compiled into this module's code when it was scripted; script the parent module with "
            "the new submodule instead"
        )
    if kind in ("parameter", "buffer"):
        ok = value is None or isinstance(value, torch.Tensor)
    else:
        ok = _deep_ok(value, t)
    if not ok:
        raise Error(f"cannot assign a {_type_name(value)} to attribute '{name}' of {cls.name}: its type is {t}")


def _check_interface_assignment(cls: T.ClassType, name: str, iface: T.AnyType, value: Any) -> None:
    """`value` may replace the submodule `name` typed by a module interface: a ScriptModule implementing it.

    Calls on it are `prim::CallMethod` on an `Any` value, found by the held
    module's class when they run (Note [Interface types]).
    """
    if not isinstance(iface, T.InterfaceType):
        # Loaded from a version 1 or 2 archive, which recorded the attribute as Any (docs/archive.md §10):
        # the interface is not known, so a call of a method the module lacks fails when it runs.
        if not isinstance(value, ScriptModule):
            raise Error(f"cannot assign a {_type_name(value)} to '{name}' of {cls.name}: only a scripted module can be assigned; assign torchkiln.script(module)")
        return
    where = f"'{name}' of {cls.name}, a {iface.display} (a module interface)"
    if not isinstance(value, ScriptModule):
        raise Error(f"cannot assign a {_type_name(value)} to {where}: only a scripted module implementing {iface.display} can be assigned; assign torchkiln.script(module)")
    why = iface.why_not_implemented_by(value._kiln_type)
    if why is not None:
        raise Error(f"cannot assign a ScriptModule of class {value._kiln_type.name} to {where}: it does not implement the interface {iface.display}: {why}")


def _attribute_values(m: "ScriptModule") -> Dict[str, Any]:
    """The value of every attribute of `m`'s class type (what `create` takes)."""
    values: Dict[str, Any] = {}
    for name, kind in m._kiln_type.attr_kinds.items():
        if kind == "parameter":
            values[name] = m._parameters.get(name)
        elif kind == "buffer":
            values[name] = m._buffers.get(name)
        elif kind == "module":
            values[name] = m._modules.get(name)
        else:
            values[name] = m.__dict__.get(name)
    return values


def _save(obj: Any, path_or_file, extra_files: Optional[Dict[str, Any]]) -> None:
    from . import archive

    if extra_files:
        archive.save(obj, path_or_file, _extra_files=extra_files)
    else:
        archive.save(obj, path_or_file)


def _code_of(fn: Function, unit: CompilationUnit) -> str:
    from . import codegen

    return codegen.python_source(fn, unit)


def inline_calls(graph: Graph, unit: CompilationUnit) -> Graph:
    """A copy of `graph` with every call inlined (the `.inlined_graph` view)."""
    from .passes.inline import inlined_graph

    return inlined_graph(graph, unit)
