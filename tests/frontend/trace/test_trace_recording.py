"""What the recorder writes: op names, sizes, attributes, calls; warnings and checks."""
import re
import warnings

import pytest
import torch
import torch.nn as nn

import torchkiln
from torchkiln.api import ScriptFunction, ScriptModule
from torchkiln.frontend.trace import TracingCheckError
from torchkiln.ir import types as T
from torchkiln.ir.core import CompilationUnit
from torchkiln.ir.parser import parse_function


def _text(graph):
    """The graph's text without the source-location comments and the process-unique
    `___torch_mangle_N.` of class names (frontend/names.py: other tests traced these classes too)."""
    text = "\n".join(line.split("  # ")[0] for line in str(graph).strip().splitlines())
    return re.sub(r"___torch_mangle_\d+\.", "", text)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 2)

    def forward(self, x):
        return self.lin(x) + 1


def _trace_quietly(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torchkiln.TracerWarning)
        return torchkiln.trace(*args, **kwargs)


# -- golden IR ---------------------------------------------------------------------


def test_golden_ir_of_a_small_function():
    def f(x, y):
        z = x * 2 + y
        return torch.relu(z).view(z.size(0), -1)

    traced = torchkiln.trace(f, (torch.ones(2, 3), torch.ones(2, 3)))
    assert _text(traced.graph) == (
        "graph(%x : Tensor, %y : Tensor):\n"
        "  %2 : int = prim::Constant[value=2]()\n"
        "  %3 : Tensor = aten::mul.Scalar(%x, %2)\n"
        "  %4 : Scalar = prim::Constant[value=1]()\n"
        "  %5 : Tensor = aten::add.Tensor(%3, %y, %4)\n"
        "  %6 : Tensor = aten::relu(%5)\n"
        "  %7 : int = prim::Constant[value=0]()\n"
        "  %8 : int = aten::size.int(%5, %7)\n"
        "  %9 : int = prim::Constant[value=-1]()\n"
        "  %10 : int[] = prim::ListConstruct(%8, %9)\n"
        "  %11 : Tensor = aten::view(%6, %10)\n"
        "  return (%11)"
    )


def test_golden_ir_of_a_module_reads_parameters_through_getattr():
    traced = torchkiln.trace(Net(), torch.ones(1, 3))
    assert _text(traced.graph) == (
        "graph(%self : __torch__.Net, %x : Tensor):\n"
        '  %2 : __torch__.Linear = prim::GetAttr[name="lin"](%self)\n'
        '  %3 : Tensor = prim::GetAttr[name="weight"](%2)\n'
        '  %4 : Tensor = prim::GetAttr[name="bias"](%2)\n'
        "  %5 : Tensor = aten::linear(%x, %3, %4)\n"
        "  %6 : int = prim::Constant[value=1]()\n"
        "  %7 : Scalar = prim::Constant[value=1]()\n"
        "  %8 : Tensor = aten::add.Scalar(%5, %6, %7)\n"
        "  return (%8)"
    )
    assert traced.lin._kiln_type.methods["forward"].graph is not None


def test_nodes_carry_the_source_location_of_the_user_code():
    def f(x):
        return x.exp()  # the line

    traced = torchkiln.trace(f, (torch.ones(2),))
    node = [n for n in traced.graph.nodes if n.kind == "aten::exp"][0]
    assert node.loc is not None and node.loc.filename == __file__
    assert "the line" in node.loc.source_line()


