"""The language: each function runs scripted and eagerly on inputs reaching every branch."""
import math
from typing import Dict, List, NamedTuple, Optional, Tuple, Union

import pytest
import torch
import torch.nn.functional as F

from .script_testing import matches_eager, scripted

T = torch.tensor


# -- assignment -----------------------------------------------------------------------------------


def assign_forms(x, n: int):
    a, b = x, n
    (c, d), e = (a + 1, b * 2), 3
    f: float = 2.5
    g = h = b + e
    g += 1
    first, *rest = (1, 2, 3)
    return c, d, e, f, g, h, first, rest


def test_assignment_forms():
    matches_eager(assign_forms, (torch.ones(2), 4))


def walrus(xs: List[int]) -> int:
    total = 0
    if (n := len(xs)) > 2:
        total = n
    return total


def test_walrus():
    matches_eager(walrus, ([1, 2, 3],), ([1],))


def walrus_in_expressions(xs: List[int], x: int) -> Tuple[int, int, List[int], int]:
    total = 0
    sums = [(total := total + v) for v in xs]  # binds the enclosing function's `total`
    last = 0
    big = [v for v in xs if (last := v) > 1]
    hits = 0
    if x > 0 and (hits := x * 2) > 4:
        hits += 1
    return total, last, sums + big, hits


def test_walrus_in_comprehensions_and_conditions():
    matches_eager(walrus_in_expressions, ([1, 2, 3], 3), ([], 1), ([5], -1))


# -- numbers ----------------------------------------------------------------------------------------


def int_arith(a: int, b: int):
    return a + b, a - b, a * b, a // b, a % b, a / b, a ** 2, -a, a & b, a | b, a ^ b, a << 2, a >> 1, ~a


def float_arith(a: float, b: int):
    return a + b, a - b, a * b, a // b, a % b, a / b, a ** 2.0, -a, abs(a), round(a), round(a, 1)


def mixed(a: int, flag: bool):
    return a + flag, flag + flag, a * 1.5, flag * 2.5, True & flag, float(a), int(2.7), int(-2.7)


@pytest.mark.parametrize("a, b", [(7, 3), (-7, 3), (7, -3), (0, 5)])
def test_int_arithmetic_is_python(a, b):
    matches_eager(int_arith, (a, b))


@pytest.mark.parametrize("a, b", [(7.5, 2), (-7.5, 2), (2.0, -3)])
def test_float_arithmetic_is_python(a, b):
    matches_eager(float_arith, (a, b))


def test_mixed_numbers():
    matches_eager(mixed, (3, True), (-2, False))


def comparisons(a: int, b: float, s: str):
    return a < b, a <= b, a == b, a != b, 0 < a < 10, s == "x", s < "m", a > 2 and b < 1.0, not a, "y" in s


def test_comparisons():
    matches_eager(comparisons, (3, 3.0, "x"), (12, 1.5, "yz"), (0, -1.0, "a"))


def math_module(x: float, n: int):
    return math.sqrt(x), math.floor(x), math.ceil(x), math.log(x), math.log(x, 2), math.exp(n), math.pi * n, math.isnan(x), math.gcd(n, 6)


def test_math_module():
    matches_eager(math_module, (2.5, 4), (9.0, 3))


def builtins_numbers(a: int, b: int, xs: List[int], fs: List[float]):
    return min(a, b), max(a, b, 3), min(xs), max(fs), sum(xs), sum(fs), abs(-a), any([a > 0, b > 0]), all([a > 0, b > 0]), len(xs)


def test_builtin_numbers():
    matches_eager(builtins_numbers, (3, -1, [4, 2, 9], [1.5, 0.5]), (0, 5, [1], [2.0]))


def conversions(x, s: str, f: float):
    return int(x.sum()), float(x.mean()), bool(x.any()), int(s), float("1.5"), str(f), str(3), bool(""), int(f)


def test_conversions():
    matches_eager(conversions, (torch.tensor([1.0, 2.0]), "42", 2.5))


# -- strings ------------------------------------------------------------------------------------------


def strings(s: str, n: int, f: float):
    parts = s.split(",")
    joined = "-".join(parts)
    return (
        s.upper(), s.lower(), s.strip(), s.replace("a", "b"), s.startswith("a"), s.endswith("c"), s.find("b"),
        parts, joined, len(s), s[1], s[1:3], s[::-1], s + "!", s * 2, f"{s} {n} {f:.2f} {n:>4}", "%d items, %s" % (n, s),
        "{} and {}".format(n, s), s.count("a"), s.isdigit(), str(n).zfill(5), "b" in s,
    )


