"""Python statements for the structural and container prims.

Each function takes the `SourceEmitter`, the node and the indentation depth
and writes the node's statements. `prim::If` and `prim::Loop` become
`if`/`else`, `for` and `while`:

```
%y : Tensor = prim::Loop(%n, %true, %x)         y = x
  block0(%i : int, %acc : Tensor):               for i in range(n):
    %2 : Tensor = aten::mul.Tensor(%acc, %acc)       _2 = torch_mul(y, y)
    -> (%true, %2)                                   y = _2
```

A loop's carried values live in one variable each: the block parameter,
the body's result and the loop's output share it (Note [Loop variables]).
"""
from __future__ import annotations

import builtins
import keyword
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional

from ..ir.core import Node, Value
from ..ir.types import ClassType, TupleType, Type
from . import runtime
from .bindings import NOT_CONSTANT

if TYPE_CHECKING:
    from .emit import SourceEmitter

_INT64_MAX = 2**63 - 1


def constant_of(v: Value) -> Any:
    """The value of `v` if a `prim::Constant` defines it, else `NOT_CONSTANT`."""
    node = v.node
    if node is not None and node.kind == "prim::Constant":
        return node.attrs.get("value")
    return NOT_CONSTANT


def attribute_dict(obj_type: Type, name: Any) -> Optional[str]:
    """Where a module instance keeps attribute `name`: `_parameters`, `_buffers`, `_modules` or `__dict__`.

    None when `obj_type` is not a module class type or does not list `name`.
    """
    if not isinstance(obj_type, ClassType) or not obj_type.is_module or type(name) is not str:
        return None
    kind = obj_type.attr_kinds.get(name)
    return {"parameter": "_parameters", "buffer": "_buffers", "module": "_modules", "attribute": "__dict__"}.get(kind or "")


def _is_identifier(name: Any) -> bool:
    return type(name) is str and name.isascii() and name.isidentifier() and not keyword.iskeyword(name)


def _attr_target(em: "SourceEmitter", node: Node) -> str:
    """The expression naming attribute `name` of `node.inputs[0]` (read or assign)."""
    obj, name = node.inputs[0], node.attrs["name"]
    if type(name) is not str:
        raise em.error(node, f"attribute name {name!r} is not a string")
    if em.pretty:
        return f"{em.use(obj)}.{name}" if _is_identifier(name) else f"getattr({em.use(obj)}, {name!r})"
    where = attribute_dict(obj.type, name)
    if where is not None:
        holder = em.hoisted.get((obj, where)) or f"{em.use(obj)}.{where}"
        return f"{holder}[{name!r}]"
    is_module = isinstance(obj.type, ClassType) and obj.type.is_module
    if _is_identifier(name) and not is_module:
        return f"{em.use(obj)}.{name}"
    return ""  # getattr / setattr: nn.Module's own rules find it


# -- structural ---------------------------------------------------------------


def emit_constant(em: "SourceEmitter", node: Node, depth: int) -> None:
    em.constant(node, depth)


def emit_if(em: "SourceEmitter", node: Node, depth: int) -> None:
    """`if c: ...; outs = then_results else: ...; outs = else_results`."""
    then_block, else_block = node.blocks
    cond = em.use(node.inputs[0])
    outs = [em.define(o) for o in node.outputs]
    em.line(depth, f"if {cond}:", node)
    em.body(then_block, depth + 1, lambda: _assign(em, outs, then_block.returns, depth + 1, node))
    if else_block.nodes or outs:
        em.line(depth, "else:", node)
        em.body(else_block, depth + 1, lambda: _assign(em, outs, else_block.returns, depth + 1, node))


def _assign(em: "SourceEmitter", names: List[str], values: List[Value], depth: int, node: Node) -> None:
    for name, v in zip(names, values):
        text = em.use(v)
        if text != name:
            em.line(depth, f"{name} = {text}", node)


