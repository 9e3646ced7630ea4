"""ScriptModule / ScriptFunction: the nn.Module contract, calls, errors, executors."""
import copy
from typing import List

import pytest
import torch
import torch.nn as nn

import torchkiln
from torchkiln.api import ScriptFunction, ScriptModule, format_signature, get_executor
from torchkiln.diagnostics import ArgumentError
from torchkiln.ir import types as T
from torchkiln.ir.core import CompilationUnit
from torchkiln.ir.parser import parse_function

SCALE = """\
def forward(self : __torch__.Scale, x : Tensor, flag : bool = True, *, k : float = 2.0) -> Tensor
graph(%self : __torch__.Scale, %x : Tensor, %flag : bool, %k : float):
  %w : Tensor = prim::GetAttr[name="weight"](%self)
  %b : Tensor = prim::GetAttr[name="offset"](%self)
  %y : Tensor = aten::mul.Tensor(%x, %w)
  %t : bool = prim::GetAttr[name="training"](%self)
  %r : Tensor = prim::If(%flag)
    block0():
      %z : Tensor = aten::mul.Scalar(%y, %k)
      -> (%z)
    block1():
      %one : int = prim::Constant[value=1]()
      %z2 : Tensor = aten::add.Tensor(%y, %b, %one)
      -> (%z2)
  return (%r)
"""

DOUBLED = """\
def doubled(self : __torch__.Scale, x : Tensor) -> Tensor
graph(%self : __torch__.Scale, %x : Tensor):
  %two : int = prim::Constant[value=2]()
  %y : Tensor = aten::mul.Scalar(%x, %two)
  return (%y)
"""


def make_module(executor=None):
    unit = CompilationUnit()
    cls = T.ClassType("__torch__.Scale")
    cls.add_attribute("weight", T.TENSOR, "parameter")
    cls.add_attribute("offset", T.TENSOR, "buffer")
    cls.add_attribute("training", T.BOOL)
    cls.add_attribute("name", T.STR)
    unit.add_class(cls)
    classes = {"__torch__.Scale": cls}
    cls.methods["forward"] = parse_function(SCALE, classes)
    cls.methods["doubled"] = parse_function(DOUBLED, classes)
    values = {"weight": nn.Parameter(torch.full((3,), 3.0)), "offset": torch.ones(3), "training": True, "name": "s"}
    return ScriptModule.create(unit, cls, values, executor)


def test_module_contract():
    m = make_module()
    assert isinstance(m, nn.Module)
    assert [n for n, _ in m.named_parameters()] == ["weight"]
    assert list(m.state_dict()) == ["weight", "offset"]
    assert m.name == "s" and m.original_name == "Scale"
    m.load_state_dict({"weight": torch.ones(3), "offset": torch.zeros(3)})
    assert torch.equal(m.weight, torch.ones(3))
    m.eval()
    assert m.training is False
    m.train()
    assert m.training is True
    m.to(torch.float64)
    assert m.weight.dtype == torch.float64 and m.offset.dtype == torch.float64


def test_methods_bind_positional_keyword_and_default_arguments():
    m = make_module()
    x = torch.ones(3)
    assert torch.equal(m(x), torch.full((3,), 6.0))
    assert torch.equal(m(x, False), torch.full((3,), 4.0))
    assert torch.equal(m.forward(x, flag=True, k=1.0), torch.full((3,), 3.0))
    assert torch.equal(m.doubled(x), torch.full((3,), 2.0))
    assert "aten::mul" in str(m.doubled.graph) and m.doubled.schema.name == "doubled"
    assert str(m.graph).startswith("graph(") and m.code.strip()


@pytest.mark.parametrize(
    "args, kwargs, needle",
    [
        ((), {}, "missing argument 'x'"),
        ((torch.ones(3), 3), {}, "argument 'flag'"),
        ((1.0,), {}, "expected a value of type Tensor for argument 'x' but got float"),
        ((torch.ones(3), True, 2.0), {}, "at most 2 positional"),
        ((torch.ones(3),), {"z": 1}, "unexpected keyword argument 'z'"),
        ((torch.ones(3),), {"k": "big"}, "argument 'k'"),
        ((torch.ones(3),), {"x": torch.ones(3)}, "multiple values for argument 'x'"),
    ],
)
def test_wrong_arguments_raise_argument_error_naming_the_signature(args, kwargs, needle):
    m = make_module()
    with pytest.raises(ArgumentError) as info:
        m(*args, **kwargs)
    message = str(info.value)
    assert needle in message
    assert "forward(self, x: Tensor, flag: bool = True, *, k: float = 2.0) -> Tensor" in message
    assert isinstance(info.value, TypeError) and isinstance(info.value, torchkiln.Error)


def test_ints_are_accepted_for_floats():
    m = make_module()
    assert torch.equal(m(torch.ones(3), k=1), torch.full((3,), 3.0))


