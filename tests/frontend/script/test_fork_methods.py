"""fork of methods, submodules and script-class methods, with wait: every executor, the archive,
compared with eager PyTorch (`prim::fork` of a wrapper function: `ClassRegistry.fork_wrapper`)."""
import io
import warnings
from typing import List, Tuple

import pytest
import torch
import torch.nn as nn
from torch import Tensor

import torchkiln
from torchkiln import cpp_executor
from torchkiln.api import ScriptFunction

from .script_testing import check_ir, matches_eager, same

EXECUTORS = ["python", "interpreter"] + (["cpp"] if cpp_executor.available() else [])


def round_trip(obj):
    buf = io.BytesIO()
    torchkiln.save(obj, buf)
    buf.seek(0)
    return torchkiln.load(buf)


def check_module(model, *inputs):
    """Script `model`; every executor, and the archive round trip, give eager's results."""
    m = torchkiln.script(model)
    check_ir(m)
    loaded = round_trip(m)
    for args in inputs:
        want = model(*args)
        for executor in EXECUTORS:
            run = m.with_executor(executor)
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # the C++ executor must not fall back
                got = run(*args)
            assert same(got, want), executor
        assert same(loaded(*args), want)
        if cpp_executor.available():
            assert same(loaded.with_executor("cpp")(*args), want)
    return m


def check_function(fn, *inputs):
    s = torchkiln.script(fn)
    check_ir(s)
    loaded = round_trip(s)
    for args in inputs:
        want = fn(*args)
        for executor in EXECUTORS:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                got = ScriptFunction(s._kiln_unit, s._kiln_fn, executor=executor)(*args)
            assert same(got, want), executor
        assert same(loaded(*args), want)
    return s


class Scale(nn.Module):
    def __init__(self, k: float):
        super().__init__()
        self.w = nn.Parameter(torch.full((3,), k))

    def forward(self, x: Tensor, bias: int = 1) -> Tensor:
        return x * self.w + bias


class ForksMethods(nn.Module):
    def __init__(self):
        super().__init__()
        self.sub = Scale(2.0)
        self.layers = nn.ModuleList([Scale(1.0), Scale(3.0)])
        self.count = 4

    def helper(self, x: Tensor, y: float = 1.5) -> Tensor:
        return x + y + self.count

    def forward(self, x: Tensor) -> Tensor:
        a = torchkiln.fork(self.helper, x)
        b = torch.jit.fork(self.sub, x)
        c = torch.jit.fork(self.sub.forward, x, bias=3)
        d = torchkiln.fork(self.helper, x, 2.5)
        futures: List[torch.jit.Future[Tensor]] = []
        for layer in self.layers:
            futures.append(torch.jit.fork(layer, x))
        out = torchkiln.wait(a) + torch.jit.wait(b) + torch.jit.wait(c) + torchkiln.wait(d)
        for f in futures:
            out = out + torch.jit.wait(f)
        return out


def test_fork_of_methods_and_submodules():
    m = check_module(ForksMethods(), (torch.randn(3),), (torch.zeros(3),))
    code = str(m.forward.graph)
    assert code.count("prim::fork") == 6  # nothing forked was run inline at compile time
    assert "ForksMethods_fork_helper" in code and "Scale_fork_forward" in code


class ForkInLoop(nn.Module):
    def __init__(self):
        super().__init__()
        self.sub = Scale(0.5)

    def step(self, x: Tensor, i: int) -> Tensor:
        return self.sub(x) * i

    def forward(self, x: Tensor, n: int) -> Tensor:
        futures: List[torch.jit.Future[Tensor]] = []
        for i in range(n):
            futures.append(torch.jit.fork(self.step, x, i))
        total = torch.zeros_like(x)
        for f in futures:
            total += torch.jit.wait(f)
        return total


def test_fork_of_methods_in_a_loop():
    check_module(ForkInLoop(), (torch.randn(3), 4), (torch.randn(3), 0))


class Accumulator:
    def __init__(self, start: float):
        self.start = start

    def add(self, y: float, times: int = 2) -> float:
        return self.start + y * times

    def __call__(self, y: float) -> float:
        return self.start * y


