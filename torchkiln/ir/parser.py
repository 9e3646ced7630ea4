"""Read the IR text form (written by `printer.py`) back into a Graph.

```python
g = parse_graph('''
graph(%x : Tensor):
  %1 : int = prim::Constant[value=1]()
  %2 : Tensor = aten::add.Tensor(%x, %x, %1)  # model.py:7:15
  return (%2)
''')
assert print_graph(g) == print_graph(parse_graph(print_graph(g)))
```

The parser reads layout-free tokens (indentation is not significant) and is
permissive about meaning: it builds whatever the text says, so tests can
write broken IR for the verifier. It insists only on what it needs to build
a graph: every value is defined (once) earlier in the text than its uses,
every type and attribute value is well-formed, class and interface types
are known (passed in `classes=` by qualified name).

Comments run from `#` to the end of the line. A comment of the form
`# file:line:col` on the line where a node's input list closes is that node's
source location; other comments are ignored. Names as printed become the
values' hints (all-digit names: no hint), see Note [Value names] in
`printer.py`.
"""
from __future__ import annotations

import math
import re
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

import torch

from ..diagnostics import Error, SourceRange
from .core import Argument, Block, Function, Graph, Node, Value
from .printer import NAME_DTYPES
from .types import (
    SINGLETONS,
    DictType,
    FutureType,
    ListType,
    OptionalType,
    TensorType,
    TupleType,
    Type,
    UnionType,
)


class IRParseError(Error):
    """The IR text is malformed; the message starts with `file:line:col` and shows a caret.

    ```
    <ir>:3:28: expected ')' to close the inputs, found '='
        %2 : Tensor = aten::relu(%x = 1)
                                    ^
    ```
    """

    def __init__(self, what: str, filename: str, line: int, col: int, source_line: str = ""):
        self.what = what
        self.filename = filename
        self.line = line  # 1-based
        self.col = col  # 1-based
        text = f"{filename}:{line}:{col}: {what}"
        if source_line:
            text += f"\n    {source_line}\n    {' ' * (col - 1)}^"
        super().__init__(text)


# -- tokens -------------------------------------------------------------------

_SEGMENT = r"(?:[A-Za-z_][A-Za-z0-9_]*|<[A-Za-z_][A-Za-z0-9_]*>)"
_TOKEN = re.compile(
    rf"""
     (?P<space>[ \t\r\f]+|\n)
    |(?P<comment>\#[^\n]*)
    |(?P<value>%[A-Za-z0-9_.]+)
    |(?P<kind>[A-Za-z_][A-Za-z0-9_]*::[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*)
    |(?P<arrow>->)
    |(?P<number>-?(?:\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|inf\b|nan\b))
    |(?P<name>{_SEGMENT}(?:\.{_SEGMENT})*)
    |(?P<string>"(?:[^"\\\n]|\\.)*")
    |(?P<ellipsis>\.\.\.)
    |(?P<punct>[()\[\],:=?*/])
    """,
    re.VERBOSE,
)


class Token(NamedTuple):
    kind: str  # value kind arrow number name string ellipsis punct comment eof
    text: str
    line: int
    col: int


def _lex(text: str, filename: str) -> Tuple[List[Token], Dict[int, Token]]:
    """Tokens (comments left out) and each line's comment."""
    tokens: List[Token] = []
    comments: Dict[int, Token] = {}
    line, line_start, pos = 1, 0, 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        col = pos - line_start + 1
        if m is None:
            src = text[line_start:text.find("\n", pos) if "\n" in text[pos:] else len(text)]
            raise IRParseError(f"unexpected character {text[pos]!r}", filename, line, col, src)
        kind = m.lastgroup or ""
        if kind == "comment":
            comments[line] = Token(kind, m.group(), line, col)
        elif kind != "space":
            tokens.append(Token(kind, m.group(), line, col))
        elif m.group() == "\n":
            line, line_start = line + 1, m.end()
        pos = m.end()
    tokens.append(Token("eof", "", line, pos - line_start + 1))
    return tokens, comments


