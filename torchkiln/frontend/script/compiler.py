"""One `script()` call's compiler: the compilation unit, caches, the chain of functions being compiled.

```python
c = Compiler()
fn = c.functions.compile(py_fn, [TENSOR, INT], call_site=None)   # a Function in c.unit
c.finish()                                                       # default pass pipeline, deferred to first use
```
"""
from __future__ import annotations

import ast
import contextlib
import threading
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from .. import names
from ...diagnostics import CallFrame, CompileError, SourceRange
from ...ir.core import CompilationUnit, Function, Graph
from ...ir.types import TENSOR, Type
from .annotations import TypeParser
from .emitter import FunctionEmitter
from .functions import Namespace, Param, Signature, compile_body, local_names, make_arguments, read_signature
from .resolve import Resolver
from .source import ParsedSource, parse_function
from .sugared import SimpleValue


class Store:
    """What earlier `script()` calls compiled, reused by later ones (TorchScript keeps such a cache too).

    Note [Compile cache]
    --------------------
    Entries are published only when a `script()` call succeeds: compiled
    functions by (function, signature, argument types), module class types
    by their sharing key (Note [Type sharing]), script classes by class.
    Each entry keeps the unit it was compiled in; a later compile that uses
    it imports that unit (same objects: graphs are never changed after
    compilation, and names are unique in the process (`frontend/names.py`), so units never clash).
    A cached type is closed: if a later compile needs a method it does not
    have, `CacheMiss` makes that compile start again without the cache.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()  # script() may run on several threads (Note [Concurrent script])
        self.functions: Dict[Any, Tuple[Function, CompilationUnit]] = {}
        self.module_types: Dict[Any, List[Tuple[Any, CompilationUnit]]] = {}
        self.classes: Dict[Any, Tuple[Any, CompilationUnit]] = {}

    def clear(self) -> None:
        with self.lock:
            self.functions.clear()
            self.module_types.clear()
            self.classes.clear()


STORE = Store()


class CacheMiss(Exception):
    """A cached type lacks what this compile needs (Note [Compile cache])."""


class Compiler:
    def __init__(self, relaxed_sharing: bool = True, use_store: bool = True) -> None:
        from .classes import ClassRegistry

        self.store: Optional[Store] = STORE if use_store else None
        self.unit = CompilationUnit()
        self.chain: List[CallFrame] = []
        self.resolver = Resolver(self)
        self.functions = FunctionCompiler(self)
        self.classes = ClassRegistry(self, relaxed_sharing)
        self.compiled: List[Function] = []  # everything compiled here, for the pass pipeline
        self.uses_enums = False  # an Enum type appeared: erase it when finishing (Note [Enums])
        self.imported: Dict[int, Any] = {}
        self.error_chain: Optional[List[CallFrame]] = None  # where an internal error happened
        self.nested_functions: Dict[Any, Any] = {}  # nested defs compiled (function, names it rebinds), by node and types (nested.py)
        self.nested_active: set = set()  # ids of the nested defs being compiled (recursion)

    def add_compiled(self, function: "Function") -> "Function":
        """Add a function compiled (or made) by this compile to the unit; `finish` runs its passes."""
        self.unit.add_function(function)
        self.compiled.append(function)
        return function

    def unique_name(self, base: str, mangle_path: bool = False) -> str:
        """A qualified name no other function or class in this process has (Note [Compile cache]).

        The second `a.b.f` is `a.b.f_1`; with `mangle_path` (class types) it is
        `a.b.___torch_mangle_1.f`, as TorchScript names them, so the last part
        stays the class's own name (`ScriptModule.original_name`).
        """
        unit = self.unit
        return names.unique_name(base, mangle_path, lambda name: name in unit.functions or name in unit.classes)

    def import_unit(self, unit: CompilationUnit) -> Dict[str, str]:
        from .imports import import_unit

        return import_unit(self.unit, unit, self.imported)

    def publish(self) -> None:
        """Make what this compile produced available to later ones (after success)."""
        if self.store is None:
            return
        with self.store.lock:
            for key, fn in self.functions.cache.items():
                if key not in self.functions.imported_keys:
                    self.store.functions.setdefault(key, (fn, self.unit))
            self.classes.publish(self.store, self.unit)

    # -- errors carry the chain of functions being compiled --------------------------------------------------
    @contextlib.contextmanager
    def frame(self, name: str, call_site: Optional[SourceRange]) -> Iterator[None]:
        self.chain.append(CallFrame(name, call_site))
        try:
            yield
        except CompileError as e:
            e.with_chain(list(self.chain))
            raise
        except Exception:
            if self.error_chain is None:
                self.error_chain = list(self.chain)
            raise
        finally:
            self.chain.pop()

    # -- types -------------------------------------------------------------------------------------------------
    def type_parser(self, namespace: Namespace, src: ParsedSource) -> TypeParser:
        return TypeParser(namespace.lookup, self.classes.annotation_type, src.loc)

    def parse_annotation(self, em: FunctionEmitter, node: ast.expr) -> Type:
        return self.type_parser(em.namespace, em.src).parse(node)

    def type_of_annotation_object(self, em: FunctionEmitter, node: ast.AST, obj: Any) -> Optional[Type]:
        parser = self.type_parser(em.namespace, em.src)
        try:
            return parser.try_object(obj, em.loc(node))
        except CompileError:
            return None

    # -- foreign programs ------------------------------------------------------------------------------------------
    def import_script_function(self, sf: Any) -> Function:
        """A ScriptFunction's Function, with everything it refers to, added to this unit."""
        from .imports import import_unit

        fn = sf._kiln_fn
        renamed = import_unit(self.unit, sf._kiln_unit, self.imported)
        if fn.name not in renamed:
            self.unit.functions.setdefault(fn.name, fn)
            return self.unit.functions[fn.name]
        return self.unit.functions[renamed[fn.name]]

    # -- the end -----------------------------------------------------------------------------------------------------
    def finish(self) -> None:
        """Defer the default pass pipeline on every graph compiled here to its first read.

        Note [Lazy optimization]: everything that can refuse the program
        (parsing, typing, SSA, exits, verification) has run; the pipeline
        raises no `CompileError`, so it waits until a graph is read (first
        call, `.graph`, `.code`, save, freeze...; Note [Deferred graph work]
        in `ir/core.py`). Readers see what the eager pipeline made: a
        caller's inliner reads its callees first, so callees are optimized
        before being copied, as before. Functions nobody reads (callees
        inlined into already optimized callers, unused overloads) are never
        optimized.
        """
        from ...passes import manager
        from .enums import erase_unit

        if self.uses_enums:
            erase_unit(self.compiled, self.unit.classes.values())  # Note [Enums]: run time sees the values' types
        if manager.config.verify:  # what the pipeline would check first, checked now (tests set it)
            for fn in self.compiled:
                manager.verify_graph(fn.graph)
        job = manager.deferred_pipeline(self.unit)
        for fn in self.compiled:
            fn.defer(job)


