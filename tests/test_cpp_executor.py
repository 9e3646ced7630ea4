"""The C++ executor (torchkiln/cpp_executor.py, torchkiln/csrc/python): same results as
the Python executor for scripted, traced and loaded programs; module state shared
with Python; errors mapped; GIL released; concurrent callers."""
import io
import re
import subprocess
import sys
import threading
import time
import warnings
from typing import Dict, List, NamedTuple, Optional, Tuple

import pytest
import torch
import torch.nn as nn

import torchkiln
from torchkiln import api, cpp_executor
from torchkiln.diagnostics import ArgumentError

pytestmark = pytest.mark.skipif(not cpp_executor.available(), reason="torchkiln._C is not built")


def same(a, b):
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return type(b) is dict and list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def on_cpp(obj):
    """`obj`'s compiled callable for forward is the C++ executor's."""
    call = obj._call if isinstance(obj, api.ScriptFunction) else obj.forward._call
    return type(call).__name__ == "Call"


def both(obj):
    """(cpp, python) versions of a ScriptFunction; a ScriptModule is deep-copied for python."""
    import copy

    if isinstance(obj, api.ScriptFunction):
        return obj.with_executor("cpp"), obj.with_executor("python")
    return obj.with_executor("cpp"), copy.deepcopy(obj).with_executor("python")


def check_same(cpp, py, *args):
    want = py(*args)
    got = cpp(*args)
    assert same(got, want), (got, want)
    return got


# -- programs ------------------------------------------------------------------------


class Pair(NamedTuple):
    total: torch.Tensor
    count: int


def containers(xs: List[torch.Tensor], scale: Optional[float], names: Dict[str, int]) -> Tuple[torch.Tensor, int, List[int]]:
    total = torch.zeros(2)
    for x in xs:
        total = total + x
    if scale is not None:
        total = total * scale
    count = 0
    keys: List[int] = []
    for k in names.keys():
        count += names[k]
        keys.append(len(k))
    return total, count + len(xs), keys


def loops(x: torch.Tensor, n: int) -> torch.Tensor:
    i = 0
    while i < n:
        if bool(x.sum() > 100.0):
            break
        x = x * 2.0 + 1.0
        i += 1
    return x


def named(x: torch.Tensor, d: Dict[str, torch.Tensor]) -> Pair:
    t = x.clone()
    for k, v in d.items():
        t = t + v
    return Pair(t, len(d))


def dtypes(x: torch.Tensor) -> Tuple[torch.dtype, torch.device, str, float, bool]:
    return x.dtype, x.device, "s" + str(x.dim()), float(x.sum()), bool(x.numel() > 2)


def checks(x: torch.Tensor, k: int) -> torch.Tensor:
    if k < 0:
        raise ValueError("negative k")
    assert k != 3, "k is three"
    if k == 4:
        raise KeyError("four")
    return x[k]


class Gate(nn.Module):
    def forward(self, x):
        if x.sum() > 0:
            return x
        return -x


