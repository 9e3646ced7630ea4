"""prim::If and prim::Loop in generated Python, against the interpreter and eager torch."""
import torch

from torchkiln.codegen import executable_source, python_source

from .harness import check, fn_from

INT64_MAX = 2**63 - 1


def test_straight_line_ops():
    fn = fn_from('''
def f(x : Tensor, y : Tensor) -> Tensor
graph(%x : Tensor, %y : Tensor):
  %one : int = prim::Constant[value=1]()
  %two : int = prim::Constant[value=2]()
  %a : Tensor = aten::add.Tensor(%x, %y, %one)
  %b : Tensor = aten::add.Tensor(%a, %y, %two)
  %c : Tensor = aten::mul.Tensor(%b, %x)
  %d : Tensor = aten::relu(%c)
  return (%d)
''')
    x, y = torch.randn(3, 4), torch.randn(3, 4)
    check(fn, [x, y], eager=torch.relu((x + y + 2 * y) * x))


IF_FN = '''
def f(c : bool, x : Tensor) -> Tensor
graph(%c : bool, %x : Tensor):
  %one : int = prim::Constant[value=1]()
  %y : Tensor, %k : int = prim::If(%c)
    block0():
      %a : Tensor = aten::add.Tensor(%x, %x, %one)
      %k1 : int = prim::Constant[value=10]()
      -> (%a, %k1)
    block1():
      %b : Tensor = aten::neg(%x)
      -> (%b, %one)
  %z : Tensor = aten::mul.Scalar(%y, %k)
  return (%z)
'''


def test_if_both_branches():
    fn = fn_from(IF_FN)
    x = torch.randn(5)
    check(fn, [True, x], eager=(x + x) * 10)
    check(fn, [False, x], eager=-x)
    assert "if c:" in python_source(fn)


def test_if_without_outputs_and_empty_else():
    fn = fn_from('''
def f(c : bool, x : Tensor) -> Tensor
graph(%c : bool, %x : Tensor):
  %one : int = prim::Constant[value=1]()
  prim::If(%c)
    block0():
      %a : Tensor = aten::add_.Tensor(%x, %x, %one)
      -> ()
    block1():
      -> ()
  return (%x)
''')
    x = torch.ones(2)
    check(fn, [True, x.clone()], eager=torch.full((2,), 2.0))
    check(fn, [False, x.clone()], eager=x)
    assert "else" not in python_source(fn)


def test_nested_if():
    fn = fn_from('''
def f(a : bool, b : bool, x : Tensor) -> Tensor
graph(%a : bool, %b : bool, %x : Tensor):
  %r : Tensor = prim::If(%a)
    block0():
      %s : Tensor = prim::If(%b)
        block0():
          %p : Tensor = aten::sin(%x)
          -> (%p)
        block1():
          %q : Tensor = aten::cos(%x)
          -> (%q)
      -> (%s)
    block1():
      -> (%x)
  return (%r)
''')
    x = torch.randn(3)
    check(fn, [True, True, x], eager=x.sin())
    check(fn, [True, False, x], eager=x.cos())
    check(fn, [False, True, x], eager=x)


FOR_FN = '''
def f(n : int, x : Tensor) -> Tensor
graph(%n : int, %x : Tensor):
  %t : bool = prim::Constant[value=True]()
  %one : int = prim::Constant[value=1]()
  %y : Tensor = prim::Loop(%n, %t, %x)
    block0(%i : int, %acc : Tensor):
      %s : Tensor = aten::mul.Scalar(%acc, %i)
      %acc2 : Tensor = aten::add.Tensor(%acc, %s, %one)
      -> (%t, %acc2)
  return (%y)
'''


def _for_eager(n, x):
    for i in range(n):
        x = x + x * i
    return x


def test_for_loop_with_carried_value():
    fn = fn_from(FOR_FN)
    x = torch.randn(3)
    for n in (0, 1, 4, -2):  # zero and negative trip counts run the body zero times
        check(fn, [n, x], eager=_for_eager(n, x))
    text = python_source(fn)
    assert "for i in range(n):" in text and "while" not in text


def test_for_loop_swapping_carried_values():
    fn = fn_from('''
def f(n : int, a : Tensor, b : Tensor) -> (Tensor, Tensor)
graph(%n : int, %a : Tensor, %b : Tensor):
  %t : bool = prim::Constant[value=True]()
  %one : int = prim::Constant[value=1]()
  %ra : Tensor, %rb : Tensor = prim::Loop(%n, %t, %a, %b)
    block0(%i : int, %x : Tensor, %y : Tensor):
      %z : Tensor = aten::add.Tensor(%y, %x, %one)
      -> (%t, %y, %z)
  %out : (Tensor, Tensor) = prim::TupleConstruct(%ra, %rb)
  return (%out)
''')
    a, b = torch.tensor([1.0]), torch.tensor([2.0])
    for n in range(4):
        x, y = a, b
        for _ in range(n):
            x, y = y, y + x
        check(fn, [n, a, b], eager=(x, y))


