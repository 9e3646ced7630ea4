"""Python type annotations -> IR types.

Annotations are read from the source (`ast` expressions), as TorchScript
does: the objects Python evaluates are sometimes useless
(`BroadcastingList2[int]` evaluates to None). Names inside an annotation are
looked up in the function's namespace with `lookup(name)`.

```
int  float  bool  str  None  torch.Tensor  torch.device  torch.dtype    -> int float bool str NoneType Tensor Device ScalarType
List[int]  list[int]  Tuple[int, str]  tuple[()]  Dict[str, Tensor]     -> int[]  (int, str)  ()  Dict(str, Tensor)
Optional[T]  T | None  Union[A, B]  Any  Final[T]                        -> T?  T?  Union(A, B)  Any  T
BroadcastingList2[int]                                                   -> int[] (an int argument is repeated twice)
a NamedTuple class, a script class                                       -> NamedTuple ..., the class type
```
"""
from __future__ import annotations

import ast
import builtins
import collections.abc
import types
import typing
from dataclasses import dataclass
from typing import Any, Callable, Optional

import torch

from ...diagnostics import CompileError, SourceRange
from ...ir.types import (
    ANY,
    BOOL,
    DEVICE,
    FLOAT,
    GENERATOR,
    INT,
    LAYOUT,
    MEMORY_FORMAT,
    NONE,
    SCALAR,
    SCALAR_TYPE,
    STR,
    TENSOR,
    DictType,
    FutureType,
    ListType,
    OptionalType,
    TupleType,
    Type,
    UnionType,
)

_SIMPLE = {
    int: INT,
    float: FLOAT,
    bool: BOOL,
    str: STR,
    type(None): NONE,
    torch.Tensor: TENSOR,
    torch.nn.Parameter: TENSOR,
    torch.device: DEVICE,
    torch.dtype: SCALAR_TYPE,
    torch.layout: LAYOUT,
    torch.memory_format: MEMORY_FORMAT,
    torch.Generator: GENERATOR,
    typing.Any: ANY,
    complex: None,
}

_NUMBER = "__torchscript_number__"  # TorchScript's `number` (Scalar), only in type comments
_TYPING_FALLBACK = {
    "Optional": typing.Optional,
    "List": typing.List,
    "Dict": typing.Dict,
    "Tuple": typing.Tuple,
    "Union": typing.Union,
    "Any": typing.Any,
    "Tensor": torch.Tensor,
    "number": _NUMBER,
}

_HINT = "use int, float, bool, str, Tensor, List[T], Tuple[...], Dict[K, V], Optional[T], Union[...], a NamedTuple or a script class"


@dataclass(frozen=True)
class AnnotatedType:
    """A parsed annotation: the type, and N for `BroadcastingListN[T]`."""

    type: Type
    broadcast: Optional[int] = None


