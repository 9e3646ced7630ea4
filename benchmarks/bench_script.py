"""How fast `torchkiln.script` compiles, and how fast the result runs.

Three models: a ResNet-18-style CNN (BasicBlocks, BatchNorm, downsampling),
a 6-layer `nn.TransformerEncoder`, and `lstm_loop`, an `nn.LSTMCell` stepped
by a Python `for t in range(x.size(0))` loop over 32 time steps (batch 4,
hidden 64), returning the stacked outputs. For each, side by side in one run:

- compile time of `torchkiln.script(model)` and `torch.jit.script(model)`:
  *cold* (the first call in a fresh process, every cache empty, imports
  excluded; median of five processes, the engines' processes taking
  turns) and *warm* (a new instance of the same classes in a process that
  already compiled one; median of several calls);
- *script()+first call*, cold: the same fresh processes also time the first
  forward call after `script()`. Both torchkiln and torch.jit do work at
  the first call that `script()` leaves (torchkiln runs its pass pipeline
  and builds its executor's program then, Note [Lazy optimization];
  torch.jit's profiling executor runs its first, profiling, call), so this
  column is the honest total. *first call* is that call alone; for eager
  PyTorch it is the first forward call in a fresh process;
- steady-state latency of one forward call for eager PyTorch, torchkiln and
  torch.jit, under `torch.no_grad()`; and, from the first call's time and
  the steady one, after how many calls (first included) the compiled model
  has spent less time than eager PyTorch would have.

Compile times are the process's CPU time (`time.process_time`); the cold
processes run torch on one thread, so a first call's CPU time is its work.
Latencies are measured on one thread, the three engines taking turns, and
the fastest call counts; so other work on a shared machine disturbs the
comparison as little as possible. Nothing is remembered between processes:
every cold process starts with empty caches.

Usage: `python benchmarks/bench_script.py [--quick]`. Results are ratios
printed as a table; nothing is asserted.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import time
import warnings
from typing import List, Tuple

import torch
import torch.nn as nn

sys.path.insert(0, __import__("os").path.dirname(__import__("os").path.abspath(__file__)))
from bench_models import ResNet18  # noqa: E402

warnings.filterwarnings("ignore")


class LSTMLoop(nn.Module):
    """An LSTM written as a Python loop over time steps (the pattern script must not slow down)."""

    def __init__(self, input_size: int = 64, hidden: int = 64):
        super().__init__()
        self.cell = nn.LSTMCell(input_size, hidden)
        self.hidden = hidden

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.zeros(x.size(1), self.hidden, dtype=x.dtype)
        c = torch.zeros(x.size(1), self.hidden, dtype=x.dtype)
        outs: List[torch.Tensor] = []
        for t in range(x.size(0)):
            h, c = self.cell(x[t], (h, c))
            outs.append(h)
        return torch.stack(outs)


def make_resnet():
    return ResNet18().eval(), (torch.randn(1, 3, 224, 224),)


def make_transformer():
    layer = nn.TransformerEncoderLayer(d_model=256, nhead=8, dim_feedforward=1024, batch_first=True)
    model = nn.TransformerEncoder(layer, num_layers=6, enable_nested_tensor=False).eval()
    return model, (torch.randn(4, 32, 256),)


def make_lstm_loop():
    return LSTMLoop().eval(), (torch.randn(32, 4, 64),)


MODELS = {"resnet18": make_resnet, "transformer6": make_transformer, "lstm_loop": make_lstm_loop}


def _engine(name: str):
    if name == "torchkiln":
        import torchkiln

        return torchkiln.script
    if name == "eager":
        return lambda model: model
    return torch.jit.script


def compile_time(model_name: str, engine: str, repeats: int) -> float:
    """Median seconds of script(new instance) in this process (after one warm-up call)."""
    script = _engine(engine)
    make = MODELS[model_name]
    script(make()[0])
    times = []
    for _ in range(repeats):
        model = make()[0]
        t0 = time.process_time()
        script(model)
        times.append(time.process_time() - t0)
    return statistics.median(times)


def import_everything() -> None:
    """Import every torchkiln module, so that a cold measurement does not time Python imports."""
    import importlib
    import pathlib

    import torchkiln

    root = pathlib.Path(torchkiln.__file__).parent
    for path in sorted(root.rglob("*.py")):
        if "csrc" in path.parts:
            continue
        parts = path.relative_to(root.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        try:
            importlib.import_module(name)
        except Exception:
            pass


_COLD = """
import sys, time, json
sys.path.insert(0, %r)
import bench_script as b
import torchkiln, torch
b.import_everything()
torch.set_num_threads(1)
model, inputs = b.MODELS[%r]()
script = b._engine(%r)
t0 = time.process_time()
compiled = script(model)
t1 = time.process_time()
with torch.no_grad():
    compiled(*inputs)
