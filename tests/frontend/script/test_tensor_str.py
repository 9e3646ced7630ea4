"""Tensors turned into text in scripted code: str(), repr, f-strings, str.format, %, print.

Every executor must give eager PyTorch's text exactly (torch/_tensor_str.py),
the C++ runtime included (tensor_str.cpp); `matches_eager` runs the python,
interpreter and cpp executors, and tests/differential replays every call
through torchkiln-run.
"""
from __future__ import annotations

import math
from typing import List

import pytest
import torch

from torchkiln.api import ScriptFunction

from .script_testing import EXECUTORS, matches_eager, scripted

nan, inf = math.nan, math.inf


def tensors() -> List[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return [
        torch.tensor([1.0, 2.0]),  # int-valued floats: "1."
        torch.tensor(3.0),  # 0-dim
        torch.tensor(-0.5),
        torch.tensor(7),
        torch.tensor(True),
        torch.tensor([]),  # empty
        torch.empty(0, 3),  # size=(0, 3)
        torch.empty(0, dtype=torch.int64),  # dtype=torch.int64
        torch.empty(2, 0, dtype=torch.float64),
        torch.tensor([1e10, 1.0]),  # sci mode: wide range
        torch.tensor([1e-5, 1.0]),  # sci mode: small
        torch.tensor([1.0, 1000.0]),  # ratio 1000: not sci
        torch.tensor([1.0, 1000.5]),  # ratio over 1000: sci
        torch.tensor([nan, inf, -inf, 1.0]),
        torch.tensor([nan, 1.5, -2.25]),
        torch.tensor([-0.0, 0.0]),
        torch.zeros(3),
        torch.tensor([0.1, 123456.7]),
        torch.full((12,), 1e8 + 8),
        torch.tensor([True, False, True]),
        torch.tensor([2**63 - 1, -(2**63)]),
        torch.tensor([1, -22, 333], dtype=torch.int32),
        torch.tensor([0, 255], dtype=torch.uint8),
        torch.tensor([-3, 4], dtype=torch.int8),
        torch.arange(10),
        torch.arange(2000),  # summarized
        torch.arange(2000.0) / 7,
        torch.randn(3, 4, 5, generator=g),  # 3-D
        torch.randn(40, 40, generator=g),  # summarized 2-D
        torch.randn(3, 30, generator=g),  # rows wrap at 80 columns
        torch.randn(1200, 3, generator=g),
        torch.randn(5, 5, 5, 5, 5, generator=g),  # summarized 5-D
        torch.arange(24.0).reshape(2, 3, 4) - 5,  # negative, int-valued
        torch.randn(100, generator=g) * 1e9,
        torch.randn(2, 3, dtype=torch.float64, generator=g),  # dtype=torch.float64
        torch.tensor([[1e-10, 1e10]], dtype=torch.float64),
        torch.tensor([1e100, -1e-100], dtype=torch.float64),  # 3-digit exponents
        torch.tensor([1.5, 2.0, 65504.0], dtype=torch.float16),
        torch.tensor([1.5, -2.25, 3e38], dtype=torch.bfloat16),
        torch.tensor(2.5, dtype=torch.float16),
        torch.tensor(nan),
        torch.tensor(-inf),
        torch.arange(1001.0),  # just over the threshold
        torch.arange(1000.0),  # at the threshold: not summarized
    ]


def to_str(x: torch.Tensor) -> str:
    return str(x)


def complex_str(re: torch.Tensor, im: torch.Tensor) -> str:
    # complex tensors are built inside: torchkiln-run's inputs (safetensors) cannot hold them
    return str(torch.complex(re, im))


def test_str_of_complex_tensors():
    matches_eager(
        complex_str,
        (torch.tensor([1.0, -3.5]), torch.tensor([2.0, -0.5])),
        (torch.tensor(1.0), torch.tensor(-1.0)),
        (torch.tensor([1e-6, nan], dtype=torch.float64), torch.tensor([2.0, -1.0], dtype=torch.float64)),
        (torch.randn(4, 4), torch.randn(4, 4)),
        (torch.arange(1500.0), -torch.arange(1500.0)),
    )


def every_form(x: torch.Tensor) -> List[str]:
    return [f"{x!r}", f"<{x!s}>", "%s" % x, "%r|%s" % (x, x), "{0!s} {0!r}".format(x), str([x, x]), str((x, 1))]


def test_str_of_tensors():
    matches_eager(to_str, *[(t,) for t in tensors()])


def test_every_conversion_gives_the_same_text():
    matches_eager(every_form, *[(t,) for t in tensors()])


def formatted(x: torch.Tensor) -> str:
    return f"{x}" + "|" + "{}".format(x)


def test_format_without_spec_is_str_except_for_0_dim_tensors():
    # Tensor.__format__: a 0-dim tensor formats as its item (3.0, not tensor(3.)).
    matches_eager(formatted, *[(t,) for t in tensors()])


def format_spec(x: torch.Tensor) -> str:
    return f"{x:.2f}|{x:>8.3e}|{x:+g}"


def test_format_spec_of_0_dim_tensors():
    matches_eager(format_spec, (torch.tensor(2.5),), (torch.tensor(3),), (torch.tensor(-0.1, dtype=torch.float64),), (torch.tensor(1.5, dtype=torch.half),))


def format_spec_of_vector(x: torch.Tensor) -> str:
    return f"{x:.2f}"


def test_format_spec_of_a_vector_is_a_type_error():
    s = scripted(format_spec_of_vector)
    for name in EXECUTORS:
        with pytest.raises(TypeError, match=r"unsupported format string passed to Tensor.__format__"):
            ScriptFunction(s._kiln_unit, s._kiln_fn, executor=name)(torch.ones(2))


def grad_forms(x: torch.Tensor) -> List[str]:
    # tensor-tensor ops only: `leaf * 2` records MulBackward1 on the interpreter, MulBackward0 in eager
    leaf = x.detach().requires_grad_()
    y = leaf * leaf
    return [str(leaf), str(y), str(leaf + x), str(y.sum()), str(leaf[0]), f"{leaf}", str(leaf.detach()), str(torch.relu(leaf))]


def test_requires_grad_and_grad_fn_suffixes():
    matches_eager(grad_forms, (torch.tensor([1.0, -2.0]),), (torch.tensor([[1.5]], dtype=torch.float64),), (torch.randn(30, 30),))


def long_suffixes(x: torch.Tensor) -> str:
    # dtype and grad_fn move to their own lines where they would pass column 80
    return str((x.detach().requires_grad_() * x).to(torch.float64))


def test_suffixes_wrap_at_the_line_width():
    matches_eager(long_suffixes, (torch.randn(12),), (torch.randn(4, 6) * 1e-5,), (torch.tensor(2.0),))


def percent_numbers(x: torch.Tensor) -> str:
    return "%d|%i|%5.1f|%e|%g|%-4d|%+d|%.3d" % (x, x, x, x, x, x, x, x)


def percent_integers(x: torch.Tensor) -> str:
    return "%x|%o|%X|%#x|%c" % (x, x, x, x, x)


def test_percent_converts_tensors_as_python_does():
    # %d calls int(), %f float() (a float tensor truncates); any shape with one element
    one = [torch.tensor(3), torch.tensor(2.7), torch.tensor(-2.5), torch.ones(1), torch.ones(1, 1, dtype=torch.float64),
           torch.tensor(True), torch.tensor(66, dtype=torch.uint8), torch.tensor(1.5, dtype=torch.bfloat16)]
    matches_eager(percent_numbers, *[(t,) for t in one])
    # %x/%o/%c call operator.index(): integral and bool tensors only
    matches_eager(percent_integers, (torch.tensor(65),), (torch.tensor([255]),), (torch.tensor(True),), (torch.tensor(66, dtype=torch.int16),))
    matches_eager(percent_x, (torch.tensor(-255),), (torch.tensor([[7]], dtype=torch.uint8),))


def percent_d(x: torch.Tensor) -> str:
    return "%d" % x


def percent_f(x: torch.Tensor) -> str:
    return "%f" % x


def percent_x(x: torch.Tensor) -> str:
    return "%x" % x


def percent_c(x: torch.Tensor) -> str:
    return "%c" % x


@pytest.mark.parametrize(
    "fn, x",
    [
        (percent_d, torch.ones(2)),
        (percent_d, torch.empty(0)),
        (percent_d, torch.tensor(nan)),
        (percent_d, torch.tensor(inf)),
        (percent_d, torch.tensor(1 + 2j)),
        (percent_f, torch.ones(2, 2)),
        (percent_f, torch.tensor(1 + 2j)),
        (percent_x, torch.tensor(1.0)),
        (percent_x, torch.ones(2, dtype=torch.int64)),
        (percent_c, torch.tensor(6.5)),
    ],
)
def test_percent_errors_are_pythons(fn, x):
    try:
        fn(x.clone())
    except Exception as e:  # noqa: BLE001 - the eager exception is the expected one
        expected = e
    else:
        raise AssertionError("eager did not raise")
    s = scripted(fn)
    for name in EXECUTORS:
        with pytest.raises(type(expected)) as info:
            ScriptFunction(s._kiln_unit, s._kiln_fn, executor=name)(x.clone())
        assert str(expected) in str(info.value), (name, str(info.value))