_UNESCAPE = {"\\": "\\", '"': '"', "n": "\n", "t": "\t", "r": "\r", "0": "\0", "'": "'"}


# -- the parser ---------------------------------------------------------------


class _Parser:
    def __init__(self, text: str, classes: Optional[Dict[str, Type]], filename: str):
        self.src_lines = text.split("\n")
        self.filename = filename
        self.toks, self.comments = _lex(text, filename)
        self.pos = 0
        self.classes = classes or {}
        self.values: Dict[str, Value] = {}
        self.defined_at: Dict[str, int] = {}

    # -- token helpers --------------------------------------------------------
    def peek(self, ahead: int = 0) -> Token:
        return self.toks[min(self.pos + ahead, len(self.toks) - 1)]

    def next(self) -> Token:
        tok = self.peek()
        self.pos = min(self.pos + 1, len(self.toks) - 1)
        return tok

    def at(self, text: str, ahead: int = 0) -> bool:
        tok = self.peek(ahead)
        return tok.text == text and tok.kind in ("punct", "name", "arrow", "ellipsis")

    def accept(self, text: str) -> bool:
        if self.at(text):
            self.next()
            return True
        return False

    def expect(self, text: str, what: str) -> Token:
        if not self.at(text):
            self.fail(f"expected '{text}' {what}, found {self.describe(self.peek())}")
        return self.next()

    def expect_kind(self, kind: str, what: str) -> Token:
        if self.peek().kind != kind:
            self.fail(f"expected {what}, found {self.describe(self.peek())}")
        return self.next()

    def expect_identifier(self, what: str) -> Token:
        """A name token; also `inf` and `nan`, which the lexer reads as numbers but are
        valid Python identifiers (a field, argument or attribute may be called `nan`)."""
        tok = self.peek()
        if tok.kind == "number" and tok.text in ("inf", "nan"):
            return self.next()
        return self.expect_kind("name", what)

    @staticmethod
    def describe(tok: Token) -> str:
        return "the end of the text" if tok.kind == "eof" else repr(tok.text)

    def fail(self, what: str, tok: Optional[Token] = None) -> None:
        tok = tok or self.peek()
        src = self.src_lines[tok.line - 1] if 0 < tok.line <= len(self.src_lines) else ""
        raise IRParseError(what, self.filename, tok.line, tok.col, src)

    def comma_list(self, close: str, item, what: str) -> list:
        """Items separated by commas up to `close` (consumed); a trailing comma is allowed."""
        items = []
        while not self.at(close):
            items.append(item())
            if not self.accept(","):
                break
        self.expect(close, f"to close {what}")
        return items

    # -- values (SSA) ---------------------------------------------------------
    def define(self, tok: Token, typ: Type) -> Tuple[str, Optional[str]]:
        name = tok.text[1:]
        if name in self.values:
            self.fail(f"%{name} is defined twice (first on line {self.defined_at[name]})", tok)
        self.defined_at[name] = tok.line
        return name, (None if name.isdigit() else name)

    def use(self) -> Value:
        tok = self.expect_kind("value", "a value such as %x")
        v = self.values.get(tok.text[1:])
        if v is None:
            self.fail(f"{tok.text} is not defined before this use", tok)
        return v  # type: ignore[return-value]

    def typed_value(self) -> Tuple[Token, Type]:
        tok = self.expect_kind("value", "a value such as %x")
        self.expect(":", f"and a type after {tok.text}")
        return tok, self.type()

    def params_into(self, block: Block) -> None:
        self.expect("(", "to open the parameter list")
        for tok, typ in self.comma_list(")", self.typed_value, "the parameter list"):
            name, hint = self.define(tok, typ)
            self.values[name] = block.add_param(typ, hint)

    # -- graphs ---------------------------------------------------------------
    def graph(self) -> Graph:
        self.expect("graph", "at the start of a graph")
        g = Graph()
        self.params_into(g.block)
        self.expect(":", "after the graph's inputs")
        self.block_body(g.block, "return")
        return g

    def block_body(self, block: Block, end: str) -> None:
        while True:
            tok = self.peek()
            if tok.kind in ("value", "kind"):
                block.append(self.node())
                continue
            if self.at("return") or self.at("->"):
                if tok.text != end:
                    self.fail(f"a {'graph' if end == 'return' else 'nested block'} ends with '{end}', not '{tok.text}'")
                self.next()
                self.expect("(", f"after '{end}'")
                for v in self.comma_list(")", self.use, "the returned values"):
                    block.add_return(v)
                return
            self.fail(f"expected a node or '{end}', found {self.describe(tok)}")

    def node(self) -> Node:
        outs: List[Tuple[Token, Type]] = []
        if self.peek().kind == "value":
            outs.append(self.typed_value())
            while self.accept(","):
                outs.append(self.typed_value())
            self.expect("=", "after the node's outputs")
        kind = self.expect_kind("kind", "an op kind such as aten::add.Tensor").text
        attrs: Dict[str, Any] = {}
        if self.accept("["):
            for key, val in self.comma_list("]", self.attr, "the attributes"):
                attrs[key] = val
        self.expect("(", f"to open {kind}'s inputs")
        inputs = self.comma_list(")", self.use, f"{kind}'s inputs")
        node = Node(kind, attrs, self.location(self.toks[self.pos - 1].line))
        for v in inputs:
            node.add_input(v)
        for tok, typ in outs:
            name, hint = self.define(tok, typ)
            self.values[name] = node.add_output(typ, hint)
        while self.peek().kind == "name" and re.fullmatch(r"block\d+", self.peek().text):
            tok = self.next()
            if tok.text != f"block{len(node.blocks)}":
                self.fail(f"expected block{len(node.blocks)} here, found {tok.text}", tok)
            b = node.add_block()
            self.params_into(b)
            self.expect(":", "after the block's parameters")
            self.block_body(b, "->")
        return node

    def attr(self) -> Tuple[str, Any]:
        key = self.expect_identifier("an attribute name")
        if "." in key.text:
            self.fail(f"attribute names are identifiers, not {key.text!r}", key)
        self.expect("=", f"after attribute name {key.text}")
        return key.text, self.value()

    def location(self, line: int) -> Optional[SourceRange]:
        tok = self.comments.get(line)
        if tok is None:
            return None
        m = re.fullmatch(r"#\s*(.*):(\d+):(\d+)\s*", tok.text)
        if m is None:
            return None
        return SourceRange(m.group(1), int(m.group(2)), int(m.group(3)))

    # -- functions ------------------------------------------------------------
    def function(self) -> Function:
        def_tok = self.expect("def", "at the start of a function")
        name = self.expect_kind("name", "the function's name").text
        self.expect("(", "to open the function's arguments")
        args: List[Argument] = []
        kwarg_only = False
        while not self.at(")"):
            if self.accept("*"):
                kwarg_only = True
            elif self.accept("/"):  # the args so far are positional-only
                for arg in args:
                    arg.positional_only = True
            else:
                arg_name = self.expect_identifier("an argument name").text
                self.expect(":", f"and a type after argument {arg_name}")
                arg = Argument(arg_name, self.type(), kwarg_only=kwarg_only)
                if self.accept("="):
                    arg.has_default, arg.default = True, self.value()
                args.append(arg)
            if not self.accept(","):
                break
        self.expect(")", "to close the function's arguments")
        self.expect("->", "before the return type")
        returns = self.type()
        loc = self.location(def_tok.line)
        return Function(name, self.graph(), args, returns, loc)

    def end(self) -> None:
        if self.peek().kind != "eof":
            self.fail(f"unexpected {self.describe(self.peek())} after the end")

    # -- types ----------------------------------------------------------------
    def type(self) -> Type:
        t = self.primary_type()
        while True:
            if self.at("[") and self.at("]", 1):
                self.next(), self.next()
                t = ListType(t)
            elif self.accept("?"):
                t = OptionalType(t)
            else:
                return t

    def primary_type(self) -> Type:
        if self.accept("("):
            return TupleType(self.comma_list(")", self.type, "the tuple type"))
        tok = self.expect_kind("name", "a type")
        name = tok.text
        if name in NAME_DTYPES or name == "Tensor":
            if self.at("("):
                return self.refined_tensor(None if name == "Tensor" else NAME_DTYPES[name])
            if name == "Tensor":
                return SINGLETONS["Tensor"]
        if name in SINGLETONS:
            return SINGLETONS[name]
        if name == "None":  # the Python spelling
            return SINGLETONS["NoneType"]
        if name == "NamedTuple":
            return self.named_tuple()
        generic = self.generic_type(name)
        if generic is not None:
            return generic
        cls = self.classes.get(name)
        if cls is None:
            self.fail(f"unknown type {name!r} (class and interface types must be passed in classes=)", tok)
        return cls  # type: ignore[return-value]

    def generic_type(self, name: str) -> Optional[Type]:
        """`Dict(K, V)`, `Union(...)`, `Future(T)`, or the Python spellings `List[T]`, `Dict[K, V]`..."""
        if name not in ("Dict", "Union", "Future", "List", "Optional", "Tuple"):
            return None
        if self.at("[") and not self.at("]", 1):
            self.next()
            close = "]"
        elif name in ("Dict", "Union", "Future") and self.accept("("):
            close = ")"
        else:
            return None
        args = self.comma_list(close, self.type, f"{name}'s arguments")
        arity = {"Dict": 2, "Future": 1, "List": 1, "Optional": 1}.get(name)
        if arity is not None and len(args) != arity:
            self.fail(f"{name} takes {arity} type argument(s), got {len(args)}", self.toks[self.pos - 1])
        make = {
            "Dict": lambda: DictType(*args),
            "Union": lambda: UnionType(args),
            "Future": lambda: FutureType(args[0]),
            "List": lambda: ListType(args[0]),
            "Optional": lambda: OptionalType(args[0]),
            "Tuple": lambda: TupleType(args),
        }
        return make[name]()

    def named_tuple(self) -> Type:
        name = self.expect_kind("name", "the NamedTuple's qualified name").text
        self.expect("(", "to open the NamedTuple's fields")

        def field() -> Tuple[str, Type]:
            f = self.expect_identifier("a field name").text
            self.expect(":", f"and a type after field {f}")
            return f, self.type()

        fields = self.comma_list(")", field, "the NamedTuple's fields")
        return TupleType([t for _, t in fields], name, [f for f, _ in fields])

    def refined_tensor(self, dtype: Optional[torch.dtype]) -> Type:
        self.expect("(", "to open the tensor type's refinements")
        sizes: Optional[List[Optional[int]]] = []
        device = None
        while not self.at(")"):
            tok = self.peek()
            if device is not None:
                self.fail("device= comes last in a tensor type")
            if self.accept("..."):
                if sizes:
                    self.fail("'...' (rank unknown) cannot follow sizes", tok)
                sizes = None
            elif self.accept("*") or tok.kind == "number":
                if sizes is None:
                    self.fail("sizes cannot follow '...' (rank unknown)", tok)
                if tok.kind == "number":
                    self.next()
                    if not tok.text.isdigit():
                        self.fail(f"a size is a non-negative integer or '*', not {tok.text}", tok)
                sizes.append(None if tok.text == "*" else int(tok.text))  # type: ignore[union-attr]
            elif self.accept("device"):
                self.expect("=", "after device")
                device = self.device_spec()
            else:
                self.fail(f"expected a size, '*', '...' or device=, found {self.describe(tok)}")
            if not self.accept(","):
                break
        self.expect(")", "to close the tensor type")
        return TensorType(dtype, sizes, device)

    def device_spec(self) -> torch.device:
        tok = self.expect_kind("name", "a device such as cpu or cuda:0")
        text = tok.text
        if self.accept(":"):
            text += ":" + self.expect_kind("number", "a device index").text
        try:
            return torch.device(text)
        except (RuntimeError, ValueError):
            self.fail(f"not a device: {text!r}", tok)
            raise AssertionError("unreachable")

    # -- attribute values -----------------------------------------------------
    def value(self) -> Any:
        tok = self.peek()
        if tok.kind == "number":
            self.next()
            return _number(tok.text)
        if tok.kind == "string":
            self.next()
            return self.unquote(tok)
        if self.accept("["):
            return self.comma_list("]", self.value, "the list")
        if self.accept("("):
            return self.tuple_value(tok)
        if tok.kind != "name":
            self.fail(f"expected an attribute value, found {self.describe(tok)}")
        self.next()
        simple = {"True": True, "False": False, "None": None, "inf": math.inf, "nan": math.nan}
        if tok.text in simple:
            return simple[tok.text]
        if tok.text.startswith("torch."):
            obj = getattr(torch, tok.text[len("torch."):], None)
            if not isinstance(obj, (torch.dtype, torch.layout, torch.memory_format)):
                self.fail(f"{tok.text} is not a torch dtype, layout or memory format", tok)
            return obj
        if tok.text == "device":
            self.expect("(", "after device")
            spec = self.unquote(self.expect_kind("string", 'a device string such as "cpu"'))
            self.expect(")", "to close device(...)")
            try:
                return torch.device(spec)
            except (RuntimeError, ValueError):
                self.fail(f"not a device: {spec!r}", tok)
        if tok.text == "type":
            self.expect("(", "after type")
            t = self.type()
            self.expect(")", "to close type(...)")
            return t
        if tok.text == "complex":
            self.expect("(", "after complex")
            parts = self.comma_list(")", self.value, "complex(...)")
            if len(parts) != 2 or not all(isinstance(p, (int, float)) and not isinstance(p, bool) for p in parts):
                self.fail("complex(...) takes two numbers", tok)
            return complex(*parts)
        if tok.text == "tensor":
            return self.tensor(tok)
        self.fail(f"unknown attribute value {tok.text!r}", tok)

    def tuple_value(self, open_tok: Token) -> tuple:
        items = []
        trailing = False
        while not self.at(")"):
            items.append(self.value())
            trailing = self.accept(",")
            if not trailing:
                break
        self.expect(")", "to close the tuple")
        if len(items) == 1 and not trailing:
            self.fail("write a one-element tuple as (x,)", open_tok)
        return tuple(items)

    def unquote(self, tok: Token) -> str:
        body, out, i = tok.text[1:-1], [], 0
        while i < len(body):
            ch = body[i]
            if ch != "\\":
                out.append(ch)
                i += 1
                continue
            esc = body[i + 1]
            if esc in _UNESCAPE:
                out.append(_UNESCAPE[esc])
                i += 2
                continue
            width = {"x": 2, "u": 4, "U": 8}.get(esc)
            digits = body[i + 2:i + 2 + width] if width else ""
            if not width or len(digits) != width or not all(c in "0123456789abcdefABCDEF" for c in digits):
                self.fail(f"bad escape in string: \\{esc}", tok)
            out.append(chr(int(digits, 16)))
            i += 2 + width  # type: ignore[operator]
        return "".join(out)

    def tensor(self, tok: Token) -> torch.Tensor:
        """`tensor(DATA, dtype=torch.X, shape=[...][, device="..."][, requires_grad=True])`."""
        self.expect("(", "after tensor")
        data = self.value()
        kw: Dict[str, Any] = {}
        while self.accept(","):
            if self.at(")"):
                break
            key, val = self.attr()
            kw[key] = val
        self.expect(")", "to close tensor(...)")
        unknown = set(kw) - {"dtype", "shape", "device", "requires_grad"}
        if unknown:
            self.fail(f"unknown tensor keyword(s): {', '.join(sorted(unknown))}", tok)
        dtype, shape = kw.get("dtype"), kw.get("shape")
        if not isinstance(dtype, torch.dtype):
            self.fail("a tensor literal needs dtype=torch.<dtype>", tok)
        if not isinstance(shape, list) or not all(type(s) is int and s >= 0 for s in shape):
            self.fail("a tensor literal needs shape=[sizes...]", tok)
        leaves = _flatten(data)
        if len(leaves) != math.prod(shape):
            self.fail(f"tensor literal has {len(leaves)} elements but shape {shape} holds {math.prod(shape)}", tok)
        try:
            t = _build_tensor(leaves, dtype, shape)
            if "device" in kw:
                t = t.to(torch.device(kw["device"]))
        except (TypeError, ValueError, RuntimeError, OverflowError) as e:
            self.fail(f"cannot build this tensor literal: {e}", tok)
        if kw.get("requires_grad") is True:
            t.requires_grad_(True)
        return t


