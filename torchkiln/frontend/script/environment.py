"""Scopes of the function being emitted: which variables exist, with which types.

Note [Memory form]
------------------
The emitter does not build SSA directly. A variable assignment is a
`prim::Store[name=x](%v)` node and a read a `prim::Load[name=x]() -> T`
node; `return`, `break` and `continue` are `prim::Exit[kind=...]()` nodes;
a `with` body is the block of a `prim::With` node. These four kinds are
private to the script frontend: `exits.py` lowers the exits into flag
variables and `prim::If`s, then `to_ssa.py` turns loads and stores into
values, block outputs and loop-carried values. Nothing outside
`frontend/script` ever sees them.

```
x = 1                       prim::Store[name="x"](%1)
if c:                       prim::If(%c)
    x = 2                     block0():  prim::Store[name="x"](%2)
return x                    %3 : int = prim::Load[name="x"]()
```

Note [Load forwarding]
~~~~~~~~~~~~~~~~~~~~~~
A read needs no `prim::Load` when the variable's value is already known
where the read is: the variable was assigned by a `prim::Store` of value
`%v` in block B, and the read is in B or in a block nested in B through
`prim::If`/`prim::With` bodies only (never through a loop body or a loop
condition, which run again with the loop-carried value). The read then
uses `%v` itself, which is what `to_ssa.py` would have made of the load.
The store stays: joins and loops still need it. A quarter of the nodes a
typical function emitted were such loads.

Note [Deferred stores]
~~~~~~~~~~~~~~~~~~~~~~
Most variables are only ever read through forwarding, and a store of a
name no load reads is dead (SSA construction drops it, `to_ssa.py`): over
half the stores a typical program made. So `FunctionEmitter.assign`
records a store (its block, the node it follows, the value) instead of
making it, until the first `prim::Load` of the name: that places every
recorded store of the name where it was emitted, in order, and later
stores of the name are made at once. Stores of names never loaded are
never made. Nothing moves or removes nodes while a function is emitted,
so the recorded positions hold; exit lowering and SSA construction run
after emission and see every store a load needs.

Typing happens here, while emitting (TorchScript's rules): each frame has
its own type table, so a variable's type may change along straight-line
code; at an `if` the types of both branches are unified; a variable stored
inside a loop keeps the type it had before the loop; a variable defined in
only one branch, or only inside a loop, cannot be used afterwards.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Dict, Iterator, List, Optional, Tuple

from ...diagnostics import CompileError, SourceRange
from ...ir.core import Block, Value
from ...ir.types import Type

if TYPE_CHECKING:
    from .sugared import SugaredValue

LOAD = "prim::Load"
STORE = "prim::Store"
EXIT = "prim::Exit"
WITH = "prim::With"
FRONTEND_KINDS = (LOAD, STORE, EXIT, WITH)


NOT_CONSTANT = object()


@dataclass(slots=True)
class VarInfo:
    """A variable's type in one frame and where it got it."""

    type: Type
    loc: Optional[SourceRange] = None
    const: object = NOT_CONSTANT  # the value, when the variable holds a compile-time constant
    value: Optional[Value] = None  # the value stored, and the block of the store (Note [Load forwarding])
    block: Optional[Block] = None
    sugar: Optional["SugaredValue"] = None  # `SimpleValue(value)`, made at the first forwarded read and shared
    refines: Optional["VarInfo"] = None  # the binding this one narrows (a cast of its value: Note [Refinement joins])


@dataclass
class PendingError:
    """A name that may not be used: it is defined on some paths only."""

    what: str
    hint: Optional[str] = None
    notes: List[str] = field(default_factory=list)

    def raise_at(self, loc: SourceRange) -> None:
        what = self.what if not self.notes else self.what + "\n" + "\n".join(self.notes)
        raise CompileError(what, loc, hint=self.hint)


# `Frame.escaped` and `Frame.renames` of the frames that never fill them (most are `if`
# branches): one shared, read-only empty mapping instead of two dicts per frame.
_NO_NAMES = MappingProxyType({})


