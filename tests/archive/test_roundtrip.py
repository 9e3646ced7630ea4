"""Save -> load round trips: functions, modules, values of every kind, files and paths."""
import io
import json
import math
import struct
import zipfile

import pytest
import torch
import torch.nn as nn

import torchkiln
from torchkiln import archive
from torchkiln.api import ScriptFunction, ScriptModule
from torchkiln.diagnostics import ArchiveError
from torchkiln.ir.printer import print_function

from archive_models import (
    LOC,
    entries,
    function_eager,
    make_function,
    make_module,
    module_eager,
)


def saved(obj, **kw) -> bytes:
    buf = io.BytesIO()
    archive.save(obj, buf, **kw)
    return buf.getvalue()


def reload(obj, **kw):
    return archive.load(io.BytesIO(saved(obj)), **kw)


def same_value(a, b):
    if isinstance(a, torch.Tensor):
        return (
            isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape
            and a.requires_grad == b.requires_grad and type(a) is type(b)
            and torch.equal(a.detach(), b.detach())
        )
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    if isinstance(a, float):
        return type(b) is float and a == b and math.copysign(1, a) == math.copysign(1, b)
    if type(a) is not type(b) and not (isinstance(a, tuple) and isinstance(b, tuple)):
        return False
    if isinstance(a, tuple) and hasattr(a, "_fields"):
        if getattr(b, "_fields", None) != a._fields or type(a).__qualname__ != type(b).__qualname__:
            return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same_value(a[k], b[k]) for k in a)
    return a == b


def functions_text(unit):
    out = {name: print_function(fn) for name, fn in unit.functions.items()}
    for cname, cls in unit.classes.items():
        for mname, fn in cls.methods.items():
            out[f"{cname}::{mname}"] = print_function(fn)
    return out


# -- functions ------------------------------------------------------------------


def test_function_round_trip_keeps_graphs_and_results():
    f = make_function()
    g = reload(f)
    assert isinstance(g, ScriptFunction)
    assert functions_text(g._kiln_unit) == functions_text(f._kiln_unit)
    for n in (0, 3):
        x = torch.tensor([1.0, 2.0, 4.0])
        got, want = g(x, n), function_eager(x, n)
        assert torch.equal(got[0], want[0]) and got[1] == want[1]


def test_source_locations_survive_without_the_source_file():
    g = reload(make_function())
    locs = [n.loc for n in g.graph.walk()]
    assert locs and all(loc == LOC for loc in locs)
    assert "y = x + c" in locs[0].render()


def test_code_entries_are_written_for_people():
    names = entries(saved(make_function()))
    assert "code/__torch__.f.py" in names and "code/__torch__.helper.py" in names
    assert b"def f(" in names["code/__torch__.f.py"]


def test_only_reachable_functions_are_saved():
    f = make_function()
    from archive_models import fn_from

    fn_from(HELPER_UNUSED, f._kiln_unit)
    ir = json.loads(entries(saved(f))["ir.json"])
    assert [fn["name"] for fn in ir["functions"]] == ["__torch__.f", "__torch__.helper"]


HELPER_UNUSED = '''
def __torch__.unused(x : Tensor) -> Tensor
graph(%x : Tensor):
  return (%x)
'''


# -- modules ----------------------------------------------------------------------


def test_module_round_trip_keeps_state_structure_and_results():
    m = make_module()
    m2 = reload(m)
    assert isinstance(m2, ScriptModule)
    assert functions_text(m2._kiln_unit) == functions_text(m._kiln_unit)
    for name in m._kiln_type.attributes:
        a, b = getattr(m, name), getattr(m2, name)
        if isinstance(a, ScriptModule):
            assert isinstance(b, ScriptModule) and b._kiln_type.name == a._kiln_type.name
            assert torch.equal(a.w, b.w)
        else:
            assert same_value(a, b), name
    assert m2._kiln_type.constants == {"eps": 1e-5, "names": ("a", "b")}
    x = torch.tensor([1.0, -2.0])
    assert torch.equal(m2(x), module_eager(x))


def test_module_state_is_registered_as_nn_module_state():
    m2 = reload(make_module())
    assert dict(m2.named_parameters()).keys() == {"weight", "a.w", "other.w"}
    assert isinstance(m2.weight, nn.Parameter) and m2.weight.requires_grad
    assert m2.bias is None
    assert list(dict(m2.named_buffers())) == ["running", "mask"]
    assert m2.training is False and m2.a.training is True
    assert set(m2.state_dict()) == set(make_module().state_dict())
    assert "running" in m2.state_dict() and "mask" not in m2.state_dict()  # persistent=False (objects.json)


