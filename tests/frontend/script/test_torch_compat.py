"""Library code that torch.jit.script accepts, found by sweeping torch.nn and torch.nn.functional.

Each case compares with eager PyTorch on every executor (`matches_eager`) or,
for modules, over several calls (the first runs the pass pipeline, later ones
the C++ executor).
"""
from __future__ import annotations

from typing import List, Optional, Tuple, Union

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import torchkiln

from .script_testing import check_ir, matches_eager, same


def _module_matches(module: nn.Module, *inputs: torch.Tensor) -> None:
    module.eval()
    compiled = torchkiln.script(module)
    check_ir(compiled)
    expected = module(*inputs)
    for _ in range(3):
        assert same(compiled(*inputs), expected)


# -- a Union of numbers is a Scalar (lp_pool's `norm_type: int | float`) ----------------------------


def union_number_arithmetic(x: torch.Tensor, p: Union[int, float]) -> torch.Tensor:
    q = -p
    if p > 1:
        x = x + q
    return x.abs().pow(p).mul(2).pow(1.0 / p) + torch.add(x, p) + p * 2


def union_number_compare(p: Union[int, float], q: Union[int, float]) -> bool:
    return p < q or p == 2


def test_union_of_numbers_in_arithmetic_and_ops():
    x = torch.linspace(-2.0, 2.0, 7)
    matches_eager(union_number_arithmetic, (x, 2), (x, 2.5), (x, 1), (x, 0.5))
    matches_eager(union_number_compare, (1, 2.5), (3.0, 1), (2, 0), (2.0, 1))


@pytest.mark.parametrize("norm", [2, 1.5, 3.0, float("inf")])
def test_lp_pool_modules(norm):
    torch.manual_seed(0)
    _module_matches(nn.LPPool2d(norm, 2), torch.rand(2, 3, 8, 8))
    _module_matches(nn.LPPool1d(norm, 3, stride=2), torch.rand(2, 3, 9))


# -- overload declarations survive torch.jit.script (F.interpolate in nn.Upsample) -----------------


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_upsample_after_torch_jit_scripted_it(mode):
    module = nn.Upsample(scale_factor=2, mode=mode)
    torch.jit.script(module)  # consumes torch._jit_internal's record of F.interpolate's overloads
    _module_matches(module, torch.randn(2, 3, 5, 5))
    _module_matches(nn.Upsample(size=(7, 4), mode=mode), torch.randn(1, 2, 3, 3))


# -- torch.broadcast_shapes --------------------------------------------------------------------------


def broadcast_two(a: torch.Tensor, b: torch.Tensor) -> List[int]:
    return torch.broadcast_shapes(a.size(), b.size())


def broadcast_mixed(a: torch.Tensor, n: int) -> List[int]:
    return torch.broadcast_shapes(a.shape, (n, 1, 1), 5)


def test_broadcast_shapes():
    # eager returns a torch.Size; script returns a list of ints (as TorchScript)
    for args in ((torch.zeros(3, 1), torch.zeros(4)), (torch.zeros(0), torch.zeros(1)), (torch.zeros(()), torch.zeros(2, 2))):
        expected = list(broadcast_two(*args))
        s = torchkiln.script(broadcast_two)
        for _ in range(3):
            assert s(*args) == expected
    s = torchkiln.script(broadcast_mixed)
    for _ in range(3):
        assert s(torch.zeros(1, 5), 2) == [2, 1, 5]


@pytest.mark.parametrize("executor", ["python", "interpreter", "cpp"])
def test_broadcast_shapes_mismatch_raises_torchs_error(executor):
    from torchkiln.api import ScriptFunction

    s = torchkiln.script(broadcast_two)
    run = ScriptFunction(s._kiln_unit, s._kiln_fn, executor=executor)
    with pytest.raises(RuntimeError, match=r"Attempting to broadcast a dimension of length 4 at -2! Mismatching argument at index 1 had \[4, 3\]; but expected shape should be broadcastable to \[2, 3\]"):
        run(torch.zeros(2, 3), torch.zeros(4, 3))


