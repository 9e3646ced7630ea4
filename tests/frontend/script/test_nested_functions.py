"""Functions defined inside scripted functions (Note [Nested functions]): closures, late binding,
nested functions calling each other, methods capturing `self`, save/load, and what is refused."""
import functools
from typing import List, Optional, Tuple

import pytest
import torch
from torch import Tensor

import torchkiln

from .script_testing import matches_eager, scripted, run_fresh
from .test_errors import line_of, refused


def plain(x):
    def double(y):
        return y * 2
    return double(x) + double(x + 1)


def closure(x, n: int):
    scale = n + 1

    def f(y):
        return y * scale + n
    return f(x)


def late_binding(x):
    scale = 1

    def f(y):
        return y * scale
    before = f(x)
    scale = 5  # Python reads the enclosing variable when f is called
    return before + f(x)


def shadowing(x):
    k = 2

    def a(y):
        return y * k  # the enclosing function's k, also when b calls it

    def b(y):
        k = 100
        return a(y) + k
    return b(x)


def two_levels(x):
    s = 3

    def outer(y):
        t = 2

        def inner(z):
            return z * s + t
        return inner(y) + 1
    return outer(x)


def passes_on(x):
    a = 2

    def f(y):
        return y * a

    def g(y):
        def h(z):
            return f(z) + 1  # f's own capture reaches h through g
        return h(y)
    return g(x)


def early_returns(xs: List[int]) -> Tuple[int, int]:
    def first_positive(values: List[int]) -> int:
        for i, v in enumerate(values):
            if v > 0:
                return i
        return -1

    def count_until(values: List[int], stop: int) -> int:
        n = 0
        while n < len(values):
            if values[n] == stop:
                break
            n += 1
        return n
    return first_positive(xs), count_until(xs, 0)


def defaults_and_keywords(x):
    def f(y, k: int = 2, *, m: float = 0.5, tag: Optional[str] = None):
        if tag is not None:
            return y * k + m + len(tag)
        return y * k + m
    return f(x) + f(x, 3) + f(x, k=4, m=1.5) + f(x, tag="ab")


def typed_per_call(x):
    def add(a, b):
        return a + b
    return add(x, x), add(x, 1.0), add(x, torch.ones(1))


def returns_tuple(x):
    def split(y) -> Tuple[Tensor, Tensor]:
        return y[0], y[1:]
    head, tail = split(x)
    return head + tail.sum(0)


def as_sort_key(x):
    def key(v: int) -> int:
        return -v
    xs = sorted([3, 1, 2], key=key)
    return x + xs[0]


def in_a_loop(x):
    s = x
    for i in range(3):
        def f(y):
            return y + i
        s = f(s)
    return s


def with_fork(x):
    def work(y):
        return torch.relu(y) * 2
    fut = torchkiln.fork(work, x)
    return torchkiln.wait(fut) + work(-x)


def captures_container(x):
    weights = [1.0, 2.0, 3.0]

    def weighted(y):
        total = torch.zeros_like(y)
        for w in weights:
            total = total + y * w
        return total
    weights.append(4.0)  # a list is shared, as in Python
    return weighted(x)


# -- nonlocal: rebinding the enclosing function's variables --------------------------------------------


def counter(x, n: int):
    count = 0

    def inc(k: int):
        nonlocal count
        count += k
    for i in range(n):
        inc(i)
    inc(10)  # the rebinding is seen by the enclosing function and by later calls
    return x + count, count


def accumulates(xs: List[int]) -> Tuple[List[int], int]:
    acc: List[int] = []
    total = 0

    def add(v: int) -> int:
        nonlocal acc, total
        acc = acc + [v * 2]
        total += v
        return len(acc)
    n = 0
    for v in xs:
        n = add(v)
    return acc, total * 100 + n


def from_another(x):
    c = 0

    def bump():
        nonlocal c
        c += 1

    def twice():
        bump()
        bump()
        return c  # sees bump's rebinding: one variable, as in Python

    r = twice()
    return x + r * 10 + c


def two_levels_nonlocal(x):
    s = 0

    def outer():
        def inner(k: int):
            nonlocal s
            s += k
        inner(2)
        inner(3)
    outer()
    outer()
    return x * s


