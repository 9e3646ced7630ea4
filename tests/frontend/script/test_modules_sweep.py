"""Module features a sweep of 139 scripted modules against eager and torch.jit found wrong."""
from __future__ import annotations

from typing import Dict, List

import torch
import torch.nn as nn

import torchkiln

from .script_testing import check_ir, same


def _compare(module: nn.Module, *inputs, calls: int = 3):
    compiled = torchkiln.script(module)
    check_ir(compiled)
    for _ in range(calls):
        assert same(compiled(*inputs), module(*inputs))
    return compiled


class SumsParameterList(nn.Module):
    def __init__(self):
        super().__init__()
        self.ps = nn.ParameterList([nn.Parameter(torch.full((4,), float(i + 1))) for i in range(3)])

    def forward(self, x):
        for i, p in enumerate(self.ps):
            x = x + p * i
        for p in self.ps:
            x = x + p
        return x


class ReadsParameterDict(nn.Module):
    def __init__(self):
        super().__init__()
        self.pd = nn.ParameterDict({"a": nn.Parameter(torch.ones(2)), "b": nn.Parameter(torch.full((2,), 2.0))})

    def forward(self, x):
        y = x * self.pd["a"]
        for k, p in self.pd.items():
            y = y + p
        return y + len(self.pd)


class ChecksModuleDict(nn.Module):
    def __init__(self):
        super().__init__()
        self.parts = nn.ModuleDict({"enc": nn.Linear(2, 2)})

    def forward(self, x):
        if "enc" in self.parts:
            x = self.parts["enc"](x)
        if "dec" not in self.parts:
            x = x * 2
        return x


def test_parameter_containers_and_module_dict_membership():
    torch.manual_seed(0)
    x = torch.randn(4)
    compiled = _compare(SumsParameterList(), x)
    compiled(x).sum().backward()  # the parameters are used: they get gradients
    assert all(p.grad is not None for p in compiled.parameters())
    _compare(ReadsParameterDict(), torch.randn(2))
    _compare(ChecksModuleDict(), torch.randn(3, 2))


class NestedLists(nn.Module):
    def __init__(self):
        super().__init__()
        self.ll = [[1, 2], [3]]
        self.groups: Dict[str, List[int]] = {"a": []}
        self.history: List[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.ll[0].append(9)
        self.groups["a"].append(1)
        self.history.append(len(self.history))
        return x + sum(self.ll[0]) + len(self.groups["a"])


def test_mutated_nested_containers_reach_python_and_archives(tmp_path):
    eager = NestedLists()
    m = torchkiln.script(NestedLists())
    history = m.history
    x = torch.zeros(1)
    for _ in range(3):
        assert same(m(x), eager(x))
    assert m.ll == eager.ll and m.groups == eager.groups
    assert history is m.history and history == [0, 1, 2]  # the same list object, as in eager
    torchkiln.save(m, str(tmp_path / "n.kiln"))
    loaded = torchkiln.load(str(tmp_path / "n.kiln"))
    assert loaded.ll == eager.ll and loaded.groups == eager.groups


class WithProperty(nn.Module):
    def __init__(self):
        super().__init__()
        self.k = 3

    @property
    def doubled(self) -> int:
        return self.k * 2

    def forward(self, x):
        return x * self.doubled


class NonPersistent(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("kept", torch.ones(2))
        self.register_buffer("scratch", torch.zeros(2), persistent=False)

    def forward(self, x):
        return x + self.kept + self.scratch


def test_properties_and_non_persistent_buffers():
    m = _compare(WithProperty(), torch.ones(2))
    assert m.doubled == 6
    eager = NonPersistent()
    s = _compare(eager, torch.ones(2))
    assert list(s.state_dict()) == list(eager.state_dict()) == ["kept"]
    s.load_state_dict(eager.state_dict())


class AnnotatedInInit(nn.Module):
    def __init__(self):
        super().__init__()
        self.seen: List[str] = []  # an empty list: only the annotation in __init__ gives its type
        self.table: Dict[str, List[int]] = {"a": []}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append("x")
        self.table["a"].append(len(self.seen))
        return x + len(self.table["a"])


def test_attribute_types_annotated_in_init():
    eager = AnnotatedInInit()
    m = torchkiln.script(AnnotatedInInit())
    for _ in range(3):
        assert same(m(torch.zeros(1)), eager(torch.zeros(1)))
    assert m.seen == eager.seen == ["x", "x", "x"] and m.table == eager.table
