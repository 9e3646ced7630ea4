"""Builtins, str/dict methods and operators filled in after the first language sweep.

Every case runs on the python, interpreter and cpp executors and is compared
with eager Python, results and exceptions (type and message) alike.
"""
import math
from typing import Dict, List, Optional, Tuple

import pytest

import torchkiln
from torchkiln import CompileError
from torchkiln.api import ScriptFunction

from .script_testing import EXECUTORS, _copy, matches_eager, scripted


def raises_everywhere(fn, *input_sets):
    """`fn` raises on each input tuple in eager Python, and every executor raises the same type and message."""
    s = scripted(fn)
    runs = {name: ScriptFunction(s._kiln_unit, s._kiln_fn, executor=name) for name in EXECUTORS}
    for inputs in input_sets:
        with pytest.raises(Exception) as eager:
            fn(*_copy(inputs))
        want = eager.value
        for name, run in runs.items():
            with pytest.raises(Exception) as got:
                run(*_copy(inputs))
            assert type(got.value) is type(want), f"{fn.__name__}{inputs!r} on {name}: {got.value!r}, eager {want!r}"
            assert str(got.value) == str(want), f"{fn.__name__}{inputs!r} on {name}: {got.value!r}, eager {want!r}"


# -- 1. divmod -------------------------------------------------------------------------------------


def divmod_int(a: int, b: int) -> Tuple[int, int]:
    return divmod(a, b)


def divmod_float(a: float, b: float) -> Tuple[float, float]:
    return divmod(a, b)


def divmod_mixed(a: int, b: float, c: bool) -> Tuple[Tuple[float, float], Tuple[float, float], Tuple[int, int]]:
    return divmod(a, b), divmod(b, a), divmod(a, c)


def divmod_unpack(a: int, b: int) -> int:
    q, r = divmod(a, b)
    return q * 1000 + r


def test_divmod():
    matches_eager(divmod_int, (7, 2), (-7, 2), (7, -2), (-7, -2), (0, 5), (6, 3), (-(2**63), 3))
    matches_eager(divmod_float, (7.5, 2.0), (-7.5, 2.0), (7.5, -2.0), (0.0, 3.0), (-0.0, 3.0), (1.0, 0.1), (1e300, 1e-300),
                  (math.inf, 2.0), (2.0, math.inf), (-2.0, math.inf), (math.nan, 1.0))  # fmt: skip
    matches_eager(divmod_mixed, (7, 2.5, True), (-7, 0.5, True))
    matches_eager(divmod_unpack, (17, 5), (-17, 5))


def test_divmod_by_zero():
    raises_everywhere(divmod_int, (1, 0), (0, 0))
    raises_everywhere(divmod_float, (1.0, 0.0), (1.0, -0.0))
    raises_everywhere(divmod_mixed, (1, 0.0, True), (1, 2.0, False))


# -- 2. hex, oct, bin -----------------------------------------------------------------------------------


def int_bases(i: int) -> List[str]:
    return [hex(i), oct(i), bin(i)]


def int_bases_of_bool(b: bool) -> List[str]:
    return [hex(b), oct(b), bin(b)]


def test_hex_oct_bin():
    matches_eager(int_bases, (0,), (1,), (-1,), (255,), (-255,), (8,), (2**63 - 1,), (-(2**63),))
    matches_eager(int_bases_of_bool, (True,), (False,))


def hex_of_float(x: float) -> str:
    return hex(x)


def test_hex_of_float_is_refused():
    with pytest.raises(CompileError, match=r"hex\(\) takes an int, not float"):
        torchkiln.script(hex_of_float)


# -- 3. math.modf ------------------------------------------------------------------------------------


def modf(x: float) -> Tuple[float, float]:
    return math.modf(x)


def modf_int(i: int) -> Tuple[float, float]:
    frac, whole = math.modf(i)
    return frac, whole


