"""Mutation tests: whatever is done to an archive, loading succeeds or raises ArchiveError.

Byte flips and truncations exercise the zip layer (mostly CRC and header
checks); structured JSON mutations, re-zipped with valid CRCs, exercise the
field-by-field validation behind it. An ArchiveError whose message starts
with "corrupt archive (" came through the reader's safety net rather than an
explicit check (Note [No internal tracebacks]) and fails these tests too.
"""
import io
import json
import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from torchkiln import archive
from torchkiln.diagnostics import ArchiveError

from archive_models import entries, make_function, make_interface_module, make_module, rezip


def _saved(obj) -> bytes:
    buf = io.BytesIO()
    archive.save(obj, buf)
    return buf.getvalue()


ARCHIVES = [_saved(make_function()), _saved(make_module()), _saved(make_interface_module())]
SETTINGS = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def load_or_archive_error(data: bytes) -> None:
    try:
        archive.load(io.BytesIO(data))
    except ArchiveError as e:
        assert not str(e).startswith("corrupt archive ("), f"unchecked failure: {e}"


@SETTINGS
@given(which=st.sampled_from(range(len(ARCHIVES))), flips=st.lists(st.tuples(st.integers(0, 1 << 30), st.integers(1, 255)), min_size=1, max_size=4))
def test_flipped_bytes(which, flips):
    data = bytearray(ARCHIVES[which])
    for pos, mask in flips:
        data[pos % len(data)] ^= mask
    load_or_archive_error(bytes(data))


@SETTINGS
@given(which=st.sampled_from(range(len(ARCHIVES))), cut=st.integers(0, 1 << 30))
def test_truncated(which, cut):
    data = ARCHIVES[which]
    load_or_archive_error(data[: cut % len(data)])


# -- structured JSON mutations ----------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(1 << 70), 1 << 70) | st.floats(allow_nan=False) | st.text(max_size=8)
    | st.sampled_from(["Tensor", "int[]", "__torch__.Net", "__torch__.Sub", "t0", "t1", "prim::If", "aten::add.Tensor",
                       "none", "int", "float", "tensor", "object", "list", "dict", "namedtuple", "type", "nan"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(
        st.sampled_from(["tag", "value", "key", "id", "type", "name", "kind", "inputs", "outputs"]), children, max_size=3),
    max_leaves=6,
)


def _paths(doc, prefix=()):
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, prefix + (i,))


def _mutate(doc, path, action, new):
    if not path:
        return new if action != "keep" else doc
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if action == "delete":
        del parent[last]
    elif action == "duplicate" and isinstance(parent, list):
        parent.insert(last, json.loads(json.dumps(parent[last])))
    elif action == "int" and isinstance(parent[last], int) and not isinstance(parent[last], bool):
        parent[last] = parent[last] + (new if isinstance(new, int) and not isinstance(new, bool) else 1)
    else:
        parent[last] = new
    return doc


@settings(max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    which=st.sampled_from(range(len(ARCHIVES))),
    entry=st.sampled_from(["ir.json", "objects.json", "debug.json", "manifest.json"]),
    pick=st.integers(0, 1 << 30),
    action=st.sampled_from(["replace", "delete", "duplicate", "int"]),
    new=JSON_VALUES,
)
def test_mutated_json(which, entry, pick, action, new):
    data = ARCHIVES[which]
    doc = json.loads(entries(data)[entry])
    paths = list(_paths(doc))
    path = paths[pick % len(paths)]
    doc = _mutate(doc, path, action, new)
    load_or_archive_error(rezip(data, {entry: json.dumps(doc).encode()}))


@SETTINGS
@given(which=st.sampled_from(range(len(ARCHIVES))), pick=st.integers(0, 1 << 30), action=st.sampled_from(["replace", "delete", "duplicate", "int"]), new=JSON_VALUES)
def test_mutated_safetensors_header(which, pick, action, new):
    data = ARCHIVES[which]
    blob = entries(data)["tensors.safetensors"]
    (n,) = struct.unpack_from("<Q", blob, 0)
    header = json.loads(blob[8:8 + n])
    paths = list(_paths(header))
    header = _mutate(header, paths[pick % len(paths)], action, new)
    text = json.dumps(header).encode()
    load_or_archive_error(rezip(data, {"tensors.safetensors": struct.pack("<Q", len(text)) + text + blob[8 + n:]}))
