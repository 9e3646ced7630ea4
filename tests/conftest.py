"""The differential run: script/trace tests' calls also go through torchkiln-run (tests/differential)."""
from differential.plugin import (  # noqa: F401  (pytest hooks, found by name)
    pytest_runtest_call,
    pytest_runtest_logreport,
    pytest_sessionfinish,
    pytest_terminal_summary,
)
