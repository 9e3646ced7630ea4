"""Traced modules and functions compute what eager PyTorch computes."""
import copy
import warnings

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import torchkiln
from torchkiln import interpreter


def _same(a, b, exact=False):
    if isinstance(a, torch.Tensor):
        if exact:
            return torch.equal(a, b)
        torch.testing.assert_close(a, b)
        return True
    assert type(a) is type(b), (type(a), type(b))
    assert len(a) == len(b)
    return all(_same(x, y, exact) for x, y in zip(a, b))


def _check_against_oracle(traced, *inputs):
    """The generated Python and the reference interpreter agree."""
    fn = traced._kiln_type.methods["forward"]
    want = interpreter.run(fn, traced._kiln_unit, [traced, *inputs])
    got = traced(*inputs)
    _same(got, want, exact=True)


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(6, 16)
        self.fc2 = nn.Linear(16, 16)
        self.out = nn.Linear(16, 3)

    def forward(self, x):
        x = F.relu(self.fc1(x))
        x = torch.tanh(self.fc2(x))
        return F.log_softmax(self.out(x), dim=-1)


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, stride=2)
        self.fc = nn.Linear(8 * 3 * 3, 5)

    def forward(self, x):
        x = F.relu(self.bn(self.conv1(x)))
        x = F.max_pool2d(x, 2)
        x = F.relu(self.conv2(x))
        return self.fc(x.view(x.size(0), -1))


class Cell(nn.Module):
    def __init__(self):
        super().__init__()
        self.cell = nn.LSTMCell(4, 5)
        self.head = nn.Linear(5, 2)

    def forward(self, x, h, c):
        h, c = self.cell(x, (h, c))
        return self.head(h), (h, c)


@pytest.mark.parametrize("batch", [1, 4, 7])
def test_mlp_matches_eager_for_other_batch_sizes(batch):
    torch.manual_seed(0)
    model = MLP().eval()
    traced = torchkiln.trace(model, torch.randn(2, 6))
    x = torch.randn(batch, 6)
    with torch.no_grad():
        _same(traced(x), model(x))
    _check_against_oracle(traced, x)


def test_cnn_keeps_the_batch_dimension_dynamic():
    torch.manual_seed(0)
    model = CNN().eval()
    traced = torchkiln.trace(model, torch.randn(2, 3, 14, 14))
    graph = str(traced.graph)
    assert "aten::size.int" in graph and "aten::view" in graph
    for batch in (1, 5):
        x = torch.randn(batch, 3, 14, 14)
        with torch.no_grad():
            _same(traced(x), model(x))
    _check_against_oracle(traced, torch.randn(3, 3, 14, 14))


def test_lstm_cell_with_nested_outputs():
    torch.manual_seed(0)
    model = Cell()
    args = (torch.randn(3, 4), torch.randn(3, 5), torch.randn(3, 5))
    traced = torchkiln.trace(model, args)
    args2 = (torch.randn(2, 4), torch.randn(2, 5), torch.randn(2, 5))
    with torch.no_grad():
        _same(traced(*args2), model(*args2))
    assert "aten::lstm_cell" in str(traced.graph)


def test_function_with_several_outputs_and_a_size():
    def f(x, y):
        s = x + y
        return s, s * x.size(1), torch.cat([x, y], 0)

    traced = torchkiln.trace(f, (torch.randn(2, 3), torch.randn(2, 3)))
    a, b = torch.randn(4, 5), torch.randn(4, 5)
    _same(traced(a, b), f(a, b))
    assert isinstance(traced, torchkiln.ScriptFunction)


def test_inplace_ops_on_inputs_are_recorded():
    def f(x, y):
        x.add_(1)
        y.mul_(2)
        z = x + y
        z.relu_()
        return z

    traced = torchkiln.trace(f, (torch.randn(3), torch.randn(3)))
    assert "aten::add_" in str(traced.graph) and "aten::relu_" in str(traced.graph)
    a, b = torch.randn(3), torch.randn(3)
    a2, b2 = a.clone(), b.clone()
    _same(traced(a, b), f(a2, b2), exact=True)
    assert torch.equal(a, a2) and torch.equal(b, b2), "the inputs are mutated as in eager"


