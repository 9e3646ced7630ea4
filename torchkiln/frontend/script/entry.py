"""`script(obj)`: a function, an nn.Module instance or a class -> compiled form.

```python
f = script(fn)            # ScriptFunction
m = script(model)         # ScriptModule (forward, @export methods, submodules compiled recursively)
C = script(SomeClass)     # the class, checked and registered as a script class
```

Every refusal is a `CompileError` raised here, before anything runs. The
default pass pipeline runs on every compiled graph when it is first read
(first call, `.graph`, `.code`, save...: Note [Lazy optimization] in
`compiler.py`), so `.graph` shows the optimized program and `script()`
itself only compiles and checks.
"""
from __future__ import annotations

import contextlib
import enum
import threading
import types
import weakref
from typing import Any, Callable, Dict, Iterator

import torch
import torch.nn as nn

from ...collector import building
from ...diagnostics import CompileError
from ...ir.nesting import MAX_BLOCK_DEPTH, headroom_active, recursion_headroom
from ...ir.types import DictType, ListType, OptionalType, TupleType
from .compiler import CacheMiss, Compiler
from .modules import ConstantConflict, ModuleInfo, _api


def script(obj: Any = None, optimize: Any = None, _frames_up: int = 0, _rcb: Any = None, example_inputs: Any = None) -> Any:
    """Compile `obj` (see the module docstring); usable as a decorator."""
    if obj is None:
        return lambda fn: script(fn)
    with building():  # Note [Collector while building]
        return _script(obj)


def _script(obj: Any) -> Any:
    from ... import api

    if isinstance(obj, (api.ScriptModule, api.ScriptFunction)):
        return obj
    if isinstance(obj, nn.Module):
        return script_module(obj)
    if isinstance(obj, type):
        return script_class(obj)
    if isinstance(obj, (types.FunctionType, types.MethodType)) or hasattr(obj, "__original_fn"):
        return script_function(getattr(obj, "__original_fn", obj))
    raise CompileError(
        f"script() cannot compile an object of type {type(obj).__name__}",
        hint="pass a function, an nn.Module instance or a class",
    )


def script_function(fn: Any, run_passes: bool = True):
    """`script` of a function; `run_passes=False` keeps the frontend's own output (for tests)."""
    from ... import api

    if isinstance(fn, types.MethodType):
        raise CompileError(f"script() of the bound method {fn.__qualname__} is not supported", hint="script the module instead (use @torchkiln.export to compile extra methods)")
    def attempt(relaxed: bool, use_store: bool):
        compiler = Compiler(relaxed, use_store)
        with _internal_errors(compiler):
            arg_types = compiler.functions.top_level_types(fn)
            function = compiler.functions.compile(fn, arg_types, None)
            if run_passes:
                compiler.finish()
        if run_passes:
            compiler.publish()
        return api.ScriptFunction(compiler.unit, function)  # executor compiled now (it may warn)

    with _compiling(fn):
        return _with_room(lambda: _with_retries(attempt, use_store=run_passes))


def script_module(module: nn.Module):
    def attempt(relaxed: bool, use_store: bool):
        compiler = Compiler(relaxed, use_store)
        with _internal_errors(compiler):
            root = compiler.classes.modules.info(module)
            if root.foreign:
                return module
            compile_entry_points(compiler, root)
            compiler.finish()
            result = _build(compiler, module, {})
        compiler.publish()
        return result

    with _compiling(type(module)):
        return _with_room(lambda: _with_retries(attempt))


# Note [Concurrent script]
# ------------------------
# script() may run on several threads at once (a server scripting models
# lazily). Each call compiles into its own Compiler and unit; what is shared
# is the compile cache (`compiler.STORE`: entries are published whole, under
# its lock, and never changed afterwards; process-unique names are drawn
# under it) and the op tables (`ops/`: built whole, then published). Calls
# for the same class or function also take that object's lock here, so the
# second one waits and reuses what the first one published instead of
# compiling it again. No lock is taken while holding another one of these.
_LOCKS: "weakref.WeakKeyDictionary[Any, threading.RLock]" = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


@contextlib.contextmanager
def _compiling(key: Any) -> Iterator[None]:
    """Hold the compile lock of one class or function (Note [Concurrent script])."""
    with _LOCKS_GUARD:
        try:
            lock = _LOCKS.get(key)
            if lock is None:
                lock = _LOCKS[key] = threading.RLock()
        except TypeError:  # not weakly referenceable: no per-object lock (the cache is still safe)
            lock = threading.RLock()
    with lock:
        yield


def _with_room(compile_: Callable[[], Any]) -> Any:
    """Compile; when Python's stack was too small (a program nested hundreds of levels deep),
    compile again with room for the deepest program allowed (Note [Block nesting limit] in
    ir/nesting.py). Each attempt compiles into a new Compiler and publishes only on success,
    so a failed one leaves nothing behind; ordinary programs never change the recursion limit."""
    try:
        return compile_()
    except _TooDeep:
        pass
    with recursion_headroom(MAX_BLOCK_DEPTH):
        return compile_()


