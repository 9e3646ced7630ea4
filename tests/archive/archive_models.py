"""Programs for archive tests, built from IR text (no frontend needed), and zip surgery."""
from __future__ import annotations

import io
import math
import zipfile
from typing import Dict, Optional

import torch
import torch.nn as nn

from torchkiln.api import ScriptFunction, ScriptModule
from torchkiln.diagnostics import SourceRange
from torchkiln.ir.core import CompilationUnit, Function
from torchkiln.ir.parser import parse_function, parse_type
from torchkiln.ir.core import Argument
from torchkiln.ir.types import ClassType, InterfaceMethod, InterfaceType
from torchkiln.ops.prim import namedtuple_class

LOC = SourceRange("model.py", 7, 11, 16, "    y = x + c")


def fn_from(text: str, unit: CompilationUnit, register: bool = True) -> Function:
    fn = parse_function(text, dict(unit.classes))
    for n in fn.graph.walk():
        n.loc = LOC
    if register:
        unit.add_function(fn)
    return fn


HELPER = '''
def __torch__.helper(x : Tensor, k : float = 2.0) -> Tensor
graph(%x : Tensor, %k : float):
  %y : Tensor = aten::mul.Scalar(%x, %k)
  return (%y)
'''

# Loop and If, a tensor constant, a call, a list and a tuple.
FUNCTION = '''
def __torch__.f(x : Tensor, n : int) -> (Tensor, int[])
graph(%x : Tensor, %n : int):
  %c : Tensor = prim::Constant[value=tensor([1.5, -2.0, 3.25], dtype=torch.float32, shape=[3])]()
  %t : bool = prim::Constant[value=True]()
  %one : int = prim::Constant[value=1]()
  %zero : int = prim::Constant[value=0]()
  %y : Tensor = prim::Loop(%n, %t, %x)
    block0(%i : int, %acc : Tensor):
      %acc2 : Tensor = aten::add.Tensor(%acc, %c, %one)
      -> (%t, %acc2)
  %pos : bool = prim::gt(%n, %zero)
  %z : Tensor = prim::If(%pos)
    block0():
      %k : float = prim::Constant[value=0.5]()
      %h : Tensor = prim::CallFunction[name="__torch__.helper"](%y, %k)
      -> (%h)
    block1():
      -> (%y)
  %l : int[] = prim::ListConstruct(%n, %one)
  %r : (Tensor, int[]) = prim::TupleConstruct(%z, %l)
  return (%r)
'''


def make_function() -> ScriptFunction:
    unit = CompilationUnit()
    fn_from(HELPER, unit)
    return ScriptFunction(unit, fn_from(FUNCTION, unit))


def function_eager(x: torch.Tensor, n: int):
    c = torch.tensor([1.5, -2.0, 3.25])
    y = x.clone()
    for _ in range(n):
        y = y + c
    return (y * 0.5 if n > 0 else y), [n, 1]


POINT = "NamedTuple __torch__.Point(x: int, y: float)"

# name -> (type text, kind); values in make_module.
NET_ATTRS = {
    "weight": ("Tensor", "parameter"),
    "bias": ("Tensor?", "parameter"),
    "running": ("Tensor", "buffer"),
    "mask": ("Tensor", "buffer"),  # registered persistent=False (objects.json: non_persistent)
    "a": ("__torch__.Sub", "module"),
    "b": ("__torch__.Sub", "module"),
    "other": ("__torch__.Sub", "module"),
    "training": ("bool", "attribute"),
    "count": ("int", "attribute"),
    "scale": ("float", "attribute"),
    "flag": ("bool", "attribute"),
    "label": ("str", "attribute"),
    "maybe": ("int?", "attribute"),
    "sizes": ("int[]", "attribute"),
    "pair": ("(Tensor, int)", "attribute"),
    "table": ("Dict(str, Tensor)", "attribute"),
    "point": (POINT, "attribute"),
    "dev": ("Device", "attribute"),
    "dt": ("ScalarType", "attribute"),
    "odd": ("float[]", "attribute"),
    "anything": ("Any", "attribute"),
}

