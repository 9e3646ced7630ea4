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


# -- fewer builds, same answers ---------------------------------------------------------


def test_simplify_builds_no_analysis_when_no_rule_gets_to_ask_it(builds):
    # `x + 1` and `x * 2` may ask (their kinds are asking rules), but only
    # a neutral number gets that far
    g = parse_graph("""
    graph(%x : Tensor):
      %one : int = prim::Constant[value=1]()
      %two : int = prim::Constant[value=2]()
      %a : Tensor = aten::add.Scalar(%x, %one, %one)
      %b : Tensor = aten::mul.Scalar(%a, %two)
      return (%b)
    """)
    assert not simplify.run(g)
    assert builds[0] == 0


def test_simplify_builds_the_analysis_before_a_change_when_a_later_node_may_ask(builds):
    check(simplify.run, """
    graph(%a : Tensor, %b : Tensor):
      %zero : int = prim::Constant[value=0]()
      %one : int = prim::Constant[value=1]()
      %t : (Tensor, Tensor) = prim::TupleConstruct(%a, %b)
      %y : Tensor = prim::TupleIndex[index=1](%t)
      %z : Tensor = aten::add.Scalar(%y, %zero, %one)
      %r : Tensor = aten::mul.Tensor(%z, %z)
      return (%r)
    """, """
    graph(%a : Tensor, %b : Tensor):
      %zero : int = prim::Constant[value=0]()
      %one : int = prim::Constant[value=1]()
      %t : (Tensor, Tensor) = prim::TupleConstruct(%a, %b)
      %y : Tensor = prim::TupleIndex[index=1](%t)
      %z : Tensor = aten::add.Scalar(%b, %zero, %one)
      %r : Tensor = aten::mul.Tensor(%b, %b)
      return (%r)
    """)
    assert builds[0] == 1


def test_cse_merges_values_of_immutable_types_without_the_analysis(builds):
    check(cse.run, """
    graph(%x : Tensor):
      %d1 : int = aten::dim(%x)
      %n : int = prim::Constant[value=2]()
      %m : int = prim::Constant[value=2]()
      %s : int = prim::add.int(%n, %d1)
      %t : int = prim::add.int(%m, %d1)
      %r : (int, int) = prim::TupleConstruct(%s, %t)
      return (%r)
    """, """
    graph(%x : Tensor):
      %d1 : int = aten::dim(%x)
      %n : int = prim::Constant[value=2]()
      %s : int = prim::add.int(%n, %d1)
      %r : (int, int) = prim::TupleConstruct(%s, %s)
      return (%r)
    """)
    assert builds[0] == 0


def test_constant_prop_folds_immutable_constants_without_the_analysis(builds):
    check(constant_prop.run, """
    graph(%x : Tensor):
      %a : int = prim::Constant[value=2]()
      %b : int = prim::Constant[value=3]()
      %c : int = prim::mul.int(%a, %b)
      %y : Tensor = aten::mul.Scalar(%x, %c)
      return (%y)
    """, """
    graph(%x : Tensor):
      %a : int = prim::Constant[value=2]()
      %b : int = prim::Constant[value=3]()
      %c : int = prim::Constant[value=6]()
      %y : Tensor = aten::mul.Scalar(%x, %c)
      return (%y)
    """)
    assert builds[0] == 1  # built before the change, as later nodes may ask


def test_dce_without_writes_builds_no_analysis(builds):
    check(dce.run, """
    graph(%x : Tensor):
      %one : int = prim::Constant[value=1]()
      %a : Tensor = aten::relu(%x)
      %u : Tensor = aten::neg(%a)
      %m : str = prim::Constant[value="bad"]()
      prim::RaiseException(%m)
      %r : Tensor = aten::add.Tensor(%a, %a, %one)
      return (%r)
    """, """
    graph(%x : Tensor):
      %one : int = prim::Constant[value=1]()
      %a : Tensor = aten::relu(%x)
      %m : str = prim::Constant[value="bad"]()
      prim::RaiseException(%m)
      %r : Tensor = aten::add.Tensor(%a, %a, %one)
      return (%r)
    """)
    assert builds[0] == 0


def test_dce_with_a_write_uses_the_analysis(builds):
    check(dce.run, """
    graph(%x : Tensor):
      %zero : int = prim::Constant[value=0]()
      %one : int = prim::Constant[value=1]()
      %v : Tensor = aten::transpose.int(%x, %zero, %one)
      %w : Tensor = aten::add_.Tensor(%v, %v, %one)
      %u : Tensor = aten::neg(%x)
      return (%x)
    """, """
    graph(%x : Tensor):
      %zero : int = prim::Constant[value=0]()
      %one : int = prim::Constant[value=1]()
      %v : Tensor = aten::transpose.int(%x, %zero, %one)
      %w : Tensor = aten::add_.Tensor(%v, %v, %one)
      return (%x)
    """)
    assert builds[0] == 1


EFFECT_GRAPHS = [
    NOTHING_TO_MERGE,
    MERGES_THEN_DEAD,
    """
    graph(%x : Tensor, %c : bool):
      %p : float = prim::Constant[value=0.5]()
      %y : Tensor = prim::If(%c)
        block0():
          %m : str = prim::Constant[value="no"]()
          prim::RaiseException(%m)
          -> (%x)
        block1():
          %d : Tensor = aten::dropout(%x, %p, %c)
          -> (%d)
      %u : Tensor = aten::neg(%y)
      return (%x)
    """,
]


@pytest.mark.parametrize("text", EFFECT_GRAPHS)
def test_effects_without_writes_names_what_the_analysis_calls_effectful(text):
    g = parse_graph(text)
    effects = alias.effects_without_writes(g)
    db = alias.AliasDb(g)
    assert effects is not None and not any(db.is_writer(n) for n in g.all_nodes())
    assert effects == {n for n in g.all_nodes() if db.is_effectful(n)}


def test_effects_without_writes_gives_up_on_a_graph_with_a_write():
    g = parse_graph("""
    graph(%x : Tensor):
      %one : int = prim::Constant[value=1]()
      %w : Tensor = aten::add_.Tensor(%x, %x, %one)
      return (%w)
    """)
    assert alias.effects_without_writes(g) is None
