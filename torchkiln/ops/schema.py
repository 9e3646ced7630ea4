"""Op schemas in TorchScript schema syntax: the data, a parser and a printer.

```python
s = parse_schema("aten::add.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor")
s.qualified_name        # 'aten::add.Tensor'
s.base_name             # 'aten::add'
s.overload              # 'Tensor'   ('' for the default overload: `aten::relu`)
s.arguments[2]          # SchemaArg(name='alpha', type=Scalar, default=1, has_default=True, kwarg_only=True)
str(s)                  # the text above, exactly
```

Syntax (torch/csrc/jit/frontend/function_schema_parser.cpp):

    ns::name[.overload](arg, ...) -> ret          ret: `T`, `T name`, `(T, T name)`, `()`, `...`
    arg: Type[alias][N] name[=default]            `*` marks the rest kwarg-only, `...` varargs
    Type: Tensor int float bool str None Device ScalarType Layout MemoryFormat
          Generator Scalar Any, T[] T[N] T? (T, T) Dict(K, V) Future(T) Union(A, B)
    alias: `(a)`, `(a!)` (written), `(a|b)`, `(a -> *)`, `!` (fresh written set);
          after a base type (`Tensor(a!)`, `Tensor(a)[]`: the list's elements)
          or after `[]` (`t[](a!)`: the list itself).

Note [Schema types]
-------------------
Types are `torchkiln.ir.types` types, plus two kinds that only schemas hold
and that never reach a graph:

- `TypeVarType("t")`: a type variable. As in TorchScript, every identifier
  that starts with a lower-case letter and is not a known type is one
  (`t`, `t1`, `tVal`); `K`, `V` and `T` are accepted too. Overload
  resolution (`ops/resolve.py`) binds them to concrete types.
- `UnsupportedType("Storage")`: a type torchkiln has no values for
  (`Storage`, `Stream`, `QScheme`, `Dimname`, `complex`, custom classes,
  `RRef(t)`, ...). An op using one is still in the table (`supported` is
  False) but resolution never picks it.

`SymInt`, `SymFloat` and `SymBool` are read as `int`, `float`, `bool`.
Defaults are Python values: numbers, bools, str, None, lists; defaults of
`ScalarType`, `Layout` and `MemoryFormat` arguments (ints in the dispatcher's
text) become `torch.dtype`, `torch.layout` and `torch.memory_format`, the
runtime values of those types. `int[2] stride=1` has the default `[1, 1]`.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch

from ..diagnostics import Error
from ..ir.types import (
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


class TypeVarType(Type):
    """A schema type variable such as `t` in `aten::append.t(t[](a!) self, t el)`."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TypeVarType) and other.name == self.name

    def __hash__(self) -> int:
        return hash(("TypeVar", self.name))

    def __repr__(self) -> str:
        return self.name

    __str__ = __repr__