def test_hooks_run_through_nn_module_call():
    m = make_module()
    seen = []
    handle = m.register_forward_hook(lambda mod, args, out: seen.append(out.sum().item()))
    m(torch.ones(3))
    handle.remove()
    m(torch.ones(3))
    assert seen == [18.0]


def test_methods_cannot_be_overwritten_and_deepcopy_rebinds():
    m = make_module()
    with pytest.raises(AttributeError):
        m.forward = lambda x: x
    clone = copy.deepcopy(m)
    assert clone.forward.owner is clone and clone.weight is not m.weight
    assert clone._kiln_type is m._kiln_type
    with torch.no_grad():
        clone.weight.fill_(1.0)
    assert torch.equal(clone(torch.ones(3)), torch.full((3,), 2.0))
    assert torch.equal(m(torch.ones(3)), torch.full((3,), 6.0))


def test_executor_option_runs_the_reference_interpreter():
    m = make_module(executor="interpreter")
    assert m._kiln_executor is get_executor("interpreter")
    assert torch.equal(m(torch.ones(3), False), torch.full((3,), 4.0))
    m.with_executor("python")
    assert torch.equal(m(torch.ones(3), False), torch.full((3,), 4.0))
    with pytest.raises(torchkiln.Error, match="unknown executor"):
        get_executor("gpu-magic")


def test_script_function_api():
    unit = CompilationUnit()
    fn = parse_function(DOUBLED.replace("%self : __torch__.Scale, ", "").replace("self : __torch__.Scale, ", "").replace("doubled", "twice"))
    fn.name = "__torch__.twice"
    unit.add_function(fn)
    f = ScriptFunction(unit, fn)
    assert f.name == "twice" and f.qualified_name == "__torch__.twice"
    assert torch.equal(f(torch.ones(2)), torch.full((2,), 2.0))
    assert format_signature(fn) == "twice(x: Tensor) -> Tensor"
    with pytest.raises(ArgumentError, match="twice"):
        f(torch.ones(2), torch.ones(2))
    assert "twice" in repr(f)


def test_create_requires_every_attribute():
    unit = CompilationUnit()
    cls = T.ClassType("__torch__.Empty")
    cls.add_attribute("weight", T.TENSOR, "parameter")
    with pytest.raises(torchkiln.Error, match="weight"):
        ScriptModule.create(unit, cls, {})
    with pytest.raises(torchkiln.Error):
        ScriptModule()


def test_freeze_and_optimize_for_inference_of_a_trace():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3, padding=1)
            self.bn = nn.BatchNorm2d(8)

        def forward(self, x):
            return torch.relu(self.bn(self.conv(x))) * 2

    torch.manual_seed(0)
    model = Block().eval()
    with torch.no_grad():
        model.bn.running_mean.uniform_(-1, 1)
        model.bn.running_var.uniform_(0.5, 2)
    traced = torchkiln.trace(model, torch.randn(1, 3, 8, 8))
    frozen = torchkiln.freeze(traced)
    fast = torchkiln.optimize_for_inference(traced)
    assert "batch_norm" not in str(frozen.graph) and "GetAttr" not in str(frozen.graph)
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(frozen(x), model(x), rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(fast(x), model(x), rtol=1e-4, atol=1e-4)
    assert "batch_norm" in str(traced.graph), "the original is unchanged"
    with pytest.raises(torchkiln.Error, match="eval"):
        torchkiln.freeze(traced.train())
    with pytest.raises(torchkiln.Error, match="ScriptModule"):
        torchkiln.freeze(model)


def test_public_api_names():
    for name in ["script", "trace", "trace_module", "save", "load", "ignore", "unused", "export", "interface", "Final",
                 "annotate", "is_scripting", "is_tracing", "script_if_tracing", "fork", "wait", "freeze",
                 "optimize_for_inference", "Error", "CompileError", "ArchiveError", "TracerWarning", "ScriptModule",
                 "ScriptFunction"]:  # fmt: skip
        assert hasattr(torchkiln, name), name
    fut = torchkiln.fork(lambda a, b: a + b, 1, 2)
    assert torchkiln.wait(fut) == 3
    assert torchkiln.ignore is torch.jit.ignore


class _Scale(nn.Module):
    def __init__(self, k: float):
        super().__init__()
        self.k = k

    def forward(self, x):
        return x * self.k


class _Shift(nn.Module):
    def forward(self, x):
        return x + 1


class _Holder(nn.Module):
    def __init__(self):
        super().__init__()
        self.sub = _Scale(2.0)
        self.bias = 0.5
        self.names: List[str] = ["a"]

    def forward(self, x):
        return self.sub(x) + self.bias + len(self.names)


def test_attribute_assignment_is_type_checked():
    m = torchkiln.script(_Holder())
    x = torch.ones(2)
    assert torch.equal(m(x), torch.full((2,), 3.5))
    m.bias = 1  # an int where a float is declared, as in Python
    m.names = ["a", "b"]
    m.sub = torchkiln.script(_Scale(3.0))  # the same compiled class: its state is used
    m.sub.k = 4.0
    assert torch.equal(m(x), torch.full((2,), 7.0))
    with pytest.raises(torchkiln.Error, match=r"cannot assign a str to attribute 'bias' of .*_Holder: its type is float"):
        m.bias = "high"
    with pytest.raises(torchkiln.Error, match=r"cannot assign a list\[int\] to attribute 'names'"):
        m.names = [1, 2]
    with pytest.raises(torchkiln.Error, match=r"cannot assign a ScriptModule of class .*_Shift to 'sub' of .*_Holder: .*script the parent"):
        m.sub = torchkiln.script(_Shift())
    with pytest.raises(torchkiln.Error, match=r"cannot assign a _Scale to 'sub'"):
        m.sub = _Scale(1.0)  # a plain nn.Module: not compiled
    assert torch.equal(m(x), torch.full((2,), 7.0))  # the refused assignments changed nothing


class _Containers(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(3, 3), nn.Linear(3, 3)])
        self.acts = nn.ModuleDict({"relu": nn.ReLU(), "tanh": nn.Tanh()})
        self.empty = nn.Sequential()

    def forward(self, x):
        for layer in self.layers:
            x = self.acts["relu"](layer(x))
        return self.empty(x)