def test_strings():
    matches_eager(strings, ("a,b,c", 3, 2.345), (" abc ", -1, 0.5))


def string_loop(s: str) -> int:
    count = 0
    for c in s:
        if c == "a":
            count += 1
    return count


def test_iterate_string():
    matches_eager(string_loop, ("banana",))


# -- lists, tuples, dicts -----------------------------------------------------------------------------


def list_methods(xs: List[int]):
    ys = list(xs)
    ys.append(10)
    ys.extend([7, 8])
    ys.insert(0, -1)
    popped = ys.pop()
    last = ys.pop(0)
    ys.remove(10)
    ys.reverse()
    zs = sorted(ys)
    ys.sort(reverse=True)
    where = ys.index(7)
    count = ys.count(7)
    ys[0] = 100
    del ys[1]
    copy = ys.copy()
    copy.clear()
    return ys, zs, popped, last, where, count, copy, ys[-1], ys[1:], xs + ys, [0] * 3, 7 in ys, list(reversed(zs))


def test_list_methods():
    matches_eager(list_methods, ([3, 1, 2],), ([5],))


def dict_methods(d: Dict[str, int]):
    e = dict(d)
    e["new"] = 5
    g = e.get("missing", 0)
    h = e.get("new")
    s = e.setdefault("other", 9)
    p = e.pop("new")
    q = e.pop("nope", -1)
    e.update({"x": 1})
    keys = list(e.keys())
    values = list(e.values())
    items = list(e.items())
    has = "x" in e
    del e["x"]
    return e, g, h, s, p, q, keys, values, items, has, len(e)


def test_dict_methods():
    matches_eager(dict_methods, ({"a": 1, "b": 2},), ({},))


def dict_iteration(d: Dict[str, int]) -> Tuple[List[str], int]:
    names: List[str] = []
    total = 0
    for k in d:
        names.append(k)
    for k, v in d.items():
        total += v * len(k)
    return names, total


def test_dict_iteration():
    matches_eager(dict_iteration, ({"ab": 1, "c": 2},))


def tuples(t: Tuple[int, str, float]):
    a, b, c = t
    u = t + (1,)
    return t[0], t[-1], t[1:], u, len(u), a, b, c, 1 in (1, 2), t == t


def test_tuples():
    matches_eager(tuples, ((1, "x", 2.0),))


def comprehensions(xs: List[int], d: Dict[str, int]):
    squares = [x * x for x in xs]
    evens = [x for x in xs if x % 2 == 0]
    pairs = [i + j for i in range(3) for j in range(i)]
    inv = {v: k for k, v in d.items()}
    big = any(x > 2 for x in xs)
    unrolled = [v * 2 for v in (1, 2, 3)]
    return squares, evens, pairs, inv, big, unrolled


def test_comprehensions():
    matches_eager(comprehensions, ([1, 2, 3, 4], {"a": 1, "b": 2}), ([], {}))


def optional_refinement(x: Optional[int], y: Optional[torch.Tensor]) -> int:
    if x is None:
        return -1
    r = x + 1
    if y is not None and y.numel() > 0:
        r += 10
    z = y if y is not None else torch.zeros(1)
    assert z is not None
    return r + int(z.numel())


def test_optional_refinement():
    matches_eager(optional_refinement, (None, None), (3, None), (3, torch.ones(2)), (3, torch.ones(0)))


def optional_join(flag: bool) -> Optional[int]:
    if flag:
        x = 1
    else:
        x = None
    return x


def test_optional_join():
    matches_eager(optional_join, (True,), (False,))


def isinstance_checks(x: Optional[int], t: torch.Tensor):
    a = isinstance(t, torch.Tensor)
    b = isinstance(x, int)
    c = isinstance(x, (str, float))
    if isinstance(x, int):
        return x + 1, a, b, c
    return 0, a, b, c


def test_isinstance():
    matches_eager(isinstance_checks, (None, torch.ones(1)), (4, torch.ones(1)))


class Point(NamedTuple):
    x: int
    y: float


def named_tuples(p: Point) -> Point:
    q = Point(p.x + 1, y=p.y * 2)
    return Point(q.x, q[1])


def test_named_tuple():
    s = matches_eager(named_tuples, (Point(1, 2.0),))
    assert isinstance(s(Point(1, 2.0)), tuple)


# -- control flow ------------------------------------------------------------------------------------


