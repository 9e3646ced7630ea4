"""`torch.autograd.grad`, `torch.autograd.backward` and `Tensor.backward` in scripted code
(Note [Autograd calls in script] in torchkiln/frontend/script/autograd.py).

Every program is compared with eager PyTorch on each executor (generated
Python, the interpreter, C++; torchkiln-run replays the calls, tests/differential),
on fresh leaf tensors per run: gradients, whether results require grad, and the
leaves' `.grad` after the call.
"""
import copy
import re
from typing import List, Optional, Tuple

import pytest
import torch
import torch.nn as nn
from torch import Tensor

import torchkiln
from torchkiln import CompileError
from torchkiln.api import ScriptFunction

from .script_testing import EXECUTORS, run_fresh, same, scripted
from .test_errors import line_of


def leaf(*values: float) -> Tensor:
    return torch.tensor(values, dtype=torch.float64, requires_grad=True)


def same_grad(a, b) -> bool:
    """`same`, and tensors agree on requires_grad (create_graph keeps a graph). A list and a
    tuple are alike: grad returns a list in script (as in TorchScript), a tuple in eager."""
    if isinstance(a, Tensor):
        return same(a, b) and a.requires_grad == b.requires_grad
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(same_grad(x, y) for x, y in zip(a, b))
    return same(a, b)


def on_every_executor(fn, make_inputs):
    """Script `fn`; run it and `fn` on fresh inputs; results and the inputs' `.grad` must agree."""
    s = scripted(fn)
    inputs = make_inputs()
    expected = fn(*inputs)
    expected_grads = [x.grad for x in inputs if isinstance(x, Tensor)]
    for name in EXECUTORS:
        run = ScriptFunction(s._kiln_unit, s._kiln_fn, executor=name)
        inputs = make_inputs()
        got = run(*inputs)
        assert same_grad(got, expected), f"{fn.__name__}: the {name} executor gave {got!r}, eager {expected!r}"
        grads = [x.grad for x in inputs if isinstance(x, Tensor)]
        assert same_grad(grads, expected_grads), f"{fn.__name__}: .grad after the {name} executor: {grads!r}, eager {expected_grads!r}"
    return s


def xw():
    return leaf(0.3, -1.2, 2.0), leaf(1.5, 0.5, -0.25)


# -- torch.autograd.grad -------------------------------------------------------------------------------


def grad_of_both(x: Tensor, w: Tensor) -> List[Optional[Tensor]]:
    y = (torch.sin(x) * w + x * x).sum()
    return torch.autograd.grad([y], [x, w])


def test_grad_of_a_small_function():
    s = on_every_executor(grad_of_both, xw)
    assert "prim::autograd_grad" in str(s.graph)


def second_derivative(x: Tensor, w: Tensor) -> Tuple[Tensor, Tensor]:
    y = (torch.tanh(x * w) ** 3).sum()
    g = torch.autograd.grad([y], [x], create_graph=True)[0]
    assert g is not None
    h = torch.autograd.grad([g.sum()], [x])[0]
    assert h is not None
    return g, h


def test_create_graph_true_gives_a_differentiable_gradient():
    on_every_executor(second_derivative, xw)


def first_derivative_only(x: Tensor, w: Tensor) -> Tensor:
    g = torch.autograd.grad([(x * x * w).sum()], [x], create_graph=False)[0]
    assert g is not None
    return g


def test_create_graph_false_gives_a_plain_tensor():
    on_every_executor(first_derivative_only, xw)
    assert not scripted(first_derivative_only)(*xw()).requires_grad


def vector_jacobian(x: Tensor, w: Tensor) -> List[Optional[Tensor]]:
    y = x * w + torch.exp(x)
    return torch.autograd.grad([y], [x, w], grad_outputs=[torch.ones_like(y) * 2.0])


def test_grad_outputs_given():
    on_every_executor(vector_jacobian, xw)


def unused_input(x: Tensor, w: Tensor) -> Tuple[Optional[Tensor], bool]:
    g = torch.autograd.grad([(x * 3.0).sum()], [x, w], allow_unused=True)
    return g[0], g[1] is None


def test_allow_unused_gives_none_for_an_unused_input():
    on_every_executor(unused_input, xw)
    assert scripted(unused_input)(*xw())[1] is True


