"""Graph, Block, Node, Value: the SSA IR with structured control flow.

```
graph(%x : Tensor, %n : int):
  %1 : int = prim::Constant[value=1]()
  %y : Tensor = prim::If(%c)
    block0():
      %2 : Tensor = aten::add.Tensor(%x, %x, %1)
      -> (%2)
    block1():
      -> (%x)
  return (%y)
```

- A `Graph` owns one top `Block`.
- A `Block` has parameters (`Value`s it defines), an ordered list of `Node`s
  and a return node (kind `prim::Return`, not in `nodes`) whose inputs are
  the block's results. The top block's params are the graph inputs.
- A `Node` has a kind (`ns::name` or `ns::name.overload`), input and output
  `Value`s, attributes (`attrs`: name -> Python value), nested blocks and a
  source range. Attribute values are None, bool, int, float, str,
  torch.Tensor, torch.dtype, torch.device, torch.layout, torch.memory_format,
  a Type, or lists/tuples of those.
- A `Value` has a type, a unique id, an optional name hint, its definer
  (`node` with `offset`, or the `block` whose parameter it is) and `uses`,
  a list of `Use(node, index)`; block results are uses by the return node.

This module knows no particular op: only `prim::Return` (the block
terminator) is named here.
"""
from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple

from ..diagnostics import SourceRange
from .types import ClassType, Type

RETURN = "prim::Return"

_ids = itertools.count()


class Use(NamedTuple):
    """Input `index` of `node` reads the value (a tuple: cheap to make and to compare)."""

    node: "Node"
    index: int


_use = tuple.__new__  # `_use(Use, (node, index))` is `Use(node, index)` without the Python-level `__new__`


class Value:
    __slots__ = ("type", "id", "name", "node", "offset", "block", "uses")

    def __init__(self, type: Type, name: Optional[str] = None):
        # `Builder.op` makes node outputs without calling this: keep its copy in step.
        self.type = type
        self.id = next(_ids)
        self.name = name
        self.node: Optional[Node] = None
        self.offset = 0
        self.block: Optional[Block] = None  # set for block parameters
        self.uses: List[Use] = []

    @property
    def owning_block(self) -> "Block":
        return self.block if self.block is not None else self.node.block  # type: ignore[union-attr]

    def replace_all_uses_with(self, other: "Value") -> None:
        """Make every user of `self` use `other` instead.

        Before: `%b = f(%a); %c = g(%a)`; after `a.replace_all_uses_with(x)`:
        `%b = f(%x); %c = g(%x)`.
        """
        if other is self:
            return
        uses = self.uses
        self.uses = []
        for use in uses:  # each `use.node.replace_input(use.index, other)`, without searching this list
            use.node.inputs[use.index] = other
        other.uses.extend(uses)

    def __repr__(self) -> str:
        return f"%{self.name or ''}#{self.id}"


# Note [Empty node lists]
# ~~~~~~~~~~~~~~~~~~~~~~~
# A node's `inputs`, `outputs` and `blocks` are lists, except that an empty
# one may be this shared empty tuple: most nodes have no blocks, constants no
# inputs, stores and raises no outputs, and a list per empty slot was an
# eighth of the objects a cold `script()` left for the garbage collector.
# Read them as sequences; add to them only through `add_input`,
# `add_output` and `add_block` (which make the list), and change a
# non-empty one in place as before (it is always a list).
_EMPTY: tuple = ()


