"""Control-flow statements: `if`, `for`, `while`, `with`, and the typing of their joins.

Each emits memory form (Note [Memory form] in `environment.py`): the
branches and loop bodies are blocks of `prim::If` / `prim::Loop` nodes whose
variables are still loads and stores. What is decided here is typing:

- `join_if`: after an `if`, a variable set in both branches (or set in one
  and defined before) gets the unified type; set in one branch only, it
  may not be used afterwards (the error names both branches); a branch that
  exits (`return`, `raise`, `break`, `continue`) does not count, and gets
  `prim::Uninitialized` stores so that SSA construction sees the variable
  in both branches (TorchScript's rule).
- `join_loop`: a variable set in a loop body keeps its pre-loop type
  (checked at each store); one first set inside the loop is local to it.
- a loop over compile-time items (a tuple, a module container) is emitted
  once per item, straight-line in the current frame; when its body has
  `break`/`continue`, each copy is instead a block of a `prim::Unrolled`
  node, typed as a loop body (`exits.py` lowers it).
- a loop's `else` (Note [Loop else]).
"""
from __future__ import annotations

import ast
import itertools
from typing import Callable, Collection, List, Optional

from ...ir.core import Block, Node
from ...ir.types import BOOL, INT, unify
from .conditions import refine_in_frame, refine_name
from .emitter import FunctionEmitter
from .environment import LOAD, STORE, WITH, Frame, PendingError, VarInfo
from .exits import BROKE, UNROLLED, loop_exit_kinds
from .loops import Counted, Unrolled

INT64_MAX = 9223372036854775807


# -- if ------------------------------------------------------------------------------------------


def emit_if(em: FunctionEmitter, node: ast.If) -> None:
    cond = em.emit_condition(node.test)
    if cond.static is not None:
        # Only the branch taken is compiled (TorchScript's metaprogramming).
        em.emit_stmts(node.body if cond.static else node.orelse)
        return
    if_node = em.op("prim::If", [cond.value], [], None, em.loc(node), 2)
    with em.child_frame("if", if_node.blocks[0]) as tf:
        refine_in_frame(em, cond.true_refs, node.test)
        em.emit_stmts(node.body)
    with em.child_frame("if", if_node.blocks[1]) as ff:
        refine_in_frame(em, cond.false_refs, node.test)
        em.emit_stmts(node.orelse)
    join_if(em, tf, ff, node)
    # After `if x is None: return ...`, x is not None in the code that follows.
    if tf.exits and not ff.exits:
        refine_in_frame(em, cond.false_refs, node.test)
    elif ff.exits and not tf.exits:
        refine_in_frame(em, cond.true_refs, node.test)


def join_if(em: FunctionEmitter, tf: Frame, ff: Frame, node: ast.AST) -> None:
    parent = em.frame
    for f in (tf, ff):
        if f.exits:
            parent.note_escaped(f.vars)
    if tf.exits and ff.exits:
        parent.exits = True
        return
    names = list(dict.fromkeys(tf.names() + ff.names()))
    for name in names:
        before = parent.find(name)[1]
        before_var = before if isinstance(before, VarInfo) else None
        if tf.exits or ff.exits:
            live, dead = (ff, tf) if tf.exits else (tf, ff)
            _take_live_branch(em, parent, name, live, dead, node)
            continue
        t = _branch_binding(tf, name, before)
        f = _branch_binding(ff, name, before)
        if isinstance(t, VarInfo) and isinstance(f, VarInfo):
            joined = unify(t.type, f.type)
            if joined is None and before_var is not None and t.type.is_subtype_of(before_var.type) and f.type.is_subtype_of(before_var.type):
                joined = before_var.type  # e.g. a Union refined differently in each branch
            if joined is not None and before_var is not None and joined == before_var.type and _narrows(t, before_var) and _narrows(f, before_var):
                continue  # Note [Refinement joins]: the variable holds the value it had before the `if`
            if joined is not None:
                if name in tf.vars or name in ff.vars:
                    loc = (ff.vars.get(name) or tf.vars.get(name)).loc  # type: ignore[union-attr]
                    parent.set_var(name, VarInfo(joined, loc))
                continue
            error = _mismatch_error(name, t, f, em, node)
            if before_var is not None:
                error.raise_at(f.loc or t.loc or em.loc(node))
            parent.set_error(name, error)
            continue
        if t is before and f is before:
            continue
        parent.set_error(name, _one_branch_error(name, t, f, tf, ff))


