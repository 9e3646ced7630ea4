"""One graph under construction during a trace, and the constant policy.

A `Frame` records into one `Graph`: the traced function or method, or the
`forward` of a submodule being called (the recorder keeps a stack of frames
and records each op into all of them). It maps the Python objects seen at run
time to the `Value`s that produce them, by identity:

- objects bound by the recorder (graph inputs, op outputs, `TracedInt`s);
- parameters, buffers and submodules of the frame's module: read with
  `prim::GetAttr` chains from `self`, emitted once per path;
- everything else becomes a constant (`value_of` is the one place deciding
  this, cf. JAX's `partial_eval` constant policy): tensors created during the
  run (`torch.tensor(1.0)`), plain numbers, dtypes, devices, lists.

```
%lin : __torch__.Linear = prim::GetAttr[name="linear"](%self)
%w : Tensor = prim::GetAttr[name="weight"](%lin)
%c : Tensor = prim::Constant[value=<Tensor>]()
```
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from ...diagnostics import Error, SourceRange
from ...ir import types as T
from ...ir.builder import Builder
from ...ir.core import Graph, Node, Value
from .sizes import TracedInt

Path = Tuple[str, ...]


class TraceError(Error):
    """A program cannot be traced as it stands (unsupported input or output)."""


class CapturedValue(Exception):
    """A submodule frame read a value computed outside it (internal signal)."""


_SIMPLE_TYPES: Dict[type, T.Type] = {
    bool: T.BOOL,
    int: T.INT,
    float: T.FLOAT,
    str: T.STR,
    type(None): T.NONE,
    torch.dtype: T.SCALAR_TYPE,
    torch.device: T.DEVICE,
    torch.layout: T.LAYOUT,
    torch.memory_format: T.MEMORY_FORMAT,
}


def type_of(obj: Any) -> Optional[T.Type]:
    """The IR type a Python value is recorded with, or None if it has none."""
    if isinstance(obj, torch.Tensor):
        return T.TENSOR
    simple = _SIMPLE_TYPES.get(type(obj))
    if simple is not None:
        return simple
    if isinstance(obj, bool):
        return T.BOOL
    if isinstance(obj, int):  # TracedInt, IntEnum, numpy ints are int subclasses
        return T.INT
    if isinstance(obj, float):
        return T.FLOAT
    if isinstance(obj, torch.Generator):
        return T.GENERATOR
    if isinstance(obj, (list, tuple)):  # torch.Size included
        return _list_type(obj)
    return None


def _list_type(items: Sequence[Any]) -> Optional[T.Type]:
    if not items:
        return T.ListType(T.INT)
    elems = [type_of(x) for x in items]
    if any(e is None for e in elems):
        return None
    first = elems[0]
    if all(e == first for e in elems):
        return T.ListType(first)  # type: ignore[arg-type]
    if set(elems) <= {T.INT, T.FLOAT}:
        return T.ListType(T.FLOAT)
    if set(elems) <= {T.TENSOR, T.NONE}:
        return T.ListType(T.OptionalType(T.TENSOR))
    return None


class Frame:
    """A graph being recorded and the object -> Value map that feeds it.

    `module` is the module whose attributes `self` reads (None for a traced
    function); `class_type_of(module)` gives the class type of any module
    in its hierarchy. `outer` is the enclosing frame for a submodule's
    `forward`: a value known there but not here was captured from outside,
    and the frame cannot stand alone (`CapturedValue`).
    """

    def __init__(
        self,
        graph: Graph,
        module: Optional[nn.Module] = None,
        class_type_of: Optional[Callable[[nn.Module], T.ClassType]] = None,
        outer: Optional["Frame"] = None,
    ):
        self.graph = graph
        self.builder = Builder(graph.block)
        self.module = module
        self.outer = outer
        self.class_type_of = class_type_of
        self.env: Dict[int, Value] = {}
        self._alive: List[Any] = []  # keeps every bound object alive, so ids stay unique
        self._attrs: Dict[Path, Value] = {}
        self._tensor_paths: Dict[int, Path] = {}
        self._module_paths: Dict[int, Path] = {}
        self.self_value: Optional[Value] = None
        self.arg_names: List[str] = []  # the names of the inputs after `self` (a submodule's `forward`)
        if module is not None:
            assert class_type_of is not None
            self.self_value = graph.add_input(class_type_of(module), "self")
            self._index(module)

    def _index(self, module: nn.Module) -> None:
        for prefix, sub in module.named_modules(remove_duplicate=False):
            path = tuple(prefix.split(".")) if prefix else ()
            self._module_paths.setdefault(id(sub), path)
            for name, t in list(sub._parameters.items()) + list(sub._buffers.items()):
                if t is not None:
                    self._tensor_paths.setdefault(id(t), path + (name,))

    # -- binding ------------------------------------------------------------
    def bind(self, obj: Any, value: Value) -> None:
        self.env[id(obj)] = value
        self._alive.append(obj)

    def add_input(self, obj: Any, name: Optional[str]) -> Value:
        """A graph input for `obj`: a tensor, or a (nested) tuple/list of tensors."""
        typ = input_type(obj)
        value = self.graph.add_input(typ, name)
        self._bind_structure(obj, value)
        return value

    def _bind_structure(self, obj: Any, value: Value) -> None:
        if isinstance(obj, torch.Tensor):
            self.bind(obj, value)
            return
        if isinstance(obj, dict):
            # One lookup per key seen while tracing (a key missing at call time is a KeyError).
            for key, item in obj.items():
                node = self.builder.op("prim::getitem.dict", [value, self.value_of(key, value.type.key, None)], [value.type.value])  # type: ignore[attr-defined]
                self._bind_structure(item, node.output)
            return
        kind = "prim::TupleUnpack" if isinstance(value.type, T.TupleType) else "prim::ListUnpack"
        elems = value.type.elems if isinstance(value.type, T.TupleType) else [value.type.elem] * len(obj)  # type: ignore[attr-defined]
        node = self.builder.op(kind, [value], list(elems))
        for item, out in zip(obj, node.outputs):
            self._bind_structure(item, out)

    def bind_outputs(self, node: Node, results: Sequence[Any]) -> None:
        """Bind each result object to the matching output of `node`."""
        for out, obj in zip(node.outputs, results):
            self._bind_result(out, obj)

    def _bind_result(self, value: Value, obj: Any) -> None:
        if isinstance(obj, (torch.Tensor, TracedInt)):
            self.bind(obj, value)
            return
        typ = value.type
        if isinstance(typ, T.ListType) and isinstance(obj, (list, tuple)) and obj:
            if all(isinstance(x, (torch.Tensor, TracedInt)) for x in obj):
                unpack = self.builder.op("prim::ListUnpack", [value], [typ.elem] * len(obj), loc=value.node.loc if value.node else None)
                for item, out in zip(obj, unpack.outputs):
                    self._bind_result(out, item)
        elif isinstance(typ, T.TupleType) and isinstance(obj, tuple) and len(obj) == len(typ.elems):
            unpack = self.builder.op("prim::TupleUnpack", [value], list(typ.elems), loc=value.node.loc if value.node else None)
            for item, out in zip(obj, unpack.outputs):
                self._bind_result(out, item)

    def knows(self, obj: Any) -> bool:
        """Whether `obj` is a recorded value here or in an enclosing frame."""
        frame: Optional[Frame] = self
        while frame is not None:
            if id(obj) in frame.env:
                return True
            frame = frame.outer
        return False

    # -- reading: the constant policy -----------------------------------------
    def value_of(self, obj: Any, hint: Optional[T.Type] = None, loc: Optional[SourceRange] = None) -> Value:
        """The Value producing `obj` here (see the module docstring for the policy).

        `hint` is the type the consumer expects (a schema argument type); it
        picks the element type of lists and the type of `None`.
        """
        value = self.env.get(id(obj))
        if value is not None:
            return value
        if isinstance(obj, torch.Tensor):
            return self._tensor(obj, loc)
        if isinstance(obj, nn.Module):
            return self._module(obj, loc)
        if isinstance(obj, (list, tuple)):
            return self._list(obj, hint, loc)
        if isinstance(obj, TracedInt) and self.outer is not None and self.outer.knows(obj):
            raise CapturedValue()
        typ = type_of(obj)
        if typ is None:
            raise TraceError(f"cannot record a value of type {type(obj).__name__} in a trace")
        return self.builder.constant(_plain(obj), typ, loc)

    def _tensor(self, t: torch.Tensor, loc: Optional[SourceRange]) -> Value:
        path = self._tensor_paths.get(id(t))
        if path is not None:
            return self.attr(path, loc)
        if self.outer is not None and self.outer.knows(t):
            raise CapturedValue()
        value = self.builder.constant(t, T.TENSOR, loc)
        self.bind(t, value)
        return value

    def _module(self, m: nn.Module, loc: Optional[SourceRange]) -> Value:
        path = self._module_paths.get(id(m))
        if path is None:
            raise TraceError(f"module {type(m).__name__} is not a submodule of the traced module")
        return self.attr(path, loc)

    def _list(self, items: Sequence[Any], hint: Optional[T.Type], loc: Optional[SourceRange]) -> Value:
        list_type = hint.elem if isinstance(hint, T.OptionalType) else hint
        if not isinstance(list_type, T.ListType):
            list_type = _list_type(items)
            if list_type is None:
                raise TraceError(f"cannot record the list {items!r} in a trace")
        elems = [self.value_of(x, list_type.elem, loc) for x in items]
        return self.builder.op("prim::ListConstruct", elems, [list_type], loc=loc).output

    def attr(self, path: Path, loc: Optional[SourceRange] = None) -> Value:
        """`self.a.b.c` as a chain of `prim::GetAttr`, each link emitted once."""
        if not path:
            assert self.self_value is not None
            return self.self_value
        cached = self._attrs.get(path)
        if cached is not None:
            return cached
        owner_value = self.attr(path[:-1], loc)
        owner = self._resolve(path[:-1])
        name = path[-1]
        assert self.class_type_of is not None
        owner_type = self.class_type_of(owner)
        typ = owner_type.attributes.get(name, T.TENSOR)
        value = self.builder.op("prim::GetAttr", [owner_value], [typ], {"name": name}, loc=loc).output
        self._attrs[path] = value
        return value

    def _resolve(self, path: Path) -> nn.Module:
        m = self.module
        assert m is not None
        for name in path:
            m = m._modules[name]  # type: ignore[assignment]
        return m  # type: ignore[return-value]


def _plain(obj: Any) -> Any:
    """A constant's attribute value: int and float subclasses (TracedInt) become plain."""
    if isinstance(obj, bool):
        return bool(obj)
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return float(obj)
    return obj


def input_type(obj: Any) -> T.Type:
    if isinstance(obj, torch.Tensor):
        return T.TENSOR
    if isinstance(obj, tuple) and obj:
        return T.TupleType([input_type(x) for x in obj])
    if isinstance(obj, list) and obj:
        elems = {input_type(x) for x in obj}
        if len(elems) == 1:
            return T.ListType(elems.pop())
    if isinstance(obj, dict) and obj:
        keys = {type(k) for k in obj}
        values = {input_type(x) for x in obj.values()}
        if len(keys) == 1 and keys <= {str, int} and len(values) == 1:
            return T.DictType(T.STR if keys == {str} else T.INT, values.pop())
    raise TraceError(
        f"type '{type(obj).__name__}' cannot be traced: only tensors and (possibly nested) "
        "tuples, lists and dicts (str or int keys) of tensors can be inputs of a trace"
    )
