"""Tuples, NamedTuples, lists, dicts and constants of every kind in generated Python."""

import pytest
import torch

from torchkiln.codegen import compile_function, executable_source, python_source
from torchkiln.codegen.runtime import materialize
from torchkiln.ir.builder import Builder
from torchkiln.ir.core import Function, Graph
from torchkiln.ir.types import (
    BOOL,
    DEVICE,
    FLOAT,
    INT,
    LAYOUT,
    MEMORY_FORMAT,
    NONE,
    SCALAR_TYPE,
    STR,
    TENSOR,
    ListType,
    OptionalType,
    TupleType,
)

from .harness import check, fn_from, same


def test_tuple_construct_unpack_index():
    fn = fn_from('''
def f(x : Tensor, n : int) -> ((Tensor, int), Tensor, int, Tensor)
graph(%x : Tensor, %n : int):
  %t : (Tensor, int) = prim::TupleConstruct(%x, %n)
  %a : Tensor, %b : int = prim::TupleUnpack(%t)
  %c : int = prim::TupleIndex[index=1](%t)
  %d : Tensor = prim::TupleIndex[index=-2](%t)
  %one : (Tensor) = prim::TupleConstruct(%a)
  %e : Tensor = prim::TupleIndex[index=0](%one)
  %out : ((Tensor, int), Tensor, int, Tensor) = prim::TupleConstruct(%t, %d, %c, %e)
  return (%out)
''')
    x = torch.randn(2)
    check(fn, [x, 3], eager=((x, 3), x, 3, x))


def test_named_tuple_is_one_namedtuple_class():
    fn = fn_from('''
def f(x : Tensor, n : int) -> NamedTuple __torch__.Point(p: Tensor, k: int)
graph(%x : Tensor, %n : int):
  %t : NamedTuple __torch__.Point(p: Tensor, k: int) = prim::TupleConstruct(%x, %n)
  return (%t)
''')
    x = torch.randn(2)
    got = check(fn, [x, 4])
    assert type(got).__name__ == "Point" and got.k == 4 and got.p is not None
    again = compile_function(fn)(x, 5)
    assert type(again) is type(got)
    assert "Point(x, n)" in python_source(fn)


def test_lists_construct_unpack_and_mutation():
    fn = fn_from('''
def f(x : Tensor, y : Tensor) -> (Tensor[], Tensor, int)
graph(%x : Tensor, %y : Tensor):
  %l : Tensor[] = prim::ListConstruct(%x, %y)
  %a : Tensor, %b : Tensor = prim::ListUnpack(%l)
  prim::append.list(%l, %a)
  %n : int = prim::len.list(%l)
  %zero : int = prim::Constant[value=0]()
  %s : Tensor = aten::stack(%l, %zero)
  %out : (Tensor[], Tensor, int) = prim::TupleConstruct(%l, %s, %n)
  return (%out)
''')
    x, y = torch.randn(2), torch.randn(2)
    check(fn, [x, y], eager=([x, y, x], torch.stack([x, y, x]), 3))


def test_list_unpack_of_wrong_length_raises_value_error():
    fn = fn_from('''
def f(l : int[]) -> int
graph(%l : int[]):
  %a : int, %b : int = prim::ListUnpack(%l)
  return (%a)
''')
    assert check(fn, [[1, 2]]) == 1
    with pytest.raises(ValueError):
        compile_function(fn)([1, 2, 3])
    from torchkiln import interpreter

    with pytest.raises(ValueError):
        interpreter.run(fn, None, [[1, 2, 3]])


def test_dict_construct():
    fn = fn_from('''
def f(x : Tensor) -> Dict(str, Tensor)
graph(%x : Tensor):
  %k1 : str = prim::Constant[value="a"]()
  %k2 : str = prim::Constant[value="b"]()
  %y : Tensor = aten::neg(%x)
  %d : Dict(str, Tensor) = prim::DictConstruct(%k1, %x, %k2, %y)
  return (%d)
''')
    x = torch.randn(3)
    check(fn, [x], eager={"a": x, "b": -x})


CONSTANTS = [
    (0, INT),
    (-7, INT),
    (2**70, INT),
    (True, BOOL),
    (False, BOOL),
    (2.5, FLOAT),
    (-0.0, FLOAT),
    (float("inf"), FLOAT),
    (float("-inf"), FLOAT),
    (float("nan"), FLOAT),
    (None, NONE),
    (None, OptionalType(TENSOR)),
    ("hello\n'world'\"", STR),
    ("x" * 1000, STR),
    ("", STR),
    (torch.tensor([[1.0, 2.0], [3.0, 4.0]]), TENSOR),
    (torch.tensor(3, dtype=torch.int64), TENSOR),
    (torch.float16, SCALAR_TYPE),
    (torch.device("cpu"), DEVICE),
    (torch.strided, LAYOUT),
    (torch.channels_last, MEMORY_FORMAT),
    ([1, 2, 3], ListType(INT)),
    ([], ListType(INT)),
    ([1.5, -2.0], ListType(FLOAT)),
    (["a", "b"], ListType(STR)),
    ([[1], [2, 3]], ListType(ListType(INT))),
    ((1, "a"), TupleType([INT, STR])),
    ((1, (2.0, None)), TupleType([INT, TupleType([FLOAT, NONE])])),
]


