"""float.is_integer, int.bit_length, str.removeprefix/removesuffix, dict.fromkeys and `|`,
more of `math`, and `int(s, base)`: written as script helpers (helpers.py) or existing ops.

Every case runs on the python, interpreter and cpp executors and is compared with
eager Python, results and exceptions (type and message) alike.
"""
import math
from typing import Dict, List, Optional

import pytest

from torchkiln import CompileError

from .script_testing import matches_eager, scripted
from .test_builtins_sweep import raises_everywhere

INF, NAN = math.inf, math.nan


def is_integer(v: float) -> bool:
    return v.is_integer()


def test_float_is_integer():
    matches_eager(is_integer, *[(v,) for v in (2.0, -3.0, 0.0, -0.0, 2.5, 1e300, -1e300, 5e-324, 2.0**53 + 2, INF, -INF, NAN)])


def bit_length(n: int) -> int:
    return n.bit_length()


def test_int_bit_length():
    matches_eager(bit_length, *[(n,) for n in (0, 1, 2, 255, 256, -1, -256, -257, 2**62, 2**63 - 1, -(2**63))])


def removes(s: str, p: str) -> List[str]:
    return [s.removeprefix(p), s.removesuffix(p), s.removeprefix("ab")]


def test_str_removeprefix_removesuffix():
    matches_eager(removes, ("abcab", "ab"), ("abc", ""), ("abc", "abcd"), ("ab", "ab"), ("xyz", "z"), ("", "a"))


def test_str_casefold_and_encode_refused():
    def casefold(s: str) -> str:
        return s.casefold()

    def encode(s: str) -> int:
        return len(s.encode())

    with pytest.raises(CompileError, match=r"str\.casefold\(\) is not supported in script"):
        scripted(casefold)
    with pytest.raises(CompileError, match=r"str\.encode\(\) is not supported in script"):
        scripted(encode)


def fromkeys(xs: List[str], v: int) -> Dict[str, int]:
    return dict.fromkeys(xs, v)


def fromkeys_lists(xs: List[int]) -> Dict[int, List[int]]:
    d = dict.fromkeys(xs, [0])
    if len(xs) > 0:
        d[xs[0]].append(1)  # one shared value, as in Python
    return d


def fromkeys_none(xs: List[str]) -> Dict[str, Optional[int]]:
    d: Dict[str, Optional[int]] = dict.fromkeys(xs)
    return d


def fromkeys_float(xs: List[str]) -> Dict[str, float]:
    return dict.fromkeys(xs, 1.5)


def test_dict_fromkeys():
    matches_eager(fromkeys, (["a", "b", "a"], 3), ([], 1))
    matches_eager(fromkeys_lists, ([3, 1, 3],), ([],))
    matches_eager(fromkeys_none, (["x", "y"],))
    matches_eager(fromkeys_float, (["x"],))


def dict_or(a: Dict[str, int], b: Dict[str, int]) -> List[Dict[str, int]]:
    c = a | b
    d = b | {"z": 9}
    a |= b
    return [c, d, a, b]


def test_dict_merge_operators():
    matches_eager(dict_or, ({"a": 1, "b": 2}, {"b": 3, "c": 4}), ({}, {"x": 1}), ({"a": 1}, {}))


def test_dict_fromkeys_refusals():
    def kw(xs: List[str]) -> Dict[str, int]:
        return dict.fromkeys(xs, value=1)

    def untyped(xs: List[str]):
        return dict.fromkeys(xs)

    with pytest.raises(CompileError, match="takes no keyword arguments"):
        scripted(kw)
    with pytest.raises(CompileError, match="annotate the result's type"):
        scripted(untyped)


def test_dict_merge_type_mismatch():
    def f(a: Dict[str, int], b: Dict[str, float]) -> Dict[str, int]:
        return a | b

    with pytest.raises(CompileError, match="cannot merge"):
        scripted(f)


def isclose(a: float, b: float) -> List[bool]:
    return [math.isclose(a, b), math.isclose(a, b, rel_tol=0.1), math.isclose(a, b, abs_tol=1e-3), math.isclose(a, b, rel_tol=0.0, abs_tol=0.0)]


def isclose_tol(a: float, r: float, t: float) -> bool:
    return math.isclose(a, 1, rel_tol=r, abs_tol=t)


def test_math_isclose():
    vals = (0.0, -0.0, 1.0, 1.0000000001, 1.05, 1e-4, INF, -INF, NAN)
    matches_eager(isclose, *[(a, b) for a in vals for b in vals])
    matches_eager(isclose_tol, (1.0, 0.0, 0.0), (2.0, 0.5, 0.0))
    raises_everywhere(isclose_tol, (1.0, -1.0, 0.0), (1.0, 0.0, -0.5))


