"""`*list` in calls of torch functions and Tensor methods (Note [Starred lists] in calls.py)."""
from typing import List

import pytest
import torch

import torchkiln

from .script_testing import matches_eager


def view_rest(x: torch.Tensor) -> torch.Tensor:
    return x.view(-1, *x.shape[2:])


def permute_middle(x: torch.Tensor) -> torch.Tensor:
    return x.permute(0, *range(2, x.dim()), 1)


def zeros_like_plus(x: torch.Tensor) -> torch.Tensor:
    return torch.zeros(*x.shape, 2)


def permute_dims(x: torch.Tensor, dims: List[int]) -> torch.Tensor:
    return x.permute(*dims)


def new_zeros_last(x: torch.Tensor) -> torch.Tensor:
    return x.new_zeros(*x.shape[:-1], 1)


def two_spreads(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(*x.shape[:1], -1, *x.shape[-1:])


def test_spread_lists_match_eager():
    x = torch.randn(2, 3, 4)
    for fn in (view_rest, permute_middle, zeros_like_plus, new_zeros_last, two_spreads):
        matches_eager(fn, (x,), (torch.randn(5, 1, 2, 3),))
    matches_eager(permute_dims, (x, [2, 0, 1]), (x, [0, 1, 2]))


def test_spread_into_other_callees_is_refused_at_the_star():
    def prints(xs: List[int]) -> None:
        print(*xs)

    with pytest.raises(torchkiln.CompileError, match="can be passed only to a torch function") as e:
        torchkiln.script(prints)
    assert "print(*xs)" in str(e.value) and "^^^" in str(e.value)


def test_spread_of_mixed_element_types_is_refused():
    def mixed(x: torch.Tensor, names: List[str]) -> torch.Tensor:
        return x.view(-1, *names)

    with pytest.raises(torchkiln.CompileError, match="must be str, not int"):
        torchkiln.script(mixed)