def loops(n: int):
    total = 0
    for i in range(n):
        total += i
    for i in range(2, n, 3):
        total -= i
    for i in range(n, 0, -2):
        total += i * 10
    k = 0
    while k < n:
        k += 2
    for i, v in enumerate([5, 6, 7], 1):
        total += i * v
    for a, b in zip([1, 2, 3], [4, 5]):
        total += a * b
    return total, k


@pytest.mark.parametrize("n", [0, 1, 5, 10])
def test_loops(n):
    matches_eager(loops, (n,))


def breaks_and_continues(xs: List[int]) -> int:
    total = 0
    for x in xs:
        if x < 0:
            continue
        if x > 100:
            break
        total += x
        for y in range(x):
            if y == 3:
                break
            total += 1
    i = 0
    while True:
        i += 1
        if i % 2 == 0:
            continue
        if i > 7:
            break
        total += i
    return total


@pytest.mark.parametrize("xs", [[], [1, 2, 3], [1, -5, 200, 4], [-1, 8, 9]])
def test_break_continue(xs):
    matches_eager(breaks_and_continues, (xs,))


def early_returns(x, n: int):
    for i in range(n):
        if i == 3:
            return x * i
        if bool(x.sum() > 100):
            while True:
                if i > 1:
                    return x - i
                break
    if n < 0:
        return -x
    x = x + 1
    return x


@pytest.mark.parametrize("n", [-1, 0, 2, 5])
def test_early_returns(n):
    matches_eager(early_returns, (torch.ones(2), n), (torch.full((2,), 60.0), n))


def nested_if(a: int, b: int) -> str:
    if a > 0:
        if b > 0:
            r = "both"
        elif b == 0:
            r = "a, b zero"
        else:
            return "a only"
    else:
        r = "not a"
    return r + "!"


@pytest.mark.parametrize("a, b", [(1, 1), (1, 0), (1, -1), (-1, 5)])
def test_nested_if(a, b):
    matches_eager(nested_if, (a, b))


def raises(x: int) -> int:
    if x < 0:
        raise ValueError(f"negative: {x}")
    assert x != 3, "three is not allowed"
    assert x < 100
    return x


def test_raise_and_assert_at_run_time():
    s = scripted(raises)
    assert s(5) == 5
    with pytest.raises(ValueError, match="negative: -2"):
        s(-2)
    with pytest.raises(AssertionError, match="three is not allowed"):
        s(3)
    with pytest.raises(AssertionError):
        s(200)


def conditional_expression(x, flag: bool):
    y = x * 2 if flag else x - 1
    z = 1.0 if flag else 2.5
    return y, z


def test_conditional_expression():
    matches_eager(conditional_expression, (torch.ones(2), True), (torch.ones(2), False))


def no_grad(x):
    with torch.no_grad():
        y = x * 2
    return y, y.requires_grad, torch.is_grad_enabled()


def test_no_grad():
    s = scripted(no_grad)
    y, req, enabled = s(torch.ones(2, requires_grad=True))
    assert req is False and enabled is True
    assert torch.equal(y, torch.full((2,), 2.0))


def return_inside_with(x):
    with torch.no_grad():
        if bool(x.sum() > 0):
            return x * 2
    return x


def test_return_inside_with_restores_grad_mode():
    s = scripted(return_inside_with)
    s(torch.ones(2))
    assert torch.is_grad_enabled()


def deletes(x: int) -> int:
    y = x + 1
    del y
    xs = [1, 2, 3]
    del xs[0]
    return xs[0]


def test_del():
    matches_eager(deletes, (1,))


# -- tensors -------------------------------------------------------------------------------------------


def tensor_ops(x, y):
    a = x + y, x - 1, 2 - x, x * 3, 3 * x, x / y, 1 / y, x // 2, x % 3, x ** 2, 2 ** x, x @ y.t(), -x, x > y, 0 < x
    b = x.sum(), x.sum(dim=1, keepdim=True), x.mean(dim=(0, 1)), x.view(-1), x.view(2, 3), x.reshape((3, 2)), x.permute(1, 0)
    c = torch.cat([x, y], dim=0), torch.stack((x, y)), x.max(), torch.max(x, 1), x.max(1)[0], x.max(dim=1).values
    d = x.float(), x.long(), x.to(torch.float64), list(x.shape), list(x.size()), x.size(1), x.dim(), x.ndim, x.numel(), len(x), x.dtype, x.T
    e = F.relu(x - 2), F.softmax(x, dim=1), torch.zeros(2, 3), torch.ones((2, 3)), torch.full((2,), 1.5), torch.arange(4), torch.tensor([1, 2])
    return a, b, c, d, e


def test_tensor_ops():
    x = torch.arange(6.0).reshape(2, 3)
    y = torch.full((2, 3), 2.0)
    matches_eager(tensor_ops, (x, y))


