"""pytest hooks: every script/trace test's calls also go through `torchkiln-run`.

`tests/conftest.py` imports these hooks. For each test under `COVERED`, the
calls its body makes of ScriptFunctions and ScriptModule methods are
recorded (`recorder.py`); once the body has passed, they run through one
long-lived `torchkiln-run --serve` per process and must agree with the
Python executor (`check.py`). The test fails otherwise, naming the call.

Calls that cannot go through the runner fail the test too, unless the test
is listed in `EXCLUDED` with the reason; a listed test whose calls all go
through fails as well (the entry is stale). A difference that is a known
bug of the C++ runtime is listed in `KNOWN_BUGS`: the test is then an
expected failure (strict: it fails once the bug is fixed). The terminal
summary counts what was checked and lists what was excluded.
"""
from __future__ import annotations

import json
from typing import Any, Dict, List

import pytest

from . import check
from .recorder import recording

COVERED = ("tests/frontend/", "tests/test_api.py::")

PROPERTY = "torchkiln-differential"

# Tests whose programs cannot go through torchkiln-run (node id -> reason).
EXCLUDED: Dict[str, str] = {
    "tests/frontend/script/test_modules.py::test_ignored_method_runs_in_python":
        "calls an @ignore'd Python method (prim::PythonOp), which the C++ runtime refuses to load",
    "tests/frontend/script/test_torch_compat.py::test_autograd_function_apply_runs_in_python":
        "calls a torch.autograd.Function's apply (prim::PythonOp), which the C++ runtime refuses to load",
    "tests/frontend/script/test_errors_sweep.py::test_script_class_argument_of_wrong_type_is_an_argument_error":
        "passes a script-class object from Python, which the C++ runtime cannot take as an argument",
}

# Tests whose programs give other results in C++ (node id -> the bug). Reported to the runtime's owners.
KNOWN_BUGS: Dict[str, str] = {}


def _covered(item: pytest.Item) -> bool:
    return item.nodeid.startswith(COVERED)


def _listed(table: Dict[str, str], nodeid: str) -> "str | None":
    return table.get(nodeid, table.get(nodeid.split("[", 1)[0]))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    if not _covered(item):
        return (yield)
    with recording() as rec:
        result = yield  # a failing test raises here: nothing is checked
    report = check.check(rec)
    item.user_properties.append((PROPERTY, json.dumps(report.summary())))
    _judge(item.nodeid, report)
    return result


def _judge(nodeid: str, report: check.Report) -> None:
    excluded = _listed(EXCLUDED, nodeid)
    if report.unrunnable and excluded is None:
        lines = "\n".join(f"  {program}: {why}" for program, why in report.unrunnable)
        raise AssertionError(
            f"calls of this test cannot go through torchkiln-run:\n{lines}\n"
            "fix that, or list the test in EXCLUDED (tests/differential/plugin.py) with the reason"
        )
    if excluded is not None and not report.unrunnable and nodeid in EXCLUDED:
        raise AssertionError(f"every call of this test goes through torchkiln-run: remove it from EXCLUDED ({excluded})")
    bug = _listed(KNOWN_BUGS, nodeid)
    if report.mismatches:
        if bug is not None:
            pytest.xfail(f"known C++ runtime bug: {bug}")
        raise AssertionError("the C++ runtime disagrees with the Python executor:\n" + "\n".join(report.mismatches))
    if bug is not None:
        raise AssertionError(f"[XPASS(strict)] the known bug is fixed: remove the test from KNOWN_BUGS ({bug})")


# -- the summary (on the xdist controller, from the workers' reports) --------------------------

_SUMMARIES: List[Dict[str, Any]] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "call":
        return
    for name, value in report.user_properties:
        if name == PROPERTY:
            summary = json.loads(value)
            summary["nodeid"] = report.nodeid
            _SUMMARIES.append(summary)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _SUMMARIES:
        return
    calls = sum(s["calls"] for s in _SUMMARIES)
    checked = sum(s["checked"] for s in _SUMMARIES)
    programs = len({p for s in _SUMMARIES for p in s["programs"]})
    random = sum(s["random"] for s in _SUMMARIES)
    raising = sum(s["raising"] for s in _SUMMARIES)
    others = sum(s["other_executors"] for s in _SUMMARIES)
    binding = sum(s["binding_errors"] for s in _SUMMARIES)
    known = [s["nodeid"] for s in _SUMMARIES if s["mismatches"]]
    excluded = [(s["nodeid"], program, why) for s in _SUMMARIES for program, why in s["unrunnable"]]
    tr = terminalreporter
    tr.write_sep("-", "torchkiln-run differential")
    tr.write_line(
        f"{len(_SUMMARIES)} tests, {calls} calls recorded; {checked} distinct calls of {programs} programs "
        f"ran through torchkiln-run, compared with the Python executor ({raising} raising, {random} drawing "
        f"random numbers from the Python call's generator state); {others} calls on other executors (cpp, "
        f"interpreter) compared with it too; {binding} calls refused by argument binding (no program runs)"
    )
    tr.write_line(f"{len(known)} tests disagree, known bugs (KNOWN_BUGS in tests/differential/plugin.py): {', '.join(known)}")
    tr.write_line(f"{len(excluded)} programs excluded (EXCLUDED in tests/differential/plugin.py):")
    for nodeid, program, why in excluded:
        tr.write_line(f"  {nodeid}: {program}: {why}")


def pytest_sessionfinish(session: pytest.Session) -> None:
    check.close()
