"""`freeze` and `optimize_for_inference`: module state folded into the graphs.

```python
frozen = torchkiln.freeze(torchkiln.script(model.eval()))
fast = torchkiln.optimize_for_inference(torchkiln.script(model.eval()))
```

The result is a new `ScriptModule` of a new class type (`<name>_frozen`)
whose methods are copies of the original's, run through
`passes.freeze.freeze_graph`: parameters, buffers and immutable attributes
become constants, `training` branches fold, conv/linear + batch norm fold;
`optimize_for_inference` also fuses. The original module is unchanged; the
result shares its tensors (constants are the module's tensors, detached).
"""
from __future__ import annotations

import enum
from typing import Any, Iterable, List, Optional, Sequence, Tuple

import torch.nn as nn

from .api import ScriptModule, _attribute_values
from .diagnostics import Error
from .ir.core import CompilationUnit, Function
from .ir.types import ClassType

__all__ = ["freeze", "optimize_for_inference"]


def freeze(
    mod: ScriptModule,
    preserved_attrs: Optional[Iterable[str]] = None,
    optimize_numerics: bool = True,
) -> ScriptModule:
    """Fold `mod`'s state into its methods' graphs (as `torch.jit.freeze`).

    `preserved_attrs` lists attributes (dotted paths, or method names to
    keep besides `forward`) that stay attributes.
    """
    return _freeze(mod, list(preserved_attrs or ()), optimize=False)


def optimize_for_inference(mod: ScriptModule, other_methods: Optional[Sequence[str]] = None) -> ScriptModule:
    """Freeze (if not frozen yet), then apply the inference-only optimizations (fusion)."""
    return _freeze(mod, list(other_methods or ()), optimize=True)


def _freeze(mod: ScriptModule, preserved: List[str], optimize: bool) -> ScriptModule:
    from .passes.freeze import freeze_graph

    if not isinstance(mod, ScriptModule):
        raise Error(
            f"freeze expects a ScriptModule, not {type(mod).__name__}; "
            "compile the module with torchkiln.script or torchkiln.trace first"
        )
    if mod.training:
        raise Error("freezing is only implemented for modules in eval mode: call .eval() on the module before freezing")
    old_type = mod._kiln_type
    unit = _copy_unit(mod._kiln_unit)
    new_type = ClassType(unit.unique_name(_frozen_name(old_type.name)), is_module=old_type.is_module)
    for name, typ in old_type.attributes.items():
        new_type.add_attribute(name, typ, old_type.attr_kinds[name])
    new_type.constants.update(old_type.constants)
    new_type.frontend_attributes.update(old_type.frontend_attributes)  # Note [Enums]
    unit.add_class(new_type)
    paths, methods = _split_preserved(preserved, old_type)

    def lookup_attr(path: Tuple[str, ...]) -> Any:
        obj: Any = mod
        for name in path:
            obj = getattr(obj, name)
        if isinstance(obj, nn.Module):
            raise KeyError(".".join(path))
        return obj.value if isinstance(obj, enum.Enum) else obj  # an Enum attribute: its value (Note [Enums])

    for name, fn in old_type.methods.items():
        if name != "forward" and name not in methods:
            continue
        graph = fn.graph.copy()  # type: ignore[attr-defined]
        freeze_graph(graph, lookup_attr, unit, training=False, preserved_attrs=paths, optimize=optimize)
        graph.inputs[0].type = new_type  # after inlining, which finds callees through the old type
        args = list(fn.args)  # type: ignore[attr-defined]
        args[0] = type(args[0])(args[0].name, new_type)
        new_type.methods[name] = method = Function(name, graph, args, fn.returns, fn.loc)  # type: ignore[attr-defined]
        if fn.frontend_types is not None:  # type: ignore[attr-defined]
            typed_args, typed_returns = fn.frontend_types  # type: ignore[attr-defined]
            method.frontend_types = ((new_type,) + tuple(typed_args[1:]), typed_returns)  # Note [Enums]
    if "forward" not in new_type.methods:
        raise Error(f"{old_type.name} has no forward method to freeze")
    frozen = ScriptModule.create(unit, new_type, _attribute_values(mod), mod._kiln_executor)
    # The buffers stay attributes of the frozen module; those registered `persistent=False` stay out of its state_dict.
    frozen._non_persistent_buffers_set = set(mod._non_persistent_buffers_set)
    return frozen


def _split_preserved(preserved: List[str], cls: ClassType) -> Tuple[List[str], List[str]]:
    methods = [p for p in preserved if p in cls.methods]
    paths = [p for p in preserved if p not in cls.methods]
    return paths, methods


def _frozen_name(name: str) -> str:
    return name if name.endswith("_frozen") else name + "_frozen"


def _copy_unit(unit: CompilationUnit) -> CompilationUnit:
    copy = CompilationUnit()
    copy.classes.update(unit.classes)
    copy.functions.update(unit.functions)
    return copy
