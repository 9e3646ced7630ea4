"""Compile a Function's generated Python once; run it as a plain Python function.

```python
fwd = compile_function(fn, unit)     # def forward(self, x): ...
y = fwd(module, x)                   # positional args; self first for methods
print(python_source(fn, unit))       # the readable form, used for `.code`
```

The executed source is a factory whose closure holds every reference
(Note [Constants] in `emit.py`), so the function body reads them as fast
closure variables and does no dict lookups per op:

```
def _kiln_factory(_kiln_refs):
    torch_add = _kiln_refs["torch_add"]
    def forward(self, x):
        try:
            y = torch_add(x, self._parameters["w"])
            return y
        except Exception as _kiln_e:
            _kiln_note(_kiln_e)
            raise
    return forward
```

It is compiled with `compile()` under the file name `<torchkiln:QUALNAME>`
and registered with `linecache`, so tracebacks show the generated lines.
An exception escaping the function keeps its type and traceback and gets a
note (PEP 678) naming the IR node that was running and its place in the
user's source (Note [Runtime error notes]).

Note [Grad mode on exceptions]
------------------------------
A `with torch.no_grad():` body is straight-line code between two
`prim::set_grad_enabled` nodes (`exits.py` runs the restoring one on every
normal way out), so an exception raised in the body would skip the restore.
Script has no `try`, so such an exception always leaves the whole call:
every executor restores, when an exception leaves a function that sets grad
mode, the mode the function was called with (here: `_kiln_grad` and the
`except` clause; `interpreter.py`; `run_code` in the C++ interpreter). This
is Python's result except after a bare `torch.set_grad_enabled(b)` call
outside a `with`, which the exception also undoes. A function entering
autocast blocks likewise leaves those it entered (`_kiln_autocast`: Note
[Autocast in script] in `ops/lang.py`).

Compiled functions are cached per `Function` object: compile after the
passes have run; a graph changed afterwards needs `clear_cache()`.
"""
from __future__ import annotations

import builtins
import itertools
import linecache
import threading
import weakref
from typing import Any, Callable, Dict, List, Optional, Set

import torch

from ..ir.core import CompilationUnit, Function, Node
from ..ops.lang import autocast_depth, autocast_unwind
from .emit import INDENT, Emitted, SourceEmitter

_FACTORY = "_kiln_factory"
_REFS = "_kiln_refs"
_NOTE = "_kiln_note"
_EXC = "_kiln_e"
_GRAD = "_kiln_grad"
_AUTOCAST = "_kiln_autocast"
_AUTOCAST_DEPTH = "_kiln_autocast_depth"
_AUTOCAST_UNWIND = "_kiln_autocast_unwind"
_INTERNAL = (_FACTORY, _REFS, _NOTE, _EXC, _GRAD, _AUTOCAST, _AUTOCAST_DEPTH, _AUTOCAST_UNWIND)

_cache: "weakref.WeakKeyDictionary[Function, Callable]" = weakref.WeakKeyDictionary()
_compiling: Dict[Function, None] = {}
_lock = threading.RLock()
_file_ids = itertools.count(1)


def compile_function(fn: Function, unit: Optional[CompilationUnit] = None) -> Callable:
    """The Python executor for `fn`: a function taking `fn`'s inputs positionally.

    For methods the first argument is the object (a ScriptModule or a
    script-class object). Callees (`prim::CallMethod` on a known class,
    `prim::CallFunction`, `prim::fork`) are compiled along with it.
    """
    compiled = _cache.get(fn)
    if compiled is not None:
        return compiled
    with _lock:
        compiled = _cache.get(fn)
        if compiled is None:
            _compiling[fn] = None
            try:
                compiled = _compile(fn, unit)
            finally:
                del _compiling[fn]
            _cache[fn] = compiled
    return compiled


def python_source(fn: Function, unit: Optional[CompilationUnit] = None) -> str:
    """Readable TorchScript-like source for `fn` (what `.code` shows).

    ```
    def forward(self, x: Tensor) -> Tensor:
        _0 = torch.add(x, self.w)
        return _0
    ```
    """
    emitted = SourceEmitter(fn, unit, pretty=True).emit()
    head = f"def {emitted.name}({', '.join(emitted.params)}) -> {emitted.returns}:"
    return "\n".join([head] + [INDENT * (1 + line.depth) + line.text for line in emitted.lines]) + "\n"


def executable_source(fn: Function, unit: Optional[CompilationUnit] = None) -> str:
    """The source `compile_function` executes (for debugging and tests)."""
    emitted = SourceEmitter(fn, unit, pretty=False, resolve=_Resolver(unit), reserved=_INTERNAL).emit()
    return _assemble(emitted, _sets_grad_mode(fn), _enters_autocast(fn))[0]


def clear_cache() -> None:
    """Forget every compiled function (after changing a compiled graph)."""
    with _lock:
        _cache.clear()


# -- compiling ----------------------------------------------------------------


def _compile(fn: Function, unit: Optional[CompilationUnit]) -> Callable:
    emitted = SourceEmitter(fn, unit, pretty=False, resolve=_Resolver(unit), reserved=_INTERNAL).emit()
    source, line_nodes = _assemble(emitted, _sets_grad_mode(fn), _enters_autocast(fn))
    filename = f"<torchkiln:{fn.name}>"
    if filename in linecache.cache:
        filename = f"<torchkiln:{fn.name}#{next(_file_ids)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    code = compile(source, filename, "exec")
    namespace: Dict[str, Any] = {"torch": torch, "__builtins__": builtins, _AUTOCAST_DEPTH: autocast_depth, _AUTOCAST_UNWIND: autocast_unwind}
    exec(code, namespace)
    refs = dict(emitted.refs)
    refs[_NOTE] = _Notes(filename, fn.name, line_nodes, {h.name for h in emitted.helpers})
    return namespace[_FACTORY](refs)


