"""Calls: evaluating arguments, and calling builtin ops and compiled functions.

```
torch.relu(x)            BuiltinOp("aten::relu")  -> ops.resolve picks the overload
F.linear(x, w, b)        BuiltinOp("aten::linear")
helper(x, k=2)           PythonFunctionValue (functions_value.py): compiled, prim::CallFunction
traced_fn(x)             ScriptFunctionValue: prim::CallFunction of its graph
```
"""
from __future__ import annotations

import ast
from typing import List, Optional

from ...ir.types import TupleType, Type
from .emitter import FunctionEmitter
from .sugared import Args, Kwargs, SimpleValue, SugaredValue, TupleSugar


def emit_call(em: FunctionEmitter, node: ast.Call, hint: Optional[Type] = None) -> SugaredValue:
    callee = em.emit_expr(node.func)
    saved = getattr(em, "call_hint", None)
    em.call_hint = hint
    try:
        if callee.special_form:
            return callee.call_ast(em, node)
        args = emit_args(em, node.args)
        kwargs = emit_kwargs(em, node.keywords)
        # Nodes made by the call carry its range: `emit_expr`, the only caller, has set it.
        return callee.call(em, node, args, kwargs)
    finally:
        em.call_hint = saved


def emit_args(em: FunctionEmitter, nodes: List[ast.expr]) -> Args:
    out: Args = []
    for a in nodes:
        if isinstance(a, ast.Starred):
            value = em.emit_expr(a.value)
            if isinstance(value, TupleSugar):
                out.extend(value.items)
                continue
            if isinstance(value, SimpleValue) and isinstance(value.type, TupleType):
                from .stmts import unpack

                out.extend(unpack(em, a, value, len(value.type.elems)))
                continue
            em.fail(a, f"`*` in a call needs a tuple, not {value.describe()}", hint="pass the list as one argument, or use a tuple")
        out.append(em.emit_expr(a))
    return out


def emit_kwargs(em: FunctionEmitter, keywords: List[ast.keyword]) -> Kwargs:
    out: Kwargs = {}
    for kw in keywords:
        if kw.arg is None:
            em.fail(kw.value, "`**` in a call is not supported", hint="pass the keyword arguments explicitly")
        out[kw.arg] = em.emit_expr(kw.value)
    return out


class BuiltinOp(SugaredValue):
    """A torch function with ATen (or prim) schemas; the overload is chosen per call."""

    def __init__(self, bases, name: str):
        self.bases = bases
        self.name = name

    def describe(self) -> str:
        return f"the builtin operator {self.name}"

    def call(self, em, node, args, kwargs):
        values = [a.as_value(em, node) for a in args]
        kw = {k: v.as_value(em, node) for k, v in kwargs.items()}
        return em.call_op_sugar(node, self.bases, values, kw, what=f"`{self.name}`")


class ScriptFunctionValue(SugaredValue):
    """A `ScriptFunction` (scripted or traced): called through its own graph."""

    def __init__(self, fn):
        self.fn = fn

    def describe(self) -> str:
        return f"the compiled function {self.fn.__name__}"

    def call(self, em, node, args, kwargs):
        from .functions_value import call_compiled

        function = em.compiler.import_script_function(self.fn)
        return call_compiled(em, node, function, args, kwargs)

    def as_function(self, em, node, args, kwargs):
        """(Function, input values) for `fork`."""
        from .functions_value import compiled_arguments

        function = em.compiler.import_script_function(self.fn)
        return function, compiled_arguments(em, node, function, args, kwargs)


__all__ = ["emit_call", "emit_args", "emit_kwargs", "BuiltinOp", "ScriptFunctionValue"]
