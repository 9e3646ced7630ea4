"""Library code that torch.jit.script accepts, found by sweeping torch.nn and torch.nn.functional.

Each case compares with eager PyTorch on every executor (`matches_eager`) or,
for modules, over several calls (the first runs the pass pipeline, later ones
the C++ executor).
"""
from __future__ import annotations

from typing import List, Union

import pytest
import torch
import torch.nn as nn

import torchkiln

from .script_testing import check_ir, matches_eager, same


def _module_matches(module: nn.Module, *inputs: torch.Tensor) -> None:
    module.eval()
    compiled = torchkiln.script(module)
    check_ir(compiled)
    expected = module(*inputs)
    for _ in range(3):
        assert same(compiled(*inputs), expected)


# -- a Union of numbers is a Scalar (lp_pool's `norm_type: int | float`) ----------------------------


def union_number_arithmetic(x: torch.Tensor, p: Union[int, float]) -> torch.Tensor:
    q = -p
    if p > 1:
        x = x + q
    return x.abs().pow(p).mul(2).pow(1.0 / p) + torch.add(x, p) + p * 2


def union_number_compare(p: Union[int, float], q: Union[int, float]) -> bool:
    return p < q or p == 2


def test_union_of_numbers_in_arithmetic_and_ops():
    x = torch.linspace(-2.0, 2.0, 7)
    matches_eager(union_number_arithmetic, (x, 2), (x, 2.5), (x, 1), (x, 0.5))
    matches_eager(union_number_compare, (1, 2.5), (3.0, 1), (2, 0), (2.0, 1))


@pytest.mark.parametrize("norm", [2, 1.5, 3.0, float("inf")])
def test_lp_pool_modules(norm):
    torch.manual_seed(0)
    _module_matches(nn.LPPool2d(norm, 2), torch.rand(2, 3, 8, 8))
    _module_matches(nn.LPPool1d(norm, 3, stride=2), torch.rand(2, 3, 9))


# -- overload declarations survive torch.jit.script (F.interpolate in nn.Upsample) -----------------


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_upsample_after_torch_jit_scripted_it(mode):
    module = nn.Upsample(scale_factor=2, mode=mode)
    torch.jit.script(module)  # consumes torch._jit_internal's record of F.interpolate's overloads
    _module_matches(module, torch.randn(2, 3, 5, 5))
    _module_matches(nn.Upsample(size=(7, 4), mode=mode), torch.randn(1, 2, 3, 3))


# -- torch.broadcast_shapes --------------------------------------------------------------------------


def broadcast_two(a: torch.Tensor, b: torch.Tensor) -> List[int]:
    return torch.broadcast_shapes(a.size(), b.size())


def broadcast_mixed(a: torch.Tensor, n: int) -> List[int]:
    return torch.broadcast_shapes(a.shape, (n, 1, 1), 5)


def test_broadcast_shapes():
    # eager returns a torch.Size; script returns a list of ints (as TorchScript)
    for args in ((torch.zeros(3, 1), torch.zeros(4)), (torch.zeros(0), torch.zeros(1)), (torch.zeros(()), torch.zeros(2, 2))):
        expected = list(broadcast_two(*args))
        s = torchkiln.script(broadcast_two)
        for _ in range(3):
            assert s(*args) == expected
    s = torchkiln.script(broadcast_mixed)
    for _ in range(3):
        assert s(torch.zeros(1, 5), 2) == [2, 1, 5]


@pytest.mark.parametrize("executor", ["python", "interpreter", "cpp"])
def test_broadcast_shapes_mismatch_raises_torchs_error(executor):
    from torchkiln.api import ScriptFunction

    s = torchkiln.script(broadcast_two)
    run = ScriptFunction(s._kiln_unit, s._kiln_fn, executor=executor)
    with pytest.raises(RuntimeError, match=r"Attempting to broadcast a dimension of length 4 at -2! Mismatching argument at index 1 had \[4, 3\]; but expected shape should be broadcastable to \[2, 3\]"):
        run(torch.zeros(2, 3), torch.zeros(4, 3))


def test_bce_loss_with_weight():
    torch.manual_seed(0)
    x, y = torch.rand(4, 6), torch.rand(4, 6)
    _module_matches(nn.BCELoss(weight=torch.rand(6)), x, y)
    _module_matches(nn.BCELoss(), x, y)
