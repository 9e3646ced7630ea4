"""The type lattice of the IR.

Types are immutable and compared structurally, except `ClassType`, which is
nominal (one object per qualified name in a `CompilationUnit`).

Text forms (what the printer writes and the parser reads):

    Tensor  int  float  bool  str  NoneType  Device  ScalarType  Layout
    MemoryFormat  Scalar  Any  Generator
    int[]            List[int]
    (Tensor, int)    Tuple[Tensor, int]   ()  is the empty tuple
    Dict(str, int)   Dict[str, int]
    Tensor?          Optional[Tensor]
    Union(int, str)  Union[int, str]
    Future(Tensor)   Future[Tensor]
    __torch__.Net    a class type (module or script class)
    __torch__.Shape  an interface type (Note [Interface types in the IR])
    NamedTuple __torch__.Point(x: int, y: int)   a named tuple
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Tuple


class Type:
    """Base of all IR types."""

    __slots__ = ()

    def is_subtype_of(self, other: "Type") -> bool:
        """Whether a value of `self` may be used where `other` is expected."""
        if self is other or self == other or (isinstance(other, AnyType) and other.accepts(self)):
            return True
        if isinstance(other, OptionalType):
            return self == NONE or self.is_subtype_of(other.elem)
        if isinstance(other, UnionType):
            if isinstance(self, UnionType):
                return all(t.is_subtype_of(other) for t in self.members)
            return any(self.is_subtype_of(m) for m in other.members)
        if isinstance(other, ScalarNumberType):
            return self in (INT, FLOAT, BOOL, SCALAR) or isinstance(self, UnionType) and all(m.is_subtype_of(other) for m in self.members)
        return False

    def contained(self) -> Tuple["Type", ...]:
        return ()


class _Singleton(Type):
    """A type without parameters (`int`, `Scalar`, `Any`): one object per class and name.

    Note [Interned types]: making one again (`_Singleton("int")`, a copy)
    gives the same object, so equality and hashing are object identity,
    done in C: type equality and type-keyed dicts run thousands of times
    per compile. Subclasses with their own equality (`InterfaceType`) are
    not interned.
    """

    __slots__ = ("_name",)
    _interned: Dict[Tuple[type, str], "_Singleton"] = {}

    def __new__(cls, name: str, *args: Any, **kwargs: Any):
        if cls.__eq__ is not Type.__eq__:  # nominal subclasses: a new object each
            return super().__new__(cls)
        key = (cls, name)
        found = _Singleton._interned.get(key)
        if found is None:
            found = _Singleton._interned.setdefault(key, super().__new__(cls))
        return found

    def __init__(self, name: str):
        self._name = name

    def __repr__(self) -> str:
        return self._name

    __str__ = __repr__

    def __reduce__(self):
        return (type(self), (self._name,))

    def __copy__(self) -> "_Singleton":
        return self

    def __deepcopy__(self, memo: Dict[int, Any]) -> "_Singleton":
        return self


class TensorType(Type):
    """`Tensor`, optionally refined with dtype, sizes (None = unknown dim) and device.

    Refinements are hints for passes and printing; `Tensor` accepts every
    refined tensor and the refinements never change what runs.
    """

    __slots__ = ("dtype", "sizes", "device")

    def __init__(self, dtype=None, sizes: Optional[Tuple[Optional[int], ...]] = None, device=None):
        self.dtype = dtype
        self.sizes = tuple(sizes) if sizes is not None else None
        self.device = device

    def is_refined(self) -> bool:
        return self.dtype is not None or self.sizes is not None or self.device is not None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TensorType)

    def __hash__(self) -> int:
        return hash("Tensor")

    def is_subtype_of(self, other: Type) -> bool:
        return isinstance(other, TensorType) or super().is_subtype_of(other)

    def __repr__(self) -> str:
        return "Tensor"

    __str__ = __repr__


class ScalarNumberType(_Singleton):
    """`Scalar`: int, float or bool, as ATen's `Scalar` arguments take."""


class AnyType(_Singleton):
    """`Any`: any value; only where TorchScript allows it."""

    def accepts(self, t: "Type") -> bool:
        """Whether `t` is a subtype. `Any`: every type; the script frontend's interface types
        (subclasses that print as `Any`) accept only classes checked to implement them."""
        return True


