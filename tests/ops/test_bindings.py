"""Fast Python bindings give the OpOverload's results."""
import random

import pytest
import torch

from torchkiln import ops
from torchkiln.ops import _binding_table
from torchkiln.ops.bindings import _candidates, _verify, overload_binding, python_binding
from torchkiln.ops.gen_bindings import probe_all


def _t(*shape):
    return torch.randn(*shape, generator=_GEN)


_GEN = torch.Generator().manual_seed(0)

# (op, args as the schema orders them, expected expr) on realistic inputs.
CASES = [
    ("aten::add.Tensor", lambda: [_t(3, 4), _t(3, 4), 2], "torch.add"),
    ("aten::add.Tensor", lambda: [_t(3, 4), _t(4), 0.5], "torch.add"),
    ("aten::sub.Tensor", lambda: [_t(3, 4), _t(3, 4), 1], "torch.sub"),
    ("aten::mul.Scalar", lambda: [_t(3, 4), 3], None),
    ("aten::mul.Tensor", lambda: [_t(2, 3), _t(2, 3)], "torch.mul"),
    ("aten::relu", lambda: [_t(5)], "torch.relu"),
    ("aten::linear", lambda: [_t(2, 3), _t(4, 3), _t(4)], "torch._C._nn.linear"),
    ("aten::linear", lambda: [_t(2, 3), _t(4, 3), None], "torch._C._nn.linear"),
    ("aten::conv2d", lambda: [_t(1, 2, 5, 5), _t(3, 2, 3, 3), None, [1, 1], [1, 1], [1, 1], 1], "torch.conv2d"),
    ("aten::view", lambda: [_t(2, 6), [3, 4]], "view"),
    ("aten::reshape", lambda: [_t(2, 6), [4, -1]], "torch.reshape"),
    ("aten::cat", lambda: [[_t(2, 2), _t(1, 2)], 0], "torch.cat"),
    ("aten::softmax.int", lambda: [_t(2, 5), 1, None], "torch.softmax"),
    ("aten::layer_norm", lambda: [_t(2, 4), [4], _t(4), _t(4), 1e-5, True], "torch.layer_norm"),
    ("aten::matmul", lambda: [_t(2, 3), _t(3, 5)], "torch.matmul"),
    ("aten::split.Tensor", lambda: [_t(5, 2), 2, 0], None),
    ("aten::max.dim", lambda: [_t(3, 4), 1, False], "torch.max"),
    ("aten::sum.dim_IntList", lambda: [_t(3, 4), [1], True, None], "torch.sum"),
    ("aten::sum.dim_IntList", lambda: [_t(3, 4), [0, 1], False, torch.float64], "torch.sum"),
    ("aten::mean.dim", lambda: [_t(3, 4), None, False, None], "torch.mean"),
    ("aten::size.int", lambda: [_t(3, 4), 1], "size"),
    ("aten::transpose.int", lambda: [_t(3, 4), 0, 1], "torch.transpose"),
    ("aten::select.int", lambda: [_t(3, 4), 1, 2], "torch.select"),
    ("aten::embedding", lambda: [_t(10, 3), torch.tensor([1, 2, 9]), -1, False, False], "torch.embedding"),
    ("aten::to.dtype", lambda: [_t(3), torch.float64, False, False, None], "to"),
    ("aten::zeros", lambda: [[2, 3], None, None, None, None], "torch.zeros"),
    ("aten::where.self", lambda: [_t(3) > 0, _t(3), _t(3)], "torch.where"),
    ("aten::pow.Tensor_Scalar", lambda: [_t(3).abs(), 2.5], "torch.pow"),
    ("aten::eq.Scalar", lambda: [torch.tensor([1, 2, 3]), 2], "torch.eq"),
    ("aten::gelu", lambda: [_t(4), "tanh"], "torch._C._nn.gelu"),
    ("aten::item", lambda: [torch.tensor(2.5)], "item"),
    ("aten::dim", lambda: [_t(2, 3, 4)], "dim"),
    ("aten::unbind.int", lambda: [_t(3, 2), 0], None),
    ("aten::clamp", lambda: [_t(5), -0.5, 0.5], None),
    ("aten::topk", lambda: [_t(6), 3, -1, True, True], "torch.topk"),
    ("aten::div.Tensor_mode", lambda: [_t(4), _t(4), "floor"], "torch.div"),
    ("aten::linalg_vector_norm", lambda: [_t(4), 2, None, False, None], "torch._C._linalg.linalg_vector_norm"),
    ("aten::special_erf", lambda: [_t(4)], "torch._C._special.special_erf"),
    ("aten::einsum", lambda: ["ij,jk->ik", [_t(2, 3), _t(3, 2)], None], None),
]


def _same(a, b):
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and isinstance(a, list) == isinstance(b, list) and all(map(_same, a, b))
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("name,make,expr", CASES, ids=[c[0] for c in CASES])
def test_binding_matches_op_overload(name, make, expr):
    op = ops.lookup(name)
    b = python_binding(op)
    if expr is not None:
        assert b.expr == expr
    args = make()
    want = op.impl(*[a for a, s in zip(args, op.schema.arguments) if not s.kwarg_only],
                   **{s.name: a for a, s in zip(args, op.schema.arguments) if s.kwarg_only})  # fmt: skip
    got = b.call(args)
    assert _same(want, got) or (isinstance(want, tuple) and _same(list(want), list(got)))
    # The generated source is the same call.
    names = [f"a{i}" for i in range(len(args))]
    got2 = eval(b.source(names), {"torch": torch}, dict(zip(names, args)))
    assert _same(got, got2) or _same(list(got), list(got2))


