"""Numbers from tensors where an int or float is declared (Note [Number conversions] in emitter.py).

TorchScript converts a Tensor or a number (`x.item()`) to a declared int or
float at returns and call arguments; model code relies on it
(`return loss.item()`, `return x.argmax()` from `-> int`).
"""
from typing import Dict, List, Optional

import pytest
import torch

import torchkiln

from .script_testing import matches_eager


def _double(v: float) -> float:
    return v * 2


def _twice(v: int) -> int:
    return v * 2


def item_as_float(x: torch.Tensor) -> float:
    return x.sum().item()


def tensor_as_float(x: torch.Tensor) -> float:
    return x.sum()


def tensor_as_int(x: torch.Tensor) -> int:
    return x.argmax()


def item_argument(x: torch.Tensor) -> float:
    return _double(x.sum().item())


def tensor_argument(x: torch.Tensor) -> float:
    return _double(x.max())


def item_int_argument(x: torch.Tensor) -> int:
    return _twice(x.sum().item())


def item_optional(x: torch.Tensor) -> Optional[float]:
    if x.numel() > 0:
        return x.sum().item()
    return None


def loop_accumulates_items(x: torch.Tensor) -> float:
    t = 0.0
    for i in range(x.size(0)):
        t = t + x[i].item()
    return t


def annotated_item(x: torch.Tensor) -> List[float]:
    y: float = x.sum().item()
    return [y, x.max().item()]


def item_as_int(x: torch.Tensor) -> int:
    return x.sum().item()


@pytest.mark.parametrize("fn", [item_as_float, tensor_as_float, item_argument, tensor_argument, loop_accumulates_items])
def test_converted_to_float_like_torch_jit(fn):
    s = torchkiln.script(fn)
    j = torch.jit.script(fn)
    for x in (torch.tensor([1.5, 2.0, 3.0]), torch.tensor([1, 2, 3])):
        got, want = s(x), j(x)
        assert type(got) is float and got == want


@pytest.mark.parametrize("fn", [tensor_as_int, item_int_argument, item_as_int])
def test_converted_to_int_like_torch_jit(fn):
    s = torchkiln.script(fn)
    j = torch.jit.script(fn)
    for x in (torch.tensor([1.5, 2.0, 3.25]), torch.tensor([4, 2, 3])):
        got, want = s(x), j(x)
        assert type(got) is int and got == want  # a number of 6.75 truncates to 6, as TorchScript


def test_optional_and_annotated_targets():
    s = torchkiln.script(item_optional)
    assert s(torch.tensor([1, 2])) == 3.0 and type(s(torch.tensor([1, 2]))) is float
    assert s(torch.ones(0)) is None
    assert torchkiln.script(annotated_item)(torch.tensor([1.0, 2.5])) == [3.5, 2.5]


def test_matches_eager_on_every_executor_for_float_tensors():
    for fn in (item_as_float, item_argument, loop_accumulates_items, annotated_item):
        matches_eager(fn, (torch.tensor([1.5, 2.0, 3.0]),))


def test_a_tensor_of_several_elements_raises_as_python():
    s = torchkiln.script(tensor_as_float)

    def many(x: torch.Tensor) -> float:
        return x * 2

    m = torchkiln.script(many)
    with pytest.raises(ValueError, match="only one element tensors can be converted to Python scalars"):
        m(torch.ones(3))  # as Python's float(tensor)
    assert s(torch.ones(3)) == 3.0


def test_other_mismatches_still_refused():
    def bad(x: torch.Tensor) -> str:
        return x.sum().item()

    with pytest.raises(torchkiln.CompileError, match="declared to return str but this returns Scalar"):
        torchkiln.script(bad)


def _buckets(xs: List[int]) -> Dict[int, List[int]]:
    out: Dict[int, List[int]] = {}
    for v in xs:
        out.setdefault(v % 2, []).append(v)
    return out


def _nested(keys: List[str]) -> Dict[str, Dict[str, int]]:
    out: Dict[str, Dict[str, int]] = {}
    for k in keys:
        out.setdefault(k[0], {})[k] = len(k)
    return out


def _empty_list() -> List[int]:
    return []


def test_empty_literals_take_the_declared_type():
    matches_eager(_buckets, ([1, 2, 3, 4, 5],), ([],))
    matches_eager(_nested, (["ab", "ac", "b"],))
    s = matches_eager(_empty_list, ())
    assert "int[] = prim::" in str(s.graph)  # folded to a constant after the passes


def _max_item(x: torch.Tensor, floor: float) -> float:
    return max(x.sum().item(), floor)


def _min_items(x: torch.Tensor) -> float:
    return min(x.sum().item(), x.max().item(), x.min().item())


def _extreme_kind(x: torch.Tensor) -> str:
    # the first largest, of its own kind (an int item stays an int), as Python's max
    return str(max(x.max().item(), 0.0))


def test_min_max_of_numbers_of_unknown_kind():
    for x in (torch.tensor([1.5, -2.25, 3.0]), torch.tensor([-5.0, -1.0])):
        for fn, args in ((_max_item, (x, 0.5)), (_max_item, (x, 100.0)), (_min_items, (x,)), (_extreme_kind, (x,))):
            matches_eager(fn, args)
    # of an int tensor: the value is eager's; `-> float` makes it a float, as TorchScript does
    for x in (torch.tensor([3, -1, 2]), torch.tensor([-5, -1])):
        for fn, args in ((_max_item, (x, 0.5)), (_max_item, (x, 100.0)), (_min_items, (x,))):
            got = torchkiln.script(fn)(*args)
            assert type(got) is float and got == fn(*args)
        matches_eager(_extreme_kind, (x,))  # "3", not "3.0": max keeps the item's kind
    assert torchkiln.script(_max_item)(torch.tensor([1, 2]), 0.5) == torch.jit.script(_max_item)(torch.tensor([1, 2]), 0.5) == 3.0
