"""Read an archive back into a ScriptModule / ScriptFunction (docs/archive.md).

The file is untrusted: every field is type-checked before use, every count
and size is checked against the file, and every failure becomes an
`ArchiveError` that names the entry and the place, e.g.

```
ir.json: functions[0].graph.nodes[3]: unknown op 'aten::frobnicate'
```

Nothing from the archive is executed or imported; the only Python objects
made are tensors, plain values, IR objects and the results of
`ScriptModule.create` / `ScriptFunction(...)`.
"""
from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib
from typing import Any, BinaryIO, Dict, List, Optional, Set, Tuple

import torch

from ..diagnostics import ArchiveError, Error, SourceRange, VerifyError
from ..ir.core import Argument, Block, CompilationUnit, Function, Graph, Node, Value
from ..ir.nesting import recursion_headroom
from ..ir.types import NONE, AnyType, ClassType, InterfaceMethod, InterfaceType, OptionalType, TensorType, TupleType, Type
from . import format as F

_TAG_FIELDS: Dict[str, Tuple[str, ...]] = {
    "none": (),
    "bool": ("value",),
    "int": ("value",),
    "float": ("value",),
    "complex": ("value",),
    "str": ("value",),
    "list": ("value",),
    "tuple": ("value",),
    "namedtuple": ("type", "value"),
    "dict": ("value",),
    "tensor": ("key", "dtype", "shape", "requires_grad", "parameter", "device"),
    "dtype": ("value",),
    "device": ("value",),
    "layout": ("value",),
    "memory_format": ("value",),
    "type": ("value",),
    "object": ("value",),
}
_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")
# What zipfile raises, besides BadZipFile, on a damaged central directory.
_ZIP_DIRECTORY_ERRORS = (
    OSError, ValueError, EOFError, struct.error, NotImplementedError, OverflowError, IndexError, KeyError, UnicodeDecodeError,
)
_ATTR_KINDS = ("parameter", "buffer", "module", "attribute")
_NAMED_KINDS = ("prim::CallFunction", "prim::fork", "prim::CallMethod", "prim::GetAttr", "prim::SetAttr")


def load(path_or_file: Any, map_location: Any = None, _extra_files: Optional[Dict[str, Any]] = None) -> Any:
    """Read an archive written by `save`; a ScriptModule or ScriptFunction."""
    device = _device_of(map_location)
    if _extra_files is not None and not isinstance(_extra_files, dict):
        raise TypeError(f"_extra_files must be a dict, not {type(_extra_files).__name__}")
    if isinstance(path_or_file, (str, bytes, os.PathLike)):
        try:
            fp: BinaryIO = open(path_or_file, "rb")
        except OSError as e:
            raise ArchiveError(f"cannot open {os.fsdecode(path_or_file)!r}: {e.strerror or e}") from None
        with fp:
            return _load_from(fp, device, _extra_files)
    if not hasattr(path_or_file, "read"):
        raise ArchiveError(f"cannot load from a {type(path_or_file).__name__}: expected a path or a binary file object")
    seekable = getattr(path_or_file, "seekable", None)
    if callable(seekable) and seekable():
        return _load_from(path_or_file, device, _extra_files)
    try:
        data = path_or_file.read()
    except OSError as e:
        raise ArchiveError(f"cannot read the archive: {e}") from None
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ArchiveError("cannot load from a text-mode file: open the archive in binary mode ('rb')")
    return _load_from(io.BytesIO(data), device, _extra_files)


def _device_of(map_location: Any) -> Optional[torch.device]:
    if map_location is None:
        return None
    if isinstance(map_location, torch.device):
        return map_location
    if isinstance(map_location, str):
        try:
            return torch.device(map_location)
        except (RuntimeError, ValueError) as e:
            raise ValueError(f"map_location {map_location!r} is not a device: {e}") from None
    raise TypeError(f"map_location must be None, a str or a torch.device, not {type(map_location).__name__}")


def _load_from(fp: Any, device: Optional[torch.device], extra_files: Optional[Dict[str, Any]]) -> Any:
    try:
        with recursion_headroom(F.MAX_BLOCK_DEPTH):  # Note [Archive nesting limits] in format.py
            return _Loader(fp, device).run(extra_files)
    except ArchiveError:
        raise
    except RecursionError:
        raise ArchiveError("the archive is nested too deeply to read") from None
    except Exception as e:  # noqa: BLE001 - Note [No internal tracebacks]
        raise ArchiveError(f"corrupt archive ({type(e).__name__}: {e})") from None


# Note [No internal tracebacks]
# -----------------------------
# Every rule of docs/archive.md is checked explicitly, with a message naming
# the place. The catch-all above is a safety net, so that a case nobody
# foresaw is still an ArchiveError rather than a crash inside torchkiln; a
# message starting "corrupt archive (" in a bug report means a check is
# missing here.


