"""Freezing: a module's state becomes constants of its graph, then optimize.

```
graph(%self : __torch__.Net, %x : Tensor):            graph(%self : __torch__.Net, %x : Tensor):
  %w : Tensor = prim::GetAttr[name="weight"](%self)     %w : Float(4, 4) = prim::Constant[value=tensor(...)]()
  %t : bool = prim::GetAttr[name="training"](%self) ->  %y : Tensor = aten::mm(%x, %w)
  %y : Tensor = prim::If(%t) ...                         return (%y)
```

`freeze_graph(graph, lookup_attr, unit)` works in place on a graph whose
first input is the module (`self`); the api layer gives it a copy of the
method's graph and the module's values:

- `lookup_attr(path)` returns the value at an attribute path from the root
  module: `("conv", "weight")` is `module.conv.weight`. It raises KeyError
  (or AttributeError) for what it does not know; such attributes stay
  `prim::GetAttr`s. `module_lookup(module)` makes one from a live module.

Steps:

1. Inline every call (`inline.inline_all`): submodules' methods become part
   of the graph, so their reads and writes of state are visible.
2. `training` attributes become the constant `training` (False: freezing is
   for inference), and attributes of immutable types (int, float, bool, str,
   None, device, dtype, tuples of those) become constants, unless a
   `prim::SetAttr` in the graph may set them. The default pipeline then
   folds the training branches away (with them, e.g. batch norm's update of
   `num_batches_tracked`).
3. Tensors (parameters, buffers, tensor attributes) and lists of immutable
   values become constants unless the graph writes them in place (alias
   analysis with one class per attribute, and one per tensor object, so
   tied weights count as one: Note [Alias classes] in `alias.py`), and
   unless a call that could not be inlined gets an object (it could write
   any state it reaches). Tensor constants are the module's tensors,
   detached (no copy).
4. `fold_batch_norm` folds conv/linear + batch norm; the default pipeline
   cleans up. With `optimize=True` (`optimize_for_inference`), `fuse` runs
   too.

Attributes listed in `preserved_attrs` (dotted paths such as `"conv.weight"`
or `"counter"`; a path covers everything below it) stay attributes.
"""
from __future__ import annotations

import enum
from typing import Any, Callable, Hashable, Iterable, Optional, Tuple

import torch

from ..ir.core import CompilationUnit, Graph, Node, Value
from ..ir.types import BOOL, ClassType
from . import constant_prop, dce, fold_batch_norm, fuse, manager
from .alias import AliasDb
from .common import GETATTR, SETATTR, insert_constant, list_type_of, type_of_value
from .constant_prop import fits
from .inline import inline_all

Path = Tuple[str, ...]
LookupAttr = Callable[[Path], Any]


def freeze_graph(
    graph: Graph,
    lookup_attr: LookupAttr,
    unit: Optional[CompilationUnit] = None,
    *,
    training: bool = False,
    preserved_attrs: Iterable[str] = (),
    optimize: bool = False,
) -> None:
    """Fold module state into `graph` (first input `self`) and optimize it; see the module doc."""
    if not graph.inputs:
        raise ValueError("freeze_graph needs a graph whose first input is the module")
    inline_all(graph, unit)
    freezer = _Freezer(graph, lookup_attr, training, tuple(tuple(p.split(".")) for p in preserved_attrs))
    freezer.fold(immutable_only=True)
    manager.run_pipeline(graph, manager.pipeline_for(unit))
    freezer.fold(immutable_only=False)
    manager.run_pipeline(graph, manager.pipeline_for(unit))
    if fold_batch_norm.run(graph):
        manager.run_pipeline(graph, [constant_prop.run, dce.run])
    if optimize and fuse.run(graph):
        manager.run_pipeline(graph, manager.pipeline_for(unit))