# Note [Refinement joins]
# ~~~~~~~~~~~~~~~~~~~~~~~
# A refinement (`if m is not None:`, `isinstance`) binds the variable, in the
# branch, to `prim::unchecked_cast` of its value: the same object, typed
# narrower. It assigns nothing. Where both paths through an `if` hold the
# value from before it, cast or not, and their types join to its type, the
# variable keeps its binding from before the `if`, value included, so later
# reads use that value (Note [Load forwarding]) rather than a `prim::Load`
# of a join, and the stores of the refinements are never made (Note
# [Deferred stores]). Where the branch that goes on narrowed it and the
# other exits (`if m is None: raise ...`), the narrowing is made again after
# the `if`, as a cast of that value, instead of carrying the cast out of the
# branch. A `prim::If` with refinements as its only joins then has no
# outputs. (Three in four of a Transformer's `if`s check an argument this
# way.)


def _narrows(binding, before: VarInfo) -> bool:
    """Whether `binding` is `before` or a chain of refinements of it (Note [Refinement joins])."""
    while binding is not None:
        if binding is before:
            return True
        binding = binding.refines
    return False


def _branch_binding(frame: Frame, name: str, before):
    if name in frame.vars:
        return frame.vars[name]
    if name in frame.sugared:
        return frame.sugared[name]
    if name in frame.errors:
        return frame.errors[name]
    return before


def _take_live_branch(em: FunctionEmitter, parent: Frame, name: str, live: Frame, dead: Frame, node: ast.AST) -> None:
    if name in live.vars:
        info = live.vars[name]
        before = parent.find(name)[1]
        if isinstance(before, VarInfo) and info.refines is not None and _narrows(info, before):
            refine_name(em, name, info.type, node)  # Note [Refinement joins]: narrowed again here
            return
        if not isinstance(before, VarInfo):
            # Only a name new here needs a value in the exited branch: one defined before
            # keeps its value there, and a `break`/`continue` carries that value on.
            _store_uninitialized(em, dead.block, name, info)
        parent.set_var(name, info)
    elif name in live.sugared:
        parent.set_sugared(name, live.sugared[name])
    elif name in live.errors:
        parent.set_error(name, live.errors[name])


def _store_uninitialized(em: FunctionEmitter, block: Block, name: str, info: VarInfo) -> None:
    """In an exiting branch, define `name` (never read) so that both branches define it."""
    anchor = block.nodes[-1] if block.nodes else None
    with em.builder.at_block(block, before=anchor):
        u = em.op("prim::Uninitialized", [], [info.type]).output
        em.op(STORE, [u], [], {"name": name})


def _mismatch_error(name: str, t: VarInfo, f: VarInfo, em: FunctionEmitter, node: ast.AST) -> PendingError:
    notes = []
    if t.loc is not None:
        notes.append(f"  '{name}' is {t.type} in the true branch, set at {t.loc}: {t.loc.source_line().strip()}")
    if f.loc is not None:
        notes.append(f"  '{name}' is {f.type} in the false branch, set at {f.loc}: {f.loc.source_line().strip()}")
    return PendingError(
        f"'{name}' has type {t.type} in the true branch and {f.type} in the false branch of the `if` at line {em.loc(node).line}",
        hint=f"give '{name}' one type in both branches, or annotate it before the `if` with a type that holds both (e.g. Optional[...] or Union[...])",
        notes=notes,
    )


def _one_branch_error(name: str, t, f, tf: Frame, ff: Frame) -> PendingError:
    if isinstance(t, PendingError):
        return t
    if isinstance(f, PendingError):
        return f
    missing = "false" if f is None else "true"
    where = t if f is None else f
    notes = []
    if isinstance(where, VarInfo) and where.loc is not None:
        notes.append(f"  it is set at {where.loc}: {where.loc.source_line().strip()}")
    if not isinstance(t, (VarInfo, type(None))) or not isinstance(f, (VarInfo, type(None))):
        return PendingError(
            f"'{name}' names a module, function or other compile-time value in one branch of an `if`",
            hint="bind compile-time values (modules, functions) outside of control flow",
            notes=notes,
        )
    return PendingError(
        f"'{name}' is not defined in the {missing} branch of an `if`, so it may be undefined here",
        hint=f"assign '{name}' in both branches, or before the `if`",
        notes=notes,
    )


# -- loops -----------------------------------------------------------------------------------------


