"""The prim table and the verifier's op checker."""

import pytest
import torch

from torchkiln import ops
from torchkiln.ir.builder import Builder
from torchkiln.ir.core import Graph, Node
from torchkiln.ir.types import BOOL, FLOAT, INT, NONE, STR, TENSOR, DictType, ListType, OptionalType, TupleType


def test_structural_prims_declared():
    table = ops.all_prim_ops()
    for name in ("prim::Constant", "prim::If", "prim::Loop", "prim::GetAttr", "prim::SetAttr", "prim::CallMethod",
                 "prim::CallFunction", "prim::CreateObject", "prim::fork", "prim::Return"):  # fmt: skip
        assert table[name].structural, name
    for name in ("prim::ListConstruct", "prim::ListUnpack", "prim::TupleConstruct", "prim::TupleUnpack",
                 "prim::TupleIndex", "prim::DictConstruct", "prim::RaiseException", "prim::Uninitialized",
                 "prim::unchecked_cast", "prim::Print", "prim::wait", "prim::Bool.Tensor", "prim::Int.Tensor",
                 "prim::Float.Tensor", "prim::NumToTensor.Scalar", "prim::device", "prim::dtype"):  # fmt: skip
        assert not table[name].structural and table[name].impl is not None, name


def test_purity_of_prims():
    assert ops.is_pure("prim::ListConstruct") and ops.is_pure("prim::Constant")
    for name in ("prim::RaiseException", "prim::Print", "prim::SetAttr", "prim::CallMethod", "prim::If", "prim::GetAttr"):
        assert not ops.is_pure(name), name
    assert ops.is_deletable("prim::GetAttr") and not ops.is_deletable("prim::SetAttr")


def test_prim_impls():
    p = ops.all_prim_ops()
    assert p["prim::ListConstruct"].impl(1, 2) == [1, 2]
    assert p["prim::TupleIndex"].impl((1, 2, 3), index=1) == 2
    assert p["prim::DictConstruct"].impl("a", 1, "b", 2) == {"a": 1, "b": 2}
    assert p["prim::TupleConstruct"].impl(1, 2, out_types=[TupleType([INT, INT])]) == (1, 2)
    point = TupleType([INT, INT], name="__torch__.Point", fields=["x", "y"])
    pt = p["prim::TupleConstruct"].impl(1, 2, out_types=[point])
    assert pt.x == 1 and pt.y == 2 and type(pt).__name__ == "Point"
    assert p["prim::Int.Tensor"].impl(torch.tensor(3.7)) == 3
    assert p["prim::NumToTensor.Scalar"].impl(2).dtype == torch.int64
    with pytest.raises(ValueError, match="bad"):
        p["prim::RaiseException"].impl("bad", cls="ValueError")
    with pytest.raises(Exception, match="MyError: boom"):
        p["prim::RaiseException"].impl("boom", cls="__torch__.MyError")


def _node(kind, in_types, out_types, **attrs):
    g = Graph()
    b = Builder(g.block)
    inputs = [g.add_input(t) for t in in_types]
    return b.op(kind, inputs, out_types, attrs)


def test_op_checker_accepts_good_nodes():
    assert ops.op_checker(_node("aten::add.Tensor", [TENSOR, TENSOR, INT], [TENSOR])) is None
    assert ops.op_checker(_node("aten::add.Scalar", [TENSOR, FLOAT, INT], [TENSOR])) is None
    assert ops.op_checker(_node("aten::sum.dim_IntList", [TENSOR, ListType(INT), BOOL, NONE], [TENSOR])) is None
    assert ops.op_checker(_node("prim::ListConstruct", [INT, INT], [ListType(INT)])) is None
    assert ops.op_checker(_node("prim::TupleIndex", [TupleType([INT, STR])], [STR], index=1)) is None
    assert ops.op_checker(_node("prim::DictConstruct", [STR, INT], [DictType(STR, INT)])) is None
    assert ops.op_checker(_node("prim::Print", [INT, STR, TENSOR], [])) is None
    assert ops.op_checker(_node("prim::Constant", [], [INT], value=1)) is None


def test_op_checker_rejects_bad_nodes():
    assert "unknown op" in ops.op_checker(_node("aten::nope", [], []))
    assert "takes 3 inputs" in ops.op_checker(_node("aten::add.Tensor", [TENSOR, TENSOR], [TENSOR]))
    assert "argument 'other'" in ops.op_checker(_node("aten::add.Tensor", [TENSOR, INT, INT], [TENSOR]))
    assert "outputs" in ops.op_checker(_node("aten::add.Tensor", [TENSOR, TENSOR, INT], []))
    assert "input 1" in ops.op_checker(_node("prim::ListConstruct", [INT, STR], [ListType(INT)]))
    assert "out of range" in ops.op_checker(_node("prim::TupleIndex", [TupleType([INT])], [INT], index=3))
    assert "attribute 'value'" in ops.op_checker(_node("prim::Constant", [], [INT]))
    assert "at least 2" in ops.op_checker(_node("prim::Loop", [INT], []))


def test_node_is_pure_looks_into_blocks():
    g = Graph()
    b = Builder(g.block)
    c = g.add_input(BOOL)
    if_node = b.op("prim::If", [c], [], n_blocks=2)
    assert ops.node_is_pure(if_node)
    with b.at_block(if_node.blocks[0]):
        b.op("prim::Print", [c], [])
    assert not ops.node_is_pure(if_node)
