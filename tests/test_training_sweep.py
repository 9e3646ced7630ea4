"""Training-mode parity: scripted and traced modules against eager, on every executor.

Each case builds a model under a fixed seed, copies it, compiles the copy
(`torchkiln.script`, or `torchkiln.trace` where the forward has no
data-dependent control flow) and then, for a few optimizer steps, runs eager
and compiled side by side in training mode: the same `torch.manual_seed`
before each forward (so dropout draws the same masks), a loss, `backward`,
every parameter's `.grad` compared (None and zeros are different), the
optimizer step, then parameters and buffers (BatchNorm running stats,
`num_batches_tracked`, counters) compared, and at the end the `eval()`
outputs.
"""
from __future__ import annotations

import contextlib
import copy
from typing import Callable, Tuple

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import torchkiln

EXECUTORS = ["python", "interpreter", "cpp"]


# ---------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------


class MLPDropout(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(6, 16)
        self.drop = nn.Dropout(0.3)
        self.fc2 = nn.Linear(16, 3)

    def forward(self, x):
        return self.fc2(self.drop(torch.relu(self.fc1(x))))


class CNNBatchNorm(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 4, 3)
        self.bn2 = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        x = F.relu(self.bn(self.conv(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        return self.fc(x.mean(dim=(2, 3)))


class BatchNormCumulative(nn.Module):
    def __init__(self):
        super().__init__()
        self.bn = nn.BatchNorm1d(3, momentum=None)  # cumulative moving average: 1 / num_batches_tracked

    def forward(self, x):
        return self.bn(x) * 2.0


class Norms(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln = nn.LayerNorm(8)
        self.gn = nn.GroupNorm(2, 4)
        self.inorm = nn.InstanceNorm1d(4, affine=True, track_running_stats=True)
        self.bn1 = nn.BatchNorm1d(4)

    def forward(self, x):
        # x: (N, 4, 8)
        y = self.ln(x)
        y = self.gn(y)
        y = self.inorm(y)
        return self.bn1(y)


class LSTMModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(4, 6, num_layers=2, batch_first=True, dropout=0.2)
        self.fc = nn.Linear(6, 2)

    def forward(self, x):
        out, (h, c) = self.lstm(x)
        return self.fc(out[:, -1]) + h.sum() * 0.1 + c.mean()


class GRUModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(4, 5, batch_first=True)
        self.fc = nn.Linear(5, 2)

    def forward(self, x):
        out, h = self.gru(x)
        return self.fc(out.mean(1)) + h.sum()


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = nn.TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16, dropout=0.1, batch_first=True)

    def forward(self, x):
        return self.layer(x)


class Embeddings(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 4, padding_idx=0)
        self.bag = nn.EmbeddingBag(10, 4, mode="mean")
        self.fc = nn.Linear(8, 2)

    def forward(self, idx, offsets):
        a = self.emb(idx).sum(1)
        b = self.bag(idx.reshape(-1), offsets)
        return self.fc(torch.cat([a, b], 1))


class InplaceViews(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 6)
        self.scale = nn.Parameter(torch.tensor(1.5))

    def forward(self, x):
        y = self.fc(x)
        y.mul_(2.0)
        z = y.view(-1, 3, 2)
        z.add_(self.scale)
        w = z.transpose(1, 2).reshape(z.shape[0], -1)
        w[:, 0].mul_(2.0)
        w.relu_()
        return w * self.scale


class LoopControl(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(4, 4) * 0.5)
        self.b = nn.Parameter(torch.zeros(4))

    def forward(self, x):
        n = 0
        while bool(x.norm() < 10.0) and n < 5:
            x = torch.tanh(x @ self.w + self.b) * 3.0
            n += 1
        if bool(x.sum() > 0):
            x = x * 2.0
        else:
            x = x - self.b
        return x


class Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(7, 4)
        self.out = nn.Linear(4, 7, bias=False)
        self.out.weight = self.emb.weight

    def forward(self, idx):
        return self.out(self.emb(idx))


class NoGradBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.gate = nn.Linear(4, 4)

    def forward(self, x):
        with torch.no_grad():
            g = torch.sigmoid(self.gate(x))
        return self.fc(x) * g


class Detached(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 4)
        self.b = nn.Linear(4, 4)

    def forward(self, x):
        h = self.a(x)
        return self.b(h.detach()) + h.detach() * 0.5 + h


class Inner(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        return self.drop(F.gelu(self.fc(x)))


class CallsScripted(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = torchkiln.script(Inner())
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(self.inner(x))


class CountsCalls(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.register_buffer("count", torch.zeros((), dtype=torch.long))
        self.register_buffer("ema", torch.zeros(4))

    def forward(self, x):
        self.count += 1
        with torch.no_grad():
            self.ema.mul_(0.9).add_(x.detach().mean(0) * 0.1)  # detach: a trace does not record no_grad
        return self.fc(x) + self.ema


class Frozen(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Linear(4, 8)
        self.head = nn.Linear(8, 2)
        self.extra = nn.Parameter(torch.ones(2), requires_grad=False)
        for p in self.backbone.parameters():
            p.requires_grad_(False)

    def forward(self, x):
        return self.head(torch.relu(self.backbone(x))) * self.extra


class UnusedParam(nn.Module):
    def __init__(self):
        super().__init__()
        self.used = nn.Linear(4, 2)
        self.unused = nn.Linear(4, 2)

    def forward(self, x):
        return self.used(x)


class FunctionalDropouts(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 1)
        self.d2 = nn.Dropout2d(0.4)

    def forward(self, x):
        y = self.d2(self.conv(x))
        y = F.dropout(y, 0.25, self.training)
        y = F.alpha_dropout(y, 0.2, self.training)
        return y


class TrainingBranch(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        y = self.fc(x)
        if self.training:
            y = y * 2.0 + torch.rand_like(y)
        return y


class WeightClip(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(4, 4))

    def forward(self, x):
        with torch.no_grad():
            self.w.clamp_(-0.5, 0.5)
        return x @ self.w


class BufferAssign(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.register_buffer("step", torch.zeros(()))
        self.register_buffer("last", torch.zeros(3, 4))

    def forward(self, x):
        y = self.fc(x)
        self.step = self.step + 1
        self.last = y.detach()
        return y * self.step


class MiscLayers(nn.Module):
    def __init__(self):
        super().__init__()
        self.drop = nn.Dropout(0.5, inplace=True)
        self.bn = nn.BatchNorm1d(4, track_running_stats=False)
        self.prelu = nn.PReLU()
        self.mha = nn.MultiheadAttention(4, 2, dropout=0.2, batch_first=True)

    def forward(self, x):
        y = self.prelu(self.bn(x * 1.0))
        y = self.drop(y)
        a, _ = self.mha(y.unsqueeze(0), y.unsqueeze(0), y.unsqueeze(0), need_weights=False)
        return a.squeeze(0), self.prelu.weight


class Losses(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 5)
        self.register_buffer("cw", torch.tensor([1.0, 2.0, 1.0, 0.5, 1.0]))

    def forward(self, x, y):
        z = self.fc(x)
        a = F.cross_entropy(z, y, weight=self.cw, label_smoothing=0.1, ignore_index=2)
        b = F.nll_loss(F.log_softmax(z, 1), y, reduction="sum")
        c = F.mse_loss(z, torch.zeros_like(z)) + F.smooth_l1_loss(z, torch.ones_like(z), beta=0.5)
        d = F.binary_cross_entropy_with_logits(z, torch.sigmoid(z.detach()), pos_weight=self.cw)
        e = F.kl_div(F.log_softmax(z, 1), F.softmax(z.detach() * 2, 1), reduction="batchmean")
        return a + b + c + d + e


class Convs(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(4, 4, 3, groups=2, padding=1, bias=False)
        self.ct = nn.ConvTranspose2d(4, 2, 2, stride=2)
        self.pool = nn.MaxPool2d(2, return_indices=True)
        self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)

    def forward(self, x):
        p, idx = self.pool(self.c1(x))
        y = self.ct(p * (idx % 3).to(p.dtype))
        y = F.adaptive_avg_pool2d(y, (3, 3))
        return self.up(y)


class MaxNormEmbedding(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 4, max_norm=1.0)  # renormalizes rows of the weight in place
        self.bag = nn.EmbeddingBag(10, 4, mode="sum", max_norm=0.5)
        self.freq = nn.Embedding(10, 3, scale_grad_by_freq=True)

    def forward(self, idx, w):
        return self.emb(idx).sum(1) + self.bag(idx, per_sample_weights=w) + self.freq(idx).pow(2).sum()


class FullTransformer(nn.Module):
    def __init__(self):
        super().__init__()
        self.t = nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=16, dropout=0.1, batch_first=True)

    def forward(self, src, tgt):
        mask = self.t.generate_square_subsequent_mask(tgt.size(1))
        return self.t(src, tgt, tgt_mask=mask)


# ---------------------------------------------------------------------------
# Harness
# ---------------------------------------------------------------------------


def _x(*shape) -> Callable[[int], Tuple[torch.Tensor, ...]]:
    def make(step: int):
        g = torch.Generator().manual_seed(1000 + step)
        return (torch.randn(*shape, generator=g),)

    return make


def _emb_inputs(step: int):
    g = torch.Generator().manual_seed(2000 + step)
    idx = torch.randint(0, 10, (3, 4), generator=g)
    return idx, torch.tensor([0, 4, 8])


def _tied_inputs(step: int):
    g = torch.Generator().manual_seed(3000 + step)
    return (torch.randint(0, 7, (5,), generator=g),)


def _loss_inputs(step: int):
    g = torch.Generator().manual_seed(4000 + step)
    return torch.randn(6, 4, generator=g), torch.randint(0, 5, (6,), generator=g)


def _weighted_idx(step: int):
    g = torch.Generator().manual_seed(5000 + step)
    return torch.randint(0, 10, (3, 4), generator=g), torch.rand(3, 4, generator=g)


def _seq2seq(step: int):
    g = torch.Generator().manual_seed(6000 + step)
    return torch.randn(2, 5, 8, generator=g), torch.randn(2, 4, 8, generator=g)


def _loss(out) -> torch.Tensor:
    if isinstance(out, (tuple, list)):
        return sum(_loss(o) for o in out)
    return (out.float() ** 2).mean() + out.float().sum() * 0.01


# name, factory, inputs, traceable, optimizer
CASES = [
    ("mlp_dropout", MLPDropout, _x(5, 6), True, "sgd"),
    ("cnn_batchnorm", CNNBatchNorm, _x(3, 2, 6, 6), True, "sgd"),
    ("cnn_batchnorm_adam", CNNBatchNorm, _x(3, 2, 6, 6), True, "adam"),
    ("bn_cumulative", BatchNormCumulative, _x(4, 3), True, "sgd"),
    ("norms", Norms, _x(3, 4, 8), True, "adam"),
    ("lstm", LSTMModel, _x(2, 5, 4), True, "sgd"),
    ("gru", GRUModel, _x(2, 5, 4), True, "adam"),
    ("transformer_encoder", Encoder, _x(2, 5, 8), True, "adam"),
    ("embeddings", Embeddings, _emb_inputs, True, "sgd"),
    ("inplace_views", InplaceViews, _x(4, 6), True, "sgd"),
    ("loop_control", LoopControl, _x(3, 4), False, "sgd"),
    ("weight_tying", Tied, _tied_inputs, True, "adam"),
    ("no_grad_block", NoGradBlock, _x(3, 4), True, "sgd"),
    ("detach", Detached, _x(3, 4), True, "sgd"),
    ("calls_scripted", CallsScripted, _x(3, 4), True, "sgd"),
    ("buffer_update", CountsCalls, _x(3, 4), True, "sgd"),
    ("frozen", Frozen, _x(3, 4), True, "adam"),
    ("unused_param", UnusedParam, _x(3, 4), True, "sgd"),
    ("functional_dropouts", FunctionalDropouts, _x(2, 2, 4, 4), True, "sgd"),
    ("training_branch", TrainingBranch, _x(3, 4), False, "sgd"),
    ("weight_clip", WeightClip, _x(3, 4), True, "sgd"),
    ("buffer_assign", BufferAssign, _x(3, 4), False, "sgd"),
    ("misc_layers", MiscLayers, _x(3, 4), True, "adam"),
    ("losses", Losses, _loss_inputs, True, "sgd"),
    ("convs", Convs, _x(2, 4, 6, 6), True, "adam"),
    ("max_norm_embedding", MaxNormEmbedding, _weighted_idx, True, "sgd"),
    ("full_transformer", FullTransformer, _seq2seq, True, "adam"),
]

# (case, kind, executor) -> reason: known differences, kept visible.
_NO_GRAD_TRACE = "torch.no_grad() inside a traced forward is not recorded (docs/trace.md, Known limits; as torch.jit.trace)"
_BAKED_MOMENTUM = (
    "BatchNorm(momentum=None) computes 1 / num_batches_tracked as a Python float: the trace bakes the "
    "value of the traced call, with a TracerWarning (as torch.jit.trace)"
)
XFAIL: dict = {}
for _ex in EXECUTORS:
    XFAIL["no_grad_block", "trace", _ex] = _NO_GRAD_TRACE
    XFAIL["weight_clip", "trace", _ex] = _NO_GRAD_TRACE
    XFAIL["bn_cumulative", "trace", _ex] = _BAKED_MOMENTUM


def _optimizer(kind: str, params) -> torch.optim.Optimizer:
    params = [p for p in params if p.requires_grad]
    if kind == "adam":
        return torch.optim.Adam(params, lr=0.01)
    return torch.optim.SGD(params, lr=0.05, momentum=0.9)


def _close(a: torch.Tensor, b: torch.Tensor, what: str) -> None:
    assert a.shape == b.shape and a.dtype == b.dtype, f"{what}: {a.dtype}{tuple(a.shape)} vs {b.dtype}{tuple(b.shape)}"
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=lambda m: f"{what}: {m}")


def _compare_state(eager: nn.Module, compiled: nn.Module, when: str, grads: bool) -> None:
    ep = dict(eager.named_parameters(remove_duplicate=False))
    cp = dict(compiled.named_parameters(remove_duplicate=False))
    assert sorted(ep) == sorted(cp), when
    for name, p in ep.items():
        q = cp[name]
        _close(q.detach(), p.detach(), f"{when}: parameter {name}")
        assert q.requires_grad == p.requires_grad, f"{when}: {name}.requires_grad"
        if grads:
            if p.grad is None:
                assert q.grad is None, f"{when}: {name}.grad is None in eager, {q.grad} compiled"
            else:
                assert q.grad is not None, f"{when}: {name}.grad is None compiled, {p.grad} in eager"
                _close(q.grad, p.grad, f"{when}: {name}.grad")
    eb = dict(eager.named_buffers())
    cb = dict(compiled.named_buffers())
    assert sorted(eb) == sorted(cb), when
    for name, b in eb.items():
        _close(cb[name], b, f"{when}: buffer {name}")


def _compile(eager: nn.Module, kind: str, example) -> nn.Module:
    copied = copy.deepcopy(eager)
    if kind == "script":
        return torchkiln.script(copied)
    traced = torchkiln.trace(copied, example, check_trace=False)
    # Tracing ran the forward once in training mode (running stats, counters):
    # start from eager's state again, as torch.jit.trace users would.
    traced.load_state_dict(eager.state_dict())
    return traced


def run_case(factory, inputs, kind: str, executor: str, opt: str, steps: int = 3, eval_check: bool = True) -> None:
    torch.manual_seed(0)
    eager = factory()
    eager.train()
    compiled = _compile(eager, kind, inputs(99)).with_executor(executor)
    compiled.train()
    assert compiled.training
    eo = _optimizer(opt, eager.parameters())
    co = _optimizer(opt, compiled.parameters())
    for step in range(steps):
        results = []
        for m, o in ((eager, eo), (compiled, co)):
            # Floating-point inputs require grad: their gradients are compared too.
            x = tuple(t.requires_grad_() if t.is_floating_point() else t for t in inputs(step))
            o.zero_grad(set_to_none=True)
            torch.manual_seed(100 + step)
            out = m(*x)
            _loss(out).backward()
            results.append((out, torch.rand(()), [t.grad for t in x]))  # the RNG stream after the forward
        (e_out, e_next, e_in), (c_out, c_next, c_in) = results
        torch.testing.assert_close(c_out, e_out, rtol=1e-5, atol=1e-6, msg=lambda m: f"step {step}: output: {m}")
        assert torch.equal(c_next, e_next), f"step {step}: the RNG stream after forward differs"
        for i, (cg, eg) in enumerate(zip(c_in, e_in)):
            assert (cg is None) == (eg is None), f"step {step}: grad of input {i}: {cg} vs {eg}"
            if eg is not None:
                _close(cg, eg, f"step {step}: grad of input {i}")
        _compare_state(eager, compiled, f"step {step} after backward", grads=True)
        eo.step()
        co.step()
        _compare_state(eager, compiled, f"step {step} after optimizer step", grads=False)
    if not eval_check:
        return
    eager.eval()
    compiled.eval()
    assert not compiled.training
    x = inputs(50)
    with torch.no_grad():
        torch.testing.assert_close(compiled(*x), eager(*x), rtol=1e-5, atol=1e-6)
    _compare_state(eager, compiled, "after eval forward", grads=False)


def _params():
    out = []
    for name, factory, inputs, traceable, opt in CASES:
        for kind in ("script", "trace") if traceable else ("script",):
            for ex in EXECUTORS:
                marks = []
                reason = XFAIL.get((name, kind, ex))
                if reason is not None:
                    marks.append(pytest.mark.xfail(strict=True, reason=reason))
                out.append(pytest.param(factory, inputs, kind, ex, opt, id=f"{name}-{kind}-{ex}", marks=marks))
    return out


@pytest.mark.parametrize("factory,inputs,kind,executor,opt", _params())
def test_training_parity(factory, inputs, kind, executor, opt):
    # A trace records the ops of the mode it ran in (dropout, batch_norm's
    # `training` are constants), so `eval()` cannot change a module traced in
    # training mode: that is checked apart, below.
    run_case(factory, inputs, kind, executor, opt, eval_check=kind == "script")


# Traced in training mode, then `eval()`: only models whose forward does not
# depend on `training` agree with eager (docs/trace.md, Known limits).
TRAINING_DEPENDENT = {
    "mlp_dropout", "cnn_batchnorm", "cnn_batchnorm_adam", "bn_cumulative", "norms", "lstm",
    "transformer_encoder", "functional_dropouts", "misc_layers", "full_transformer",
}


def _eval_params():
    out = []
    for name, factory, inputs, traceable, opt in CASES:
        if not traceable:
            continue
        marks = []
        if name in ("no_grad_block", "weight_clip", "bn_cumulative"):
            marks.append(pytest.mark.xfail(strict=True, reason=XFAIL[name, "trace", "python"]))
        elif name in TRAINING_DEPENDENT:
            marks.append(pytest.mark.xfail(strict=True, reason="a trace bakes in the training flag it was recorded with (as torch.jit.trace)"))
        out.append(pytest.param(factory, inputs, opt, id=name, marks=marks))
    return out


@pytest.mark.parametrize("factory,inputs,opt", _eval_params())
def test_traced_eval_after_training(factory, inputs, opt):
    run_case(factory, inputs, "trace", "python", opt, steps=1)


# ---------------------------------------------------------------------------
# Higher-order gradients
# ---------------------------------------------------------------------------


class Softplusish(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64))

    def forward(self, x):
        return (torch.tanh(x * self.w) ** 2 + torch.exp(-x * x)).sum()


@pytest.mark.parametrize("executor", EXECUTORS)
def test_double_backward(executor):
    eager = Softplusish()
    compiled = torchkiln.script(copy.deepcopy(eager)).with_executor(executor)
    results = []
    for m in (eager, compiled):
        x = torch.tensor([0.3, -0.7, 1.1], dtype=torch.float64, requires_grad=True)
        (gx,) = torch.autograd.grad(m(x), x, create_graph=True)
        gw, hx = torch.autograd.grad((gx * gx).sum(), (m.w, x))
        results.append((gx.detach(), gw, hx))
    for got, want in zip(results[1], results[0]):
        torch.testing.assert_close(got, want)


def _tiny(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    z = torch.sin(x) * y + x.pow(3) / (1.0 + y * y)
    if bool(z.sum() > 0):
        z = z.cumsum(0)
    return torch.log1p(z.abs()) + torch.matmul(x, y)


@pytest.mark.parametrize("executor", EXECUTORS)
def test_gradcheck(executor):
    fn = torchkiln.script(_tiny).with_executor(executor)
    x = torch.tensor([0.3, -0.7, 1.1], dtype=torch.float64, requires_grad=True)
    y = torch.tensor([1.2, 0.4, -0.9], dtype=torch.float64, requires_grad=True)
    torch.testing.assert_close(fn(x, y), _tiny(x, y))
    assert torch.autograd.gradcheck(fn, (x, y))
    assert torch.autograd.gradgradcheck(fn, (x, y))


@pytest.mark.parametrize("executor", EXECUTORS)
def test_autograd_grad_inside_script_is_differentiable(executor):
    # Once refused; now `prim::autograd_grad` (Note [Autograd calls in script]). As in
    # TorchScript the result is List[Optional[Tensor]]: refined before it is returned.
    def f(x: torch.Tensor) -> torch.Tensor:
        (g,) = torch.autograd.grad([(x * x * x).sum()], [x], create_graph=True)
        assert g is not None
        return g

    compiled = torchkiln.script(f).with_executor(executor)
    results = []
    for fn in (f, compiled):
        x = torch.tensor([0.3, -0.7, 1.1], dtype=torch.float64, requires_grad=True)
        g = fn(x)
        (h,) = torch.autograd.grad(g.sum(), x)
        results.append((g.detach(), h))
    for got, want in zip(results[1], results[0]):
        torch.testing.assert_close(got, want)


# ---------------------------------------------------------------------------
# Random ops, counters, state changed between steps
# ---------------------------------------------------------------------------


def _random_ops(x: torch.Tensor) -> torch.Tensor:
    a = F.dropout(x, 0.5, True)
    b = torch.rand_like(x) + torch.randn(x.shape) + torch.bernoulli(torch.full_like(x, 0.3))
    c = torch.randperm(5).float().sum() + torch.multinomial(torch.ones(6), 3).float().sum()
    d = torch.randint(0, 9, (3,)).float().sum() + x.new_empty(x.shape).uniform_().sum() + torch.normal(torch.zeros(3), torch.ones(3)).sum()
    e = F.rrelu(x, training=True) + F.feature_alpha_dropout(x, 0.2, True)
    return a + b + c + d + e


@pytest.mark.parametrize("executor", EXECUTORS)
def test_random_ops_draw_eager_stream(executor):
    fn = torchkiln.script(_random_ops).with_executor(executor)
    x = torch.randn(4, 3)
    torch.manual_seed(0)
    want, want_next = _random_ops(x), torch.rand(())
    torch.manual_seed(0)
    got, got_next = fn(x), torch.rand(())
    assert torch.equal(got, want) and torch.equal(got_next, want_next)


class IntCounter(nn.Module):
    steps: int

    def __init__(self):
        super().__init__()
        self.steps = 0
        self.fc = nn.Linear(3, 3)

    def forward(self, x):
        self.steps += 1
        if self.steps % 2 == 0:
            return self.fc(x) * 2.0
        return self.fc(x)


@pytest.mark.parametrize("executor", EXECUTORS)
def test_int_attribute_counter(executor):
    eager = IntCounter()
    compiled = torchkiln.script(copy.deepcopy(eager)).with_executor(executor)
    x = torch.randn(4, 3)
    for _ in range(3):
        torch.testing.assert_close(compiled(x), eager(x))
    assert compiled.steps == eager.steps == 3


@pytest.mark.parametrize("executor", EXECUTORS)
def test_state_changed_between_steps(executor):
    # Submodule eval, parameters frozen or replaced, load_state_dict, dtype,
    # zero_grad(set_to_none=False): each after the module has run.
    torch.manual_seed(0)
    eager = CNNBatchNorm()
    compiled = torchkiln.script(copy.deepcopy(eager)).with_executor(executor)
    x = torch.randn(3, 2, 6, 6)

    def step(when: str, x: torch.Tensor, set_to_none: bool = True) -> None:
        for m in (eager, compiled):
            m.zero_grad(set_to_none=set_to_none)
            torch.manual_seed(1)
            _loss(m(x)).backward()
        _compare_state(eager, compiled, when, grads=True)

    step("first", x)
    for m in (eager, compiled):
        m.bn.eval()
    step("bn.eval()", x)
    for m in (eager, compiled):
        m.train()
        m.conv.weight.requires_grad_(False)
    step("conv frozen", x)
    for m in (eager, compiled):
        m.fc.weight = nn.Parameter(torch.full((2, 4), 0.3))
    step("fc.weight replaced", x)
    state = {k: v + 0.1 if v.is_floating_point() else v for k, v in eager.state_dict().items()}
    for m in (eager, compiled):
        m.load_state_dict(state)
    step("load_state_dict", x)
    for m in (eager, compiled):
        m.double()
    step("double", x.double())
    step("zero_grad(set_to_none=False)", x.double(), set_to_none=False)


@pytest.mark.parametrize("executor", EXECUTORS)
def test_hooks_in_training(executor):
    torch.manual_seed(0)
    eager = MLPDropout()
    compiled = torchkiln.script(copy.deepcopy(eager)).with_executor(executor)
    logs = []
    for m in (eager, compiled):
        log: list = []
        logs.append(log)
        m.register_full_backward_hook(lambda mod, gi, go, log=log: log.append((gi[0].clone(), go[0].clone())))
        m.register_full_backward_pre_hook(lambda mod, go, log=log: log.append((go[0].clone(),)))
        m.fc1.weight.register_hook(lambda g, log=log: log.append((g.clone(),)))
        m.register_forward_hook(lambda mod, args, out: out * 2.0)
        x = torch.randn(5, 6, generator=torch.Generator().manual_seed(1), requires_grad=True)
        torch.manual_seed(1)
        _loss(m(x)).backward()
    _compare_state(eager, compiled, "hooks", grads=True)
    assert len(logs[0]) == len(logs[1]) == 3
    for want, got in zip(*logs):
        for w, g in zip(want, got):
            torch.testing.assert_close(g, w)


@pytest.mark.xfail(strict=True, raises=torchkiln.CompileError, reason=(
    "nn.MaxUnpool2d declares kernel_size: _size_2_t without __constants__, so the attribute is "
    "Union[int, Tuple[int, int]] and F.max_unpool2d wants int[]; torch.jit.script fails on it too (an internal assert)"))
def test_max_unpool_scripts():
    torchkiln.script(nn.MaxUnpool2d(2))


def _fresh_leaf(x: torch.Tensor) -> Tuple[torch.Tensor, bool]:
    a = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    return (a * x * x).sum(), a.requires_grad


@pytest.mark.parametrize("executor", EXECUTORS)
def test_tensor_requiring_grad_is_not_folded(executor):
    # Constant propagation used to fold `torch.tensor(..., requires_grad=True)`
    # into a detached constant: `(a * x * x).sum()` had no grad_fn, so
    # `backward` raised where eager's runs, and double backward lost a term
    # (Note [Leaves that require grad] in passes/constant_prop.py).
    fn = torchkiln.script(_fresh_leaf).with_executor(executor)
    results = []
    for f in (_fresh_leaf, fn):
        out, flag = f(torch.tensor([0.5, -1.0, 2.0]))
        assert out.requires_grad and out.grad_fn is not None and flag
        out.backward()  # into the call's own leaf
        x = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
        (gx,) = torch.autograd.grad(f(x)[0], x, create_graph=True)
        results.append((out.detach(), gx.detach(), gx.requires_grad))
    for got, want in zip(results[1], results[0]):
        if isinstance(want, torch.Tensor):
            torch.testing.assert_close(got, want)
        else:
            assert got == want


@pytest.mark.parametrize("cls", [LSTMModel, GRUModel], ids=["lstm", "gru"])
@pytest.mark.parametrize("executor", EXECUTORS)
def test_rnn_parameter_replaced(cls, executor):
    # A scripted RNN's forward reads `_flat_weights`; assigning a new Parameter
    # used to leave it on the old tensor: wrong outputs and gradients
    # (Note [RNN flat weights] in api.py).
    torch.manual_seed(0)
    eager = cls()
    compiled = torchkiln.script(copy.deepcopy(eager)).with_executor(executor)
    rnn = "lstm" if cls is LSTMModel else "gru"
    x = torch.randn(2, 5, 4)

    def step(when: str, x: torch.Tensor) -> None:
        for m in (eager, compiled):
            m.zero_grad(set_to_none=True)
            torch.manual_seed(1)
            _loss(m(x)).backward()
        _compare_state(eager, compiled, when, grads=True)

    step("first", x)
    for m in (eager, compiled):
        setattr(getattr(m, rnn), "weight_hh_l0", nn.Parameter(torch.full_like(getattr(eager, rnn).weight_hh_l0, 0.05)))
    step("weight_hh_l0 replaced", x)
    for m in (eager, compiled):
        m.double()
    step("double", x.double())


@pytest.mark.parametrize("executor", EXECUTORS)
def test_swap_params_on_conversion(executor):
    # The C++ executor's slots referenced the parameters, so torch.utils.swap_tensors refused
    # them: "_apply(): Couldn't swap Linear.weight" (Note [Releasing tensors for swap_tensors]
    # in cpp_executor.py).
    m = torchkiln.script(nn.Linear(3, 3)).with_executor(executor)
    m(torch.randn(2, 3))
    with _swapping(True):
        m.double()
    assert m.weight.dtype == torch.float64
    torch.testing.assert_close(m(torch.ones(1, 3, dtype=torch.float64)), nn.functional.linear(torch.ones(1, 3, dtype=torch.float64), m.weight, m.bias))


@contextlib.contextmanager
def _swapping(on: bool, overwrite: bool = False):
    """torch.__future__'s swap_module_params_on_conversion (and overwrite_...), set for a block."""
    before = torch.__future__.get_swap_module_params_on_conversion(), torch.__future__.get_overwrite_module_params_on_conversion()
    torch.__future__.set_swap_module_params_on_conversion(on)
    torch.__future__.set_overwrite_module_params_on_conversion(overwrite)
    try:
        yield
    finally:
        torch.__future__.set_swap_module_params_on_conversion(before[0])
        torch.__future__.set_overwrite_module_params_on_conversion(before[1])


class TiedBatchNorm(nn.Module):
    """Nested submodules, a parameter shared by two of them, buffers."""

    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(4, 4)
        self.dec = nn.Linear(4, 4)
        self.dec.weight = self.enc.weight
        self.block = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))

    def forward(self, x):
        return self.dec(torch.relu(self.block(self.enc(x))))


# name -> (conversion, the dtype after it)
CONVERSIONS = {
    "double": (lambda m: m.double(), torch.float64),
    "to_float64": (lambda m: m.to(torch.float64), torch.float64),
    "half_then_float": (lambda m: m.half().float(), torch.float32),
    "float_no_op": (lambda m: m.float(), torch.float32),
    # What m.cuda() / m.to(device) does, on the CPU: every tensor replaced by a new one.
    "new_tensors": (lambda m: m._apply(lambda t: t.clone()), torch.float32),
}


@pytest.mark.parametrize("mode", ["set_data", "swap", "overwrite"])
@pytest.mark.parametrize("conversion", sorted(CONVERSIONS))
@pytest.mark.parametrize("executor", EXECUTORS)
def test_conversion_after_calls_matches_eager(executor, conversion, mode):
    convert, dtype = CONVERSIONS[conversion]
    torch.manual_seed(0)
    eager = TiedBatchNorm()
    compiled = torchkiln.script(copy.deepcopy(eager)).with_executor(executor)
    x = torch.randn(5, 4)

    def step(when: str, x: torch.Tensor) -> None:
        for m in (eager, compiled):
            m.zero_grad(set_to_none=True)
            _loss(m(x)).backward()
        _compare_state(eager, compiled, when, grads=True)

    step("before", x)
    compiled.block(x)  # a submodule called directly has a program of its own
    eager.block(x)
    with _swapping(mode == "swap", overwrite=mode == "overwrite"):  # overwrite: new Parameter objects
        for m in (eager, compiled):
            convert(m)
    assert compiled.enc.weight.dtype == dtype
    assert (compiled.dec.weight is compiled.enc.weight) == (eager.dec.weight is eager.enc.weight)
    _compare_state(eager, compiled, "converted", grads=True)
    step("after", x.to(dtype))
    _close(compiled.block(x.to(dtype)), eager.block(x.to(dtype)), "the submodule after")
    with torch.no_grad():  # in-place updates still reach the program
        for m in (eager, compiled):
            m.enc.weight.mul_(0.5)
            m.eval()
        _close(compiled(x.to(dtype)), eager(x.to(dtype)), "eval after")


@pytest.mark.parametrize("executor", EXECUTORS)
def test_swap_conversion_of_a_scripted_child_of_an_eager_module(executor):
    torch.manual_seed(0)
    inner = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    outer = nn.Sequential(torchkiln.script(copy.deepcopy(inner)).with_executor(executor), nn.Tanh())
    x = torch.randn(2, 3)
    outer(x)
    with _swapping(True):
        outer.double()
        inner.double()
    _close(outer(x.double()), torch.tanh(inner(x.double())), "converted")


@pytest.mark.parametrize("executor", EXECUTORS)
@pytest.mark.parametrize("cls", [LSTMModel, GRUModel], ids=["lstm", "gru"])
def test_rnn_swap_conversion(cls, executor):
    # `_flat_weights` (Note [RNN flat weights] in api.py) holds the parameters too.
    torch.manual_seed(0)
    eager = cls()
    compiled = torchkiln.script(copy.deepcopy(eager)).with_executor(executor)
    x = torch.randn(2, 5, 4)
    for dtype in (torch.float32, torch.float64):
        if dtype is torch.float64:
            with _swapping(True):
                for m in (eager, compiled):
                    m.double()
        for m in (eager, compiled):
            m.zero_grad(set_to_none=True)
            torch.manual_seed(1)
            _loss(m(x.to(dtype))).backward()
        _compare_state(eager, compiled, str(dtype), grads=True)


@pytest.mark.parametrize("how", ["copy", "assign", "swap", "swap_assign", "setattr"])
@pytest.mark.parametrize("executor", EXECUTORS)
def test_new_state_after_calls_matches_eager(executor, how):
    torch.manual_seed(0)
    eager = TiedBatchNorm()
    compiled = torchkiln.script(copy.deepcopy(eager)).with_executor(executor)
    x = torch.randn(5, 4)
    for m in (eager, compiled):
        m(x)
        m.eval()
    torch.manual_seed(1)
    source = TiedBatchNorm()
    source.block[1].running_mean.uniform_()
    for m in (eager, compiled):
        if how == "setattr":  # replacing Parameter attributes and a buffer
            m.enc.weight = nn.Parameter(source.enc.weight.detach().clone())
            m.dec.weight = m.enc.weight
            m.block[0].bias = nn.Parameter(source.block[0].bias.detach().clone())
            m.block[1].running_mean = source.block[1].running_mean.clone()
            continue
        state = copy.deepcopy(source.state_dict())
        with _swapping(how.startswith("swap")):
            m.load_state_dict(state, assign=how.endswith("assign"))
    # (assign=True unties them, in eager too: the state dict holds the tensor under both names.)
    assert (compiled.enc.weight is compiled.dec.weight) == (how != "assign")
    _close(compiled(x), eager(x), how)
    if how != "setattr":
        _close(compiled(x), source.eval()(x), how)
