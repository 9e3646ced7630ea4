"""Tuples whose items share a type become lists where a tuple type cannot hold the result
(Note [Tuples as lists]): `(1,) * n`, `(a,) + x.shape`, as TorchScript does (timm's drop_path)."""
import pytest
import torch

import torchkiln

from .script_testing import matches_eager, scripted


def drop_path(x, drop_prob: float = 0.0, training: bool = False, scale_by_keep: bool = True):
    if drop_prob == 0.0 or not training:
        return x
    keep_prob = 1 - drop_prob
    shape = (x.shape[0],) + (1,) * (x.ndim - 1)
    random_tensor = x.new_empty(shape).bernoulli_(keep_prob)
    if keep_prob > 0.0 and scale_by_keep:
        random_tensor.div_(keep_prob)
    return x * random_tensor


def drop_path_seeded(x, drop_prob: float, training: bool):
    torch.manual_seed(3)
    return drop_path(x, drop_prob, training)


@pytest.mark.parametrize("prob,training", [(0.0, True), (0.5, False), (0.5, True), (0.2, True)])
def test_drop_path_matches_eager(prob, training):
    matches_eager(drop_path_seeded, (torch.randn(4, 3, 2), prob, training), (torch.randn(2, 5), prob, training))


def repeats(x, n: int):
    return (1, 2) * n, n * (3,), (0,) + x.shape, x.shape[1:] + (7,)


def test_results_are_lists_as_in_torch_jit():
    s = scripted(repeats)
    j = torch.jit.script(repeats)
    x = torch.ones(4, 3, 2)
    for n in (0, 1, 3):
        got, want = s(x, n), j(x, n)
        assert got == want and all(type(v) is list for v in got), (got, want)


def constant_repeats(n: int):
    t = (n, n + 1)
    return t * 2, 3 * (n,), (n, "a") * 2, t * 0, (1.5,) * -1


def test_a_constant_repeat_stays_a_tuple_as_in_python():
    matches_eager(constant_repeats, (2,), (0,))


def mixed(n: int):
    return (1, "a") * n


def test_tuple_of_mixed_items_is_still_refused():
    with pytest.raises(torchkiln.CompileError) as info:
        torchkiln.script(mixed)
    message = str(info.value)
    assert "(1, \"a\") * n" in message and "^" in message, message
    assert "unsupported operand types for *" in message and "repeat it by a constant, or use a list" in message, message


def tuple_of_shape(x):
    a, b = tuple(x.shape)
    flat = x.reshape(tuple(x.shape[:1]) + (-1,))
    shape = tuple(x.shape)
    shape.append(0)  # a list in script (a tuple in Python): a new one, x.shape is not changed
    return flat, a + b, shape, x.shape


def test_tuple_of_a_list_is_a_new_list():
    s = scripted(tuple_of_shape)
    x = torch.ones(2, 3)
    flat, n, shape, original = s(x)
    assert torch.equal(flat, x) and n == 5 and shape == [2, 3, 0] and original == [2, 3]
    with pytest.raises(ValueError, match="too many values to unpack"):
        s(torch.ones(2, 3, 4))
