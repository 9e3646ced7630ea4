"""torchkiln: trace or script PyTorch programs into a typed IR, optimize, save, run.

`import torchkiln as jit` runs code written for `torch.jit`:

```python
traced = jit.trace(model, example)         # record one run
scripted = jit.script(model)               # compile the Python source
jit.save(scripted, "m.pt"); m = jit.load("m.pt")
```

This module only re-exports (DESIGN §2), plus the thin `save`, `load` and
`script_if_tracing` wrappers. The markers `ignore`, `unused`, `export`,
`Final`, `annotate`, `is_scripting` are torch.jit's own objects (see
`frontend/script/decorators.py`), so the `torch.jit.*` spellings and these
are one and the same to the script compiler.
"""
from __future__ import annotations

from typing import Any

from .api import ScriptFunction, ScriptModule
from .diagnostics import ArchiveError, ArgumentError, CompileError, Error, TracerWarning
from .frontend.script import Final, annotate, export, fork, ignore, interface, is_scripting, script, unused, wait
from .frontend.trace import TracingCheckError, is_tracing, trace, trace_module
from .inference import freeze, optimize_for_inference
from . import cpp_executor as _cpp_executor  # noqa: E402,F401  (executor "cpp"; the default where torchkiln._C is built)
from .compat import (
    CompilationUnit,
    RecursiveScriptModule,
    ScriptWarning,
    TopLevelTracedModule,
    TracedModule,
    enable_onednn_fusion,
    export_opnames,
    fuser,
    last_executed_optimized_graph,
    onednn_fusion_enabled,
    optimized_execution,
    run_frozen_optimizations,
    set_fusion_strategy,
    strict_fusion,
)

import torch.jit as _torch_jit  # noqa: E402

Attribute = _torch_jit.Attribute  # torch.jit's own objects, as the markers above
isinstance = _torch_jit.isinstance  # noqa: A001
Future = _torch_jit.Future

__all__ = [
    "ArchiveError",
    "ArgumentError",
    "Attribute",
    "CompilationUnit",
    "Future",
    "RecursiveScriptModule",
    "ScriptWarning",
    "TopLevelTracedModule",
    "TracedModule",
    "enable_onednn_fusion",
    "export_opnames",
    "fuser",
    "isinstance",
    "last_executed_optimized_graph",
    "onednn_fusion_enabled",
    "optimized_execution",
    "run_frozen_optimizations",
    "set_fusion_strategy",
    "strict_fusion",
    "CompileError",
    "Error",
    "Final",
    "ScriptFunction",
    "ScriptModule",
    "TracerWarning",
    "TracingCheckError",
    "annotate",
    "export",
    "fork",
    "freeze",
    "ignore",
    "interface",
    "is_scripting",
    "is_tracing",
    "load",
    "optimize_for_inference",
    "save",
    "script",
    "script_if_tracing",
    "trace",
    "trace_module",
    "unused",
    "utils",
    "wait",
]

__version__ = "0.1.0"


def save(obj: Any, path_or_file: Any, _extra_files: Any = None) -> None:
    """Write a `ScriptModule` / `ScriptFunction` archive (see docs/archive.md)."""
    from . import archive

    if _extra_files:
        archive.save(obj, path_or_file, _extra_files=_extra_files)
    else:
        archive.save(obj, path_or_file)


def load(path_or_file: Any, map_location: Any = None, _extra_files: Any = None) -> Any:
    """Read an archive written by `save`; never executes code from the file."""
    from . import archive

    if _extra_files is not None:
        return archive.load(path_or_file, map_location=map_location, _extra_files=_extra_files)
    return archive.load(path_or_file, map_location=map_location)


def script_if_tracing(fn: Any) -> Any:
    """Call `fn` eagerly; while tracing, compile it with `script` so its control flow is kept."""
    import functools

    compiled: list = []

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not is_tracing():
            return fn(*args, **kwargs)
        if not compiled:
            compiled.append(script(fn))
        return compiled[0](*args, **kwargs)

    wrapper.__original_fn = fn  # type: ignore[attr-defined]
    wrapper.__script_if_tracing_wrapper = True  # type: ignore[attr-defined]
    return wrapper


def __getattr__(name: str) -> Any:
    # `utils` (C++ package paths) is imported on first use.
    if name == "utils":
        import importlib

        return importlib.import_module(".utils", __name__)
    raise AttributeError(f"module 'torchkiln' has no attribute {name!r}")