SUB_FORWARD = '''
def forward(self : __torch__.Sub, x : Tensor) -> Tensor
graph(%self : __torch__.Sub, %x : Tensor):
  %w : Tensor = prim::GetAttr[name="w"](%self)
  %y : Tensor = aten::mul.Tensor(%x, %w)
  return (%y)
'''

NET_FORWARD = '''
def forward(self : __torch__.Net, x : Tensor) -> Tensor
graph(%self : __torch__.Net, %x : Tensor):
  %a : __torch__.Sub = prim::GetAttr[name="a"](%self)
  %y : Tensor = prim::CallMethod[name="forward"](%a, %x)
  %w : Tensor = prim::GetAttr[name="weight"](%self)
  %r : Tensor = prim::GetAttr[name="running"](%self)
  %one : int = prim::Constant[value=1]()
  %y2 : Tensor = aten::add.Tensor(%y, %w, %one)
  %f : bool = prim::GetAttr[name="flag"](%self)
  %z : Tensor = prim::If(%f)
    block0():
      %y3 : Tensor = aten::add.Tensor(%y2, %r, %one)
      -> (%y3)
    block1():
      -> (%y2)
  %n : int = prim::GetAttr[name="count"](%self)
  %t : bool = prim::Constant[value=True]()
  %out : Tensor = prim::Loop(%n, %t, %z)
    block0(%i : int, %acc : Tensor):
      %b : __torch__.Sub = prim::GetAttr[name="b"](%self)
      %acc2 : Tensor = prim::CallMethod[name="forward"](%b, %acc)
      -> (%t, %acc2)
  return (%out)
'''


def net_unit():
    unit = CompilationUnit()
    sub_t = unit.add_class(ClassType("__torch__.Sub"))
    sub_t.add_attribute("w", parse_type("Tensor"), "parameter")
    sub_t.add_attribute("training", parse_type("bool"), "attribute")
    net_t = unit.add_class(ClassType("__torch__.Net"))
    for name, (text, kind) in NET_ATTRS.items():
        net_t.add_attribute(name, parse_type(text, dict(unit.classes)), kind)
    net_t.constants["eps"] = 1e-5
    net_t.constants["names"] = ("a", "b")
    sub_t.methods["forward"] = fn_from(SUB_FORWARD, unit, register=False)
    net_t.methods["forward"] = fn_from(NET_FORWARD, unit, register=False)
    return unit, net_t, sub_t


def make_module() -> ScriptModule:
    unit, net_t, sub_t = net_unit()

    def sub(w):
        return ScriptModule.create(unit, sub_t, {"w": nn.Parameter(w), "training": True})

    shared = sub(torch.tensor([2.0, 3.0]))
    point_t = parse_type(POINT)
    values = {
        "weight": nn.Parameter(torch.tensor([0.5, -1.0])),
        "bias": None,
        "running": torch.tensor([10.0, 20.0]),
        "mask": torch.tensor([1.0, 0.0]),
        "a": shared,
        "b": shared,
        "other": sub(torch.zeros(2, dtype=torch.float32)),
        "training": False,
        "count": 2,
        "scale": 0.25,
        "flag": True,
        "label": "naïve \"quoted\"\n",
        "maybe": None,
        "sizes": [1, -2, 2**62],
        "pair": (torch.arange(4, dtype=torch.int64).reshape(2, 2), 7),
        "table": {"k": torch.ones(3, dtype=torch.bfloat16), "e": torch.zeros(0, 3)},
        "point": namedtuple_class(point_t)(1, 2.5),
        "dev": torch.device("cpu"),
        "dt": torch.float16,
        "odd": [math.nan, math.inf, -math.inf, -0.0, 1e-300],
        "anything": {"z": complex(1.0, -2.0), "l": [torch.bool, None]},
    }
    m = ScriptModule.create(unit, net_t, values)
    m._non_persistent_buffers_set.add("mask")  # as register_buffer("mask", ..., persistent=False) does
    return m


