"""Functions defined inside a scripted function (`def` in a body), closures included.

```python
def forward(self, x):
    scale = x.size(0)
    def helper(y: Tensor, k: int = 2) -> Tensor:   # nothing emitted here
        return self.fc(y) * scale * k               # `self` and `scale` are free in helper
    return helper(x) + helper(x, k=3)               # compiled per argument types; called
```

Note [Nested functions]
-----------------------
A nested `def` is not a value at run time: the name is bound to a
`NestedFunctionValue`, and each call compiles the body (once per argument
and capture types) into a function of its own, called with
`prim::CallFunction` like any other compiled function (the inliner then
inlines it). The function's parameters are the declared ones followed by its
*captures*, one per free variable:

- The free variables are Python's own: `symtable` over the enclosing
  function's source names them (a name the nested body assigns is its own
  local; one the enclosing function binds is free; anything else is a
  global or builtin, resolved as the enclosing function resolves it).
- Python binds free variables late: the body reads the enclosing variable as
  it is when the call happens. So captures are read at the call, in the
  calling function (`helper` may be called after `scale` changes).
- A free variable that holds a value (a tensor, a number, `self`) is passed
  as an argument. One that holds something that is not a value (another
  nested function, a lambda, a Python module) is bound in the compiled body
  as it is; the compiled function is specific to it.
- A nested function called from another nested function reads its free
  variables where it was defined, not in its caller: the caller captures
  them too, under names no Python variable can have (`helper$scale`), and
  passes them on (`captures` maps each free name to the name to read).
  Free variables read from one variable of the caller are passed once (one
  parameter), so a rebinding through one name is seen through the others.
- `nonlocal x` rebinds the enclosing variable: in the body, a captured
  variable may be assigned (Python allows it only after `nonlocal`, or
  through a nested function it calls), keeping its type
  (`FunctionEmitter.rebindable`). A body that assigned some returns
  `(result, *their new values)` (`_return_rebound`, after exit lowering:
  every `return` skips the rest of the body, so the values at the end are
  those where it returned), and the call stores them back into the
  caller's variables, where the captures were read (`_Capture.where`);
  in a caller that is itself a nested body, that is again a capture, so
  the new value travels out call by call.

```
def f(x):                            def f.inc(%k : int, *, %count : int) -> (NoneType, int):
    count = 0                            %c : int = aten::add(%count, %k)
    def inc(k: int):                     return ((None, %c))
        nonlocal count               ...
        count += k                   %r : (NoneType, int) = prim::CallFunction[name="f.inc"](%1, %count.0)
    inc(1)                           %_, %count.1 = prim::TupleUnpack(%r)
    return x + count
```

Refused, with the reason and where: decorators, defaults that are not
literals (Python evaluates them at the `def`), a nested function that calls
itself, using one as a value (returning or storing it), `nonlocal` of a
variable that holds no value (another nested function) or that the body
assigns a value of another type or deletes, forking a function that rebinds
variables, and `nonlocal` in the scripted function itself (its enclosing
function is Python's).
"""
from __future__ import annotations

import ast
import dataclasses
import symtable
import types
from typing import Any, Dict, List, Optional, Tuple

from ...ir.core import Function, Graph, Value
from ...ir.types import TENSOR, Type
from .emitter import FunctionEmitter
from .functions import argument_values, bind_call, compile_body, make_arguments, read_signature
from .sugared import Args, Kwargs, SimpleValue, SugaredValue


def emit_function_def(em: FunctionEmitter, node: ast.FunctionDef) -> None:
    """`def name(...): ...` inside a scripted body: bind `name` (Note [Nested functions])."""
    if node.decorator_list:
        em.fail(node.decorator_list[0], f"decorators on the nested function `{node.name}` are not supported in script", hint="define the function without decorators, or at module level")
    defaults = _literal_defaults(em, node)
    frees = _free_names(em, node)
    em.assign(node.name, NestedFunctionValue(node, em, frees, {n: n for n in frees}, defaults), node)


