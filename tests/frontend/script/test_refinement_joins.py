"""Note [Refinement joins] (control.py): a variable only narrowed inside an `if` keeps its
binding from before the `if`; narrowed on the path that goes on past an exiting branch, it
is narrowed again after the `if`. Results against eager Python on inputs reaching every
branch, and the emitted memory form (no stores or loads for a variable only narrowed)."""
from typing import List, Optional, Union

import pytest
import torch

import torchkiln
from torchkiln.frontend.script import exits

from .script_testing import matches_eager, outcome, scripted


def narrowed_after_raise(x: int, m: Optional[int]) -> int:
    if m is None:
        raise ValueError("m is required")
    return x * m


def narrowed_in_nested_if(a: Optional[int], b: Optional[int]) -> int:
    if a is not None:
        if b is None:
            raise ValueError("b is required with a")
        r = a + b
    else:
        r = 0
    if b is not None:  # Optional again after the outer `if`
        r += b
    return r


def refined_then_assigned(m: Optional[int]) -> int:
    if m is not None:
        m = m + 1
    else:
        m = 0
    return m * 2


def read_in_loops_after_refining(x: int, m: Optional[int], n: int) -> int:
    if m is not None:
        x = x + m
    i = 0
    while i < n:  # reads of `m` in a loop body are loads: the refinement's stores are made
        if m is not None:
            x += m
        i += 1
    for _ in range(n):
        if m is None:
            continue
        x = x * m
    return x


def union_narrowed_both_ways(v: Union[int, float]) -> float:
    if isinstance(v, int):
        y = float(v + 1)
    else:
        y = v * 2.0
    if isinstance(v, float):  # `v` is the Union again here
        y += v
    return y


def list_narrowed_after_break(xs: List[Optional[int]]) -> int:
    total = 0
    for x in xs:
        if x is None:
            break
        total += x
    return total


@pytest.mark.parametrize(
    "fn, inputs",
    [
        (narrowed_after_raise, [(2, 5), (2, None)]),
        (narrowed_in_nested_if, [(1, 2), (None, 2), (None, None), (1, None)]),
        (refined_then_assigned, [(3,), (None,)]),
        (read_in_loops_after_refining, [(1, 2, 3), (1, None, 3), (1, 2, 0)]),
        (union_narrowed_both_ways, [(3,), (2.5,)]),
        (list_narrowed_after_break, [([1, 2, None, 4],), ([1, 2],), ([],)]),
    ],
)
def test_matches_eager(fn, inputs):
    s = scripted(fn)
    for args in inputs:
        expected = outcome(fn, args)
        if isinstance(expected, str):  # eager raised: the same exception and message
            assert outcome(s, args) == expected
        else:
            matches_eager(fn, args)


def _memory_form(fn) -> str:
    """The frontend's graph before exit lowering (stores and loads still nodes)."""
    seen = []
    original = exits.run

    def keep(graph, ret):
        seen.append(str(graph))
        return original(graph, ret)

    exits.run = keep
    try:
        torchkiln.script(fn)
    finally:
        exits.run = original
    return seen[0]


def _only_narrowed(x: torch.Tensor, m: Optional[torch.Tensor]) -> torch.Tensor:
    if m is not None:
        x = x + m
    if m is not None:
        x = x * m
    return x


def test_a_variable_only_narrowed_is_neither_stored_nor_loaded():
    text = _memory_form(_only_narrowed)  # compiled here only (a compiled function is not compiled again)
    assert 'name="m"' not in text
    assert text.count("prim::unchecked_cast") == 2
    matches_eager(_only_narrowed, (torch.ones(2), torch.full((2,), 3.0)), (torch.ones(2), None))