class Node:
    __slots__ = ("kind", "inputs", "outputs", "attrs", "blocks", "block", "loc")

    def __init__(self, kind: str, attrs: Optional[Dict[str, Any]] = None, loc: Optional[SourceRange] = None):
        # `Builder.op` makes nodes without calling this: keep its copy in step.
        self.kind = kind
        self.inputs: List[Value] = _EMPTY  # type: ignore[assignment]  # Note [Empty node lists]
        self.outputs: List[Value] = _EMPTY  # type: ignore[assignment]
        self.attrs: Dict[str, Any] = dict(attrs) if attrs else {}
        self.blocks: List[Block] = _EMPTY  # type: ignore[assignment]
        self.block: Optional[Block] = None
        self.loc = loc

    # -- inputs -------------------------------------------------------------
    def add_input(self, value: Value) -> None:
        inputs = self.inputs
        value.uses.append(_use(Use, (self, len(inputs))))
        if inputs:
            inputs.append(value)
        else:
            self.inputs = [value]

    def replace_input(self, index: int, value: Value) -> None:
        old = self.inputs[index]
        old.uses.remove((self, index))  # a plain tuple equals Use(self, index)
        self.inputs[index] = value
        value.uses.append(_use(Use, (self, index)))

    def remove_input(self, index: int) -> None:
        self.inputs[index].uses.remove((self, index))
        for i in range(index + 1, len(self.inputs)):
            v = self.inputs[i]
            v.uses[v.uses.index((self, i))] = Use(self, i - 1)
        del self.inputs[index]

    def drop_inputs(self) -> None:
        for i, v in enumerate(self.inputs):
            v.uses.remove((self, i))  # equal to Use(self, i)
        self.inputs = _EMPTY  # type: ignore[assignment]  # Note [Empty node lists]

    # -- outputs ------------------------------------------------------------
    def add_output(self, type: Type, name: Optional[str] = None) -> Value:
        v = Value(type, name)
        v.node = self
        outputs = self.outputs
        v.offset = len(outputs)
        if outputs:
            outputs.append(v)
        else:
            self.outputs = [v]
        return v

    def remove_output(self, index: int) -> None:
        assert not self.outputs[index].uses, "output still used"
        del self.outputs[index]
        for i, v in enumerate(self.outputs):
            v.offset = i

    @property
    def output(self) -> Value:
        assert len(self.outputs) == 1, f"{self.kind} has {len(self.outputs)} outputs"
        return self.outputs[0]

    # -- blocks -------------------------------------------------------------
    def add_block(self) -> "Block":
        b = Block(owner=self)
        if self.blocks:
            self.blocks.append(b)
        else:
            self.blocks = [b]
        return b

    # -- placement ----------------------------------------------------------
    def destroy(self) -> None:
        """Remove this node from its block; its outputs must be unused."""
        for out in self.outputs:
            assert not out.uses, f"destroying {self.kind} whose output is still used"
        self._drop_contents()
        if self.block is not None:
            self.block.nodes.remove(self)
            self.block = None

    def unlink(self) -> None:
        """`destroy`, except that the node stays in its block's list, marked dead.

        For removing many nodes of one block: unlink each, then
        `block.drop_unlinked()` removes them all in one pass over the list
        (`destroy` costs a search of the list per node). Until then the
        block lists a node whose `block` is None.
        """
        for out in self.outputs:
            assert not out.uses, f"destroying {self.kind} whose output is still used"
        self._drop_contents()
        if self.block is not None:
            self.block.dead_nodes = True
            self.block = None

    def destroy_unchecked(self) -> None:
        self._drop_contents()
        if self.block is not None:
            self.block.nodes.remove(self)
            self.block = None

    def _drop_contents(self) -> None:
        for b in self.blocks:
            for n in b.nodes:  # the whole block goes: drop uses, no list surgery
                n._drop_contents()
                n.block = None
            b.nodes = []
            b.return_node.drop_inputs()
        self.drop_inputs()

    def move_before(self, other: "Node") -> None:
        if self.block is not None:
            self.block.nodes.remove(self)
        blk = other.block
        assert blk is not None
        blk.nodes.insert(blk.nodes.index(other), self)
        self.block = blk

    def is_before(self, other: "Node") -> bool:
        """Same-block order test (both nodes in one block)."""
        assert self.block is other.block and self.block is not None
        nodes = self.block.nodes
        return nodes.index(self) < nodes.index(other)

    def walk(self) -> Iterator["Node"]:
        """Nodes nested in this node's blocks, depth first, in order."""
        for b in self.blocks:
            yield from b.walk()

    def _nested(self) -> Iterator["Node"]:
        """The nodes directly in this node's blocks (each block's list read when it is reached)."""
        for b in self.blocks:
            yield from list(b.nodes)

    def __repr__(self) -> str:
        return f"<Node {self.kind}>"


