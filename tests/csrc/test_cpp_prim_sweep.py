"""Every prim op the sweep can call, run by the C++ runtime and by the reference
interpreter on the same samples: same values, or the same exception class.

One archive holds a module with a method per (op, type binding); one
torchkiln-run process runs every call. A method returns the op's results
followed by the op's mutable arguments, so in-place ops are compared too.
"""
import copy
import itertools
import math

import pytest
import torch

from torchkiln import archive, interpreter, ops
from torchkiln.api import ScriptModule
from torchkiln.ir.builder import Builder
from torchkiln.ir.core import Argument, CompilationUnit, Function, Graph
from torchkiln.ir.types import (ANY, BOOL, DEVICE, FLOAT, INT, NONE, SCALAR, SCALAR_TYPE, STR, TENSOR, ClassType, DictType,
                                ListType, OptionalType, TupleType, Type)
from torchkiln.ops.schema import TypeVarType

import cpp_runtime

NAN = float("nan")
SAMPLES = {
    INT: [3, -2, 0, 7, -(2**63), 2**62],
    FLOAT: [2.5, -0.5, 0.0, -0.0, 1e300, 100000.0, 1e16, 1e-5, NAN, float("inf")],
    BOOL: [True, False],
    STR: ["ab c", "", " Hello, World 42 ", "naïve ÜNÏ", "a-b-c", "12", "\tx\n"],
    SCALAR: [3, 2.5, True, -4],
    TENSOR: [torch.tensor(2.5), torch.tensor([1, 2]), torch.tensor(True), torch.tensor(-3)],
    ListType(INT): [[3, 1, 2], [], [5, 5, -1]],
    ListType(FLOAT): [[1.5, -2.0, 0.25], []],
    ListType(STR): [["b", "a", "b"], []],
    ListType(BOOL): [[True, False], [], [True]],
    OptionalType(INT): [None, 1, -1, 5],
    OptionalType(STR): [None, "a", "-"],
    OptionalType(SCALAR_TYPE): [None, torch.float64],
    # every kind torch.finfo / torch.iinfo tell apart (prim::finfo_*, prim::iinfo_*)
    SCALAR_TYPE: [torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.complex32, torch.complex128,
                  torch.float8_e4m3fn, torch.float8_e5m2, torch.float8_e4m3fnuz, torch.float8_e5m2fnuz,
                  torch.float8_e8m0fnu, torch.float4_e2m1fn_x2, torch.uint8, torch.int8, torch.int16, torch.int32,
                  torch.int64, torch.uint16, torch.uint32, torch.uint64, torch.bool, torch.qint8, torch.quint8,
                  torch.qint32, torch.quint4x2, torch.bits8, torch.uint4],
    OptionalType(DEVICE): [None, torch.device("cpu")],
    DictType(STR, INT): [{"a": 1, "b": 2}, {}],
}
BINDINGS = [{"t": INT}, {"t": FLOAT}, {"t": STR}, {"t": BOOL}, {"t": ListType(INT)}, {"k": STR, "v": INT}]
# Driven by their own tests below, or not callable on their own.
SKIP = {"prim::Print", "prim::set_grad_enabled", "prim::warn", "prim::PythonOp", "prim::Uninitialized",
        "prim::RaiseException", "prim::TupleIndex", "prim::wait", "prim::format", "prim::percent_format",
        "prim::tolist", "prim::unchecked_cast"}
MAX_CASES = 40


def substitute(t, binding):
    if isinstance(t, TypeVarType):
        return binding.get(t.name)
    if isinstance(t, ListType):
        e = substitute(t.elem, binding)
        return None if e is None else ListType(e)
    if isinstance(t, OptionalType):
        e = substitute(t.elem, binding)
        return None if e is None else OptionalType(e)
    if isinstance(t, DictType):
        k, v = substitute(t.key, binding), substitute(t.value, binding)
        return None if k is None or v is None else DictType(k, v)
    if isinstance(t, TupleType):
        elems = [substitute(e, binding) for e in t.elems]
        return None if any(e is None for e in elems) else TupleType(elems)
    return t


def has_typevar(t) -> bool:
    return isinstance(t, TypeVarType) or any(has_typevar(c) for c in t.contained())


