"""`for i in range(N): self.layers[i](x)` / `getattr(self, f"layer{i}")`: loops over constant
ranges whose body picks a submodule by the index are unrolled (Note [Ranges that index modules])."""
import pytest
import torch
import torch.nn as nn

import torchkiln

from .test_errors import line_of


class Indexed(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 4)])
        self.scales = nn.ParameterList([nn.Parameter(torch.full((4,), float(k + 1))) for k in range(3)])
        self.n = 3

    def forward(self, x):
        for i in range(len(self.layers)):
            x = self.layers[i](x) * self.scales[i]
        for i in range(1, 3, 1):
            if i == 2:
                break
            x = x + self.layers[-i](x)
        return x


class Named(nn.Module):
    def __init__(self):
        super().__init__()
        for k in range(3):
            setattr(self, f"block{k}", nn.Linear(4, 4))

    def forward(self, x):
        out = []
        for k in range(3):
            out.append(getattr(self, f"block{k}")(x))
        return torch.stack(out)


class Nested(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = Indexed()

    def forward(self, x):
        total = torch.zeros_like(x)
        for i in range(2):
            total = total + self.inner.layers[i * 2](x)
        return total


@pytest.mark.parametrize("cls", [Indexed, Named, Nested], ids=lambda c: c.__name__)
def test_unrolled_loops_match_eager_and_survive_save_load(cls, tmp_path):
    torch.manual_seed(0)
    m = cls().eval()
    s = torchkiln.script(m)
    x = torch.randn(2, 4)
    assert torch.allclose(s(x), m(x))
    path = str(tmp_path / "m.pt")
    torchkiln.save(s, path)
    assert torch.allclose(torchkiln.load(path)(x), m(x))
    assert "prim::Loop" not in str(s.graph)  # unrolled


class PlainRange(nn.Module):
    def forward(self, x, n: int):
        for i in range(4):
            x = x + i  # nothing indexed by i: stays a loop
        return x


def test_a_range_that_indexes_nothing_stays_a_loop():
    s = torchkiln.script(PlainRange())
    assert "prim::Loop" in str(s.graph)
    assert torch.equal(s(torch.zeros(2), 1), PlainRange()(torch.zeros(2), 1))


class RunTimeBound(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(4, 4) for _ in range(2)])

    def forward(self, x, n: int):
        for i in range(n):
            x = self.layers[i](x)
        return x


def test_a_run_time_bound_is_still_refused_with_a_hint():
    with pytest.raises(torchkiln.CompileError) as info:
        torchkiln.script(RunTimeBound())
    message = str(info.value)
    assert "a module container must be indexed with a constant int" in message, message
    assert f"line {line_of(RunTimeBound.forward, 'self.layers[i](x)')}," in message and "^" in message, message
