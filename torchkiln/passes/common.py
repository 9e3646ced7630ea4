"""Small helpers the passes share: op facts, constants, moving blocks.

Op facts come from the one op table (`torchkiln.ops`, STYLE habit 1); this
module only adapts its answers to what a pass asks.
"""
from __future__ import annotations

import math
from typing import Any, Dict, Optional, Tuple

import torch

from ..ir.builder import Builder
from ..ir.core import Block, Node, Value
from ..ir.types import (
    python_value_type,
    BOOL,
    DEVICE,
    FLOAT,
    INT,
    NONE,
    SCALAR_TYPE,
    STR,
    ListType,
    TensorType,
    TupleType,
    Type,
)
from .. import ops
from ..ops.registry import OpInfo

CONSTANT = "prim::Constant"
IF = "prim::If"
LOOP = "prim::Loop"
GETATTR = "prim::GetAttr"
SETATTR = "prim::SetAttr"
CALL_FUNCTION = "prim::CallFunction"
CALL_METHOD = "prim::CallMethod"
LIST_CONSTRUCT = "prim::ListConstruct"
TUPLE_CONSTRUCT = "prim::TupleConstruct"


def op_info(kind: str) -> Optional[OpInfo]:
    """The op table's entry for `kind`, or None when the table has none."""
    return ops.find(kind)


def is_deletable(info: Optional[OpInfo]) -> bool:
    """Pure ops and side-effect-free reads (`prim::GetAttr`): removable when unused."""
    return info is not None and (info.pure or bool(info.extra.get("deletable", False)))


def sets_mode(info: Optional[OpInfo]) -> Optional[str]:
    """"grad" or "autocast" for an op changing the state ATen ops run under (Note [Mode barriers] in `cse.py`)."""
    return None if info is None else info.extra.get("sets_mode")  # type: ignore[return-value]


def runs_autograd(info: Optional[OpInfo]) -> bool:
    """Whether the op runs the autograd engine (backward, autograd.grad): a barrier as a mode change is."""
    return info is not None and bool(info.extra.get("runs_autograd", False))


def is_nondeterministic(info: Optional[OpInfo]) -> bool:
    """Whether the op draws random numbers (Note [ATen purity] in `ops/aten.py`)."""
    return info is not None and bool(info.extra.get("nondeterministic", False))


# -- constants ------------------------------------------------------------------

_NO_VALUE = object()  # "not a constant", internally
_RAISE = object()  # no default given


def constant_value(v: Value, default: Any = _RAISE) -> Any:
    """The value of a `prim::Constant`, seeing through `ListConstruct` /
    `TupleConstruct` of constants; `default` (or KeyError) otherwise."""
    node = v.node
    if node is not None and node.kind == CONSTANT:
        return node.attrs.get("value")
    if node is not None and node.kind in (LIST_CONSTRUCT, TUPLE_CONSTRUCT):
        items = [constant_value(i, _NO_VALUE) for i in node.inputs]
        if all(i is not _NO_VALUE for i in items):
            return list(items) if node.kind == LIST_CONSTRUCT else tuple(items)
    if default is _RAISE:
        raise KeyError(f"{v!r} is not a constant")
    return default


def has_constant_value(v: Value) -> bool:
    return constant_value(v, _NO_VALUE) is not _NO_VALUE


def insert_constant(before: Node, value: Any, typ: Type) -> Value:
    """`prim::Constant[value=value]() -> typ` inserted before `before`, with its range."""
    assert before.block is not None
    return Builder(before.block, before).constant(value, typ, before.loc)


def type_of_value(value: Any) -> Optional[Type]:
    """The IR type of a Python constant, or None when constants cannot hold it."""
    typ = python_value_type(value)
    if typ is not None:
        return typ
    if isinstance(value, torch.Tensor):
        return tensor_type(value)
    if isinstance(value, tuple):
        elems = [type_of_value(v) for v in value]
        return None if any(e is None for e in elems) else TupleType(elems)  # type: ignore[arg-type]
    return None


def tensor_type(t: torch.Tensor) -> TensorType:
    return TensorType(t.dtype, tuple(t.shape), t.device)


def value_key(value: Any) -> Any:
    """A hashable key equal only for interchangeable constant values.

    Python's `0 == 0.0 == False` and `0.0 == -0.0`; constants of those must
    stay apart, so the key carries the type and floats go by `repr`.
    Tensors compare by identity.
    """
    if isinstance(value, torch.Tensor):
        return ("tensor", id(value))
    if isinstance(value, float):
        return ("float", repr(value)) if not math.isnan(value) else ("nan", id(value))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(value_key(v) for v in value))
    if isinstance(value, Type):
        return ("type", str(value))
    return (type(value).__name__, value)


# -- structure ------------------------------------------------------------------


def inline_block_before(block: Block, node: Node, env: Optional[Dict[Value, Value]] = None) -> list:
    """Move `block`'s nodes before `node`; return its results (mapped through `env`).

    The block is left empty (its returns dropped); the caller replaces
    `node`'s outputs and destroys it.
    """
    assert node.block is not None
    results = [(env or {}).get(r, r) for r in block.returns]
    for inner in list(block.nodes):
        inner.move_before(node)
    block.return_node.drop_inputs()
    return results


def count_nodes(block: Block) -> int:
    """Nodes in `block` and nested blocks, constants not counted."""
    return sum(1 for n in block.walk() if n.kind != CONSTANT)


def has_at_most_nodes(block: Block, limit: float) -> bool:
    """`count_nodes(block) <= limit`, stopping as soon as the count passes `limit`."""
    count = 0
    stack = [block]
    while stack:
        for n in stack.pop().nodes:
            if n.kind != CONSTANT:
                count += 1
                if count > limit:
                    return False
            if n.blocks:
                stack.extend(n.blocks)
    return True


def scalar_of(v: Value) -> Tuple[bool, Any]:
    """(True, number) when `v` is a constant Python int/float/bool."""
    value = constant_value(v, _NO_VALUE)
    if isinstance(value, (bool, int, float)):
        return True, value
    return False, None


def list_type_of(values: list) -> Optional[ListType]:
    types = {type(v) for v in values}
    if types <= {int}:
        return ListType(INT)
    if types <= {float}:
        return ListType(FLOAT)
    if types <= {bool}:
        return ListType(BOOL)
    return None
