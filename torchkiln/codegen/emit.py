"""IR -> Python source: one Python function per graph.

```
graph(%self : __torch__.Net, %x : Tensor):          def forward(self, x):
  %w : Tensor = prim::GetAttr[name="w"](%self)          w = self._parameters["w"]
  %1 : int = prim::Constant[value=1]()          ->      y = torch_add(x, w)
  %y : Tensor = aten::add.Tensor(%x, %w, %1)            return y
  return (%y)
```

`SourceEmitter(fn, unit, pretty)` writes the statements; `codegen.compile`
wraps them into an executable function, and `.code` uses the pretty form.
The two forms differ only in how they name what they refer to:

- executed (`pretty=False`): every object the code calls or reads (torch
  bindings, prim impls, compiled callees, constants) is a *reference*: a
  name bound to the object in the function's closure (Note [Constants]),
  so each op costs one fast local read and the call;
- pretty (`pretty=True`): references print as what a reader knows
  (`torch.add`, `self.w`, `CONSTANTS.c0`, `torch.float32`) and arguments
  carry their types, TorchScript-style.

Note [Constants]
----------------
A `prim::Constant` is never pasted into executable source as a value,
except a literal whose text `repr()` writes exactly and safely: a value of
exact type `int`, `bool`, `NoneType`, a finite `float`, or a `str` of at
most `_MAX_INLINE_STR` characters. Those are written at each use. Anything
else (tensors, dtypes, devices, lists, tuples, non-finite floats, long
strings) is a reference into the constants table; a list (or other mutable
container) is copied into a fresh value each time its node runs unless every
user is an ATen op that does not write it (ATen ops never keep or mutate an
`int[]`-like argument), so a program mutating a list constant behaves as the
interpreter's fresh copy does. Value names, attribute names and function
names reach the source only as sanitized identifiers or `repr()` of an exact
`str`; attribute values inside `emit` templates only as exact ints. A
hostile archive therefore cannot put code into the executed source.

Note [Outlining]
----------------
CPython refuses source indented more than 100 levels, and more than 20
nested loops (and `try`s) in one function. Blocks nest up to 1000 deep
(Note [Block nesting limit] in ir/nesting.py): 300 early returns nest 300
`else`s. So the executed form moves a node with blocks (`prim::If`,
`prim::Loop`) that would start at `OUTLINE_DEPTH` (40) levels of
indentation, or a loop inside `OUTLINE_LOOPS` (12) loops, into a helper
function defined beside the main one in the factory:

```
def _kiln_out(x, k):                 # the free values of the node
    if _9:
        y = ...
    else:
        y = ...
    return y                         # the node's outputs
...
            y = _kiln_out(x, k)      # where the node was, 40 levels in
```

SSA makes this clean: a node's blocks see values of enclosing blocks (its
free values: plain local names are passed as parameters; literals and
references are readable anywhere in the factory) and only the node's
outputs leave it. A block has no `break`/`continue` of an enclosing loop
(exit lowering made them data), so a whole node always moves. A helper's
body may outline again, so the source stays at most ~44 levels deep for
any nesting. Attribute dicts hoisted in the main function
(`hoist_attribute_dicts`) are not used inside helpers. Errors raised in a
helper get the note of the innermost generated line (`_Notes` follows the
helper frames). Shallow programs, the common case, are emitted exactly as
before, and `.code` (the pretty form) is never outlined.
"""
from __future__ import annotations

import builtins
import functools
import keyword
import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, FrozenSet, List, Optional, Sequence, Set, Tuple

import torch

from .. import ops
from ..diagnostics import Error
from ..ir.core import Block, CompilationUnit, Function, Node, Value
from ..ir.types import (
    ClassType,
    DictType,
    FutureType,
    ListType,
    OptionalType,
    TensorType,
    TupleType,
    Type,
    UnionType,
)
from ..ir.nesting import block_depth, recursion_headroom
from . import bindings, runtime
from .structural import NODE_EMITTERS, attribute_dict, constant_of

INDENT = "    "
OUTLINE_DEPTH = 40  # Note [Outlining]
OUTLINE_LOOPS = 12
HELPER_PREFIX = "_kiln_out"
_MAX_INLINE_STR = 200
_INT64_MAX = 2**63 - 1
# Builtins the emitters here write (exception classes are added below).
_OWN_BUILTINS = {"range", "list", "getattr", "setattr", "bool", "float", "int", "str", "tuple", "dict"}


