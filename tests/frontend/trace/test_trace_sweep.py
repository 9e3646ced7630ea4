"""Regressions found by the trace sweep: each case is compared with eager on the
example inputs and on inputs of other sizes (three calls: optimizer, then executor),
and after save/load."""
import io
import warnings

import pytest
import torch

import torchkiln
from torchkiln.frontend.trace.frame import TraceError


def _roundtrip(traced):
    buf = io.BytesIO()
    torchkiln.save(traced, buf)
    buf.seek(0)
    return torchkiln.load(buf)


def _same(fn, traced, *inputs):
    for _ in range(3):
        expected = fn(*[x.clone() for x in inputs])
        got = traced(*[x.clone() for x in inputs])
        assert torch.equal(expected, got)


def _setitem_last_row(x):
    y = x.clone()
    y[x.size(0) - 1] = 0
    return y


def _setitem_half(x):
    y = x.clone()
    y[: x.size(0) // 2] = 1
    return y


def _setitem_column_iadd(x):
    y = x.clone()
    y[:, x.size(1) - 1] += 1
    return y


def _setitem_tensor_value(x):
    y = x.clone()
    y[1 : x.size(0) - 1] = x[: x.size(0) - 2] * 2
    return y


def _setitem_ellipsis_none(x):
    y = x.clone()
    y[..., x.size(-1) // 2 :] = 0.5
    y[x.size(0) - 1, None] = torch.ones(x.size(1))
    return y


def _setitem_tensor_index(x, i):
    y = x.clone()
    y[i, : x.size(1) - 1] = 3  # advanced indexing: the dispatch level records it
    return y


@pytest.mark.parametrize(
    "fn", [_setitem_last_row, _setitem_half, _setitem_column_iadd, _setitem_tensor_value, _setitem_ellipsis_none]
)
def test_setitem_with_size_index_stays_dynamic(fn):
    traced = torchkiln.trace(fn, torch.randn(4, 4))
    for x in (torch.randn(4, 4), torch.randn(6, 5), torch.randn(3, 8)):
        _same(fn, traced, x)
        _same(fn, _roundtrip(traced), x)


def test_setitem_with_size_and_tensor_index():
    traced = torchkiln.trace(_setitem_tensor_index, (torch.randn(4, 3), torch.tensor([0, 2])))
    _same(_setitem_tensor_index, traced, torch.randn(4, 3), torch.tensor([1]))


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: {"a": (x, x + 1), "b": [x * 2]},
        lambda x: [x, (x, x)],
        lambda x: [x, x.size(0)],
        lambda x: {1: x, "b": x},
    ],
)
def test_inconsistent_container_output_is_a_trace_error(fn):
    # torch.jit.trace: "must have consistent type"; before, an IR that failed the verifier at save
    with pytest.raises(TraceError, match="consistent type"):
        torchkiln.trace(fn, torch.randn(3), strict=False)


def test_consistent_dict_output_still_saves():
    fn = lambda x: {"a": x.relu(), "b": x.sum()}  # noqa: E731
    traced = _roundtrip(torchkiln.trace(fn, torch.randn(3), strict=False))
    x = torch.randn(5)
    assert torch.equal(traced(x)["a"], fn(x)["a"]) and torch.equal(traced(x)["b"], fn(x)["b"])


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: x * x.shape[-1] ** -0.5,
        lambda x: x + x.size(0) * 0.5,
        lambda x: x * (x.size(0) / 2),
        lambda x: x * (1 / x.size(1)),
    ],
)
def test_float_arithmetic_on_sizes_warns(fn):
    with pytest.warns(torchkiln.TracerWarning, match="size"):
        traced = torchkiln.trace(fn, torch.randn(4, 4))
    x = torch.randn(4, 4)
    assert torch.allclose(traced(x), fn(x))


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: x.view(x.size(0) * 2, -1),
        lambda x: x / x.size(1),
        lambda x: x[: x.size(0) // 2 + 1],
        lambda x: torch.nn.functional.interpolate(x[None, None], scale_factor=2.0),
    ],
)
def test_int_arithmetic_on_sizes_does_not_warn(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("error", torchkiln.TracerWarning)
        traced = torchkiln.trace(fn, torch.randn(4, 4))
    x = torch.randn(6, 4)
    assert torch.allclose(traced(x), fn(x))


class _Counter(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("count", torch.zeros(()))

    def forward(self, x):
        self.count += 1
        return x + self.count


def test_check_trace_of_a_module_updating_its_buffers_warns():
    # torch.jit.trace accepts it (an output mismatch only warns); the state is shared
    m = _Counter()
    with pytest.warns(torchkiln.TracerWarning, match="buffers"):
        traced = torchkiln.trace(m, torch.zeros(2))
    before = m.count.clone()
    assert torch.equal(traced(torch.zeros(2)), torch.zeros(2) + before + 1)
    assert torch.equal(m.count, before + 1)


def test_check_trace_still_raises_on_data_dependent_branch():
    from torchkiln.frontend.trace import TracingCheckError

    class Branch(torch.nn.Module):
        def forward(self, x):
            return x + 1 if x.sum() > 0 else x - 1

    with pytest.raises(TracingCheckError):
        torchkiln.trace(Branch(), torch.ones(3), check_inputs=[(-torch.ones(3),)])


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: torch.tensor(x.shape[0]) + x.sum(),
        lambda x: torch.tensor(x.size(1) - 1, dtype=torch.float32) * x,
        lambda x: torch.as_tensor(x.size(0)) * x,
        lambda x: torch.tensor(3) + x,
    ],
)
def test_tensor_of_a_size_stays_dynamic(fn):
    # torch.jit.trace records prim::NumToTensor; before, the size was baked
    traced = torchkiln.trace(fn, torch.randn(3, 4))
    for x in (torch.randn(3, 4), torch.randn(5, 7)):
        for g in (traced, _roundtrip(traced)):
            for _ in range(3):
                got, expected = g(x), fn(x)
                assert got.dtype == expected.dtype and torch.allclose(got, expected)


class _TwoMethods(torch.nn.Module):
    def forward(self, x):
        return x + 1

    def scale(self, x):
        return x * 3


def test_trace_of_a_bound_method_gives_that_method():
    m = _TwoMethods()
    x = torch.randn(2)
    traced = torchkiln.trace(m.scale, (x,))
    for _ in range(2):
        assert torch.equal(traced(x), m.scale(x))
    assert torch.equal(torchkiln.trace(m.forward, (x,))(x), m(x))