def test_bce_loss_with_weight():
    torch.manual_seed(0)
    x, y = torch.rand(4, 6), torch.rand(4, 6)
    _module_matches(nn.BCELoss(weight=torch.rand(6)), x, y)
    _module_matches(nn.BCELoss(), x, y)


# -- parameters registered as None save and load (MultiheadAttention) ---------------------------------


@pytest.mark.parametrize("kdim", [None, 8])
def test_multihead_attention_with_none_parameters_saves_and_loads(tmp_path, kdim):
    # kdim=None: q_proj_weight & co. are None parameters; kdim=8: in_proj_weight is
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(16, 4, kdim=kdim, vdim=kdim).eval()
    q = torch.randn(3, 2, 16)
    # key and value are different tensors: the differential check copies arguments, and
    # multi_head_attention_forward takes another path when `key is value`
    k, v = torch.randn(5, 2, kdim or 16), torch.randn(5, 2, kdim or 16)
    compiled = torchkiln.script(mha)
    path = tmp_path / "mha.kiln"
    torchkiln.save(compiled, str(path))
    loaded = torchkiln.load(str(path))
    with torch.no_grad():
        expected = mha(q, k, v)
        for _ in range(2):
            assert same(compiled(q, k, v), expected)
            assert same(loaded(q, k, v), expected)


# -- Class.static_method(...) and Class.CONSTANT ------------------------------------------------------


class StaticHelper:
    SCALE = 3

    def __init__(self, x: int):
        self.x = x

    @staticmethod
    def double(v: int) -> int:
        return v * 2


def calls_static_method(a: int) -> int:
    h = StaticHelper(a)
    return StaticHelper.double(h.x) + StaticHelper.SCALE


class WithStatic(nn.Module):
    LIMIT = 5

    @staticmethod
    def clip(x: torch.Tensor, v: float) -> torch.Tensor:
        return x.clamp(-v, v)

    def forward(self, x):
        return WithStatic.clip(x, 1.0) + WithStatic.LIMIT + self.clip(x, 0.5)


class TransformerWithMask(nn.Module):
    def __init__(self):
        super().__init__()
        self.t = nn.Transformer(16, 2, 1, 1, 32, batch_first=True, dropout=0.0)

    def forward(self, src, tgt):
        mask = nn.Transformer.generate_square_subsequent_mask(tgt.size(1))
        return self.t(src, tgt, tgt_mask=mask, tgt_is_causal=True)


def test_static_methods_and_class_constants():
    matches_eager(calls_static_method, (4,), (-1,))
    _module_matches(WithStatic(), torch.randn(6) * 3)
    torch.manual_seed(0)
    with torch.no_grad():
        _module_matches(TransformerWithMask(), torch.randn(2, 5, 16), torch.randn(2, 4, 16))


def uses_plain_method_on_class(a: int) -> int:
    return StaticHelper.__init__(a)


def test_method_read_from_a_class_is_refused():
    with pytest.raises(torchkiln.CompileError, match=r"`StaticHelper.__init__` is a method") as e:
        torchkiln.script(uses_plain_method_on_class)
    assert "test_torch_compat.py" in str(e.value)


# -- Tensor.norm with Python's defaults, torch.as_tensor -------------------------------------------------


def norms(x: torch.Tensor) -> torch.Tensor:
    return (
        x.norm(dim=1, keepdim=True)
        + x.norm()
        + x.norm(p="fro", dim=[0, 1])
        + x.norm(1, dim=0).sum()
        + x.norm(dim=(0, 1), dtype=torch.float64).float()
    )


def as_tensors(x: torch.Tensor, n: int) -> torch.Tensor:
    a = torch.as_tensor(x)
    b = torch.as_tensor(x, dtype=torch.float64)
    c = torch.as_tensor([n, 2 * n], dtype=torch.int64, device="cpu")
    d = torch.as_tensor([0.5, 1.5])
    return a.double() + b + c.double() + d.double()


def test_tensor_norm_defaults_and_as_tensor():
    matches_eager(norms, (torch.randn(3, 4),))
    matches_eager(as_tensors, (torch.randn(2), 3))


def as_tensor_keeps_the_tensor(x: torch.Tensor) -> bool:
    return torch.as_tensor(x) is x


