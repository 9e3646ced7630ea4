"""Source ranges, caret rendering and torchkiln's error classes.

Every error torchkiln raises on bad input is an `Error` subclass:

- `CompileError`: the script compiler refused the source (with location,
  caret and call chain), or a call had the wrong argument types.
- `ArchiveError`: a file could not be read as a torchkiln archive.
- `VerifyError`: IR broke an invariant (a bug in a pass or a frontend, or a
  hostile archive; the archive reader wraps it in `ArchiveError`).

`TracerWarning` is issued when tracing has to bake a value into the trace.
"""
from __future__ import annotations

import linecache
from dataclasses import dataclass
from typing import List, Optional


class Error(Exception):
    """Base class of every error torchkiln raises on bad input."""


class TracerWarning(UserWarning):
    """The trace may not generalise: a tensor became a Python value."""


class VerifyError(Error):
    """The IR violates an invariant checked by `torchkiln.ir.verify`."""


class ArchiveError(Error):
    """A file is not a valid torchkiln archive."""


class ArgumentError(Error, TypeError):
    """A compiled function was called with arguments that do not fit its signature."""


@dataclass(frozen=True)
class SourceRange:
    """A place in user source: file, 1-based line and 0-based column.

    `end_col` (exclusive, same line) widens the caret; `text` is the source
    line when it is not in `linecache` (archives carry it).
    """

    filename: str
    line: int
    col: int = 0
    end_col: Optional[int] = None
    text: Optional[str] = None

    def __str__(self) -> str:
        return f"{self.filename}:{self.line}:{self.col}"

    def source_line(self) -> str:
        if self.text is not None:
            return self.text
        return linecache.getline(self.filename, self.line).rstrip("\n")

    def render(self) -> str:
        """The location, the line, and a caret under the columns it covers.

        ```
          File "model.py", line 12, column 15
            return x.unknown_method()
                   ^^^^^^^^^^^^^^^^
        ```
        """
        head = f'  File "{self.filename}", line {self.line}, column {self.col + 1}'
        line = self.source_line()
        if not line:
            return head
        stripped = line.lstrip()
        indent = len(line) - len(stripped)
        start = max(self.col - indent, 0)
        end = self.end_col - indent if self.end_col is not None else start + 1
        width = max(end - start, 1)
        return f"{head}\n    {stripped}\n    {' ' * start}{'^' * width}"


@dataclass
class CallFrame:
    """One function in the chain being compiled, and where it was called."""

    name: str
    call_site: Optional[SourceRange] = None


class CompileError(Error):
    """The script compiler refused a program.

    The message reads:

    ```
    unknown method 'unknown_method' on a value of type Tensor
      File "model.py", line 12, column 12
        return x.unknown_method()
               ^^^^^^^^^^^^^^^^
    what to do: call a torch function or Tensor method that exists
    while compiling `helper`, called from `forward` at model.py:20:8
    ```
    """

    def __init__(
        self,
        what: str,
        loc: Optional[SourceRange] = None,
        hint: Optional[str] = None,
        chain: Optional[List[CallFrame]] = None,
    ):
        self.what = what
        self.loc = loc
        self.hint = hint
        self.chain = list(chain or [])
        super().__init__(self._render())

    def with_chain(self, chain: List[CallFrame]) -> "CompileError":
        if not self.chain:
            self.chain = list(chain)
            self.args = (self._render(),)
        return self

    def _render(self) -> str:
        parts = [self.what]
        if self.loc is not None:
            parts.append(self.loc.render())
        if self.hint:
            parts.append(f"what to do: {self.hint}")
        # chain[0] is the outermost function, chain[-1] the one being compiled.
        for i in range(len(self.chain) - 1, -1, -1):
            frame = self.chain[i]
            if i > 0 and frame.call_site is not None:
                parts.append(f"while compiling `{frame.name}`, called from `{self.chain[i - 1].name}` at {frame.call_site}")
            else:
                parts.append(f"while compiling `{frame.name}`")
        return "\n".join(parts)

    def __str__(self) -> str:
        return self.args[0] if self.args else self.what