class UnsupportedType(Type):
    """A schema type torchkiln has no runtime values for (see Note [Schema types])."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UnsupportedType) and other.name == self.name

    def __hash__(self) -> int:
        return hash(("Unsupported", self.name))

    def __repr__(self) -> str:
        return self.name

    __str__ = __repr__


class SchemaParseError(Error):
    """A schema string is not valid TorchScript schema syntax."""


_BASE_TYPES: Dict[str, Type] = {
    "Tensor": TENSOR,
    "int": INT,
    "SymInt": INT,
    "float": FLOAT,
    "SymFloat": FLOAT,
    "bool": BOOL,
    "SymBool": BOOL,
    "str": STR,
    "None": NONE,
    "NoneType": NONE,
    "Device": DEVICE,
    "ScalarType": SCALAR_TYPE,
    "Layout": LAYOUT,
    "MemoryFormat": MEMORY_FORMAT,
    "Generator": GENERATOR,
    "Scalar": SCALAR,
    "number": SCALAR,
    "Any": ANY,
}
_UNSUPPORTED = {
    "Storage", "Stream", "QScheme", "Dimname", "complex", "Capsule", "Quantizer",
    "ConstQuantizerPtr", "AnyClassType", "AnyEnumType", "SymNode", "Event",
}  # fmt: skip
_WRAPPERS_UNSUPPORTED = {"RRef", "Await"}
_UPPER_TYPE_VARS = {"K", "V", "T"}

# c10's enum values, as the dispatcher prints defaults of these types.
_SCALAR_TYPES = [
    torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.float16,
    torch.float32, torch.float64, torch.complex32, torch.complex64, torch.complex128,
    torch.bool, torch.qint8, torch.quint8, torch.qint32, torch.bfloat16,
]  # fmt: skip
_LAYOUTS = [torch.strided, torch.sparse_coo, torch.sparse_csr, torch.sparse_csc, torch.sparse_bsr, torch.sparse_bsc, torch._mkldnn]
_MEMORY_FORMATS = [torch.contiguous_format, torch.preserve_format, torch.channels_last, torch.channels_last_3d]
_ENUM_VALUES: Dict[Type, list] = {SCALAR_TYPE: _SCALAR_TYPES, LAYOUT: _LAYOUTS, MEMORY_FORMAT: _MEMORY_FORMATS}
# Identifiers TorchScript accepts as defaults (e.g. `int reduction=Mean`).
_IDENT_DEFAULTS: Dict[str, Any] = {"True": True, "False": False, "None": None, "Mean": 1, "Sum": 2,
                                   "contiguous_format": torch.contiguous_format, "long": torch.int64,
                                   "strided": torch.strided, "inf": float("inf"), "nan": float("nan")}  # fmt: skip


@dataclass(frozen=True)
class AliasInfo:
    """An alias annotation: `Tensor(a!)` is `AliasInfo(("a",), is_write=True)`.

    `sets` are the alias sets before the op (`("*",)` is the wildcard),
    `after` the sets after it where written with `->` (None: same as `sets`).
    `on_element` is True for `Tensor(a)[]`: the list's elements alias, not
    the list itself.
    """

    sets: Tuple[str, ...]
    is_write: bool = False
    after: Optional[Tuple[str, ...]] = None
    on_element: bool = False

    def text(self) -> str:
        if len(self.sets) == 1 and self.sets[0].startswith("$") and self.is_write and self.after is None:
            return "!"
        inner = "|".join(self.sets) + ("!" if self.is_write else "")
        if self.after is not None:
            inner += " -> " + "|".join(self.after)
        return f"({inner})"


@dataclass
class SchemaArg:
    """One argument or return of a schema.

    `N` is the fixed size of `int[2]`-style lists (the type is `int[]`).
    `default` is meaningful only when `has_default`.
    """

    name: str
    type: Type
    default: Any = None
    has_default: bool = False
    kwarg_only: bool = False
    alias: Optional[AliasInfo] = None
    N: Optional[int] = None

    @property
    def is_write(self) -> bool:
        return self.alias is not None and self.alias.is_write

    def type_text(self) -> str:
        return _type_text(self.type, self.alias, self.N)

    def __str__(self) -> str:
        text = self.type_text()
        if self.name:
            text += " " + self.name
        if self.has_default:
            text += "=" + _default_text(self.default)
        return text


@dataclass
class Schema:
    """A function schema; see the module docstring."""

    name: str  # `aten::add` (namespace and name, no overload)
    overload: str  # `Tensor`; '' for the default overload
    arguments: List[SchemaArg]
    returns: List[SchemaArg]
    is_vararg: bool = False
    is_varret: bool = False
    qualified_name: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.qualified_name = f"{self.name}.{self.overload}" if self.overload else self.name

    @property
    def base_name(self) -> str:
        return self.name

    @property
    def namespace(self) -> str:
        return self.name.split("::", 1)[0]

    @property
    def is_mutable(self) -> bool:
        """Whether the op writes to any argument (an `(a!)` annotation)."""
        return any(a.is_write for a in self.arguments)

    @property
    def supported(self) -> bool:
        """False when an argument or return has an `UnsupportedType` (computed once: resolution asks per call)."""
        found = self.__dict__.get("_supported")
        return found if found is not None else self._scan_types()[0]

    @property
    def has_type_vars(self) -> bool:
        """Whether an argument or return has a `TypeVarType` (computed once, as `supported`)."""
        found = self.__dict__.get("_has_type_vars")
        return found if found is not None else self._scan_types()[1]

    def _scan_types(self) -> Tuple[bool, bool]:
        """(`supported`, `has_type_vars`), from one walk over the types, kept in the instance's `__dict__`.

        Kept by hand: `functools.cached_property` takes a lock on every first
        read in Python 3.11. Resolution reads both of each schema it tries.
        """
        unsupported = generic = False
        todo = [a.type for a in self.arguments]
        todo += [r.type for r in self.returns]
        while todo:
            t = todo.pop()
            if isinstance(t, UnsupportedType):
                unsupported = True
            elif isinstance(t, TypeVarType):
                generic = True
            else:
                todo += t.contained()
        d = self.__dict__
        d["_supported"] = supported = not unsupported
        d["_has_type_vars"] = generic
        return supported, generic

    def argument_index(self, name: str) -> Optional[int]:
        for i, a in enumerate(self.arguments):
            if a.name == name:
                return i
        return None

    def __str__(self) -> str:
        args: List[str] = []
        kw_marked = False
        for a in self.arguments:
            if a.kwarg_only and not kw_marked and not self.is_vararg:
                args.append("*")
                kw_marked = True
            args.append(str(a))
        if self.is_vararg:
            pos = next((i for i, a in enumerate(self.arguments) if a.kwarg_only), len(self.arguments))
            args.insert(pos, "...")
        if self.is_varret:
            rets = "..."
        elif len(self.returns) == 1 and not str(self.returns[0]).startswith("("):
            rets = str(self.returns[0])
        else:
            rets = "(" + ", ".join(str(r) for r in self.returns) + ")"
        return f"{self.qualified_name}({', '.join(args)}) -> {rets}"


# -- printing ---------------------------------------------------------------


def _type_text(t: Type, alias: Optional[AliasInfo], n: Optional[int]) -> str:
    suffixes: List[Type] = []
    base = t
    while isinstance(base, (ListType, OptionalType)):
        suffixes.append(base)
        base = base.elem
    suffixes.reverse()  # innermost first
    has_list = any(isinstance(s, ListType) for s in suffixes)
    alias_on_base = alias is not None and (alias.on_element or not has_list)
    last_list = max((i for i, s in enumerate(suffixes) if isinstance(s, ListType)), default=-1)
    first_list = min((i for i, s in enumerate(suffixes) if isinstance(s, ListType)), default=-1)
    text = _base_text(base)
    if alias_on_base:
        text += alias.text()  # type: ignore[union-attr]
    for i, s in enumerate(suffixes):
        if isinstance(s, OptionalType):
            text += "?"
            continue
        text += f"[{n}]" if (n is not None and i == first_list) else "[]"
        if alias is not None and not alias_on_base and i == last_list:
            text += alias.text()
    return text


def _base_text(t: Type) -> str:
    if isinstance(t, TupleType):
        return "(" + ", ".join(_type_text(e, None, None) for e in t.elems) + ")"
    if isinstance(t, DictType):
        return f"Dict({_type_text(t.key, None, None)}, {_type_text(t.value, None, None)})"
    if isinstance(t, FutureType):
        return f"Future({_type_text(t.elem, None, None)})"
    if isinstance(t, UnionType):
        return "Union(" + ", ".join(_type_text(m, None, None) for m in t.members) + ")"
    return str(t)


def _float_text(v: float) -> str:
    """Floats as the dispatcher prints them: `%.17g`, with `.` on integral values."""
    text = f"{v:.17g}"
    if text.lstrip("-").isdigit():
        text += "."
    return text


_STR_ESCAPES = {"\\": "\\\\", '"': '\\"', "'": "\\'", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\f": "\\f", "\v": "\\v", "\a": "\\a", "\b": "\\b"}


def _default_text(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return _float_text(v)
    if isinstance(v, str):
        return '"' + "".join(_STR_ESCAPES.get(c, c) for c in v) + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_default_text(x) for x in v) + "]"
    for values in _ENUM_VALUES.values():
        if v in values:
            return str(values.index(v))
    if isinstance(v, torch.device):
        return f'"{v}"'
    raise AssertionError(f"cannot print default {v!r}")


# -- parsing ----------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    | (?P<num>-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?)
    | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<punct>\.\.\.|->|::|[()\[\],?!*|=.:-])
    )""",
    re.VERBOSE,
)