class TypeParser:
    """Turns annotation expressions into types.

    `lookup(name)` returns the Python object a name means where the
    annotation is written (raising KeyError when unknown); `class_type(cls)`
    returns the IR type of a user class (script class or NamedTuple) or None.
    """

    def __init__(self, lookup: Callable[[str], Any], class_type: Callable[[Any, SourceRange], Optional[Type]], loc: Callable[[ast.AST], SourceRange]):
        self.lookup = lookup
        self.class_type = class_type
        self.loc = loc

    # -- from source --------------------------------------------------------
    def parse(self, node: ast.expr) -> Type:
        return self.parse_annotated(node).type

    def parse_annotated(self, node: ast.expr) -> AnnotatedType:
        if isinstance(node, ast.Constant):
            if node.value is None:
                return AnnotatedType(NONE)
            if isinstance(node.value, str):
                return self._parse_string(node)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            left, right = self.parse_annotated(node.left), self.parse_annotated(node.right)
            return AnnotatedType(_union([left.type, right.type]), left.broadcast or right.broadcast)
        if isinstance(node, ast.Subscript):
            return self._parse_subscript(node)
        if isinstance(node, (ast.Name, ast.Attribute)):
            obj = self._object(node)
            if obj is int and getattr(node, "id", getattr(node, "attr", "")) == "DType":
                # torch.nn.functional writes torch.dtype as `DType = int` for TorchScript, where
                # dtypes are ints; here they are ScalarType values.
                return AnnotatedType(SCALAR_TYPE)
            return AnnotatedType(self.from_object(obj, self.loc(node)))
        raise CompileError(f"unsupported type annotation `{ast.unparse(node)}`", self.loc(node), hint=_HINT)

    def _parse_string(self, node: ast.Constant) -> AnnotatedType:
        try:
            inner = ast.parse(node.value, mode="eval").body
        except SyntaxError:
            raise CompileError(f"cannot parse the type annotation {node.value!r}", self.loc(node), hint=_HINT) from None
        ast.copy_location(inner, node)
        for sub in ast.walk(inner):
            ast.copy_location(sub, node)
        return self.parse_annotated(inner)

    def _object(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Name):
            try:
                return self.lookup(node.id)
            except KeyError:
                if node.id in _TYPING_FALLBACK:
                    # TorchScript knows these names where the module does not import them
                    # (torch/functional.py's `# type:` comments use Optional, List, number unimported).
                    return _TYPING_FALLBACK[node.id]
                raise CompileError(f"unknown type `{node.id}` in an annotation", self.loc(node), hint=_HINT) from None
        if isinstance(node, ast.Attribute):
            base = self._object(node.value)
            try:
                return getattr(base, node.attr)
            except AttributeError:
                raise CompileError(f"unknown type `{ast.unparse(node)}` in an annotation", self.loc(node), hint=_HINT) from None
        raise CompileError(f"unsupported type annotation `{ast.unparse(node)}`", self.loc(node), hint=_HINT)

    def _parse_subscript(self, node: ast.Subscript) -> AnnotatedType:
        base_node = node.value
        base_name = base_node.id if isinstance(base_node, ast.Name) else getattr(base_node, "attr", "")
        if base_name.startswith("BroadcastingList"):
            n = int(base_name[len("BroadcastingList"):] or 1)
            return AnnotatedType(ListType(self.parse(node.slice)), broadcast=n)
        base = self._object(base_node)
        args = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        origin = _origin(base)
        loc = self.loc(node)
        if origin is list:
            return AnnotatedType(ListType(self._one(args, node)))
        if origin is tuple:
            if len(args) == 1 and isinstance(args[0], ast.Tuple) and not args[0].elts:
                return AnnotatedType(TupleType([]))
            if len(args) == 2 and isinstance(args[1], ast.Constant) and args[1].value is Ellipsis:
                raise CompileError("variable-length tuples (`Tuple[T, ...]`) are not supported", loc, hint="use List[T]")
            return AnnotatedType(TupleType([self.parse(a) for a in args]))
        if origin is dict:
            if len(args) != 2:
                raise CompileError("Dict takes two types, Dict[K, V]", loc)
            return AnnotatedType(DictType(self.parse(args[0]), self.parse(args[1])))
        if base is typing.Optional:
            if len(args) != 1:
                raise CompileError(f"`{ast.unparse(node)}` takes one type", loc, hint=_HINT)
            inner_ann = self.parse_annotated(args[0])
            inner = inner_ann.type
            return AnnotatedType(inner if inner == NONE or isinstance(inner, OptionalType) else OptionalType(inner), inner_ann.broadcast)
        if base is typing.Union:
            return AnnotatedType(_union([self.parse(a) for a in args]))
        if base is typing.Final or base_name == "Final":
            return self.parse_annotated(args[0])
        if _is_future(base):
            return AnnotatedType(FutureType(self._one(args, node)))
        if _is_type_predicate(base):
            return AnnotatedType(BOOL)  # `-> TypeGuard[T]` / `-> TypeIs[T]`: the function returns a bool
        raise CompileError(f"unsupported type annotation `{ast.unparse(node)}`", loc, hint=_HINT)

    def _one(self, args, node: ast.AST) -> Type:
        if len(args) != 1:
            raise CompileError(f"`{ast.unparse(node)}` takes one type", self.loc(node), hint=_HINT)
        return self.parse(args[0])

    # -- from objects -------------------------------------------------------
    def from_object(self, obj: Any, loc: SourceRange) -> Type:
        """The type an annotation object (not source) means."""
        bare = _BARE_CONTAINERS.get(obj) if isinstance(obj, type) or obj in (typing.List, typing.Dict) else None
        if bare is not None:
            raise CompileError(
                f"a bare `{_show(obj)}` annotation does not give the type of the items",
                loc,
                hint=f"write {bare} (torch.jit refuses a bare dict, and cannot call a function whose parameter is a bare list or tuple)",
            )
        t = self.try_object(obj, loc)
        if t is None:
            raise CompileError(f"unsupported type annotation `{_show(obj)}`", loc, hint=_HINT)
        return t

    def try_object(self, obj: Any, loc: SourceRange) -> Optional[Type]:
        if obj is None:
            return NONE
        if isinstance(obj, str):
            if obj == _NUMBER:
                return SCALAR
            try:
                node = ast.parse(obj, mode="eval").body
            except SyntaxError:
                return None
            return self.parse(node)
        try:
            simple = _SIMPLE.get(obj)
        except TypeError:
            simple = None
        if simple is not None:
            return simple
        origin = _origin(obj)
        args = typing.get_args(obj)
        if _is_type_predicate(origin):
            return BOOL
        if origin is list and len(args) == 1:
            inner = self.try_object(args[0], loc)
            return ListType(inner) if inner is not None else None
        if origin is tuple:
            if args == ((),) or (not args and obj is not tuple):
                return TupleType([])
            parts = [self.try_object(a, loc) for a in args]
            return None if any(p is None for p in parts) else TupleType(parts)  # type: ignore[arg-type]
        if origin is dict and len(args) == 2:
            k, v = self.try_object(args[0], loc), self.try_object(args[1], loc)
            return DictType(k, v) if k is not None and v is not None else None
        if origin in (typing.Union, types.UnionType):
            parts = [self.try_object(a, loc) for a in args]
            return None if any(p is None for p in parts) else _union(parts)  # type: ignore[arg-type]
        if origin is typing.Final or getattr(obj, "__origin__", None) is typing.Final:
            return self.try_object(args[0], loc) if args else None
        if _is_future(origin) and len(args) == 1:
            inner = self.try_object(args[0], loc)
            return FutureType(inner) if inner is not None else None
        if isinstance(obj, type):
            return self.class_type(obj, loc)
        return None


