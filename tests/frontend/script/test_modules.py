"""Modules: nn layers compiled from their own source, module features, type sharing."""
from typing import List, Optional

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import torchkiln
from torchkiln.ir.verify import verify
from torchkiln import ops



def close(a, b):
    if isinstance(a, torch.Tensor):
        torch.testing.assert_close(a, b)
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            close(x, y)
    else:
        assert a == b, (a, b)


def check_module(m: nn.Module, *input_sets):
    s = torchkiln.script(m)
    s.with_executor("python")  # the C++ runtime has its own sweep (tests/csrc)
    for cls in s._kiln_unit.classes.values():
        for method in cls.methods.values():
            verify(method.graph, ops.op_checker)
    for inputs in input_sets:
        with torch.no_grad():
            close(s(*inputs), m(*inputs))
    return s


LAYERS = {
    "Linear": (lambda: nn.Linear(4, 3), lambda: (torch.randn(2, 4),)),
    "LinearNoBias": (lambda: nn.Linear(4, 3, bias=False), lambda: (torch.randn(2, 4),)),
    "Conv2d": (lambda: nn.Conv2d(3, 4, 3, padding=1, stride=2), lambda: (torch.randn(1, 3, 8, 8),)),
    "Conv2dReflect": (lambda: nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect"), lambda: (torch.randn(1, 3, 8, 8),)),
    "Conv1d": (lambda: nn.Conv1d(3, 4, 3), lambda: (torch.randn(1, 3, 8),)),
    "ConvTranspose2d": (lambda: nn.ConvTranspose2d(3, 2, 3, stride=2), lambda: (torch.randn(1, 3, 5, 5),)),
    "BatchNorm2d": (lambda: nn.BatchNorm2d(3).eval(), lambda: (torch.randn(2, 3, 4, 4),)),
    "BatchNorm1dTrain": (lambda: nn.BatchNorm1d(3), lambda: (torch.randn(4, 3),)),
    "LayerNorm": (lambda: nn.LayerNorm(4), lambda: (torch.randn(2, 4),)),
    "GroupNorm": (lambda: nn.GroupNorm(2, 4), lambda: (torch.randn(2, 4, 3),)),
    "Embedding": (lambda: nn.Embedding(10, 3), lambda: (torch.tensor([1, 2, 3]),)),
    "DropoutEval": (lambda: nn.Dropout(0.3).eval(), lambda: (torch.randn(5),)),
    "ReLU": (lambda: nn.ReLU(), lambda: (torch.randn(5),)),
    "GELU": (lambda: nn.GELU(), lambda: (torch.randn(5),)),
    "GELUTanh": (lambda: nn.GELU("tanh"), lambda: (torch.randn(5),)),
    "SiLU": (lambda: nn.SiLU(), lambda: (torch.randn(5),)),
    "Tanh": (lambda: nn.Tanh(), lambda: (torch.randn(5),)),
    "Sigmoid": (lambda: nn.Sigmoid(), lambda: (torch.randn(5),)),
    "LeakyReLU": (lambda: nn.LeakyReLU(0.2), lambda: (torch.randn(5),)),
    "Hardtanh": (lambda: nn.Hardtanh(), lambda: (torch.randn(5),)),
    "ELU": (lambda: nn.ELU(), lambda: (torch.randn(5),)),
    "Softmax": (lambda: nn.Softmax(dim=1), lambda: (torch.randn(2, 5),)),
    "LogSoftmax": (lambda: nn.LogSoftmax(dim=1), lambda: (torch.randn(2, 5),)),
    "MaxPool2d": (lambda: nn.MaxPool2d(2), lambda: (torch.randn(1, 2, 4, 4),)),
    "MaxPool2dIndices": (lambda: nn.MaxPool2d(2, return_indices=True), lambda: (torch.randn(1, 2, 4, 4),)),
    "AvgPool2d": (lambda: nn.AvgPool2d(2), lambda: (torch.randn(1, 2, 4, 4),)),
    "AdaptiveAvgPool2d": (lambda: nn.AdaptiveAvgPool2d((1, 1)), lambda: (torch.randn(1, 2, 4, 4),)),
    "Flatten": (lambda: nn.Flatten(), lambda: (torch.randn(2, 3, 4),)),
    "Identity": (lambda: nn.Identity(), lambda: (torch.randn(2),)),
    "Sequential": (lambda: nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2)), lambda: (torch.randn(2, 4),)),
    "LSTM": (lambda: nn.LSTM(4, 5, num_layers=2, batch_first=True), lambda: (torch.randn(2, 3, 4),)),
    "GRU": (lambda: nn.GRU(4, 5), lambda: (torch.randn(3, 2, 4),)),
    "MultiheadAttention": (lambda: nn.MultiheadAttention(8, 2).eval(), lambda: (torch.randn(3, 2, 8), torch.randn(3, 2, 8), torch.randn(3, 2, 8))),
    "TransformerEncoderLayer": (lambda: nn.TransformerEncoderLayer(8, 2, 16).eval(), lambda: (torch.randn(3, 2, 8),)),
    "TransformerDecoderLayer": (
        lambda: nn.TransformerDecoderLayer(8, 2, 16, batch_first=True).eval(),
        lambda: (torch.randn(2, 3, 8), torch.randn(2, 4, 8)),
    ),
    "TransformerDecoderLayerNormFirst": (
        lambda: nn.TransformerDecoderLayer(8, 2, 16, norm_first=True, activation="gelu").eval(),
        lambda: (torch.randn(3, 2, 8), torch.randn(4, 2, 8)),
    ),
    "Bilinear": (lambda: nn.Bilinear(3, 4, 2), lambda: (torch.randn(5, 3), torch.randn(5, 4))),
    "Conv3d": (lambda: nn.Conv3d(2, 3, 3, padding=1), lambda: (torch.randn(1, 2, 4, 4, 4),)),
    "Hardswish": (lambda: nn.Hardswish(), lambda: (torch.randn(7) * 4,)),
    "BatchNorm1dEval": (lambda: nn.BatchNorm1d(3).eval(), lambda: (torch.randn(4, 3, 5),)),
    "MaxPool1d": (lambda: nn.MaxPool1d(2), lambda: (torch.randn(1, 2, 6),)),
    "AvgPool1d": (lambda: nn.AvgPool1d(3, stride=2), lambda: (torch.randn(1, 2, 7),)),
    "TransformerEncoder": (
        lambda: nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), 2, enable_nested_tensor=False).eval(),
        lambda: (torch.randn(2, 3, 8),),
    ),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_nn_layer_matches_eager(name):
    torch.manual_seed(0)
    make, inputs = LAYERS[name]
    check_module(make(), inputs())