@functools.lru_cache(maxsize=None)
def _reserved() -> FrozenSet[str]:
    """Names no value or reference may take: keywords, `torch`, and the
    builtins generated code calls (ours, exception classes, and every name
    in a prim's `emit` template). Other builtins (`input`, `id`, `type`) may
    be shadowed, so a user's `input` stays `input`."""
    in_templates: Set[str] = set()
    for op in ops.all_prim_ops().values():
        if op.emit is not None:
            in_templates.update(re.findall(r"[A-Za-z_]\w*", op.emit))
    exceptions = {n for n, v in vars(builtins).items() if isinstance(v, type) and issubclass(v, BaseException)}
    used_builtins = (in_templates | _OWN_BUILTINS | exceptions) & set(dir(builtins))
    return frozenset(keyword.kwlist) | frozenset(used_builtins) | {"torch", "CONSTANTS", "None", "True", "False"}


class CodegenError(Error):
    """A graph holds something the Python executor cannot express."""


@dataclass
class Line:
    depth: int
    text: str
    node: Optional[Node] = None


@dataclass
class Helper:
    """A node moved out of a deeply nested place into its own function (Note [Outlining])."""

    name: str
    params: List[str]
    lines: List[Line]  # the body, depth relative to the body; ends with the `return`


@dataclass
class Emitted:
    """The statements of one function and what they refer to."""

    name: str  # the Python function's name
    params: List[str]  # parameter texts (`x` or, pretty, `x: Tensor`)
    returns: str  # the return annotation (pretty) or ""
    lines: List[Line]  # the body, depth relative to the body
    refs: Dict[str, Any] = field(default_factory=dict)  # reference name -> object (executed form)
    helpers: List[Helper] = field(default_factory=list)  # outlined nodes (executed form)


def sanitize(hint: Optional[str]) -> str:
    """A Python identifier from a value hint: `x.1` -> `x`, `a-b` -> `a_b`."""
    if not isinstance(hint, str) or not hint:
        return ""
    hint = re.sub(r"\.\d+$", "", hint)
    text = re.sub(r"\W", "_", hint, flags=re.ASCII)
    if text and text[0].isdigit():
        text = "_" + text
    return text