TENSOR = TensorType()
INT = _Singleton("int")
FLOAT = _Singleton("float")
BOOL = _Singleton("bool")
STR = _Singleton("str")
NONE = _Singleton("NoneType")
DEVICE = _Singleton("Device")
SCALAR_TYPE = _Singleton("ScalarType")
LAYOUT = _Singleton("Layout")
MEMORY_FORMAT = _Singleton("MemoryFormat")
GENERATOR = _Singleton("Generator")
SCALAR = ScalarNumberType("Scalar")
ANY = AnyType("Any")

SINGLETONS: Dict[str, Type] = {
    str(t): t
    for t in (TENSOR, INT, FLOAT, BOOL, STR, NONE, DEVICE, SCALAR_TYPE, LAYOUT, MEMORY_FORMAT, GENERATOR, SCALAR, ANY)
}


class ListType(Type):
    __slots__ = ("elem",)

    def __init__(self, elem: Type):
        self.elem = elem

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ListType) and other.elem == self.elem

    def __hash__(self) -> int:
        return hash(("List", self.elem))

    def __repr__(self) -> str:
        return f"{self.elem}[]"

    __str__ = __repr__

    def contained(self) -> Tuple[Type, ...]:
        return (self.elem,)

    def is_subtype_of(self, other: Type) -> bool:
        # Lists are invariant, as in TorchScript, except toward Any.
        return super().is_subtype_of(other) or (
            isinstance(other, ListType) and isinstance(other.elem, AnyType)
        )


class TupleType(Type):
    """A tuple; with `name` and `fields` it is a NamedTuple."""

    __slots__ = ("elems", "name", "fields")

    def __init__(self, elems: Iterable[Type], name: Optional[str] = None, fields: Optional[Iterable[str]] = None):
        self.elems = tuple(elems)
        self.name = name
        self.fields = tuple(fields) if fields is not None else None

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, TupleType)
            and other.elems == self.elems
            and other.name == self.name
            and other.fields == self.fields
        )

    def __hash__(self) -> int:
        return hash(("Tuple", self.elems, self.name))

    def __repr__(self) -> str:
        if self.name is not None:
            inner = ", ".join(f"{f}: {t}" for f, t in zip(self.fields or (), self.elems))
            return f"NamedTuple {self.name}({inner})"
        return "(" + ", ".join(str(t) for t in self.elems) + ")"

    __str__ = __repr__

    def contained(self) -> Tuple[Type, ...]:
        return self.elems

    def is_subtype_of(self, other: Type) -> bool:
        if super().is_subtype_of(other):
            return True
        return (
            isinstance(other, TupleType)
            and other.name is None
            and len(other.elems) == len(self.elems)
            and all(a.is_subtype_of(b) for a, b in zip(self.elems, other.elems))
        )


class DictType(Type):
    __slots__ = ("key", "value")

    def __init__(self, key: Type, value: Type):
        self.key = key
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DictType) and other.key == self.key and other.value == self.value

    def __hash__(self) -> int:
        return hash(("Dict", self.key, self.value))

    def __repr__(self) -> str:
        return f"Dict({self.key}, {self.value})"

    __str__ = __repr__

    def contained(self) -> Tuple[Type, ...]:
        return (self.key, self.value)


class OptionalType(Type):
    __slots__ = ("elem",)

    def __init__(self, elem: Type):
        self.elem = elem

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OptionalType) and other.elem == self.elem

    def __hash__(self) -> int:
        return hash(("Optional", self.elem))

    def __repr__(self) -> str:
        return f"{self.elem}?"

    __str__ = __repr__

    def contained(self) -> Tuple[Type, ...]:
        return (self.elem,)

    def is_subtype_of(self, other: Type) -> bool:
        if super().is_subtype_of(other):
            return True
        return isinstance(other, OptionalType) and self.elem.is_subtype_of(other.elem)


class UnionType(Type):
    __slots__ = ("members",)

    def __init__(self, members: Iterable[Type]):
        self.members = tuple(members)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UnionType) and set(other.members) == set(self.members)

    def __hash__(self) -> int:
        return hash(("Union", frozenset(self.members)))

    def __repr__(self) -> str:
        return "Union(" + ", ".join(str(t) for t in self.members) + ")"

    __str__ = __repr__

    def contained(self) -> Tuple[Type, ...]:
        return self.members


