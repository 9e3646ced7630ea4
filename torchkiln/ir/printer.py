"""The IR text form: graphs, functions, types and attribute values as text.

```
graph(%x : Tensor, %n : int):
  %2 : int = prim::Constant[value=1]()
  %3 : Tensor = aten::add.Tensor(%x, %x, %2)  # model.py:7:15
  %4 : Tensor = prim::If(%c)
    block0():
      -> (%3)
    block1():
      -> (%x)
  return (%4)
```

`parser.py` reads exactly this form back; print -> parse -> print is the
identity. See Note [Value names] and Note [Attribute values].

Note [Value names]
~~~~~~~~~~~~~~~~~~
Names are presentation (STYLE habit 8). A `Value` carries at most a hint
(`Value.name`); the printer picks the printed names, in print order, so the
text depends only on the graph's structure and hints:

- every value, named or not, takes the next number of a counter;
- a value without a usable hint prints as that number (`%2`);
- a value with a hint prints as the hint, or `hint.1`, `hint.2`, ... when an
  earlier value already took the name (`%x`, `%x.1`).

A usable hint is made of `[A-Za-z0-9_.]` (other characters become `_`) and is
not all digits (those are the counter's). The parser keeps each printed name
as the hint (all-digit names as no hint), so reprinting gives the same text.

Note [Attribute values]
~~~~~~~~~~~~~~~~~~~~~~~
`[name=value, ...]` after the kind; values are written as

    1  -3                       int
    1.0  1e-05  inf  -inf  nan  float (repr: always a `.`, an exponent, or inf/nan)
    complex(1.0, -2.0)          complex
    True  False  None
    "a\\n\\"b\\""                  str (double quotes; backslash escapes)
    [1, 2]  (1, "a")  (1,)  ()  list, tuple
    torch.float32  torch.strided  torch.channels_last   dtype, layout, memory format
    device("cuda:0")            torch.device
    type(Dict(str, int[]))      a Type (see `print_type`)
    tensor([[1.0, 2.5], [3.0, 4.0]], dtype=torch.float32, shape=[2, 2])

A tensor literal is exact: floating elements are the shortest decimal that
converts back (through float64) to the same element; nested lists follow the
shape; `device="..."` is added off the CPU and `requires_grad=True` when set.
Tensors this form cannot hold (quantized, sparse, sub-byte dtypes, meta)
print as `<unprintable ...>`, which the parser refuses.

Refined tensor types print TorchScript-style: `Float(2, *, device=cpu)` (sizes,
`*` for an unknown dim), `Float()` (0-dim), `Float(...)` (dtype only, rank
unknown), `Tensor(3, 4)` (dtype unknown); plain `Tensor` when unrefined.
"""
from __future__ import annotations

import math
import re
from typing import Any, Dict, Iterable, List, Optional, Set, Union

import torch

from .core import Block, Function, Graph, Node, Value
from .nesting import block_depth, recursion_headroom
from .types import (
    DictType,
    FutureType,
    ListType,
    OptionalType,
    TensorType,
    TupleType,
    Type,
    UnionType,
)

INDENT = "  "
MARK = "  <-- here"

Markable = Union[Node, Block, None]


# -- dtype names in tensor types ----------------------------------------------

# TorchScript's names (c10::toString) for the usual dtypes; rarer ones follow a rule.
_CLASSIC_DTYPE_NAMES = {
    torch.float32: "Float",
    torch.float64: "Double",
    torch.float16: "Half",
    torch.bfloat16: "BFloat16",
    torch.int64: "Long",
    torch.int32: "Int",
    torch.int16: "Short",
    torch.int8: "Char",
    torch.uint8: "Byte",
    torch.bool: "Bool",
    torch.complex32: "ComplexHalf",
    torch.complex64: "ComplexFloat",
    torch.complex128: "ComplexDouble",
}


def _rare_dtype_name(dtype: torch.dtype) -> str:
    short = str(dtype)[len("torch."):]
    for prefix, cap in (("quint", "QUInt"), ("qint", "QInt"), ("uint", "UInt"), ("bits", "Bits")):
        if short.startswith(prefix):
            return cap + short[len(prefix):]
    return short[0].upper() + short[1:]


