"""Overload resolution picks what TorchScript picks, and says why nothing fits."""
import pytest

from torchkiln import ops
from torchkiln.diagnostics import CompileError
from torchkiln.ir.builder import Builder
from torchkiln.ir.core import Graph
from torchkiln.ir.types import (
    BOOL, FLOAT, INT, NONE, SCALAR_TYPE, STR, TENSOR,
    DictType, ListType, OptionalType, TupleType,
)  # fmt: skip
from torchkiln.ops.resolve import resolve


def kinds(m):
    return [s.kind for s in m.inputs]


def test_add_tensor_tensor():
    m = resolve("aten::add", [TENSOR, TENSOR])
    assert m.op.name == "aten::add.Tensor"
    assert kinds(m) == ["arg", "arg", "default"] and m.inputs[2].default == 1
    assert m.return_types == [TENSOR] and not m.conversions


def test_add_tensor_scalar_and_alpha_keyword():
    assert resolve("aten::add", [TENSOR, INT]).op.name == "aten::add.Scalar"
    assert resolve("aten::add", [TENSOR, FLOAT]).op.name == "aten::add.Scalar"
    m = resolve("aten::add", [TENSOR, TENSOR], {"alpha": FLOAT})
    assert m.op.name == "aten::add.Tensor" and m.inputs[2].kind == "kwarg" and m.inputs[2].name == "alpha"


def test_exact_round_before_conversions():
    # add.Scalar fits (Tensor, Tensor) only by converting; add.Tensor fits exactly and wins.
    assert resolve("aten::add", [TENSOR, TENSOR]).op.name == "aten::add.Tensor"
    # mul(Tensor, bool): bool is a Scalar without conversion.
    assert resolve("aten::mul", [TENSOR, BOOL]).op.name == "aten::mul.Scalar"


def test_int_promotes_to_float():
    m = resolve("aten::leaky_relu", [TENSOR, INT])
    assert m.op.name == "aten::leaky_relu"  # Scalar negative_slope takes the int as it is
    m = resolve("aten::dropout", [TENSOR, INT, BOOL])
    assert m.inputs[1].convert == "prim::Float.Scalar" and m.conversions


def test_tensor_to_number_conversions():
    m = resolve("aten::dropout", [TENSOR, TENSOR, BOOL])
    assert m.inputs[1].convert == "prim::Float.Tensor"
    m = resolve("aten::select", [TENSOR, INT, TENSOR])
    assert m.op.name == "aten::select.int" and m.inputs[2].convert == "prim::Int.Tensor"


def test_sum_with_dim_list_and_tuple():
    m = resolve("aten::sum", [TENSOR, ListType(INT)])
    assert m.op.name == "aten::sum.dim_IntList" and kinds(m) == ["arg", "arg", "default", "default"]
    m = resolve("aten::sum", [TENSOR, TupleType([INT, INT])], {"keepdim": BOOL})
    assert m.op.name == "aten::sum.dim_IntList" and m.inputs[1].pack == "tuple"
    m = resolve("aten::sum", [TENSOR, INT])  # a single int for int[1]
    assert m.op.name == "aten::sum.dim_IntList" and m.inputs[1].pack == "repeat"
    assert resolve("aten::sum", [TENSOR]).op.name == "aten::sum"


def test_view_with_varargs_list():
    m = resolve("aten::view", [INT, INT, INT], self_type=TENSOR)
    assert m.op.name == "aten::view"
    assert kinds(m) == ["self", "varargs"] and [e.index for e in m.inputs[1].elements] == [0, 1, 2]
    m = resolve("aten::view", [ListType(INT)], self_type=TENSOR)
    assert kinds(m) == ["self", "arg"]
    m = resolve("aten::zeros", [INT, INT])
    assert m.op.name == "aten::zeros" and m.inputs[0].kind == "varargs"
    m = resolve("aten::view", [TENSOR, SCALAR_TYPE])
    assert m.op.name == "aten::view.dtype"


def test_fixed_size_list_from_single_int():
    m = resolve("aten::conv2d", [TENSOR, TENSOR, NONE, INT])
    assert m.inputs[3].pack == "repeat" and m.inputs[3].repeat == 2
    assert m.inputs[4].default == [0, 0]


def test_optional_arguments():
    m = resolve("aten::linear", [TENSOR, TENSOR, NONE])
    assert m.inputs[2].kind == "arg"
    m = resolve("aten::linear", [TENSOR, TENSOR, TENSOR])
    assert m.inputs[2].type == OptionalType(TENSOR)
    m = resolve("aten::mean", [TENSOR, NONE])
    assert m.op.name == "aten::mean.dim"
    m = resolve("aten::linear", [TENSOR, TENSOR])
    assert m.inputs[2].kind == "default" and m.inputs[2].type == NONE


def test_kwarg_only_arguments():
    m = resolve("aten::sum", [TENSOR], {"dtype": SCALAR_TYPE})
    assert m.op.name == "aten::sum" and m.inputs[1].kind == "kwarg"
    with pytest.raises(CompileError):
        resolve("aten::add", [TENSOR, TENSOR, INT, INT])
    m = resolve("aten::add", [TENSOR, INT, INT])  # add.Scalar's alpha is positional
    assert m.op.name == "aten::add.Scalar"
    m = resolve("aten::relu", [], {"input": TENSOR})  # `input=` names `self`
    assert m.inputs[0].kind == "kwarg" and m.inputs[0].name == "input"


