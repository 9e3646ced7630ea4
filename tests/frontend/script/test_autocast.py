"""`with torch.autocast(...)` in script (Note [Autocast in script] in torchkiln/ops/lang.py).

On CPU, autocast's dtype is bfloat16. Every program is compared with eager on
each executor (generated Python, the interpreter, C++; torchkiln-run replays
the calls), dtypes included; the autocast state after a call must be the one
before it, on every way out.
"""
from typing import Optional, Tuple
import warnings

import pytest
import torch
import torch.nn as nn

import torchkiln
from torchkiln import CompileError, cpp_executor

from .script_testing import EXECUTORS, matches_eager, same, scripted
from .test_errors import line_of

needs_cpp = pytest.mark.skipif(not cpp_executor.available(), reason="torchkiln._C is not built")


def autocast_state() -> Tuple[bool, torch.dtype, bool, int]:
    """CPU autocast's flag and dtype, the cache flag and the nesting."""
    nesting = torch.autocast_increment_nesting() - 1
    torch.autocast_decrement_nesting()
    return torch.is_autocast_enabled("cpu"), torch.get_autocast_dtype("cpu"), torch.is_autocast_cache_enabled(), nesting


INITIAL = (False, torch.bfloat16, True, 0)


@pytest.fixture(autouse=True)
def _state_is_restored():
    assert autocast_state() == INITIAL
    yield
    assert autocast_state() == INITIAL


def xw():
    torch.manual_seed(0)
    return torch.randn(4, 5), torch.randn(5, 3)


# -- the block -------------------------------------------------------------------------------------


def inside_and_outside(x: torch.Tensor, w: torch.Tensor):
    a = x @ w
    with torch.autocast("cpu", dtype=torch.bfloat16):
        b = x @ w
        c = torch.nn.functional.linear(x, w.t())
        enabled = torch.is_autocast_enabled("cpu")
    d = x @ w
    return a, b, c, d, enabled, torch.is_autocast_enabled("cpu")


def test_matmul_inside_the_block_is_bfloat16():
    s = matches_eager(inside_and_outside, xw())
    a, b, c, d, enabled, after = s(*xw())
    assert (a.dtype, b.dtype, c.dtype, d.dtype) == (torch.float32, torch.bfloat16, torch.bfloat16, torch.float32)
    assert enabled and not after


def merged_unless_barrier(x: torch.Tensor, w: torch.Tensor):
    a = x @ w
    with torch.autocast("cpu"):
        b = x @ w
        k = torch.full((2, 2), 1.1) @ torch.full((2, 2), 1.3)  # constant inputs: folding would give float32
    return (a - b.float()).abs().sum(), a.dtype, b.dtype, k


def test_the_same_op_inside_and_outside_is_not_merged_or_folded():
    s = matches_eager(merged_unless_barrier, xw())
    diff, a, b, k = s(*xw())
    assert (a, b, k.dtype) == (torch.float32, torch.bfloat16, torch.bfloat16)
    assert diff > 0
    assert sum(n.kind == "aten::matmul" for n in s.graph.walk()) == 3


def nested(x: torch.Tensor, w: torch.Tensor):
    with torch.autocast("cpu"):
        a = x @ w
        with torch.autocast("cpu", enabled=False):
            b = x @ w
            with torch.autocast("cpu", dtype=torch.float16):
                c = x @ w
            e = x @ w
        f = x @ w
    return a, b, c, e, f


def test_nested_blocks_and_enabled_false():
    s = matches_eager(nested, xw())
    assert [t.dtype for t in s(*xw())] == [torch.bfloat16, torch.float32, torch.float16, torch.float32, torch.bfloat16]


def runtime_arguments(x: torch.Tensor, w: torch.Tensor, on: bool, dtype: Optional[torch.dtype], cache: Optional[bool]):
    with torch.autocast("cpu", dtype=dtype, enabled=on, cache_enabled=cache):
        y = x @ w
        inner = torch.get_autocast_dtype("cpu")
    return y, inner


def test_enabled_dtype_and_cache_flag_may_be_runtime_values():
    x, w = xw()
    s = matches_eager(runtime_arguments, (x, w, True, None, None), (x, w, False, None, True), (x, w, True, torch.float16, False), (x, w, False, torch.float16, None))
    assert s(x, w, True, torch.float16, None)[0].dtype == torch.float16


# -- ways out ----------------------------------------------------------------------------------------


def early_return(x: torch.Tensor, w: torch.Tensor, k: int):
    for i in range(3):
        with torch.autocast("cpu"):
            if i == k:
                return x @ w
            if k < 0:
                break
    return x @ w


@pytest.mark.parametrize("executor", EXECUTORS)
def test_return_and_break_inside_the_block_leave_it(executor):
    x, w = xw()
    s = matches_eager(early_return, (x, w, 1), (x, w, -1), (x, w, 5)).with_executor(executor)
    assert s(x, w, 1).dtype == torch.bfloat16
    assert autocast_state() == INITIAL
    assert s(x, w, -1).dtype == torch.float32
    assert autocast_state() == INITIAL


