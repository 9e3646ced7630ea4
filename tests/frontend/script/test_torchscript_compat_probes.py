"""Programs torch.jit.script accepts, compared on every executor (from a sweep of small probe
programs in common TorchScript idioms: lists, strings, classes, numbers, tensors).

Each function here compiles with torch.jit.script too; the results are eager Python's.
"""
from typing import List, Optional

import pytest
import torch

import torchkiln

from .script_testing import EXECUTORS, matches_eager, scripted


class Version:
    def __init__(self, major: int, minor: int):
        self.major = major
        self.minor = minor

    def __lt__(self, other: "Version") -> bool:
        return self.major < other.major


class Unordered:
    def __init__(self, v: int):
        self.v = v


# -- lists of script-class objects sort by their __lt__ (TorchScript's list.sort) --------------------


def sort_objects() -> List[int]:
    xs = [Version(3, 0), Version(1, 1), Version(3, 2), Version(2, 3)]
    xs.sort()
    return [v.major * 10 + v.minor for v in xs]


def sort_objects_reverse() -> List[int]:
    xs = [Version(3, 0), Version(1, 1), Version(3, 2), Version(2, 3)]
    xs.sort(reverse=True)
    return [v.major * 10 + v.minor for v in xs]


def sorted_objects(flag: bool) -> List[int]:
    xs = [Version(2, 0), Version(1, 1), Version(2, 2)]
    ys = sorted(xs, reverse=flag)
    return [v.major * 10 + v.minor for v in ys] + [v.major * 10 + v.minor for v in xs]


def sort_no_objects() -> int:
    xs: List[Version] = []
    xs.sort()
    return len(sorted(xs))


def sort_one_object() -> List[int]:
    xs = [Version(5, 1)]
    xs.sort()
    return [v.minor for v in xs]


@pytest.mark.parametrize("fn", [sort_objects, sort_objects_reverse, sort_no_objects, sort_one_object])
def test_sort_script_class_objects(fn):
    matches_eager(fn, ())


def test_sorted_script_class_objects():
    matches_eager(sorted_objects, (False,), (True,))


def test_sort_matches_torch_jit():
    j = torch.jit.script(sort_objects)
    assert scripted(sort_objects)() == j() == sort_objects()


def sort_unordered() -> int:
    xs = [Unordered(2), Unordered(1)]
    xs.sort()
    return xs[0].v


def test_sort_objects_without_lt_is_a_compile_error():
    import torchkiln

    with pytest.raises(torchkiln.CompileError):
        torchkiln.script(sort_unordered)


# -- idioms from the probe sweep that already matched (kept as regressions) ---------------------------


def list_insert_clamps() -> List[int]:
    a = [1, 2, 3]
    a.insert(-1, 9)
    a.insert(100, 7)
    a.insert(-100, 5)
    return a


def nested_list_mutation() -> List[List[int]]:
    a = [[1], [2, 3]]
    a[0].append(5)
    return a


def str_methods() -> str:
    return "ab".center(7, "*") + "|" + "-42".zfill(5) + "|" + "a\nb\r\nc".splitlines()[1] + "|" + str("hello hello".rfind("ll"))


def optional_linked(flag: bool) -> int:
    p: Optional[Version] = None
    if flag:
        p = Version(4, 1)
    if p is not None:
        return p.major
    return 0


def floor_ops(a: int, b: int) -> List[int]:
    return [a // b, a % b, divmod(a, b)[0], divmod(a, b)[1]]


def item_numbers(x: torch.Tensor) -> float:
    v = x.sum().item()
    return max(v, 0.0) + min(x.max().item(), 10) + abs(x.min().item())


def tensor_kwargs(x: torch.Tensor) -> torch.Tensor:
    v, i = x.topk(1, dim=1, largest=False)
    return x.sum(dim=1, keepdim=True) + v + i + x.clamp(min=0.5) + torch.where(x > 1, x, 0.0)


@pytest.mark.parametrize(
    "fn, inputs",
    [
        (list_insert_clamps, [()]),
        (nested_list_mutation, [()]),
        (str_methods, [()]),
        (optional_linked, [(True,), (False,)]),
        (floor_ops, [(7, 2), (-7, 2), (7, -2), (-7, -2)]),
        (item_numbers, [(torch.tensor([[1.0, -2.0], [3.0, 0.5]]),)]),
        (tensor_kwargs, [(torch.tensor([[1.0, 2.0], [3.0, 0.5]]),)]),
    ],
)
def test_probe_idioms(fn, inputs):
    torch.jit.script(fn)  # the probe's premise: TorchScript accepts it
    matches_eager(fn, *inputs)


def test_executors_cover_cpp():
    assert "cpp" in EXECUTORS


def _float_pow(a: float, b: float) -> float:
    return a ** b


def test_float_power_with_a_complex_result_raises_on_every_executor():
    # Python's (-8.0) ** (1/3) is complex, which a float cannot hold: every executor raises
    # the C++ runtime's ValueError (docs/runtime.md), none returns a complex as a float.
    from torchkiln.api import ScriptFunction

    s = torchkiln.script(_float_pow)
    for name in EXECUTORS:
        run = ScriptFunction(s._kiln_unit, s._kiln_fn, executor=name)
        with pytest.raises(ValueError, match="negative float cannot be raised to a fractional power"):
            run(-8.0, 1 / 3)
        assert run(2.0, 0.5) == 2.0 ** 0.5 and run(-2.0, 3.0) == -8.0
