"""The differential machinery itself: it records what it should and catches differences."""
from typing import Dict, List, NamedTuple

import torch

import torchkiln

from . import check
from .recorder import Outcome, recording


def scale_list(x, xs: List[int], k: float):
    xs.append(len(xs))
    x.mul_(2)
    return x * k, xs


def test_calls_are_recorded_with_inputs_before_and_after():
    s = torchkiln.script(scale_list).with_executor("python")
    x, xs = torch.ones(2), [1]
    with recording() as rec:
        y, ys = s(x, xs, k=3)
    assert torch.equal(y, torch.full((2,), 6.0)) and ys == [1, 1]
    (r,) = rec.calls
    assert r.method == "forward" and r.program.endswith("scale_list")
    assert torch.equal(r.args[0], torch.ones(2)) and r.args[1] == [1] and r.args[2] == 3  # copies from before the call
    assert r.expected.ok and torch.equal(r.expected.args_after[0], torch.full((2,), 2.0)) and r.expected.args_after[1] == [1, 1]
    report = check.check(rec)
    assert report.checked == 1 and not report.mismatches and not report.unrunnable


def test_a_wrong_expected_value_is_caught():
    s = torchkiln.script(scale_list).with_executor("python")
    with recording() as rec:
        s(torch.ones(2), [1], 3.0)
    r = rec.calls[0]
    r.expected = r.actual = Outcome(value=(torch.full((2,), 6.5), [1, 1]), args_after=r.expected.args_after)
    (mismatch,) = check.check(rec).mismatches
    assert "through torchkiln-run" in mismatch and "[0]: 2 of 2 elements differ" in mismatch


def test_a_wrong_update_of_an_argument_is_caught():
    s = torchkiln.script(scale_list).with_executor("python")
    with recording() as rec:
        s(torch.ones(2), [1], 3.0)
    r = rec.calls[0]
    r.expected.args_after[1] = [1]
    (mismatch,) = check.check(rec).mismatches
    assert "argument 1 after the call" in mismatch


def raises(n: int) -> int:
    if n < 0:
        raise ValueError("negative: " + str(n))
    return [1, 2][n]


def test_exceptions_compare_class_and_message():
    s = torchkiln.script(raises).with_executor("python")
    with recording() as rec:
        for n in (-1, 5):
            try:
                s(n)
            except (ValueError, IndexError):
                pass
    report = check.check(rec)
    assert report.raising == 2 and not report.mismatches
    rec.calls[0].expected.message = "negative: -2"
    (mismatch,) = check.check(rec).mismatches
    assert "negative: -2" in mismatch and "negative: -1" in mismatch


def test_messages_drop_the_traceback_and_op_name():
    assert check.normalize_message("aten::mm: mat1 and mat2\nTraceback of the program (most recent call last):\n  x") == "mat1 and mat2"


def noisy(x):
    return torch.rand(3) + x


def test_random_programs_draw_the_same_numbers():
    s = torchkiln.script(noisy)
    with recording() as rec:
        s(torch.zeros(3))
    report = check.check(rec)
    assert report.random == 1 and report.checked == 1 and not report.mismatches


class Pair(NamedTuple):
    a: int
    b: Dict[str, float]


def pair_sum(p: Pair, flag: bool = True) -> float:
    return p.a + p.b["x"] if flag else -0.0


def test_named_tuples_defaults_and_negative_zero():
    s = torchkiln.script(pair_sum)
    with recording() as rec:
        s(Pair(1, {"x": 2.5}))
        s(Pair(1, {"x": 2.5}), flag=False)
    report = check.check(rec)
    assert report.checked == 2 and not report.mismatches
    assert not check.same(0.0, -0.0) and check.same(float("nan"), float("nan"))


def print_and_return(x):
    print("a line the runner must not mistake for an answer")
    return x + 1


def test_printing_programs_do_not_garble_the_server():
    s = torchkiln.script(print_and_return)
    with recording() as rec:
        s(torch.ones(1))
        s(torch.zeros(1))
    report = check.check(rec)
    assert report.checked == 2 and not report.mismatches


def takes_anything(x):
    return x


def test_arguments_no_value_can_hold_are_reported():
    s = torchkiln.script(takes_anything)
    with recording() as rec:
        s(torch.ones(1, dtype=torch.complex128))  # no safetensors code for complex128
    (unrunnable,) = check.check(rec).unrunnable
    assert "cannot be written" in unrunnable[1]


def test_other_executors_are_compared_with_the_python_executor():
    s = torchkiln.script(scale_list).with_executor("interpreter")
    with recording() as rec:
        s(torch.ones(2), [1], 3.0)
    (r,) = rec.calls
    assert r.executor == "interpreter" and r.expected is not r.actual
    report = check.check(rec)
    assert report.other_executors == 1 and not report.mismatches
    r.actual.value = (torch.ones(2), [1, 1])
    (mismatch,) = check.check(rec).mismatches
    assert "on the interpreter executor vs the Python executor" in mismatch


def doubled(x):
    return takes_anything(x) * 2


def test_calls_made_by_programs_and_while_tracing_are_not_recorded():
    global takes_anything
    plain = takes_anything
    takes_anything = torchkiln.script(plain)
    try:
        for executor in ("python", "cpp"):
            s = torchkiln.script(doubled).with_executor(executor)
            with recording() as rec:
                s(torch.ones(2))
            assert [r.program for r in rec.calls] == [s.qualified_name]
        with recording() as rec:
            torchkiln.trace(doubled, torch.ones(2), check_trace=False)
        assert rec.calls == []
    finally:
        takes_anything = plain
