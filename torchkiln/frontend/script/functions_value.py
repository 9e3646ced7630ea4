"""Python functions called from scripted code.

```
helper(x, 2)          PythonFunctionValue: compiled once per argument types, then
                      %y = prim::CallFunction[name="__torch__.mod.helper"](%x, %2)
F.max_pool2d(...)     BooleanDispatchValue: `return_indices` (a constant) picks the implementation
@unused fn(...)       compiled as a function that raises when called
@ignore fn(...)       prim::PythonOp: runs the Python function (not saved, Python only)
```
"""
from __future__ import annotations

import ast
import types
from typing import Any, Dict, List

import torch

from ...diagnostics import CompileError
from ...ir.core import Function, Value
from ...ops.lang import register_python_function
from ...ir.types import TENSOR
from .emitter import FunctionEmitter
from .enums import typed_returns, typed_signature
from .functions import argument_values, bind_call, positional_only_keywords
from .sugared import Args, Kwargs, SimpleValue, SugaredValue


def function_value(em: FunctionEmitter, node: ast.AST, obj: Any, name: str) -> SugaredValue:
    fn = getattr(obj, "__original_fn", obj)  # script_if_tracing wrappers
    if isinstance(fn, types.MethodType):
        em.fail(node, f"the bound method `{name}` of a Python object cannot be called from script", hint="call a module method through `self`, or a plain function")
    dispatch = torch._jit_internal.boolean_dispatched.get(fn)
    if dispatch is not None:
        return BooleanDispatchValue(dispatch, name)
    modifier = torch._jit_internal.get_torchscript_modifier(fn)
    modifiers = torch._jit_internal.FunctionModifiers
    if modifier is modifiers.UNUSED:
        return UnusedFunctionValue(fn, name)
    if modifier in (modifiers.IGNORE, getattr(modifiers, "_DROP", None)):
        return IgnoredFunctionValue(fn, name)
    return PythonFunctionValue(fn, name)


class PythonFunctionValue(SugaredValue):
    def __init__(self, fn: Any, name: str):
        self.fn = fn
        self.name = name

    def describe(self) -> str:
        return f"the function {self.name}"

    def call(self, em, node, args, kwargs):
        compiler = em.compiler
        overloads = compiler.functions.overloads(self.fn)
        if not overloads:
            sig = compiler.functions.signature(self.fn, em.loc(node))
            bound = bind_call(em, node, sig, self.name, args, kwargs, skip_self=False)
            values, types_ = argument_values(em, node, self.name, bound)
            function = compiler.functions.compile(self.fn, types_, em.loc(node))
            return _call_node(em, function, values)
        reasons = []
        for sig in overloads:
            try:
                bound = bind_call(em, node, sig, self.name, args, kwargs, skip_self=False)
                values, types_ = argument_values(em, node, self.name, bound)
            except CompileError as e:
                reasons.append(f"  ({', '.join(f'{p.name}: {p.type}' for p in sig.params)}): {e.what}")
                continue
            function = compiler.functions.compile(self.fn, types_, em.loc(node), sig)
            return _call_node(em, function, values)
        em.fail(node, f"no overload of {self.name} accepts these arguments; tried:\n" + "\n".join(reasons))

    def as_function(self, em, node, args: Args, kwargs: Kwargs):
        """(Function, input values) for `fork`."""
        sig = em.compiler.functions.signature(self.fn)
        bound = bind_call(em, node, sig, self.name, args, kwargs, skip_self=False)
        values, types_ = argument_values(em, node, self.name, bound)
        return em.compiler.functions.compile(self.fn, types_, em.loc(node)), values


class ClassMethodValue(SugaredValue):
    """A `@classmethod` of a module or script class, reached through `self`, the class or `cls`.

    Note [Class methods]
    --------------------
    `self.make(3)`, `Net.make(3)`, `type(self).make(3)` and, inside a class
    method, `cls.make(3)` call the classmethod's function compiled like a
    static method: one `Function` per class and argument types, whose first
    parameter (`cls`) is no parameter at all but the class itself, bound in
    the body as a compile-time value (what the class's name would give:
    `cls.LIMIT`, `cls.static_helper(...)`, `cls.other_classmethod(...)`,
    `cls(...)` for a script class). `cls(...)` of a module class is refused,
    as creating a module in scripted code is. TorchScript refuses classmethods.

    ```
    %y : int = prim::CallFunction[name="__torch__.m.Net.make"](%x)    # self.make(x)
    ```
    """

    def __init__(self, fn: Any, cls: type, name: str):
        self.fn = fn
        self.cls = cls
        self.name = name

    def describe(self) -> str:
        return f"the class method {self.name}"

    def call(self, em, node, args, kwargs):
        compiler = em.compiler
        sig = compiler.functions.signature(self.fn, em.loc(node), has_cls=True)
        if not sig.params or sig.params[0].kwarg_only:
            em.fail(node, f"the class method {self.name} has no parameter for the class", hint="declare it as `def name(cls, ...)`")
        bound = bind_call(em, node, sig, self.name, args, kwargs, skip_self=True)
        values, types_ = argument_values(em, node, self.name, bound)
        function = compiler.functions.compile(self.fn, types_, em.loc(node), cls=self.cls)
        return _call_node(em, function, values)


def _call_node(em: FunctionEmitter, function: Function, values: List[Value]) -> SugaredValue:
    out = em.op("prim::CallFunction", values, [typed_returns(em, function)], {"name": function.name}).output
    return SimpleValue(out)


def call_compiled(em: FunctionEmitter, node: ast.AST, function: Function, args: Args, kwargs: Kwargs) -> SugaredValue:
    """Call an already compiled `Function` (a ScriptFunction's), binding by its `Argument`s."""
    return _call_node(em, function, compiled_arguments(em, node, function, args, kwargs))


