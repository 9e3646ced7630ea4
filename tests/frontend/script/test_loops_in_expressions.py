"""Comprehensions inside expressions that branch: `and`/`or` operands, conditional
expressions, `while` conditions, `assert` conditions.

Each is a loop in memory form inside an expression's `prim::If` (or a loop's
condition block); exit lowering used to skip those, leaving loops without a
continue condition that the executors could not run.
"""
from typing import List

import torch

from .script_testing import matches_eager


def in_and(xs: List[int], c: bool) -> bool:
    return c and sum([x for x in xs if x > 0]) == 1


def in_or(xs: List[int]) -> bool:
    return len(xs) == 0 or max([x for x in xs]) > 2


def in_conditional(xs: List[int], c: bool) -> List[int]:
    return [x * 2 for x in xs] if c else [x for x in xs if x > 1]


def in_while_condition(xs: List[int]) -> int:
    n = 0
    while sum([x + n for x in xs]) < 20:
        n += 1
    return n


def in_assert(xs: List[int]) -> int:
    assert all([x > 0 for x in xs]), "positive"
    return len(xs)


def nested(xs: List[List[int]], c: bool) -> int:
    return sum([sum([y for y in x]) for x in xs]) if c and len([1 for _ in xs]) > 1 else -1


def tensor_generator(x: torch.Tensor, y: torch.Tensor) -> bool:
    # torch.nn.functional.gaussian_nll_loss's check
    return x.ndim == y.ndim and sum(b for a, b in zip(x.size(), y.size()) if a != b) == 1


def test_comprehension_in_and():
    matches_eager(in_and, ([1, 0], True), ([1, 2], True), ([1], False))


def test_comprehension_in_or():
    matches_eager(in_or, ([],), ([1, 3],), ([1],))


def test_comprehension_in_conditional_expression():
    matches_eager(in_conditional, ([1, 2, 3], True), ([1, 2, 3], False))


def test_comprehension_in_while_condition():
    matches_eager(in_while_condition, ([1, 2],), ([5, 5, 5],))


def test_comprehension_in_assert():
    s = matches_eager(in_assert, ([1, 2],))
    import pytest

    with pytest.raises(AssertionError, match="positive"):
        s([1, -1])


def test_nested_comprehensions_in_conditional():
    matches_eager(nested, ([[1, 2], [3]], True), ([[1]], True), ([[1]], False))


def test_generator_over_sizes_in_and():
    matches_eager(tensor_generator, (torch.ones(2, 3), torch.ones(2, 1)), (torch.ones(2, 3), torch.ones(2, 3)), (torch.ones(2), torch.ones(2, 1)))