def indexing(x, i: int, mask):
    return x[0], x[-1], x[i], x[:, 1], x[1:], x[::2], x[..., 0], x[None], x[:, None, 1], x[0, 1:3], x[mask], x[x > 2], x[torch.tensor([1, 0])], x[..., 1:]


def test_indexing():
    x = torch.arange(12.0).reshape(3, 4)
    mask = torch.tensor([True, False, True])
    matches_eager(indexing, (x, 1, mask), (x, -2, mask))


def index_assignment(x):
    y = x.clone()
    y[0] = 5
    y[1, 2] = -1.0
    y[:, 0] = torch.tensor([7.0, 8.0, 9.0])
    y[y > 7] = 0
    y[..., 1] += 1
    return y


def test_index_assignment():
    matches_eager(index_assignment, (torch.arange(12.0).reshape(3, 4),))


def inplace_augmented(x):
    y = x.clone()
    y += 1
    y *= 2
    y -= x
    return y


def test_tensor_augmented_assignment_is_in_place():
    matches_eager(inplace_augmented, (torch.ones(3),))


def tensor_iteration(x):
    total = torch.zeros(3)
    for row in x:
        total = total + row
    return total


def test_iterate_over_tensor():
    matches_eager(tensor_iteration, (torch.arange(6.0).reshape(2, 3),))


def containers(xs: List[torch.Tensor], scale: Optional[float], names: Dict[str, int]) -> Tuple[torch.Tensor, int]:
    total = torch.zeros(2)
    for x in xs:
        total = total + x
    if scale is not None:
        total = total * scale
    count = 0
    for k in names.keys():
        count += names[k]
    return total, count + len(xs)


def test_containers_and_optional():
    xs = [torch.ones(2), torch.full((2,), 3.0)]
    matches_eager(containers, (xs, 0.5, {"a": 1, "b": 2}), (xs, None, {}))


def type_comment(n):
    # type: (int) -> torch.Tensor
    rv = torch.zeros(3, 4)
    for i in range(n):
        if i < 10:
            rv = rv - 1.0
        else:
            rv = rv + 1.0
    return rv


def test_type_comment():
    matches_eager(type_comment, (0,), (5,), (15,))


# -- functions -------------------------------------------------------------------------------------------


def helper(x, scale: float = 2.0, *, offset: int = 0):
    return x * scale + offset


def helper_untyped(a, b):
    return a + b


def calls(x, n: int):
    return helper(x), helper(x, 3.0), helper(x, offset=1), helper(scale=0.5, x=x), helper_untyped(n, 2), helper_untyped(x, x)


def test_calls_with_defaults_and_keywords():
    s = matches_eager(calls, (torch.ones(2), 3))
    assert "prim::CallFunction" in str(s.graph) or "aten::mul" in str(s.graph)


def default_inference(x, k=3, scale=0.5, name="x", bias=None):
    y = x * k * scale
    if bias is not None:
        y = y + bias
    return y, name


def test_parameter_types_from_defaults():
    s = matches_eager(default_inference, (torch.ones(2),), (torch.ones(2), 2, 1.5, "y", torch.ones(2)))
    types = [str(a.type) for a in s._kiln_fn.args]
    assert types == ["Tensor", "int", "float", "str", "Tensor?"], types


def prints(x: int) -> int:
    print("value", x)
    return x


def test_print(capsys):
    scripted(prints)(3)
    assert "value 3" in capsys.readouterr().out


def union_values(x: Union[int, str], y: int | None) -> str:
    if isinstance(x, int):
        r = str(x + 1)
    else:
        r = x.upper()
    if y is not None:
        r += str(y)
    return r


def test_union_and_pipe_optional():
    matches_eager(union_values, (3, None), ("ab", 4))


def math_prod(xs: List[int], ys: List[float], n: int):
    return (math.prod(xs), math.prod(ys), math.prod(xs, start=2), math.prod(xs, start=0.5),
            math.prod((n, 2, 3)), math.prod([]), math.prod(ys, start=3))  # fmt: skip


@pytest.mark.parametrize("args", [([2, 3, 4], [1.5, 2.0], 3), ([-1], [0.5], -2), ([], [0.25], 0)])
def test_math_prod(args):
    matches_eager(math_prod, args)


def test_math_prod_of_no_floats_is_a_float():
    # Python's math.prod of an empty list is its int start; a List[float] gives a float in script.
    assert scripted(math_prod)([], [], 0) == (1, 1.0, 2, 0.5, 0, 1, 3.0)
