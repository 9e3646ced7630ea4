"""`match` statements in script (Note [Match lowering] in frontend/script/patterns.py).

Every program is compared with eager Python on inputs reaching each case and
the path where no case matches, on every executor; refused patterns give a
CompileError pointing at the pattern.
"""
from __future__ import annotations

import enum
import inspect
import math
from typing import Dict, List, Optional, Tuple, Union

import pytest
import torch
import torch.nn as nn

import torchkiln
from torchkiln import CompileError

from .script_testing import check_ir, matches_eager, same


class Color(enum.Enum):
    RED = 1
    GREEN = 2
    BLUE = 4


# -- literals, wildcards, captures, or, guards, as ------------------------------------------------------


def int_literals(x: int) -> int:
    match x:
        case 0:
            return 10
        case 1 | 2 | 3:
            return 20
        case -4:
            return 30
        case n if n > 100:
            return n * 2
    return -1


def test_int_literals_or_patterns_guards_and_no_match():
    matches_eager(int_literals, (0,), (1,), (2,), (3,), (-4,), (101,), (50,), (-100,))


def float_and_str(x: float, op: str) -> float:
    match op:
        case "add" | "plus":
            y = x + 1.0
        case "neg":
            y = -x
        case "":
            y = 0.0
        case _:
            y = x
    match y:
        case 0.0:
            return 100.0
        case -2.5:
            return 200.0
        case 3:  # an int pattern matches an equal float, as in Python
            return 300.0
    return y


def test_float_and_str_literals_and_wildcard():
    matches_eager(float_and_str, (1.0, "add"), (1.5, "plus"), (2.5, "neg"), (7.0, ""), (3.0, "other"), (4.0, "x"), (2.0, "add"))


def singletons(b: bool, i: int, o: Optional[int]) -> List[int]:
    out: List[int] = []
    match b:
        case True:
            out.append(1)
        case False:
            out.append(2)
    match i:
        case True:  # `1 is True` is false: never matches an int
            out.append(3)
        case 1:
            out.append(4)
    match b:
        case 1:  # `True == 1`
            out.append(5)
    match o:
        case None:
            out.append(6)
        case True:
            out.append(7)
        case 0:
            out.append(8)
        case k:
            out.append(k + 100)
    return out


def test_none_true_false_are_identity_patterns():
    matches_eager(singletons, (True, 1, None), (False, 1, 5), (True, 0, 0), (False, 2, -3))


class Limits:
    LOW = -1
    HIGH = 10


def value_patterns(c: Color, x: float, i: int) -> int:
    out = 0
    match c:
        case Color.RED:
            out += 1
        case Color.GREEN | Color.BLUE:
            out += 2
    match x:
        case math.pi:
            out += 10
        case math.e:
            out += 20
    match i:
        case Limits.LOW:
            out += 100
        case Limits.HIGH:
            out += 200
    return out


def test_value_patterns_enum_members_and_dotted_constants():
    matches_eager(value_patterns, *[(c, x, i) for c, x, i in [(Color.RED, math.pi, -1), (Color.GREEN, math.e, 10), (Color.BLUE, 1.0, 3)]])


def captures_and_as(x: int) -> Tuple[int, int]:
    match x:
        case (1 | 2) as n:
            return n, 1
        case 5 as five if five > 0:
            return five, 2
        case other:
            return other, 3


def test_capture_and_as_patterns():
    matches_eager(captures_and_as, (1,), (2,), (5,), (7,))


def guard_sees_refinement(x: Optional[int], flag: bool) -> int:
    match x:
        case None if flag:
            return -1
        case None:
            return -2
        case _ if x > 3:  # x is an int here: None was matched above
            return x
        case 1 if flag:
            return 100
    return 0


def test_guards_on_literals_and_refined_subject():
    matches_eager(guard_sees_refinement, (None, True), (None, False), (5, False), (1, True), (1, False), (2, True))


# -- sequences ----------------------------------------------------------------------------------------


def tuple_patterns(p: Tuple[int, int]) -> int:
    match p:
        case (0, 0):
            return 0
        case (0, y):
            return y
        case (x, 0) if x > 5:
            return -x
        case (a, b, c):  # never: the tuple has two items (decided when compiling)
            return a + b + c
        case [a, *rest]:
            return a * 10 + len(rest)


def test_tuple_patterns():
    matches_eager(tuple_patterns, ((0, 0),), ((0, 7),), ((9, 0),), ((3, 0),), ((4, 5),))


def tuple_literal_subject(a: int, b: str) -> str:
    match (a, b):
        case (0, "x"):
            return "zero x"
        case (n, "x" | "y"):
            return str(n) + " xy"
        case (_, s):
            return s


def test_tuple_literal_subject():
    matches_eager(tuple_literal_subject, (0, "x"), (1, "x"), (2, "y"), (3, "z"))