def _number(text: str) -> Any:
    if text.lstrip("-").isdigit():
        return int(text)
    return float(text)


def _flatten(data: Any) -> List[Any]:
    if isinstance(data, list):
        return [x for item in data for x in _flatten(item)]
    return [data]


def _build_tensor(leaves: List[Any], dtype: torch.dtype, shape: List[int]) -> torch.Tensor:
    if dtype == torch.bool:
        if not all(isinstance(x, bool) for x in leaves):
            raise ValueError("a bool tensor holds True/False")
        return torch.tensor(leaves, dtype=torch.bool).reshape(shape)
    if any(isinstance(x, bool) or not isinstance(x, (int, float, complex)) for x in leaves):
        raise ValueError("elements must be numbers")
    if dtype.is_complex:
        return torch.tensor([complex(x) for x in leaves], dtype=torch.complex128).to(dtype).reshape(shape)
    if dtype.is_floating_point:
        if any(isinstance(x, complex) for x in leaves):
            raise ValueError("complex element in a real tensor")
        return torch.tensor([float(x) for x in leaves], dtype=torch.float64).to(dtype).reshape(shape)
    if not all(isinstance(x, int) for x in leaves):
        raise ValueError(f"a {dtype} tensor holds integers")
    return torch.tensor(leaves, dtype=dtype).reshape(shape)


