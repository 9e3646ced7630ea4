"""Generated programs: `torchkiln.script` refuses them or agrees with eager Python on every executor.

`fuzz_programs.Program` writes small typed functions mixing the constructs
torchkiln accepts beyond TorchScript (nested functions with closures and
`nonlocal`, `match`, comprehension filters, generator expressions in
`any`/`all`/`sum`/`min`/`max`, walrus, f-strings with format specs,
`zip(strict=True)`, `map`/`filter` with lambdas, `dict | dict`, chained
comparisons, loop `else`, early exits inside loops, `match` cases and
`with torch.no_grad()`, `raise`/`assert`, Optional refinement), over ints,
floats, bools, strs, `List[int]`, `Optional[int]`, `Dict[str, int]` and
small tensors. Each program is a real module (script() reads source files).

For each program and each drawn argument tuple:

- `script()` either succeeds or raises `torchkiln.CompileError` (a refusal,
  recorded); any other exception is an internal error: the test fails;
- each executor (python, interpreter, cpp) gives eager Python's result
  (exact: type, NaN-aware, the sign of zero; tensors by dtype, shape and
  values) and leaves the list, dict and tensor arguments as eager Python
  does, or raises the exception eager Python raises, with its message.

Differences that are script's documented semantics are not failures: a dead
computation that raises in Python is removed by dead-code elimination, as in
TorchScript (the call is re-run unoptimized, which must raise as Python
does); `zip(strict=True)` checks the lengths before the first item (Note
[zip strict]); the C++ executor takes list and dict arguments as copies;
calls whose ints leave the 64-bit range are skipped.

CI runs a fixed, derandomized set of examples (300, about 25 s on 2 cores). Run longer locally:

    KILN_FUZZ_EXAMPLES=3000 python -m pytest -q -p no:cacheprovider tests/frontend/script/test_differential_fuzz.py

`KILN_FUZZ_SEED=<int>` draws another fixed set (instead of the derandomized
one); `KILN_FUZZ_REFUSALS=<file>` appends each refusal's first line and each
program's constructs there (to see what the generator reaches); `KILN_FUZZ_SHRINK=1`
shrinks a failing program (slow: every step re-scripts it).
"""
from __future__ import annotations

import copy
import importlib.util
import itertools
import math
import os
import sys
import tempfile
import warnings
from typing import Any, List, Tuple

import torch
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

import torchkiln
from torchkiln.api import ScriptFunction
from torchkiln.passes import inline, manager

from .fuzz_programs import Program, inputs
from .script_testing import EXECUTORS, check_ir

EXAMPLES = int(os.environ.get("KILN_FUZZ_EXAMPLES", "300"))
SEED = os.environ.get("KILN_FUZZ_SEED")
REFUSALS = os.environ.get("KILN_FUZZ_REFUSALS")

_DIR = tempfile.mkdtemp(prefix="kiln_fuzz_")
_COUNTER = itertools.count()

# Exceptions eager Python raises only when the generator wrote an invalid program.
_GENERATOR_BUGS = (NameError, SyntaxError, AttributeError)


def _load(source: str) -> Any:
    name = f"kiln_fuzz_{os.getpid()}_{next(_COUNTER)}"
    path = os.path.join(_DIR, name + ".py")
    with open(path, "w") as file:
        file.write(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module.f


def _same(a: Any, b: Any) -> bool:
    """Exact equality: types, NaN-aware, -0.0 != 0.0; tensors by dtype, shape and values (NaN-aware)."""
    if isinstance(a, torch.Tensor):
        if not (isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape):
            return False
        if a.is_floating_point():
            return bool(((a == b) | (a.isnan() & b.isnan())).all())
        return torch.equal(a, b)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, float):
        if math.isnan(a):
            return isinstance(b, float) and math.isnan(b)
        return type(b) is float and a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    return type(a) is type(b) and a == b


def _args(raw: Tuple) -> List[Any]:
    n, x, b, s, xs, o, d, t = raw
    return [n, x, b, s, list(xs), o, dict(d), torch.tensor(t)]


def _outcome(fn: Any, args: List[Any]) -> Tuple[str, Any, List[Any]]:
    args = copy.deepcopy(args)
    try:
        return "value", fn(*args), args
    except Exception as e:  # noqa: BLE001 - every exception is an outcome to compare
        return "raise", e, args


