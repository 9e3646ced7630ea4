"""The tracer: run a program once on example inputs and record the ATen ops it performs."""
from .tracer import TracingCheckError, is_tracing, trace, trace_module

__all__ = ["TracingCheckError", "is_tracing", "trace", "trace_module"]
