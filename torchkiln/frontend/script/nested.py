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

Refused, with the reason and where: decorators, defaults that are not
literals (Python evaluates them at the `def`), a nested function that calls
itself, using one as a value (returning or storing it), and `nonlocal`
(refused by the statement emitter: script functions cannot rebind an
enclosing function's variables).
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
        function, values = self.as_function(em, node, args, kwargs)
        from .functions_value import _call_node

        return _call_node(em, function, values)

    def as_function(self, em: FunctionEmitter, node: ast.AST, args: Args, kwargs: Kwargs) -> Tuple[Function, List[Value]]:
        """(Function, input values) of a call; also `fork`'s."""
        sig = self._signature(em)
        bound = bind_call(em, node, sig, self.node.name, args, kwargs, skip_self=False)
        values, types_ = argument_values(em, node, self.node.name, bound)
        captured: List[Tuple[str, Value]] = []  # (name in the body, value passed)
        static: List[Tuple[str, SugaredValue]] = []
        for name, sv in _captures(em, node, self, (id(self.node),)):
            if sv.is_value():
                captured.append((name, sv.as_value(em, node)))
            else:
                static.append((name, sv))
        key = (
            id(self.node), id(self.home.src), tuple(types_), tuple((n, v.type) for n, v in captured),
            tuple((n, s.cache_key() if isinstance(s, NestedFunctionValue) else id(s)) for n, s in static),
        )
        cache = em.compiler.nested_functions
        function = cache.get(key)
        if function is None:
            function = self._compile(em, node, sig, types_, captured, static)
            cache[key] = function
        return function, values + [v for _, v in captured]

    def cache_key(self) -> Any:
        return (id(self.node), tuple(sorted(self.captures.items())))

    def renamed(self, prefix: str) -> "NestedFunctionValue":
        """This function as bound in another compiled body, reading its free variables as `prefix$name`."""
        return NestedFunctionValue(self.node, self.home, self.frees, {f: f"{prefix}${f}" for f in self.frees}, self.defaults)

    def _read_capture(self, em: FunctionEmitter, node: ast.AST, free: str) -> SugaredValue:
        where = self.captures[free]
        if em.frame.find(where)[1] is None and where in em.local_names:
            em.fail(node, f"`{self.node.name}` reads '{free}' of the enclosing function, which is not assigned before this call", hint=f"assign '{free}' before calling `{self.node.name}`")
        return em.lookup(where, node)

    def _signature(self, em: FunctionEmitter):
        if self._sig is None:
            src = dataclasses.replace(self.home.src, tree=self.node)
            positional, kw = self.defaults
            fake = types.SimpleNamespace(__defaults__=positional, __kwdefaults__=kw)  # read_signature reads these
            self._sig = read_signature(em.compiler, src, self.home.namespace, fake, has_self=False)
        return self._sig

    def _compile(self, em: FunctionEmitter, call: ast.AST, sig, types_: List[Type], captured: List[Tuple[str, Value]], static: List[Tuple[str, SugaredValue]]) -> Function:
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
                ret = compile_body(inner, self.node.body, sig.returns, self.node)
        finally:
            active.discard(id(self.node))
        qualname = compiler.unique_name(name)
        params = list(sig.params) + [_capture_param(cname) for cname, _ in captured]
        function = Function(qualname, graph, make_arguments(params, types_ + [v.type for _, v in captured]), ret, src.loc(self.node))
        compiler.unit.add_function(function)
        compiler.compiled.append(function)
        return function


def _captures(em: FunctionEmitter, node: ast.AST, fn: NestedFunctionValue, active: Tuple[int, ...], prefix: str = "") -> List[Tuple[str, SugaredValue]]:
    """What a call of `fn` passes for its free variables, read in the caller `em`: (name in the body, value).

    A free variable holding another nested function brings that function's
    own captures, named `name$free` so the body's variables cannot shadow them
    (Note [Nested functions]); the function is bound as reading them.
    """
    out: List[Tuple[str, SugaredValue]] = []
    for free in fn.frees:
        sv = fn._read_capture(em, node, free)
        if not isinstance(sv, NestedFunctionValue):
            out.append((prefix + free, sv))
            continue
        if id(sv.node) in active:
            from ...diagnostics import CompileError

            raise CompileError(
                f"the nested function `{sv.node.name}` calls itself (directly or through other functions): recursion is not supported in script",
                em.loc(node),
                hint="rewrite the recursion as a loop",
            )
        out.extend(_captures(em, node, sv, active + (id(sv.node),), f"{prefix}{free}$"))
        out.append((prefix + free, sv.renamed(prefix + free)))
    return out


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


__all__ = ["emit_function_def", "NestedFunctionValue"]
