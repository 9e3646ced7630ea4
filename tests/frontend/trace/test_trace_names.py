"""Class names of traced modules are unique in the process (frontend/names.py)."""
from __future__ import annotations

import torch
import torch.nn as nn

import torchkiln


class Lin(nn.Module):
    def __init__(self):
        super().__init__()
        self.l = nn.Linear(3, 3)

    def forward(self, x):
        return self.l(x)


class Holder(nn.Module):
    def __init__(self, a, b):
        super().__init__()
        self.a = a
        self.b = b

    def forward(self, x):
        return self.b(self.a(x))


def test_modules_traced_apart_are_saved_together(tmp_path):
    torch.manual_seed(0)
    x = torch.randn(2, 3)
    a, b = Lin(), Lin()
    ta, tb = torchkiln.trace(a, (x,)), torchkiln.trace(b, (x,))
    assert ta._kiln_type.name != tb._kiln_type.name and ta.original_name == tb.original_name == "Lin"
    expected = b(a(x))
    for holder in (torchkiln.script(Holder(ta, tb)), torchkiln.trace(Holder(ta, tb), (x,))):
        assert torch.equal(holder(x), expected)
        path = str(tmp_path / "h.kiln")
        torchkiln.save(holder, path)
        assert torch.equal(torchkiln.load(path)(x), expected)