# The same tokens as one group (the text), and anything else as a second:
# `findall` lexes a whole schema in one call. A token's kind follows from
# its first character (`_kind`).
_TOKENS = re.compile(
    r"""\s*(?:(
        "(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'
      | -?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?
      | [A-Za-z_][A-Za-z0-9_]*
      | \.\.\.|->|::|[()\[\],?!*|=.:-]
    )|(\S))""",
    re.VERBOSE,
)


def _kind(t: str) -> str:
    """The kind of a token text from `_TOKENS` ("eof" for the end)."""
    if not t:
        return "eof"
    c = t[0]
    if c == '"' or c == "'":
        return "str"
    if c.isdigit() or (len(t) > 1 and c in "-." and t != "..." and t != "->"):
        return "num"
    if c.isalpha() or c == "_":
        return "ident"
    return "punct"


class _Lexer:
    """The tokens of a schema: `texts[i]`, with "" past the end.

    `accept`/`expect` compare texts: a string literal's text keeps its quotes,
    so it never equals punctuation or a name.
    """

    def __init__(self, text: str):
        self.text = text
        found = _TOKENS.findall(text)
        for _, bad in found:
            if bad:
                self._positions()  # raises, saying where
        self.texts: List[str] = [t for t, _ in found]
        self.n = len(self.texts)
        self.texts.append("")
        self.i = 0

    def _positions(self) -> List[int]:
        """Each token's start column (for error messages); raises at an unexpected character."""
        text = self.text
        starts: List[int] = []
        pos = 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                if text[pos:].strip() == "":
                    break
                raise SchemaParseError(f"unexpected character {text[pos]!r} at {pos} in schema {text!r}")
            kind = m.lastgroup
            assert kind is not None
            starts.append(m.start(kind))
            pos = m.end()
        return starts

    def at(self, ahead: int = 0) -> str:
        """The text of the token `ahead` places on ("" past the end)."""
        j = self.i + ahead
        return self.texts[j] if j < self.n else ""

    def peek(self, ahead: int = 0) -> Tuple[str, str]:
        t = self.at(ahead)
        return (_kind(t), t)

    def next(self) -> Tuple[str, str]:
        tok = self.peek()
        self.i += 1
        return tok

    def accept(self, text: str) -> bool:
        if self.i < self.n and self.texts[self.i] == text:
            self.i += 1
            return True
        return False

    def expect(self, text: str) -> None:
        if not self.accept(text):
            self.fail(f"expected {text!r}")

    def ident(self) -> str:
        t = self.texts[self.i] if self.i < self.n else ""
        if not (t[:1].isalpha() or t[:1] == "_"):  # `_kind(t) != "ident"`, inline: names are most tokens
            self.fail("expected a name")
        self.i += 1
        return t

    def fail(self, what: str):
        starts = self._positions()
        pos = starts[self.i] if self.i < len(starts) else len(self.text)
        raise SchemaParseError(f"{what} at column {pos} in schema:\n  {self.text}\n  {' ' * pos}^")