def _all_dtypes() -> List[torch.dtype]:
    found = {str(v): v for v in vars(torch).values() if isinstance(v, torch.dtype)}
    return [found[k] for k in sorted(found)]


DTYPE_NAMES: Dict[torch.dtype, str] = {d: _CLASSIC_DTYPE_NAMES.get(d) or _rare_dtype_name(d) for d in _all_dtypes()}
NAME_DTYPES: Dict[str, torch.dtype] = {n: d for d, n in DTYPE_NAMES.items()}
assert len(NAME_DTYPES) == len(DTYPE_NAMES), "dtype names in tensor types must be unique"


# -- types --------------------------------------------------------------------


def print_type(t: Type) -> str:
    """The text of a type, tensor refinements included: `Float(2, *)[]`, `(int, str?)`.

    Equal to `str(t)` when no tensor in `t` is refined.
    """
    if isinstance(t, TensorType):
        return _tensor_type_text(t)
    if isinstance(t, ListType):
        return f"{print_type(t.elem)}[]"
    if isinstance(t, OptionalType):
        return f"{print_type(t.elem)}?"
    if isinstance(t, TupleType):
        if t.name is not None:
            inner = ", ".join(f"{f}: {print_type(e)}" for f, e in zip(t.fields or (), t.elems))
            return f"NamedTuple {t.name}({inner})"
        return "(" + ", ".join(print_type(e) for e in t.elems) + ")"
    if isinstance(t, DictType):
        return f"Dict({print_type(t.key)}, {print_type(t.value)})"
    if isinstance(t, UnionType):
        return "Union(" + ", ".join(print_type(m) for m in t.members) + ")"
    if isinstance(t, FutureType):
        return f"Future({print_type(t.elem)})"
    return str(t)


def _tensor_type_text(t: TensorType) -> str:
    if not t.is_refined():
        return "Tensor"
    head = "Tensor" if t.dtype is None else DTYPE_NAMES.get(t.dtype, str(t.dtype))
    parts = ["..."] if t.sizes is None else ["*" if s is None else str(s) for s in t.sizes]
    if t.device is not None:
        parts.append(f"device={t.device}")
    return f"{head}({', '.join(parts)})"


# -- attribute values ---------------------------------------------------------


def print_value(v: Any) -> str:
    """The text of an attribute value (see Note [Attribute values])."""
    if v is None:
        return "None"
    if isinstance(v, bool):
        return "True" if v else "False"
    if isinstance(v, int):
        return int.__repr__(v)
    if isinstance(v, float):
        return _float_text(v)
    if isinstance(v, complex):
        return f"complex({_float_text(v.real)}, {_float_text(v.imag)})"
    if isinstance(v, str):
        return quote(v)
    if isinstance(v, torch.Tensor):
        return _tensor_text(v)
    if isinstance(v, (torch.dtype, torch.layout, torch.memory_format)):
        return str(v)
    if isinstance(v, torch.device):
        return f"device({quote(str(v))})"
    if isinstance(v, Type):
        return f"type({print_type(v)})"
    if isinstance(v, list):
        return "[" + ", ".join(print_value(x) for x in v) + "]"
    if isinstance(v, tuple):
        if len(v) == 1:
            return f"({print_value(v[0])},)"
        return "(" + ", ".join(print_value(x) for x in v) + ")"
    return f"<unprintable {type(v).__name__}>"


def _float_text(x: float) -> str:
    return float.__repr__(float(x))


_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def quote(s: str) -> str:
    """`s` in double quotes; `\\`, `"`, and non-printable characters escaped."""
    out = ['"']
    for ch in s:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x100:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def _tensor_text(t: torch.Tensor) -> str:
    why = _unprintable_tensor(t)
    if why is not None:
        return f"<unprintable tensor: {why}>"
    data = t.detach()
    if data.device.type != "cpu":
        data = data.cpu()
    leaves = _tensor_leaves(data)
    shape = list(data.shape)
    text = f"tensor({_nest(leaves, shape)}, dtype={data.dtype}, shape={shape}"
    if t.device.type != "cpu":
        text += f", device={quote(str(t.device))}"
    if t.requires_grad:
        text += ", requires_grad=True"
    return text + ")"


