"""Freezing a Sequential(Conv2d, BatchNorm2d) as the script compiler lays it out:
module calls, `training` branches, `is None` checks, a buffer update."""
import torch

from torchkiln.interpreter import run_graph
from torchkiln.ir import (
    BOOL,
    FLOAT,
    INT,
    TENSOR,
    Argument,
    ClassType,
    Function,
    OptionalType,
    parse_graph,
    print_graph,
)
from torchkiln.passes.freeze import freeze_graph, module_lookup

CONV_FORWARD = """
graph(%self : __torch__.Conv2d, %input : Tensor):
  %w : Tensor = prim::GetAttr[name="weight"](%self)
  %b : Tensor? = prim::GetAttr[name="bias"](%self)
  %s : int[] = prim::Constant[value=[1, 1]]()
  %p : int[] = prim::Constant[value=[0, 0]]()
  %g : int = prim::Constant[value=1]()
  %out : Tensor = aten::conv2d(%input, %w, %b, %s, %p, %s, %g)  # torch/nn/modules/conv.py:549:15
  return (%out)
"""

BN_CHECK_DIM = """
graph(%self : __torch__.BatchNorm2d, %input : Tensor):
  %d : int = aten::dim(%input)
  %four : int = prim::Constant[value=4]()
  %ne : bool = prim::ne(%d, %four)
  %msg : str = prim::Constant[value="expected 4D input"]()
  prim::If(%ne)
    block0():
      prim::RaiseException[cls="ValueError"](%msg)
      -> ()
    block1():
      -> ()
  %none : NoneType = prim::Constant[value=None]()
  return (%none)
"""

BN_FORWARD = """
graph(%self : __torch__.BatchNorm2d, %input : Tensor):
  %chk : NoneType = prim::CallMethod[name="_check_input_dim"](%self, %input)
  %false : bool = prim::Constant[value=False]()
  %true : bool = prim::Constant[value=True]()
  %one : int = prim::Constant[value=1]()
  %none : NoneType = prim::Constant[value=None]()
  %training : bool = prim::GetAttr[name="training"](%self)
  %track : bool = prim::GetAttr[name="track_running_stats"](%self)
  %c : bool = prim::If(%training)
    block0():
      -> (%track)
    block1():
      -> (%false)
  prim::If(%c)
    block0():
      %nbt : Tensor = prim::GetAttr[name="num_batches_tracked"](%self)
      %u : Tensor = aten::add_.Scalar(%nbt, %one, %one)
      -> ()
    block1():
      -> ()
  %rm : Tensor? = prim::GetAttr[name="running_mean"](%self)
  %rv : Tensor? = prim::GetAttr[name="running_var"](%self)
  %bn_training : bool = prim::If(%training)
    block0():
      -> (%true)
    block1():
      %a : bool = prim::is(%rm, %none)
      %r : bool = prim::If(%a)
        block0():
          %bb : bool = prim::is(%rv, %none)
          -> (%bb)
        block1():
          -> (%false)
      -> (%r)
  %w : Tensor? = prim::GetAttr[name="weight"](%self)
  %b : Tensor? = prim::GetAttr[name="bias"](%self)
  %mom : float = prim::GetAttr[name="momentum"](%self)
  %eps : float = prim::GetAttr[name="eps"](%self)
  %out : Tensor = aten::batch_norm(%input, %w, %b, %rm, %rv, %bn_training, %mom, %eps, %true)
  return (%out)
"""

SEQ_FORWARD = """
graph(%self : __torch__.Sequential, %x : Tensor):
  %c0 : __torch__.Conv2d = prim::GetAttr[name="0"](%self)
  %y : Tensor = prim::CallMethod[name="forward"](%c0, %x)
  %c1 : __torch__.BatchNorm2d = prim::GetAttr[name="1"](%self)
  %z : Tensor = prim::CallMethod[name="forward"](%c1, %y)
  return (%z)
"""


def _method(cls, name, text, classes, returns=TENSOR):
    g = parse_graph(text, classes=classes)
    args = [Argument("self", cls)] + [Argument(v.name or "x", v.type) for v in g.inputs[1:]]
    cls.methods[name] = Function(name, g, args, returns)


def _types():
    conv = ClassType("__torch__.Conv2d")
    for name in ("weight", "bias"):
        conv.add_attribute(name, TENSOR if name == "weight" else OptionalType(TENSOR), "parameter")
    conv.add_attribute("training", BOOL)
    bn = ClassType("__torch__.BatchNorm2d")
    bn.add_attribute("training", BOOL)
    bn.add_attribute("track_running_stats", BOOL)
    bn.add_attribute("momentum", FLOAT)
    bn.add_attribute("eps", FLOAT)
    for name in ("weight", "bias"):
        bn.add_attribute(name, OptionalType(TENSOR), "parameter")
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        bn.add_attribute(name, OptionalType(TENSOR) if name != "num_batches_tracked" else TENSOR, "buffer")
    seq = ClassType("__torch__.Sequential")
    seq.add_attribute("training", BOOL)
    seq.add_attribute("0", conv, "module")
    seq.add_attribute("1", bn, "module")
    classes = {c.name: c for c in (conv, bn, seq)}
    _method(conv, "forward", CONV_FORWARD, classes)
    from torchkiln.ir import NONE

    _method(bn, "_check_input_dim", BN_CHECK_DIM, classes, returns=NONE)
    _method(bn, "forward", BN_FORWARD, classes)
    _method(seq, "forward", SEQ_FORWARD, classes)
    return seq


def test_scripted_conv_bn_freezes_to_one_conv():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8)).eval()
    with torch.no_grad():
        model[1].running_mean.uniform_(-1, 1)
        model[1].running_var.uniform_(0.5, 2)
    seq = _types()
    g = seq.methods["forward"].graph.copy()
    freeze_graph(g, module_lookup(model))
    text = print_graph(g)
    assert "batch_norm" not in text and "GetAttr" not in text and "CallMethod" not in text, text
    assert text.count("aten::conv2d") == 1 and "RaiseException" in text  # the dim check stays
    x = torch.randn(2, 3, 10, 10)
    with torch.no_grad():
        torch.testing.assert_close(run_graph(g, [model, x]), model(x), rtol=1e-5, atol=1e-5)
    # the frozen graph still checks its input like the module does
    bad = torch.randn(3, 10, 10)
    try:
        run_graph(g, [model, bad])
    except ValueError as e:
        assert "4D" in str(e)
    else:
        raise AssertionError("the dim check was lost")
