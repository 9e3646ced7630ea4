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
`InterfaceType`, a frontend subclass of `Any` that prints as `Any`:
`prim::CallMethod` on an `Any` receiver finds the method by the object's
class at run time in every executor and in the archive (docs/archive.md §4;
a submodule attribute of type `Any` is allowed there), so nothing past the
frontend knows interfaces.
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
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Set, Tuple

from ...diagnostics import CompileError, SourceRange
from ...ir.core import Argument
from ...ir.types import AnyType, ClassType, OptionalType, Type


@dataclass
class InterfaceMethod:
    """One declared method: `args[0]` is `self` (the interface type)."""

    name: str
    args: List[Argument]
    returns: Type
    loc: Optional[SourceRange]


class InterfaceType(AnyType):
    """A value of some class implementing `cls`'s methods (Note [Interface types]); prints as `Any`."""

    def __init__(self, cls: type, display: str, is_module: bool):
        super().__init__("Any")
        self.cls = cls
        self.display = display
        self.is_module = is_module
        self.methods: Dict[str, InterfaceMethod] = {}
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
        for name, want in self.methods.items():
            have = t.methods.get(name)
            if have is None or signature_mismatch(have, want) is not None:
                return False
        self.verified.add(t)
        return True

    def known(self, t: Type) -> bool:
        """Whether `t` conforms as far as is known without compiling anything."""
        if t == self or t in self.verified:
            return True
        return isinstance(t, InterfaceType) and self.mismatch(t) is None

    def convert_from(self, em: Any, value: Any) -> Any:
        """`value` where this interface is expected; a CompileError at the current expression if it does not conform."""
        em.compiler.classes.check_implements(value.type, self, em.builder.loc)
        return value

    def why_not_implemented_by(self, t: Type) -> Optional[str]:
        """Why values of the compiled class `t` are not usable as this interface (None: they are).

        Compiles nothing: `t`'s methods are those it has (a ScriptModule
        assigned to an interface-typed attribute, `api._check_assignment`).
        """
        if not isinstance(t, ClassType):
            return "only modules and script-class objects implement interfaces"
        if self.is_module and not t.is_module:
            return f"{self.display} is a module interface and {show_type(t)} is not a module"
        why = self._methods_mismatch(t.methods)
        if why is None:
            self.verified.add(t)
        return why

    def mismatch(self, other: "InterfaceType") -> Optional[str]:
        """Why interface `other` is not usable as this one (None: it is)."""
        if self.is_module and not other.is_module:
            return f"{other.display} is not a module interface"
        return self._methods_mismatch(other.methods)

    def _methods_mismatch(self, methods: Any) -> Optional[str]:
        """Why `methods` (name -> Function) lack or mistype one of this interface's (None: they do not)."""
        for name, want in self.methods.items():
            have = methods.get(name)
            if have is None:
                return f"it has no method '{name}'"
            why = signature_mismatch(have, want)
            if why is not None:
                return why
        return None


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


def signature_mismatch(impl: Any, want: InterfaceMethod) -> Optional[str]:
    """Why method `impl` (a Function or InterfaceMethod) does not fit `want` (None: it does)."""
    have_args, want_args = impl.args[1:], want.args[1:]
    shown = f"{want.name}{signature_text(want)}"
    if len(have_args) != len(want_args):
        return f"its {want.name}{signature_text(impl)} takes {len(have_args)} argument{'s' if len(have_args) != 1 else ''}, the interface's {shown} {len(want_args)}"
    for h, w in zip(have_args, want_args):
        if h.name != w.name:
            return f"argument {have_args.index(h) + 1} of its {want.name} is named '{h.name}', the interface's {shown} names it '{w.name}'"
        if not w.type.is_subtype_of(h.type):
            return f"argument '{h.name}' of its {want.name} is {show_type(h.type)}, the interface's {shown} passes {show_type(w.type)}"
    if not impl.returns.is_subtype_of(want.returns):
        return f"its {want.name} returns {show_type(impl.returns)}, the interface's {shown} returns {show_type(want.returns)}"
    return None


def signature_text(fn: Any) -> str:
    params = ", ".join(["self"] + [f"{a.name}: {show_type(a.type)}" for a in fn.args[1:]])
    return f"({params}) -> {show_type(fn.returns)}"


def show_type(t: Type) -> str:
    """A type for messages: interfaces by their Python name (they print as `Any` in IR)."""
    if isinstance(t, InterfaceType):
        return t.display
    if isinstance(t, OptionalType):
        return f"Optional[{show_type(t.elem)}]"
    if isinstance(t, ClassType):
        return t.name.rsplit(".", 1)[-1]
    return str(t)


def interface_of(t: Type) -> Optional[InterfaceType]:
    return t if isinstance(t, InterfaceType) else None


def raise_not_implemented(what: str, iface: InterfaceType, why: str, loc: Optional[SourceRange], hint: Optional[str] = None) -> None:
    raise DoesNotImplement(f"{what} does not implement the interface {iface.display}: {why}", loc, hint=hint or f"give it the methods of {iface.display} with the same signatures")


__all__ = ["InterfaceType", "InterfaceMethod", "is_interface_class", "resolve_annotation", "declared_methods", "signature_mismatch", "show_type"]
