"""The C++ loader validates like the Python reader: hostile or broken archives are
torchkiln::Error (exit status 1 from torchkiln-run), never a crash, and the two
readers accept and reject the same files."""
import io
import json
import random
import struct
import subprocess
import zipfile

import pytest
import torch

from torchkiln import archive
from torchkiln.diagnostics import ArchiveError

import archive_models
from archive_models import entries, rezip


def saved(obj) -> bytes:
    buf = io.BytesIO()
    archive.save(obj, buf)
    return buf.getvalue()


FUNCTION = saved(archive_models.make_function())
MODULE = saved(archive_models.make_module())
INTERFACE_MODULE = saved(archive_models.make_interface_module())


def python_accepts(data: bytes) -> bool:
    try:
        archive.load(io.BytesIO(data))
        return True
    except ArchiveError:
        return False


def cpp_load_many(rt, tmp_path, blobs):
    """Per blob: None when the C++ loader accepts it, else its error message."""
    paths = []
    for i, blob in enumerate(blobs):
        p = tmp_path / f"a{i}.pt"
        p.write_bytes(blob)
        paths.append(str(p))
    proc = subprocess.run([str(rt.driver), "load-many", *paths], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"the loader crashed (status {proc.returncode}): {proc.stderr[-2000:]}"
    lines = proc.stdout.splitlines()
    assert len(lines) == len(blobs)
    return [None if line == "ok" else line.split("\t", 1)[1] for line in lines]


def cpp_error(rt, tmp_path, blob) -> str:
    message = cpp_load_many(rt, tmp_path, [blob])[0]
    assert message is not None, "the C++ loader accepted a broken archive"
    return message


# -- explicit cases ----------------------------------------------------------------------


def edit_json(data, entry, change):
    doc = json.loads(entries(data)[entry])
    change(doc)
    return rezip(data, {entry: json.dumps(doc).encode()})


def first_node(doc, kind):
    def walk(block):
        for node in block["nodes"]:
            yield node
            for b in node["blocks"]:
                yield from walk(b)

    for fn in doc["functions"]:
        for node in walk(fn["graph"]):
            if node["kind"] == kind:
                return node
    raise AssertionError(kind)


def set_kind(doc, old, new):
    first_node(doc, old)["kind"] = new


CASES = {
    "not a zip": (b"PK\x03\x04 definitely not a model", "not a valid torchkiln archive"),
    "empty file": (b"", "too short"),
    "compressed entries": (rezip(FUNCTION, compress=True), "compression method 8"),
    "missing ir.json": (rezip(FUNCTION, {"ir.json": None}), "missing entry 'ir.json'"),
    "unknown entry": (rezip(FUNCTION, add={"evil.py": b"import os"}), "unexpected entry 'evil.py'"),
    "unsafe extra name": (rezip(FUNCTION, add={"extra/../x": b""}), "unexpected entry 'extra/../x'"),
    "future version": (edit_json(FUNCTION, "manifest.json", lambda d: d.update(format_version=4)),
                       "format version 4 is not supported (this runtime reads versions 1 to 3)"),
    "version 2 field in version 1": (edit_json(archive_models.as_version_1(MODULE), "objects.json",
                                               lambda d: d["objects"][0].update(non_persistent=[])),
                                     "objects.json: objects[0]: unknown field 'non_persistent'"),
    "missing non_persistent": (edit_json(MODULE, "objects.json", lambda d: d["objects"][1].pop("non_persistent")),
                               "objects.json: objects[1]: missing field 'non_persistent'"),
    "non_persistent parameter": (edit_json(MODULE, "objects.json", lambda d: d["objects"][0].update(non_persistent=["weight"])),
                                 "objects.json: objects[0].non_persistent[0]: 'weight' is not a buffer of __torch__.Net"),
    "non_persistent twice": (edit_json(MODULE, "objects.json", lambda d: d["objects"][0].update(non_persistent=["mask", "mask"])),
                             "objects[0].non_persistent[1]: buffer 'mask' is listed twice"),
    "missing positional_only": (edit_json(FUNCTION, "ir.json", lambda d: d["functions"][1]["args"][0].pop("positional_only")),
                                "functions[1].args[0]: missing field 'positional_only'"),
    "positional_only after others": (edit_json(FUNCTION, "ir.json",
                                               lambda d: d["functions"][0]["args"][1].update(positional_only=True)),
                                     "functions[0].args[1]: a positional-only argument must come before the others"),
    "unknown op": (edit_json(FUNCTION, "ir.json", lambda d: set_kind(d, "aten::add.Tensor", "aten::frobnicate")),
                   "functions[0].graph.nodes[4].blocks[0].nodes[0]: unknown op 'aten::frobnicate'"),
    "unknown field": (edit_json(FUNCTION, "manifest.json", lambda d: d.update(extra=1)), "unknown field 'extra'"),
    "bool for int": (edit_json(FUNCTION, "manifest.json", lambda d: d.update(format_version=True)), "expected an integer"),
    "forward reference": (edit_json(FUNCTION, "ir.json", lambda d: d["functions"][1]["graph"].update(returns=[999])),
                          "value %999 is used before it is defined"),
    "wrong tensor dtype": (edit_json(MODULE, "objects.json",
                                     lambda d: d["objects"][0]["attributes"]["weight"].update(dtype="float64")),
                           "is declared float64 but stored as float32"),
    "missing tensor": (edit_json(MODULE, "objects.json",
                                 lambda d: d["objects"][0]["attributes"]["weight"].update(key="t999")),
                       "tensor 't999' is not in tensors.safetensors"),
    "object cycle": (edit_json(MODULE, "objects.json",
                               lambda d: d["objects"][1]["attributes"].update(w={"tag": "object", "value": 0})),
                     "objects.json: objects[1].attributes.w"),
    "duplicate keys": (rezip(FUNCTION, {"debug.json": b'{"ranges":[],"ranges":[]}'}), "duplicate key 'ranges'"),
    "deep nesting": (rezip(FUNCTION, {"debug.json": b"[" * 100000 + b"]" * 100000}), "nested deeper than 5000 levels"),
    "deep blocks": (archive_models.deep_archive(archive.format.MAX_BLOCK_DEPTH + 1), "blocks nested deeper than 1000"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_broken_archive_is_an_error_saying_what_is_wrong(rt, tmp_path, name):
    data, expected = CASES[name]
    assert not python_accepts(data)
    message = cpp_error(rt, tmp_path, data)
    assert expected in message, message


def test_both_readers_accept_the_deepest_blocks_allowed(rt, tmp_path):
    # Note [Archive nesting limits] in archive/format.py: 1000 nested blocks, 4000+ JSON levels.
    data = archive_models.deep_archive(archive.format.MAX_BLOCK_DEPTH)
    assert python_accepts(data)
    assert cpp_load_many(rt, tmp_path, [data]) == [None]


def test_both_readers_accept_version_1_and_the_version_2_fields(rt, tmp_path):
    good = [
        archive_models.as_version_1(FUNCTION),
        archive_models.as_version_1(MODULE),
        edit_json(MODULE, "objects.json", lambda d: d["objects"][0].update(non_persistent=["running", "mask"])),
        edit_json(MODULE, "objects.json", lambda d: d["objects"][0].update(non_persistent=[])),
        edit_json(FUNCTION, "ir.json", lambda d: [a.update(positional_only=True) for a in d["functions"][0]["args"]]),
    ]
    assert all(python_accepts(blob) for blob in good)
    assert cpp_load_many(rt, tmp_path, good) == [None] * len(good)


def test_both_readers_accept_interfaces_and_older_versions_without_them(rt, tmp_path):
    good = [INTERFACE_MODULE, archive_models.as_version_2(INTERFACE_MODULE), archive_models.as_version_1(INTERFACE_MODULE),
            saved(archive_models.make_interface_function())]
    assert all(python_accepts(blob) for blob in good)
    assert cpp_load_many(rt, tmp_path, good) == [None] * len(good)


def test_both_readers_reject_malformed_interfaces_naming_the_place(rt, tmp_path):
    cases = archive_models.broken_interface_archives(INTERFACE_MODULE)
    messages = cpp_load_many(rt, tmp_path, [data for data, _, _ in cases])
    for (data, _, path), message in zip(cases, messages):
        assert not python_accepts(data), path
        assert message is not None, f"the C++ loader accepted a broken archive ({path})"
        assert path in message, (path, message)


def test_runner_reports_a_broken_archive_with_status_1(rt, tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"PK\x03\x04 definitely not a model")
    inputs = tmp_path / "in.safetensors"
    from safetensors.torch import save_file

    save_file({"input.0": torch.ones(1)}, str(inputs))
    proc = subprocess.run([str(rt.runner), str(bad), str(inputs), str(tmp_path / "out.safetensors")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "cannot load" in proc.stderr and "not a valid torchkiln archive" in proc.stderr


def test_zip_entries_must_not_overlap(rt, tmp_path):
    # Point the central directory entry of objects.json at ir.json's local header.
    data = bytearray(FUNCTION)
    with zipfile.ZipFile(io.BytesIO(FUNCTION)) as zf:
        infos = {i.filename: i for i in zf.infolist()}
    start = struct.unpack_from("<I", data, len(data) - 22 + 16)[0]
    pos = start
    while data[pos:pos + 4] == b"PK\x01\x02":
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", data, pos + 28)
        name = bytes(data[pos + 46:pos + 46 + name_len]).decode()
        if name == "objects.json":
            struct.pack_into("<I", data, pos + 42, infos["ir.json"].header_offset)
        pos += 46 + name_len + extra_len + comment_len
    message = cpp_error(rt, tmp_path, bytes(data))
    assert "local header naming a different file" in message or "overlap" in message


# -- the two readers agree ------------------------------------------------------------------


def _paths(doc, prefix=()):
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, prefix + (i,))


REPLACEMENTS = [None, True, False, 0, 1, -1, 2**40, 2**70, 1.5, "", "Tensor", "int[]", "__torch__.Net", "t0", "t1",
                "prim::If", "aten::add.Tensor", "none", "int", "tensor", "object", {"tag": "none"},
                {"tag": "int", "value": 3}, [], {}, [0], "nan"]


def json_mutants(data, count, seed):
    rng = random.Random(seed)
    names = ["ir.json", "objects.json", "debug.json", "manifest.json"]
    out = []
    for _ in range(count):
        entry = rng.choice(names)
        doc = json.loads(entries(data)[entry])
        path = rng.choice(list(_paths(doc)))
        action = rng.choice(["replace", "delete", "duplicate"])
        if not path:
            doc = rng.choice(REPLACEMENTS)
        else:
            parent = doc
            for step in path[:-1]:
                parent = parent[step]
            last = path[-1]
            if action == "delete":
                del parent[last]
            elif action == "duplicate" and isinstance(parent, list):
                parent.insert(last, json.loads(json.dumps(parent[last])))
            else:
                parent[last] = rng.choice(REPLACEMENTS)
        out.append(rezip(data, {entry: json.dumps(doc).encode()}))
    return out


def byte_mutants(data, count, seed):
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        blob = bytearray(data)
        if rng.random() < 0.3:
            blob = blob[: rng.randrange(len(blob))]
        else:
            for _ in range(rng.randint(1, 4)):
                blob[rng.randrange(len(blob))] ^= rng.randint(1, 255)
        out.append(bytes(blob))
    return out


def test_python_and_cpp_readers_agree_on_mutated_archives(rt, tmp_path):
    blobs = (json_mutants(FUNCTION, 150, 1) + json_mutants(MODULE, 250, 2) + json_mutants(INTERFACE_MODULE, 150, 7)
             + json_mutants(archive_models.as_version_1(MODULE), 60, 5)
             + byte_mutants(FUNCTION, 40, 3) + byte_mutants(MODULE, 40, 4))
    cpp = cpp_load_many(rt, tmp_path, blobs)
    disagree = []
    for i, (blob, message) in enumerate(zip(blobs, cpp)):
        py = python_accepts(blob)
        if py != (message is None):
            disagree.append(f"#{i}: python {'accepts' if py else 'rejects'}, C++ {'accepts' if message is None else 'rejects: ' + message}")
    assert not disagree, f"{len(disagree)} of {len(blobs)} differ:\n" + "\n".join(disagree[:40])


def test_loader_survives_random_corruption_in_process(rt, tmp_path):
    for name, data in (("function", FUNCTION), ("module", MODULE), ("interface", INTERFACE_MODULE)):
        path = tmp_path / f"{name}.pt"
        path.write_bytes(data)
        proc = subprocess.run([str(rt.driver), "fuzz", str(path), "3000", "7"], capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr[-2000:]}"
        stats = dict(line.split() for line in proc.stdout.splitlines())
        assert int(stats["rejected"]) > 2000


def keep_inputs(kind, count):
    def change(doc):
        node = first_node(doc, kind)
        node["inputs"] = node["inputs"][:count]

    return change


def python_error(data: bytes) -> str:
    with pytest.raises(ArchiveError) as info:
        archive.load(io.BytesIO(data))
    return str(info.value)


def test_readers_agree_on_an_aten_node_missing_a_defaulted_input(rt, tmp_path):
    # Note [Every op input is explicit] (torchkiln/csrc/src/compile.cpp): `alpha=1` must be written.
    blob = edit_json(FUNCTION, "ir.json", keep_inputs("aten::add.Tensor", 2))
    assert "aten::add.Tensor takes 3 inputs, the node has 2" in python_error(blob)
    message = cpp_error(rt, tmp_path, blob)
    assert "functions[0].graph.nodes[4].blocks[0].nodes[0]: aten::add.Tensor takes 3 inputs but the node has 2" in message
    assert "no input for argument 'alpha'" in message


@pytest.mark.parametrize("kind, count, argument", [("aten::add.Tensor", 1, "other"), ("prim::gt", 1, "b"),
                                                   ("prim::gt", 0, "a")])
def test_both_readers_refuse_an_op_node_missing_inputs(rt, tmp_path, kind, count, argument):
    blob = edit_json(FUNCTION, "ir.json", keep_inputs(kind, count))
    assert not python_accepts(blob)
    message = cpp_error(rt, tmp_path, blob)
    assert f"{kind} takes " in message and f"no input for argument '{argument}'" in message, message


def test_both_readers_let_a_call_leave_out_only_defaulted_arguments(rt, tmp_path):
    # Calls of archive functions, unlike op nodes, may leave out trailing arguments that have defaults.
    without_default = edit_json(FUNCTION, "ir.json", keep_inputs("prim::CallFunction", 1))  # helper(x, k=2.0)
    assert python_accepts(without_default)
    assert cpp_load_many(rt, tmp_path, [without_default]) == [None]

    missing = edit_json(FUNCTION, "ir.json", keep_inputs("prim::CallFunction", 0))  # x has no default
    assert "no input for argument 'x', which has no default" in python_error(missing)
    assert "__torch__.helper: missing argument 'x'" in cpp_error(rt, tmp_path, missing)