class _Parser:
    def __init__(self, text: str):
        self.lx = _Lexer(text)
        self.fresh = 0

    # Schema := name '(' args ')' '->' returns
    def schema(self) -> Schema:
        lx = self.lx
        ns = lx.ident()
        lx.expect("::")
        name = lx.ident()
        overload = ""
        if lx.accept("."):
            overload = lx.ident()
        lx.expect("(")
        args: List[SchemaArg] = []
        kwarg_only = False
        is_vararg = False
        if not lx.accept(")"):
            while True:
                if lx.accept("*"):
                    kwarg_only = True
                elif lx.accept("..."):
                    is_vararg = True
                    kwarg_only = True
                else:
                    args.append(self.argument(kwarg_only, is_return=False))
                if lx.accept(")"):
                    break
                lx.expect(",")
        lx.expect("->")
        rets: List[SchemaArg] = []
        is_varret = False
        if lx.accept("..."):
            is_varret = True
        elif lx.at() == "(" and self._paren_is_return_list():
            lx.expect("(")
            if not lx.accept(")"):
                while True:
                    if lx.accept("..."):
                        is_varret = True
                    else:
                        rets.append(self.argument(False, is_return=True))
                    if lx.accept(")"):
                        break
                    lx.expect(",")
        else:
            rets.append(self.argument(False, is_return=True))
        if lx.peek()[0] != "eof":
            lx.fail("unexpected text after the returns")
        return Schema(f"{ns}::{name}", overload, args, rets, is_vararg, is_varret)

    def _paren_is_return_list(self) -> bool:
        """`-> (A, B)` lists returns; `-> (A, B)[]` is one return of a tuple-list type."""
        depth = 0
        j = 0
        while True:
            kind, t = self.lx.peek(j)
            if kind == "eof":
                return True
            if kind != "str" and t == "(":
                depth += 1
            elif kind != "str" and t == ")":
                depth -= 1
                if depth == 0:
                    return self.lx.peek(j + 1)[0] == "eof"
            j += 1

    def argument(self, kwarg_only: bool, is_return: bool) -> SchemaArg:
        lx = self.lx
        typ, alias, n = self.type_with_alias(allow_n=not is_return)
        name = ""
        t = lx.at()
        if t[:1].isalpha() or t[:1] == "_":  # a name follows the type
            name = lx.ident()
        arg = SchemaArg(name, typ, kwarg_only=kwarg_only, alias=alias, N=n)
        if not is_return and lx.accept("="):
            arg.default = _convert_default(self.default_value(), typ, n)
            arg.has_default = True
        return arg

    def type_with_alias(self, allow_n: bool) -> Tuple[Type, Optional[AliasInfo], Optional[int]]:
        lx = self.lx
        alias: Optional[AliasInfo] = None
        n: Optional[int] = None
        typ = self.base_type()
        alias = self.alias()
        while True:
            if lx.at() == "[" and (lx.at(1) == "]" or (allow_n and _kind(lx.at(1)) == "num")):
                lx.next()
                if _kind(lx.at()) == "num":
                    n = int(lx.next()[1])
                lx.expect("]")
                typ = ListType(typ)
                container = self.alias()
                alias = container if container is not None else _on_element(alias)
            elif lx.accept("?"):
                typ = OptionalType(typ)
            else:
                break
        return typ, alias, n

    def type(self) -> Type:
        return self.type_with_alias(allow_n=False)[0]

    def base_type(self) -> Type:
        lx = self.lx
        if lx.accept("("):
            elems: List[Type] = []
            if not lx.accept(")"):
                while True:
                    elems.append(self.type())
                    if lx.accept(")"):
                        break
                    lx.expect(",")
            return TupleType(elems)
        name = lx.ident()
        if name == "__torch__":
            while lx.accept("."):
                name += "." + lx.ident()
            return UnsupportedType(name)
        if name in ("Future", "Dict", "Union", "Optional", "Tuple", "List") or name in _WRAPPERS_UNSUPPORTED:
            lx.expect("(")
            parts = [self.type()]
            while lx.accept(","):
                parts.append(self.type())
            lx.expect(")")
            if name == "Future" and len(parts) == 1:
                return FutureType(parts[0])
            if name == "Dict" and len(parts) == 2:
                return DictType(parts[0], parts[1])
            if name == "Union":
                return UnionType(parts)
            if name == "Optional" and len(parts) == 1:
                return OptionalType(parts[0])
            if name == "List" and len(parts) == 1:
                return ListType(parts[0])
            if name == "Tuple":
                return TupleType(parts)
            if name in _WRAPPERS_UNSUPPORTED:
                return UnsupportedType(f"{name}({', '.join(str(p) for p in parts)})")
            lx.fail(f"wrong number of type arguments for {name}")
        if name in _BASE_TYPES:
            return _BASE_TYPES[name]
        if name in _UNSUPPORTED:
            return UnsupportedType(name)
        if name[0].islower() or name in _UPPER_TYPE_VARS:
            return TypeVarType(name)
        lx.i -= 1
        lx.fail(f"unknown type {name!r}")
        raise AssertionError  # unreachable

    def alias(self) -> Optional[AliasInfo]:
        """`(a)`, `(a!)`, `(a|b)`, `(a -> *)`, `(*)` or `!` after a type; None if absent."""
        lx = self.lx
        if lx.at() == "!":
            lx.next()
            self.fresh += 1
            return AliasInfo((f"${self.fresh - 1}",), is_write=True)
        opens_alias = lx.at() == "(" and (_kind(lx.at(1)) == "ident" or lx.at(1) == "*")
        if not opens_alias:
            return None
        lx.expect("(")
        sets = self._alias_sets()
        is_write = lx.accept("!")
        after = None
        if lx.accept("->"):
            after = self._alias_sets() if lx.at() != ")" else ()
        lx.expect(")")
        return AliasInfo(sets, is_write, after)

    def _alias_sets(self) -> Tuple[str, ...]:
        lx = self.lx
        sets = []
        while True:
            sets.append("*" if lx.accept("*") else lx.ident())
            if not lx.accept("|"):
                return tuple(sets)

    def default_value(self) -> Any:
        lx = self.lx
        kind, text = lx.next()
        if kind == "str":
            inner = text[1:-1]
            # Without escapes or unprintable characters a literal is its text; `ast.literal_eval` compiles.
            return inner if "\\" not in inner and inner.isprintable() else ast.literal_eval(text)
        if kind == "num":
            return _number(text)
        if kind == "ident":
            if text in _IDENT_DEFAULTS:
                return _IDENT_DEFAULTS[text]
            lx.i -= 1
            lx.fail(f"unknown default value {text!r}")
        if text == "-":
            nxt = lx.ident()
            if nxt == "inf":
                return float("-inf")
            lx.fail(f"unknown default value -{nxt}")
        if text == "[":
            items = []
            if not lx.accept("]"):
                while True:
                    items.append(self.default_value())
                    if lx.accept("]"):
                        break
                    lx.expect(",")
            return items
        lx.i -= 1
        lx.fail("expected a default value")


