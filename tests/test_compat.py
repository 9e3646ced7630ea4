"""torch.jit's remaining public names (torchkiln/compat.py and the package's re-exports)."""
from __future__ import annotations

import warnings
from typing import Dict, List, Union

import pytest
import torch
import torch.nn as nn

import torchkiln

INTERNAL = {"Iterator", "ONNXTracedModule", "RecursiveScriptClass", "contextmanager", "jit_module_from_flatbuffer",
            "save_jit_module_to_flatbuffer", "script_method", "set_module", "torch", "warnings"}  # fmt: skip


def test_every_public_torch_jit_name_exists():
    # internals, legacy ScriptModule subclassing (script_method) and flatbuffers are left out
    missing = [n for n in dir(torch.jit) if not n.startswith("_") and not hasattr(torchkiln, n)]
    assert sorted(missing) == sorted(INTERNAL)


class WithAttributes(nn.Module):
    def __init__(self):
        super().__init__()
        self.names = torchkiln.Attribute([], List[str])
        self.table = torch.jit.Attribute({}, Dict[str, int])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.names.append("a")
        self.table["n"] = len(self.names)
        return x + self.table["n"]


def test_attribute_gives_an_attribute_its_type(tmp_path):
    m = torchkiln.script(WithAttributes())
    assert torch.equal(m(torch.zeros(1)), torch.ones(1))
    assert torch.equal(m(torch.zeros(1)), torch.full((1,), 2.0))
    assert m.names == ["a", "a"] and m.table == {"n": 2}
    torchkiln.save(m, str(tmp_path / "a.kiln"))
    loaded = torchkiln.load(str(tmp_path / "a.kiln"))
    assert torch.equal(loaded(torch.zeros(1)), torch.full((1,), 3.0))


def container_kind(x: Union[List[int], Dict[str, int], int]) -> int:
    if torchkiln.isinstance(x, List[int]):
        return len(x)
    elif torch.jit.isinstance(x, Dict[str, int]):
        return x["a"]
    return x  # refined to int: both other members returned


def test_isinstance_of_container_types_refines():
    s = torchkiln.script(container_kind)
    for _ in range(2):
        assert s([1, 2]) == 2 and s({"a": 5}) == 5 and s(3) == 3


def test_compilation_unit_compiles_source_text():
    cu = torchkiln.CompilationUnit(
        """
def add(x: Tensor, n: int) -> Tensor:
    for i in range(n):
        x = x + math.pi
    return x

def twice(x):
    return add(x, 2)
"""
    )
    assert torch.allclose(cu.twice(torch.zeros(2)), torch.full((2,), 2 * 3.141592653589793))
    assert cu.find_function("add") is cu.add and cu.find_function("nope") is None
    assert len(cu.get_functions()) == 2
    with pytest.raises(AttributeError, match="no function 'nope'"):
        cu.nope
    assert torchkiln.export_opnames(cu.twice) == ["aten::add.Scalar", "prim::Constant", "prim::Loop"]


def test_compilation_unit_errors_point_into_the_text():
    with pytest.raises(torchkiln.CompileError) as e:
        torchkiln.CompilationUnit("def bad(x: Tensor) -> Tensor:\n    return x.nope()\n")
    text = str(e.value)
    assert "<torchkiln.CompilationUnit-" in text and "line 2, column 12" in text and "return x.nope()" in text


def scaled(x: torch.Tensor) -> torch.Tensor:
    return x * 3


def test_executor_knobs_and_last_graph():
    with torchkiln.optimized_execution(False), torchkiln.fuser("fuser1"), torchkiln.strict_fusion():
        s = torchkiln.script(scaled)
        assert torch.equal(s(torch.ones(2)), torch.full((2,), 3.0))
    assert "aten::mul" in str(torchkiln.last_executed_optimized_graph())
    previous = torchkiln.set_fusion_strategy([("DYNAMIC", 3)])
    assert torchkiln.set_fusion_strategy(previous) == [("DYNAMIC", 3)]
    torchkiln.enable_onednn_fusion(True)
    assert torchkiln.onednn_fusion_enabled()
    torchkiln.enable_onednn_fusion(False)
    m = torchkiln.freeze(torchkiln.script(nn.Linear(2, 2).eval()))
    assert torchkiln.run_frozen_optimizations(m) is None
    assert isinstance(m, torchkiln.RecursiveScriptModule) and isinstance(m, torchkiln.TopLevelTracedModule)
    assert issubclass(torchkiln.ScriptWarning, Warning)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", torchkiln.ScriptWarning)
        warnings.warn("x", torchkiln.ScriptWarning)