class NestedFunctionValue(SugaredValue):
    def __init__(self, node: ast.FunctionDef, home: FunctionEmitter, frees: Tuple[str, ...], captures: Dict[str, str], defaults: Tuple[Tuple[Any, ...], Dict[str, Any]]):
        self.node = node
        self.home = home  # the emitter of the function that defines it: source, namespace, name
        self.frees = frees
        self.captures = captures  # free name -> the variable holding it in the calling function
        self.defaults = defaults
        self._sig: Any = None

    def describe(self) -> str:
        return f"the nested function {self.node.name}"

    def as_value(self, em, node) -> Value:
        em.fail(node, f"the nested function `{self.node.name}` can only be called: script has no function values", hint="call it here, or define it at module level and call it where it is needed")

    def call(self, em: FunctionEmitter, node: ast.AST, args: Args, kwargs: Kwargs) -> SugaredValue:
        function, values, rebound = self._prepare(em, node, args, kwargs)
        from .functions_value import _call_node

        out = _call_node(em, function, values)
        if not rebound:
            return out
        # (result, new values of the rebound variables): store them back (Note [Nested functions]).
        tuple_type = out.value.type
        with em.at(node):
            parts = em.op("prim::TupleUnpack", [out.value], list(tuple_type.elems)).outputs
        for where, v in zip(rebound, parts[1:]):
            em.assign(where, SimpleValue(v), node)
        return SimpleValue(parts[0])

    def as_function(self, em: FunctionEmitter, node: ast.AST, args: Args, kwargs: Kwargs) -> Tuple[Function, List[Value]]:
        """(Function, input values) of a call, for `fork`."""
        function, values, rebound = self._prepare(em, node, args, kwargs)
        if rebound:
            em.fail(node, f"the nested function `{self.node.name}` assigns variables of the enclosing function (`nonlocal`), so it cannot run as a task", hint="call it directly, or return the new values from it")
        return function, values

    def _prepare(self, em: FunctionEmitter, node: ast.AST, args: Args, kwargs: Kwargs) -> Tuple[Function, List[Value], List[str]]:
        """(Function, input values, the caller's variables it rebinds, in the order it returns them)."""
        sig = self._signature(em)
        bound = bind_call(em, node, sig, self.node.name, args, kwargs, skip_self=False)
        values, types_ = argument_values(em, node, self.node.name, bound)
        plan = _captures(em, node, self)
        captured = [(c.name, c.value.as_value(em, node)) for c in plan.values]
        static = plan.static
        key = (
            id(self.node), id(self.home.src), tuple(types_), tuple((n, v.type) for n, v in captured),
            tuple((n, s.cache_key() if isinstance(s, NestedFunctionValue) else id(s)) for n, s in static),
        )
        cache = em.compiler.nested_functions
        found = cache.get(key)
        if found is None:
            found = cache[key] = self._compile(em, node, sig, types_, captured, static)
        function, rebound_names = found
        where = {c.name: c.where for c in plan.values}
        rebound = []
        for name in rebound_names:
            if where[name] is None:  # not a variable of the caller (Python only lets `nonlocal` name those)
                em.fail(node, f"`{self.node.name}` assigns '{name}', which is not a variable of the function calling it")
            rebound.append(where[name])
        return function, values + [v for _, v in captured], rebound

    def cache_key(self) -> Any:
        return (id(self.node), tuple(sorted(self.captures.items())))

    def reading(self, captures: Dict[str, str]) -> "NestedFunctionValue":
        """This function as bound in another compiled body, reading its free variables under these names."""
        return NestedFunctionValue(self.node, self.home, self.frees, captures, self.defaults)

    def _read_capture(self, em: FunctionEmitter, node: ast.AST, free: str) -> Tuple[SugaredValue, Optional[str]]:
        """What `free` holds in the caller `em`, and the caller's variable holding it (None: a global)."""
        where = self.captures[free]
        found = em.frame.find(where)[1]
        if found is None and where not in em.local_names:
            return em.lookup(where, node), None  # not a variable of the caller: the enclosing function's global
        if found is None:
            em.fail(node, f"`{self.node.name}` reads '{free}' of the enclosing function, which is not assigned before this call", hint=f"assign '{free}' before calling `{self.node.name}`")
        return em.lookup(where, node), where

    def _signature(self, em: FunctionEmitter):
        if self._sig is None:
            src = dataclasses.replace(self.home.src, tree=self.node)
            positional, kw = self.defaults
            fake = types.SimpleNamespace(__defaults__=positional, __kwdefaults__=kw)  # read_signature reads these
            self._sig = read_signature(em.compiler, src, self.home.namespace, fake, has_self=False)
        return self._sig

    def _compile(self, em: FunctionEmitter, call: ast.AST, sig, types_: List[Type], captured: List[Tuple[str, Value]], static: List[Tuple[str, SugaredValue]]) -> Tuple[Function, List[str]]:
        """The body compiled for these types, and the captures it rebinds (returned after its result)."""
        from ...diagnostics import CompileError

        compiler = em.compiler
        active = compiler.nested_active
        if id(self.node) in active:
            raise CompileError(
                f"the nested function `{self.node.name}` calls itself (directly or through other functions): recursion is not supported in script",
                em.loc(call),
                hint="rewrite the recursion as a loop",
            )
        home = self.home
        src = dataclasses.replace(home.src, tree=self.node)
        base = home.name if home.name.startswith("__torch__.") else f"{home.method_of[0].name}.{home.name}" if home.method_of else f"__torch__.{home.name}"
        name = f"{base}.{self.node.name}"
        active.add(id(self.node))
        try:
            with compiler.frame(self.node.name, em.loc(call)):
                graph = Graph()
                for p, t in zip(sig.params, types_):
                    graph.add_input(t, p.name)
                for cname, v in captured:
                    graph.add_input(v.type, cname.replace("$", "_"))
                own = _own_locals(home, self.node)
                inner = FunctionEmitter(compiler, src, home.namespace, graph, own + tuple(n for n, _ in captured), name)
                for p, v in zip(sig.params, graph.inputs):
                    inner.assign(p.name, SimpleValue(v), p.node or self.node)
                for (cname, _), v in zip(captured, graph.inputs[len(sig.params):]):
                    inner.assign(cname, SimpleValue(v), self.node)
                for cname, sv in static:
                    inner.assign(cname, sv, self.node)
                inner.rebindable = {cname: v.type for cname, v in captured}
                ret = compile_body(inner, self.node.body, sig.returns, self.node, finish=_return_rebound)
        finally:
            active.discard(id(self.node))
        qualname = compiler.unique_name(name)
        params = list(sig.params) + [_capture_param(cname) for cname, _ in captured]
        function = Function(qualname, graph, make_arguments(params, types_ + [v.type for _, v in captured]), ret, src.loc(self.node))
        compiler.add_compiled(function)
        return function, list(inner.rebound)


