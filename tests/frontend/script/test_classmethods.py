"""`@classmethod` in modules and script classes (Note [Class methods] in functions_value.py):
called through `self`, `type(self)`, the class and `cls`; `cls` bound to the class; save/load."""
from typing import Tuple

import pytest
import torch
from torch import Tensor

import torchkiln

from .script_testing import EXECUTORS, check_ir, matches_eager, same, run_fresh
from .test_errors import line_of, refused


class Scaled(torch.nn.Module):
    SCALE = 3
    OFFSETS = (1, 2)

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(4, 4)

    @staticmethod
    def bump(v: int) -> int:
        return v + 1

    @classmethod
    def factor(cls, n: int) -> int:
        return cls.bump(n) * cls.SCALE + cls.OFFSETS[1]  # a static method and constants through `cls`

    @classmethod
    def both(cls, n: int, k: int = 2) -> int:
        return cls.factor(n) + k * Scaled.factor(n)  # another classmethod through `cls` and the class

    def forward(self, x: Tensor, n: int) -> Tuple[Tensor, int]:
        a = self.factor(n)
        b = type(self).both(n, k=3)
        c = Scaled.factor(2)
        return self.fc(x) * a + b, a + b + c


class Wider(Scaled):
    SCALE = 5  # `cls` is the class the method is called on: Wider's SCALE

    def forward(self, x: Tensor, n: int) -> Tuple[Tensor, int]:
        y, k = super().forward(x, n)
        return y, k + super().factor(n)


def run_module(m: torch.nn.Module, inputs):
    s = torchkiln.script(m)
    check_ir(s)
    for executor in EXECUTORS:
        s.with_executor(executor)
        for args in inputs:
            with torch.no_grad():
                got, expected = s(*args), m(*args)
            assert same(got, expected), f"{executor}: {got!r} != {expected!r}"
    return s


@pytest.mark.parametrize("cls", [Scaled, Wider], ids=lambda c: c.__name__)
def test_module_classmethods_match_eager(cls):
    torch.manual_seed(0)
    m = cls().eval()
    run_module(m, [(torch.randn(2, 4), 0), (torch.randn(2, 4), 4)])


def test_compiled_once_per_class():
    s = torchkiln.script(Wider().eval())
    names = [n for n in s._kiln_unit.functions if ".factor" in n]
    assert len(names) == 2, names  # Scaled.factor for `Scaled.factor(...)`, for Wider (cls = Wider)
    for n in names:
        assert [a.name for a in s._kiln_unit.functions[n].args] == ["n"]  # `cls` is no parameter


def test_saved_and_loaded(tmp_path):
    torch.manual_seed(0)
    m = Wider().eval()
    s = torchkiln.script(m)
    path = tmp_path / "wider.pt"
    torchkiln.save(s, str(path))
    run_fresh(
        f"""
        import torch, torchkiln
        torch.manual_seed(1)
        x = torch.randn(2, 4)
        m = torchkiln.load({str(path)!r})
        torch.save([m(x, 0), m(x, 3), x], {str(tmp_path / 'out.pt')!r})
        """
    )
    a, b, x = torch.load(tmp_path / "out.pt")
    with torch.no_grad():
        assert same(a, m(x, 0)) and same(b, m(x, 3))
    loaded = torchkiln.load(str(path))
    assert same(loaded(x, 2), s(x, 2))


class Interval:
    def __init__(self, lo: int, hi: int):
        self.lo = lo
        self.hi = hi

    @classmethod
    def empty(cls) -> "Interval":
        return cls(0, 0)  # constructs a script-class object

    @classmethod
    def around(cls, mid: int, radius: int = 1) -> "Interval":
        r = cls.empty()
        r.lo = mid - radius
        r.hi = mid + radius
        return r

    def widened(self, by: int) -> "Interval":
        return self.around((self.lo + self.hi) // 2, (self.hi - self.lo) // 2 + by)

    def length(self) -> int:
        return self.hi - self.lo


def intervals(mid: int, by: int) -> Tuple[int, int, int]:
    a = Interval.around(mid)
    b = a.widened(by)
    c = type(b).empty()
    return b.lo, b.length(), c.length()


def test_script_class_classmethods_match_eager():
    matches_eager(intervals, (0, 0), (5, 2), (-3, 7))


# -- refused --------------------------------------------------------------------------------------


class BuildsModule(torch.nn.Module):
    @classmethod
    def build(cls):
        return cls()

    def forward(self, x):
        m = self.build()
        return x


class CallsMethodOnClass(torch.nn.Module):
    def helper(self, x):
        return x

    def forward(self, x):
        return CallsMethodOnClass.helper(x)


def type_of_int(x: int) -> int:
    t = type(x)
    return x


@pytest.mark.parametrize(
    "make,fn,needle,words",
    [
        (BuildsModule, BuildsModule.build, "cls()", "modules (BuildsModule) cannot be created inside scripted code"),
        (CallsMethodOnClass, CallsMethodOnClass.forward, "CallsMethodOnClass.helper", "is a method: script calls methods on an object"),
        (None, type_of_int, "type(x)", "type() is only supported in script on a module or script-class object"),
    ],
    ids=["cls_of_module", "method_on_class", "type_of_int"],
)
def test_refused_with_location(make, fn, needle, words):
    message = refused(make() if make is not None else fn)
    assert words in message, message
    assert f'File "{__file__}", line {line_of(fn, needle)},' in message, message
