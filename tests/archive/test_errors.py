"""Every broken or hostile archive is an ArchiveError with a message saying what is wrong."""
import io
import json
import struct
import zipfile

import pytest

from torchkiln import archive
from torchkiln.diagnostics import ArchiveError

from archive_models import as_version_1, as_version_2, broken_interface_archives, deep_archive, entries, make_function, make_interface_module, make_module, rezip


def saved(obj) -> bytes:
    buf = io.BytesIO()
    archive.save(obj, buf)
    return buf.getvalue()


FUNCTION = saved(make_function())
MODULE = saved(make_module())


def load(data: bytes):
    return archive.load(io.BytesIO(data))


def fails(data: bytes, match: str):
    with pytest.raises(ArchiveError, match=match):
        load(data)


def edit_json(data: bytes, entry: str, change) -> bytes:
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


def test_rezip_of_a_good_archive_loads():
    load(rezip(FUNCTION))
    load(rezip(MODULE))


# -- the container ------------------------------------------------------------------


def test_not_a_zip():
    fails(b"this is not a zip file at all", "not a valid zip")
    fails(b"", "not a valid zip")


def test_truncated_file():
    for cut in (len(MODULE) // 3, len(MODULE) - 30, 100):
        fails(MODULE[:cut], "not a valid zip|beyond the end|truncated|cut off|corrupt")


def test_missing_manifest():
    fails(rezip(FUNCTION, {"manifest.json": None}), "no manifest.json")


def test_missing_other_entries():
    for name in ("ir.json", "objects.json", "debug.json", "tensors.safetensors"):
        fails(rezip(FUNCTION, {name: None}), f"no {name}")


def test_unexpected_and_unsafe_entries():
    fails(rezip(FUNCTION, add={"evil.py": b"import os"}), "unexpected entry 'evil.py'")
    fails(rezip(FUNCTION, add={"extra/../../etc/passwd": b""}), "unsafe entry name")
    fails(rezip(FUNCTION, add={"code//x.py": b""}), "unsafe entry name")


def test_compressed_entries_are_refused():
    fails(rezip(FUNCTION, compress=True), "compressed")


def test_duplicate_entries():
    buf = io.BytesIO(FUNCTION)
    with pytest.warns(UserWarning), zipfile.ZipFile(buf, "a") as zf:
        zf.writestr("ir.json", b"{}")
    fails(buf.getvalue(), "two entries named 'ir.json'")


def test_crc_mismatch():
    i = FUNCTION.index(b'"format_version"')
    data = FUNCTION[:i] + b"X" + FUNCTION[i + 1:]
    fails(data, "CRC-32 mismatch")


def test_crc_mismatch_in_entries_nothing_reads():
    # code/ entries are for people and extra/ entries are read on request; a flipped
    # byte in either still makes the archive corrupt (docs/archive.md §2).
    names = [n for n in entries(MODULE) if n.startswith("code/")]
    assert names, "the module archive should hold generated code"
    for name in names:
        body = entries(MODULE)[name]
        start = MODULE.index(body)
        data = MODULE[:start] + bytes([body[0] ^ 0x20]) + MODULE[start + 1:]
        fails(data, f"entry {name!r}: CRC-32 mismatch")
    buf = io.BytesIO()
    archive.save(make_module(), buf, _extra_files={"notes.txt": b"hello world"})
    good = buf.getvalue()
    i = good.index(b"hello world")
    fails(good[:i] + b"j" + good[i + 1:], "entry 'extra/notes.txt': CRC-32 mismatch")


def _central_entry(data: bytes, name: bytes) -> int:
    """Offset of the central directory record for `name`."""
    pos = data.index(b"PK\x01\x02")
    while True:
        (n_len,) = struct.unpack_from("<H", data, pos + 28)
        if data[pos + 46:pos + 46 + n_len] == name:
            return pos
        extra, comment = struct.unpack_from("<HH", data, pos + 30)
        pos = data.index(b"PK\x01\x02", pos + 46 + n_len + extra + comment)


def test_declared_size_far_beyond_the_file():
    pos = _central_entry(FUNCTION, b"ir.json")
    data = bytearray(FUNCTION)
    struct.pack_into("<II", data, pos + 20, 0x7FFFFFF0, 0x7FFFFFF0)  # compressed and uncompressed size
    fails(bytes(data), "declares 2147483632 bytes .* beyond the end of the file")


def test_safetensors_header_length_far_beyond_the_entry():
    st = bytearray(entries(FUNCTION)["tensors.safetensors"])
    struct.pack_into("<Q", st, 0, 1 << 60)
    fails(rezip(FUNCTION, {"tensors.safetensors": bytes(st)}), "header length .* beyond the end")


def test_safetensors_offsets_out_of_range():
    def change(st):
        n = struct.unpack_from("<Q", st, 0)[0]
        header = json.loads(st[8:8 + n])
        header["t0"]["data_offsets"] = [0, 1 << 40]
        header["t0"]["shape"] = [1 << 38]
        text = json.dumps(header).encode()
        return struct.pack("<Q", len(text)) + text + st[8 + n:]

    st = entries(FUNCTION)["tensors.safetensors"]
    fails(rezip(FUNCTION, {"tensors.safetensors": change(st)}), "tensors cover|hole|declared with shape")


# -- manifest ---------------------------------------------------------------------


def test_unknown_format_version():
    fails(edit_json(FUNCTION, "manifest.json", lambda m: m.update(format_version=4)), "unknown format version 4.*reads versions 1 to 3.*upgrade")
    fails(edit_json(FUNCTION, "manifest.json", lambda m: m.update(format_version=0)), "unknown format version 0.*reads versions 1 to 3$")
    fails(edit_json(FUNCTION, "manifest.json", lambda m: m.update(format_version="1")), "format_version: expected an integer")


def test_wrong_format_name():
    fails(edit_json(FUNCTION, "manifest.json", lambda m: m.update(format="pytorch")), "not a torchkiln archive")


def test_broken_json():
    fails(rezip(FUNCTION, {"ir.json": b'{"classes": [], "functions": ['}), "ir.json: broken JSON")
    fails(rezip(FUNCTION, {"manifest.json": b"\xff\xfe"}), "manifest.json: not valid UTF-8")
    fails(rezip(FUNCTION, {"debug.json": b'{"ranges": [], "ranges": []}'}), "duplicate key 'ranges'")
    fails(rezip(FUNCTION, {"debug.json": b'{"ranges": [NaN]}'}), "NaN is not allowed")


def test_json_of_the_wrong_shape():
    fails(rezip(FUNCTION, {"ir.json": b"[]"}), "ir.json: expected an object, found a list")
    fails(edit_json(FUNCTION, "ir.json", lambda d: d.update(extra=1)), "unknown field 'extra'")
    fails(edit_json(FUNCTION, "ir.json", lambda d: d.pop("functions")), "missing field 'functions'")
    fails(edit_json(FUNCTION, "ir.json", lambda d: d["functions"][0].update(args=None)), r"functions\[0\].args: expected a list")
    fails(edit_json(FUNCTION, "ir.json", lambda d: d["functions"][0]["graph"]["nodes"][0].update(inputs=[True])), r"inputs\[0\]: expected an integer")


def test_deep_nesting_is_refused_without_recursion_errors():
    deep = b"[" * 100000 + b"]" * 100000
    fails(rezip(FUNCTION, {"debug.json": deep}), "nested more than")

    def nest(d):
        v = {"tag": "none"}
        for _ in range(150):
            v = {"tag": "list", "value": [v]}
        first_node(d, "prim::Constant")["attrs"]["value"] = v

    fails(edit_json(FUNCTION, "ir.json", nest), "nested more than")


def test_blocks_nested_past_the_limit_are_refused():
    # Note [Archive nesting limits]: the deepest graph allowed loads; one level more is refused.
    limit = archive.format.MAX_BLOCK_DEPTH
    assert load(deep_archive(limit))(True) is True
    fails(deep_archive(limit + 1), f"blocks nested more than {limit} deep")
    deep_json = b"[" * (archive.format.MAX_JSON_DEPTH + 1) + b"]" * (archive.format.MAX_JSON_DEPTH + 1)
    fails(rezip(FUNCTION, {"debug.json": deep_json}), f"nested more than {archive.format.MAX_JSON_DEPTH} levels")
    ok_json = b'{"ranges":' + b"[" * 4000 + b"]" * 4000 + b"}"
    fails(rezip(FUNCTION, {"debug.json": ok_json}), "ranges")  # parsed (no nesting error), then refused by content


def test_huge_counts_and_numbers():
    fails(edit_json(FUNCTION, "ir.json", lambda d: first_node(d, "prim::ListConstruct")["inputs"].append(1 << 70)), "value .* is not defined|out of range")
    fails(rezip(FUNCTION, {"debug.json": b'{"ranges": [' + b"1" * 5000 + b"]}"}), "broken JSON|expected an object")


# -- ir.json --------------------------------------------------------------------------


def test_unknown_op():
    def change(d):
        first_node(d, "prim::ListConstruct")["kind"] = "aten::frobnicate"

    fails(edit_json(FUNCTION, "ir.json", change), r"functions\[0\].graph.nodes\[\d+\]: unknown op 'aten::frobnicate'")


def test_graph_failing_the_verifier():
    def change(d):
        node = first_node(d, "prim::If")
        node["blocks"].pop()  # prim::If needs two blocks

    fails(edit_json(FUNCTION, "ir.json", change), "fails the IR verifier")

    def retype(d):
        first_node(d, "prim::ListConstruct")["outputs"][0]["type"] = "str"

    fails(edit_json(FUNCTION, "ir.json", retype), "fails the IR verifier")


def test_value_ids_must_follow_definition_order():
    def change(d):
        first_node(d, "prim::ListConstruct")["inputs"][0] = 999

    fails(edit_json(FUNCTION, "ir.json", change), "value 999 is not defined before its use")

    def renumber(d):
        d["functions"][1]["graph"]["params"][1]["id"] = 5

    fails(edit_json(FUNCTION, "ir.json", renumber), "expected value id 1")


def test_bad_types_and_calls():
    fails(edit_json(FUNCTION, "ir.json", lambda d: d["functions"][0].update(returns="NoSuchClass")), "bad type 'NoSuchClass'")
    fails(edit_json(FUNCTION, "ir.json", lambda d: d["functions"][0].update(returns="(" * 5000)), "bad type|nested too deeply")

    def call(d):
        first_node(d, "prim::CallFunction")["attrs"]["name"]["value"] = "__torch__.gone"

    fails(edit_json(FUNCTION, "ir.json", call), "calls '__torch__.gone', which is not a function")


def test_bad_value_tags():
    def change(d):
        first_node(d, "prim::Constant")["attrs"]["value"] = {"tag": "pickle", "value": "cos\nsystem"}

    fails(edit_json(FUNCTION, "ir.json", change), "unknown value tag 'pickle'")

    def obj(d):
        first_node(d, "prim::Constant")["attrs"]["value"] = {"tag": "object", "value": 0}

    fails(edit_json(FUNCTION, "ir.json", obj), "object references are allowed only in objects.json")


def test_attribute_access_to_missing_or_mistyped_attributes():
    def missing(d):
        d["classes"][0]["methods"][0]["graph"]["nodes"][0]["attrs"]["name"]["value"] = "nope"

    fails(edit_json(MODULE, "ir.json", missing), "prim::GetAttr names 'nope', which is not an attribute of __torch__.Net")

    def mistyped(d):
        node = d["classes"][0]["methods"][0]["graph"]["nodes"][2]
        assert node["attrs"]["name"]["value"] == "weight"
        node["outputs"][0]["type"] = "int"

    fails(edit_json(MODULE, "ir.json", mistyped), r"prim::GetAttr of __torch__.Net.weight \(Tensor\) is typed int")


def test_source_range_index_out_of_range():
    fails(edit_json(FUNCTION, "ir.json", lambda d: first_node(d, "prim::If").update(loc=42)), "source range 42 does not exist")


# -- tensors ------------------------------------------------------------------------------


def _tensor_ref(d):
    return first_node(d, "prim::Constant")["attrs"]["value"]


def test_missing_tensor():
    fails(edit_json(FUNCTION, "ir.json", lambda d: _tensor_ref(d).update(key="t9")), "tensor 't9' is not in tensors.safetensors")


def test_tensor_with_wrong_dtype():
    fails(edit_json(FUNCTION, "ir.json", lambda d: _tensor_ref(d).update(dtype="int32")), "declared int32 but stored as float32")


def test_tensor_with_wrong_shape():
    fails(edit_json(FUNCTION, "ir.json", lambda d: _tensor_ref(d).update(shape=[1, 3])), r"declared with shape \[1, 3\] but stored with shape \[3\]")


def test_unreferenced_tensor():
    fails(edit_json(FUNCTION, "ir.json", lambda d: first_node(d, "prim::Constant")["attrs"].update(value={"tag": "none"})),
          "never referenced|verifier")


def test_bad_bool_tensor_bytes():
    m = make_module()
    import torch

    m.table = {"b": torch.tensor([True, False])}
    data = saved(m)
    st = bytearray(entries(data)["tensors.safetensors"])
    st[-1] = 7
    fails(rezip(data, {"tensors.safetensors": bytes(st)}), "bytes other than 0 and 1")


# -- objects.json ---------------------------------------------------------------------------


def test_object_of_wrong_shape_or_type():
    fails(edit_json(MODULE, "objects.json", lambda d: d["objects"][0]["attributes"].pop("count")), "no value for attribute 'count'")
    fails(edit_json(MODULE, "objects.json", lambda d: d["objects"][0]["attributes"].update(count={"tag": "str", "value": "x"})),
          "count: expected a int value for int, found a str value")
    fails(edit_json(MODULE, "objects.json", lambda d: d["objects"][0]["attributes"].update(a={"tag": "object", "value": 0})),
          "cycle")
    fails(edit_json(MODULE, "objects.json", lambda d: d["objects"][0]["attributes"].update(a={"tag": "object", "value": 99})),
          "object 99 does not exist")
    fails(edit_json(MODULE, "objects.json", lambda d: d["objects"].append(d["objects"][1])), "not reachable from the root")


def test_parameter_slots_need_parameters():
    def change(d):
        d["objects"][0]["attributes"]["weight"]["parameter"] = False

    fails(edit_json(MODULE, "objects.json", change), "disagree|parameter: true")


def test_function_root_mismatch():
    fails(edit_json(FUNCTION, "manifest.json", lambda m: m["root"].update(function="__torch__.nope")), "root function")
    fails(edit_json(MODULE, "manifest.json", lambda m: m.update(root={"kind": "module", "class": "__torch__.Sub", "x": 1})), "unknown field 'x'")


def test_saved_device_that_is_not_available():
    import torch

    if torch.cuda.is_available():
        return
    data = edit_json(FUNCTION, "ir.json", lambda d: _tensor_ref(d).update(device="cuda:0"))
    fails(data, "cannot move tensor 't0' to cuda:0 .*map_location='cpu'")
    g = archive.load(io.BytesIO(data), map_location="cpu")
    assert g.graph is not None
    fails(edit_json(FUNCTION, "ir.json", lambda d: _tensor_ref(d).update(device="warp-drive")), "not a device: 'warp-drive'")


def _with_st_header(data: bytes, change) -> bytes:
    st = entries(data)["tensors.safetensors"]
    (n,) = struct.unpack_from("<Q", st, 0)
    header = json.loads(st[8:8 + n])
    change(header)
    text = json.dumps(header).encode()
    return rezip(data, {"tensors.safetensors": struct.pack("<Q", len(text)) + text + st[8 + n:]})


def test_hostile_shapes_in_the_safetensors_header():
    fails(_with_st_header(FUNCTION, lambda h: h["t0"].update(shape=[1 << 62] * 5000)), "5000 dimensions, more than the limit")
    fails(_with_st_header(FUNCTION, lambda h: h["t0"].update(shape=[1 << 62] * 60)), "does not fit data_offsets")
    fails(_with_st_header(FUNCTION, lambda h: h["t0"].update(dtype="PICKLE")), "unknown dtype 'PICKLE'")
    fails(_with_st_header(FUNCTION, lambda h: h.update(t9=dict(h["t0"]))), "overlaps")


# -- fields of version 2 (docs/archive.md §10) ------------------------------------------------


def test_fields_must_match_the_format_version():
    # Version 2 fields are required in version 2 files and unknown in version 1 files.
    fails(edit_json(MODULE, "objects.json", lambda d: d["objects"][0].pop("non_persistent")), r"objects\[0\]: missing field 'non_persistent'")
    fails(edit_json(FUNCTION, "ir.json", lambda d: d["functions"][0]["args"][0].pop("positional_only")),
          r"functions\[0\].args\[0\]: missing field 'positional_only'")
    old = as_version_1(MODULE)
    load(old)
    fails(edit_json(old, "objects.json", lambda d: d["objects"][0].update(non_persistent=[])), "unknown field 'non_persistent'")
    fails(edit_json(as_version_1(FUNCTION), "ir.json", lambda d: d["functions"][0]["args"][0].update(positional_only=False)),
          "unknown field 'positional_only'")


def test_non_persistent_names_buffers_of_the_class():
    def set_names(names, index=0):
        return edit_json(MODULE, "objects.json", lambda d: d["objects"][index].update(non_persistent=names))

    load(set_names(["running", "mask"]))
    fails(set_names(["weight"]), r"objects\[0\].non_persistent\[0\]: 'weight' is not a buffer of __torch__.Net")
    fails(set_names(["nope"]), "'nope' is not a buffer of __torch__.Net")
    fails(set_names(["training"]), "'training' is not a buffer")
    fails(set_names(["mask", "mask"]), r"non_persistent\[1\]: buffer 'mask' is listed twice")
    fails(set_names([1]), r"non_persistent\[0\]: expected a string")
    fails(set_names("mask"), "non_persistent: expected a list")
    fails(set_names(None), "non_persistent: expected a list")
    fails(set_names(["w"], index=1), "'w' is not a buffer of __torch__.Sub")


def test_positional_only_arguments_come_first_and_are_not_keyword_only():
    def change(updates):  # arg index -> fields to set, in function 0 (__torch__.f(x, n))
        def edit(d):
            for i, fields in updates.items():
                d["functions"][0]["args"][i].update(fields)
        return edit_json(FUNCTION, "ir.json", edit)

    load(change({0: {"positional_only": True}}))
    load(change({0: {"positional_only": True}, 1: {"positional_only": True}}))
    fails(change({1: {"positional_only": True}}), r"args\[1\]: a positional-only argument must come before the others")
    fails(change({0: {"positional_only": True, "kwarg_only": True}}), "cannot be keyword-only")
    fails(change({0: {"positional_only": 1}}), r"args\[0\].positional_only: expected true or false")


# -- interfaces (version 3, docs/archive.md §4 INTERFACE) ------------------------------------------

INTERFACE_MODULE = saved(make_interface_module())
INTERFACE_CASES = broken_interface_archives(INTERFACE_MODULE)


@pytest.mark.parametrize("data,match,path", INTERFACE_CASES)
def test_malformed_interfaces_are_refused_with_a_path(data, match, path):
    fails(data, match)


def test_interfaces_are_a_version_3_field():
    load(INTERFACE_MODULE)
    old = as_version_2(INTERFACE_MODULE)
    assert str(load(old)._kiln_type.attributes["sub"]) == "Any"  # as version 2 wrote it
    fails(edit_json(old, "ir.json", lambda d: d.update(interfaces=[])), r"ir.json: unknown field 'interfaces'")
    # a version 2 file names no interface types
    fails(edit_json(old, "ir.json", lambda d: d["classes"][0]["attributes"][0].update(type="__torch__.Apply")),
          r"classes\[0\].attributes\[0\].type: bad type '__torch__.Apply'")
