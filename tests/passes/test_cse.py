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


# Note [Mode barriers]: a grad-mode change between two equal tensor ops keeps them apart.
def test_tensor_ops_are_not_merged_across_a_grad_mode_change():
    check(cse.run, """
    graph(%x : Tensor, %w : Tensor):
      %f : bool = prim::Constant[value=False]()
      %one : Scalar = prim::Constant[value=1]()
      %prev : bool = prim::is_grad_enabled()
      prim::set_grad_enabled(%f)
      %a : Tensor = aten::mul.Tensor(%x, %w)
      prim::set_grad_enabled(%prev)
      %b : Tensor = aten::mul.Tensor(%x, %w)
      %c : Tensor = aten::mul.Tensor(%x, %w)
      %d : Tensor = aten::add.Tensor(%a, %b, %one)
      %e : Tensor = aten::add.Tensor(%d, %c, %one)
      return (%e)
    """, """
    graph(%x : Tensor, %w : Tensor):
      %f : bool = prim::Constant[value=False]()
      %one : Scalar = prim::Constant[value=1]()
      %prev : bool = prim::is_grad_enabled()
      prim::set_grad_enabled(%f)
      %a : Tensor = aten::mul.Tensor(%x, %w)
      prim::set_grad_enabled(%prev)
      %b : Tensor = aten::mul.Tensor(%x, %w)
      %d : Tensor = aten::add.Tensor(%a, %b, %one)
      %e : Tensor = aten::add.Tensor(%d, %b, %one)
      return (%e)
    """, args=[torch.randn(3), torch.randn(3)])


def test_a_mode_change_inside_a_branch_ends_the_epoch():
    check(cse.run, """
    graph(%x : Tensor, %c : bool):
      %f : bool = prim::Constant[value=False]()
      %one : Scalar = prim::Constant[value=1]()
      %a : Tensor = aten::relu(%x)
      prim::If(%c)
        block0():
          prim::set_grad_enabled(%f)
          -> ()
        block1():
          -> ()
      %b : Tensor = aten::relu(%x)
      %d : Tensor = aten::add.Tensor(%a, %b, %one)
      return (%d)
    """, """
    graph(%x : Tensor, %c : bool):
      %f : bool = prim::Constant[value=False]()
      %one : Scalar = prim::Constant[value=1]()
      %a : Tensor = aten::relu(%x)
      prim::If(%c)
        block0():
          prim::set_grad_enabled(%f)
          -> ()
        block1():
          -> ()
      %b : Tensor = aten::relu(%x)
      %d : Tensor = aten::add.Tensor(%a, %b, %one)
      return (%d)
    """, args=[torch.randn(3), False])


def test_no_grad_block_then_same_op_requires_grad_on_every_executor():
    import torchkiln
    from torchkiln.api import ScriptFunction

    def f(x, w):
        with torch.no_grad():
            a = x * w
        b = x * w
        return a + b

    s = torchkiln.script(f)
    x, w = torch.ones(2), torch.ones(2, requires_grad=True)
    for executor in ("python", "interpreter", "cpp"):
        out = ScriptFunction(s._kiln_unit, s._kiln_fn, executor=executor)(x, w)
        assert out.requires_grad and torch.equal(out, f(x, w)), executor
    assert str(s.graph).count("aten::mul.Tensor") == 2



def test_no_merge_across_an_autocast_block():
    # Note [Mode barriers]: inside the block the matmul gives bfloat16, outside float32.
    check(cse.run, """
    graph(%x : Tensor, %w : Tensor):
      %none : NoneType = prim::Constant[value=None]()
      %on : bool = prim::Constant[value=True]()
      %bf16 : ScalarType = prim::Constant[value=torch.bfloat16]()
      %a : Tensor = aten::matmul(%x, %w)
      prim::autocast_enter[device_type="cpu"](%bf16, %on, %none)
      %b : Tensor = aten::matmul(%x, %w)
      %c : Tensor = aten::matmul(%x, %w)
      prim::autocast_exit()
      %d : Tensor = aten::matmul(%x, %w)
      %r : (Tensor, Tensor, Tensor, Tensor) = prim::TupleConstruct(%a, %b, %c, %d)
      return (%r)
    """, None, args=[torch.randn(3, 3), torch.randn(3, 3)])