class FutureType(Type):
    __slots__ = ("elem",)

    def __init__(self, elem: Type):
        self.elem = elem

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FutureType) and other.elem == self.elem

    def __hash__(self) -> int:
        return hash(("Future", self.elem))

    def __repr__(self) -> str:
        return f"Future({self.elem})"

    __str__ = __repr__

    def contained(self) -> Tuple[Type, ...]:
        return (self.elem,)


class ClassType(Type):
    """A module or script class: named attributes and methods.

    Nominal: equal only to itself. `attributes` maps each attribute name to
    its type, in declaration order; `attr_kinds` says for each whether it is
    a "parameter", "buffer", "module" or plain "attribute". `constants` are
    `Final` / `__constants__` values, baked at compile time. `methods` maps
    names to `torchkiln.ir.core.Function`s whose first parameter is `self`.
    `frontend_attributes` holds the attributes whose types were changed
    after compiling (Enum erasure, Note [Enums] in frontend/script/enums.py),
    with the types the script frontend gave them.
    """

    __slots__ = ("name", "attributes", "attr_kinds", "constants", "methods", "is_module", "frontend_attributes")

    def __init__(self, name: str, is_module: bool = True):
        self.name = name
        self.is_module = is_module
        self.attributes: Dict[str, Type] = {}
        self.attr_kinds: Dict[str, str] = {}
        self.constants: Dict[str, object] = {}
        self.methods: Dict[str, object] = {}
        self.frontend_attributes: Dict[str, Type] = {}

    def add_attribute(self, name: str, typ: Type, kind: str = "attribute") -> None:
        assert kind in ("parameter", "buffer", "module", "attribute"), kind
        self.attributes[name] = typ
        self.attr_kinds[name] = kind

    def __eq__(self, other: object) -> bool:
        return other is self

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        return self.name

    __str__ = __repr__


# Note [Interface types in the IR]
# --------------------------------
# An interface (`@torch.jit.interface class Shape: def area(self) -> float`)
# is a nominal type named like a class (`__torch__.m.Shape`) that lists
# method signatures. A value of it is a module or script-class object whose
# class has those methods with fitting signatures (TorchScript's rule: the
# same parameter names, each interface parameter type a subtype of the
# method's, the method's return type a subtype of the interface's).
#
# `InterfaceType` derives from `AnyType` on purpose: what holds for `Any`
# receivers holds for interface receivers. `prim::CallMethod` on one is
# resolved by the held object's class when it runs, in every executor and
# in the archive, and nothing is inlined through it. What the subclass adds
# is the name (printed in `.graph`, `.code`, the IR text and the archive's
# TYPE strings) and the conformance check (`accepts`, used by
# `Type.is_subtype_of`, and `why_not_implemented_by`, used at the Python
# boundary: argument binding and submodule assignment). The script
# frontend's subclass (frontend/script/interfaces.py) compiles methods on
# demand while checking; an interface read from an archive checks the
# classes' methods as they are.


@dataclass
class InterfaceMethod:
    """One declared method of an interface: `args[0]` is `self` (the interface type).

    `args` are `torchkiln.ir.core.Argument`s (or anything with `name` and `type`).
    """

    name: str
    args: List[Any]
    returns: Type
    loc: Any = None


class InterfaceType(AnyType):
    """`__torch__.m.Shape`: a module or script-class object implementing `methods` (Note [Interface types in the IR]).

    Nominal: equal only to itself (the script frontend's subclass: to the
    interface of the same Python class). `is_module`: a module interface,
    implemented only by modules.
    """

    def __init__(self, name: str, is_module: bool):
        super().__init__(name)
        self.name = name
        self.is_module = is_module
        self.methods: Dict[str, InterfaceMethod] = {}

    @property
    def display(self) -> str:
        """The name for messages: the last part of the qualified name (`Shape`)."""
        return self.name.rsplit(".", 1)[-1]

    def __eq__(self, other: object) -> bool:
        return other is self

    def __hash__(self) -> int:
        return id(self)

    def accepts(self, t: Type) -> bool:
        """`Type.is_subtype_of` for this target: this interface, or a class or interface that conforms."""
        return t == self or self.why_not_implemented_by(t) is None

    def why_not_implemented_by(self, t: Type) -> Optional[str]:
        """Why values of type `t` are not usable as this interface (None: they are).

        Compiles nothing: a class's methods are those it has.
        """
        if isinstance(t, InterfaceType):
            return self.mismatch(t)
        if not isinstance(t, ClassType):
            return "only modules and script-class objects implement interfaces"
        if self.is_module and not t.is_module:
            return f"{self.display} is a module interface and {short_type_name(t)} is not a module"
        return self.methods_mismatch(t.methods)

    def mismatch(self, other: "InterfaceType") -> Optional[str]:
        """Why interface `other` is not usable as this one (None: it is)."""
        if self.is_module and not other.is_module:
            return f"{other.display} is not a module interface"
        return self.methods_mismatch(other.methods)

    def methods_mismatch(self, methods: Dict[str, Any]) -> Optional[str]:
        """Why `methods` (name -> Function or InterfaceMethod) lack or mistype one of this interface's (None: they do not)."""
        for name, want in self.methods.items():
            have = methods.get(name)
            if have is None:
                return f"it has no method '{name}'"
            why = signature_mismatch(have, want)
            if why is not None:
                return why
        return None


