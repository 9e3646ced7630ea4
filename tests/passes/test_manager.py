"""The pass manager: pipelines, fixpoint, verification naming the guilty pass."""
import pytest

from torchkiln.ir import Argument, CompilationUnit, Function, parse_graph, print_graph, TENSOR
from torchkiln.passes import constant_prop, dce, manager
from torchkiln.passes.manager import PassError, pass_name, run_on_function, run_pipeline

from .ircheck import norm

GOOD = """
graph(%x : Tensor):
  %2 : int = prim::Constant[value=2]()
  %3 : int = prim::Constant[value=3]()
  %f : int = prim::mul.int(%2, %3)
  %u : Tensor = aten::neg(%x)
  %y : Tensor = aten::mul.Scalar(%x, %f)
  return (%y)
"""


def breaks_uses(graph):
    """A buggy pass: drops a node whose result is still used."""
    node = graph.nodes[-1]
    node.block.nodes.remove(node)
    return True


def test_default_pipeline_reaches_a_fixpoint():
    g = parse_graph(GOOD)
    assert run_pipeline(g, manager.default_pipeline)
    assert print_graph(g) == norm("""
graph(%x : Tensor):
  %f : int = prim::Constant[value=6]()
  %y : Tensor = aten::mul.Scalar(%x, %f)
  return (%y)
""")
    assert not run_pipeline(g, manager.default_pipeline)


def test_pass_names():
    assert [pass_name(p) for p in manager.default_pipeline] == ["inline", "constant_prop", "simplify", "cse", "dce"]
    assert pass_name(manager.pipeline_for(None)[0]) == "inline"


def test_verify_names_the_failing_pass_and_those_before():
    g = parse_graph(GOOD)
    with pytest.raises(PassError) as info:
        run_pipeline(g, [constant_prop.run, dce.run, breaks_uses], verify=True)
    err = info.value
    assert err.pass_name == "breaks_uses"
    assert err.passes_before == ["constant_prop", "dce"]
    text = str(err)
    assert text.startswith("the IR is invalid after pass `breaks_uses` (ran before it: constant_prop, dce)")
    assert "<-- here" in text


def test_verify_rejects_broken_input_before_any_pass():
    g = parse_graph(GOOD)
    g.nodes[0].outputs[0].type = TENSOR  # an int constant typed Tensor
    with pytest.raises(PassError, match="before any pass ran"):
        run_pipeline(g, [dce.run], verify=True)


def test_verify_off_lets_the_pipeline_run():
    g = parse_graph(GOOD)
    run_pipeline(g, [breaks_uses], verify=False, max_iterations=1)


def test_a_crashing_pass_is_named_in_a_note():
    def crashes(graph):
        raise RuntimeError("bug")

    g = parse_graph(GOOD)
    with pytest.raises(RuntimeError) as info:
        run_pipeline(g, [dce.run, crashes])
    assert any("while running pass `crashes` (ran before it: dce)" in n for n in info.value.__notes__)


def test_run_on_function_inlines_free_functions():
    unit = CompilationUnit()
    helper = parse_graph("""
graph(%a : Tensor):
  %0 : int = prim::Constant[value=0]()
  %r : Tensor = aten::add.Scalar(%a, %0, %0)
  %s : Tensor = aten::neg(%r)
  return (%s)
""")
    unit.add_function(Function("__torch__.helper", helper, [Argument("a", TENSOR)], TENSOR))
    main = parse_graph("""
graph(%x : Tensor):
  %y : Tensor = prim::CallFunction[name="__torch__.helper"](%x)
  return (%y)
""")
    fn = unit.add_function(Function("__torch__.main", main, [Argument("x", TENSOR)], TENSOR))
    assert run_on_function(fn, unit, verify=True)
    assert print_graph(fn.graph) == norm("""
graph(%x : Tensor):
  %s : Tensor = aten::neg(%x)
  return (%s)
""")