def emit_nonlocal(em: FunctionEmitter, node: ast.Nonlocal) -> None:
    """`nonlocal x`: nothing to emit; assignments to `x` rebind the caller's variable (Note [Nested functions])."""
    for name in node.names:
        if em.rebindable is None:
            em.fail(node, f"`nonlocal {name}` names a variable of the Python function around the scripted one, which script cannot change", hint="pass the value in as an argument and return the new value")
        if name in em.rebindable:
            continue
        _, found = em.frame.find(name)
        what = found.describe() if isinstance(found, SugaredValue) else "no value script can pass"
        em.fail(node, f"`nonlocal {name}`: '{name}' holds {what}; only variables holding values can be rebound", hint=f"assign '{name}' a value in the enclosing function before the call")


def _return_rebound(em: FunctionEmitter, ret: Type) -> Type:
    """After exit lowering: return `(result, *rebound)` when the body rebinds captured variables.

    Every `return` has set `$done`, which guards all later code, so a
    variable's value at the end is its value where the function returned.

    ```
    %r : int = prim::Load[name="$ret"]()          %r : int = prim::Load[name="$ret"]()
    return (%r)                             ->    %n : int = prim::Load[name="n"]()
                                                  %t : (int, int) = prim::TupleConstruct(%r, %n)
                                                  return (%t)
    ```
    """
    names = list(em.rebound)
    if not names:
        return ret
    from ...ir.builder import Builder
    from ...ir.types import TupleType
    from .environment import LOAD

    graph = em.graph
    assert em.rebindable is not None
    end = Builder(graph.block, loc=em.loc(em.src.tree))
    values = [graph.outputs[0]]
    for name in names:
        assert name in em._loaded  # its stores are in place (`FunctionEmitter._rebind`)
        values.append(end.op(LOAD, [], [em.rebindable[name]], {"name": name}).output)
    t = TupleType([v.type for v in values])
    graph.block.return_node.replace_input(0, end.op("prim::TupleConstruct", values, [t]).output)
    return t


@dataclasses.dataclass
class _Capture:
    name: str  # the parameter's name in the compiled body
    value: SugaredValue  # read in the caller
    where: Optional[str]  # the caller's variable it was read from (None: a global); stored back if the body rebinds it


