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
from typing import Dict, List, Optional

from ...ir.core import Value
from ...ir.types import NONE, ListType, TupleType, Type
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
    starred_at = None  # where the first `*list` argument went (Note [Starred lists])
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
            from .loops import RangeValue

            if isinstance(value, RangeValue):  # `*range(2, x.dim())`
                value = SimpleValue(value.as_value(em, a))
            if isinstance(value, SimpleValue) and isinstance(value.type, ListType):
                if starred_at is None:
                    starred_at = len(out)
                out.append(_Spread(value.value, a))
                continue
            em.fail(a, f"`*` in a call needs a tuple or a list, not {value.describe()}", hint="pass the value as one argument")
        out.append(em.emit_expr(a))
    if starred_at is not None:
        out[:] = [_merge_spread(em, out)]
    return out


# Note [Starred lists]
# ~~~~~~~~~~~~~~~~~~~~
# `x.view(-1, *x.shape[2:])` spreads a list of unknown length into a call.
# A torch function that takes sizes or dims as separate values
# (`view(*size)`, `permute`, `expand`, `repeat`, `zeros`, `new_zeros`) takes
# all its positional values as one list (`x.view(a, b)` is `x.view([a, b])`),
# so with a `*list` among them the positional arguments become one list: the
# values around it in `prim::ListConstruct`s, joined by `prim::add.list`
# (`[-1] + x.shape[2:]`). That is what Python passes for such ops. Only
# torch ops and Tensor methods take the merged list (`StarredList`); any
# other callee (a Python function, `print`, `max`) would need the items as
# separate arguments, whose number is not known when compiling, and refuses
# it at the star. TorchScript refuses all of these.


class _Spread:
    """A `*list` argument before merging (`emit_args`)."""

    def __init__(self, value: Value, node: ast.AST):
        self.value, self.node = value, node


def _merge_spread(em: FunctionEmitter, items: list) -> "StarredList":
    first = next(i for i in items if isinstance(i, _Spread))
    elem = first.value.type.elem  # type: ignore[union-attr]
    merged = None
    pending: List[Value] = []

    def join(v: Value) -> None:
        nonlocal merged
        merged = v if merged is None else em.op("prim::add.list", [merged, v], [ListType(elem)]).output

    with em.at(first.node):
        for item in items:
            if isinstance(item, _Spread):
                if pending:
                    join(em.op("prim::ListConstruct", pending, [ListType(elem)]).output)
                    pending = []
                v = item.value
                if v.type != ListType(elem):
                    em.fail(item.node, f"`*` spreads lists of one element type into one list here: {v.type} and {ListType(elem)}")
                join(v)
            else:
                v = item.as_value(em, first.node)
                pending.append(em.coerce(v, elem, first.node, f"the arguments around `*{first.value.type}` must be {elem}, not {v.type}"))
        if pending:
            join(em.op("prim::ListConstruct", pending, [ListType(elem)]).output)
    return StarredList(merged, first.node)  # type: ignore[arg-type]


class StarredList(SugaredValue):
    """Trailing call arguments merged into one list around a `*list` (Note [Starred lists])."""

    def __init__(self, value: Value, node: ast.AST):
        self.value, self.node = value, node

    def describe(self) -> str:
        return "a `*list` argument"

    def as_value(self, em, node) -> Value:
        em.fail(self.node, "`*` of a list can be passed only to a torch function or Tensor method that takes sizes or dims as separate values (`x.view(-1, *x.shape[2:])`)",
                hint="pass the list as one argument, or spread a tuple")

    def spread(self) -> Value:
        return self.value


def op_values(em: FunctionEmitter, node: ast.AST, args: Args) -> List[Value]:
    """Positional values for a torch op: a merged `*list` is its list (Note [Starred lists])."""
    return [a.spread() if isinstance(a, StarredList) else a.as_value(em, node) for a in args]


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
        values = op_values(em, node, args)
        kw = {k: v.as_value(em, node) for k, v in kwargs.items()}
        return em.call_op_sugar(node, self.bases, values, kw, what=f"`{self.name}`")

    def as_function(self, em, node, args, kwargs):
        """(Function, input values) for `fork(torch.add, x, y, alpha=2)` (Note [Forked builtins])."""
        return forked_op(em, node, self.bases, self.name, op_values(em, node, args), {k: v.as_value(em, node) for k, v in kwargs.items()})


# Note [Forked builtins]
# ~~~~~~~~~~~~~~~~~~~~~~
# `prim::fork` runs a function of the unit. `fork(torch.add, x, y, alpha=2)`
# forks a small function made for the call, as TorchScript does: its
# parameters are the values passed (positional, then keyword), its body the
# overload resolution picked for their types, with defaults and conversions,
# and it returns the op's result (a tuple for several outputs).
#
#     %fut : Future(Tensor) = prim::fork[name="__torch__.torch.add_fork"](%x, %y, %two)
#     def __torch__.torch.add_fork(%arg0 : Tensor, %arg1 : Tensor, %alpha : int):
#       %r : Tensor = aten::add.Tensor(%arg0, %arg1, %alpha)
#       return (%r)


def forked_op(em: FunctionEmitter, node: ast.AST, bases, name: str, values: List[Value], kwargs: Dict[str, Value]):
    from ... import ops
    from ...ir.builder import Builder
    from ...ir.core import Argument, Function, Graph

    match = em.resolve_op(node, bases, values, kwargs, what=f"`{name}` in fork()")
    graph = Graph()
    params = [graph.add_input(v.type, f"arg{i}") for i, v in enumerate(values)]
    kw_params = {k: graph.add_input(v.type, k) for k, v in kwargs.items()}
    b = Builder(graph.block, loc=em.loc(node))
    outs = b.op(match.op.name, ops.emit_inputs(match, b, params, kw_params, None), match.return_types).outputs
    if not outs:
        ret, result = NONE, b.constant(None, NONE)
    elif len(outs) == 1:
        ret, result = outs[0].type, outs[0]
    else:
        ret = TupleType([o.type for o in outs])
        result = b.op("prim::TupleConstruct", list(outs), [ret]).output
    graph.add_output(result)
    arguments = [Argument(p.name, p.type) for p in graph.inputs]
    compiler = em.compiler
    function = Function(compiler.unique_name(f"__torch__.torch.{name.split('.')[-1]}_fork"), graph, arguments, ret, em.loc(node))
    return compiler.add_compiled(function), values + list(kwargs.values())


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