def _unprintable_tensor(t: torch.Tensor) -> Optional[str]:
    if t.layout != torch.strided:
        return f"layout {t.layout}"
    if t.is_quantized:
        return "quantized"
    if t.device.type == "meta":
        return "meta device"
    d = t.dtype
    if not (d.is_floating_point or d.is_complex or d == torch.bool or _is_plain_int(d)):
        return f"dtype {d}"
    return None


def _is_plain_int(d: torch.dtype) -> bool:
    return d in (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8, torch.uint16, torch.uint32, torch.uint64)


def _tensor_leaves(t: torch.Tensor) -> List[str]:
    flat = t.reshape(-1)
    if t.dtype == torch.bool:
        return ["True" if x else "False" for x in flat.tolist()]
    if t.dtype.is_complex:
        return [f"complex({_float_text(c.real)}, {_float_text(c.imag)})" for c in flat.to(torch.complex128).tolist()]
    if t.dtype.is_floating_point:
        return _shortest_floats(flat)
    return [str(x) for x in flat.tolist()]


def _shortest_floats(flat: torch.Tensor) -> List[str]:
    """Per element, the shortest decimal that converts (via float64) back to it exactly."""
    exact = flat.to(torch.float64).tolist()
    if flat.dtype == torch.float64:
        return [_float_text(x) for x in exact]
    texts: List[Optional[str]] = [None if math.isfinite(x) else _float_text(x) for x in exact]
    pending = [i for i, s in enumerate(texts) if s is None]
    for digits in range(1, 18):
        if not pending:
            break
        cands = [float(f"{exact[i]:.{digits}g}") for i in pending]
        back = torch.tensor(cands, dtype=torch.float64).to(flat.dtype).to(torch.float64).tolist()
        still = []
        for i, c, b in zip(pending, cands, back):
            if b == exact[i] and math.copysign(1.0, b) == math.copysign(1.0, exact[i]):
                texts[i] = _float_text(c)
            else:
                still.append(i)
        pending = still
    for i in pending:  # unreachable for IEEE formats; float64 repr is always exact
        texts[i] = _float_text(exact[i])
    return texts  # type: ignore[return-value]


def _nest(leaves: List[str], shape: List[int]) -> str:
    if not shape:
        return leaves[0]
    pos = 0

    def rec(dim: int) -> str:
        nonlocal pos
        if dim == len(shape) - 1:
            items = leaves[pos:pos + shape[dim]]
            pos += shape[dim]
            return "[" + ", ".join(items) + "]"
        return "[" + ", ".join(rec(dim + 1) for _ in range(shape[dim])) + "]"

    return rec(0)


# -- graphs -------------------------------------------------------------------

_HINT_BAD = re.compile(r"[^A-Za-z0-9_.]")


def _usable_hint(hint: Optional[str]) -> Optional[str]:
    if not isinstance(hint, str) or not hint:
        return None
    hint = _HINT_BAD.sub("_", hint)
    return None if hint.isdigit() else hint


class _Namer:
    """Assigns printed names; see Note [Value names]."""

    def __init__(self) -> None:
        self.names: Dict[Value, str] = {}
        self.taken: Set[str] = set()
        self.counter = 0

    def define(self, v: Value) -> None:
        if not isinstance(v, Value) or v in self.names:
            return
        number = self.counter
        self.counter += 1
        hint = _usable_hint(v.name)
        if hint is None:
            name = str(number)
        else:
            name, k = hint, 1
            while name in self.taken:
                name, k = f"{hint}.{k}", k + 1
        self.taken.add(name)
        self.names[v] = name

    def __call__(self, v: Value) -> str:
        if not isinstance(v, Value):  # only in broken IR
            return f"<not a value: {v!r}>"
        if v not in self.names:  # only in broken IR: a use of a value defined nowhere (yet)
            self.define(v)
        return "%" + self.names[v]