def test_shared_submodules_and_tied_tensors_stay_shared():
    m = make_module()
    m.other.w = m.weight  # tie a parameter across modules
    m2 = reload(m)
    assert m2.a is m2.b
    assert m2.other.w is m2.weight
    assert len(json.loads(entries(saved(m))["objects.json"])["objects"]) == 3


def test_tensor_data_is_exact_for_every_dtype():
    m = make_module()
    values = {}
    for d in archive.format.DTYPE_ST:
        if d == torch.bool:
            t = torch.tensor([True, False, True])
        elif d.is_floating_point and d.itemsize == 1:
            t = torch.tensor([0.5, -2.0, 448.0 if d == torch.float8_e4m3fn else 1.0]).to(d)
        else:
            t = (torch.arange(6) - (0 if d in (torch.uint8, torch.uint16, torch.uint32, torch.uint64) else 3)).to(d)
        values[str(d)] = t
    values["strided"] = torch.arange(12.0).reshape(3, 4).t()  # saved contiguous
    values["scalar"] = torch.tensor(3.5)
    m.table = {k: v for k, v in values.items()}  # Dict(str, Tensor) typed attribute
    m2 = reload(m)
    for k, v in values.items():
        got = m2.table[k]
        assert got.dtype == v.dtype and got.shape == v.shape, k
        assert torch.equal(raw_bytes(got), raw_bytes(v)), k


def raw_bytes(t):
    return t.contiguous().reshape(-1).view(torch.uint8)


def test_map_location_and_saved_device():
    m2 = reload(make_module(), map_location="cpu")
    assert m2.weight.device.type == "cpu"
    m3 = reload(make_module(), map_location=torch.device("cpu"))
    assert m3.running.device.type == "cpu"
    with pytest.raises(ValueError):
        reload(make_module(), map_location="not-a-device")
    with pytest.raises(TypeError):
        reload(make_module(), map_location={"cuda:0": "cpu"})


def test_save_load_save_is_byte_identical():
    first = saved(make_module())
    again = saved(archive.load(io.BytesIO(first)))
    assert again == first
    f = saved(make_function())
    assert saved(archive.load(io.BytesIO(f))) == f


# -- determinism and layout --------------------------------------------------------


def test_same_module_saves_to_the_same_bytes():
    assert saved(make_module()) == saved(make_module())
    m = make_module()
    assert saved(m) == saved(m)
    assert saved(make_function()) == saved(make_function())


def test_zip_layout_stored_fixed_metadata_and_aligned_tensors():
    data = saved(make_module(), _extra_files={"b.txt": b"2", "a.txt": b"1"})
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        infos = zf.infolist()
    names = [i.filename for i in infos]
    assert names[:4] == ["manifest.json", "ir.json", "objects.json", "debug.json"]
    assert names[-1] == "tensors.safetensors"
    assert names.index("extra/a.txt") < names.index("extra/b.txt")
    for i in infos:
        assert i.compress_type == zipfile.ZIP_STORED and i.date_time == (1980, 1, 1, 0, 0, 0)
        assert i.flag_bits & 0x8 == 0  # no data descriptors
    ts = infos[-1]
    name_len, extra_len = struct.unpack_from("<HH", data, ts.header_offset + 26)
    start = ts.header_offset + 30 + name_len + extra_len
    assert start % 64 == 0
    (n,) = struct.unpack_from("<Q", data, start)
    assert (8 + n) % 8 == 0


def test_tensors_entry_is_a_standard_safetensors_file():
    from safetensors.torch import load as st_load

    m = make_module()
    tensors = st_load(entries(saved(m))["tensors.safetensors"])
    assert torch.equal(tensors["t0"], m.weight.detach())