def emit_loop(em: "SourceEmitter", node: Node, depth: int) -> None:
    """`prim::Loop(max_trip, start_cond, inits...)` as `for` or `while`.

    Note [Loop variables]
    ---------------------
    Each carried value gets one Python variable: it is set to the initial
    value before the loop, read by the body as the block parameter, set
    from the body's results at the end of each iteration (all at once:
    `a, b = b_new, a_new`), and read after the loop as the loop's output.
    Three shapes, chosen from constants:

    - `start_cond` and the body's condition are the constant True:
      `for i in range(max_trip): ...`
    - `max_trip` is the constant INT64_MAX (a `while` loop):
      `cond = start; while cond: ...; cond = body_cond`
    - otherwise: `cond = start; for i in range(max_trip): if not cond: break; ...`

    All three run zero times when `max_trip <= 0` or `start_cond` is False,
    which is TorchScript's rule: iterate while `i < max_trip and cond`.
    """
    max_trip, start, *inits = node.inputs
    body = node.blocks[0]
    it, *params = body.params
    body_cond, *results = body.returns
    carried = []
    for param, out, init in zip(params, node.outputs, inits):
        name = em.define(param, param.name or out.name or "")
        em.expr[out] = name
        carried.append(name)
        em.line(depth, f"{name} = {em.use(init)}", node)
    it_name = em.define(it, it.name or "i") if it.uses else em.fresh("_")
    trip = constant_of(max_trip)

    if constant_of(start) is True and constant_of(body_cond) is True:
        em.line(depth, f"for {it_name} in range({em.use(max_trip)}):", node)
        em.body(body, depth + 1, lambda: _carry(em, carried, results, depth + 1, node))
        return

    cond = em.fresh("cond")
    em.line(depth, f"{cond} = {em.use(start)}", node)
    if type(trip) is int and trip >= _INT64_MAX:
        if it.uses:
            em.line(depth, f"{it_name} = 0", node)
        em.line(depth, f"while {cond}:", node)

        def after() -> None:
            _carry(em, [cond, *carried], [body_cond, *results], depth + 1, node)
            if it.uses:
                em.line(depth + 1, f"{it_name} = {it_name} + 1", node)

        em.body(body, depth + 1, after)
        return
    em.line(depth, f"for {it_name} in range({em.use(max_trip)}):", node)
    em.line(depth + 1, f"if not {cond}:", node)
    em.line(depth + 2, "break", node)
    em.body(body, depth + 1, lambda: _carry(em, [cond, *carried], [body_cond, *results], depth + 1, node))


def _carry(em: "SourceEmitter", names: List[str], values: List[Value], depth: int, node: Node) -> None:
    pairs = [(n, em.use(v)) for n, v in zip(names, values) if em.use(v) != n]
    if pairs:
        em.line(depth, f"{', '.join(n for n, _ in pairs)} = {', '.join(t for _, t in pairs)}", node)


def emit_get_attr(em: "SourceEmitter", node: Node, depth: int) -> None:
    target = _attr_target(em, node)
    if not target:
        target = f"getattr({em.use(node.inputs[0])}, {node.attrs['name']!r})"
    if em.pretty and em.attrs_are_constant and len(node.output.uses) == 1:
        em.expr[node.output] = target  # `.code` reads `self.l0.forward(x)`
        return
    em.assign(node, depth, target)


def emit_set_attr(em: "SourceEmitter", node: Node, depth: int) -> None:
    target = _attr_target(em, node)
    value = em.use(node.inputs[1])
    if not target:
        em.line(depth, f"setattr({em.use(node.inputs[0])}, {node.attrs['name']!r}, {value})", node)
    else:
        em.line(depth, f"{target} = {value}", node)


def emit_call_method(em: "SourceEmitter", node: Node, depth: int) -> None:
    """`obj.m(args)`: the compiled method of the object's static class type, called directly."""
    obj, *args = node.inputs
    name = node.attrs["name"]
    if type(name) is not str:
        raise em.error(node, f"method name {name!r} is not a string")
    arg_text = ", ".join(em.use(a) for a in args)
    if em.pretty:
        callee = f"{em.use(obj)}.{name}" if _is_identifier(name) else f"getattr({em.use(obj)}, {name!r})"
        em.assign(node, depth, f"{callee}({arg_text})")
        return
    t = obj.type
    method = t.methods.get(name) if isinstance(t, ClassType) else None
    if method is not None:
        callee = em.ref(em.resolve.function(method), f"{t.name}.{name}", f"{t.name.rsplit('.', 1)[-1]}_{name}")
    else:  # the class is known only at run time (an interface, `Any`)
        callee = em.ref(em.resolve.dynamic_method(name), f"call_method_{name}")
    em.assign(node, depth, f"{callee}({', '.join([em.use(obj), *(em.use(a) for a in args)])})")


def _function_ref(em: "SourceEmitter", node: Node) -> str:
    name = node.attrs["name"]
    if em.unit is None or type(name) is not str or name not in em.unit.functions:
        raise em.error(node, f"{node.kind} calls unknown function {name!r}")
    fn = em.unit.functions[name]
    if em.pretty:
        return name
    return em.ref(em.resolve.function(fn), name, name.rsplit(".", 1)[-1])


def emit_call_function(em: "SourceEmitter", node: Node, depth: int) -> None:
    callee = _function_ref(em, node)
    em.assign(node, depth, f"{callee}({', '.join(em.use(a) for a in node.inputs)})")