class SourceEmitter:
    """Writes the body of one Function as Python statements."""

    def __init__(
        self,
        fn: Function,
        unit: Optional[CompilationUnit],
        pretty: bool,
        resolve: Optional[Any] = None,
        reserved: Sequence[str] = (),
    ):
        self.fn = fn
        self.unit = unit
        self.pretty = pretty
        self.resolve = resolve
        self.lines: List[Line] = []
        self.expr: Dict[Value, str] = {}  # value -> the expression that reads it
        self.numeric_literal: Set[Value] = set()
        self.used: Set[str] = set(_reserved()) | set(reserved)
        self.refs: Dict[str, Any] = {}
        self.ref_names: Dict[Tuple[int, str], str] = {}  # (id(obj), hint) -> name
        self.counter = 0
        self.hoisted: Dict[Tuple[Value, str], str] = {}  # (object, "_parameters") -> local name
        self.helpers: List[Helper] = []
        self.loops = 0  # loops enclosing the node being emitted, in the current Python function
        # Without SetAttr, reading an attribute later reads the same value:
        # `.code` may write a GetAttr where it is used.
        self.attrs_are_constant = not any(n.kind == "prim::SetAttr" for n in fn.graph.walk())

    # -- names ----------------------------------------------------------------
    def fresh(self, hint: str) -> str:
        base = sanitize(hint)
        if not base:
            while f"_{self.counter}" in self.used:
                self.counter += 1
            base = f"_{self.counter}"
            self.counter += 1
        name, k = base, 1
        while name in self.used:
            name, k = f"{base}_{k}", k + 1
        self.used.add(name)
        return name

    def define(self, v: Value, hint: Optional[str] = None) -> str:
        name = self.fresh(hint if hint is not None else (v.name or ""))
        self.expr[v] = name
        return name

    def use(self, v: Value) -> str:
        try:
            return self.expr[v]
        except KeyError:
            raise CodegenError(f"{v!r} is used before it is defined in {self.fn.name}") from None

    def ref(self, obj: Any, pretty_text: str, hint: Optional[str] = None) -> str:
        """The expression that reads `obj`: its pretty text, or a closure name."""
        if self.pretty:
            return pretty_text
        key = (id(obj), pretty_text)
        name = self.ref_names.get(key)
        if name is None:
            name = self.fresh(hint or pretty_text.replace(".", "_"))
            self.ref_names[key] = name
            self.refs[name] = obj
        return name

    def error(self, node: Node, what: str) -> CodegenError:
        where = f" at {node.loc}" if node.loc is not None else ""
        return CodegenError(f"cannot generate Python for {node.kind} in `{self.fn.name}`{where}: {what}")

    # -- lines ----------------------------------------------------------------
    def line(self, depth: int, text: str, node: Optional[Node] = None) -> None:
        if not self.pretty and node is not None and node.loc is not None:
            text += f"  # {node.loc}"
        self.lines.append(Line(depth, text, node))

    def assign(self, node: Node, depth: int, expr: str) -> None:
        """`outs = expr` for `node`; a bare expression statement when nothing is used."""
        outs = node.outputs
        if not outs or (len(outs) == 1 and not outs[0].uses):
            self.line(depth, expr, node)
            return
        names = [self.define(o) for o in outs]
        target = names[0] if len(names) == 1 else ", ".join(names)
        self.line(depth, f"{target} = {expr}", node)

    # -- the function ---------------------------------------------------------
    def emit(self) -> Emitted:
        with recursion_headroom(block_depth(self.fn.graph)):
            return self._emit()

    def _emit(self) -> Emitted:
        g = self.fn.graph
        params = []
        for i, v in enumerate(g.inputs):
            arg_name = self.fn.args[i].name if i < len(self.fn.args) else v.name
            name = self.define(v, arg_name or v.name or "")
            params.append(f"{name}: {py_type(v.type)}" if self.pretty and not _is_self(i, v) else name)
        self.hoist_attribute_dicts(g.inputs)
        self.block(g.block, 0)
        outs = [self.use(v) for v in g.outputs]
        if not outs:
            self.line(0, "return None")
        elif len(outs) == 1:
            self.line(0, f"return {outs[0]}")
        else:
            self.line(0, f"return ({', '.join(outs)})")
        name = sanitize(self.fn.name.rsplit(".", 1)[-1]) or "fn"
        returns = py_type(self.fn.returns) if self.pretty else ""
        return Emitted(name, params, returns, self.lines, self.refs, self.helpers)

    def hoist_attribute_dicts(self, objects: Sequence[Value]) -> None:
        """`p = self._parameters` once, when several GetAttrs read that dict."""
        if self.pretty:
            return
        counts: Dict[Tuple[Value, str], int] = {}
        for node in self.fn.graph.walk():
            if node.kind in ("prim::GetAttr", "prim::SetAttr") and node.inputs[0] in objects:
                where = attribute_dict(node.inputs[0].type, node.attrs.get("name"))
                if where is not None:
                    key = (node.inputs[0], where)
                    counts[key] = counts.get(key, 0) + 1
        for (obj, where), count in counts.items():
            if count >= 2:
                name = self.fresh(f"{self.use(obj)}_{where.strip('_')}")
                self.line(0, f"{name} = {self.use(obj)}.{where}")
                self.hoisted[(obj, where)] = name

    # -- blocks and nodes -----------------------------------------------------
    def block(self, block: Block, depth: int) -> None:
        for node in block.nodes:
            handler = NODE_EMITTERS.get(node.kind)
            if handler is None:
                self.op(node, depth)
            elif not node.blocks:
                handler(self, node, depth)
            elif not self.pretty and (depth >= OUTLINE_DEPTH or (node.kind == "prim::Loop" and self.loops >= OUTLINE_LOOPS)):
                self.outline(node, depth)
            else:
                self.nested(node, depth)

    def nested(self, node: Node, depth: int) -> None:
        """A node with blocks, written in place."""
        is_loop = node.kind == "prim::Loop"
        self.loops += is_loop
        NODE_EMITTERS[node.kind](self, node, depth)
        self.loops -= is_loop

    def outline(self, node: Node, depth: int) -> None:
        """`outs = _kiln_outN(free...)`, the node's statements in the helper (Note [Outlining])."""
        params = self.free_names(node)
        name = self.fresh(HELPER_PREFIX)
        outer = (self.lines, self.hoisted, self.loops)
        self.lines, self.hoisted, self.loops = [], {}, 0
        try:
            self.nested(node, 0)
            outs = [self.use(o) for o in node.outputs]
            if len(outs) == 1:
                self.line(0, f"return {outs[0]}")
            elif outs:
                self.line(0, f"return ({', '.join(outs)})")
            helper = Helper(name, params, self.lines)
        finally:
            self.lines, self.hoisted, self.loops = outer
        self.helpers.append(helper)
        call = f"{name}({', '.join(params)})"
        self.line(depth, f"{', '.join(outs)} = {call}" if outs else call, node)

    def free_names(self, node: Node) -> List[str]:
        """The local variables `node` (and its blocks) read that are defined outside it, in first-use order."""
        inside: Set[Value] = set()
        used: List[Value] = list(node.inputs)
        for n in node.walk():
            inside.update(n.outputs)
            used.extend(n.inputs)
        for n in [node, *node.walk()]:
            for b in n.blocks:
                inside.update(b.params)
                used.extend(b.returns)
        names: List[str] = []
        seen: Set[str] = set()
        for v in used:
            if v in inside:
                continue
            text = self.use(v)
            if text in seen or not text.isidentifier() or keyword.iskeyword(text) or text in self.refs:
                continue  # a literal, or a reference (a closure name every helper reads)
            seen.add(text)
            names.append(text)
        return names

    def body(self, block: Block, depth: int, after: Callable[[], None]) -> None:
        """A nested block's statements, then `after()`; `pass` if both wrote nothing."""
        start = len(self.lines)
        self.block(block, depth)
        after()
        if len(self.lines) == start:
            self.line(depth, "pass")

    def op(self, node: Node, depth: int) -> None:
        info = ops.find(node.kind)
        if info is None:
            raise self.error(node, "unknown op")
        if info.structural or info.impl is None:
            raise self.error(node, "the Python executor does not support this op")
        if info.schema.namespace == "aten":
            self.assign(node, depth, self.aten_call(node, info))
        else:
            self.assign(node, depth, self.prim_call(node, info))

    def aten_call(self, node: Node, info: ops.OpInfo) -> str:
        call = bindings.aten_call(info, [constant_of(v) for v in node.inputs])
        args = [self.use(node.inputs[i]) for i in call.positional]
        args += [f"{kw}={self.use(node.inputs[i])}" for kw, i in call.keyword]
        if call.method is not None:
            text = f"{self.use(node.inputs[call.receiver])}.{call.method}({', '.join(args)})"
        else:
            text = f"{self.ref(call.target, call.pretty, call.hint)}({', '.join(args)})"
        return f"list({text})" if call.to_list else text

    def prim_call(self, node: Node, info: ops.OpInfo) -> str:
        """A prim via its `emit` template or a call of its impl (Note [Prim impl convention])."""
        args = [self.use(v) for v in node.inputs]
        attrs = {name: node.attrs[name] for name in info.extra.get("attrs", ()) if name in node.attrs}
        if info.emit is not None and all(type(a) is int for a in attrs.values()):
            operands = [self.operand(v, i, info.emit) for i, v in enumerate(node.inputs)]
            try:
                return info.emit.format(*operands, args=", ".join(args), **attrs)
            except (IndexError, KeyError):  # the node lacks an input or attribute the template names
                pass
        impl = self.ref(info.impl, node.kind.replace("::", "."), "prim_" + sanitize(node.kind.split("::", 1)[1]))
        parts = list(args)
        parts += [f"{k}={self.constant_expr(v)}" for k, v in attrs.items()]
        if info.extra.get("out_types"):
            types = [o.type for o in node.outputs]
            parts.append(f"out_types={self.ref(types, repr([py_type(t) for t in types]), 'types')}")
        return f"{impl}({', '.join(parts)})"

    def operand(self, v: Value, index: int, template: str) -> str:
        text = self.use(v)
        if v in self.numeric_literal and (text.startswith("-") or "{%d}." % index in template):
            return f"({text})"
        return text

    # -- constants (Note [Constants]) -----------------------------------------
    def constant_expr(self, value: Any) -> str:
        """The expression for a constant value: a literal or a table reference."""
        if _inlinable(value):
            return repr(value)
        pretty = _pretty_constant(value)
        if pretty is None:  # tensors, long strings: numbered like TorchScript's CONSTANTS.c0
            key = (id(value), "CONSTANTS")
            if key not in self.ref_names:
                self.ref_names[key] = f"CONSTANTS.c{sum(1 for k in self.ref_names if k[1] == 'CONSTANTS')}"
            pretty = self.ref_names[key]
        return self.ref(value, pretty, _constant_hint(value))

    def constant(self, node: Node, depth: int) -> None:
        out = node.output
        value = node.attrs.get("value")
        if _inlinable(value):
            self.expr[out] = repr(value)
            if type(value) in (int, float):
                self.numeric_literal.add(out)
            return
        fresh = runtime.materialize(value, out.type)
        if runtime.is_immutable_value(fresh) or _only_read_by_aten(out):
            self.expr[out] = self.constant_expr(fresh)
            return
        # A mutable container a program may change: a fresh copy per run.
        table = self.constant_expr(fresh)
        if self.pretty:
            self.assign(node, depth, table)
        elif isinstance(fresh, list) and all(runtime.is_immutable_value(x) for x in fresh):
            self.assign(node, depth, f"list({table})")
        else:
            materialize = self.ref(runtime.materialize, "materialize")
            self.assign(node, depth, f"{materialize}({table}, {self.ref(out.type, str(out.type), 'type')})")