def _number(text: str) -> Any:
    """The value of a number token: `1` is an int, `1.` and `1e-05` are floats."""
    return float(text) if any(c in text for c in ".eE") else int(text)


def _on_element(alias: Optional[AliasInfo]) -> Optional[AliasInfo]:
    """The alias of `T(a)` once `[]` follows it: the list's elements alias (`Tensor(a)[]`)."""
    if alias is None or alias.on_element:
        return alias
    return AliasInfo(alias.sets, alias.is_write, alias.after, on_element=True)


def _convert_default(value: Any, typ: Type, n: Optional[int]) -> Any:
    """The Python value of a default written in schema text (see Note [Schema types])."""
    if value is None:
        return None
    inner = typ.elem if isinstance(typ, OptionalType) else typ
    if isinstance(inner, ListType):
        if not isinstance(value, list):
            value = [value] * (n if n is not None else 1)
        return [_convert_default(v, inner.elem, None) for v in value]
    if inner in _ENUM_VALUES and isinstance(value, int) and not isinstance(value, bool):
        table = _ENUM_VALUES[inner]
        if 0 <= value < len(table):
            return table[value]
    if inner == FLOAT and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if inner == DEVICE and isinstance(value, str):
        return torch.device(value)
    return value


# Note [Parsing by pieces]
# ------------------------
# Compiling a program parses the schema of each op it calls at the op's
# first lookup (`ops/aten.py`), and those schemas share most of their pieces:
# `Tensor self`, `*`, `Tensor(a!) out`, `ScalarType? dtype=None`. So
# `parse_schema` cuts the text at each `, ` into argument and return texts
# (pieces) and reads each through a cache: piece -> its fields; on a miss,
# its type text -> (type, alias, N) and its default text -> value, cached
# too, each read alone (`_piece_type`, `_piece_default`).
#
# A piece that reads whole alone reads the same in place: the parser looks
# at most two tokens ahead, and past a piece's end only from a trailing `[`
# or `(`, which then stays unread. So pieces that each read whole, joined by
# `, ` and framed by `ns::name.overload(` and `) -> `, are the arguments and
# returns `_Parser` finds in the whole text, with the same fields (returns in
# brackets that close at the end are a list of returns, as
# `_Parser._paren_is_return_list` decides). Where a cut falls inside brackets
# (`Dict(str, t)`, `int[2] x=[1, 1]`) the piece goes on to the next cut. Any
# other text (other spacing, `, ` inside a string literal, a fresh alias `!`,
# whose set name counts through the schema, a piece that does not read)
# `_Parser` reads whole, which also keeps each SchemaParseError and its column.
#
# What the caches hold is immutable (types, AliasInfo, names, numbers,
# dtypes) or copied on the way out (lists of defaults), and each parse builds
# new SchemaArgs, so changing a parsed Schema never changes another. The
# caches are not bounded: one entry per distinct piece, about 2,000 for all
# of torch's schemas. Threads racing on a miss store equal values.

