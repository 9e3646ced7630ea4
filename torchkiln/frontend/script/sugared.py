"""Sugared values: what a name or expression means before it is an IR value.

A Python expression in a scripted function may denote an IR value (a
tensor, an int), or something that only exists at compile time: a Python
module (`torch`, `F`), a builtin op, a user function, a submodule, a
`range(...)`, an exception class. Each is a `SugaredValue` that knows what
attribute access, calls, iteration and indexing on it mean, and emits IR
for them (TorchScript's `SugaredValue`, torch/csrc/jit/frontend/sugared_value.h).

The emitter (`emitter.FunctionEmitter`, named `em` below) passes itself
to every method; `node` is the ast node being compiled, for error
locations.
"""
from __future__ import annotations

import ast
import functools
import importlib
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple

from ...ir.core import Value
from ...ir.types import NONE, STR, TupleType, Type

if TYPE_CHECKING:
    from .emitter import FunctionEmitter
    from .loops import Iteration



@functools.lru_cache(maxsize=None)
def _late(name: str) -> Any:
    """The sibling module `name`, which imports this one (so this one cannot import it first).

    Imported on first use and kept: an import statement in a method costs about
    a microsecond, and `attr` runs for every attribute expression.
    """
    return importlib.import_module(f"{__package__}.{name}")


Args = List["SugaredValue"]
Kwargs = Dict[str, "SugaredValue"]


class SugaredValue:
    """Base: every operation fails with a message naming what the value is."""

    #: calls receive the ast.Call instead of emitted arguments (`annotate`, `isinstance`, ...)
    special_form = False

    def describe(self) -> str:
        return "this value"

    def as_value(self, em: "FunctionEmitter", node: ast.AST) -> Value:
        em.fail(node, f"{self.describe()} cannot be used as a value", hint="only tensors, numbers, strings, containers, None, devices, dtypes and objects of script classes are values")

    def attr(self, em: "FunctionEmitter", node: ast.AST, name: str) -> "SugaredValue":
        em.fail(node, f"{self.describe()} has no attribute '{name}'")

    def call(self, em: "FunctionEmitter", node: ast.Call, args: Args, kwargs: Kwargs) -> "SugaredValue":
        em.fail(node, f"{self.describe()} cannot be called")

    def call_ast(self, em: "FunctionEmitter", node: ast.Call) -> "SugaredValue":
        raise AssertionError("special forms override call_ast")

    def iterate(self, em: "FunctionEmitter", node: ast.AST) -> "Iteration":
        em.fail(node, f"cannot iterate over {self.describe()}")

    def getitem(self, em: "FunctionEmitter", node: ast.AST, index: "SugaredValue") -> "SugaredValue":
        em.fail(node, f"{self.describe()} cannot be indexed")

    def static_len(self) -> Optional[int]:
        return None

    def static_value(self) -> Any:
        """The compile-time Python value this denotes, or `NO_STATIC`."""
        return NO_STATIC

    def is_value(self) -> bool:
        """Whether this stands for an IR value (assignments store it) rather than a compile-time thing."""
        return False


NO_STATIC = object()


class SimpleValue(SugaredValue):
    """An IR value. Attributes and methods depend on its type (see `values.py`)."""

    def __init__(self, value: Value):
        self.value = value

    @property
    def type(self) -> Type:
        return self.value.type

    def describe(self) -> str:
        return f"a value of type {self.value.type}"

    def is_value(self) -> bool:
        return True

    def as_value(self, em, node) -> Value:
        return self.value

    def attr(self, em, node, name):
        return _late("values").value_attr(em, node, self, name)

    def call(self, em, node, args, kwargs):
        return _late("values").call_value(em, node, self, args, kwargs)

    def as_function(self, em, node, args, kwargs):
        """(function, input values) for `fork(obj, ...)`: a module's forward, an object's __call__."""
        from .values import fork_target

        return fork_target(em, node, self, args, kwargs)

    def setattr(self, em, node, name: str, value: Value) -> None:
        from ...ir.types import ClassType

        if not isinstance(self.value.type, ClassType):
            em.fail(node, f"cannot set attributes on a value of type {self.value.type}")
        em.compiler.classes.setattr(em, node, self.value, name, value)

    def iterate(self, em, node):
        return _late("loops").iterate_value(em, node, self)

    def getitem(self, em, node, index):
        return _late("subscripts").getitem_value(em, node, self, index)

    def static_len(self) -> Optional[int]:
        t = self.value.type
        if isinstance(t, TupleType):
            return len(t.elems)
        return None

    def static_value(self) -> Any:
        n = self.value.node
        if n is not None and n.kind == "prim::Constant":
            return n.attrs.get("value")
        if self.value.type == NONE:
            return None
        return NO_STATIC


