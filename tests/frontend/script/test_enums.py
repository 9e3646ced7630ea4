"""Enum classes in script (Note [Enums] in frontend/script/enums.py)."""
from __future__ import annotations

import enum
from typing import List

import pytest
import torch
import torch.nn as nn

import torchkiln

from .script_testing import check_ir, matches_eager, same


class Color(enum.Enum):
    RED = 1
    GREEN = 2
    BLUE = 4


class Mode(enum.Enum):
    FAST = "fast"
    SLOW = "slow"


class Mixed(enum.Enum):
    A = 1
    B = "b"


def by_color(c: Color, x: torch.Tensor) -> torch.Tensor:
    if c == Color.RED:
        return x * c.value
    if c is Color.GREEN:
        return x + len(c.name)
    if c is not Color.BLUE:
        return x
    return -x


def all_colors() -> List[str]:
    out: List[str] = []
    for c in Color:
        out.append(c.name + str(c.value))
    return out


def default_member(c: Color = Color.BLUE) -> str:
    return c.name


def mode_value(m: Mode) -> str:
    return m.value + "!"


def test_enum_members_values_names_and_comparisons():
    x = torch.randn(3)
    matches_eager(by_color, *[(c, x) for c in Color])
    matches_eager(all_colors, ())
    matches_eager(mode_value, (Mode.FAST,), (Mode.SLOW,))
    s = torchkiln.script(default_member)
    for _ in range(2):
        assert s() == "BLUE" and s(Color.RED) == "RED"


def test_enums_are_their_values_at_run_time():
    s = torchkiln.script(by_color)
    assert str(s.graph).startswith("graph(%c : int, %x : Tensor)")
    assert same(s(1, torch.ones(2)), torch.ones(2))  # RED's value is accepted as RED


class WithMode(nn.Module):
    def __init__(self, mode: Mode):
        super().__init__()
        self.mode = mode
        self.lin = nn.Linear(3, 3)

    def forward(self, x: torch.Tensor, c: Color) -> torch.Tensor:
        y = self.lin(x)
        if self.mode == Mode.FAST:
            y = y * 2
        if c != Color.RED:
            y = y + c.value
        return y


@pytest.mark.parametrize("mode", list(Mode))
def test_module_holding_a_member_saves_and_loads(tmp_path, mode):
    torch.manual_seed(0)
    m = WithMode(mode)
    s = torchkiln.script(m)
    check_ir(s)
    x = torch.randn(2, 3)
    path = str(tmp_path / "m.kiln")
    torchkiln.save(s, path)
    loaded = torchkiln.load(path)
    with torch.no_grad():
        for c in Color:
            expected = m(x, c)
            for _ in range(2):
                assert same(s(x, c), expected)
            assert same(loaded(x, c), expected)


def uses_mixed(m: Mixed) -> int:
    return 1


def test_enum_with_mixed_value_types_is_refused():
    with pytest.raises(torchkiln.CompileError, match="the Enum Mixed cannot be used in script: its members' values must all be ints") as e:
        torchkiln.script(uses_mixed)
    assert "test_enums.py" in str(e.value)


def unknown_member() -> int:
    return Color.PURPLE.value


def test_unknown_member_is_refused():
    with pytest.raises(torchkiln.CompileError, match="the Enum Color has no member 'PURPLE'"):
        torchkiln.script(unknown_member)


# -- Enums at the Python boundary (Note [Enums at the Python boundary]) -------------------------------

from typing import Dict, NamedTuple, Optional, Tuple, Union  # noqa: E402

from torchkiln import api  # noqa: E402
from torchkiln.diagnostics import ArgumentError  # noqa: E402
from torchkiln.frontend.script.enums import enum_type  # noqa: E402
from torchkiln.ir.types import INT, STR, TupleType  # noqa: E402

from .script_testing import EXECUTORS  # noqa: E402


def pick(x: int) -> Color:
    if x > 0:
        return Color.GREEN
    return Color.RED


def pick_inferred(x: int):
    if x > 0:
        return Mode.FAST
    return Mode.SLOW


def maybe(x: int) -> Optional[Color]:
    if x > 0:
        return Color.BLUE
    return None


def several(n: int) -> List[Color]:
    out: List[Color] = []
    for c in Color:
        if c.value <= n:
            out.append(c)
    return out


def pair(x: int) -> Tuple[int, Color, str]:
    return x, pick(x), "p"


def by_name() -> Dict[str, Color]:
    return {c.name: c for c in Color}


