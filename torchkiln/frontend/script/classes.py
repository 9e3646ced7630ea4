"""Objects of class types: modules, script classes and NamedTuples.

`ClassRegistry` answers what attribute access, calls, iteration and
indexing mean on a value whose type is a `ClassType`, and what a Python
class means where a name refers to it:

```
self.weight            prim::GetAttr[name="weight"](%self)          (parameters, buffers, attributes)
self.eps               a constant                                   (__constants__, Final)
self.conv(x)           prim::CallMethod[name="forward"](%conv, %x)  (compiled once per class type)
self.helper(x)         prim::CallMethod[name="helper"](%self, %x)
for layer in self.layers / self.layers[0] / len(self.layers)        ModuleList, Sequential, ModuleDict: unrolled
self.count = n         prim::SetAttr[name="count"](%self, %n)
Point(1, 2)            prim::CreateObject, then __init__            (script classes)
Pair(a, b)             prim::TupleConstruct (NamedTuple)
```
"""
from __future__ import annotations

import ast
import enum
import inspect
import types
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import torch
import torch.nn as nn

from ...diagnostics import CompileError, SourceRange
from ...ir.core import Argument, Function, Graph, Value
from ...ir.types import NONE, STR, TENSOR, ClassType, TupleType, Type
from .annotations import TypeParser
from .emitter import FunctionEmitter, constant_type
from .functions import Namespace, compile_body, local_names, make_arguments, positional_only_keywords, read_signature
from .specials import unwrap_context_decorator
from .interfaces import InterfaceMethod, InterfaceType, declared_methods, is_interface_class, raise_not_implemented, set_active_registry, show_type, signature_mismatch
from .loops import Unrolled
from .modules import ModuleInfo, ModuleTypes
from .enums import EnumClassValue, enum_type, is_enum_class, member_value, typed_attribute, typed_returns, typed_signature
from .source import parse_function
from .sugared import ClassObjectValue, SimpleValue, SugaredValue, TupleSugar


@dataclass
class ScriptClassInfo:
    type: ClassType
    cls: type
    in_progress: Dict[str, bool] = field(default_factory=dict)
    initializing: bool = False
    cached: bool = False


