"""The rest of `torch.jit`'s public names, so that `import torchkiln as jit` runs torch.jit code.

- (`Attribute`, `isinstance` and `Future` are torch.jit's own objects,
  re-exported by the package: the script compiler reads
  `Attribute(value, type)` module attributes and compiles
  `isinstance(x, List[int])`.)
- `CompilationUnit(source)`: functions compiled from a string of Python
  source, reachable as attributes (`cu.add(x, y)`), as in torch.jit.
- `export_opnames(m)`: the op names a scripted or traced module runs.
- `last_executed_optimized_graph()`: the optimized graph of the function an
  executor compiled last (torchkiln optimizes a graph once, at its first
  call, Note [Lazy optimization]).
- Knobs of TorchScript's fusers and profiling executor, which torchkiln does
  not have (it optimizes every graph with one fixed pipeline):
  `optimized_execution`, `fuser`, `strict_fusion` (context managers that
  change nothing), `set_fusion_strategy` (returns the previous strategy),
  `enable_onednn_fusion` / `onednn_fusion_enabled` (a recorded flag),
  `run_frozen_optimizations` (`freeze` already ran them; does nothing).
- `RecursiveScriptModule`, `TracedModule`, `TopLevelTracedModule`: the
  class of every compiled module here (`ScriptModule`), for isinstance.
- `ScriptWarning`: the category of warnings about compiled code.
"""
from __future__ import annotations

import contextlib
import itertools
import linecache
import math
import typing
from typing import Any, Dict, Iterator, List, Optional

import torch

from .api import LAST_COMPILED, ScriptFunction, ScriptModule

RecursiveScriptModule = ScriptModule
TracedModule = ScriptModule
TopLevelTracedModule = ScriptModule


class ScriptWarning(Warning):
    """Warnings about compiled code."""


# -- CompilationUnit ------------------------------------------------------------------------------

_SOURCE_IDS = itertools.count()
_SOURCE_NAMESPACE = {
    "torch": torch, "Tensor": torch.Tensor, "math": math,
    **{name: getattr(typing, name) for name in ("List", "Dict", "Tuple", "Optional", "Union", "Any", "NamedTuple")},
}  # fmt: skip


class CompilationUnit:
    """Functions compiled from Python source text: `cu = CompilationUnit(src); cu.fn(x)`.

    The source may use `torch`, `Tensor`, `math` and typing's `List`,
    `Dict`, `Tuple`, `Optional`, `Union`, `Any` without importing them (as
    TorchScript's). Errors point into the text (`<torchkiln.CompilationUnit-N>`).
    """

    def __init__(self, lang: Optional[str] = None, _frames_up: int = 0):
        self._functions: Dict[str, ScriptFunction] = {}
        if lang is not None:
            self.define(lang)

    def define(self, src: str, rcb: Any = None, _frames_up: int = 0) -> None:
        """Compile every top-level function of `src` and add it to this unit."""
        import ast

        from .frontend.script import script

        filename = f"<torchkiln.CompilationUnit-{next(_SOURCE_IDS)}>"
        lines = src.splitlines(True)
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        linecache.cache[filename] = (len(src), None, lines, filename)  # kept: compiled code points into it
        namespace: Dict[str, Any] = dict(_SOURCE_NAMESPACE)
        namespace["__name__"] = filename
        exec(compile(src, filename, "exec"), namespace)  # noqa: S102 - the caller's own source text
        names = [n.name for n in ast.parse(src, filename).body if n.__class__.__name__ == "FunctionDef"]
        for name in names:
            self._functions[name] = script(namespace[name])

    def find_function(self, name: str) -> Optional[ScriptFunction]:
        return self._functions.get(name)

    def get_functions(self) -> List[ScriptFunction]:
        return list(self._functions.values())

    def __getattr__(self, name: str) -> ScriptFunction:
        functions = self.__dict__.get("_functions", {})
        if name in functions:
            return functions[name]
        raise AttributeError(f"the CompilationUnit has no function '{name}'")


# -- inspection -----------------------------------------------------------------------------------


def export_opnames(m: Any) -> List[str]:
    """The names of the ops (`aten::add.Tensor`, `prim::ListConstruct`...) `m`'s methods run, sorted."""
    seen: set = set()
    units = []
    if isinstance(m, ScriptModule):
        units.append(m._kiln_unit)
    elif isinstance(m, ScriptFunction):
        units.append(m._kiln_unit)
    else:
        raise TypeError(f"export_opnames expects a ScriptModule or ScriptFunction, not {type(m).__name__}")
    for unit in units:
        functions = list(unit.functions.values())
        for cls in unit.classes.values():
            functions.extend(cls.methods.values())
        for fn in functions:
            for node in fn.graph.all_nodes():
                seen.add(node.kind)
    return sorted(seen)


def last_executed_optimized_graph() -> Any:
    """The optimized graph of the function an executor compiled last on this thread (None: none yet)."""
    fn = getattr(LAST_COMPILED, "fn", None)
    return fn.graph if fn is not None else None


# -- knobs of TorchScript's fusers and executors ------------------------------------------------------

_FUSION_STRATEGY: List[Any] = [[("STATIC", 2), ("DYNAMIC", 10)]]
_ONEDNN = [False]


@contextlib.contextmanager
def optimized_execution(should_optimize: bool) -> Iterator[None]:
    yield


@contextlib.contextmanager
def fuser(name: str) -> Iterator[None]:
    yield


class strict_fusion:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        return None


def set_fusion_strategy(strategy: Any) -> Any:
    previous = _FUSION_STRATEGY[0]
    _FUSION_STRATEGY[0] = strategy
    return previous


def enable_onednn_fusion(enabled: bool) -> None:
    _ONEDNN[0] = bool(enabled)


def onednn_fusion_enabled() -> bool:
    return _ONEDNN[0]


def run_frozen_optimizations(mod: Any, optimize_numerics: bool = True, preserved_methods: Any = None) -> None:
    """`torchkiln.freeze` already ran the frozen-module optimizations: nothing is left to do."""
    return None


__all__ = [
    "CompilationUnit", "RecursiveScriptModule", "ScriptWarning", "TopLevelTracedModule",
    "TracedModule", "enable_onednn_fusion", "export_opnames", "fuser", "last_executed_optimized_graph",
    "onednn_fusion_enabled", "optimized_execution", "run_frozen_optimizations", "set_fusion_strategy", "strict_fusion",
]  # fmt: skip
