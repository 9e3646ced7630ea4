"""The fastest Python binding of each aten op, for the Python executor.

```python
b = python_binding(lookup("aten::add.Tensor"))
b.expr                                  # 'torch.add'
b.source(["x", "y", "a"])               # 'torch.add(x, y, alpha=a)'
b.call([x, y, 1])                       # the same, called
python_binding(lookup("aten::view")).source(["x", "s"])   # 'x.view(s)'
```

Note [Python bindings]
----------------------
An `OpOverload` call costs ~2 µs, `torch.add(a, b)` ~1 µs. The public
bindings (`torch.<name>`, `torch._C._nn.<name>`, `torch._C._special`,
`torch._C._linalg`, `torch._C._fft`, the Tensor method) take every overload
of a name at once and pick one from the Python types of the values, so one
is used for a node only where it provably runs the node's overload:

1. Candidates, fastest first: `torch.<name>` when it is the C builtin
   (not a Python wrapper like `torch.split`), the `torch._C` submodules,
   then the Tensor method when `torch.Tensor` does not override it in
   Python. Never `torch.nn.functional` (Python wrappers with other
   signatures).
2. Arguments: those not kwarg-only go positionally, kwarg-only ones by
   keyword with the schema's name; a method's receiver is `self`. A second
   style passes every defaulted argument by keyword, for Python signatures
   that make some of them keyword-only (`Tensor.to(..., *, memory_format)`).
3. Each candidate is checked by running it and the OpOverload on probe
   values built from the schema (a few variants: defaults or explicit
   values, None or a value for optionals, int or float for `Scalar`; each
   argument gets a different number, so a binding that passes `alpha`
   where `other` belongs is caught)
   under a dispatch mode that records every ATen op reached. A candidate is
   taken only if, for every probe the OpOverload runs (or fails after
   dispatching), it reaches the same ops and gives equal results (or fails
   the same way), and at least one probe was conclusive. Otherwise the
   binding is the OpOverload itself (`torch.ops.aten.add.Scalar`).
   The probes that pass the schema's defaults also call the candidate with
   those arguments left out, as the generated code leaves them out
   (codegen/bindings.py, Note [Bindings' own defaults]): a binding whose own
   default differs from the schema's fails there. `ALWAYS_PASSED` names
   the arguments the generated code always spells out (the losses'
   `reduction`, whose bindings all default to none), left in here too.
   Note [Wrapped numbers]: `torch.add(x, 2)` runs `aten::add.Tensor` on a
   wrapped-number tensor, which is how eager PyTorch runs `x + 2`: it is
   the same computation as `aten::add.Scalar` (same promotion rules, the
   results are compared too), so reaching `X.Tensor` where the overload
   reaches `X.Scalar` counts as the same op.
4. A binding that returns a tuple where the schema returns a list
   (`torch.split`) is marked `to_list`: the executor wraps it in `list(...)`.
"""
from __future__ import annotations

import dataclasses
import functools
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from ..ir.types import (
    BOOL,
    DEVICE,
    FLOAT,
    GENERATOR,
    INT,
    LAYOUT,
    MEMORY_FORMAT,
    SCALAR,
    SCALAR_TYPE,
    STR,
    ListType,
    OptionalType,
    TensorType,
    Type,
)
from .registry import OpInfo
from .schema import SchemaArg