WHILE_FN = f'''
def f(x : Tensor, limit : float) -> (Tensor, int)
graph(%x : Tensor, %limit : float):
  %max : int = prim::Constant[value={INT64_MAX}]()
  %one : int = prim::Constant[value=1]()
  %two : int = prim::Constant[value=2]()
  %s0 : Tensor = aten::sum(%x, %none)
  %lt0 : Tensor = aten::lt.Scalar(%s0, %limit)
  %c0 : bool = prim::Bool.Tensor(%lt0)
  %y : Tensor, %steps : int = prim::Loop(%max, %c0, %x, %one)
    block0(%i : int, %acc : Tensor, %k : int):
      %acc2 : Tensor = aten::mul.Scalar(%acc, %two)
      %k2 : int = prim::add.int(%k, %i)
      %s : Tensor = aten::sum(%acc2, %none)
      %lt : Tensor = aten::lt.Scalar(%s, %limit)
      %c : bool = prim::Bool.Tensor(%lt)
      -> (%c, %acc2, %k2)
  %out : (Tensor, int) = prim::TupleConstruct(%y, %steps)
  return (%out)
'''.replace("%none)", "%none)").replace(
    "%one : int = prim::Constant[value=1]()",
    "%one : int = prim::Constant[value=1]()\n  %none : ScalarType? = prim::Constant[value=None]()",
)


def _while_eager(x, limit):
    k, i = 1, 0
    while float(x.sum()) < limit:
        x = x * 2
        k = k + i
        i += 1
    return x, k


def test_while_loop_with_iteration_counter():
    fn = fn_from(WHILE_FN)
    x = torch.ones(2)
    for limit in (0.0, 1.0, 5.0, 100.0):  # 0.0: the condition is false at the start
        check(fn, [x, limit], eager=_while_eager(x, limit))
    text = python_source(fn)
    assert "while cond:" in text and "for " not in text


def test_loop_with_trip_count_and_condition():
    # for i in range(n): if not cond: break; ...  -- both limits matter
    fn = fn_from('''
def f(n : int, stop : int) -> (int, int)
graph(%n : int, %stop : int):
  %zero : int = prim::Constant[value=0]()
  %t : bool = prim::Constant[value=True]()
  %total : int, %last : int = prim::Loop(%n, %t, %zero, %zero)
    block0(%i : int, %acc : int, %prev : int):
      %acc2 : int = prim::add.int(%acc, %i)
      %c : bool = prim::ne(%i, %stop)
      -> (%c, %acc2, %i)
  %out : (int, int) = prim::TupleConstruct(%total, %last)
  return (%out)
''')

    def eager(n, stop):
        acc, last, cond, i = 0, 0, True, 0
        while i < n and cond:
            acc, last, cond = acc + i, i, i != stop
            i += 1
        return acc, last

    for n, stop in [(0, 3), (5, 3), (5, 10), (3, 0), (-1, 0)]:
        check(fn, [n, stop], eager=eager(n, stop))
    assert "break" in python_source(fn)


def test_nested_loops_and_if_in_loop():
    fn = fn_from('''
def f(n : int, m : int) -> int
graph(%n : int, %m : int):
  %zero : int = prim::Constant[value=0]()
  %two : int = prim::Constant[value=2]()
  %t : bool = prim::Constant[value=True]()
  %r : int = prim::Loop(%n, %t, %zero)
    block0(%i : int, %acc : int):
      %inner : int = prim::Loop(%m, %t, %acc)
        block0(%j : int, %a : int):
          %ij : int = prim::mul.int(%i, %j)
          %rem : int = prim::mod.int(%ij, %two)
          %even : bool = prim::eq(%rem, %zero)
          %a2 : int = prim::If(%even)
            block0():
              %p : int = prim::add.int(%a, %ij)
              -> (%p)
            block1():
              %q : int = prim::sub.int(%a, %j)
              -> (%q)
          -> (%t, %a2)
      -> (%t, %inner)
  return (%r)
''')

    def eager(n, m):
        acc = 0
        for i in range(n):
            for j in range(m):
                acc = acc + i * j if (i * j) % 2 == 0 else acc - j
        return acc

    for n, m in [(0, 0), (3, 4), (5, 1), (2, 0)]:
        check(fn, [n, m], eager=eager(n, m))


def test_loop_body_may_be_empty():
    fn = fn_from('''
def f(n : int, x : Tensor) -> Tensor
graph(%n : int, %x : Tensor):
  %t : bool = prim::Constant[value=True]()
  %y : Tensor = prim::Loop(%n, %t, %x)
    block0(%i : int, %acc : Tensor):
      -> (%t, %acc)
  return (%y)
''')
    x = torch.randn(2)
    check(fn, [3, x], eager=x)
    compile(executable_source(fn), "<test>", "exec")
