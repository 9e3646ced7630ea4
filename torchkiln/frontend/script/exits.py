"""Exit lowering: `return`, `break`, `continue` become flag variables and guarding `if`s.

Runs on memory form (Note [Memory form] in `environment.py`), before SSA
construction, so the flags are ordinary variables that `to_ssa` threads
through ifs and loops.

Note [Exit lowering]
--------------------
Each block is walked in order, tracking whether control always, maybe or
never leaves it early (`ALWAYS`, `MAYBE`, `NEVER`):

- `prim::Exit[kind=return]` becomes `$done = True` (plus, for each
  enclosing loop, `$skipN = $stopN = True`); `break` sets the innermost
  loop's `$skipN` and `$stopN`, `continue` its `$skipN`. The value was
  already stored in `$ret` by the emitter. Nodes after an exit (and after
  `prim::RaiseException`) are dropped. A function whose only exit is the
  `return` ending its top block sets no flags at all (Note [Sole return]).
- after an `if` whose branches both always exit, the rest of the block is
  dropped; if one always exits and the other never does, the rest of the
  block moves into the other branch (no flag needed; the common
  `if c: return a` / `return b` shape; the `if` is marked so SSA
  construction lets variables set by the moved code leave it). Otherwise the rest is wrapped in
  `if <flag>: pass else: <rest>` where the flag is the innermost loop's
  `$skipN` (or `$done` at function level).
- a branch that always raises needs no flag and no guarded rest (Note
  [Raising branches]).
- a loop's continue condition becomes `False if $stopN else <condition>`;
  `$skipN` and `$stopN` are reset at the start of each iteration. A loop containing a `return` may exit the enclosing
  block (MAYBE).
- a `prim::With` body is lowered like a block, then spliced in place with
  its exit nodes after it, so leaving the body early still runs them.
- a loop whose body may `break` and that has an `else` carries a `broke`
  attribute naming a flag (`$brokeN`): it is set False before the loop and
  True by each `break`; the emitter already guarded the `else` body with
  `if $brokeN: pass else: <else>` (Note [Loop else] in `control.py`).
- a `prim::Unrolled` node (a loop over a tuple or a module container whose
  body has `break`/`continue`; one block per item) is lowered like a loop
  whose iterations are written out: each iteration block is lowered with
  the node's `$skipN` as guard, starts with `$skipN = False`, and every
  iteration after the first is wrapped in `if $stopN: pass else: <iteration>`;
  then the iterations are spliced in place of the node.

```
for m in self.layers:               $stop1 = False
    if m(x).sum() > 0:              $skip1 = False; if m0(x).sum() > 0: $skip1 = $stop1 = True
        break                       if $stop1: pass
    x = m(x)                          else: $skip1 = False; if m1(x).sum() > 0: ...
```

```
for x in xs:                        %i: $skip1 = $stop1 = False
    if x > 0:                           if x > 0: $ret = x; $done = $skip1 = $stop1 = True
        return x                        cond = False if $stop1 else True
return 0                            if $done: pass  else: $ret = 0; $done = True
```
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Set

from ...ir.builder import Builder
from ...ir.core import Block, Graph, Node
from ...ir.types import BOOL, Type
from .environment import EXIT, LOAD, STORE, WITH

# THROWS: always leaves by raising (Note [Raising branches]); ALWAYS: by return/break/continue,
# or by a mix of those and raising.
NEVER, MAYBE, ALWAYS, THROWS = 0, 1, 2, 3
_LEAVES = (ALWAYS, THROWS)
RAISE = "prim::RaiseException"
RET, DONE = "$ret", "$done"
# On an `if` whose other branch received the rest of the block: the index of the
# branch that already exited (its variables are never read). Consumed by to_ssa.
EXITED = "$exited"
# Memory form only (emitted by `control.py`): a loop over compile-time items whose body
# has `break`/`continue`, one block per item; and, on a loop or such a node, the name of
# the flag its `break`s set (for the loop's `else`).
UNROLLED = "prim::Unrolled"
BROKE = "broke"


# Note [Raising branches]
# ~~~~~~~~~~~~~~~~~~~~~~~
# `if x.dim() != 3: raise ValueError(...)` leaves the function on one path
# and falls through on the other. Raising sets no flag: control never comes
# back to the code after the `if` from the raising branch, so that code
# stays where it is, after the `if`, rather than moving into the other branch
# as the rest after a `return` does. (Moved, each of a function's argument
# checks nested the rest of the function one level deeper: torch's
# `multi_head_attention_forward` has dozens, and a hundred overflowed
# Python's indentation limit in the generated code.) The `if` is marked
# EXITED with the raising branch, as for a moved rest, so SSA construction
# lets the variables the other branch sets leave the `if` (the raising
# branch gives them `prim::Uninitialized`). TorchScript's exit transform
# treats throwing blocks the same way (`ExitStatus::THROWS`).
#
# A block that always raises is THROWS; one that always leaves, by a mix of
# raising and return/break/continue, is ALWAYS. An `if` with a raising
# branch has the status of its other branch.


@dataclass
class _LoopFlags:
    skip: str
    stop: str
    skip_set: bool = False
    stop_set: bool = False
    returns: bool = False
    broke: Optional[str] = None  # set True by `break` (the loop has an `else`)


class _Lowering:
    def __init__(self, graph: Graph):
        self.graph = graph
        self.loops: List[_LoopFlags] = []
        self.counter = 0
        self.exits = 0  # lowered so far
        self.sole_return = False  # Note [Sole return]

    # -- blocks ------------------------------------------------------------------------------------
    def lower(self, block: Block, start: int, guard: str) -> int:
        nodes = block.nodes  # changed in place while lowering, never replaced
        i = start
        while i < len(nodes):
            n = nodes[i]
            kind = n.kind
            if not n.blocks and kind != UNROLLED:  # most nodes (an `Unrolled` over no items has no blocks)
                if kind == EXIT:
                    self._lower_exit(block, i, n)
                    return ALWAYS
                if kind == RAISE:
                    _drop_from(block, i + 1)
                    return THROWS
                i += 1
                continue
            if kind == "prim::If" and not n.outputs:
                state = self._lower_if(block, i, n, guard)
                if state is not None:
                    return state
            elif kind == "prim::If":
                # An expression's `if` (`a and b`, `x if c else y`): nothing in it exits, but a
                # comprehension in it is a loop to lower like any other.
                for b in n.blocks:
                    self.lower(b, 0, guard)
            elif kind == "prim::Loop" and len(n.blocks) == 2:
                state = self._lower_loop(n)
                i = nodes.index(n)  # flag initialisation may have been inserted before the loop
                if state != NEVER:
                    return self._after_maybe(block, i, n, guard)
            elif kind in (WITH, UNROLLED):
                lower = self._lower_with if kind == WITH else self._lower_unrolled
                state, last = lower(block, i, n, guard)
                if state in _LEAVES:
                    _drop_from(block, last + 1)
                    return state
                if state == MAYBE:
                    return self._guard_rest(block, last, guard)
                i = last
            i += 1
        return NEVER

    def _lower_if(self, block: Block, i: int, n: Node, guard: str) -> Optional[int]:
        t = self.lower(n.blocks[0], 0, guard)
        f = self.lower(n.blocks[1], 0, guard)
        if t == NEVER and f == NEVER:
            return None
        if t in _LEAVES and f in _LEAVES:
            _drop_from(block, i + 1)
            return THROWS if t == f == THROWS else ALWAYS
        if THROWS in (t, f):  # Note [Raising branches]
            n.attrs[EXITED] = 0 if t == THROWS else 1
            if NEVER in (t, f):
                return None
            return self._after_maybe(block, i, n, guard)
        if {t, f} == {ALWAYS, NEVER}:
            live, dead = (n.blocks[1], n.blocks[0]) if t == ALWAYS else (n.blocks[0], n.blocks[1])
            start = len(live.nodes)
            n.attrs[EXITED] = n.blocks.index(dead)
            _move_rest(block, i + 1, live)
            return ALWAYS if self.lower(live, start, guard) in _LEAVES else MAYBE
        return self._after_maybe(block, i, n, guard)

    def _after_maybe(self, block: Block, i: int, n: Node, guard: str) -> int:
        """`n` (at index i) maybe exits: guard the rest of the block with the flag."""
        return self._guard_rest(block, i, guard)

    def _guard_rest(self, block: Block, i: int, guard: str) -> int:
        if i + 1 >= len(block.nodes):
            return MAYBE
        anchor = block.nodes[i]
        b = Builder(block, before=block.nodes[i + 1], loc=anchor.loc)
        flag = b.op(LOAD, [], [BOOL], {"name": guard}).output
        g = b.op("prim::If", [flag], [], n_blocks=2)
        g.attrs[EXITED] = 0
        _move_rest(block, block.nodes.index(g) + 1, g.blocks[1])
        state = self.lower(g.blocks[1], 0, guard)
        return ALWAYS if state in _LEAVES else MAYBE

    # -- exits --------------------------------------------------------------------------------------
    def _lower_exit(self, block: Block, i: int, n: Node) -> None:
        """Replace the exit `n` (at index i) and the rest of the block with the stores of its flags."""
        _drop_from(block, i + 1)
        del block.nodes[i]
        n.block = None  # an exit has no inputs, outputs or blocks
        kind = n.attrs["kind"]
        self.exits += 1
        if kind == "return" and block is self.graph.block and self.exits == 1:
            self.sole_return = True  # Note [Sole return]
            return
        b = Builder(block, loc=n.loc)
        true = b.constant(True, BOOL)
        names: List[str] = []
        if kind == "return":
            names.append(DONE)
            for loop in self.loops:
                loop.skip_set = loop.stop_set = loop.returns = True
                names += [loop.skip, loop.stop]
        else:
            loop = self.loops[-1]
            loop.skip_set = True
            names.append(loop.skip)
            if kind == "break":
                loop.stop_set = True
                names.append(loop.stop)
                if loop.broke is not None:
                    names.append(loop.broke)
        for name in names:
            b.op(STORE, [true], [], {"name": name})

    # -- loops --------------------------------------------------------------------------------------
    def _lower_loop(self, loop: Node) -> int:
        body, cond = loop.blocks
        self.counter += 1
        flags = _LoopFlags(f"$skip{self.counter}", f"$stop{self.counter}", broke=loop.attrs.pop(BROKE, None))
        if flags.broke is not None:
            b = Builder(loop.block, before=loop, loc=loop.loc)
            b.op(STORE, [b.constant(False, BOOL)], [], {"name": flags.broke})
        self.loops.append(flags)
        try:
            self.lower(body, 0, flags.skip)
        finally:
            self.loops.pop()
        self.lower(cond, 0, flags.skip)  # nothing in a condition exits; a comprehension in it is a loop
        # Both flags are reset at the start of each iteration: a set `$stopN` ends
        # the loop, so it is never carried into the next iteration.
        b = Builder(body, before=body.nodes[0] if body.nodes else None, loc=loop.loc)
        for name, used in ((flags.skip, flags.skip_set), (flags.stop, flags.stop_set)):
            if used:
                b.op(STORE, [b.constant(False, BOOL)], [], {"name": name})
        cond_value = cond.returns[0]
        cond.return_node.drop_inputs()
        if flags.stop_set:
            b = Builder(body, loc=loop.loc)
            stopped = b.op(LOAD, [], [BOOL], {"name": flags.stop}).output
            g = b.op("prim::If", [stopped], [BOOL], n_blocks=2)
            with b.at_block(g.blocks[0]):
                g.blocks[0].add_return(b.constant(False, BOOL))
            _move_rest(cond, 0, g.blocks[1])
            g.blocks[1].add_return(cond_value)
            body.add_return(g.output)
        else:
            _move_rest(cond, 0, body)
            body.add_return(cond_value)
        loop.blocks.pop()
        return MAYBE if flags.returns else NEVER

    # -- with ---------------------------------------------------------------------------------------
    def _lower_with(self, block: Block, i: int, n: Node, guard: str):
        body, exit_block = n.blocks
        state = self.lower(body, 0, guard)
        moved = body.nodes + exit_block.nodes
        body.nodes, exit_block.nodes = [], []
        n.destroy()
        for m in moved:
            m.block = block
        block.nodes[i:i] = moved
        return state, i + len(moved) - 1

    # -- unrolled loops -------------------------------------------------------------------------
    def _lower_unrolled(self, block: Block, i: int, n: Node, guard: str):
        iterations = list(n.blocks)
        kinds = [loop_exit_kinds(it) for it in iterations]
        self.counter += 1
        flags = _LoopFlags(f"$skip{self.counter}", f"$stop{self.counter}", broke=n.attrs.get(BROKE))
        self.loops.append(flags)
        try:
            states = [self.lower(it, 0, flags.skip) for it in iterations]
        finally:
            self.loops.pop()
        # The loop always leaves the block when an iteration always exits by `return` or
        # `raise` (no `break`/`continue` in it) and no earlier iteration may `break`.
        state = MAYBE if flags.returns else NEVER
        end = len(iterations)
        may_break = False
        for k, (st, kind) in enumerate(zip(states, kinds)):
            if st in _LEAVES and not kind and not may_break:
                state, end = ALWAYS, k + 1
                break
            may_break = may_break or "break" in kind
        b = Builder(block, before=n, loc=n.loc)
        for name in (flags.broke, flags.stop if flags.stop_set else None):
            if name is not None:
                b.op(STORE, [b.constant(False, BOOL)], [], {"name": name})
        for k, it in enumerate(iterations[:end]):
            if not it.nodes:
                continue
            if flags.skip_set:
                Builder(it, before=it.nodes[0], loc=n.loc).op(STORE, [b.constant(False, BOOL)], [], {"name": flags.skip})
            if k > 0 and flags.stop_set:
                stopped = b.op(LOAD, [], [BOOL], {"name": flags.stop}).output
                g = b.op("prim::If", [stopped], [], n_blocks=2)
                _move_rest(it, 0, g.blocks[1])
            else:
                for m in list(it.nodes):
                    m.move_before(n)
        last = block.nodes.index(n) - 1
        n.destroy()
        return state, last


def loop_exit_kinds(block: Block) -> Set[str]:
    """The `break`/`continue` exits (memory form) in `block` that leave the loop whose body it is."""
    kinds: Set[str] = set()
    for n in block.nodes:
        if n.kind == EXIT and n.attrs["kind"] != "return":
            kinds.add(n.attrs["kind"])
        elif n.kind not in ("prim::Loop", UNROLLED):
            for b in n.blocks:
                kinds |= loop_exit_kinds(b)
    return kinds


def _move_rest(src: Block, start: int, dst: Block) -> None:
    rest = src.nodes[start:]
    del src.nodes[start:]
    for m in rest:
        m.block = dst
    dst.nodes.extend(rest)


def _drop_from(block: Block, start: int) -> None:
    rest = block.nodes[start:]
    del block.nodes[start:]  # one cut, not a search of the list per node
    for m in reversed(rest):
        m.block = None
        m.destroy_unchecked()


# Note [Sole return]
# ~~~~~~~~~~~~~~~~~~
# Most functions leave only by a `return` at the end of their top block (and
# by raising). Lowered first, that exit needs no flags: no later code
# exists for `$done` to guard, and every path to the end has stored `$ret`
# just before it. So it becomes nothing, and the function's start stores
# neither `$ret = uninitialized` nor `$done = False` (SSA construction would
# have dropped all of them: `$done` is never read, the uninitialized `$ret`
# never reaches a load). A function with any other exit gets both, at its
# start, once its exits are lowered.


def run(graph: Graph, ret_type: Type) -> None:
    """Lower every exit of `graph` (memory form) and make it return `$ret`."""
    lowering = _Lowering(graph)
    lowering.lower(graph.block, 0, DONE)
    if not lowering.sole_return:
        b = Builder(graph.block, before=graph.nodes[0] if graph.nodes else None)
        uninit = b.op("prim::Uninitialized", [], [ret_type]).output
        b.op(STORE, [uninit], [], {"name": RET})
        b.op(STORE, [b.constant(False, BOOL)], [], {"name": DONE})
    graph.add_output(Builder(graph.block).op(LOAD, [], [ret_type], {"name": RET}).output)
