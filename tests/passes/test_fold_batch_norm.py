"""Conv/linear + batch norm folding on IR: positive and negative cases."""
import torch

from torchkiln.interpreter import run_graph
from torchkiln.ir import parse_graph, print_graph
from torchkiln.passes import fold_batch_norm
from torchkiln.passes.manager import run_pipeline

W = "tensor([[[[1.0]]], [[[2.0]]]], dtype=torch.float32, shape=[2, 1, 1, 1])"
STATS = """
  %g : Tensor = prim::Constant[value=tensor([1.0, 0.5], dtype=torch.float32, shape=[2])]()
  %b : Tensor = prim::Constant[value=tensor([0.0, 1.0], dtype=torch.float32, shape=[2])]()
  %m : Tensor = prim::Constant[value=tensor([0.5, -1.0], dtype=torch.float32, shape=[2])]()
  %v : Tensor = prim::Constant[value=tensor([4.0, 0.25], dtype=torch.float32, shape=[2])]()
  %mom : float = prim::Constant[value=0.1]()
  %eps : float = prim::Constant[value=1e-05]()
  %cudnn : bool = prim::Constant[value=True]()
"""


def conv_bn(training="False", extra_use="", bias="%none"):
    return f"""
graph(%x : Tensor):
  %W : Tensor = prim::Constant[value={W}]()
  %none : NoneType = prim::Constant[value=None]()
  %bias : Tensor = prim::Constant[value=tensor([0.25, 0.75], dtype=torch.float32, shape=[2])]()
  %one : int = prim::Constant[value=1]()
  %s : int[] = prim::Constant[value=[1, 1]]()
  %p : int[] = prim::Constant[value=[0, 0]]()
  %y : Tensor = aten::conv2d(%x, %W, {bias}, %s, %p, %s, %one)
  {STATS}
  %tr : bool = prim::Constant[value={training}]()
  %z : Tensor = aten::batch_norm(%y, %g, %b, %m, %v, %tr, %mom, %eps, %cudnn)
  {extra_use}
  return (%z)
"""


def _fold(text, expect):
    g = parse_graph(text)
    x = torch.randn(2, 1, 3, 3)
    with torch.no_grad():
        before = run_graph(g, [x])
    assert fold_batch_norm.run(g) == expect
    run_pipeline(g, [], verify=True)
    with torch.no_grad():
        torch.testing.assert_close(run_graph(g, [x]), before, rtol=1e-6, atol=1e-6)
    return print_graph(g)


def test_conv_without_bias_folds():
    text = _fold(conv_bn(), True)
    assert "batch_norm" not in text


def test_conv_with_bias_folds():
    assert "batch_norm" not in _fold(conv_bn(bias="%bias"), True)


def test_shape_reads_of_the_conv_output_do_not_block():
    text = _fold(conv_bn(extra_use="%d : int = aten::dim(%y)"), True)
    assert "batch_norm" not in text and "aten::dim" in text


def test_training_mode_does_not_fold():
    _fold(conv_bn(training="True"), False)


def test_other_value_use_of_the_conv_output_blocks():
    g = parse_graph(conv_bn(extra_use="%q : Tensor = aten::neg(%y)"))
    assert not fold_batch_norm.run(g)


def test_non_constant_weights_do_not_fold():
    g = parse_graph(conv_bn().replace("graph(%x : Tensor):", "graph(%x : Tensor, %W2 : Tensor):").replace(
        "aten::conv2d(%x, %W,", "aten::conv2d(%x, %W2,"))
    assert not fold_batch_norm.run(g)


def test_linear_of_unknown_rank_does_not_fold():
    g = parse_graph(f"""
graph(%x : Tensor):
  %W : Tensor = prim::Constant[value=tensor([[1.0], [2.0]], dtype=torch.float32, shape=[2, 1])]()
  %none : NoneType = prim::Constant[value=None]()
  %y : Tensor = aten::linear(%x, %W, %none)
  {STATS}
  %tr : bool = prim::Constant[value=False]()
  %z : Tensor = aten::batch_norm(%y, %g, %b, %m, %v, %tr, %mom, %eps, %cudnn)
  return (%z)
""")
    assert not fold_batch_norm.run(g)


def test_addmm_folds():
    text = f"""
graph(%x : Tensor):
  %Wt : Tensor = prim::Constant[value=tensor([[1.0, -2.0]], dtype=torch.float32, shape=[1, 2])]()
  %bias : Tensor = prim::Constant[value=tensor([0.25, 0.75], dtype=torch.float32, shape=[2])]()
  %one : int = prim::Constant[value=1]()
  %y : Tensor = aten::addmm(%bias, %x, %Wt, %one, %one)
  {STATS}
  %tr : bool = prim::Constant[value=False]()
  %z : Tensor = aten::batch_norm(%y, %g, %b, %m, %v, %tr, %mom, %eps, %cudnn)
  return (%z)
"""
    g = parse_graph(text)
    x = torch.randn(3, 1)
    before = run_graph(g, [x])
    assert fold_batch_norm.run(g)
    assert "batch_norm" not in print_graph(g)
    torch.testing.assert_close(run_graph(g, [x]), before)