def module_eager(x: torch.Tensor) -> torch.Tensor:
    w = torch.tensor([2.0, 3.0])
    y = x * w + torch.tensor([0.5, -1.0]) + torch.tensor([10.0, 20.0])
    for _ in range(2):
        y = y * w
    return y


# -- an interface-typed submodule (docs/archive.md §4, INTERFACE) ---------------------------

SCALE_FORWARD = '''
def forward(self : __torch__.Scale, x : Tensor) -> Tensor
graph(%self : __torch__.Scale, %x : Tensor):
  %k : float = prim::GetAttr[name="k"](%self)
  %y : Tensor = aten::mul.Scalar(%x, %k)
  return (%y)
'''

SCALE_ROUND = '''
def round(self : __torch__.Scale, x : Tensor) -> int
graph(%self : __torch__.Scale, %x : Tensor):
  %n : int = prim::Constant[value=3]()
  return (%n)
'''

# `sub` has the module interface __torch__.Apply (forward(self, x: Tensor) -> Tensor);
# `apply` takes any object implementing it.
HOLDER_FORWARD = '''
def forward(self : __torch__.Holder, x : Tensor) -> Tensor
graph(%self : __torch__.Holder, %x : Tensor):
  %s : __torch__.Apply = prim::GetAttr[name="sub"](%self)
  %y : Tensor = prim::CallFunction[name="__torch__.apply"](%s, %x)
  return (%y)
'''

APPLY = '''
def __torch__.apply(m : __torch__.Apply, x : Tensor) -> Tensor
graph(%m : __torch__.Apply, %x : Tensor):
  %y : Tensor = prim::CallMethod[name="forward"](%m, %x)
  %one : int = prim::Constant[value=1]()
  %z : Tensor = aten::add.Tensor(%y, %x, %one)
  return (%z)
'''


def interface_unit():
    unit = CompilationUnit()
    apply_t = InterfaceType("__torch__.Apply", is_module=True)
    apply_t.methods["forward"] = InterfaceMethod("forward", [Argument("self", apply_t), Argument("x", parse_type("Tensor"))], parse_type("Tensor"))
    scale_t = unit.add_class(ClassType("__torch__.Scale"))
    scale_t.add_attribute("k", parse_type("float"), "attribute")
    holder_t = unit.add_class(ClassType("__torch__.Holder"))
    holder_t.add_attribute("sub", apply_t, "module")
    named = {**unit.classes, apply_t.name: apply_t}
    for text in (SCALE_FORWARD, SCALE_ROUND):
        fn = parse_function(text, named)
        scale_t.methods[fn.name] = fn
    holder_t.methods["forward"] = parse_function(HOLDER_FORWARD, named)
    unit.add_function(parse_function(APPLY, named))
    return unit, holder_t, scale_t, apply_t


def make_interface_module(k: float = 2.0) -> ScriptModule:
    """`Holder(sub=Scale(k))`: forward(x) = x * k + x, through the interface __torch__.Apply."""
    unit, holder_t, scale_t, _ = interface_unit()
    sub = ScriptModule.create(unit, scale_t, {"k": k})
    return ScriptModule.create(unit, holder_t, {"sub": sub})


def make_interface_function() -> ScriptFunction:
    """`__torch__.apply(m: __torch__.Apply, x: Tensor)`."""
    unit, _, _, _ = interface_unit()
    return ScriptFunction(unit, unit.functions["__torch__.apply"])


