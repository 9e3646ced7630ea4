"""Whole programs through the C++ runtime, checked against eager PyTorch and the Python executor."""
import math
import subprocess

import pytest
import torch
import torch.nn as nn

import torchkiln
from torchkiln.api import ScriptFunction, ScriptModule
from torchkiln.diagnostics import SourceRange
from torchkiln.ir.core import CompilationUnit
from torchkiln.ir.parser import parse_function, parse_type
from torchkiln.ir.types import ClassType

import archive_models
import cpp_runtime
from cpp_runtime import run, run_many, same


def saved(obj, tmp_path, name="m.pt"):
    path = tmp_path / name
    torchkiln.save(obj, str(path))
    return path


def function(text, unit=None, locs=None):
    """A ScriptFunction from IR text; `locs` maps node kinds to SourceRanges (with source text)."""
    unit = unit or CompilationUnit()
    fn = parse_function(text, dict(unit.classes))
    for n in fn.graph.walk():
        if locs and n.kind in locs:
            n.loc = locs[n.kind]
    unit.add_function(fn)
    return ScriptFunction(unit, fn), unit


# -- programs from other parts of the project ------------------------------------------


def test_function_with_loop_if_call_list_and_tuple(rt, tmp_path):
    fn = archive_models.make_function()
    path = saved(fn, tmp_path)
    x = torch.tensor([1.0, 2.0, 3.0])
    results = run_many(rt, path, [("forward", [x, n]) for n in (0, 1, 3)])
    for n, got in zip((0, 1, 3), results):
        assert got[0] == "ok", got
        want = archive_models.function_eager(x, n)
        assert torch.allclose(got[1][0], want[0]) and got[1][1] == want[1]
        assert same(got[1], fn(x, n))


def test_module_with_shared_submodules_and_attributes(rt, tmp_path):
    m = archive_models.make_module()
    path = saved(m, tmp_path)
    x = torch.tensor([1.0, -2.0])
    status, got = run(rt, path, [x])
    assert status == "ok", got
    assert torch.allclose(got, archive_models.module_eager(x))


def test_traced_module(rt, tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)).eval()
    x = torch.randn(3, 4)
    path = saved(torchkiln.trace(model, (x,)), tmp_path)
    status, got = run(rt, path, [x])
    assert status == "ok", got
    with torch.no_grad():
        torch.testing.assert_close(got, model(x))


def test_scripted_module_with_control_flow(rt, tmp_path):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 3)

        def forward(self, x, n: int):
            outs = []
            for i in range(n):
                x = torch.tanh(self.fc(x) @ torch.ones(3, 4) * 0.1) if i % 2 == 0 else x - 1
                outs.append(x.sum())
            if n > 2:
                return torch.stack(outs)
            return x.flatten()

    torch.manual_seed(0)
    net = Net().eval()
    path = saved(torchkiln.script(net), tmp_path)
    x = torch.randn(2, 4)
    for n, got in zip((1, 4), run_many(rt, path, [("forward", [x, 1]), ("forward", [x, 4])])):
        assert got[0] == "ok", got
        with torch.no_grad():
            torch.testing.assert_close(got[1], net(x, n))


class _Scaled(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 3)
        self.register_buffer("scratch", torch.tensor([0.5, 2.0, -1.0]), persistent=False)

    def forward(self, x):
        return self.fc(x) * self.scratch


class _Buffered(nn.Module):
    """Persistent and non-persistent buffers (objects.json: non_persistent), a positional-only argument."""

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor([0.5, -1.0, 2.0]))
        self.register_buffer("mask", torch.tensor([1.0, 0.0, 1.0]), persistent=False)
        self.sub = _Scaled()

    def forward(self, x, /, scale: float = 1.0):
        return self.sub((x - self.mean) * self.mask) * scale


@pytest.mark.parametrize("how", ["script", "trace"])
def test_module_with_non_persistent_buffers(rt, tmp_path, how):
    torch.manual_seed(0)
    net = _Buffered().eval()
    x = torch.randn(2, 3)
    m = torchkiln.script(net) if how == "script" else torchkiln.trace(net, (x,))
    path = saved(m, tmp_path)
    with torch.no_grad():
        want = net(x)
    status, got = run(rt, path, [x])
    assert status == "ok", got
    torch.testing.assert_close(got, want)
    assert list(torchkiln.load(str(path)).state_dict()) == list(net.state_dict())
    facts = subprocess.run([str(rt.driver), "api", str(path)], capture_output=True, text=True, timeout=600).stdout.splitlines()
    # C++ named_buffers lists non-persistent buffers too, as nn.Module.named_buffers does
    assert [f.split()[1] for f in facts if f.startswith("buffer ")] == ["mean", "mask", "sub.scratch"]
    if how == "script":
        assert "arg x Tensor positional_only" in facts and "arg scale float default" in facts
        status, got = run(rt, path, [x, 2.0])
        assert status == "ok", got
        with torch.no_grad():
            torch.testing.assert_close(got, net(x, 2.0))