def keyed() -> Dict[Color, Mode]:
    return {Color.RED: Mode.FAST, Color.GREEN: Mode.SLOW}


def nested(x: int) -> List[Tuple[Color, Optional[Mode]]]:
    return [(pick(x), Mode.FAST), (Color.BLUE, None)]


def color_or_text(x: int) -> Union[Color, str]:
    if x > 0:
        return Color.GREEN
    return "none"


Tagged = NamedTuple("Tagged", [("color", Color), ("count", int)])  # field types as classes (this file has `from __future__ import annotations`)


def tagged(x: int) -> Tagged:
    return Tagged(pick(x), x)


def _members_of(value):
    """The Enum members in a result, in order (containers walked)."""
    if isinstance(value, enum.Enum):
        return [value]
    if isinstance(value, (list, tuple)):
        return [m for v in value for m in _members_of(v)]
    if isinstance(value, dict):
        return [m for kv in value.items() for v in kv for m in _members_of(v)]
    return []


@pytest.mark.parametrize(
    "fn, inputs",
    [
        (pick, [(1,), (0,)]),
        (pick_inferred, [(1,), (-1,)]),
        (maybe, [(1,), (0,)]),
        (several, [(0,), (2,), (4,)]),
        (pair, [(1,), (0,)]),
        (by_name, [()]),
        (keyed, [()]),
        (nested, [(1,), (0,)]),
        (color_or_text, [(1,), (0,)]),
        (tagged, [(3,)]),
    ],
    ids=lambda v: v.__name__ if callable(v) else "",
)
def test_enum_results_come_back_as_members(fn, inputs):
    s = matches_eager(fn, *inputs)  # every executor, each result `same` as eager's: members, not values
    for ex in EXECUTORS:
        run = s.with_executor(ex)
        for args in inputs:
            got, expected = run(*args), fn(*args)
            assert got == expected
            assert type(got) is type(expected) or got._fields == expected._fields  # a NamedTuple: script's own class
            assert [type(m) for m in _members_of(got)] == [type(m) for m in _members_of(expected)]
            assert all(a is b for a, b in zip(_members_of(got), _members_of(expected)))


def test_enum_result_types_before_erasure_are_kept():
    s = torchkiln.script(pair)
    assert s._kiln_fn.returns == TupleType([INT, INT, STR])  # the program sees values
    assert str(s.graph).startswith("graph(%x : int)")
    assert s._kiln_fn.frontend_types == ((INT,), TupleType([INT, enum_type(Color), STR]))  # kept for the boundary


def plain(x: int, y: List[int]) -> Tuple[int, List[int]]:
    return x + 1, y


def test_functions_without_enums_call_the_executor_directly():
    s = torchkiln.script(plain)
    for ex in EXECUTORS:
        run = s.with_executor(ex)
        assert run._kiln_fn.frontend_types is None and api.result_converter(run._kiln_fn) is None
        assert run._call is api._compiled(run._kiln_fn, run._kiln_unit, api.get_executor(ex))
        assert api._enum_arguments(run._kiln_fn) == ()
        assert run(1, [2]) == (2, [2])


def test_enum_arguments_members_and_values_of_members():
    s = torchkiln.script(default_member)
    assert s(Color.GREEN) == "GREEN" and s(c=Color.RED) == "RED"
    assert s(2) == "GREEN"  # a member's value is that member, as Color(2) is (torch.jit.script refuses it)
    with pytest.raises(ArgumentError, match=r"expected a value of type Enum<.*Color> for argument 'c' but got int 3, which is not the value of any member of Color"):
        s(3)
    with pytest.raises(ArgumentError, match="but got a member of the Enum Mode, not of Color"):
        s(Mode.FAST)
    with pytest.raises(ArgumentError, match="but got a str, not a member of Color"):
        s("RED")
    with pytest.raises(ArgumentError, match="but got a bool, not a member of Color"):
        s(True)


def count_colors(cs: List[Color], extra: Optional[Color] = None) -> Dict[str, int]:
    out: Dict[str, int] = {}
    for c in cs:
        out[c.name] = out.get(c.name, 0) + c.value
    if extra is not None:
        out[extra.name] = -1
    return out


def test_enum_arguments_inside_containers():
    matches_eager(count_colors, ([Color.RED, Color.BLUE, Color.RED], None), ([], Color.GREEN))
    s = torchkiln.script(count_colors)
    assert s([1, Color.GREEN]) == {"RED": 1, "GREEN": 2}
    with pytest.raises(ArgumentError, match="argument 'cs' but got int 5"):
        s([Color.RED, 5])