def test_modf():
    matches_eager(modf, (2.5,), (-2.5,), (0.0,), (-0.0,), (3.0,), (-3.0,), (1e300,), (math.inf,), (-math.inf,), (math.nan,), (1e-310,))
    matches_eager(modf_int, (7,), (-7,), (0,))


# -- 4. dict.popitem ---------------------------------------------------------------------------------


def popitem(d: Dict[str, int]) -> Tuple[Tuple[str, int], Dict[str, int]]:
    item = d.popitem()
    return item, d


def popitem_all(d: Dict[int, float]) -> List[Tuple[int, float]]:
    out: List[Tuple[int, float]] = []
    while len(d) > 0:
        out.append(d.popitem())
    return out


def popitem_after_insert(d: Dict[str, int]) -> Tuple[str, int]:
    d["z"] = 26
    del d["z"]
    d["y"] = 25
    d["a"] = 0
    return d.popitem()


def test_popitem():
    matches_eager(popitem, ({"a": 1, "b": 2},), ({"x": 0},))
    matches_eager(popitem_all, ({3: 1.5, 1: 0.5, 2: -1.0},), ({},))
    matches_eager(popitem_after_insert, ({"a": 1, "b": 2},), ({},))


def test_popitem_empty():
    raises_everywhere(popitem, ({},))


# -- 5. int * list, int * str -------------------------------------------------------------------------------


def int_times_seq(n: int, lst: List[int], s: str) -> Tuple[List[int], str, List[int], str]:
    return n * lst, n * s, lst * n, s * n


def bool_times_seq(b: bool, lst: List[str], s: str) -> Tuple[List[str], str]:
    return b * lst, b * s


def const_times_seq(lst: List[float]) -> Tuple[List[float], str, List[float]]:
    return 2 * lst, 3 * "ab", -1 * lst


def test_int_times_sequence():
    matches_eager(int_times_seq, (2, [1, 2], "ab"), (0, [1], "x"), (-3, [1], "x"), (1, [], ""), (3, [5], "né"))
    matches_eager(bool_times_seq, (True, ["a"], "s"), (False, ["a"], "s"))
    matches_eager(const_times_seq, ([1.5],), ([],))


# -- 6. dict(zip(a, b)) -------------------------------------------------------------------------------


def dict_zip(a: List[str], b: List[int]) -> Dict[str, int]:
    return dict(zip(a, b))


def dict_zip_range(b: List[float]) -> Dict[int, float]:
    return dict(zip(range(1, 10, 2), b))


def dict_zip_mutate(a: List[int], b: List[List[int]]) -> Dict[int, List[int]]:
    d = dict(zip(a, b))
    a.append(99)
    return d


def test_dict_zip():
    matches_eager(dict_zip, (["a", "b"], [1, 2]), (["a", "b", "c"], [1]), (["a"], [1, 2, 3]), ([], [1]), (["a", "b", "a"], [1, 2, 3]))
    matches_eager(dict_zip_range, ([0.5, 1.5, 2.5],), ([0.0] * 9,))
    matches_eager(dict_zip_mutate, ([1, 2], [[1], [2]]),)


# -- 7. str methods with start/end -------------------------------------------------------------------------

STRINGS = ["abcabc", "", "a", "naïve café naïve", "ÜbÜ"]
SUBS = ["", "a", "bc", "c", "ï", "naïve", "xyz", "abcabcabc"]
BOUNDS = [None, 0, 1, 2, 3, -1, -2, -100, 100, 6, 7]


def find_family(s: str, sub: str, start: Optional[int], end: Optional[int]) -> List[int]:
    return [s.find(sub, start, end), s.rfind(sub, start, end), s.count(sub, start, end),
            int(s.startswith(sub, start, end)), int(s.endswith(sub, start, end))]  # fmt: skip


def find_family_start(s: str, sub: str, start: int) -> List[int]:
    return [s.find(sub, start), s.rfind(sub, start), s.count(sub, start), int(s.startswith(sub, start)), int(s.endswith(sub, start))]


