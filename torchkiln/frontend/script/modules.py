"""nn.Module instances -> class types, methods and the values of a ScriptModule.

```python
info = modules.module_info(compiler, model)     # ModuleInfo: ClassType + how to read each attribute
modules.compile_entry_points(compiler, info)    # forward and @export methods (and what they call)
values = modules.module_values(info, model)     # name -> value for ScriptModule.create
```

Each module instance gets a `ClassType` describing its attributes, as
TorchScript's concrete types: parameters and buffers (Tensor, or NoneType
when None), submodules (their class types), constants (`__constants__`,
`Final` annotations: values baked into the code), and plain attributes
whose type is inferred from the value (or read from a class annotation).
Modules of the same Python class with the same attribute types and
constants share one type, so their methods compile once (a ResNet's blocks).
Attributes whose values script cannot type are remembered with the reason,
which the error shows if code uses them.
"""
from __future__ import annotations

import ast
import enum

import types
import typing
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import torch
import torch.nn as nn

from .configs import config_constant
from ...diagnostics import CompileError
from ...ir.types import BOOL, NONE, TENSOR, ClassType, DictType, ListType, TupleType, Type, unify
from .emitter import constant_type

_NN_INTERNAL = frozenset(nn.Module().__dict__) - {"training"}
_CONTAINERS = {nn.ModuleList: "list", nn.Sequential: "list", nn.ModuleDict: "dict", nn.ParameterList: "plist", nn.ParameterDict: "pdict"}


@dataclass
class ModuleInfo:
    """What the compiler knows about one module class type."""

    type: ClassType
    cls: type
    submodules: Dict[str, "ModuleInfo"] = field(default_factory=dict)
    scripted: Dict[str, Any] = field(default_factory=dict)  # submodules that are already ScriptModules
    container: Optional[str] = None  # "list" (ModuleList, Sequential) or "dict" (ModuleDict)
    order: List[str] = field(default_factory=list)  # submodule names in order (containers)
    failed: Dict[str, str] = field(default_factory=dict)  # attribute -> why it has no type
    functions: Dict[str, Any] = field(default_factory=dict)  # attributes holding functions (`self.activation = F.relu`)
    in_progress: Dict[str, bool] = field(default_factory=dict)
    foreign: bool = False  # the type of an existing ScriptModule: nothing to compile
    key: Any = None  # the sharing key (Note [Type sharing]); None: never shared
    cached: bool = False  # from an earlier script() call: closed (Note [Compile cache])
    used_constants: set = field(default_factory=set)  # constants the compiled code reads
    instance_constants: List[Dict[str, Any]] = field(default_factory=list)  # of every module sharing the type
    interfaces: Dict[str, Any] = field(default_factory=dict)  # submodule attribute -> InterfaceType it is annotated with

    def read_constant(self, name: str) -> Any:
        """The value of constant `name` for the code of this type; records that the code depends on it."""
        value = self.type.constants[name]
        if name not in self.used_constants:
            if self.cached:
                # A cached type is shared (across threads too) and closed: the modules matched to it
                # agreed only on the constants its code read (Note [Compile cache]).
                from .compiler import CacheMiss

                raise CacheMiss(f"{self.type.name}.{name}")
            self.used_constants.add(name)
            for constants in self.instance_constants:
                if not _same_constant(constants.get(name, _MISSING), value):
                    raise ConstantConflict(self.type.name, name)
        return value


class ConstantConflict(Exception):
    """Modules sharing a type (Note [Type sharing]) turn out to differ in a constant the code reads."""


_MISSING = object()