class Cell(nn.Module):
    def __init__(self):
        super().__init__()
        self.gate = Gate()
        self.linear = nn.Linear(4, 4)
        self.register_buffer("offset", torch.arange(4.0))
        self.scale = 0.5

    def forward(self, x, h: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        y = self.gate(self.linear(x)) * self.scale + self.offset
        if h is not None:
            y = y + h
        if self.training:
            y = y * 2.0
        return torch.tanh(y), y

    @torch.jit.export
    def scaled(self, x: torch.Tensor, times: List[int]) -> List[torch.Tensor]:
        return [x * t for t in times]


class Counter(nn.Module):
    history: List[int]

    def __init__(self):
        super().__init__()
        self.count = 0
        self.history = []

    def forward(self, x):
        self.count += 1
        self.history.append(self.count)
        return x + self.count


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        x = torch.relu(self.bn(self.conv(x)))
        return self.fc(x.mean(dim=(2, 3)))


# -- functions -----------------------------------------------------------------------


@pytest.mark.parametrize("fn, args", [
    (containers, ([torch.ones(2), torch.full((2,), 3.0)], 0.5, {"a": 1, "bb": 2})),
    (containers, ([], None, {})),
    (loops, (torch.ones(3), 3)),
    (loops, (torch.ones(3), 50)),
    (named, (torch.ones(2), {"a": torch.ones(2), "b": torch.full((2,), 2.0)})),
    (dtypes, (torch.ones(2, 3, dtype=torch.float64),)),
])  # fmt: skip
def test_scripted_functions_agree(fn, args):
    s = torchkiln.script(fn)
    cpp, py = both(s)
    assert on_cpp(cpp) and not on_cpp(py)
    got = check_same(cpp, py, *args)
    if fn is named:
        assert type(got) is type(py(*args))  # the same namedtuple class


def test_default_executor_is_cpp():
    assert api.get_executor().name == "cpp"
    assert on_cpp(torchkiln.script(loops))


def py_key_error(py, x):
    try:
        py(x, 4)
    except KeyError as e:
        return e
    raise AssertionError("no KeyError")


def test_errors_map_to_python_exceptions():
    cpp, py = both(torchkiln.script(checks))
    x = torch.arange(6.0)
    assert same(cpp(x, 2), py(x, 2))
    for k, exc, text in [(-1, ValueError, "negative k"), (3, AssertionError, "k is three"), (4, KeyError, "four"), (9, IndexError, "out of range")]:
        for f in (cpp, py):
            with pytest.raises(exc, match=text):
                f(x, k)
    with pytest.raises(ValueError) as info:
        cpp(x, -1)
    assert str(info.value) == "negative k"  # the message alone, as the Python executor raises it
    notes = "\n".join(info.value.__notes__)  # the program's traceback
    assert "checks" in notes and "raise ValueError" in notes
    with pytest.raises(KeyError) as key_info:
        cpp(x, 4)
    assert key_info.value.args == py_key_error(py, x).args
    with pytest.raises(ArgumentError):
        cpp(x, "two")
    with pytest.raises(TypeError):
        cpp(x)


def test_op_failure_is_runtime_error():
    @torchkiln.script
    def mm(a, b):
        return a @ b

    with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):
        mm(torch.ones(2, 3), torch.ones(2, 3))


def test_traced_function_and_module_agree():
    def f(x, y):
        return torch.relu(x @ y.t()) + 1

    torch.manual_seed(0)
    x, y = torch.randn(3, 4), torch.randn(5, 4)
    cpp, py = both(torchkiln.trace(f, (x, y)))
    assert on_cpp(cpp)
    check_same(cpp, py, x, y)

    net = Net().eval()
    img = torch.randn(2, 3, 8, 8)
    cpp, py = both(torchkiln.trace(net, img))
    assert on_cpp(cpp)
    with torch.no_grad():
        got = check_same(cpp, py, img)
        torch.testing.assert_close(got, net(img))


def test_scripted_module_agrees_and_methods():
    torch.manual_seed(0)
    cell = Cell()
    cpp, py = both(torchkiln.script(cell))
    assert on_cpp(cpp)
    x, h = torch.randn(3, 4), torch.randn(3, 4)
    for args in [(x,), (x, h), (-x * 10, None)]:
        check_same(cpp, py, *args)
    check_same(cpp.scaled, py.scaled, x, [1, 2, 3])
    check_same(cpp.scaled, py.scaled, x, [])
    with torch.no_grad():
        torch.testing.assert_close(cpp(x, h)[0], cell(x, h)[0])


def test_loaded_module_and_function_agree(tmp_path):
    torch.manual_seed(0)
    s = torchkiln.script(Cell().eval())
    path = tmp_path / "cell.pt"
    torchkiln.save(s, str(path))
    loaded = torchkiln.load(str(path))
    assert on_cpp(loaded)
    x = torch.randn(2, 4)
    check_same(loaded, s.with_executor("python"), x, x)

    buf = io.BytesIO()
    torchkiln.save(torchkiln.script(containers), buf)
    buf.seek(0)
    lf = torchkiln.load(buf)
    assert on_cpp(lf)
    check_same(lf, lf.with_executor("python"), [torch.ones(2)], 2.0, {"x": 3})