class _Loader:
    def __init__(self, fp: Any, device: Optional[torch.device]):
        self.fp = fp
        self.size = 0
        self.device = device
        self.infos: Dict[str, zipfile.ZipInfo] = {}
        self.unit = CompilationUnit()
        self.classes: Dict[str, ClassType] = {}
        self.named: Dict[str, Type] = {}  # what type names refer to: the classes and interfaces
        self.types: Dict[str, Type] = {}
        self.ranges: List[SourceRange] = []
        self.stored: Dict[str, F.StoredTensor] = {}
        self.tensor_buf = bytearray()
        self.data_start = 0
        self.tensor_refs: Dict[str, Tuple[Dict[str, Any], torch.Tensor]] = {}
        self.object_docs: List[Any] = []
        self.objects: Dict[int, Any] = {}
        self.building: Set[int] = set()
        self.version = F.FORMAT_VERSION  # manifest.json's format_version (Note [Format versions])

    # -- entry point ----------------------------------------------------------
    def run(self, extra_files: Optional[Dict[str, Any]]) -> Any:
        self.open_zip()
        manifest = F.obj(self.json(F.MANIFEST), F.MANIFEST, ("format", "format_version", "producer", "root"))
        root = self.check_manifest(manifest)
        ir = F.obj(self.json(F.IR), F.IR, F.IR_FIELDS[self.version])
        objects = F.obj(self.json(F.OBJECTS), F.OBJECTS, ("objects",))
        debug = F.obj(self.json(F.DEBUG), F.DEBUG, ("ranges",))
        self.read_debug(debug)
        self.read_tensors()
        self.read_ir(ir)
        self.object_docs = F.lst(objects["objects"], f"{F.OBJECTS}: objects")
        result = self.build_root(root)
        unused = sorted(set(self.stored) - set(self.tensor_refs))
        if unused:
            raise F.fail(F.TENSORS, f"tensor {unused[0]!r} is stored but never referenced")
        # Entries nothing above reads (code/ for people, extra/ not asked for) are
        # CRC-checked too: docs/archive.md §2 says every entry's CRC-32 must match.
        for name in self.infos:
            if name.startswith((F.CODE_PREFIX, F.EXTRA_PREFIX)):
                self.read_into(name)
        if extra_files is not None:
            for name in list(extra_files):
                if isinstance(name, str) and F.EXTRA_PREFIX + name in self.infos:
                    extra_files[name] = self.read(F.EXTRA_PREFIX + name)
        return result

    # -- the zip --------------------------------------------------------------
    def open_zip(self) -> None:
        try:
            self.size = self.fp.seek(0, io.SEEK_END)
            self.fp.seek(0)
        except (OSError, ValueError) as e:
            raise ArchiveError(f"cannot read the archive: {e}") from None
        try:
            zf = zipfile.ZipFile(self.fp)
            infos = zf.infolist()
        except zipfile.BadZipFile as e:
            if self.size >= 4 and self.fp.seek(0) == 0 and self.fp.read(4) == b"PK\x03\x04":
                raise ArchiveError(f"the archive is truncated or its zip directory is damaged ({e})") from None
            raise ArchiveError(f"not a torchkiln archive: not a valid zip file ({e})") from None
        except _ZIP_DIRECTORY_ERRORS as e:
            raise ArchiveError(f"not a torchkiln archive: the zip directory is corrupt ({type(e).__name__}: {e})") from None
        if len(infos) > F.MAX_ENTRIES:
            raise ArchiveError(f"the archive has {len(infos)} entries, more than the limit of {F.MAX_ENTRIES}")
        for info in infos:
            name = info.filename
            if name in self.infos:
                raise ArchiveError(f"the archive holds two entries named {name!r}")
            self.check_entry_name(name)
            if info.compress_type != zipfile.ZIP_STORED:
                raise ArchiveError(f"entry {name!r} is compressed (method {info.compress_type}); archive entries must be stored")
            if info.flag_bits & 0x1:
                raise ArchiveError(f"entry {name!r} is encrypted")
            if info.compress_size != info.file_size:
                raise ArchiveError(f"entry {name!r}: stored size {info.compress_size} differs from its size {info.file_size}")
            if info.header_offset < 0 or info.header_offset + info.file_size > self.size:
                raise ArchiveError(
                    f"entry {name!r} declares {info.file_size} bytes at offset {info.header_offset}, "
                    f"beyond the end of the file ({self.size} bytes)"
                )
            self.infos[name] = info
        for name in F.REQUIRED_ENTRIES:
            if name not in self.infos:
                if name == F.MANIFEST:
                    raise ArchiveError(f"not a torchkiln archive: the zip has no {F.MANIFEST}")
                raise ArchiveError(f"the archive has no {name} entry")

    @staticmethod
    def check_entry_name(name: str) -> None:
        if name in F.REQUIRED_ENTRIES:
            return
        for prefix in (F.CODE_PREFIX, F.EXTRA_PREFIX):
            if name.startswith(prefix):
                problem = F.safe_name_problem(name[len(prefix):])
                if problem is not None:
                    raise ArchiveError(f"unsafe entry name {name!r}: {problem}")
                return
        raise ArchiveError(f"unexpected entry {name!r} in the archive")

    def read(self, name: str) -> bytes:
        """An entry's bytes, read from its local header, bounds and CRC checked."""
        return bytes(self.read_into(name))

    def read_into(self, name: str) -> bytearray:
        info = self.infos[name]
        try:
            self.fp.seek(info.header_offset)
            head = self.fp.read(_LOCAL_HEADER.size)
        except (OSError, ValueError) as e:
            raise ArchiveError(f"entry {name!r}: cannot read ({e})") from None
        if len(head) != _LOCAL_HEADER.size:
            raise ArchiveError(f"entry {name!r}: the local header is cut off (truncated file?)")
        sig, _, flags, method, _, _, _, _, _, name_len, extra_len = _LOCAL_HEADER.unpack(head)
        if sig != b"PK\x03\x04":
            raise ArchiveError(f"entry {name!r}: bad local header signature")
        if method != zipfile.ZIP_STORED or flags & 0x1:
            raise ArchiveError(f"entry {name!r}: the local header says compressed or encrypted")
        start = info.header_offset + _LOCAL_HEADER.size + name_len + extra_len
        if start + info.file_size > self.size:
            raise ArchiveError(
                f"entry {name!r}: {info.file_size} bytes at offset {start} run past the end of the file ({self.size} bytes)"
            )
        local_name = self.fp.read(name_len)
        if local_name.decode("utf-8", "replace") != name and local_name.decode("cp437", "replace") != name:
            raise ArchiveError(f"entry {name!r}: the local header names a different file")
        buf = bytearray(info.file_size)
        self.fp.seek(start)
        view = memoryview(buf)
        got = 0
        readinto = getattr(self.fp, "readinto", None)
        while got < info.file_size:
            if readinto is not None:
                n = readinto(view[got:])
            else:
                chunk = self.fp.read(info.file_size - got)
                n = len(chunk)
                view[got:got + n] = chunk
            if not n:
                break
            got += n
        if got != info.file_size:
            raise ArchiveError(f"entry {name!r}: expected {info.file_size} bytes, the file holds only {got} (truncated file?)")
        if zlib.crc32(buf) != info.CRC:
            raise ArchiveError(f"entry {name!r}: CRC-32 mismatch; the file is corrupt")
        return buf

    def json(self, name: str) -> Any:
        info = self.infos[name]
        if info.file_size > F.MAX_JSON_BYTES:
            raise ArchiveError(f"{name}: {info.file_size} bytes is more than the limit of {F.MAX_JSON_BYTES}")
        return F.loads(self.read(name), name)

    # -- manifest, debug, tensors ----------------------------------------------
    def check_manifest(self, m: Dict[str, Any]) -> Dict[str, Any]:
        p = F.MANIFEST
        if F.string(m["format"], p + ": format") != F.FORMAT_NAME:
            raise F.fail(p, f"format is {m['format']!r}, not {F.FORMAT_NAME!r}: not a torchkiln archive")
        version = F.integer(m["format_version"], p + ": format_version")
        if not F.OLDEST_FORMAT_VERSION <= version <= F.FORMAT_VERSION:
            raise F.fail(
                p,
                f"unknown format version {version}; this torchkiln reads versions {F.OLDEST_FORMAT_VERSION} to {F.FORMAT_VERSION}"
                + (" (the archive was written by a newer torchkiln; upgrade)" if version > F.FORMAT_VERSION else ""),
            )
        self.version = version
        for k, v in F.dict_of(m["producer"], p + ": producer").items():
            F.string(v, f"{p}: producer.{k}")
        root = F.dict_of(m["root"], p + ": root")
        kind = F.string(root.get("kind"), p + ": root.kind")
        if kind == "module":
            F.obj(root, p + ": root", ("kind", "class"))
            F.string(root["class"], p + ": root.class")
        elif kind == "function":
            F.obj(root, p + ": root", ("kind", "function"))
            F.string(root["function"], p + ": root.function")
        else:
            raise F.fail(p + ": root.kind", f"expected 'module' or 'function', found {kind!r}")
        return root

    def read_debug(self, debug: Dict[str, Any]) -> None:
        for i, r in enumerate(F.lst(debug["ranges"], f"{F.DEBUG}: ranges")):
            p = f"{F.DEBUG}: ranges[{i}]"
            r = F.obj(r, p, ("file", "line", "col", "end_col", "text"))
            self.ranges.append(
                SourceRange(
                    F.string(r["file"], p + ".file"),
                    F.integer(r["line"], p + ".line", 0),
                    F.integer(r["col"], p + ".col", 0),
                    F.opt_integer(r["end_col"], p + ".end_col", 0),
                    F.opt_string(r["text"], p + ".text"),
                )
            )

    def loc(self, j: Any, path: str) -> Optional[SourceRange]:
        index = F.opt_integer(j, path, 0)
        if index is None:
            return None
        if index >= len(self.ranges):
            raise F.fail(path, f"source range {index} does not exist ({F.DEBUG} has {len(self.ranges)})")
        return self.ranges[index]

    def read_tensors(self) -> None:
        self.tensor_buf = self.read_into(F.TENSORS)
        self.stored, self.data_start = F.parse_safetensors(self.tensor_buf)

    # -- types ----------------------------------------------------------------
    def type(self, j: Any, path: str) -> Type:
        text = F.string(j, path)
        t = self.types.get(text)
        if t is not None:
            return t
        from ..ir.parser import parse_type

        try:
            t = parse_type(text, self.named)
        except RecursionError:
            raise F.fail(path, "the type is nested too deeply") from None
        except Error as e:
            raise F.fail(path, f"bad type {text!r}: {str(e).splitlines()[0]}") from None
        self.types[text] = t
        return t

    # -- ir.json --------------------------------------------------------------
    def read_ir(self, ir: Dict[str, Any]) -> None:
        from .. import ops

        interface_docs = F.lst(ir["interfaces"], f"{F.IR}: interfaces") if self.version >= 3 else []
        class_docs = F.lst(ir["classes"], f"{F.IR}: classes")
        function_docs = F.lst(ir["functions"], f"{F.IR}: functions")
        interfaces: List[InterfaceType] = []
        for i, d in enumerate(interface_docs):
            p = f"{F.IR}: interfaces[{i}]"
            d = F.obj(d, p, ("name", "is_module", "methods"))
            name = F.string(d["name"], p + ".name")
            if name in self.named:
                raise F.fail(p, f"two interfaces are named {name!r}")
            interfaces.append(InterfaceType(name, F.boolean(d["is_module"], p + ".is_module")))
            self.named[name] = interfaces[-1]
        for i, c in enumerate(class_docs):
            p = f"{F.IR}: classes[{i}]"
            c = F.obj(c, p, ("name", "is_module", "attributes", "constants", "methods"))
            name = F.string(c["name"], p + ".name")
            if name in self.classes:
                raise F.fail(p, f"two classes are named {name!r}")
            if name in self.named:
                raise F.fail(p, f"an interface and a class are both named {name!r}")
            cls = ClassType(name, F.boolean(c["is_module"], p + ".is_module"))
            self.classes[name] = cls
            self.named[name] = cls
            self.unit.add_class(cls)
        for i, (d, iface) in enumerate(zip(interface_docs, interfaces)):
            self.read_interface_methods(iface, d, f"{F.IR}: interfaces[{i}]")
        for i, c in enumerate(class_docs):
            p = f"{F.IR}: classes[{i}]"
            if self.type(c["name"], p + ".name") is not self.classes[c["name"]]:
                raise F.fail(p + ".name", f"{c['name']!r} is not usable as a class name in types")
            self.read_class_attributes(self.classes[c["name"]], c, p)
        for i, c in enumerate(class_docs):
            p = f"{F.IR}: classes[{i}]"
            cls = self.classes[c["name"]]
            for j, k in enumerate(F.lst(c["constants"], p + ".constants")):
                q = f"{p}.constants[{j}]"
                k = F.obj(k, q, ("name", "value"))
                kname = F.string(k["name"], q + ".name")
                if kname in cls.constants:
                    raise F.fail(q, f"two constants are named {kname!r}")
                cls.constants[kname] = self.value(k["value"], q + ".value")
            for j, m in enumerate(F.lst(c["methods"], p + ".methods")):
                fn = self.function(m, f"{p}.methods[{j}]")
                if fn.name in cls.methods:
                    raise F.fail(f"{p}.methods[{j}]", f"two methods are named {fn.name!r}")
                if not fn.args or fn.args[0].type is not cls:
                    raise F.fail(f"{p}.methods[{j}]", f"the first argument of method {fn.name!r} must be self of type {cls.name}")
                cls.methods[fn.name] = fn
        for i, f in enumerate(function_docs):
            fn = self.function(f, f"{F.IR}: functions[{i}]")
            if fn.name in self.unit.functions:
                raise F.fail(f"{F.IR}: functions[{i}]", f"two functions are named {fn.name!r}")
            self.unit.add_function(fn)
        checked = [
            (f"{F.IR}: classes[{i}].methods[{j}]", fn)
            for i, c in enumerate(class_docs)
            for j, fn in enumerate(self.classes[c["name"]].methods.values())
        ]
        checked += [(f"{F.IR}: functions[{i}]", fn) for i, fn in enumerate(self.unit.functions.values())]
        for path, fn in checked:
            self.check_calls(fn, path)
            try:
                from ..ir.verify import verify_function

                verify_function(fn, ops.op_checker)
            except VerifyError as e:
                raise F.fail(path, f"function {fn.name!r} fails the IR verifier: {e}") from None

    def read_interface_methods(self, iface: InterfaceType, d: Dict[str, Any], p: str) -> None:
        """An interface's method signatures (docs/archive.md §4, INTERFACE)."""
        if self.type(d["name"], p + ".name") is not iface:
            raise F.fail(p + ".name", f"{iface.name!r} is not usable as an interface name in types")
        methods = F.lst(d["methods"], p + ".methods")
        if not methods:
            raise F.fail(p + ".methods", f"the interface {iface.name} declares no methods")
        for j, m in enumerate(methods):
            q = f"{p}.methods[{j}]"
            m = F.obj(m, q, ("name", "args", "returns"))
            name = F.string(m["name"], q + ".name")
            if not name.isidentifier():
                raise F.fail(q + ".name", f"method name {name!r} is not an identifier")
            if name in iface.methods:
                raise F.fail(q, f"two methods are named {name!r}")
            args: List[Argument] = []
            for k, a in enumerate(F.lst(m["args"], q + ".args")):
                r = f"{q}.args[{k}]"
                a = F.obj(a, r, ("name", "type"))
                arg_name = F.string(a["name"], r + ".name")
                if not arg_name.isidentifier():
                    raise F.fail(r + ".name", f"argument name {arg_name!r} is not an identifier")
                if any(b.name == arg_name for b in args):
                    raise F.fail(r + ".name", f"two arguments are named {arg_name!r}")
                args.append(Argument(arg_name, self.type(a["type"], r + ".type")))
            if not args or args[0].type is not iface:
                raise F.fail(q + ".args", f"the first argument of method {name!r} must be self of type {iface.name}")
            iface.methods[name] = InterfaceMethod(name, args, self.type(m["returns"], q + ".returns"))

    def read_class_attributes(self, cls: ClassType, c: Dict[str, Any], p: str) -> None:
        for j, a in enumerate(F.lst(c["attributes"], p + ".attributes")):
            q = f"{p}.attributes[{j}]"
            a = F.obj(a, q, ("name", "type", "kind"))
            name = F.string(a["name"], q + ".name")
            kind = F.string(a["kind"], q + ".kind")
            if kind not in _ATTR_KINDS:
                raise F.fail(q + ".kind", f"expected one of {', '.join(_ATTR_KINDS)}, found {kind!r}")
            if name in cls.attributes:
                raise F.fail(q, f"two attributes are named {name!r}")
            t = self.type(a["type"], q + ".type")
            base = t.elem if isinstance(t, OptionalType) else t
            if kind in ("parameter", "buffer") and not isinstance(base, TensorType) and t != NONE:
                # NoneType: `register_parameter(name, None)` (MultiheadAttention's q_proj_weight)
                raise F.fail(q, f"a {kind} must have type Tensor, Tensor? or NoneType, not {t}")
            if kind == "module" and isinstance(t, InterfaceType):
                if not t.is_module:
                    raise F.fail(q, f"a module attribute cannot have the type of {t.name}, which is not a module interface")
            elif kind == "module" and not (isinstance(base, ClassType) and base.is_module) and not isinstance(t, AnyType):
                raise F.fail(q, f"a module attribute must have a module class type, a module interface or Any, not {t}")
            if kind != "attribute" and not cls.is_module:
                raise F.fail(q, f"script class {cls.name} cannot have a {kind}")
            cls.add_attribute(name, t, kind)

    def function(self, f: Any, p: str) -> Function:
        f = F.obj(f, p, ("name", "args", "returns", "loc", "graph"))
        name = F.string(f["name"], p + ".name")
        if not name:
            raise F.fail(p + ".name", "the name is empty")
        args = []
        seen_other = False  # an argument that is not positional-only came before
        for i, a in enumerate(F.lst(f["args"], p + ".args")):
            q = f"{p}.args[{i}]"
            a = F.obj(a, q, F.ARG_FIELDS[self.version])
            t = self.type(a["type"], q + ".type")
            has_default = a["default"] is not None
            default = self.typed_value(a["default"], t, q + ".default", objects=False) if has_default else None
            kwarg_only = F.boolean(a["kwarg_only"], q + ".kwarg_only")
            positional_only = F.boolean(a["positional_only"], q + ".positional_only") if self.version >= 2 else False
            if positional_only and (seen_other or kwarg_only):
                raise F.fail(q, "a positional-only argument must come before the others and cannot be keyword-only")
            seen_other = seen_other or not positional_only
            args.append(Argument(F.string(a["name"], q + ".name"), t, has_default, default, kwarg_only, positional_only))
        returns = self.type(f["returns"], p + ".returns")
        loc = self.loc(f["loc"], p + ".loc")
        graph = Graph()
        _GraphReader(self, p).block_into(f["graph"], graph.block, p + ".graph", 0)
        return Function(name, graph, args, returns, loc)

    def check_calls(self, fn: Function, path: str) -> None:
        """Calls and attribute accesses name things that exist (docs/archive.md §4)."""
        for node in fn.graph.walk():
            if node.kind not in _NAMED_KINDS:
                continue
            target = node.attrs.get("name")
            if not isinstance(target, str):
                raise F.fail(path, f"a {node.kind} node has no str attribute 'name'")
            if node.kind in ("prim::CallFunction", "prim::fork"):
                if target not in self.unit.functions:
                    raise F.fail(path, f"{node.kind} calls {target!r}, which is not a function in {F.IR}")
                self.check_arity(node, self.unit.functions[target], path)
                continue
            cls = node.inputs[0].type if node.inputs else None
            if isinstance(cls, InterfaceType) and node.kind == "prim::CallMethod":
                if target not in cls.methods:
                    raise F.fail(path, f"prim::CallMethod calls {target!r}, which is not a method of the interface {cls.name}")
                continue
            if not isinstance(cls, ClassType):
                continue  # an `Any` receiver is resolved at run time
            if node.kind == "prim::CallMethod":
                if target not in cls.methods:
                    raise F.fail(path, f"prim::CallMethod calls {target!r}, which is not a method of {cls.name}")
                self.check_arity(node, cls.methods[target], path)
                continue
            declared = cls.attributes.get(target)
            if declared is None:
                if node.kind == "prim::GetAttr" and target in cls.constants:
                    continue
                raise F.fail(path, f"{node.kind} names {target!r}, which is not an attribute of {cls.name}")
            if node.kind == "prim::GetAttr" and node.outputs and not declared.is_subtype_of(node.outputs[0].type):
                raise F.fail(path, f"prim::GetAttr of {cls.name}.{target} ({declared}) is typed {node.outputs[0].type}")
            if node.kind == "prim::SetAttr" and len(node.inputs) == 2 and not node.inputs[1].type.is_subtype_of(declared):
                raise F.fail(path, f"prim::SetAttr stores a {node.inputs[1].type} in {cls.name}.{target} ({declared})")

    @staticmethod
    def check_arity(node: Node, callee: Function, path: str) -> None:
        """A call passes at most the callee's arguments, and leaves out only trailing ones that have defaults.

        The C++ loader refuses the same calls, as a call would (see Note [Every op
        input is explicit] in torchkiln/csrc/src/compile.cpp: calls, unlike ops,
        may leave out defaulted arguments).
        """
        if len(node.inputs) > len(callee.args):
            raise F.fail(path, f"{callee.name} takes {len(callee.args)} arguments but {node.kind} passes {len(node.inputs)}")
        for arg in callee.args[len(node.inputs):]:
            if not arg.has_default:
                raise F.fail(path, f"{callee.name}: {node.kind} passes no input for argument {arg.name!r}, which has no default")

    # -- values ---------------------------------------------------------------
    def typed_value(self, j: Any, t: Type, path: str, objects: bool) -> Any:
        v = self.value(j, path, objects=objects)
        problem = F.nonconforming(j, t, self.object_class, self.classes)
        if problem is not None:
            raise F.fail(path, problem)
        return v

    def object_class(self, index: int) -> Optional[str]:
        if 0 <= index < len(self.object_docs) and isinstance(self.object_docs[index], dict):
            name = self.object_docs[index].get("class")
            return name if isinstance(name, str) else None
        return None

    def value(self, j: Any, path: str, objects: bool = False, depth: int = 0) -> Any:
        """The Python value of a VALUE (docs/archive.md §5), checked."""
        if depth > F.MAX_VALUE_DEPTH:
            raise F.fail(path, f"values nested more than {F.MAX_VALUE_DEPTH} deep")
        tag = F.string(F.dict_of(j, path).get("tag"), path + ".tag")
        if tag not in _TAG_FIELDS:
            raise F.fail(path + ".tag", f"unknown value tag {tag!r}")
        F.obj(j, path, ("tag",) + _TAG_FIELDS[tag])
        if tag == "none":
            return None
        if tag == "tensor":
            return self.tensor(j, path)
        raw = j["value"]
        vp = path + ".value"
        if tag == "bool":
            return F.boolean(raw, vp)
        if tag == "int":
            return F.integer(raw, vp)
        if tag == "float":
            return F.decode_float(raw, vp)
        if tag == "complex":
            parts = F.lst(raw, vp)
            if len(parts) != 2:
                raise F.fail(vp, "expected [real, imag]")
            return complex(F.decode_float(parts[0], vp + "[0]"), F.decode_float(parts[1], vp + "[1]"))
        if tag == "str":
            return F.string(raw, vp)
        if tag in ("list", "tuple", "namedtuple"):
            items = [self.value(x, f"{vp}[{i}]", objects, depth + 1) for i, x in enumerate(F.lst(raw, vp))]
            if tag == "list":
                return items
            if tag == "tuple":
                return tuple(items)
            return self.namedtuple(j, items, path)
        if tag == "dict":
            return self.dict_value(raw, vp, objects, depth)
        if tag == "object":
            if not objects:
                raise F.fail(path, f"object references are allowed only in {F.OBJECTS}")
            return self.build_object(F.integer(raw, vp, 0), vp)
        text = F.string(raw, vp)
        if tag == "dtype":
            return _named(F.DTYPES, text, vp, "dtype")
        if tag == "layout":
            return _named(F.LAYOUTS, text, vp, "layout")
        if tag == "memory_format":
            return _named(F.MEMORY_FORMATS, text, vp, "memory format")
        if tag == "device":
            return _device(text, vp)
        return self.type(text, vp)

    def dict_value(self, raw: Any, vp: str, objects: bool, depth: int) -> Dict[Any, Any]:
        out: Dict[Any, Any] = {}
        for i, pair in enumerate(F.lst(raw, vp)):
            pair = F.lst(pair, f"{vp}[{i}]")
            if len(pair) != 2:
                raise F.fail(f"{vp}[{i}]", "expected [key, value]")
            key_tag = F.dict_of(pair[0], f"{vp}[{i}][0]").get("tag")
            if key_tag not in ("str", "int", "float", "bool", "tensor"):
                raise F.fail(f"{vp}[{i}][0]", f"a dict key must be a str, int, float, bool or tensor, not {key_tag!r}")
            k = self.value(pair[0], f"{vp}[{i}][0]", objects, depth + 1)
            v = self.value(pair[1], f"{vp}[{i}][1]", objects, depth + 1)
            if key_tag != "tensor" and k in out:
                raise F.fail(f"{vp}[{i}][0]", f"duplicate dict key {k!r}")
            out[k] = v
        return out

    def namedtuple(self, j: Dict[str, Any], items: List[Any], path: str) -> Any:
        t = self.type(j["type"], path + ".type")
        if not isinstance(t, TupleType) or t.name is None:
            raise F.fail(path + ".type", f"expected a NamedTuple type, found {t}")
        if len(items) != len(t.elems):
            raise F.fail(path, f"{t.name} has {len(t.elems)} fields, the value has {len(items)}")
        from ..ops.prim import namedtuple_class

        try:
            cls = namedtuple_class(t)
        except (ValueError, TypeError) as e:
            raise F.fail(path + ".type", f"cannot make a NamedTuple {t.name}: {e}") from None
        return cls(*items)

    def tensor(self, j: Dict[str, Any], path: str) -> torch.Tensor:
        key = F.string(j["key"], path + ".key")
        known = self.tensor_refs.get(key)
        if known is not None:
            if known[0] != j:
                raise F.fail(path, f"references to tensor {key!r} disagree (dtype, shape, requires_grad, parameter or device)")
            return known[1]
        st = self.stored.get(key)
        if st is None:
            raise F.fail(path + ".key", f"tensor {key!r} is not in {F.TENSORS}")
        dtype = _named(F.DTYPES, F.string(j["dtype"], path + ".dtype"), path + ".dtype", "dtype")
        shape = F.shape_of(j["shape"], path + ".shape")
        if dtype != st.dtype:
            raise F.fail(path, f"tensor {key!r} is declared {F.dtype_name(dtype)} but stored as {F.dtype_name(st.dtype)}")
        if shape != st.shape:
            raise F.fail(path, f"tensor {key!r} is declared with shape {list(shape)} but stored with shape {list(st.shape)}")
        requires_grad = F.boolean(j["requires_grad"], path + ".requires_grad")
        parameter = F.boolean(j["parameter"], path + ".parameter")
        saved_device = _device(F.string(j["device"], path + ".device"), path + ".device")
        if requires_grad and not (dtype.is_floating_point or dtype.is_complex):
            raise F.fail(path, f"a {F.dtype_name(dtype)} tensor cannot require grad")
        t = self.tensor_data(st, key)
        target = self.device if self.device is not None else saved_device
        if target.type != "cpu":
            try:
                t = t.to(target)
            except (RuntimeError, AssertionError, ValueError) as e:
                where = "map_location" if self.device is not None else "the saved device; pass map_location='cpu'"
                raise F.fail(path, f"cannot move tensor {key!r} to {target} ({where}): {str(e).splitlines()[0]}") from None
        if parameter:
            t = torch.nn.Parameter(t, requires_grad=requires_grad)
        elif requires_grad:
            t.requires_grad_(True)
        self.tensor_refs[key] = (j, t)
        return t

    def tensor_data(self, st: F.StoredTensor, key: str) -> torch.Tensor:
        n = st.end - st.begin
        if n == 0:
            return torch.empty(st.shape, dtype=st.dtype)
        offset = self.data_start + st.begin
        if offset % st.dtype.itemsize:
            raw = torch.frombuffer(bytearray(self.tensor_buf[offset:offset + n]), dtype=torch.uint8)
        else:
            raw = torch.frombuffer(self.tensor_buf, dtype=torch.uint8, count=n, offset=offset)
        if st.dtype == torch.bool and bool((raw > 1).any()):
            raise F.fail(F.TENSORS, f"bool tensor {key!r} holds bytes other than 0 and 1")
        return raw.view(st.dtype).reshape(st.shape)

    # -- objects.json ---------------------------------------------------------
    def build_root(self, root: Dict[str, Any]) -> Any:
        from ..api import ScriptFunction

        if root["kind"] == "function":
            if self.object_docs:
                raise F.fail(F.OBJECTS, "a function archive holds no objects")
            fn = self.unit.functions.get(root["function"])
            if fn is None:
                raise F.fail(F.MANIFEST, f"root function {root['function']!r} is not in {F.IR}")
            try:
                return ScriptFunction(self.unit, fn)
            except Error as e:
                raise F.fail(F.MANIFEST, f"cannot build function {fn.name}: {e}") from None
        cls = self.classes.get(root["class"])
        if cls is None or not cls.is_module:
            raise F.fail(F.MANIFEST, f"root class {root['class']!r} is not a module class in {F.IR}")
        if not self.object_docs:
            raise F.fail(F.OBJECTS, "a module archive needs the root object, objects[0]")
        if self.object_class(0) != cls.name:
            raise F.fail(f"{F.OBJECTS}: objects[0]", f"the root object must be of class {cls.name}")
        module = self.build_object(0, f"{F.OBJECTS}: objects[0]")
        if len(self.objects) != len(self.object_docs):
            lost = min(set(range(len(self.object_docs))) - set(self.objects))
            raise F.fail(f"{F.OBJECTS}: objects[{lost}]", "the object is not reachable from the root")
        return module

    def build_object(self, index: int, path: str) -> Any:
        if index in self.objects:
            return self.objects[index]
        p = f"{F.OBJECTS}: objects[{index}]"
        if index >= len(self.object_docs):
            raise F.fail(path, f"object {index} does not exist ({F.OBJECTS} has {len(self.object_docs)})")
        if index in self.building:
            raise F.fail(path, f"objects refer to each other in a cycle through object {index}")
        self.building.add(index)
        doc = F.obj(self.object_docs[index], p, F.OBJECT_FIELDS[self.version])
        cls = self.classes.get(F.string(doc["class"], p + ".class"))
        if cls is None:
            raise F.fail(p + ".class", f"class {doc['class']!r} is not in {F.IR}")
        training = F.boolean(doc["training"], p + ".training") if cls.is_module else None
        if not cls.is_module and doc["training"] is not None:
            raise F.fail(p + ".training", "must be null for a script-class object")
        attrs = F.dict_of(doc["attributes"], p + ".attributes")
        missing = [n for n in cls.attributes if n not in attrs]
        if missing:
            raise F.fail(p + ".attributes", f"no value for attribute {missing[0]!r} of {cls.name}")
        extra = [n for n in attrs if n not in cls.attributes]
        if extra:
            raise F.fail(p + ".attributes", f"{cls.name} has no attribute {extra[0]!r}")
        values: Dict[str, Any] = {}
        for name, t in cls.attributes.items():
            q = f"{p}.attributes.{name}"
            j = attrs[name]
            values[name] = self.typed_value(j, t, q, objects=True)
            kind = cls.attr_kinds[name]
            if kind in ("parameter", "buffer") and j["tag"] == "tensor" and j["parameter"] != (kind == "parameter"):
                raise F.fail(q, f"a {kind} must hold a tensor with parameter: {'true' if kind == 'parameter' else 'false'}")
        hidden = self.non_persistent(doc, cls, p + ".non_persistent") if self.version >= 2 else set()
        obj = self.make_object(cls, values, training, p)
        if hidden:
            obj._non_persistent_buffers_set = hidden  # Note [Non-persistent buffers] in writer.py
        self.building.discard(index)
        self.objects[index] = obj
        return obj

    @staticmethod
    def non_persistent(doc: Dict[str, Any], cls: ClassType, path: str) -> Set[str]:
        """The `non_persistent` buffer names of an object (docs/archive.md §7): buffers of its class, each once."""
        names: Set[str] = set()
        for i, name in enumerate(F.lst(doc["non_persistent"], path)):
            name = F.string(name, f"{path}[{i}]")
            if cls.attr_kinds.get(name) != "buffer":
                raise F.fail(f"{path}[{i}]", f"{name!r} is not a buffer of {cls.name}")
            if name in names:
                raise F.fail(f"{path}[{i}]", f"buffer {name!r} is listed twice")
            names.add(name)
        return names

    def make_object(self, cls: ClassType, values: Dict[str, Any], training: Optional[bool], p: str) -> Any:
        if not cls.is_module:
            from ..codegen.runtime import ScriptObject

            o = ScriptObject(cls)
            for name, v in values.items():
                setattr(o, name, v)
            return o
        from ..api import ScriptModule

        try:
            m = ScriptModule.create(self.unit, cls, values)
        except Error as e:
            raise F.fail(p, f"cannot build a {cls.name}: {e}") from None
        if "training" not in cls.attributes:
            m.training = bool(training)
        return m


