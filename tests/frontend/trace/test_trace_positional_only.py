"""Traced functions and modules keep their parameters declared before `/`: naming one is an
ArgumentError from every executor and after save/load, as Python refuses it."""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn

import torchkiln
from torchkiln import ArgumentError


def sub(x, y, /):
    return x - y


def mixed(x, /, y):
    return x * y


class Scaled(nn.Module):
    def forward(self, x, /, y):
        return x * 2 + y


class Outer(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = Scaled()

    def forward(self, x):
        return self.inner(x, x)


@pytest.mark.parametrize("executor", ["python", "interpreter", "cpp"])
def test_traced_function_refuses_a_named_positional_only_parameter(executor):
    a, b = torch.randn(3), torch.randn(3)
    t = torchkiln.trace(sub, (a, b), executor=executor)
    assert torch.equal(t(a, b), a - b)
    with pytest.raises(ArgumentError, match="positional-only arguments passed as keyword arguments: 'y'"):
        t(a, y=b)
    m = torchkiln.trace(mixed, (a, b), executor=executor)
    assert torch.equal(m(a, y=b), a * b)  # after `/`: by keyword is fine
    with pytest.raises(ArgumentError, match="'x'"):
        m(x=a, y=b)


def test_traced_module_keeps_positional_only_after_save_and_load(tmp_path):
    x, y = torch.randn(2), torch.randn(2)
    t = torchkiln.trace(Scaled(), (x, y))
    assert [a.positional_only for a in t._kiln_type.methods["forward"].args] == [True, True, False]
    path = str(tmp_path / "scaled.pt")
    torchkiln.save(t, path)
    loaded = torchkiln.load(path)
    for m in (t, loaded):
        assert torch.equal(m(x, y=y), x * 2 + y)
        with pytest.raises(ArgumentError, match="'x'"):
            m(x=x, y=y)


def test_traced_submodule_records_its_own_signature():
    t = torchkiln.trace(Outer(), (torch.randn(2),))
    inner = t.inner._kiln_type.methods["forward"]
    assert [(a.name, a.positional_only) for a in inner.args] == [("self", True), ("x", True), ("y", False)]
