"""Per-op cost of torchkiln's C++ runtime, against hand-written ATen and TorchScript.

Three models, each scripted twice from the same Python module (same weights):
with `torchkiln.script` (run by `torchkiln::Module::forward`) and with
`torch.jit.script` (run by `torch::jit::load(...).forward`):

- chain:  200 elementwise ops on a 4x4 tensor, 50x [x*0.5, x+y, tanh(x), x-0.25],
          written out straight-line (no loop in the graph);
- mlp:    4 Linear layers (64-256-256-256-10) with ReLU, batch 16;
- resnet: ResNet-18 (BasicBlocks [2, 2, 2, 2], BatchNorm in eval mode),
          10 classes, one 3x64x64 image.

The C++ program benchmarks/cpp/bench_cpp_runtime.cpp (built once into
build/bench-cpp) times, interleaved, with at::set_num_threads(1) and one
grad mode for all (c10::InferenceMode by default), this thread's CPU time
(so time lost to other processes on shared cores does not count):

- aten:        the same ops called directly from C++ (at::mul, at::conv2d, ...);
- aten_wrapped: chain only: the Tensor overloads (mul.Tensor, sub.Tensor) with
               the scalar constants wrapped once as 0-dim tensors of x's dtype;
               the Scalar overloads build two such tensors per call on CPU
               (scalar_to_tensor, then `to` in TensorIterator::compute_types);
- aten_out:    chain only: as aten_wrapped, with *_out calls into two
               preallocated ping-pong buffers (the floor for reusing the
               buffers of dead intermediates);
- aten_boxed:  chain only: the same ops through the boxed dispatcher
               (OperatorHandle::callBoxed, what an IValue interpreter pays);
- torchkiln:   torchkiln::Module::forward;
- torch.jit:   torch::jit::Module::forward.

and prints median ns per call and per op (ops = ATen calls of the hand-written
version), with ratios to `aten`. Every variant's result is checked against
`aten`'s; a variant that fails to load or run prints its error and the others
go on.

Usage:
    .venv/bin/python benchmarks/bench_cpp_runtime.py [--seconds 3] [--models chain,mlp,resnet]
        [--grad-mode inference|no_grad] [--json out.json]
    # one variant in a loop, for a profiler (after one normal run built everything):
    valgrind --tool=callgrind --toggle-collect='*profiled_loop*' build/bench-cpp/bench_cpp_runtime \
        --dir build/bench-cpp/models --profile chain:torchkiln:100
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import traceback
import warnings
from pathlib import Path
from typing import Dict, List, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "benchmarks" / "cpp"
BUILD = ROOT / "build" / "bench-cpp"
MODELS = BUILD / "models"
BINARY = BUILD / "bench_cpp_runtime"

sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_models import ResNet18  # noqa: E402
import torchkiln  # noqa: E402
import torchkiln.utils  # noqa: E402

warnings.filterwarnings("ignore")

# ----------------------------------------------------------------------- models

CHAIN_REPEATS = 50  # x 4 ops


def chain_source() -> str:
    """The chain as Python source: straight-line, so the graph holds 200 ops and no loop."""
    lines = [
        "import torch",
        "import torch.nn as nn",
        "",
        "",
        "class Chain(nn.Module):",
        "    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:",
    ]
    for _ in range(CHAIN_REPEATS):
        lines += ["        x = x * 0.5", "        x = x + y", "        x = torch.tanh(x)", "        x = x - 0.25"]
    lines += ["        return x", ""]
    return "\n".join(lines)


def make_chain() -> nn.Module:
    # Both script compilers read the source with inspect, so it must live in a file.
    path = MODELS / "chain200.py"
    source = chain_source()
    if not path.exists() or path.read_text() != source:
        path.write_text(source)
    spec = importlib.util.spec_from_file_location("chain200", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["chain200"] = module
    spec.loader.exec_module(module)
    return module.Chain()


class MLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(64, 256)
        self.fc2 = nn.Linear(256, 256)
        self.fc3 = nn.Linear(256, 256)
        self.fc4 = nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = F.relu(self.fc3(x))
        return self.fc4(x)


def make_resnet() -> nn.Module:
    m = ResNet18(num_classes=10)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():  # non-trivial running statistics, so a BatchNorm mix-up shows
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.running_mean.copy_(torch.randn(mod.running_mean.shape, generator=g) * 0.1)
                mod.running_var.copy_(torch.rand(mod.running_var.shape, generator=g) + 0.5)
    return m


MODEL_FACTORIES = {"chain": make_chain, "mlp": MLP, "resnet": make_resnet}


def save_models(names: List[str]) -> Dict[str, str]:
    """Script and save each model both ways; returns scripting errors by archive name."""
    MODELS.mkdir(parents=True, exist_ok=True)
    errors: Dict[str, str] = {}
    for name in names:
        torch.manual_seed(0)
        model = MODEL_FACTORIES[name]().eval()
        for kind, script in (("torchkiln", torchkiln.script), ("jit", torch.jit.script)):
            path = MODELS / f"{name}.{kind}.pt"
            if path.exists():
                path.unlink()
            try:
                script(model).save(str(path))
            except Exception as e:  # report and go on: the C++ side prints "no archive"
                errors[f"{name}.{kind}"] = f"{type(e).__name__}: {e}"
                traceback.print_exc()
    return errors


# ------------------------------------------------------------------------ build


def _configured_for(build: Path, source: Path) -> bool:
    cache = build / "CMakeCache.txt"
    if not cache.exists():
        return False
    for line in cache.read_text(errors="replace").splitlines():
        if line.startswith("CMAKE_HOME_DIRECTORY:INTERNAL="):
            return Path(line.split("=", 1)[1]).resolve() == source.resolve()
    return False


def build(jobs: int) -> None:
    """Configure (once) and build benchmarks/cpp into build/bench-cpp; a no-op when up to date."""
    if not _configured_for(BUILD, SOURCE):
        (BUILD / "CMakeCache.txt").unlink(missing_ok=True)  # keeps the saved models
        shutil.rmtree(BUILD / "CMakeFiles", ignore_errors=True)
        prefix = ";".join([torchkiln.utils.cmake_prefix_path, torch.utils.cmake_prefix_path])
        cmd = ["cmake", "-S", str(SOURCE), "-B", str(BUILD), f"-DCMAKE_PREFIX_PATH={prefix}", "-DCMAKE_BUILD_TYPE=Release"]
        if shutil.which("ninja"):
            cmd += ["-G", "Ninja"]
        _check(cmd)
    _check(["cmake", "--build", str(BUILD), f"-j{jobs}", "--target", "bench_cpp_runtime"])


def _check(cmd: List[str]) -> None:
    print("+", " ".join(cmd), file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        output = (proc.stdout + proc.stderr).splitlines()
        errors = [line for line in output if "error" in line.lower() or line.startswith("FAILED")]
        raise SystemExit(f"{' '.join(cmd)} failed:\n" + "\n".join(errors[:40] or output[-60:]))


# ------------------------------------------------------------------------ report

VARIANT_ORDER = ["aten", "aten_wrapped", "aten_out", "aten_boxed", "torchkiln", "torch.jit"]


def print_table(results: List[Dict], grad_mode: str) -> None:
    print(f"\n1 intra-op thread, {grad_mode}; medians over interleaved rounds of this thread's CPU time")
    print("(wall-clock medians are in --json); ratio: ns/call over aten's;")
    print("p25/p75: quartiles of the per-round values, in % off the median\n")
    header = f"{'model':<7} {'variant':<12} {'ops':>3} {'ns/call':>11} {'ns/op':>7} {'ratio':>6} {'p25/p75':>12} {'rounds':>6}"
    print(header)
    print("-" * len(header))
    by_model: Dict[str, List[Dict]] = {}
    for r in results:
        by_model.setdefault(r["model"], []).append(r)
    for model, rows in by_model.items():
        base = next((r for r in rows if r["variant"] == "aten" and r["status"] == "ok"), None)
        rows.sort(key=lambda r: VARIANT_ORDER.index(r["variant"]) if r["variant"] in VARIANT_ORDER else 99)
        for r in rows:
            if r["status"] != "ok":
                print(f"{model:<7} {r['variant']:<12} {'':>3} {'ERROR':>11}  {r['message']}")
                continue
            med = r["median_ns"]
            ratio = f"{med / base['median_ns']:.3f}" if base else "-"
            spread = f"{100 * (r['p25_ns'] / med - 1):+.1f}/{100 * (r['p75_ns'] / med - 1):+.1f}"
            per_op = f"{med / r['ops']:,.0f}" if r["ops"] else "-"
            print(f"{model:<7} {r['variant']:<12} {r['ops']:>3} {med:>11,.0f} {per_op:>7} {ratio:>6} {spread:>12} {r['rounds']:>6}")
        print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="timing budget per model (all variants together)")
    parser.add_argument("--models", default="chain,mlp,resnet")
    parser.add_argument("--grad-mode", choices=["inference", "no_grad"], default="inference")
    parser.add_argument("--jobs", type=int, default=2, help="parallel compile jobs")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--skip-save", action="store_true", help="reuse the archives in build/bench-cpp/models")
    args = parser.parse_args()
    names = [n for n in args.models.split(",") if n]
    for n in names:
        if n not in MODEL_FACTORIES:
            raise SystemExit(f"unknown model {n!r}; choose from {', '.join(MODEL_FACTORIES)}")

    MODELS.mkdir(parents=True, exist_ok=True)
    errors = {} if args.skip_save else save_models(names)
    for key, msg in errors.items():
        print(f"scripting {key} failed: {msg}", file=sys.stderr)
    build(args.jobs)

    cmd = [str(BINARY), "--dir", str(MODELS), "--models", ",".join(names), "--seconds", str(args.seconds),
           "--grad-mode", args.grad_mode]
    print("+", " ".join(cmd), file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)  # stderr (progress, errors) passes through
    results = [json.loads(line[len("RESULT "):]) for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    for line in proc.stdout.splitlines():
        if not line.startswith("RESULT "):
            print(line)
    print_table(results, args.grad_mode)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    if proc.returncode != 0:
        raise SystemExit(f"bench_cpp_runtime exited with {proc.returncode}")


if __name__ == "__main__":
    main()