def find_family_plain(s: str, sub: str) -> List[int]:
    return [s.find(sub), s.rfind(sub), s.count(sub), int(s.startswith(sub)), int(s.endswith(sub))]


def index_family(s: str, sub: str, start: Optional[int], end: Optional[int]) -> Tuple[int, int]:
    return s.index(sub, start, end), s.rindex(sub, start, end)


def index_start(s: str, sub: str, start: int) -> int:
    return s.index(sub, start)


def rindex_plain(s: str, sub: str) -> int:
    return s.rindex(sub)


def test_find_family_with_bounds():
    cases = [(s, sub, a, b) for s in STRINGS for sub in SUBS for a in BOUNDS for b in BOUNDS]
    matches_eager(find_family, *cases)
    matches_eager(find_family_start, *[(s, sub, a) for s in STRINGS for sub in SUBS for a in BOUNDS if a is not None])
    matches_eager(find_family_plain, *[(s, sub) for s in STRINGS for sub in SUBS])


def test_index_family():
    found = [(s, sub, a, b) for s in STRINGS for sub in SUBS for a in BOUNDS for b in BOUNDS if s.find(sub, a, b) >= 0]
    matches_eager(index_family, *found)
    raises_everywhere(index_family, ("abcabc", "x", None, None), ("abcabc", "a", 1, 3), ("abc", "", 4, None), ("", "a", None, None))
    raises_everywhere(index_start, ("abc", "a", 1), ("naïve", "ï", 3))
    raises_everywhere(rindex_plain, ("abc", "d"),)


def startswith_tuple(s: str, start: int) -> List[bool]:
    return [s.startswith(("ab", "x")), s.endswith(("bc", "c")), s.startswith(("zz", "yy")), s.startswith(()),
            s.startswith(("", "q"), start), s.endswith(("a", "ï"), 0, start)]  # fmt: skip


def startswith_tuple_value(s: str, t: Tuple[str, str]) -> Tuple[bool, bool]:
    return s.startswith(t), s.endswith(t, 1)


def test_startswith_tuple():
    matches_eager(startswith_tuple, ("abc", 0), ("abc", 5), ("xbc", 1), ("", 0), ("naïve", 3), ("cba", -1))
    matches_eager(startswith_tuple_value, ("abc", ("a", "c")), ("abc", ("x", "y")), ("", ("", "y")))


def splitlines(s: str, keep: bool) -> Tuple[List[str], List[str], List[str]]:
    return s.splitlines(keep), s.splitlines(), s.splitlines(keepends=keep)


def test_splitlines_keepends():
    texts = ["a\nb", "a\r\nb\r\n", "a\rb\n\nc", "", "\n", "x\x0by\x0cz\x1c\x1d\x1e", "é\x85f\u2028g\u2029", "no break", "\r\r\n"]
    matches_eager(splitlines, *[(t, k) for t in texts for k in (True, False)])


# -- 8. partition, expandtabs, isdecimal, isnumeric, istitle, isprintable -----------------------------------


def partitions(s: str, sep: str) -> Tuple[Tuple[str, str, str], Tuple[str, str, str]]:
    return s.partition(sep), s.rpartition(sep)


def partition_unpack(s: str) -> str:
    head, sep, tail = s.partition("=")
    return tail + sep + head


def test_partition():
    matches_eager(partitions, ("a,b,c", ","), ("abc", ","), ("", ","), (",", ","), ("a::b::c", "::"), ("naïve-café", "é"), ("x", "xyz"))
    matches_eager(partition_unpack, ("k=v",), ("k",), ("=v=w",))
    raises_everywhere(partitions, ("abc", ""),)


def expandtabs(s: str, n: int) -> Tuple[str, str, str]:
    return s.expandtabs(), s.expandtabs(n), s.expandtabs(tabsize=n)


def test_expandtabs():
    texts = ["a\tb", "\t", "ab\tcd\tefg\th", "a\tb\nc\td\re\tf", "né\tx", "", "no tabs", "\t\t"]
    matches_eager(expandtabs, *[(t, n) for t in texts for n in (8, 4, 1, 0, -1, 3)])
    raises_everywhere(expandtabs, ("a", 2**31), ("a", -(2**31) - 1))


