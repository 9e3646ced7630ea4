"""Common-subexpression elimination: golden IR in/out, blocks and mutation."""
import torch

from torchkiln.passes import cse

from .ircheck import check


def test_repeated_pure_op_is_merged():
    check(cse.run, """
    graph(%x : Tensor):
      %a : Tensor = aten::relu(%x)
      %b : Tensor = aten::relu(%x)
      %c : Tensor = aten::mul.Tensor(%a, %b)
      return (%c)
    """, """
    graph(%x : Tensor):
      %a : Tensor = aten::relu(%x)
      %c : Tensor = aten::mul.Tensor(%a, %a)
      return (%c)
    """, args=[torch.randn(4)])


def test_equal_constants_are_merged_but_not_across_types():
    check(cse.run, """
    graph():
      %a : int = prim::Constant[value=1]()
      %b : int = prim::Constant[value=1]()
      %c : float = prim::Constant[value=1.0]()
      %d : bool = prim::Constant[value=True]()
      %e : float = prim::Constant[value=0.0]()
      %f : float = prim::Constant[value=-0.0]()
      %r : (int, int, float, bool, float, float) = prim::TupleConstruct(%a, %b, %c, %d, %e, %f)
      return (%r)
    """, """
    graph():
      %a : int = prim::Constant[value=1]()
      %c : float = prim::Constant[value=1.0]()
      %d : bool = prim::Constant[value=True]()
      %e : float = prim::Constant[value=0.0]()
      %f : float = prim::Constant[value=-0.0]()
      %r : (int, int, float, bool, float, float) = prim::TupleConstruct(%a, %a, %c, %d, %e, %f)
      return (%r)
    """)


def test_different_attributes_are_not_merged():
    check(cse.run, """
    graph(%t : (Tensor, Tensor)):
      %a : Tensor = prim::TupleIndex[index=0](%t)
      %b : Tensor = prim::TupleIndex[index=1](%t)
      %c : Tensor = aten::mul.Tensor(%a, %b)
      return (%c)
    """, None)


def test_outer_value_replaces_one_in_a_nested_block():
    check(cse.run, """
    graph(%x : Tensor, %c : bool):
      %a : Tensor = aten::relu(%x)
      %y : Tensor = prim::If(%c)
        block0():
          %b : Tensor = aten::relu(%x)
          -> (%b)
        block1():
          -> (%a)
      %r : Tensor = aten::neg(%y)
      return (%r)
    """, """
    graph(%x : Tensor, %c : bool):
      %a : Tensor = aten::relu(%x)
      %y : Tensor = prim::If(%c)
        block0():
          -> (%a)
        block1():
          -> (%a)
      %r : Tensor = aten::neg(%y)
      return (%r)
    """, args=[torch.randn(3), True])


def test_nested_or_sibling_values_do_not_leak():
    check(cse.run, """
    graph(%x : Tensor, %c : bool):
      %y : Tensor = prim::If(%c)
        block0():
          %a : Tensor = aten::relu(%x)
          -> (%a)
        block1():
          %b : Tensor = aten::relu(%x)
          -> (%b)
      %z : Tensor = aten::relu(%x)
      %r : Tensor = aten::mul.Tensor(%y, %z)
      return (%r)
    """, None)


def test_no_merge_across_a_write_to_an_input():
    check(cse.run, """
    graph(%x : Tensor):
      %1 : int = prim::Constant[value=1]()
      %a : Tensor = aten::neg(%x)
      %w : Tensor = aten::add_.Scalar(%x, %1, %1)
      %b : Tensor = aten::neg(%x)
      %c : Tensor = aten::mul.Tensor(%a, %b)
      return (%c)
    """, None, args=[torch.randn(3)])


def test_no_merge_when_a_result_is_written():
    check(cse.run, """
    graph(%x : Tensor):
      %1 : int = prim::Constant[value=1]()
      %a : Tensor = aten::neg(%x)
      %b : Tensor = aten::neg(%x)
      %w : Tensor = aten::add_.Scalar(%a, %1, %1)
      %c : Tensor = aten::mul.Tensor(%a, %b)
      return (%c)
    """, None, args=[torch.randn(3)])


def test_no_merge_of_reads_of_a_list_written_between():
    check(cse.run, """
    graph(%x : Tensor):
      %l : Tensor[] = prim::ListConstruct(%x)
      %a : int = prim::len.list(%l)
      prim::append.list(%l, %x)
      %b : int = prim::len.list(%l)
      %r : (int, int) = prim::TupleConstruct(%a, %b)
      return (%r)
    """, None, args=[torch.randn(3)])


def test_append_to_a_list_does_not_block_cse_of_its_elements():
    check(cse.run, """
    graph(%x : Tensor):
      %l : Tensor[] = prim::ListConstruct(%x)
      prim::append.list(%l, %x)
      %a : Tensor = aten::neg(%x)
      %b : Tensor = aten::neg(%x)
      %c : Tensor = aten::cat(%l, %1)
      %m : Tensor = aten::mul.Tensor(%a, %b)
      %r : (Tensor, Tensor) = prim::TupleConstruct(%m, %c)
      return (%r)
    """.replace("%c : Tensor = aten::cat(%l, %1)", "%1 : int = prim::Constant[value=0]()\n      %c : Tensor = aten::cat(%l, %1)"), """
    graph(%x : Tensor):
      %l : Tensor[] = prim::ListConstruct(%x)
      prim::append.list(%l, %x)
      %a : Tensor = aten::neg(%x)
      %1 : int = prim::Constant[value=0]()
      %c : Tensor = aten::cat(%l, %1)
      %m : Tensor = aten::mul.Tensor(%a, %a)
      %r : (Tensor, Tensor) = prim::TupleConstruct(%m, %c)
      return (%r)
    """, args=[torch.randn(3)])


def test_random_and_impure_ops_are_not_merged():
    check(cse.run, """
    graph(%x : Tensor):
      %none : NoneType = prim::Constant[value=None]()
      %a : Tensor = aten::rand_like(%x, %none, %none, %none, %none, %none)
      %b : Tensor = aten::rand_like(%x, %none, %none, %none, %none, %none)
      %c : Tensor = aten::sub.Tensor(%a, %b, %1)
      return (%c)
    """.replace("%c : Tensor = aten::sub.Tensor(%a, %b, %1)", "%1 : int = prim::Constant[value=1]()\n      %c : Tensor = aten::sub.Tensor(%a, %b, %1)"), None)


def test_results_both_returned_are_not_merged():
    # the caller would get one tensor twice and could see a write to one in the other
    check(cse.run, """
    graph(%x : Tensor):
      %a : Tensor = aten::neg(%x)
      %b : Tensor = aten::neg(%x)
      %r : (Tensor, Tensor) = prim::TupleConstruct(%a, %b)
      return (%r)
    """, None)