def test_as_tensor_of_a_tensor_is_that_tensor():
    s = torchkiln.script(as_tensor_keeps_the_tensor)
    assert s(torch.randn(2)) is True


# -- nn.LSTM called with a PackedSequence (an overloaded forward), a NamedTuple subclass ----------------


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(30, 8)
        self.lstm = nn.LSTM(8, 6, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(12, 4)

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> Tuple[torch.Tensor, List[List[int]]]:
        packed = nn.utils.rnn.pack_padded_sequence(self.emb(tokens), lengths, batch_first=True, enforce_sorted=False)
        out, _ = self.lstm(packed)
        padded, lens = nn.utils.rnn.pad_packed_sequence(out, batch_first=True)
        logits = self.fc(padded)
        tags = logits.argmax(-1)
        result: List[List[int]] = []
        for i in range(tags.size(0)):
            row: List[int] = tags[i, : int(lens[i])].tolist()
            result.append(row)
        return logits, result


def test_lstm_on_a_packed_sequence_saves_and_loads(tmp_path):
    torch.manual_seed(0)
    model = Tagger().eval()
    tokens, lengths = torch.randint(0, 30, (3, 5)), torch.tensor([5, 2, 3])
    compiled = torchkiln.script(model)
    # the LSTM's forward declared for a Tensor keeps the name; the PackedSequence one is forward__1
    assert {"forward", "forward__1"} <= set(compiled.lstm._kiln_type.methods)
    with torch.no_grad():
        expected = model(tokens, lengths)
        for _ in range(3):
            assert same(compiled(tokens, lengths), expected)
        path = tmp_path / "tagger.kiln"
        torchkiln.save(compiled, str(path))
        assert same(torchkiln.load(str(path))(tokens, lengths), expected)
        x = torch.randn(2, 4, 8)
        assert same(compiled.lstm(x), model.lstm(x))


# -- super() (Note [super()] in classes.py; torch.jit refuses it) ----------------------------------------


class ScaleBase(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.linspace(-1.0, 1.0, 3))

    def forward(self, x):
        return x * self.w


class PlusOne(ScaleBase):
    def forward(self, x):
        return super().forward(x) + 1


class Twice(PlusOne):
    def forward(self, x):
        return super(Twice, self).forward(x) * 2 + super(PlusOne, self).forward(x)


class Counter:
    def __init__(self, v: int):
        self.v = v

    def get(self) -> int:
        return self.v


class BigCounter(Counter):
    def __init__(self, v: int):
        super().__init__(v * 10)
        self.extra = 1

    def get(self) -> int:
        return super().get() + self.extra


def counters(v: int) -> int:
    return BigCounter(v).get() + Counter(v).get()


def test_super_in_modules_and_classes(tmp_path):
    x = torch.randn(3)
    for cls in (PlusOne, Twice):
        _module_matches(cls(), x)
    compiled = torchkiln.script(Twice())
    torchkiln.save(compiled, str(tmp_path / "twice.kiln"))
    assert same(torchkiln.load(str(tmp_path / "twice.kiln"))(x), Twice()(x))
    matches_eager(counters, (2,), (-3,))


def super_outside_a_method(x: int) -> int:
    return super().get()


def test_super_outside_a_method_is_refused():
    with pytest.raises(torchkiln.CompileError, match="super\\(\\) is used outside a method") as e:
        torchkiln.script(super_outside_a_method)
    assert "test_torch_compat.py" in str(e.value)


class Doubler:
    def __init__(self, v: int):
        self.v = v

    def get(self) -> int:
        return self.v

    def twice(self) -> int:
        return self.get() * 2


class ShiftedDoubler(Doubler):  # inherits __init__ and twice; twice calls the override of get
    def get(self) -> int:
        return self.v + 1


def inherited_methods(v: int) -> int:
    return ShiftedDoubler(v).twice() * 100 + Doubler(v).twice()


def test_script_class_inherits_init_and_methods():
    matches_eager(inherited_methods, (3,), (0,))


# -- torch functions and Tensor attributes (a sweep of 1,137 calls against torch.jit) -----------------


def max_fields_after_assignment(x: torch.Tensor) -> torch.Tensor:
    r = x.max(1)
    s = torch.sort(x, dim=0, descending=True)
    return r.values + r.indices.float() + s.values[0] + s.indices[0].float()


def list_indices(x: torch.Tensor) -> torch.Tensor:
    y = x[[0, 2]] + x[[0, 1], [1, 2]].sum()
    x[[1, 2]] = 0.0
    return y + x.sum()


def tensor_attributes(x: torch.Tensor) -> Tuple[bool, bool, int, int, List[int], int, bool, bool]:
    return (
        x.is_leaf,
        x.grad is None,
        x.nbytes,
        x.itemsize,
        list(x.stride()),  # a tuple in eager, int[] in script (as TorchScript)
        x.element_size(),
        x.is_mps or x.is_xla or x.is_xpu or x.is_sparse_csr,
        x.name is None,
    )


def type_conversion(x: torch.Tensor) -> torch.Tensor:
    return x.type(torch.float64) + torch.tensor(data=[1.0, 2.0, 3.0], dtype=torch.float64)


def norms_of_torch_norm(x: torch.Tensor) -> torch.Tensor:
    return torch.norm(x, p=2, dim=1, keepdim=True).sum() + torch.norm(x, "fro") + torch.norm(x)


def seeded(x: torch.Tensor) -> torch.Tensor:
    torch.manual_seed(7)
    return x + torch.rand(3)


def test_torch_functions_and_tensor_attributes():
    x = torch.randn(3, 3)
    matches_eager(max_fields_after_assignment, (x,))
    matches_eager(list_indices, (x,))
    matches_eager(tensor_attributes, (x,), (torch.arange(6).view(2, 3),))
    matches_eager(type_conversion, (torch.randn(3),))
    matches_eager(norms_of_torch_norm, (x,))
    matches_eager(seeded, (torch.zeros(3),))


def bool_index(x: torch.Tensor) -> torch.Tensor:
    return x[True]


def test_bool_index_is_refused():
    with pytest.raises(torchkiln.CompileError, match="indexing a tensor with a bool is not supported"):
        torchkiln.script(bool_index)


# -- from a sweep of torch.nn.functional -------------------------------------------------------------------


def pool_with_empty_stride(x: torch.Tensor) -> torch.Tensor:
    return F.max_pool2d(x, 2, [])


def int_dtypes(x: torch.Tensor, dt: int, odt: Optional[int]) -> torch.Tensor:
    # TorchScript's dtypes are ints (c10 numbering): code written for torch.jit passes them so
    return torch.softmax(x, 1, dt) + F.softmax(x, 1, dtype=odt).to(dt)


def test_empty_list_argument_and_int_dtypes():
    x = torch.randn(1, 2, 4, 4)
    matches_eager(pool_with_empty_stride, (x,))
    s = torchkiln.script(int_dtypes)
    x = torch.randn(2, 3)
    for _ in range(3):  # eager torch.softmax refuses int dtypes: the expected value uses torch.dtype
        assert same(s(x, 7, 7), torch.softmax(x, 1, torch.float64) * 2)
        assert same(s(x, 6, None), torch.softmax(x, 1, torch.float32) + F.softmax(x, 1))
        # a torch.dtype passed from Python for an int (dtype) parameter is its number, as in TorchScript
        assert same(s(x, torch.float64, torch.float64), torch.softmax(x, 1, torch.float64) * 2)


class Square(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, k: float):
        ctx.save_for_backward(x)
        ctx.k = k
        return x * x * k

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2 * x * g * ctx.k, None


class UsesAutogradFunction(nn.Module):
    def forward(self, x):
        return Square.apply(x, 3.0) + 1


def test_autograd_function_apply_runs_in_python():
    m = UsesAutogradFunction()
    with pytest.warns(Warning, match="Python executor"):
        s = torchkiln.script(m)
        x = torch.randn(4, requires_grad=True)
        y = s(x)
    y.sum().backward()
    assert same(y.detach(), (x * x * 3 + 1).detach())
    assert same(x.grad, 6 * x.detach())