@dataclasses.dataclass
class _Plan:
    values: List[_Capture]
    static: List[Tuple[str, SugaredValue]]  # (name in the body, what it holds): not values, bound as they are


def _captures(em: FunctionEmitter, node: ast.AST, fn: NestedFunctionValue) -> _Plan:
    """What a call of `fn` passes for its free variables, read in the caller `em`.

    A free variable holding another nested function brings that function's
    own captures, named `name$free` so the body's variables cannot shadow them
    (Note [Nested functions]); the function is bound as reading them. Free
    variables read from the same variable of the caller are passed once, so
    a rebinding (`nonlocal`) through one is seen through the others.
    """
    plan = _Plan([], [])
    by_where: Dict[str, str] = {}

    def bind(f: NestedFunctionValue, active: Tuple[int, ...], prefix: str) -> Dict[str, str]:
        names: Dict[str, str] = {}  # f's free name -> the name the body reads it under
        functions: List[Tuple[str, NestedFunctionValue]] = []
        for free in f.frees:  # values first: the outermost body reads its own by their names
            sv, where = f._read_capture(em, node, free)
            if isinstance(sv, NestedFunctionValue):
                functions.append((free, sv))
                continue
            if not sv.is_value():
                names[free] = prefix + free
                plan.static.append((prefix + free, sv))
                continue
            if where is not None and where in by_where:
                names[free] = by_where[where]
                continue
            names[free] = prefix + free
            plan.values.append(_Capture(prefix + free, sv, where))
            if where is not None:
                by_where[where] = prefix + free
        for free, sv in functions:
            if id(sv.node) in active:
                from ...diagnostics import CompileError

                raise CompileError(
                    f"the nested function `{sv.node.name}` calls itself (directly or through other functions): recursion is not supported in script",
                    em.loc(node),
                    hint="rewrite the recursion as a loop",
                )
            inner = bind(sv, active + (id(sv.node),), f"{prefix}{free}$")
            names[free] = prefix + free
            plan.static.append((prefix + free, sv.reading(inner)))
        return names

    bind(fn, (id(fn.node),), "")
    return plan


def _capture_param(name: str):
    from .functions import Param

    return Param(name.replace("$", "_"), None, kwarg_only=True)


def _literal_defaults(em: FunctionEmitter, node: ast.FunctionDef) -> Tuple[Tuple[Any, ...], Dict[str, Any]]:
    a = node.args

    def value(d: ast.expr) -> Any:
        try:
            return ast.literal_eval(d)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            em.fail(d, f"the default values of the nested function `{node.name}` must be literals (numbers, strings, None, tuples of those)", hint="pass the value as an argument instead")

    positional = tuple(value(d) for d in a.defaults)
    kw = {arg.arg: value(d) for arg, d in zip(a.kwonlyargs, a.kw_defaults) if d is not None}
    return positional, kw


def _free_names(em: FunctionEmitter, node: ast.FunctionDef) -> Tuple[str, ...]:
    """Python's free variables of the nested function `node` (those the enclosing functions bind)."""
    table = _table_for(em, node)
    if table is None:
        return ()
    return tuple(sorted(table.get_frees()))


def _own_locals(home: FunctionEmitter, node: ast.FunctionDef) -> Tuple[str, ...]:
    table = _table_for(home, node)
    return tuple(table.get_locals()) if table is not None else ()


_TABLES: Dict[int, Any] = {}  # id of a source's lines -> (the lines, their symbol table)


def _table_for(em: FunctionEmitter, node: ast.FunctionDef) -> Optional[symtable.Function]:
    """The symbol table of the nested function `node`, from its enclosing source (parsed once)."""
    src = em.src
    top = _TABLES.get(id(src.lines))
    if top is None or top[0] is not src.lines:
        top = (src.lines, symtable.symtable("".join(src.lines), src.filename, "exec"))
        if len(_TABLES) >= 256:
            _TABLES.clear()
        _TABLES[id(src.lines)] = top
    stack = [top[1]]
    while stack:
        t = stack.pop()
        for child in t.get_children():
            if child.get_type() == "function" and child.get_name() == node.name and child.get_lineno() == node.lineno:
                return child  # type: ignore[return-value]
            stack.append(child)
    return None


__all__ = ["emit_function_def", "emit_nonlocal", "NestedFunctionValue"]
