"""Inference fusions: golden IR in/out and negative cases."""
import torch

from torchkiln.passes import fuse

from .ircheck import check

W = "tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], dtype=torch.float32, shape=[3, 2])"
B = "tensor([0.5, -0.5, 1.0], dtype=torch.float32, shape=[3])"


def test_addmm_of_transpose_becomes_linear():
    check(fuse.run, f"""
    graph(%x : Tensor, %W : Tensor, %b : Tensor):
      %one : int = prim::Constant[value=1]()
      %t : Tensor = aten::t(%W)
      %y : Tensor = aten::addmm(%b, %x, %t, %one, %one)
      return (%y)
    """, f"""
    graph(%x : Tensor, %W : Tensor, %b : Tensor):
      %one : int = prim::Constant[value=1]()
      %t : Tensor = aten::t(%W)
      %y : Tensor = aten::linear(%x, %W, %b)
      return (%y)
    """, args=[torch.randn(4, 2), torch.randn(3, 2), torch.randn(3)])


def test_addmm_with_other_scales_stays():
    check(fuse.run, """
    graph(%x : Tensor, %W : Tensor, %b : Tensor):
      %one : int = prim::Constant[value=1]()
      %two : int = prim::Constant[value=2]()
      %t : Tensor = aten::t(%W)
      %y : Tensor = aten::addmm(%b, %x, %t, %two, %one)
      return (%y)
    """, None)


def test_matmul_of_transpose_plus_bias_becomes_linear():
    check(fuse.run, f"""
    graph(%x : Tensor):
      %W : Tensor = prim::Constant[value={W}]()
      %b : Tensor = prim::Constant[value={B}]()
      %one : int = prim::Constant[value=1]()
      %t : Tensor = aten::t(%W)
      %y : Tensor = aten::matmul(%x, %t)
      %z : Tensor = aten::add.Tensor(%y, %b, %one)
      return (%z)
    """, f"""
    graph(%x : Tensor):
      %W : Tensor = prim::Constant[value={W}]()
      %b : Tensor = prim::Constant[value={B}]()
      %one : int = prim::Constant[value=1]()
      %t : Tensor = aten::t(%W)
      %z : Tensor = aten::linear(%x, %W, %b)
      return (%z)
    """, args=[torch.randn(5, 4, 2)])


def test_mm_plus_bias_becomes_addmm():
    check(fuse.run, f"""
    graph(%x : Tensor):
      %Wt : Tensor = prim::Constant[value={W}]()
      %b : Tensor = prim::Constant[value=tensor([0.5, -0.5], dtype=torch.float32, shape=[2])]()
      %one : int = prim::Constant[value=1]()
      %y : Tensor = aten::mm(%x, %Wt)
      %z : Tensor = aten::add.Tensor(%b, %y, %one)
      return (%z)
    """, f"""
    graph(%x : Tensor):
      %Wt : Tensor = prim::Constant[value={W}]()
      %b : Tensor = prim::Constant[value=tensor([0.5, -0.5], dtype=torch.float32, shape=[2])]()
      %one : int = prim::Constant[value=1]()
      %z : Tensor = aten::addmm(%b, %x, %Wt, %one, %one)
      return (%z)
    """, args=[torch.randn(4, 3)])


def test_bias_that_broadcasts_or_promotes_blocks():
    for bias in ("tensor([[0.5], [1.0], [2.0], [3.0]], dtype=torch.float32, shape=[4, 1])",
                 "tensor([0.5, 1.0], dtype=torch.float64, shape=[2])"):
        check(fuse.run, f"""
        graph(%x : Tensor):
          %Wt : Tensor = prim::Constant[value={W}]()
          %b : Tensor = prim::Constant[value={bias}]()
          %one : int = prim::Constant[value=1]()
          %y : Tensor = aten::mm(%x, %Wt)
          %z : Tensor = aten::add.Tensor(%y, %b, %one)
          return (%z)
        """, None)


def test_product_with_another_use_stays():
    check(fuse.run, f"""
    graph(%x : Tensor):
      %Wt : Tensor = prim::Constant[value={W}]()
      %b : Tensor = prim::Constant[value=tensor([0.5, -0.5], dtype=torch.float32, shape=[2])]()
      %one : int = prim::Constant[value=1]()
      %y : Tensor = aten::mm(%x, %Wt)
      %z : Tensor = aten::add.Tensor(%y, %b, %one)
      %r : (Tensor, Tensor) = prim::TupleConstruct(%y, %z)
      return (%r)
    """, None)
