"""Deeply nested control flow (Note [Block nesting limit] in ir/nesting.py).

Every early `return` moves the rest of a function into an `else` block and
an if/elif chain of N branches is N nested `prim::If`s, so ordinary-looking
dispatch code nests hundreds of blocks deep. These programs run on every
executor (the generated-Python one outlines deep nodes: Note [Outlining] in
codegen/emit.py), print, save and load in a fresh process, and (through the
differential plugin) run in torchkiln-run; deeper than the limit is a clean
CompileError.
"""
import importlib.util
import re
import sys
import warnings
from pathlib import Path

import pytest
import torch

import torchkiln
from torchkiln.archive import format as archive_format
from torchkiln.codegen.compiler import executable_source
from torchkiln.cpp_executor import CppFallbackWarning
from torchkiln.diagnostics import CompileError
from torchkiln.ir.nesting import MAX_BLOCK_DEPTH, block_depth

from .script_testing import matches_eager, run_fresh

ROOT = Path(__file__).resolve().parents[3]


def module_from(tmp_path, name: str, lines) -> object:
    """Import generated source (script() reads a function's source from its file)."""
    path = tmp_path / f"{name}.py"
    path.write_text("\n".join(["import torch", *lines]) + "\n")
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def early_returns(n: int):
    lines = ["def f(x: torch.Tensor, k: int) -> torch.Tensor:"]
    for i in range(n):
        lines += [f"    if k == {i}:", f"        return x * {i}", f"    x = x + {i}"]
    return lines + ["    return x"]


def elif_chain(n: int):
    lines = ["def f(x: torch.Tensor, k: int) -> torch.Tensor:"]
    for i in range(n):
        lines += [f"    {'if' if i == 0 else 'elif'} k == {i}:", f"        return x + {i}.5"]
    return lines + ["    else:", "        return x - 1"]


def loop_exits(n: int):
    """A `for` whose body has `n` `if ...: continue` (and an early return every 50)."""
    lines = ["def f(x: torch.Tensor, k: int) -> torch.Tensor:", "    for j in range(3):"]
    for i in range(n):
        lines += [f"        if k == {i} + j:", f"            x = x + {i}", "            continue", "        x = x - 1"]
        if i % 50 == 49:
            lines += [f"        if k == -{i} - j:", "            return x * 2"]
    return lines + ["    return x"]


PROGRAMS = {
    "early_returns_300": (early_returns, 300),
    "elif_chain_300": (elif_chain, 300),
    "loop_exits_150": (loop_exits, 150),
}


