"""Programs script refuses: a CompileError at script() time, with location, caret, hint and chain."""
import inspect
import random
from typing import List

import numpy as np
import pytest
import torch

import torchkiln
from torchkiln import CompileError

COUNTER = [0]


def line_of(fn, needle: str) -> int:
    lines, start = inspect.getsourcelines(fn)
    for offset, text in enumerate(lines):
        if needle in text:
            return start + offset
    raise AssertionError(needle)


def refused(fn) -> str:
    with pytest.raises(CompileError) as info:
        torchkiln.script(fn)
    message = str(info.value)
    assert "internal compiler error" not in message, message
    return message


def assert_points_at(message: str, fn, needle: str) -> None:
    line = line_of(fn, needle)
    assert f"line {line}," in message, message
    assert __file__ in message, message
    assert "^" in message, message
    assert needle.strip() in message, message


def uses_numpy(x):
    return torch.from_numpy(np.array([1, 2, 3])) + x


def uses_random(x):
    if random.random() > 0.5:
        return x
    return -x


def test_numpy_is_refused():
    message = refused(uses_numpy)
    assert_points_at(message, uses_numpy, "np.array")
    assert "numpy" in message and "what to do" in message


def test_random_module_is_refused():
    message = refused(uses_random)
    assert_points_at(message, uses_random, "random.random()")


def unknown_method(x):
    return x.unknown_method()


def unknown_attribute(x):
    return x.shapes


def test_unknown_method():
    message = refused(unknown_method)
    assert "unknown method 'unknown_method'" in message
    assert_points_at(message, unknown_method, "x.unknown_method()")


def test_unknown_attribute():
    message = refused(unknown_attribute)
    assert "shapes" in message
    assert_points_at(message, unknown_attribute, "x.shapes")


def wrong_op_types(x):
    return torch.add(x, "two")


def wrong_op_count(x):
    return torch.relu(x, x, x)


def test_torch_op_with_wrong_types_names_the_overloads():
    message = refused(wrong_op_types)
    assert "aten::add.Tensor" in message and "aten::add.Scalar" in message, message
    assert_points_at(message, wrong_op_types, 'torch.add(x, "two")')


def test_torch_op_with_wrong_argument_count():
    message = refused(wrong_op_count)
    assert "aten::relu" in message
    assert_points_at(message, wrong_op_count, "torch.relu(x, x, x)")


def branch_types(x, flag: bool):
    if flag:
        y = 1
    else:
        y = "one"
    return y


def test_branches_assigning_different_types():
    message = refused(branch_types)
    assert "'y'" in message and "int" in message and "str" in message
    assert str(line_of(branch_types, 'y = "one"')) in message
    assert str(line_of(branch_types, "y = 1")) in message


def one_branch(x, flag: bool):
    if flag:
        z = x + 1
    return z


def test_variable_defined_in_one_branch_only():
    message = refused(one_branch)
    assert "'z'" in message and "false branch" in message
    assert_points_at(message, one_branch, "return z")


def loop_local(n: int):
    for i in range(n):
        w = i
    return w


def test_variable_defined_in_loop_only():
    message = refused(loop_local)
    assert "'w'" in message and "loop" in message
    assert_points_at(message, loop_local, "return w")


def different_returns(x):
    if bool(x.sum() > 0):
        return x.sum().item()
    else:
        return x


def test_returning_different_types():
    message = refused(different_returns)
    assert "Tensor" in message and "Scalar" in message
    assert f"line {line_of(different_returns, 'else:') + 1}," in message
    assert f"line {line_of(different_returns, 'item()')}" in message


def generator(x):
    yield x


def test_yield():
    message = refused(generator)
    assert "yield" in message
    assert_points_at(message, generator, "yield x")


def star_args(*xs):
    return xs[0]


def star_kwargs(x, **kw):
    return x


def test_star_args_and_kwargs():
    assert "*args" in refused(star_args)
    assert "**kwargs" in refused(star_kwargs)


def recursive(x, n: int):
    if n == 0:
        return x
    return recursive(x, n - 1)


def test_recursion_is_refused_with_the_chain():
    message = refused(recursive)
    assert "recursion" in message
    assert_points_at(message, recursive, "recursive(x, n - 1)")
    assert "while compiling `recursive`" in message


def mutates_global(x):
    COUNTER.append(1)
    return x


def declares_global(x):
    global COUNTER
    COUNTER = [1]
    return x


def test_mutation_of_globals():
    message = refused(mutates_global)
    assert "global" in message
    assert_points_at(message, mutates_global, "COUNTER.append(1)")
    message = refused(declares_global)
    assert "global" in message


def uses_try(x):
    try:
        return x + 1
    except Exception:
        return x


def test_try():
    message = refused(uses_try)
    assert "try" in message
    assert_points_at(message, uses_try, "try:")


def inner_bad(x):
    return x.nope()


def outer_ok(x):
    return inner_bad(x) + 1


def test_error_shows_the_chain_of_calls():
    message = refused(outer_ok)
    assert_points_at(message, inner_bad, "x.nope()")
    assert "while compiling `inner_bad`, called from `outer_ok`" in message
    assert f"{__file__}:{line_of(outer_ok, 'inner_bad(x)')}" in message


def loop_type_change(x):
    y = 0
    for i in range(3):
        y = "s"
    return y


def test_loop_carried_type_change():
    message = refused(loop_type_change)
    assert "before the loop" in message
    assert_points_at(message, loop_type_change, 'y = "s"')


def global_tensor_user(x):
    return x + GLOBAL_TENSOR


GLOBAL_TENSOR = torch.ones(2)


def test_global_tensor():
    message = refused(global_tensor_user)
    assert "buffer" in message


def lambda_user(x):
    f = lambda *ys: ys[0]  # noqa: E731
    return f(x)


def test_lambda_with_varargs():
    message = refused(lambda_user)
    assert "lambdas with *args" in message
    assert_points_at(message, lambda_user, "lambda *ys")


def wrong_user_call(x):
    return outer_ok(x, 3)


def test_wrong_argument_count_to_a_python_function():
    message = refused(wrong_user_call)
    assert "takes 1 positional argument but 2 were given" in message


def bad_list(x: List[int]):
    return [1, "a"]


def test_mixed_list():
    assert "different types" in refused(bad_list)


def test_error_is_raised_at_script_time_not_call_time():
    with pytest.raises(CompileError):
        torchkiln.script(unknown_method)


def _called_twice(x: int) -> int:
    return x + 1


_alias_of_called_twice = _called_twice


def _reads_one_function_by_two_names(x: int) -> int:
    return _called_twice(x) + _called_twice(x) + _alias_of_called_twice(x, 3)


def test_a_function_read_by_two_names_is_named_as_read_each_time():
    # The resolver keeps a function's value per name it is read by: the message names the alias.
    with pytest.raises(torchkiln.CompileError) as info:
        torchkiln.script(_reads_one_function_by_two_names)
    text = str(info.value)
    assert text.startswith("_alias_of_called_twice() takes 1 positional argument but 2 were given")
    assert "_alias_of_called_twice(x, 3)" in text