@dataclass(frozen=True)
class Binding:
    """How to call one aten op from Python.

    `expr` is a dotted name (`torch.add`, `torch._C._nn.linear`,
    `torch.ops.aten.add.Scalar`) or, for a method (`is_method`), the method
    name (`view`). `positional` lists the schema argument indices passed
    positionally, in order; `keywords` maps indices to keyword names;
    `receiver` is the index of the method's receiver. `fn` is the callable
    (for a method: the unbound `torch.Tensor` method).
    """

    op_name: str
    expr: str
    fn: Callable
    positional: Tuple[int, ...]
    keywords: Tuple[Tuple[int, str], ...]
    is_method: bool = False
    receiver: Optional[int] = None
    to_list: bool = False
    is_overload: bool = False
    defaults_by_keyword: bool = False

    def source(self, arg_exprs: Sequence[str]) -> str:
        """Python source of the call, given one expression per schema argument."""
        parts = [arg_exprs[i] for i in self.positional]
        parts += [f"{name}={arg_exprs[i]}" for i, name in self.keywords]
        if self.is_method:
            call = f"{arg_exprs[self.receiver]}.{self.expr}({', '.join(parts)})"  # type: ignore[index]
        else:
            call = f"{self.expr}({', '.join(parts)})"
        return f"list({call})" if self.to_list else call

    def call(self, args: Sequence[Any]) -> Any:
        """Call the binding with one value per schema argument."""
        pos = [args[i] for i in self.positional]
        kw = {name: args[i] for i, name in self.keywords}
        if self.is_method:
            result = self.fn(args[self.receiver], *pos, **kw)  # type: ignore[index]
        else:
            result = self.fn(*pos, **kw)
        return list(result) if self.to_list else result


def overload_binding(op: OpInfo) -> Binding:
    """Calling the OpOverload itself: always correct, slowest."""
    schema = op.schema
    overload = schema.overload or "default"
    expr = f"torch.ops.aten.{schema.name[len('aten::'):]}.{overload}"
    positional = tuple(i for i, a in enumerate(schema.arguments) if not a.kwarg_only)
    keywords = tuple((i, a.name) for i, a in enumerate(schema.arguments) if a.kwarg_only)
    return Binding(op.name, expr, op.impl, positional, keywords, is_overload=True)  # type: ignore[arg-type]


_SUBMODULES = (("torch._C._nn", torch._C._nn), ("torch._C._special", torch._C._special),
               ("torch._C._linalg", torch._C._linalg), ("torch._C._fft", torch._C._fft))  # fmt: skip


def _candidates(op: OpInfo) -> List[Binding]:
    """Every public binding that might run `op`, fastest first; each in two argument styles."""
    schema = op.schema
    name = schema.name[len("aten::"):]
    args = schema.arguments
    out: List[Binding] = []
    vf = getattr(torch._C._VariableFunctions, name, None)
    if vf is not None:
        public = getattr(torch, name, None)
        expr = f"torch.{name}" if public is vf else f"torch._C._VariableFunctions.{name}"
        out += _styles(op, expr, vf, None)
    for mod_name, mod in _SUBMODULES:
        fn = getattr(mod, name, None)
        if fn is not None:
            out += _styles(op, f"{mod_name}.{name}", fn, None)
    self_index = schema.argument_index("self")
    method = getattr(torch._C.TensorBase, name, None)
    if (
        self_index is not None
        and method is not None
        and getattr(torch.Tensor, name, None) is method
        and not args[self_index].kwarg_only
        and isinstance(args[self_index].type, TensorType)
    ):
        out += _styles(op, name, method, self_index)
    return out


def _styles(op: OpInfo, expr: str, fn: Callable, receiver: Optional[int]) -> List[Binding]:
    """The call as the schema orders it, and with defaulted arguments by keyword.

    The second style fits Python signatures that make a schema's positional
    argument keyword-only (`Tensor.to(dtype, non_blocking, copy, *, memory_format)`).
    """
    args = op.schema.arguments
    styles = []
    for by_keyword in (False, True):
        positional = tuple(
            i for i, a in enumerate(args)
            if i != receiver and not a.kwarg_only and not (by_keyword and a.has_default)
        )  # fmt: skip
        keywords = tuple((i, a.name) for i, a in enumerate(args) if i not in positional and i != receiver)
        if sum(args[i].type == SCALAR for i in positional) > 1:
            # torch's deprecated signatures (`add(input, alpha, other)`) would bind
            # two positional numbers swapped, which probes of `x + alpha * other`
            # cannot tell apart: such a style is never taken.
            continue
        styles.append(Binding(op.name, expr, fn, positional, keywords, receiver is not None, receiver,
                              defaults_by_keyword=by_keyword))  # fmt: skip
    if len(styles) == 2 and not any(a.has_default and not a.kwarg_only for a in args):
        styles.pop()
    return styles