# -- module state shared with Python ---------------------------------------------------------


def test_in_place_parameter_updates_are_seen():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    m = torchkiln.script(net)
    x = torch.randn(5, 4)
    m(x)  # built
    with torch.no_grad():
        getattr(m, "0").weight.mul_(2.0)
        getattr(m, "2").bias.add_(1.0)
    torch.testing.assert_close(m(x), net(x))
    # load_state_dict copies in place
    other = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    m.load_state_dict(other.state_dict())
    torch.testing.assert_close(m(x), other(x))
    # an optimizer step
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    loss = m(x).pow(2).sum()
    loss.backward()
    first, last = getattr(m, "0"), getattr(m, "2")
    assert first.weight.grad is not None  # autograd runs through the C++ interpreter
    opt.step()
    with torch.no_grad():
        want = torch.relu(x @ first.weight.t() + first.bias) @ last.weight.t() + last.bias
    torch.testing.assert_close(m(x), want)


def test_to_float64_and_assignments_are_seen():
    torch.manual_seed(0)
    import copy

    cell = Cell().eval()
    m = torchkiln.script(copy.deepcopy(cell))
    x = torch.randn(3, 4)
    m(x)
    m.to(torch.float64)
    y, _ = m(x.double())
    assert y.dtype == torch.float64
    torch.testing.assert_close(y, cell.to(torch.float64)(x.double())[0])
    # a new Parameter, a new buffer value, a plain attribute
    m.linear.weight = nn.Parameter(torch.eye(4, dtype=torch.float64))
    m.offset = torch.zeros(4, dtype=torch.float64)
    m.scale = 2.0
    py = m.with_executor("python")
    want = py(x.double())
    m.with_executor("cpp")
    assert same(m(x.double()), want)
    # a submodule replaced by another of the same class
    m.gate = torchkiln.script(Gate()).to(torch.float64)
    assert same(m(x.double()), want)


def test_submodule_of_another_class_rebuilds():
    class Neg(nn.Module):
        def forward(self, x):
            return -x

    class Holder(nn.Module):
        def __init__(self, inner: nn.Module):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return self.inner(x) + 1

    a = torchkiln.script(Holder(Gate()))
    x = torch.full((2,), -3.0)
    assert same(a(x), torch.full((2,), 4.0))
    b = torchkiln.script(Holder(Neg()))
    assert same(b(x), torch.full((2,), 4.0))


def test_train_eval_flips():
    torch.manual_seed(0)
    cell = Cell()
    m = torchkiln.script(cell)
    x = torch.randn(2, 4)
    with torch.no_grad():
        a = m(x)[1]
        m.eval()
        b = m(x)[1]
        m.train()
        c = m(x)[1]
        torch.testing.assert_close(a, 2.0 * b)
        torch.testing.assert_close(a, c)
        torch.testing.assert_close(b, cell.eval()(x)[1])

    net = Net()
    mn = torchkiln.script(net)
    img = torch.randn(4, 3, 6, 6)
    with torch.no_grad():
        mn.train()
        mn(img)  # updates running stats through the shared buffers
        torch.testing.assert_close(mn.bn.running_mean, net.bn.running_mean)
        assert int(mn.bn.num_batches_tracked) == 1
        mn.eval()
        torch.testing.assert_close(mn(img), net.eval()(img))


def test_attribute_assignments_sync_back():
    c = torchkiln.script(Counter())
    p = torchkiln.script(Counter()).with_executor("python")
    for _ in range(3):
        assert same(c(torch.zeros(1)), p(torch.zeros(1)))
    assert c.count == p.count == 3
    assert c.history == p.history == [1, 2, 3]
    c.count = 10
    assert same(c(torch.zeros(1)), torch.full((1,), 11.0))
    assert c.history == [1, 2, 3, 11]


