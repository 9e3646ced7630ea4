"""Write a ScriptModule / ScriptFunction as an archive (docs/archive.md).

```python
save(scripted_module, "m.pt", _extra_files={"meta.txt": b"v2"})
```

Two phases: `_Saver` turns the module into entry bytes plus the tensors to
store (every problem is found here and raised as `ArchiveError` before a
byte is written), then `_write_zip` writes the entries, deterministically.
"""
from __future__ import annotations

import enum

import io
import linecache
import os
import zipfile
from typing import Any, Dict, List, Mapping, Optional, Tuple

import torch

from ..diagnostics import ArchiveError, SourceRange
from ..ir.core import Block, CompilationUnit, Function, Node
from ..ir.printer import print_type
from ..ir.types import FLOAT, ClassType, DictType, InterfaceType, ListType, OptionalType, TupleType, Type
from ..ir.nesting import recursion_headroom
from . import format as F

_FUNCTION_NAME_ATTRS = ("name",)
Entry = Tuple[str, bytes]


def save(obj: Any, path_or_file: Any, _extra_files: Optional[Mapping[str, Any]] = None) -> None:
    """Write `obj` (a ScriptModule or ScriptFunction) to a path or binary file object."""
    saver = _Saver()
    entries, tensors = saver.build(obj, _extra_files)
    if isinstance(path_or_file, (str, bytes, os.PathLike)):
        try:
            with open(path_or_file, "wb") as fp:
                _write_zip(fp, entries, tensors)
        except OSError as e:
            raise ArchiveError(f"cannot save to {os.fsdecode(path_or_file)!r}: {e.strerror or e}") from None
        return
    if not hasattr(path_or_file, "write"):
        raise ArchiveError(f"cannot save to a {type(path_or_file).__name__}: expected a path or a binary file object")
    buf = io.BytesIO()
    _write_zip(buf, entries, tensors)
    path_or_file.write(buf.getbuffer())


# -- building the entries -----------------------------------------------------