def test_no_merge_across_grad_mode_changes():
    check(cse.run, """
    graph(%x : Tensor, %w : Tensor):
      %off : bool = prim::Constant[value=False]()
      %a : Tensor = aten::matmul(%x, %w)
      %g : bool = prim::is_grad_enabled()
      prim::set_grad_enabled(%off)
      %b : Tensor = aten::matmul(%x, %w)
      %c : Tensor = aten::matmul(%x, %w)
      prim::set_grad_enabled(%g)
      %ra : bool = prim::requires_grad(%a)
      %rb : bool = prim::requires_grad(%c)
      %r : (bool, bool) = prim::TupleConstruct(%ra, %rb)
      return (%r)
    """, """
    graph(%x : Tensor, %w : Tensor):
      %off : bool = prim::Constant[value=False]()
      %a : Tensor = aten::matmul(%x, %w)
      %g : bool = prim::is_grad_enabled()
      prim::set_grad_enabled(%off)
      %b : Tensor = aten::matmul(%x, %w)
      prim::set_grad_enabled(%g)
      %ra : bool = prim::requires_grad(%a)
      %rb : bool = prim::requires_grad(%b)
      %r : (bool, bool) = prim::TupleConstruct(%ra, %rb)
      return (%r)
    """, args=[torch.randn(3, 3, requires_grad=True), torch.randn(3, 3)])


# Note [Mode barriers]: a call of the autograd engine frees the graph the tensors before it were
# made in, so equal tensor ops on either side stay apart (their graphs differ); `prim::grad`,
# not pure, is never merged.
def test_tensor_ops_are_not_merged_across_a_backward_or_grad_call():
    check(cse.run, """
    graph(%x : Tensor, %w : Tensor):
      %none : NoneType = prim::Constant[value=None]()
      %f : bool = prim::Constant[value=False]()
      %one : Scalar = prim::Constant[value=1]()
      %a : Tensor = aten::mul.Tensor(%x, %w)
      %g0 : Tensor? = prim::grad(%x)
      %as : Tensor[] = prim::ListConstruct(%a)
      prim::autograd_backward(%as, %none, %none, %f, %none)
      %b : Tensor = aten::mul.Tensor(%x, %w)
      %c : Tensor = aten::mul.Tensor(%x, %w)
      %g1 : Tensor? = prim::grad(%x)
      %bs : Tensor[] = prim::ListConstruct(%b)
      %xs : Tensor[] = prim::ListConstruct(%x)
      %gs : Tensor?[] = prim::autograd_grad(%bs, %xs, %none, %none, %f, %f)
      %d : Tensor = aten::mul.Tensor(%x, %w)
      %e : Tensor = aten::add.Tensor(%b, %c, %one)
      %r : (Tensor, Tensor, Tensor, Tensor?, Tensor?, Tensor?[]) = prim::TupleConstruct(%a, %e, %d, %g0, %g1, %gs)
      return (%r)
    """, """
    graph(%x : Tensor, %w : Tensor):
      %none : NoneType = prim::Constant[value=None]()
      %f : bool = prim::Constant[value=False]()
      %one : Scalar = prim::Constant[value=1]()
      %a : Tensor = aten::mul.Tensor(%x, %w)
      %g0 : Tensor? = prim::grad(%x)
      %as : Tensor[] = prim::ListConstruct(%a)
      prim::autograd_backward(%as, %none, %none, %f, %none)
      %b : Tensor = aten::mul.Tensor(%x, %w)
      %g1 : Tensor? = prim::grad(%x)
      %bs : Tensor[] = prim::ListConstruct(%b)
      %xs : Tensor[] = prim::ListConstruct(%x)
      %gs : Tensor?[] = prim::autograd_grad(%bs, %xs, %none, %none, %f, %f)
      %d : Tensor = aten::mul.Tensor(%x, %w)
      %e : Tensor = aten::add.Tensor(%b, %b, %one)
      %r : (Tensor, Tensor, Tensor, Tensor?, Tensor?, Tensor?[]) = prim::TupleConstruct(%a, %e, %d, %g0, %g1, %gs)
      return (%r)
    """)


def test_tensor_ops_are_not_merged_across_the_dispatchers_backward():
    check(cse.run, """
    graph(%x : Tensor, %y : Tensor):
      %none : NoneType = prim::Constant[value=None]()
      %f : bool = prim::Constant[value=False]()
      %empty : Tensor[] = prim::ListConstruct()
      %one : Scalar = prim::Constant[value=1]()
      %a : Tensor = aten::relu(%x)
      aten::_backward(%y, %empty, %none, %none, %f)
      %b : Tensor = aten::relu(%x)
      %r : Tensor = aten::add.Tensor(%a, %b, %one)
      return (%r)
    """, None)
