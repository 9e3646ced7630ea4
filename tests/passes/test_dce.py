"""Dead-code elimination: golden IR in/out, side effects and writes kept."""
import torch

from torchkiln.passes import dce

from .ircheck import check


def test_unused_pure_op_is_removed():
    check(dce.run, """
    graph(%x : Tensor):
      %1 : int = prim::Constant[value=1]()
      %u : Tensor = aten::add.Tensor(%x, %x, %1)
      %2 : int = prim::Constant[value=2]()
      %r : Tensor = aten::mul.Scalar(%x, %2)
      return (%r)
    """, """
    graph(%x : Tensor):
      %2 : int = prim::Constant[value=2]()
      %r : Tensor = aten::mul.Scalar(%x, %2)
      return (%r)
    """, args=[torch.randn(3)])


def test_nothing_dead_changes_nothing():
    check(dce.run, """
    graph(%x : Tensor):
      %r : Tensor = aten::relu(%x)
      return (%r)
    """, None)


def test_side_effects_are_kept():
    check(dce.run, """
    graph(%x : Tensor):
      %s : str = prim::Constant[value="hi"]()
      prim::Print(%s, %x)
      %m : str = prim::Constant[value="boom"]()
      prim::RaiseException[cls="ValueError"](%m)
      %r : Tensor = aten::rand_like(%x, %none, %none, %none, %none, %none)
      return (%x)
    """.replace("%r : Tensor = aten::rand_like(%x, %none, %none, %none, %none, %none)",
                "%none : NoneType = prim::Constant[value=None]()\n      %r : Tensor = aten::rand_like(%x, %none, %none, %none, %none, %none)"),
    None)


def test_write_to_an_input_is_kept():
    check(dce.run, """
    graph(%x : Tensor):
      %1 : int = prim::Constant[value=1]()
      %v : Tensor = aten::add_.Tensor(%x, %x, %1)
      %r : Tensor = aten::relu(%x)
      return (%r)
    """, None)


def test_write_through_a_view_of_an_input_is_kept():
    check(dce.run, """
    graph(%x : Tensor):
      %1 : int = prim::Constant[value=1]()
      %0 : int = prim::Constant[value=0]()
      %v : Tensor = aten::select.int(%x, %0, %0)
      %w : Tensor = aten::add_.Tensor(%v, %v, %1)
      return (%1)
    """, None)


def test_write_to_a_dead_local_tensor_is_removed():
    check(dce.run, """
    graph(%x : Tensor):
      %1 : int = prim::Constant[value=1]()
      %z : Tensor = aten::mul.Scalar(%x, %1)
      %w : Tensor = aten::add_.Tensor(%z, %x, %1)
      return (%x)
    """, """
    graph(%x : Tensor):
      return (%x)
    """)


def test_write_to_a_live_local_tensor_is_kept():
    check(dce.run, """
    graph(%x : Tensor):
      %1 : int = prim::Constant[value=1]()
      %z : Tensor = aten::mul.Scalar(%x, %1)
      %w : Tensor = aten::add_.Tensor(%z, %x, %1)
      %u : Tensor = aten::relu(%x)
      return (%z)
    """, """
    graph(%x : Tensor):
      %1 : int = prim::Constant[value=1]()
      %z : Tensor = aten::mul.Scalar(%x, %1)
      %w : Tensor = aten::add_.Tensor(%z, %x, %1)
      return (%z)
    """, args=[torch.randn(3)])


def test_list_append_kept_when_list_is_read():
    check(dce.run, """
    graph(%x : Tensor):
      %l : Tensor[] = prim::ListConstruct(%x)
      prim::append.list(%l, %x)
      %n : int = prim::len.list(%l)
      return (%n)
    """, None, args=[torch.randn(2)])


def test_dead_list_and_its_append_are_removed():
    check(dce.run, """
    graph(%x : Tensor):
      %l : Tensor[] = prim::ListConstruct(%x)
      prim::append.list(%l, %x)
      return (%x)
    """, """
    graph(%x : Tensor):
      return (%x)
    """)


def test_unused_if_output_is_removed_from_both_blocks():
    check(dce.run, """
    graph(%x : Tensor, %c : bool):
      %a : Tensor, %b : Tensor = prim::If(%c)
        block0():
          %n : Tensor = aten::neg(%x)
          %e : Tensor = aten::exp(%x)
          -> (%n, %e)
        block1():
          -> (%x, %x)
      return (%a)
    """, """
    graph(%x : Tensor, %c : bool):
      %a : Tensor = prim::If(%c)
        block0():
          %n : Tensor = aten::neg(%x)
          -> (%n)
        block1():
          -> (%x)
      return (%a)
    """, args=[torch.randn(2), True])


