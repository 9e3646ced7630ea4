"""Freezing on IR: module state becomes constants, training folds, BN folds into conv."""
import pytest
import torch

from torchkiln.ir import ClassType, parse_graph, print_graph, BOOL, INT, TENSOR, OptionalType
from torchkiln.passes.freeze import freeze_graph, module_lookup


def _classes():
    sub = ClassType("__torch__.Sub")
    sub.add_attribute("training", BOOL)
    sub.add_attribute("weight", TENSOR, "parameter")
    sub.add_attribute("bias", OptionalType(TENSOR), "parameter")
    net = ClassType("__torch__.Net")
    net.add_attribute("training", BOOL)
    net.add_attribute("sub", sub, "module")
    net.add_attribute("scale", INT)
    net.add_attribute("count", TENSOR, "buffer")
    return {c.name: c for c in (sub, net)}


def _values(bias=True):
    return {
        ("training",): True,
        ("sub", "training"): True,
        ("sub", "weight"): torch.tensor([1.0, 2.0]),
        ("sub", "bias"): torch.tensor([0.5, 0.5]) if bias else None,
        ("scale",): 3,
        ("count",): torch.zeros(1),
    }


def _freeze(text, values, **kw):
    classes = _classes()
    g = parse_graph(text, classes=classes)
    freeze_graph(g, lambda path: values[path], **kw)
    return g, classes


def test_parameters_become_constants_and_training_folds():
    g, classes = _freeze("""
graph(%self : __torch__.Net, %x : Tensor):
  %sub : __torch__.Sub = prim::GetAttr[name="sub"](%self)
  %w : Tensor = prim::GetAttr[name="weight"](%sub)
  %t : bool = prim::GetAttr[name="training"](%self)
  %y : Tensor = prim::If(%t)
    block0():
      %p : float = prim::Constant[value=0.5]()
      %d : Tensor = aten::dropout(%x, %p, %t)
      -> (%d)
    block1():
      -> (%x)
  %s : int = prim::GetAttr[name="scale"](%self)
  %z : Tensor = aten::mul.Tensor(%y, %w)
  %r : Tensor = aten::mul.Scalar(%z, %s)
  return (%r)
""", _values())
    assert print_graph(g) == print_graph(parse_graph("""
graph(%self : __torch__.Net, %x : Tensor):
  %w : Float(2, device=cpu) = prim::Constant[value=tensor([1.0, 2.0], dtype=torch.float32, shape=[2])]()
  %s : int = prim::Constant[value=3]()
  %z : Tensor = aten::mul.Tensor(%x, %w)
  %r : Tensor = aten::mul.Scalar(%z, %s)
  return (%r)
""", classes=classes))


def test_optional_none_attribute_folds_is_none_checks():
    g, _ = _freeze("""
graph(%self : __torch__.Net, %x : Tensor):
  %sub : __torch__.Sub = prim::GetAttr[name="sub"](%self)
  %b : Tensor? = prim::GetAttr[name="bias"](%sub)
  %none : NoneType = prim::Constant[value=None]()
  %c : bool = prim::isnot(%b, %none)
  %y : Tensor = prim::If(%c)
    block0():
      %bb : Tensor = prim::unchecked_cast(%b)
      %one : int = prim::Constant[value=1]()
      %s : Tensor = aten::add.Tensor(%x, %bb, %one)
      -> (%s)
    block1():
      -> (%x)
  %r : Tensor = aten::neg(%y)
  return (%r)
""", _values(bias=False))
    text = print_graph(g)
    assert "prim::If" not in text and "aten::add" not in text and "GetAttr" not in text, text


def test_written_buffer_and_set_attribute_stay():
    g, _ = _freeze("""
graph(%self : __torch__.Net, %x : Tensor):
  %c : Tensor = prim::GetAttr[name="count"](%self)
  %one : int = prim::Constant[value=1]()
  %c2 : Tensor = aten::add_.Scalar(%c, %one, %one)
  %s : int = prim::GetAttr[name="scale"](%self)
  %s2 : int = prim::add.int(%s, %one)
  prim::SetAttr[name="scale"](%self, %s2)
  %sub : __torch__.Sub = prim::GetAttr[name="sub"](%self)
  %w : Tensor = prim::GetAttr[name="weight"](%sub)
  %r : Tensor = aten::mul.Tensor(%x, %w)
  return (%r)
""", _values())
    text = print_graph(g)
    assert 'prim::GetAttr[name="count"]' in text and "aten::add_" in text
    assert 'prim::GetAttr[name="scale"]' in text and "prim::SetAttr" in text
    assert 'prim::GetAttr[name="weight"]' not in text