class Attributes(nn.Module):
    sizes: List[int]
    table: Dict[str, int]
    pair: Tuple[int, str]
    mask: Optional[torch.Tensor]

    def __init__(self):
        super().__init__()
        self.sizes = [1, 2, 3]
        self.table = {"a": 1}
        self.pair = (4, "x")
        self.mask = None
        self.dt = torch.float64
        self.dev = torch.device("cpu")
        self.name = "nm"
        self.scale = 1.5
        self.ts = [torch.ones(2), torch.zeros(2)]

    def forward(self, x):
        y = x.to(self.dt) * self.scale + sum(self.sizes) + self.table["a"] + self.pair[0]
        m = self.mask
        if m is not None:
            y = y * m
        y = y + self.ts[0]
        return y.to(self.dev), self.name, self.dt


def test_attributes_of_every_kind_and_their_reassignment():
    import copy

    m = torchkiln.script(Attributes())
    py = copy.deepcopy(m).with_executor("python")
    x = torch.ones(2)
    check_same(m, py, x)
    for target in (m, py):
        target.mask = torch.full((2,), 2.0, dtype=torch.float64)
        target.sizes = [10]
        target.table = {"a": 5}
        target.name = "other"
        target.ts[0].add_(1.0)  # a tensor inside a list attribute, shared
    got = check_same(m, py, x)
    assert got[1] == "other"


def test_copies_and_directly_called_submodules():
    import copy

    torch.manual_seed(0)
    m = torchkiln.script(Cell().eval())
    x = torch.randn(2, 4)
    want = m.with_executor("python")(x)
    m.with_executor("cpp")
    assert same(m(x), want)
    twin = copy.deepcopy(m)
    assert same(twin(x), want) and on_cpp(twin)
    with torch.no_grad():
        twin.linear.weight.zero_()
    assert same(m(x), want)  # the copy has its own tensors and its own program
    assert not same(twin(x), want)
    assert same(m.gate(x), m.gate.with_executor("python")(x))


# -- fallback ------------------------------------------------------------------------


def printing(x):
    print("value", x.sum())
    return x + 1


def test_programs_the_runtime_cannot_run_fall_back(capsys):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = torchkiln.script(printing)
    assert any(issubclass(w.category, cpp_executor.CppFallbackWarning) for w in caught)
    assert same(s(torch.ones(2)), torch.full((2,), 2.0))
    assert "value" in capsys.readouterr().out


def test_module_the_runtime_cannot_run_falls_back():
    class Loud(nn.Module):
        def forward(self, x):
            print("forward")
            return x * 2

    m = torchkiln.script(Loud())
    with pytest.warns(cpp_executor.CppFallbackWarning):
        y = m(torch.ones(2))
    assert same(y, torch.full((2,), 2.0))
    assert same(m(torch.ones(2)), torch.full((2,), 2.0))  # now on the Python executor, no new warning