def retained(x: Tensor, w: Tensor) -> Tuple[Optional[Tensor], Optional[Tensor]]:
    y = (x * x * w).sum()
    first = torch.autograd.grad([y], [x], retain_graph=True)
    second = torch.autograd.grad([y], [w])
    return first[0], second[0]


def test_retain_graph_then_a_second_grad_call():
    on_every_executor(retained, xw)


def eager_spellings(x: Tensor, w: Tensor) -> Tuple[List[Optional[Tensor]], List[Optional[Tensor]], List[Optional[Tensor]]]:
    y = x * w
    a = torch.autograd.grad(y.sum(), x, retain_graph=True)  # single tensors, as eager Python allows
    b = torch.autograd.grad((y,), (x, w), torch.ones_like(y), True)  # tuples; a tensor for grad_outputs
    c = torch.autograd.grad(outputs=[y], inputs=[w], grad_outputs=[y.detach()], allow_unused=False)
    return a, b, c


def test_single_tensors_tuples_and_keywords():
    on_every_executor(eager_spellings, xw)


def torchscript_spelling(x: Tensor, w: Tensor) -> List[Optional[Tensor]]:
    y = x * w
    go = torch.jit.annotate(List[Optional[Tensor]], [torch.ones_like(y)])
    return torch.autograd.grad([y], [x], go, None, False, False)  # TorchScript's positional order


@pytest.mark.filterwarnings("ignore:only_inputs argument is deprecated")  # eager's sixth positional is only_inputs
def test_torchscript_positional_order():
    on_every_executor(torchscript_spelling, xw)


def refined_return(x: Tensor) -> Tensor:
    (g,) = torch.autograd.grad([(x**3).sum()], [x])
    assert g is not None  # the result is List[Optional[Tensor]], as in TorchScript
    return g


def test_result_is_a_list_of_optional_tensors_refined_by_assert():
    on_every_executor(refined_return, lambda: (leaf(1.0, 2.0),))


def grad_inside_a_loop(x: Tensor, n: int) -> Tensor:
    total = torch.zeros_like(x)
    for i in range(n):
        g = torch.autograd.grad([(x ** (i + 2)).sum()], [x])[0]
        if g is not None:
            total = total + g
    return total


def test_grad_in_a_loop_with_control_flow():
    on_every_executor(grad_inside_a_loop, lambda: (leaf(0.5, 1.5), 3))


# -- backward ----------------------------------------------------------------------------------------


def backward_then_grad(x: Tensor, w: Tensor) -> Tuple[Optional[Tensor], Optional[Tensor], Optional[Tensor]]:
    before = x.grad
    loss = (torch.sin(x) * w).sum()
    loss.backward()
    after_one = x.grad
    (x * w).sum().backward()  # accumulates
    return before, after_one, w.grad


def test_tensor_backward_then_reading_grad():
    on_every_executor(backward_then_grad, xw)


def backward_arguments(x: Tensor, w: Tensor) -> Optional[Tensor]:
    y = x * w
    y.backward(torch.full_like(y, 0.5), retain_graph=True)
    y.backward(gradient=torch.ones_like(y), inputs=[w])
    return x.grad


def test_tensor_backward_with_gradient_retain_graph_and_inputs():
    on_every_executor(backward_arguments, xw)


def autograd_backward(x: Tensor, w: Tensor) -> Tuple[Optional[Tensor], Optional[Tensor]]:
    a = (x * w).sum()
    b = x * x
    torch.autograd.backward([a, b], [None, torch.ones_like(b)])
    torch.autograd.backward(a.detach() + (w * w).sum(), inputs=w)
    return x.grad, w.grad


def test_torch_autograd_backward():
    on_every_executor(autograd_backward, xw)


def backward_returns_none(x: Tensor):
    return (x * x).sum().backward()


def test_backward_returns_none():
    on_every_executor(backward_returns_none, lambda: (leaf(1.0, -1.0),))


# -- a physics-informed loss in a module ---------------------------------------------------------------


