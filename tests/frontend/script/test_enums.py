"""Enum classes in script (Note [Enums] in frontend/script/enums.py)."""
from __future__ import annotations

import enum
from typing import List

import pytest
import torch
import torch.nn as nn

import torchkiln

from .script_testing import check_ir, matches_eager, same


class Color(enum.Enum):
    RED = 1
    GREEN = 2
    BLUE = 4


class Mode(enum.Enum):
    FAST = "fast"
    SLOW = "slow"


class Mixed(enum.Enum):
    A = 1
    B = "b"


def by_color(c: Color, x: torch.Tensor) -> torch.Tensor:
    if c == Color.RED:
        return x * c.value
    if c is Color.GREEN:
        return x + len(c.name)
    if c is not Color.BLUE:
        return x
    return -x


def all_colors() -> List[str]:
    out: List[str] = []
    for c in Color:
        out.append(c.name + str(c.value))
    return out


def default_member(c: Color = Color.BLUE) -> str:
    return c.name


def mode_value(m: Mode) -> str:
    return m.value + "!"


def test_enum_members_values_names_and_comparisons():
    x = torch.randn(3)
    matches_eager(by_color, *[(c, x) for c in Color])
    matches_eager(all_colors, ())
    matches_eager(mode_value, (Mode.FAST,), (Mode.SLOW,))
    s = torchkiln.script(default_member)
    for _ in range(2):
        assert s() == "BLUE" and s(Color.RED) == "RED"


def test_enums_are_their_values_at_run_time():
    s = torchkiln.script(by_color)
    assert str(s.graph).startswith("graph(%c : int, %x : Tensor)")
    assert same(s(1, torch.ones(2)), torch.ones(2))  # RED's value is accepted as RED


class WithMode(nn.Module):
    def __init__(self, mode: Mode):
        super().__init__()
        self.mode = mode
        self.lin = nn.Linear(3, 3)

    def forward(self, x: torch.Tensor, c: Color) -> torch.Tensor:
        y = self.lin(x)
        if self.mode == Mode.FAST:
            y = y * 2
        if c != Color.RED:
            y = y + c.value
        return y


@pytest.mark.parametrize("mode", list(Mode))
def test_module_holding_a_member_saves_and_loads(tmp_path, mode):
    torch.manual_seed(0)
    m = WithMode(mode)
    s = torchkiln.script(m)
    check_ir(s)
    x = torch.randn(2, 3)
    path = str(tmp_path / "m.kiln")
    torchkiln.save(s, path)
    loaded = torchkiln.load(path)
    with torch.no_grad():
        for c in Color:
            expected = m(x, c)
            for _ in range(2):
                assert same(s(x, c), expected)
            assert same(loaded(x, c), expected)


def uses_mixed(m: Mixed) -> int:
    return 1


def test_enum_with_mixed_value_types_is_refused():
    with pytest.raises(torchkiln.CompileError, match="the Enum Mixed cannot be used in script: its members' values must all be ints") as e:
        torchkiln.script(uses_mixed)
    assert "test_enums.py" in str(e.value)


def unknown_member() -> int:
    return Color.PURPLE.value


def test_unknown_member_is_refused():
    with pytest.raises(torchkiln.CompileError, match="the Enum Color has no member 'PURPLE'"):
        torchkiln.script(unknown_member)