@functools.lru_cache(maxsize=None)
def _binding_for(op_name: str) -> Binding:
    from . import lookup

    op = lookup(op_name)
    entry = _table().get(op_name)
    if entry is None:
        return overload_binding(op)
    expr, is_method, by_keyword, to_list = entry
    for cand in _candidates(op):
        if (cand.expr, cand.is_method, cand.defaults_by_keyword) == (expr, is_method, by_keyword):
            return dataclasses.replace(cand, to_list=to_list)
    return overload_binding(op)


def python_binding(op: OpInfo) -> Binding:
    """The fastest verified binding of an aten op (Note [Python bindings]); cached."""
    assert op.schema.namespace == "aten", f"{op.name} is not an aten op"
    return _binding_for(op.name)


@functools.lru_cache(maxsize=None)
def _table() -> Dict[str, Tuple[str, bool, bool, bool]]:
    """The generated table, if it was generated for this torch version."""
    try:
        from . import _binding_table as generated
    except ImportError:
        return {}
    if generated.TORCH_VERSION != _torch_version():
        return {}
    return generated.BINDINGS


def _torch_version() -> str:
    return torch.__version__.split("+", 1)[0]


def find_binding(op: OpInfo) -> Optional[Binding]:
    """Probe the candidates of `op` now (Note [Python bindings]); None if none is proven.

    Runs the op on probe values: call it only in a process that may crash
    (the table generator runs it in a child process).
    """
    if op.name.startswith("aten::_") or not op.schema.supported:
        return None
    for cand in _candidates(op):
        to_list = _verify(op, cand)
        if to_list is not None:
            return dataclasses.replace(cand, to_list=to_list)
    return None


# -- verification -------------------------------------------------------------------