def raises_inside(x: torch.Tensor, w: torch.Tensor, k: int) -> torch.Tensor:
    with torch.autocast("cpu"):
        y = x @ w
        with torch.autocast("cpu", enabled=False):
            if k == 1:
                raise ValueError("raised in the inner block")
        for i in range(3):
            with torch.autocast("cpu", dtype=torch.float16, cache_enabled=False):
                if i == k - 2:
                    raise IndexError("raised in a loop")
        if k == 9:
            y = torch.mm(y, y)  # an op error: the shapes do not match
    return y


def autocast_callee(x: torch.Tensor, k: int) -> torch.Tensor:
    with torch.autocast("cpu", dtype=torch.float16):
        if k == 1:
            raise ValueError("raised in a callee")
        return x @ x.t()


def calls_raising_callee(x: torch.Tensor, k: int) -> torch.Tensor:
    with torch.autocast("cpu"):
        return autocast_callee(x, k)


@pytest.mark.parametrize("executor", EXECUTORS)
def test_an_exception_leaves_the_blocks_as_python_does(executor):
    x, w = xw()
    s = scripted(raises_inside).with_executor(executor)
    assert s(x, w, 0).dtype == torch.bfloat16
    for k, exc in ((1, ValueError), (2, IndexError), (4, IndexError), (9, RuntimeError)):
        with pytest.raises(exc):
            raises_inside(x, w, k)
        assert autocast_state() == INITIAL
        with pytest.raises(exc):
            s(x, w, k)
        assert autocast_state() == INITIAL, f"k={k}: the {executor} executor left autocast state behind"
    # Inside an eager block, the state after the exception is that block's.
    with torch.autocast("cpu", dtype=torch.float16, cache_enabled=False):
        outer = autocast_state()
        with pytest.raises(IndexError):
            s(x, w, 3)
        assert autocast_state() == outer
    c = scripted(calls_raising_callee).with_executor(executor)
    assert c(x, 0).dtype == torch.float16
    with pytest.raises(ValueError, match="raised in a callee"):
        c(x, 1)
    assert autocast_state() == INITIAL


# -- spellings ---------------------------------------------------------------------------------------


def amp_spelling(x: torch.Tensor, w: torch.Tensor):
    with torch.amp.autocast("cpu"):
        a = x @ w
    with torch.autocast(device_type="cpu", dtype=torch.float16, enabled=True, cache_enabled=False):
        b = x @ w
    return a, b


def cpu_amp_spelling(x: torch.Tensor, w: torch.Tensor):
    with torch.cpu.amp.autocast():
        a = x @ w
    with torch.cpu.amp.autocast(True, torch.float16):
        b = x @ w
    with torch.cpu.amp.autocast(enabled=False):
        c = x @ w
    return a, b, c


def cuda_spellings(x: torch.Tensor, w: torch.Tensor):
    with torch.cuda.amp.autocast():
        a = x @ w
        on = torch.is_autocast_enabled()
    with torch.autocast("cuda"):
        b = x @ w
    return a, b, on


def test_torch_amp_autocast():
    s = matches_eager(amp_spelling, xw())
    assert [t.dtype for t in s(*xw())] == [torch.bfloat16, torch.float16]


def test_torch_cpu_amp_autocast_warns_as_deprecated_when_compiled():
    with pytest.warns(FutureWarning, match=r"torch.cpu.amp.autocast\(args...\)` is deprecated"):
        scripted(cpu_amp_spelling)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        s = matches_eager(cpu_amp_spelling, xw())
    assert [t.dtype for t in s(*xw())] == [torch.bfloat16, torch.float16, torch.float32]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the warning of a build without CUDA")