def emit_for(em: FunctionEmitter, node: ast.For) -> None:
    from .stmts import assign_target

    iterable = em.emit_expr(node.iter)
    it = _unrolled_range(em, node, iterable) or iterable.iterate(em, node.iter)
    if isinstance(it, Unrolled):
        if _has_loop_exits(node.body):
            _emit_unrolled_with_exits(em, node, it)
        else:
            _emit_unrolled(em, node, it)
            em.emit_stmts(node.orelse)  # no `break`: the `else` always runs
        return
    assert isinstance(it, Counted)
    with em.at(node):
        loop = em.op("prim::Loop", [it.length, em.const(True)], [], _else_attrs(node), n_blocks=2)
    body, cond_block = loop.blocks
    i = body.add_param(INT)
    with em.child_frame("loop", body) as lf:
        em.loop_depth += 1
        saved_unrolled, em.unrolled_depth = em.unrolled_depth, 0
        try:
            with em.at(node.target):
                item = it.item(em, node.target, i)
            assign_target(em, node.target, item, node)
            em.emit_stmts(node.body)
        finally:
            em.loop_depth -= 1
            em.unrolled_depth = saved_unrolled
    with em.builder.at_block(cond_block):
        cond_block.add_return(em.const(True))
    join_loop(em, lf)
    _emit_else(em, node, loop, [body])


# Note [Ranges that index modules]
# ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
# `for i in range(len(self.layers)): x = self.layers[i](x)` indexes a module
# container with the loop variable, and a container's items are submodules of
# different types: an index must be known when compiling. TorchScript refuses
# this; here such a loop over a range whose bounds are constants is unrolled,
# `i` a constant in each copy, as `for layer in self.layers` is. Only loops
# whose body indexes `self.<container>` (or `self.<...>.<container>`) with an
# expression of the loop variable (`i`, `-i`, `2 * i`), or names an attribute with it (`getattr(self, f"layer{i}")`),
# are unrolled, up to `_MAX_UNROLLED_RANGE` items.
_MAX_UNROLLED_RANGE = 1024


def _unrolled_range(em: FunctionEmitter, node: ast.For, iterable) -> Optional[Unrolled]:
    from .loops import RangeValue

    if not isinstance(iterable, RangeValue) or not isinstance(node.target, ast.Name):
        return None
    bounds = [_constant(v) for v in (iterable.start, iterable.stop, iterable.step)]
    if any(b is None for b in bounds) or bounds[2] == 0:
        return None
    items = range(*bounds)  # type: ignore[misc]
    if len(items) > _MAX_UNROLLED_RANGE or not _indexes_module_container(em, node.body, node.target.id):
        return None
    from .sugared import SimpleValue

    with em.at(node.iter):
        return Unrolled([SimpleValue(em.const(i)) for i in items])


def _constant(v) -> Optional[int]:
    n = v.node
    if n is None or n.kind != "prim::Constant":
        return None
    value = n.attrs.get("value")
    return value if type(value) is int else None


def _indexes_module_container(em: FunctionEmitter, body: List[ast.stmt], name: str) -> bool:
    """Whether `body` has `self.<...>[<made from name>]` with a module container there, or
    `getattr(self, <made from name>)`."""
    for stmt in body:
        for sub in ast.walk(stmt):
            if _getattr_of_self_by(sub, name):
                return True
            if not (isinstance(sub, ast.Subscript) and any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(sub.slice))):
                continue
            root = sub.value
            while isinstance(root, ast.Attribute):
                root = root.value
            if not (isinstance(root, ast.Name) and root.id == "self" and isinstance(sub.value, ast.Attribute)):
                continue
            container = em.emit_expr(sub.value)  # attribute reads only: nothing else is emitted
            t = getattr(container, "type", None)
            info = em.compiler.classes.modules.by_type.get(t) if t is not None else None
            if info is not None and info.container in ("list", "plist"):
                return True
    return False