class Block:
    __slots__ = ("params", "nodes", "return_node", "owner", "graph", "dead_nodes")

    def __init__(self, owner: Optional[Node] = None, graph: Optional["Graph"] = None):
        self.params: List[Value] = []
        self.nodes: List[Node] = []
        self.dead_nodes = False  # `nodes` lists nodes unlinked since the last `drop_unlinked`
        self.return_node = Node(RETURN)
        self.return_node.block = self
        self.owner = owner
        self.graph = graph

    @property
    def returns(self) -> List[Value]:
        return self.return_node.inputs

    def add_param(self, type: Type, name: Optional[str] = None) -> Value:
        v = Value(type, name)
        v.block = self
        v.offset = len(self.params)
        self.params.append(v)
        return v

    def insert_param(self, index: int, type: Type, name: Optional[str] = None) -> Value:
        v = Value(type, name)
        v.block = self
        self.params.insert(index, v)
        for i, p in enumerate(self.params):
            p.offset = i
        return v

    def remove_param(self, index: int) -> None:
        assert not self.params[index].uses, "parameter still used"
        del self.params[index]
        for i, p in enumerate(self.params):
            p.offset = i

    def add_return(self, value: Value) -> None:
        self.return_node.add_input(value)

    def append(self, node: Node) -> Node:
        node.block = self
        self.nodes.append(node)
        return node

    def insert(self, index: int, node: Node) -> Node:
        node.block = self
        self.nodes.insert(index, node)
        return node

    def walk(self) -> Iterator[Node]:
        """Every node in this block and nested blocks, depth first, in order.

        A block's node list is read when the walk reaches the block, so the
        caller may remove or insert nodes of a block the walk is in.
        """
        # One generator with a stack of iterators, not one generator per level:
        # a node at depth d is yielded through one frame, not d.
        stack: List[Iterator[Node]] = [iter(list(self.nodes))]
        while stack:
            for n in stack[-1]:
                yield n
                if n.blocks:
                    stack.append(n._nested())
                    break
            else:
                stack.pop()

    def all_nodes(self) -> List[Node]:
        """`list(self.walk())`, built without a generator: a snapshot of every nested node, in order."""
        out: List[Node] = []
        _collect(self, out)
        return out

    def drop_unlinked(self) -> None:
        """Remove the nodes `Node.unlink` marked dead from `nodes`, in one pass."""
        if self.dead_nodes:
            self.nodes = [n for n in self.nodes if n.block is self]
            self.dead_nodes = False

    def is_ancestor_of(self, other: "Block") -> bool:
        b: Optional[Block] = other
        while b is not None:
            if b is self:
                return True
            b = b.owner.block if b.owner is not None else None
        return False

    def __repr__(self) -> str:
        return f"<Block {len(self.params)} params, {len(self.nodes)} nodes>"


def _collect(block: Block, out: List[Node]) -> None:
    for n in block.nodes:
        out.append(n)
        for b in n.blocks:
            _collect(b, out)


class Graph:
    """An SSA graph: one top block whose params are the inputs."""

    def __init__(self) -> None:
        self.block = Block(graph=self)

    @property
    def inputs(self) -> List[Value]:
        return self.block.params

    @property
    def outputs(self) -> List[Value]:
        return self.block.returns

    @property
    def nodes(self) -> List[Node]:
        return self.block.nodes

    def add_input(self, type: Type, name: Optional[str] = None) -> Value:
        return self.block.add_param(type, name)

    def add_output(self, value: Value) -> None:
        self.block.add_return(value)

    def walk(self) -> Iterator[Node]:
        return self.block.walk()

    def all_nodes(self) -> List[Node]:
        """`list(self.walk())`, faster (see `Block.all_nodes`)."""
        return self.block.all_nodes()

    def copy(self) -> "Graph":
        """A deep copy with fresh Values (attributes are shared, not copied)."""
        g = Graph()
        env: Dict[Value, Value] = {}
        for p in self.inputs:
            env[p] = g.add_input(p.type, p.name)
        clone_block_into(self.block, g.block, env)
        return g

    def __str__(self) -> str:
        from .printer import print_graph

        return print_graph(self)

    __repr__ = __str__


def clone_node(node: Node, env: Dict[Value, Value]) -> Node:
    """A copy of `node` (and nested blocks) reading inputs through `env`.

    Outputs of the copy are added to `env`; the copy is not placed in a block.
    """
    new = Node(node.kind, node.attrs, node.loc)
    for v in node.inputs:
        new.add_input(env.get(v, v))
    for out in node.outputs:
        env[out] = new.add_output(out.type, out.name)
    for b in node.blocks:
        nb = new.add_block()
        for p in b.params:
            env[p] = nb.add_param(p.type, p.name)
        clone_block_into(b, nb, env)
    return new