t2 = time.process_time()
print(json.dumps([t1 - t0, t2 - t1]))
"""


def cold_times(model_name: str, engine: str, processes: int) -> Tuple[float, float, float]:
    """Medians, in fresh processes (imports excluded), of seconds of: the first script() call,
    the first forward call after it, and the two together."""
    return cold_times_interleaved(model_name, [engine], processes)[engine]


def cold_times_interleaved(model_name: str, engines: List[str], processes: int):
    """`cold_times` of each engine, their fresh processes taking turns (engine -> medians).

    A shared machine's speed drifts over seconds; processes of one engine run
    back to back could all land in a slow spell, and the ratio between engines
    would show the drift. Alternating them spreads it over both.
    """
    rows: dict = {e: [] for e in engines}
    for _ in range(processes):
        for engine in engines:
            code = _COLD % (sys.path[0], model_name, engine)
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
            rows[engine].append(json.loads(out.strip().splitlines()[-1]))
    return {
        e: (
            statistics.median(r[0] for r in rs),
            statistics.median(r[1] for r in rs),
            statistics.median(r[0] + r[1] for r in rs),
        )
        for e, rs in rows.items()
    }


def cold_compile_time(model_name: str, engine: str, processes: int) -> float:
    """Median seconds of the first script() call in fresh processes (imports excluded)."""
    return cold_times(model_name, engine, processes)[0]


def latency(fn, inputs, repeats: int) -> float:
    with torch.no_grad():
        for _ in range(3):
            fn(*inputs)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn(*inputs)
            times.append(time.perf_counter() - t0)
    return min(times)


def interleaved_latency(fns, inputs, repeats: int):
    """The fastest call of each function, on one thread, the functions taking turns."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        best = [float("inf")] * len(fns)
        for _ in range(max(repeats // 5, 1)):
            for i, fn in enumerate(fns):
                best[i] = min(best[i], latency(fn, inputs, 5))
        return best
    finally:
        torch.set_num_threads(threads)


def check_same(model, scripted, inputs) -> None:
    with torch.no_grad():
        torch.testing.assert_close(scripted(*inputs), model(*inputs), rtol=1e-4, atol=1e-4)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    args = parser.parse_args()
    repeats = 3 if args.quick else 10
    processes = 1 if args.quick else 5
    lat_repeats = 10 if args.quick else 50
    import torchkiln

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    rows = []
    for name in args.models:
        model, inputs = MODELS[name]()
        kiln = torchkiln.script(model)
        jit = torch.jit.script(model)
        check_same(model, kiln, inputs)
        warm_k, warm_j = compile_time(name, "torchkiln", repeats), compile_time(name, "torch.jit", repeats)
        cold = cold_times_interleaved(name, ["torchkiln", "torch.jit", "eager"], processes)
        (cold_k, first_k, total_k), (cold_j, first_j, total_j), (_, first_e, _) = cold["torchkiln"], cold["torch.jit"], cold["eager"]
        eager_t, kiln_t, jit_t = interleaved_latency([model, kiln, jit], inputs, lat_repeats)
        rows.append((name, cold_k, cold_j, total_k, total_j, warm_k, warm_j, first_e, first_k, first_j, eager_t, kiln_t, jit_t))
    print()
    print("ms; cold = in a fresh process; k = torchkiln, j = torch.jit, e = eager")
    head = ["script() cold", "script()+1st call", "script() warm", "1st call cold", "forward steady"]
    print(f"{'model':<14}" + "".join(f"{h:>22}" for h in head[:3]) + f"{head[3]:>30}{head[4]:>30}")
    print(f"{'':<14}" + f"{'k        j':>22}" * 3 + f"{'e        k        j':>30}" * 2)
    for name, ck, cj, tk, tj, wk, wj, fe, fk, fj, e, k, j in rows:
        print(
            f"{name:<14}{ck * 1e3:>13.1f}{cj * 1e3:>9.1f}{tk * 1e3:>13.1f}{tj * 1e3:>9.1f}{wk * 1e3:>13.1f}{wj * 1e3:>9.1f}"
            f"{fe * 1e3:>14.2f}{fk * 1e3:>8.2f}{fj * 1e3:>8.2f}{e * 1e3:>14.3f}{k * 1e3:>8.3f}{j * 1e3:>8.3f}"
        )
    print()
    for name, ck, cj, tk, tj, wk, wj, fe, fk, fj, e, k, j in rows:
        print(
            f"{name}: compile {cj / ck:.1f}x faster than torch.jit cold ({tj / tk:.1f}x with the first call), {wj / wk:.1f}x warm; "
            f"first call {fk / fe:.2f}x eager's (torch.jit {fj / fe:.2f}x); forward {k / e:.3f}x eager time (torch.jit {j / e:.3f}x); "
            f"calls, first included, until the total time is below eager's: {break_even(fe, e, fk, k)} (torch.jit {break_even(fe, e, fj, j)})"
        )


def break_even(first_eager: float, eager: float, first: float, steady: float) -> str:
    """The number of calls n (first call included) from which n calls take less time than n eager calls."""
    if first <= first_eager:
        return "1" if steady <= eager else "never"
    if steady >= eager:
        return "never"
    return str(1 + math.ceil((first - first_eager) / (eager - steady)))


if __name__ == "__main__":
    sys.path.insert(0, __import__("os").path.dirname(__file__))
    main()
