"""The C++ runtime as an executor: executor "cpp", the default where `torchkiln._C` is built.

```python
m = torchkiln.script(Net())        # runs on the C++ interpreter when torchkiln._C is there
m.with_executor("python")          # the generated-Python executor, explicitly
torchkiln.api.set_default_executor("python")   # pick another default executor
```

A method call runs `torchkiln::Module::run_method` with the GIL released, so
Python threads calling one module run in parallel (the extension's call path
is in torchkiln/csrc/python/executor.cpp, Note [C++ executor call path]).

Note [C++ state of a ScriptModule]
----------------------------------
A ScriptModule's C++ program is built on its first call: the module is
written as an archive (in memory; tensor attributes as empty placeholders)
and loaded with `torchkiln::load_from_buffer`; then every parameter, buffer
and attribute slot of the C++ objects is pointed at the Python module's
current value. Tensors are shared, not copied: in-place updates
(`load_state_dict`, optimizer steps, `p.data = ...`) are seen at once. The
C++ interpreter reads attributes at run time (`prim::GetAttr` is a slot read;
only class constants are folded at load), so re-pointing slots is enough.

When the Python module's state is replaced (assigning an attribute,
Parameter, buffer or submodule, `to()`/`_apply`, `train()`/`eval()`),
ScriptModule bumps a global epoch (`_C.bump_epoch`); the next call of a
module whose state is older re-points its slots (`_refresh`), or rebuilds
the program when the module tree changed shape (a submodule replaced).

Note [Releasing tensors for swap_tensors]
-----------------------------------------
Sharing has one cost: a slot is a second reference to the tensor's
TensorImpl, and `torch.utils.swap_tensors` refuses a tensor with other
references. torch swaps a module's parameters and buffers in `_apply`
(`m.double()`, `m.to(...)` with
`torch.__future__.set_swap_module_params_on_conversion(True)`, or for
tensor subclasses) and in `_load_from_state_dict` (same flag). So before
either runs, ScriptModule calls `api._release_tensors(module)`, which is
`_release` here: every C++ State whose plan covers that module (`_HOLDERS`)
is marked stale and has its slots emptied (None; their `last` forgotten).
The next call re-points every slot at the Python module's values, which
after a swap are the same Python objects with new contents. A State is
released once, however many of its modules are converted; calls between
conversions cost nothing extra. (Another thread calling the module while
it is converted is a race, as in eager.)

A program that assigns module attributes (`self.count += 1`: prim::SetAttr)
or mutates a list/dict attribute in place gets a sync-back after each call
that copies those attributes back into the Python module.

Fallback: a program the C++ runtime cannot load (an op it lacks, `@ignore`d
Python calls, values the archive cannot hold, printing) runs on the Python
executor instead, with a one-line warning; the user's call never fails
because of it.
"""
from __future__ import annotations

import os
import threading
import warnings
import weakref
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

import torch

from . import api
from .collector import building
from .csrc_digest import sources_digest
from .diagnostics import ArgumentError, Error
from .ir import types as T
from .ir.core import CompilationUnit, Function

try:
    from . import _C  # type: ignore[attr-defined]

    _IMPORT_ERROR: Optional[BaseException] = None
except ImportError as e:  # not built: the Python executor runs everything
    _C = None
    _IMPORT_ERROR = e

__all__ = ["CppExecutor", "available", "CppFallbackWarning"]


class CppFallbackWarning(RuntimeWarning):
    """A program runs on the Python executor because the C++ one cannot run it."""


def available() -> bool:
    """Whether the extension `torchkiln._C` is built and imports."""
    return _C is not None


_REGISTRY: Dict[Any, Any] = {}


def _warn(message: str) -> None:
    """A one-line warning (no source line under it), each message once."""
    warnings.warn_explicit(message, CppFallbackWarning, "torchkiln", 0, module="torchkiln", registry=_REGISTRY)


class _Unsupported(Exception):
    """The program cannot run on the C++ executor (the message says why)."""


# ---------------------------------------------------------------------------
# The executor
# ---------------------------------------------------------------------------


class CppExecutor(api.Executor):
    """Runs functions and methods on the C++ interpreter (`torchkiln._C`)."""

    name = "cpp"

    def available(self) -> bool:
        return _C is not None

    def compile(self, fn: Function, unit: CompilationUnit) -> Callable:
        if _C is None:
            _warn_missing()
            return api._compiled(fn, unit, api.get_executor("python"))
        cls = _method_class(fn)
        if cls is not None:
            names = list(cls.methods)
            name = next(n for n, f in cls.methods.items() if f is fn)
            return _C.MethodCall(name, names.index(name), fn)
        try:
            return _function_call(fn, unit)
        except Exception as e:  # noqa: BLE001 - never fail the user's program: run it in Python
            _warn(f"torchkiln: {fn.name} runs on the Python executor: {_reason(e)}")
            return api._compiled(fn, unit, api.get_executor("python"))