class _Printer:
    def __init__(self, mark: Markable = None) -> None:
        self.name = _Namer()
        self.mark = mark
        self.lines: List[str] = []
        self.active: Set[Block] = set()  # blocks being printed: guards against cyclic (broken) IR

    def name_block(self, b: Block) -> None:
        if b in self.active:
            return
        self.active.add(b)
        for p in b.params:
            self.name.define(p)
        for n in b.nodes:
            for o in n.outputs:
                self.name.define(o)
            for nb in n.blocks:
                self.name_block(nb)
        self.active.discard(b)

    def emit(self, text: str, obj: Markable) -> None:
        if obj is not None and obj is self.mark:
            text += MARK
        self.lines.append(text)

    def params(self, values: Iterable[Value]) -> str:
        return ", ".join(f"{self.name(v)} : {_type_text(v.type)}" for v in values)

    def graph(self, g: Graph) -> None:
        self.name_block(g.block)
        self.emit(f"graph({self.params(g.block.params)}):", g.block)
        self.block_body(g.block, 1, "return")

    def block_body(self, b: Block, depth: int, ret: str) -> None:
        if b in self.active:
            self.emit(INDENT * depth + "<cycle: this block contains itself>", None)
            return
        self.active.add(b)
        for n in b.nodes:
            self.node(n, depth)
        rets = ", ".join(self.name(v) for v in b.return_node.inputs)
        self.emit(f"{INDENT * depth}{ret} ({rets})", b.return_node)
        self.active.discard(b)

    def node(self, n: Node, depth: int) -> None:
        self.emit(INDENT * depth + self.node_text(n), n)
        for i, b in enumerate(n.blocks):
            self.emit(f"{INDENT * (depth + 1)}block{i}({self.params(b.params)}):", b)
            self.block_body(b, depth + 2, "->")

    def node_text(self, n: Node) -> str:
        text = ""
        if n.outputs:
            text = ", ".join(f"{self.name(o)} : {_type_text(o.type)}" for o in n.outputs) + " = "
        text += str(n.kind)
        if n.attrs:
            text += "[" + ", ".join(f"{k}={print_value(v)}" for k, v in n.attrs.items()) + "]"
        text += "(" + ", ".join(self.name(v) for v in n.inputs) + ")"
        if n.loc is not None:
            text += f"  # {_loc_text(n.loc)}"
        return text

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _type_text(t: Any) -> str:
    return print_type(t) if isinstance(t, Type) else f"<not a type: {t!r}>"


def _loc_text(loc: Any) -> str:
    try:
        return f"{loc.filename}:{loc.line}:{loc.col}"
    except AttributeError:
        return str(loc)


def print_graph(graph: Graph, *, mark: Markable = None) -> str:
    """The text form of `graph`, ending with a newline.

    ```
    graph(%x : Tensor):
      %1 : Tensor = aten::relu(%x)  # model.py:3:11
      return (%1)
    ```

    `mark` (a Node, a Block, or a block's return node) gets `  <-- here`
    appended to its line (a Block: its header line); the verifier uses it to
    point at what is wrong. Marked text is for people, not for the parser.
    """
    p = _Printer(mark)
    with recursion_headroom(block_depth(graph)):
        p.graph(graph)
    return p.text()


def print_function(fn: Function, *, mark: Markable = None) -> str:
    """A function's signature line followed by its graph.

    ```
    def forward(self : __torch__.Net, x : Tensor, n : int = 1, *, k : float = 2.0) -> Tensor  # m.py:4:4
    graph(%self : __torch__.Net, %x : Tensor, %n : int, %k : float):
      ...
    ```

    Defaults are written as attribute values; `*` precedes keyword-only args,
    `/` follows positional-only ones (as in Python).
    """
    parts: List[str] = []
    star = False
    for i, a in enumerate(fn.args):
        if a.kwarg_only and not star:
            parts.append("*")
            star = True
        text = f"{a.name} : {_type_text(a.type)}"
        if a.has_default:
            text += f" = {print_value(a.default)}"
        parts.append(text)
        if a.positional_only and (i + 1 == len(fn.args) or not fn.args[i + 1].positional_only):
            parts.append("/")
    head = f"def {fn.name}({', '.join(parts)}) -> {_type_text(fn.returns)}"
    if fn.loc is not None:
        head += f"  # {_loc_text(fn.loc)}"
    return head + "\n" + print_graph(fn.graph, mark=mark)


def print_node(node: Node) -> str:
    """One node's line on its own (names local to this call), for messages."""
    return _Printer().node_text(node)