def forks_class_methods(x: float) -> float:
    acc = Accumulator(x)
    f1 = torch.jit.fork(acc.add, 1.5)
    f2 = torch.jit.fork(acc.add, 1.0, times=5)
    f3 = torchkiln.fork(acc, 3.0)
    return torch.jit.wait(f1) + torch.jit.wait(f2) + torchkiln.wait(f3)


def test_fork_of_script_class_methods():
    check_function(forks_class_methods, (2.0,), (-1.0,))


@torchkiln.interface
class Scorer:
    def score(self, x: float) -> float:
        pass


class Linear:
    def __init__(self, a: float):
        self.a = a

    def score(self, x: float) -> float:
        return self.a * x


class Square:
    def __init__(self):
        self.unused = 0

    def score(self, x: float) -> float:
        return x * x


def forks_through_interface(x: float, linear: bool) -> float:
    if linear:
        s: Scorer = Linear(3.0)
    else:
        s = Square()
    fut = torch.jit.fork(s.score, x)
    return torch.jit.wait(fut) + 1.0


def test_fork_of_an_interface_method():
    check_function(forks_through_interface, (2.0, True), (2.0, False))


def forks_a_tensor(x: Tensor) -> Tensor:
    fut = torch.jit.fork(x, 1)
    return torch.jit.wait(fut)


class ForksIgnored(nn.Module):
    @torch.jit.ignore
    def python_only(self, x: Tensor) -> Tensor:
        return x

    def forward(self, x: Tensor) -> Tensor:
        return torch.jit.wait(torch.jit.fork(self.python_only, x))


class ForksContainer(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([Scale(1.0)])

    def forward(self, x: Tensor) -> Tensor:
        return torch.jit.wait(torch.jit.fork(self.layers, x))


class ForksWrongArgs(nn.Module):
    def helper(self, x: Tensor) -> Tensor:
        return x

    def forward(self, x: Tensor) -> Tensor:
        return torch.jit.wait(torch.jit.fork(self.helper, x, 2))


@pytest.mark.parametrize(
    "obj,what,line",
    [
        (forks_a_tensor, "fork() of a value of type Tensor is not supported", "torch.jit.fork(x, 1)"),
        (ForksIgnored(), "fork() of the @ignore method python_only is not supported", "torch.jit.fork(self.python_only, x)"),
        (ForksContainer(), "a module container cannot be called", "torch.jit.fork(self.layers, x)"),
        (ForksWrongArgs(), "helper() takes 1 argument but 2 were given", "torch.jit.fork(self.helper, x, 2)"),
    ],
)
def test_fork_errors(obj, what, line):
    with pytest.raises(torchkiln.CompileError) as e:
        torchkiln.script(obj)
    text = str(e.value)
    assert what in text
    assert line in text and "^" in text
    assert "while compiling `" in text


def _fork_builtins(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    fut = torch.jit.fork(torch.add, x, y, alpha=2)
    fut2 = torch.jit.fork(torch.matmul, x, y.t())
    return torch.jit.wait(fut) + torch.jit.wait(fut2).sum()


def _fork_builtin_tuple(x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    fut = torch.jit.fork(torch.max, x, 1)
    v, i = torch.jit.wait(fut)
    return v, i


def test_fork_of_builtin_ops_matches_eager():
    # Note [Forked builtins]: a function made for the call runs the resolved overload
    torch.manual_seed(0)
    x, y = torch.randn(3, 3), torch.randn(3, 3)
    s = matches_eager(_fork_builtins, (x, y))
    assert 'prim::fork[name="__torch__.torch.add_fork' in str(s.graph)
    matches_eager(_fork_builtin_tuple, (x,))
    assert torch.equal(torch.jit.script(_fork_builtins)(x, y), s(x, y))


def test_fork_of_builtin_with_bad_arguments_names_the_overloads():
    def bad(x: torch.Tensor) -> torch.Tensor:
        return torch.jit.wait(torch.jit.fork(torch.add, x, "a"))

    with pytest.raises(torchkiln.CompileError, match="`add` in fork\\(\\): no overload"):
        torchkiln.script(bad)
