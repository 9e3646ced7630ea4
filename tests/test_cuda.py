"""CUDA: scripted and traced programs on GPU tensors, on every executor, saved and loaded.

These run where a GPU is (CI has none: there they are skipped, and the CPU
versions of the same programs run in the rest of the suite). Each compares
with eager PyTorch on the same device.
"""
import io
import subprocess
import sys
import textwrap
from typing import List, Optional

import pytest
import torch
import torch.nn as nn

import torchkiln

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

EXECUTORS = ["cpp", "python", "interpreter"]


class Gated(nn.Module):
    """Branches on data, loops over steps, makes tensors on the input's device."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 16)
        self.bn = nn.BatchNorm1d(16)
        self.register_buffer("scale", torch.full((16,), 0.5))

    def forward(self, x: torch.Tensor, steps: int = 3, bias: Optional[torch.Tensor] = None) -> torch.Tensor:
        h = torch.zeros(x.size(0), 16, device=x.device, dtype=x.dtype)
        outs: List[torch.Tensor] = []
        for i in range(steps):
            h = torch.tanh(self.bn(self.fc(x + h)))
            if bool(h.sum() > 0):
                h = h * self.scale
            else:
                h = h - 1.0
            outs.append(h)
        y = torch.stack(outs).sum(0)
        if bias is not None:
            y = y + bias
        assert y.device == x.device, "lost the device"
        return y


def _inputs():
    torch.manual_seed(0)
    x = torch.randn(8, 16, device="cuda")
    return [(x,), (x, 5), (-x.abs() * 10, 2), (x, 1, torch.ones(16, device="cuda"))]


@pytest.mark.parametrize("executor", EXECUTORS)
def test_scripted_module_on_cuda_matches_eager(executor):
    model = Gated().cuda().eval()
    scripted = torchkiln.script(model).with_executor(executor)
    for args in _inputs():
        with torch.no_grad():
            expected = model(*args)
            got = scripted(*args)
        assert got.is_cuda
        torch.testing.assert_close(got, expected)


def test_module_moved_to_cuda_after_scripting():
    model = Gated().eval()
    scripted = torchkiln.script(model)
    x = torch.randn(8, 16)
    with torch.no_grad():
        on_cpu = scripted(x)
    scripted.cuda()
    model.cuda()
    with torch.no_grad():
        got = scripted(x.cuda())
        torch.testing.assert_close(got, model(x.cuda()))
    torch.testing.assert_close(got.cpu(), on_cpu, rtol=1e-4, atol=1e-4)


def test_training_step_on_cuda():
    torch.manual_seed(0)
    model = Gated().cuda().train()
    reference = Gated().cuda().train()
    reference.load_state_dict(model.state_dict())
    scripted = torchkiln.script(model)
    x = torch.randn(8, 16, device="cuda")
    loss = scripted(x).pow(2).mean()
    loss.backward()
    ref_loss = reference(x).pow(2).mean()
    ref_loss.backward()
    torch.testing.assert_close(loss, ref_loss)
    torch.testing.assert_close(model.fc.weight.grad, reference.fc.weight.grad)
    torch.testing.assert_close(model.bn.running_mean, reference.bn.running_mean)


def test_traced_module_on_cuda():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()).cuda().eval()
    x = torch.randn(2, 3, 16, 16, device="cuda")
    traced = torchkiln.trace(model, (x,))
    with torch.no_grad():
        torch.testing.assert_close(traced(x), model(x))
        y = torch.randn(4, 3, 20, 20, device="cuda")
        torch.testing.assert_close(traced(y), model(y))


def test_device_moves_inside_script():
    @torchkiln.script
    def roundtrip(x: torch.Tensor, dev: torch.device) -> torch.Tensor:
        y = x.to(dev) * 2
        if y.is_cuda:
            y = y + 1
        return y.cpu()

    x = torch.arange(6.0)
    torch.testing.assert_close(roundtrip(x, torch.device("cuda")), x * 2 + 1)
    torch.testing.assert_close(roundtrip(x, torch.device("cpu")), x * 2)


def test_save_and_load_cuda_module(tmp_path):
    model = Gated().cuda().eval()
    scripted = torchkiln.script(model)
    path = tmp_path / "gated.pt"
    scripted.save(str(path))
    x = torch.randn(8, 16, device="cuda")
    with torch.no_grad():
        expected = model(x, 4)

    loaded = torchkiln.load(str(path))
    assert loaded.fc.weight.is_cuda
    with torch.no_grad():
        torch.testing.assert_close(loaded(x, 4), expected)

    on_cpu = torchkiln.load(str(path), map_location="cpu")
    assert not on_cpu.fc.weight.is_cuda
    with torch.no_grad():
        torch.testing.assert_close(on_cpu(x.cpu(), 4), expected.cpu(), rtol=1e-4, atol=1e-4)

    # A fresh process without the model's source.
    code = textwrap.dedent(
        f"""
        import torch, torchkiln
        m = torchkiln.load({str(path)!r})
        torch.manual_seed(0)
        x = torch.randn(8, 16, device="cuda")
        with torch.no_grad():
            y = m(x, 4)
        print(y.device.type, float(y.sum()))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == "cuda"


def test_freeze_and_optimize_on_cuda():
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU()).cuda().eval()
    x = torch.randn(2, 3, 12, 12, device="cuda")
    frozen = torchkiln.optimize_for_inference(torchkiln.script(model))
    with torch.no_grad():
        torch.testing.assert_close(frozen(x), model(x), rtol=1e-4, atol=1e-4)


def test_fork_on_cuda():
    @torchkiln.script
    def work(x: torch.Tensor) -> torch.Tensor:
        return torch.mm(x, x).relu()

    @torchkiln.script
    def both(x: torch.Tensor) -> torch.Tensor:
        a = torchkiln.fork(work, x)
        b = torchkiln.fork(work, x + 1)
        return torchkiln.wait(a) + torchkiln.wait(b)

    x = torch.randn(32, 32, device="cuda")
    torch.testing.assert_close(both(x), torch.mm(x, x).relu() + torch.mm(x + 1, x + 1).relu())


def test_buffer_reuse_and_inplace_on_cuda():
    # The C++ executor writes results into dying inputs' buffers (`.out` overloads): on CUDA too.
    @torchkiln.script
    def chain(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        a = x + y
        b = a * 2
        c = torch.sigmoid(b)
        c.add_(1)
        return c - y

    x = torch.randn(1000, device="cuda")
    y = torch.randn(1000, device="cuda")
    with torch.no_grad():
        expected = (torch.sigmoid((x + y) * 2) + 1) - y
        for _ in range(3):
            torch.testing.assert_close(chain(x, y), expected)


def test_mixed_device_error_is_torchkilns_or_torchs_message():
    @torchkiln.script
    def add(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return x + y

    with pytest.raises(Exception) as info:
        add(torch.randn(3, device="cuda"), torch.randn(3))
    assert "device" in str(info.value)
