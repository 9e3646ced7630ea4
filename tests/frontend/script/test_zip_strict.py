"""`zip(..., strict=True)` (Note [zip strict] in frontend/script/loops.py)."""
import itertools
from typing import List

import pytest
import torch
import torch.nn as nn

import torchkiln

from .script_testing import EXECUTORS, executor_runs, matches_eager, outcome


def three(a: List[int], b: List[int], c: List[int]) -> int:
    t = 0
    for x, y, z in zip(a, b, c, strict=True):
        t += x * y + z
    return t


def sizes(x: torch.Tensor, y: torch.Tensor) -> int:
    return sum(v for u, v in zip(x.size(), y.size(), strict=True) if u != v)


def with_tuple(a: List[int]) -> List[int]:
    return [p + q for p, q in zip(a, (1, 2, 3), strict=True)]


def not_strict(a: List[int]) -> List[int]:
    return [p + q for p, q in zip(a, (1, 2, 3), strict=False)]


@pytest.mark.parametrize("executor", EXECUTORS)
def test_messages_match_python_for_every_length_combination(executor):
    run = executor_runs(torchkiln.script(three))[executor]
    for la, lb, lc in itertools.product(range(3), repeat=3):
        args = ([1] * la, [2] * lb, [3] * lc)
        assert outcome(run, args) == outcome(three, args), args


def test_equal_lengths_match_eager():
    matches_eager(three, ([1, 2], [3, 4], [5, 6]), ([], [], []))
    matches_eager(sizes, (torch.ones(2, 3), torch.ones(2, 1)))
    matches_eager(with_tuple, ([1, 2, 3],))
    matches_eager(not_strict, ([1, 2, 3, 4],), ([1],))


def test_unequal_lengths_raise():
    for fn, args, message in ((sizes, (torch.ones(2, 3), torch.ones(2)), "zip() argument 2 is shorter than argument 1"),
                              (with_tuple, ([1],), "zip() argument 2 is longer than argument 1")):  # fmt: skip
        s = torchkiln.script(fn)
        with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
            s(*args)


def test_strict_must_be_a_constant():
    def f(a: List[int], s: bool) -> int:
        return len([x for x, y in zip(a, a, strict=s)])

    with pytest.raises(torchkiln.CompileError, match="strict must be True or False") as e:
        torchkiln.script(f)
    assert "zip(a, a, strict=s)" in str(e.value)


def test_gaussian_nll_loss_scripts():
    # torch.nn.functional.gaussian_nll_loss checks shapes with zip(..., strict=True); torch.jit.script refuses it
    m = torchkiln.script(nn.GaussianNLLLoss())
    torch.manual_seed(0)
    inp, tgt = torch.randn(4, 3, 5), torch.randn(4, 3, 5)
    for var in (torch.rand(4, 3, 5), torch.rand(4, 1, 5), torch.rand(4, 3), 0.5):
        torch.testing.assert_close(m(inp, tgt, var), nn.GaussianNLLLoss()(inp, tgt, var))
    with pytest.raises(ValueError, match="var is of incorrect size"):
        m(inp, tgt, torch.rand(2, 2, 2))