def _constant_fn(value, typ):
    g = Graph()
    out = Builder(g.block).constant(value, typ)
    g.add_output(out)
    return Function("const", g, [], typ)


@pytest.mark.parametrize("value,typ", CONSTANTS, ids=[f"{t}-{i}" for i, (_, t) in enumerate(CONSTANTS)])
def test_constants_of_every_kind(value, typ):
    fn = _constant_fn(value, typ)
    got = check(fn, [])
    assert same(got, materialize(value, typ))
    source = executable_source(fn)
    if isinstance(value, torch.Tensor):
        assert "tensor(" not in source and "1.0" not in source  # through the table, never pasted
    if isinstance(value, (list, tuple, torch.dtype, torch.device, torch.layout, torch.memory_format)):
        assert repr(value) not in source
    if isinstance(value, str) and len(value) < 100:
        assert repr(value) in source  # small literals are inlined
    python_source(fn)  # the readable form renders too


def test_list_constant_is_fresh_per_run_when_mutated():
    fn = fn_from('''
def f(x : int) -> int[]
graph(%x : int):
  %l : int[] = prim::Constant[value=[1, 2]]()
  prim::append.list(%l, %x)
  return (%l)
''')
    f = compile_function(fn)
    assert f(3) == [1, 2, 3]
    assert f(4) == [1, 2, 4]
    check(fn, [5], eager=[1, 2, 5])


def test_list_constant_read_by_aten_is_shared():
    fn = fn_from('''
def f(x : Tensor) -> Tensor
graph(%x : Tensor):
  %dims : int[] = prim::Constant[value=[1]]()
  %keep : bool = prim::Constant[value=False]()
  %none : ScalarType? = prim::Constant[value=None]()
  %s : Tensor = aten::sum.dim_IntList(%x, %dims, %keep, %none)
  return (%s)
''')
    x = torch.randn(2, 3)
    check(fn, [x], eager=x.sum(1))
    source = executable_source(fn)
    assert "list(" not in source  # no copy: aten ops never mutate an int[]


def test_small_literals_inline_in_templates():
    fn = fn_from('''
def f(a : int) -> (int, int, float)
graph(%a : int):
  %m : int = prim::Constant[value=-3]()
  %p : int = prim::pow.int(%m, %a)
  %n : int = prim::neg.int(%m)
  %f : float = prim::Constant[value=-1.5]()
  %g : float = prim::mul.float(%f, %f)
  %out : (int, int, float) = prim::TupleConstruct(%p, %n, %g)
  return (%out)
''')
    check(fn, [2], eager=(9, 3, 2.25))
    check(fn, [3], eager=(-27, 3, 2.25))


def test_multiple_and_zero_outputs():
    fn = fn_from('''
def f(x : Tensor) -> (Tensor, Tensor)
graph(%x : Tensor):
  %y : Tensor = aten::neg(%x)
  return (%x, %y)
''')
    x = torch.randn(2)
    check(fn, [x], eager=(x, -x))
    none_fn = fn_from('''
def g(x : Tensor) -> NoneType
graph(%x : Tensor):
  %n : NoneType = prim::Constant()
  return (%n)
''')
    assert check(none_fn, [x]) is None


def test_uninitialized_and_unchecked_cast():
    fn = fn_from('''
def f(x : Tensor?, c : bool) -> Tensor
graph(%x : Tensor?, %c : bool):
  %u : Tensor = prim::Uninitialized()
  %r : Tensor = prim::If(%c)
    block0():
      %y : Tensor = prim::unchecked_cast(%x)
      -> (%y)
    block1():
      -> (%u)
  return (%r)
''')
    x = torch.randn(2)
    check(fn, [x, True], eager=x)
    assert check(fn, [None, False]) is None


def test_multi_output_aten_op():
    fn = fn_from('''
def f(x : Tensor) -> (Tensor, Tensor)
graph(%x : Tensor):
  %d : int = prim::Constant[value=1]()
  %k : bool = prim::Constant[value=False]()
  %v : Tensor, %i : Tensor = aten::max.dim(%x, %d, %k)
  %out : (Tensor, Tensor) = prim::TupleConstruct(%v, %i)
  return (%out)
''')
    x = torch.randn(3, 4)
    v, i = torch.max(x, 1)
    check(fn, [x], eager=(v, i))


def test_tensor_list_returning_op():
    fn = fn_from('''
def f(x : Tensor) -> Tensor[]
graph(%x : Tensor):
  %two : int = prim::Constant[value=2]()
  %zero : int = prim::Constant[value=0]()
  %parts : Tensor[] = aten::split.Tensor(%x, %two, %zero)
  return (%parts)
''')
    x = torch.arange(5.0)
    check(fn, [x], eager=list(torch.split(x, 2)))