def test_self_binds_by_name():
    m = resolve("aten::where", [TENSOR, TENSOR], self_type=TENSOR)
    assert m.op.name == "aten::where.self"
    assert [s.kind for s in m.inputs] == ["arg", "self", "arg"]


def test_named_returns():
    m = resolve("aten::max", [TENSOR, INT])
    assert m.op.name == "aten::max.dim" and m.return_names == ("values", "indices")
    assert m.return_types == [TENSOR, TENSOR]


def test_str_to_device():
    m = resolve("aten::to", [STR, SCALAR_TYPE], self_type=TENSOR)
    assert m.op.name == "aten::to.device" and m.inputs[1].convert == "prim::device.str"


def test_failure_names_every_overload_and_why():
    with pytest.raises(CompileError) as err:
        resolve("aten::add", [TENSOR, STR])
    text = str(err.value)
    assert "no overload of aten::add accepts the arguments (Tensor, str)" in text
    for name in ("aten::add.Tensor(", "aten::add.Scalar(", "aten::add.out("):
        assert name in text
    assert "argument 'other' expects Tensor, found str" in text
    assert "argument 'out' is not given" not in text  # `other` failed first
    with pytest.raises(CompileError, match="no argument is named 'bogus'"):
        resolve("aten::relu", [TENSOR], {"bogus": INT})
    with pytest.raises(CompileError, match="unknown operator aten::nope"):
        resolve("aten::nope", [])
    with pytest.raises(CompileError, match="argument 'size' is not given"):
        resolve("aten::view", [], self_type=TENSOR)
    assert err.value.loc is None


def test_type_variables_bind():
    ops.declare_prim("prim::test_first.t(t[] l) -> t")(lambda l: l[0])
    ops.declare_prim("prim::test_get.t(Dict(str, t) d, str k, t default) -> t")(lambda d, k, x: d.get(k, x))
    m = resolve("prim::test_first", [ListType(TENSOR)])
    assert m.return_types == [TENSOR] and m.type_env == {"t": TENSOR}
    m = resolve("prim::test_get", [DictType(STR, INT), STR, INT])
    assert m.return_types == [INT]
    with pytest.raises(CompileError, match="type variable t is int and str"):
        resolve("prim::test_get", [DictType(STR, INT), STR, STR])
    m = resolve("prim::test_first", [TupleType([INT, INT])])  # homogeneous tuple as t[]
    assert m.return_types == [INT] and m.inputs[0].pack == "tuple"


def test_empty_list_literal_takes_the_argument_type():
    m = resolve("aten::sum", [TENSOR, ListType(TENSOR)], const_values={1: []})
    assert m.op.name == "aten::sum.dim_IntList"
    assert m.inputs[1].kind == "empty" and m.inputs[1].type == ListType(INT)


def test_several_base_names_and_varargs_prims():
    m = resolve(["prim::Print"], [INT, STR, TENSOR])
    assert [s.index for s in m.inputs] == [0, 1, 2]
    m = resolve(["prim::Float", "aten::add"], [TENSOR])
    assert m.op.name == "prim::Float.Tensor"


def test_unsupported_overloads_are_skipped():
    # aten::set_ has a Storage overload; nothing of type Storage exists here.
    names = [o.name for o in ops.overloads("aten::set_")]
    assert "aten::set_.source_Storage" in names
    m = resolve("aten::set_", [TENSOR, TENSOR])
    assert m.op.name == "aten::set_.source_Tensor"


def test_emit_inputs_materialises_defaults_and_lists():
    g = Graph()
    b = Builder(g.block)
    x = g.add_input(TENSOR, "x")
    i2 = b.constant(2, INT)
    i3 = b.constant(3, INT)
    m = resolve("aten::view", [INT, INT], self_type=TENSOR)
    vals = ops.emit_inputs(m, b, [i2, i3], self_value=x)
    node = b.op(m.op.name, vals, m.return_types)
    assert vals[0] is x and vals[1].node.kind == "prim::ListConstruct"
    assert vals[1].type == ListType(INT) and ops.op_checker(node) is None
    m = resolve("aten::conv2d", [TENSOR, TENSOR, NONE, INT])
    none = b.constant(None, NONE)
    vals = ops.emit_inputs(m, b, [x, x, none, i2])
    node = b.op(m.op.name, vals, m.return_types)
    assert ops.op_checker(node) is None
    assert vals[4].node.attrs["value"] == [0, 0] and vals[3].node.kind == "prim::ListConstruct"
    assert [v.node.kind for v in vals[3:4]] == ["prim::ListConstruct"]
    m = resolve("aten::dropout", [TENSOR, INT, BOOL])
    t = b.constant(True, BOOL)
    vals = ops.emit_inputs(m, b, [x, i2, t])
    assert vals[1].node.kind == "prim::Float.Scalar" and vals[1].type == FLOAT
    assert ops.op_checker(b.op(m.op.name, vals, m.return_types)) is None


def test_list_of_tensors_for_optional_tensor_list():
    m = resolve("aten::index", [TENSOR, ListType(TENSOR)])
    assert m.op.name == "aten::index.Tensor" and m.inputs[1].convert == "prim::unchecked_cast"
    g = Graph()
    b = Builder(g.block)
    x = g.add_input(TENSOR)
    idx = b.op("prim::ListConstruct", [x], [ListType(TENSOR)]).output
    vals = ops.emit_inputs(m, b, [x, idx])
    assert vals[1].type == ListType(OptionalType(TENSOR))
    assert ops.op_checker(b.op(m.op.name, vals, m.return_types)) is None
