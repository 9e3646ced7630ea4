"""Constant propagation: golden IR in/out."""
import torch

from torchkiln.ir import parse_graph, print_graph
from torchkiln.passes import constant_prop
from torchkiln.passes.config import config

from .ircheck import check


def test_int_arithmetic_folds():
    check(constant_prop.run, """
    graph(%x : Tensor):
      %2 : int = prim::Constant[value=2]()
      %3 : int = prim::Constant[value=3]()
      %f : int = prim::mul.int(%2, %3)
      %y : Tensor = aten::mul.Scalar(%x, %f)
      return (%y)
    """, """
    graph(%x : Tensor):
      %2 : int = prim::Constant[value=2]()
      %3 : int = prim::Constant[value=3]()
      %f : int = prim::Constant[value=6]()
      %y : Tensor = aten::mul.Scalar(%x, %f)
      return (%y)
    """, args=[torch.ones(2)])


def test_chains_fold_in_one_run():
    check(constant_prop.run, """
    graph():
      %2 : int = prim::Constant[value=2]()
      %a : int = prim::add.int(%2, %2)
      %b : int = prim::mul.int(%a, %a)
      %c : bool = prim::gt(%b, %2)
      return (%c)
    """, """
    graph():
      %2 : int = prim::Constant[value=2]()
      %a : int = prim::Constant[value=4]()
      %b : int = prim::Constant[value=16]()
      %c : bool = prim::Constant[value=True]()
      return (%c)
    """)


def test_non_constant_input_blocks_folding():
    check(constant_prop.run, """
    graph(%n : int):
      %2 : int = prim::Constant[value=2]()
      %a : int = prim::add.int(%n, %2)
      return (%a)
    """, None)


def test_small_tensor_ops_fold():
    check(constant_prop.run, """
    graph():
      %t : Tensor = prim::Constant[value=tensor([1.0, 2.0], dtype=torch.float32, shape=[2])]()
      %2 : int = prim::Constant[value=2]()
      %y : Tensor = aten::mul.Scalar(%t, %2)
      %r : Tensor = aten::relu(%y)
      %z : Tensor = aten::neg(%r)
      %s : int = aten::size.int(%z, %2)
      return (%s)
    """.replace("%s : int = aten::size.int(%z, %2)", "%0 : int = prim::Constant[value=0]()\n      %s : int = aten::size.int(%z, %0)"), """
    graph():
      %t : Tensor = prim::Constant[value=tensor([1.0, 2.0], dtype=torch.float32, shape=[2])]()
      %2 : int = prim::Constant[value=2]()
      %y : Tensor = prim::Constant[value=tensor([2.0, 4.0], dtype=torch.float32, shape=[2])]()
      %r : Tensor = prim::Constant[value=tensor([2.0, 4.0], dtype=torch.float32, shape=[2])]()
      %z : Tensor = prim::Constant[value=tensor([-2.0, -4.0], dtype=torch.float32, shape=[2])]()
      %0 : int = prim::Constant[value=0]()
      %s : int = prim::Constant[value=2]()
      return (%s)
    """)


def test_tensor_result_the_caller_gets_is_not_folded():
    # executors share tensor constants between runs; the caller could write one
    check(constant_prop.run, """
    graph():
      %t : Tensor = prim::Constant[value=tensor([1.0, 2.0], dtype=torch.float32, shape=[2])]()
      %y : Tensor = aten::neg(%t)
      return (%y)
    """, None)


def test_tensor_result_written_later_is_not_folded():
    check(constant_prop.run, """
    graph(%x : Tensor):
      %t : Tensor = prim::Constant[value=tensor([1.0, 2.0], dtype=torch.float32, shape=[2])]()
      %1 : int = prim::Constant[value=1]()
      %y : Tensor = aten::neg(%t)
      %w : Tensor = aten::add_.Tensor(%y, %x, %1)
      %s : Tensor = aten::sum(%y, %none)
      return (%s)
    """.replace("%s : Tensor = aten::sum(%y, %none)", "%none : ScalarType? = prim::Constant[value=None]()\n      %s : Tensor = aten::sum(%y, %none)"), None)


