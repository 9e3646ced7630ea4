"""Note [Lazy optimization]: script() compiles and checks; the pass pipeline runs on a graph's first read, once."""
import threading

import torch
import torch.nn as nn

import torchkiln
from torchkiln.frontend.script.entry import script_function
from torchkiln.ir.printer import print_graph
from torchkiln.passes import manager


def folded(x):
    a = 2 * 3
    return x + 0 + a


class Inner(nn.Module):
    def forward(self, x):
        return x * 2 + 1


class Outer(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = Inner()

    def forward(self, x):
        y = self.inner(x)
        return y - (1 + 1)


def test_graph_is_optimized_on_first_read_as_the_eager_pipeline_would():
    sf = torchkiln.script(folded)  # a free function compiles its executor at once: already optimized
    assert not sf.schema.has_deferred_work
    raw = script_function(folded, run_passes=False)
    manager.run_on_function(raw.schema, raw._kiln_unit)
    assert print_graph(sf.graph) == print_graph(raw.schema.graph)


def test_module_methods_wait_for_their_first_use():
    m = torchkiln.script(Outer())
    fwd = m._kiln_type.methods["forward"]
    inner = m.inner._kiln_type.methods["forward"]
    assert fwd.has_deferred_work and inner.has_deferred_work
    text = str(m.graph)  # reading the caller optimizes the inlined callee first
    assert not fwd.has_deferred_work and not inner.has_deferred_work
    assert "CallMethod" not in text and str(m.graph) == text
    x = torch.randn(3)
    torch.testing.assert_close(m(x), x * 2 + 1 - 2)


def test_two_threads_on_a_fresh_module_optimize_once(monkeypatch):
    runs = []
    real = manager.run_pipeline

    def counting(graph, passes, *args, **kwargs):
        runs.append(graph)
        return real(graph, passes, *args, **kwargs)

    class FreshInner(nn.Module):  # classes no earlier script() compiled (Note [Compile cache])
        def forward(self, x):
            return x * 2 + 1

    class FreshOuter(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = FreshInner()

        def forward(self, x):
            y = self.inner(x)
            return y - (1 + 1)

    monkeypatch.setattr(manager, "run_pipeline", counting)
    m = torchkiln.script(FreshOuter())
    x = torch.randn(4)
    results = [None, None]
    start = threading.Barrier(2)

    def call(i):
        start.wait()
        results[i] = m(x)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        torch.testing.assert_close(r, x * 2 + 1 - 2)
    assert len(runs) == len({id(g) for g in runs}) == 2  # forward and Inner.forward, once each