def signature_mismatch(impl: Any, want: InterfaceMethod) -> Optional[str]:
    """Why method `impl` (a Function or InterfaceMethod) does not fit `want` (None: it does)."""
    have_args, want_args = impl.args[1:], want.args[1:]
    shown = f"{want.name}{signature_text(want)}"
    if len(have_args) != len(want_args):
        return f"its {want.name}{signature_text(impl)} takes {len(have_args)} argument{'s' if len(have_args) != 1 else ''}, the interface's {shown} {len(want_args)}"
    for i, (h, w) in enumerate(zip(have_args, want_args)):
        if h.name != w.name:
            return f"argument {i + 1} of its {want.name} is named '{h.name}', the interface's {shown} names it '{w.name}'"
        if not w.type.is_subtype_of(h.type):
            return f"argument '{h.name}' of its {want.name} is {short_type_name(h.type)}, the interface's {shown} passes {short_type_name(w.type)}"
    if not impl.returns.is_subtype_of(want.returns):
        return f"its {want.name} returns {short_type_name(impl.returns)}, the interface's {shown} returns {short_type_name(want.returns)}"
    return None


def signature_text(fn: Any) -> str:
    """`(self, x: Tensor) -> Tensor`, types as `short_type_name` shows them."""
    params = ", ".join(["self"] + [f"{a.name}: {short_type_name(a.type)}" for a in fn.args[1:]])
    return f"({params}) -> {short_type_name(fn.returns)}"


def short_type_name(t: Type) -> str:
    """A type for messages: classes and interfaces by the last part of their names."""
    if isinstance(t, InterfaceType):
        return t.display
    if isinstance(t, OptionalType):
        return f"Optional[{short_type_name(t.elem)}]"
    if isinstance(t, ClassType):
        return t.name.rsplit(".", 1)[-1]
    return str(t)


def python_value_type(value: object) -> Optional[Type]:
    """The IR type of a plain Python constant (None, bool, int, float, str,
    torch.device, torch.dtype), or None for anything else."""
    exact = _SCALARS.get(type(value))  # the common case, one lookup; subclasses (IntEnum...) below
    if exact is not None:
        return exact
    if value is None:
        return NONE
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        return INT
    if isinstance(value, float):
        return FLOAT
    if isinstance(value, str):
        return STR
    import torch  # noqa: PLC0415  (types stay importable without torch loaded first)

    if isinstance(value, torch.device):
        return DEVICE
    if isinstance(value, torch.dtype):
        return SCALAR_TYPE
    return None


_SCALARS: Dict[type, Type] = {type(None): NONE, bool: BOOL, int: INT, float: FLOAT, str: STR}


def unify(a: Type, b: Type) -> Optional[Type]:
    """The least type both `a` and `b` are subtypes of, or None.

    Used where control flow joins: `if` outputs and loop-carried values.
    `None` joined with `T` gives `T?`.
    """
    if a.is_subtype_of(b):
        return b
    if b.is_subtype_of(a):
        return a
    if a == NONE:
        return OptionalType(b)
    if b == NONE:
        return OptionalType(a)
    if isinstance(a, OptionalType) and b.is_subtype_of(a.elem):
        return a
    if isinstance(b, OptionalType) and a.is_subtype_of(b.elem):
        return b
    if isinstance(a, TupleType) and isinstance(b, TupleType) and len(a.elems) == len(b.elems) and a.name == b.name:
        elems: List[Type] = []
        for x, y in zip(a.elems, b.elems):
            u = unify(x, y)
            if u is None:
                return None
            elems.append(u)
        return TupleType(elems, a.name, a.fields)
    return None