def test_version_1_archive_runs(rt, tmp_path):
    path = tmp_path / "v1.pt"
    path.write_bytes(archive_models.as_version_1(saved(archive_models.make_module(), tmp_path).read_bytes()))
    x = torch.tensor([1.0, -2.0])
    status, got = run(rt, path, [x])
    assert status == "ok", got
    assert torch.allclose(got, archive_models.module_eager(x))


@torchkiln.interface
class _Applies(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pass

    def shift(self, x: torch.Tensor, by: int = 2) -> torch.Tensor:
        pass


class _Scales(nn.Module):
    def __init__(self):
        super().__init__()
        self.k = nn.Parameter(torch.tensor([1.0, -2.0, 3.0]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.k

    def shift(self, x: torch.Tensor, by: int = 2) -> torch.Tensor:
        return x - by


class _HoldsApplies(nn.Module):
    """A submodule typed by a module interface (ir.json: interfaces, format version 3)."""

    sub: _Applies

    def __init__(self):
        super().__init__()
        self.sub = _Scales()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.sub(x) + self.sub.shift(x, 5)


def test_module_with_an_interface_typed_submodule(rt, tmp_path):
    net = _HoldsApplies()
    m = torchkiln.script(net)
    path = saved(m, tmp_path)
    import json
    names = [i["name"] for i in json.loads(archive_models.entries(path.read_bytes())["ir.json"])["interfaces"]]
    assert names == [f"__torch__.{__name__}._Applies"]
    x = torch.tensor([1.0, 2.0, -3.0])
    with torch.no_grad():
        want = net(x)
    status, got = run(rt, path, [x])
    assert status == "ok", got
    torch.testing.assert_close(got, want)
    # built from IR: a free function taking the interface, called with the submodule
    path = saved(archive_models.make_interface_module(3.0), tmp_path, "holder.pt")
    status, got = run(rt, path, [x])
    assert status == "ok", got
    torch.testing.assert_close(got, x * 3.0 + x)
    facts = subprocess.run([str(rt.driver), "api", str(saved(archive_models.make_interface_function(), tmp_path, "f.pt"))],
                           capture_output=True, text=True, timeout=600).stdout.splitlines()
    assert "arg m __torch__.Apply" in facts, facts


# -- IR programs for runtime features ------------------------------------------------


SWAP = '''
def __torch__.swap(a : int, b : int, n : int) -> (int, int)
graph(%a : int, %b : int, %n : int):
  %t : bool = prim::Constant[value=True]()
  %one : int = prim::Constant[value=1]()
  %x : int, %y : int = prim::Loop(%n, %t, %a, %b)
    block0(%i : int, %p : int, %q : int):
      %q2 : int = prim::add.int(%q, %one)
      -> (%t, %q2, %p)
  %r : (int, int) = prim::TupleConstruct(%x, %y)
  return (%r)
'''


def test_loop_carried_values_that_swap(rt, tmp_path):
    fn, _ = function(SWAP)
    path = saved(fn, tmp_path)
    got = run_many(rt, path, [("forward", [1, 10, n]) for n in range(4)])
    assert [g[1] for g in got] == [fn(1, 10, n) for n in range(4)] == [(1, 10), (11, 1), (2, 11), (12, 2)]


RAISE_LOC = SourceRange("model.py", 12, 8, 34, "        raise ValueError('negative input')")
CALL_LOC = SourceRange("model.py", 20, 15, 28, "        return check(x) * 2")
CHECK = '''
def __torch__.check(x : int) -> int
graph(%x : int):
  %zero : int = prim::Constant[value=0]()
  %neg : bool = prim::lt(%x, %zero)
  %r : int = prim::If(%neg)
    block0():
      %msg : str = prim::Constant[value="negative input"]()
      prim::RaiseException[cls="ValueError"](%msg)
      -> (%zero)
    block1():
      -> (%x)
  return (%r)
'''
OUTER = '''
def __torch__.outer(x : int) -> int
graph(%x : int):
  %c : int = prim::CallFunction[name="__torch__.check"](%x)
  %two : int = prim::Constant[value=2]()
  %r : int = prim::mul.int(%c, %two)
  return (%r)
'''


def test_raise_reports_python_class_message_and_traceback(rt, tmp_path):
    _, unit = function(CHECK, locs={"prim::RaiseException": RAISE_LOC})
    fn, _ = function(OUTER, unit, locs={"prim::CallFunction": CALL_LOC})
    path = saved(fn, tmp_path)
    ok, err = run_many(rt, path, [("forward", [3]), ("forward", [-1])])
    assert ok == ("ok", 6)
    assert err[0] == "error" and err[1] == "ValueError"
    message = err[2]
    assert message.startswith("ValueError: negative input")
    tb = message.split("Traceback (most recent call last):\n", 1)[1].splitlines()
    assert tb[0] == '  File "model.py", line 20, column 16, in outer'
    assert tb[1].strip() == "return check(x) * 2"
    assert tb[3] == '  File "model.py", line 12, column 9, in check'
    assert tb[4].strip() == "raise ValueError('negative input')"
    assert tb[5].strip() == "^" * 26


MM = '''
def __torch__.mm(a : Tensor, b : Tensor) -> Tensor
graph(%a : Tensor, %b : Tensor):
  %c : Tensor = aten::mm(%a, %b)
  return (%c)
'''


def test_op_failure_names_the_op_and_the_line(rt, tmp_path):
    fn, _ = function(MM, locs={"aten::mm": SourceRange("net.py", 3, 11, 16, "    return a @ b")})
    status, cls, message = run(rt, saved(fn, tmp_path), [torch.ones(2, 3), torch.ones(4, 5)])
    assert (status, cls) == ("error", "RuntimeError")
    assert message.startswith("RuntimeError: aten::mm: mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)")
    assert 'File "net.py", line 3, column 12, in mm' in message and "return a @ b" in message


FORK = '''
def __torch__.work(x : Tensor, k : float) -> Tensor
graph(%x : Tensor, %k : float):
  %y : Tensor = aten::mul.Scalar(%x, %k)
  return (%y)

def __torch__.main(x : Tensor) -> Tensor
graph(%x : Tensor):
  %two : float = prim::Constant[value=2.0]()
  %three : float = prim::Constant[value=3.0]()
  %one : int = prim::Constant[value=1]()
  %f1 : Future(Tensor) = prim::fork[name="__torch__.work"](%x, %two)
  %f2 : Future(Tensor) = prim::fork[name="__torch__.work"](%x, %three)
  %a : Tensor = prim::wait(%f1)
  %b : Tensor = prim::wait(%f2)
  %r : Tensor = aten::add.Tensor(%a, %b, %one)
  return (%r)
'''


def test_fork_and_wait(rt, tmp_path):
    work_text, main_text = FORK.strip().split("\n\n")
    _, unit = function(work_text)
    fn, _ = function(main_text, unit)
    x = torch.arange(4.0)
    status, got = run(rt, saved(fn, tmp_path), [x])
    assert status == "ok" and torch.equal(got, x * 5)


def counter_module():
    unit = CompilationUnit()
    cls = unit.add_class(ClassType("__torch__.Counter"))
    cls.add_attribute("count", parse_type("int"), "attribute")
    cls.add_attribute("history", parse_type("int[]"), "attribute")
    cls.methods["forward"] = parse_function('''
def forward(self : __torch__.Counter, k : int) -> int
graph(%self : __torch__.Counter, %k : int):
  %c : int = prim::GetAttr[name="count"](%self)
  %c2 : int = prim::add.int(%c, %k)
  prim::SetAttr[name="count"](%self, %c2)
  %h : int[] = prim::GetAttr[name="history"](%self)
  prim::append.list(%h, %c2)
  %fresh : int[] = prim::Constant[value=[7]]()
  prim::append.list(%fresh, %k)
  %n : int = prim::len.list(%fresh)
  %r : int = prim::add.int(%c2, %n)
  return (%r)
''', dict(unit.classes))
    return ScriptModule.create(unit, cls, {"count": 0, "history": []})


def test_module_state_persists_across_calls_and_constants_stay_fresh(rt, tmp_path):
    path = saved(counter_module(), tmp_path)
    got = run_many(rt, path, [("forward", [k]) for k in (1, 2, 3)])
    # count: 1, 3, 6; the constant list [7] is fresh in every call, so its length stays 2
    assert [g[1] for g in got] == [3, 5, 8]


def objects_module():
    unit = CompilationUnit()
    point = unit.add_class(ClassType("__torch__.Point", is_module=False))
    point.add_attribute("x", parse_type("float"), "attribute")
    point.methods["norm2"] = parse_function('''
def norm2(self : __torch__.Point) -> float
graph(%self : __torch__.Point):
  %x : float = prim::GetAttr[name="x"](%self)
  %r : float = prim::mul.float(%x, %x)
  return (%r)
''', dict(unit.classes))
    sub = unit.add_class(ClassType("__torch__.Sub"))
    sub.add_attribute("scale", parse_type("float"), "attribute")
    sub.methods["forward"] = parse_function('''
def forward(self : __torch__.Sub, x : float) -> float
graph(%self : __torch__.Sub, %x : float):
  %s : float = prim::GetAttr[name="scale"](%self)
  %r : float = prim::mul.float(%x, %s)
  return (%r)
''', dict(unit.classes))
    net = unit.add_class(ClassType("__torch__.Net"))
    net.add_attribute("sub", sub, "module")
    net.methods["forward"] = parse_function('''
def forward(self : __torch__.Net, x : float) -> float
graph(%self : __torch__.Net, %x : float):
  %p : __torch__.Point = prim::CreateObject()
  prim::SetAttr[name="x"](%p, %x)
  %n : float = prim::CallMethod[name="norm2"](%p)
  %s : __torch__.Sub = prim::GetAttr[name="sub"](%self)
  %any : Any = prim::unchecked_cast(%s)
  %r : float = prim::CallMethod[name="forward"](%any, %n)
  %scale : float = prim::GetAttr[name="scale"](%any)
  %r2 : float = prim::add.float(%r, %scale)
  return (%r2)
''', dict(unit.classes))
    sub_m = ScriptModule.create(unit, sub, {"scale": 0.5})
    return ScriptModule.create(unit, net, {"sub": sub_m})


def test_script_objects_and_calls_on_objects_typed_any(rt, tmp_path):
    m = objects_module()
    status, got = run(rt, saved(m, tmp_path), [3.0])
    assert (status, got) == ("ok", 3.0 * 3.0 * 0.5 + 0.5) == ("ok", m(3.0))


RECURSE = '''
def __torch__.down(n : int) -> int
graph(%n : int):
  %one : int = prim::Constant[value=1]()
  %m : int = prim::sub.int(%n, %one)
  %r : int = prim::CallFunction[name="__torch__.down"](%m)
  return (%r)
'''


def test_unbounded_recursion_is_a_recursion_error(rt, tmp_path):
    fn, _ = function(RECURSE)
    status, cls, message = run(rt, saved(fn, tmp_path), [5])
    assert (status, cls) == ("error", "RecursionError")
    assert "maximum recursion depth exceeded" in message


DEFAULTS = '''
def __torch__.scale(x : Tensor, k : float = 2.0, names : str[] = ["a"]) -> (Tensor, int)
graph(%x : Tensor, %k : float, %names : str[]):
  %y : Tensor = aten::mul.Scalar(%x, %k)
  %b : str = prim::Constant[value="b"]()
  prim::append.list(%names, %b)
  %n : int = prim::len.list(%names)
  %r : (Tensor, int) = prim::TupleConstruct(%y, %n)
  return (%r)
'''


def test_defaults_are_filled_and_arguments_checked(rt, tmp_path):
    fn, _ = function(DEFAULTS)
    x = torch.ones(2)
    got = run_many(rt, saved(fn, tmp_path), [("forward", [x]), ("forward", [x]), ("forward", [x, 3.0, ["a", "b"]]),
                                              ("forward", ["not a tensor"]), ("forward", [x, 1.0, [], 4])])
    assert same(got[0][1], (x * 2, 2)) and same(got[1][1], (x * 2, 2))  # the default list is fresh each call
    assert same(got[2][1], (x * 3, 3))
    assert got[3][:2] == ("error", "TypeError") and "where Tensor is declared" in got[3][2]
    assert got[4][:2] == ("error", "TypeError") and "takes 3 argument(s) but 4 were given" in got[4][2]


@pytest.mark.parametrize("value", [0.1, -0.0, 1e300, math.inf, 2**62, True, "s", None])
def test_values_round_trip_through_the_runtime(rt, tmp_path, value):
    fn, _ = function('''
def __torch__.ident(x : Any) -> Any
graph(%x : Any):
  return (%x)
''')
    status, got = run(rt, saved(fn, tmp_path), [value])
    assert status == "ok" and same(got, value)


SCALAR_OPS = ["aten::add.Scalar", "aten::sub.Scalar", "aten::mul.Scalar", "aten::div.Scalar"]
DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64, torch.int32, torch.int16,
          torch.int8, torch.uint8, torch.bool, torch.complex64]


def scalar_op_function(unit, index, kind, constant):
    alpha = ", %one" if kind in ("aten::add.Scalar", "aten::sub.Scalar") else ""
    value = repr(constant) if isinstance(constant, int) else f"{constant!r}"
    return parse_function(f'''
def __torch__.f{index}(x : Tensor) -> Tensor
graph(%x : Tensor):
  %c : Scalar = prim::Constant[value={value}]()
  %one : Scalar = prim::Constant[value=1]()
  %y : Tensor = {kind}(%x, %c{alpha})
  return (%y)
''', dict(unit.classes))


def test_scalar_constants_give_eager_results_in_every_dtype(rt, tmp_path):
    """Note [Scalar constants as tensors]: the .Tensor form must keep the .Scalar op's dtype and values."""
    unit = CompilationUnit()
    cases = []
    for kind in SCALAR_OPS:
        for constant in (2, 300, -3, 0.5, 1e5, 2.5, 0.1, 1 / 3, 1e-30):
            fn = scalar_op_function(unit, len(unit.functions), kind, constant)
            unit.add_function(fn)
            for dtype in DTYPES:
                cases.append((fn, kind, constant, dtype))
    cls = unit.add_class(ClassType("__torch__.Ops"))  # a method per function, so one archive holds them all
    for fn, kind, constant, dtype in cases:
        name = fn.name.rsplit(".", 1)[1]
        if name not in cls.methods:
            cls.methods[name] = parse_function(f'''
def {name}(self : __torch__.Ops, x : Tensor) -> Tensor
graph(%self : __torch__.Ops, %x : Tensor):
  %y : Tensor = prim::CallFunction[name="{fn.name}"](%x)
  return (%y)
''', dict(unit.classes))
    path = saved(ScriptModule.create(unit, cls, {}), tmp_path, "ops.pt")
    x = {d: (torch.arange(-4, 5) * 3).to(d) for d in DTYPES}
    calls = [(fn.name.rsplit(".", 1)[1], [x[dtype]]) for fn, _, _, dtype in cases]
    failures = []
    for (fn, kind, constant, dtype), got in zip(cases, run_many(rt, path, calls)):
        op = {"aten::add.Scalar": torch.add, "aten::sub.Scalar": torch.sub, "aten::mul.Scalar": torch.mul,
              "aten::div.Scalar": torch.div}[kind]
        try:
            want = ("ok", op(x[dtype], constant))
        except RuntimeError as e:
            want = ("error", "RuntimeError", str(e))
        if want[0] != got[0] or (want[0] == "ok" and not same(want[1], got[1])):
            failures.append(f"{kind} {dtype} {constant}: eager {want[:2]}, C++ {got[:2]}")
    assert not failures, "\n".join(failures)


# -- autograd calls inside the program (Note [Autograd calls in script]) -----------------------------


def _gradient_penalty(x: torch.Tensor, w: torch.Tensor):
    y = torch.tanh(x * w).sum()
    g = torch.autograd.grad([y], [x, w], create_graph=True)
    gx = g[0]
    assert gx is not None
    (gx * gx).sum().backward(inputs=[w])
    return g, w.grad


def test_autograd_grad_and_backward_run_in_cpp(rt, tmp_path):
    path = saved(torchkiln.script(_gradient_penalty), tmp_path)

    def inputs():
        return [torch.tensor([0.3, -1.2, 2.0], dtype=torch.float64, requires_grad=True),
                torch.tensor([1.5, 0.5, -0.25], dtype=torch.float64, requires_grad=True)]

    want_g, want_wgrad = _gradient_penalty(*inputs())
    [got, no_grad] = run_many(rt, path, [("forward", inputs()), ("forward", [t.detach() for t in inputs()])])
    assert got[0] == "ok", got
    (g, wgrad) = got[1]
    assert len(g) == 2 and all(a.requires_grad for a in g)  # create_graph: differentiable gradients
    for a, b in zip(g, want_g):
        assert torch.equal(a, b.detach())
    assert torch.equal(wgrad, want_wgrad)
    assert no_grad[:2] == ("error", "RuntimeError"), no_grad
    assert "element 0 of tensors does not require grad and does not have a grad_fn" in no_grad[2]