def test_big_results_are_not_folded():
    text = """
    graph():
      %n : int = prim::Constant[value=2000]()
      %s : int[] = prim::ListConstruct(%n)
      %none : NoneType = prim::Constant[value=None]()
      %z : Tensor = aten::zeros(%s, %none, %none, %none, %none)
      %r : Tensor = aten::relu(%z)
      %m : Tensor = aten::sum(%r, %none)
      %f : Scalar = aten::item(%m)
      return (%f)
    """
    g = check(constant_prop.run, text, """
    graph():
      %n : int = prim::Constant[value=2000]()
      %s : int[] = prim::Constant[value=[2000]]()
      %none : NoneType = prim::Constant[value=None]()
      %z : Tensor = aten::zeros(%s, %none, %none, %none, %none)
      %r : Tensor = aten::relu(%z)
      %m : Tensor = aten::sum(%r, %none)
      %f : Scalar = aten::item(%m)
      return (%f)
    """)
    assert "aten::zeros" in print_graph(g)


def test_size_budget_is_configurable():
    saved = config.fold_max_numel
    config.fold_max_numel = 4000
    try:
        g = parse_graph("""
graph():
  %n : int = prim::Constant[value=2000]()
  %s : int[] = prim::ListConstruct(%n)
  %none : NoneType = prim::Constant[value=None]()
  %z : Tensor = aten::zeros(%s, %none, %none, %none, %none)
  %m : Tensor = aten::sum(%z, %none)
  return (%m)
""")
        constant_prop.run(g)
        assert "aten::zeros" not in print_graph(g)
    finally:
        config.fold_max_numel = saved


def test_random_ops_never_fold():
    check(constant_prop.run, """
    graph():
      %n : int = prim::Constant[value=2]()
      %s : int[] = prim::Constant[value=[2]]()
      %none : NoneType = prim::Constant[value=None]()
      %z : Tensor = aten::rand(%s, %none, %none, %none, %none)
      %m : Tensor = aten::sum(%z, %none)
      return (%m)
    """, None)


def test_op_that_raises_is_left_to_raise_at_run_time():
    check(constant_prop.run, """
    graph():
      %1 : int = prim::Constant[value=1]()
      %0 : int = prim::Constant[value=0]()
      %d : int = prim::floordiv.int(%1, %0)
      return (%d)
    """, None)


def test_constant_if_takes_its_block():
    check(constant_prop.run, """
    graph(%x : Tensor):
      %c : bool = prim::Constant[value=False]()
      %y : Tensor = prim::If(%c)
        block0():
          %a : Tensor = aten::neg(%x)
          -> (%a)
        block1():
          %b : Tensor = aten::relu(%x)
          -> (%b)
      return (%y)
    """, """
    graph(%x : Tensor):
      %c : bool = prim::Constant[value=False]()
      %b : Tensor = aten::relu(%x)
      return (%b)
    """, args=[torch.randn(3)])


def test_condition_computed_from_constants_folds_the_if():
    check(constant_prop.run, """
    graph(%x : Tensor):
      %2 : int = prim::Constant[value=2]()
      %3 : int = prim::Constant[value=3]()
      %c : bool = prim::lt(%2, %3)
      %y : Tensor = prim::If(%c)
        block0():
          %4 : int = prim::mul.int(%2, %3)
          %a : Tensor = aten::mul.Scalar(%x, %4)
          -> (%a)
        block1():
          -> (%x)
      return (%y)
    """, """
    graph(%x : Tensor):
      %2 : int = prim::Constant[value=2]()
      %3 : int = prim::Constant[value=3]()
      %c : bool = prim::Constant[value=True]()
      %4 : int = prim::Constant[value=6]()
      %a : Tensor = aten::mul.Scalar(%x, %4)
      return (%a)
    """, args=[torch.randn(3)])


