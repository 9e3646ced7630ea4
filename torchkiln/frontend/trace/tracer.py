"""Placeholder while the recorder is written."""
from ...diagnostics import Error


class TracingCheckError(Error):
    """check_trace found that re-running the trace differs from eager."""


def is_tracing() -> bool:
    return False


def trace(*args, **kwargs):
    raise NotImplementedError("torchkiln.trace is being written")


def trace_module(*args, **kwargs):
    raise NotImplementedError("torchkiln.trace_module is being written")
