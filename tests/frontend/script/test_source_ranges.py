"""Source ranges of script nodes: computed when first read, equal to eagerly computed ones.

And Note [Load forwarding]: reads of variables use the stored value where that is
what SSA construction would give, and a `prim::Load` where it is not.
"""
import copy
import pickle
import threading
from typing import List, Optional

import torch

import torchkiln
from torchkiln.diagnostics import SourceRange
from torchkiln.frontend.script.source import parse_function

from .script_testing import matches_eager


def sample(x: torch.Tensor, n: int) -> torch.Tensor:
    y = x * 2
    if n > 0:
        y = y + n
    return y.relu()


def _ranges():
    src = parse_function(sample)
    nodes = [node for stmt in src.tree.body for node in __import__("ast").walk(stmt) if hasattr(node, "lineno")]
    return src, nodes


def test_lazy_ranges_equal_eager_ones():
    src, nodes = _ranges()
    for node in nodes:
        lazy, eager = src.loc(node), src.eager_loc(node)
        assert type(eager) is SourceRange
        assert lazy == eager and eager == lazy and hash(lazy) == hash(eager)
        assert (lazy.filename, lazy.line, lazy.col, lazy.end_col, lazy.text) == (
            eager.filename, eager.line, eager.col, eager.end_col, eager.text,
        )
        assert str(lazy) == str(eager) and lazy.render() == eager.render()
    first = src.loc(nodes[0])
    assert pickle.loads(pickle.dumps(first)) == first
    assert copy.deepcopy(src.loc(nodes[1])) == src.eager_loc(nodes[1])  # copied before any field was read


