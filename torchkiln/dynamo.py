"""`torch.compile(model, backend="torchkiln")`: Dynamo's graphs run by torchkiln.

Registered through the `torch_dynamo_backends` entry point (pyproject.toml).
Dynamo hands the backend an FX `GraphModule` and example inputs; the backend
traces the GraphModule with `torchkiln.trace` (the FX graph has no Python
control flow left, so one trace is exact) and returns the traced module,
which runs the Python executor. FX graphs return tuples or lists; the
traced module returns the same structure (`strict=False`).

Inputs that are not tensors (Dynamo's symbolic ints, with dynamic shapes)
cannot be trace inputs; for such graphs the backend returns the
GraphModule itself, which runs eagerly.
"""
from __future__ import annotations

import warnings
from typing import Any, Callable, List, Sequence

import torch

from .diagnostics import TracerWarning
from .frontend.trace import trace

__all__ = ["backend"]


def backend(gm: torch.fx.GraphModule, example_inputs: Sequence[Any], **options: Any) -> Callable[..., Any]:
    """A Dynamo backend: compile `gm` for `example_inputs` with the tracer."""
    inputs: List[Any] = list(example_inputs)
    if not all(isinstance(x, torch.Tensor) and type(x) is torch.Tensor or isinstance(x, torch.nn.Parameter) for x in inputs):
        return gm.forward
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TracerWarning)
        traced = trace(gm, tuple(inputs), check_trace=False, strict=False, executor=options.get("executor"))
    return traced