# `ns::name.overload(`: the text before the first piece.
_HEAD = re.compile(r"([A-Za-z_]\w*::[A-Za-z_]\w*)(?:\.([A-Za-z_]\w*))?\(", re.ASCII)
# Argument (return) text -> (name, type, default, has_default, alias, N).
_ARG_PIECES: Dict[str, tuple] = {}
_RETURN_PIECES: Dict[str, tuple] = {}
# Type text -> (type, alias, N); a base type's name reads as the type (`_Parser.base_type`).
_PIECE_TYPES: Dict[str, Tuple[Type, Optional[AliasInfo], Optional[int]]] = {k: (t, None, None) for k, t in _BASE_TYPES.items()}
# Default text -> value before `_convert_default`; an identifier reads as in `_Parser.default_value`.
_PIECE_DEFAULTS: Dict[str, Any] = dict(_IDENT_DEFAULTS)
_UNREAD = object()  # a text that does not read whole alone; a default not in the cache


def _parse_by_pieces(text: str) -> Optional[Schema]:
    """The schema, read piece by piece (Note [Parsing by pieces]); None where `_Parser` must read the whole text."""
    head = _HEAD.match(text)
    if head is None:
        return None
    start = head.end()
    end = text.find(") -> ", start)
    if end < 0:
        return None
    args: List[SchemaArg] = []
    is_vararg = False
    if end > start:
        read = _read_pieces(text[start:end], is_return=False)
        if read is None:
            return None
        args, is_vararg = read
    rets_text = text[end + 5 :]
    rets: List[SchemaArg] = []
    is_varret = False
    if rets_text[:1] == "(":
        if rets_text[-1:] != ")":  # `(A, B)[]`: `_Parser._paren_is_return_list` decides
            return None
        if len(rets_text) > 2:  # `(A, B name)`; `()` has none
            read = _read_pieces(rets_text[1:-1], is_return=True)
            if read is None:
                return None
            rets, is_varret = read
    elif rets_text == "...":
        is_varret = True
    elif rets_text[:1].isspace():  # ` (A, B)`: `_Parser` skips the space and reads a list
        return None
    else:
        entry = _RETURN_PIECES.get(rets_text) or _read_piece(rets_text, is_return=True)
        if entry is None:
            return None
        name, typ, _, _, alias, n = entry  # a return has no default
        rets = [SchemaArg(name, typ, None, False, False, alias, n)]
    return Schema(head[1], head[2] or "", args, rets, is_vararg, is_varret)