def _same_constant(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def _modifier(fn: Any):
    return torch._jit_internal.get_torchscript_modifier(fn)


def _constants_of(cls: type) -> set:
    """`__constants__` names and attributes annotated `Final`."""
    names = set(getattr(cls, "__constants__", ()) or ())
    for name, ann in _class_annotations(cls).items():
        if _is_final(ann):
            names.add(name)
    return names


def _is_final(ann: Any) -> bool:
    if ann is typing.Final or getattr(ann, "__origin__", None) is typing.Final:
        return True
    if isinstance(ann, str) and (ann.startswith("Final") or ann.startswith("torch.jit.Final") or ann.startswith("typing.Final")):
        return True
    return False


def _class_annotations(cls: type) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        anns = klass.__dict__.get("__annotations__")
        if isinstance(anns, dict):
            out.update(anns)
    return out


class ModuleTypes:
    """Builds (and shares) module class types for one compilation.

    Note [Type sharing]
    -------------------
    Modules share a class type when their Python class, attribute types,
    submodule types and function attributes are the same, and their methods'
    code would be the same: `relaxed` sharing compiles a type's entry points
    as soon as the type exists and records which constants the code reads
    (`ModuleInfo.read_constant`); a later module shares the type when it
    agrees on those constants (ResNet's convolutions differ in channel counts,
    which `forward` never reads, so they compile once per stride and padding).
    If a method compiled later reads a constant the sharing modules disagree
    on, `ConstantConflict` makes `script()` start again with `relaxed=False`,
    where all constants must be equal.
    """

    def __init__(self, compiler, relaxed: bool = True):
        self.compiler = compiler
        self.relaxed = relaxed
        self.by_key: Dict[Any, List[ModuleInfo]] = {}
        self.by_type: Dict[ClassType, ModuleInfo] = {}
        self.by_module: Dict[int, ModuleInfo] = {}
        self._class_facts: Dict[type, Tuple[Dict[str, Any], set]] = {}  # per class: annotations, constant names
        self._entry_names: Dict[type, List[str]] = {}  # per class: `entry_methods`

    def info(self, module: nn.Module) -> ModuleInfo:
        done = self.by_module.get(id(module))
        if done is not None:
            return done
        api = _api()
        if isinstance(module, api.ScriptModule):
            return self._foreign(module)
        cls = type(module)
        submodules = {}
        for name, sub in module._modules.items():
            submodules[name] = self.info(sub) if sub is not None else None
        attrs, failed, constants, functions = self._attributes(module, submodules)
        key = self._key(module, attrs, submodules, {} if self.relaxed else constants, failed, functions)
        for shared in self.by_key.get(key, []) if key is not None else []:
            if all(_same_constant(constants.get(n, _MISSING), shared.type.constants.get(n, _MISSING)) for n in shared.used_constants):
                shared.instance_constants.append(constants)
                self.by_module[id(module)] = shared
                return shared
        cached = self._from_store(key, constants)
        if cached is not None:
            self.by_module[id(module)] = cached
            return cached
        qual = self.compiler.unique_name(_type_name(cls), mangle_path=True)
        t = ClassType(qual, is_module=True)
        for name, (typ, kind) in attrs.items():
            t.add_attribute(name, typ, kind)
        t.constants.update(constants)
        info = ModuleInfo(t, cls, {k: v for k, v in submodules.items() if v is not None}, failed=failed, functions=functions, key=key)
        info.container = _CONTAINERS.get(cls) if cls in _CONTAINERS else next((v for k, v in _CONTAINERS.items() if isinstance(module, k) and k in (nn.ModuleList, nn.Sequential, nn.ModuleDict)), None)
        # ParameterList / ParameterDict hold their entries as parameters, not submodules.
        info.order = list(module._parameters) if info.container in ("plist", "pdict") else list(module._modules)
        info.instance_constants.append(constants)
        self.compiler.unit.add_class(t)
        self.by_type[t] = info
        self.by_module[id(module)] = info
        if key is not None:
            self.by_key.setdefault(key, []).append(info)
        self._check_interfaces(info)
        if self.relaxed:
            self.compile_entry_points(info)
        return info

    def _check_interfaces(self, info: ModuleInfo) -> None:
        """Submodule attributes annotated with an interface (`self.sub: OneArg`) hold a module implementing it.

        The attribute's type becomes the `InterfaceType` (Note [Interface
        types]): `self.sub(x)` is a `prim::CallMethod` resolved by the held
        module's class at run time, so a ScriptModule of another class
        implementing the interface can be assigned after scripting
        (`api._check_assignment`). `ClassRegistry.attr` gives code an
        `InterfaceView` of it, so calls are typed by the interface.
        """
        from .interfaces import is_interface_class, resolve_annotation

        annotations = _class_annotations(info.cls)
        registry = self.compiler.classes
        for name, sub in info.submodules.items():
            ann = resolve_annotation(info.cls, annotations.get(name)) if name in annotations else None
            if not is_interface_class(ann):
                continue
            iface = registry.interface_type(ann, None)
            loc = next(iter(iface.methods.values())).loc
            with self.compiler.frame(f"{info.cls.__qualname__}.{name} (annotated {iface.display})", None):
                registry.check_implements(sub.type, iface, _annotation_loc(info.cls, name) or loc, what=f"the module {sub.type.name.rsplit('.', 1)[-1] if sub.foreign else sub.cls.__qualname__} held by {info.cls.__qualname__}.{name}")
            info.interfaces[name] = iface
            info.type.attributes[name] = iface  # calls dispatch at run time: any implementing module can be assigned

    def _from_store(self, key: Any, constants: Dict[str, Any]) -> Optional[ModuleInfo]:
        """A type an earlier script() call compiled for modules like this one (Note [Compile cache])."""
        store = self.compiler.store
        if store is None or key is None:
            return None
        for info, unit in store.module_types.get(key, ()):
            if all(_same_constant(constants.get(n, _MISSING), info.type.constants.get(n, _MISSING)) for n in info.used_constants):
                self.compiler.import_unit(unit)
                self.by_type[info.type] = info
                self.by_key.setdefault(key, []).append(info)
                return info
        return None

    def publish(self, store, unit) -> None:
        for info in self.by_type.values():
            if not info.foreign and not info.cached and info.key is not None:
                info.cached = True
                info.instance_constants = []
                store.module_types.setdefault(info.key, []).append((info, unit))

    def compile_entry_points(self, info: ModuleInfo) -> None:
        """forward and @export methods of one type (once)."""
        names = self._entry_names.get(info.cls)
        if names is None:  # once per class and script() call (each pass over the modules asks)
            names = self._entry_names[info.cls] = entry_methods(info.cls)
        for name in names:
            if name not in info.type.methods:
                self.compiler.classes._compile_method(info.type, info.cls, name, None)

    def _foreign(self, sm) -> ModuleInfo:
        """An existing ScriptModule (scripted or traced) keeps its type and graphs."""
        from .imports import import_unit

        import_unit(self.compiler.unit, sm._kiln_unit, self.compiler.imported)
        t = sm._kiln_type
        self.compiler.unit.classes.setdefault(t.name, t)
        info = self.by_type.get(t)
        if info is None:
            info = ModuleInfo(t, type(sm), foreign=True)
            for name, sub in sm._modules.items():
                if sub is not None:
                    info.submodules[name] = self._foreign(sub)
            self.by_type[t] = info
        self.by_module[id(sm)] = info
        return info

    def _attributes(self, module: nn.Module, submodules: Dict[str, Optional[ModuleInfo]]):
        cls = type(module)
        facts = self._class_facts.get(cls)
        if facts is None:  # once per class and script() call (a model has many modules of one class)
            facts = self._class_facts[cls] = (_class_annotations(cls), _constants_of(cls))
        annotations, constant_names = facts
        attrs: Dict[str, Tuple[Type, str]] = {}
        failed: Dict[str, str] = {}
        constants: Dict[str, Any] = {}
        functions: Dict[str, Any] = {}
        attrs["training"] = (BOOL, "attribute")
        for name, p in module._parameters.items():
            attrs[name] = (TENSOR if p is not None else NONE, "parameter")
        for name, b in module._buffers.items():
            attrs[name] = (TENSOR if b is not None else NONE, "buffer")
        for name, info in submodules.items():
            attrs[name] = (info.type if info is not None else NONE, "module")
        for name, value in module.__dict__.items():
            if name in _NN_INTERNAL or name == "training" or name.startswith("__"):
                continue
            if isinstance(value, enum.Enum) and name not in annotations and self._init_annotation(cls, name) is None:
                constants[name] = value  # an Enum member held by a module is a constant unless annotated (Note [Enums])
                continue
            if name not in annotations and name not in constant_names:
                config = config_constant(value)  # Note [Config dataclasses]
                if config is not None:
                    constants[name] = config
                    continue
            if name in constant_names:
                if _is_constant_value(value):
                    constants[name] = _freeze_constant(value)
                    continue
                failed[name] = f"it is listed as a constant but its value {value!r} is not a constant (int, float, bool, str, None, device, dtype, or a tuple of those)"
                continue
            if _is_function(value):
                functions[name] = value
                continue
            typ, why = self._attribute_type(name, value, annotations.get(name), cls)
            if typ is None:
                failed[name] = why
                continue
            attrs[name] = (typ, "attribute")
        for name in constant_names:
            if name not in constants and name not in attrs and name not in failed and hasattr(module, name):
                value = getattr(module, name)
                if _is_constant_value(value):
                    constants[name] = _freeze_constant(value)
        return attrs, failed, constants, functions

    def _attribute_type(self, name: str, value: Any, annotation: Any, cls: Optional[type] = None) -> Tuple[Optional[Type], str]:
        if isinstance(value, torch.jit.Attribute):  # `self.x = torch.jit.Attribute(value, type)`: the type given
            t = self.compiler.classes.type_of_python_annotation(value.type)
            if t is None:
                return None, f"its torch.jit.Attribute type {value.type!r} is not a script type"
            return t, ""
        if annotation is not None and not _is_final(annotation):
            t = self.compiler.classes.type_of_python_annotation(annotation)
            if t is not None:
                return t, ""
        t = infer_value_type(value, self.compiler)
        if t is None:
            t = self._init_annotation(cls, name) if cls is not None else None
        if t is None:
            return None, f"its value of type {type(value).__name__} has no script type"
        return t, ""

    def _init_annotation(self, cls: type, name: str) -> Optional[Type]:
        """The type of `self.<name>: T = ...` in `__init__` of `cls` (or a base class), if written so."""
        from .functions import Namespace
        from .source import parse_function

        for klass in cls.__mro__:
            init = klass.__dict__.get("__init__")
            if not isinstance(init, types.FunctionType) or klass.__module__.startswith("torch."):
                continue
            try:
                src = parse_function(init)
            except CompileError:
                continue
            for node in ast.walk(src.tree):
                if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Attribute) and node.target.attr == name
                        and isinstance(node.target.value, ast.Name) and node.target.value.id == "self"):  # fmt: skip
                    try:
                        return self.compiler.type_parser(Namespace(init), src).parse(node.annotation)
                    except CompileError:
                        return None
        return None

    def _key(self, module, attrs, submodules, constants, failed, functions):
        if "forward" in module.__dict__:
            return None  # a per-instance forward: no sharing
        try:
            const_key = tuple(sorted((k, repr(v)) for k, v in constants.items()))
            return (
                type(module),
                tuple((k, str(t), kind, id(t) if isinstance(t, ClassType) else 0) for k, (t, kind) in attrs.items()),
                tuple((k, id(v.type) if v is not None else 0) for k, v in submodules.items()),
                const_key,
                tuple(sorted(failed)),
                tuple(sorted((k, id(v)) for k, v in functions.items())),
            )
        except Exception:  # pragma: no cover - unusual reprs
            return None


