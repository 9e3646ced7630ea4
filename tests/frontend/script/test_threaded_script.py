"""script() from several threads at once (Note [Concurrent script] in entry.py): the same module
class and different ones, functions and script classes; every result checked against eager."""
import collections
import threading
from typing import List, NamedTuple, Tuple

import torch
import torch.nn as nn
from torch import Tensor

import torchkiln
from torchkiln.ir.types import INT, TupleType
from torchkiln.ops import prim, registry

from .script_testing import check_ir, same

THREADS = 8


def run_together(jobs):
    """Run the callables at the same moment (one thread each); their results, or raise the first error."""
    barrier = threading.Barrier(len(jobs))
    results = [None] * len(jobs)
    errors = []

    def work(i, job):
        barrier.wait()
        try:
            results[i] = job()
        except BaseException as e:  # noqa: BLE001  (reported below)
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i, job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a script() call hung"
    if errors:
        raise errors[0]
    return results


def fresh_classes():
    """New module classes, script classes and functions: nothing of them is in the compile cache yet."""

    class Pair(NamedTuple):
        total: Tensor
        count: int

    class Counter:
        def __init__(self, start: int):
            self.value = start

        def bump(self, by: int) -> int:
            self.value += by
            return self.value

    def helper(x: Tensor, n: int) -> Tensor:
        c = Counter(n)
        c.bump(2)
        return x * c.value

    class Block(nn.Module):
        def __init__(self, n: int):
            super().__init__()
            self.lin = nn.Linear(4, 4)
            self.n = n

        def forward(self, x: Tensor) -> Pair:
            y = helper(torch.relu(self.lin(x)), self.n)
            return Pair(y.sum(0), self.n)

    class Stack(nn.Module):
        def __init__(self, depth: int):
            super().__init__()
            self.blocks = nn.ModuleList([Block(i) for i in range(depth)])

        def forward(self, x: Tensor) -> Tuple[Tensor, List[int]]:
            counts: List[int] = []
            out = torch.zeros(4)
            for b in self.blocks:
                p = b(x)
                out = out + p.total
                counts.append(p.count)
            return out, counts

    class Other(nn.Module):
        def forward(self, x: Tensor) -> Tensor:
            return helper(x, 3).max(dim=1).values

    def free(x: Tensor, k: int) -> List[Tensor]:
        return [helper(x, i) for i in range(k)]

    return Block, Stack, Other, free


def test_threads_script_same_and_different_classes():
    torch.manual_seed(0)
    Block, Stack, Other, free = fresh_classes()
    x = torch.randn(2, 4)
    models = []
    jobs = []
    for i in range(THREADS):
        model = [lambda: Block(i), lambda: Stack(3), lambda: Other()][i % 3]()
        models.append(model)
        jobs.append(lambda model=model: torchkiln.script(model))
    jobs.append(lambda: torchkiln.script(free))
    scripted = run_together(jobs)
    for model, m in zip(models, scripted):
        check_ir(m)
        assert same(m(x), model(x))
    assert same(scripted[-1](x, 3), free(x, 3))
    # names are unique in the process even when drawn at the same moment
    names = [m._kiln_type.name for m in scripted[:-1]]
    by_class = collections.defaultdict(set)
    for model, name in zip(models, names):
        by_class[name].add(type(model))
    assert all(len(classes) == 1 for classes in by_class.values())


def test_threads_script_the_same_instance_shape_repeatedly():
    Block, Stack, Other, free = fresh_classes()
    x = torch.randn(3, 4)
    models = [Stack(2) for _ in range(THREADS)]
    scripted = run_together([lambda model=model: torchkiln.script(model) for model in models])
    for model, m in zip(models, scripted):
        assert same(m(x), model(x))


def test_prim_overload_table_is_never_seen_half_built():
    want = {base: len(registry.prim_overloads(base)) for base in ("prim::add", "prim::len", "prim::getitem", "prim::eq")}
    for _ in range(20):
        registry._BY_BASE = {}  # as after a new prim is declared
        got = run_together([lambda: {b: len(registry.prim_overloads(b)) for b in want} for _ in range(THREADS)])
        assert all(g == want for g in got)


def test_namedtuple_classes_are_one_per_type_across_threads():
    t = TupleType([INT, INT], "__torch__.threaded.Point", ("x", "y"))
    classes = run_together([lambda: prim.namedtuple_class(t) for _ in range(THREADS)])
    assert all(c is classes[0] for c in classes)