class FunctionCompiler:
    """Compiles Python functions into `Function`s of the unit, one per argument-type signature."""

    def __init__(self, compiler: Compiler):
        self.compiler = compiler
        self.cache: Dict[Tuple[Any, Tuple[Type, ...]], Function] = {}
        self.imported_keys: set = set()
        self.signatures: Dict[Any, Tuple[Signature, ParsedSource, Namespace]] = {}
        self.in_progress: Dict[Any, str] = {}

    def _parsed(self, fn: Any, has_cls: bool = False) -> Tuple[Signature, ParsedSource, Namespace]:
        key = (fn, "cls") if has_cls else fn
        entry = self.signatures.get(key)
        if entry is None:
            from .specials import unwrap_context_decorator

            body_fn, mode = unwrap_context_decorator(fn)  # Note [Context decorators]
            src = parse_function(body_fn)
            ns = Namespace(body_fn)
            sig = read_signature(self.compiler, src, ns, body_fn, has_self=has_cls)
            if mode is not None:
                sig.extra.update(mode=mode, body_fn=body_fn)
            entry = self.signatures[key] = (sig, src, ns)
        return entry

    def signature(self, fn: Any, call_site: Optional[SourceRange] = None, has_cls: bool = False) -> Signature:
        """`has_cls`: the function of a classmethod (its first parameter is the class: Note [Class methods])."""
        key = (fn, "cls") if has_cls else fn
        if key in self.signatures:
            return self.signatures[key][0]
        with self.compiler.frame(getattr(fn, "__qualname__", repr(fn)), call_site):
            return self._parsed(fn, has_cls)[0]

    def overloads(self, fn: Any) -> List[Signature]:
        """Signatures of `@torch.jit._overload` declarations of `fn`, in order (empty: none)."""
        import torch._jit_internal as internal

        registered = _known_overloads()
        if not registered or not any(k.endswith("." + getattr(fn, "__name__", "")) for k in registered):
            return []  # `_qualified_name` costs more than this scan of the few names torch registers
        try:
            decls = registered.get(internal._qualified_name(fn)) or []
        except Exception:
            decls = []
        out = []
        for decl in decls:
            src = parse_function(decl)
            sig = read_signature(self.compiler, src, Namespace(decl), decl, has_self=False)
            sig.extra["decl"] = decl
            out.append(sig)
        return out

    def top_level_types(self, fn: Any) -> List[Type]:
        """Parameter types of a function scripted directly: unannotated ones are Tensors."""
        sig = self.signature(fn)
        return [p.type if p.type is not None else TENSOR for p in sig.params]

    def compile(self, fn: Any, arg_types: Sequence[Type], call_site: Optional[SourceRange], sig: Optional[Signature] = None, cls: Optional[type] = None) -> Function:
        """`fn` compiled for these argument types (`sig`: an overload's signature for its body).

        `cls`: `fn` is a classmethod's function called on `cls`; its first parameter is the
        class, a compile-time value, not a parameter of the compiled function (Note [Class methods]).
        """
        if cls is not None:
            key: Tuple[Any, ...] = ("classmethod", fn, cls, tuple(arg_types))
        else:
            key = (fn, tuple(arg_types)) if sig is None else (fn, sig.extra.get("decl"), tuple(arg_types))
        done = self.cache.get(key)
        if done is not None:
            return done
        store = self.compiler.store
        if store is not None and key in store.functions:
            function, unit = store.functions[key]
            renamed = self.compiler.import_unit(unit)
            function = self.compiler.unit.functions[renamed.get(function.name, function.name)]
            self.cache[key] = function
            self.imported_keys.add(key)
            return function
        name = qualified_name(fn)
        if fn in self.in_progress:
            raise CompileError(
                f"`{getattr(fn, '__qualname__', name)}` calls itself (directly or through other functions): recursion is not supported in script",
                call_site,
                hint="rewrite the recursion as a loop",
            )
        self.in_progress[fn] = name
        try:
            with self.compiler.frame(getattr(fn, "__qualname__", name), call_site):
                own_sig, src, ns = self._parsed(fn, has_cls=cls is not None)
                function = self._compile(fn, sig or own_sig, src, ns, list(arg_types), name, cls)
        finally:
            del self.in_progress[fn]
        self.cache[key] = function
        return function

    def _compile(self, fn: Any, sig: Signature, src: ParsedSource, ns: Namespace, types: List[Type], name: str, cls: Optional[type] = None) -> Function:
        params = sig.params if cls is None else sig.params[1:]
        graph = Graph()
        for p, t in zip(params, types):
            graph.add_input(t, p.name)
        em = FunctionEmitter(self.compiler, src, ns, graph, local_names(sig.extra.get("body_fn", fn)), name)
        tree = src.tree
        if cls is not None:  # Note [Class methods]
            first = sig.params[0]
            em.assign(first.name, self.compiler.classes.class_value(em, first.node or tree, cls, cls.__qualname__), first.node or tree)
        for p, v in zip(params, graph.inputs):
            em.assign(p.name, SimpleValue(v), p.node or tree)
        ret = compile_body(em, tree.body, sig.returns, tree, sig.extra.get("mode"))  # type: ignore[union-attr]
        qualname = self.compiler.unique_name(name)
        function = Function(qualname, graph, make_arguments(params, types), ret, src.loc(tree))
        return self.compiler.add_compiled(function)

    def raising_stub(self, fn: Any, params: List[Param], types: List[Type], ret: Type, message: str) -> Function:
        """A function that raises `message` (for `@unused`)."""
        key = ("stub", fn, tuple(types))
        done = self.cache.get(key)  # type: ignore[arg-type]
        if done is not None:
            return done
        from ...ir.builder import Builder

        graph = Graph()
        for p, t in zip(params, types):
            graph.add_input(t, p.name)
        b = Builder(graph.block)
        b.op("prim::RaiseException", [b.constant(message, _str())], [], {"cls": "RuntimeError"})
        graph.add_output(b.op("prim::Uninitialized", [], [ret]).output)
        function = Function(self.compiler.unique_name(qualified_name(fn)), graph, make_arguments(params, types), ret)
        self.compiler.unit.add_function(function)
        self.cache[key] = function  # type: ignore[index]
        return function


def _str() -> Type:
    from ...ir.types import STR

    return STR


def qualified_name(obj: Any) -> str:
    """`__torch__.<module>.<qualname>` as TorchScript names compiled functions and classes."""
    module = getattr(obj, "__module__", None) or "__main__"
    qual = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", "fn")
    qual = qual.replace("<locals>", "___locals").replace("<", "_").replace(">", "_")
    return f"__torch__.{module}.{qual}"



# torch.jit.script deletes a function's `@_overload` declarations from
# `torch._jit_internal._overloaded_fns` once it has compiled them, so a model
# scripted by torch.jit first (F.interpolate in nn.Upsample) would lose them
# here. Every declaration seen is kept.
_SEEN_OVERLOADS: Dict[str, list] = {}


def _known_overloads() -> Dict[str, list]:
    import torch._jit_internal as internal

    for name, decls in internal._overloaded_fns.items():
        if _SEEN_OVERLOADS.get(name) != decls:
            _SEEN_OVERLOADS[name] = list(decls)
    return _SEEN_OVERLOADS


_known_overloads()

__all__ = ["Compiler", "FunctionCompiler", "Store", "STORE", "CacheMiss", "qualified_name"]