def inputs(n: int):
    """First, second, middle, last and no branch (-49: `loop_exits`' first early return)."""
    return [(torch.arange(3.0), k) for k in (0, 1, n // 2, n - 1, n, -1, -49)]


@pytest.fixture(params=sorted(PROGRAMS))
def program(request, tmp_path):
    make, n = PROGRAMS[request.param]
    return module_from(tmp_path, request.param, make(n)).f, n


def test_deep_programs_match_eager_on_every_executor(program):
    f, n = program
    with warnings.catch_warnings():
        warnings.simplefilter("error", CppFallbackWarning)  # the C++ executor runs them itself
        s = matches_eager(f, *inputs(n))
    assert block_depth(s._kiln_fn.graph) >= 150


def test_deep_programs_print(program):
    f, n = program
    s = torchkiln.script(f)
    graph = str(s.graph)
    assert graph.count("prim::If") >= n
    code = s.code
    assert code.startswith("def f") and code.count("if ") >= n


def test_generated_python_outlines_deep_nodes(program):
    f, n = program
    s = torchkiln.script(f)
    source = executable_source(s._kiln_fn, s._kiln_unit)
    indents = [len(line) - len(line.lstrip(" ")) for line in source.splitlines()]
    assert max(indents) // 4 < 60, "outlining keeps the generated source shallow"
    assert "def _kiln_out" in source


def test_shallow_programs_are_not_outlined(tmp_path):
    f = module_from(tmp_path, "shallow", early_returns(20)).f
    s = torchkiln.script(f)
    assert "_kiln_out" not in executable_source(s._kiln_fn, s._kiln_unit)


def test_an_error_deep_inside_names_its_node(tmp_path):
    lines = early_returns(200)
    bad = "    return torch.cat([x, x.reshape(5, 7)])"
    lines.insert(-1, bad)
    line_no = lines.index(bad) + 2  # after `import torch`
    f = module_from(tmp_path, "deep_error", lines).f
    s = torchkiln.script(f)
    from torchkiln.api import ScriptFunction

    run = ScriptFunction(s._kiln_unit, s._kiln_fn, executor="python")
    with pytest.raises(RuntimeError) as info:
        run(torch.zeros(3), -1)
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "aten::reshape" in notes and f"deep_error.py:{line_no}" in notes, notes


def test_deep_programs_save_and_load_in_a_fresh_process(program, tmp_path):
    f, n = program
    s = torchkiln.script(f)
    path = tmp_path / "deep.pt"
    torchkiln.save(s, str(path))
    ks = [k for _, k in inputs(n)]
    out = run_fresh(f"""
        import warnings, torch, torchkiln
        warnings.simplefilter("error")  # no fallback from the C++ executor
        m = torchkiln.load({str(path)!r})
        for k in {ks!r}:
            print(m(torch.arange(3.0), k).tolist())
        print(len(str(m.graph)) > 0)
    """)
    expected = [str(f(torch.arange(3.0), k).tolist()) for k in ks] + ["True"]
    assert out.split("\n")[:-1] == expected


def test_the_deepest_allowed_function_runs_everywhere(tmp_path):
    f = module_from(tmp_path, "deepest", early_returns(MAX_BLOCK_DEPTH)).f
    s = matches_eager(f, (torch.ones(2), 0), (torch.ones(2), MAX_BLOCK_DEPTH - 1), (torch.ones(2), -1))
    assert block_depth(s._kiln_fn.graph) == MAX_BLOCK_DEPTH


@pytest.mark.parametrize("n", [MAX_BLOCK_DEPTH + 1, 5000])
def test_nesting_beyond_the_limit_is_a_compile_error(tmp_path, n):
    f = module_from(tmp_path, f"too_deep_{n}", early_returns(n)).f
    limit = sys.getrecursionlimit()
    with pytest.raises(CompileError, match=f"limit of {MAX_BLOCK_DEPTH}|at most {MAX_BLOCK_DEPTH} deep") as info:
        torchkiln.script(f)
    assert not isinstance(info.value.__cause__, RecursionError)
    assert sys.getrecursionlimit() == limit, "the raised recursion limit is restored"


def test_every_reader_and_writer_agrees_on_the_limits():
    assert archive_format.MAX_BLOCK_DEPTH == MAX_BLOCK_DEPTH
    assert archive_format.MAX_JSON_DEPTH >= 4 * MAX_BLOCK_DEPTH + 3 * archive_format.MAX_VALUE_DEPTH + 10
    loader = (ROOT / "torchkiln" / "csrc" / "src" / "loader.cpp").read_text()
    assert int(re.search(r"kMaxBlockDepth = (\d+);", loader).group(1)) == MAX_BLOCK_DEPTH
    assert int(re.search(r"kMaxJsonDepth = (\d+);", loader).group(1)) == archive_format.MAX_JSON_DEPTH


def test_inlining_never_nests_past_the_limit(tmp_path):
    callee = early_returns(600)
    callee[0] = "def g(x: torch.Tensor, k: int) -> torch.Tensor:"
    caller = early_returns(500)
    caller[-1] = "    return g(x, k - 500)"
    f = module_from(tmp_path, "inline_deep", callee + caller).f
    s = matches_eager(f, (torch.ones(2), 3), (torch.ones(2), 700), (torch.ones(2), -1))
    assert block_depth(s._kiln_fn.graph) <= MAX_BLOCK_DEPTH
    assert "prim::CallFunction" in str(s.graph)


def test_loops_nested_past_cpythons_limit_after_inlining(tmp_path):
    # CPython compiles at most 20 nested loops per function; three functions of 7
    # nested loops, inlined into one another, nest 21 (Note [Outlining]).
    def nest(name: str, call: str):
        lines = [f"def {name}(x: torch.Tensor, n: int) -> torch.Tensor:"]
        for d in range(7):
            lines.append("    " * (d + 1) + f"for i{d} in range(n):")
        lines.append("    " * 8 + f"x = {call}")
        return lines + ["    return x"]

    lines = nest("h", "x + 1") + nest("g", "h(x, n)") + nest("f", "g(x, n)")
    f = module_from(tmp_path, "nested_loops", lines).f
    s = matches_eager(f, (torch.zeros(1), 1), (torch.zeros(1), 0))
    assert block_depth(s._kiln_fn.graph) == 21


def test_ordinary_compiles_leave_the_recursion_limit_alone(monkeypatch):
    # script() compiles without extra room first (entry._with_room); only a program that
    # runs out of stack compiles again with it.
    calls = []
    real = sys.setrecursionlimit
    monkeypatch.setattr(sys, "setrecursionlimit", lambda n: (calls.append(n), real(n)))

    class Small(torch.nn.Module):
        def forward(self, x: torch.Tensor, k: int) -> torch.Tensor:
            for i in range(k):
                if i % 2 == 0:
                    x = x + 1
                elif i > 5:
                    return x
            return x

    torchkiln.script(Small())
    assert calls == []
