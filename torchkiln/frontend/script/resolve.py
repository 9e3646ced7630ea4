"""Name resolution: the Python object a free name denotes -> a sugared value.

Python's order (STYLE: resolution follows Python): the function's locals
(the emitter's frames), then its closure, its module's globals, builtins
(`functions.Namespace`). What the object becomes:

| object                                             | sugared value                                  |
|----------------------------------------------------|------------------------------------------------|
| None, bool, int, float, str, device, dtype          | a constant                                     |
| a tuple of those                                    | a tuple                                        |
| `len`, `range`, `isinstance`, `torch.jit.annotate`… | builtins.py / specials.py                      |
| a Python module                                     | `PythonModuleValue` (torch, math, user modules) |
| a torch function with an ATen schema                | `BuiltinOp` (resolved per call, ops.resolve)   |
| a function of the `math` module                     | a `prim::math_*` op                            |
| a Python function                                   | compiled on call (`PythonFunctionValue`)       |
| a NamedTuple or script class                        | its constructor (`classes.py`)                 |
| a `ScriptFunction` (scripted or traced)             | a call of its graph                            |

Anything else is refused with what to do instead: library modules such as
numpy or random, global tensors, lists and dicts (their mutation could not
be seen by the program), arbitrary Python objects.
"""
from __future__ import annotations

import ast
import functools
import sys
import sysconfig
import types
from typing import Any, Dict, Optional, Tuple

import torch

from ... import ops
from .emitter import FunctionEmitter, constant_type
from .sugared import ExceptionClassValue, PythonModuleValue, SimpleValue, SugaredValue, TupleSugar
from . import builtins as script_builtins, specials  # noqa: I001
from .calls import BuiltinOp, ScriptFunctionValue
from .functions_value import AutogradFunctionValue, PythonFunctionValue, function_value
from .modules import _api

try:
    from torch.jit._builtins import _find_builtin as _torch_find_builtin
except ImportError:  # pragma: no cover - torch.jit is part of every torch
    _torch_find_builtin = None

_ALLOWED_LIBRARIES = {"torch", "math", "typing", "warnings", "torchkiln", "torchvision", "builtins", "operator", "collections", "typing_extensions", "numbers"}


@functools.lru_cache(maxsize=None)
def _library_roots():
    paths = set()
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        p = sysconfig.get_paths().get(key)
        if p:
            paths.add(p)
    return tuple(paths)


@functools.lru_cache(maxsize=4096)
def _is_library_file(path: str) -> bool:
    return any(path.startswith(root) for root in _library_roots())


def is_foreign_module(module: Any) -> bool:
    """A module of a Python library script cannot compile (numpy, random, os, ...)."""
    name = getattr(module, "__name__", "") or ""
    root = name.split(".", 1)[0]
    if root in _ALLOWED_LIBRARIES:
        return False
    if root in sys.builtin_module_names:
        return True
    path = getattr(module, "__file__", None)
    if path is None:
        return False
    return _is_library_file(path)


def check_library_module(em: FunctionEmitter, node: ast.AST, module: Any, attr: str) -> None:
    if is_foreign_module(module):
        lib = module.__name__.split(".", 1)[0]
        em.fail(
            node,
            f"`{module.__name__}.{attr}` cannot be used in script: the Python library '{lib}' is not part of the language script compiles (torch operations and typed Python)",
            hint="compute this with torch (e.g. torch.tensor(...), torch.rand(...)), or do it outside the scripted code and pass the result in as an argument",
        )


def _foreign_function(obj: Any) -> Optional[str]:
    module_name = getattr(obj, "__module__", None)
    if not isinstance(module_name, str):
        self_obj = getattr(obj, "__self__", None)
        module_name = getattr(type(self_obj), "__module__", None) if self_obj is not None else None
    if not module_name:
        return None
    module = sys.modules.get(module_name)
    if module is not None and is_foreign_module(module):
        return module_name.split(".", 1)[0]
    return None


