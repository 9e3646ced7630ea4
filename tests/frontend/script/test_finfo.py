"""torch.finfo / torch.iinfo in scripted code (Note [finfo and iinfo] in frontend/script/typeinfo.py).

Fields of a dtype known at run time are ops (`prim::finfo_min`...) run by
every executor; a constant dtype folds them in the frontend. Values must
equal eager PyTorch's exactly.
"""
import math
import sys
from pathlib import Path
from typing import Tuple

import pytest
import torch
import torch.nn as nn

import torchkiln
from torchkiln.api import ScriptFunction

from .script_testing import EXECUTORS, matches_eager, same, scripted
from .test_errors import line_of, refused

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "csrc"))
import cpp_runtime  # noqa: E402

FLOATS = [torch.float16, torch.bfloat16, torch.float32, torch.float64]
FLOAT8 = [torch.float8_e4m3fn, torch.float8_e5m2, torch.float8_e4m3fnuz, torch.float8_e5m2fnuz, torch.float8_e8m0fnu]
COMPLEX = [torch.complex32, torch.complex64, torch.complex128]
INTS = [torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64]
WIDE_UNSIGNED = [torch.uint16, torch.uint32]  # uint64: see test_uint64


def finfo_of_tensor(x):
    fi = torch.finfo(x.dtype)
    return fi.min, fi.max, fi.eps, fi.tiny, fi.smallest_normal, fi.resolution, fi.bits, fi.dtype


def finfo_of_dtype(d: torch.dtype) -> Tuple[float, float, float, float, float, float, int, str]:
    return (torch.finfo(d).min, torch.finfo(d).max, torch.finfo(d).eps, torch.finfo(d).tiny,
            torch.finfo(d).smallest_normal, torch.finfo(d).resolution, torch.finfo(d).bits, torch.finfo(d).dtype)


def iinfo_of_tensor(x):
    ii = torch.iinfo(x.dtype)
    return ii.min, ii.max, ii.bits, ii.dtype


def iinfo_of_dtype(d: torch.dtype) -> Tuple[int, int, int, str]:
    return torch.iinfo(d).min, torch.iinfo(d).max, torch.iinfo(d).bits, torch.iinfo(d).dtype


def test_finfo_of_a_tensor_dtype_runs_on_every_executor():
    s = matches_eager(finfo_of_tensor, *[(torch.zeros(2, dtype=d),) for d in FLOATS + [torch.complex64]])
    text = str(s.graph)
    for field in ("min", "max", "eps", "tiny", "smallest_normal", "resolution", "bits", "dtype"):
        assert f"prim::finfo_{field}(" in text, text


def test_finfo_of_a_dtype_argument_runs_on_every_executor():
    results = [finfo_of_dtype(d) for d in FLOATS + FLOAT8 + COMPLEX]
    assert [type(v) for v in results[0]] == [float] * 6 + [int, str]
    matches_eager(finfo_of_dtype, *[(d,) for d in FLOATS + FLOAT8 + COMPLEX])


def test_iinfo_of_a_tensor_dtype_runs_on_every_executor():
    s = matches_eager(iinfo_of_tensor, *[(torch.zeros(2, dtype=d),) for d in INTS])
    assert "prim::iinfo_max(" in str(s.graph)


def test_iinfo_of_a_dtype_argument_runs_on_every_executor():
    matches_eager(iinfo_of_dtype, *[(d,) for d in INTS + WIDE_UNSIGNED])


def uint64_fields(d: torch.dtype) -> Tuple[int, int, str]:
    return torch.iinfo(d).min, torch.iinfo(d).bits, torch.iinfo(d).dtype


def test_uint64():
    # The max (2**64 - 1) is no script int: Python executors give Python's int, the C++ runtime
    # raises OverflowError (docs/runtime.md); the constant is a CompileError (test_refusals).
    matches_eager(uint64_fields, (torch.uint64,))


def make_constant_fields(kind, dtype):
    if kind == "finfo":
        def constant_fields():
            fi = torch.finfo(dtype)
            return fi.min, fi.max, fi.eps, fi.tiny, fi.smallest_normal, fi.resolution, fi.bits, fi.dtype
    else:
        def constant_fields():
            return torch.iinfo(dtype).min, torch.iinfo(dtype).max, torch.iinfo(dtype).bits, torch.iinfo(dtype).dtype
    return constant_fields