# bare container annotations (`-> list`), refused with the form to write instead
_BARE_CONTAINERS = {list: "List[T], e.g. List[int]", dict: "Dict[K, V], e.g. Dict[str, Tensor]", tuple: "Tuple[...], e.g. Tuple[int, str]",
                    typing.List: "List[T], e.g. List[int]", typing.Dict: "Dict[K, V], e.g. Dict[str, Tensor]"}  # fmt: skip


def _origin(obj: Any) -> Any:
    if obj in (typing.List, list):
        return list
    if obj in (typing.Tuple, tuple):
        return tuple
    if obj in (typing.Dict, dict):
        return dict
    origin = typing.get_origin(obj)
    if origin in (list, collections.abc.MutableSequence, collections.abc.Sequence):
        return list
    if origin is dict or origin is collections.abc.Mapping:
        return dict
    return origin


def _is_future(obj: Any) -> bool:
    return obj is torch.futures.Future or obj is getattr(torch.jit, "Future", None) or obj is getattr(torch._C, "Future", None)


def _union(parts) -> Type:
    """`Union[...]`: flattened, deduplicated; `Union[T, None]` is `Optional[T]`."""
    flat = []
    for p in parts:
        members = p.members if isinstance(p, UnionType) else ((p.elem, NONE) if isinstance(p, OptionalType) else (p,))
        for m in members:
            if m not in flat:
                flat.append(m)
    has_none = NONE in flat
    rest = [m for m in flat if m != NONE]
    if not rest:
        return NONE
    inner = rest[0] if len(rest) == 1 else UnionType(rest)
    return OptionalType(inner) if has_none else inner


def _show(obj: Any) -> str:
    return getattr(obj, "__qualname__", None) or repr(obj)


def is_builtin_name(name: str) -> bool:
    return hasattr(builtins, name)


def _is_type_predicate(obj: Any) -> bool:
    """`typing.TypeGuard` or `TypeIs` (typing or typing_extensions): a return annotation meaning bool."""
    return getattr(obj, "_name", None) in ("TypeGuard", "TypeIs") and type(obj).__module__ in ("typing", "typing_extensions")


__all__ = ["AnnotatedType", "TypeParser"]
