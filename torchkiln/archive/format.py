"""Names, limits and encodings of the archive format (see docs/archive.md).

Both sides of the format live here so they cannot drift apart: the entry
names, the dtype tables, safe entry names, the JSON codec, the small checked
accessors the reader uses on untrusted JSON, and the safetensors layout.

Every check raises `ArchiveError` with a path naming the place:

```
ir.json: functions[0].graph.nodes[3].inputs[1]: value 17 is not defined before its use
```
"""
from __future__ import annotations

import json
import math
import re
import struct
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

import torch

from ..diagnostics import ArchiveError
from ..ir import nesting as _nesting
from ..ir.printer import print_type
from ..ir.types import (
    BOOL,
    DEVICE,
    FLOAT,
    INT,
    LAYOUT,
    MEMORY_FORMAT,
    NONE,
    SCALAR,
    SCALAR_TYPE,
    STR,
    AnyType,
    ClassType,
    DictType,
    InterfaceType,
    ListType,
    OptionalType,
    TensorType,
    TupleType,
    Type,
    UnionType,
)

FORMAT_NAME = "torchkiln"
FORMAT_VERSION = 3  # what the writer writes
OLDEST_FORMAT_VERSION = 1  # readers read OLDEST_FORMAT_VERSION..FORMAT_VERSION (docs/archive.md §10)

# Note [Format versions]
# ----------------------
# Version 2 added two fields: `non_persistent` on every objects.json object
# (the buffers registered `persistent=False`, kept out of `state_dict()`)
# and `positional_only` on every FUNCTION arg (`def f(x, /)`). Both are
# required in a version 2 file and absent from a version 1 file, which reads
# as "no non-persistent buffers, no positional-only parameters"; every other
# rule is the same. So the field lists stay complete for each version, and a
# version 1 reader rejects a version 2 file by its version, not by guessing.
#
# Version 3 added `interfaces` to ir.json: every interface type the classes
# and functions name (`__torch__.m.OneArg`), with its method signatures, so
# TYPE strings name interfaces where versions 1 and 2 wrote `Any`. A reader
# checks values against them: a module assigned to an interface-typed
# submodule attribute, an argument passed for an interface-typed parameter.
# A version 1 or 2 file has no `interfaces` field and no interface types:
# its interface-typed values read as `Any`, as they were written.

# Fields of the objects that changed between versions (Note [Format versions]).
_OBJECT_V2 = ("class", "training", "non_persistent", "attributes")
_ARG_V2 = ("name", "type", "default", "kwarg_only", "positional_only")
OBJECT_FIELDS = {1: ("class", "training", "attributes"), 2: _OBJECT_V2, 3: _OBJECT_V2}
ARG_FIELDS = {1: ("name", "type", "default", "kwarg_only"), 2: _ARG_V2, 3: _ARG_V2}
IR_FIELDS = {1: ("classes", "functions"), 2: ("classes", "functions"), 3: ("interfaces", "classes", "functions")}

MANIFEST = "manifest.json"
IR = "ir.json"
OBJECTS = "objects.json"
DEBUG = "debug.json"
TENSORS = "tensors.safetensors"
CODE_PREFIX = "code/"
EXTRA_PREFIX = "extra/"
REQUIRED_ENTRIES = (MANIFEST, IR, OBJECTS, DEBUG, TENSORS)

