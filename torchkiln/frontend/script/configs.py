"""Dataclass instances a module holds (`self.cfg = ModelConfig(...)`), read as constants.

Note [Config dataclasses]
-------------------------
Model code keeps its hyper-parameters in a dataclass and reads them in
`forward` (`self.cfg.hidden`, `if self.cfg.act == "gelu":`). TorchScript
refuses such an attribute (no script type). Script reads it as a constant
of the module's type, as `__constants__` are read:

- a module attribute whose value is a dataclass instance (or a
  `types.SimpleNamespace` / `argparse.Namespace`), every field of which is a
  constant (int, float, bool, str, None, device, dtype, an Enum
  member, tuples and lists of those, or another such dataclass), becomes a
  `ConfigConstant`: a snapshot of its fields, compared by class and fields
  (so modules with equal configs share a type, and a config changed after
  scripting is a different constant the next time);
- `self.cfg.<field>` is that field's constant; other attributes of the
  instance (a `@property`, a class attribute) are read from the snapshot
  when compiling and must be constants too; the config itself is not a
  value (it cannot be passed, returned or assigned to);
- the ScriptModule's `cfg` is a copy of the instance as it was when
  compiled. Archives do not hold it: the program holds the constants it
  read, and a loaded module has no `cfg` attribute.
"""
from __future__ import annotations

import argparse
import ast
import copy
import dataclasses
import enum
import types
from typing import Any, Optional, Tuple

import torch

from .emitter import FunctionEmitter, constant_type
from .sugared import SugaredValue


class ConfigConstant:
    """A snapshot of a config dataclass instance (Note [Config dataclasses])."""

    __slots__ = ("cls", "fields", "obj")
    kiln_not_archived = True  # the archive writer leaves it out of the class's constants

    def __init__(self, cls: type, fields: Tuple[Tuple[str, Any], ...], obj: Any):
        self.cls = cls
        self.fields = fields
        self.obj = obj

    def __eq__(self, other: object) -> bool:
        return type(other) is ConfigConstant and self.cls is other.cls and self.fields == other.fields  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((self.cls, self.fields))

    def __repr__(self) -> str:
        return f"{self.cls.__name__}({', '.join(f'{k}={v!r}' for k, v in self.fields)})"


_NAMESPACES = (types.SimpleNamespace, argparse.Namespace)


def config_constant(value: Any) -> Optional[ConfigConstant]:
    """The snapshot of `value` when it is a dataclass instance (or a `SimpleNamespace` /
    `argparse.Namespace`) of constant fields; None otherwise."""
    if isinstance(value, _NAMESPACES):
        names = list(vars(value))
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = [f.name for f in dataclasses.fields(value)]
    else:
        return None
    fields = []
    for name in names:
        frozen = _frozen(getattr(value, name, None))
        if frozen is _NOT_CONSTANT:
            return None
        fields.append((name, frozen))
    try:
        obj = copy.deepcopy(value)
    except Exception:
        obj = value
    return ConfigConstant(type(value), tuple(fields), obj)


_NOT_CONSTANT = object()


def _frozen(value: Any) -> Any:
    if isinstance(value, enum.Enum) or (constant_type(value) is not None and not isinstance(value, type)):
        return value
    if isinstance(value, (tuple, list)):
        items = tuple(_frozen(v) for v in value)
        return _NOT_CONSTANT if any(i is _NOT_CONSTANT for i in items) else items
    nested = config_constant(value)
    return nested if nested is not None else _NOT_CONSTANT


class ConfigValue(SugaredValue):
    """`self.cfg` in code: its fields are constants; it is not a value itself."""

    def __init__(self, config: ConfigConstant):
        self.config = config

    def describe(self) -> str:
        return f"the config {self.config.cls.__name__} (a dataclass the module holds; its fields are constants)"

    def as_value(self, em, node):
        em.fail(node, f"{self.describe()} is not a value in script", hint="read its fields (`self.cfg.hidden`) where they are needed")

    def attr(self, em: FunctionEmitter, node: ast.AST, name: str) -> SugaredValue:
        from .classes import constant_value

        for field, value in self.config.fields:
            if field == name:
                return config_or_constant(em, node, value)
        try:
            found = getattr(self.config.obj, name)
        except Exception as e:  # a property that raises, or no such attribute
            em.fail(node, f"{self.describe()} has no field '{name}' ({type(e).__name__}: {e})")
        frozen = _frozen(found)
        if frozen is _NOT_CONSTANT or callable(found) and not isinstance(found, (torch.dtype, torch.device)):
            em.fail(node, f"'{name}' of {self.describe()} is not a constant (int, float, bool, str, None, device, dtype, Enum or a tuple of those)", hint="store the value in a field, or compute it in forward")
        return config_or_constant(em, node, frozen)


def config_or_constant(em: FunctionEmitter, node: ast.AST, value: Any) -> SugaredValue:
    from .classes import constant_value

    if isinstance(value, ConfigConstant):
        return ConfigValue(value)
    return constant_value(em, node, value)


__all__ = ["ConfigConstant", "ConfigValue", "config_constant", "config_or_constant"]
