"""Interface types (`torchkiln.interface`, `torch.jit.interface`), compared with eager PyTorch
on every executor and through the archive (Note [Interface types] in interfaces.py)."""
import io
import re
import warnings
from typing import List, Optional

import pytest
import torch
import torch.nn as nn
from torch import Tensor

import torchkiln
from torchkiln import cpp_executor
from torchkiln.api import ScriptFunction

from .script_testing import check_ir, same

EXECUTORS = ["python", "interpreter"] + (["cpp"] if cpp_executor.available() else [])


def run_function(s, executor, *args):
    run = ScriptFunction(s._kiln_unit, s._kiln_fn, executor=executor)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = run(*args)
    assert executor != "cpp" or type(run._call).__name__ == "Call", "fell back to Python"
    return result


def run_module(m, executor, *args):
    run = m.with_executor(executor)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = run(*args)
    assert executor != "cpp" or type(run.forward._call).__name__ == "Call", "fell back to Python"
    return result


def round_trip(obj):
    buf = io.BytesIO()
    torchkiln.save(obj, buf)
    buf.seek(0)
    return torchkiln.load(buf)


# -- module interfaces ---------------------------------------------------------------------------

TWO_METHODS = f"__torch__.{__name__}.TwoMethods"
ONE_ARG = f"__torch__.{__name__}.OneArg"
SHAPE = f"__torch__.{__name__}.Shape"