def _pyproject_version() -> str:
    import pathlib
    import re

    text = (pathlib.Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    return re.search(r'^version = "([^"]+)"', text, re.M).group(1)


def test_manifest():
    man = json.loads(entries(saved(make_module()))["manifest.json"])
    assert man["format"] == "torchkiln" and man["format_version"] == 3 == archive.FORMAT_VERSION
    assert man["root"] == {"kind": "module", "class": "__torch__.Net"}
    assert man["producer"]["torch"] == torch.__version__
    assert man["producer"]["torchkiln"] == torchkiln.__version__ == _pyproject_version()
    man = json.loads(entries(saved(make_function()))["manifest.json"])
    assert man["root"] == {"kind": "function", "function": "__torch__.f"}


# -- extra files, paths and file objects ------------------------------------------------


def test_extra_files_round_trip_like_torch_jit():
    data = saved(make_function(), _extra_files={"meta.txt": "héllo", "dir/blob.bin": b"\x00\xff"})
    extra = {"meta.txt": "", "dir/blob.bin": "", "absent": "kept"}
    archive.load(io.BytesIO(data), _extra_files=extra)
    assert extra == {"meta.txt": "héllo".encode(), "dir/blob.bin": b"\x00\xff", "absent": "kept"}


@pytest.mark.parametrize("name", ["", "../x", "/abs", "a//b", "a/./b", "a\\b", "nul\x00", "x" * 300])
def test_unsafe_extra_file_names_are_refused_on_save(name):
    with pytest.raises(ArchiveError, match="extra file"):
        saved(make_function(), _extra_files={name: b""})


def test_paths_pathlike_and_file_objects(tmp_path):
    f = make_function()
    x = torch.ones(3)
    p = tmp_path / "f.weird-extension"
    archive.save(f, str(p))
    assert archive.load(str(p))(x, 1)[1] == [1, 1]
    archive.save(f, p)
    assert archive.load(p)(x, 1)[1] == [1, 1]
    with open(p, "wb") as fp:
        archive.save(f, fp)
    with open(p, "rb") as fp:
        assert archive.load(fp)(x, 1)[1] == [1, 1]
    assert p.read_bytes() == saved(f)


def test_non_seekable_file_object():
    class Stream(io.RawIOBase):
        def __init__(self, data):
            self.inner = io.BytesIO(data)

        def readable(self):
            return True

        def seekable(self):
            return False

        def readinto(self, b):
            return self.inner.readinto(b)

    g = archive.load(io.BufferedReader(Stream(saved(make_function()))))
    assert g(torch.ones(3), 0)[1] == [0, 1]


def test_public_api_and_methods_save():
    f = make_function()
    buf = io.BytesIO()
    f.save(buf)
    assert isinstance(torchkiln.load(io.BytesIO(buf.getvalue())), ScriptFunction)
    buf = io.BytesIO()
    torchkiln.save(make_module(), buf)
    assert isinstance(torchkiln.load(io.BytesIO(buf.getvalue())), ScriptModule)


def test_unsavable_values_are_archive_errors():
    m = make_module()
    m.__dict__["anything"] = object()
    with pytest.raises(ArchiveError, match="anything"):
        saved(m)
    m = make_module()
    m.__dict__["count"] = "not an int"
    with pytest.raises(ArchiveError, match="count"):
        saved(m)
    m = make_module()
    m.table = {"k": torch.zeros(2, dtype=torch.complex128)}
    with pytest.raises(ArchiveError, match="complex128"):
        saved(m)
    with pytest.raises(ArchiveError):
        saved(object())


PAIR_TOTAL = '''
def total(self : __torch__.Pair) -> Tensor
graph(%self : __torch__.Pair):
  %a : int = prim::GetAttr[name="a"](%self)
  %b : Tensor = prim::GetAttr[name="b"](%self)
  %y : Tensor = aten::mul.Scalar(%b, %a)
  return (%y)
'''

HOLDER_FORWARD = '''
def forward(self : __torch__.Holder) -> Tensor
graph(%self : __torch__.Holder):
  %p : __torch__.Pair = prim::GetAttr[name="pair"](%self)
  %y : Tensor = prim::CallMethod[name="total"](%p)
  return (%y)
'''


def test_script_class_objects_round_trip():
    from torchkiln.codegen.runtime import ScriptObject
    from torchkiln.ir.core import CompilationUnit
    from torchkiln.ir.types import INT, TENSOR, ClassType

    from archive_models import fn_from

    unit = CompilationUnit()
    pair_t = unit.add_class(ClassType("__torch__.Pair", is_module=False))
    pair_t.add_attribute("a", INT)
    pair_t.add_attribute("b", TENSOR)
    holder_t = unit.add_class(ClassType("__torch__.Holder"))
    holder_t.add_attribute("pair", pair_t)
    holder_t.add_attribute("again", pair_t)
    pair_t.methods["total"] = fn_from(PAIR_TOTAL, unit, register=False)
    holder_t.methods["forward"] = fn_from(HOLDER_FORWARD, unit, register=False)
    pair = ScriptObject(pair_t)
    pair.a, pair.b = 3, torch.tensor([1.0, 2.0])
    m = ScriptModule.create(unit, holder_t, {"pair": pair, "again": pair})
    m2 = reload(m)
    assert isinstance(m2.pair, ScriptObject) and m2.pair is m2.again
    assert m2.pair.a == 3 and torch.equal(m2(), torch.tensor([3.0, 6.0]))
    objects = json.loads(entries(saved(m))["objects.json"])["objects"]
    assert objects[1] == {"class": "__torch__.Pair", "training": None, "non_persistent": [], "attributes": {
        "a": {"tag": "int", "value": 3},
        "b": {"tag": "tensor", "key": "t0", "dtype": "float32", "shape": [2], "requires_grad": False,
              "parameter": False, "device": "cpu"}}}


def test_deeply_nested_blocks_are_refused_on_save():
    from torchkiln.ir.builder import Builder
    from torchkiln.ir.core import Argument, CompilationUnit, Function, Graph
    from torchkiln.ir.types import BOOL

    g = Graph()
    c = g.add_input(BOOL, "c")
    block = g.block
    for _ in range(archive.format.MAX_BLOCK_DEPTH + 2):
        node = Builder(block).op("prim::If", [c], [], n_blocks=2)
        block = node.blocks[0]
    g.add_output(c)
    unit = CompilationUnit()
    fn = unit.add_function(Function("__torch__.deep", g, [Argument("c", BOOL)], BOOL))

    class Fake:
        _kiln_unit = unit
        _kiln_fn = fn

    with pytest.raises(ArchiveError, match="nested more than"):
        saved(Fake())


# -- non-persistent buffers (objects.json: non_persistent) -------------------------------


class _BufferedSub(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 3)
        self.register_buffer("scratch", torch.tensor([0.25, -0.5, 1.0]), persistent=False)

    def forward(self, x):
        return self.lin(x) * self.scratch


class _Buffered(nn.Module):
    """A persistent and a non-persistent buffer, and a submodule with another non-persistent one."""

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor([0.5, -1.0, 2.0]))
        self.register_buffer("mask", torch.tensor([1.0, 0.0, 1.0]), persistent=False)
        self.sub = _BufferedSub()

    def forward(self, x):
        return self.sub((x - self.mean) * self.mask)


