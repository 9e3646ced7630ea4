"""Language cases a sweep of 464 programs against eager Python and torch.jit found wrong.

Each is compared with eager Python on every executor (`matches_eager`), on
inputs that reach every branch.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple, Union

import pytest
import torch

from .script_testing import EXECUTORS, matches_eager

# -- a value stored just before `break` / `continue` reaches the code after the loop -----------------


def flag_before_break(n: int) -> bool:
    found = False
    for j in range(n):
        if j == 1:
            found = True
            break
    return found


def value_before_break_while(n: int) -> int:
    found = 0
    j = 0
    while j < n:
        if j == 2:
            found = j * 10
            break
        j += 1
    return found


def else_branch_value_with_break(n: int) -> int:
    x = 0
    for j in range(n):
        if j == 3:
            break
        else:
            x = j + 5
    return x


def value_before_continue(a: List[int]) -> int:
    y = 0
    last = -1
    for v in a:
        if v < 0:
            last = v
            continue
        else:
            y = y + v
    return y * 100 + last


def nested_break_flags(rows: List[List[int]], target: int) -> Tuple[bool, int]:
    hit = False
    where = -1
    for i, row in enumerate(rows):
        for v in row:
            if v == target:
                hit = True
                where = i
                break
        if hit:
            break
    return hit, where


def search_dict(d: Dict[str, int], want: int) -> str:
    key = "none"
    for k, v in d.items():
        if v == want:
            key = k
            break
    return key


def test_values_stored_before_break_and_continue():
    matches_eager(flag_before_break, (0,), (1,), (4,))
    matches_eager(value_before_break_while, (0,), (2,), (5,))
    matches_eager(else_branch_value_with_break, (0,), (2,), (6,))
    matches_eager(value_before_continue, ([],), ([1, -1, 2],), ([-3, 4, -5],))
    matches_eager(nested_break_flags, ([[1, 2], [3, 4]], 3), ([[1], [2]], 9), ([], 1))
    matches_eager(search_dict, ({"a": 1, "b": 2}, 2), ({"a": 1}, 5))


# -- returning a Union ------------------------------------------------------------------------------------


def union_return(x: int) -> Union[int, str]:
    if x > 0:
        return x
    return "neg"


def test_union_return_on_every_path():
    matches_eager(union_return, (1,), (-1,), (0,))


# -- magic methods of script classes ---------------------------------------------------------------------


class Box:
    def __init__(self, x: int):
        self.x = x
        self.items = [x, x + 1]

    def __add__(self, o: "Box") -> "Box":
        return Box(self.x + o.x)

    def __eq__(self, o: "Box") -> bool:
        return self.x == o.x

    def __lt__(self, o: "Box") -> bool:
        return self.x < o.x

    def __contains__(self, v: int) -> bool:
        return v == self.x

    def __getitem__(self, i: int) -> int:
        return self.items[i]

    def __setitem__(self, i: int, v: int):
        self.items[i] = v

    def __len__(self) -> int:
        return len(self.items) + self.x

    def __bool__(self) -> bool:
        return self.x != 0

    def __str__(self) -> str:
        return "Box" + str(self.x)

    def __neg__(self) -> "Box":
        return Box(-self.x)


def box_ops(a: int) -> Tuple[int, bool, bool, bool, int, int, int, str, int, int]:
    b = Box(a)
    c = Box(1)
    b2 = Box(a)
    b2[0] = 9
    truth = 1 if b else 0
    d = Box(a)
    d += Box(2)
    return ((b + c).x, b == c, b < c, a in c, b[1], b2[0], len(b), str(b), (-b).x * 10 + truth, d.x)


def test_magic_methods_of_script_classes():
    matches_eager(box_ops, (0,), (1,), (3,))


# -- augmented assignment to slices; `%` with a tuple value ------------------------------------------------


def augmented_slices(x: torch.Tensor) -> torch.Tensor:
    y = x.clone()
    y[1:] += 1
    y[:, 1:] *= 2
    return y


def percent_tuple(a: int, s: str) -> str:
    t = (a, s)
    return "%d:%s" % t


def test_augmented_slice_assignment_and_percent_of_a_tuple():
    matches_eager(augmented_slices, (torch.arange(6.0).view(2, 3),))
    matches_eager(percent_tuple, (1, "a"), (-20, ""))


@pytest.mark.parametrize("n", [0, 3])
def test_break_flag_in_a_module_loop_after_save_and_load(tmp_path, n):
    import torchkiln

    class Finder(torch.nn.Module):
        def forward(self, x: torch.Tensor, n: int) -> Tuple[bool, torch.Tensor]:
            found = False
            for j in range(n):
                if j == 1:
                    found = True
                    x = x + j
                    break
            return found, x

    m = torchkiln.script(Finder())
    torchkiln.save(m, str(tmp_path / "f.kiln"))
    loaded = torchkiln.load(str(tmp_path / "f.kiln"))
    x = torch.zeros(2)
    expected = Finder()(x, n)
    for run in (m, loaded):
        got = run(x, n)
        assert got[0] == expected[0] and torch.equal(got[1], expected[1])


# -- str.split / rsplit with a maximum keep the rest as Python does ----------------------------------------


def split_max(s: str) -> Tuple[List[str], List[str], List[str]]:
    return s.split(None, 1), s.rsplit(None, 1), s.split()


def test_split_with_a_maximum_keeps_the_rest():
    matches_eager(split_max, (" a b  c ",), ("abc",), ("   ",), ("x  y\tz\n",))


# -- `and` / `or` as values: the operand that decides (Python's meaning) ----------------------------------


def or_ints(a: int, b: int) -> int:
    return a or b


def or_default_str(s: str) -> str:
    return s or "default"


def or_default_optional(opt: Optional[int]) -> int:
    return opt or 7


def and_chain(a: int, b: int, c: int) -> int:
    return a and b and c


def none_or_value(lst: List[int]) -> bool:
    x = lst.append(5) or 10
    return 1 < x < 20


def and_refines(opt: Optional[int]) -> Optional[int]:
    return opt and opt + 1


def condition_and(x: Optional[torch.Tensor], n: int) -> bool:
    return x is not None and x.numel() > n


def test_and_or_values():
    matches_eager(or_ints, (0, 3), (2, 3), (0, 0))
    matches_eager(or_default_str, ("",), ("x",))
    matches_eager(or_default_optional, (None,), (0,), (4,))
    matches_eager(and_chain, (1, 2, 3), (1, 0, 3), (0, 1, 1))
    matches_eager(none_or_value, ([],), ([1],))
    matches_eager(and_refines, (None,), (0,), (3,))
    matches_eager(condition_and, (None, 1), (torch.zeros(3), 1), (torch.zeros(3), 5))


# -- a comprehension's variables are its own (Python 3) ---------------------------------------------------


def comprehension_scope(n: int) -> Tuple[int, List[int], int, Dict[int, str], int]:
    x = 5
    over_range = [x * 2 for x in range(n)]
    over_tuple = {x: str(x) for x in (7, 8)}
    s = 0
    for i in range(n):
        s += x  # reads x through a load: the comprehensions' stores of x must not reach it
    nested = [x + y for x in range(2) for y in [x, x + 1]]
    return x, over_range + nested, s, over_tuple, [x for x in [x]][0]


def test_comprehension_variables_do_not_leak():
    matches_eager(comprehension_scope, (0,), (3,))


# -- lambdas and key= (frontend/script/lambdas.py) ---------------------------------------------------------


def sort_by_keys(xs: List[Tuple[float, str]], r: bool) -> List[str]:
    ys = sorted(xs, key=lambda p: p[0], reverse=r)
    scale = 2
    g = lambda v, w=1: v * scale + w  # noqa: E731
    out = [p[1] + str(g(i)) for i, p in enumerate(ys)]
    xs.sort(key=lambda p: len(p[1]))
    return out + [p[1] for p in xs]


def key_functions(a: List[int]) -> List[int]:
    return sorted(a, key=abs) + sorted(a, key=lambda v: -v) + sorted(a, key=None)


def test_lambdas_and_sort_keys():
    xs = [(3.0, "c"), (1.0, "aaa"), (2.0, "bb"), (1.0, "z")]
    matches_eager(sort_by_keys, (xs, False), (xs, True), ([], False))
    matches_eager(key_functions, ([3, -1, 2, -3, 1],), ([],))


def extremes_by_key(words: List[str]) -> Tuple[str, str]:
    return min(words, key=len), max(words, key=lambda w: (len(w), w[0]))


def test_min_max_with_key():
    matches_eager(extremes_by_key, (["bb", "a", "ccc", "d", "eee"],), (["x"],))
    import torchkiln

    s = torchkiln.script(extremes_by_key)
    with pytest.raises(ValueError, match=r"min\(\) arg is an empty sequence"):
        s([])


def negative_constant_power(n: int) -> float:
    return n ** -2 + 2 ** -1


def test_int_to_a_negative_constant_power_is_a_float():
    matches_eager(negative_constant_power, (2,), (-3,), (1,))


# -- positional-only parameters (`/`): positional calls work, naming one is Python's TypeError ---------


def pos_only(x: int, y: int = 10, /, z: int = 100) -> int:
    return x + 2 * y + 3 * z


def calls_pos_only(a: int) -> int:
    return pos_only(a) + pos_only(a, 1) + pos_only(a, 1, z=2) + pos_only(a, 2, 3)


class _PosOnlyForward(torch.nn.Module):
    def forward(self, x: torch.Tensor, /, k: int = 2) -> torch.Tensor:
        return self.scaled(x, 3) + x * k

    def scaled(self, x: torch.Tensor, k: int, /) -> torch.Tensor:
        return x * k


def _type_error(call) -> str:
    """The message of the TypeError eager Python raises for `call()`, after "name() "."""
    with pytest.raises(TypeError) as info:
        call()
    return str(info.value).split("() ", 1)[1]


# (args, kwargs) naming positional-only parameters of pos_only; Python refuses each.
POS_ONLY_KEYWORD_CALLS = [((), {"x": 1}), ((), {"y": 2}), ((1,), {"y": 2}), ((), {"x": 1, "y": 2}), ((1,), {"x": 1}),
                          ((1, 2), {"x": 1, "z": 3}), ((1, 2, 3, 4), {"y": 3})]  # fmt: skip


@pytest.mark.parametrize("executor", EXECUTORS)
def test_positional_only_parameters_bind_as_in_python(executor):
    from torchkiln.api import ScriptFunction
    from torchkiln.diagnostics import ArgumentError

    s = matches_eager(pos_only, (1,), (1, 2), (1, 2, 3))
    matches_eager(calls_pos_only, (4,), (-1,))
    f = ScriptFunction(s._kiln_unit, s._kiln_fn, executor=executor)
    assert f(1, z=5) == pos_only(1, z=5) and f(1, 2, z=5) == pos_only(1, 2, z=5)
    for args, kwargs in POS_ONLY_KEYWORD_CALLS:
        want = _type_error(lambda: pos_only(*args, **kwargs))  # e.g. "got some positional-only arguments ...: 'x, y'"
        with pytest.raises(ArgumentError) as info:
            f(*args, **kwargs)
        assert str(info.value).endswith(want), (args, kwargs, str(info.value))
    assert "pos_only(x: int, y: int = 10, /, z: int = 100) -> int" in str(info.value)


def test_positional_only_parameters_of_module_methods(tmp_path):
    import torchkiln
    from torchkiln.diagnostics import ArgumentError

    eager = _PosOnlyForward()
    x = torch.tensor([1.0, -2.0])
    m = torchkiln.script(eager)
    path = tmp_path / "m.pt"
    torchkiln.save(m, str(path))
    for mod in (m, torchkiln.load(str(path))):  # the archive keeps which parameters are positional-only
        assert torch.equal(mod(x), eager(x)) and torch.equal(mod(x, 5), eager(x, 5)) and torch.equal(mod(x, k=5), eager(x, k=5))
        for call in (lambda o: o(x=x), lambda o: o.forward(x=x, k=1), lambda o: o.scaled(x, k=3)):
            want = _type_error(lambda: call(eager))
            with pytest.raises(ArgumentError) as info:
                call(mod)
            assert str(info.value).endswith(want), str(info.value)
