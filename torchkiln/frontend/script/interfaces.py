"""Interface types: `@torchkiln.interface` / `@torch.jit.interface` classes.

```python
@torch.jit.interface
class OneArg(torch.nn.Module):              # a module interface
    def forward(self, x: Tensor) -> Tensor: pass

@torch.jit.interface
class Shape:                                # a class interface
    def area(self) -> float: ...
```

Note [Interface types]
----------------------
An interface declares method signatures; a value of an interface type is
any module or script-class object whose methods match them (TorchScript's
rule: the same parameter names, each interface parameter type a subtype of
the method's, the method's return type a subtype of the interface's).
Calls through an interface are typed by the interface's signature.

A module attribute annotated with an interface (`self.sub: OneArg`) holds
a submodule checked to implement it when the module is scripted; the
attribute's IR type is the interface, so `self.sub(x)` is
`prim::CallMethod[name="forward"]` on an `Any` value, dispatched at run time
and not inlined: assigning another ScriptModule implementing the interface
after scripting (`api._check_assignment`, `why_not_implemented_by`) changes
what the call runs, as in TorchScript.

A value of an interface type (a parameter, variable or attribute declared
with an interface type, module attributes included) has IR type
`InterfaceType`, a frontend subclass of the IR's `InterfaceType` (Note
[Interface types in the IR] in ir/types.py), named like a class
(`__torch__.m.OneArg`) and printed so in `.graph`, `.code` and the archive
(which records its method signatures, docs/archive.md §4). The IR type
derives from `Any`: `prim::CallMethod` on it finds the method by the
object's class at run time in every executor, as on an `Any` receiver.
A value converts to an interface type (`FunctionEmitter.try_convert` calls
`InterfaceType.convert_from`) after its class is checked to conform, which
compiles the methods the interface names on that class; `accepts` (what
`Type.is_subtype_of` asks of an `Any` target) answers True only for classes
checked so.
"""
from __future__ import annotations

import sys
import threading
import typing
from typing import Any, List, Optional, Set, Tuple

from ...diagnostics import CompileError, SourceRange
from ...ir.types import ClassType, InterfaceMethod, Type, short_type_name, signature_mismatch
from ...ir.types import InterfaceType as IRInterfaceType


class InterfaceType(IRInterfaceType):
    """The interface of the Python class `cls` (Note [Interface types]); prints as its qualified name.

    Equal to the interface of the same class made by another compile.
    """

    def __init__(self, cls: type, name: str, is_module: bool):
        super().__init__(name, is_module)
        self.cls = cls
        self.verified: Set[Type] = set()  # class types checked to conform

    def __eq__(self, other: object) -> bool:
        return isinstance(other, InterfaceType) and other.cls is self.cls

    def __hash__(self) -> int:
        return hash(("interface", id(self.cls)))

    def accepts(self, t: Type) -> bool:
        """`Type.is_subtype_of` for this target: interfaces that fit, classes checked to conform
        (or whose compiled methods already do: no compiling here)."""
        if self.known(t):
            return True
        if not isinstance(t, ClassType) or (self.is_module and not t.is_module):
            return False
        registry = getattr(_ACTIVE, "registry", None)
        if registry is not None and registry.compiler.chain:  # inside a compile: compile what is missing
            try:
                registry.check_implements(t, self, None)
            except DoesNotImplement:
                return False
            return True
        if self.methods_mismatch(t.methods) is not None:
            return False
        self.verified.add(t)
        return True

    def known(self, t: Type) -> bool:
        """Whether `t` conforms as far as is known without compiling anything."""
        if t == self or t in self.verified:
            return True
        return isinstance(t, IRInterfaceType) and self.mismatch(t) is None

    def convert_from(self, em: Any, value: Any) -> Any:
        """`value` where this interface is expected; a CompileError at the current expression if it does not conform."""
        em.compiler.classes.check_implements(value.type, self, em.builder.loc)
        return value

    def why_not_implemented_by(self, t: Type) -> Optional[str]:
        """Why values of the compiled class `t` are not usable as this interface (None: they are).

        Compiles nothing: `t`'s methods are those it has (a ScriptModule
        assigned to an interface-typed attribute, `api._check_assignment`).
        """
        why = super().why_not_implemented_by(t)
        if why is None and isinstance(t, ClassType):
            self.verified.add(t)
        return why


# The class registry of the compile running on this thread (set when a compile starts): `accepts`,
# asked by `Type.is_subtype_of` (joins at an `if`, list elements), compiles the methods a class
# lacks while that compile is inside a function (`compiler.chain`), never after it.
_ACTIVE = threading.local()


def set_active_registry(registry: Any) -> None:
    _ACTIVE.registry = registry


class DoesNotImplement(CompileError):
    """A class or value does not conform to an interface."""


def is_interface_class(obj: Any) -> bool:
    return isinstance(obj, type) and bool(obj.__dict__.get("__torch_script_interface__", False))


def resolve_annotation(cls: type, ann: Any) -> Any:
    """A class-level annotation as an object (string annotations are evaluated in the class's module)."""
    if not isinstance(ann, str):
        return ann
    module = sys.modules.get(cls.__module__)
    namespace = dict(vars(module)) if module is not None else {}
    namespace.setdefault("typing", typing)
    try:
        return eval(ann, namespace, dict(vars(cls)))  # noqa: S307  (an annotation the user wrote)
    except Exception:
        return None


def declared_methods(cls: type) -> List[Tuple[str, Any]]:
    """The methods an interface class declares (its own functions, `__call__` included)."""
    import types

    out = []
    for name, value in vars(cls).items():
        if isinstance(value, types.FunctionType) and (not name.startswith("__") or name == "__call__"):
            out.append((name, value))
    return out


show_type = short_type_name  # a type for messages: interfaces and classes by their short names


def interface_of(t: Type) -> Optional[InterfaceType]:
    return t if isinstance(t, InterfaceType) else None


def raise_not_implemented(what: str, iface: InterfaceType, why: str, loc: Optional[SourceRange], hint: Optional[str] = None) -> None:
    raise DoesNotImplement(f"{what} does not implement the interface {iface.display}: {why}", loc, hint=hint or f"give it the methods of {iface.display} with the same signatures")


__all__ = ["InterfaceType", "InterfaceMethod", "is_interface_class", "resolve_annotation", "declared_methods", "signature_mismatch", "show_type"]