def test_size_arithmetic_stays_symbolic():
    def f(x):
        n = x.size(0)
        return x.reshape(n * 2, -1), x.new_zeros(n // 2 + 1)

    traced = torchkiln.trace(f, (torch.ones(4, 6),))
    graph = str(traced.graph)
    assert "prim::mul.int" in graph or "aten::size.int" in graph
    a, b = traced(torch.ones(8, 6))
    assert a.shape == (16, 3) and b.shape == (5,)


def test_shape_attribute_is_recorded_and_len_warns():
    def f(x):
        b, c = x.shape
        return x.view(b, c, 1).expand(b, c, 2)

    traced = torchkiln.trace(f, (torch.ones(2, 3),))
    assert traced(torch.ones(5, 3)).shape == (5, 3, 2)
    with pytest.warns(torchkiln.TracerWarning, match="len"):
        torchkiln.trace(lambda x: x.view(len(x), -1), (torch.ones(2, 3),))


# -- conversions to Python values ---------------------------------------------------


@pytest.mark.parametrize(
    "convert",
    [lambda t: bool(t.sum() > 0), lambda t: int(t.sum()), lambda t: float(t.sum()), lambda t: t.sum().item(), lambda t: t.tolist()[0]],
    ids=["bool", "int", "float", "item", "tolist"],
)
def test_tensor_to_python_value_warns_and_bakes(convert):
    def f(x):
        return x * convert(x)

    with pytest.warns(torchkiln.TracerWarning, match="might cause the trace to be incorrect") as record:
        traced = torchkiln.trace(f, (torch.ones(3),), check_trace=False)
    assert any(w.filename == __file__ for w in record), "the warning points at the user's line"
    value = convert(torch.ones(3))
    assert torch.equal(traced(torch.full((3,), 5.0)), torch.full((3,), 5.0) * value)


def test_no_warning_for_constants_and_module_free_code():
    def f(x):
        k = torch.tensor(3.0).item()
        return x * k

    with warnings.catch_warnings():
        warnings.simplefilter("error", torchkiln.TracerWarning)
        traced = torchkiln.trace(f, (torch.ones(2),))
    assert torch.equal(traced(torch.ones(2)), torch.full((2,), 3.0))


def test_check_trace_reports_a_mismatch():
    calls = []

    def f(x):
        calls.append(1)
        return x * len(calls)  # depends on Python state, not on x

    with pytest.raises(TracingCheckError, match="does not reproduce"):
        torchkiln.trace(f, (torch.ones(2),))


def test_check_inputs_catch_data_dependent_control_flow():
    def f(x):
        if x.sum() > 0:
            return x + 1
        return x - 1

    with pytest.raises(TracingCheckError):
        _trace_quietly(f, (torch.ones(2),), check_inputs=[(-torch.ones(2),)])
    assert issubclass(TracingCheckError, torchkiln.Error)


def test_nondeterministic_ops_turn_a_mismatch_into_a_warning():
    def f(x):
        return x + torch.rand_like(x)

    with pytest.warns(torchkiln.TracerWarning, match="nondeterministic"):
        traced = torchkiln.trace(f, (torch.ones(2),))
    assert traced(torch.ones(2)).shape == (2,)
    assert "aten::rand_like" in str(traced.graph)


# -- calls of compiled code ------------------------------------------------------------

PICK = """\
def pick(x : Tensor, y : Tensor) -> Tensor
graph(%x : Tensor, %y : Tensor):
  %mx : Tensor = aten::max(%x)
  %my : Tensor = aten::max(%y)
  %gt : Tensor = aten::gt.Tensor(%mx, %my)
  %c : bool = prim::Bool.Tensor(%gt)
  %r : Tensor = prim::If(%c)
    block0():
      -> (%x)
    block1():
      -> (%y)
  return (%r)
"""


def _script_function():
    unit = CompilationUnit()
    fn = parse_function(PICK)
    fn.name = "__torch__.pick"
    unit.add_function(fn)
    return ScriptFunction(unit, fn)


def test_calls_of_script_functions_keep_their_control_flow():
    pick = _script_function()

    def bar(x, y, z):
        return pick(x, y) + z

    a, b, z = torch.full((3,), 5.0), torch.ones(3), torch.zeros(3)
    traced = torchkiln.trace(bar, (a, b, z))
    assert "prim::If" in str(traced.inlined_graph) or "prim::CallFunction" in str(traced.graph)
    assert torch.equal(traced(a, b, z), a)
    assert torch.equal(traced(b, a, z), a)


def _script_module():
    unit = CompilationUnit()
    cls = T.ClassType("__torch__.Decision")
    cls.add_attribute("training", T.BOOL)
    unit.add_class(cls)
    text = """\
def forward(self : __torch__.Decision, x : Tensor) -> Tensor
graph(%self : __torch__.Decision, %x : Tensor):
  %none : NoneType = prim::Constant[value=None]()
  %s : Tensor = aten::sum(%x, %none)
  %z : int = prim::Constant[value=0]()
  %g : Tensor = aten::gt.Scalar(%s, %z)
  %c : bool = prim::Bool.Tensor(%g)
  %r : Tensor = prim::If(%c)
    block0():
      %two : int = prim::Constant[value=2]()
      %d : Tensor = aten::mul.Scalar(%x, %two)
      -> (%d)
    block1():
      %n : Tensor = aten::neg(%x)
      -> (%n)
  return (%r)
"""
    cls.methods["forward"] = parse_function(text, {"__torch__.Decision": cls})
    return ScriptModule.create(unit, cls, {"training": False})


def test_calls_of_scripted_submodules_become_call_method():
    class Hybrid(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)
            self.decision = _script_module()

        def forward(self, x):
            return self.decision(self.conv(x))

    torch.manual_seed(0)
    model = Hybrid().eval()
    example = torch.randn(1, 3, 8, 8)
    traced = torchkiln.trace(model, example)
    assert traced.decision is model.decision
    with torch.no_grad():
        for x in (example, -example * 100, example * 100):
            torch.testing.assert_close(traced(x), model(x))


def test_is_tracing():
    seen = []

    def f(x):
        seen.append(torchkiln.is_tracing())
        return x + 1

    torchkiln.trace(f, (torch.ones(1),), check_trace=False)
    assert seen == [True] and not torchkiln.is_tracing()


@torchkiln.script_if_tracing
def _clamp_positive(x):
    if bool(x.sum() > 0):
        return x
    return -x


def test_script_if_tracing_keeps_control_flow():
    def f(x):
        return _clamp_positive(x) * 2

    with warnings.catch_warnings():
        warnings.simplefilter("error", torchkiln.TracerWarning)
        traced = torchkiln.trace(f, (torch.ones(3),))
    assert torch.equal(traced(-torch.ones(3)), torch.full((3,), 2.0))
    assert torch.equal(_clamp_positive(-torch.ones(3)), torch.ones(3))


def test_traced_function_called_from_script():
    traced = torchkiln.trace(lambda x, y: 2 * x + y, (torch.rand(3), torch.rand(3)))

    @torchkiln.script
    def bar(x):
        return traced(x, x)

    x = torch.tensor([1.0, 2.0, 3.0])
    assert torch.equal(bar(x), 3 * x)
