"""Modules and script objects (GetAttr/SetAttr/CallMethod), calls, fork/wait,
exceptions and runtime error notes in generated Python."""
import traceback

import pytest
import torch

import torchkiln.diagnostics as diagnostics
from torchkiln import interpreter
from torchkiln.codegen import compile_function, executable_source, python_source
from torchkiln.ir.core import CompilationUnit
from torchkiln.ir.types import FLOAT, INT, TENSOR, ClassType

from .harness import check, fake_module, fn_from, same


def _module_unit():
    unit = CompilationUnit()
    sub_t = unit.add_class(ClassType("__torch__.Sub"))
    sub_t.add_attribute("w", TENSOR, "parameter")
    sub_t.add_attribute("scale", FLOAT, "attribute")
    net_t = unit.add_class(ClassType("__torch__.Net"))
    net_t.add_attribute("sub", sub_t, "module")
    net_t.add_attribute("b", TENSOR, "buffer")
    net_t.add_attribute("count", INT, "attribute")
    sub_t.methods["forward"] = fn_from('''
def forward(self : __torch__.Sub, x : Tensor) -> Tensor
graph(%self : __torch__.Sub, %x : Tensor):
  %w : Tensor = prim::GetAttr[name="w"](%self)
  %s : float = prim::GetAttr[name="scale"](%self)
  %y : Tensor = aten::mul.Tensor(%x, %w)
  %z : Tensor = aten::mul.Scalar(%y, %s)
  return (%z)
''', unit)
    net_t.methods["forward"] = fn_from('''
def forward(self : __torch__.Net, x : Tensor) -> Tensor
graph(%self : __torch__.Net, %x : Tensor):
  %sub : __torch__.Sub = prim::GetAttr[name="sub"](%self)
  %y : Tensor = prim::CallMethod[name="forward"](%sub, %x)
  %b : Tensor = prim::GetAttr[name="b"](%self)
  %one : int = prim::Constant[value=1]()
  %y2 : Tensor = aten::add.Tensor(%y, %b, %one)
  %count : int = prim::GetAttr[name="count"](%self)
  %c2 : int = prim::add.int(%count, %one)
  prim::SetAttr[name="count"](%self, %c2)
  prim::SetAttr[name="b"](%self, %y2)
  return (%y2)
''', unit)
    return unit, net_t, sub_t


def _make_net(net_t, sub_t):
    sub = fake_module(sub_t, w=torch.full((2,), 3.0), scale=0.5)
    return fake_module(net_t, sub=sub, b=torch.ones(2), count=0)


def test_module_attributes_and_method_calls():
    unit, net_t, sub_t = _module_unit()
    x = torch.tensor([1.0, 2.0])
    results = []
    for run in (lambda m: interpreter.run(net_t.methods["forward"], unit, [m, x]),
                lambda m: compile_function(net_t.methods["forward"], unit)(m, x)):
        net = _make_net(net_t, sub_t)
        first = run(net)
        second = run(net)
        results.append((first, second, net.count, net.b.clone()))
        assert net.count == 2 and isinstance(net.b, torch.Tensor) and "b" in net._buffers
    assert same(results[0], results[1])
    first = x * 3.0 * 0.5 + 1
    assert same(results[0][0], first)
    assert same(results[0][1], x * 3.0 * 0.5 + first)


def test_module_code_reads_attribute_dicts_directly():
    unit, net_t, _ = _module_unit()
    source = executable_source(net_t.methods["forward"], unit)
    assert "self._modules['sub']" in source
    assert "self_dict = self.__dict__" in source and "self_dict['count']" in source
    assert "self_buffers = self._buffers" in source  # hoisted: read and written
    pretty = python_source(net_t.methods["forward"], unit)
    assert "def forward(self, x: Tensor) -> Tensor:" in pretty
    assert "sub.forward(x)" in pretty and "self.count = " in pretty


def test_script_object_create_set_get_and_method():
    unit = CompilationUnit()
    pt = unit.add_class(ClassType("__torch__.Pair", is_module=False))
    pt.add_attribute("a", INT)
    pt.add_attribute("b", INT)
    pt.methods["total"] = fn_from('''
def total(self : __torch__.Pair) -> int
graph(%self : __torch__.Pair):
  %a : int = prim::GetAttr[name="a"](%self)
  %b : int = prim::GetAttr[name="b"](%self)
  %s : int = prim::add.int(%a, %b)
  return (%s)
''', unit)
    fn = fn_from('''
def make(a : int, b : int) -> int
graph(%a : int, %b : int):
  %o : __torch__.Pair = prim::CreateObject()
  prim::SetAttr[name="a"](%o, %a)
  prim::SetAttr[name="b"](%o, %b)
  %s : int = prim::CallMethod[name="total"](%o)
  return (%s)
''', unit)
    assert check(fn, [2, 5], eager=7, unit=unit) == 7


def test_call_method_on_an_object_known_only_at_run_time():
    unit, net_t, sub_t = _module_unit()
    fn = fn_from('''
def f(m : Any, x : Tensor) -> Tensor
graph(%m : Any, %x : Tensor):
  %y : Tensor = prim::CallMethod[name="forward"](%m, %x)
  return (%y)
''', unit)
    sub = fake_module(sub_t, w=torch.full((2,), 2.0), scale=3.0)
    x = torch.ones(2)
    check(fn, [sub, x], eager=x * 6.0, unit=unit)