class _Saver:
    """Turns one root into JSON documents and a tensor table.

    Numbering (objects, tensor keys, debug ranges) follows first encounter in
    a fixed traversal, so the same module gives the same archive.
    """

    def __init__(self) -> None:
        self.units: List[CompilationUnit] = []
        self.classes: Dict[str, ClassType] = {}
        self.interfaces: Dict[str, InterfaceType] = {}
        self.functions: Dict[str, Function] = {}
        self.objects: List[Dict[str, Any]] = []
        self.object_ids: Dict[int, int] = {}
        self.in_progress: set = set()
        self.tensor_keys: Dict[int, Tuple[str, Dict[str, Any]]] = {}
        self.tensors: List[Tuple[str, torch.Tensor]] = []
        self.keep: List[Any] = []  # originals, so ids stay unique while saving
        self.ranges: List[Dict[str, Any]] = []
        self.range_ids: Dict[Tuple[Any, ...], int] = {}
        # `_type`'s answers by the type object's identity (equal types may print
        # differently: refined tensors); the entry keeps the type alive.
        self.type_texts: Dict[int, Tuple[Type, str]] = {}

    def build(self, obj: Any, extra_files: Optional[Mapping[str, Any]]) -> Tuple[List[Entry], List[Tuple[str, torch.Tensor]]]:
        """The entries before `tensors.safetensors`, in order, and the tensors to store."""
        with recursion_headroom(F.MAX_BLOCK_DEPTH):  # Note [Archive nesting limits] in format.py
            return self._build(obj, extra_files)

    def _build(self, obj: Any, extra_files: Optional[Mapping[str, Any]]) -> Tuple[List[Entry], List[Tuple[str, torch.Tensor]]]:
        fn = getattr(obj, "_kiln_fn", None)
        unit = getattr(obj, "_kiln_unit", None)
        if not isinstance(unit, CompilationUnit):
            raise ArchiveError(f"cannot save a {type(obj).__name__}: expected a torchkiln ScriptModule or ScriptFunction")
        self.units.append(unit)
        if isinstance(fn, Function):
            root = {"kind": "function", "function": fn.name}
            self._add_function(fn, f"function {fn.name}")
        else:
            cls = getattr(obj, "_kiln_type", None)
            if not isinstance(cls, ClassType) or not cls.is_module:
                raise ArchiveError(f"cannot save a {type(obj).__name__}: it has no module class type")
            root = {"kind": "module", "class": cls.name}
            self._object(obj, cls.name)
        self._close_over()
        ir_doc = {
            "interfaces": [self._interface_doc(self.interfaces[n]) for n in sorted(self.interfaces)],
            "classes": [self._class_doc(self.classes[n]) for n in sorted(self.classes)],
            "functions": [self._function_doc(self.functions[n], n) for n in sorted(self.functions)],
        }
        manifest = {
            "format": F.FORMAT_NAME,
            "format_version": F.FORMAT_VERSION,
            "producer": {"torchkiln": _torchkiln_version(), "torch": str(torch.__version__)},
            "root": root,
        }
        entries = [
            (F.MANIFEST, F.dumps(manifest)),
            (F.IR, F.dumps(ir_doc)),
            (F.OBJECTS, F.dumps({"objects": self.objects})),
            (F.DEBUG, F.dumps({"ranges": self.ranges})),
        ]
        entries += sorted(self._code_entries())
        entries += sorted(_extra_entries(extra_files))
        return entries, self.tensors

    # -- reachability ---------------------------------------------------------
    def _add_class(self, cls: ClassType) -> None:
        known = self.classes.get(cls.name)
        if known is cls:
            return
        if known is not None:
            raise ArchiveError(f"cannot save: two different classes are named {cls.name}")
        if cls.name in self.interfaces:
            raise ArchiveError(f"cannot save: {cls.name} names both a class and an interface")
        self.classes[cls.name] = cls

    def _add_interface(self, iface: InterfaceType) -> None:
        known = self.interfaces.get(iface.name)
        if known is not None:
            if known != iface:
                raise ArchiveError(f"cannot save: two different interfaces are named {iface.name}")
            return
        if iface.name in self.classes:
            raise ArchiveError(f"cannot save: {iface.name} names both a class and an interface")
        self.interfaces[iface.name] = iface
        for m in iface.methods.values():  # their types may name classes and interfaces
            for a in m.args:
                self._add_type(a.type)
            self._add_type(m.returns)

    def _add_function(self, fn: Function, where: str) -> None:
        known = self.functions.get(fn.name)
        if known is fn:
            return
        if known is not None:
            raise ArchiveError(f"cannot save: two different functions are named {fn.name} ({where})")
        self.functions[fn.name] = fn

    def _add_type(self, t: Type) -> None:
        if isinstance(t, ClassType):
            self._add_class(t)
            return
        if isinstance(t, InterfaceType):
            self._add_interface(t)
            return
        for c in t.contained():
            self._add_type(c)

    def _close_over(self) -> None:
        """Add every class and function reachable from those already added."""
        done_classes: set = set()
        done_functions: set = set()
        while True:
            todo_c = [n for n in self.classes if n not in done_classes]
            todo_f = [n for n in self.functions if n not in done_functions]
            if not todo_c and not todo_f:
                return
            for name in todo_c:
                done_classes.add(name)
                cls = self.classes[name]
                for t in cls.attributes.values():
                    self._add_type(t)
                for c in cls.constants.values():
                    if not getattr(c, "kiln_not_archived", False):  # config dataclasses stay out (frontend/script/configs.py)
                        self._scan_value(c)
                for m in cls.methods.values():
                    self._scan_function(m)
            for name in todo_f:
                done_functions.add(name)
                self._scan_function(self.functions[name])

    def _scan_function(self, fn: Function) -> None:
        for a in fn.args:
            self._add_type(a.type)
        self._add_type(fn.returns)
        for v in fn.graph.inputs:
            self._add_type(v.type)
        for n in fn.graph.walk():
            for v in n.outputs:
                self._add_type(v.type)
            for b in n.blocks:
                for p in b.params:
                    self._add_type(p.type)
            for key, value in n.attrs.items():
                self._scan_value(value)
                if key in _FUNCTION_NAME_ATTRS and isinstance(value, str):
                    callee = self._lookup_function(value)
                    if callee is not None:
                        self._add_function(callee, f"called from {fn.name}")
        for a in fn.args:
            if a.has_default:
                self._scan_value(a.default)

    def _scan_value(self, v: Any, depth: int = 0) -> None:
        """Add the classes named by Type values inside `v` (types, nested in lists/tuples/dicts)."""
        if isinstance(v, Type):
            self._add_type(v)
        elif isinstance(v, (list, tuple)) and depth < F.MAX_VALUE_DEPTH:
            for x in v:
                self._scan_value(x, depth + 1)
        elif isinstance(v, dict) and depth < F.MAX_VALUE_DEPTH:
            for k, x in v.items():
                self._scan_value(k, depth + 1)
                self._scan_value(x, depth + 1)

    def _lookup_function(self, name: str) -> Optional[Function]:
        for unit in self.units:
            fn = unit.functions.get(name)
            if fn is not None:
                return fn
        return None

    # -- objects --------------------------------------------------------------
    def _object(self, obj: Any, where: str) -> int:
        key = id(obj)
        if key in self.object_ids:
            if key in self.in_progress:
                raise ArchiveError(f"cannot save {where}: objects refer to each other in a cycle")
            return self.object_ids[key]
        cls = getattr(obj, "_kiln_type", None)
        if not isinstance(cls, ClassType):
            raise ArchiveError(f"cannot save {where}: a {type(obj).__name__} is not a torchkiln module or script object")
        self._add_class(cls)
        unit = getattr(obj, "_kiln_unit", None)
        if isinstance(unit, CompilationUnit) and all(u is not unit for u in self.units):
            self.units.append(unit)
        index = len(self.objects)
        self.object_ids[key] = index
        self.keep.append(obj)
        self.in_progress.add(key)
        doc: Dict[str, Any] = {"class": cls.name, "training": None, "non_persistent": [], "attributes": {}}
        self.objects.append(doc)
        if cls.is_module:
            doc["training"] = bool(getattr(obj, "training", True))
            # `register_buffer(..., persistent=False)`, per object as nn.Module keeps it (Note [Non-persistent buffers]).
            hidden = getattr(obj, "_non_persistent_buffers_set", ())
            doc["non_persistent"] = [n for n, k in cls.attr_kinds.items() if k == "buffer" and n in hidden]
        attrs: Dict[str, Any] = {}
        for name, typ in cls.attributes.items():
            here = f"{where}.{name}"
            try:
                value = getattr(obj, name)
            except AttributeError:
                raise ArchiveError(f"cannot save {here}: the attribute has no value") from None
            if isinstance(value, enum.Enum):  # a ScriptModule's Enum attribute: the archive holds the value (Note [Enums])
                value = value.value
            kind = cls.attr_kinds.get(name, "attribute")
            if kind in ("parameter", "buffer") and value is not None and not isinstance(value, torch.Tensor):
                raise ArchiveError(f"cannot save {here}: a {kind} must be a tensor, found {type(value).__name__}")
            encoded = self.value(value, typ, here, objects=True)
            problem = F.nonconforming(encoded, typ, self._object_class, self.classes)
            if problem is not None:
                raise ArchiveError(f"cannot save {here}: {problem}")
            attrs[name] = encoded
        doc["attributes"] = attrs
        self.in_progress.discard(key)
        return index

    def _object_class(self, index: int) -> Optional[str]:
        return self.objects[index]["class"] if 0 <= index < len(self.objects) else None

    # -- values ---------------------------------------------------------------
    def value(self, v: Any, typ: Optional[Type], where: str, objects: bool = False, depth: int = 0) -> Dict[str, Any]:
        """The tagged VALUE of `v`; `typ`, when known, picks float for ints and NamedTuple types."""
        if depth > F.MAX_VALUE_DEPTH:
            raise ArchiveError(f"cannot save {where}: values nested more than {F.MAX_VALUE_DEPTH} deep")
        if isinstance(typ, OptionalType):
            typ = typ.elem
        if v is None:
            return {"tag": "none"}
        if isinstance(v, enum.Enum):  # an Enum member is saved as its value (a module constant)
            v = v.value
        if isinstance(v, bool):
            return {"tag": "bool", "value": v}
        if isinstance(v, int):
            if typ == FLOAT:
                return {"tag": "float", "value": F.encode_float(float(v))}
            if not F.INT64_MIN <= v <= F.INT64_MAX:
                raise ArchiveError(f"cannot save {where}: integer {v} does not fit in 64 bits")
            return {"tag": "int", "value": int(v)}
        if isinstance(v, float):
            return {"tag": "float", "value": F.encode_float(v)}
        if isinstance(v, complex):
            return {"tag": "complex", "value": [F.encode_float(v.real), F.encode_float(v.imag)]}
        if isinstance(v, str):
            return {"tag": "str", "value": v}
        if isinstance(v, torch.Tensor):
            return dict(self._tensor_doc(v, where))
        if isinstance(v, torch.dtype):
            return {"tag": "dtype", "value": F.dtype_name(v)}
        if isinstance(v, torch.device):
            return {"tag": "device", "value": str(v)}
        if isinstance(v, torch.layout):
            return {"tag": "layout", "value": str(v)[len("torch."):]}
        if isinstance(v, torch.memory_format):
            return {"tag": "memory_format", "value": str(v)[len("torch."):]}
        if isinstance(v, Type):
            self._add_type(v)
            return {"tag": "type", "value": print_type(v)}
        if isinstance(v, tuple) and hasattr(type(v), "_fields"):
            return self._namedtuple(v, typ, where, objects, depth)
        if isinstance(v, (list, tuple)):
            if isinstance(typ, ListType):
                elem_types: List[Optional[Type]] = [typ.elem] * len(v)
            elif isinstance(typ, TupleType) and len(typ.elems) == len(v):
                elem_types = list(typ.elems)
            else:
                elem_types = [None] * len(v)
            items = [self.value(x, t, f"{where}[{i}]", objects, depth + 1) for i, (x, t) in enumerate(zip(v, elem_types))]
            return {"tag": "list" if isinstance(v, list) else "tuple", "value": items}
        if isinstance(v, dict):
            kt, vt = (typ.key, typ.value) if isinstance(typ, DictType) else (None, None)
            pairs = [
                [self.value(k, kt, f"{where} key", objects, depth + 1), self.value(x, vt, f"{where}[{k!r}]", objects, depth + 1)]
                for k, x in v.items()
            ]
            return {"tag": "dict", "value": pairs}
        if objects and isinstance(getattr(v, "_kiln_type", None), ClassType):
            return {"tag": "object", "value": self._object(v, where)}
        raise ArchiveError(f"cannot save {where}: a value of Python type {type(v).__name__} has no archive form")

    def _namedtuple(self, v: tuple, typ: Optional[Type], where: str, objects: bool, depth: int) -> Dict[str, Any]:
        if not (isinstance(typ, TupleType) and typ.name is not None and len(typ.elems) == len(v)):
            raise ArchiveError(f"cannot save {where}: a NamedTuple value needs a declared NamedTuple type")
        items = [self.value(x, t, f"{where}.{f}", objects, depth + 1) for x, t, f in zip(v, typ.elems, typ.fields or ())]
        self._add_type(typ)
        return {"tag": "namedtuple", "type": print_type(typ), "value": items}

    def _tensor_doc(self, t: torch.Tensor, where: str = "") -> Dict[str, Any]:
        known = self.tensor_keys.get(id(t))
        if known is not None:
            return known[1]
        data = _storable(t, where)
        key = f"t{len(self.tensors)}"
        doc = {
            "tag": "tensor",
            "key": key,
            "dtype": F.dtype_name(data.dtype),
            "shape": list(data.shape),
            "requires_grad": bool(t.requires_grad),
            "parameter": isinstance(t, torch.nn.Parameter),
            "device": str(t.device),
        }
        self.tensor_keys[id(t)] = (key, doc)
        self.keep.append(t)
        self.tensors.append((key, data))
        return doc

    # -- classes and functions ------------------------------------------------
    def _class_doc(self, cls: ClassType) -> Dict[str, Any]:
        where = f"class {cls.name}"
        return {
            "name": cls.name,
            "is_module": bool(cls.is_module),
            "attributes": [
                {"name": n, "type": self._type(t, f"{where}.{n}"), "kind": cls.attr_kinds.get(n, "attribute")}
                for n, t in cls.attributes.items()
            ],
            "constants": [
                {"name": n, "value": self.value(v, None, f"{where} constant {n}")} for n, v in cls.constants.items()
                if not getattr(v, "kiln_not_archived", False)
            ],
            "methods": [self._function_doc(fn, name) for name, fn in cls.methods.items()],
        }

    def _interface_doc(self, iface: InterfaceType) -> Dict[str, Any]:
        where = f"interface {iface.name}"
        return {
            "name": iface.name,
            "is_module": bool(iface.is_module),
            "methods": [
                {
                    "name": name,
                    "args": [{"name": a.name, "type": self._type(a.type, f"{where}.{name}")} for a in m.args],
                    "returns": self._type(m.returns, f"{where}.{name}"),
                }
                for name, m in iface.methods.items()
            ],
        }

    def _type(self, t: Any, where: str) -> str:
        hit = self.type_texts.get(id(t))
        if hit is not None and hit[0] is t:
            return hit[1]  # its classes were added when it was first met
        if not isinstance(t, Type):
            raise ArchiveError(f"cannot save {where}: {t!r} is not an IR type")
        self._add_type(t)
        text = print_type(t)
        self.type_texts[id(t)] = (t, text)
        return text

    def _function_doc(self, fn: Function, name: str) -> Dict[str, Any]:
        where = f"function {fn.name}"
        args = []
        for a in fn.args:
            default = self.value(a.default, a.type, f"{where} default of {a.name}") if a.has_default else None
            args.append({
                "name": a.name, "type": self._type(a.type, where), "default": default,
                "kwarg_only": bool(a.kwarg_only), "positional_only": bool(a.positional_only),
            })  # fmt: skip
        ids: Dict[Any, int] = {}
        return {
            "name": name,
            "args": args,
            "returns": self._type(fn.returns, where),
            "loc": self._loc(fn.loc),
            "graph": self._block(fn.graph.block, ids, where, 0),
        }

    def _block(self, block: Block, ids: Dict[Any, int], where: str, depth: int) -> Dict[str, Any]:
        if depth > F.MAX_BLOCK_DEPTH:
            raise ArchiveError(f"cannot save {where}: blocks nested more than {F.MAX_BLOCK_DEPTH} deep")
        params = [self._define(p, ids, where) for p in block.params]
        nodes = [self._node(n, ids, where, depth) for n in block.nodes]
        returns = [self._use(v, ids, where) for v in block.returns]
        return {"params": params, "nodes": nodes, "returns": returns}

    def _node(self, node: Node, ids: Dict[Any, int], where: str, depth: int) -> Dict[str, Any]:
        here = f"{where}, node {node.kind}"
        inputs = [self._use(v, ids, here) for v in node.inputs]
        outputs = [self._define(v, ids, here) for v in node.outputs]
        attrs = {k: self.value(node.attrs[k], None, f"{here} attribute {k}") for k in sorted(node.attrs)}
        blocks = [self._block(b, ids, where, depth + 1) for b in node.blocks]
        loc = self._loc(node.loc)
        return {"kind": node.kind, "inputs": inputs, "outputs": outputs, "attrs": attrs, "blocks": blocks, "loc": loc}

    def _define(self, v: Any, ids: Dict[Any, int], where: str) -> Dict[str, Any]:
        ids[v] = len(ids)
        name = v.name if isinstance(v.name, str) else None
        return {"id": ids[v], "type": self._type(v.type, where), "name": name}

    @staticmethod
    def _use(v: Any, ids: Dict[Any, int], where: str) -> int:
        if v not in ids:
            raise ArchiveError(f"cannot save {where}: a value is used before it is defined (run the verifier)")
        return ids[v]

    def _loc(self, loc: Any) -> Optional[int]:
        if not isinstance(loc, SourceRange):
            return None
        text = loc.text
        if text is None:
            text = linecache.getline(loc.filename, loc.line).rstrip("\n") if isinstance(loc.line, int) and loc.line > 0 else ""
            text = text or None
        key = (str(loc.filename), loc.line, loc.col, loc.end_col, text)
        index = self.range_ids.get(key)
        if index is None:
            if not all(isinstance(x, int) and not isinstance(x, bool) and 0 <= x <= F.INT64_MAX for x in (loc.line, loc.col)):
                return None
            end_col = loc.end_col if isinstance(loc.end_col, int) and loc.end_col >= 0 else None
            index = self.range_ids[key] = len(self.ranges)
            self.ranges.append({"file": key[0], "line": loc.line, "col": loc.col, "end_col": end_col, "text": text})
        return index

    # -- code/ ----------------------------------------------------------------
    def _code_entries(self) -> List[Tuple[str, bytes]]:
        """`code/<name>.py` for people, when the code generator is there (else nothing)."""
        try:
            from .. import codegen

            python_source = codegen.python_source
        except (ImportError, AttributeError):
            return []
        unit = self.units[0]
        out = []
        groups = [(n, list(c.methods.values())) for n, c in self.classes.items()]
        groups += [(n, [f]) for n, f in self.functions.items()]
        for name, fns in groups:
            if not fns or F.safe_name_problem(name + ".py") is not None:
                continue
            try:
                text = "\n\n".join(python_source(fn, unit) for fn in fns)
            except Exception:  # noqa: BLE001 - code text is for people; never fail a save on it
                continue
            out.append((F.CODE_PREFIX + name + ".py", text.encode("utf-8", "replace")))
        return out


