"""Per-call overhead of the Python executor against eager PyTorch.

    .venv/bin/python benchmarks/codegen_overhead.py [-v]

1. a chain of 200 tiny elementwise ops on 4x4 tensors (per-op overhead);
2. a small MLP (3 Linear + ReLU submodules, batch 4) called as a module.
Reports µs per call (best of several repeats) and the ratio to eager; also
the first call (compile + run, no warm-up) and the reference interpreter.
"""
import sys
import time
import timeit

import torch
import torch.nn as nn

from torchkiln import interpreter, ops
from torchkiln.codegen import clear_cache, compile_function, executable_source
from torchkiln.ir.builder import Builder
from torchkiln.ir.core import Argument, CompilationUnit, Function, Graph
from torchkiln.ir.types import FLOAT, INT, TENSOR, ClassType

torch.set_num_threads(1)
OPS = [("aten::add.Tensor", "x + y"), ("aten::mul.Tensor", "x * y"), ("aten::sub.Tensor", "x - y"),
       ("aten::relu", "torch.relu(x)"), ("aten::sigmoid", "torch.sigmoid(x)"), ("aten::neg", "-x")]


def chain(n=200):
    g = Graph()
    b = Builder(g.block)
    x, y = g.add_input(TENSOR, "x"), g.add_input(TENSOR, "y")
    one = b.constant(1, INT)
    lines = ["def eager(x, y):"]
    cur = x
    for i in range(n):
        kind, text = OPS[i % len(OPS)]
        if kind in ("aten::add.Tensor", "aten::sub.Tensor"):
            cur = b.op(kind, [cur, y, one], [TENSOR]).output
        elif kind == "aten::mul.Tensor":
            cur = b.op(kind, [cur, y], [TENSOR]).output
        else:
            cur = b.op(kind, [cur], [TENSOR]).output
        lines.append("    x = " + text)
    lines.append("    return x")
    g.add_output(cur)
    ns = {"torch": torch}
    exec("\n".join(lines), ns)
    return Function("chain", g, [Argument("x", TENSOR), Argument("y", TENSOR)], TENSOR), ns["eager"]


def mlp():
    unit = CompilationUnit()
    lin_t = unit.add_class(ClassType("__torch__.torch.nn.modules.linear.Linear"))
    lin_t.add_attribute("weight", TENSOR, "parameter")
    lin_t.add_attribute("bias", TENSOR, "parameter")
    g = Graph()
    b = Builder(g.block)
    s, x = g.add_input(lin_t, "self"), g.add_input(TENSOR, "x")
    w = b.op("prim::GetAttr", [s], [TENSOR], {"name": "weight"}).output
    bias = b.op("prim::GetAttr", [s], [TENSOR], {"name": "bias"}).output
    g.add_output(b.op("aten::linear", [x, w, bias], [TENSOR]).output)
    lin_t.methods["forward"] = Function("forward", g, [Argument("self", lin_t), Argument("x", TENSOR)], TENSOR)

    net_t = unit.add_class(ClassType("__torch__.Net"))
    for i in range(3):
        net_t.add_attribute(f"l{i}", lin_t, "module")
    g = Graph()
    b = Builder(g.block)
    s, cur = g.add_input(net_t, "self"), g.add_input(TENSOR, "x")
    for i in range(3):
        sub = b.op("prim::GetAttr", [s], [lin_t], {"name": f"l{i}"}).output
        cur = b.op("prim::CallMethod", [sub, cur], [TENSOR], {"name": "forward"}).output
        if i < 2:
            cur = b.op("aten::relu", [cur], [TENSOR]).output
    g.add_output(cur)
    fn = net_t.methods["forward"] = Function("forward", g, [Argument("self", net_t), Argument("x", TENSOR)], TENSOR)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.l0, self.l1, self.l2 = nn.Linear(16, 32), nn.Linear(32, 32), nn.Linear(32, 8)

        def forward(self, x):
            return self.l2(torch.relu(self.l1(torch.relu(self.l0(x)))))

    eager = Net()
    # stand-ins for ScriptModules: the same parameters, `_kiln_type` set
    kiln = Net()
    kiln.load_state_dict(eager.state_dict())
    kiln._kiln_type = net_t
    for i in range(3):
        getattr(kiln, f"l{i}")._kiln_type = lin_t
    return fn, unit, eager, kiln


def best(*stmts, number, repeat=9):
    """Best µs per call of each statement, timed in alternation (fair under load)."""
    times = [[] for _ in stmts]
    for _ in range(repeat):
        for t, stmt in zip(times, stmts):
            t.append(timeit.timeit(stmt, number=number))
    return [min(t) / number * 1e6 for t in times]


def main():
    from torchkiln.ops.bindings import python_binding

    used = sorted({python_binding(ops.lookup(k)).expr for k, _ in OPS + [("aten::linear", "")]})
    print(f"torch {torch.__version__}, 1 thread; bindings: {', '.join(used)}")

    fn, eager = chain()
    x, y = torch.randn(4, 4), torch.randn(4, 4)
    t0 = time.perf_counter()
    eager(x, y)
    eager_first = time.perf_counter() - t0
    clear_cache()
    t0 = time.perf_counter()
    f = compile_function(fn)
    t1 = time.perf_counter()
    f(x, y)
    t2 = time.perf_counter()
    assert torch.allclose(f(x, y), eager(x, y))
    e, c = best(lambda: eager(x, y), lambda: f(x, y), number=200)
    (i,) = best(lambda: interpreter.run(fn, None, [x, y]), number=20, repeat=3)
    print(f"chain of 200 ops on 4x4: eager {e:.0f} us ({e / 200:.2f} us/op), codegen {c:.0f} us "
          f"({c / 200:.2f} us/op, x{c / e:.2f} eager), interpreter {i:.0f} us ({i / 200:.2f} us/op)")
    print(f"  compile {1e3 * (t1 - t0):.1f} ms, first call {1e6 * (t2 - t1):.0f} us (eager first call {1e6 * eager_first:.0f} us)")

    fn, unit, eager_m, kiln_m = mlp()
    x = torch.randn(4, 16)
    t0 = time.perf_counter()
    eager_m(x)
    eager_first = time.perf_counter() - t0
    clear_cache()
    t0 = time.perf_counter()
    f = compile_function(fn, unit)
    t1 = time.perf_counter()
    f(kiln_m, x)
    t2 = time.perf_counter()
    with torch.no_grad():
        assert torch.allclose(f(kiln_m, x), eager_m(x))
        e, c = best(lambda: eager_m(x), lambda: f(kiln_m, x), number=2000)
        (i,) = best(lambda: interpreter.run(fn, unit, [kiln_m, x]), number=200, repeat=3)
    print(f"MLP 16-32-32-8, batch 4 (no_grad): eager {e:.1f} us, codegen {c:.1f} us (x{c / e:.2f} eager), "
          f"interpreter {i:.1f} us")
    print(f"  compile {1e3 * (t1 - t0):.1f} ms, first call {1e6 * (t2 - t1):.0f} us (eager first call {1e6 * eager_first:.0f} us)")
    e, c = best(lambda: eager_m(x), lambda: f(kiln_m, x), number=2000)
    print(f"MLP with autograd: eager {e:.1f} us, codegen {c:.1f} us (x{c / e:.2f} eager)")
    if "-v" in sys.argv:
        print(executable_source(fn, unit))


if __name__ == "__main__":
    main()