def _read_pieces(text: str, is_return: bool) -> Optional[Tuple[List[SchemaArg], bool]]:
    """The arguments (or returns) in `text`, and whether `...` is among them; None where a piece does not read whole.

    Brackets are counted on a cache miss only: a cached piece reads whole, so
    its brackets match.
    """
    cache = _RETURN_PIECES if is_return else _ARG_PIECES
    found: List[SchemaArg] = []
    kwarg_only = dots = False
    pending = ""
    for piece in text.split(", "):
        if pending:
            piece = pending + ", " + piece
            pending = ""
        entry = cache.get(piece)
        if entry is None:
            if piece == "...":
                dots = True
                kwarg_only = not is_return
                continue
            if piece == "*" and not is_return:
                kwarg_only = True
                continue
            if piece.count("(") > piece.count(")") or piece.count("[") > piece.count("]"):
                pending = piece
                continue
            entry = _read_piece(piece, is_return)
            if entry is None:
                return None
        name, typ, default, has_default, alias, n = entry
        if type(default) is list:
            default = _copy_list(default)
        found.append(SchemaArg(name, typ, default, has_default, kwarg_only, alias, n))
    return None if pending else (found, dots)


def _copy_list(value: list) -> list:
    return [_copy_list(v) if type(v) is list else v for v in value]


def _read_piece(piece: str, is_return: bool) -> Optional[tuple]:
    """The cache entry of an argument or return text, stored; None if it does not read whole alone.

    Any error is None too, whatever its kind (`ast.literal_eval` and
    `torch.device` raise their own): `_Parser` then reads the whole text and
    raises what it always raised, which may be an error earlier in the text.
    """
    try:
        head, eq, default_text = piece.partition("=")  # the first `=` starts the default: types and names have none
        type_text, space, name = head.rpartition(" ")
        if not (space and name.isascii() and name.isidentifier()):  # no name: `Tensor(a -> *)`, a return's `Tensor`
            type_text, name = head, ""
        typed = _piece_type(type_text)
        if typed is _UNREAD or (is_return and (eq or typed[2] is not None)):  # `int[2]` is a list in arguments only
            return None
        typ, alias, n = typed
        default = None
        if eq:
            raw = _piece_default(default_text)
            if raw is _UNREAD:
                return None
            default = _convert_default(raw, typ, n)
    except Exception:
        return None
    entry = (name, typ, default, bool(eq), alias, n)
    (_RETURN_PIECES if is_return else _ARG_PIECES)[piece] = entry
    return entry


