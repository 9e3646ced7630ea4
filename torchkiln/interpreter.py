"""The reference interpreter: runs a graph node by node. The test oracle.

It is meant to be obviously correct, not fast (cf. JAX's `eval_jaxpr`):
an environment maps each `Value` to its runtime value; each node reads its
inputs from it and writes its outputs to it. Ops run through the op table
(`OpInfo.impl`: an ATen `OpOverload` or a prim's Python function); the
structural prims are interpreted here:

```
graph(%n : int, %x : Tensor):
  %t : bool = prim::Constant[value=True]()
  %y : Tensor = prim::Loop(%n, %t, %x)     # for i in range(n): x = x + x
    block0(%i : int, %acc : Tensor):
      %1 : int = prim::Constant[value=1]()
      %2 : Tensor = aten::add.Tensor(%acc, %acc, %1)
      -> (%t, %2)
  return (%y)
```

`run(fn, unit, args)` runs a `Function` (for methods `args[0]` is the
object); `run_graph(graph, args, unit)` runs a bare graph. A graph with one
output returns that value, with none returns None, with several a tuple.
"""
from __future__ import annotations

import enum
import weakref
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch

from . import ops
from .codegen import runtime
from .diagnostics import ArgumentError, Error
from .ir.core import Block, CompilationUnit, Function, Graph, Node, Value
from .ir.nesting import block_depth, recursion_headroom
from .ops.lang import autocast_depth, autocast_unwind
from .ops.registry import OpInfo


def run(fn: Function, unit: Optional[CompilationUnit], args: Sequence[Any]) -> Any:
    """Run `fn` on positional `args` (for a method, `args[0]` is `self`)."""
    return run_graph(fn.graph, args, unit)


def run_graph(graph: Graph, args: Sequence[Any], unit: Optional[CompilationUnit] = None) -> Any:
    """Run `graph` on `args`; `unit` resolves `prim::CallFunction` / `prim::fork` callees."""
    if len(args) != len(graph.inputs):
        raise ArgumentError(f"the graph takes {len(graph.inputs)} arguments but {len(args)} were given")
    grad_mode = torch.is_grad_enabled()
    autocast_blocks = autocast_depth()
    try:
        results = _Frame(unit).run_graph(graph, list(args))
    except Exception:
        # An exception inside `with torch.no_grad()` skipped its restore; script has no
        # `try`, so it leaves the whole call (Note [Grad mode on exceptions] in codegen/compiler.py).
        # Likewise the autocast blocks it entered (Note [Autocast in script] in ops/lang.py).
        torch._C._set_grad_enabled(grad_mode)
        autocast_unwind(autocast_blocks)
        raise
    if len(results) == 1:
        return results[0]
    return tuple(results) if results else None


_SHALLOW = 50  # block levels that need no extra room on Python's stack
_DEPTHS: "weakref.WeakKeyDictionary[Graph, int]" = weakref.WeakKeyDictionary()


def _depth(graph: Graph) -> int:
    """`block_depth(graph)`, computed once per graph: passes never nest blocks deeper,
    except inlining, which runs before a graph is executed."""
    depth = _DEPTHS.get(graph)
    if depth is None:
        depth = _DEPTHS[graph] = block_depth(graph)
    return depth


class _Frame:
    """One call's environment. Nested blocks share it (values are SSA)."""

    def __init__(self, unit: Optional[CompilationUnit]):
        self.unit = unit
        self.env: Dict[Value, Any] = {}

    def run_block(self, block: Block, args: Sequence[Any]) -> List[Any]:
        env = self.env
        for param, arg in zip(block.params, args, strict=True):
            env[param] = arg
        for node in block.nodes:
            vals = [env[v] for v in node.inputs]
            handler = _STRUCTURAL.get(node.kind)
            outs = handler(self, node, vals) if handler is not None else _call_op(node, vals)
            for out, result in zip(node.outputs, outs, strict=True):
                env[out] = result
        return [env[v] for v in block.returns]

    def run_graph(self, graph: Graph, args: Sequence[Any]) -> List[Any]:
        """`run_block` of the graph's top block, with room for its nesting (Note [Block nesting limit])."""
        depth = _depth(graph)
        if depth <= _SHALLOW:
            return self.run_block(graph.block, args)
        with recursion_headroom(depth):
            return self.run_block(graph.block, args)

    def call(self, fn: Function, args: Sequence[Any]) -> List[Any]:
        return _Frame(self.unit).run_graph(fn.graph, args)

    def function(self, node: Node) -> Function:
        name = node.attrs["name"]
        if self.unit is None or name not in self.unit.functions:
            raise Error(f"{node.kind} calls unknown function {name!r}")
        return self.unit.functions[name]


# -- ops from the table ---------------------------------------------------------

_LAYOUTS: Dict[str, Tuple[int, Tuple[str, ...]]] = {}