class ClassRegistry:
    def __init__(self, compiler, relaxed: bool = True):
        self.compiler = compiler
        self.modules = ModuleTypes(compiler, relaxed)
        self.script_classes: Dict[type, ScriptClassInfo] = {}
        self.by_type: Dict[ClassType, ScriptClassInfo] = {}
        self.named_tuples: Dict[type, TupleType] = {}
        self.interfaces: Dict[type, InterfaceType] = {}
        self.fork_wrappers: Dict[Any, Function] = {}
        set_active_registry(self)

    # -- Python classes as types ------------------------------------------------------------------------
    def annotation_type(self, cls: Any, loc: SourceRange) -> Optional[Type]:
        if not isinstance(cls, type):
            return None
        if is_interface_class(cls):
            return self.interface_type(cls, loc)
        if issubclass(cls, tuple) and hasattr(cls, "_fields"):
            return self.named_tuple_type(cls, loc)
        if is_enum_class(cls):
            self.compiler.uses_enums = True
            return enum_type(cls, loc)
        if issubclass(cls, nn.Module) or cls.__module__ in ("builtins", "typing") or cls.__module__.startswith("torch"):
            return None
        return self.script_class(cls, loc).type

    def type_of_python_annotation(self, ann: Any) -> Optional[Type]:
        parser = TypeParser(_no_lookup, self.annotation_type, lambda node: SourceRange("<annotation>", 0))
        try:
            return parser.try_object(ann, SourceRange("<annotation>", 0))
        except CompileError:
            return None

    def named_tuple_type(self, cls: type, loc: SourceRange) -> TupleType:
        done = self.named_tuples.get(cls)
        if done is not None:
            return done
        fields = list(cls._fields)  # type: ignore[attr-defined]
        anns: Dict[str, Any] = {}
        for klass in reversed(cls.__mro__):  # a subclass (PackedSequence of PackedSequence_) has no annotations of its own
            anns.update(klass.__dict__.get("__annotations__", {}))
        types_: List[Type] = []
        for f in fields:
            ann = anns.get(f)
            t = self.type_of_python_annotation(ann) if ann is not None else TENSOR
            if t is None:
                raise CompileError(f"the field '{f}' of the NamedTuple {cls.__qualname__} has an unsupported type {ann!r}", loc)
            types_.append(t)
        t = TupleType(types_, _qualified(cls), fields)
        self.named_tuples[cls] = t
        return t

    def class_value(self, em: FunctionEmitter, node: ast.AST, cls: type, name: str) -> SugaredValue:
        if is_interface_class(cls):
            return InterfaceClassValue(cls)
        if issubclass(cls, tuple) and hasattr(cls, "_fields"):
            return NamedTupleConstructor(self.named_tuple_type(cls, em.loc(node)), cls)
        if is_enum_class(cls):
            return EnumClassValue(cls)
        if issubclass(cls, nn.Module):
            return ModuleClassValue(cls)
        if cls.__module__ in ("builtins", "typing", "collections") or cls.__module__.startswith("torch"):
            return ClassObjectValue(cls)
        return ScriptClassConstructor(self.script_class(cls, em.loc(node)))

    # -- script classes --------------------------------------------------------------------------------
    def script_class(self, cls: type, loc: Optional[SourceRange]) -> ScriptClassInfo:
        info = self.script_classes.get(cls)
        if info is not None:
            return info
        store = self.compiler.store
        if store is not None and cls in store.classes:
            info, unit = store.classes[cls]
            self.compiler.import_unit(unit)
            self.script_classes[cls] = info
            self.by_type[info.type] = info
            return info
        if is_interface_class(cls):
            raise CompileError(f"{cls.__qualname__} is an interface: it only declares methods and cannot be scripted or constructed", loc, hint="script the classes that implement it, and annotate parameters or attributes with it")
        t = ClassType(self.compiler.unique_name(_qualified(cls), mangle_path=True), is_module=False)
        info = ScriptClassInfo(t, cls)
        self.script_classes[cls] = info
        self.by_type[t] = info
        self.compiler.unit.add_class(t)
        for klass in reversed(cls.__mro__):  # inherited annotations and __init__ too
            for name, ann in klass.__dict__.get("__annotations__", {}).items():
                at = self.type_of_python_annotation(ann)
                if at is not None:
                    t.add_attribute(name, at)
        init = _static_attr(cls, "__init__", None)
        if isinstance(init, types.FunctionType):
            self._compile_method(t, cls, "__init__", loc, init_info=info)
        return info

    def publish(self, store, unit) -> None:
        self.modules.publish(store, unit)
        for cls, info in self.script_classes.items():
            if not info.cached:
                info.cached = True
                store.classes.setdefault(cls, (info, unit))

    # -- interfaces (Note [Interface types]) ------------------------------------------------------------
    def interface_type(self, cls: type, loc: Optional[SourceRange]) -> InterfaceType:
        done = self.interfaces.get(cls)
        if done is not None:
            return done
        t = InterfaceType(cls, _qualified(cls), issubclass(cls, nn.Module))
        self.interfaces[cls] = t  # before the signatures: they may name the interface itself
        with self.compiler.frame(f"the interface {cls.__qualname__}", loc):
            for name, fn in declared_methods(cls):
                src = parse_function(fn)
                sig = read_signature(self.compiler, src, Namespace(fn), fn, has_self=True)
                types_: List[Type] = [t] + [p.type if p.type is not None else TENSOR for p in sig.params[1:]]
                returns = sig.returns if sig.returns is not None else TENSOR
                t.methods[name] = InterfaceMethod(name, make_arguments(sig.params, types_), returns, src.loc(src.tree))
        if not t.methods:
            raise CompileError(f"the interface {cls.__qualname__} declares no methods", loc, hint="declare its methods with annotated signatures and `pass` bodies")
        return t

    def check_implements(self, t: Type, iface: InterfaceType, loc: Optional[SourceRange], what: Optional[str] = None) -> None:
        """CompileError at `loc` unless values of type `t` can be used as `iface` (compiles the methods it names)."""
        if iface.known(t):
            return
        shown = what or (f"the module {show_type(t)}" if isinstance(t, ClassType) and t.is_module else f"{'an object of ' if isinstance(t, ClassType) else 'a value of type '}{show_type(t)}")
        if isinstance(t, InterfaceType):
            raise_not_implemented(shown, iface, iface.mismatch(t) or "", loc)
        if not isinstance(t, ClassType):
            raise_not_implemented(shown, iface, "only modules and script-class objects implement interfaces", loc, hint=f"pass an object whose class has the methods of {iface.display}")
        if iface.is_module and not t.is_module:
            raise_not_implemented(shown, iface, f"{iface.display} is a module interface and {show_type(t)} is not a module", loc, hint="use a class interface (one that does not derive from nn.Module) for script classes")
        info = self._module(t)
        cls = info.cls if info is not None else (self.by_type[t].cls if t in self.by_type else None)
        for name, want in iface.methods.items():
            function = t.methods.get(name)
            if function is None:
                fn = _method_of(cls, name) if cls is not None and not (info is not None and info.foreign) else None
                if fn is None or isinstance(fn, (property, staticmethod)):
                    raise_not_implemented(shown, iface, f"it has no method '{name}' (declared at {want.loc})", loc)
                with self.compiler.frame(f"{show_type(t)} as {iface.display}", loc):
                    function = self._compile_method(t, cls, name, loc, fn=fn)  # type: ignore[arg-type]
            why = signature_mismatch(function, want)
            if why is not None:
                where = f" ({function.loc})" if getattr(function, "loc", None) is not None else ""
                raise_not_implemented(shown, iface, why + where, loc)
        iface.verified.add(t)

    def fork_wrapper(self, receiver: Type, name: str, args: List[Any], returns: Type, loc: Optional[SourceRange]) -> Function:
        """A free function calling method `name` of its first argument, for `fork(obj.method, ...)`.

        `prim::fork` runs a free function (docs/CONTRACTS.md); forking a
        method forks this wrapper with the object as its first argument:

        ```
        %fut : Future(Tensor) = prim::fork[name="__torch__.m.Net_fork_helper"](%self, %x)
        def __torch__.m.Net_fork_helper(%self : __torch__.m.Net, %x : Tensor):
          %y : Tensor = prim::CallMethod[name="helper"](%self, %x)
          return (%y)
        ```
        """
        from ...ir.builder import Builder

        key = (receiver, name, tuple(a.type for a in args[1:]), returns)
        done = self.fork_wrappers.get(key)
        if done is not None:
            return done
        base = receiver.name if isinstance(receiver, ClassType) else _qualified(receiver.cls)  # type: ignore[attr-defined]
        graph = Graph()
        inputs = [graph.add_input(receiver if i == 0 else a.type, a.name) for i, a in enumerate(args)]
        b = Builder(graph.block, loc=loc)
        graph.add_output(b.op("prim::CallMethod", inputs, [returns], {"name": name}).output)
        arguments = [Argument(args[0].name, receiver)] + list(args[1:])
        function = Function(self.compiler.unique_name(f"{base}_fork_{name.strip('_')}"), graph, arguments, returns, loc)
        self.compiler.add_compiled(function)
        self.fork_wrappers[key] = function
        return function

    # -- values of class types -----------------------------------------------------------------------------
    def _module(self, t: Type) -> Optional[ModuleInfo]:
        return self.modules.by_type.get(t) if isinstance(t, ClassType) else None

    def python_class(self, t: Type) -> Optional[type]:
        """The Python class of a module or script-class type (None for other types)."""
        info = self._module(t)
        if info is not None:
            return info.cls
        found = self.by_type.get(t) if isinstance(t, ClassType) else None
        return found.cls if found is not None else None

    def attr(self, em: FunctionEmitter, node: ast.AST, obj: Value, name: str) -> SugaredValue:
        t = obj.type
        assert isinstance(t, ClassType)
        if name in t.constants:
            info = self._module(t)
            return constant_value(em, node, info.read_constant(name) if info is not None else t.constants[name])
        if name in t.attributes:
            value = em.op("prim::GetAttr", [obj], [typed_attribute(em, t, name)], {"name": name}).output
            info = self._module(t)
            iface = info.interfaces.get(name) if info is not None else None
            return InterfaceView(value, iface) if iface is not None else SimpleValue(value)
        info = self._module(t)
        if info is not None and name in info.functions:
            return self.compiler.resolver.to_sugared(em, node, info.functions[name], name)
        py_cls = info.cls if info is not None else self.by_type[t].cls if t in self.by_type else None
        if name in t.methods or (py_cls is not None and _method_of(py_cls, name) is not None):
            prop = _static_attr(py_cls, name, None) if py_cls is not None else None
            if isinstance(prop, property):
                return MethodValue(self, obj, f"__{name}_getter", prop.fget).call(em, node, [], {})
            if isinstance(prop, staticmethod):
                from .functions_value import function_value

                return function_value(em, node, prop.__func__, name)
            return MethodValue(self, obj, name, _method_of(py_cls, name) if py_cls is not None else None)
        found = _static_attr(py_cls, name, None) if py_cls is not None else None
        if isinstance(found, classmethod):
            from .functions_value import ClassMethodValue

            return ClassMethodValue(found.__func__, py_cls, f"{py_cls.__qualname__}.{name}")  # type: ignore[union-attr]
        if info is not None and name in info.failed:
            em.fail(node, f"the module attribute '{name}' cannot be used in script: {info.failed[name]}", hint="annotate it on the class (e.g. `name: List[int]`), make it a constant, or keep it out of the scripted code")
        if py_cls is not None and info is not None:
            value = _static_attr(py_cls, name, _MISSING)
            if value is not _MISSING and _is_constant(value):
                return constant_value(em, node, value)
        kind = "module" if t.is_module else "object"
        em.fail(node, f"the {kind} {_short(t)} has no attribute '{name}'", hint=_attr_hint(t))

    def setattr(self, em: FunctionEmitter, node: ast.AST, obj: Value, name: str, value: Value) -> None:
        t = obj.type
        assert isinstance(t, ClassType)
        info = self.by_type.get(t)
        if name not in t.attributes:
            if info is not None and info.initializing:
                t.add_attribute(name, value.type)
            else:
                em.fail(node, f"cannot add the attribute '{name}' to {_short(t)} in script", hint="define the attribute in __init__ (for modules: before scripting)")
        kind = t.attr_kinds.get(name)
        if kind in ("parameter", "module"):
            em.fail(node, f"cannot assign to the {kind} '{name}' in script")
        declared = typed_attribute(em, t, name)
        value = em.coerce(value, declared, node, f"the attribute '{name}' has type {declared}, not {value.type}")
        em.op("prim::SetAttr", [obj, value], [], {"name": name})

    def call(self, em: FunctionEmitter, node: ast.Call, obj: Value, args, kwargs) -> SugaredValue:
        t = obj.type
        assert isinstance(t, ClassType)
        info = self._module(t)
        if info is not None and info.container is not None and _method_of(info.cls, "forward") is None:
            em.fail(node, f"{_short(t)} is a module container and cannot be called", hint="iterate over it and call each module")
        name = "forward" if t.is_module else "__call__"
        return MethodValue(self, obj, name, None).call(em, node, args, kwargs)

    def iterate(self, em: FunctionEmitter, node: ast.AST, obj: Value):
        info = self._module(obj.type)
        if info is None or info.container is None:
            em.fail(node, f"cannot iterate over {_short(obj.type)}")
        if info.container in ("dict", "pdict"):
            return Unrolled([SimpleValue(em.const(k)) for k in info.order])
        return Unrolled([self.attr(em, node, obj, k) for k in info.order if k in obj.type.attributes and obj.type.attributes[k] != NONE])

    def getitem(self, em: FunctionEmitter, node: ast.AST, obj: Value, index: SugaredValue) -> SugaredValue:
        info = self._module(obj.type)
        if info is None or info.container is None:
            r = self.dunder(em, node, obj, "__getitem__", [index])
            if r is not None:
                return r
            em.fail(node, f"{_short(obj.type)} cannot be indexed")
        key = index.static_value()
        if info.container in ("dict", "pdict"):
            if not isinstance(key, str) or key not in info.order:
                em.fail(node, "a ModuleDict must be indexed with a constant key it has")
            return self.attr(em, node, obj, key)
        from .subscripts import SliceValue

        names = info.order
        if isinstance(index, SliceValue):
            bounds = [p.static_value() if p is not None else None for p in (index.start, index.stop, index.step)]
            return TupleSugar([self.attr(em, node, obj, k) for k in names[slice(*bounds)]])
        if isinstance(key, bool) or not isinstance(key, int):
            em.fail(node, "a module container must be indexed with a constant int", hint="iterate with `for m in self.layers` (or enumerate/zip over module containers)")
        if not -len(names) <= key < len(names):
            em.fail(node, f"index {key} is out of range for a module container of {len(names)}")
        return self.attr(em, node, obj, names[key])

    def dunder(self, em: FunctionEmitter, node: ast.AST, obj: Value, name: str, args) -> Optional[SugaredValue]:
        """Call the script-class method `name` (a magic method) on obj; None when its class has none."""
        t = obj.type
        if not isinstance(t, ClassType) or t.is_module:
            return None
        info = self._module(t)
        py_cls = info.cls if info is not None else self.by_type[t].cls if t in self.by_type else None
        if name not in t.methods and (py_cls is None or _method_of(py_cls, name) is None):
            return None
        return self.attr(em, node, obj, name).call(em, node, [a if isinstance(a, SugaredValue) else SimpleValue(a) for a in args], {})

    def static_contains(self, t: Type, key: Any) -> Optional[bool]:
        """`key in self.d` for a ModuleDict / ParameterDict and a constant key, else None."""
        info = self._module(t)
        if info is None or info.container not in ("dict", "pdict") or not isinstance(key, str):
            return None
        return key in info.order

    def static_len(self, t: Type) -> Optional[int]:
        info = self._module(t)
        if info is not None and info.container is not None:
            return len(info.order)
        return None

    def container_method(self, em: FunctionEmitter, node: ast.AST, obj: Value, name: str) -> Optional[SugaredValue]:
        info = self._module(obj.type)
        if info is not None and name in _MODULE_LISTINGS:
            return _Returns(self._listing(em, node, obj, name))
        if info is None or info.container not in ("dict", "pdict") or name not in ("items", "keys", "values"):
            return None
        keys = [SimpleValue(em.const(k)) for k in info.order]
        mods = [self.attr(em, node, obj, k) for k in info.order]
        items = {"keys": keys, "values": mods, "items": [TupleSugar([k, m]) for k, m in zip(keys, mods)]}[name]
        return _Returns(TupleSugar(items))

    def _listing(self, em: FunctionEmitter, node: ast.AST, obj: Value, name: str) -> SugaredValue:
        """`self.modules()`, `children()`, `named_modules()`, `named_children()`: unrolled at compile time."""
        recursive = name in ("modules", "named_modules")
        named = name.startswith("named_")
        out: List[SugaredValue] = []

        def visit(value: Value, prefix: str, include_self: bool) -> None:
            if include_self:
                out.append(TupleSugar([SimpleValue(em.const(prefix)), SimpleValue(value)]) if named else SimpleValue(value))
            t = value.type
            for sub, kind in t.attr_kinds.items():
                if kind != "module" or t.attributes[sub] == NONE:
                    continue
                child = em.op("prim::GetAttr", [value], [t.attributes[sub]], {"name": sub}).output
                path = f"{prefix}.{sub}" if prefix else sub
                if recursive:
                    visit(child, path, True)
                else:
                    out.append(TupleSugar([SimpleValue(em.const(path)), SimpleValue(child)]) if named else SimpleValue(child))

        visit(obj, "", recursive)
        return TupleSugar(out)

    def has_attr(self, t: Type, name: str) -> bool:
        if not isinstance(t, ClassType):
            return False
        if name in t.attributes or name in t.constants or name in t.methods:
            return True
        info = self._module(t)
        cls = info.cls if info is not None else (self.by_type[t].cls if t in self.by_type else None)
        return cls is not None and _method_of(cls, name) is not None

    # -- methods ----------------------------------------------------------------------------------------
    def method(self, em: FunctionEmitter, node: ast.AST, t: ClassType, name: str, fn: Any) -> Function:
        done = t.methods.get(name)
        if done is not None:
            return done  # type: ignore[return-value]
        info = self._module(t)
        if info is not None and info.foreign:
            em.fail(node, f"the compiled module {_short(t)} has no method '{name}'")
        cls = info.cls if info is not None else self.by_type[t].cls
        if fn is None:
            fn = _method_of(cls, name)
            if fn is None:
                what = "forward" if name == "forward" else f"method '{name}'"
                em.fail(node, f"{_short(t)} has no {what}", hint="define it on the class")
        return self._compile_method(t, cls, name, em.loc(node), fn=fn)

    def method_overload(self, em: FunctionEmitter, node: ast.AST, t: ClassType, name: str, fn: Any, args, kwargs):
        """For a method with several `@_overload_method` declarations (nn.LSTM.forward takes a Tensor
        or a PackedSequence): (the name of the method compiled for the first declaration the
        arguments fit, that method), or None when `fn` is not overloaded so.

        The first declaration keeps the method's name (the entry point Python calls); the
        declaration i > 0 is compiled as `name__i`, with its own types.
        """
        info = self._module(t)
        cls = info.cls if info is not None else (self.by_type[t].cls if t in self.by_type else None)
        if cls is None or info is not None and info.foreign:
            return None
        if fn is None:
            fn = _method_of(cls, name)
        if not isinstance(fn, types.FunctionType):
            return None
        decls = _method_overload_signatures(self.compiler, fn, cls)
        if len(decls) < 2:
            return None
        arg_types = [a.as_value(em, node).type if a.is_value() else None for a in args]
        kw_types = {k: (v.as_value(em, node).type if v.is_value() else None) for k, v in kwargs.items()}
        chosen = 0
        for i, sig in enumerate(decls):
            if _fits(sig, arg_types, kw_types):
                chosen = i
                break
        mangled = name if chosen == 0 else f"{name}__{chosen}"
        done = t.methods.get(mangled)
        if done is None:
            done = self._compile_method(t, cls, mangled, em.loc(node), fn=fn, sig=decls[chosen])
        return mangled, done

    def _compile_method(self, t: ClassType, cls: type, name: str, call_site: Optional[SourceRange], fn: Any = None, init_info: Optional[ScriptClassInfo] = None, sig: Any = None) -> Function:
        if fn is None:
            fn = cls.__dict__.get(name) or getattr(cls, name)
        owner = self.modules.by_type[t] if t in self.modules.by_type else self.by_type[t]
        if owner.cached:
            from .compiler import CacheMiss

            raise CacheMiss(f"{t.name}.{name}")
        progress = owner.in_progress
        if name in progress:
            raise CompileError(f"the method `{cls.__qualname__}.{name}` calls itself: recursion is not supported in script", call_site, hint="rewrite the recursion as a loop")
        progress[name] = True
        if init_info is not None:
            init_info.initializing = True
        compiler = self.compiler
        try:
            with compiler.frame(f"{cls.__qualname__}.{name}", call_site):
                modifiers = torch._jit_internal.FunctionModifiers
                if torch._jit_internal.get_torchscript_modifier(fn) is modifiers.UNUSED:
                    return self._unused_method(t, cls, name, fn)
                body_fn, mode = unwrap_context_decorator(fn)  # Note [Context decorators]
                src = parse_function(body_fn)
                ns = Namespace(body_fn)
                if sig is None:
                    sig = _method_overload_signature(compiler, fn, cls) or read_signature(compiler, src, ns, body_fn, has_self=True)
                types_: List[Type] = [t] + [p.type if p.type is not None else TENSOR for p in sig.params[1:]]
                graph = Graph()
                for p, pt in zip(sig.params, types_):
                    graph.add_input(pt, p.name)
                em = FunctionEmitter(compiler, src, ns, graph, local_names(body_fn), name)
                em.method_of = (t, cls, body_fn)
                for p, v in zip(sig.params, graph.inputs):
                    em.assign(p.name, SimpleValue(v), p.node or src.tree)
                declared = sig.returns
                if name == "__init__":
                    declared = NONE
                ret = compile_body(em, src.tree.body, declared, src.tree, mode)  # type: ignore[union-attr]
                function = Function(name, graph, make_arguments(sig.params, types_), ret, src.loc(src.tree))
        finally:
            del progress[name]
            if init_info is not None:
                init_info.initializing = False
        t.methods[name] = function
        compiler.compiled.append(function)
        return function

    def _unused_method(self, t: ClassType, cls: type, name: str, fn: Any) -> Function:
        from ...ir.builder import Builder

        src = parse_function(fn)
        sig = read_signature(self.compiler, src, Namespace(fn), fn, has_self=True)
        types_: List[Type] = [t] + [p.type if p.type is not None else TENSOR for p in sig.params[1:]]
        graph = Graph()
        for p, pt in zip(sig.params, types_):
            graph.add_input(pt, p.name)
        ret = sig.returns if sig.returns is not None else TENSOR
        b = Builder(graph.block)
        b.op("prim::RaiseException", [b.constant(f"`{cls.__qualname__}.{name}` was marked @unused and cannot be called", STR)], [], {"cls": "RuntimeError"})
        graph.add_output(b.op("prim::Uninitialized", [], [ret]).output)
        function = Function(name, graph, make_arguments(sig.params, types_), ret)
        t.methods[name] = function
        return function


