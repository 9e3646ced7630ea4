"""Tensor text of the C++ runtime (tensor_str.cpp) against eager PyTorch's str(tensor).

tests/frontend/script/test_tensor_str.py covers str/format/% on every executor
(and torchkiln-run through tests/differential); here: what `print` writes from
torchkiln-run, tensors no safetensors input can carry (sparse, quantized,
meta, complex) on the in-process C++ executor, and a sweep of random shapes
and value ranges through torchkiln-run.
"""
import math
import subprocess
import tempfile
from pathlib import Path
from typing import List

import pytest
import torch

import torchkiln
from torchkiln.api import ScriptFunction

import cpp_runtime
from cpp_runtime import run_many


def prints(x: torch.Tensor, y: torch.Tensor) -> int:
    print(x)
    print("x =", x, [y], (x, 1))
    return 0


def to_str(x: torch.Tensor) -> str:
    return str(x)


def eager_print(*args) -> str:
    from io import StringIO

    out = StringIO()
    print(*args, file=out)
    return out.getvalue()


def test_print_from_torchkiln_run_is_pythons(rt, tmp_path):
    path = tmp_path / "p.pt"
    torchkiln.save(torchkiln.script(prints), str(path))
    pairs = [(torch.tensor([1.0, 2.0]), torch.tensor(3)), (torch.randn(20, 20), torch.empty(0, 2, dtype=torch.int32)),
             (torch.arange(3000.0).reshape(30, 100) * 1e-6, torch.tensor([True, False]))]
    expected = "".join(eager_print(x) + eager_print("x =", x, [y], (x, 1)) for x, y in pairs)
    inp, out = tmp_path / "in.safetensors", tmp_path / "out.safetensors"
    cpp_runtime.write_calls(str(inp), [cpp_runtime.Call("forward", [x, y]) for x, y in pairs])
    proc = subprocess.run([str(rt.runner), str(path), str(inp), str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == expected


def layouts(x: torch.Tensor) -> List[str]:
    return [str(x.to_sparse()), str(x.to_sparse_csr()), str(x[:0].to_sparse()), str(torch.complex(x, -x))]


def test_sparse_and_complex_made_in_the_program(rt, tmp_path):
    path = tmp_path / "l.pt"
    fn = torchkiln.script(layouts)
    torchkiln.save(fn, str(path))
    xs = [torch.eye(3), torch.tensor([[0.0, 1.5], [-2.0, 0.0]], dtype=torch.float64), torch.arange(12.0).reshape(3, 4) - 4]
    got = run_many(rt, path, [("forward", [x]) for x in xs])
    for x, g in zip(xs, got):
        assert g == ("ok", layouts(x))


@pytest.mark.parametrize(
    "make",
    [
        lambda: torch.ones(3, 3).to_sparse(),
        lambda: torch.eye(4, dtype=torch.int32).to_sparse_csr(),
        lambda: torch.zeros(2, 3).to_sparse(),
        lambda: torch.quantize_per_tensor(torch.tensor([1.0, 2.0, -1.0]), 0.1, 10, torch.quint8),
        lambda: torch.quantize_per_channel(torch.randn(2, 3), torch.tensor([0.1, 0.2], dtype=torch.float64),
                                           torch.tensor([0, 1]), 0, torch.qint8),
        lambda: torch.ones(2, device="meta"),
        lambda: torch.ones(2, 3, dtype=torch.int32, device="meta"),
        lambda: torch.tensor([1 + 2j, -3.5 - 0.5j]),
        lambda: torch.tensor(1e-8 - 1j, dtype=torch.complex128),
        lambda: torch.randn(40, 40, dtype=torch.complex64),
        lambda: torch.tensor([1.0, -2.0], dtype=torch.float8_e4m3fn),
        lambda: torch.tensor([1.0, 3.0], requires_grad=True).neg().conj(),
        lambda: torch.tensor([1 + 1j, 2 - 2j]).conj(),
        lambda: torch.tensor([1 + 1j, 2 - 2j]).conj().imag,  # a view with the negative bit
    ],
)
def test_tensors_no_input_file_can_carry(make):
    x = make()
    s = torchkiln.script(to_str)
    assert ScriptFunction(s._kiln_unit, s._kiln_fn, executor="cpp")(x) == str(x)


def test_default_dtype_decides_the_dtype_suffix():
    s = torchkiln.script(to_str)
    run = ScriptFunction(s._kiln_unit, s._kiln_fn, executor="cpp")
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        for x in [torch.ones(2), torch.ones(2, dtype=torch.float64), torch.empty(0), torch.tensor([1j])]:
            assert run(x) == str(x)
    finally:
        torch.set_default_dtype(old)


def sweep_tensors() -> List[torch.Tensor]:
    """Random shapes (0-dim to 4-D, some past the summarizing threshold), dtypes and magnitudes."""
    g = torch.Generator().manual_seed(7)
    out = []
    for i in range(120):
        ndim = int(torch.randint(0, 5, (), generator=g))
        shape = [int(torch.randint(1, 14 if ndim > 2 else 40, (), generator=g)) for _ in range(ndim)]
        if i % 17 == 0:
            shape = [1100] if ndim < 2 else [7] * ndim
        dtype = [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64, torch.int32, torch.bool][i % 7]
        scale = 10.0 ** float(torch.randint(-12, 13, (), generator=g))
        x = torch.randn(shape, generator=g, dtype=torch.float64) * scale
        if i % 5 == 0:
            x = x.round()
        if i % 11 == 0 and x.numel() > 2:
            x.view(-1)[0], x.view(-1)[1] = math.nan, -math.inf
        out.append(x.to(dtype) if dtype is not torch.bool else x > 0)
    return out


def test_random_tensors_through_torchkiln_run(rt, tmp_path):
    path = tmp_path / "s.pt"
    torchkiln.save(torchkiln.script(to_str), str(path))
    xs = sweep_tensors()
    got = run_many(rt, path, [("forward", [x]) for x in xs])
    for x, g in zip(xs, got):
        assert g == ("ok", str(x)), (x.dtype, tuple(x.shape))