def test_inplace_on_a_view_of_an_input():
    def f(x):
        x[0].mul_(3)
        return x * 2

    traced = torchkiln.trace(f, (torch.ones(2, 3),))
    a = torch.arange(6.0).reshape(2, 3)
    want = f(a.clone())
    _same(traced(a), want, exact=True)


def test_submodule_hierarchy_names_and_methods():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Sequential(nn.Linear(8, 8), nn.Tanh()), nn.Linear(8, 2)).eval()
    traced = torchkiln.trace(model, torch.randn(3, 4))
    assert [n for n, _ in traced.named_children()] == ["0", "1", "2", "3"]
    inner = getattr(traced, "2")
    assert isinstance(inner, torchkiln.ScriptModule) and isinstance(getattr(inner, "0"), torchkiln.ScriptModule)
    assert getattr(inner, "0").original_name == "Linear"
    x = torch.randn(5, 8)
    with torch.no_grad():
        _same(inner(x), model[2](x))  # submodules keep a traced forward of their own
    graph = str(traced.graph)
    assert 'prim::GetAttr[name="weight"]' in graph, "parameters are read from the module, not baked"
    assert "prim::Constant[value=tensor" not in graph.replace(" ", "")


class Scaled(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x, scale: float = 1.0, bias=None):
        y = self.fc(x) * scale
        if bias is not None:
            y = y + bias
        return y


class CallsWithKeywords(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = Scaled()
        self.b = Scaled()

    def forward(self, x):
        return self.a(x, scale=2.0) + self.b(x, bias=x * 3)


def test_submodules_called_with_keyword_arguments_get_a_forward():
    # Tensor keyword arguments become inputs of the submodule's forward (as in
    # torch.jit.trace); other keyword values are baked in as the call used them.
    torch.manual_seed(0)
    model = CallsWithKeywords().eval()
    x = torch.randn(2, 4)
    traced = torchkiln.trace(model, (x,))
    _same(traced(x), model(x))
    assert [a.name for a in traced.b.forward.schema.args] == ["self", "x", "bias"]
    assert [a.name for a in traced.a.forward.schema.args] == ["self", "x"]
    bias = torch.randn(2, 4)
    with torch.no_grad():
        _same(traced.b(x, bias), model.b(x, bias=bias))
        _same(traced.b(x, bias=bias), model.b(x, bias=bias))
        _same(traced.a(x), model.a(x, scale=2.0))
    _check_against_oracle(traced.b, x, bias)


class Stepper(nn.Module):
    def __init__(self):
        super().__init__()
        self.cell = nn.LSTMCell(4, 4)

    def forward(self, x, state, scale: float = 1.0, n: int = 2):
        h, c = self.cell(x, state)
        return h * scale * n, c


class SteppedLoop(nn.Module):
    def __init__(self):
        super().__init__()
        self.step = Stepper()

    def forward(self, x):
        h = torch.zeros(2, 4)
        c = torch.zeros(2, 4)
        for t in range(3):
            h, c = self.step(x[t], (h, c), 0.5, n=3)
        return h


def test_submodule_forward_takes_tuples_and_bakes_plain_values():
    # A tuple of tensors is an input (as a trace's own inputs may be); numbers are baked in.
    torch.manual_seed(0)
    model = SteppedLoop().eval()
    x = torch.randn(3, 2, 4)
    traced = torchkiln.trace(model, (x,))
    _same(traced(x), model(x))
    assert [a.name for a in traced.step.forward.schema.args] == ["self", "x", "state"]
    state = (torch.randn(2, 4), torch.randn(2, 4))
    with torch.no_grad():
        _same(traced.step(x[0], state), model.step(x[0], state, 0.5, n=3))
    _check_against_oracle(traced.step, x[1], state)


def test_parameters_are_shared_and_state_dict_matches():
    torch.manual_seed(0)
    model = CNN().eval()
    traced = torchkiln.trace(model, torch.randn(1, 3, 14, 14))
    assert [n for n, _ in traced.named_parameters()] == [n for n, _ in model.named_parameters()]
    assert list(traced.state_dict()) == list(model.state_dict())
    for (n, p), (_, q) in zip(traced.named_parameters(), model.named_parameters()):
        assert p is q, n
    with torch.no_grad():
        model.fc.bias.add_(1.0)  # shared: the traced module sees it
    x = torch.randn(2, 3, 14, 14)
    with torch.no_grad():
        _same(traced(x), model(x))
    fresh = CNN().eval()
    traced.load_state_dict(fresh.state_dict())
    with torch.no_grad():
        _same(traced(x), fresh(x))


def test_train_and_eval_keep_the_training_attribute_in_sync():
    model = CNN().eval()
    traced = torchkiln.trace(model, torch.randn(1, 3, 14, 14))
    assert not traced.training and not traced.bn.training
    traced.train()
    assert traced.training and traced.bn.training and traced.__dict__["training"] is True
    traced.eval()
    assert not traced.bn.training


def test_to_dtype_moves_parameters():
    torch.manual_seed(0)
    model = MLP().eval()
    traced = torchkiln.trace(model, torch.randn(2, 6))
    traced.to(torch.float64)
    model.to(torch.float64)
    assert all(p.dtype == torch.float64 for p in traced.parameters())
    x = torch.randn(3, 6, dtype=torch.float64)
    with torch.no_grad():
        _same(traced(x), model(x))


def test_trace_module_several_methods_and_deepcopy():
    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 3)

        def forward(self, x):
            return self.lin(x)

        def twice(self, x):
            return self.lin(self.lin(x))

    torch.manual_seed(0)
    m = Two()
    traced = torchkiln.trace_module(m, {"forward": torch.randn(2, 3), "twice": (torch.randn(2, 3),)})
    x = torch.randn(4, 3)
    with torch.no_grad():
        _same(traced.twice(x), m.twice(x))
        clone = copy.deepcopy(traced)
        _same(clone(x), m(x))
    assert clone.lin.weight is not traced.lin.weight
    assert str(traced.twice.graph).startswith("graph(")