def str_classes(s: str) -> List[bool]:
    return [s.isdecimal(), s.isnumeric(), s.isdigit(), s.istitle(), s.isprintable()]


# ASCII and Latin-1 (where the C++ character tables are exact)
CLASS_SAMPLES = ["", "123", "12a", "½", "²3", "¼¾", "0", " ", "Hello World", "Hello world", "hello", "HELLO", "Hello  World!",
                 "A1b", "'Tis", "É Été", "ÉtÉ", "ß", "Aß", "a\tb", "a\nb", "\x7f", "\xa0", "\xad", "é", "print me ~", "123 Ab",
                 "Ab Cd Ef", "AB", "Ab1 Cd"]  # fmt: skip


def test_str_classes():
    matches_eager(str_classes, *[(s,) for s in CLASS_SAMPLES])


# -- 9. bare container annotations --------------------------------------------------------------------------


def bare_list_return(x: List[int]) -> list:
    return x


def bare_dict_param(d: dict) -> int:
    return len(d)


def bare_tuple_param(t: tuple) -> int:
    return 1


def bare_typing_list(x: List) -> int:
    return 1


@pytest.mark.parametrize(
    "fn, name, form",
    [(bare_list_return, "list", "List[T]"), (bare_dict_param, "dict", "Dict[K, V]"), (bare_tuple_param, "tuple", "Tuple[...]"),
     (bare_typing_list, "List", "List[T]")],
)  # fmt: skip
def test_bare_container_annotation_is_refused(fn, name, form):
    with pytest.raises(CompileError) as info:
        torchkiln.script(fn)
    message = str(info.value)
    assert f"a bare `{name}` annotation does not give the type of the items" in message, message
    assert form in message, message


# -- 10. range with a zero step -----------------------------------------------------------------------------


def range_step(n: int, step: int) -> int:
    t = 0
    for i in range(0, n, step):
        t += i
    return t


def range_step_list(n: int, step: int) -> List[int]:
    return list(range(n, 0, step))


def range_step_len(n: int, step: int) -> int:
    return len(range(1, n, step))


def range_const_zero_step(n: int) -> int:
    step = 0
    t = 0
    for i in range(0, n, step):
        t += i
    return t


def test_range_step_zero_raises_at_run_time():
    matches_eager(range_step, (10, 3), (10, -1), (-10, -3), (0, 1))
    matches_eager(range_step_list, (10, -3), (10, 2))
    matches_eager(range_step_len, (10, 3), (10, -3))
    for fn in (range_step, range_step_list, range_step_len):
        raises_everywhere(fn, (5, 0), (0, 0))
    raises_everywhere(range_const_zero_step, (5,), (0,))


# -- 11. division and modulo by zero: Python 3.11's messages ---------------------------------------------------


def int_mod(a: int, b: int) -> int:
    return a % b


def int_floordiv(a: int, b: int) -> int:
    return a // b


def int_truediv(a: int, b: int) -> float:
    return a / b


def float_mod(a: float, b: float) -> float:
    return a % b


def float_floordiv(a: float, b: float) -> float:
    return a // b


def float_truediv(a: float, b: float) -> float:
    return a / b


def mixed_mod(a: int, b: float) -> float:
    return a % b


@pytest.mark.parametrize("fn", [int_mod, int_floordiv, int_truediv])
def test_int_division_by_zero_messages(fn):
    raises_everywhere(fn, (1, 0), (0, 0), (-5, 0))


@pytest.mark.parametrize("fn", [float_mod, float_floordiv, float_truediv])
def test_float_division_by_zero_messages(fn):
    raises_everywhere(fn, (1.0, 0.0), (0.0, -0.0), (math.inf, 0.0))


def test_mixed_mod_by_zero_message():
    raises_everywhere(mixed_mod, (1, 0.0))
