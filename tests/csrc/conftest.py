"""Fixtures for the C++ runtime tests: the runtime, built once per session."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "archive"))  # archive_models: programs from IR text

import cpp_runtime  # noqa: E402


@pytest.fixture(scope="session")
def rt() -> cpp_runtime.Runtime:
    return cpp_runtime.build()
