"""Getting a Python object's source as an `ast` tree, and source ranges for its nodes.

```python
src = parse_function(fn)          # ParsedSource: the FunctionDef, file, offsets
src.loc(node)                     # SourceRange(file, line, col, end_col, text)
```

Source is read once per code object (from `linecache`, with the function's
extent found from its line table), parsed under an `if 1:` when it is
indented (Note [Indented source]), and the line offset is added back so every
range points at the user's real file, line and column. `text` in the range is the original
line, so errors render even when the file is not in `linecache` (a REPL, a
notebook).
"""
from __future__ import annotations

import ast
import inspect
import linecache
import operator
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple, Union

from ...diagnostics import CompileError, SourceRange

FunctionNode = Union[ast.FunctionDef, ast.AsyncFunctionDef]


@dataclass
class ParsedSource:
    """One function's or class's parsed source."""

    tree: Union[FunctionNode, ast.ClassDef]
    filename: str
    line_offset: int  # added to an ast line number to get the file's line number
    col_offset: int  # removed indentation, added back to ast columns
    lines: List[str]  # the original lines, starting at line_offset + 1

    def loc(self, node: Optional[ast.AST]) -> SourceRange:
        """The source range of an ast node (of this tree), computed when it is first read (`_LazyRange`)."""
        r = _new(_LazyRange)
        _set_src(r, self)
        _set_node(r, node)
        return r

    def eager_loc(self, node: Optional[ast.AST]) -> SourceRange:
        """`loc(node)`, computed now."""
        if node is None or not hasattr(node, "lineno"):
            node = self.tree
        lineno = node.lineno  # type: ignore[attr-defined]
        col = node.col_offset + self.col_offset  # type: ignore[attr-defined]
        end_col = None
        if getattr(node, "end_lineno", None) == lineno and node.end_col_offset is not None:  # type: ignore[attr-defined]
            end_col = node.end_col_offset + self.col_offset  # type: ignore[attr-defined]
        index = lineno - 1
        text = self.lines[index].rstrip("\n") if 0 <= index < len(self.lines) else None
        if end_col is None and text is not None:
            end_col = len(text)
        return _source_range(self.filename, lineno + self.line_offset, col, end_col, text)

    def line_text(self, lineno: int) -> str:
        index = lineno - 1
        return self.lines[index] if 0 <= index < len(self.lines) else ""


class _LazyRange(SourceRange):
    """A `SourceRange` whose fields are computed from its ast node when one is first read.

    Every IR node the frontend makes carries the range of the syntax it came
    from, and most are never printed or reported: computing each range when
    it was made was a tenth of a cold `script()`. Until a field is read, the
    instance holds only the parsed source and the node, in slots (no
    `__dict__` is made: one per range was a sixth of the objects a cold
    `script()` left for the garbage collector to scan). Each field is a
    property: the dataclass's fields with defaults (`col`, `end_col`,
    `text`) are class attributes of `SourceRange`, which plain attribute
    look-up would find before any fallback. Equal to, and hashed like, the
    eager `SourceRange` of the same place.
    """

    __slots__ = ("_src", "_node", "_done")

    def _fields(self) -> tuple:
        # Safe when threads race: each computes the same tuple.
        try:
            return self._done
        except AttributeError:
            r = self._src.eager_loc(self._node)
            done = (r.filename, r.line, r.col, r.end_col, r.text)
            _set_done(self, done)
            return done

    filename = property(lambda self: self._fields()[0])  # type: ignore[assignment]
    line = property(lambda self: self._fields()[1])  # type: ignore[assignment]
    col = property(lambda self: self._fields()[2])  # type: ignore[assignment]
    end_col = property(lambda self: self._fields()[3])  # type: ignore[assignment]
    text = property(lambda self: self._fields()[4])  # type: ignore[assignment]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SourceRange):
            return NotImplemented
        return self._fields() == (other.filename, other.line, other.col, other.end_col, other.text)

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        return "SourceRange(filename=%r, line=%r, col=%r, end_col=%r, text=%r)" % self._fields()

    def __reduce__(self):
        return (SourceRange, self._fields())


