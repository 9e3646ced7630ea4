"""Script classes, fork/wait, and calling scripted code from scripted code."""
from typing import List

import torch

import torchkiln

from .script_testing import matches_eager, scripted


class Counter:
    def __init__(self, start: int):
        self.value = start
        self.history: List[int] = []

    def bump(self, by: int = 1) -> int:
        self.history.append(self.value)
        self.value += by
        return self.value

    def total(self) -> int:
        return self.value + len(self.history)


def use_class(n: int):
    c = Counter(n)
    c.bump()
    c.bump(5)
    return c.total(), c.value, c.history


def test_script_class():
    matches_eager(use_class, (3,), (-1,))


def add_one(x):
    return x + 1


def uses_fork(x):
    fut = torchkiln.fork(add_one, x)
    fut2 = torch.jit.fork(add_one, x * 2)
    return torchkiln.wait(fut) + torch.jit.wait(fut2)


def test_fork_and_wait_in_script():
    s = scripted(uses_fork)
    assert "prim::fork" in str(s.graph) or "prim::wait" in str(s.graph)
    assert torch.equal(s(torch.ones(2)), torch.full((2,), 5.0))


def _square_plus(x: torch.Tensor, k: int = 1) -> torch.Tensor:
    return x * x + k


SCRIPTED_SQUARE = torchkiln.script(_square_plus)
TRACED_DOUBLE = torchkiln.trace(lambda x: x * 2, (torch.ones(3),))


def forks_compiled_functions(x):
    a = torchkiln.fork(SCRIPTED_SQUARE, x)
    b = torch.jit.fork(SCRIPTED_SQUARE, x, k=3)
    c = torchkiln.fork(TRACED_DOUBLE, x)
    return torchkiln.wait(a) + torchkiln.wait(b) * torch.jit.wait(c)


def test_fork_of_scripted_and_traced_functions():
    s = scripted(forks_compiled_functions)
    assert str(s.graph).count("prim::fork") == 3
    x = torch.arange(4.0)
    assert torch.equal(s(x), (x * x + 1) + (x * x + 3) * (x * 2))


def test_fork_in_python_runs_on_a_thread_pool():
    from torchkiln.frontend.script import fork, wait

    futures = [fork(lambda i=i: i * i) for i in range(8)]
    assert [wait(f) for f in futures] == [i * i for i in range(8)]


def is_scripting_branch(x):
    if torch.jit.is_scripting():
        return x + 1
    return x.numpy()  # not compiled: the branch is decided at compile time


def test_is_scripting_is_true_inside_script():
    s = scripted(is_scripting_branch)
    assert torch.equal(s(torch.zeros(1)), torch.ones(1))


def annotate_empty(n: int) -> List[int]:
    xs = torch.jit.annotate(List[int], [])
    ys: List[float] = []
    for i in range(n):
        xs.append(i)
        ys.append(float(i))
    return xs


def test_annotate():
    matches_eager(annotate_empty, (3,))
