"""SSA construction: memory form (loads and stores of named variables) -> values.

Runs after exit lowering (`exits.py`). Two small steps:

1. `_Renamer`: walk blocks in order with an environment name -> value
   (Note [Renaming scopes]); a load becomes the value, a store of a name no
   load reads goes away; an `if` gets one output per variable stored in
   a branch that is defined before it or in both branches; a loop gets one
   carried value per variable stored in its body and defined before it.
2. `_prune`: drop `if` outputs and loop-carried values nobody uses, loop
   slots that carry a value unchanged, and the `prim::Uninitialized` and
   casts this leaves unused.

```
x = 0                          %x.1 : int = prim::Loop(%n, %true, %zero)
for i in range(n):               block0(%i : int, %x : int):
    x = x + i                      %x.2 : int = prim::add.int(%x, %i)
return x                           -> (%true, %x.2)
                               return (%x.1)
```
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Set, Tuple

from ...ir.builder import Builder
from ...ir.core import _EMPTY, Block, Graph, Node, Value
from ...ir.types import Type, unify
from .environment import LOAD, STORE
from .exits import EXITED

CAST = "prim::unchecked_cast"
Binding = Tuple[Value, Type]  # the value, and the variable's declared type


def run(graph: Graph) -> int:
    """Build SSA form in place; returns how deep the graph's blocks nest (Note [Block nesting limit])."""
    loaded: Set[str] = set()
    _loaded_names(graph.block, loaded)
    renamer = _Renamer(loaded)
    renamer.scope(graph.block, 0)
    # The renamer met every node pruning and pooling act on: pruning makes no node and the
    # pool only moves constants.
    nodes = renamer.acts_on
    _prune(nodes)
    _pool_constants(graph, [n for n in nodes if n.kind == "prim::Constant" and n.block is not None])
    return renamer.deepest


# Note [Batched removal]
# ~~~~~~~~~~~~~~~~~~~~~~
# These steps remove many nodes (every load and store, duplicate constants).
# `Node.destroy` searches its block's list for the node, so removing most
# nodes of a long block one by one is quadratic; they `unlink` nodes instead
# and `drop_unlinked` each touched block once, or rebuild the list while
# walking it.


def _pool_constants(graph: Graph, constants: List[Node]) -> None:
    """One `prim::Constant` per value and type, at the top of the graph (the exit flags' too).

    `constants`: the graph's constant nodes, in `all_nodes()` order.
    """
    top = graph.block
    pooled: Dict[tuple, Value] = {}
    moved: List[Node] = []
    touched: Dict[int, Block] = {}
    for node in constants:
        if node.blocks:
            continue
        value = node.attrs.get("value")
        if not (value is None or type(value) in (bool, int, float, str)):
            continue
        out = node.output
        key = (type(value), repr(value), str(out.type))
        block = node.block
        touched[id(block)] = block
        first = pooled.get(key)
        if first is not None:
            out.replace_all_uses_with(first)
            node.unlink()
            continue
        pooled[key] = out
        moved.append(node)
        node.block = None  # leaves its block; re-placed at the top below
        block.dead_nodes = True  # type: ignore[union-attr]
    for block in touched.values():
        block.drop_unlinked()
    for node in moved:
        node.block = top
    top.nodes[:0] = moved


def _loaded_names(block: Block, out: Set[str]) -> None:
    """Add the names the loads in `block` (and nested blocks) read to `out`."""
    for n in block.nodes:
        if n.kind == LOAD:
            out.add(n.attrs["name"])
        elif n.blocks:
            for b in n.blocks:
                _loaded_names(b, out)


def _strip(v: Value) -> Value:
    while v.node is not None and v.node.kind == CAST:
        v = v.node.inputs[0]
    return v


# Note [Renaming scopes]
# ~~~~~~~~~~~~~~~~~~~~~~
# The renamer keeps one dict, variable name -> binding (its value and its
# declared type), for the place the walk is at. A block records, for each
# name it binds, the binding the name had before the block (`saved`) and its
# latest one (`local`); leaving the block puts the saved bindings back, so
# each branch of an `if` starts from the bindings before the `if`, and the
# `if` then joins the branches' `local`s. (A copy of every visible binding
# per block was most of the renamer's time: a function's argument checks are
# a hundred `if`s.) Looking a name up costs the same at any depth.
#
# A store of a name that no load reads is dead (exit flags nobody reads,
# variables assigned and never read): the renamer drops it without binding
# the name, so that no `if` output or loop-carried value is made for it.


