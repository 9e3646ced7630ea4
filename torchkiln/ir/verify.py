"""The IR verifier: checks every structural invariant of a Graph.

`verify(graph, op_checker=None)` raises `VerifyError` on the first broken
invariant; the message says what is wrong and shows the surrounding IR with
the offending line marked:

```
input 0 of this node (%3) is used before it is defined
    graph(%x : Tensor):
      %2 : Tensor = aten::relu(%3)  <-- here
      %3 : Tensor = aten::neg(%x)
      return (%2)
```

Invariants, in the order they are checked:

Structure
  S1. The graph's top block points back to the graph (`block.graph`) and has
      no owner; every nested block's `owner` is the node that holds it.
  S2. Every node in a block's `nodes` has `node.block` pointing at that
      block, and appears in the graph exactly once.
  S3. `prim::Return` appears only as a block's `return_node`, which has
      `block` set to its block and no outputs, blocks or attributes.
  S4. A node kind is namespaced: `ns::name` or `ns::name.overload`.
Values
  V1. Every value is defined once: as one node's output or one block's
      parameter, never both, never twice.
  V2. An output's `node` is its node and `offset` its index, `block` None;
      a parameter's `block` is its block and `offset` its index, `node` None.
  V3. Every value's `type` is a `Type`.
Scopes (dominance)
  D1. Every input of a node or block return is defined before its use in a
      scope that encloses it: earlier in the same block, a parameter of the
      same block, or (those two) in an enclosing block before the node that
      holds the use. A node's own outputs and its blocks' values are not
      visible to its inputs; a block's values are not visible after it.
  D2. No value used in the graph is defined outside it.
Uses
  U1. Use lists are exact: each input slot (node, i) is recorded once in its
      value's `uses`, and every recorded use names a node in this graph
      whose input i is that value (no stale uses of destroyed nodes).
Nodes
  N1. Attribute names are identifiers; attribute values are None, bool,
      int, float, complex, str, Tensor, dtype, device, layout,
      memory_format, Type, or lists/tuples of those.
  N2. `prim::Constant`: no inputs, no blocks, one output, a `value`
      attribute whose value fits the output type (e.g. an int constant is
      typed int, Scalar, Any or an Optional/Union holding one).
  N3. `prim::If(%cond)`: one input, of type bool; exactly 2 blocks without
      parameters; each block returns as many values as the If has outputs,
      each a subtype of the corresponding output's type.
  N4. `prim::Loop(%max_trip, %start_cond, %carried...)`: inputs int, bool,
      then n carried values; exactly one block with parameters
      (int, n carried) returning (bool, n carried); n outputs; each carried
      input and each carried block return is a subtype of its block
      parameter's type and of its output's type.
  N5. `op_checker(node)`, if given, returns None for every node (the op
      layer checks kinds and types against schemas there); a string it
      returns is the error message.

`verify_function(fn)` also checks that the graph's inputs match `fn.args`
one to one (same count, equal types) and that the graph returns exactly one
value, a subtype of `fn.returns`.
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Any, Callable, Dict, List, Optional, Set, Union

import torch

from ..diagnostics import VerifyError
from .builder import CONSTANT
from .core import RETURN, Block, Function, Graph, Node, Use, Value
from .nesting import block_depth, recursion_headroom
from .printer import MARK, _Printer, print_graph, print_type
from .types import (
    BOOL,
    DEVICE,
    FLOAT,
    INT,
    LAYOUT,
    MEMORY_FORMAT,
    NONE,
    SCALAR,
    SCALAR_TYPE,
    STR,
    AnyType,
    ListType,
    OptionalType,
    TensorType,
    TupleType,
    Type,
    UnionType,
)

IF = "prim::If"
LOOP = "prim::Loop"

OpChecker = Callable[[Node], Optional[str]]
Definer = Union[Node, Block]

_KIND = re.compile(r"[A-Za-z_][A-Za-z0-9_]*::[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CONTEXT_LINES = 8


def verify(graph: Graph, op_checker: Optional[OpChecker] = None) -> None:
    """Check every invariant listed in this module's docstring; raise `VerifyError`.

    `op_checker(node) -> Optional[str]` is the op layer's hook: it checks a
    node's kind, inputs and outputs against the op's schema and returns an
    error message, or None when the node is fine.
    """
    with recursion_headroom(block_depth(graph)):
        _Verifier(graph, op_checker).run()


def verify_function(fn: Function, op_checker: Optional[OpChecker] = None) -> None:
    """`verify(fn.graph)` plus: graph inputs match `fn.args`, one output fitting `fn.returns`.

    ```
    def f(x : Tensor, n : int) -> Tensor
    graph(%x : Tensor, %n : int):
      return (%x)
    ```
    """
    g = fn.graph
    v = _Verifier(g, op_checker, header=f"in function {fn.name}: ")
    if len(g.inputs) != len(fn.args):
        v.fail(f"{fn.name} declares {len(fn.args)} argument(s) but its graph has {len(g.inputs)} input(s)", g.block)
    for i, (arg, inp) in enumerate(zip(fn.args, g.inputs)):
        if not isinstance(inp.type, Type) or arg.type != inp.type:
            v.fail(
                f"argument {i} ({arg.name}) of {fn.name} is declared {print_type(arg.type)} "
                f"but graph input {i} is {_type_text(inp.type)}",
                g.block,
            )
    with recursion_headroom(block_depth(g)):
        v.run()
    if len(g.outputs) != 1:
        v.fail(f"a function's graph returns exactly one value; {fn.name}'s returns {len(g.outputs)}", g.block.return_node)
    out = g.outputs[0]
    if not out.type.is_subtype_of(fn.returns):
        v.fail(
            f"{fn.name} is declared to return {print_type(fn.returns)} but its graph returns {print_type(out.type)}",
            g.block.return_node,
        )


class _Verifier:
    def __init__(self, graph: Graph, op_checker: Optional[OpChecker], header: str = ""):
        self.graph = graph
        self.op_checker = op_checker
        self.header = header
        self.nodes: Set[Node] = set()  # every node, return nodes included
        self.defs: Dict[Value, Definer] = {}
        self.order: List[Node] = []  # every node (return nodes included), in walk order

    def run(self) -> None:
        g = self.graph
        if g.block.graph is not g:
            self.fail("the graph's top block does not point back to the graph (block.graph)", g.block)
        if g.block.owner is not None:
            self.fail("the graph's top block has an owner node; only nested blocks do", g.block)
        self.structure(g.block)
        self.scopes(g.block, set(), set())
        self.uses()
        for n in self.order:
            if n.kind != RETURN:
                self.check_node(n)

    # -- reporting ------------------------------------------------------------
    def fail(self, what: str, at: Optional[Definer] = None) -> None:
        if isinstance(at, Node) and at.loc is not None:
            what += f" (source: {at.loc})"
        raise VerifyError(self.header + what + "\n" + _context(self.graph, at))

    def name(self, v: Value) -> str:
        """The value's printed name, as it appears in the context lines."""
        p = _Printer()
        p.name_block(self.graph.block)
        return p.name(v)

    # -- S1-S4, V1-V3 -----------------------------------------------------------
    def structure(self, block: Block) -> None:
        for i, p in enumerate(block.params):
            self.define(p, block)
            if p.block is not block or p.node is not None:
                self.fail(f"parameter {i} ({self.name(p)}) of this block does not point back to it (value.block)", block)
            if p.offset != i:
                self.fail(f"parameter {i} ({self.name(p)}) has offset {p.offset}, expected {i}", block)
        for n in block.nodes:
            if n in self.nodes:
                self.fail(f"this {n.kind} node appears twice in the graph", n)
            self.nodes.add(n)
            self.order.append(n)
            if n.block is not block:
                self.fail("this node's `block` does not point at the block that holds it", n)
            if n.kind == RETURN:
                self.fail("prim::Return in a block's node list; it only ends a block (block.return_node)", n)
            if not isinstance(n.kind, str) or not _KIND.fullmatch(n.kind):
                self.fail(f"node kind {n.kind!r} is not of the form ns::name or ns::name.overload", n)
            for i, o in enumerate(n.outputs):
                self.define(o, n)
                if o.node is not n or o.block is not None:
                    self.fail(f"output {i} ({self.name(o)}) does not point back to this node (value.node)", n)
                if o.offset != i:
                    self.fail(f"output {i} ({self.name(o)}) has offset {o.offset}, expected {i}", n)
            for b in n.blocks:
                if b.owner is not n:
                    self.fail("a block of this node has a different owner (block.owner)", n)
                self.structure(b)
        ret = block.return_node
        if ret in self.nodes:
            self.fail("this return node appears twice in the graph", ret)
        self.nodes.add(ret)
        self.order.append(ret)
        if ret.kind != RETURN:
            self.fail(f"a block's return node has kind {ret.kind}, expected {RETURN}", ret)
        if ret.block is not block:
            self.fail("this return node's `block` does not point at its block", ret)
        if ret.outputs or ret.blocks or ret.attrs:
            self.fail("a return node has only inputs (no outputs, blocks or attributes)", ret)

    def define(self, v: Value, definer: Definer) -> None:
        if not isinstance(v, Value):
            self.fail(f"a block parameter or node output is not a Value: {v!r}", definer)
        if v in self.defs:
            first = self.defs[v]
            where = "a block parameter" if isinstance(first, Block) else f"an output of {first.kind}"
            self.fail(f"{self.name(v)} is defined twice: here and earlier as {where}", definer)
        self.defs[v] = definer
        if not isinstance(v.type, Type):
            self.fail(f"{self.name(v)} has no valid type: {v.type!r}", definer)

    # -- D1, D2 ---------------------------------------------------------------
    def scopes(self, block: Block, visible: Set[Value], seen: Set[Value]) -> None:
        added = list(block.params)
        visible.update(added)
        seen.update(added)
        for n in block.nodes:
            self.inputs_visible(n, visible, seen)
            for b in n.blocks:
                self.scopes(b, visible, seen)
            visible.update(n.outputs)
            seen.update(n.outputs)
            added.extend(n.outputs)
        self.inputs_visible(block.return_node, visible, seen)
        visible.difference_update(added)

    def inputs_visible(self, n: Node, visible: Set[Value], seen: Set[Value]) -> None:
        what = "this block return" if n.kind == RETURN else "this node"
        for i, v in enumerate(n.inputs):
            if v in visible:
                continue
            if not isinstance(v, Value):
                self.fail(f"input {i} of {what} is not a Value: {v!r}", n)
            if v not in self.defs:
                self.fail(f"input {i} of {what} ({self.name(v)}) is not defined in this graph", n)
            if v not in seen:
                self.fail(f"input {i} of {what} ({self.name(v)}) is used before it is defined", n)
            self.fail(
                f"input {i} of {what} ({self.name(v)}) is out of scope: it is defined in a block "
                "that does not enclose this use",
                n,
            )

    # -- U1 -------------------------------------------------------------------
    def uses(self) -> None:
        expected: Dict[Value, List[Use]] = {}
        for n in self.order:
            for i, v in enumerate(n.inputs):
                expected.setdefault(v, []).append(Use(n, i))
        for v in list(self.defs) + [v for v in expected if v not in self.defs]:
            want, have = Counter(expected.get(v, [])), Counter(v.uses)
            if want == have:
                continue
            for use in want - have:
                self.fail(f"input {use.index} of this node ({self.name(v)}) is missing from {self.name(v)}'s use list", use.node)
            for use in have - want:
                self.stale_use(v, use, have[use])

    def stale_use(self, v: Value, use: Use, recorded: int) -> None:
        name = self.name(v)
        if use.node not in self.nodes:
            self.fail(f"{name}'s use list records a use by a {use.node.kind} node that is not in this graph (stale use)", self.defs.get(v))
        if 0 <= use.index < len(use.node.inputs) and use.node.inputs[use.index] is v:
            self.fail(f"{name}'s use list records input {use.index} of this node {recorded} times", use.node)
        if not 0 <= use.index < len(use.node.inputs):
            self.fail(f"{name}'s use list records input {use.index} of this node, which has {len(use.node.inputs)} input(s)", use.node)
        actual = use.node.inputs[use.index]
        self.fail(f"{name}'s use list records input {use.index} of this node, but that input is {self.name(actual)} (stale use)", use.node)

    # -- N1-N5 ------------------------------------------------------------------
    def check_node(self, n: Node) -> None:
        for key, val in n.attrs.items():
            if not isinstance(key, str) or not _IDENT.fullmatch(key):
                self.fail(f"attribute name {key!r} is not an identifier", n)
            bad = _bad_attr_value(val)
            if bad is not None:
                self.fail(f"attribute {key} holds a {type(bad).__name__}, which an IR attribute cannot hold", n)
        if n.kind == CONSTANT:
            self.check_constant(n)
        elif n.kind == IF:
            self.check_if(n)
        elif n.kind == LOOP:
            self.check_loop(n)
        if self.op_checker is not None:
            msg = self.op_checker(n)
            if msg is not None:
                self.fail(msg, n)

    def check_constant(self, n: Node) -> None:
        if n.inputs or n.blocks:
            self.fail("prim::Constant takes no inputs and has no blocks", n)
        if len(n.outputs) != 1:
            self.fail(f"prim::Constant has exactly one output, this one has {len(n.outputs)}", n)
        if "value" not in n.attrs:
            self.fail("prim::Constant needs a `value` attribute (value=None for None)", n)
        if not _fits(n.attrs["value"], n.outputs[0].type):
            self.fail(f"constant value of Python type {type(n.attrs['value']).__name__} does not fit the output type {print_type(n.outputs[0].type)}", n)

    def check_if(self, n: Node) -> None:
        if len(n.inputs) != 1:
            self.fail(f"prim::If takes one input (the condition), this one has {len(n.inputs)}", n)
        cond = n.inputs[0]
        if not cond.type.is_subtype_of(BOOL):
            self.fail(f"prim::If's condition {self.name(cond)} has type {print_type(cond.type)}, expected bool", n)
        if len(n.blocks) != 2:
            self.fail(f"prim::If has exactly 2 blocks (then, else), this one has {len(n.blocks)}", n)
        for bi, b in enumerate(n.blocks):
            if b.params:
                self.fail(f"block{bi} of prim::If has {len(b.params)} parameter(s); If blocks take none", b)
            self.check_returns(b, f"block{bi} of prim::If", [o.type for o in n.outputs], "output")

    def check_loop(self, n: Node) -> None:
        if len(n.inputs) < 2:
            self.fail(f"prim::Loop takes (int max_trip_count, bool start_condition, carried...), this one has {len(n.inputs)} input(s)", n)
        trip, cond, carried = n.inputs[0], n.inputs[1], n.inputs[2:]
        if not trip.type.is_subtype_of(INT):
            self.fail(f"prim::Loop's max trip count {self.name(trip)} has type {print_type(trip.type)}, expected int", n)
        if not cond.type.is_subtype_of(BOOL):
            self.fail(f"prim::Loop's start condition {self.name(cond)} has type {print_type(cond.type)}, expected bool", n)
        if len(n.blocks) != 1:
            self.fail(f"prim::Loop has exactly one block, this one has {len(n.blocks)}", n)
        if len(n.outputs) != len(carried):
            self.fail(f"prim::Loop has {len(carried)} carried input(s) but {len(n.outputs)} output(s); they must match", n)
        body = n.blocks[0]
        if len(body.params) != 1 + len(carried):
            self.fail(f"the loop body takes (int iteration, {len(carried)} carried) = {1 + len(carried)} parameter(s), it has {len(body.params)}", body)
        if not INT.is_subtype_of(body.params[0].type):
            self.fail(f"the loop body's iteration parameter has type {print_type(body.params[0].type)}, expected int", body)
        params = [p.type for p in body.params[1:]]
        self.check_returns(body, "the loop body", [BOOL] + params, "block parameter")
        for i, (init, param, out) in enumerate(zip(carried, body.params[1:], n.outputs)):
            if not init.type.is_subtype_of(param.type):
                self.fail(
                    f"carried input {i} ({self.name(init)} : {print_type(init.type)}) does not fit the loop body's "
                    f"parameter {self.name(param)} : {print_type(param.type)}",
                    n,
                )
            for what, v in (("carried input", init), ("carried body return", body.returns[1 + i])):
                if not v.type.is_subtype_of(out.type):
                    self.fail(
                        f"{what} {i} ({self.name(v)} : {print_type(v.type)}) does not fit the loop's output "
                        f"{self.name(out)} : {print_type(out.type)}",
                        n,
                    )

    def check_returns(self, b: Block, what: str, types: List[Type], role: str) -> None:
        rets = b.returns
        if len(rets) != len(types):
            self.fail(f"{what} returns {len(rets)} value(s), expected {len(types)}", b.return_node)
        for i, (v, t) in enumerate(zip(rets, types)):
            if not v.type.is_subtype_of(t):
                self.fail(f"{what} returns {self.name(v)} : {print_type(v.type)} at position {i}, which does not fit the {role} type {print_type(t)}", b.return_node)