# Note [Non-persistent buffers]
# -----------------------------
# Whether a buffer is persistent is state of the module object, not of its
# class: nn.Module keeps `_non_persistent_buffers_set` per instance, and
# modules that differ only in it share one class type (Note [Type sharing]
# in frontend/script/modules.py). So the archive records it per object, in
# objects.json (`non_persistent`, docs/archive.md §7), and the reader puts
# the set back on each loaded module: `state_dict()` leaves those buffers
# out, `named_buffers()` lists them, as in eager PyTorch.


def _storable(t: torch.Tensor, where: str) -> torch.Tensor:
    """`t` as stored: detached, on the CPU, contiguous, plain (docs/archive.md §5)."""
    if t.layout != torch.strided:
        raise ArchiveError(f"cannot save {where}: {t.layout} tensors cannot be saved")
    if t.is_quantized or getattr(t, "is_nested", False):
        raise ArchiveError(f"cannot save {where}: quantized and nested tensors cannot be saved")
    if t.device.type == "meta":
        raise ArchiveError(f"cannot save {where}: a tensor on the meta device has no data")
    if t.dtype not in F.DTYPE_ST:
        raise ArchiveError(f"cannot save {where}: dtype {t.dtype} has no safetensors code")
    data = t.detach()
    if data.device.type != "cpu":
        data = data.cpu()
    data = data.resolve_conj().resolve_neg().contiguous()
    if type(data) is not torch.Tensor:
        data = data.as_subclass(torch.Tensor)
    return data