@pytest.mark.parametrize("kind, dtype", [("finfo", d) for d in FLOATS + FLOAT8 + COMPLEX] + [("iinfo", d) for d in INTS + WIDE_UNSIGNED])
def test_a_constant_dtype_folds_in_the_frontend(kind, dtype):
    fn = make_constant_fields(kind, dtype)
    s = matches_eager(fn, ())
    assert {n.kind for n in s.graph.walk()} <= {"prim::Constant", "prim::TupleConstruct"}, s.graph


def half_eps_clamp(x):
    return x.clamp(min=torch.finfo(torch.float16).eps)


def test_constant_fold_graph():
    s = matches_eager(half_eps_clamp, (torch.tensor([0.0, 1e-5, 2.0]),))
    text = "\n".join(line.split("  #")[0] for line in str(s.graph).splitlines())
    assert text == """graph(%x : Tensor):
  %1 : float = prim::Constant[value=0.0009765625]()
  %2 : NoneType = prim::Constant[value=None]()
  %3 : Tensor = aten::clamp(%x, %1, %2)
  return (%3)""", text


def test_constant_propagation_folds_the_op_once_the_dtype_is_constant():
    def eps_of(d: torch.dtype) -> float:
        return torch.finfo(d).eps

    def caller(x):
        return x + eps_of(torch.bfloat16)

    s = matches_eager(caller, (torch.zeros(2),))
    text = str(s.graph)
    assert "prim::finfo" not in text and "0.0078125" in text, text


class DtypeAttribute(nn.Module):
    def __init__(self):
        super().__init__()
        self.dtype = torch.float64

    def forward(self, x):
        return x.clamp(min=torch.finfo(self.dtype).tiny), torch.iinfo(torch.int16).max


def test_freezing_folds_the_op_of_a_dtype_attribute():
    s = torchkiln.script(DtypeAttribute().eval())
    assert "prim::finfo_tiny(" in str(s.graph)
    frozen = torchkiln.freeze(s)
    assert "prim::finfo_tiny(" not in str(frozen.graph) and "2.2250738585072014e-308" in str(frozen.graph), frozen.graph
    x = torch.tensor([0.0, 1.0], dtype=torch.float64)
    assert same(frozen(x), DtypeAttribute()(x))


def attention(q, k, mask):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    return scores.softmax(-1)


def test_attention_mask_pattern():
    torch.manual_seed(0)
    mask = torch.tensor([[True, True, False], [True, False, False]])
    sets = [(torch.randn(2, 4, dtype=d), torch.randn(3, 4, dtype=d), mask) for d in (torch.float32, torch.float64, torch.bfloat16)]
    matches_eager(attention, *sets)


def clamp_eps(x):
    return x.clamp(min=torch.finfo(x.dtype).eps)


def test_clamp_eps_pattern():
    matches_eager(clamp_eps, *[(torch.tensor([0.0, 1e-9, 3.0], dtype=d),) for d in FLOATS])


def default_finfo(x):
    fi = torch.finfo()
    return x.clamp(max=fi.max), fi.bits, fi.dtype, torch.get_default_dtype()


def test_finfo_without_a_dtype_reads_the_default_dtype_at_run_time():
    s = matches_eager(default_finfo, (torch.tensor([1e39]),))
    assert "prim::get_default_dtype()" in str(s.graph)


def raises_everywhere(fn, inputs, exc_type):
    """Every executor raises what eager raises: the class and the message."""
    with pytest.raises(exc_type) as eager:
        fn(*inputs)
    s = scripted(fn)
    for name in EXECUTORS:
        with pytest.raises(exc_type) as got:
            ScriptFunction(s._kiln_unit, s._kiln_fn, executor=name)(*inputs)
        assert type(got.value) is type(eager.value) and str(got.value) == str(eager.value), (name, got.value, eager.value)
    return str(eager.value)


def finfo_eps(x):
    return torch.finfo(x.dtype).eps


def iinfo_max(x):
    return torch.iinfo(x.dtype).max


def iinfo_bits(d: torch.dtype) -> int:
    return torch.iinfo(d).bits


def finfo_min(d: torch.dtype) -> float:
    return torch.finfo(d).min