def parse_graph(text: str, classes: Optional[Dict[str, Type]] = None, filename: str = "<ir>") -> Graph:
    """Build the Graph that `text` (the printer's form) describes.

    `classes` maps qualified names (`__torch__.Net`) to the ClassTypes and
    InterfaceTypes the text refers to; an unknown name is an error. `filename` prefixes
    error locations. Raises `IRParseError`.
    """
    p = _Parser(text, classes, filename)
    g = p.graph()
    p.end()
    return g


def parse_function(text: str, classes: Optional[Dict[str, Type]] = None, filename: str = "<ir>") -> Function:
    """Read `print_function`'s form: a `def name(args) -> type` line, then the graph."""
    p = _Parser(text, classes, filename)
    fn = p.function()
    p.end()
    return fn


def parse_type(text: str, classes: Optional[Dict[str, Type]] = None) -> Type:
    """The Type `text` denotes: `int[]`, `Dict(str, Tensor?)`, `Float(2, *)`, `__torch__.Net`...

    The Python spellings `List[int]`, `Optional[T]`, `Tuple[...]`, `Dict[K, V]`,
    `Union[...]`, `Future[T]` are accepted too (the printer writes the forms above).
    """
    p = _Parser(text, classes, "<type>")
    t = p.type()
    p.end()
    return t


def parse_value(text: str, classes: Optional[Dict[str, Type]] = None) -> Any:
    """An attribute value from its text (see Note [Attribute values] in printer.py)."""
    p = _Parser(text, classes, "<value>")
    v = p.value()
    p.end()
    return v