class _Freezer:
    def __init__(self, graph: Graph, lookup_attr: LookupAttr, training: bool, preserved: Tuple[Tuple[str, ...], ...]):
        self.graph = graph
        self.lookup_attr = lookup_attr
        self.training = training
        self.preserved = preserved
        self.self_value = graph.inputs[0]

    # -- paths ------------------------------------------------------------------
    def path_of(self, v: Value) -> Optional[Path]:
        """The attribute path `v` reads from `self`, or None."""
        if v is self.self_value:
            return ()
        node = v.node
        if node is None or node.kind != GETATTR:
            return None
        base = self.path_of(node.inputs[0])
        return None if base is None else base + (node.attrs["name"],)

    def _is_preserved(self, path: Path) -> bool:
        return any(path[: len(p)] == p for p in self.preserved)

    def _set_somewhere(self, path: Path, setattrs: list) -> bool:
        """Whether one of the graph's `prim::SetAttr`s may set the attribute at `path`."""
        for node in setattrs:
            if node.attrs.get("name") != path[-1]:
                continue
            obj = self.path_of(node.inputs[0])
            if obj is None or obj == path[:-1]:
                return True
        return False

    def _value(self, path: Path) -> Tuple[bool, Any]:
        try:
            return True, self.lookup_attr(path)
        except (KeyError, AttributeError):
            return False, None

    # -- folding ------------------------------------------------------------------
    def fold(self, immutable_only: bool) -> None:
        db = None if immutable_only else AliasDb(self.graph, attr_key=self._attr_key)
        if db is not None and any(any(isinstance(v.type, ClassType) for v in n.inputs) for n in db.unknown_writers):
            db = None  # a call left after inlining may write any state it reaches: tensors stay
        nodes = list(self.graph.walk())
        setattrs = [n for n in nodes if n.kind == SETATTR]
        for node in nodes:
            if node.block is None or node.kind != GETATTR or isinstance(node.output.type, ClassType):
                continue
            path = self.path_of(node.output)
            if path is None or self._is_preserved(path) or self._set_somewhere(path, setattrs):
                continue
            owner = node.inputs[0].type
            if path[-1] == "training" and node.output.type == BOOL and isinstance(owner, ClassType) and owner.is_module:
                self._replace(node, self.training)
                continue
            found, value = self._value(path)
            if not found:
                continue
            if _is_immutable(value):
                self._replace(node, value)
            elif db is not None and not db.is_written(node.output) and _foldable_mutable(value):
                self._replace(node, value.detach() if isinstance(value, torch.Tensor) else list(value))

    def _attr_key(self, node: Node) -> Optional[Hashable]:
        path = self.path_of(node.output)
        if path is None:
            return None
        found, value = self._value(path)
        if found and isinstance(value, torch.Tensor):
            return ("tensor", id(value))
        return ("path", path)

    def _replace(self, node: Node, value: Any) -> None:
        out = node.output
        typ = type_of_value(value) if not isinstance(value, list) else list_type_of(value)
        if typ is None or not typ.is_subtype_of(out.type):
            typ = out.type
        if not fits(value, typ):
            return
        const = insert_constant(node, value, typ)
        const.name = out.name
        out.replace_all_uses_with(const)
        node.destroy()


def module_lookup(root: Any) -> LookupAttr:
    """A `lookup_attr` reading attributes of a live object (an `nn.Module`, a `ScriptModule`)."""

    def lookup(path: Path) -> Any:
        obj = root
        for name in path:
            obj = getattr(obj, name)
        return obj.value if isinstance(obj, enum.Enum) else obj  # an Enum attribute: its value (Note [Enums])

    return lookup


def _is_immutable(value: Any) -> bool:
    if value is None or type(value) in (bool, int, float, str, torch.device, torch.dtype):
        return True
    return type(value) is tuple and all(_is_immutable(v) for v in value)


def _foldable_mutable(value: Any) -> bool:
    if isinstance(value, torch.Tensor):
        return value.layout == torch.strided and not isinstance(value, torch.nn.parameter.UninitializedParameter)
    return type(value) is list and list_type_of(value) is not None
