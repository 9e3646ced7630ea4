"""The C++ API (<torchkiln/torchkiln.h>) through tests/csrc/project/driver.cpp."""
import subprocess

import torch
import torch.nn as nn

import torchkiln

import archive_models


def driver(rt, *args):
    proc = subprocess.run([str(rt.driver), *map(str, args)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def test_signature_state_and_attributes(rt, tmp_path):
    path = tmp_path / "m.pt"
    torchkiln.save(archive_models.make_module(), str(path))
    facts = driver(rt, "api", path)
    assert "kind module" in facts and "name __torch__.Net" in facts
    assert "method forward" in facts and "arg x Tensor" in facts and "returns Tensor" in facts
    params = [f for f in facts if f.startswith("parameter ")]
    # the shared submodule's weight is listed once, under its first name
    assert params == ["parameter weight [2] 1", "parameter a.w [2] 1", "parameter other.w [2] 1"]
    # non-persistent buffers too, as nn.Module.named_buffers lists them
    assert [f for f in facts if f.startswith("buffer ")] == ["buffer running [2]", "buffer mask [2]"]
    assert [f for f in facts if f.startswith("submodule ")] == ["submodule a", "submodule b", "submodule other"]
    attributes = {f.split()[1] for f in facts if f.startswith("attribute ")}
    assert {"count", "scale", "label", "sizes", "table", "point", "training", "a.training"} <= attributes
    assert "has_forward 1" in facts and "has_nope 0" in facts
    assert any(f.startswith("attr_error ") and "no attribute 'no.such.thing'" in f for f in facts)
    assert "method_error module __torch__.Net has no method 'nope'" in facts
    assert any(f.startswith("argument_error forward() takes 1 argument(s) but 5 were given") for f in facts)


def test_load_and_load_from_buffer_agree(rt, tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()).eval()
    path = tmp_path / "conv.pt"
    torchkiln.save(torchkiln.trace(model, (torch.ones(1, 3, 8, 8),)), str(path))
    sums = [float(line.split()[1]) for line in driver(rt, "ones", path, 1, 3, 8, 8)]
    with torch.no_grad():
        want = model(torch.ones(1, 3, 8, 8)).sum().item()
    assert len(sums) == 2 and all(abs(s - want) < 1e-4 for s in sums)


def test_concurrent_callers_get_their_own_results(rt, tmp_path):
    torch.manual_seed(0)
    model = archive_models.make_module()  # calls, loops, If, shared submodules
    path = tmp_path / "m.pt"
    torchkiln.save(model, str(path))
    facts = dict(line.split() for line in driver(rt, "threads", path, 8, 200, 2))
    assert facts == {"mismatches": "0", "failures": "0"}


def test_an_empty_module_refuses_to_run(rt):
    (line,) = driver(rt, "empty")
    assert line == "error torchkiln::Module is empty: assign it the result of torchkiln::load first"