def comb(n: int, k: int) -> int:
    return math.comb(n, k)


def test_math_comb():
    matches_eager(comb, *[(n, k) for n in (0, 1, 5, 10, 30) for k in (0, 1, 2, 5, 15, 31)], (62, 31), (66, 33), (100, 3))
    raises_everywhere(comb, (-1, 2), (3, -1))


def lcm(a: int, b: int, c: int) -> List[int]:
    return [math.lcm(a, b), math.lcm(a, b, c), math.lcm(a), math.lcm()]


def test_math_lcm():
    matches_eager(lcm, (4, 6, 10), (0, 5, 3), (-4, 6, -9), (7, 0, 0), (1, 1, 1))


def isqrt(n: int) -> int:
    return math.isqrt(n)


def test_math_isqrt():
    matches_eager(isqrt, *[(n,) for n in (0, 1, 2, 3, 4, 15, 16, 17, 10**18, 3037000499**2, 3037000499**2 - 1, 2**63 - 1)])
    raises_everywhere(isqrt, (-1,))


def exp2(x: float, n: int) -> List[float]:
    return [math.exp2(x), math.exp2(n)]


def test_math_exp2():
    matches_eager(exp2, (3.0, 3), (-1.5, -2), (0.5, 0), (-INF, 10), (INF, 1), (NAN, 1), (1023.0, 1023))


def dist(p: List[float], q: List[float]) -> float:
    return math.dist(p, q)


def dist_tuple(a: float) -> float:
    return math.dist((a, 0.0), (0.0, a))


def test_math_dist():
    matches_eager(
        dist,
        ([0.0, 0.0], [3.0, 4.0]), ([1.5], [-2.5]), ([], []), ([0.1, 0.2, 0.3], [0.4, 0.5, 0.6]),
        ([1e300, 1e300], [-1e300, 0.0]), ([5e-324, 0.0], [0.0, 5e-324]), ([1e-310, 3e-310], [0.0, 0.0]),
        ([INF, 0.0], [1.0, NAN]), ([NAN, 1.0], [0.0, 2.0]), ([1.0, 2.0, 3.0, 4.0], [-1.0, 7.5, 0.25, 1e-8]),
    )  # fmt: skip
    matches_eager(dist_tuple, (3.0,), (0.1,))
    raises_everywhere(dist, ([1.0], [1.0, 2.0]))


def fsum(xs: List[float]) -> float:
    return math.fsum(xs)


def test_math_fsum():
    matches_eager(
        fsum,
        ([0.1] * 10,), ([1e100, 1.0, -1e100, 1e-100],), ([],), ([-0.0],), ([1e-16, 1.0, 1e16],),
        ([1.0, 1e100, 1.0, -1e100],), ([2.0**53, 1.0, 1.0],), ([INF, 1.0],), ([INF, INF],), ([NAN, 1.0],),
        ([0.1, 0.2, 0.3, -0.6],), ([1e308, -1e308, 1.0],),
    )  # fmt: skip
    raises_everywhere(fsum, ([INF, -INF],), ([1e308, 1e308],))


def int_base(s: str, b: int) -> int:
    return int(s, b)


def int_base_kw(s: str) -> int:
    return int(s, base=16)


def test_int_with_base():
    ok = [
        ("ff", 16), ("FF", 16), ("0xff", 16), ("-0x1f", 0), ("0o17", 0), ("0b101", 0), ("0b101", 2), ("0b1", 16), (" 12 ", 10),
        ("1_000", 10), ("0x_f", 16), ("+7", 8), ("00", 0), ("0_0", 0), ("z", 36), ("Z", 36), ("-10", 2), ("\t42\n", 0),
        ("-9223372036854775808", 10), ("777", 8),
    ]  # fmt: skip
    matches_eager(int_base, *ok)
    matches_eager(int_base_kw, ("ff",), ("0XAB",))
    bad = [
        ("zz", 16), ("1__0", 10), ("_1", 10), ("1_", 10), ("0x", 16), ("010", 0), ("", 10), ("-", 10), (" - 5", 10),
        ("0x1f", 10), ("12", 2), ("1", 1), ("1", 37), ("it's", 10), ("a\nb", 16),
    ]  # fmt: skip
    raises_everywhere(int_base, *bad)


def test_int_with_base_needs_a_str():
    def f(n: int) -> int:
        return int(n, 10)

    with pytest.raises(CompileError, match="explicit base"):
        scripted(f)