def test_tensor_created_inside_becomes_a_constant():
    def f(x):
        return x + torch.tensor([1.0, 2.0])

    traced = torchkiln.trace(f, (torch.zeros(2),))
    assert torch.equal(traced(torch.ones(2)), torch.tensor([2.0, 3.0]))


def test_dict_and_list_outputs_need_strict_false():
    def f(x):
        return {"a": x + 1, "b": x * 2}

    with pytest.raises(torchkiln.Error, match="strict=False"):
        torchkiln.trace(f, (torch.ones(2),))
    traced = torchkiln.trace(f, (torch.ones(2),), strict=False)
    out = traced(torch.zeros(2))
    assert set(out) == {"a", "b"} and torch.equal(out["b"], torch.zeros(2))

    def g(x):
        return [x, x + 1]

    with pytest.raises(torchkiln.Error, match="strict=False"):
        torchkiln.trace(g, (torch.ones(2),))
    assert isinstance(torchkiln.trace(g, (torch.ones(2),), strict=False)(torch.ones(2)), list)


def test_tuple_inputs():
    def f(pair, z):
        a, b = pair
        return a * b + z

    traced = torchkiln.trace(f, ((torch.ones(2), torch.ones(2)), torch.ones(2)))
    x = (torch.full((2,), 2.0), torch.full((2,), 3.0))
    assert torch.equal(traced(x, torch.ones(2)), torch.full((2,), 7.0))


def test_non_tensor_inputs_are_refused():
    with pytest.raises(torchkiln.Error, match="cannot be traced"):
        torchkiln.trace(lambda x, n: x * n, (torch.ones(2), 3))


