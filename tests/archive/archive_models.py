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
from torchkiln.ir.types import ClassType
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


# -- zip surgery ----------------------------------------------------------------


def as_version_1(data: bytes) -> bytes:
    """The archive as format version 1 writes it: no `non_persistent`, no `positional_only` (docs/archive.md §10)."""
    import json

    def args_of(doc):
        for fn in doc["functions"]:
            yield from fn["args"]
        for cls in doc["classes"]:
            for fn in cls["methods"]:
                yield from fn["args"]

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
