"""Algebraic simplification: golden IR in/out, dtype and aliasing limits."""
import torch

from torchkiln.passes import simplify

from .ircheck import check


def test_useless_arithmetic_goes():
    # a = x + 0; b = a * 1; c = b + b
    check(simplify.run, """
    graph(%x : Tensor):
      %0 : int = prim::Constant[value=0]()
      %1 : int = prim::Constant[value=1]()
      %a : Tensor = aten::add.Scalar(%x, %0, %1)
      %b : Tensor = aten::mul.Scalar(%a, %1)
      %c : Tensor = aten::add.Tensor(%b, %b, %1)
      return (%c)
    """, """
    graph(%x : Tensor):
      %0 : int = prim::Constant[value=0]()
      %1 : int = prim::Constant[value=1]()
      %a : Tensor = aten::add.Scalar(%x, %0, %1)
      %b : Tensor = aten::mul.Scalar(%x, %1)
      %c : Tensor = aten::add.Tensor(%x, %x, %1)
      return (%c)
    """, args=[torch.randn(5)])


def test_sub_zero_and_float_div_one():
    check(simplify.run, """
    graph(%x : Float(*)):
      %0 : int = prim::Constant[value=0]()
      %1 : int = prim::Constant[value=1]()
      %a : Tensor = aten::sub.Scalar(%x, %0, %1)
      %b : Tensor = aten::div.Scalar(%a, %1)
      %c : Tensor = aten::neg(%b)
      return (%c)
    """, """
    graph(%x : Float(*)):
      %0 : int = prim::Constant[value=0]()
      %1 : int = prim::Constant[value=1]()
      %a : Tensor = aten::sub.Scalar(%x, %0, %1)
      %b : Tensor = aten::div.Scalar(%x, %1)
      %c : Tensor = aten::neg(%x)
      return (%c)
    """, args=[torch.randn(3)])


def test_result_returned_as_the_input_itself_is_kept():
    # `return x + 0` would hand the caller its own tensor back
    check(simplify.run, """
    graph(%x : Tensor):
      %0 : int = prim::Constant[value=0]()
      %1 : int = prim::Constant[value=1]()
      %a : Tensor = aten::add.Scalar(%x, %0, %1)
      return (%a)
    """, None)


def test_written_result_is_kept():
    check(simplify.run, """
    graph(%x : Tensor):
      %0 : int = prim::Constant[value=0]()
      %1 : int = prim::Constant[value=1]()
      %a : Tensor = aten::mul.Scalar(%x, %1)
      %w : Tensor = aten::add_.Scalar(%a, %1, %1)
      %r : Tensor = aten::neg(%a)
      return (%r)
    """, None, args=[torch.randn(3)])


def test_written_input_is_kept():
    check(simplify.run, """
    graph(%x : Tensor):
      %1 : int = prim::Constant[value=1]()
      %a : Tensor = aten::mul.Scalar(%x, %1)
      %w : Tensor = aten::add_.Scalar(%x, %1, %1)
      %r : Tensor = aten::neg(%a)
      return (%r)
    """, None, args=[torch.randn(3)])


def test_dtype_promotion_is_respected():
    # int tensor * 1.0 is float; bool tensor + 0 is int64; x / 1 is float for ints
    check(simplify.run, """
    graph(%x : Tensor, %b : Bool(*)):
      %0 : int = prim::Constant[value=0]()
      %1 : int = prim::Constant[value=1]()
      %f : float = prim::Constant[value=1.0]()
      %a : Tensor = aten::mul.Scalar(%x, %f)
      %c : Tensor = aten::add.Scalar(%b, %0, %1)
      %d : Tensor = aten::div.Scalar(%x, %1)
      %r : (Tensor, Tensor, Tensor) = prim::TupleConstruct(%a, %c, %d)
      return (%r)
    """, None, args=[torch.arange(3), torch.tensor([True, False, True])])


def test_float_constant_on_a_float_tensor_goes():
    check(simplify.run, """
    graph(%x : Double(*)):
      %f : float = prim::Constant[value=1.0]()
      %a : Tensor = aten::mul.Scalar(%x, %f)
      %r : Tensor = aten::neg(%a)
      return (%r)
    """, """
    graph(%x : Double(*)):
      %f : float = prim::Constant[value=1.0]()
      %a : Tensor = aten::mul.Scalar(%x, %f)
      %r : Tensor = aten::neg(%x)
      return (%r)
    """, args=[torch.randn(3, dtype=torch.float64)])


def test_non_neutral_constants_and_tensor_operands_stay():
    check(simplify.run, """
    graph(%x : Tensor, %z : Tensor):
      %1 : int = prim::Constant[value=1]()
      %2 : int = prim::Constant[value=2]()
      %a : Tensor = aten::mul.Scalar(%x, %2)
      %b : Tensor = aten::add.Scalar(%a, %1, %1)
      %c : Tensor = aten::add.Tensor(%b, %z, %1)
      %r : Tensor = aten::neg(%c)
      return (%r)
    """, None)


