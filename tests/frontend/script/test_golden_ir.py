"""Golden IR: what the frontend itself emits (SSA after exit lowering, before the pass pipeline).

Source locations are left out of the comparison; names are the printer's.
"""
import re
from typing import List, Optional

import pytest

from torchkiln.frontend.script import script_function
from torchkiln.ir.verify import verify
from torchkiln import ops


def frontend_ir(fn) -> str:
    s = script_function(fn, run_passes=False)
    verify(s._kiln_fn.graph, ops.op_checker)
    return re.sub(r"  # .*$", "", str(s.graph), flags=re.M).strip()


def add_mul(x, y):
    z = x + y
    return z * 2


def loop_sum(n: int) -> int:
    total = 0
    for i in range(n):
        total += i
    return total


def first_positive(xs: List[int]) -> int:
    for x in xs:
        if x > 0:
            return x
    return -1


def refine(x: Optional[int]) -> int:
    if x is None:
        return 0
    return x + 1


def while_break(n: int) -> int:
    i = 0
    while True:
        i += 1
        if i >= n:
            break
    return i


def checked(x: int, y: Optional[int]) -> int:
    if x < 0:
        raise ValueError(f"x is {x}")
    if y is None:
        z = 0
    else:
        if y > x:
            raise ValueError("y > x")
        z = y
    return x + z


def refine_join(x: int, m: Optional[int]) -> int:
    if m is not None:
        x = x + m
    if m is None:
        raise ValueError("m is required")
    return x * m


CASES = ["add_mul", "loop_sum", "first_positive", "refine", "while_break", "checked", "refine_join"]

EXPECTED = {
    "add_mul": """
graph(%x : Tensor, %y : Tensor):
  %2 : int = prim::Constant[value=2]()
  %3 : Scalar = prim::Constant[value=1]()
  %4 : Tensor = aten::add.Tensor(%x, %y, %3)
  %5 : Tensor = aten::mul.Scalar(%4, %2)
  return (%5)
""",
    "loop_sum": """
graph(%n : int):
  %1 : int = prim::Constant[value=0]()
  %2 : bool = prim::Constant[value=True]()
  %3 : int = prim::Loop(%n, %2, %1)
    block0(%4 : int, %5 : int):
      %6 : int = prim::add.int(%5, %4)
      -> (%2, %6)
  return (%3)
""",
    "first_positive": """
graph(%xs : int[]):
  %1 : bool = prim::Constant[value=False]()
  %2 : bool = prim::Constant[value=True]()
  %3 : int = prim::Constant[value=0]()
  %4 : int = prim::Constant[value=-1]()
  %5 : int = prim::Uninitialized()
  %6 : int = prim::len.list(%xs)
  %7 : int, %8 : bool = prim::Loop(%6, %2, %5, %1)
    block0(%9 : int, %10 : int, %11 : bool):
      %12 : int = prim::getitem.list(%xs, %9)
      %13 : bool = prim::gt(%12, %3)
      %14 : int, %15 : bool, %16 : bool = prim::If(%13)
        block0():
          -> (%12, %2, %2)
        block1():
          -> (%10, %11, %1)
      %17 : bool = prim::If(%16)
        block0():
          -> (%1)
        block1():
          -> (%2)
      -> (%17, %14, %15)
  %18 : int = prim::If(%8)
    block0():
      -> (%7)
    block1():
      -> (%4)
  return (%18)
""",
    "refine": """
graph(%x : int?):
  %1 : NoneType = prim::Constant[value=None]()
  %2 : int = prim::Constant[value=0]()
  %3 : int = prim::Constant[value=1]()
  %4 : bool = prim::is(%x, %1)
  %5 : int = prim::If(%4)
    block0():
      -> (%2)
    block1():
      %6 : int = prim::unchecked_cast(%x)
      %7 : int = prim::add.int(%6, %3)
      -> (%7)
  return (%5)
""",
    # Note [Raising branches]: the code after `if ...: raise` stays after the `if`
    # (not nested in its other branch); `z` leaves the inner `if` whose raising
    # branch gives it no value.
    "checked": """
graph(%x : int, %y : int?):
  %2 : int = prim::Constant[value=0]()
  %3 : str = prim::Constant[value="x is {}"]()
  %4 : NoneType = prim::Constant[value=None]()
  %5 : str = prim::Constant[value="y > x"]()
  %6 : bool = prim::lt(%x, %2)
  prim::If(%6)
    block0():
      %7 : str = prim::format(%3, %x)
      prim::RaiseException[cls="ValueError"](%7)
      -> ()
    block1():
      -> ()
  %8 : bool = prim::is(%y, %4)
  %9 : int = prim::If(%8)
    block0():
      -> (%2)
    block1():
      %10 : int = prim::unchecked_cast(%y)
      %11 : bool = prim::gt(%10, %x)
      prim::If(%11)
        block0():
          prim::RaiseException[cls="ValueError"](%5)
          -> ()
        block1():
          -> ()
      -> (%10)
  %12 : int = prim::add.int(%x, %9)
  return (%12)
""",
    # Note [Refinement joins]: `m` is no output of the first `if` (both paths hold the
    # argument); after the raising `if`, the narrowing is a cast of the argument itself.
    "refine_join": """
graph(%x : int, %m : int?):
  %2 : NoneType = prim::Constant[value=None]()
  %3 : str = prim::Constant[value="m is required"]()
  %4 : bool = prim::is(%m, %2)
  %5 : bool = prim::not(%4)
  %6 : int = prim::If(%5)
    block0():
      %7 : int = prim::unchecked_cast(%m)
      %8 : int = prim::add.int(%x, %7)
      -> (%8)
    block1():
      -> (%x)
  %9 : bool = prim::is(%m, %2)
  prim::If(%9)
    block0():
      prim::RaiseException[cls="ValueError"](%3)
      -> ()
    block1():
      -> ()
  %10 : int = prim::unchecked_cast(%m)
  %11 : int = prim::mul.int(%6, %10)
  return (%11)
""",
    "while_break": """
graph(%n : int):
  %1 : int = prim::Constant[value=0]()
  %2 : bool = prim::Constant[value=True]()
  %3 : int = prim::Constant[value=9223372036854775807]()
  %4 : int = prim::Constant[value=1]()
  %5 : bool = prim::Constant[value=False]()
  %6 : int = prim::Loop(%3, %2, %1)
    block0(%7 : int, %8 : int):
      %9 : int = prim::add.int(%8, %4)
      %10 : bool = prim::ge(%9, %n)
      %11 : bool = prim::If(%10)
        block0():
          -> (%2)
        block1():
          -> (%5)
      %12 : bool = prim::If(%11)
        block0():
          -> (%5)
        block1():
          -> (%2)
      -> (%12, %9)
  return (%6)
""",
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_golden(name):
    fn = globals()[name]
    assert frontend_ir(fn) == EXPECTED[name].strip()