HELPER = '''
def __torch__.helper(x : Tensor, k : float) -> Tensor
graph(%x : Tensor, %k : float):
  %y : Tensor = aten::mul.Scalar(%x, %k)
  return (%y)
'''


def test_call_function_and_fork_wait():
    unit = CompilationUnit()
    fn_from(HELPER, unit)
    fn = fn_from('''
def f(x : Tensor) -> Tensor
graph(%x : Tensor):
  %k : float = prim::Constant[value=2.0]()
  %y : Tensor = prim::CallFunction[name="__torch__.helper"](%x, %k)
  %fut : Future(Tensor) = prim::fork[name="__torch__.helper"](%y, %k)
  %z : Tensor = prim::wait(%fut)
  return (%z)
''', unit)
    x = torch.randn(3)
    check(fn, [x], eager=x * 4.0, unit=unit)


def test_recursive_function():
    unit = CompilationUnit()
    fn_from('''
def __torch__.fact(n : int) -> int
graph(%n : int):
  %one : int = prim::Constant[value=1]()
  %small : bool = prim::le(%n, %one)
  %r : int = prim::If(%small)
    block0():
      -> (%one)
    block1():
      %m : int = prim::sub.int(%n, %one)
      %f : int = prim::CallFunction[name="__torch__.fact"](%m)
      %p : int = prim::mul.int(%n, %f)
      -> (%p)
  return (%r)
''', unit)
    assert check(unit.functions["__torch__.fact"], [6], eager=720, unit=unit) == 720


RAISE = '''
def f(x : Tensor, c : bool) -> Tensor
graph(%x : Tensor, %c : bool):
   = prim::If(%c)
    block0():
      %msg : str = prim::Constant[value="x must be positive"]()
      prim::RaiseException[cls="CLS"](%msg)  # model.py:3:8
      -> ()
    block1():
      -> ()
  return (%x)
'''.replace("   = prim::If", "  prim::If")


@pytest.mark.parametrize("cls", ["ValueError", "builtins.KeyError", "AssertionError", "RuntimeError",
                                 "TypeError", "IndexError", "NotImplementedError", "ZeroDivisionError"])
def test_raise_builtin_exception(cls):
    fn = fn_from(RAISE.replace("CLS", cls))
    x = torch.ones(1)
    check(fn, [x, False], eager=x)
    want = getattr(__builtins__, cls.split(".")[-1], None) if isinstance(__builtins__, dict) is False else __builtins__[cls.split(".")[-1]]
    for run in (lambda: interpreter.run(fn, None, [x, True]), lambda: compile_function(fn)(x, True)):
        with pytest.raises(want) as info:
            run()
        assert type(info.value) is want
        assert "x must be positive" in str(info.value)


def test_raise_unknown_exception_class_is_torchkiln_error():
    fn = fn_from(RAISE.replace("CLS", "__torch__.MyError"))
    for run in (lambda: interpreter.run(fn, None, [torch.ones(1), True]),
                lambda: compile_function(fn)(torch.ones(1), True)):
        with pytest.raises(diagnostics.Error, match="MyError: x must be positive"):
            run()
    assert "raise MyError(" in python_source(fn)


def test_fork_delivers_errors_at_wait():
    unit = CompilationUnit()
    fn_from('''
def __torch__.bad(x : Tensor) -> Tensor
graph(%x : Tensor):
  %msg : str = prim::Constant[value="bad input"]()
  prim::RaiseException[cls="ValueError"](%msg)
  return (%x)
''', unit)
    fn = fn_from('''
def f(x : Tensor) -> Tensor
graph(%x : Tensor):
  %fut : Future(Tensor) = prim::fork[name="__torch__.bad"](%x)
  %y : Tensor = prim::wait(%fut)
  return (%y)
''', unit)
    for run in (lambda: interpreter.run(fn, unit, [torch.ones(1)]),
                lambda: compile_function(fn, unit)(torch.ones(1))):
        with pytest.raises(ValueError, match="bad input"):
            run()


def test_runtime_error_keeps_type_and_names_the_node():
    fn = fn_from('''
def f(a : Tensor, b : Tensor) -> Tensor
graph(%a : Tensor, %b : Tensor):
  %y : Tensor = aten::mm(%a, %b)  # model.py:7:15
  return (%y)
''')
    f = compile_function(fn)
    with pytest.raises(RuntimeError) as info:
        f(torch.ones(2, 3), torch.ones(2, 3))
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "while executing" in notes and "aten::mm" in notes and "model.py" in notes
    text = "".join(traceback.format_exception(info.value))
    assert 'File "<torchkiln:f' in text
    assert "y = " in text and "(a, b)" in text  # linecache serves the generated line


def test_error_in_callee_collects_a_note_per_function():
    unit = CompilationUnit()
    fn_from('''
def __torch__.inner(a : Tensor) -> Tensor
graph(%a : Tensor):
  %y : Tensor = aten::mm(%a, %a)  # inner.py:2:4
  return (%y)
''', unit)
    fn = fn_from('''
def outer(a : Tensor) -> Tensor
graph(%a : Tensor):
  %y : Tensor = prim::CallFunction[name="__torch__.inner"](%a)  # outer.py:5:4
  return (%y)
''', unit)
    with pytest.raises(RuntimeError) as info:
        compile_function(fn, unit)(torch.ones(2, 3))
    notes = info.value.__notes__
    assert len(notes) == 2 and "aten::mm" in notes[0] and "prim::CallFunction" in notes[1]