def clone_block_into(src: Block, dst: Block, env: Dict[Value, Value]) -> None:
    """Append copies of `src`'s nodes to `dst` and set `dst`'s returns."""
    for n in src.nodes:
        dst.append(clone_node(n, env))
    for r in src.returns:
        dst.add_return(env.get(r, r))


@dataclass
class Argument:
    """One parameter of a compiled function's signature."""

    name: str
    type: Type
    has_default: bool = False
    default: Any = None
    kwarg_only: bool = False
    positional_only: bool = False  # declared before `/`: callers cannot pass it by keyword


# Note [Deferred graph work]
# ~~~~~~~~~~~~~~~~~~~~~~~~~~
# `script()` compiles, checks and verifies every function, then defers the
# optimization pipeline: `fn.defer(job)` records `job(graph)`, and the first
# read of `fn.graph` (a call through an executor, `.graph`, `.code`, saving,
# freezing, a caller's inliner copying this callee) runs it, in place, once.
# So every reader sees the same graph the eager pipeline produced, and a
# function nobody reads costs nothing. One re-entrant lock serializes the
# jobs of all functions: two threads reading a fresh function run its job
# once; a job reading its callees (inlining) runs theirs first, on the same
# thread. A job that fails is dropped (its exception propagates once); the
# graph stays as the job left it. This module knows nothing of the job: the
# script compiler passes it (`frontend/script/compiler.py`, `finish`).
_DEFERRED_LOCK = threading.RLock()


class Function:
    """A named graph with its signature.

    `args` describe `graph.inputs` one to one (for methods, args[0] is
    `self`). `returns` is the declared return type. `graph` runs deferred
    work first (Note [Deferred graph work]). `frontend_types` is None, or
    (argument types, return type) as the script frontend typed them when
    `args`/`returns` were changed after compiling (Enum erasure, Note [Enums]
    in frontend/script/enums.py): what calls from Python and later compiles
    calling this function go by.
    """

    def __init__(self, name: str, graph: Graph, args: Sequence[Argument], returns: Type, loc: Optional[SourceRange] = None):
        self.name = name
        self._graph = graph
        self._deferred: Optional[Callable[[Graph], Any]] = None
        self._deferred_running = False
        self.args = list(args)
        self.returns = returns
        self.loc = loc
        self.frontend_types: Optional[Tuple[Tuple[Type, ...], Type]] = None

    @property
    def graph(self) -> Graph:
        if self._deferred is not None:
            self._run_deferred()
        return self._graph

    @graph.setter
    def graph(self, graph: Graph) -> None:
        with _DEFERRED_LOCK:
            self._graph = graph
            self._deferred = None

    def defer(self, job: Callable[[Graph], Any]) -> None:
        """Run `job(graph)` on the first read of `self.graph` (Note [Deferred graph work])."""
        with _DEFERRED_LOCK:
            self._deferred = job

    @property
    def has_deferred_work(self) -> bool:
        return self._deferred is not None

    def _run_deferred(self) -> None:
        with _DEFERRED_LOCK:
            job = self._deferred
            if job is None or self._deferred_running:  # done meanwhile, or read by its own job
                return
            self._deferred_running = True
            try:
                job(self._graph)
            finally:
                self._deferred_running = False
                self._deferred = None

    def signature(self) -> str:
        parts = []
        for a in self.args:
            text = f"{a.name}: {a.type}"
            if a.has_default:
                text += f" = {a.default!r}"
            parts.append(text)
        return f"{self.name}({', '.join(parts)}) -> {self.returns}"

    def __repr__(self) -> str:
        return f"<Function {self.signature()}>"


class CompilationUnit:
    """Every class type and free function one program refers to, by qualified name."""

    def __init__(self) -> None:
        self.classes: Dict[str, ClassType] = {}
        self.functions: Dict[str, Function] = {}

    def add_class(self, cls: ClassType) -> ClassType:
        self.classes[cls.name] = cls
        return cls

    def add_function(self, fn: Function) -> Function:
        self.functions[fn.name] = fn
        return fn

    def unique_name(self, base: str) -> str:
        if base not in self.classes and base not in self.functions:
            return base
        for i in itertools.count(1):
            name = f"{base}_{i}"
            if name not in self.classes and name not in self.functions:
                return name
        raise AssertionError("unreachable")