def _method_class(fn: Function) -> Optional[T.ClassType]:
    if not fn.args:
        return None
    t = fn.args[0].type
    if isinstance(t, T.ClassType) and t.is_module and any(f is fn for f in t.methods.values()):
        return t
    return None


def _reason(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    first = text[0] if text else type(e).__name__
    return first if len(first) <= 300 else first[:297] + "..."


_WARNED_MISSING = [False]


def _warn_missing() -> None:
    if not _WARNED_MISSING[0]:
        _WARNED_MISSING[0] = True
        import importlib.util

        if importlib.util.find_spec(__package__ + "._C") is None:
            why = "it is not built; build it with ./dev.sh setup or pip install --no-build-isolation -e ."
        else:
            why = f"it does not import: {_IMPORT_ERROR}"
        _warn(f"torchkiln: the C++ executor (torchkiln._C) is unavailable ({why}); programs run on the Python executor")


# ---------------------------------------------------------------------------
# Building programs
# ---------------------------------------------------------------------------


def _saver_class():
    from .archive.writer import _Saver

    class BuildSaver(_Saver):
        """An archive for the C++ executor: no code/ entries; module tensors as placeholders.

        A tensor inside a module attribute whose type the refresh can set
        again (no script-class objects inside) is saved as an empty tensor
        of its dtype: the slot is pointed at the Python tensor right after
        loading, so its bytes need not travel.
        """

        def __init__(self) -> None:
            super().__init__()
            self.in_module: List[bool] = [False]
            self.placeholders = False
            self.placeholder_count = 0

        def _code_entries(self):
            return []

        def _object(self, obj: Any, where: str) -> int:
            cls = getattr(obj, "_kiln_type", None)
            self.in_module.append(isinstance(cls, T.ClassType) and cls.is_module)
            try:
                return super()._object(obj, where)
            finally:
                self.in_module.pop()

        def value(self, v, typ, where, objects=False, depth=0):  # noqa: ANN001, ANN201
            if objects and depth == 0:
                previous = self.placeholders
                self.placeholders = self.in_module[-1] and _refreshable(typ)
                try:
                    return self._value(v, typ, where, objects, depth)
                finally:
                    self.placeholders = previous
            return self._value(v, typ, where, objects, depth)

        def _value(self, v, typ, where, objects, depth):  # noqa: ANN001, ANN202
            if self.placeholders and isinstance(v, torch.Tensor):
                from .archive import format as F

                key = f"p{self.placeholder_count}"
                self.placeholder_count += 1
                data = torch.empty(0, dtype=v.dtype)
                self.tensors.append((key, data))
                self.keep.append(data)
                return {
                    "tag": "tensor",
                    "key": key,
                    "dtype": F.dtype_name(v.dtype),
                    "shape": [0],
                    "requires_grad": False,
                    "parameter": isinstance(v, torch.nn.Parameter),
                    "device": "cpu",
                }
            return super().value(v, typ, where, objects, depth)

    return BuildSaver


_SAVER: List[Any] = []


def _load(obj: Any) -> Tuple[Any, Any]:
    """(program, saver): `obj` (a ScriptModule or function root) loaded by the C++ runtime.

    Note [In-memory hand-off]: the archive's entries go to `_C.load_entries`
    as they are, without a zip file around them (no CRC-32 either: the bytes
    never leave this process; Note [Trusted in-memory archives] in
    csrc/src/loader.cpp). Every other check of a file load runs. The garbage
    collector is left alone: building the archive also runs the pass pipeline
    on graphs not yet optimized (Note [Lazy optimization]), whose results live
    on, and pausing collection would only move that work later.
    """
    from .archive import format as F

    if not _SAVER:
        _SAVER.append(_saver_class())
    saver = _SAVER[0]()
    entries, tensors = saver.build(obj, None)
    _check_program(saver)
    header, ordered = F.safetensors_header(tensors)
    entries.append((F.TENSORS, b"".join([header, *(F.tensor_bytes(t) for _, t in ordered)])))
    return _C.load_entries(entries), saver


def _refreshable(t: Optional[T.Type]) -> bool:
    """Whether a value of `t` converts to C++ by its type alone (torch's toIValue).

    Not: script-class objects, futures, and `Any`/unions, whose values toIValue
    may not type. Such attributes keep the archive's value (their tensors
    copied, not shared); assigning a new value rebuilds the program.
    """
    if t is None:
        return False
    if isinstance(t, (T.ClassType, T.FutureType, T.AnyType, T.UnionType)):
        return False
    return all(_refreshable(c) for c in t.contained())


def _has_class(t: T.Type, depth: int = 0) -> bool:
    if isinstance(t, (T.ClassType, T.FutureType)):
        return True
    if isinstance(t, T.InterfaceType):  # interface values are objects (Note [Interface types in the IR])
        return True
    return depth < 50 and any(_has_class(c, depth + 1) for c in t.contained())


def _saved_functions(saver: Any) -> List[Function]:
    """Every function and method the program being built holds."""
    fns = list(saver.functions.values())
    for cls in saver.classes.values():
        fns.extend(cls.methods.values())
    return fns


def _check_program(saver: Any) -> None:
    """Refuses what the C++ executor cannot do the way the Python executor does."""
    for fn in _saved_functions(saver):
        for node in fn.graph.walk():
            if node.kind == "prim::Print":
                # The runtime prints to the process's stdout, not to sys.stdout.
                raise _Unsupported(f"{fn.name} prints (prim::Print), which the C++ runtime writes past sys.stdout")


def _needs_post(t: T.Type, depth: int = 0) -> bool:
    """Whether toPyObject's value of type `t` needs `_to_python` (NamedTuple, dtype, ...)."""
    if t in (T.SCALAR_TYPE, T.LAYOUT, T.MEMORY_FORMAT):
        return True
    if isinstance(t, T.TupleType) and t.name is not None and t.fields is not None:
        return True
    return depth < 50 and any(_needs_post(c, depth + 1) for c in t.contained())


_INT_ENUMS: Dict[T.Type, Callable[[int], Any]] = {}


def _int_enum(t: T.Type) -> Callable[[int], Any]:
    if not _INT_ENUMS:
        from .archive import format as F  # noqa: F401

        dtypes = {}
        for d in (
            torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.float16, torch.float32,
            torch.float64, torch.complex32, torch.complex64, torch.complex128, torch.bool, torch.qint8,
            torch.quint8, torch.qint32, torch.bfloat16,
        ):  # fmt: skip
            dtypes[_dtype_index(d)] = d
        layouts = {0: torch.strided, 1: torch.sparse_coo}
        formats = {0: torch.contiguous_format, 1: torch.preserve_format, 2: torch.channels_last, 3: torch.channels_last_3d}
        _INT_ENUMS[T.SCALAR_TYPE] = lambda i: dtypes.get(i, i)
        _INT_ENUMS[T.LAYOUT] = lambda i: layouts.get(i, i)
        _INT_ENUMS[T.MEMORY_FORMAT] = lambda i: formats.get(i, i)
    return _INT_ENUMS[t]


def _dtype_index(d: torch.dtype) -> int:
    # c10::ScalarType numbering, as TorchScript's int representation of a dtype.
    order = [
        torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.float16, torch.float32, torch.float64,
        torch.complex32, torch.complex64, torch.complex128, torch.bool, torch.qint8, torch.quint8, torch.qint32,
        torch.bfloat16,
    ]  # fmt: skip
    return order.index(d)


def _to_python(value: Any, t: T.Type) -> Any:
    """toPyObject's `value` in the form the Python executor gives for type `t`."""
    if value is None:
        return None
    if isinstance(t, T.OptionalType):
        return _to_python(value, t.elem)
    if t in (T.SCALAR_TYPE, T.LAYOUT, T.MEMORY_FORMAT):
        return _int_enum(t)(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if isinstance(t, T.TupleType) and isinstance(value, tuple):
        items = [_to_python(v, e) for v, e in zip(value, t.elems)]
        from .codegen.runtime import make_tuple

        return make_tuple(t, items)
    if isinstance(t, T.ListType) and isinstance(value, list):
        if not _needs_post(t.elem):
            return value
        return [_to_python(v, t.elem) for v in value]
    if isinstance(t, T.DictType) and isinstance(value, dict):
        return {_to_python(k, t.key): _to_python(v, t.value) for k, v in value.items()}
    return value


def _post(fn: Function) -> Any:
    """The post-conversion of `fn`'s results, or None when toPyObject's value is already right."""
    rt = fn.returns
    if not _needs_post(rt):
        return None
    return lambda value: _to_python(value, rt)


def _check_signature(fn: Function, skip_self: bool) -> None:
    for a in fn.args[1 if skip_self else 0:]:
        if _has_class(a.type):
            raise _Unsupported(f"{fn.name}: argument '{a.name}' has a class type ({a.type}), which crosses into C++ only in Python")
    if _has_class(fn.returns):
        raise _Unsupported(f"{fn.name}: returns a class type ({fn.returns}), which crosses into C++ only in Python")


class _FunctionRoot:
    """What the archive writer needs to save a free function."""

    def __init__(self, fn: Function, unit: CompilationUnit):
        self._kiln_fn = fn
        self._kiln_unit = unit


def _function_call(fn: Function, unit: CompilationUnit) -> Any:
    _check_signature(fn, skip_self=False)
    program, _ = _load(_FunctionRoot(fn, unit))
    state = _C.State(program, [program.method_names()[0]], [_post(fn)])
    return _C.FunctionCall(state, 0)


# ---------------------------------------------------------------------------
# Module state (Note [C++ state of a ScriptModule])
# ---------------------------------------------------------------------------


class _Slot:
    """One C++ attribute slot fed from the Python module: `last` is the value it was set to."""

    __slots__ = ("co", "slot", "pm", "name", "kind", "last")

    def __init__(self, co: Any, slot: int, pm: Any, name: str, kind: str):
        self.co, self.slot, self.pm, self.name, self.kind = co, slot, pm, name, kind
        self.last: Any = _UNSET

    def current(self) -> Any:
        """The Python module's value for this slot now."""
        kind = self.kind
        if kind == "parameter":
            return self.pm._parameters.get(self.name)
        if kind == "buffer":
            return self.pm._buffers.get(self.name)
        if kind == "training":
            return bool(self.pm.training)
        return self.pm.__dict__.get(self.name)


_UNSET = object()


class _Plan:
    """How the C++ objects of one built program map onto the Python module tree."""

    __slots__ = ("types", "modules", "slots", "sync", "kept", "released")

    def __init__(self) -> None:
        self.released = False  # slots emptied (Note [Releasing tensors for swap_tensors])
        self.types: List[Tuple[Any, T.ClassType]] = []  # (python module, its class type at build)
        self.modules: List[Tuple[Any, str, Any]] = []  # (python module, name, submodule at build)
        self.slots: List[_Slot] = []
        self.sync: List[_Slot] = []  # slots the program assigns: copied back after each call
        self.kept: List[Tuple[Any, str, Any]] = []  # (python module, name, value saved in the archive)


def _make_plan(mod: Any, root: Any, mutated: Set[Tuple[str, str]]) -> _Plan:
    plan = _Plan()
    seen: Dict[int, int] = {}

    def walk(pm: Any, co: Any) -> None:
        known = seen.get(id(pm))
        if known is not None:
            if known != co.identity():
                raise _Unsupported("a shared submodule maps to two C++ objects")
            return
        seen[id(pm)] = co.identity()
        cls = pm._kiln_type
        if co.type_name != cls.name:
            raise _Unsupported(f"C++ object of class {co.type_name} for a {cls.name}")
        plan.types.append((pm, cls))
        for name, kind in cls.attr_kinds.items():
            slot = co.slot_index(name)
            if slot < 0:
                raise _Unsupported(f"{cls.name}.{name} has no slot in the C++ object")
            if kind == "module":
                child = pm._modules.get(name)
                plan.modules.append((pm, name, child))
                if child is not None:
                    walk(child, co.get(slot))
                continue
            if kind == "attribute" and not _refreshable(cls.attributes[name]):
                if (cls.name, name) in mutated:
                    raise _Unsupported(f"the program assigns {cls.name}.{name}, whose values cannot be copied back from C++")
                plan.kept.append((pm, name, pm.__dict__.get(name)))  # the archive's copy (_refreshable)
                continue
            entry = _Slot(co, slot, pm, name, kind)
            plan.slots.append(entry)
            if (cls.name, name) in mutated:
                plan.sync.append(entry)
        if "training" not in cls.attributes:
            slot = co.slot_index("training")
            if slot >= 0:
                plan.slots.append(_Slot(co, slot, pm, "training", "training"))

    walk(mod, root)
    return plan


def _refresh(plan: _Plan) -> bool:
    """Re-point the slots whose Python value was replaced; False when the tree changed shape.

    Slots whose value is the one they were last set to are left alone: cheap,
    and threads running the program meanwhile see no slot change they did
    not ask for.
    """
    for pm, cls in plan.types:
        if pm.__dict__.get("_kiln_type") is not cls:
            return False
    for pm, name, child in plan.modules:
        if pm._modules.get(name) is not child:
            return False
    for pm, name, value in plan.kept:
        if pm.__dict__.get(name) is not value:
            return False
    for e in plan.slots:
        value = e.current()
        if value is e.last:
            continue
        if e.kind == "parameter" or e.kind == "buffer":
            e.co.set_tensor(e.slot, value)
        else:
            e.co.set_value(e.slot, value)
        e.last = value
    plan.released = False
    return True


# module -> the States whose plans cover it (Note [Releasing tensors for swap_tensors]).
_HOLDERS: "weakref.WeakKeyDictionary[Any, weakref.WeakSet]" = weakref.WeakKeyDictionary()


def _hold(state: Any, plan: _Plan) -> None:
    for pm, _ in plan.types:
        holders = _HOLDERS.get(pm)
        if holders is None:
            holders = _HOLDERS[pm] = weakref.WeakSet()
        holders.add(state)


def _release(module: Any) -> None:
    """Empty the slots of every State that covers `module`; they are re-pointed at the next call.

    Note [Releasing tensors for swap_tensors].
    """
    holders = _HOLDERS.get(module)
    if not holders:
        return
    with _LOCK:
        for state in list(holders):
            plan = state.plan
            state.mark_stale()
            if plan.released:
                continue
            for e in plan.slots:
                e.co.set_tensor(e.slot, None)
                e.last = _UNSET
            plan.released = True


def _sync_back(module: Any) -> None:
    """After a call: copy the attributes the program assigns back into the Python modules.

    A plain function (the State refers to it from C++, where the garbage
    collector cannot see references): the entries come from the module's plan.
    """
    state = module.__dict__.get("_kiln_cpp")
    if state is None:
        return
    for e in state.plan.sync:
        co, slot, pm, name = e.co, e.slot, e.pm, e.name
        if e.kind == "parameter":
            if co.holds(slot, pm._parameters.get(name)):
                continue
            v = co.get(slot)
            if v is not None and not isinstance(v, torch.nn.Parameter):
                v = torch.nn.Parameter(v, v.requires_grad)
                co.set_tensor(slot, v)
            pm._parameters[name] = v
        elif e.kind == "buffer":
            if co.holds(slot, pm._buffers.get(name)):
                continue
            v = pm._buffers[name] = co.get(slot)
        else:
            v = co.get(slot)
            old = pm.__dict__.get(name)
            # Keep the Python list/dict object (code holding `m.history` sees the
            # appends, as in eager); its contents become the program's.
            if type(old) is list and type(v) is list:
                old[:] = v
                v = old
            elif type(old) is dict and type(v) is dict:
                old.clear()
                old.update(v)
                v = old
            else:
                pm.__dict__[name] = v
        e.last = v


# Ops whose result is (an alias of) an element of their first input.
_ELEMENT_OPS = frozenset(("prim::getitem.list", "prim::getitem.dict", "prim::get.dict", "prim::get.default", "prim::TupleIndex"))


def _mutated_attributes(saver: Any) -> Set[Tuple[str, str]]:
    """(class, attribute) pairs a program assigns or mutates in place (lists, dicts)."""
    from . import ops

    out: Set[Tuple[str, str]] = set()
    for fn in _saved_functions(saver):
        for node in fn.graph.walk():
            if node.kind == "prim::SetAttr":
                t = node.inputs[0].type
                if isinstance(t, T.ClassType):
                    out.add((t.name, node.attrs.get("name")))
                continue
            if node.kind.startswith("prim::") and node.kind in ("prim::GetAttr", "prim::Constant", "prim::If", "prim::Loop"):
                continue
            op = ops.find(node.kind)
            if op is None or op.pure or op.structural:
                continue
            for v in node.inputs:
                src = v.node
                # `self.ll[0].append(x)`, `self.d["k"].append(x)`: the mutated list is an
                # element of the attribute (getitem returns the element itself, no copy).
                while (
                    src is not None
                    and src.kind in _ELEMENT_OPS
                    and src.inputs
                    and isinstance(src.inputs[0].type, (T.ListType, T.DictType, T.TupleType))
                ):
                    v = src.inputs[0]
                    src = v.node
                if (
                    src is not None
                    and src.kind == "prim::GetAttr"
                    and isinstance(v.type, (T.ListType, T.DictType))
                    and isinstance(src.inputs[0].type, T.ClassType)
                ):
                    out.add((src.inputs[0].type.name, src.attrs.get("name")))
    return out


def _build_module(mod: Any) -> Any:
    cls = mod._kiln_type
    for fn in cls.methods.values():
        _check_signature(fn, skip_self=True)
    program, saver = _load(mod)
    names = list(cls.methods)
    state = _C.State(program, names, [_post(f) for f in cls.methods.values()])
    plan = _make_plan(mod, program.root(), _mutated_attributes(saver))
    state.plan = plan
    state.sync = _sync_back if plan.sync else None
    if not _refresh(plan):
        raise _Unsupported("the module changed while it was built")
    _hold(state, plan)
    state.mark_fresh()
    return state


_LOCK = threading.RLock()


def _prepare(mod: Any) -> Any:
    """The fresh C++ State of `mod` (built or refreshed), or None: run it on the Python executor."""
    with _LOCK:
        d = mod.__dict__
        state = d.get("_kiln_cpp")
        if state is not None and state.fresh:
            return state
        try:
            if state is not None and _refresh(state.plan):
                state.mark_fresh()
                return state
            with building():  # the pass pipeline and the archive: Note [Collector while building]
                state = _build_module(mod)
        except Exception as e:  # noqa: BLE001 - never fail the user's call: run it in Python
            d["_kiln_cpp"] = None
            _to_python_executor(mod, e)
            return None
        d["_kiln_cpp"] = state
        return state


def _to_python_executor(mod: Any, e: BaseException) -> None:
    _warn(f"torchkiln: {mod._kiln_type.name} runs on the Python executor: {_reason(e)}")
    d = mod.__dict__
    d["_kiln_executor"] = api.get_executor("python")
    mod._kiln_bind_methods(eager=False)


def _fallback(mod: Any, fn: Function) -> Callable:
    """The Python executor's callable for `fn` (module first)."""
    return api._compiled(fn, mod._kiln_unit, api.get_executor("python"))


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


def _exception_class(name: str) -> Optional[type]:
    import builtins

    short = name[len("builtins."):] if name.startswith("builtins.") else name
    cls = getattr(builtins, short, None)
    if isinstance(cls, type) and issubclass(cls, BaseException):
        return cls
    if short.startswith("torch."):
        obj: Any = torch
        for part in short.split(".")[1:]:
            obj = getattr(obj, part, None)
        if isinstance(obj, type) and issubclass(obj, BaseException):
            return obj
    return None


def _make_error(kind: str, cls: str, message: str, traceback: str) -> BaseException:
    if kind == "argument":
        return ArgumentError(message)
    if kind == "program":
        # The message is the exception's argument, as the Python executor raises it; where
        # in the program it was raised goes in a note (shown by Python's traceback).
        exc = _exception_class(cls)
        err: BaseException
        if exc is None:
            err = Error(f"{cls}: {message}")
        else:
            try:
                err = exc(_key_of(message)) if issubclass(exc, KeyError) else exc(message)
            except Exception:  # noqa: BLE001 - an exception class with another constructor
                err = Error(f"{cls}: {message}")
        if traceback:
            err.add_note("Traceback of the program (most recent call last):\n" + traceback.rstrip("\n"))
        return err
    return Error(message)


def _key_of(message: str) -> Any:
    """The key of a KeyError from its repr (the runtime writes `'text'` or `7`), else the message."""
    if len(message) >= 2 and message[0] == message[-1] and message[0] in "'\"":
        return message[1:-1]
    try:
        return int(message)
    except ValueError:
        return message


# ---------------------------------------------------------------------------
# Registration
# ---------------------------------------------------------------------------

def _check_stale() -> None:
    """Warns when torchkiln._C was built from other C++ sources than the ones in the package."""
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        with open(os.path.join(here, "_C.sources")) as f:
            built = f.read().strip()
        current = sources_digest(os.path.join(here, "csrc"))
    except OSError:
        return
    if built != current:
        _warn(
            "torchkiln: torchkiln._C was built from older C++ sources than those in torchkiln/csrc; "
            "rebuild it (./dev.sh setup, or pip install --no-build-isolation -e .)"
        )


api.register_executor(CppExecutor())
if _C is not None:
    _check_stale()
    _C._init(_prepare, _fallback, _make_error)
    api._state_changed = _C.bump_epoch
    api._release_tensors = _release
    api.set_default_executor("cpp")
else:
    _warn_missing()
