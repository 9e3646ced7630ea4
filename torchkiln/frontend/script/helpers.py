"""Python builtins written in script-compilable Python, compiled on demand.

Builtins with loops (or other control flow) are easier to state as source
than as IR; `builtins.py` calls these through the normal function path.
"""
from __future__ import annotations

from typing import List

from torch import Tensor


def sum_tensors(xs: List[Tensor], start: int = 0) -> Tensor:
    """`sum(xs, start)` for a list of tensors (an empty list raises: the result must be a Tensor)."""
    if len(xs) == 0:
        raise ValueError("sum() of an empty list of tensors has no Tensor result in script")
    total = xs[0] + start
    for i in range(1, len(xs)):
        total = total + xs[i]
    return total


def list_with_default(out_size: List[int], defaults: List[int]) -> List[int]:
    """`torch.nn.modules.utils._list_with_default` where sizes are ints (script's `List[int]`)."""
    if len(defaults) <= len(out_size):
        raise ValueError("Input dimension should be at least " + str(len(out_size) + 1))
    return out_size


def prod_int(xs: List[int], start: int = 1) -> int:
    """`math.prod(xs, start=start)` for ints (left to right, as Python multiplies)."""
    acc = start
    for x in xs:
        acc = acc * x
    return acc


def prod_float(xs: List[float], start: float = 1.0) -> float:
    """`math.prod` of floats, or of ints from a float start."""
    acc = start
    for x in xs:
        acc = acc * x
    return acc


def prod_ints_from_float(xs: List[int], start: float) -> float:
    acc = start
    for x in xs:
        acc = acc * x
    return acc
