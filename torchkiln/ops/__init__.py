"""The one op table: look up any op by name (see `registry.py` for what an op is).

```python
from torchkiln import ops
ops.lookup("aten::add.Tensor").schema    # aten::add.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor
ops.lookup("prim::ListConstruct").pure   # True
ops.overloads("aten::add")               # [add.Tensor, add.Scalar, add.out, add.Scalar_out]
ops.is_pure("aten::add_.Tensor")         # False: writes `self`
ops.resolve("aten::add", [TENSOR, INT], {})   # overload resolution, see resolve.py
```

Filling the table: importing this package imports `prim` (structural and
core prims) and, when it exists, `lang` (Python-language prims). Nothing
else registers ops.
"""
from __future__ import annotations

import importlib
import importlib.util
from typing import Dict, List, Optional

from ..diagnostics import Error
from ..ir.types import DictType, ListType, TupleType, Type
from . import prim as _prim  # noqa: F401  (fills the prim table)
from .aten import aten_op, aten_overloads
from .registry import OpInfo, declare_prim, prim_ops, prim_overloads
from .schema import AliasInfo, Schema, SchemaArg, TypeVarType, UnsupportedType, parse_schema

if importlib.util.find_spec(__name__ + ".lang") is not None:
    importlib.import_module(__name__ + ".lang")

from .resolve import ArgSource, Match, emit_inputs, match_schema, resolve  # noqa: E402

__all__ = [
    "OpInfo", "Schema", "SchemaArg", "AliasInfo", "TypeVarType", "UnsupportedType", "parse_schema",
    "declare_prim", "lookup", "find", "overloads", "is_pure", "is_deletable", "node_is_pure", "all_prim_ops",
    "op_checker", "resolve", "match_schema", "Match", "ArgSource", "emit_inputs",
]  # fmt: skip


def find(name: str) -> Optional[OpInfo]:
    """The op named `name` (`aten::add.Tensor`, `prim::If`), or None."""
    op = prim_ops().get(name)
    if op is not None:
        return op
    if name.startswith("aten::"):
        return aten_op(name)
    return None


def lookup(name: str) -> OpInfo:
    """The op named `name`; raises `diagnostics.Error` if there is none."""
    op = find(name)
    if op is None:
        raise Error(f"unknown op {name!r}: not a dispatcher aten op and not a declared prim op")
    return op


def overloads(base: str) -> List[OpInfo]:
    """Every overload of `base` (`aten::add`, `prim::Float`), in resolution order."""
    if base.startswith("aten::"):
        return aten_overloads(base) + prim_overloads(base)
    return prim_overloads(base)


def is_pure(kind: str) -> bool:
    """Whether nodes of this kind may be folded, CSE'd and deleted when unused.

    Unknown kinds are impure. Ops with blocks (`prim::If`, `prim::Loop`) are
    impure here; `node_is_pure` looks inside their blocks.
    """
    op = find(kind)
    return op is not None and op.pure


def is_deletable(kind: str) -> bool:
    """Whether an unused node of this kind may be deleted (pure ops, and reads like `prim::GetAttr`)."""
    op = find(kind)
    return op is not None and (op.pure or bool(op.extra.get("deletable")))


def node_is_pure(node) -> bool:
    """`is_pure` for a node, where `prim::If`/`prim::Loop` are pure when everything in their blocks is."""
    if node.blocks and node.kind in ("prim::If", "prim::Loop"):
        return all(node_is_pure(n) for b in node.blocks for n in b.nodes)
    return is_pure(node.kind)


def all_prim_ops() -> Dict[str, OpInfo]:
    """Every declared prim op by qualified name (the C++ runtime must implement each)."""
    return dict(prim_ops())


# -- verifier hook --------------------------------------------------------------


def op_checker(node) -> Optional[str]:
    """What is wrong with `node` against its op's schema, or None.

    Checks that the op exists, the node has every required attribute, the
    inputs match the arguments in number (all arguments, defaults included,
    are explicit inputs; `...` takes any number more) and type (type
    variables bound consistently), and the outputs match the returns.
    Container construction/destruction prims are checked against the node's
    own types.
    """
    op = find(node.kind)
    if op is None:
        return f"unknown op {node.kind}"
    for attr in op.extra.get("attrs", ()):
        if attr not in node.attrs and attr not in op.extra.get("optional_attrs", ()):
            return f"{node.kind} needs the attribute {attr!r}"
    special = _SPECIAL_CHECKS.get(node.kind)
    if special is not None:
        return special(node)
    schema = op.schema
    in_types = [v.type for v in node.inputs]
    out_types = [v.type for v in node.outputs]
    n_args = len(schema.arguments)
    if len(in_types) < n_args or (len(in_types) > n_args and not schema.is_vararg):
        expect = f"at least {n_args}" if schema.is_vararg else str(n_args)
        return f"{node.kind} takes {expect} inputs, the node has {len(in_types)}"
    if not schema.is_varret and len(out_types) != len(schema.returns):
        return f"{node.kind} has {len(schema.returns)} outputs, the node has {len(out_types)}"
    return match_schema(schema, in_types[:n_args], out_types)