class Features(nn.Module):
    __constants__ = ["scale"]
    offset: torch.jit.Final[int]

    def __init__(self):
        super().__init__()
        self.scale = 2.0
        self.offset = 3
        self.names: List[str] = ["a", "b"]
        self.table = {"x": 1, "y": 2}
        self.count = 0
        self.layers = nn.ModuleList([nn.Linear(4, 4) for _ in range(3)])
        self.norms = nn.ModuleList([nn.LayerNorm(4) for _ in range(3)])
        self.heads = nn.ModuleDict({"left": nn.Linear(4, 2), "right": nn.Linear(4, 2)})
        self.register_buffer("steps", torch.zeros(1))

    def helper(self, x, k: int = 1):
        return x * self.scale + self.offset * k

    def forward(self, x, which: str = "left", times: int = 1):
        for i, layer in enumerate(self.layers):
            x = self.norms[i](layer(x))
        for layer, norm in zip(self.layers, self.norms):
            x = norm(layer(x)) + x
        x = self.layers[-1](x)
        self.count += 1
        self.steps.add_(1)
        out = self.helper(x, k=times)
        if self.training:
            out = out * 2
        total = 0
        for key, value in self.table.items():
            total += value
        for name, head in self.heads.items():
            if name == which:
                out = out + head(x).sum()
        return out + total + len(self.names) + len(self.layers)


def test_module_features():
    torch.manual_seed(0)
    m = Features()
    s = torchkiln.script(m)
    x = torch.randn(2, 4)
    for training in (True, False):
        m.train(training)
        s.train(training)
        for which in ("left", "right"):
            with torch.no_grad():
                close(s(x, which, 2), m(x, which, 2))
    assert s.count == 4 and m.count == 4
    assert torch.equal(s.steps, m.steps)
    with torch.no_grad():
        close(s(x), m(x))


class Exported(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 3)

    def forward(self, x):
        return self.fc(x)

    @torchkiln.export
    def twice(self, x):
        return self.forward(x) * 2

    @torch.jit.ignore
    def python_only(self, x):
        return x.numpy()  # never compiled

    @torch.jit.unused
    def unused(self, x):
        return x.numpy()

    @torch.jit.export
    def calls_unused(self, x, flag: bool):
        if flag:
            return self.unused(x)
        return x


def test_export_ignore_unused():
    torch.manual_seed(0)
    m = Exported()
    s = torchkiln.script(m)
    x = torch.randn(2, 3)
    with torch.no_grad():
        close(s.twice(x), m.twice(x))
        close(s.calls_unused(x, False), x)
        with pytest.raises(Exception, match="unused"):
            s.calls_unused(x, True)
    assert "python_only" not in s._kiln_type.methods


class UsesIgnored(nn.Module):
    @torch.jit.ignore
    def in_python(self, x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(x.numpy() * 2)

    def forward(self, x):
        return self.in_python(x) + 1


def test_ignored_method_runs_in_python():
    s = torchkiln.script(UsesIgnored())
    assert torch.equal(s(torch.ones(2)), torch.full((2,), 3.0))


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)
        self.bn = nn.BatchNorm2d(c)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x))) + x