class _Renamer:
    def __init__(self, loaded: Set[str]) -> None:
        self.loaded = loaded  # the names some load reads
        self.env: Dict[str, Binding] = {}  # Note [Renaming scopes]
        self.local: Dict[str, Binding] = {}  # of the block being renamed
        self.saved: Dict[str, Optional[Binding]] = {}  # of the block being renamed; None: unbound before it
        self.deepest = 0
        self.acts_on: List[Node] = []  # the nodes of kinds in `_ACTS_ON`, in `all_nodes()` order

    def scope(self, block: Block, depth: int, params: Sequence[Tuple[str, Binding]] = ()) -> Dict[str, Binding]:
        """Rename `block` (nested `depth` deep; the graph's: 0), with `params` bound at its start.

        Returns the names the block binds, with their bindings at its end; the bindings
        from before the block are back when this returns (Note [Renaming scopes]).
        """
        outer = self.local, self.saved
        local: Dict[str, Binding] = {}
        saved: Dict[str, Optional[Binding]] = {}
        self.local, self.saved = local, saved
        env = self.env
        for name, binding in params:
            self._bind(name, binding)
        if depth > self.deepest:
            self.deepest = depth
        self._block(block, depth)
        for name, old in saved.items():
            if old is None:
                del env[name]
            else:
                env[name] = old
        self.local, self.saved = outer
        return local

    def _bind(self, name: str, binding: Binding) -> None:
        """Bind `name` in the block being renamed."""
        local = self.local
        if name not in local:
            self.saved[name] = self.env.get(name)
        local[name] = self.env[name] = binding

    def _block(self, block: Block, depth: int) -> None:
        kept: List[Node] = []  # the block's new node list (Note [Batched removal])
        acts_on = self.acts_on
        loaded = self.loaded
        env, local, saved = self.env, self.local, self.saved  # `_bind`, inlined for stores
        for node in block.nodes:  # nothing here changes the list (`kept` replaces it)
            kind = node.kind
            if kind == STORE:
                name = node.attrs["name"]
                if name in loaded:
                    v = node.inputs[0]
                    if name not in local:
                        saved[name] = env.get(name)
                    local[name] = env[name] = (v, node.attrs.get("type", v.type))
                # `node.unlink()`, for a store (one input; no outputs, no blocks): `kept` drops it
                node.inputs[0].uses.remove((node, 0))
                node.inputs = _EMPTY
                node.block = None
                continue
            if kind == LOAD:
                self._load(node, kept)
                continue
            kept.append(node)
            if node.blocks:
                if kind == "prim::If":
                    acts_on.append(node)
                    self._if(node, depth)
                elif kind == "prim::Loop":
                    acts_on.append(node)
                    self._loop(node, depth)
                else:
                    for b in node.blocks:
                        self.scope(b, depth + 1)
            elif kind in _PRUNABLE:
                acts_on.append(node)
        block.nodes = kept
        block.dead_nodes = False

    def _load(self, node: Node, kept: List[Node]) -> None:
        name = node.attrs["name"]
        binding = self.env.get(name)
        if binding is None:
            raise AssertionError(f"internal error: '{name}' is loaded before it is stored")
        value = binding[0]
        out = node.output
        if not value.type.is_subtype_of(out.type):
            cast = Node(CAST, None, node.loc)
            cast.add_input(value)
            value = cast.add_output(out.type)
            cast.block = node.block
            kept.append(cast)  # where the load was
            self.acts_on.append(cast)
        out.replace_all_uses_with(value)
        node.block = None  # `node.unlink()`, for a load (no inputs, no blocks; its output now unused)

    def _if(self, node: Node, depth: int) -> None:
        exited = node.attrs.pop(EXITED, None)
        inner = depth + 1
        if inner > self.deepest:
            self.deepest = inner  # the branches' depth, also when they are empty
        t_block, f_block = node.blocks
        # An empty branch (the `else` of most `if c: raise ...`) binds nothing.
        t_local = self.scope(t_block, inner) if t_block.nodes else {}
        mark = len(self.acts_on)  # where the true branch's nodes end
        f_local = self.scope(f_block, inner) if f_block.nodes else {}
        if not t_local and not f_local:
            return
        env = self.env  # the bindings before the `if`
        locals_ = (t_local, f_local)
        filled: List[Node] = []
        live_local = locals_[1 - exited] if exited is not None else {}
        for name in dict.fromkeys([*t_local, *f_local]):
            outer = env.get(name)
            if outer is None and not (name in t_local and name in f_local) and name not in live_local:
                continue  # defined in one branch only: local to it
            if exited is not None and name in live_local:
                self._fill_exited(node, exited, name, locals_, outer, filled)
            tv, tt = t_local.get(name) or outer  # type: ignore[misc]
            fv, ft = f_local.get(name) or outer  # type: ignore[misc]
            declared = tt if tt is ft else unify(tt, ft)
            if declared is None and outer is not None and tt.is_subtype_of(outer[1]) and ft.is_subtype_of(outer[1]):
                declared = outer[1]  # a Union refined differently in each branch
            if declared is None:
                declared = tt
            if tv is fv:
                self._bind(name, (tv, declared))
                continue
            base = _strip(tv)
            if base is _strip(fv) and tv.type.is_subtype_of(base.type) and fv.type.is_subtype_of(base.type):
                self._bind(name, (base, base.type))  # only refinements: the variable did not change
                continue
            joined = unify(tv.type, fv.type)
            out = node.add_output(joined if joined is not None and joined.is_subtype_of(declared) else declared)
            node.blocks[0].add_return(tv)
            node.blocks[1].add_return(fv)
            self._bind(name, (out, declared))
        if filled:  # at the end of the exited branch: in `all_nodes()` order, there
            at = mark if exited == 0 else len(self.acts_on)
            self.acts_on[at:at] = filled

    def _fill_exited(self, node: Node, exited: int, name: str, locals_: Tuple[Dict[str, Binding], ...], outer: Optional[Binding], filled: List[Node]) -> None:
        """In the branch that already exited (Note [Exit lowering]), `name` is never read again:
        give it an uninitialized value when it has none there, or one whose type does not fit."""
        live_type = locals_[1 - exited][name][1]
        dead = locals_[exited].get(name) or outer
        if dead is not None and unify(dead[1], live_type) is not None:
            return
        u = Builder(node.blocks[exited], loc=node.loc).op("prim::Uninitialized", [], [live_type])
        filled.append(u)
        locals_[exited][name] = (u.output, live_type)

    def _loop(self, node: Node, depth: int) -> None:
        body = node.blocks[0]
        loaded = self.loaded
        stored = dict.fromkeys(n.attrs["name"] for n in body.all_nodes() if n.kind == STORE)
        env = self.env
        carried = [name for name in stored if name in loaded and name in env]
        params: List[Tuple[str, Binding]] = []
        for name in carried:
            value, declared = env[name]
            node.add_input(value)
            params.append((name, (body.add_param(declared, None), declared)))
        body_local = self.scope(body, depth + 1, params)
        for name, _ in params:
            body.add_return(body_local[name][0])
        for name, (p, _) in params:
            self._bind(name, (node.add_output(p.type), p.type))


