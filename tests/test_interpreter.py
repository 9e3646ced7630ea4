"""The reference interpreter against eager PyTorch and plain Python.

Graphs are built with `ir.builder` here (the codegen tests use IR text), so
both ways of making graphs are exercised.
"""
import types

import pytest
import torch

from torchkiln import interpreter
from torchkiln.diagnostics import ArgumentError, Error
from torchkiln.ir.builder import Builder
from torchkiln.ir.core import Argument, CompilationUnit, Function, Graph
from torchkiln.ir.types import BOOL, FLOAT, INT, NONE, STR, TENSOR, ClassType, DictType, ListType, TupleType

INT64_MAX = 2**63 - 1


def _graph(*input_types):
    g = Graph()
    return g, Builder(g.block), [g.add_input(t) for t in input_types]


def test_aten_ops_with_keyword_only_arguments():
    g, b, (x, y) = _graph(TENSOR, TENSOR)
    alpha = b.constant(3, INT)
    s = b.op("aten::add.Tensor", [x, y, alpha], [TENSOR]).output
    r = b.op("aten::relu", [s], [TENSOR]).output
    g.add_output(r)
    x, y = torch.randn(4), torch.randn(4)
    assert torch.equal(interpreter.run_graph(g, [x, y]), torch.relu(torch.add(x, y, alpha=3)))


def _counting_loop(max_trip_value, start_cond_value, stop_at):
    """for/while loop: acc += i; continue while i != stop_at."""
    g, b, (n,) = _graph(INT)
    max_trip = n if max_trip_value is None else b.constant(max_trip_value, INT)
    start = b.constant(start_cond_value, BOOL)
    zero = b.constant(0, INT)
    stop = b.constant(stop_at, INT)
    loop = b.op("prim::Loop", [max_trip, start, zero], [INT], n_blocks=1)
    body = loop.blocks[0]
    i = body.add_param(INT, "i")
    acc = body.add_param(INT, "acc")
    with b.at_block(body):
        acc2 = b.op("prim::add.int", [acc, i], [INT]).output
        cond = b.op("prim::ne", [i, stop], [BOOL]).output
    body.add_return(cond)
    body.add_return(acc2)
    g.add_output(loop.output)
    return g


def _reference(max_trip, cond, stop_at):
    # TorchScript: iterate while i < max_trip and cond; the body computes the next cond.
    i, acc = 0, 0
    while i < max_trip and cond:
        acc, cond = acc + i, i != stop_at
        i += 1
    return acc


@pytest.mark.parametrize("n,start,stop", [(5, True, -1), (0, True, -1), (-3, True, -1), (5, False, -1),
                                          (10, True, 3), (10, True, 0)])
def test_loop_semantics(n, start, stop):
    g = _counting_loop(None, start, stop)
    assert interpreter.run_graph(g, [n]) == _reference(n, start, stop)


def test_while_loop_runs_until_the_condition_fails():
    g = _counting_loop(INT64_MAX, True, 6)
    assert interpreter.run_graph(g, [0]) == sum(range(7))


def test_if_selects_a_block():
    g, b, (c, x) = _graph(BOOL, TENSOR)
    node = b.op("prim::If", [c], [TENSOR], n_blocks=2)
    with b.at_block(node.blocks[0]):
        node.blocks[0].add_return(b.op("aten::neg", [x], [TENSOR]).output)
    node.blocks[1].add_return(x)
    g.add_output(node.output)
    x = torch.randn(3)
    assert torch.equal(interpreter.run_graph(g, [True, x]), -x)
    assert interpreter.run_graph(g, [False, x]) is x


def test_containers_and_named_tuple():
    point = TupleType([INT, TENSOR], name="__torch__.Point", fields=["k", "t"])
    g, b, (k, x) = _graph(INT, TENSOR)
    p = b.op("prim::TupleConstruct", [k, x], [point]).output
    lst = b.op("prim::ListConstruct", [k, k], [ListType(INT)]).output
    key = b.constant("key", STR)
    d = b.op("prim::DictConstruct", [key, lst], [DictType(STR, ListType(INT))]).output
    first = b.op("prim::TupleIndex", [p], [INT], attrs={"index": 0}).output
    a, c = b.op("prim::ListUnpack", [lst], [INT, INT]).outputs
    kk, tt = b.op("prim::TupleUnpack", [p], [INT, TENSOR]).outputs
    out = b.op("prim::TupleConstruct", [p, d, first, a, tt], [TupleType([point, d.type, INT, INT, TENSOR])]).output
    g.add_output(out)
    x = torch.randn(2)
    p_val, d_val, first_val, a_val, t_val = interpreter.run_graph(g, [4, x])
    assert type(p_val).__name__ == "Point" and p_val.k == 4 and p_val.t is x
    assert d_val == {"key": [4, 4]} and first_val == 4 and a_val == 4 and t_val is x