def _buffered():
    torch.manual_seed(0)
    return _Buffered().eval()


BUFFERED_INPUT = torch.tensor([[1.0, 2.0, 3.0], [-1.0, 0.5, 4.0]])


def _compile(how, eager):
    if how == "script":
        return torchkiln.script(eager)
    if how == "trace":
        return torchkiln.trace(eager, (BUFFERED_INPUT,))
    return torchkiln.freeze(torchkiln.script(eager))  # the frozen module keeps its buffers as attributes


def _state_like_eager(m, eager):
    assert list(m.state_dict()) == list(eager.state_dict()) == ["mean", "sub.lin.weight", "sub.lin.bias"]
    assert list(dict(m.named_buffers())) == list(dict(eager.named_buffers())) == ["mean", "mask", "sub.scratch"]
    fresh = _Buffered()
    fresh.load_state_dict(m.state_dict())  # strict: no unexpected keys
    with torch.no_grad():
        assert torch.equal(fresh(BUFFERED_INPUT), eager(BUFFERED_INPUT))


@pytest.mark.parametrize("how", ["script", "trace", "freeze"])
def test_non_persistent_buffers_survive_save_and_load(how):
    eager = _buffered()
    m = _compile(how, eager)
    _state_like_eager(m, eager)
    data = saved(m)
    objects = json.loads(entries(data)["objects.json"])["objects"]
    assert objects[0]["non_persistent"] == ["mask"]
    assert [o["non_persistent"] for o in objects[1:]] == [["scratch"], []]  # sub, sub.lin
    loaded = archive.load(io.BytesIO(data))
    _state_like_eager(loaded, eager)
    with torch.no_grad():
        assert torch.equal(loaded(BUFFERED_INPUT), eager(BUFFERED_INPUT))
    assert saved(loaded) == data  # and save again to the same bytes


def test_non_persistent_buffers_survive_a_fresh_process(tmp_path):
    import pathlib
    import subprocess
    import sys
    import textwrap

    eager = _buffered()
    for how in ("script", "trace"):
        path = tmp_path / f"{how}.pt"
        torchkiln.save(_compile(how, eager), str(path))
        code = textwrap.dedent(
            f"""
            import json, torch, torchkiln
            m = torchkiln.load({str(path)!r})
            x = torch.tensor({BUFFERED_INPUT.tolist()!r})
            with torch.no_grad():
                y = m(x)
            print(json.dumps({{"state": list(m.state_dict()), "buffers": [n for n, _ in m.named_buffers()],
                               "out": y.tolist(), "file": torchkiln.__file__}}))
            """
        )
        root = pathlib.Path(__file__).resolve().parents[2]  # the checkout under test, not an installed copy
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=root)
        assert proc.returncode == 0, proc.stderr
        got = json.loads(proc.stdout.splitlines()[-1])
        assert pathlib.Path(got["file"]).resolve().is_relative_to(root)
        assert got["state"] == list(eager.state_dict())
        assert got["buffers"] == [n for n, _ in eager.named_buffers()]
        with torch.no_grad():
            assert torch.equal(torch.tensor(got["out"]), eager(BUFFERED_INPUT))