# The slots' own setters: `SourceRange` is a frozen dataclass, whose `__setattr__` refuses.
_set_src = _LazyRange._src.__set__  # type: ignore[attr-defined]
_set_node = _LazyRange._node.__set__  # type: ignore[attr-defined]
_set_done = _LazyRange._done.__set__  # type: ignore[attr-defined]


def _source_range(filename: str, line: int, col: int, end_col: Optional[int], text: Optional[str]) -> SourceRange:
    """`SourceRange(filename, line, col, end_col, text)`, made without the frozen dataclass's `__init__`.

    A frozen dataclass sets each field through `object.__setattr__`; one
    range per syntax node made that a visible part of a cold `script()`.
    The object is the same: the same fields, in the same order, in its `__dict__`.
    """
    r = _new(SourceRange)
    d = r.__dict__
    d["filename"] = filename
    d["line"] = line
    d["col"] = col
    d["end_col"] = end_col
    d["text"] = text
    return r


_new = object.__new__
_TYPE_COMMENT = re.compile(r"#\s*type:")
_CACHE: Dict[Any, Tuple[Any, ParsedSource]] = {}


def _source_key(obj: Any) -> Any:
    # By identity: code objects compare equal across files (co_filename is not
    # part of their equality), and functions with equal bodies but different
    # annotations or defaults have equal code. The entry holds `code`, so its id
    # is not reused while cached.
    code = getattr(obj, "__code__", None)
    if code is not None:
        return ("code", id(code))
    return obj


def _where(obj: Any) -> Optional[SourceRange]:
    code = getattr(obj, "__code__", None)
    if code is None:
        return None
    return SourceRange(code.co_filename, code.co_firstlineno, 0)


# Note [Indented source]
# ~~~~~~~~~~~~~~~~~~~~~~
# A method's or nested function's text is indented. Rather than removing the
# indentation (a pass over every line, and columns to add back), the text is
# parsed as the body of an `if 1:`, which Python accepts at any consistent
# indentation: ast columns are then the file's columns, and only the line
# numbers move, by the one line added (`lines` gets the same line, so
# `lines[ast_line - 1]` stays the text of an ast line).