def test_constants_are_fresh_lists_each_run():
    g, b, (v,) = _graph(INT)
    lst = b.constant([1, 2], ListType(INT))
    b.op("prim::append.list", [lst, v], [])
    g.add_output(lst)
    assert interpreter.run_graph(g, [3]) == [1, 2, 3]
    assert interpreter.run_graph(g, [4]) == [1, 2, 4]


def test_get_set_attr_and_call_method_on_plain_objects():
    unit = CompilationUnit()
    cls = unit.add_class(ClassType("__torch__.Counter", is_module=False))
    cls.add_attribute("n", INT)
    mg, mb, (self_, by) = _graph(cls, INT)
    n = mb.op("prim::GetAttr", [self_], [INT], attrs={"name": "n"}).output
    n2 = mb.op("prim::add.int", [n, by], [INT]).output
    mb.op("prim::SetAttr", [self_, n2], [], attrs={"name": "n"})
    mg.add_output(n2)
    cls.methods["bump"] = Function("bump", mg, [Argument("self", cls), Argument("by", INT)], INT)

    g, b, (obj,) = _graph(cls)
    two = b.constant(2, INT)
    b.op("prim::CallMethod", [obj, two], [INT], attrs={"name": "bump"})
    r = b.op("prim::CallMethod", [obj, two], [INT], attrs={"name": "bump"}).output
    g.add_output(r)
    counter = types.SimpleNamespace(n=1, _kiln_type=cls)
    assert interpreter.run_graph(g, [counter], unit) == 5 and counter.n == 5


def test_call_function_and_fork():
    unit = CompilationUnit()
    hg, hb, (hx,) = _graph(TENSOR)
    hg.add_output(hb.op("aten::sin", [hx], [TENSOR]).output)
    unit.add_function(Function("__torch__.h", hg, [Argument("x", TENSOR)], TENSOR))
    g, b, (x,) = _graph(TENSOR)
    y = b.op("prim::CallFunction", [x], [TENSOR], attrs={"name": "__torch__.h"}).output
    from torchkiln.ir.types import FutureType

    fut = b.op("prim::fork", [y], [FutureType(TENSOR)], attrs={"name": "__torch__.h"}).output
    g.add_output(b.op("prim::wait", [fut], [TENSOR]).output)
    x = torch.randn(3)
    assert torch.equal(interpreter.run_graph(g, [x], unit), x.sin().sin())


def test_raise_exception():
    g, b, (c,) = _graph(BOOL)
    node = b.op("prim::If", [c], [], n_blocks=2)
    with b.at_block(node.blocks[0]):
        msg = b.constant("boom", STR)
        raise_node = b.op("prim::RaiseException", [msg], [], attrs={"cls": "KeyError"})
    none = b.constant(None, NONE)
    g.add_output(none)
    assert interpreter.run_graph(g, [False]) is None
    with pytest.raises(KeyError, match="boom"):
        interpreter.run_graph(g, [True])
    raise_node.attrs["cls"] = "__torch__.Custom"
    with pytest.raises(Error, match="Custom: boom"):
        interpreter.run_graph(g, [True])


def test_wrong_argument_count():
    g, b, (x,) = _graph(TENSOR)
    g.add_output(x)
    with pytest.raises(ArgumentError):
        interpreter.run_graph(g, [])


def test_float_and_string_prims():
    g, b, (a, s) = _graph(FLOAT, STR)
    half = b.constant(0.5, FLOAT)
    m = b.op("prim::mul.float", [a, half], [FLOAT]).output
    up = b.op("prim::str_upper", [s], [STR]).output
    g.add_output(b.op("prim::TupleConstruct", [m, up], [TupleType([FLOAT, STR])]).output)
    assert interpreter.run_graph(g, [3.0, "ab"]) == (1.5, "AB")