def test_without_the_extension_python_runs_with_a_warning(tmp_path):
    code = (
        "import sys, warnings\n"
        "sys.modules['torchkiln._C'] = None\n"
        "with warnings.catch_warnings(record=True) as w:\n"
        "    warnings.simplefilter('always')\n"
        "    import torch, torchkiln\n"
        "from torchkiln import api\n"
        "assert api.get_executor().name == 'python', api.get_executor().name\n"
        "assert len([x for x in w if 'Python executor' in str(x.message)]) == 1, [str(x.message) for x in w]\n"
        "f = torchkiln.trace(lambda x: x * 2, (torch.ones(2),))\n"
        "assert torch.equal(f(torch.ones(2)), torch.full((2,), 2.0))\n"
        "print('ok')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


# -- threads -------------------------------------------------------------------------


def test_concurrent_callers_on_one_module():
    torch.manual_seed(0)
    net = Net().eval()
    m = torchkiln.script(net)
    inputs = [torch.randn(2, 3, 8, 8) * (i - 4) for i in range(8)]
    with torch.no_grad():
        expected = [net(x) for x in inputs]
    errors: List[BaseException] = []
    checked = [0] * len(inputs)

    def work(i):
        try:
            with torch.no_grad():
                for _ in range(25):
                    torch.testing.assert_close(m(inputs[i]), expected[i])
                    checked[i] += 1
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    assert checked == [25] * len(inputs)


def spin(x: torch.Tensor, n: int) -> torch.Tensor:
    for _ in range(n):
        x = torch.sin(x) + 0.5
    return x


def test_gil_is_released_while_cpp_runs():
    f = torchkiln.script(spin)
    x = torch.ones(4)
    ticks = [0]
    started = threading.Event()
    stop = threading.Event()

    def counter():
        started.set()
        while not stop.is_set():
            ticks[0] += 1
            time.sleep(0)

    t = threading.Thread(target=counter)
    t.start()
    started.wait()
    try:
        # One call, long enough (tens of milliseconds) that a thread which
        # never gets the GIL while it runs is unmistakable.
        n = 40000
        before = ticks[0]
        y = f(x, n)
        after = ticks[0]
    finally:
        stop.set()
        t.join()
    assert after > before
    assert same(y, f.with_executor("python")(x, n))


# -- fast paths: functional ops below autograd, buffer reuse (docs/runtime.md) ----------


def pointwise_chain(x: torch.Tensor, y: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    a = x * y
    b = torch.tanh(a)
    c = b + y
    v = c.view(-1)  # a view of c: c's buffer must not be reused below
    d = torch.sigmoid(c)
    e = d - 0.5
    e = e * 2.0
    f = torch.exp(e) + 1.0
    return f, v


def kept_values(x: torch.Tensor) -> List[torch.Tensor]:
    out: List[torch.Tensor] = []
    h = x + 1.0
    for i in range(3):
        h = torch.tanh(h * 0.5)
        out.append(h)  # the list holds h: the next step must not write into it
        h = h + 0.25
    out.append(torch.sigmoid(h))
    return out


def mixed(x: torch.Tensor, i: torch.Tensor, big: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    a = torch.sigmoid(i * 1)        # a dying int tensor: sigmoid's result is float
    k = (i * 2) + 1                 # int in, int out: written into i * 2
    b = (x * 2.0) + big             # x * 2.0 dies, but the sum has big's larger shape
    c = (x * 3.0) > 0.5             # a comparison: a bool result
    d = (x * 1.0) + x.double()      # float + double: a double result
    e = torch.tanh(x.t() * 1.0)     # not contiguous
    return a, k, b, c, d, e


def reused(fn, *args) -> int:
    """How many results of `fn(*args)` the C++ runtime wrote into a dying input's buffer."""
    from torchkiln import _C

    before = _C._reused_buffers()
    fn(*args)
    return _C._reused_buffers() - before


@pytest.mark.parametrize("mode", ["no_grad", "inference", "grad"])
def test_buffer_reuse_keeps_results_inputs_and_views(mode):
    cpp = torchkiln.script(pointwise_chain).with_executor("cpp")
    assert on_cpp(cpp)
    x, y = torch.rand(4, 4), torch.rand(4, 4)
    x0, y0 = x.clone(), y.clone()
    ctx = {"no_grad": torch.no_grad, "inference": torch.inference_mode, "grad": torch.enable_grad}[mode]
    with ctx():
        want = pointwise_chain(x, y)
        first = cpp(x, y)
        first_copy = [t.clone() for t in first]
        second = cpp(x, y)
    assert same(list(first), list(want))
    assert same(list(second), list(want))
    assert torch.equal(x, x0) and torch.equal(y, y0)  # graph inputs are never written
    assert all(torch.equal(a, b) for a, b in zip(first, first_copy))  # results of a call stay as they were
    assert first[0].data_ptr() != second[0].data_ptr()
    assert first[0].is_inference() == (mode == "inference") and not first[0].requires_grad


def test_buffer_reuse_happens_and_skips_shared_values():
    cpp = torchkiln.script(pointwise_chain).with_executor("cpp")
    x, y = torch.rand(4, 4), torch.rand(4, 4)
    # Reused: tanh(a), b + y, e - 0.5, e * 2.0, exp(e), f + 1.0. Not: x * y (the
    # caller holds x and y), sigmoid(c) (the view v of c is alive).
    with torch.no_grad():
        assert reused(cpp, x, y) == 6
    with torch.inference_mode():
        assert reused(cpp, x, y) == 6
    assert reused(cpp, x, y) == 0  # grad mode: functional ops as they are
    lst = torchkiln.script(kept_values).with_executor("cpp")
    x = torch.rand(8, 8)
    with torch.no_grad():
        assert same(lst(x), kept_values(x))
        # h * 0.5 and (in the loop) h + 0.25 and tanh(...): not the h a list holds
        assert reused(lst, x) == 3 * 2 + 1


def test_buffer_reuse_only_where_the_result_fits():
    cpp = torchkiln.script(mixed).with_executor("cpp")
    x, i, big = torch.rand(4, 4), torch.arange(16).reshape(4, 4), torch.rand(3, 4, 4)
    for ctx in (torch.no_grad, torch.inference_mode):
        with ctx():
            got, want = cpp(x, i, big), mixed(x, i, big)
            assert same(list(got), list(want))
            assert got[5].stride() == want[5].stride()
            assert reused(cpp, x, i, big) == 1  # (i * 2) + 1 only


class Scaled(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.rand(4))
        self.register_buffer("b", torch.rand(4))

    def forward(self, x):
        w = self.w * 1.0        # a fresh tensor: reusable
        return torch.tanh(self.b + 0.0) + torch.sigmoid(self.w) + w * x


def test_parameters_and_buffers_are_never_written():
    m = Scaled()
    cpp = torchkiln.script(m).with_executor("cpp")
    w0, b0 = m.w.detach().clone(), m.b.clone()
    x = torch.rand(4)
    with torch.no_grad():
        assert same(cpp(x), m(x))
        assert same(cpp(x), m(x))
    assert torch.equal(m.w.detach(), w0) and torch.equal(m.b, b0)
    y = cpp(x)  # grad mode: autograd records as usual
    assert y.requires_grad and y.grad_fn is not None
    y.sum().backward()
    w = m.w.detach().clone().requires_grad_(True)
    (torch.tanh(m.b) + torch.sigmoid(w) + w * x).sum().backward()
    assert torch.allclose(m.w.grad, w.grad)


def test_forward_mode_tangents_survive_no_grad():
    import torch.autograd.forward_ad as fwAD

    cpp = torchkiln.script(pointwise_chain).with_executor("cpp")
    x, y, t = torch.rand(3, 3), torch.rand(3, 3), torch.rand(3, 3)
    with fwAD.dual_level(), torch.no_grad():
        got = fwAD.unpack_dual(cpp(fwAD.make_dual(x, t), y)[0]).tangent
        want = fwAD.unpack_dual(pointwise_chain(fwAD.make_dual(x, t), y)[0]).tangent
    assert got is not None and torch.allclose(got, want)


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(16, 8)
        self.cell = nn.GRUCell(8, 8)
        self.out = nn.Linear(8, 16)

    def forward(self, h: torch.Tensor, start: int, steps: int) -> torch.Tensor:
        token = torch.full([h.size(0)], start, dtype=torch.long)
        tokens = []
        for _ in range(steps):
            h = self.cell(self.embed(token), h)
            token = self.out(h).argmax(dim=1)
            tokens.append(token)
        return torch.stack(tokens, dim=1)


def test_composite_ops_below_autograd_give_normal_tensors():
    m = Decoder().eval()
    cpp = torchkiln.script(m).with_executor("cpp")
    h = torch.rand(2, 8)
    with torch.no_grad():
        got = cpp(h, 1, 5)
        assert same(got, m(h, 1, 5))
    assert not got.is_inference() and not got.requires_grad
    cell = torchkiln.script(nn.GRUCell(4, 4)).with_executor("cpp")
    with torch.no_grad():
        out = cell(torch.rand(2, 4), torch.rand(2, 4))
    out.add_(1.0)  # a normal tensor: writable outside no_grad
    g = cell(torch.rand(2, 4), torch.rand(2, 4))
    assert g.requires_grad and g.grad_fn is not None


def test_no_buffer_reuse_under_autocast():
    cpp = torchkiln.script(pointwise_chain).with_executor("cpp")
    x, y = torch.rand(4, 4), torch.rand(4, 4)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        want = pointwise_chain(x, y)
        assert reused(cpp, x, y) == 0
        got = cpp(x, y)
    assert same(list(got), list(want))


class BatchedLinear(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(16, 48)
        self.mix = nn.Bilinear(16, 16, 8)

    def forward(self, x):
        t = x.transpose(1, 0)  # non-contiguous, batched
        return self.proj(t), torch.matmul(t, self.proj.weight.t()), self.mix(t, t)


def test_batched_ops_on_parameters_match_eager_bit_for_bit():
    # Below autograd, matmul would see the weights as not requiring grad and pick another
    # kernel for a batched input (Note [Functional ops below autograd], fastpath.h).
    torch.manual_seed(0)
    m = BatchedLinear()
    cpp = torchkiln.script(m).with_executor("cpp")
    x = torch.randn(2, 5, 16)
    with torch.no_grad():
        got, want = cpp(x), m(x)
    assert same(list(got), list(want))
    with torch.no_grad():  # the same module without grad: the fast path is taken and still exact
        frozen = BatchedLinear()
        frozen.load_state_dict(m.state_dict())
        frozen.requires_grad_(False)
        got = torchkiln.script(frozen).with_executor("cpp")(x)
        assert same(list(got), list(frozen(x)))


# -- the in-memory hand-off (Note [In-memory hand-off]) ------------------------------------


def _archive_entries(obj):
    """The entries of `obj`'s archive, in order, as (name, bytes), and the zip file's bytes."""
    import zipfile

    buf = io.BytesIO()
    torchkiln.save(obj, buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as zf:
        entries = [(info.filename, zf.read(info)) for info in zf.infolist()]
    return entries, buf.getvalue()


def _load_error(load, data):
    with pytest.raises(torchkiln.Error) as e:
        load(data)
    return str(e.value)


def test_in_memory_entries_load_like_the_zip_and_keep_every_other_check():
    from torchkiln import _C

    torch.manual_seed(0)
    s = torchkiln.script(Cell().eval())
    entries, data = _archive_entries(s)
    program = _C.load_entries(entries)
    assert program.method_names() == _C.load(data).method_names()

    def rezip(es):
        import zipfile

        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:
            for name, content in es:
                zf.writestr(name, content)
        return out.getvalue()

    bad = [(n, b.replace(b'"aten::', b'"aten::x', 1) if n == "ir.json" else b) for n, b in entries]
    message = _load_error(_C.load_entries, bad)
    assert "ir.json: " in message and "unknown op" in message
    assert _load_error(_C.load, rezip(bad)) == message
    bad_json = [(n, b"{" if n == "debug.json" else b) for n, b in entries]
    assert _load_error(_C.load_entries, bad_json) == _load_error(_C.load, rezip(bad_json))
    missing = [(n, b) for n, b in entries if n != "objects.json"]
    assert _load_error(_C.load_entries, missing) == _load_error(_C.load, rezip(missing))
    assert "appears twice" in _load_error(_C.load_entries, entries + entries[:1])
    unexpected = entries + [("../evil", b"")]
    assert _load_error(_C.load_entries, unexpected) == _load_error(_C.load, rezip(unexpected))


def test_zip_archives_keep_their_crc_check():
    from torchkiln import _C

    entries, data = _archive_entries(torchkiln.script(Cell().eval()))
    at = data.index(b'{"interfaces"')  # ir.json's data, flipped inside a string
    corrupt = bytearray(data)
    corrupt[at + 3] ^= 0x01
    assert "CRC-32 mismatch" in _load_error(_C.load, bytes(corrupt))


@pytest.mark.parametrize("collecting", [True, False])
def test_first_call_leaves_the_garbage_collector_as_it_was(collecting):
    import gc

    s = torchkiln.script(Cell().eval())
    x = torch.randn(2, 4)
    was = gc.isenabled()
    if not collecting:
        gc.disable()
    try:
        s(x, x)
        assert gc.isenabled() is collecting
    finally:
        if was:
            gc.enable()


def grad_of(x: torch.Tensor) -> Optional[torch.Tensor]:
    return x.grad


@pytest.mark.parametrize("executor", ["python", "interpreter", "cpp"])
def test_grad_attribute_is_read_at_each_call(executor):
    # outside tests/frontend: the differential recorder copies arguments, and a copy has no .grad
    s = torchkiln.script(grad_of)
    run = api.ScriptFunction(s._kiln_unit, s._kiln_fn, executor=executor)
    x = torch.ones(2, requires_grad=True)
    for _ in range(2):
        assert run(x) is None
    (x * 3).sum().backward()
    for _ in range(2):
        assert torch.equal(run(x), torch.full((2,), 3.0))


def warns_in_script(x: torch.Tensor) -> torch.Tensor:
    warnings.warn("careful: " + str(x.dim()))
    return x + 1


@pytest.mark.parametrize("executor", ["python", "cpp"])
def test_warnings_from_script_are_python_warnings(executor):
    # as TorchScript: caught by catch_warnings, filtered, raised under simplefilter("error")
    s = torchkiln.script(warns_in_script)
    run = api.ScriptFunction(s._kiln_unit, s._kiln_fn, executor=executor)
    for _ in range(2):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            run(torch.zeros(2))
        assert [str(w.message) for w in caught] == ["careful: 1"]
        assert caught[0].category is UserWarning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UserWarning, match="careful: 1"):
            run(torch.zeros(2))


def sums_items(x: List[float], t: Tuple[int, str]) -> float:
    return sum(x) + t[0]


@pytest.mark.parametrize("executor", ["python", "cpp"])
def test_container_arguments_are_checked_item_by_item(executor):
    s = api.ScriptFunction(torchkiln.script(sums_items)._kiln_unit, torchkiln.script(sums_items)._kiln_fn, executor=executor)
    assert s([1.0, 2.0], (3, "a")) == 6.0
    for bad, name in ((([1.0, "a"], (1, "a")), "x"), (([1.0], (1,)), "t"), (([1.0], (1, "a", 3)), "t")):
        with pytest.raises(ArgumentError, match=re.escape(f"argument '{name}'")):
            s(*bad)


def default_limits(x: torch.Tensor) -> Tuple[float, str, torch.dtype, torch.Tensor]:
    return torch.finfo().max, torch.finfo().dtype, torch.get_default_dtype(), torch.zeros(1)


@pytest.mark.parametrize("executor", ["python", "interpreter", "cpp"])
def test_default_dtype_is_read_when_the_program_runs(executor):
    # outside tests/frontend: torchkiln-run (the differential check) runs with its own default dtype
    s = torchkiln.script(default_limits)
    run = api.ScriptFunction(s._kiln_unit, s._kiln_fn, executor=executor)
    assert same(run(torch.zeros(1)), default_limits(torch.zeros(1)))
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        got = run(torch.zeros(1))
    finally:
        torch.set_default_dtype(previous)
    assert got[:3] == (torch.finfo(torch.float64).max, "float64", torch.float64) and got[3].dtype == torch.float64