# -- pruning ----------------------------------------------------------------------------------------


def _prune(nodes: List[Node]) -> None:
    """`nodes`: the graph's nodes of the kinds in `_ACTS_ON`, in `all_nodes()` order."""
    # Pruning creates and moves no node: after the first round only the nodes
    # it acts on need visiting again (in the same order).
    changed = True
    while changed:
        changed = False
        touched: Dict[int, Block] = {}
        for node in nodes:
            block = node.block
            if block is None:
                continue
            kind = node.kind
            if kind == "prim::If":
                if node.outputs:
                    changed |= _prune_if(node)
            elif kind == "prim::Loop":
                changed |= _prune_loop(node)
            elif not node.outputs[0].uses:  # one of `_PRUNABLE`
                node.unlink()
                touched[id(block)] = block
                changed = True
        for block in touched.values():
            block.drop_unlinked()


_PRUNABLE = frozenset(("prim::Uninitialized", CAST, "prim::Constant"))
_ACTS_ON = _PRUNABLE | {"prim::If", "prim::Loop"}


def _prune_if(node: Node) -> bool:
    changed = False
    for i in reversed(range(len(node.outputs))):
        out = node.outputs[i]
        a, b = node.blocks[0].returns[i], node.blocks[1].returns[i]
        if out.uses and a is not b:
            continue
        if a is b and out.uses:
            out.replace_all_uses_with(a)
        for blk in node.blocks:
            blk.return_node.remove_input(i)
        node.remove_output(i)
        changed = True
    return changed


def _prune_loop(node: Node) -> bool:
    body = node.blocks[0]
    changed = False
    for j in reversed(range(len(node.outputs))):
        out = node.outputs[j]
        param = body.params[j + 1]
        ret = body.returns[j + 1]
        init = node.inputs[j + 2]
        invariant = _strip(ret) is param
        if not invariant and (out.uses or param.uses):
            continue
        if invariant:
            if not init.type.is_subtype_of(param.type):
                continue
            param.replace_all_uses_with(init)
            out.replace_all_uses_with(init)
        body.return_node.remove_input(j + 1)
        body.remove_param(j + 1)
        node.remove_input(j + 2)
        node.remove_output(j)
        changed = True
    return changed


__all__ = ["run"]
