"""aten ops come from the dispatcher, with purity from schemas and tags."""
import torch

from torchkiln import ops
from torchkiln.diagnostics import Error
from torchkiln.ops.aten import aten_op, aten_overloads, all_aten_names


def test_lookup_from_dispatcher():
    add = aten_op("aten::add.Tensor")
    assert add is not None and add.name == "aten::add.Tensor"
    assert add.impl is torch.ops.aten.add.Tensor
    assert str(add.schema) == "aten::add.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor"
    relu = ops.lookup("aten::relu")
    assert relu.impl is torch.ops.aten.relu.default and relu.schema.overload == ""
    assert aten_op("aten::add.Tensor") is add  # cached


def test_jit_only_schemas_are_not_aten_ops():
    for name in ("aten::len.t", "aten::add.int", "aten::append.t", "aten::Int.Tensor", "aten::size"):
        assert aten_op(name) is None
        assert ops.find(name) is None
    assert aten_op("aten::size.int") is not None


def test_unknown_op_raises_our_error():
    try:
        ops.lookup("aten::no_such_op")
    except Error as e:
        assert "aten::no_such_op" in str(e)
    else:
        raise AssertionError("expected Error")
    assert ops.find("foo::bar") is None


def test_overloads_in_torchscript_order():
    names = [op.name for op in aten_overloads("aten::add")]
    assert names[:4] == ["aten::add.Tensor", "aten::add.Scalar", "aten::add.out", "aten::add.Scalar_out"]
    assert "aten::add.int" not in names
    assert [op.name for op in ops.overloads("aten::add")][:2] == names[:2]
    assert len(all_aten_names()) > 2500


def test_every_dispatcher_op_is_an_overload_candidate():
    # `_overload_order` reads only TorchScript's per-name lists, not the dispatcher's full list.
    from torchkiln.ops.aten import _overload_order, is_aten_op

    by_base = {}
    for q in all_aten_names():
        by_base.setdefault(q.split(".", 1)[0], set()).add(q)
    for base, names in by_base.items():
        assert set(_overload_order(base)) == names, base
    assert not is_aten_op("aten::add.int") and is_aten_op("aten::add.Tensor") and is_aten_op("aten::relu")


def test_purity():
    assert ops.is_pure("aten::add.Tensor")
    assert ops.is_pure("aten::view")  # views alias but have no side effect
    assert not ops.is_pure("aten::add_.Tensor")  # writes self
    assert not ops.is_pure("aten::add.out")  # writes out
    assert not ops.is_pure("aten::_foreach_add_.List")  # writes list elements
    for random in ("aten::rand", "aten::dropout", "aten::bernoulli", "aten::randn_like", "aten::multinomial"):
        assert not ops.is_pure(random), random
    assert not ops.is_pure("aten::_assert_async.msg")  # returns nothing: a side effect
    assert not ops.is_pure("aten::nonexistent")
    assert ops.lookup("aten::rand").extra["nondeterministic"]



def test_kernel_check_agrees_with_the_dispatchers_schema_lookup():
    # `is_aten_op` asks `_dispatch_has_kernel`; the dispatcher's schema lookup is the definition.
    from torchkiln.ops.aten import is_aten_op

    checked = 0
    for s in torch._C._jit_get_all_schemas():
        if not s.name.startswith("aten::"):
            continue
        q = f"{s.name}.{s.overload_name}" if s.overload_name else s.name
        try:
            torch._C._dispatch_find_schema_or_throw(s.name, s.overload_name)
            expected = True
        except RuntimeError:
            expected = False
        assert is_aten_op(q) == expected, q
        checked += 1
    assert checked > 3000