def _call_op(node: Node, vals: List[Any]) -> List[Any]:
    info = ops.lookup(node.kind)
    if info.structural or info.impl is None:
        raise Error(f"the interpreter cannot run {node.kind}")
    if info.schema.namespace == "aten":
        npos, kw_names = _aten_layout(info)
        result = info.impl(*vals[:npos], **dict(zip(kw_names, vals[npos:])))
    else:  # Note [Prim impl convention] in ops/prim.py
        kwargs = {name: node.attrs[name] for name in info.extra.get("attrs", ()) if name in node.attrs}
        if info.extra.get("out_types"):
            kwargs["out_types"] = [o.type for o in node.outputs]
        result = info.impl(*vals, **kwargs)
    n = len(node.outputs)
    if n == 1:
        return [result]
    return list(result) if n else []


def _aten_layout(info: OpInfo) -> Tuple[int, Tuple[str, ...]]:
    """How many leading inputs an `OpOverload` takes positionally; the rest by keyword."""
    layout = _LAYOUTS.get(info.name)
    if layout is None:
        args = info.schema.arguments
        npos = sum(1 for a in args if not a.kwarg_only)
        layout = (npos, tuple(a.name for a in args[npos:]))
        _LAYOUTS[info.name] = layout
    return layout


# -- structural prims ---------------------------------------------------------


def _constant(frame: _Frame, node: Node, vals: List[Any]) -> List[Any]:
    return [runtime.materialize(node.attrs.get("value"), node.output.type)]


def _if(frame: _Frame, node: Node, vals: List[Any]) -> List[Any]:
    return frame.run_block(node.blocks[0] if vals[0] else node.blocks[1], [])


def _loop(frame: _Frame, node: Node, vals: List[Any]) -> List[Any]:
    """`prim::Loop(max_trip, cond, carried...)`: runs the body while
    `i < max_trip and cond`; the body returns `(cond, carried...)`."""
    max_trip, cond, *carried = vals
    body = node.blocks[0]
    i = 0
    while i < max_trip and cond:
        cond, *carried = frame.run_block(body, [i, *carried])
        i += 1
    return carried


def _get_attr(frame: _Frame, node: Node, vals: List[Any]) -> List[Any]:
    value = getattr(vals[0], node.attrs["name"])
    # A ScriptModule's Enum attribute reads as the member from Python; the program sees its value (Note [Enums]).
    return [value.value if isinstance(value, enum.Enum) else value]


def _set_attr(frame: _Frame, node: Node, vals: List[Any]) -> List[Any]:
    setattr(vals[0], node.attrs["name"], vals[1])
    return []


def _call_method(frame: _Frame, node: Node, vals: List[Any]) -> List[Any]:
    method = vals[0]._kiln_type.methods[node.attrs["name"]]
    return frame.call(method, vals)


def _call_function(frame: _Frame, node: Node, vals: List[Any]) -> List[Any]:
    return frame.call(frame.function(node), vals)


def _fork(frame: _Frame, node: Node, vals: List[Any]) -> List[Any]:
    fn = frame.function(node)
    return [runtime.fork(lambda *args: run(fn, frame.unit, args), *vals)]


def _wait(frame: _Frame, node: Node, vals: List[Any]) -> List[Any]:
    return [runtime.wait(vals[0])]


def _raise(frame: _Frame, node: Node, vals: List[Any]) -> List[Any]:
    raise runtime.exception_class(node.attrs["cls"])(*vals[:1])


def _tuple_construct(frame: _Frame, node: Node, vals: List[Any]) -> List[Any]:
    return [runtime.make_tuple(node.output.type, vals)]


def _unpack(frame: _Frame, node: Node, vals: List[Any]) -> List[Any]:
    items = list(vals[0])
    n = len(node.outputs)
    if len(items) > n:
        raise ValueError(f"too many values to unpack (expected {n})")  # Python's messages
    if len(items) < n:
        raise ValueError(f"not enough values to unpack (expected {n}, got {len(items)})")
    return items


def _tuple_index(frame: _Frame, node: Node, vals: List[Any]) -> List[Any]:
    index = node.attrs["index"] if "index" in node.attrs else vals[1]
    return [vals[0][index]]


def _dict_construct(frame: _Frame, node: Node, vals: List[Any]) -> List[Any]:
    return [dict(zip(vals[0::2], vals[1::2]))]


_Handler = Callable[[_Frame, Node, List[Any]], List[Any]]

_STRUCTURAL: Dict[str, _Handler] = {
    "prim::Constant": _constant,
    "prim::If": _if,
    "prim::Loop": _loop,
    "prim::GetAttr": _get_attr,
    "prim::SetAttr": _set_attr,
    "prim::CallMethod": _call_method,
    "prim::CallFunction": _call_function,
    "prim::fork": _fork,
    "prim::wait": _wait,
    "prim::RaiseException": _raise,
    "prim::TupleConstruct": _tuple_construct,
    "prim::TupleUnpack": _unpack,
    "prim::TupleIndex": _tuple_index,
    "prim::ListConstruct": lambda frame, node, vals: [list(vals)],
    "prim::ListUnpack": _unpack,
    "prim::DictConstruct": _dict_construct,
    "prim::Uninitialized": lambda frame, node, vals: [None],
    "prim::unchecked_cast": lambda frame, node, vals: [vals[0]],
    "prim::CreateObject": lambda frame, node, vals: [runtime.new_object(node.output.type)],
}
