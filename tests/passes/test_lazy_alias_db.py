"""Note [Lazy AliasDb] and Note [Shared AliasDb]: passes build the analysis only
when they need it, and what they produce is what a fresh analysis gives."""
import pytest
import torch

from torchkiln.ir import parse_graph, print_graph
from torchkiln.passes import alias, constant_prop, cse, dce, manager, simplify

from .ircheck import check, norm


@pytest.fixture
def builds(monkeypatch):
    """Counts AliasDb constructions."""
    count = [0]
    original = alias.AliasDb.__init__

    def counting(self, *args, **kwargs):
        count[0] += 1
        original(self, *args, **kwargs)

    monkeypatch.setattr(alias.AliasDb, "__init__", counting)
    return count


NOTHING_TO_MERGE = """
graph(%x : Tensor):
  %a : Tensor = aten::relu(%x)
  %b : Tensor = aten::neg(%a)
  return (%b)
"""


def test_cse_without_repeats_builds_no_analysis(builds):
    assert not cse.run(parse_graph(NOTHING_TO_MERGE))
    assert builds[0] == 0


def test_simplify_without_asking_rules_builds_no_analysis(builds):
    g = parse_graph("""
    graph(%a : Tensor, %b : Tensor):
      %t : (Tensor, Tensor) = prim::TupleConstruct(%a, %b)
      %y : Tensor = prim::TupleIndex[index=1](%t)
      return (%y)
    """)
    assert simplify.run(g)
    assert builds[0] == 0


def test_constant_prop_without_candidates_builds_no_analysis(builds):
    assert not constant_prop.run(parse_graph(NOTHING_TO_MERGE))
    assert builds[0] == 0


def test_cse_skips_a_repeat_whose_inputs_are_written():
    check(cse.run, """
    graph(%x : Tensor):
      %one : int = prim::Constant[value=1]()
      %l : Tensor[] = prim::ListConstruct(%x)
      %a : Tensor = aten::cat(%l, %one)
      %w : Tensor = aten::add_.Scalar(%x, %one, %one)
      %b : Tensor = aten::cat(%l, %one)
      %c : Tensor = aten::cat(%l, %one)
      %r : (Tensor, Tensor, Tensor) = prim::TupleConstruct(%a, %b, %c)
      return (%r)
    """, None)


def test_cse_keys_of_a_nested_block_do_not_leak_out():
    check(cse.run, """
    graph(%x : Tensor, %c : bool):
      %y : Tensor = prim::If(%c)
        block0():
          %a : Tensor = aten::relu(%x)
          -> (%a)
        block1():
          %b : Tensor = aten::relu(%x)
          -> (%b)
      %d : Tensor = aten::relu(%x)
      %e : Tensor = aten::relu(%x)
      %m : Tensor = aten::mul.Tensor(%d, %e)
      %r : Tensor = aten::mul.Tensor(%y, %m)
      return (%r)
    """, """
    graph(%x : Tensor, %c : bool):
      %y : Tensor = prim::If(%c)
        block0():
          %a : Tensor = aten::relu(%x)
          -> (%a)
        block1():
          %b : Tensor = aten::relu(%x)
          -> (%b)
      %d : Tensor = aten::relu(%x)
      %m : Tensor = aten::mul.Tensor(%d, %d)
      %r : Tensor = aten::mul.Tensor(%y, %m)
      return (%r)
    """, args=[torch.randn(3), True])


MERGES_THEN_DEAD = """
graph(%x : Tensor):
  %one : int = prim::Constant[value=1]()
  %a : Tensor = aten::relu(%x)
  %b : Tensor = aten::relu(%x)
  %v : Tensor = aten::view(%b, %one)
  %u : Tensor = aten::neg(%a)
  %s : Tensor = aten::add.Tensor(%a, %v, %one)
  return (%s)
"""


def test_dce_after_cse_reuses_the_analysis_and_matches_a_fresh_one(builds):
    g = parse_graph(MERGES_THEN_DEAD)
    with alias.sharing(g):
        assert cse.run(g)
        assert builds[0] == 1
        # what the pipeline does after CSE: keep the analysis (manager._KEEPS_ALIAS_DB)
        assert dce.run(g)
    assert builds[0] == 1
    fresh = parse_graph(MERGES_THEN_DEAD)
    cse.run(fresh)
    alias.invalidate(fresh)
    dce.run(fresh)
    assert norm(print_graph(g)) == norm(print_graph(fresh))


def test_the_pipeline_keeps_the_analysis_after_cse_only():
    assert any(p is cse.run for p in manager._KEEPS_ALIAS_DB)
    assert not any(p in manager._KEEPS_ALIAS_DB for p in (constant_prop.run, simplify.run, dce.run))
