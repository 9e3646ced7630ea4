"""Inputs an error sweep found mishandled: each now gives a clean CompileError (or compiles)."""
import importlib.util

import pytest
import torch

import torchkiln
from torchkiln import CompileError

from .test_errors import line_of


def refused(fn, needle: str) -> str:
    with pytest.raises(CompileError) as info:
        torchkiln.script(fn)
    message = str(info.value)
    assert "internal compiler error" not in message, message
    assert __file__ in message, message
    assert f"line {line_of(fn, needle)}," in message, message
    return message


def zero_step(x: int):
    t = (1, 2, 3)
    return t[::0]


def bad_device():
    return torch.device(1.5)


def recursive_lambda(x: int):
    g = lambda a: g(a)  # noqa: E731
    return g(x)


def only_raises(x: int):
    raise ValueError("bad") from None


def only_raises_args(x: int):
    raise ValueError("bad", x)


def test_tuple_slice_zero_step_is_refused():
    assert "slice step cannot be zero" in refused(zero_step, "t[::0]")


def test_torch_device_of_a_float_is_refused():
    assert "torch.device" in refused(bad_device, "torch.device(1.5)")


def test_recursive_lambda_is_refused_with_location():
    assert "cannot call itself" in refused(recursive_lambda, "g(a)")


@pytest.mark.parametrize("fn", [only_raises, only_raises_args])
def test_function_that_only_raises_compiles(fn):
    s = torchkiln.script(fn)
    for f in (s, s.with_executor("python")):
        with pytest.raises(Exception, match="bad"):
            f(1)


def test_equal_code_in_two_files_keeps_each_source(tmp_path):
    # Code objects compare equal across files (co_filename is not part of
    # equality): the source cache must not give one function the other's source.
    mods = []
    for name, ann in (("sweep_eq_a", "List[int]"), ("sweep_eq_b", "str")):
        path = tmp_path / f"{name}.py"
        path.write_text(f"from typing import List\n\n\ndef f(x: {ann}):\n    return x[::-1]\n")
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        mods.append(mod)
    assert mods[0].f.__code__ == mods[1].f.__code__
    assert torchkiln.script(mods[0].f)([1, 2]) == [2, 1]
    assert torchkiln.script(mods[1].f)("abc") == "cba"


class Point:
    def __init__(self, a: int):
        self.a = a


def read_point(p: Point) -> int:
    return p.a


@pytest.mark.parametrize("executor", ["default", "python"])
@pytest.mark.parametrize("bad", [1, None, object()])
def test_script_class_argument_of_wrong_type_is_an_argument_error(executor, bad):
    s = torchkiln.script(read_point)
    f = s if executor == "default" else s.with_executor("python")
    assert f(Point(3)) == 3
    with pytest.raises(torchkiln.diagnostics.ArgumentError, match="expected a value of type .*Point for argument 'p'"):
        f(bad)


class _HoldsItself(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.g = []
        self.g.append(self.g)

    def forward(self, x):
        return len(self.g)


def test_attribute_holding_itself_is_refused_at_its_use():
    with pytest.raises(torchkiln.CompileError, match="the module attribute 'g' cannot be used in script") as e:
        torchkiln.script(_HoldsItself())
    assert "test_errors_sweep.py" in str(e.value) and "len(self.g)" in str(e.value)


def wrong_default(a: int = "x") -> int:
    return a


def implicit_optional(a: float = 1, d: int = None) -> float:  # noqa: RUF013 - the old implicit Optional
    return a if d is None else a + d


def test_defaults_are_checked_and_none_makes_optional():
    message = refused(wrong_default, 'a: int = "x"')
    assert "the default value of 'a' ('x') is not a int" in message
    s = torchkiln.script(implicit_optional)
    assert s() == 1.0 and s(2.0, 3) == 5.0


# -- naming a positional-only parameter (`/`) is refused where the call is, as Python refuses it -------


def _pos_only_callee(x: int, /, y: int = 1) -> int:
    return x + y


def names_pos_only_param(a: int) -> int:
    return _pos_only_callee(x=a, y=2)


class _NamesPosOnlyMethodParam(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scaled(x=x, k=2)

    def scaled(self, x: torch.Tensor, /, k: int) -> torch.Tensor:
        return x * k


def test_naming_a_positional_only_parameter_is_refused():
    with pytest.raises(TypeError, match=r"positional-only arguments passed as keyword arguments: 'x'"):
        names_pos_only_param(1)  # eager Python refuses it too
    message = refused(names_pos_only_param, "_pos_only_callee(x=a")
    assert "_pos_only_callee() got some positional-only arguments passed as keyword arguments: 'x'" in message
    assert torchkiln.script(_pos_only_callee)(1, y=3) == 4


def test_naming_a_positional_only_parameter_of_a_method_is_refused():
    with pytest.raises(CompileError) as info:
        torchkiln.script(_NamesPosOnlyMethodParam())
    message = str(info.value)
    assert "scaled() got some positional-only arguments passed as keyword arguments: 'x'" in message, message
    assert f"line {line_of(_NamesPosOnlyMethodParam.forward, 'self.scaled(x=x')}," in message, message


def test_naming_a_positional_only_parameter_of_a_scripted_function_is_refused():
    callee = torchkiln.script(_pos_only_callee)

    def calls_scripted(a: int) -> int:
        return callee(x=a)

    def calls_scripted_positionally(a: int) -> int:
        return callee(a, y=5)

    assert "got some positional-only arguments passed as keyword arguments: 'x'" in refused(calls_scripted, "callee(x=a)")
    assert torchkiln.script(calls_scripted_positionally)(1) == 6