def _sets_grad_mode(fn: Function) -> bool:
    return any(n.kind == "prim::set_grad_enabled" for n in fn.graph.walk())


def _enters_autocast(fn: Function) -> bool:
    return any(n.kind == "prim::autocast_enter" for n in fn.graph.walk())


def _assemble(em: Emitted, restore_grad: bool = False, leave_autocast: bool = False):
    """The factory source and, for each line number, the node it runs.

    With `restore_grad` (the function changes grad mode: `with torch.no_grad()`),
    an exception leaving the function restores the grad mode it was called with;
    with `leave_autocast` (it has `with torch.autocast(...)`), it leaves the
    autocast blocks it entered (Note [Grad mode on exceptions])."""
    out: List[str] = [f"def {_FACTORY}({_REFS}):"]
    for name in em.refs:
        out.append(f"{INDENT}{name} = {_REFS}[{name!r}]")
    out.append(f"{INDENT}{_NOTE} = {_REFS}[{_NOTE!r}]")
    line_nodes: Dict[int, Node] = {}
    for helper in em.helpers:  # Note [Outlining] in emit.py
        out.append(f"{INDENT}def {helper.name}({', '.join(helper.params)}):")
        for line in helper.lines:
            out.append(INDENT * (2 + line.depth) + line.text)
            if line.node is not None:
                line_nodes[len(out)] = line.node
    out.append(f"{INDENT}def {em.name}({', '.join(em.params)}):")
    if restore_grad:
        out.append(f"{INDENT * 2}{_GRAD} = torch.is_grad_enabled()")
    if leave_autocast:
        out.append(f"{INDENT * 2}{_AUTOCAST} = {_AUTOCAST_DEPTH}()")
    out.append(f"{INDENT * 2}try:")
    for line in em.lines:
        out.append(INDENT * (3 + line.depth) + line.text)
        if line.node is not None:
            line_nodes[len(out)] = line.node
    out.append(f"{INDENT * 2}except Exception as {_EXC}:")
    if restore_grad:
        out.append(f"{INDENT * 3}torch._C._set_grad_enabled({_GRAD})")
    if leave_autocast:
        out.append(f"{INDENT * 3}{_AUTOCAST_UNWIND}({_AUTOCAST})")
    out.append(f"{INDENT * 3}{_NOTE}({_EXC})")
    out.append(f"{INDENT * 3}raise")
    out.append(f"{INDENT}return {em.name}")
    return "\n".join(out) + "\n", line_nodes


class _Resolver:
    """Gives generated code the callables of its callees."""

    def __init__(self, unit: Optional[CompilationUnit]):
        self.unit = unit

    def function(self, fn: Function) -> Callable:
        compiled = _cache.get(fn)
        if compiled is not None:
            return compiled
        if fn in _compiling:  # recursion: look the callee up when called
            return _Deferred(fn)
        return compile_function(fn, self.unit)

    def dynamic_method(self, name: str) -> Callable:
        unit = self.unit

        def call_method(obj: Any, *args: Any) -> Any:
            return compile_function(obj._kiln_type.methods[name], unit)(obj, *args)

        call_method.__name__ = f"call_method_{name}"
        return call_method


class _Deferred:
    """A callee still being compiled (recursion); found in the cache when called."""

    def __init__(self, fn: Function):
        self.fn = fn

    def __call__(self, *args: Any) -> Any:
        return _cache[self.fn](*args)


class _Notes:
    """Adds "while executing <node>" to exceptions escaping generated code.

    Note [Runtime error notes]
    --------------------------
    The generated function catches `Exception`, calls this, and re-raises
    the same object (type, message and traceback unchanged). The traceback
    entry for the generated file gives the line, the line table gives the
    IR node, and the note shows the node, the generated line and the user's
    source line with a caret. A call chain through several generated
    functions collects one note per function, innermost first. Within one
    function the line is the innermost one of its outlined helpers (Note
    [Outlining] in emit.py), which the main function calls directly.
    """

    def __init__(self, filename: str, fn_name: str, line_nodes: Dict[int, Node], helpers: Set[str] = frozenset()):
        self.filename = filename
        self.fn_name = fn_name
        self.line_nodes = line_nodes
        self.helpers = helpers

    def __call__(self, err: BaseException) -> None:
        tb = err.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != self.filename:
            tb = tb.tb_next
        if tb is None:
            return
        while tb.tb_next is not None and self._is_helper(tb.tb_next.tb_frame.f_code):
            tb = tb.tb_next
        node = self.line_nodes.get(tb.tb_lineno)
        if node is None:
            return
        err.add_note(describe(node, self.fn_name, self.filename, tb.tb_lineno))

    def _is_helper(self, code: Any) -> bool:
        return code.co_filename == self.filename and code.co_name in self.helpers


def describe(node: Node, fn_name: str, filename: str, lineno: int) -> str:
    """The note for an error while `node` ran."""
    try:
        from ..ir.printer import print_node

        text = print_node(node)
    except Exception:  # noqa: BLE001 - a note must never fail
        text = node.kind
    parts = [f"while executing {text}", f"  in `{fn_name}` (generated code: {filename}, line {lineno})"]
    if node.loc is not None:
        parts.append(node.loc.render())
    return "\n".join(parts)
