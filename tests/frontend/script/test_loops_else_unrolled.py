"""`for`/`while ... else`, `break`/`continue`/`return` in loops unrolled at compile time
(tuples, nn.ModuleList / Sequential / ModuleDict), and grad mode restored when an
exception leaves a `with torch.no_grad()` body. Every program is compared with eager
Python on inputs reaching each branch, on every executor."""
from typing import Dict, List, Tuple

import pytest
import torch
import torch.nn as nn

import torchkiln
from torchkiln import cpp_executor
from torchkiln.api import ScriptFunction

from .script_testing import check_ir, same, scripted

EXECUTORS = ("python", "interpreter") + (("cpp",) if cpp_executor.available() else ())


def _copy(xs):
    return [x.clone() if isinstance(x, torch.Tensor) else list(x) if isinstance(x, list) else dict(x) if isinstance(x, dict) else x for x in xs]


def agrees(fn, *input_sets):
    """Script `fn` and compare it with eager Python on each input tuple, on every executor."""
    s = scripted(fn)
    for name in EXECUTORS:
        run = ScriptFunction(s._kiln_unit, s._kiln_fn, executor=name)
        for inputs in input_sets:
            expected = fn(*_copy(inputs))
            got = run(*_copy(inputs))
            assert same(got, expected), f"{fn.__name__}{inputs!r}: the {name} executor gave {got!r}, eager {expected!r}"
    return s


def module_agrees(m: nn.Module, *input_sets):
    s = torchkiln.script(m)
    check_ir(s)
    for name in EXECUTORS:
        s.with_executor(name)
        for inputs in input_sets:
            with torch.no_grad():
                expected = m(*_copy(inputs))
                got = s(*_copy(inputs))
            assert same(got, expected), f"{type(m).__name__}{inputs!r}: the {name} executor gave {got!r}, eager {expected!r}"
    return s


T = torch.tensor


# -- for/while ... else over real loops -------------------------------------------------------------


def else_range(n: int, stop: int) -> int:
    total = 0
    for i in range(n):
        if i == stop:
            break
        if i % 2 == 1:
            continue
        total += i
    else:
        total += 1000
    return total


def else_list_return(xs: List[int]) -> int:
    for x in xs:
        if x < 0:
            return x
    else:
        return 100
    return -1000  # not reached: the `else` returns


def else_without_break(xs: List[int]) -> int:
    t = 0
    for x in xs:
        t += x
    else:
        t *= 2
    return t


def else_tensor(x: torch.Tensor) -> torch.Tensor:
    acc = torch.zeros(x.size(1))
    for row in x:
        if bool(row.sum() > 5):
            acc = acc - 1
            break
        acc = acc + row
    else:
        acc = acc * 10
    return acc


def else_dict_items(d: Dict[str, int], bad: str) -> Tuple[int, str]:
    t = 0
    found = "none"
    for k, v in d.items():
        if k == bad:
            found = k
            break
        t += v
    else:
        found = "all"
    return t, found


def else_enumerate_zip(xs: List[int], ys: List[int]) -> Tuple[int, int]:
    where = -1
    for i, (a, b) in enumerate(zip(xs, ys)):
        if a == b:
            where = i
            break
    else:
        where = len(xs) * 100
    n = 0
    for k, a in enumerate(xs, 1):
        if a > 10:
            break
        n += k
    else:
        n = -n
    return where, n


def else_while(n: int, stop: int) -> Tuple[int, int]:
    i = 0
    t = 0
    while i < n:
        i += 1
        if i == stop:
            break
        if i == 2:
            continue
        t += i
    else:
        t = -t
    return i, t


def else_while_static_false(x: int) -> int:
    while False:
        x += 1
    else:
        x += 5
    return x


def else_nested(xs: List[int], ys: List[int]) -> List[int]:
    out: List[int] = []
    for x in xs:
        for y in ys:
            if x == y:
                out.append(x * 10)
                break
        else:
            out.append(-x)
            if x > 100:
                break  # leaves the outer loop
            continue
        out.append(0)
    else:
        out.append(999)
    return out