def test_lazy_ranges_read_by_many_threads():
    src, nodes = _ranges()
    for _ in range(20):
        ranges = [src.loc(node) for node in nodes]
        seen: List[Optional[tuple]] = []
        barrier = threading.Barrier(4)

        def read():
            barrier.wait()
            seen.append(tuple((r.line, r.col, r.end_col, r.text) for r in ranges))

        threads = [threading.Thread(target=read) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        expected = tuple((r.line, r.col, r.end_col, r.text) for r in (src.eager_loc(n) for n in nodes))
        assert seen == [expected] * 4


def test_nodes_point_at_their_source():
    s = torchkiln.script(sample)
    lines = {n.loc.line for n in s.graph.block.nodes if n.loc is not None}
    first = sample.__code__.co_firstlineno
    assert {first + 1, first + 4} <= lines  # `y = x * 2`, `return y.relu()`


def forwarded(x: torch.Tensor, flag: bool, n: int):
    a = x + 1  # read below in the same block, in an if, in a with and in a loop
    if flag:
        b = a * 2
    else:
        b = a - 2
    with torch.no_grad():
        c = a + b
        d = c * 3
    total = d
    for i in range(n):
        total = total + a  # `total` is loop-carried; `a` is not changed by the loop
        a = a * 1  # ...until here: the next iteration reads the new `a`
    k: float = 1.5
    m: Optional[int] = None
    if n > 1:
        m = n
    return total, k, m, c


def test_load_forwarding_keeps_semantics():
    matches_eager(forwarded, (torch.ones(3), True, 0), (torch.ones(3), False, 3), (torch.arange(3.0), True, 2))


def test_reads_in_the_same_block_need_no_load():
    def chain(x: torch.Tensor) -> torch.Tensor:
        a = x + 1
        b = a * a
        return b - a

    s = torchkiln.script(chain)
    kinds = [n.kind for n in s.graph.block.nodes]
    assert "prim::Load" not in kinds and "prim::Store" not in kinds
    assert torch.equal(s(torch.ones(2)), (torch.ones(2) + 1) ** 2 - 2)


# -- Note [Function extent] and Note [Indented source] ------------------------------------------


def _ends_in_a_dedented_string(x: torch.Tensor) -> torch.Tensor:
    note = """a string whose lines
start at column 0"""
    return x + len(note)


def _ends_in_a_dedented_bracket(x: torch.Tensor) -> torch.Tensor:
    return torch.cat([x,
x], dim=0
)


def _header_over_lines(
    x: torch.Tensor,
    k: int = 2,
) -> torch.Tensor:
    """The `)` above is at the def's indentation; the scan starts after the header."""
    note = """cut here
if the scan started too early"""
    y = x * k
    return y + len(note)


class _Holder(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x * 3
        return (
            y
            + 1
        )
        # a comment after the last statement, inside the method

    # a comment before the next method, at its indentation
    def other(self, x: torch.Tensor) -> torch.Tensor:
        return x


def test_function_extent_ends_at_the_dedent_and_falls_back_when_cut_inside_a_string_or_bracket():
    import ast
    import inspect

    for fn in (_ends_in_a_dedented_string, _ends_in_a_dedented_bracket, _header_over_lines, _Holder.forward, _Holder.other, sample):
        src = parse_function(fn)
        lines, start = inspect.getsourcelines(fn)
        assert src.tree.name == fn.__name__
        # Same statements as Python's own reading of the source, at the file's lines and columns.
        expected = ast.parse("if 1:\n" + "".join(lines) if lines[0][:1] == " " else "".join(lines)).body[0]
        if isinstance(expected, ast.If):
            expected = expected.body[0]
        assert ast.dump(src.tree) == ast.dump(expected)
        last = src.tree.body[-1]
        assert src.loc(last).line == start + (last.lineno - expected.lineno) + (fn.__code__.co_firstlineno - start)
        assert src.loc(last).text == src.eager_loc(last).text
    x = torch.randn(2)
    assert matches_eager(_ends_in_a_dedented_string, (x,))
    assert matches_eager(_ends_in_a_dedented_bracket, (x,))
    assert matches_eager(_header_over_lines, (x,))
    m = torchkiln.script(_Holder())
    torch.testing.assert_close(m(x), _Holder()(x))


def test_indented_source_keeps_file_columns():
    src = parse_function(_Holder.forward)
    assign = src.tree.body[0]
    r = src.loc(assign.value)
    assert r.text == "        y = x * 3"
    assert (r.col, r.end_col) == (12, 17)
    assert r.line == _Holder.forward.__code__.co_firstlineno + 1
    assert "y = x * 3" in r.render() and "^^^^^" in r.render()


# -- Note [Deferred stores] ---------------------------------------------------------------------


def _stores_before_a_loop(n: int) -> int:
    x = 0
    x = 1
    y = 5
    for i in range(n):
        x += i
    if n > 2:
        y = x
        x = y * 2
    return x + y


def _stores_in_branches_read_later(c: bool, t: torch.Tensor) -> torch.Tensor:
    if c:
        z = t + 1
        z = z * 2
    else:
        z = t - 1
    w = z
    for _ in range(2):
        w = w + z
    return w


def _store_read_only_after_break(xs: List[int]) -> int:
    found = -1
    for x in xs:
        if x > 3:
            found = x
            break
    return found


def test_deferred_stores_are_placed_where_they_were_made_in_order():
    # A name first loaded inside a loop has its earlier stores placed then, in emission order,
    # including two stores that each followed only pooled constants in the top block.
    for n in (0, 1, 3, 5):
        assert matches_eager(_stores_before_a_loop, (n,))
    t = torch.randn(3)
    assert matches_eager(_stores_in_branches_read_later, (True, t), (False, t))
    assert matches_eager(_store_read_only_after_break, ([1, 5, 7],), ([1, 2],), ([],))


def test_stores_of_names_never_loaded_are_never_made(monkeypatch):
    from torchkiln.frontend.script import environment, functions

    seen = []
    lower = functions.exits.run

    def record(graph, ret):  # the memory form, as emitted (Note [Memory form])
        seen.extend((n.kind, n.attrs.get("name")) for n in graph.all_nodes() if n.kind in (environment.STORE, environment.LOAD))
        return lower(graph, ret)

    monkeypatch.setattr(functions.exits, "run", record)

    def straight(x: torch.Tensor, n: int) -> torch.Tensor:
        c = x - 1
        a = c + 1
        b = a * 2
        for _ in range(n):
            b = b + a
        return b - c

    s = torchkiln.script(straight)
    # `c` and the parameter `x` are only read through forwarding: never stored. `a` and `b` are
    # read inside the loop (forwarding does not cross a loop body): loaded, so stored.
    assert ("prim::Store", "c") not in seen and ("prim::Store", "x") not in seen
    assert ("prim::Load", "a") in seen and seen.count(("prim::Store", "a")) == 1
    assert seen.count(("prim::Store", "b")) == 2 and ("prim::Load", "b") in seen
    x = torch.randn(3)
    torch.testing.assert_close(s(x, 3), straight(x, 3))