class _GraphReader:
    """Builds one function's graph; value ids are checked to follow definition order."""

    def __init__(self, loader: _Loader, fn_path: str):
        self.loader = loader
        self.fn_path = fn_path
        self.values: List[Value] = []

    def define(self, j: Any, path: str) -> Tuple[Type, Optional[str]]:
        j = F.obj(j, path, ("id", "type", "name"))
        vid = F.integer(j["id"], path + ".id")
        if vid != len(self.values):
            raise F.fail(path + ".id", f"expected value id {len(self.values)} (ids follow definition order), found {vid}")
        return self.loader.type(j["type"], path + ".type"), F.opt_string(j["name"], path + ".name")

    def use(self, j: Any, path: str) -> Value:
        vid = F.integer(j, path)
        if not 0 <= vid < len(self.values):
            raise F.fail(path, f"value {vid} is not defined before its use")
        return self.values[vid]

    def block_into(self, j: Any, block: Block, path: str, depth: int) -> None:
        if depth > F.MAX_BLOCK_DEPTH:
            raise F.fail(path, f"blocks nested more than {F.MAX_BLOCK_DEPTH} deep")
        j = F.obj(j, path, ("params", "nodes", "returns"))
        for i, p in enumerate(F.lst(j["params"], path + ".params")):
            t, name = self.define(p, f"{path}.params[{i}]")
            self.values.append(block.add_param(t, name))
        for i, n in enumerate(F.lst(j["nodes"], path + ".nodes")):
            block.append(self.node(n, f"{path}.nodes[{i}]", depth))
        for i, r in enumerate(F.lst(j["returns"], path + ".returns")):
            block.add_return(self.use(r, f"{path}.returns[{i}]"))

    def node(self, j: Any, path: str, depth: int) -> Node:
        from .. import ops

        j = F.obj(j, path, ("kind", "inputs", "outputs", "attrs", "blocks", "loc"))
        kind = F.string(j["kind"], path + ".kind")
        if ops.find(kind) is None:
            raise F.fail(path, f"unknown op {kind!r} (not an ATen op of this PyTorch, not a torchkiln prim op)")
        attrs = {}
        for name, v in F.dict_of(j["attrs"], path + ".attrs").items():
            if not name.isidentifier():
                raise F.fail(path + ".attrs", f"attribute name {name!r} is not an identifier")
            attrs[name] = self.loader.value(v, f"{path}.attrs.{name}")
        node = Node(kind, attrs, self.loader.loc(j["loc"], path + ".loc"))
        for i, x in enumerate(F.lst(j["inputs"], path + ".inputs")):
            node.add_input(self.use(x, f"{path}.inputs[{i}]"))
        for i, o in enumerate(F.lst(j["outputs"], path + ".outputs")):
            t, name = self.define(o, f"{path}.outputs[{i}]")
            self.values.append(node.add_output(t, name))
        for i, b in enumerate(F.lst(j["blocks"], path + ".blocks")):
            self.block_into(b, node.add_block(), f"{path}.blocks[{i}]", depth + 1)
        return node


def _named(table: Dict[str, Any], text: str, path: str, what: str) -> Any:
    found = table.get(text)
    if found is None:
        raise F.fail(path, f"unknown {what} {text!r}")
    return found


def _device(text: str, path: str) -> torch.device:
    try:
        return torch.device(text)
    except (RuntimeError, ValueError, TypeError) as e:
        raise F.fail(path, f"not a device: {text!r} ({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None