def parse_source(obj: Any, exact: bool = False) -> ParsedSource:
    """Parse the source of a function or class; CompileError when there is none.

    `exact`: find a function's last line from every instruction's position (Note [Function extent]).
    """
    key = _source_key(obj)
    code = getattr(obj, "__code__", None)
    cached = _CACHE.get(key)
    if cached is not None and (code is None or cached[0] is code):
        return cached[1]
    name = getattr(obj, "__qualname__", repr(obj))
    try:
        found = _function_lines(obj, exact)
        if found is None:
            lines, start = inspect.getsourcelines(obj)
            filename = inspect.getsourcefile(obj) or inspect.getfile(obj)
        else:
            lines, start, filename = found
    except (OSError, TypeError) as e:
        raise CompileError(
            f"cannot read the source of `{name}` ({e})",
            _where(obj),
            hint="define it in a .py file (script compiles Python source), or mark it @torchkiln.ignore",
        ) from None
    text = "".join(lines)
    first = next((l for l in lines if l.strip()), "")
    indented = first[:1] in (" ", "\t")
    if indented:
        # Note [Indented source]: parsed under `if 1:` rather than dedented.
        text = "if 1:\n" + text
        lines = ["if 1:\n"] + lines
    line_offset = start - 2 if indented else start - 1
    try:
        # Type comments slow the parser by a third; parse them only where the text has one.
        module = ast.parse(text, filename=filename, type_comments=_TYPE_COMMENT.search(text) is not None)
    except SyntaxError:
        if found is not None and not exact:
            return parse_source(obj, exact=True)  # Note [Function extent]: the fast extent stopped early
        # A lambda or a decorator line with trailing context: retry without type comments.
        try:
            module = ast.parse(text, filename=filename)
        except SyntaxError as e:
            raise CompileError(
                f"cannot parse the source of `{name}`: {e.msg}",
                SourceRange(filename, line_offset + (e.lineno or 1), 0),
                hint="script compiles functions, methods and classes defined with def/class",
            ) from None
    body = module.body
    if indented and body and isinstance(body[0], ast.If):
        body = body[0].body
    if not body or not isinstance(body[0], (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        col = len(first) - len(first.lstrip())
        raise CompileError(
            f"`{name}` is not defined with def or class (lambdas cannot be compiled)",
            SourceRange(filename, start, col, None, first.rstrip("\n") if first else None),
            hint="write it as a def function",
        )
    parsed = ParsedSource(body[0], filename, line_offset, 0, lines)
    entry = _CACHE.setdefault(key, (code, parsed))  # one ParsedSource per function, also when threads race
    if entry[0] is not code:
        _CACHE[key] = entry = (code, parsed)
    return entry[1]


_END_LINE = operator.itemgetter(1)


def _function_lines(fn: Any, exact: bool = False) -> Optional[Tuple[List[str], int, str]]:
    """A function's source lines from its code object's line table (no tokenizing; None: use inspect).

    `co_firstlineno` is the first decorator's line. Note [Function extent]:
    by default the lines run on from the body's first statement (the first
    instruction on a later line: decorators, a header over several lines and
    the docstring have none) to the first line that is indented no deeper
    than the `def` and is not blank or a comment. That can stop early only
    inside a string, a bracket or after a backslash, which leaves the text
    unparsable; the caller then asks again with `exact`, which takes the
    largest end line of any instruction of the function or of code nested in
    it (reading every instruction's position, several times the cost).
    """
    code = getattr(fn, "__code__", None)
    if code is None or not hasattr(code, "co_positions"):
        return None
    filename = code.co_filename
    all_lines = linecache.getlines(filename, getattr(fn, "__globals__", None))
    if not all_lines:
        return None
    start = code.co_firstlineno
    if start < 1 or start > len(all_lines):
        return None
    if exact or code.co_name == "<lambda>":
        end = _last_line(code)
        if end is None or end < start or end > len(all_lines):
            return None
    else:
        body = next((line for _, _, line in code.co_lines() if line is not None and line > start), start)
        first = all_lines[start - 1]
        indent = len(first) - len(first.lstrip(" \t"))
        end = body
        n = len(all_lines)
        while end < n:
            line = all_lines[end]
            rest = line.lstrip(" \t")
            if rest and rest[0] not in "#\r\n" and len(line) - len(rest) <= indent:
                break
            end += 1
    return all_lines[start - 1 : end], start, filename


def _last_line(code: Any) -> Optional[int]:
    # The largest end line of any instruction (None: no position), iterated in C.
    last = max(filter(None, map(_END_LINE, code.co_positions())), default=None)
    for const in code.co_consts:
        if hasattr(const, "co_positions"):
            nested = _last_line(const)
            if nested is not None and (last is None or nested > last):
                last = nested
    return last


def parse_function(fn: Any) -> ParsedSource:
    parsed = parse_source(fn)
    if not isinstance(parsed.tree, (ast.FunctionDef, ast.AsyncFunctionDef)):
        raise CompileError(f"`{getattr(fn, '__qualname__', fn)}` is not a function", parsed.loc(parsed.tree))
    return parsed


def type_comment_signature(parsed: ParsedSource) -> Optional[Tuple[List[ast.expr], Optional[ast.expr]]]:
    """The `# type: (int, Tensor) -> Tensor` comment of a function, parsed, or None.

    Python's parser attaches it to the FunctionDef when it sits on the `def`
    line or on the first line of the body.
    """
    tree = parsed.tree
    comment = getattr(tree, "type_comment", None)
    if comment is None:
        comment = _comment_in_body(parsed)
    if comment is None:
        return None
    try:
        sig = ast.parse(comment, mode="func_type")
    except SyntaxError:
        raise CompileError(
            f"cannot parse the type comment `# type: {comment}`",
            parsed.loc(tree),
            hint="write it as `# type: (int, Tensor) -> Tensor`",
        ) from None
    return list(sig.argtypes), sig.returns


def _comment_in_body(parsed: ParsedSource) -> Optional[str]:
    tree = parsed.tree
    assert isinstance(tree, (ast.FunctionDef, ast.AsyncFunctionDef))
    if not tree.body:
        return None
    # Lines between the `def` line and the first statement.
    first = tree.body[0].lineno
    for lineno in range(tree.lineno, first + 1):
        text = parsed.line_text(lineno).strip()
        if text.startswith("# type:"):
            body = text[len("# type:"):].strip()
            if body.startswith("("):
                return body
    return None