def test_list_results_stay_lists():
    b = python_binding(ops.lookup("aten::split.Tensor"))
    assert b.to_list and b.source(["x", "n", "d"]).startswith("list(")
    assert isinstance(b.call([_t(5), 2, 0]), list)


def test_scalar_overload_uses_the_public_binding():
    # torch.add(x, 2) runs aten::add.Tensor on a wrapped number: the same
    # computation as aten::add.Scalar (Note [Wrapped numbers]).
    b = python_binding(ops.lookup("aten::add.Scalar"))
    assert not b.is_overload and b.expr == "torch.add"
    x = torch.arange(4, dtype=torch.int64)
    for other in (2, 2.5, True):
        got = b.call([x, other, 1])
        want = torch.ops.aten.add.Scalar(x, other, 1)
        assert got.dtype == want.dtype and torch.equal(got, want)


def test_sources_put_kwarg_only_arguments_by_name():
    assert python_binding(ops.lookup("aten::add.Tensor")).source(["x", "y", "a"]) == "torch.add(x, y, alpha=a)"
    assert python_binding(ops.lookup("aten::view")).source(["x", "s"]) == "x.view(s)"
    assert python_binding(ops.lookup("aten::add_.Tensor")).source(["x", "y", "a"]) == "x.add_(y, alpha=a)"
    ob = overload_binding(ops.lookup("aten::relu"))
    assert ob.source(["x"]) == "torch.ops.aten.relu.default(x)"


def test_table_is_for_this_torch_and_resolves():
    assert _binding_table.TORCH_VERSION == torch.__version__.split("+")[0]
    assert len(_binding_table.BINDINGS) > 1000
    for name in _binding_table.BINDINGS:
        assert not python_binding(ops.lookup(name)).is_overload, name


def test_table_entries_still_verify():
    rng = random.Random(0)
    # max_unpool with the probes' repeated indices writes one slot from several
    # threads: its results differ from run to run, so re-probing it proves nothing.
    names = rng.sample(sorted(n for n in _binding_table.BINDINGS if "max_unpool" not in n), 120)
    for name in names:
        op = ops.lookup(name)
        b = python_binding(op)
        cands = [c for c in _candidates(op) if (c.expr, c.is_method, c.defaults_by_keyword) == (b.expr, b.is_method, b.defaults_by_keyword)]
        assert cands and _verify(op, cands[0]) == b.to_list, name


def test_probing_survives_crashing_kernels():
    # aten::embedding_bag crashes the process on the probe's made-up values.
    got = probe_all(["aten::relu", "aten::embedding_bag", "aten::abs"], log=open("/dev/null", "w"))
    assert got["aten::relu"] is not None and got["aten::abs"] is not None
    assert got["aten::embedding_bag"] is None


# -- regressions found by the model sweep (tests/csrc/test_model_sweep.py) ---------------------


@pytest.mark.parametrize("executor", ["python", "interpreter", "cpp"])
def test_loss_reduction_default_is_passed_to_the_binding(executor):
    # Note [Bindings' own defaults]: torch._C._nn.nll_loss & co. default `reduction` to None, not Mean.
    import torch.nn.functional as F
    import torchkiln

    def losses(x, t, y):
        logp = F.log_softmax(x, -1)
        return (F.nll_loss(logp, t), F.mse_loss(x, y), F.l1_loss(x, y), F.smooth_l1_loss(x, y),
                F.binary_cross_entropy(torch.sigmoid(x), torch.sigmoid(y)), F.cross_entropy(x, t),
                F.nll_loss(logp, t, reduction="sum"), F.mse_loss(x, y, reduction="none"))

    x, y, t = torch.randn(5, 4), torch.randn(5, 4), torch.tensor([0, 3, 2, 1, 1])
    got = torchkiln.script(losses).with_executor(executor)(x, t, y)
    want = losses(x, t, y)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w)


def test_probes_refuse_a_binding_whose_own_default_differs(monkeypatch):
    # Note [Python bindings], step 3: a candidate is also called with the defaulted arguments left
    # out, as the generated code calls it. Without `reduction` in ALWAYS_PASSED, torch._C._nn.mse_loss
    # (whose Python default is no reduction) would give unreduced losses there and must be refused.
    from torchkiln.ops import bindings

    op = ops.find("aten::mse_loss")
    cand = next(c for c in _candidates(op) if c.expr.endswith("mse_loss") and not c.is_overload)
    assert _verify(op, cand) is not None  # `reduction` always passed: the binding is right
    monkeypatch.setattr(bindings, "ALWAYS_PASSED", frozenset())
    assert _verify(op, cand) is None
    dropped = bindings._without_defaults(cand, op)
    x, y = torch.randn(3, 2), torch.randn(3, 2)
    assert dropped.call([x, y, 1]).shape == (3, 2)  # the binding's own default: no reduction
    assert cand.call([x, y, 1]).shape == ()


@pytest.mark.parametrize("executor", ["python", "interpreter", "cpp"])
def test_index_put_with_none_indices(executor):
    # `y[:, idx] += 1` is aten::index_put_(y, [None, idx], ...): torch.index_put_ refuses the None.
    import torchkiln

    def f(x, idx):
        y = x.clone()
        y[:, idx] += 1.0
        z = x.clone()
        z[1:, idx] = 0.0
        return y, z

    x, idx = torch.randn(3, 4), torch.tensor([0, 2])
    got = torchkiln.script(f).with_executor(executor)(x, idx)
    for g, w in zip(got, f(x, idx)):
        torch.testing.assert_close(g, w)
