"""The generated source itself: readable `.code`, names, defaults left out,
linecache registration, and nothing from the IR pasted as code."""
import linecache
import types

import torch

from torchkiln.codegen import compile_function, executable_source, python_source
from torchkiln.ir.builder import Builder
from torchkiln.ir.core import Argument, Function, Graph
from torchkiln.ir.types import INT, TENSOR, ClassType

from .harness import check, fn_from


def test_code_reads_like_torchscript():
    fn = fn_from('''
def __torch__.example(x : Tensor, y : Tensor) -> Tensor
graph(%x : Tensor, %y : Tensor):
  %one : int = prim::Constant[value=1]()
  %two : int = prim::Constant[value=2]()
  %z : Tensor = aten::add.Tensor(%x, %y, %one)  # model.py:3:8
  %w : Tensor = aten::mul.Scalar(%z, %two)
  return (%w)
''')
    code = python_source(fn)
    assert code.startswith("def example(x: Tensor, y: Tensor) -> Tensor:\n")
    assert "z = torch" in code and "(x, y)" in code  # alpha=1 is the default: left out
    assert "return w" in code
    assert "if" not in code and "model.py" not in code  # no location comments in `.code`
    x, y = torch.randn(2), torch.randn(2)
    check(fn, [x, y], eager=(x + y) * 2)


def test_non_default_arguments_are_spelled_out():
    fn = fn_from('''
def f(x : Tensor, y : Tensor) -> Tensor
graph(%x : Tensor, %y : Tensor):
  %three : int = prim::Constant[value=3]()
  %z : Tensor = aten::add.Tensor(%x, %y, %three)
  return (%z)
''')
    assert "alpha=3" in python_source(fn)
    x, y = torch.randn(2), torch.randn(2)
    check(fn, [x, y], eager=torch.add(x, y, alpha=3))


def test_defaults_of_another_type_are_not_left_out():
    # alpha=1.0 (float) is not the schema default 1 (int): it must stay explicit
    fn = fn_from('''
def f(x : Tensor, y : Tensor) -> Tensor
graph(%x : Tensor, %y : Tensor):
  %one : float = prim::Constant[value=1.0]()
  %z : Tensor = aten::add.Tensor(%x, %y, %one)
  return (%z)
''')
    assert "alpha=1.0" in python_source(fn)


def test_value_names_are_sanitized_and_unique():
    g = Graph()
    b = Builder(g.block)
    inputs = [g.add_input(TENSOR, name) for name in ("input", "torch", "x.1", "x.2", "9lives", "a-b c", "_kiln_refs")]
    out = inputs[0]
    for v in inputs[1:]:
        out = b.op("aten::mul.Tensor", [out, v], [TENSOR], ).output
        out.name = "range"
    g.add_output(out)
    fn = Function("f", g, [Argument(v.name, TENSOR) for v in inputs], TENSOR)
    source = executable_source(fn)
    assert "def f(input, torch_1, x, x_1, _9lives, a_b_c, _kiln_refs_1):" in source
    assert "range_1 = " in source
    args = [torch.full((1,), float(i + 1)) for i in range(len(inputs))]
    check(fn, args, eager=torch.full((1,), 5040.0))


def test_generated_lines_are_in_linecache():
    fn = fn_from('''
def __torch__.cached(x : Tensor) -> Tensor
graph(%x : Tensor):
  %y : Tensor = aten::neg(%x)
  return (%y)
''')
    f = compile_function(fn)
    filename = f.__code__.co_filename
    assert filename.startswith("<torchkiln:__torch__.cached")
    lines = linecache.getlines(filename)
    assert any("neg" in line and "y = " in line for line in lines)
    assert "".join(lines) == executable_source(fn)


def test_strange_attribute_names_are_quoted_not_pasted():
    cls = ClassType("__torch__.Obj", is_module=False)
    name = "a'] + __import__('os').getcwd() + ['"
    cls.add_attribute(name, INT)
    g = Graph()
    b = Builder(g.block)
    obj = g.add_input(cls, "obj")
    g.add_output(b.op("prim::GetAttr", [obj], [INT], {"name": name}).output)
    fn = Function("f", g, [Argument("obj", cls)], INT)
    o = types.SimpleNamespace(_kiln_type=cls)
    setattr(o, name, 7)
    assert check(fn, [o]) == 7
    assert "getattr(obj, " in executable_source(fn)


def test_compiled_function_is_cached_per_function():
    fn = fn_from('''
def f(x : Tensor) -> Tensor
graph(%x : Tensor):
  return (%x)
''')
    assert compile_function(fn) is compile_function(fn)