def else_defines(xs: List[int]) -> int:
    y = 0
    for x in xs:
        if x == 3:
            y = 1
            break
    else:
        y = 2
        z = 7
        y += z
    return y


@pytest.mark.parametrize(
    "fn,inputs",
    [
        (else_range, [(5, 3), (5, 9), (0, 0), (6, 1)]),
        (else_list_return, [([1, 2],), ([1, -2, 3],), ([],)]),
        (else_without_break, [([1, 2],), ([],)]),
        (else_tensor, [(T([[1.0, 2.0], [3.0, 4.0]]),), (T([[1.0, 1.0], [1.0, 1.0]]),), (torch.zeros(0, 2),)]),
        (else_dict_items, [({"a": 1, "b": 2}, "b"), ({"a": 1, "b": 2}, "c"), ({}, "a")]),
        (else_enumerate_zip, [([1, 2, 3], [3, 2, 1]), ([1, 2], [3, 4]), ([11, 2], [0, 0]), ([], [])]),
        (else_while, [(5, 3), (5, 9), (0, 1)]),
        (else_while_static_false, [(1,)]),
        (else_nested, [([1, 2, 3], [2]), ([1, 200, 3], [3]), ([], [1]), ([1], [1])]),
        (else_defines, [([1, 3],), ([1, 2],)]),
    ],
)
def test_loop_else(fn, inputs):
    agrees(fn, *inputs)


def test_loop_else_without_break_has_no_flag():
    s = agrees(else_without_break, ([1, 2],))
    assert str(s.graph).count("prim::If") == 0


def test_variable_set_only_in_else_is_undefined_after_a_loop_that_breaks():
    def f(xs: List[int]) -> int:
        for x in xs:
            if x == 3:
                break
        else:
            z = 1
        return z

    with pytest.raises(torchkiln.CompileError, match="'z' is not defined in the true branch") as e:
        torchkiln.script(f)
    assert "return z" in str(e.value)


# -- break / continue / return in unrolled loops -----------------------------------------------------


def tuple_break(x: torch.Tensor) -> torch.Tensor:
    for c in (1.0, 2.0, 3.0, 4.0):
        if bool(x.sum() > 20):
            break
        x = x * c
    return x


def tuple_continue_mixed_types(x: torch.Tensor, skip: int) -> Tuple[torch.Tensor, int]:
    n = 0
    for k, v in enumerate((1, 2.5, "s", 4)):
        if k == skip:
            continue
        n += 1
        if isinstance(v, str):
            x = x + len(v)
            continue
        x = x * v
    return x, n


def tuple_return(x: torch.Tensor) -> torch.Tensor:
    for c in (2, 3, 4):
        if bool(x.sum() > 10):
            return x - c
        x = x * c
    return x


def tuple_else(x: torch.Tensor, limit: float) -> Tuple[torch.Tensor, bool]:
    done = False
    for c in (1.0, 2.0, 3.0):
        if float(x.max()) > limit:
            break
        x = x + c
    else:
        done = True
    return x, done


def tuple_nested_real_loops(x: torch.Tensor, n: int) -> torch.Tensor:
    for i in range(n):  # a real loop around an unrolled one
        for c in (1, 2, 3):
            if i == c:
                continue
            if i + c > 4:
                break
            for j in range(c):  # a real loop inside the unrolled one
                if j == 1:
                    break
                x = x + j + c * 10
        else:
            x = x * 2
        if bool(x.sum() > 1000):
            break
    return x


def tuple_break_in_inner_real_loop(xs: List[int]) -> int:
    t = 0
    for c in (1, 2, 3):
        for x in xs:
            if x == c:
                break  # leaves only the inner loop
            t += x * c
        t += 100
    return t


def tuple_unconditional(x: int) -> int:
    for c in (1, 2, 3):
        x += c
        break
    for c in (10, 20):
        if x > 100:
            continue
        x += c
        continue
    return x