def test_modules_sharing_a_class_keep_their_own_non_persistent_buffers():
    # Two instances of one class share a class type (Note [Type sharing]); persistence is per object.
    class Pair(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = _BufferedSub()
            self.b = _BufferedSub()
            self.b.register_buffer("scratch", torch.ones(3))  # persistent in b only

        def forward(self, x):
            return self.a(x) + self.b(x)

    eager = Pair().eval()
    m = torchkiln.script(eager)
    assert m.a._kiln_type is m.b._kiln_type
    loaded = reload(m)
    assert list(loaded.state_dict()) == list(eager.state_dict())
    assert "b.scratch" in loaded.state_dict() and "a.scratch" not in loaded.state_dict()
    assert list(dict(loaded.named_buffers())) == list(dict(eager.named_buffers()))


def test_version_1_archives_still_load():
    # Version 1 has no `non_persistent` and no `positional_only`: every buffer is persistent.
    from archive_models import as_version_1

    old = as_version_1(saved(make_module()))
    assert json.loads(entries(old)["manifest.json"])["format_version"] == 1
    m2 = archive.load(io.BytesIO(old))
    assert list(dict(m2.named_buffers())) == ["running", "mask"]
    assert {"running", "mask"} <= set(m2.state_dict())
    x = torch.tensor([1.0, -2.0])
    assert torch.equal(m2(x), module_eager(x))
    g = archive.load(io.BytesIO(as_version_1(saved(make_function()))))
    assert g(torch.ones(3), 1)[1] == [1, 1]
    assert json.loads(entries(saved(m2))["manifest.json"])["format_version"] == 3  # saved again: the newest


def test_version_2_archives_with_interface_types_written_any_still_load():
    # Version 2 wrote interface types as Any and had no `interfaces`: such a submodule takes any scripted module.
    from archive_models import as_version_2, make_interface_module

    data = saved(make_interface_module(3.0))
    assert [i["name"] for i in json.loads(entries(data)["ir.json"])["interfaces"]] == ["__torch__.Apply"]
    old = as_version_2(data)
    assert "__torch__.Apply" not in entries(old)["ir.json"].decode()
    m2 = archive.load(io.BytesIO(old))
    x = torch.tensor([1.0, -2.0])
    assert torch.equal(m2(x), x * 3.0 + x)
    assert str(m2._kiln_type.attributes["sub"]) == "Any"
    saved_again = json.loads(entries(saved(m2))["ir.json"])
    assert saved_again["interfaces"] == [] and saved_again["classes"][0]["attributes"][0]["type"] == "Any"


def test_interface_types_round_trip():
    from archive_models import make_interface_function, make_interface_module
    from torchkiln import ArgumentError

    m = make_interface_module(3.0)
    loaded = archive.load(io.BytesIO(saved(m)))
    t = loaded._kiln_type.attributes["sub"]
    assert str(t) == "__torch__.Apply" and t.is_module and list(t.methods) == ["forward"]
    assert [(a.name, str(a.type)) for a in t.methods["forward"].args] == [("self", "__torch__.Apply"), ("x", "Tensor")]
    assert 'prim::CallMethod[name="forward"](%m, %x)' in str(loaded._kiln_unit.functions["__torch__.apply"].graph)
    assert "graph(%m : __torch__.Apply, %x : Tensor)" in str(loaded._kiln_unit.functions["__torch__.apply"].graph)
    x = torch.tensor([1.0, -2.0])
    assert torch.equal(loaded(x), m(x))
    f = archive.load(io.BytesIO(saved(make_interface_function())))
    assert torch.equal(f(loaded.sub, x), x * 3.0 + x)
    assert torch.equal(f(loaded, x), loaded(x) + x)  # a Holder implements Apply too: it has forward(self, x: Tensor) -> Tensor

    class IntForward(nn.Module):
        def forward(self, x: int) -> int:
            return x

    for wrong in (3, x, None, torchkiln.script(IntForward())):
        with pytest.raises(ArgumentError, match=r"expected a value of type __torch__.Apply for argument 'm'"):
            f(wrong, x)
