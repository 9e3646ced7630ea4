"""Traced models side by side: eager, torchkiln.trace, torch.jit.trace.

    .venv/bin/python benchmarks/bench_trace.py [--threads 1] [--quick]

For each model: trace time, first call of the traced result (in a process
already warm: kernels and allocator have run the model once; median over
several fresh objects, eager's first call measured the same way), and the
steady-state latency (median of many calls, blocks interleaved between the
engines to cancel drift), all under `torch.no_grad()`. Ratios are
eager / engine: >= 1.0 means the engine is no slower than eager.

Models: an MLP (3 linear layers), a ResNet-18-style CNN (batch 1, 64x64),
and a chain of 200 tiny elementwise ops (per-op overhead dominates).
"""
from __future__ import annotations

import argparse
import statistics
import time
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F

import torchkiln


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 128)
        self.fc2 = nn.Linear(128, 128)
        self.fc3 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.down is None else self.down(x)
        return F.relu(out + identity)


class ResNet18(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1))
        layers = []
        cin = 64
        for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            layers += [BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)]
            cin = cout
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(512, classes)

    def forward(self, x):
        x = self.layers(self.stem(x))
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(x)


class Chain(nn.Module):
    """200 tiny elementwise ops on an 8-element tensor."""

    def forward(self, x):
        for i in range(50):
            x = x * 1.001
            x = x + 0.5
            x = torch.tanh(x)
            x = x - 0.25
        return x


def _first_call(fn, x):
    with torch.no_grad():
        start = time.perf_counter()
        fn(x)
        return time.perf_counter() - start


def _per_call(fn, x, calls):
    start = time.perf_counter()
    for _ in range(calls):
        fn(x)
    return (time.perf_counter() - start) / calls


def _traced(engine, model, example):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        result = engine(model, example)
        return result, time.perf_counter() - start


def bench(name, make, example, calls, blocks, reps):
    torch.manual_seed(0)
    state = make().eval().state_dict()

    def fresh():
        model = make().eval()
        model.load_state_dict(state)
        return model

    with torch.no_grad():
        warm = fresh()
        for _ in range(3):
            warm(example)  # kernels, allocator and caches warm for this shape
    first = {"eager": [], "torchkiln": [], "torch.jit": []}
    traced = {"torchkiln": [], "torch.jit": []}
    for _ in range(reps):
        model = fresh()
        first["eager"].append(_first_call(model, example))
        kiln, seconds = _traced(torchkiln.trace, fresh(), example)
        traced["torchkiln"].append(seconds)
        first["torchkiln"].append(_first_call(kiln, example))
        jit, seconds = _traced(torch.jit.trace, fresh(), example)
        traced["torch.jit"].append(seconds)
        first["torch.jit"].append(_first_call(jit, example))

    engines = {"eager": model, "torchkiln": kiln, "torch.jit": jit}
    samples = {key: [] for key in engines}
    with torch.no_grad():
        torch.testing.assert_close(kiln(example), model(example))
        for fn in engines.values():
            _per_call(fn, example, max(calls // 10, 3))
        for _ in range(blocks):
            for key, fn in engines.items():
                samples[key].append(_per_call(fn, example, calls))
    steady = {k: statistics.median(v) for k, v in samples.items()}
    first_med = {k: statistics.median(v) for k, v in first.items()}
    trace_med = {k: statistics.median(v) for k, v in traced.items()}

    us = 1e6
    print(f"\n{name}")
    print(f"  trace time       torchkiln {trace_med['torchkiln'] * 1e3:8.1f} ms   torch.jit {trace_med['torch.jit'] * 1e3:8.1f} ms"
          f"   (jit/kiln {trace_med['torch.jit'] / trace_med['torchkiln']:5.2f}x)")  # fmt: skip
    print(f"  first call       eager {first_med['eager'] * us:9.1f} us   torchkiln {first_med['torchkiln'] * us:9.1f} us"
          f"   torch.jit {first_med['torch.jit'] * us:9.1f} us")  # fmt: skip
    print(f"                   ratio eager/kiln {first_med['eager'] / first_med['torchkiln']:5.2f}"
          f"   eager/jit {first_med['eager'] / first_med['torch.jit']:5.2f}")  # fmt: skip
    print(f"  steady (median)  eager {steady['eager'] * us:9.1f} us   torchkiln {steady['torchkiln'] * us:9.1f} us"
          f"   torch.jit {steady['torch.jit'] * us:9.1f} us")  # fmt: skip
    print(f"                   ratio eager/kiln {steady['eager'] / steady['torchkiln']:5.2f}"
          f"   eager/jit {steady['eager'] / steady['torch.jit']:5.2f}")  # fmt: skip


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1: steadier numbers)")
    parser.add_argument("--quick", action="store_true", help="fewer calls")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    scale = 0.2 if args.quick else 1.0
    reps = 3 if args.quick else 5
    print(f"torch {torch.__version__}, {args.threads} thread(s); ratios are eager/engine (>= 1.0: no slower than eager)")
    print("first call and trace time: median over fresh objects; the first trace in the process also pays imports")
    bench("MLP 64-128-128-10, batch 8", MLP, torch.randn(8, 64), int(2000 * scale) or 1, 7, reps)
    bench("ResNet-18-style CNN, 1x3x64x64", ResNet18, torch.randn(1, 3, 64, 64), int(50 * scale) or 1, 7, reps)
    bench("chain of 200 elementwise ops, 8 elements", Chain, torch.randn(8), int(500 * scale) or 1, 7, reps)


if __name__ == "__main__":
    main()
