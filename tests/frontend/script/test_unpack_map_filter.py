"""Starred unpacking of lists (and str, dict, range), Python's ValueError on a wrong length,
and `map` / `filter`, which script builds as lists (Note [map and filter are lists])."""
import inspect
from typing import Dict, List, Optional, Tuple, Union

import pytest
import torch
import torch.nn as nn

import torchkiln
from torchkiln import CompileError

from .script_testing import EXECUTORS, matches_eager, same, scripted


def raises_as_eager(fn, *inputs) -> None:
    """Every executor raises Python's ValueError, with Python's message."""
    with pytest.raises(ValueError) as want:
        fn(*inputs)
    s = scripted(fn)
    for name in EXECUTORS:
        with pytest.raises(ValueError) as got:
            s.with_executor(name)(*inputs)
        assert str(got.value) == str(want.value), name


def refused_at(fn, needle: str) -> str:
    """script(fn) is a CompileError pointing at `needle` (line, column and caret)."""
    with pytest.raises(CompileError) as info:
        torchkiln.script(fn)
    message = str(info.value)
    assert "internal compiler error" not in message, message
    lines, start = inspect.getsourcelines(fn)
    offset, text = next((k, t) for k, t in enumerate(lines) if needle in t)
    assert f'File "{__file__}", line {start + offset}, column {text.index(needle) + 1}' in message, message
    assert "^" * len(needle) in message.splitlines()[3], message
    assert "what to do:" in message, message
    return message


# -- starred unpacking of lists --------------------------------------------------------------------


def star_last(xs: List[int]) -> Tuple[int, List[int]]:
    a, *rest = xs
    return a, rest


def star_first(xs: List[str]) -> Tuple[List[str], str, str]:
    *rest, y, z = xs
    return rest, y, z


def star_middle(xs: List[float]) -> Tuple[float, List[float], float]:
    [a, *mid, z] = xs
    return a, mid, z


def star_alone(xs: List[int]) -> List[int]:
    *everything, = xs
    return everything


def star_is_a_new_list(xs: List[int]) -> Tuple[List[int], List[int]]:
    a, *rest = xs
    rest.append(a)
    return xs, rest


def test_star_in_every_position():
    matches_eager(star_last, ([1],), ([1, 2],), ([1, 2, 3, 4],))
    matches_eager(star_first, (["y", "z"],), (["a", "b", "y", "z"],))
    matches_eager(star_middle, ([1.0, 2.0],), ([1.0, 2.5, 3.5, 4.0],))
    matches_eager(star_alone, ([],), ([5, 6],))
    matches_eager(star_is_a_new_list, ([1, 2, 3],))


@pytest.mark.parametrize(
    "fn, inputs",
    [(star_last, ([],)), (star_first, (["z"],)), (star_first, ([],)), (star_middle, ([1.0],))],
)
def test_star_from_a_short_list_is_pythons_value_error(fn, inputs):
    raises_as_eager(fn, *inputs)  # not enough values to unpack (expected at least 2, got 1)


def star_tensors(x: torch.Tensor) -> Tuple[torch.Tensor, List[torch.Tensor], List[torch.Tensor]]:
    first, *others = torch.unbind(x)
    *chunks, last = x.chunk(3)
    return first + last, others, chunks


def test_star_from_lists_of_tensors():
    matches_eager(star_tensors, (torch.arange(6.0).reshape(3, 2),), (torch.arange(2.0).reshape(1, 2),))


def star_in_for(rows: List[List[int]]) -> List[int]:
    out: List[int] = []
    for head, *tail in rows:
        out.append(head * 10 + len(tail))
    return out + [len(t) for h, *t in rows]


def test_star_in_for_targets():
    matches_eager(star_in_for, ([[1], [2, 3, 4]],), ([],))
    raises_as_eager(star_in_for, [[1], []])


def star_from_other_sequences(s: str, d: Dict[str, int], n: int) -> Tuple[str, List[str], List[str], int, List[int]]:
    c, *cs = s
    *ks, k = d
    first, *others = range(n)
    return c + k, cs, ks, first, others


def test_star_from_str_dict_and_range():
    matches_eager(star_from_other_sequences, ("abc", {"x": 1, "y": 2}, 3), ("a", {"x": 1}, 1))
    raises_as_eager(star_from_other_sequences, "", {"x": 1}, 3)


# -- unpacking without a star: Python's ValueError ------------------------------------------------


def two_from_list(xs: List[int]) -> int:
    a, b = xs
    return a - b


def two_from_str(s: str) -> str:
    a, b = s
    return b + a


@pytest.mark.parametrize("inputs", [([],), ([1],), ([1, 2, 3],)])
def test_wrong_length_is_pythons_value_error(inputs):
    raises_as_eager(two_from_list, *inputs)  # too many values to unpack (expected 2) / not enough ...


def test_unpacking_a_str():
    matches_eager(two_from_list, ([5, 2],))
    matches_eager(two_from_str, ("ab",))
    raises_as_eager(two_from_str, "abc")


# -- map -------------------------------------------------------------------------------------------