def emit_fork(em: "SourceEmitter", node: Node, depth: int) -> None:
    callee = _function_ref(em, node)
    fork = em.ref(runtime.fork, "fork")
    em.assign(node, depth, f"{fork}({', '.join([callee, *(em.use(a) for a in node.inputs)])})")


def emit_wait(em: "SourceEmitter", node: Node, depth: int) -> None:
    em.assign(node, depth, f"{em.ref(runtime.wait, 'wait')}({em.use(node.inputs[0])})")


def emit_raise(em: "SourceEmitter", node: Node, depth: int) -> None:
    """`raise ValueError(msg)`; see `runtime.exception_class`."""
    cls_name = node.attrs.get("cls", "Exception")
    if type(cls_name) is not str:
        raise em.error(node, f"exception class {cls_name!r} is not a string")
    cls = runtime.exception_class(cls_name)
    short = cls_name.rsplit(".", 1)[-1]
    if em.pretty and _is_identifier(short):
        text = short
    elif isinstance(cls, type) and getattr(builtins, cls.__name__, None) is cls:
        text = cls.__name__  # a builtin: the name reads it
    else:
        text = em.ref(cls, "torchkiln.Error", "ScriptError")
    em.line(depth, f"raise {text}({', '.join(em.use(a) for a in node.inputs[:1])})", node)


def emit_create_object(em: "SourceEmitter", node: Node, depth: int) -> None:
    t = node.output.type
    if em.pretty:
        em.assign(node, depth, f"{t}.__new__({t})")
        return
    em.assign(node, depth, f"{em.ref(runtime.new_object, 'new_object')}({em.ref(t, str(t), 'cls')})")


# -- containers ---------------------------------------------------------------


def emit_tuple_construct(em: "SourceEmitter", node: Node, depth: int) -> None:
    items = [em.use(v) for v in node.inputs]
    t = node.output.type
    if isinstance(t, TupleType) and t.name is not None and t.fields is not None:
        cls = runtime.namedtuple_class(t)
        em.assign(node, depth, f"{em.ref(cls, t.name, cls.__name__)}({', '.join(items)})")
        return
    em.assign(node, depth, f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})")


def emit_unpack(em: "SourceEmitter", node: Node, depth: int) -> None:
    """`a, b = t` (Python checks the length, raising ValueError as the interpreter does)."""
    names = [em.define(o) for o in node.outputs]
    target = "[]" if not names else (f"{names[0]}," if len(names) == 1 else ", ".join(names))
    em.line(depth, f"{target} = {em.use(node.inputs[0])}", node)


def emit_tuple_index(em: "SourceEmitter", node: Node, depth: int) -> None:
    if "index" in node.attrs:
        index = node.attrs["index"]
        if type(index) is not int:
            raise em.error(node, f"tuple index {index!r} is not an int")
        em.assign(node, depth, f"{em.use(node.inputs[0])}[{index}]")
    else:
        em.assign(node, depth, f"{em.use(node.inputs[0])}[{em.use(node.inputs[1])}]")


def emit_list_construct(em: "SourceEmitter", node: Node, depth: int) -> None:
    em.assign(node, depth, f"[{', '.join(em.use(v) for v in node.inputs)}]")


def emit_dict_construct(em: "SourceEmitter", node: Node, depth: int) -> None:
    vals = [em.use(v) for v in node.inputs]
    em.assign(node, depth, "{" + ", ".join(f"{k}: {v}" for k, v in zip(vals[0::2], vals[1::2])) + "}")


def emit_uninitialized(em: "SourceEmitter", node: Node, depth: int) -> None:
    em.assign(node, depth, "None")


def emit_unchecked_cast(em: "SourceEmitter", node: Node, depth: int) -> None:
    em.assign(node, depth, em.use(node.inputs[0]))


NODE_EMITTERS: Dict[str, Callable[["SourceEmitter", Node, int], None]] = {
    "prim::Constant": emit_constant,
    "prim::If": emit_if,
    "prim::Loop": emit_loop,
    "prim::GetAttr": emit_get_attr,
    "prim::SetAttr": emit_set_attr,
    "prim::CallMethod": emit_call_method,
    "prim::CallFunction": emit_call_function,
    "prim::fork": emit_fork,
    "prim::wait": emit_wait,
    "prim::RaiseException": emit_raise,
    "prim::CreateObject": emit_create_object,
    "prim::TupleConstruct": emit_tuple_construct,
    "prim::TupleUnpack": emit_unpack,
    "prim::TupleIndex": emit_tuple_index,
    "prim::ListConstruct": emit_list_construct,
    "prim::ListUnpack": emit_unpack,
    "prim::DictConstruct": emit_dict_construct,
    "prim::Uninitialized": emit_uninitialized,
    "prim::unchecked_cast": emit_unchecked_cast,
}