class _TooDeep(Exception):
    """A RecursionError while compiling without extra room (`_with_room` tries again with it)."""


def _with_retries(attempt, use_store: bool = True):
    """Compile with relaxed type sharing and the cache; start again without them if either is wrong
    for this program (Note [Type sharing], Note [Compile cache])."""
    try:
        return attempt(True, use_store)
    except CacheMiss:
        pass
    except ConstantConflict:
        return attempt(False, False)
    try:
        return attempt(True, False)
    except ConstantConflict:
        return attempt(False, False)


def script_class(cls: type) -> type:
    def attempt(relaxed: bool, use_store: bool):
        compiler = Compiler(relaxed, use_store)
        with _internal_errors(compiler):
            info = compiler.classes.script_class(cls, None)
            if not info.cached:
                for name, value in list(vars(cls).items()):
                    if isinstance(value, types.FunctionType) and name not in info.type.methods and not name.startswith("__"):
                        compiler.classes._compile_method(info.type, cls, name, None, fn=value)
                compiler.finish()
        compiler.publish()
        return cls

    with _compiling(cls):
        return _with_room(lambda: _with_retries(attempt))


def compile_entry_points(compiler: Compiler, root: ModuleInfo) -> None:
    """Compile forward and @export methods of every module type in the tree (each type once)."""
    seen: set = set()
    for info in _infos(root, seen):
        if not info.foreign:
            compiler.classes.modules.compile_entry_points(info)


def _infos(info: ModuleInfo, seen: set) -> Iterator[ModuleInfo]:
    if id(info.type) in seen:
        return
    seen.add(id(info.type))
    yield info
    for sub in info.submodules.values():
        yield from _infos(sub, seen)


def _build(compiler: Compiler, module: nn.Module, done: Dict[int, Any]):
    """The ScriptModule for `module` (submodules first), with its own attribute values."""
    api = _api()
    existing = done.get(id(module))
    if existing is not None:
        return existing
    if isinstance(module, api.ScriptModule):
        return module
    info = compiler.classes.modules.by_module[id(module)]
    t = info.type
    values: Dict[str, Any] = {}
    for name, kind in t.attr_kinds.items():
        if kind == "parameter":
            values[name] = module._parameters[name]
        elif kind == "buffer":
            values[name] = module._buffers[name]
        elif kind == "module":
            sub = module._modules[name]
            values[name] = _build(compiler, sub, done) if sub is not None else None
        elif name == "training":
            values[name] = module.training
        else:
            value = getattr(module, name)
            if isinstance(value, torch.jit.Attribute):  # torch.jit.Attribute(value, type): the value
                value = value.value
            values[name] = as_script_value(value, t.attributes[name])
    sm = api.ScriptModule.create(compiler.unit, t, values, eager=False)
    # `register_buffer(..., persistent=False)`: kept out of state_dict, as in eager (trace does the same).
    sm.__dict__["_non_persistent_buffers_set"] = set(module._non_persistent_buffers_set)  # not an attribute of the type
    done[id(module)] = sm
    return sm


def as_script_value(value: Any, t) -> Any:
    """A Python attribute value in the form its script type has (tuples for lists -> lists,
    Enum members -> their values, Note [Enums])."""
    if value is None:
        return None
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(t, OptionalType):
        return as_script_value(value, t.elem)
    if isinstance(t, ListType) and isinstance(value, (list, tuple)):
        return [as_script_value(v, t.elem) for v in value]
    if isinstance(t, TupleType) and isinstance(value, (list, tuple)) and len(value) == len(t.elems):
        items = [as_script_value(v, e) for v, e in zip(value, t.elems)]
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    if isinstance(t, DictType) and isinstance(value, dict):
        return {as_script_value(k, t.key): as_script_value(v, t.value) for k, v in value.items()}
    return value


@contextlib.contextmanager
def _internal_errors(compiler: Compiler) -> Iterator[None]:
    """Only CompileErrors leave script(); anything else is a compiler bug, reported as one."""
    try:
        yield
    except (CompileError, ConstantConflict, CacheMiss):
        raise
    except RecursionError:
        if not headroom_active():
            raise _TooDeep() from None
        raise CompileError(
            f"the program is nested too deeply to compile (blocks may nest at most {MAX_BLOCK_DEPTH} deep)",
            hint="split deeply nested expressions, calls or long if/elif chains and early-return sequences",
        ) from None
    except Exception as e:
        chain = compiler.error_chain or []
        where = f"`{chain[-1].name}`" if chain else "the program"
        raise CompileError(
            f"internal compiler error while compiling {where}: {type(e).__name__}: {e}",
            hint="this is a torchkiln bug; please report it with the code being compiled",
            chain=chain,
        ) from e


__all__ = ["script", "script_function", "script_module", "script_class", "compile_entry_points"]