def _method_overload_signature(compiler, fn: Any, cls: type):
    """The first `@torch.jit._overload_method` declaration's signature (None: not overloaded).

    TorchScript compiles an overloaded method's body with the declared
    types; the first declaration script can type is used.
    """
    decls = _method_overload_signatures(compiler, fn, cls)
    return decls[0] if decls else None


def _method_overload_signatures(compiler, fn: Any, cls: type) -> list:
    """The signatures of the `@torch.jit._overload_method` declarations of `fn` script can type, in order."""
    registered = torch._jit_internal._overloaded_methods  # qualified method name -> declarations
    suffix = "." + getattr(fn, "__name__", "")
    if not any(k.endswith(suffix) for k in registered):
        return []  # torch's lookup (a qualified name per call) costs more than this scan of a few names
    try:
        decls = torch._jit_internal._get_overloaded_methods(fn, cls) or []
    except Exception:
        return []
    out = []
    for decl in decls:
        try:
            out.append(read_signature(compiler, parse_function(decl), Namespace(decl), decl, has_self=True))
        except CompileError:
            continue
    return out


def _fits(sig, arg_types: List[Optional[Type]], kw_types: Dict[str, Optional[Type]]) -> bool:
    """Whether arguments of these types (None: not a plain value) bind to the parameters of `sig` after self."""
    params = sig.params[1:]
    positional = [p for p in params if not p.kwarg_only]
    if len(arg_types) > len(positional):
        return False
    given = dict(zip((p.name for p in positional), arg_types))
    for k, t in kw_types.items():
        if k in given or all(p.name != k or p.positional_only for p in params):
            return False
        given[k] = t
    for p in params:
        if p.name not in given:
            if not p.has_default:
                return False
            continue
        t = given[p.name]
        want = p.type if p.type is not None else TENSOR
        if t is None or not t.is_subtype_of(want):
            return False
    return True


