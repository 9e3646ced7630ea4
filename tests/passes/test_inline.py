"""Inlining of calls: golden IR in/out, source ranges, recursion guard."""
import torch

from torchkiln.diagnostics import SourceRange
from torchkiln.ir import Argument, ClassType, CompilationUnit, Function, parse_graph, print_graph, TENSOR
from torchkiln.passes import inline
from torchkiln.passes.config import config

from .ircheck import check, norm

HELPER = """
graph(%a : Tensor):
  %1 : int = prim::Constant[value=1]()
  %r : Tensor = aten::add.Tensor(%a, %a, %1)  # helpers.py:3:11
  return (%r)
"""


def _unit():
    unit = CompilationUnit()
    g = parse_graph(HELPER, filename="helpers.py")
    unit.add_function(Function("__torch__.double", g, [Argument("a", TENSOR)], TENSOR))
    return unit


def _net_class():
    cls = ClassType("__torch__.Net")
    cls.add_attribute("weight", TENSOR, "parameter")
    body = parse_graph("""
graph(%self : __torch__.Net, %x : Tensor):
  %w : Tensor = prim::GetAttr[name="weight"](%self)
  %r : Tensor = aten::mul.Tensor(%x, %w)
  return (%r)
""", classes={"__torch__.Net": cls})
    cls.methods["scale"] = Function("scale", body, [Argument("self", cls), Argument("x", TENSOR)], TENSOR)
    return cls


def test_call_function_is_inlined_keeping_source_ranges():
    unit = _unit()
    g = parse_graph("""
graph(%x : Tensor):
  %y : Tensor = prim::CallFunction[name="__torch__.double"](%x)  # main.py:9:8
  %z : Tensor = aten::relu(%y)
  return (%z)
""")
    assert inline.Inliner(unit)(g)
    assert print_graph(g) == norm("""
graph(%x : Tensor):
  %1 : int = prim::Constant[value=1]()  # main.py:9:8
  %r : Tensor = aten::add.Tensor(%x, %x, %1)  # helpers.py:3:11
  %z : Tensor = aten::relu(%r)
  return (%z)
""")
    const = g.nodes[0]
    assert const.loc == SourceRange("main.py", 9, 8)  # no range of its own: the call's


def test_without_a_unit_free_functions_stay():
    check(inline.run, """
    graph(%x : Tensor):
      %y : Tensor = prim::CallFunction[name="__torch__.double"](%x)
      return (%y)
    """, None)


def test_call_method_on_a_class_type_is_inlined():
    cls = _net_class()
    g = parse_graph("""
graph(%self : __torch__.Net, %x : Tensor):
  %y : Tensor = prim::CallMethod[name="scale"](%self, %x)
  return (%y)
""", classes={"__torch__.Net": cls})
    assert inline.run(g)
    assert print_graph(g) == print_graph(parse_graph("""
graph(%self : __torch__.Net, %x : Tensor):
  %w : Tensor = prim::GetAttr[name="weight"](%self)
  %r : Tensor = aten::mul.Tensor(%x, %w)
  return (%r)
""", classes={"__torch__.Net": cls}))


def test_big_callees_are_left_to_inline_all():
    unit = _unit()
    text = """
graph(%x : Tensor):
  %y : Tensor = prim::CallFunction[name="__torch__.double"](%x)
  return (%y)
"""
    saved = config.inline_max_nodes
    config.inline_max_nodes = 0
    try:
        g = parse_graph(text)
        assert not inline.Inliner(unit)(g)
        assert inline.inline_all(g, unit)
        assert "CallFunction" not in print_graph(g)
    finally:
        config.inline_max_nodes = saved


def test_inlined_graph_is_a_copy():
    unit = _unit()
    g = parse_graph("""
graph(%x : Tensor):
  %y : Tensor = prim::CallFunction[name="__torch__.double"](%x)
  return (%y)
""")
    before = print_graph(g)
    view = inline.inlined_graph(g, unit)
    assert print_graph(g) == before
    assert "aten::add.Tensor" in print_graph(view)


def test_nested_calls_are_inlined_and_recursion_stops():
    unit = _unit()
    outer = parse_graph("""
graph(%a : Tensor):
  %b : Tensor = prim::CallFunction[name="__torch__.double"](%a)
  %c : Tensor = prim::CallFunction[name="__torch__.outer"](%b)
  return (%c)
""")
    unit.add_function(Function("__torch__.outer", outer, [Argument("a", TENSOR)], TENSOR))
    g = parse_graph("""
graph(%x : Tensor):
  %y : Tensor = prim::CallFunction[name="__torch__.outer"](%x)
  return (%y)
""")
    assert inline.inline_all(g, unit)
    text = print_graph(g)
    assert text.count("aten::add.Tensor") == 1  # outer's call to double, inlined too
    assert text.count('prim::CallFunction[name="__torch__.outer"]') == 1  # the recursive call stays


def test_callee_graph_is_not_changed():
    unit = _unit()
    before = print_graph(unit.functions["__torch__.double"].graph)
    g = parse_graph("""
graph(%x : Tensor):
  %y : Tensor = prim::CallFunction[name="__torch__.double"](%x)
  return (%y)
""")
    inline.Inliner(unit)(g)
    assert print_graph(unit.functions["__torch__.double"].graph) == before


def test_inlined_result_runs_the_same():
    from torchkiln.interpreter import run_graph

    unit = _unit()
    g = parse_graph("""
graph(%x : Tensor):
  %y : Tensor = prim::CallFunction[name="__torch__.double"](%x)
  %z : Tensor = aten::relu(%y)
  return (%z)
""")
    x = torch.randn(4)
    expected = run_graph(g, [x], unit)
    inline.Inliner(unit)(g)
    assert torch.equal(run_graph(g, [x], unit), expected)