def test_if_without_live_results_or_effects_is_removed():
    check(dce.run, """
    graph(%x : Tensor, %c : bool):
      %a : Tensor = prim::If(%c)
        block0():
          %n : Tensor = aten::neg(%x)
          -> (%n)
        block1():
          -> (%x)
      return (%x)
    """, """
    graph(%x : Tensor, %c : bool):
      return (%x)
    """)


def test_if_holding_a_raise_is_kept():
    check(dce.run, """
    graph(%x : Tensor, %c : bool):
      %m : str = prim::Constant[value="bad"]()
      %a : Tensor = prim::If(%c)
        block0():
          prim::RaiseException[cls="ValueError"](%m)
          -> (%x)
        block1():
          -> (%x)
      return (%x)
    """, """
    graph(%x : Tensor, %c : bool):
      %m : str = prim::Constant[value="bad"]()
      prim::If(%c)
        block0():
          prim::RaiseException[cls="ValueError"](%m)
          -> ()
        block1():
          -> ()
      return (%x)
    """)


def test_unused_loop_carried_value_is_removed():
    check(dce.run, """
    graph(%x : Tensor, %n : int):
      %t : bool = prim::Constant[value=True]()
      %2 : int = prim::Constant[value=2]()
      %o1 : Tensor, %o2 : Tensor = prim::Loop(%n, %t, %x, %x)
        block0(%i : int, %p1 : Tensor, %p2 : Tensor):
          %q1 : Tensor = aten::mul.Scalar(%p1, %2)
          %q2 : Tensor = aten::mul.Scalar(%p2, %2)
          -> (%t, %q1, %q2)
      return (%o2)
    """, """
    graph(%x : Tensor, %n : int):
      %t : bool = prim::Constant[value=True]()
      %2 : int = prim::Constant[value=2]()
      %o2 : Tensor = prim::Loop(%n, %t, %x)
        block0(%i : int, %p2 : Tensor):
          %q2 : Tensor = aten::mul.Scalar(%p2, %2)
          -> (%t, %q2)
      return (%o2)
    """, args=[torch.randn(2), 3])


def test_carried_value_feeding_a_live_one_is_kept():
    check(dce.run, """
    graph(%x : Tensor, %n : int):
      %t : bool = prim::Constant[value=True]()
      %o1 : Tensor, %o2 : Tensor = prim::Loop(%n, %t, %x, %x)
        block0(%i : int, %p1 : Tensor, %p2 : Tensor):
          %q1 : Tensor = aten::neg(%p1)
          %q2 : Tensor = aten::add.Tensor(%p2, %p1, %i)
          -> (%t, %q1, %q2)
      return (%o2)
    """, None, args=[torch.randn(2), 3])


def test_loop_with_a_side_effect_is_kept():
    check(dce.run, """
    graph(%x : Tensor, %n : int):
      %t : bool = prim::Constant[value=True]()
      %o : Tensor = prim::Loop(%n, %t, %x)
        block0(%i : int, %p : Tensor):
          prim::Print(%i)
          %q : Tensor = aten::neg(%p)
          -> (%t, %q)
      return (%x)
    """, """
    graph(%x : Tensor, %n : int):
      %t : bool = prim::Constant[value=True]()
      prim::Loop(%n, %t)
        block0(%i : int):
          prim::Print(%i)
          -> (%t)
      return (%x)
    """)


def test_setattr_is_kept_and_dead_getattr_removed():
    check(dce.run, """
    graph(%self : Tensor, %x : int):
      %1 : int = prim::Constant[value=1]()
      %y : int = prim::add.int(%x, %1)
      %z : int = prim::add.int(%x, %x)
      return (%y)
    """, """
    graph(%self : Tensor, %x : int):
      %1 : int = prim::Constant[value=1]()
      %y : int = prim::add.int(%x, %1)
      return (%y)
    """, args=[torch.zeros(1), 4])


def test_autograd_calls_with_unused_or_no_results_are_kept():
    # backward writes the leaves' .grad; grad runs the engine (and frees the graph) even unused
    check(dce.run, """
    graph(%x : Tensor):
      %none : NoneType = prim::Constant[value=None]()
      %f : bool = prim::Constant[value=False]()
      %y : Tensor = aten::mul.Tensor(%x, %x)
      %ys : Tensor[] = prim::ListConstruct(%y)
      %xs : Tensor[] = prim::ListConstruct(%x)
      %gs : Tensor?[] = prim::autograd_grad(%ys, %xs, %none, %none, %f, %f)
      prim::autograd_backward(%ys, %none, %none, %f, %none)
      %unread : Tensor? = prim::grad(%x)
      return (%x)
    """, None)