class MethodValue(SugaredValue):
    """`obj.<method>`: a method of a module or script class object."""

    def __init__(self, registry: ClassRegistry, obj: Value, name: str, fn: Any):
        self.registry = registry
        self.obj = obj
        self.name = name
        self.fn = fn

    def describe(self) -> str:
        return f"the method {self.name} of {_short(self.obj.type)}"

    def call(self, em, node, args, kwargs):
        special = self.registry.container_method(em, node, self.obj, self.name)
        if special is not None:
            return special.value
        fn = self.fn
        if fn is not None and torch._jit_internal.get_torchscript_modifier(fn) in (torch._jit_internal.FunctionModifiers.IGNORE, getattr(torch._jit_internal.FunctionModifiers, "_DROP", None)):
            from .functions_value import IgnoredFunctionValue

            return IgnoredFunctionValue(fn, self.name).call(em, node, [SimpleValue(self.obj)] + list(args), kwargs)
        name = self.name
        overload = self.registry.method_overload(em, node, self.obj.type, name, fn, args, kwargs)
        if overload is not None:
            name, function = overload
        else:
            function = self.registry.method(em, node, self.obj.type, name, fn)  # type: ignore[arg-type]
        values = _bind_arguments(em, node, function, args, kwargs)
        return SimpleValue(em.op("prim::CallMethod", [self.obj] + values, [typed_returns(em, function)], {"name": name}).output)

    def as_function(self, em, node, args, kwargs):
        """(the fork wrapper, input values) for `fork(obj.method, ...)`."""
        fn = self.fn
        if fn is not None and torch._jit_internal.get_torchscript_modifier(fn) in (torch._jit_internal.FunctionModifiers.IGNORE, getattr(torch._jit_internal.FunctionModifiers, "_DROP", None)):
            em.fail(node, f"fork() of the @ignore method {self.name} is not supported: it runs in Python", hint="fork a method that is compiled")
        if self.registry.container_method(em, node, self.obj, self.name) is not None:
            em.fail(node, f"fork() of {self.describe()} is not supported")
        function = self.registry.method(em, node, self.obj.type, self.name, fn)  # type: ignore[arg-type]
        values = _bind_arguments(em, node, function, args, kwargs)
        wrapper = self.registry.fork_wrapper(self.obj.type, self.name, function.args, typed_returns(em, function), em.loc(node))
        return wrapper, [self.obj] + values


