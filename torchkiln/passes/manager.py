"""Pipelines of passes: run them in order, to a fixpoint, verifying as asked.

```python
from torchkiln.passes import manager
manager.run_pipeline(graph, manager.default_pipeline)     # inline, fold, simplify, CSE, DCE
manager.run_on_function(fn, unit)                          # the same with `unit`'s free functions inlined
manager.config.verify = True                               # tests: verify after every pass
```

A pass is anything callable as `pass_(graph) -> bool` (changed?): a pass
module's `run` function, or an object such as `inline.Inliner(unit)`. Its
name (for errors) is its `name` attribute, else its module's last part
(`torchkiln.passes.cse.run` is `cse`).

Verification (`verify=True`, or `config.verify` when `verify` is None)
checks the graph with `ir.verify.verify` (and the op table's
`ops.op_checker`) before the first pass and after
each; when the IR breaks an invariant, `PassError` says which pass broke it
and which passes ran before it, followed by the verifier's report.
"""
from __future__ import annotations

from typing import Callable, List, Optional, Sequence

from ..diagnostics import VerifyError
from ..ir.core import CompilationUnit, Function, Graph
from ..ir.nesting import MAX_BLOCK_DEPTH, recursion_headroom
from . import alias, constant_prop, cse, dce, inline, simplify
from .config import PassConfig, config

Pass = Callable[[Graph], bool]

__all__ = ["Pass", "PassConfig", "PassError", "config", "default_pipeline", "pass_name", "pipeline_for", "run_on_function", "run_pipeline", "deferred_pipeline", "verify_graph"]

#: What `script` and `trace` run on every graph (DESIGN §6).
default_pipeline: List[Pass] = [inline.run, constant_prop.run, simplify.run, cse.run, dce.run]

# Passes that change the graph only when they return True (they may share one AliasDb).
_KNOWN_PASSES = tuple(default_pipeline)

# Passes whose changes leave the shared AliasDb as a fresh build would answer
# (Note [Shared AliasDb] in alias.py): CSE merges a pure node into an earlier
# one with the same inputs, so every fact the removed node added is already
# there, and `AliasDb.replaced` records the merge.
_KEEPS_ALIAS_DB = (cse.run,)


def pipeline_for(unit: Optional[CompilationUnit]) -> List[Pass]:
    """`default_pipeline` with an inliner that also sees `unit`'s free functions."""
    return [inline.Inliner(unit)] + [p for p in default_pipeline if p is not inline.run]


class PassError(VerifyError):
    """A pass left the IR broken (or the pipeline was given broken IR).

    ```
    the IR is invalid after pass `cse` (ran before it: inline, constant_prop, simplify)
    <the verifier's report, with the bad node marked>
    ```
    """

    def __init__(self, pass_: Optional[str], before: Sequence[str], report: str):
        self.pass_name = pass_
        self.passes_before = list(before)
        if pass_ is None:
            head = "the IR given to the pipeline is invalid (before any pass ran)"
        else:
            ran = ", ".join(before) if before else "nothing"
            head = f"the IR is invalid after pass `{pass_}` (ran before it: {ran})"
        super().__init__(f"{head}\n{report}")


def pass_name(p: Pass) -> str:
    name = getattr(p, "name", None)
    if isinstance(name, str):
        return name
    fn_name = getattr(p, "__name__", type(p).__name__)
    if fn_name == "run":
        return getattr(p, "__module__", "?").rsplit(".", 1)[-1]
    return fn_name


def run_pipeline(
    graph: Graph,
    passes: Sequence[Pass],
    verify: Optional[bool] = None,
    max_iterations: Optional[int] = None,
) -> bool:
    """Run `passes` in order, again and again while one changes something.

    At most `max_iterations` rounds (default `config.max_iterations`; 1 runs
    the list once). Returns True if any pass changed the graph.
    """
    # Inlining may deepen the graph up to the limit: room for the deepest
    # graph allowed (Note [Block nesting limit] in ir/nesting.py).
    with recursion_headroom(MAX_BLOCK_DEPTH):
        return _run_pipeline(graph, passes, verify, max_iterations)


def _run_pipeline(graph: Graph, passes: Sequence[Pass], verify: Optional[bool], max_iterations: Optional[int]) -> bool:
    check = config.verify if verify is None else verify
    rounds = config.max_iterations if max_iterations is None else max_iterations
    history: List[str] = []
    if check:
        _verify(graph, None, history)
    changed_any = False
    # Note [Fixpoint skipping]: a pass of ours that reported no change on
    # the graph as it is now would report none again (passes are
    # deterministic functions of the graph), so it is skipped until some
    # pass changes the graph. The inliner is never skipped (it also reads
    # the callees' graphs).
    clean: List[int] = []  # ids of passes that found nothing to do on the current graph
    with alias.sharing(graph):  # Note [Shared AliasDb] in alias.py
        for _ in range(max(rounds, 1)):
            changed = False
            for p in passes:
                if id(p) in clean:
                    continue
                name = pass_name(p)
                try:
                    pass_changed = bool(p(graph))
                except Exception as e:
                    if not isinstance(e, VerifyError):
                        e.add_note(f"while running pass `{name}` (ran before it: {', '.join(history) or 'nothing'})")
                    raise
                reports = _reports_changes(p)
                if pass_changed or not reports:
                    if not (reports and any(p is k for k in _KEEPS_ALIAS_DB)):
                        alias.invalidate(graph)
                    clean.clear()
                elif _skippable(p):
                    clean.append(id(p))
                changed |= pass_changed
                if check:
                    _verify(graph, name, history)
                history.append(name)
            changed_any |= changed
            if not changed:
                break
    return changed_any


def _reports_changes(p: Pass) -> bool:
    """Whether `p` is one of ours: it changes the graph only when it returns True."""
    return any(p is k for k in _KNOWN_PASSES) or isinstance(p, inline.Inliner)


def _skippable(p: Pass) -> bool:
    """Whether `p` may be skipped while the graph is as it was when `p` found nothing to do."""
    return any(p is k for k in _KNOWN_PASSES) and p is not inline.run


def run_on_function(fn: Function, unit: Optional[CompilationUnit], passes: Optional[Sequence[Pass]] = None, verify: Optional[bool] = None) -> bool:
    """Optimize `fn.graph` in place with `pipeline_for(unit)` (or `passes`).

    Call it once every function the graph calls is compiled: inlining copies
    the callees' graphs as they are then.
    """
    return run_pipeline(fn.graph, pipeline_for(unit) if passes is None else passes, verify=verify)


def deferred_pipeline(unit: Optional[CompilationUnit]) -> Callable[[Graph], bool]:
    """`run_pipeline(graph, pipeline_for(unit))` as a job for `Function.defer` (Note [Lazy optimization]).

    The pipeline list is built when the job runs, so each run has its own
    pass objects.
    """

    def job(graph: Graph) -> bool:
        return run_pipeline(graph, pipeline_for(unit))

    return job


def verify_graph(graph: Graph) -> None:
    """The check `run_pipeline` makes before its first pass (raises `PassError`)."""
    _verify(graph, None, [])


def _verify(graph: Graph, name: Optional[str], history: List[str]) -> None:
    from .. import ops
    from ..ir.verify import verify

    try:
        verify(graph, ops.op_checker)
    except VerifyError as e:
        raise PassError(name, history, str(e)) from e