@pytest.mark.parametrize("executor", EXECUTORS)
def test_cuda_autocast_without_cuda_warns_and_is_disabled(executor):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        s = scripted(cuda_spellings).with_executor(executor)
    x, w = xw()
    with pytest.warns(UserWarning, match="CUDA is not available or torch_xla is imported. Disabling autocast.") as caught:
        a, b, on = s(x, w)
    assert sum("Disabling autocast" in str(c.message) for c in caught) == 2
    assert (a.dtype, b.dtype, on) == (torch.float32, torch.float32, False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert same(cuda_spellings(x, w), (a, b, on))


def unsupported_dtype(x: torch.Tensor, w: torch.Tensor):
    with torch.autocast("cpu", dtype=torch.float32):
        y = x @ w
        on = torch.is_autocast_enabled("cpu")
    return y, on


@pytest.mark.parametrize("executor", EXECUTORS)
def test_an_unsupported_dtype_warns_and_disables_as_in_python(executor):
    s = scripted(unsupported_dtype).with_executor(executor)
    message = "In CPU autocast, but the target dtype is not supported. Disabling autocast.\nCPU Autocast only supports dtypes of torch.bfloat16, torch.float16 currently."
    with pytest.warns(UserWarning) as eager_caught:
        expected = unsupported_dtype(*xw())
    with pytest.warns(UserWarning) as caught:
        got = s(*xw())
    assert same(got, expected) and got[0].dtype == torch.float32 and not got[1]
    assert [str(c.message) for c in caught] == [str(c.message) for c in eager_caught] == [message]


# -- modules, save and load, the C++ runtime ---------------------------------------------------------


class Mixed(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(5, 8)
        self.fc2 = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor, fast: bool) -> Tuple[torch.Tensor, torch.Tensor]:
        with torch.autocast("cpu", enabled=fast):
            h = torch.relu(self.fc1(x))
            y = self.fc2(h)
        return y, y.float().softmax(-1)


@needs_cpp
def test_a_saved_module_runs_in_cpp_with_the_same_dtypes(tmp_path):
    torch.manual_seed(0)
    m = Mixed().eval()
    s = torchkiln.script(m)
    path = tmp_path / "mixed.pt"
    torchkiln.save(s, str(path))
    x = torch.randn(6, 5)
    loaded = torchkiln.load(str(path))
    assert type(loaded.forward._call).__name__ == "Call"  # the C++ executor's
    assert loaded(x, True)[0].dtype == torch.bfloat16
    for executor in EXECUTORS:
        for run in (s.with_executor(executor), loaded.with_executor(executor)):
            for fast in (True, False):
                assert same(run(x, fast), m(x, fast)), (executor, fast)
                assert autocast_state() == INITIAL


# -- tracing -------------------------------------------------------------------------------------------


def traced_body(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    with torch.autocast("cpu"):
        y = x @ w
    return y + 1


def test_trace_refuses_an_autocast_block_inside_the_traced_code():
    # The trace's function-level recorder sees `x @ w` before autocast casts it:
    # a block entered inside the traced code would be lost. Script keeps the block.
    x, w = xw()
    with pytest.raises(torchkiln.Error, match="trace cannot record .* under a torch.autocast block entered inside the traced code"):
        torchkiln.trace(traced_body, (x, w))
    assert autocast_state() == INITIAL
    s = matches_eager(traced_body, (x, w))
    assert s(x, w).dtype == torch.bfloat16


def matmul_relu(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return torch.relu(x @ w) + 1


@pytest.mark.parametrize("executor", ["python", "interpreter", "cpp"])
def test_trace_inside_autocast_runs_in_that_autocast(executor, tmp_path):
    # Note [Tracing under autocast]: the graph enters the trace's autocast state, as
    # torch.jit.trace's recorded casts do; the result is bfloat16 wherever it is called.
    x, w = xw()
    with torch.autocast("cpu", dtype=torch.bfloat16, cache_enabled=False):
        t = torchkiln.trace(matmul_relu, (x, w), executor=executor)
        j = torch.jit.trace(matmul_relu, (x, w))
        inside = t(x, w)
    outside = t(x, w)
    assert autocast_state() == INITIAL
    assert inside.dtype == outside.dtype == torch.bfloat16
    assert torch.equal(outside, j(x, w)) and torch.equal(inside, outside)
    path = str(tmp_path / "t.pt")
    torchkiln.save(t, path)
    assert torch.equal(torchkiln.load(path)(x, w), outside)


# -- refused forms ---------------------------------------------------------------------------------------


def with_as(x: torch.Tensor):
    with torch.autocast("cpu") as ac:
        return x + 1


def computed_device(x: torch.Tensor, device: str):
    with torch.autocast(device):
        return x + 1


def meta_device(x: torch.Tensor):
    with torch.autocast("meta"):
        return x + 1


def unknown_device(x: torch.Tensor):
    with torch.autocast("tpu"):
        return x + 1


def bad_keyword(x: torch.Tensor):
    with torch.autocast("cpu", fast_dtype=torch.float16):
        return x + 1


def bad_enabled(x: torch.Tensor):
    with torch.autocast("cpu", enabled="yes"):
        return x + 1


@pytest.mark.parametrize("fn, needle, message", [
    (with_as, "as ac", "`with ... as name` is not supported"),
    (computed_device, "torch.autocast(device)", "torch.autocast() needs a constant device type string in script"),
    (meta_device, '"meta"', "User specified an unsupported autocast device_type 'meta'"),
    (unknown_device, '"tpu"', "Expected one of cpu, cuda"),
    (bad_keyword, "fast_dtype", "torch.autocast() has no argument 'fast_dtype'"),
    (bad_enabled, '"yes"', "torch.autocast() argument 'enabled' must be bool, not str"),
])  # fmt: skip
def test_refused_forms_are_located_compile_errors(fn, needle, message):
    with pytest.raises(CompileError) as info:
        torchkiln.script(fn)
    text = str(info.value)
    assert message in text
    assert f'File "{__file__}", line {line_of(fn, needle)},' in text, text


# -- CUDA ----------------------------------------------------------------------------------------------


def cuda_block(x: torch.Tensor, w: torch.Tensor):
    with torch.autocast("cuda"):
        a = x @ w
        with torch.autocast("cuda", dtype=torch.bfloat16):
            b = x @ w
    return a, b, x @ w


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_autocast_gives_float16():
    x, w = (t.cuda() for t in xw())
    s = matches_eager(cuda_block, (x, w))
    assert [t.dtype for t in s(x, w)] == [torch.float16, torch.bfloat16, torch.float32]