class Frame:
    """One scope level: the function body, an `if` branch, a loop body.

    `block` is where this frame's statements go. `exits` becomes True once
    control cannot reach the next statement (after `return`, `raise`,
    `break`, `continue`, or an `if` whose branches all exit).
    """

    def __init__(self, kind: str, block: Block, parent: Optional["Frame"] = None):
        self.kind = kind  # "function", "if", "loop", "comprehension"
        self.block = block
        self.parent = parent
        self.vars: Dict[str, VarInfo] = {}
        self.sugared: Dict[str, "SugaredValue"] = {}
        self.errors: Dict[str, PendingError] = {}
        self.exits = False
        # Loop frames only: names stored on paths that left the loop body early
        # (`x = 1; break`). Their values reach the code after the loop and the next
        # iteration, though join_if drops them from the frames that go on.
        self.escaped: Dict[str, None] = {} if kind in ("loop", "comprehension") else _NO_NAMES  # type: ignore[assignment]
        # Comprehension frames only: the names the comprehension's targets are stored
        # under (`x` -> `x$c1`), so that they do not overwrite the function's own `x`.
        self.renames: Dict[str, str] = {} if kind == "comprehension" else _NO_NAMES  # type: ignore[assignment]

    def store_name(self, name: str, found: Optional["Frame"]) -> str:
        """The name `name`, bound in frame `found`, is stored under (see `renames`)."""
        f: Optional[Frame] = self
        seen = False
        while f is not None:
            if f is found:
                seen = True
            renamed = f.renames.get(name)
            if renamed is not None:
                return renamed if seen else name
            f = f.parent
        return name

    def note_escaped(self, names) -> None:
        """Record on the innermost enclosing loop frame that `names` were stored on a path that exited."""
        f: Optional[Frame] = self
        while f is not None and f.kind not in ("loop", "comprehension", "function"):
            f = f.parent
        if f is not None and f.kind != "function":
            for n in names:
                f.escaped.setdefault(n, None)

    def ancestors(self) -> Iterator["Frame"]:
        f: Optional[Frame] = self
        while f is not None:
            yield f
            f = f.parent

    def find(self, name: str) -> Tuple[Optional[Frame], object]:
        """The innermost binding of `name`: (frame, VarInfo | SugaredValue | PendingError) or (None, None)."""
        f: Optional[Frame] = self
        while f is not None:  # `self.ancestors()`, without a generator: this runs per name read
            if name in f.sugared:
                return f, f.sugared[name]
            if name in f.vars:
                return f, f.vars[name]
            if name in f.errors:
                return f, f.errors[name]
            f = f.parent
        return None, None

    def constant(self, name: str) -> object:
        """The constant `name` holds here, if its binding is reached without crossing a loop."""
        f: Optional[Frame] = self
        while f is not None:
            if name in f.vars:
                return f.vars[name].const
            if name in f.sugared or name in f.errors or f.kind in ("loop", "comprehension"):
                return NOT_CONSTANT
            f = f.parent
        return NOT_CONSTANT

    def var_before(self, name: str) -> Optional[VarInfo]:
        """The variable as the parent frames see it (None if undefined there)."""
        if self.parent is None:
            return None
        _, found = self.parent.find(name)
        return found if isinstance(found, VarInfo) else None

    def crosses_loop_to(self, name: str) -> Optional[VarInfo]:
        """If `name` is defined outside an enclosing loop (or comprehension), its type there."""
        crossed = False
        f: Optional[Frame] = self
        while f is not None:
            if name in f.vars or name in f.sugared or name in f.errors:
                found = f.vars.get(name)
                return found if crossed and found is not None else None
            if name in f.renames:
                return None  # a comprehension's own variable
            if f.kind in ("loop", "comprehension"):
                crossed = True
            f = f.parent
        return None

    def set_var(self, name: str, info: VarInfo) -> None:
        self.vars[name] = info
        self.sugared.pop(name, None)
        self.errors.pop(name, None)

    def set_sugared(self, name: str, value: "SugaredValue") -> None:
        self.sugared[name] = value
        self.vars.pop(name, None)
        self.errors.pop(name, None)

    def set_error(self, name: str, error: PendingError) -> None:
        self.errors[name] = error
        self.vars.pop(name, None)
        self.sugared.pop(name, None)

    def names(self) -> List[str]:
        """Every name bound in this frame, in first-binding order."""
        seen: Dict[str, None] = {}
        for table in (self.vars, self.sugared, self.errors):
            for n in table:
                seen.setdefault(n, None)
        return list(seen)

    def __repr__(self) -> str:
        return f"<Frame {self.kind} vars={list(self.vars)}>"