class Pinn(nn.Module):
    """u(x) by a small network; the loss is the residual of u'' + u = 0 and of u(0) = 1."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 1))

    def forward(self, points: Tensor) -> Tensor:
        x = points.clone().requires_grad_(True)
        u = self.net(x)
        du = torch.autograd.grad([u.sum()], [x], create_graph=True)[0]
        assert du is not None
        d2u = torch.autograd.grad([du.sum()], [x], create_graph=True)[0]
        assert d2u is not None
        boundary = self.net(torch.zeros(1, 1, dtype=points.dtype)) - 1.0
        return ((d2u + u) ** 2).mean() + (boundary**2).sum()


def pinn_and_points():
    torch.manual_seed(0)
    return Pinn().double(), torch.linspace(-1.0, 1.0, 7, dtype=torch.float64).unsqueeze(1)


@pytest.mark.parametrize("executor", EXECUTORS)
def test_physics_informed_loss_and_its_parameter_gradients(executor):
    eager, points = pinn_and_points()
    compiled = torchkiln.script(copy.deepcopy(eager)).with_executor(executor)
    results = []
    for m in (eager, compiled):
        loss = m(points)
        loss.backward()
        results.append((loss.detach(), [p.grad for p in m.parameters()]))
    (want_loss, want_grads), (got_loss, got_grads) = results
    torch.testing.assert_close(got_loss, want_loss, rtol=1e-12, atol=1e-12)
    for got, want in zip(got_grads, want_grads):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


# -- the passes leave the calls alone --------------------------------------------------------------------


def repeated(x: Tensor):
    a = x.grad
    (x * x).sum().backward()
    b = x.grad
    (x * x).sum().backward()
    torch.autograd.grad([(x * x).sum()], [x])  # unused result: still runs
    c = x.grad
    return a, b, c


REPEATED_IR = """
graph(%x : Tensor):
  %1 : NoneType = prim::Constant[value=None]()
  %2 : bool = prim::Constant[value=False]()
  %3 : Tensor? = prim::grad(%x)
  %4 : Tensor = aten::mul.Tensor(%x, %x)
  %5 : Tensor = aten::sum(%4, %1)
  %6 : Tensor[] = prim::ListConstruct(%5)
  prim::autograd_backward(%6, %1, %1, %2, %1)
  %7 : Tensor? = prim::grad(%x)
  %8 : Tensor = aten::mul.Tensor(%x, %x)
  %9 : Tensor = aten::sum(%8, %1)
  %10 : Tensor[] = prim::ListConstruct(%9)
  prim::autograd_backward(%10, %1, %1, %2, %1)
  %11 : Tensor = aten::mul.Tensor(%x, %x)
  %12 : Tensor = aten::sum(%11, %1)
  %13 : Tensor[] = prim::ListConstruct(%12)
  %14 : Tensor[] = prim::ListConstruct(%x)
  %15 : Tensor?[] = prim::autograd_grad(%13, %14, %1, %1, %2, %2)
  %16 : Tensor? = prim::grad(%x)
  %17 : (Tensor?, Tensor?, Tensor?) = prim::TupleConstruct(%3, %7, %16)
  return (%17)