def star_in_tuple(p: Tuple[int, int, int, int]) -> Tuple[int, List[int], int]:
    match p:
        case (0, *mid, 0):
            return 0, mid, 0
        case (first, *mid, last):
            return first, mid, last


def test_star_in_tuple_binds_a_list():
    matches_eager(star_in_tuple, ((0, 1, 2, 0),), ((5, 6, 7, 8),))


def list_patterns(p: List[int]) -> int:
    match p:
        case []:
            return -5
        case [x]:
            return x
        case [x, y] if x < y:
            return x + y
        case [0, *rest]:
            return len(rest) * 100
        case [first, *mid, last]:
            return first * last + len(mid)
    return -1


def test_list_patterns_check_the_length_at_run_time():
    matches_eager(list_patterns, ([],), ([7],), ([1, 2],), ([2, 1],), ([0, 5, 6],), ([3, 4, 5, 6],), ([0, 1],))


def nested_sequences(p: List[List[int]]) -> int:
    match p:
        case [[a, b], [c]]:
            return a + b + c
        case [[], *others]:
            return len(others)
        case [[x, *_], *_] if x < 0:
            return x
    return 0


def test_nested_sequence_patterns():
    matches_eager(nested_sequences, ([[1, 2], [3]],), ([[], [1], [2]],), ([[-4, 1]],), ([[4, 1]],), ([[1], [2]],), ([],))


def optional_list(p: Optional[List[int]]) -> int:
    match p:
        case None:
            return -1
        case [x, *_]:
            return x
    return len(p)


def test_sequence_pattern_on_optional_list_narrows_it():
    matches_eager(optional_list, (None,), ([4, 5],), ([],))


def str_is_not_a_sequence(s: str) -> int:
    match s:
        case [a, b]:
            return 1
        case "ab":
            return 2
    return 0


def test_a_string_never_matches_a_sequence_pattern():
    matches_eager(str_is_not_a_sequence, ("ab",), ("cd",))


# -- class patterns ---------------------------------------------------------------------------------------


def union_classes(x: Union[int, str, torch.Tensor]) -> torch.Tensor:
    match x:
        case int(n) if n > 10:
            return torch.tensor([n * 2])
        case int():
            return torch.tensor([x])
        case str() as s:
            return torch.tensor([len(s)])
        case torch.Tensor():
            return x + 1


def test_class_patterns_on_a_union_refine_the_subject():
    matches_eager(union_classes, (3,), (30,), ("four",), (torch.arange(3.0),))


def optional_tensor(x: Optional[torch.Tensor], y: torch.Tensor) -> torch.Tensor:
    match x:
        case torch.Tensor():
            y = y + x
    match x:
        case None:
            return y
    return x * y  # x is a Tensor after `case None: return`


def test_class_and_none_patterns_on_optional():
    matches_eager(optional_tensor, (None, torch.ones(2)), (torch.full((2,), 3.0), torch.ones(2)))


def or_of_classes(x: Union[int, str, None]) -> int:
    match x:
        case int() | str():
            return 1
        case None:
            return 0


def isinstance_on_optional_union(x: Union[int, str, None]) -> int:
    if isinstance(x, int):  # Union[int, str, None] is Optional[Union[int, str]]: a runtime test, as for a Union
        return x + 1
    if isinstance(x, str):
        return len(x)
    return -1


def int_pattern_matches_bool(b: bool) -> int:
    match b:
        case int():
            return 1
    return 0


def test_or_of_class_patterns_and_bool_is_an_int():
    matches_eager(or_of_classes, (3,), ("s",), (None,))
    matches_eager(isinstance_on_optional_union, (3,), ("abc",), (None,))
    matches_eager(int_pattern_matches_bool, (True,), (False,))


# -- tensors, returns, loops, joins ------------------------------------------------------------------------


def tensor_subject(x: torch.Tensor) -> torch.Tensor:
    match x.sum():
        case 0:
            return x
        case t if t > 5:
            return x * 2
    return -x


def test_tensor_subject_compares_by_truth_of_equality():
    matches_eager(tensor_subject, (torch.zeros(3),), (torch.ones(3) * 3,), (torch.ones(3),))