def square(v: int) -> int:
    return v * v


def map_lambda_and_def(xs: List[int], k: int) -> Tuple[List[int], List[int], int]:
    return list(map(lambda v: v * k + 1, xs)), list(map(square, xs)), sum(map(square, xs))


def map_builtins(xs: List[int], words: List[str]) -> Tuple[List[str], List[float], List[int], List[int], str]:
    return list(map(str, xs)), list(map(float, xs)), list(map(abs, xs)), list(map(int, words)), "-".join(map(str, xs))


def map_several(xs: List[int], ys: List[float], s: str) -> Tuple[List[float], List[str]]:
    return list(map(lambda a, b: a + b, xs, ys)), list(map(lambda c, v: c * v, s, xs))


def map_iterables(s: str, d: Dict[str, int], n: int) -> Tuple[List[str], List[int], List[int], List[int]]:
    return (
        list(map(lambda c: c.upper(), s)),
        list(map(lambda key: d[key], d)),
        list(map(lambda i: i * i, range(n))),
        list(map(lambda kv: len(kv[0]) + kv[1], d.items())),
    )


def test_map_with_lambdas_defs_and_builtins():
    matches_eager(map_lambda_and_def, ([1, -2, 3], 4), ([], 4))
    matches_eager(map_builtins, ([1, -2, 30], ["4", "-5"]), ([], []))


def test_map_over_several_iterables_stops_at_the_shortest():
    matches_eager(map_several, ([1, 2, 3], [0.5, 1.5], "xy"), ([1], [0.5, 1.5], "xyz"), ([], [1.0], ""))


def test_map_over_str_dict_range_and_items():
    matches_eager(map_iterables, ("aB", {"x": 1, "yy": 2}, 4), ("", {}, 0))


def map_in_for(xs: List[int], k: int) -> List[int]:
    out: List[int] = []
    for v in map(lambda a: a + k, xs):  # k is read at each call, as by Python's iterator
        out.append(v)
        k += 10
    return out


def map_stored(xs: List[int]) -> Tuple[List[int], int, int, List[int], List[int]]:
    ys = map(lambda v: v - 1, xs)  # a list in script
    ys.append(0)
    return ys, max(map(lambda v: -v, xs)), min(map(square, xs)), sorted(map(square, xs)), [v * 2 for v in map(square, xs)]


def test_map_iterated_lazily_and_as_a_list():
    matches_eager(map_in_for, ([1, 2, 3], 0), ([], 0))
    s = scripted(map_stored)
    for name in EXECUTORS:
        got = s.with_executor(name)([3, -1, 2])
        assert same(got, ([2, -2, 1, 0], 1, 1, [1, 4, 9], [18, 2, 8])), (name, got)


def map_tensors(x: torch.Tensor, scale: float) -> Tuple[List[torch.Tensor], List[torch.Tensor], torch.Tensor]:
    parts = x.chunk(2)
    return list(map(torch.relu, parts)), list(map(lambda row: row * scale, x)), sum(map(lambda p: p.sum(), parts))


def test_map_over_tensors():
    matches_eager(map_tensors, (torch.tensor([[-1.0, 2.0], [3.0, -4.0]]), 0.5))


def map_tuple(x: int, y: float, s: str) -> Tuple[Tuple[int, float, str], List[int]]:
    return tuple(map(lambda v: v, (x, y, s))), list(map(lambda v: v * 2, (x, x + 1)))


def test_map_over_a_tuple_is_unrolled():
    matches_eager(map_tuple, (1, 2.5, "s"))


# -- filter ----------------------------------------------------------------------------------------


def filter_forms(xs: List[int], limit: int) -> Tuple[List[int], List[int], List[int], int]:
    return (
        list(filter(lambda v: v > limit, xs)),
        list(filter(None, xs)),
        list(filter(bool, xs)),
        sum(filter(lambda v: v % 2 == 0, map(square, xs))),
    )


def is_short(w: str) -> bool:
    return len(w) < 3


def filter_strs(words: List[str], d: Dict[str, int], n: int) -> Tuple[List[str], List[str], List[str], List[int], List[str]]:
    return (
        list(filter(None, words)),
        list(filter(is_short, words)),
        list(filter(lambda k: d[k] > 1, d)),
        list(filter(lambda i: i % 3 == 0, range(n))),
        list(filter(lambda c: c.isupper(), "aBcD")),
    )


def filter_optionals(xs: List[Optional[int]]) -> Tuple[List[Optional[int]], List[Optional[int]]]:
    return list(filter(None, xs)), list(filter(lambda v: v is not None and v > 1, xs))


def filter_tensors(x: torch.Tensor) -> List[torch.Tensor]:
    return list(filter(lambda row: bool(row.sum() > 0), x))


def filter_tuple(x: int, s: str) -> List[int]:
    kept: List[Union[int, str]] = filter(None, (x, s))
    return list(map(lambda v: 1 if isinstance(v, int) else 2, kept))


