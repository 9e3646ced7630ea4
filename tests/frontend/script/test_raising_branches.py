"""Branches that raise (Note [Raising branches] in frontend/script/exits.py).

The code after `if c: raise ...` stays after the `if` instead of nesting
in its other branch: a function with many argument checks compiles flat,
and values set in the branch that does not raise are visible after it.
"""
import importlib.util
from typing import List, Optional

import pytest
import torch

import torchkiln

from .script_testing import EXECUTORS, matches_eager, same


def assign_then_check(x: int, y: Optional[int]) -> int:
    if y is None:
        raise ValueError("y is None")
    else:
        z = y * 2
    if z > x:
        w = z - x
    else:
        raise ValueError(f"z={z} <= x={x}")
    return w + z


def raise_or_return(x: int) -> int:
    if x < 0:
        raise ValueError("negative")
    elif x == 0:
        return 100
    elif x > 10:
        raise IndexError("too big")
    return x * 3


def raise_in_loop(xs: List[int]) -> int:
    total = 0
    for x in xs:
        if x < 0:
            raise ValueError(f"negative element {x}")
        if x == 0:
            continue
        total += x
        if total > 100:
            break
    return total


def raise_or_break(xs: List[int]) -> int:
    found = -1
    for i, x in enumerate(xs):
        if x > 5:
            found = i
            break
        elif x < 0:
            raise RuntimeError("bad")
        else:
            found = -2
    return found


def shape_checks(x: torch.Tensor, mask: Optional[torch.Tensor]) -> torch.Tensor:
    if x.dim() != 2:
        raise ValueError(f"expected a 2-d input, got {x.dim()}-d")
    n, d = x.shape
    if mask is not None:
        if mask.shape != (n,):
            raise ValueError("mask must have shape (n,)")
        y = x * mask.unsqueeze(1)
    else:
        y = x
    assert d > 0, "empty rows"
    if y.sum() < -1000:
        raise RuntimeError("diverged")
    return y.sum(1)


class _Raised:
    def __init__(self, e: Exception):
        self.type, self.message = type(e), str(e)


def _calls(fn, inputs):
    """Each input tuple's result, or a `_Raised` with the exception's type and message."""
    out = []
    for args in inputs:
        try:
            out.append(fn(*args))
        except Exception as e:  # noqa: BLE001 - the comparison is the point
            out.append(_Raised(e))
    return out


CASES = [
    (assign_then_check, [(1, None), (1, 3), (10, 2), (0, 0)]),
    (raise_or_return, [(-1,), (0,), (5,), (11,)]),
    (raise_in_loop, [([1, 2, 0, 3],), ([1, -2],), ([60, 50, 70],), ([],)]),
    (raise_or_break, [([1, 2, 9],), ([1, -1, 9],), ([1, 2],), ([],)]),
    (shape_checks, [(torch.ones(3, 2), None), (torch.ones(3, 2), torch.tensor([1.0, 0.0, 2.0])),
                    (torch.ones(3), None), (torch.ones(3, 2), torch.ones(2)), (torch.full((2, 2), -500.0), None)]),
]


@pytest.mark.parametrize("fn,inputs", CASES, ids=[c[0].__name__ for c in CASES])
def test_raising_branches_match_eager(fn, inputs):
    from torchkiln.api import ScriptFunction

    want = _calls(fn, inputs)
    assert any(isinstance(w, _Raised) for w in want) and not all(isinstance(w, _Raised) for w in want)
    s = matches_eager(fn, *[args for args, w in zip(inputs, want) if not isinstance(w, _Raised)])
    for name in EXECUTORS:
        got = _calls(ScriptFunction(s._kiln_unit, s._kiln_fn, executor=name), inputs)
        for args, g, w in zip(inputs, got, want):
            if isinstance(w, _Raised):
                assert isinstance(g, _Raised) and g.type is w.type and w.message in g.message, f"{fn.__name__}{args} on {name}"
            else:
                assert same(g, w), f"{fn.__name__}{args} on {name}: {g!r} vs {w!r}"


def test_raising_branches_do_not_nest():
    s = torchkiln.script(shape_checks)
    depth = max(_depth(s.graph.block, 0), 0)
    assert depth <= 2, s.graph  # the mask branch and its check, nothing more


def _depth(block, d):
    return max([d] + [_depth(b, d + 1) for n in block.nodes for b in n.blocks])


def test_many_argument_checks(tmp_path):
    # 150 checks in a row: nested, the rest of the function was 150 levels deep and the
    # generated Python overflowed the interpreter's indentation limit.
    lines = ["import torch", "def f(x: torch.Tensor, k: int) -> torch.Tensor:"]
    for i in range(150):
        lines += [f"    if k == {i}:", f"        raise ValueError(f'k is {i}, x has {{x.dim()}} dims')", f"    x = x + {i}"]
    lines.append("    return x")
    path = tmp_path / "many_checks.py"
    path.write_text("\n".join(lines) + "\n")
    spec = importlib.util.spec_from_file_location("many_checks", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    from torchkiln.api import ScriptFunction

    s = torchkiln.script(mod.f)
    for name in EXECUTORS:
        run = ScriptFunction(s._kiln_unit, s._kiln_fn, executor=name)
        assert torch.equal(run(torch.zeros(2), 1000), mod.f(torch.zeros(2), 1000)), name
        with pytest.raises(ValueError, match="k is 77, x has 1 dims"):
            run(torch.zeros(2), 77)
    saved = tmp_path / "many.pt"
    s.save(str(saved))
    loaded = torchkiln.load(str(saved))
    assert torch.equal(loaded(torch.ones(3), -1), mod.f(torch.ones(3), -1))