"""


def test_passes_neither_merge_nor_delete_autograd_calls_golden_ir():
    s = on_every_executor(repeated, lambda: (leaf(1.0, 2.0),))
    text = re.sub(r"  # .*$", "", str(s.graph), flags=re.M).strip()
    assert text == REPEATED_IR.strip()


# -- errors ------------------------------------------------------------------------------------------------


def bad_create_graph(x: Tensor):
    return torch.autograd.grad([x.sum()], [x], create_graph="yes")


def missing_inputs(x: Tensor):
    return torch.autograd.grad([x.sum()])


def batched(x: Tensor):
    return torch.autograd.grad([x.sum()], [x], is_grads_batched=True)


def unknown_keyword(x: Tensor):
    return torch.autograd.grad([x.sum()], [x], retain=True)


def too_many(x: Tensor):
    return torch.autograd.grad([x.sum()], [x], None, None, False, False, True)


def bad_gradient(x: Tensor):
    x.sum().backward(1)


def bad_backward_list(x: Tensor):
    torch.autograd.backward([1, 2])


def unrefined(x: Tensor) -> Tensor:
    return torch.autograd.grad([x.sum()], [x])[0]


@pytest.mark.parametrize(
    "fn, needle, message",
    [
        (bad_create_graph, "create_graph=", r"`torch\.autograd\.grad`: no overload of prim::autograd_grad accepts .*create_graph=str"),
        (missing_inputs, "autograd.grad(", r"no overload of prim::autograd_grad .*argument 'inputs' is not given"),
        (batched, "is_grads_batched", r"torch\.autograd\.grad\(\) argument 'is_grads_batched' is not supported in script"),
        (unknown_keyword, "retain=", r"torch\.autograd\.grad\(\) got an unexpected keyword argument 'retain'"),
        (too_many, "True)", r"torch\.autograd\.grad\(\) takes at most 6 positional arguments"),
        (bad_gradient, "backward(1)", r"Tensor\.backward\(\) argument 'gradient' must be a Tensor or None, not int"),
        (bad_backward_list, "backward([1, 2])", r"`torch\.autograd\.backward`: no overload of prim::autograd_backward accepts"),
        (unrefined, "return", r"declared to return Tensor but this returns Tensor\?"),
    ],
)
def test_bad_calls_are_compile_errors_at_the_call(fn, needle, message):
    with pytest.raises(CompileError) as info:
        torchkiln.script(fn)
    text = str(info.value)
    assert re.search(message, text, re.S), text
    assert f"line {line_of(fn, needle)}" in text, text
    assert "torch/autograd" not in text


def unused_without_allow_unused(x: Tensor, w: Tensor):
    return torch.autograd.grad([(x * 2.0).sum()], [x, w])


def implicit_gradient_of_a_vector(x: Tensor, w: Tensor):
    (x * w).backward()


def second_grad_after_free(x: Tensor, w: Tensor):
    y = (x * w).sum()
    torch.autograd.grad([y], [x])
    return torch.autograd.grad([y], [w])


@pytest.mark.parametrize(
    "fn, message",
    [
        (unused_without_allow_unused, "The differentiated Tensor at index 1 appears to not have been used in the graph"),
        (implicit_gradient_of_a_vector, "grad can be implicitly created only for scalar outputs"),
        (second_grad_after_free, "Trying to backward through the graph a second time"),
    ],
)
def test_runtime_errors_are_eager_errors_on_every_executor(fn, message):
    with pytest.raises(RuntimeError, match=re.escape(message)):
        fn(*xw())
    s = scripted(fn)
    for name in EXECUTORS:
        with pytest.raises(RuntimeError, match=re.escape(message)):
            ScriptFunction(s._kiln_unit, s._kiln_fn, executor=name)(*xw())


def test_trace_refuses_autograd_calls_where_they_are_made():
    def f(x):
        (g,) = torch.autograd.grad([(x * x).sum()], [x])
        return g

    with pytest.raises(torchkiln.Error, match=r"trace cannot record torch\.autograd\.grad") as info:
        torchkiln.trace(f, (leaf(1.0, 2.0),))
    assert f"line {line_of(f, 'autograd.grad')}" in str(info.value)


# -- archives ----------------------------------------------------------------------------------------------


def test_saved_programs_run_in_a_fresh_process(tmp_path):
    eager, points = pinn_and_points()
    module = torchkiln.script(copy.deepcopy(eager))
    function = torchkiln.script(second_derivative)
    torchkiln.save(module, str(tmp_path / "pinn.pt"))
    torchkiln.save(function, str(tmp_path / "second.pt"))
    torch.save(points, tmp_path / "points.pt")
    run_fresh(
        f"""
        import torch, torchkiln
        points = torch.load({str(tmp_path / 'points.pt')!r})
        m = torchkiln.load({str(tmp_path / 'pinn.pt')!r})
        loss = m(points)
        loss.backward()
        f = torchkiln.load({str(tmp_path / 'second.pt')!r})
        x = torch.tensor([0.3, -1.2, 2.0], dtype=torch.float64, requires_grad=True)
        w = torch.tensor([1.5, 0.5, -0.25], dtype=torch.float64, requires_grad=True)
        torch.save([loss.detach(), [p.grad for p in m.parameters()], list(f(x, w))], {str(tmp_path / 'out.pt')!r})
        """
    )
    loss, grads, derivatives = torch.load(tmp_path / "out.pt")
    want = eager(points)
    want.backward()
    torch.testing.assert_close(loss, want.detach(), rtol=1e-12, atol=1e-12)
    for got, p in zip(grads, eager.parameters()):
        torch.testing.assert_close(got, p.grad, rtol=1e-12, atol=1e-12)
    assert same([d.detach() for d in derivatives], [d.detach() for d in second_derivative(*xw())])