def _is_self(index: int, v: Value) -> bool:
    return index == 0 and isinstance(v.type, ClassType)


def _inlinable(value: Any) -> bool:
    t = type(value)
    if value is None or t in (int, bool):
        return True
    if t is float:
        return math.isfinite(value)
    return t is str and len(value) <= _MAX_INLINE_STR


def _only_read_by_aten(v: Value) -> bool:
    for use in v.uses:
        kind = use.node.kind
        if not kind.startswith("aten::"):
            return False
        args = ops.lookup(kind).schema.arguments
        if use.index < len(args) and args[use.index].is_write:
            return False
    return True


def _pretty_constant(value: Any) -> Optional[str]:
    """How `.code` writes a table constant, or None for a numbered `CONSTANTS.cN`."""
    if isinstance(value, (torch.dtype, torch.layout, torch.memory_format)):
        return str(value)  # torch.float32, torch.strided, torch.contiguous_format
    if isinstance(value, torch.device):
        return f'torch.device("{value}")'
    if type(value) is float:
        return f'float("{value}")'
    if type(value) in (list, tuple):
        items = [repr(x) if _inlinable(x) else _pretty_constant(x) for x in value]
        if any(item is None for item in items):
            return None
        inner = ", ".join(items)  # type: ignore[arg-type]
        return f"[{inner}]" if type(value) is list else f"({inner}{',' if len(items) == 1 else ''})"
    return None


def _constant_hint(value: Any) -> str:
    if isinstance(value, torch.dtype):
        return str(value).replace(".", "_")  # torch_float32
    if isinstance(value, torch.device):
        return "device_" + sanitize(str(value))
    return "c"


def py_type(t: Type) -> str:
    """A type as Python annotation text: `List[int]`, `Optional[Tensor]`, ..."""
    if isinstance(t, TensorType):
        return "Tensor"
    if isinstance(t, ListType):
        return f"List[{py_type(t.elem)}]"
    if isinstance(t, OptionalType):
        return f"Optional[{py_type(t.elem)}]"
    if isinstance(t, DictType):
        return f"Dict[{py_type(t.key)}, {py_type(t.value)}]"
    if isinstance(t, TupleType):
        if t.name is not None:
            return t.name
        return f"Tuple[{', '.join(py_type(e) for e in t.elems)}]" if t.elems else "Tuple[()]"
    if isinstance(t, UnionType):
        return f"Union[{', '.join(py_type(m) for m in t.members)}]"
    if isinstance(t, FutureType):
        return f"Future[{py_type(t.elem)}]"
    if isinstance(t, ClassType):
        return t.name
    return {"NoneType": "None"}.get(str(t), str(t))