def _extra_entries(extra_files: Optional[Mapping[str, Any]]) -> List[Tuple[str, bytes]]:
    if not extra_files:
        return []
    out = []
    for name, content in extra_files.items():
        problem = F.safe_name_problem(name)
        if problem is not None:
            raise ArchiveError(f"cannot save extra file {name!r}: {problem}")
        if isinstance(content, str):
            content = content.encode("utf-8")
        if not isinstance(content, (bytes, bytearray, memoryview)):
            raise ArchiveError(f"cannot save extra file {name!r}: expected bytes or str, found {type(content).__name__}")
        out.append((F.EXTRA_PREFIX + name, bytes(content)))
    return out


def _torchkiln_version() -> str:
    """The package's version (`torchkiln.__version__`; `tests/archive` checks it is pyproject.toml's)."""
    import torchkiln

    return torchkiln.__version__


# -- the zip --------------------------------------------------------------------


def _zip_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=F.ZIP_DATE_TIME)
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = F.ZIP_EXTERNAL_ATTR
    info.create_system = F.ZIP_CREATE_SYSTEM
    return info


def _write_zip(fp: Any, entries: List[Tuple[str, bytes]], tensors: List[Tuple[str, torch.Tensor]]) -> None:
    """Entries in order, then tensors.safetensors with its data aligned (docs/archive.md §1)."""
    header, ordered = F.safetensors_header(tensors)
    size = len(header) + sum(t.numel() * t.element_size() for _, t in ordered)
    with zipfile.ZipFile(fp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, data in entries:
            zf.writestr(_zip_info(name), data)
        info = _zip_info(F.TENSORS)
        info.file_size = size
        zip64 = size * 1.05 > zipfile.ZIP64_LIMIT  # as zipfile decides for a known size
        start = fp.tell() + 30 + len(F.TENSORS.encode()) + 4 + (20 if zip64 else 0)
        pad = -start % F.TENSORS_ALIGN
        info.extra = F.ALIGN_EXTRA_ID.to_bytes(2, "little") + pad.to_bytes(2, "little") + b"\0" * pad
        with zf.open(info, "w", force_zip64=zip64) as out:
            out.write(header)
            for _, t in ordered:
                out.write(F.tensor_bytes(t))