class Resolver:
    """Turns Python objects into sugared values (see the table above)."""

    def __init__(self, compiler):
        self.compiler = compiler
        # id(obj) -> (obj, sugared value) for Python modules and torch ops: a program names
        # `torch`, `F` and `torch.cat` again and again, and their values hold no compile state.
        self._shared: Dict[int, Tuple[Any, SugaredValue]] = {}
        # (id(function), the name it is read by) -> (function, its value): a plain Python function's
        # value holds the function and that name only (messages name the function as the code does).
        self._functions: Dict[Tuple[int, str], Tuple[Any, SugaredValue]] = {}

    def resolve_name(self, em: FunctionEmitter, node: ast.AST, name: str) -> SugaredValue:
        try:
            obj = em.namespace.lookup(name)
        except KeyError:
            em.fail(node, f"undefined name '{name}'", hint=f"define '{name}' before use, or import it at module level")
        return self.to_sugared(em, node, obj, name)

    def python_object(self, em: FunctionEmitter, node: ast.expr) -> Any:
        """The Python object a name or attribute chain denotes (isinstance targets, annotations)."""
        if isinstance(node, ast.Name):
            try:
                return em.namespace.lookup(node.id)
            except KeyError:
                em.fail(node, f"undefined name '{node.id}'")
        if isinstance(node, ast.Attribute):
            base = self.python_object(em, node.value)
            try:
                return getattr(base, node.attr)
            except AttributeError:
                em.fail(node, f"'{ast.unparse(node.value)}' has no attribute '{node.attr}'")
        if isinstance(node, ast.Subscript):
            base = self.python_object(em, node.value)
            args = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            try:
                return base[tuple(self.python_object(em, a) for a in args)] if len(args) > 1 else base[self.python_object(em, args[0])]
            except TypeError:
                em.fail(node, f"`{ast.unparse(node)}` is not a type")
        if isinstance(node, ast.Constant) and node.value is None:
            return None
        em.fail(node, f"`{ast.unparse(node)}` must name a type or class here")

    def to_sugared(self, em: FunctionEmitter, node: ast.AST, obj: Any, name: str) -> SugaredValue:
        shared = self._shared.get(id(obj))
        if shared is not None and shared[0] is obj:
            return shared[1]
        known = self._functions.get((id(obj), name))  # a function read by this name before
        if known is not None and known[0] is obj:
            return known[1]
        if constant_type(obj) is not None and not isinstance(obj, type):
            return SimpleValue(em.const(obj))
        special = specials.lookup(obj)
        if special is not None:
            return special
        builtin = script_builtins.lookup(obj)
        if builtin is not None:
            return builtin
        if isinstance(obj, types.ModuleType):
            found = self._shared[id(obj)] = (obj, PythonModuleValue(obj))
            return found[1]
        if isinstance(obj, tuple) and not hasattr(obj, "_fields"):
            return TupleSugar([self.to_sugared(em, node, x, f"{name}[{i}]") for i, x in enumerate(obj)])
        if isinstance(obj, type) and issubclass(obj, BaseException):
            return ExceptionClassValue(obj)
        op = self._torch_op(obj)
        if op is not None:
            self._shared[id(obj)] = (obj, op)
            return op
        return self._python_object(em, node, obj, name)

    def _torch_op(self, obj: Any) -> Optional[SugaredValue]:
        if isinstance(obj, torch._ops.OpOverload):
            qualified = obj._schema.name + (f".{obj._overloadname}" if obj._overloadname != "default" else "")
            info = ops.find(qualified)
            return BuiltinOp([info], qualified) if info is not None else None
        if isinstance(obj, torch._ops.OpOverloadPacket):
            base = obj._qualified_op_name
            return BuiltinOp(base, base) if ops.overloads(base) else None
        base = _find_builtin(obj)
        if base is None:
            return None
        special = specials.aten_special(base)
        if special is not None:
            return special
        if ops.overloads(base):
            return BuiltinOp(base, getattr(obj, "__name__", base))
        return None

    def _python_object(self, em: FunctionEmitter, node: ast.AST, obj: Any, name: str) -> SugaredValue:
        api = _api()
        if isinstance(obj, api.ScriptFunction):
            return ScriptFunctionValue(obj)
        if isinstance(obj, (types.FunctionType, types.MethodType)) or hasattr(obj, "__original_fn"):
            lib = _foreign_function(obj) if isinstance(obj, types.FunctionType) else None
            if lib is not None:
                em.fail(node, f"`{name}` is a function of the Python library '{lib}', which script cannot compile", hint="compute this with torch functions, or mark the calling code @torchkiln.ignore")
            value = function_value(em, node, obj, name)
            if type(value) is PythonFunctionValue:
                self._functions[(id(obj), name)] = (obj, value)
            return value
        if isinstance(obj, type) and issubclass(obj, torch.autograd.Function):
            return AutogradFunctionValue(obj, name)
        if isinstance(obj, type):
            return self.compiler.classes.class_value(em, node, obj, name)
        if isinstance(obj, (types.BuiltinFunctionType, types.BuiltinMethodType)) or callable(obj) and not isinstance(obj, torch.nn.Module):
            lib = _foreign_function(obj) or getattr(obj, "__module__", None) or "builtins"
            em.fail(node, f"`{name}` ({_describe(obj)}) cannot be called from script", hint="use a torch function or an operator that script supports, or do this outside the scripted code")
        if isinstance(obj, torch.Tensor):
            em.fail(node, f"the global tensor '{name}' cannot be used in script", hint="register it as a buffer of the module (self.register_buffer) or pass it in as an argument")
        if isinstance(obj, (list, dict, set)):
            em.fail(node, f"the global {type(obj).__name__} '{name}' cannot be used in script: scripted code cannot read or change mutable globals", hint="pass it in as an argument, keep it as a module attribute, or make it a tuple constant")
        if isinstance(obj, torch.nn.Module):
            em.fail(node, f"the module '{name}' held in a global variable cannot be used in script", hint="make it a submodule (an attribute of the module being scripted)")
        em.fail(node, f"'{name}' is a Python value of type {type(obj).__name__}, which script cannot use", hint="use values of supported types (tensors, numbers, strings, containers), or pass it in as an argument")


def _describe(obj: Any) -> str:
    mod = getattr(obj, "__module__", None)
    qual = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) or type(obj).__name__
    return f"{mod}.{qual}" if mod else str(qual)


def _find_builtin(obj: Any) -> Optional[str]:
    """TorchScript's table of torch functions with ATen schemas (torch.jit._builtins)."""
    if _torch_find_builtin is None:  # pragma: no cover
        return None
    try:
        return _torch_find_builtin(obj)
    except TypeError:
        return None


__all__ = ["Resolver", "is_foreign_module", "check_library_module"]
