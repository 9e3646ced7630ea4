"""The C++ executor from Python: scripted models on `cpp` vs `python` vs eager vs torch.jit.script.

Models (all under `torch.no_grad()`, CPU, `torch.set_num_threads(1)`):

- chain200: 200 tiny elementwise ops on a 4x4 tensor (per-op overhead);
- mlp: 3 Linear+ReLU layers, batch 8, width 256;
- resnet18: a ResNet-18-style CNN (BasicBlocks, BatchNorm), 1x3x64x64;
- greedy: a GRUCell + Linear decoder looping 32 steps, the argmax of each
  step feeding the next (control flow, small ops, an int loop);
- threads: the small CNN (resnet18 at 1x3x32x32 with 8 classes) served by
  1 and then 2 Python threads calling one module; throughput ratio.

On a machine with other load the thread ratio is bounded by the free cores:
the "(machine: mm)" row (a large matmul per call, the GIL released inside
torch) shows that bound, and "cores used" the CPU time per wall second
during the 2-thread run. Latencies are the median of several timed batches (each batch: the mean of
many calls), after warm-up; ratios are "speed relative to eager" (eager time /
time), so > 1 is faster than eager. Nothing is asserted.

Usage: `python benchmarks/bench_cpp_executor.py [--quick]`.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import tempfile
import threading
import time
import warnings

# torch.set_num_threads(1) sets OpenMP's thread count for the calling thread
# only: a Python thread started later would run each op with OpenMP's default
# team (all cores), its idle members spinning. The thread benchmark needs one
# thread per op in every thread, so set it for the process before torch loads.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

warnings.filterwarnings("ignore")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torchkiln  # noqa: E402
from torchkiln import cpp_executor  # noqa: E402
from bench_models import ResNet18  # noqa: E402

# -- models ----------------------------------------------------------------------------


def chain_module(n_ops: int = 200) -> nn.Module:
    """A module whose forward is `n_ops` elementwise ops in a row (source generated: script needs a file)."""
    ops = ["x = x * 0.999", "x = x + 0.001", "x = torch.relu(x)", "x = x - 0.0005", "x = torch.tanh(x)"]
    body = "\n".join("        " + ops[i % len(ops)] for i in range(n_ops))
    src = f"import torch\nimport torch.nn as nn\n\nclass Chain(nn.Module):\n    def forward(self, x):\n{body}\n        return x\n"
    d = tempfile.mkdtemp(prefix="kiln_bench_")
    path = os.path.join(d, "chain_model.py")
    with open(path, "w") as f:
        f.write(src)
    spec = importlib.util.spec_from_file_location("chain_model", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["chain_model"] = mod
    spec.loader.exec_module(mod)
    return mod.Chain()


class MLP(nn.Module):
    def __init__(self, width: int = 256):
        super().__init__()
        self.l1 = nn.Linear(64, width)
        self.l2 = nn.Linear(width, width)
        self.l3 = nn.Linear(width, 10)

    def forward(self, x):
        return self.l3(torch.relu(self.l2(torch.relu(self.l1(x)))))


class GreedyDecoder(nn.Module):
    def __init__(self, vocab: int = 64, hidden: int = 64):
        super().__init__()
        self.embed = nn.Embedding(vocab, hidden)
        self.cell = nn.GRUCell(hidden, hidden)
        self.out = nn.Linear(hidden, vocab)

    def forward(self, h: torch.Tensor, start: int, steps: int) -> torch.Tensor:
        token = torch.full([h.size(0)], start, dtype=torch.long)
        tokens = []
        for _ in range(steps):
            h = self.cell(self.embed(token), h)
            token = self.out(h).argmax(dim=1)
            tokens.append(token)
        return torch.stack(tokens, dim=1)


# -- timing ----------------------------------------------------------------------------


def timed(fn, args, calls: int, batches: int) -> float:
    """Seconds per call: median over `batches` of the mean of `calls` calls."""
    for _ in range(max(3, calls // 5)):
        fn(*args)
    samples = []
    for _ in range(batches):
        t = time.perf_counter()
        for _ in range(calls):
            fn(*args)
        samples.append((time.perf_counter() - t) / calls)
    return statistics.median(samples)


def throughput(fn, args, threads: int, seconds: float) -> float:
    """Calls per second with `threads` Python threads calling `fn` on one module.

    Also records in CORES[-1] the CPU time the process used per second of
    wall time (how many cores ran at once: ~threads when calls overlap).
    """
    counts = [0] * threads
    stop = threading.Event()
    barrier = threading.Barrier(threads + 1)

    def work(i):
        with torch.no_grad():
            barrier.wait()
            n = 0
            while not stop.is_set():
                fn(*args)
                n += 1
            counts[i] = n

    ts = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    c0 = time.process_time()
    time.sleep(seconds)
    stop.set()
    for t in ts:
        t.join()
    wall = time.perf_counter() - t0
    CORES.append((time.process_time() - c0) / wall)
    return sum(counts) / wall


CORES = []


FELL_BACK = set()


def variants(model: nn.Module, args):
    """(name, callable) for eager, torch.jit.script, torchkiln cpp and python executors."""
    import copy

    model = model.eval()
    out = [("eager", model), ("torch.jit", torch.jit.script(model))]
    s = torchkiln.script(model)
    py = copy.deepcopy(s).with_executor("python")
    if cpp_executor.available():
        s.with_executor("cpp")
        with torch.no_grad():
            s(*args)  # builds the C++ program (or falls back)
        if s._kiln_executor.name != "cpp":
            FELL_BACK.add(type(model).__name__)
        out.append(("kiln cpp", s))
    out.append(("kiln python", py))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    opts = ap.parse_args()
    q = 0.25 if opts.quick else 1.0
    torch.set_num_threads(1)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, torch threads {torch.get_num_threads()}, C++ executor built: {cpp_executor.available()}")

    cases = [
        ("chain200 (4x4)", chain_module(200), (torch.rand(4, 4),), int(400 * q) or 20),
        ("mlp (8x64, 256 wide)", MLP(), (torch.randn(8, 64),), int(2000 * q) or 50),
        ("resnet18 (1x3x64x64)", ResNet18(), (torch.randn(1, 3, 64, 64),), int(20 * q) or 5),
        ("greedy (GRU, 32 steps)", GreedyDecoder(), (torch.zeros(2, 64), 1, 32), int(200 * q) or 10),
    ]
    rows = []
    with torch.no_grad():
        for name, model, args, calls in cases:
            times = {}
            vs = variants(model, args)
            for vname, fn in vs:
                times[vname] = timed(fn, args, calls, 7)
            rows.append((name, times))
            # same answers
            ref = model(*args)
            for vname, fn in vs[1:]:
                got = fn(*args)
                if isinstance(ref, torch.Tensor) and ref.dtype.is_floating_point:
                    torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-4)
                else:
                    assert torch.equal(got, ref), vname

    names = ["eager", "torch.jit", "kiln cpp", "kiln python"]
    print()
    print(f"{'model':26s}" + "".join(f"{n:>14s}" for n in names) + f"{'cpp/jit':>10s}")
    for name, times in rows:
        cells = []
        for n in names:
            cells.append(f"{times['eager'] / times[n]:>13.2f}x" if n in times else f"{'-':>14s}")
        rel = f"{times['torch.jit'] / times['kiln cpp']:>9.2f}x" if "kiln cpp" in times else f"{'-':>10s}"
        print(f"{name:26s}" + "".join(cells) + rel)
    print("(speed relative to eager: eager time / time; cpp/jit > 1: the C++ executor is faster than torch.jit)")
    if FELL_BACK:
        print(f"NOTE: on the Python executor (the C++ runtime could not load them): {', '.join(sorted(FELL_BACK))}")
    print()
    for name, times in rows:
        print(f"  {name:26s} " + ", ".join(f"{n} {times[n] * 1e6:.1f} us" for n in names if n in times))

    # threads on one module
    print()
    small = ResNet18(num_classes=8, width=16).eval()
    x = torch.randn(1, 3, 32, 32)
    seconds = 3.0 * q if q < 1 else 3.0
    print(f"threads on one module: small CNN (ResNet-18 layout, width 16, 1x3x32x32), torch threads 1, {seconds:.1f} s each")
    print(f"{'executor':14s}{'1 thread/s':>12s}{'2 threads/s':>13s}{'ratio':>8s}{'cores used (2 threads)':>25s}")
    # What the machine allows: one big op per call, the GIL released inside torch.
    a = torch.randn(384, 384)
    mm = torch.mm
    with torch.no_grad():
        throughput(mm, (a, a), 2, 0.2)  # warm-up
        one = throughput(mm, (a, a), 1, seconds)
        two = throughput(mm, (a, a), 2, seconds)
    print(f"{'(machine: mm)':14s}{one:>12.0f}{two:>13.0f}{two / one:>7.2f}x{CORES[-1]:>24.2f}")
    for vname, fn in variants(small, (x,))[1:]:
        with torch.no_grad():
            for _ in range(5):
                fn(x)
        one = throughput(fn, (x,), 1, seconds)
        two = throughput(fn, (x,), 2, seconds)
        print(f"{vname:14s}{one:>12.0f}{two:>13.0f}{two / one:>7.2f}x{CORES[-1]:>24.2f}")


if __name__ == "__main__":
    main()