def instances():
    """(op name, arg types, result types, mutable arg positions) for every op the sweep covers."""
    out = []
    for name, op in sorted(ops.all_prim_ops().items()):
        s = op.schema
        if op.structural or name in SKIP or s.is_vararg or s.is_varret:
            continue
        generic = any(has_typevar(a.type) for a in s.arguments) or any(has_typevar(r.type) for r in s.returns)
        for binding in (BINDINGS if generic else [{}]):
            args = [substitute(a.type, binding) for a in s.arguments]
            rets = [substitute(r.type, binding) for r in s.returns]
            if any(t is None or t not in SAMPLES for t in args) or any(t is None or t == ANY for t in rets):
                continue
            mutable = [i for i, a in enumerate(s.arguments) if a.alias is not None and a.alias.is_write]
            out.append((name, args, rets, mutable))
    return out


def feasible(name, args) -> bool:
    """Leaves out calls whose Python result is astronomically large (C++ stops at int64 or memory at once)."""
    ints = [a for a in args if isinstance(a, int) and not isinstance(a, bool)]
    base = name.split(".")[0]
    if base in ("prim::pow", "prim::lshift", "prim::math_factorial", "prim::mul", "prim::range_list"):
        return all(abs(i) <= 64 for i in ints)
    return True


def sweep_module():
    unit = CompilationUnit()
    cls = unit.add_class(ClassType("__torch__.Sweep"))
    cases = []
    for i, (name, args, rets, mutable) in enumerate(instances()):
        g = Graph()
        self_v = g.add_input(cls, "self")
        inputs = [g.add_input(t, f"a{k}") for k, t in enumerate(args)]
        b = Builder(g.block)
        node = b.op(name, inputs, rets)
        results = list(node.outputs) + [inputs[k] for k in mutable]
        tup = TupleType([v.type for v in results])
        g.add_output(b.op("prim::TupleConstruct", results, [tup]).output)
        method = f"m{i}"
        cls.methods[method] = Function(method, g, [Argument("self", cls)] + [Argument(f"a{k}", t) for k, t in enumerate(args)], tup)
        combos = list(itertools.product(*(SAMPLES[t] for t in args)))
        step = max(1, len(combos) // MAX_CASES)
        cases += [(method, name, list(c)) for c in combos[::step] if feasible(name, c)]
    return ScriptModule.create(unit, cls, {}), cases


def expected(module, method, args):
    fn = module._kiln_type.methods[method]
    try:
        return ("ok", coerce(interpreter.run(fn, module._kiln_unit, [module] + copy.deepcopy(args)), fn.returns))
    except Exception as e:  # noqa: BLE001 - compared with the C++ outcome
        return ("error", type(e).__name__)


def coerce(v, t):
    """The Python impl's result as the op's declared type says (`sum([])` is the int 0 for a float op)."""
    if t == FLOAT and isinstance(v, int) and not isinstance(v, bool):
        return float(v)
    if isinstance(t, TupleType) and isinstance(v, tuple):
        return tuple(coerce(x, e) for x, e in zip(v, t.elems))
    return v


def python_specific(v) -> bool:
    """Results a typed runtime cannot give: complex from a float op (`(-0.5) ** 2.5`)."""
    if isinstance(v, tuple):
        return any(python_specific(x) for x in v)
    return isinstance(v, complex)


def representable(v) -> bool:
    if isinstance(v, bool):
        return True
    if isinstance(v, int):
        return -(2**63) <= v < 2**63
    if isinstance(v, (list, tuple)):
        return all(representable(x) for x in v)
    if isinstance(v, dict):
        return all(representable(x) for x in v.values())
    return True


def test_prims_match_the_reference_interpreter(rt, tmp_path):
    module, cases = sweep_module()
    path = tmp_path / "sweep.pt"
    archive.save(module, str(path))
    got = cpp_runtime.run_many(rt, path, [(m, copy.deepcopy(a)) for m, _, a in cases])
    assert len(cases) > 500
    failures = []
    for (method, name, args), cpp in zip(cases, got):
        want = expected(module, method, args)
        if want[0] == "ok" and (not representable(want[1]) or python_specific(want[1])):
            continue  # a Python int beyond int64 (C++ raises OverflowError by design), a complex from a float op
        if want[0] == "ok":
            ok = cpp[0] == "ok" and cpp_runtime.same(want[1], cpp[1])
        else:
            ok = cpp[0] == "error" and cpp[1] == want[1]
        if not ok:
            failures.append(f"{name}{tuple(args)!r}: python {want!r}, C++ {cpp[:2]!r}")
    assert not failures, f"{len(failures)} of {len(cases)} calls differ:\n" + "\n".join(failures[:60])