def loop_with_break_continue(xs: List[int]) -> List[int]:
    out: List[int] = []
    for x in xs:
        match x:
            case 0:
                continue
            case -1:
                break
            case n if n % 2 == 0:
                out.append(n // 2)
            case n:
                out.append(n * 3)
    return out


def test_match_in_a_loop_with_break_and_continue():
    matches_eager(loop_with_break_continue, ([1, 0, 2, 3, -1, 5],), ([0, 4],), ([],))


def join_types(x: int) -> Optional[int]:
    match x:
        case 1:
            y = None
        case 2:
            y = 20
        case _:
            y = x
    return y


def test_variables_set_in_every_case_join_as_after_if():
    matches_eager(join_types, (1,), (2,), (3,))


def subject_evaluated_once(xs: List[int]) -> Tuple[int, List[int]]:
    match xs.pop():
        case 1:
            r = 10
        case 2:
            r = 20
        case _:
            r = 0
    return r, xs


def test_the_subject_is_evaluated_once():
    matches_eager(subject_evaluated_once, ([5, 1],), ([5, 2],), ([5, 3],))


def nested_match(a: int, b: str) -> int:
    match a:
        case 0:
            match b:
                case "x":
                    return 1
                case _:
                    return 2
        case _:
            pass
    return 3


def test_nested_match():
    matches_eager(nested_match, (0, "x"), (0, "y"), (1, "x"))


class Dispatch(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 3)

    def forward(self, x: torch.Tensor, mode: str, shape: List[int]) -> torch.Tensor:
        y = self.lin(x)
        match mode:
            case "relu":
                y = torch.relu(y)
            case "neg" | "minus":
                y = -y
        match shape:
            case [a, b]:
                y = y.reshape(a, b)
            case [n, *_] if n > 0:
                y = y.flatten()[:n]
        return y


def test_match_in_a_scripted_module_saves_and_loads(tmp_path):
    torch.manual_seed(0)
    m = Dispatch()
    s = torchkiln.script(m)
    check_ir(s)
    path = str(tmp_path / "dispatch.kiln")
    torchkiln.save(s, path)
    loaded = torchkiln.load(path)
    x = torch.randn(2, 3)
    with torch.no_grad():
        for mode, shape in [("relu", [3, 2]), ("neg", [6]), ("minus", [1, 6]), ("id", [4, 1, 1]), ("id", [])]:
            expected = m(x, mode, list(shape))
            assert same(s(x, mode, list(shape)), expected)
            assert same(loaded(x, mode, list(shape)), expected)


# -- errors --------------------------------------------------------------------------------------------


def refused(fn) -> CompileError:
    with pytest.raises(CompileError) as info:
        torchkiln.script(fn)
    assert "internal compiler error" not in str(info.value), str(info.value)
    return info.value


def assert_at(e: CompileError, fn, needle: str) -> None:
    """The error's range starts at `needle` on its line, and the message shows it with a caret."""
    lines, start = inspect.getsourcelines(fn)
    for offset, text in enumerate(lines):
        if needle in text:
            break
    else:
        raise AssertionError(needle)
    message = str(e)
    assert e.loc is not None, message
    assert e.loc.line == start + offset, message
    assert e.loc.col == text.index(needle), message
    assert f"line {start + offset}," in message and "^" in message, message
    assert needle in message and __file__ in message, message


def mapping_pattern(d: Dict[str, int]) -> int:
    match d:
        case {"a": 1}:
            return 1
    return 0


def class_with_arguments(x: torch.Tensor) -> int:
    match x:
        case torch.Tensor(ndim=2):
            return 2
    return 0


def or_binding_names(p: Tuple[int, int]) -> int:
    match p:
        case (0, n) | (n, 0):
            return n
    return -1


def complex_literal(x: float) -> int:
    match x:
        case 1 + 2j:
            return 1
    return 0


def walrus_in_guard(x: int) -> int:
    match x:
        case 1 if (y := x + 1) > 0:
            return y
    return 0


def not_a_class(x: int) -> int:
    match x:
        case math.pi():
            return 1
    return 0


def sequence_on_any(x: Union[List[int], Tuple[int, int]]) -> int:
    match x:
        case [a, b]:
            return a + b
    return 0


def defined_in_one_case(x: int) -> int:
    match x:
        case 1:
            y = 2
        case 2:
            pass
    return y


@pytest.mark.parametrize(
    "fn, needle, words",
    [
        (mapping_pattern, '{"a": 1}', "mapping patterns"),
        (class_with_arguments, "torch.Tensor(ndim=2)", "class patterns with arguments"),
        (or_binding_names, "(0, n) | (n, 0)", "or-patterns that bind names"),
        (complex_literal, "1 + 2j", "complex numbers"),
        (walrus_in_guard, "y := x + 1", "assignment expressions"),
        (not_a_class, "math.pi", "is not a class"),
        (sequence_on_any, "[a, b]", "sequence pattern"),
    ],
)
def test_refused_patterns_point_at_the_pattern(fn, needle, words):
    e = refused(fn)
    assert words in e.what, str(e)
    assert e.hint, str(e)
    assert_at(e, fn, needle)


def test_a_variable_set_in_some_cases_only_is_refused_where_used():
    e = refused(defined_in_one_case)
    assert "'y'" in e.what and "may be undefined" in e.what, str(e)
    lines, start = inspect.getsourcelines(defined_in_one_case)
    assert e.loc is not None and e.loc.line == start + len(lines) - 1, str(e)  # `return y`
    assert "y = 2" in str(e), str(e)  # where it is set
