"""The benchmark scripts' models build, script and agree with eager PyTorch.

The benchmarks themselves are run by hand (they time things); this keeps
their model definitions from rotting between runs.
"""
import importlib
import sys
from pathlib import Path

import pytest
import torch

import torchkiln

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def bench_script():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        yield importlib.import_module("bench_script")
    finally:
        sys.path.remove(str(BENCHMARKS))


@pytest.mark.parametrize("name", ["resnet18", "transformer6", "lstm_loop"])
def test_bench_script_models_script_and_agree_with_eager(bench_script, name):
    model, inputs = bench_script.MODELS[name]()
    scripted = torchkiln.script(model)
    bench_script.check_same(model, scripted, inputs)


@pytest.mark.parametrize("module", ["bench_cpp_executor", "bench_cpp_runtime", "bench_trace", "codegen_overhead", "bench_models"])
def test_benchmark_modules_import(module):
    sys.path.insert(0, str(BENCHMARKS))
    try:
        importlib.import_module(module)
    finally:
        sys.path.remove(str(BENCHMARKS))