def test_identical_submodules_share_one_type():
    net = nn.Sequential(*[Block(4) for _ in range(4)]).eval()
    s = check_module(net, (torch.randn(1, 4, 6, 6),))
    types = {type_.name for type_ in [getattr(s, str(i))._kiln_type for i in range(4)]}
    assert len(types) == 1


class Holder(nn.Module):
    def __init__(self):
        super().__init__()
        self.traced = torch.jit.trace(nn.Linear(2, 2), torch.randn(1, 2)) if False else torchkiln.trace(nn.Linear(2, 2), torch.randn(1, 2))
        self.scripted = torchkiln.script(Block(2).eval())

    def forward(self, x):
        return self.scripted(self.traced(x).view(1, 2, 1, 1).expand(1, 2, 3, 3))


def test_module_holding_traced_and_scripted_submodules():
    torch.manual_seed(0)
    m = Holder().eval()
    s = torchkiln.script(m)
    x = torch.randn(1, 2)
    with torch.no_grad():
        close(s(x), m(x))
    assert s.scripted._kiln_type is m.scripted._kiln_type


@torchkiln.script
def scripted_helper(x, k: int):
    return x * k


def calls_scripted(x):
    return scripted_helper(x, 3) + 1


def test_script_calls_scripted_function():
    s = torchkiln.script(calls_scripted)
    assert torch.equal(s(torch.ones(2)), torch.full((2,), 4.0))


class BadAttr(nn.Module):
    def __init__(self):
        super().__init__()
        self.thing = object()

    def forward(self, x):
        return x + self.thing


def test_unusable_attribute_error_names_the_reason():
    with pytest.raises(torchkiln.CompileError, match="thing.*object has no script type"):
        torchkiln.script(BadAttr())


class WithNoneSub(nn.Module):
    def __init__(self, sub: Optional[nn.Module]):
        super().__init__()
        self.sub = sub

    def forward(self, x):
        if self.sub is not None:
            x = self.sub(x)
        return x


def test_optional_submodule_is_static():
    check_module(WithNoneSub(None), (torch.randn(2, 4),))
    check_module(WithNoneSub(nn.Linear(4, 4)), (torch.randn(2, 4),))


class Scaled(nn.Module):
    __constants__ = ["k"]

    def __init__(self, k: int):
        super().__init__()
        self.k = k

    def forward(self, x):
        return x + 1

    def scale(self, x):
        return x * self.k


class TwoScaled(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = Scaled(2)
        self.b = Scaled(3)

    def forward(self, x):
        return self.a.scale(x) + self.b.scale(x) + self.a(x)


def test_types_shared_on_unread_constants_split_when_a_method_reads_them():
    check_module(TwoScaled(), (torch.ones(2),))


class Cached(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 3)

    def forward(self, x):
        return self.fc(x).relu()

    def extra(self, x):
        return x * 2


class CallsExtra(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = Cached()

    def forward(self, x):
        return self.inner.extra(x)


def test_compile_cache_reuses_types_and_recompiles_when_a_method_is_missing():
    first = torchkiln.script(Cached())
    second = torchkiln.script(Cached())
    assert second._kiln_type is first._kiln_type  # the cached type: nothing compiled again
    x = torch.randn(2, 3)
    with torch.no_grad():
        torch.testing.assert_close(second(x), second.fc(x).relu())
    # `extra` was never compiled on the cached type: this compile starts again without the cache.
    s = check_module(CallsExtra(), (x,))
    assert "extra" in s.inner._kiln_type.methods


class WithProperty(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)

    @property
    def width(self) -> int:
        return self.fc.out_features * 2

    def forward(self, x):
        if hasattr(self, "missing"):
            return x.numpy()  # not compiled: hasattr is decided at compile time
        if hasattr(self, "fc"):
            x = self.fc(x)
        return x * self.width


def test_property_and_hasattr():
    check_module(WithProperty(), (torch.randn(3, 2),))


def test_sequential_subclass_is_a_container():
    # UNet-style `class DoubleConv(nn.Sequential)` with its own __init__: iterated like nn.Sequential
    # (torch.jit.script accepts it); found by tests/csrc/test_model_sweep.py.
    class DoubleConv(nn.Sequential):
        def __init__(self, i: int, o: int):
            super().__init__(nn.Conv2d(i, o, 3, padding=1), nn.ReLU(), nn.Conv2d(o, o, 1))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.block = DoubleConv(2, 3)

        def forward(self, x):
            first = self.block[0](x)
            return self.block(x), first, len(self.block)

    torch.manual_seed(0)
    m = Net().eval()
    x = torch.randn(1, 2, 5, 5)
    s = torchkiln.script(m)
    for executor in ("python", "interpreter", "cpp"):
        close(s.with_executor(executor)(x), m(x))