def _annotation_loc(cls: type, name: str):
    """Where `name: T` is written in the body of `cls` (or an `__annotations__` entry naming it), if found."""
    import inspect

    from ...diagnostics import SourceRange

    for klass in cls.__mro__:
        if name not in klass.__dict__.get("__annotations__", {}):
            continue
        try:
            lines, first = inspect.getsourcelines(klass)
            filename = inspect.getsourcefile(klass) or "<unknown>"
        except (OSError, TypeError):
            return None
        for i, line in enumerate(lines):
            stripped = line.strip()
            if stripped.startswith(f"{name}:") or stripped.startswith(f"self.{name}:") or f"'{name}'" in stripped or f'"{name}"' in stripped:
                col = line.index(stripped)
                return SourceRange(filename, first + i, col, col + len(stripped), line.rstrip("\n"))
        return None
    return None


def entry_methods(cls: type) -> List[str]:
    """What script compiles on a module class: forward (unless ignored) and @export methods."""
    import types

    from .classes import _method_of

    names: List[str] = []
    modifiers = torch._jit_internal.FunctionModifiers
    forward = _method_of(cls, "forward")
    if forward is not None and isinstance(forward, types.FunctionType):
        if torch._jit_internal.get_torchscript_modifier(forward) not in (modifiers.IGNORE, getattr(modifiers, "_DROP", None)):
            names.append("forward")
    export, function = modifiers.EXPORT, types.FunctionType
    for klass in reversed(cls.__mro__):
        for name, value in vars(klass).items():
            # `get_torchscript_modifier(value) is EXPORT` for a plain function, without the call per method
            # of every class in the MRO (nn.Module alone has a hundred).
            if isinstance(value, function) and getattr(value, "_torchscript_modifier", None) is export and name not in names:
                names.append(name)
    return names