# -- helpers --------------------------------------------------------------------


def _type_text(t: Any) -> str:
    return print_type(t) if isinstance(t, Type) else repr(t)


_ATTR_LEAVES = (type(None), bool, int, float, complex, str, torch.Tensor, torch.dtype, torch.device, torch.layout, torch.memory_format, Type)


def _bad_attr_value(v: Any) -> Any:
    """The first part of `v` an attribute cannot hold, or None when all is fine."""
    if isinstance(v, (list, tuple)):
        for x in v:
            bad = _bad_attr_value(x)
            if bad is not None:
                return bad
        return None
    return None if isinstance(v, _ATTR_LEAVES) else v


def _fits(value: Any, t: Type) -> bool:
    """Whether a constant `value` can have type `t` (lenient where the IR cannot tell)."""
    if isinstance(t, AnyType):
        return True
    if isinstance(t, OptionalType):
        return value is None or _fits(value, t.elem)
    if isinstance(t, UnionType):
        return any(_fits(value, m) for m in t.members)
    if value is None:
        return t == NONE
    if isinstance(value, bool):
        return t in (BOOL, SCALAR)
    if isinstance(value, int):
        return t in (INT, SCALAR, SCALAR_TYPE, LAYOUT, MEMORY_FORMAT)
    if isinstance(value, (float, complex)):
        return t in (FLOAT, SCALAR) if isinstance(value, float) else t == SCALAR
    if isinstance(value, str):
        return t in (STR, DEVICE)
    if isinstance(value, torch.Tensor):
        return isinstance(t, TensorType)
    if isinstance(value, torch.dtype):
        return t in (SCALAR_TYPE, INT)
    if isinstance(value, torch.device):
        return t == DEVICE
    if isinstance(value, torch.layout):
        return t in (LAYOUT, INT)
    if isinstance(value, torch.memory_format):
        return t in (MEMORY_FORMAT, INT)
    if isinstance(value, list):
        return isinstance(t, ListType) and all(_fits(x, t.elem) for x in value)
    if isinstance(value, tuple):
        return isinstance(t, TupleType) and len(t.elems) == len(value) and all(_fits(x, e) for x, e in zip(value, t.elems))
    return True


def _context(graph: Graph, at: Optional[Definer]) -> str:
    """The printed graph around the marked line (all of it when short)."""
    try:
        text = print_graph(graph, mark=at)
    except Exception as e:  # the IR is broken in a way even the printer cannot show
        return f"    (the graph cannot be printed: {type(e).__name__}: {e})"
    lines = text.rstrip("\n").split("\n")
    marked = next((i for i, line in enumerate(lines) if line.endswith(MARK)), None)
    if marked is None or len(lines) <= 2 * _CONTEXT_LINES + 1:
        shown = lines
    else:
        lo, hi = max(marked - _CONTEXT_LINES, 0), min(marked + _CONTEXT_LINES + 1, len(lines))
        shown = (["..."] if lo > 0 else []) + lines[lo:hi] + (["..."] if hi < len(lines) else [])
    return "\n".join("    " + line for line in shown)