def test_trace_of_a_bound_forward_and_dropout_in_eval():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5), nn.GELU()).eval()
    traced = torchkiln.trace(model.forward, torch.randn(2, 4))
    assert isinstance(traced, torchkiln.ScriptModule)
    x = torch.randn(3, 4)
    with torch.no_grad():
        _same(traced(x), model(x))


def test_python_level_functions_and_indexing():
    def f(x):
        a = F.layer_norm(x, [x.size(-1)])
        b = torch.split(x, 2, dim=1)
        c = x[:, 1:3] * x[0, 1:3]
        d = F.softmax(x, dim=1) + F.silu(x) + F.hardtanh(x)
        return a, b[0] + b[1][:, :1], c, d

    x = torch.randn(3, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error", torchkiln.TracerWarning)
        traced = torchkiln.trace(f, (x,))
    y = torch.randn(3, 4)
    _same(traced(y), f(y))
    assert "aten::layer_norm" in str(traced.graph)


def test_python_level_torch_functions_keep_sizes_dynamic():
    # nn.MultiheadAttention runs F.multi_head_attention_forward, a Python function
    # full of shape arithmetic (Note [Transparent Python functions]).
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=True).eval()
    traced = torchkiln.trace(layer, torch.randn(2, 5, 16))
    for shape in ((3, 7, 16), (1, 2, 16)):
        x = torch.randn(*shape)
        with torch.no_grad():
            _same(traced(x), layer(x))


def test_interpolate_and_unflatten_at_other_sizes():
    def f(x):
        y = F.interpolate(x, scale_factor=2.0, mode="nearest")
        return y.flatten(2).unflatten(2, (x.size(2) * 2, -1))

    traced = torchkiln.trace(f, (torch.randn(1, 2, 3, 3),))
    x = torch.randn(2, 2, 5, 4)
    _same(traced(x), f(x))


def test_dict_inputs():
    class Heads(nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = nn.Linear(3, 2)

        def forward(self, feats, scales):
            return self.proj(feats["image"]) * scales[0] + feats["text"].sum(), {"n": feats["text"]}["n"] * 2

    model = Heads()
    feats = {"image": torch.randn(4, 3), "text": torch.randn(4, 2)}
    traced = torchkiln.trace(model, (feats, [torch.tensor(2.0)]))
    assert "Dict[str, Tensor]" in traced.code
    other = {"image": torch.randn(6, 3), "text": torch.randn(6, 2)}
    with torch.no_grad():
        _same(traced(other, [torch.tensor(3.0)]), model(other, [torch.tensor(3.0)]), exact=True)
    _check_against_oracle(traced, other, [torch.tensor(3.0)])
    with pytest.raises(KeyError, match="text"):
        traced({"image": torch.randn(2, 3)}, [torch.tensor(1.0)])

    int_keys = torchkiln.trace(lambda d: d[0] - d[7], ({0: torch.ones(2), 7: torch.ones(2)},))
    assert torch.equal(int_keys({0: torch.full((3,), 5.0), 7: torch.ones(3)}), torch.full((3,), 4.0))
    with pytest.raises(torchkiln.Error, match="cannot be traced"):
        torchkiln.trace(lambda d: d["a"], ({"a": torch.ones(1), "b": (torch.ones(1),)},))


def test_indexing_with_sizes_stays_dynamic():
    def f(x):
        n = x.size(0)
        half = x[: n // 2]
        last = x[n - 1]
        strided = x[1:n:2, None, ..., : x.shape[1] - 1]
        return half.sum(0) + last, strided

    traced = torchkiln.trace(f, (torch.randn(4, 3),))
    text = str(traced.graph)
    assert "aten::slice.Tensor" in text and "aten::select.int" in text and "aten::unsqueeze" in text
    for rows in (2, 5, 8):
        y = torch.randn(rows, 3)
        _same(traced(y), f(y), exact=True)
        _same(interpreter.run(traced._kiln_fn, traced._kiln_unit, [y]), f(y), exact=True)