class InterfaceView(SugaredValue):
    """A value used through an interface (Note [Interface types]): only the interface's methods, typed by it.

    `value` has the concrete class type (a module attribute annotated with
    the interface: resolved statically) or an `InterfaceType` (resolved at
    run time); either way a call is `prim::CallMethod[name=m](value, ...)`.
    """

    def __init__(self, value: Value, iface: InterfaceType):
        self.value = value
        self.iface = iface

    def describe(self) -> str:
        return f"a {self.iface.display} (an interface)"

    def is_value(self) -> bool:
        return True

    def as_value(self, em, node) -> Value:
        return self.value

    def attr(self, em, node, name):
        method = self.iface.methods.get(name)
        if method is None:
            em.fail(node, f"the interface {self.iface.display} has no method '{name}'", hint=f"only the methods it declares can be used: {', '.join(sorted(self.iface.methods))}")
        return InterfaceMethodValue(self, method)

    def call(self, em, node, args, kwargs):
        return self.attr(em, node, "forward" if self.iface.is_module else "__call__").call(em, node, args, kwargs)

    def as_function(self, em, node, args, kwargs):
        return self.attr(em, node, "forward" if self.iface.is_module else "__call__").as_function(em, node, args, kwargs)


class InterfaceMethodValue(SugaredValue):
    """`obj.m` where obj is used through an interface: arguments bound and typed by the interface's `m`."""

    def __init__(self, view: InterfaceView, method: InterfaceMethod):
        self.view = view
        self.method = method

    def describe(self) -> str:
        return f"the method {self.method.name} of the interface {self.view.iface.display}"

    def call(self, em, node, args, kwargs):
        values = _bind_arguments(em, node, self.method, args, kwargs)  # type: ignore[arg-type]
        return SimpleValue(em.op("prim::CallMethod", [self.view.value] + values, [self.method.returns], {"name": self.method.name}).output)

    def as_function(self, em, node, args, kwargs):
        values = _bind_arguments(em, node, self.method, args, kwargs)  # type: ignore[arg-type]
        receiver = self.view.value.type
        wrapper = em.compiler.classes.fork_wrapper(receiver, self.method.name, self.method.args, self.method.returns, em.loc(node))
        return wrapper, [self.view.value] + values