def test_preserved_attributes_stay():
    g, _ = _freeze("""
graph(%self : __torch__.Net, %x : Tensor):
  %s : int = prim::GetAttr[name="scale"](%self)
  %r : Tensor = aten::mul.Scalar(%x, %s)
  return (%r)
""", _values(), preserved_attrs=["scale"])
    assert 'prim::GetAttr[name="scale"]' in print_graph(g)


class _ConvBn(torch.nn.Module):
    def __init__(self, conv, bn):
        super().__init__()
        self.conv = conv
        self.bn = bn

    def forward(self, x):
        return torch.relu(self.bn(self.conv(x))) * 2


def _bn(n):
    bn = torch.nn.BatchNorm2d(n) if True else None
    with torch.no_grad():
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-1, 1)
    return bn


@pytest.mark.parametrize("bias", [True, False])
def test_traced_conv_batchnorm_folds(bias):
    import torchkiln

    torch.manual_seed(0)
    model = _ConvBn(torch.nn.Conv2d(3, 8, 3, padding=1, bias=bias), _bn(8)).eval()
    x = torch.randn(2, 3, 10, 10)
    traced = torchkiln.trace(model, (x,))
    g = traced.graph.copy()
    assert "aten::batch_norm" in print_graph(g)
    freeze_graph(g, module_lookup(model))
    text = print_graph(g)
    assert "batch_norm" not in text and "GetAttr" not in text, text
    from torchkiln.interpreter import run_graph

    with torch.no_grad():
        torch.testing.assert_close(run_graph(g, [model, x]), model(x), rtol=1e-5, atol=1e-5)


def test_linear_batchnorm_folds_when_input_is_2d():
    import torchkiln

    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(4, 6)
            self.bn = torch.nn.BatchNorm1d(6)

        def forward(self, x):
            return self.bn(self.fc(x.flatten(1)))

    torch.manual_seed(0)
    model = M().eval()
    with torch.no_grad():
        model.bn.running_mean.uniform_(-1, 1)
        model.bn.running_var.uniform_(0.5, 2)
    x = torch.randn(3, 2, 2)
    g = torchkiln.trace(model, (x,)).graph.copy()
    freeze_graph(g, module_lookup(model))
    text = print_graph(g)
    assert "batch_norm" not in text, text
    from torchkiln.interpreter import run_graph

    with torch.no_grad():
        torch.testing.assert_close(run_graph(g, [model, x]), model(x), rtol=1e-5, atol=1e-5)


def test_tied_weights_count_as_one_tensor():
    shared = torch.tensor([1.0, 2.0])
    values = dict(_values())
    values[("sub", "weight")] = shared
    values[("count",)] = shared
    g, _ = _freeze("""
graph(%self : __torch__.Net, %x : Tensor):
  %c : Tensor = prim::GetAttr[name="count"](%self)
  %one : int = prim::Constant[value=1]()
  %c2 : Tensor = aten::add_.Scalar(%c, %one, %one)
  %sub : __torch__.Sub = prim::GetAttr[name="sub"](%self)
  %w : Tensor = prim::GetAttr[name="weight"](%sub)
  %r : Tensor = aten::mul.Tensor(%x, %w)
  return (%r)
""", values)
    assert 'prim::GetAttr[name="weight"]' in print_graph(g)


def test_a_call_left_after_inlining_keeps_tensors():
    g, _ = _freeze("""
graph(%self : __torch__.Net, %x : Tensor):
  %sub : __torch__.Sub = prim::GetAttr[name="sub"](%self)
  %u : Tensor = prim::CallMethod[name="unknown"](%sub, %x)
  %w : Tensor = prim::GetAttr[name="weight"](%sub)
  %r : Tensor = aten::mul.Tensor(%u, %w)
  return (%r)
""", _values())
    text = print_graph(g)
    assert 'prim::GetAttr[name="weight"]' in text and "prim::CallMethod" in text