def returns_early(xs: List[int], t: int) -> Tuple[int, int, int]:
    seen = 0
    misses = 0

    def find(target: int) -> int:
        nonlocal seen, misses
        for i, v in enumerate(xs):
            seen += 1
            if v == target:
                return i
        misses += 1
        return -1

    a = find(t)
    b = find(-t)
    return a * 10 + b, seen, misses


def branches_and_returns(x: int) -> Tuple[int, int]:
    c = 0

    def f(v: int) -> int:
        nonlocal c
        if v > 0:
            c += 1
            return v
        c += 10
        return -v
    return f(x) + f(-x) + f(x + 1), c


def tensor_state(x):
    state = torch.zeros_like(x)

    def step(y):
        nonlocal state
        state = state * 0.5 + y
        return state.sum()
    total = step(x) + step(x * 2)
    return state, total


def in_expressions(xs: List[int], x: int) -> Tuple[int, List[int], List[int]]:
    calls = 0

    def key(v: int) -> int:
        nonlocal calls
        calls += 1
        return -v
    ordered = sorted(xs, key=key)
    keys = [key(v) for v in xs if v != 2]
    ok = x > 0 and key(x) < 0
    calls = calls * 10 if ok else calls
    return calls, ordered, keys


@pytest.mark.parametrize(
    "fn,inputs",
    [
        (counter, [(torch.randn(3), 0), (torch.randn(3), 4)]),
        (accumulates, [([1, 2, 3],), ([],)]),
        (from_another, [(torch.randn(3),)]),
        (two_levels_nonlocal, [(torch.randn(3),)]),
        (returns_early, [([1, 3, -3], 3), ([5], 5), ([], 1), ([1, 2], 7)]),
        (branches_and_returns, [(3,), (-2,), (0,)]),
        (tensor_state, [(torch.randn(4),)]),
        (in_expressions, [([3, 1, 2], 1), ([], -1), ([2], 0)]),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_nonlocal_matches_eager(fn, inputs):
    matches_eager(fn, *inputs)


def test_nonlocal_returns_the_new_values():
    s = scripted(counter)
    inc = [f for n, f in s._kiln_unit.functions.items() if n.endswith(".counter.inc")]
    assert len(inc) == 1, list(s._kiln_unit.functions)
    assert str(inc[0].returns) == "(NoneType, int)", inc[0].returns  # (result, new count)
    assert "prim::CallFunction" not in str(s.graph)  # inlined, as other nested functions


@pytest.mark.parametrize(
    "fn,inputs",
    [
        (plain, [(torch.randn(3),)]),
        (closure, [(torch.randn(3), 0), (torch.randn(3), 4)]),
        (late_binding, [(torch.randn(2, 2),)]),
        (shadowing, [(torch.randn(3),)]),
        (two_levels, [(torch.randn(3),)]),
        (passes_on, [(torch.randn(3),)]),
        (early_returns, [([-1, -2, 3, 0],), ([-1],), ([],), ([0, 5],)]),
        (defaults_and_keywords, [(torch.randn(3),)]),
        (typed_per_call, [(torch.randn(3),)]),
        (returns_tuple, [(torch.randn(4, 2),)]),
        (as_sort_key, [(torch.randn(3),)]),
        (in_a_loop, [(torch.randn(3),)]),
        (with_fork, [(torch.randn(5),)]),
        (captures_container, [(torch.randn(3),)]),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_nested_functions_match_eager(fn, inputs):
    matches_eager(fn, *inputs)


def test_compiled_once_per_types():
    s = scripted(typed_per_call)
    names = [n for n in s._kiln_unit.functions if n.endswith(".typed_per_call.add") or ".typed_per_call.add_" in n]
    assert len(names) == 2, names  # (Tensor, Tensor) and (Tensor, float): one function each


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(4, 4)
        self.k = 3

    def forward(self, x, gate: bool):
        def block(y):
            return torch.relu(self.fc(y)) * self.k

        def maybe(y):
            if gate:
                return block(y)
            return y
        return maybe(block(x))


def test_method_capturing_self_saves_and_loads(tmp_path):
    torch.manual_seed(0)
    m = Block().eval()
    s = torchkiln.script(m)
    x = torch.randn(2, 4)
    for gate in (True, False):
        assert torch.allclose(s(x, gate), m(x, gate))
    path = tmp_path / "block.pt"
    torchkiln.save(s, str(path))
    run_fresh(
        f"""
        import torch, torchkiln
        torch.manual_seed(1)
        x = torch.randn(2, 4)
        m = torchkiln.load({str(path)!r})
        torch.save([m(x, True), m(x, False), x], {str(tmp_path / 'out.pt')!r})
        """
    )
    a, b, x2 = torch.load(tmp_path / "out.pt")
    with torch.no_grad():
        assert torch.allclose(a, m(x2, True)) and torch.allclose(b, m(x2, False))


def test_inlined_graph_has_no_call():
    s = scripted(shadowing)
    text = str(s.graph)
    assert "prim::CallFunction" not in text, text
    assert "aten::mul" in text and "aten::add" in text


# -- refused --------------------------------------------------------------------------------------


def recursive(x):
    def f(n: int) -> int:
        if n <= 0:
            return 0
        return f(n - 1) + 1
    return x + f(3)


def mutually_recursive(x):
    def a(n: int) -> int:
        return b(n)

    def b(n: int) -> int:
        return a(n)
    return x + a(1)


def decorated(x):
    @functools.lru_cache
    def f(y):
        return y
    return f(x)


def computed_default(x):
    k = 2

    def f(y, m=k):
        return y * m
    return f(x)


def stored(x):
    def f(y):
        return y
    fs = [f]
    return x


def returned(x):
    def f(y):
        return y
    return f


def read_before_assigned(x):
    def f(y):
        return y * k
    r = f(x)
    k = 2
    return r


def retypes_enclosing(x):
    k = 1

    def f():
        nonlocal k
        k = "one"
    f()
    return x


def rebinds_a_function(x):
    def g(y):
        return y

    def f():
        nonlocal g
        return 1
    return x + f()


def deletes_enclosing(x):
    k = 1

    def f():
        nonlocal k
        del k
    f()
    return x


def forks_rebinding(x):
    n = 0

    def work(y):
        nonlocal n
        n += 1
        return y * 2
    fut = torchkiln.fork(work, x)
    return torchkiln.wait(fut)


def _closure_with_nonlocal():
    total = 0

    def scripted_closure(x: int) -> int:
        nonlocal total
        total += x
        return total
    return scripted_closure


rebinds_python_closure = _closure_with_nonlocal()


def error_inside(x):
    def f(y):
        return y.no_such_method()
    return f(x)


@pytest.mark.parametrize(
    "fn,needle,words",
    [
        (recursive, "x + f(3)", "calls itself"),
        (mutually_recursive, "x + a(1)", "calls itself"),
        (decorated, "functools.lru_cache", "decorators on the nested function `f`"),
        (computed_default, "m=k", "must be literals"),
        (stored, "fs = [f]", "can only be called"),
        (returned, "return f", "can only be called"),
        (read_before_assigned, "r = f(x)", "reads 'k' of the enclosing function, which is not assigned before this call"),
        (retypes_enclosing, 'k = "one"', "'k' is a variable of the enclosing function, of type int; `nonlocal` cannot assign it a value of type str"),
        (rebinds_a_function, "nonlocal g", "holds the nested function g; only variables holding values can be rebound"),
        (deletes_enclosing, "del k", "cannot delete 'k', a variable of the enclosing function"),
        (forks_rebinding, "torchkiln.fork(work, x)", "assigns variables of the enclosing function (`nonlocal`), so it cannot run as a task"),
        (rebinds_python_closure, "nonlocal total", "names a variable of the Python function around the scripted one"),
        (error_inside, "y.no_such_method()", "no_such_method"),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_refused_with_location(fn, needle, words):
    message = refused(fn)
    assert words in message, message
    assert f'File "{__file__}", line {line_of(fn, needle)},' in message, message
    lines = message.splitlines()
    at = next(i for i, line in enumerate(lines) if line.lstrip().startswith("File "))
    source, caret = lines[at + 1], lines[at + 2]
    assert needle in source, message
    start = source.index(needle)
    assert start <= caret.index("^") < start + len(needle), message  # the caret is under the needle


def test_error_inside_names_the_chain():
    message = refused(error_inside)
    assert "while compiling `f`, called from `error_inside`" in message, message
