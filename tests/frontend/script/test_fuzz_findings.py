"""Programs the differential fuzzer (test_differential_fuzz.py) found script() accepting wrongly or refusing.

Each is compared with eager Python on every executor, including the calls
where Python raises (the same exception class and message).
"""
from __future__ import annotations

import math
from typing import List

import pytest

from .script_testing import EXECUTORS, matches_eager, scripted


def _outcome(fn, *args):
    try:
        return fn(*args)
    except Exception as e:  # noqa: BLE001 - the exception is the outcome compared
        return (type(e), str(e))


def same_outcomes(fn, *input_sets) -> None:
    """Like `matches_eager`, for calls that may raise."""
    from torchkiln.api import ScriptFunction

    s = scripted(fn)
    for name in EXECUTORS:
        run = ScriptFunction(s._kiln_unit, s._kiln_fn, executor=name)
        for args in input_sets:
            assert _outcome(run, *[list(a) if isinstance(a, list) else a for a in args]) == _outcome(fn, *[list(a) if isinstance(a, list) else a for a in args]), (name, args)


# -- a chained comparison stops at the first false link (Note [Chained comparisons]) -----------------


def chain_guards_an_index(n: int, xs: List[int]) -> bool:
    return 0 <= n < len(xs) and 0 < n < xs[n]


def chain_skips_later_operands(n: int, xs: List[int]) -> bool:
    return 0 < n < xs[n]


def chain_skips_calls(n: int, xs: List[int]) -> int:
    k = 0

    def bump() -> int:
        nonlocal k
        k += 1
        return k

    if n < bump() < xs.pop() <= bump():
        return k * 10 + len(xs)
    return k * 100 + len(xs)


def chain_in_a_condition(n: int, s: str) -> int:
    if n < 2 <= ord(s[n]):
        return 1
    return 0


def test_chained_comparisons_short_circuit():
    matches_eager(chain_guards_an_index, (0, []), (5, [1]), (1, [0, 3]), (1, [0, 0]))
    matches_eager(chain_skips_later_operands, (0, []), (-3, [1]), (1, [0, 3]))
    matches_eager(chain_skips_calls, (1, []), (0, [4]), (0, [5, 2]), (0, [1, 0]))
    matches_eager(chain_in_a_condition, (5, "a"), (1, "ab"))
    same_outcomes(chain_skips_later_operands, (5, [1]), (1, []))


def test_a_chain_with_a_false_constant_link_leaves_the_rest_uncompiled():
    def f(xs: List[int]) -> bool:
        return 1 > 2 < xs[7]

    matches_eager(f, ([],))
    assert "getitem" not in str(scripted(f).graph)


# -- a builtin that fails on constants raises when it runs, not when compiling ------------------------


def int_of_a_bad_literal(b: bool) -> int:
    if b:
        return int("a")
    return 0


def ceil_of_infinity(b: bool) -> int:
    if b:
        return math.ceil(math.inf)
    return 1


def float_of_a_bad_literal(b: bool) -> float:
    return float("x1") if b else 2.0


def int_of_nan(b: bool) -> int:
    if b:
        return int(float("nan"))
    return round(math.inf) if not b else 3


@pytest.mark.parametrize("fn", [int_of_a_bad_literal, ceil_of_infinity, float_of_a_bad_literal, int_of_nan])
def test_builtin_failing_on_constants_raises_at_run_time(fn):
    same_outcomes(fn, (False,), (True,))