def tuple_return_or_break(x: int) -> int:
    for c in (1, 2, 3):
        if x > 5:
            break
        if x == c:
            return -c
        x += 2
    else:
        return 1000 + x
    return x


def tuple_raise_in_unrolled(x: int) -> int:
    for c in (1, 2, 3):
        if x == c:
            continue
        if x > 10:
            raise ValueError("too big")
    return x


def tuple_nested_unrolled(x: int) -> int:
    t = 0
    for a in (1, 2, 3):
        if a == x:
            continue
        for b in (10, 20, 30):
            if b == a * 10:
                break
            if b == 20 and x > 5:
                continue
            t += a * b
        else:
            t += 1000
        if t > 200 and x > 6:
            break
    else:
        t = -t
    return t


def tuple_item_always_returns(x: int):
    for c in (1, "a", 3):
        if isinstance(c, str):
            return 5  # decided at compile time: the loop never goes past this item
        if x > c:
            break
        x += 1
    return x


def tuple_empty_else(x: int) -> int:
    for c in ():
        break
    else:
        x += 1
    return x


def tuple_in_no_grad(x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        for c in (1.0, 2.0, 3.0):
            if float(x.sum()) > 10:
                return x
            if float(x.sum()) < -10:
                break
            x = x * c
    return x + 1


@pytest.mark.parametrize(
    "fn,inputs",
    [
        (tuple_nested_unrolled, [(0,), (1,), (2,), (6,), (7,), (100,)]),
        (tuple_item_always_returns, [(0,), (2,), (5,)]),
        (tuple_empty_else, [(1,)]),
        (tuple_in_no_grad, [(torch.ones(2),), (torch.full((2,), 20.0),), (torch.full((2,), -20.0),), (torch.full((2,), 3.0),)]),
        (tuple_break, [(torch.ones(2),), (torch.full((2,), 3.0),), (torch.full((2,), 30.0),)]),
        (tuple_continue_mixed_types, [(torch.ones(2), 0), (torch.ones(2), 2), (torch.ones(2), 7)]),
        (tuple_return, [(torch.ones(2),), (torch.full((2,), 2.0),), (torch.full((2,), 20.0),)]),
        (tuple_else, [(torch.ones(2), 100.0), (torch.ones(2), 2.5), (torch.ones(2), 0.0)]),
        (tuple_nested_real_loops, [(torch.zeros(2), 0), (torch.zeros(2), 3), (torch.zeros(2), 6), (torch.ones(2) * 500, 4)]),
        (tuple_break_in_inner_real_loop, [([1, 2, 3],), ([5],), ([],)]),
        (tuple_unconditional, [(0,), (200,)]),
        (tuple_return_or_break, [(1,), (0,), (3,), (9,), (2,)]),
        (tuple_raise_in_unrolled, [(1,), (5,)]),
    ],
)
def test_unrolled_exits(fn, inputs):
    agrees(fn, *inputs)


def test_raise_in_unrolled_loop_raises():
    s = agrees(tuple_raise_in_unrolled, (2,))
    for name in EXECUTORS:
        with pytest.raises(ValueError, match="too big"):
            s.with_executor(name)(11)


class Scale(nn.Module):
    def __init__(self, c: float):
        super().__init__()
        self.c = c

    def forward(self, x):
        return x * self.c


class Shift(nn.Module):
    def __init__(self, c: float):
        super().__init__()
        self.c = c

    def forward(self, x):
        return x + self.c


class ListBreak(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([Scale(2.0), Shift(1.0), Scale(3.0), Shift(-4.0)])

    def forward(self, x, limit: float):
        for i, layer in enumerate(self.layers):
            if i == 1 and float(x.sum()) < 0:
                continue
            x = layer(x)
            if float(x.max()) > limit:
                break
        else:
            x = x * 100
        return x


class SequentialReturn(nn.Module):
    def __init__(self):
        super().__init__()
        self.seq = nn.Sequential(Shift(1.0), Scale(2.0), nn.ReLU(), Shift(0.5))

    def forward(self, x):
        for m in self.seq:
            x = m(x)
            if float(x.sum()) > 10:
                return x - 1
            if float(x.sum()) < -5:
                break
        return x


class DictContinue(nn.Module):
    def __init__(self):
        super().__init__()
        self.d = nn.ModuleDict({"a": Scale(2.0), "b": Shift(1.0), "c": Scale(-1.0)})

    def forward(self, x, skip: str):
        names: List[str] = []
        for name, m in self.d.items():
            if name == skip:
                continue
            names.append(name)
            x = m(x)
        for m in self.d.values():
            if float(x.sum()) > 50:
                break
            x = m(x)
        return x, names


class ZipModules(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.ModuleList([Scale(2.0), Scale(3.0), Scale(4.0)])
        self.b = nn.ModuleList([Shift(1.0), Shift(2.0), Shift(3.0)])

    def forward(self, x, n: int):
        for k in range(n):  # an unrolled loop with exits inside a real loop
            for f, g in zip(self.a, self.b):
                x = g(f(x))
                if float(x.sum()) > 40:
                    break
            else:
                continue
            break
        return x


@pytest.mark.parametrize(
    "make,inputs",
    [
        (ListBreak, [(torch.ones(2), 1000.0), (torch.ones(2), 3.0), (torch.ones(2), 4.5), (-torch.ones(2), 1000.0)]),
        (SequentialReturn, [(torch.ones(2),), (torch.full((2,), 5.0),), (torch.full((2,), -20.0),)]),
        (DictContinue, [(torch.ones(2), "b"), (torch.ones(2), "x"), (torch.full((2,), 20.0), "a")]),
        (ZipModules, [(torch.zeros(2), 0), (torch.zeros(2), 1), (torch.zeros(2), 3), (torch.full((2,), -100.0), 5)]),
    ],
)
def test_unrolled_module_loops(make, inputs):
    module_agrees(make().eval(), *inputs)


def test_unrolled_loop_variable_is_undefined_after_a_loop_that_breaks():
    def f(x: torch.Tensor) -> int:
        for c in (1, 2):
            if bool(x.sum() > 0):
                break
        return c

    with pytest.raises(torchkiln.CompileError, match="'c' is first assigned inside a loop") as e:
        torchkiln.script(f)
    assert "return c" in str(e.value)


def test_unrolled_loop_with_exits_keeps_a_variables_type():
    def f(x: int) -> int:
        y = 1
        for c in (1, "s"):
            if x > 0:
                continue
            y = c
        return x

    with pytest.raises(torchkiln.CompileError, match="'y' has type int before the loop") as e:
        torchkiln.script(f)
    assert "y = c" in str(e.value) and "^" in str(e.value)


def test_unrolled_without_exits_still_changes_types():
    def f(x: int):
        y = x
        for c in (1.5, "s"):
            y = c
        return y

    assert agrees(f, (1,))


# -- grad mode after an exception in `with torch.no_grad()` -------------------------------------------


def grad_raises(x: torch.Tensor, k: int) -> Tuple[torch.Tensor, bool]:
    with torch.no_grad():
        y = x * 2
        if k == 1:
            raise ValueError("raised in no_grad")
        assert k != 2, "assert in no_grad"
        if k == 3:
            y = torch.mm(y, y)  # an op error: y is 1-d
        with torch.enable_grad():
            if k == 4:
                raise RuntimeError("raised in enable_grad inside no_grad")
            y = y + x
        for i in range(3):
            if i == k - 5:
                raise IndexError("raised in a loop")
    return y, torch.is_grad_enabled()


def grad_set_enabled(x: torch.Tensor, on: bool, k: int) -> Tuple[torch.Tensor, bool]:
    with torch.set_grad_enabled(on):
        y = x * 2
        if k == 1:
            raise ValueError("raised in set_grad_enabled")
        inner = torch.is_grad_enabled()
    return y, inner


def grad_helper(x: torch.Tensor, k: int) -> torch.Tensor:
    with torch.no_grad():
        if k == 1:
            raise ValueError("raised in a callee")
        return x + 1


@torchkiln.script
def _scripted_helper(x: torch.Tensor, k: int) -> torch.Tensor:
    with torch.no_grad():
        if k == 1:
            raise ValueError("raised in a scripted callee")
        return x + 1


def grad_calls(x: torch.Tensor, k: int) -> torch.Tensor:
    y = grad_helper(x, k)
    return _scripted_helper(y, k)


@pytest.mark.parametrize("executor", EXECUTORS)
def test_grad_mode_restored_after_exception(executor):
    s = scripted(grad_raises).with_executor(executor)
    x = torch.ones(3)  # (torchkiln-run, which replays these calls, does not keep requires_grad)
    y, enabled = s(x, 0)
    assert enabled and torch.is_grad_enabled()
    for k, exc in ((1, ValueError), (2, AssertionError), (3, RuntimeError), (4, RuntimeError), (5, IndexError), (7, IndexError)):
        assert torch.is_grad_enabled()
        with pytest.raises(exc):
            s(x, k)
        assert torch.is_grad_enabled(), f"k={k}: grad mode left disabled by the {executor} executor"
    # Called with grad disabled, an exception leaves it disabled (Python restores the outer mode).
    with torch.no_grad():
        with pytest.raises(RuntimeError):
            s(x, 4)
        assert not torch.is_grad_enabled()
    assert torch.is_grad_enabled()


@pytest.mark.parametrize("executor", EXECUTORS)
def test_grad_mode_restored_with_set_grad_enabled_and_calls(executor):
    f = scripted(grad_set_enabled).with_executor(executor)
    x = torch.ones(2)
    for on in (True, False):
        y, inner = f(x, on, 0)
        assert inner == on
        assert torch.is_grad_enabled()
        with pytest.raises(ValueError):
            f(x, on, 1)
        assert torch.is_grad_enabled()
    g = scripted(grad_calls).with_executor(executor)
    assert torch.equal(g(torch.ones(2), 0), torch.full((2,), 3.0))
    with pytest.raises(ValueError, match="raised in a callee"):
        g(torch.ones(2), 1)
    assert torch.is_grad_enabled()


class GradModule(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([Scale(2.0), Shift(1.0)])

    def forward(self, x, k: int):
        with torch.no_grad():
            for layer in self.layers:
                x = layer(x)
                if k == 1:
                    break
                if k == 2:
                    raise ValueError("raised in an unrolled loop in no_grad")
        return x, torch.is_grad_enabled()


@pytest.mark.parametrize("executor", EXECUTORS)
def test_grad_mode_module(executor):
    m = GradModule()
    s = torchkiln.script(m).with_executor(executor)
    x = torch.ones(2)
    for k in (0, 1):
        got, want = s(x, k), m(x, k)
        assert torch.equal(got[0], want[0]) and got[1] == want[1] is True
    with pytest.raises(ValueError):
        s(x, 2)
    assert torch.is_grad_enabled()


# -- neighbours that must keep working -------------------------------------------------------------


def misc_statements(xs: List[int], lo: int, hi: int) -> Tuple[int, List[int]]:
    kept: List[int] = []
    n = 0
    for x in xs:
        tmp = x * 2
        del tmp
        if lo < x <= hi:
            kept.append(x)
        elif x == lo:
            pass
        else:
            n += 1
        assert x != 999, f"bad value {x}"
    d = {"a": 1}
    del d["a"]
    return n + len(d), kept


def test_del_pass_assert_chained_comparisons():
    s = agrees(misc_statements, ([1, 2, 3, 4], 1, 3), ([], 0, 0))
    for name in EXECUTORS:
        with pytest.raises(AssertionError, match="bad value 999"):
            s.with_executor(name)([1, 999], 0, 5)