def _type_name(cls: type) -> str:
    module = cls.__module__ or "__main__"
    return f"__torch__.{module}.{cls.__qualname__}".replace("<locals>", "___locals").replace("<", "_").replace(">", "_")


def _api():
    # Read once (`torchkiln.api` imports this package; an import statement in a function costs a
    # microsecond each time, and this runs per module).
    global _API
    if _API is None:
        from ... import api

        _API = api
    return _API


_API = None


def _is_function(value: Any) -> bool:
    """A function held by a module (`self.activation = F.relu`): called as the function, not stored."""
    return isinstance(value, (types.FunctionType, types.BuiltinFunctionType)) or isinstance(value, (torch._ops.OpOverload, torch._ops.OpOverloadPacket))


def _is_constant_value(value: Any) -> bool:
    if constant_type(value) is not None:
        return True
    if isinstance(value, (tuple, list)):
        return all(_is_constant_value(v) for v in value)
    return False


def _freeze_constant(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_freeze_constant(v) for v in value)
    return value


def infer_value_type(value: Any, compiler, _inside: Optional[set] = None) -> Optional[Type]:
    """The script type of a Python value held by a module, or None (also for a container holding itself)."""
    t = constant_type(value)
    if t is not None:
        return t
    if isinstance(value, torch.Tensor):
        return TENSOR
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return compiler.classes.type_of_python_annotation(type(value))
    if isinstance(value, (tuple, list, dict)):
        inside = _inside if _inside is not None else set()
        if id(value) in inside:
            return None  # `self.g.append(self.g)`: no script type holds itself
        inside.add(id(value))
        try:
            return _container_type(value, compiler, inside)
        finally:
            inside.discard(id(value))
    return None


def _container_type(value: Any, compiler, inside: set) -> Optional[Type]:
    if isinstance(value, tuple):
        parts = [infer_value_type(v, compiler, inside) for v in value]
        return None if any(p is None for p in parts) else TupleType(parts)  # type: ignore[arg-type]
    if isinstance(value, list):
        if not value:
            return None  # unknown element type: annotate the attribute
        elem: Optional[Type] = infer_value_type(value[0], compiler, inside)
        for v in value[1:]:
            other = infer_value_type(v, compiler, inside)
            elem = unify(elem, other) if elem is not None and other is not None else None
        return ListType(elem) if elem is not None else None
    if isinstance(value, dict):
        if not value:
            return None
        keys = {infer_value_type(k, compiler, inside) for k in value}
        vals = [infer_value_type(v, compiler, inside) for v in value.values()]
        if len(keys) != 1 or None in keys or any(v is None for v in vals):
            return None
        vt: Optional[Type] = vals[0]
        for v in vals[1:]:
            vt = unify(vt, v) if vt is not None else None
        return DictType(keys.pop(), vt) if vt is not None else None  # type: ignore[arg-type]
    return None


__all__ = ["ModuleInfo", "ModuleTypes", "ConstantConflict", "entry_methods", "infer_value_type"]