def compiled_arguments(em: FunctionEmitter, node: ast.AST, function: Function, args: Args, kwargs: Kwargs) -> List[Value]:
    """The input values of a call of an already compiled `Function`, bound by its `Argument`s
    (typed as the frontend typed them: Note [Enums])."""

    params = function.args
    types_ = typed_signature(em, function)[0]
    positional = [a for a in params if not a.kwarg_only]
    named_positional_only = positional_only_keywords(params, kwargs)
    if named_positional_only:
        em.fail(node, f"{function.name}() got some positional-only arguments passed as keyword arguments: '{named_positional_only}'")
    if len(args) > len(positional):
        em.fail(node, f"{function.name}() takes {len(positional)} positional arguments but {len(args)} were given")
    given: Dict[str, SugaredValue] = {a.name: v for a, v in zip(positional, args)}
    for k, v in kwargs.items():
        if k in given or k not in {a.name for a in params}:
            em.fail(node, f"{function.name}() got an unexpected or repeated keyword argument '{k}'")
        given[k] = v
    values: List[Value] = []
    for a, t in zip(params, types_):
        if a.name in given:
            v = given[a.name].as_value(em, node)
            v = em.coerce_argument(v, t, node, f"{function.name}() expects {t} for argument '{a.name}' but got {v.type}")
        elif a.has_default:
            v = em.const(a.default) if a.default is not None else em.const(None)
        else:
            em.fail(node, f"{function.name}() missing required argument '{a.name}'")
        values.append(v)
    return values


class BooleanDispatchValue(SugaredValue):
    """`torch._jit_internal.boolean_dispatch`: a constant bool argument picks the function."""

    def __init__(self, dispatch: Dict[str, Any], name: str):
        self.dispatch = dispatch
        self.name = name

    def describe(self) -> str:
        return f"the function {self.name}"

    def call(self, em, node, args, kwargs):
        d = self.dispatch
        arg_name, index, default = d["arg_name"], d["index"], d["default"]
        if arg_name in kwargs:
            flag = kwargs[arg_name].static_value()
        elif index < len(args):
            flag = args[index].static_value()
        else:
            flag = default
        if not isinstance(flag, bool):
            em.fail(node, f"the argument '{arg_name}' of {self.name} must be a constant True or False in script")
        chosen = d["if_true"] if flag else d["if_false"]
        return function_value(em, node, chosen, self.name).call(em, node, args, kwargs)


class UnusedFunctionValue(SugaredValue):
    """`@torch.jit.unused`: compiles to a function that raises if it is ever called."""

    def __init__(self, fn: Any, name: str):
        self.fn = fn
        self.name = name

    def describe(self) -> str:
        return f"the @unused function {self.name}"

    def call(self, em, node, args, kwargs):
        sig = em.compiler.functions.signature(self.fn)
        bound = bind_call(em, node, sig, self.name, args, kwargs, skip_self=False)
        values, types_ = argument_values(em, node, self.name, bound)
        ret = sig.returns if sig.returns is not None else TENSOR
        function = em.compiler.functions.raising_stub(self.fn, [p for p, _ in bound], types_, ret, f"`{self.name}` was marked @unused and cannot be called")
        return _call_node(em, function, values)


class IgnoredFunctionValue(SugaredValue):
    """`@torch.jit.ignore`: left to Python; the call becomes `prim::PythonOp` (not saved)."""

    def __init__(self, fn: Any, name: str):
        self.fn = fn
        self.name = name

    def describe(self) -> str:
        return f"the @ignore function {self.name}"

    def call(self, em, node, args, kwargs):
        sig = em.compiler.functions.signature(self.fn)
        bound = bind_call(em, node, sig, self.name, args, kwargs, skip_self=False)
        values, _ = argument_values(em, node, self.name, bound)
        ret = sig.returns if sig.returns is not None else TENSOR
        key = f"{getattr(self.fn, '__module__', '')}.{getattr(self.fn, '__qualname__', self.name)}#{id(self.fn)}"
        register_python_function(key, self.fn)
        return SimpleValue(em.op("prim::PythonOp", values, [ret], {"name": key}).output)


class AutogradFunctionValue(SugaredValue):
    """A `torch.autograd.Function` subclass: `Fn.apply(...)` becomes `prim::PythonOp` returning a Tensor
    (as TorchScript, which leaves such a class to Python; not saved, Python only)."""

    def __init__(self, cls: Any, name: str):
        self.cls = cls
        self.name = name

    def describe(self) -> str:
        return f"the autograd Function {self.name}"

    def attr(self, em, node, name):
        if name != "apply":
            return super().attr(em, node, name)
        return _AutogradApply(self.cls, f"{self.name}.apply")


class _AutogradApply(SugaredValue):
    def __init__(self, cls: Any, name: str):
        self.cls = cls
        self.name = name

    def describe(self) -> str:
        return self.name

    def call(self, em, node, args, kwargs):
        if kwargs:
            em.fail(node, f"{self.name}() takes no keyword arguments")
        values = [a.as_value(em, node) for a in args]
        key = f"{getattr(self.cls, '__module__', '')}.{self.cls.__qualname__}.apply#{id(self.cls)}"
        register_python_function(key, self.cls.apply)
        return SimpleValue(em.op("prim::PythonOp", values, [TENSOR], {"name": key}).output)


__all__ = ["AutogradFunctionValue", "ClassMethodValue", "function_value", "PythonFunctionValue", "call_compiled", "BooleanDispatchValue", "UnusedFunctionValue", "IgnoredFunctionValue"]
