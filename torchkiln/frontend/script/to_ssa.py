"""SSA construction: memory form (loads and stores of named variables) -> values.

Runs after exit lowering (`exits.py`). Three small steps:

1. `_drop_dead_stores`: stores of names that are never loaded go away
   (exit flags nobody reads, variables assigned and never read).
2. `_Renamer`: walk blocks in order with an environment name -> value;
   a load becomes the value; an `if` gets one output per variable stored in
   a branch that is defined before it or in both branches; a loop gets one
   carried value per variable stored in its body and defined before it.
3. `_prune`: drop `if` outputs and loop-carried values nobody uses, loop
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

from typing import Dict, List, Optional, Tuple

from ...ir.builder import Builder
from ...ir.core import Block, Graph, Node, Value
from ...ir.types import Type, unify
from .environment import LOAD, STORE
from .exits import EXITED

CAST = "prim::unchecked_cast"
Binding = Tuple[Value, Type]  # the value, and the variable's declared type


def run(graph: Graph) -> int:
    """Build SSA form in place; returns how deep the graph's blocks nest (Note [Block nesting limit])."""
    _drop_dead_stores(graph)
    renamer = _Renamer()
    renamer.block(graph.block, _Env())
    # One walk for both: pruning makes no node and the pool only moves constants.
    nodes = [n for n in graph.all_nodes() if n.kind in _ACTS_ON]
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


def _drop_dead_stores(graph: Graph) -> None:
    nodes = graph.all_nodes()
    loaded = {n.attrs["name"] for n in nodes if n.kind == LOAD}
    touched: Dict[int, Block] = {}
    for n in nodes:
        if n.kind == STORE and n.attrs["name"] not in loaded:
            block = n.block
            n.unlink()
            if block is not None:
                touched[id(block)] = block
    for block in touched.values():
        block.drop_unlinked()


def _strip(v: Value) -> Value:
    while v.node is not None and v.node.kind == CAST:
        v = v.node.inputs[0]
    return v


class _Env:
    """Variable name -> binding where a block is being renamed.

    `all` holds every binding visible (a copy of the parent's, updated);
    `local` the names bound in this block itself (as `ChainMap.maps[0]`).
    """

    __slots__ = ("all", "local")

    def __init__(self, parent: Optional["_Env"] = None):
        self.all: Dict[str, Binding] = dict(parent.all) if parent is not None else {}
        self.local: Dict[str, Binding] = {}

    def child(self) -> "_Env":
        return _Env(self)

    def __contains__(self, name: str) -> bool:
        return name in self.all

    def __getitem__(self, name: str) -> Binding:
        return self.all[name]

    def get(self, name: str) -> Optional[Binding]:
        return self.all.get(name)

    def __setitem__(self, name: str, binding: Binding) -> None:
        self.all[name] = binding
        self.local[name] = binding


class _Renamer:
    def __init__(self) -> None:
        self.depth = 0  # of the block being renamed (the graph's: 0)
        self.deepest = 0

    def block(self, block: Block, env: _Env) -> None:
        self.depth += 1
        if self.depth - 1 > self.deepest:
            self.deepest = self.depth - 1
        try:
            self._block(block, env)
        finally:
            self.depth -= 1

    def _block(self, block: Block, env: _Env) -> None:
        kept: List[Node] = []  # the block's new node list (Note [Batched removal])
        for node in list(block.nodes):
            kind = node.kind
            if kind == STORE:
                v = node.inputs[0]
                env[node.attrs["name"]] = (v, node.attrs.get("type", v.type))
                node.unlink()
                continue
            if kind == LOAD:
                self._load(node, env, kept)
                continue
            kept.append(node)
            if kind == "prim::If":
                self._if(node, env)
            elif kind == "prim::Loop":
                self._loop(node, env)
            elif node.blocks:
                for b in node.blocks:
                    self.block(b, env.child())
        block.nodes = kept
        block.dead_nodes = False

    def _load(self, node: Node, env: _Env, kept: List[Node]) -> None:
        name = node.attrs["name"]
        binding = env.get(name)
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
        out.replace_all_uses_with(value)
        node.unlink()

    def _if(self, node: Node, env: _Env) -> None:
        exited = node.attrs.pop(EXITED, None)
        envs = []
        for b in node.blocks:
            child = env.child()
            self.block(b, child)
            envs.append(child)
        t_env, f_env = envs
        t_local, f_local = t_env.local, f_env.local
        if not t_local and not f_local:
            return
        outer = env.all  # the `_Env` methods, read as dicts: this runs per variable of every `if`
        live_local = (f_local if exited == 0 else t_local) if exited is not None else {}
        for name in dict.fromkeys([*t_local, *f_local]):
            if name not in outer and not (name in t_local and name in f_local) and name not in live_local:
                continue  # defined in one branch only: local to it
            if exited is not None and name in live_local:
                self._fill_exited(node, exited, name, envs)
            (tv, tt), (fv, ft) = t_env.all[name], f_env.all[name]
            declared = tt if tt is ft else unify(tt, ft)
            if declared is None and name in outer and tt.is_subtype_of(outer[name][1]) and ft.is_subtype_of(outer[name][1]):
                declared = outer[name][1]  # a Union refined differently in each branch
            if declared is None:
                declared = tt
            if tv is fv:
                env[name] = (tv, declared)
                continue
            base = _strip(tv)
            if base is _strip(fv) and tv.type.is_subtype_of(base.type) and fv.type.is_subtype_of(base.type):
                env[name] = (base, base.type)  # only refinements: the variable did not change
                continue
            joined = unify(tv.type, fv.type)
            out = node.add_output(joined if joined is not None and joined.is_subtype_of(declared) else declared)
            node.blocks[0].add_return(tv)
            node.blocks[1].add_return(fv)
            env[name] = (out, declared)

    def _fill_exited(self, node: Node, exited: int, name: str, envs: List[_Env]) -> None:
        """In the branch that already exited (Note [Exit lowering]), `name` is never read again:
        give it an uninitialized value when it has none there, or one whose type does not fit."""
        live_value, live_type = envs[1 - exited][name]
        dead = envs[exited].get(name)
        if dead is not None and unify(dead[1], live_type) is not None:
            return
        block = node.blocks[exited]
        u = Builder(block, loc=node.loc).op("prim::Uninitialized", [], [live_type]).output
        envs[exited][name] = (u, live_type)

    def _loop(self, node: Node, env: _Env) -> None:
        body = node.blocks[0]
        stored = list(dict.fromkeys(n.attrs["name"] for n in body.all_nodes() if n.kind == STORE))
        carried = [name for name in stored if name in env]
        body_env = env.child()
        params: List[Value] = []
        for name in carried:
            value, declared = env[name]
            node.add_input(value)
            p = body.add_param(declared, None)
            params.append(p)
            body_env[name] = (p, declared)
        self.block(body, body_env)
        for name, p in zip(carried, params):
            body.add_return(body_env[name][0])
        for name, p in zip(carried, params):
            out = node.add_output(p.type)
            env[name] = (out, p.type)


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
                changed |= _prune_if(node)
            elif kind == "prim::Loop":
                changed |= _prune_loop(node)
            elif kind in _PRUNABLE and not node.outputs[0].uses:
                node.unlink()
                touched[id(block)] = block
                changed = True
        for block in touched.values():
            block.drop_unlinked()


_PRUNABLE = ("prim::Uninitialized", CAST, "prim::Constant")
_ACTS_ON = frozenset(("prim::If", "prim::Loop") + _PRUNABLE)


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
