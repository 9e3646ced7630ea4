"""Every simple prim op of the table, through both executors: each `emit`
template must compute what the op's Python impl computes (STYLE habit 9)."""
import itertools

import pytest

from torchkiln import interpreter, ops
from torchkiln.codegen import compile_function
from torchkiln.ir.core import Argument, Function, Graph
from torchkiln.ir.builder import Builder
from torchkiln.ir.types import BOOL, FLOAT, INT, STR, ListType, OptionalType

from .harness import same

SAMPLES = {
    INT: [3, -2, 0],
    FLOAT: [2.5, -0.5],
    BOOL: [True, False],
    STR: ["ab c", ""],
    ListType(INT): [[3, 1, 2]],
    ListType(FLOAT): [[1.5, -2.0]],
    OptionalType(INT): [None, 1],
}


def _simple_ops():
    out = []
    for name, op in sorted(ops.all_prim_ops().items()):
        s = op.schema
        if op.structural or op.emit is None or s.is_vararg or s.is_varret or len(s.returns) != 1:
            continue
        if op.extra.get("attrs") or not all(a.type in SAMPLES for a in s.arguments):
            continue
        if s.returns[0].type not in SAMPLES and s.returns[0].type not in (INT, FLOAT, BOOL, STR):
            continue
        out.append(name)
    return out


SIMPLE = _simple_ops()


def test_there_are_simple_prims_to_check():
    assert len(SIMPLE) > 20


def _outcome(run):
    try:
        return "ok", run()
    except Exception as e:  # noqa: BLE001 - compared between executors
        return "error", type(e)


@pytest.mark.parametrize("name", SIMPLE)
def test_emit_template_matches_impl(name):
    op = ops.lookup(name)
    g = Graph()
    inputs = [g.add_input(a.type, a.name) for a in op.schema.arguments]
    out = Builder(g.block).op(name, inputs, [op.schema.returns[0].type]).output
    g.add_output(out)
    fn = Function("f", g, [Argument(a.name, a.type) for a in op.schema.arguments], out.type)
    compiled = compile_function(fn)
    for args in itertools.product(*(SAMPLES[a.type] for a in op.schema.arguments)):
        want = _outcome(lambda: interpreter.run(fn, None, [list(a) if isinstance(a, list) else a for a in args]))
        got = _outcome(lambda: compiled(*[list(a) if isinstance(a, list) else a for a in args]))
        assert want[0] == got[0] and (same(want[1], got[1]) if want[0] == "ok" else want[1] is got[1]), (
            f"{name}{args}: interpreter {want}, generated code {got} (template {op.emit!r})"
        )
