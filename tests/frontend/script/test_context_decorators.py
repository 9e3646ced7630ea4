"""Functions and methods decorated with @torch.no_grad() / @torch.enable_grad() /
@torch.set_grad_enabled(b) compile: their body runs in that mode (Note [Context decorators]).
TorchScript refuses them (torch's wrapper takes *args)."""

import pytest
import torch
import torch.nn as nn

import torchkiln
from torchkiln.api import ScriptFunction

from .script_testing import EXECUTORS, matches_eager, run_fresh
from .test_errors import line_of


@torch.no_grad()
def no_grad_fn(x, w):
    y = x * w
    if y.sum() > 0:
        return y * 2  # an early return still restores the mode
    return y


@torch.no_grad
def no_grad_bare(x, w):
    return x * w


@torch.set_grad_enabled(False)
def grad_off(x, w):
    return x @ w


@torch.enable_grad()
def grad_on(x, w):
    return x * w


def calls_decorated(x, w):
    return no_grad_fn(x, w) + grad_on(x, w)


@pytest.mark.parametrize("fn", [no_grad_fn, no_grad_bare, grad_off, grad_on, calls_decorated], ids=lambda f: f.__name__)
@pytest.mark.parametrize("outer_grad", [True, False])
def test_decorated_functions_run_in_their_mode(fn, outer_grad):
    w = torch.randn(3, requires_grad=True)
    inputs = [(torch.randn(3), w), (-torch.ones(3), w)]
    with torch.set_grad_enabled(outer_grad):
        matches_eager(fn, *inputs)
        s = torchkiln.script(fn)
        for executor in EXECUTORS:
            run = ScriptFunction(s._kiln_unit, s._kiln_fn, executor=executor)
            for x, w_ in inputs:
                got, want = run(x, w_), fn(x, w_)
                assert got.requires_grad == want.requires_grad, (executor, fn.__name__)
                assert torch.is_grad_enabled() == outer_grad  # restored after the call


class Decorated(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 4)

    @torch.no_grad()
    def forward(self, x):
        y = self.lin(x)
        if y.sum() > 0:
            return y * 2
        return y

    @torch.jit.export
    @torch.enable_grad()
    def with_grad(self, x):
        return self.lin(x)


def test_decorated_methods_save_and_load(tmp_path):
    torch.manual_seed(0)
    m = Decorated()
    s = torchkiln.script(m)
    x = torch.randn(2, 4)
    assert torch.allclose(s(x), m(x)) and not s(x).requires_grad
    with torch.no_grad():
        assert s.with_grad(x).requires_grad
    assert "_set_grad_enabled(False)" in s.code
    path = str(tmp_path / "decorated.pt")
    torchkiln.save(s, path)
    out = run_fresh(
        f"""
        import torch, torchkiln
        m = torchkiln.load({path!r})
        x = torch.ones(2, 4)
        y = m(x)
        with torch.no_grad():
            z = m.with_grad(x)
        print(y.requires_grad, z.requires_grad, torch.is_grad_enabled())
        """
    ).split()
    assert out == ["False", "True", "True"], out


@torch.inference_mode()
def inference(x):
    return x * 2


def test_other_decorators_are_refused_at_the_decorator():
    with pytest.raises(torchkiln.CompileError) as info:
        torchkiln.script(inference)
    message = str(info.value)
    assert "the decorator inference_mode on `inference` is not supported in script" in message, message
    assert f'line {line_of(inference, "@torch.inference_mode()")},' in message and "^" in message, message