def test_dropout_in_eval_is_the_input():
    check(simplify.run, """
    graph(%x : Tensor):
      %p : float = prim::Constant[value=0.5]()
      %f : bool = prim::Constant[value=False]()
      %t : bool = prim::Constant[value=True]()
      %a : Tensor = aten::dropout(%x, %p, %f)
      %b : Tensor = aten::relu(%a)
      %c : Tensor = aten::dropout(%b, %p, %t)
      return (%c)
    """, """
    graph(%x : Tensor):
      %p : float = prim::Constant[value=0.5]()
      %f : bool = prim::Constant[value=False]()
      %t : bool = prim::Constant[value=True]()
      %b : Tensor = aten::relu(%x)
      %c : Tensor = aten::dropout(%b, %p, %t)
      return (%c)
    """)


def test_tuple_of_construct_peepholes():
    check(simplify.run, """
    graph(%x : Tensor, %n : int):
      %t : (Tensor, int) = prim::TupleConstruct(%x, %n)
      %a : int = prim::TupleIndex[index=1](%t)
      %b : Tensor, %c : int = prim::TupleUnpack(%t)
      %r : (int, Tensor) = prim::TupleConstruct(%a, %b)
      return (%r)
    """, """
    graph(%x : Tensor, %n : int):
      %t : (Tensor, int) = prim::TupleConstruct(%x, %n)
      %a : int = prim::TupleIndex[index=1](%t)
      %b : Tensor, %c : int = prim::TupleUnpack(%t)
      %r : (int, Tensor) = prim::TupleConstruct(%n, %x)
      return (%r)
    """)


def test_list_unpack_of_a_written_list_stays():
    check(simplify.run, """
    graph(%x : Tensor, %y : Tensor):
      %l : Tensor[] = prim::ListConstruct(%x, %y)
      %0 : int = prim::Constant[value=0]()
      prim::setitem.list(%l, %0, %y)
      %a : Tensor, %b : Tensor = prim::ListUnpack(%l)
      return (%a)
    """, None, args=[torch.zeros(1), torch.ones(1)])


def test_list_unpack_of_an_unwritten_list():
    check(simplify.run, """
    graph(%x : Tensor, %y : Tensor):
      %l : Tensor[] = prim::ListConstruct(%x, %y)
      %a : Tensor, %b : Tensor = prim::ListUnpack(%l)
      return (%b)
    """, """
    graph(%x : Tensor, %y : Tensor):
      %l : Tensor[] = prim::ListConstruct(%x, %y)
      %a : Tensor, %b : Tensor = prim::ListUnpack(%l)
      return (%y)
    """)


def test_is_none_decided_by_type():
    check(simplify.run, """
    graph(%x : Tensor, %o : Tensor?):
      %none : NoneType = prim::Constant[value=None]()
      %a : bool = prim::is(%x, %none)
      %b : bool = prim::isnot(%none, %none)
      %c : bool = prim::is(%o, %none)
      %r : (bool, bool, bool) = prim::TupleConstruct(%a, %b, %c)
      return (%r)
    """, """
    graph(%x : Tensor, %o : Tensor?):
      %none : NoneType = prim::Constant[value=None]()
      %4 : bool = prim::Constant[value=False]()
      %a : bool = prim::is(%x, %none)
      %5 : bool = prim::Constant[value=False]()
      %b : bool = prim::isnot(%none, %none)
      %c : bool = prim::is(%o, %none)
      %r : (bool, bool, bool) = prim::TupleConstruct(%4, %5, %c)
      return (%r)
    """)


def test_if_returning_the_same_outer_value():
    check(simplify.run, """
    graph(%x : Tensor, %c : bool):
      %y : Tensor, %z : Tensor = prim::If(%c)
        block0():
          %n : Tensor = aten::neg(%x)
          -> (%x, %n)
        block1():
          -> (%x, %x)
      %r : (Tensor, Tensor) = prim::TupleConstruct(%y, %z)
      return (%r)
    """, """
    graph(%x : Tensor, %c : bool):
      %y : Tensor, %z : Tensor = prim::If(%c)
        block0():
          %n : Tensor = aten::neg(%x)
          -> (%x, %n)
        block1():
          -> (%x, %x)
      %r : (Tensor, Tensor) = prim::TupleConstruct(%x, %z)
      return (%r)
    """)


def test_unchecked_cast_to_own_type():
    check(simplify.run, """
    graph(%x : Tensor):
      %y : Tensor = prim::unchecked_cast(%x)
      %r : Tensor = aten::neg(%y)
      return (%r)
    """, """
    graph(%x : Tensor):
      %y : Tensor = prim::unchecked_cast(%x)
      %r : Tensor = aten::neg(%x)
      return (%r)
    """)