def _fits_int64(value: Any) -> bool:
    """Python's ints are unbounded, script's are 64-bit: programs that leave that range are skipped."""
    if isinstance(value, bool):
        return True
    if isinstance(value, int):
        return -(2**63) <= value < 2**63
    if isinstance(value, (list, tuple)):
        return all(_fits_int64(v) for v in value)
    if isinstance(value, dict):
        return all(_fits_int64(v) for v in value.values())
    return True


def _raises_unoptimized(source: str, args: List[Any], expected: BaseException) -> bool:
    """Does the program raise `expected` when compiled without the pass pipeline (inlining only)?

    Dead-code elimination removes a pure computation whose value no one reads
    (`v2 = n % 0`, `v2` unused), as TorchScript's does: the exception it might
    raise does not keep it alive. A call where only that differs is not a bug.
    """
    fn = _load(source)
    saved = manager.pipeline_for
    manager.pipeline_for = lambda unit: [inline.Inliner(unit)]
    try:
        # Unfolded, `prim::is(6, None)` is generated as `(6 is None)`: a SyntaxWarning.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            s = torchkiln.script(fn)
            kind, got, _ = _outcome(ScriptFunction(s._kiln_unit, s._kiln_fn, executor="interpreter"), args)
    finally:
        manager.pipeline_for = saved
    return kind == "raise" and type(got) is type(expected) and str(got) == str(expected)


def _record(line: str) -> None:
    if REFUSALS:
        with open(REFUSALS, "a") as file:
            file.write(line.replace("\n", " | ") + "\n")


def _check(source: str, calls: List[Tuple]) -> None:
    fn = _load(source)
    try:
        s = torchkiln.script(fn)
    except torchkiln.CompileError as e:
        _record("REFUSED " + str(e).splitlines()[0])
        return
    check_ir(s)
    runs = {name: ScriptFunction(s._kiln_unit, s._kiln_fn, executor=name) for name in EXECUTORS}
    for raw in calls:
        args = _args(raw)
        kind, expected, expected_args = _outcome(fn, args)
        _record(f"CALL {kind} {type(expected).__name__ if kind == 'raise' else ''}")
        if kind == "raise" and isinstance(expected, _GENERATOR_BUGS):
            raise AssertionError(f"the generator wrote an invalid program ({expected!r}):\n{source}")
        if kind == "raise" and isinstance(expected, (OverflowError, RecursionError)) or not _fits_int64([expected, expected_args]):
            continue
        for name, run in runs.items():
            got_kind, got, got_args = _outcome(run, args)
            if any(k == "raise" and str(e).startswith("zip() argument") for k, e in ((kind, expected), (got_kind, got))):
                continue  # script checks the lengths before the first item (Note [zip strict])
            where = f"\n{source}\nargs {args!r}: the {name} executor"
            if kind == "value":
                assert got_kind == "value", f"{where} raised {got!r}; eager Python returned {expected!r}"
                assert _same(expected, got), f"{where} returned {got!r}; eager Python {expected!r}"
            else:
                same_error = got_kind == "raise" and type(got) is type(expected) and str(got) == str(expected)
                if not same_error and _raises_unoptimized(source, args, expected):
                    break  # the optimizer removed a dead computation that raises
                assert got_kind == "raise", f"{where} returned {got!r}; eager Python raised {expected!r}"
                assert same_error, f"{where} raised {got!r}; eager Python {expected!r}"
            want = expected_args
            if name == "cpp":
                # The C++ executor takes lists and dicts as copies (as TorchScript does): only tensors are shared.
                want = [a if isinstance(a, torch.Tensor) else b for a, b in zip(expected_args, got_args)]
            assert _same(want, got_args), f"{where} left the arguments {got_args!r}; eager Python {want!r}"


def _settings(test):
    test = settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=SEED is None,
        database=None,
        print_blob=True,
        # Shrinking re-scripts hundreds of programs (minutes): the failing program is printed as it is.
        phases=list(Phase) if os.environ.get("KILN_FUZZ_SHRINK") else [Phase.explicit, Phase.reuse, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )(test)
    return seed(int(SEED))(test) if SEED is not None else test


@_settings
@given(st.data())
def test_generated_programs_agree_with_eager(data):
    program = Program(data.draw)
    source = program.source()
    calls = data.draw(st.lists(inputs(), min_size=2, max_size=3))
    _record("USES " + " ".join(sorted(program.used)))
    _check(source, calls)
