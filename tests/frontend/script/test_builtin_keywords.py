"""Builtins with the keyword arguments Python gives them: min/max default=, pow(b, e, mod),
str.split/rsplit(sep=, maxsplit=), print(sep=)."""
import itertools
from typing import List, Optional

import pytest
import torch

import torchkiln

from .script_testing import EXECUTORS, executor_runs, matches_eager, outcome


def _pow_mod(a: int, b: int, m: int) -> int:
    return pow(a, b, m)


def _pow_none(a: int, b: int) -> int:
    return pow(a, b, None)


def _max_default(xs: List[int]) -> Optional[int]:
    return max(xs, default=None)


def _min_default(xs: List[float]) -> float:
    return min(xs, default=-1.0)


def _splits(s: str) -> List[str]:
    return s.split(maxsplit=1) + s.rsplit(sep=",") + s.split(",", maxsplit=0) + s.rsplit(",", 1)


def _printed(x: torch.Tensor, n: int) -> int:
    print(x, n, "z", sep=" | ")
    print(n, sep="", end="\n")
    return n


@pytest.mark.parametrize("executor", EXECUTORS)
def test_pow_with_modulus_matches_python(executor):
    run = executor_runs(torchkiln.script(_pow_mod))[executor]
    for args in itertools.product([-7, -1, 0, 2, 3, 10], [-2, -1, 0, 1, 5], [-5, -1, 0, 1, 7, 12]):
        assert outcome(run, args) == outcome(_pow_mod, args), args
    matches_eager(_pow_none, (2, 10), (3, 0))


def test_min_max_default():
    matches_eager(_max_default, ([],), ([3, 9, 1],))
    matches_eager(_min_default, ([],), ([2.5, 1.5],))


def test_min_default_with_several_arguments_is_refused():
    def bad(a: int, b: int) -> int:
        return min(a, b, default=0)

    with pytest.raises(torchkiln.CompileError, match="takes default= with one list"):
        torchkiln.script(bad)


def test_split_keywords():
    matches_eager(_splits, ("a b,c d",), ("",), ("x,y,z",))

    def repeated(s: str) -> List[str]:
        return s.split(",", sep=",")

    with pytest.raises(torchkiln.CompileError, match="unexpected or repeated keyword argument 'sep'"):
        torchkiln.script(repeated)


def test_print_sep(capfd):
    s = torchkiln.script(_printed).with_executor("python")
    _printed(torch.ones(2), 3)
    eager = capfd.readouterr().out
    s(torch.ones(2), 3)
    assert capfd.readouterr().out == eager == "tensor([1., 1.]) | 3 | z\n3\n"


def test_print_end_other_than_newline_is_refused():
    def bad(n: int) -> None:
        print(n, end="")

    with pytest.raises(torchkiln.CompileError, match="end= other than") as e:
        torchkiln.script(bad)
    assert 'print(n, end="")' in str(e.value)