MAX_JSON_BYTES = 512 << 20
# Note [Archive nesting limits]
# -----------------------------
# A block at depth d sits 4 JSON levels below its parent (BLOCK, "nodes",
# NODE, "blocks"), so the deepest graph allowed (MAX_BLOCK_DEPTH = 1000, the
# limit every stage shares: Note [Block nesting limit] in ir/nesting.py)
# reaches JSON level ~4000, plus up to 3 levels per VALUE level in its
# attributes (MAX_VALUE_DEPTH = 100: 300) and ~10 for the document around
# it: 4310 < MAX_JSON_DEPTH = 5000. Both readers measure a JSON entry's
# nesting without recursion before parsing it. The Python reader then
# parses with `json.loads` (1 C recursion level per JSON level, ~120 bytes
# of stack each) and builds graphs with 2 Python frames per block level,
# inside `recursion_headroom` (6500 frames); the C++ loader parses
# iteratively (SAX), and recurses 2 frames per block level (a few hundred
# bytes each). Deeper files are refused with an ArchiveError naming the
# limit, never a RecursionError or a stack overflow. kMaxJsonDepth and
# kMaxBlockDepth in csrc/src/loader.cpp must equal these numbers.
MAX_JSON_DEPTH = 5000  # nesting of JSON arrays/objects in one entry
MAX_VALUE_DEPTH = 100  # nesting of tagged VALUEs
MAX_BLOCK_DEPTH = _nesting.MAX_BLOCK_DEPTH  # nesting of blocks in a graph: 1000
MAX_NAME_BYTES = 255
MAX_DIMS = 64  # dimensions of one tensor
MAX_ENTRIES = 1 << 20
TENSORS_ALIGN = 64  # the writer aligns the start of tensors.safetensors' data in the zip

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1

# Fixed zip metadata, so the same module saves to the same bytes.
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
ZIP_EXTERNAL_ATTR = 0o644 << 16
ZIP_CREATE_SYSTEM = 3
ALIGN_EXTRA_ID = 0xD935


# -- dtypes -------------------------------------------------------------------

# safetensors code <-> torch dtype (docs/archive.md §6).
ST_DTYPES: Dict[str, torch.dtype] = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "F8_E4M3": torch.float8_e4m3fn,
    "F8_E5M2": torch.float8_e5m2,
    "F8_E4M3FNUZ": torch.float8_e4m3fnuz,
    "F8_E5M2FNUZ": torch.float8_e5m2fnuz,
    "C64": torch.complex64,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "U16": torch.uint16,
    "U32": torch.uint32,
    "U64": torch.uint64,
    "BOOL": torch.bool,
}
DTYPE_ST: Dict[torch.dtype, str] = {d: code for code, d in ST_DTYPES.items()}


def _torch_values(kind: type) -> Dict[str, Any]:
    return {str(v)[len("torch."):]: v for v in vars(torch).values() if isinstance(v, kind)}


# torch dtype name ("float32") <-> dtype, for `dtype` VALUEs and tensor references.
DTYPES: Dict[str, torch.dtype] = _torch_values(torch.dtype)
LAYOUTS: Dict[str, torch.layout] = _torch_values(torch.layout)
MEMORY_FORMATS: Dict[str, torch.memory_format] = _torch_values(torch.memory_format)


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype)[len("torch."):]


# -- entry names --------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def safe_name_problem(name: str) -> Optional[str]:
    """Why `name` may not follow `code/` or `extra/`, or None when it may."""
    if not isinstance(name, str) or not name:
        return "the name is empty"
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        return f"the name is longer than {MAX_NAME_BYTES} bytes"
    if _CONTROL.search(name):
        return "the name contains a control character"
    if "\\" in name:
        return "the name contains a backslash"
    if name.startswith("/"):
        return "the name starts with '/'"
    if any(part in ("", ".", "..") for part in name.split("/")):
        return "the name has an empty, '.' or '..' path component"
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "the name is not valid UTF-8"
    return None


# -- JSON ---------------------------------------------------------------------