def broken_interface_archives(data: bytes):
    """(archive, what the Python reader says (a regex), the JSON path both readers name) for
    malformed interface entries of `data`, a saved `make_interface_module()`."""
    import json

    def edit(change):
        doc = json.loads(entries(data)["ir.json"])
        change(doc)
        return rezip(data, {"ir.json": json.dumps(doc).encode()})

    def iface(change):
        return edit(lambda d: change(d["interfaces"][0]))

    def method(change):
        return iface(lambda i: change(i["methods"][0]))

    return [
        (edit(lambda d: d.pop("interfaces")), r"ir.json: missing field 'interfaces'", "interfaces"),
        (edit(lambda d: d.update(interfaces={})), r"ir.json: interfaces: expected a list, found an object", "interfaces"),
        (edit(lambda d: d["interfaces"].append(dict(d["interfaces"][0]))),
         r"ir.json: interfaces\[1\]: two interfaces are named '__torch__.Apply'", "interfaces[1]"),
        (iface(lambda i: i.update(extra=1)), r"interfaces\[0\]: unknown field 'extra'", "interfaces[0]"),
        (iface(lambda i: i.pop("methods")), r"interfaces\[0\]: missing field 'methods'", "interfaces[0]"),
        (iface(lambda i: i.update(name=3)), r"interfaces\[0\].name: expected a string, found an integer", "interfaces[0].name"),
        (iface(lambda i: i.update(name="int")), r"interfaces\[0\].name: 'int' is not usable as an interface name in types", "interfaces[0].name"),
        (iface(lambda i: i.update(name="a b")), r"interfaces\[0\].name: bad type 'a b'", "interfaces[0].name"),
        (iface(lambda i: i.update(name="__torch__.Scale")), r"classes\[1\]: an interface and a class are both named '__torch__.Scale'", "classes[1]"),
        (iface(lambda i: i.update(is_module=1)), r"interfaces\[0\].is_module: expected true or false, found an integer", "interfaces[0].is_module"),
        (iface(lambda i: i.update(methods=[])), r"interfaces\[0\].methods: the interface __torch__.Apply declares no methods", "interfaces[0].methods"),
        (iface(lambda i: i.update(methods="forward")), r"interfaces\[0\].methods: expected a list, found a string", "interfaces[0].methods"),
        (iface(lambda i: i["methods"].append(dict(i["methods"][0]))), r"interfaces\[0\].methods\[1\]: two methods are named 'forward'",
         "interfaces[0].methods[1]"),
        (method(lambda m: m.pop("returns")), r"interfaces\[0\].methods\[0\]: missing field 'returns'", "interfaces[0].methods[0]"),
        (method(lambda m: m.update(name="for-ward")), r"methods\[0\].name: method name 'for-ward' is not an identifier", "methods[0].name"),
        (method(lambda m: m.update(args=[])), r"methods\[0\].args: the first argument of method 'forward' must be self of type __torch__.Apply",
         "methods[0].args"),
        (method(lambda m: m["args"][0].update(type="Tensor")), r"methods\[0\].args: the first argument of method 'forward' must be self",
         "methods[0].args"),
        (method(lambda m: m["args"][1].update(type="__torch__.Nope")), r"methods\[0\].args\[1\].type: bad type '__torch__.Nope'",
         "methods[0].args[1].type"),
        (method(lambda m: m["args"][1].update(type=[])), r"methods\[0\].args\[1\].type: expected a string, found a list", "methods[0].args[1].type"),
        (method(lambda m: m["args"][1].update(name="self")), r"methods\[0\].args\[1\].name: two arguments are named 'self'",
         "methods[0].args[1].name"),
        (method(lambda m: m["args"][1].update(default=None)), r"methods\[0\].args\[1\]: unknown field 'default'", "methods[0].args[1]"),
        (method(lambda m: m.update(returns="(" * 5000)), r"methods\[0\].returns: ", "methods[0].returns"),
        # not a module interface, or the held module does not implement it, or a call names no method of it
        (iface(lambda i: i.update(is_module=False)),
         r"classes\[0\].attributes\[0\]: a module attribute cannot have the type of __torch__.Apply, which is not a module interface",
         "classes[0].attributes[0]"),
        (method(lambda m: m.update(returns="int")),
         r"objects.json: objects\[0\].attributes.sub: an object of __torch__.Scale does not implement the interface __torch__.Apply: "
         r"its forward returns Tensor, the interface's forward\(self, x: Tensor\) -> int returns int", "objects[0].attributes.sub"),
        (method(lambda m: m["args"][1].update(name="y")),
         r"objects\[0\].attributes.sub: an object of __torch__.Scale does not implement the interface __torch__.Apply: "
         r"argument 1 of its forward is named 'x', the interface's forward\(self, y: Tensor\) -> Tensor names it 'y'", "objects[0].attributes.sub"),
        (method(lambda m: m.update(name="backward")),
         r"ir.json: functions\[0\]: prim::CallMethod calls 'forward', which is not a method of the interface __torch__.Apply", "functions[0]"),
    ]