class _Recorder(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.ops: List[Any] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops.append(func)
        return func(*args, **(kwargs or {}))


def _run(fn: Callable[[], Any]) -> Tuple[List[Any], Any, Optional[type]]:
    """(ops reached, result, exception type) of `fn()` under a recorder, with a fixed seed."""
    rec = _Recorder()
    state = torch.random.get_rng_state()
    torch.manual_seed(0)
    try:
        with rec, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = fn()
        return rec.ops, result, None
    except Exception as e:  # noqa: BLE001  (any failure is an observation)
        return rec.ops, None, type(e)
    finally:
        torch.random.set_rng_state(state)


def _verify(op: OpInfo, cand: Binding) -> Optional[bool]:
    """None if `cand` is not proven to run `op`; else whether it needs `to_list`."""
    reference = overload_binding(op)
    conclusive = False
    to_list = False
    for make_args, use_defaults in _probes(op):
        ref_ops, ref_out, ref_exc = _run(lambda: reference.call(make_args()))
        if not ref_ops:
            continue  # failed before reaching the dispatcher: tells nothing
        # With the defaults passed, also as the generated code calls it: defaults left out.
        for form in (cand, _without_defaults(cand, op)) if use_defaults else (cand,):
            got_ops, got_out, got_exc = _run(lambda: form.call(make_args()))
            if _op_names(got_ops) != _op_names(ref_ops) or (ref_exc is None) != (got_exc is None):
                return None
            if ref_exc is None:
                try:
                    same, needs_list = _same_result(ref_out, got_out, op)
                except Exception:  # noqa: BLE001  (results that cannot be compared)
                    return None
                if not same:
                    return None
                to_list = to_list or needs_list
        conclusive = True
    return to_list if conclusive else None


# Arguments the generated code passes even when they equal the schema's default
# (Note [Bindings' own defaults] in codegen/bindings.py).
ALWAYS_PASSED = frozenset({"reduction"})


def _without_defaults(cand: Binding, op: OpInfo) -> Binding:
    """`cand` called as the generated code calls it when every defaulted argument has its
    default: trailing positional ones and keyword ones left out (codegen `_drop_defaults`)."""
    args = op.schema.arguments

    def dropped(i: int) -> bool:
        return args[i].has_default and args[i].name not in ALWAYS_PASSED

    positional = list(cand.positional)
    while positional and dropped(positional[-1]):
        positional.pop()
    keywords = tuple((i, name) for i, name in cand.keywords if not dropped(i))
    return dataclasses.replace(cand, positional=tuple(positional), keywords=keywords)


def _op_names(ops: List[Any]) -> List[str]:
    """Reached ops by name, with `X.Scalar` read as `X.Tensor` (Note [Wrapped numbers])."""
    return [str(o).replace(".Scalar", ".Tensor") if str(o).endswith(".Scalar") else str(o) for o in ops]


def _same_result(ref: Any, got: Any, op: OpInfo) -> Tuple[bool, bool]:
    """(results equal, binding returned a tuple for a list return)."""
    needs_list = False
    if isinstance(ref, list) and isinstance(got, tuple):
        needs_list = True
        got = list(got)
    return _equal(ref, got), needs_list


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
            return False
        if a.dtype != b.dtype or a.shape != b.shape or a.layout != b.layout:
            return False
        if a.layout != torch.strided or a.is_quantized:
            return True
        return bool(torch.equal(a, b)) or bool(torch.allclose(a, b, rtol=0, atol=0, equal_nan=True))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return _same_kind(a, b) and len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True
    return type(a) is type(b) and a == b


def _same_kind(a: Any, b: Any) -> bool:
    """Lists stay lists; tuples and structseqs (`torch.return_types.max`) count as tuples."""
    return isinstance(a, list) == isinstance(b, list)


_INDEX_NAMES = {"index", "indices", "target", "targets", "offsets", "lengths", "labels", "input_lengths", "target_lengths"}


def _probes(op: OpInfo) -> List[Tuple[Callable[[], List[Any]], bool]]:
    """Argument factories for a few probe variants (fresh values per call), each with
    whether it passes the schema's defaults."""
    args = op.schema.arguments
    variants = []
    for shape in ((2, 3), (1, 2, 4, 4), (4,)):
        for scalar in (2, 2.5):
            for use_defaults in (True, False):
                variants.append((shape, scalar, use_defaults))

    def factory(shape, scalar, use_defaults) -> Callable[[], List[Any]]:
        def make() -> List[Any]:
            gen = torch.Generator().manual_seed(1)
            return [_probe_value(a, shape, scalar + i, use_defaults, gen) for i, a in enumerate(args)]

        return make

    return [(factory(*v), v[2]) for v in variants]


def _probe_value(arg: SchemaArg, shape, scalar, use_defaults: bool, gen) -> Any:
    if arg.has_default and use_defaults:
        return arg.default
    t = arg.type
    if isinstance(t, OptionalType):
        if use_defaults or isinstance(t.elem, OptionalType) or t.elem == GENERATOR:
            return None
        t = t.elem
    return _value_of(t, arg, shape, scalar, gen)


def _value_of(t: Type, arg: SchemaArg, shape, scalar, gen) -> Any:
    if isinstance(t, TensorType):
        if arg.name in _INDEX_NAMES:
            return torch.zeros(shape, dtype=torch.long)
        return torch.rand(shape, generator=gen) + 0.5
    if isinstance(t, ListType):
        elem = t.elem
        n = arg.N if arg.N is not None else 1
        if elem == INT:
            if arg.name in ("size", "shape", "sizes"):
                return list(shape)
            return [1] * n if arg.N is not None else [0]
        if isinstance(elem, OptionalType) and isinstance(elem.elem, TensorType):
            # A None entry too, as `x[:, idx]` passes (`aten::index_put_(x, [None, idx], v)`):
            # `torch.index_put` refuses None entries that its schema allows.
            return [None, torch.zeros(shape[:1], dtype=torch.long)]
        return [_value_of(elem, arg, shape, scalar, gen) for _ in range(max(n, 2) if isinstance(elem, TensorType) else n)]
    return _SIMPLE_PROBES.get(t, lambda s: None)(scalar)


_SIMPLE_PROBES: Dict[Type, Callable[[Any], Any]] = {
    INT: lambda s: 1,
    FLOAT: lambda s: 0.5,
    BOOL: lambda s: False,
    SCALAR: lambda s: s,
    STR: lambda s: "none",
    SCALAR_TYPE: lambda s: torch.float32,
    LAYOUT: lambda s: torch.strided,
    MEMORY_FORMAT: lambda s: torch.contiguous_format,
    DEVICE: lambda s: torch.device("cpu"),
    GENERATOR: lambda s: None,
}