def test_containers_index_len_and_iterate_like_torch_jit(tmp_path):
    torch.manual_seed(0)
    seq = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2)).eval()
    x = torch.randn(2, 4)
    scripted = torchkiln.script(seq)
    scripted.save(str(tmp_path / "seq.pt"))
    for m in (scripted, torchkiln.trace(seq, (x,)), torchkiln.load(str(tmp_path / "seq.pt"))):
        assert len(m) == 3 and bool(m)
        assert [c.original_name for c in m] == ["Linear", "ReLU", "Linear"]
        assert m[-1] is m[2] and isinstance(m[0], ScriptModule)
        with torch.no_grad():
            torch.testing.assert_close(m[0](x), seq[0](x))
            torch.testing.assert_close(m[1:](seq[0](x)), seq[1:](seq[0](x)))
        assert isinstance(m[1:], nn.Sequential) and len(m[1:]) == 2
        with pytest.raises(IndexError, match="out of range"):
            m[3]
        with pytest.raises(TypeError, match="integers or slices"):
            m["0"]

    holder = torchkiln.script(_Containers())
    assert len(holder.layers) == 2 and holder.layers[1] is list(holder.layers)[1]
    assert isinstance(holder.layers[0:1], nn.ModuleList)
    assert list(holder.acts) == ["relu", "tanh"] and "tanh" in holder.acts and "gelu" not in holder.acts
    assert holder.acts["tanh"].original_name == "Tanh" and len(holder.acts) == 2
    with pytest.raises(KeyError):
        holder.acts["gelu"]
    assert not holder.empty and len(holder.empty) == 0  # as an empty nn.Sequential
    assert bool(holder)  # not a container: always true
    with pytest.raises(TypeError):
        len(holder)
    copied = copy.deepcopy(holder)
    assert len(copied.layers) == 2 and copied.acts["relu"].original_name == "ReLU"


def test_second_class_type_of_a_class_keeps_its_original_name():
    # TorchScript's naming: `...container.___torch_mangle_1.Sequential`, so `original_name` is the class's.
    a = torchkiln.script(nn.Sequential(nn.Linear(2, 2)))
    b = torchkiln.script(nn.Sequential(nn.Linear(2, 3), nn.ReLU()))
    assert a._kiln_type is not b._kiln_type and a._kiln_type.name != b._kiln_type.name
    assert a.original_name == b.original_name == "Sequential"
    assert repr(b).startswith("Sequential(")


def test_instances_of_one_class_share_each_methods_argument_binder():
    # Note [Shared binders]: a binder is derived once per function (and executor kind).
    class Block(nn.Module):
        def forward(self, x: torch.Tensor, k: int = 2) -> torch.Tensor:
            return x * k

    class Stack(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = Block(), Block()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.b(self.a(x))

    s = torchkiln.script(Stack())
    assert s.a.forward._binder is s.b.forward._binder
    assert s.a.forward._module is s.a and s.b.forward._module is s.b
    x = torch.ones(2)
    assert torch.equal(s.a(x, k=3), x * 3) and torch.equal(s.b(x), x * 2)
    with pytest.raises(ArgumentError, match="expected a value of type int for argument 'k'"):
        s.b(x, "3")
    from torchkiln.api import _binder

    fn = s.a.forward._fn  # another executor kind (the generated Python checks container items): its own binder
    assert _binder(fn, True, True) is not s.a.forward._binder and _binder(fn, True, True) is _binder(fn, True, True)