def identity(c: Color) -> Color:
    return c


def test_members_round_trip():
    for ex in EXECUTORS:
        s = torchkiln.script(identity).with_executor(ex)
        for c in Color:
            assert s(c) is c and s(c.value) is c


def calls_compiled(x: int) -> bool:
    return pick(x) == Color.GREEN and identity(Color.BLUE) is Color.BLUE


def test_compiled_functions_called_by_a_later_compile_keep_their_enum_types():
    # `pick` and `identity` are compiled (and erased) by earlier script() calls; the cache hands them out.
    torchkiln.script(pick)
    torchkiln.script(identity)
    matches_eager(calls_compiled, (1,), (0,))
    s_pick = torchkiln.script(pick)

    def calls_script_function(x: int) -> Color:
        c = s_pick(x)
        if c == Color.GREEN:
            return identity(c)
        return Color.BLUE

    matches_eager(calls_script_function, (1,), (0,))


class Palette(nn.Module):
    def __init__(self):
        super().__init__()
        self.current: Color = Color.GREEN  # annotated: an attribute
        self.fixed = Mode.SLOW  # not annotated: a constant

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, Color]:
        return x * self.current.value, self.current

    @torch.jit.export
    def rotate(self) -> Color:
        if self.current == Color.RED:
            self.current = Color.GREEN
        elif self.current == Color.GREEN:
            self.current = Color.BLUE
        else:
            self.current = Color.RED
        return self.current

    @torch.jit.export
    def mode(self) -> Optional[Mode]:
        return self.fixed


@pytest.mark.parametrize("executor", EXECUTORS)
def test_module_methods_and_attributes_give_members(executor):
    eager = Palette()
    s = torchkiln.script(Palette()).with_executor(executor)
    check_ir(s)
    x = torch.ones(2)
    assert s.current is Color.GREEN and s.fixed is Mode.SLOW  # read from Python: members
    assert s.__dict__["current"] == 2  # what the executors read
    for _ in range(4):
        got, want = s(x), eager(x)
        assert same(got[0], want[0]) and got[1] is want[1]
        assert s.rotate() is eager.rotate() and s.current is eager.current
    assert s.mode() is Mode.SLOW
    s.current = Color.BLUE  # a member assigned from Python is its value for the program
    assert s.__dict__["current"] == 4 and s.current is Color.BLUE and s(x)[1] is Color.BLUE
    s.current = 1
    assert s.current is Color.RED and s.rotate() is Color.GREEN
    with pytest.raises(torchkiln.Error, match="cannot assign int 7, which is not the value of any member of Color to attribute 'current'"):
        s.current = 7
    with pytest.raises(torchkiln.Error, match="cannot assign a member of the Enum Mode, not of Color"):
        s.current = Mode.FAST


def test_module_with_enum_attributes_copies_freezes_saves_and_loads(tmp_path):
    import copy

    s = torchkiln.script(Palette())
    s.rotate()
    x = torch.ones(2)
    c = copy.deepcopy(s)
    assert c.current is Color.BLUE and c(x)[1] is Color.BLUE
    frozen = torchkiln.freeze(s.eval())
    assert same(frozen(x)[0], x * 4) and frozen(x)[1] is Color.BLUE
    path = str(tmp_path / "palette.kiln")
    torchkiln.save(s, path)
    loaded = torchkiln.load(path)
    # An archive holds values (Note [Enums at the Python boundary]): a loaded program returns them.
    assert loaded.current == 4 and loaded(x)[1] == 4 and same(loaded(x)[0], x * 4)
    assert loaded.rotate() == 1


class Holder(nn.Module):
    def __init__(self):
        super().__init__()
        self.palette = Palette()

    def forward(self, x: torch.Tensor) -> bool:
        return self.palette(x)[1] == Color.GREEN and self.palette.current is Color.GREEN


def test_a_cached_module_type_keeps_its_enum_attribute_types():
    torchkiln.script(Palette())  # Palette's class type is compiled (and erased) first
    s = torchkiln.script(Holder())
    assert s(torch.ones(1)) is True and Holder()(torch.ones(1)) is True


def test_loaded_functions_return_values_and_take_members(tmp_path):
    s = torchkiln.script(identity)
    path = str(tmp_path / "identity.kiln")
    torchkiln.save(s, path)
    loaded = torchkiln.load(path)
    assert loaded(Color.GREEN) == 2 and loaded(2) == 2