@torch.jit.interface
class OneArg(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        pass


@torchkiln.interface
class TwoMethods(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        pass

    def shift(self, x: Tensor, by: int = 2) -> Tensor:
        pass


class Double(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return x * 2

    def shift(self, x: Tensor, by: int = 2) -> Tensor:
        return x + by

    def extra(self, x: Tensor) -> Tensor:
        return x


class AddParam(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.arange(3.0))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.w

    def shift(self, x: Tensor, by: int = 2) -> Tensor:
        return x - by * self.w


class ShiftNotExported(AddParam):
    """AddParam under a class of its own: no other test compiles its `shift` (through an
    interface that asks for it), so scripting it compiles `forward` alone, whatever ran before."""


class HoldsOneArg(nn.Module):
    sub: OneArg

    def __init__(self, sub: nn.Module):
        super().__init__()
        self.sub = sub

    def forward(self, x: Tensor) -> Tensor:
        return self.sub(x) + self.sub.forward(x * 3)


class HoldsTwo(nn.Module):
    __annotations__ = {"sub": TwoMethods}

    def __init__(self, sub: nn.Module):
        super().__init__()
        self.sub = sub

    def forward(self, x: Tensor) -> Tensor:
        return self.sub(x) + self.sub.shift(x) + self.sub.shift(x, by=5)


@pytest.mark.parametrize("holder,sub", [(HoldsOneArg, Double), (HoldsOneArg, AddParam), (HoldsTwo, Double), (HoldsTwo, AddParam)])
def test_module_interface_attribute_matches_eager(holder, sub):
    model = holder(sub())
    m = torchkiln.script(model)
    check_ir(m)
    x = torch.randn(3)
    want = model(x)
    for executor in EXECUTORS:
        assert same(run_module(m, executor, x), want), executor
    loaded = round_trip(m)
    assert same(loaded(x), want)
    if cpp_executor.available():
        assert same(run_module(loaded, "cpp", x), want)


def test_module_interface_calls_dispatch_on_the_attribute():
    m = torchkiln.script(HoldsTwo(AddParam()))
    check_ir(m)
    # the attribute has the interface type (printed by its name): calls are found by the held module's
    # class when they run, and are not inlined, so another implementation can be assigned
    assert str(m._kiln_type.attributes["sub"]) == TWO_METHODS
    for graph in (m.graph, m.inlined_graph):
        text = str(graph)
        assert f': {TWO_METHODS} = prim::GetAttr[name="sub"](%self)' in text
        assert text.count('prim::CallMethod[name="forward"]') == 1
        assert text.count('prim::CallMethod[name="shift"]') == 2
    assert "aten::sub" not in str(m.inlined_graph)  # AddParam.shift's body stays in AddParam


class LacksShift(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return x


class WrongShift(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return x

    def shift(self, x: Tensor, by: float = 2.0) -> Tensor:
        return x


class RenamedShift(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return x

    def shift(self, x: Tensor, n: int = 2) -> Tensor:
        return x


class WrongReturn(nn.Module):
    def forward(self, x: Tensor) -> int:
        return 1


class HoldsTwoAnnotated(nn.Module):
    sub: TwoMethods

    def __init__(self, sub: nn.Module):
        super().__init__()
        self.sub = sub

    def forward(self, x: Tensor) -> Tensor:
        return self.sub(x)


@pytest.mark.parametrize(
    "sub,why",
    [
        (LacksShift, "it has no method 'shift' (declared at"),
        (RenamedShift, "argument 2 of its shift is named 'n', the interface's shift(self, x: Tensor, by: int) -> Tensor names it 'by'"),
        (WrongReturn, "its forward returns int, the interface's forward(self, x: Tensor) -> Tensor returns Tensor"),
    ],
)
def test_module_interface_is_checked_when_scripting(sub, why):
    with pytest.raises(torchkiln.CompileError) as e:
        torchkiln.script(HoldsTwoAnnotated(sub()))
    text = str(e.value)
    assert f"the module {sub.__name__} held by HoldsTwoAnnotated.sub does not implement the interface TwoMethods" in text
    assert why in text
    assert "    sub: TwoMethods\n    ^^^^^^^^^^^^^^^" in text  # located at the annotation
    assert "test_interfaces.py" in text
    assert "while compiling `HoldsTwoAnnotated.sub (annotated TwoMethods)`" in text


def test_module_interface_argument_types_are_contravariant():
    # Optional[Tensor] accepts what the interface passes (Tensor): it implements it
    class Wide(nn.Module):
        def forward(self, x: Optional[Tensor]) -> Tensor:
            assert x is not None
            return x + 1

    model = HoldsOneArg(Wide())
    m = torchkiln.script(model)
    x = torch.ones(2)
    assert same(m(x), model(x))
    with pytest.raises(torchkiln.CompileError, match="the interface's shift"):
        torchkiln.script(HoldsTwoAnnotated(WrongShift()))


def test_scripted_submodule_implements_an_interface():
    sub = torchkiln.script(ShiftNotExported())
    model = HoldsOneArg(AddParam())
    model.sub = sub
    m = torchkiln.script(model)
    x = torch.randn(3)
    assert same(m(x), HoldsOneArg(sub)(x))
    # its compiled methods are what it has: `shift` was not exported
    with pytest.raises(torchkiln.CompileError, match=r"the module ShiftNotExported(_\d+)? held by HoldsTwo.sub does not implement the interface TwoMethods: it has no method 'shift'"):
        torchkiln.script(HoldsTwo(sub))


# -- swapping an interface-typed submodule after scripting ---------------------------------


class ExportsShift(nn.Module):
    """Implements TwoMethods once scripted: `shift` is compiled because it is exported."""

    def __init__(self):
        super().__init__()
        self.k = nn.Parameter(torch.tensor([1.0, -2.0, 3.0]))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.k

    @torchkiln.export
    def shift(self, x: Tensor, by: int = 2) -> Tensor:
        return x - by


def swapped_pair(holder, first, second):
    """(eager model, scripted model) holding `first`, and a function assigning `second` to both."""
    model = holder(first())
    m = torchkiln.script(model)

    def swap():
        new = second()
        model.sub = new
        m.sub = torchkiln.script(new)

    return model, m, swap


def run_strict(m, executor, *args):
    """`run_module` that fails instead of falling back to the Python executor."""
    run = m.with_executor(executor)
    with warnings.catch_warnings():
        warnings.simplefilter("error", cpp_executor.CppFallbackWarning)
        return run(*args)


@pytest.mark.parametrize("executor", EXECUTORS)
@pytest.mark.parametrize("holder,first,second", [(HoldsOneArg, Double, AddParam), (HoldsOneArg, AddParam, Double), (HoldsTwo, Double, ExportsShift)])
def test_module_interface_submodule_can_be_swapped(executor, holder, first, second):
    model, m, swap = swapped_pair(holder, first, second)
    x = torch.randn(3)
    assert same(run_strict(m, executor, x), model(x))  # the program is built (C++) before the swap
    swap()
    want = model(x)
    assert not same(want, holder(first())(x))
    assert same(run_strict(m, executor, x), want)
    assert dict(m.named_parameters()).keys() == dict(model.named_parameters()).keys()
    swap()  # again: another instance of the same class
    assert same(run_strict(m, executor, x), model(x))


def test_module_interface_swap_then_save_and_load():
    model, m, swap = swapped_pair(HoldsTwo, Double, ExportsShift)
    x = torch.randn(3)
    m(x)
    swap()
    want = model(x)
    loaded = round_trip(m)
    check_ir(loaded)
    assert same(loaded(x), want)
    assert loaded.sub.original_name == "ExportsShift"
    assert same(loaded.sub.k, model.sub.k)
    for executor in EXECUTORS:
        assert same(run_strict(loaded, executor, x), want), executor
    # the archive records the interface: a scripted module implementing it can be assigned
    assert str(loaded._kiln_type.attributes["sub"]) == TWO_METHODS
    back = ExportsShift()
    with torch.no_grad():
        back.k.mul_(5)
    model.sub = back
    loaded.sub = torchkiln.script(back)
    for executor in EXECUTORS:
        assert same(run_strict(loaded, executor, x), model(x)), executor
    with pytest.raises(torchkiln.Error, match=r"cannot assign a Double to 'sub' of .*HoldsTwo(_\d+)?, a TwoMethods \(a module interface\): only a scripted module implementing TwoMethods can be assigned"):
        loaded.sub = Double()
    with pytest.raises(torchkiln.Error, match="it does not implement the interface TwoMethods: it has no method 'shift'"):
        loaded.sub = torchkiln.script(LacksShift())


@pytest.mark.parametrize(
    "sub,why",
    [
        (LacksShift, "it has no method 'shift'"),
        (ShiftNotExported, "it has no method 'shift'"),  # scripted: only forward and exported methods are compiled
        (WrongReturn, "its forward returns int, the interface's forward(self, x: Tensor) -> Tensor returns Tensor"),
    ],
)
def test_module_interface_swap_refuses_a_module_not_implementing_it(sub, why):
    model = HoldsTwo(Double())
    m = torchkiln.script(model)
    held = m.sub
    with pytest.raises(torchkiln.Error) as e:
        m.sub = torchkiln.script(sub())
    text = str(e.value)
    assert re.match(rf"cannot assign a ScriptModule of class __torch__\.[\w.]*\.{sub.__name__}(_\d+)? to 'sub' of __torch__\.[\w.]*\.HoldsTwo(_\d+)?, a TwoMethods \(a module interface\): ", text), text
    assert text.endswith("it does not implement the interface TwoMethods: " + why), text
    assert m.sub is held
    x = torch.randn(3)
    assert same(m(x), model(x))


def test_module_interface_swap_refuses_unscripted_modules():
    m = torchkiln.script(HoldsOneArg(Double()))
    with pytest.raises(torchkiln.Error, match=r"cannot assign a AddParam to 'sub' of .*HoldsOneArg(_\d+)?, a OneArg \(a module interface\): only a scripted module implementing OneArg can be assigned"):
        m.sub = AddParam()


def test_submodule_without_interface_is_still_resolved_statically():
    class Plain(nn.Module):
        def __init__(self):
            super().__init__()
            self.sub = Double()

        def forward(self, x: Tensor) -> Tensor:
            return self.sub(x)

    m = torchkiln.script(Plain())
    assert "prim::CallMethod" not in str(m.inlined_graph)
    with pytest.raises(torchkiln.Error, match="whose methods were compiled into this module's code"):
        m.sub = torchkiln.script(AddParam())


def test_module_interface_methods_outside_the_interface_are_refused():
    class UsesExtra(nn.Module):
        sub: OneArg

        def __init__(self):
            super().__init__()
            self.sub = Double()

        def forward(self, x: Tensor) -> Tensor:
            return self.sub.extra(x)

    with pytest.raises(torchkiln.CompileError) as e:
        torchkiln.script(UsesExtra())
    text = str(e.value)
    assert "the interface OneArg has no method 'extra'" in text
    assert "return self.sub.extra(x)" in text and "^" in text
    assert "UsesExtra.forward`" in text


def test_module_interface_calls_are_typed_by_the_interface():
    class WrongArg(nn.Module):
        sub: TwoMethods

        def __init__(self):
            super().__init__()
            self.sub = Double()

        def forward(self, x: Tensor) -> Tensor:
            return self.sub.shift(x, by=1.5)

    with pytest.raises(torchkiln.CompileError) as e:
        torchkiln.script(WrongArg())
    assert "shift() expects int for argument 'by' but got float" in str(e.value)
    assert "self.sub.shift(x, by=1.5)" in str(e.value)


# -- interfaces as parameter types: dynamic dispatch ------------------------------------------


def apply_twice(m: OneArg, x: Tensor) -> Tensor:
    return m(x) + m.forward(x)


class Picks(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = Double()
        self.b = AddParam()

    def forward(self, x: Tensor, first: bool) -> Tensor:
        if first:
            m: OneArg = self.a
        else:
            m = self.b
        return apply_twice(m, x)


def test_module_interface_values_dispatch_at_run_time():
    model = Picks()
    m = torchkiln.script(model)
    check_ir(m)
    assert 'prim::CallMethod[name="forward"]' in str(m.graph)  # on a value of either class
    x = torch.randn(3)
    loaded = round_trip(m)
    for first in (True, False):
        want = model(x, first)
        for executor in EXECUTORS:
            assert same(run_module(m, executor, x, first), want), (executor, first)
        assert same(loaded(x, first), want)
        if cpp_executor.available():
            assert same(run_module(loaded, "cpp", x, first), want)


def test_function_with_interface_parameter_takes_scripted_modules():
    from torchkiln import interpreter
    from torchkiln.codegen import compile_function

    s = torchkiln.script(apply_twice)
    x = torch.randn(3)
    for sub in (Double(), AddParam()):
        scripted_sub = torchkiln.script(sub)
        want = apply_twice(sub, x)
        # the executors directly (the C++ executor takes no objects from Python: it would run this on Python)
        assert same(interpreter.run(s._kiln_fn, s._kiln_unit, [scripted_sub, x]), want)
        assert same(compile_function(s._kiln_fn, s._kiln_unit)(scripted_sub, x), want)


@torchkiln.interface
class Shape:
    def area(self) -> float:
        pass

    def scaled(self, k: float) -> float:
        pass


class Square:
    def __init__(self, side: float):
        self.side = side

    def area(self) -> float:
        return self.side * self.side

    def scaled(self, k: float) -> float:
        return self.area() * k


class Circle:
    def __init__(self, r: float):
        self.r = r

    def area(self) -> float:
        return 3.0 * self.r * self.r

    def scaled(self, k: float) -> float:
        return self.area() * k + 1.0

    def unrelated(self) -> int:
        return 7


def measure(s: Shape, k: float) -> float:
    return s.area() + s.scaled(k)


def measure_all(x: float) -> float:
    shapes: List[Shape] = [Square(x), Circle(x)]
    shapes.append(Square(x + 1.0))
    total = measure(Circle(2.0), x)
    for s in shapes:
        total += measure(s, 0.5)
    return total


def pick_shape(x: float, round_: bool) -> float:
    if round_:
        s: Shape = Circle(x)
    else:
        s = Square(x)
    return s.scaled(2.0)


@pytest.mark.parametrize("fn,inputs", [(measure_all, [(1.5,), (-2.0,)]), (pick_shape, [(1.5, True), (1.5, False)])])
def test_class_interface_matches_eager(fn, inputs):
    s = torchkiln.script(fn)
    check_ir(s)
    loaded = round_trip(s)
    for args in inputs:
        want = fn(*args)
        for executor in EXECUTORS:
            assert same(run_function(s, executor, *args), want), executor
        assert same(loaded(*args), want)
        if cpp_executor.available():
            assert same(run_function(loaded, "cpp", *args), want)


def test_class_interface_in_ir_is_named():
    s = torchkiln.script(measure)
    import inspect

    line = inspect.getsourcelines(measure)[1] + 1
    assert str(s.graph) == GOLDEN_MEASURE.format(shape=SHAPE, file=__file__, line=line)
    assert s.code.startswith(f"def measure(s: {SHAPE}, k: float) -> float:\n")
    assert str(round_trip(s).graph) == str(s.graph)


GOLDEN_MEASURE = """\
graph(%s : {shape}, %k : float):
  %2 : float = prim::CallMethod[name="area"](%s)  # {file}:{line}:11
  %3 : float = prim::CallMethod[name="scaled"](%s, %k)  # {file}:{line}:22
  %4 : float = prim::add.float(%2, %3)  # {file}:{line}:11
  return (%4)
"""


class NoScaled:
    def __init__(self):
        self.v = 1.0

    def area(self) -> float:
        return self.v


class IntScaled:
    def __init__(self):
        self.v = 1.0

    def area(self) -> float:
        return self.v

    def scaled(self, k: int) -> float:
        return self.v * k


def passes_no_scaled(x: float) -> float:
    return measure(NoScaled(), x)


def passes_int_scaled(x: float) -> float:
    return measure(IntScaled(), x)


def passes_an_int(x: float) -> float:
    return measure(3, x)


def uses_undeclared(x: float) -> int:
    s: Shape = Circle(x)
    return s.unrelated()


def constructs_interface(x: float) -> float:
    s = Shape()
    return x


@pytest.mark.parametrize(
    "fn,what,line",
    [
        (passes_no_scaled, "an object of NoScaled does not implement the interface Shape: it has no method 'scaled' (declared at", "return measure(NoScaled(), x)"),
        (passes_int_scaled, "an object of IntScaled does not implement the interface Shape: argument 'k' of its scaled is int, the interface's scaled(self, k: float) -> float passes float", "return measure(IntScaled(), x)"),
        (passes_an_int, "a value of type int does not implement the interface Shape: only modules and script-class objects implement interfaces", "return measure(3, x)"),
        (uses_undeclared, "the interface Shape has no method 'unrelated'", "return s.unrelated()"),
        (constructs_interface, "Shape is an interface and cannot be constructed", "s = Shape()"),
    ],
)
def test_class_interface_errors(fn, what, line):
    with pytest.raises(torchkiln.CompileError) as e:
        torchkiln.script(fn)
    text = str(e.value)
    assert what in text
    assert line in text and "^" in text
    assert f"while compiling `{fn.__name__}`" in text


def test_module_interface_refuses_script_classes():
    def f(x: Tensor) -> Tensor:
        return apply_twice(Square(1.0), x)

    with pytest.raises(torchkiln.CompileError, match="OneArg is a module interface and Square is not a module"):
        torchkiln.script(f)


def test_interface_cannot_be_scripted_itself():
    with pytest.raises(torchkiln.CompileError, match="Shape is an interface"):
        torchkiln.script(Shape)


# -- the interface survives save and load (docs/archive.md §4, INTERFACE) ------------------------------


FRESH_PROCESS = r'''
import sys
import torch, torch.nn as nn
from torch import Tensor
import torchkiln

m = torchkiln.load(sys.argv[1])
f = torchkiln.load(sys.argv[2])
x = torch.tensor([1.0, 2.0, 3.0])
print("graph", str(m._kiln_type.attributes["sub"]), "|", str(f.graph).splitlines()[0])

class LacksShift(nn.Module):                   # no shift: does not implement TwoMethods
    def forward(self, x: Tensor) -> Tensor:
        return x

class Triple(nn.Module):                       # another class implementing it
    def forward(self, x: Tensor) -> Tensor:
        return x * 3

    @torchkiln.export
    def shift(self, x: Tensor, by: int = 2) -> Tensor:
        return x - by

try:
    m.sub = torchkiln.script(LacksShift())
except torchkiln.Error as e:
    print("refused", e)
m.sub = torchkiln.script(Triple())
print("called", m(x).tolist())
runs = [m]
if torchkiln.cpp_executor.available():
    runs.append(m.with_executor("cpp"))
print("executors", [r(x).tolist() for r in runs])
print("function", f(torchkiln.script(Triple()), x).tolist())
try:
    f(torchkiln.script(LacksShift()), x)   # OneArg needs forward only: LacksShift implements it
    print("accepted LacksShift")
    f(3, x)
except torchkiln.ArgumentError as e:
    print("argument", e)
'''


def test_interface_types_survive_save_and_load_in_a_fresh_process(tmp_path):
    import os
    import subprocess
    import sys

    m = torchkiln.script(HoldsTwo(AddParam()))
    f = torchkiln.script(apply_twice)
    torchkiln.save(m, str(tmp_path / "m.pt"))
    torchkiln.save(f, str(tmp_path / "f.pt"))
    with pytest.raises(torchkiln.Error) as before:  # the refusal before saving, for a class of the same name
        m.sub = torchkiln.script(LacksShift())
    root = os.path.dirname(os.path.dirname(torchkiln.__file__))
    env = dict(os.environ, PYTHONPATH=root)
    script = tmp_path / "fresh.py"  # a file: script compiles Python source
    script.write_text(FRESH_PROCESS)
    out = subprocess.run([sys.executable, str(script), str(tmp_path / "m.pt"), str(tmp_path / "f.pt")],
                         capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr
    lines = dict(line.split(" ", 1) for line in out.stdout.splitlines())
    assert lines["graph"] == f"{TWO_METHODS} | graph(%m : {ONE_ARG}, %x : Tensor):"
    holds = m._kiln_type.name
    assert lines["refused"] == re.sub(r"__torch__\.[\w.]*\.LacksShift", "__torch__.__main__.LacksShift", str(before.value))
    assert lines["refused"].endswith("it does not implement the interface TwoMethods: it has no method 'shift'")
    assert lines["refused"].startswith(f"cannot assign a ScriptModule of class __torch__.__main__.LacksShift to 'sub' of {holds}, a TwoMethods (a module interface): ")
    x = torch.tensor([1.0, 2.0, 3.0])
    want = (x * 3 + (x - 2) + (x - 5)).tolist()
    assert lines["called"] == str(want)
    assert lines["executors"] == str([want] * (2 if cpp_executor.available() else 1))
    assert lines["function"] == str((x * 3 * 2).tolist())
    assert lines["accepted"] == "LacksShift"
    assert lines["argument"] == f"apply_twice(m: {ONE_ARG}, x: Tensor) -> Tensor: expected a value of type {ONE_ARG} for argument 'm' but got int"


def test_interface_in_code_and_after_a_round_trip():
    m = torchkiln.script(HoldsOneArg(Double()))
    loaded = round_trip(m)
    assert str(loaded.graph) == str(m.graph)
    assert f': {ONE_ARG} = prim::GetAttr[name="sub"](%self)' in str(loaded.graph)
    f = torchkiln.script(apply_twice)
    assert f.code.startswith(f"def apply_twice(m: {ONE_ARG}, x: Tensor) -> Tensor:")
    with pytest.raises(torchkiln.ArgumentError, match=f"expected a value of type {ONE_ARG} for argument 'm' but got int"):
        f(3, torch.ones(2))