def _piece_type(text: str) -> Any:
    """(type, alias, N) of a type text, cached; `_UNREAD` (or an error) if it does not read whole alone.

    `T?` and `T[]` are built from `T`'s entry as `_Parser.type_with_alias`
    builds them from its state after `T` (a suffix changes no decision made
    before it), so `Layout?`, `SymInt[]?`, `Tensor(a)[]` cost no parse.
    """
    typed = _PIECE_TYPES.get(text)
    if typed is None:
        if text[-1:] == "?":
            typed = _piece_type(text[:-1])
            if typed is not _UNREAD:
                typed = (OptionalType(typed[0]), typed[1], typed[2])
        elif text[-2:] == "[]":
            typed = _piece_type(text[:-2])
            if typed is not _UNREAD:
                typed = (ListType(typed[0]), _on_element(typed[1]), typed[2])
        else:
            typed = _read_alone(text, lambda p: p.type_with_alias(allow_n=True))
        if typed is not _UNREAD:
            _PIECE_TYPES[text] = typed
    return typed


def _piece_default(text: str) -> Any:
    """A default text's value before `_convert_default`, cached; `_UNREAD` (or an error) if it does not read whole alone."""
    raw = _PIECE_DEFAULTS.get(text, _UNREAD)
    if raw is _UNREAD:
        found = _TOKENS.findall(text)
        if len(found) == 1 and _kind(found[0][0]) == "num":  # what `_Parser.default_value` reads, without a parser
            raw = _number(found[0][0])
        else:
            raw = _read_alone(text, _Parser.default_value)
        if raw is not _UNREAD:
            _PIECE_DEFAULTS[text] = raw
    return raw


def _read_alone(text: str, read: Callable[[_Parser], Any]) -> Any:
    """`read(parser)` over `text` alone, or `_UNREAD` where that leaves text unread or counts a fresh alias.

    Raises what `_Parser` raises.
    """
    p = _Parser(text)
    value = read(p)
    return value if p.lx.i == p.lx.n and p.fresh == 0 else _UNREAD


def parse_schema(text: str) -> Schema:
    """Parse TorchScript schema syntax; raises `SchemaParseError` on bad text.

    `parse_schema("aten::relu(Tensor self) -> Tensor").qualified_name == "aten::relu"`

    Reads the pieces of the dispatcher's spelling through caches (Note
    [Parsing by pieces]); `_Parser` reads any other text whole.
    """
    found = _parse_by_pieces(text)
    return found if found is not None else _Parser(text).schema()


def parse_type(text: str) -> Type:
    """Parse one type in schema syntax, e.g. `int[]?` or `Dict(str, t)`."""
    p = _Parser(text)
    t = p.type()
    if p.lx.peek()[0] != "eof":
        p.lx.fail("unexpected text after the type")
    return t


def from_torch_schema(schema: "torch.FunctionSchema") -> Schema:
    """Convert a `torch.FunctionSchema` (e.g. `torch.ops.aten.add.Tensor._schema`).

    Goes through the schema's text: torch's Python bindings do not expose
    where an alias annotation sits in a list type (`Tensor(a!)[]` against
    `Tensor[](a!)`), the text does. `type_from_torch` converts single types.
    """
    return parse_schema(str(schema))


def type_from_torch(t: "torch._C.JitType") -> Type:
    """Convert a torch JIT type (use `arg.real_type`, which keeps ScalarType & co)."""
    kind = t.kind()
    simple = {
        "TensorType": TENSOR, "IntType": INT, "SymIntType": INT, "FloatType": FLOAT, "SymFloatType": FLOAT,
        "BoolType": BOOL, "SymBoolType": BOOL, "StringType": STR, "NoneType": NONE, "DeviceObjType": DEVICE,
        "NumberType": SCALAR, "AnyType": ANY, "GeneratorType": GENERATOR, "ScalarTypeType": SCALAR_TYPE,
        "LayoutType": LAYOUT, "MemoryFormatType": MEMORY_FORMAT,
    }  # fmt: skip
    if kind in simple:
        return simple[kind]
    inner: Sequence = t.containedTypes()
    if kind == "ListType":
        return ListType(type_from_torch(inner[0]))
    if kind == "OptionalType":
        return OptionalType(type_from_torch(inner[0]))
    if kind == "TupleType":
        return TupleType([type_from_torch(e) for e in inner])
    if kind == "DictType":
        return DictType(type_from_torch(inner[0]), type_from_torch(inner[1]))
    if kind == "FutureType":
        return FutureType(type_from_torch(inner[0]))
    if kind == "UnionType":
        return UnionType([type_from_torch(e) for e in inner])
    if kind == "VarType":
        return TypeVarType(str(t))
    return UnsupportedType(str(t))