class InterfaceClassValue(SugaredValue):
    """An interface class named in code: a type only."""

    def __init__(self, cls: type):
        self.cls = cls

    def describe(self) -> str:
        return f"the interface {self.cls.__qualname__}"

    def call(self, em, node, args, kwargs):
        em.fail(node, f"{self.cls.__qualname__} is an interface and cannot be constructed", hint="construct a class that implements it")

    def static_value(self):
        return self.cls


class _Returns:
    def __init__(self, value: SugaredValue):
        self.value = value


def _bind_arguments(em: FunctionEmitter, node: ast.AST, function: Function, args, kwargs) -> List[Value]:
    """Values for a method's parameters after `self` (defaults as constants), typed as the frontend typed them."""
    params = function.args[1:]
    types_ = list(typed_signature(em, function)[0])[1:] if isinstance(function, Function) else [a.type for a in params]
    positional = [a for a in params if not a.kwarg_only]
    name = function.name.rsplit(".", 1)[-1]
    named_positional_only = positional_only_keywords(params, kwargs)
    if named_positional_only:
        em.fail(node, f"{name}() got some positional-only arguments passed as keyword arguments: '{named_positional_only}'")
    if len(args) > len(positional):
        em.fail(node, f"{name}() takes {len(positional)} argument{'s' if len(positional) != 1 else ''} but {len(args)} were given")
    given = {a.name: v for a, v in zip(positional, args)}
    for k, v in kwargs.items():
        if k in given or all(a.name != k for a in params):
            em.fail(node, f"{name}() got an unexpected or repeated keyword argument '{k}'")
        given[k] = v
    values = []
    for a, t in zip(params, types_):
        if a.name in given:
            v = given[a.name].as_value(em, node)
            v = em.coerce_argument(v, t, node, f"{name}() expects {t} for argument '{a.name}' but got {v.type}")
        elif a.has_default:
            v = _default(em, node, a)
        else:
            em.fail(node, f"{name}() missing required argument '{a.name}'")
        values.append(v)
    return values