def dumps(doc: Any) -> bytes:
    """Compact, deterministic JSON text (key order as built) and a newline."""
    try:
        text = json.dumps(doc, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return text.encode("utf-8") + b"\n"
    except (ValueError, UnicodeEncodeError) as e:
        raise ArchiveError(f"cannot save: a value cannot be written as JSON ({e})") from None


def _no_duplicates(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ArchiveError(f"duplicate key {k!r} in a JSON object")
        out[k] = v
    return out


def _reject_constant(name: str) -> Any:
    raise ArchiveError(f"{name} is not allowed in JSON")


def loads(data: bytes, entry: str) -> Any:
    """Parse one JSON entry; any problem is an ArchiveError naming the entry."""
    if len(data) > MAX_JSON_BYTES:
        raise ArchiveError(f"{entry}: {len(data)} bytes is more than the limit of {MAX_JSON_BYTES}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ArchiveError(f"{entry}: not valid UTF-8 ({e.reason} at byte {e.start})") from None
    if _json_depth(text) > MAX_JSON_DEPTH:
        raise ArchiveError(f"{entry}: JSON nested more than {MAX_JSON_DEPTH} levels deep")
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except ArchiveError as e:
        raise ArchiveError(f"{entry}: {e}") from None
    except (ValueError, RecursionError) as e:
        raise ArchiveError(f"{entry}: broken JSON ({e})") from None


_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def _json_depth(text: str) -> int:
    """Deepest nesting of arrays/objects, strings skipped; a C-speed pre-check before json.loads.

    For valid JSON this is exact; for invalid JSON it may overestimate, and
    json.loads would have refused the text anyway.
    """
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return 0
    brackets = _JSON_STRING.sub("", text).encode("utf-8", "surrogatepass").translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    codes = torch.frombuffer(bytearray(brackets), dtype=torch.uint8)
    steps = ((codes == ord("[")) | (codes == ord("{"))).to(torch.int32) * 2 - 1
    return int(steps.cumsum(0).max())


# -- checked access to untrusted JSON -----------------------------------------


def fail(path: str, what: str) -> ArchiveError:
    return ArchiveError(f"{path}: {what}")


def _kind(x: Any) -> str:
    if x is None:
        return "null"
    if isinstance(x, bool):
        return "a boolean"
    if isinstance(x, int):
        return "an integer"
    if isinstance(x, float):
        return "a number"
    if isinstance(x, str):
        return "a string"
    if isinstance(x, list):
        return "a list"
    return "an object"


def obj(x: Any, path: str, fields: Iterable[str]) -> Dict[str, Any]:
    """`x` as a JSON object with exactly `fields`."""
    if not isinstance(x, dict):
        raise fail(path, f"expected an object, found {_kind(x)}")
    want = list(fields)
    missing = [f for f in want if f not in x]
    if missing:
        raise fail(path, f"missing field {missing[0]!r}")
    extra = [f for f in x if f not in want]
    if extra:
        raise fail(path, f"unknown field {extra[0]!r}")
    return x


def dict_of(x: Any, path: str) -> Dict[str, Any]:
    if not isinstance(x, dict):
        raise fail(path, f"expected an object, found {_kind(x)}")
    return x


def lst(x: Any, path: str) -> List[Any]:
    if not isinstance(x, list):
        raise fail(path, f"expected a list, found {_kind(x)}")
    return x


def string(x: Any, path: str) -> str:
    if not isinstance(x, str):
        raise fail(path, f"expected a string, found {_kind(x)}")
    return x


def opt_string(x: Any, path: str) -> Optional[str]:
    return None if x is None else string(x, path)


def boolean(x: Any, path: str) -> bool:
    if not isinstance(x, bool):
        raise fail(path, f"expected true or false, found {_kind(x)}")
    return x


def integer(x: Any, path: str, lo: int = INT64_MIN, hi: int = INT64_MAX) -> int:
    if type(x) is not int:
        raise fail(path, f"expected an integer, found {_kind(x)}")
    if not lo <= x <= hi:
        raise fail(path, f"integer {x} is out of range [{lo}, {hi}]")
    return x


def opt_integer(x: Any, path: str, lo: int = INT64_MIN, hi: int = INT64_MAX) -> Optional[int]:
    return None if x is None else integer(x, path, lo, hi)


# -- floats -------------------------------------------------------------------


def encode_float(x: float) -> Any:
    """A JSON number, or "nan" / "inf" / "-inf" (JSON has no such numbers)."""
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return float(x)


def decode_float(x: Any, path: str) -> float:
    if isinstance(x, str):
        if x in ("nan", "inf", "-inf"):
            return float(x)
        raise fail(path, f"expected a number, 'nan', 'inf' or '-inf', found {x!r}")
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise fail(path, f"expected a number, found {_kind(x)}")
    try:
        return float(x)
    except OverflowError:
        raise fail(path, "number out of the range of a float") from None


# -- values against declared types --------------------------------------------

_SIMPLE_TAGS = {INT: "int", FLOAT: "float", BOOL: "bool", STR: "str", NONE: "none", DEVICE: "device",
                SCALAR_TYPE: "dtype", LAYOUT: "layout", MEMORY_FORMAT: "memory_format"}  # fmt: skip
_SCALAR_TAGS = ("int", "float", "bool", "complex")


def nonconforming(j: Dict[str, Any], t: Type, object_class: Callable[[int], Optional[str]], classes: Optional[Dict[str, ClassType]] = None) -> Optional[str]:
    """Why the (well-formed) VALUE `j` does not fit the declared type `t`, or None.

    The rules of docs/archive.md §5; `object_class(i)` is the class name of
    object `i` (None when there is no such object); `classes` maps class
    names to the ClassTypes whose methods are checked against interfaces.
    """
    tag = j["tag"]
    if isinstance(t, InterfaceType):
        if tag != "object":
            return f"expected an object implementing {t.name}, found a {tag} value"
        found = object_class(j["value"])
        cls = (classes or {}).get(found) if found is not None else None
        if cls is None:
            return f"expected an object implementing {t.name}, found one of {found}"
        why = t.why_not_implemented_by(cls)
        return None if why is None else f"an object of {cls.name} does not implement the interface {t.name}: {why}"
    if isinstance(t, AnyType):
        return None
    if isinstance(t, OptionalType):
        return None if tag == "none" else nonconforming(j, t.elem, object_class, classes)
    if isinstance(t, UnionType):
        if any(nonconforming(j, m, object_class, classes) is None for m in t.members):
            return None
        return f"a {tag} value fits no member of {print_type(t)}"
    want: Optional[str] = None
    if isinstance(t, TensorType):
        want = "tensor"
    elif t in _SIMPLE_TAGS:
        want = _SIMPLE_TAGS[t]
    elif t == SCALAR:
        return None if tag in _SCALAR_TAGS else f"expected a number for Scalar, found a {tag} value"
    elif isinstance(t, ListType):
        if tag != "list":
            return f"expected a list for {print_type(t)}, found a {tag} value"
        return _first(nonconforming(x, t.elem, object_class, classes) for x in j["value"])
    elif isinstance(t, TupleType):
        want = "tuple" if t.name is None else "namedtuple"
        if tag != want:
            return f"expected a {want} for {print_type(t)}, found a {tag} value"
        if t.name is not None and j["type"] != print_type(t):
            return f"expected a {print_type(t)}, found a {j['type']}"
        if len(j["value"]) != len(t.elems):
            return f"expected {len(t.elems)} items for {print_type(t)}, found {len(j['value'])}"
        return _first(nonconforming(x, e, object_class, classes) for x, e in zip(j["value"], t.elems))
    elif isinstance(t, DictType):
        if tag != "dict":
            return f"expected a dict for {print_type(t)}, found a {tag} value"
        return _first(
            nonconforming(k, t.key, object_class, classes) or nonconforming(v, t.value, object_class, classes) for k, v in j["value"]
        )
    elif isinstance(t, ClassType):
        if tag != "object":
            return f"expected an object of {t.name}, found a {tag} value"
        found = object_class(j["value"])
        return None if found == t.name else f"expected an object of {t.name}, found one of {found}"
    if want is None:
        return f"values of type {print_type(t)} cannot be stored"
    return None if tag == want else f"expected a {want} value for {print_type(t)}, found a {tag} value"


def _first(problems: Iterable[Optional[str]]) -> Optional[str]:
    for p in problems:
        if p is not None:
            return p
    return None


# -- safetensors --------------------------------------------------------------


def tensor_bytes(t: torch.Tensor) -> memoryview:
    """The raw little-endian bytes of a contiguous CPU tensor (no copy)."""
    flat = t.reshape(-1)
    if flat.numel() == 0:
        return memoryview(b"")
    return memoryview(flat.view(torch.uint8).numpy()).cast("B")


def safetensors_header(entries: List[Tuple[str, torch.Tensor]]) -> Tuple[bytes, List[Tuple[str, torch.Tensor]]]:
    """The length prefix + JSON header, and the tensors in data order.

    Data order: decreasing element size, then the order given (key number),
    so each tensor's data is aligned to its element size.
    """
    ordered = [e for _, e in sorted(enumerate(entries), key=lambda ie: (-ie[1][1].element_size(), ie[0]))]
    header: Dict[str, Any] = {"__metadata__": {"format": "pt"}}
    pos = 0
    for key, t in ordered:
        n = t.numel() * t.element_size()
        header[key] = {"dtype": DTYPE_ST[t.dtype], "shape": list(t.shape), "data_offsets": [pos, pos + n]}
        pos += n
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-(8 + len(text)) % 8)
    return struct.pack("<Q", len(text)) + text, ordered


def shape_of(x: Any, path: str) -> Tuple[int, ...]:
    """A tensor shape: a list of at most MAX_DIMS integers >= 0."""
    dims = lst(x, path)
    if len(dims) > MAX_DIMS:
        raise fail(path, f"{len(dims)} dimensions, more than the limit of {MAX_DIMS}")
    return tuple(integer(d, f"{path}[{i}]", 0) for i, d in enumerate(dims))


class StoredTensor:
    """One safetensors entry: dtype, shape and its byte range in the data."""

    __slots__ = ("dtype", "shape", "begin", "end")

    def __init__(self, dtype: torch.dtype, shape: Tuple[int, ...], begin: int, end: int):
        self.dtype = dtype
        self.shape = shape
        self.begin = begin
        self.end = end


def parse_safetensors(buf: bytes, entry: str = TENSORS) -> Tuple[Dict[str, StoredTensor], int]:
    """Validate a safetensors file: its entries and where the data starts.

    Checks (docs/archive.md §6): header length within the file, header JSON
    shape, known dtypes, sizes matching shapes, and data offsets tiling the
    data exactly (no holes, no overlap, nothing past the end).
    """
    if len(buf) < 8:
        raise fail(entry, f"only {len(buf)} bytes; a safetensors file starts with an 8-byte header length")
    (n,) = struct.unpack_from("<Q", buf, 0)
    if n > len(buf) - 8:
        raise fail(entry, f"header length {n} is beyond the end of the entry ({len(buf)} bytes)")
    header = dict_of(loads(bytes(buf[8:8 + n]), entry + " header"), entry + " header")
    data_start = 8 + n
    data_len = len(buf) - data_start
    stored: Dict[str, StoredTensor] = {}
    for key, info in header.items():
        path = f"{entry}: {key!r}"
        if key == "__metadata__":
            for mk, mv in dict_of(info, path).items():
                string(mv, f"{path}.{mk}")
            continue
        info = obj(info, path, ("dtype", "shape", "data_offsets"))
        code = string(info["dtype"], path + ".dtype")
        if code not in ST_DTYPES:
            raise fail(path + ".dtype", f"unknown dtype {code!r}")
        dtype = ST_DTYPES[code]
        shape = shape_of(info["shape"], path + ".shape")
        offsets = lst(info["data_offsets"], path + ".data_offsets")
        if len(offsets) != 2:
            raise fail(path + ".data_offsets", "expected [begin, end]")
        begin = integer(offsets[0], path + ".data_offsets[0]", 0)
        end = integer(offsets[1], path + ".data_offsets[1]", begin)
        nbytes = 0 if 0 in shape else dtype.itemsize
        for d in shape:
            nbytes *= d
            if nbytes > end - begin:  # stop early: hostile shapes could make huge products
                break
        if nbytes != end - begin:
            raise fail(path, f"shape {list(shape)} of {dtype_name(dtype)} does not fit data_offsets [{begin}, {end}]")
        stored[key] = StoredTensor(dtype, shape, begin, end)
    pos = 0
    for key, st in sorted(stored.items(), key=lambda kv: (kv[1].begin, kv[1].end)):
        if st.begin != pos:
            what = "overlaps the previous tensor" if st.begin < pos else f"leaves a hole at byte {pos}"
            raise fail(f"{entry}: {key!r}", f"data_offsets [{st.begin}, {st.end}] {what}")
        pos = st.end
    if pos != data_len:
        raise fail(entry, f"tensors cover {pos} bytes of data but the entry holds {data_len}")
    return stored, data_start