def test_filter():
    matches_eager(filter_forms, ([0, 1, 2, 3, 4], 2), ([], 0), ([0, 0], -1))
    matches_eager(filter_strs, (["", "ab", "abc", "Q"], {"a": 1, "b": 2}, 7), ([], {}, 0))
    matches_eager(filter_optionals, ([None, 0, 1, 2],), ([],))
    matches_eager(filter_tensors, (torch.tensor([[1.0, -2.0], [3.0, 4.0], [0.0, 0.0]]),))
    matches_eager(filter_tuple, (0, "a"), (3, ""), (3, "a"))


# -- in a module, saved and loaded ----------------------------------------------------------------


def halve(v: float) -> float:
    return v / 2.0


class MapFilterModule(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2)])
        self.limit = 1.5

    def scale(self, t: torch.Tensor) -> torch.Tensor:
        return t * self.limit

    def forward(self, x: torch.Tensor, xs: List[float]) -> Tuple[List[torch.Tensor], float, List[float], List[torch.Tensor], List[float]]:
        outs = list(map(lambda m: m(x), self.layers))
        first, *rows = x.unbind(0)
        head, *tail = xs
        kept = list(map(halve, filter(lambda v: v > self.limit, tail)))
        return outs, head, kept, list(map(self.scale, rows)), list(map(lambda a, b: a * b, xs, map(float, range(3))))


def test_module_with_map_filter_and_star_saves_and_loads(tmp_path):
    torch.manual_seed(0)
    eager = MapFilterModule()
    m = torchkiln.script(eager)
    path = tmp_path / "m.kiln"
    torchkiln.save(m, str(path))
    loaded = torchkiln.load(str(path))
    x = torch.randn(3, 2)
    for xs in ([1.0, 5.0, 2.0, 7.0], [4.0]):
        expected = eager(x, list(xs))
        for mod in (m, loaded):
            assert same(mod(x, list(xs)), expected)
    for mod in (m, loaded):
        with pytest.raises(ValueError, match=r"^not enough values to unpack \(expected at least 1, got 0\)"):
            mod(x, [])


# -- what is refused ---------------------------------------------------------------------------------


def map_items_two_params(d: Dict[str, int]) -> List[str]:
    return list(map(lambda k, v: k + str(v), d.items()))


def map_not_a_function(xs: List[int]) -> List[int]:
    return list(map(3, xs))


def map_none(xs: List[int]) -> List[int]:
    return list(map(None, xs))


def map_mixed_results(x: int, s: str) -> List[int]:
    return list(map(lambda v: v, (x, s)))


def map_too_few_params(xs: List[int], ys: List[int]) -> List[int]:
    return list(map(lambda a: a, xs, ys))


def map_not_iterable(xs: List[int]) -> List[int]:
    return list(map(square, 5))


def filter_mixed(x: int, s: str) -> List[int]:
    return list(filter(None, (x, s)))


def tuple_of_list_map(xs: List[int]):
    return tuple(map(square, xs))


def star_from_tensor(x: torch.Tensor) -> torch.Tensor:
    a, *rest = x
    return a


def test_map_of_items_with_two_parameters_is_refused_at_the_lambda():
    message = refused_at(map_items_two_params, "lambda k, v: k + str(v)")
    assert "map() calls the lambda with 1 argument per item (one per iterable), but the lambda takes 2" in message
    assert "kv[0]" in message


def test_map_of_a_non_function_is_refused_at_it():
    assert "map() needs a function as its first argument, not a value of type int" in refused_at(map_not_a_function, "3")
    assert "not a value of type NoneType" in refused_at(map_none, "None")


def test_map_with_mixed_result_types_is_refused():
    message = refused_at(map_mixed_results, "map(lambda v: v, (x, s))")
    assert "map() produces values of different types: int and str" in message
    assert "filter() produces values of different types: int and str" in refused_at(filter_mixed, "filter(None, (x, s))")


def test_map_with_fewer_parameters_than_iterables_is_refused():
    message = refused_at(map_too_few_params, "lambda a: a")
    assert "2 arguments per item" in message and "takes 1" in message


def test_map_of_a_non_iterable_is_refused_at_it():
    assert "cannot iterate over a value of type int" in refused_at(map_not_iterable, "5")


def test_tuple_of_a_list_map_is_refused():
    assert "a tuple's length must be known when compiling" in refused_at(tuple_of_list_map, "tuple(map(square, xs))")


def test_starred_unpacking_of_a_tensor_is_refused():
    message = refused_at(star_from_tensor, "a, *rest")
    assert "cannot unpack a value of type Tensor into a starred pattern" in message and "unbind(0)" in message


def lists_of_pairs(xs: List[int], names: List[str]):
    pairs = list(enumerate(xs))
    zipped = list(zip(names, xs))
    backwards = reversed(list(enumerate(names, 1)))
    return pairs, zipped, [i for i, _ in backwards], list(enumerate((1, 2)))


@pytest.mark.parametrize("xs,names", [([3, 1, 2], ["a", "b"]), ([], ["x"]), ([5], [])])
def test_list_of_enumerate_and_zip(xs, names):
    matches_eager(lists_of_pairs, (xs, names))