def _default(em: FunctionEmitter, node: ast.AST, a) -> Value:
    from .functions import Param, default_value

    return default_value(em, node, Param(a.name, a.type, a.default))


class NamedTupleConstructor(SugaredValue):
    def __init__(self, t: TupleType, cls: type):
        self.t = t
        self.cls = cls

    def describe(self) -> str:
        return f"the NamedTuple {self.cls.__qualname__}"

    def call(self, em, node, args, kwargs):
        fields = list(self.t.fields or ())
        defaults = getattr(self.cls, "_field_defaults", {})
        if len(args) > len(fields):
            em.fail(node, f"{self.cls.__qualname__}() takes {len(fields)} arguments but {len(args)} were given")
        given = dict(zip(fields, args))
        for k, v in kwargs.items():
            if k not in fields or k in given:
                em.fail(node, f"{self.cls.__qualname__}() got an unexpected or repeated argument '{k}'")
            given[k] = v
        values = []
        for f, ft in zip(fields, self.t.elems):
            if f in given:
                v = given[f].as_value(em, node)
            elif f in defaults and constant_type(defaults[f]) is not None:
                v = em.const(defaults[f])
            else:
                em.fail(node, f"{self.cls.__qualname__}() missing the field '{f}'")
            values.append(em.coerce(v, ft, node, f"the field '{f}' has type {ft}, not {v.type}"))
        return SimpleValue(em.op("prim::TupleConstruct", values, [self.t]).output)


class ScriptClassConstructor(SugaredValue):
    def __init__(self, info: ScriptClassInfo):
        self.info = info

    def describe(self) -> str:
        return f"the class {self.info.cls.__qualname__}"

    def call(self, em, node, args, kwargs):
        t = self.info.type
        obj = em.op("prim::CreateObject", [], [t]).output
        init = t.methods.get("__init__")
        if init is not None:
            values = _bind_arguments(em, node, init, args, kwargs)  # type: ignore[arg-type]
            em.op("prim::CallMethod", [obj] + values, [NONE], {"name": "__init__"})
        elif args or kwargs:
            em.fail(node, f"{self.info.cls.__qualname__}() takes no arguments")
        return SimpleValue(obj)

    def attr(self, em, node, name):
        return class_level_attr(em, node, self.info.cls, name, self.describe())


class ModuleClassValue(SugaredValue):
    def __init__(self, cls: type):
        self.cls = cls

    def describe(self) -> str:
        return f"the module class {self.cls.__qualname__}"

    def call(self, em, node, args, kwargs):
        em.fail(node, f"modules ({self.cls.__qualname__}) cannot be created inside scripted code", hint="create it in __init__ and call it through self")

    def attr(self, em, node, name):
        return class_level_attr(em, node, self.cls, name, self.describe())

    def static_value(self):
        return self.cls


def class_level_attr(em: FunctionEmitter, node: ast.AST, cls: type, name: str, what: str) -> SugaredValue:
    """`Class.name` in script: a static method (compiled as a function) or a constant class attribute."""
    value = _static_attr(cls, name, _MISSING)
    if isinstance(value, staticmethod):
        from .functions_value import function_value

        return function_value(em, node, value.__func__, f"{cls.__qualname__}.{name}")
    if isinstance(value, classmethod):
        from .functions_value import ClassMethodValue

        return ClassMethodValue(value.__func__, cls, f"{cls.__qualname__}.{name}")  # Note [Class methods]
    if value is not _MISSING and _is_constant(value):
        return constant_value(em, node, value)
    if isinstance(value, types.FunctionType):
        em.fail(node, f"`{cls.__qualname__}.{name}` is a method: script calls methods on an object, not on its class", hint="call it on an instance, or make it a @staticmethod or @classmethod")
    em.fail(node, f"{what} has no attribute '{name}'", hint="script reads static methods, class methods and constant values (numbers, strings, tuples of those) from a class")


# Note [super()]
# --------------
# `super().m(...)` inside a method of class C (an object of class type T)
# calls the `m` found after the class defining the running method in the
# MRO of C. That function is compiled as one more method of T, named
# `__super_<Base>_m`, with `self` typed T: so a base's code runs on the
# subclass's attributes, as in Python. `super().__init__()` reaching
# `object` does nothing. torch.jit refuses super().