def test_loop_that_never_runs_is_removed():
    check(constant_prop.run, """
    graph(%x : Tensor, %c : bool):
      %0 : int = prim::Constant[value=0]()
      %y : Tensor = prim::Loop(%0, %c, %x)
        block0(%i : int, %p : Tensor):
          %q : Tensor = aten::neg(%p)
          -> (%c, %q)
      return (%y)
    """, """
    graph(%x : Tensor, %c : bool):
      %0 : int = prim::Constant[value=0]()
      return (%x)
    """, args=[torch.randn(2), True])


def test_loop_with_false_start_condition_is_removed():
    check(constant_prop.run, """
    graph(%x : Tensor, %n : int):
      %f : bool = prim::Constant[value=False]()
      %y : Tensor = prim::Loop(%n, %f, %x)
        block0(%i : int, %p : Tensor):
          %q : Tensor = aten::neg(%p)
          -> (%f, %q)
      return (%y)
    """, """
    graph(%x : Tensor, %n : int):
      %f : bool = prim::Constant[value=False]()
      return (%x)
    """)


def test_constant_lists_and_tuples_fold():
    check(constant_prop.run, """
    graph():
      %1 : int = prim::Constant[value=1]()
      %2 : int = prim::Constant[value=2]()
      %l : int[] = prim::ListConstruct(%1, %2)
      %t : (int, int) = prim::TupleConstruct(%1, %2)
      return (%l, %t)
    """, """
    graph():
      %1 : int = prim::Constant[value=1]()
      %2 : int = prim::Constant[value=2]()
      %l : int[] = prim::Constant[value=[1, 2]]()
      %t : (int, int) = prim::Constant[value=(1, 2)]()
      return (%l, %t)
    """)


def test_written_list_is_not_folded():
    check(constant_prop.run, """
    graph():
      %1 : int = prim::Constant[value=1]()
      %l : int[] = prim::ListConstruct(%1)
      prim::append.list(%l, %1)
      return (%l)
    """, None)


def test_writer_ops_never_fold():
    check(constant_prop.run, """
    graph():
      %t : Tensor = prim::Constant[value=tensor([1.0], dtype=torch.float32, shape=[1])]()
      %1 : int = prim::Constant[value=1]()
      %w : Tensor = aten::add_.Scalar(%t, %1, %1)
      %n : int = aten::numel(%t)
      return (%n)
    """, None)


def test_tensor_ops_after_an_autocast_enter_do_not_fold():
    # Folding runs without autocast: inside the block the product is bfloat16 (Note [Mode barriers]).
    check(constant_prop.run, """
    graph():
      %t : Tensor = prim::Constant[value=tensor([[1.5, 2.0], [0.5, 1.0]], dtype=torch.float32, shape=[2, 2])]()
      %none : NoneType = prim::Constant[value=None]()
      %on : bool = prim::Constant[value=True]()
      %bf16 : ScalarType = prim::Constant[value=torch.bfloat16]()
      %2 : int = prim::Constant[value=2]()
      %3 : int = prim::Constant[value=3]()
      prim::autocast_enter[device_type="cpu"](%bf16, %on, %none)
      %p : Tensor = aten::mm(%t, %t)
      %n : int = prim::add.int(%2, %3)
      prim::autocast_exit()
      %s : Tensor = aten::sum(%p, %none)
      %r : (Tensor, int) = prim::TupleConstruct(%s, %n)
      return (%r)
    """, """
    graph():
      %t : Tensor = prim::Constant[value=tensor([[1.5, 2.0], [0.5, 1.0]], dtype=torch.float32, shape=[2, 2])]()
      %none : NoneType = prim::Constant[value=None]()
      %on : bool = prim::Constant[value=True]()
      %bf16 : ScalarType = prim::Constant[value=torch.bfloat16]()
      %2 : int = prim::Constant[value=2]()
      %3 : int = prim::Constant[value=3]()
      prim::autocast_enter[device_type="cpu"](%bf16, %on, %none)
      %p : Tensor = aten::mm(%t, %t)
      %n : int = prim::Constant[value=5]()
      prim::autocast_exit()
      %s : Tensor = aten::sum(%p, %none)
      %r : (Tensor, int) = prim::TupleConstruct(%s, %n)
      return (%r)
    """, args=[])