class TupleSugar(SugaredValue):
    """A tuple known element by element at compile time (`(a, b)`, op results, `zip` items).

    Elements may be sugared (modules, functions); it becomes a
    `prim::TupleConstruct` only when used as a value. `names` makes it a
    named tuple (`torch.max(x, 1).values`).
    """

    def __init__(self, items: Sequence[SugaredValue], names: Optional[Tuple[str, ...]] = None, type_name: Optional[str] = None):
        self.items = list(items)
        self.names = names
        self.type_name = type_name

    def describe(self) -> str:
        return f"a tuple of {len(self.items)}"

    def is_value(self) -> bool:
        return all(i.is_value() for i in self.items)

    def as_value(self, em, node) -> Value:
        values = [item.as_value(em, node) for item in self.items]
        t = TupleType([v.type for v in values], self.type_name, self.names)
        return em.op("prim::TupleConstruct", values, [t]).output

    def attr(self, em, node, name):
        if self.names is not None and name in self.names:
            return self.items[self.names.index(name)]
        em.fail(node, f"{self.describe()} has no attribute '{name}'")

    def iterate(self, em, node):
        from .loops import Unrolled

        return Unrolled(list(self.items))

    def getitem(self, em, node, index):
        from .subscripts import static_tuple_index

        return static_tuple_index(em, node, self.items, index)

    def static_len(self) -> Optional[int]:
        return len(self.items)

    def static_value(self) -> Any:
        values = [i.static_value() for i in self.items]
        if any(v is NO_STATIC for v in values):
            return NO_STATIC
        return tuple(values)


class StaticBool(SugaredValue):
    """A bool known at compile time (`torch.jit.is_scripting()`, `x is None` for non-Optional x).

    Conditions on it compile only the branch taken (TorchScript's
    metaprogramming on None checks, `hasattr`, `isinstance`).
    """

    def __init__(self, value: bool):
        self.value = value

    def describe(self) -> str:
        return f"the constant {self.value}"

    def is_value(self) -> bool:
        return True

    def as_value(self, em, node) -> Value:
        return em.const(self.value)

    def static_value(self) -> Any:
        return self.value


class ExceptionValue(SugaredValue):
    """An exception instance being raised: class name and message value."""

    def __init__(self, cls_name: str, message: Optional[Value]):
        self.cls_name = cls_name
        self.message = message

    def describe(self) -> str:
        return f"a {self.cls_name} exception"


class ExceptionClassValue(SugaredValue):
    """A built-in exception class; calling it makes an `ExceptionValue`."""

    def __init__(self, cls: type):
        self.cls = cls

    def describe(self) -> str:
        return f"the exception class {self.cls.__name__}"

    def call(self, em, node, args, kwargs):
        if kwargs:
            em.fail(node, f"{self.cls.__name__}(...) takes no keyword arguments in script")
        if not args:
            return ExceptionValue(self.cls.__name__, None)
        if len(args) == 1:
            message = em.to_str(args[0], node)
            return ExceptionValue(self.cls.__name__, message)
        # Several arguments: Python shows them as a tuple.
        parts = [em.to_str(a, node) for a in args]
        fmt = "(" + ", ".join("{}" for _ in parts) + ")"
        return ExceptionValue(self.cls.__name__, em.op("prim::format", [em.const(fmt)] + parts, [STR]).output)


class PythonModuleValue(SugaredValue):
    """A Python module (`torch`, `math`, `F`, a user module): attributes resolve to sugared values."""

    def __init__(self, module: Any):
        self.module = module

    def describe(self) -> str:
        return f"the Python module '{self.module.__name__}'"

    def attr(self, em, node, name):
        _late("resolve").check_library_module(em, node, self.module, name)
        try:
            obj = getattr(self.module, name)
        except AttributeError:
            em.fail(node, f"module '{self.module.__name__}' has no attribute '{name}'")
        return em.compiler.resolver.to_sugared(em, node, obj, f"{self.module.__name__}.{name}")


class ClassObjectValue(SugaredValue):
    """A Python class used where only its identity matters (`isinstance(x, int)`, `torch.Tensor`)."""

    def __init__(self, cls: Any):
        self.cls = cls

    def describe(self) -> str:
        return f"the class {getattr(self.cls, '__qualname__', self.cls)}"

    def call(self, em, node, args, kwargs):
        em.fail(node, f"cannot construct {self.describe()} in script", hint="use a torch function (torch.tensor, torch.zeros, ...) or a script class")

    def static_value(self) -> Any:
        return self.cls