# -- zip surgery ----------------------------------------------------------------


def as_version_2(data: bytes) -> bytes:
    """The archive as format version 2 writes it: no `interfaces`, interface types written `Any` (docs/archive.md §10)."""
    import json
    import re

    manifest, ir = (json.loads(entries(data)[n]) for n in ("manifest.json", "ir.json"))
    manifest["format_version"] = 2
    names = [i["name"] for i in ir.pop("interfaces")]
    text = json.dumps(ir)
    for name in names:  # in TYPE strings (a name is never a prefix of another's segment here)
        text = re.sub(r'(?<=[\s"(\[,])' + re.escape(name) + r'(?=[\[\]?,)"\s])', "Any", text)
    return rezip(data, {"manifest.json": json.dumps(manifest).encode(), "ir.json": text.encode()})


def as_version_1(data: bytes) -> bytes:
    """The archive as format version 1 writes it: what version 2 writes, less `non_persistent` and `positional_only`."""
    import json

    def args_of(doc):
        for fn in doc["functions"]:
            yield from fn["args"]
        for cls in doc["classes"]:
            for fn in cls["methods"]:
                yield from fn["args"]

    data = as_version_2(data)
    manifest, ir, objects = (json.loads(entries(data)[n]) for n in ("manifest.json", "ir.json", "objects.json"))
    manifest["format_version"] = 1
    for a in args_of(ir):
        del a["positional_only"]
    for o in objects["objects"]:
        del o["non_persistent"]
    return rezip(data, {n: json.dumps(d).encode() for n, d in
                        (("manifest.json", manifest), ("ir.json", ir), ("objects.json", objects))})



def entries(data: bytes) -> Dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def rezip(data: bytes, replace: Optional[Dict[str, Optional[bytes]]] = None, add: Optional[Dict[str, bytes]] = None,
          compress: bool = False) -> bytes:
    """The archive with entries replaced (None: removed) or added, written as a fresh valid zip."""
    items = entries(data)
    for name, new in (replace or {}).items():
        if new is None:
            del items[name]
        else:
            items[name] = new
    items.update(add or {})
    out = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(out, "w", compression=method) as zf:
        for name, content in items.items():
            zf.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), content, compress_type=method)
    return out.getvalue()


def deep_archive(depth: int) -> bytes:
    """A function whose `prim::If`s nest `depth` blocks deep, saved as it is (the writer's
    limit lifted when `depth` is past it), for both readers' nesting limits."""
    from torchkiln import archive
    from torchkiln.ir.builder import Builder
    from torchkiln.ir.core import Graph
    from torchkiln.ir.types import BOOL

    g = Graph()
    c = g.add_input(BOOL, "c")
    block = g.block
    for _ in range(depth):
        block = Builder(block).op("prim::If", [c], [], n_blocks=2).blocks[0]
    g.add_output(c)
    unit = CompilationUnit()
    fn = unit.add_function(Function("__torch__.deep", g, [Argument("c", BOOL)], BOOL))
    saved_limit = archive.format.MAX_BLOCK_DEPTH
    archive.format.MAX_BLOCK_DEPTH = max(saved_limit, depth)
    try:
        buf = io.BytesIO()
        archive.save(ScriptFunction(unit, fn, executor="interpreter"), buf)
    finally:
        archive.format.MAX_BLOCK_DEPTH = saved_limit
    return buf.getvalue()