def test_wrong_kind_of_dtype_at_run_time():
    message = raises_everywhere(finfo_eps, (torch.zeros(2, dtype=torch.int32),), TypeError)
    assert message == "torch.finfo() requires a floating point input type. Use torch.iinfo to handle 'torch.finfo'"
    message = raises_everywhere(iinfo_max, (torch.zeros(2),), TypeError)
    assert message == "torch.iinfo() requires an integer input type. Use torch.finfo to handle 'torch.iinfo'"
    assert raises_everywhere(iinfo_bits, (torch.bool,), TypeError) == "torch.bool is not supported by torch.iinfo"
    raises_everywhere(finfo_min, (torch.bool,), TypeError)


def test_fields_torch_lacks_raise_not_implemented():
    message = raises_everywhere(finfo_min, (torch.float4_e2m1fn_x2,), NotImplementedError)
    assert message == "\"lowest\" not implemented for 'Float4_e2m1fn_x2'"


# -- refusals ----------------------------------------------------------------------------------


def returns_finfo(x):
    return torch.finfo(x.dtype)


def stores_finfo(x):
    infos = [torch.finfo(x.dtype)]
    return x


def unknown_field(x):
    return torch.finfo(x.dtype).foo


def iinfo_has_no_eps(x):
    return torch.iinfo(x.dtype).eps


def constant_of_wrong_kind(x):
    return x + torch.finfo(torch.int32).eps


def bool_iinfo(x):
    return x + torch.iinfo(torch.bool).max


def uint64_max(x):
    return x + torch.iinfo(torch.uint64).max


def finfo_of_tensor_arg(x):
    return torch.finfo(x).max


def iinfo_without_dtype(x):
    return x + torch.iinfo().max


@pytest.mark.parametrize("fn, needle, words", [
    (returns_finfo, "torch.finfo(x.dtype)", "a torch.finfo object cannot be used as a value"),
    (stores_finfo, "torch.finfo(x.dtype)", "a torch.finfo object cannot be used as a value"),
    (unknown_field, "torch.finfo(x.dtype).foo", "torch.finfo has no attribute 'foo'"),
    (iinfo_has_no_eps, "torch.iinfo(x.dtype).eps", "torch.iinfo has no attribute 'eps'"),
    (constant_of_wrong_kind, "torch.finfo(torch.int32)", "torch.finfo() requires a floating point input type"),
    (bool_iinfo, "torch.iinfo(torch.bool)", "torch.bool is not supported by torch.iinfo"),
    (uint64_max, "torch.iinfo(torch.uint64).max", "does not fit in a script int"),
    (finfo_of_tensor_arg, "torch.finfo(x)", "torch.finfo() takes a dtype, not Tensor"),
    (iinfo_without_dtype, "torch.iinfo()", "torch.iinfo() needs a dtype"),
])  # fmt: skip
def test_refusals(fn, needle, words):
    message = refused(fn)
    assert words in message, message
    assert f'File "{__file__}", line {line_of(fn, needle)},' in message, message
    assert needle in message and "^" in message, message


# -- modules, archives, the C++ runtime ------------------------------------------------------------


class MaskedAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(4, 4)

    def forward(self, x, mask, counts):
        scores = self.proj(x) @ x.transpose(-2, -1)
        scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
        weights = scores.softmax(-1).clamp(min=torch.finfo(x.dtype).eps)
        return weights, counts.clamp(max=torch.iinfo(counts.dtype).max - 1), torch.finfo(torch.float16).max


def test_module_saved_loaded_and_run_by_the_cpp_runtime(tmp_path):
    torch.manual_seed(0)
    m = MaskedAttention().eval()
    s = torchkiln.script(m)
    x = torch.randn(3, 4)
    mask = torch.tensor([[True, False, True], [True, True, False], [False, False, True]])
    counts = torch.tensor([0, 126, 127], dtype=torch.int8)
    with torch.no_grad():
        expected = m(x, mask, counts)
        assert same(s(x, mask, counts), expected)
        path = tmp_path / "attention.pt"
        torchkiln.save(s, str(path))
        loaded = torchkiln.load(str(path))
        assert "prim::finfo_min(" in str(loaded.graph) and "prim::iinfo_max(" in str(loaded.graph)
        for name in EXECUTORS:
            assert same(loaded.with_executor(name)(x, mask, counts), expected), name
    status, value = cpp_runtime.run(cpp_runtime.build(), path, [x, mask, counts])
    assert status == "ok", value
    assert cpp_runtime.same(value, expected)
