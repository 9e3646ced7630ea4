"""`-> TypeGuard[T]` / `-> TypeIs[T]` return annotations mean bool (torch.is_tensor is written so)."""
from typing import Optional, TypeGuard, Union

import pytest
import torch
from typing_extensions import TypeIs

import torchkiln
from torchkiln.ir.types import BOOL

from .script_testing import matches_eager


def is_int(v: Union[int, float]) -> TypeGuard[int]:
    return isinstance(v, int)


def is_tensor_like(v: Optional[torch.Tensor]) -> "TypeIs[torch.Tensor]":
    return v is not None


def predicates(x, v: Union[int, float], o: Optional[torch.Tensor]):
    r = x + int(is_int(v)) * 10 + int(is_tensor_like(o)) * 100
    return r + int(torch.is_tensor(x)) * 1000 + int(torch.is_tensor(o)) * 10000


@pytest.mark.parametrize("v,o", [(1, None), (1.5, torch.ones(2)), (0, torch.zeros(2))])
def test_type_predicates_are_bools(v, o):
    matches_eager(predicates, (torch.ones(2), v, o))


def test_predicate_return_type_prints_as_bool():
    s = torchkiln.script(is_int)
    assert s.graph.outputs[0].type == BOOL
    assert "-> bool" in s.code