def super_value(em: FunctionEmitter, node: ast.AST, args, kwargs) -> SugaredValue:
    if kwargs or len(args) not in (0, 2):
        em.fail(node, "super() takes no arguments here (or a class and self)")
    if em.method_of is None:
        em.fail(node, "super() is used outside a method", hint="call super() in a method of a module or script class")
    t, cls, fn = em.method_of
    if args:
        start = args[0].static_value()
        if not isinstance(start, type) or not issubclass(cls, start):
            em.fail(node, "super(C, self) needs C to be the class, or a base class, of self")
        obj = args[1].as_value(em, node)
    else:
        start = next((k for k in cls.__mro__ if any(v is fn or getattr(v, "__func__", None) is fn for v in k.__dict__.values())), cls)
        obj = em.lookup(_first_param(em), node).as_value(em, node)
    return SuperValue(em.compiler.classes, obj, cls, start)


def _first_param(em: FunctionEmitter) -> str:
    args = em.src.tree.args  # type: ignore[union-attr]
    params = args.posonlyargs + args.args
    if not params:
        raise CompileError("super() needs the method's self parameter", em.src.loc(em.src.tree))
    return params[0].arg


class SuperValue(SugaredValue):
    def __init__(self, registry: "ClassRegistry", obj: Value, cls: type, start: type):
        self.registry = registry
        self.obj = obj
        self.cls = cls
        self.start = start

    def describe(self) -> str:
        return f"super() of {self.cls.__qualname__}"

    def attr(self, em, node, name):
        mro = self.cls.__mro__
        for klass in mro[mro.index(self.start) + 1 :]:
            if name not in klass.__dict__:
                continue
            value = klass.__dict__[name]
            if klass is object and name == "__init__":
                return _NoOp("object.__init__")
            if klass is nn.Module and name == "__init__":
                return _NoOp("nn.Module.__init__")
            if isinstance(value, staticmethod):
                from .functions_value import function_value

                return function_value(em, node, value.__func__, f"{klass.__qualname__}.{name}")
            if isinstance(value, classmethod):
                from .functions_value import ClassMethodValue

                return ClassMethodValue(value.__func__, self.cls, f"{klass.__qualname__}.{name}")  # `cls` is the object's class
            if isinstance(value, types.FunctionType):
                mangled = f"__super_{klass.__name__}_{name}"
                return MethodValue(self.registry, self.obj, mangled, value)
            if _is_constant(value):
                return constant_value(em, node, value)
            break
        em.fail(node, f"super() of {self.cls.__qualname__} has no method '{name}' that script can call")


class _NoOp(SugaredValue):
    def __init__(self, name: str):
        self.name = name

    def describe(self) -> str:
        return self.name

    def call(self, em, node, args, kwargs):
        return SimpleValue(em.const(None))


def constant_value(em: FunctionEmitter, node: ast.AST, value: Any) -> SugaredValue:
    if getattr(value, "kiln_not_archived", False):  # a config dataclass: Note [Config dataclasses]
        from .configs import ConfigValue

        return ConfigValue(value)
    if isinstance(value, enum.Enum):
        return SimpleValue(member_value(em, node, value))
    if isinstance(value, tuple):
        return TupleSugar([constant_value(em, node, v) for v in value])
    return SimpleValue(em.const(value))


def _is_constant(value: Any) -> bool:
    if isinstance(value, enum.Enum):
        return True
    if isinstance(value, tuple):
        return all(_is_constant(v) for v in value)
    return constant_type(value) is not None and not isinstance(value, type)


def _static_attr(cls: type, name: str, default: Any) -> Any:
    """`inspect.getattr_static(cls, name, default)`: the first class in the MRO holding `name`.

    Read from the classes' `__dict__`s directly (getattr_static also checks
    each metaclass for a shadowing `__dict__`, which no class here has, and
    costs ~10 us a call); not found there, getattr_static looks further
    (the metaclass's attributes).
    """
    for klass in cls.__mro__:
        d = klass.__dict__
        if name in d:
            return d[name]
    return inspect.getattr_static(cls, name, default)


def _method_of(cls: type, name: str) -> Any:
    value = _static_attr(cls, name, None)
    if isinstance(value, (types.FunctionType, staticmethod, property)):
        if isinstance(value, types.FunctionType) and value is getattr(nn.Module, name, None) and name == "forward":
            return None
        return value
    return None


_MISSING = object()
_MODULE_LISTINGS = ("modules", "children", "named_modules", "named_children")


def _no_lookup(name: str) -> Any:
    import builtins
    import typing

    if hasattr(typing, name):
        return getattr(typing, name)
    if hasattr(builtins, name):
        return getattr(builtins, name)
    if name == "Tensor":
        return torch.Tensor
    if name == "torch":
        return torch
    raise KeyError(name)


def _qualified(cls: type) -> str:
    module = cls.__module__ or "__main__"
    return f"__torch__.{module}.{cls.__qualname__}".replace("<locals>", "___locals").replace("<", "_").replace(">", "_")


def _short(t: Any) -> str:
    return str(t).rsplit(".", 1)[-1]


def _attr_hint(t: ClassType) -> str:
    names = sorted(set(t.attributes) | set(t.constants) | set(t.methods))
    return "its attributes are: " + ", ".join(names[:20]) if names else "it has no attributes"


__all__ = ["ClassRegistry", "MethodValue", "InterfaceView", "constant_value", "ScriptClassInfo"]