def _check_list_construct(node) -> Optional[str]:
    if len(node.outputs) != 1 or not isinstance(node.outputs[0].type, ListType):
        return "prim::ListConstruct must have one list output"
    elem = node.outputs[0].type.elem
    for i, v in enumerate(node.inputs):
        if not v.type.is_subtype_of(elem):
            return f"prim::ListConstruct input {i} has type {v.type}, the list holds {elem}"
    return None


def _check_list_unpack(node) -> Optional[str]:
    if len(node.inputs) != 1 or not isinstance(node.inputs[0].type, ListType):
        return "prim::ListUnpack takes one list"
    elem = node.inputs[0].type.elem
    for i, v in enumerate(node.outputs):
        if not elem.is_subtype_of(v.type):
            return f"prim::ListUnpack output {i} has type {v.type}, the list holds {elem}"
    return None


def _check_tuple_construct(node) -> Optional[str]:
    if len(node.outputs) != 1 or not isinstance(node.outputs[0].type, TupleType):
        return "prim::TupleConstruct must have one tuple output"
    elems = node.outputs[0].type.elems
    if len(elems) != len(node.inputs):
        return f"prim::TupleConstruct has {len(node.inputs)} inputs for a tuple of {len(elems)}"
    for i, (v, t) in enumerate(zip(node.inputs, elems)):
        if not v.type.is_subtype_of(t):
            return f"prim::TupleConstruct input {i} has type {v.type}, the tuple holds {t}"
    return None


def _tuple_input(node) -> Optional[TupleType]:
    if len(node.inputs) == 1 and isinstance(node.inputs[0].type, TupleType):
        return node.inputs[0].type
    return None


def _check_tuple_unpack(node) -> Optional[str]:
    t = _tuple_input(node)
    if t is None:
        return "prim::TupleUnpack takes one tuple"
    if len(t.elems) != len(node.outputs):
        return f"prim::TupleUnpack of a {len(t.elems)}-tuple has {len(node.outputs)} outputs"
    for i, (e, v) in enumerate(zip(t.elems, node.outputs)):
        if not e.is_subtype_of(v.type):
            return f"prim::TupleUnpack output {i} has type {v.type}, the tuple holds {e}"
    return None


def _check_tuple_index(node) -> Optional[str]:
    t = _tuple_input(node)
    if t is None or len(node.outputs) != 1:
        return "prim::TupleIndex takes one tuple and has one output"
    index = node.attrs.get("index")
    if not isinstance(index, int) or not -len(t.elems) <= index < len(t.elems):
        return f"prim::TupleIndex index {index!r} is out of range for {t}"
    if not t.elems[index].is_subtype_of(node.outputs[0].type):
        return f"prim::TupleIndex output has type {node.outputs[0].type}, the element is {t.elems[index]}"
    return None


def _check_dict_construct(node) -> Optional[str]:
    if len(node.outputs) != 1 or not isinstance(node.outputs[0].type, DictType):
        return "prim::DictConstruct must have one dict output"
    if len(node.inputs) % 2:
        return "prim::DictConstruct takes key, value pairs"
    d = node.outputs[0].type
    for i, v in enumerate(node.inputs):
        want: Type = d.key if i % 2 == 0 else d.value
        if not v.type.is_subtype_of(want):
            return f"prim::DictConstruct input {i} has type {v.type}, expected {want}"
    return None


_SPECIAL_CHECKS = {
    "prim::ListConstruct": _check_list_construct,
    "prim::ListUnpack": _check_list_unpack,
    "prim::TupleConstruct": _check_tuple_construct,
    "prim::TupleUnpack": _check_tuple_unpack,
    "prim::TupleIndex": _check_tuple_index,
    "prim::DictConstruct": _check_dict_construct,
}