def _getattr_of_self_by(node: ast.AST, name: str) -> bool:
    """`getattr(self, f"layer{name}")`: an attribute name made from the loop variable."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr" and len(node.args) >= 2):
        return False
    obj, attr = node.args[0], node.args[1]
    if not (isinstance(obj, ast.Name) and obj.id == "self") or isinstance(attr, ast.Constant):
        return False
    return any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(attr))


def _emit_unrolled(em: FunctionEmitter, node: ast.For, it: Unrolled) -> None:
    """A body without `break`/`continue`: one copy per item, straight-line in this frame
    (a variable's type may change from one item to the next: `x = layer(x)`)."""
    from .stmts import assign_target

    em.unrolled_depth += 1
    try:
        for item in it.items:
            if em.frame.exits:
                break
            assign_target(em, node.target, item, node)
            em.emit_stmts(node.body)
    finally:
        em.unrolled_depth -= 1


def _emit_unrolled_with_exits(em: FunctionEmitter, node: ast.For, it: Unrolled) -> None:
    """A body with `break`/`continue`: a `prim::Unrolled` node, one block (and one loop
    frame, typed as a loop body) per item; `exits.py` lowers it with flags as for a loop."""
    from .stmts import assign_target

    with em.at(node):
        unrolled = em.op(UNROLLED, [], [], _else_attrs(node))
    em.loop_depth += 1
    em.unrolled_depth += 1
    try:
        may_break = False
        for item in it.items:
            block = unrolled.add_block()
            with em.child_frame("loop", block) as lf:
                assign_target(em, node.target, item, node)
                em.emit_stmts(node.body)
            join_loop(em, lf)
            kinds = loop_exit_kinds(block)
            if lf.exits and not kinds and not may_break:
                em.frame.exits = True  # this item always returns or raises (exits.py agrees)
                break
            may_break = may_break or "break" in kinds
    finally:
        em.loop_depth -= 1
        em.unrolled_depth -= 1
    _emit_else(em, node, unrolled, unrolled.blocks)


def emit_while(em: FunctionEmitter, node: ast.While) -> None:
    cond = em.emit_condition(node.test)
    if cond.static is False:
        em.emit_stmts(node.orelse)
        return
    with em.at(node):
        start = cond.value if cond.value is not None else em.const(True)
        loop = em.op("prim::Loop", [em.const(INT64_MAX), start], [], _else_attrs(node), n_blocks=2)
    body, cond_block = loop.blocks
    body.add_param(INT)
    with em.child_frame("loop", body) as lf:
        em.loop_depth += 1
        saved_unrolled, em.unrolled_depth = em.unrolled_depth, 0
        try:
            refine_in_frame(em, cond.true_refs, node.test)
            em.emit_stmts(node.body)
            with em.in_block(cond_block):
                again = em.emit_condition(node.test)
                value = again.value if again.value is not None else em.const(bool(again.static))
                if value.type != BOOL:
                    value = em.to_bool(value, node.test)
                cond_block.add_return(value)
        finally:
            em.loop_depth -= 1
            em.unrolled_depth = saved_unrolled
    join_loop(em, lf)
    _emit_else(em, node, loop, [body])


# Note [Loop else]
# ----------------
# The `else` of a `for`/`while` runs when the loop ends without `break` (a `return`
# inside the loop leaves the function, so it never reaches the `else`). A loop whose
# body has no `break` is followed by its `else` statements as they are. Otherwise the
# loop node carries `broke=$brokeN` (exits.py sets that flag False before the loop and
# True at each `break`) and the `else` is emitted as `if $brokeN: pass else: <else>`,
# typed as an `if` whose first branch is empty.
_broke_names = itertools.count(1)


def _else_attrs(node) -> dict:
    return {BROKE: f"$broke{next(_broke_names)}"} if node.orelse else {}


def _emit_else(em: FunctionEmitter, node, loop: Node, bodies) -> None:
    broke = loop.attrs.get(BROKE)
    if broke is None:
        return
    if not any("break" in loop_exit_kinds(b) for b in bodies):
        del loop.attrs[BROKE]
        em.emit_stmts(node.orelse)
        return
    with em.at(node):
        flag = em.op(LOAD, [], [BOOL], {"name": broke}).output
        if_node = em.op("prim::If", [flag], [], n_blocks=2)
    with em.child_frame("if", if_node.blocks[0]) as tf:
        pass
    with em.child_frame("if", if_node.blocks[1]) as ff:
        em.emit_stmts(node.orelse)
    join_if(em, tf, ff, node)


def join_loop(em: FunctionEmitter, lf: Frame) -> None:
    """After a loop: variables first set inside it are local to it."""
    parent = em.frame
    names = lf.names()
    for name in lf.escaped:
        if name in names:
            continue
        before = parent.find(name)[1]
        if isinstance(before, VarInfo):
            parent.set_var(name, VarInfo(before.type, before.loc))  # set on a path that left the body early
    for name in names:
        before = parent.find(name)[1]
        if isinstance(before, VarInfo) and name in lf.vars:
            parent.set_var(name, VarInfo(before.type, before.loc))  # the value changed: no longer a known constant
            continue
        if before is not None and name not in lf.vars and name in lf.sugared and lf.sugared[name] is before:
            continue
        info = lf.vars.get(name)
        notes = [f"  it is set at {info.loc}: {info.loc.source_line().strip()}"] if info is not None and info.loc is not None else []
        if isinstance(before, VarInfo) and name in lf.errors:
            parent.set_error(name, lf.errors[name])
            continue
        parent.set_error(
            name,
            PendingError(
                f"'{name}' is first assigned inside a loop, so it may be undefined after the loop",
                hint=f"assign '{name}' before the loop",
                notes=notes,
            ),
        )


def join_branch(em: FunctionEmitter, frame: Frame, node: ast.AST, refined: Collection[str] = ()) -> None:
    """After a branch of an expression (`a and b`, a comprehension's `if`) that assigned variables
    (`:=`, a called nested function's `nonlocal`): join it with the path that skipped it, as
    `join_if` joins an `if` without `else`. `refined`: names the branch only refined (casts)."""
    if any(name not in refined for name in frame.vars) or frame.errors:
        for name in refined:
            frame.vars.pop(name, None)
        join_if(em, frame, Frame("if", frame.block, em.frame), node)


def join_inline(em: FunctionEmitter, frame: Frame, existing_only: bool = False) -> None:
    """After a comprehension or an inlined lambda (a frame on its parent's block): the variables
    it assigned that are not its own (renamed) targets are its parent's: `:=` in a comprehension,
    the `nonlocal` variables of a nested function it called (`existing_only`: those only)."""
    parent = em.frame
    for table, bind in ((frame.vars, parent.set_var), (frame.errors, parent.set_error)):
        for name, binding in table.items():
            if name in frame.renames or existing_only and not isinstance(parent.find(name)[1], VarInfo):
                continue
            bind(name, binding)  # type: ignore[operator]


def _has_loop_exits(stmts) -> bool:
    """Whether `break`/`continue` in `stmts` leave the loop whose body they are."""
    return any(isinstance(sub, (ast.Break, ast.Continue)) for s in stmts for sub in _walk_same_loop(s))


def _walk_same_loop(node: ast.AST):
    yield node
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.For, ast.While, ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        yield from _walk_same_loop(child)


def emit_break(em: FunctionEmitter, node: ast.AST) -> None:
    _check_in_loop(em, node, "break")
    em.exit("break")


def emit_continue(em: FunctionEmitter, node: ast.AST) -> None:
    _check_in_loop(em, node, "continue")
    em.exit("continue")


def _check_in_loop(em: FunctionEmitter, node: ast.AST, word: str) -> None:
    if em.loop_depth == 0:
        em.fail(node, f"`{word}` outside a loop")


# -- with --------------------------------------------------------------------------------------------


def emit_with(em: FunctionEmitter, node: ast.With) -> None:
    _emit_with_items(em, node, list(node.items))


def _emit_with_items(em: FunctionEmitter, node: ast.With, items) -> None:
    if not items:
        em.emit_stmts(node.body)
        return
    item = items[0]
    if item.optional_vars is not None:
        em.fail(item.optional_vars, "`with ... as name` is not supported", hint="use `with torch.no_grad():` without `as`")
    manager = em.emit_expr(item.context_expr)
    if getattr(manager, "enter", None) is None:
        em.fail(item.context_expr, f"{manager.describe()} cannot be used in a `with` statement", hint="script supports `with torch.no_grad():`, `with torch.enable_grad():`, `with torch.set_grad_enabled(b):` and `with torch.autocast(...):`")
    emit_with_manager(em, manager, item.context_expr, lambda: _emit_with_items(em, node, items[1:]))


def emit_with_manager(em: FunctionEmitter, manager, where: ast.AST, emit_body: Callable[[], None]) -> None:
    """`with <manager>: <emit_body()>`: a `prim::With` whose body is what `emit_body` emits and
    whose exit block restores what `manager.enter` changed (also for a decorated function's
    body: Note [Context decorators] in specials.py)."""
    with em.at(where):
        state = manager.enter(em)
        with_node = em.op(WITH, [], [], n_blocks=2)
    body, exit_block = with_node.blocks
    with em.in_block(body):
        emit_body()
    with em.builder.at_block(exit_block), em.at(where):
        manager.exit(em, state)


__all__ = ["emit_if", "emit_for", "emit_while", "emit_with", "emit_with_manager", "emit_break", "emit_continue", "join_if", "join_loop"]
