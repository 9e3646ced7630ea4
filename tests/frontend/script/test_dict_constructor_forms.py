"""`dict(...)` in all the forms TorchScript accepts: pairs, a mapping, `zip`, each with
`key=value` arguments added; and `"..." % tensor` formatting (found by a differential sweep
against torch.jit.script)."""
from typing import Dict, List, Optional, Tuple

import pytest
import torch
from torch import Tensor

import torchkiln

from .script_testing import matches_eager, scripted


def from_pair_literals():
    return dict([("lr", 1), ("steps", 20), ("lr", 3)])


def from_pair_tuple_literal():
    return dict((("warmup", 4), ("decay", 9)))


def from_no_pairs():
    return dict([])


def from_pair_list(pairs: List[Tuple[int, str]]):
    return dict(pairs)


def from_pairs_with_extra(pairs: List[Tuple[str, float]]):
    return dict(pairs, scale=0.5)


def from_mapping_with_extra(base: Dict[str, int]):
    grown = dict(base, depth=12, width=3)
    grown["depth"] += 1
    return grown, base


def from_literal_with_extra():
    return dict({"heads": 8}, layers=2)


def from_comprehension_with_extra(n: int):
    return dict({str(i): i * i for i in range(n)}, total=n)


def from_zip_with_extra(names: List[str], sizes: List[int]):
    return dict(zip(names, sizes), rest=0)


def annotated_from_pairs():
    table: Dict[str, Optional[int]] = dict([("seen", 1), ("unseen", 2)])
    table["unseen"] = None
    return table


@pytest.mark.parametrize("fn,inputs", [
    (from_pair_literals, ()),
    (from_pair_tuple_literal, ()),
    (from_no_pairs, ()),
    (from_pair_list, ([(3, "c"), (1, "a"), (3, "z")],)),
    (from_pair_list, ([],)),
    (from_pairs_with_extra, ([("bias", 1.0), ("scale", 2.0)],)),
    (from_mapping_with_extra, ({"depth": 2, "heads": 4},)),
    (from_literal_with_extra, ()),
    (from_comprehension_with_extra, (3,)),
    (from_zip_with_extra, (["a", "b"], [1, 2, 3])),
    (annotated_from_pairs, ()),
])
def test_dict_forms_match_eager(fn, inputs):
    matches_eager(fn, inputs)


def test_dict_forms_agree_with_torch_jit():
    for fn, inputs in [(from_pair_literals, ()), (from_no_pairs, ()), (from_literal_with_extra, ()),
                       (from_mapping_with_extra, ({"depth": 2},)), (from_pair_list, ([(1, "x")],))]:
        assert scripted(fn)(*inputs) == torch.jit.script(fn)(*inputs)


def pairs_of_three(items: List[Tuple[str, int, int]]):
    return dict(items)


def extra_key_on_int_keys(items: List[Tuple[int, int]]):
    return dict(items, more=1)


def two_positional(a: Dict[str, int], b: Dict[str, int]):
    return dict(a, b)


@pytest.mark.parametrize("fn,text", [
    (pairs_of_three, "(key, value) pairs"),
    (extra_key_on_int_keys, "str keys"),
    (two_positional, "at most 1 argument"),
])
def test_bad_dict_forms_are_located_compile_errors(fn, text):
    with pytest.raises(torchkiln.CompileError) as info:
        torchkiln.script(fn)
    assert text in str(info.value)
    assert "dict(" in str(info.value)


def tensor_in_percent_format(x: Tensor, step: int):
    return "loss %s at %d" % (x, step), "value: %s" % x


def test_percent_format_of_a_tensor_compiles_to_a_format():
    s = matches_eager(tensor_in_percent_format, (torch.tensor([1.5, -2.0]), 3), (torch.tensor(0.25), 10))
    formats = [n for n in s.graph.walk() if n.kind == "prim::percent_format"]
    assert len(formats) == 2
    assert [str(v.type) for v in formats[0].inputs] == ["str", "Tensor", "int"]
