"""Build the C++ runtime once (cached in build/csrc) and run archives through it.

```python
rt = build()                                  # configure + build; a no-op when up to date
run(rt, "m.pt", [x, 3])                       # forward(x, 3) in C++: ("ok", value) or ("error", type, message)
run_many(rt, "m.pt", [("forward", [x]), ("f", [1])])
```

Values cross as archive VALUEs (docs/archive.md §5) in the metadata of a
safetensors file, tensors as its tensors (the torchkiln-run protocol,
docs/runtime.md).
"""
from __future__ import annotations

import fcntl
import json
import math
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

import torch
from safetensors import safe_open
from safetensors.torch import save_file

import torchkiln.utils

ROOT = Path(__file__).resolve().parents[2]
PROJECT = Path(__file__).resolve().parent / "project"
BUILD = ROOT / "build" / "csrc"


@dataclass
class Runtime:
    runner: Path  # torchkiln-run
    driver: Path  # tests/csrc/project/driver.cpp


def _configured_for(build: Path, source: Path) -> bool:
    cache = build / "CMakeCache.txt"
    if not cache.exists():
        return False
    for line in cache.read_text(errors="replace").splitlines():
        if line.startswith("CMAKE_HOME_DIRECTORY:INTERNAL="):
            return Path(line.split("=", 1)[1]).resolve() == source.resolve()
    return False


def build() -> Runtime:
    """Configure (once) and build the test project; safe under pytest-xdist."""
    BUILD.mkdir(parents=True, exist_ok=True)
    with open(BUILD.parent / "csrc.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _configured_for(BUILD, PROJECT):
            shutil.rmtree(BUILD, ignore_errors=True)
            prefix = ";".join([torchkiln.utils.cmake_prefix_path, torch.utils.cmake_prefix_path])
            cmd = ["cmake", "-S", str(PROJECT), "-B", str(BUILD), f"-DCMAKE_PREFIX_PATH={prefix}", "-DCMAKE_BUILD_TYPE=Release"]
            if shutil.which("ninja"):
                cmd += ["-G", "Ninja"]
            _check(cmd)
        _check(["cmake", "--build", str(BUILD), "-j2", "--target", "driver", "torchkiln-run"])
    return Runtime(runner=BUILD / "_torchkiln" / "torchkiln-run", driver=BUILD / "driver")


def _check(cmd: List[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}")


# -- values <-> VALUEs -------------------------------------------------------------


def _float(x: float) -> Any:
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def encode(v: Any, tensors: Dict[str, torch.Tensor]) -> Dict[str, Any]:
    if v is None:
        return {"tag": "none"}
    if isinstance(v, bool):
        return {"tag": "bool", "value": v}
    if isinstance(v, int):
        return {"tag": "int", "value": v}
    if isinstance(v, float):
        return {"tag": "float", "value": _float(v)}
    if isinstance(v, complex):
        return {"tag": "complex", "value": [_float(v.real), _float(v.imag)]}
    if isinstance(v, str):
        return {"tag": "str", "value": v}
    if isinstance(v, torch.Tensor):
        key = f"input.{len(tensors)}"
        tensors[key] = v.detach().clone().contiguous()  # safetensors refuses tensors that share memory
        return {"tag": "tensor", "key": key, "dtype": str(v.dtype)[len("torch."):], "shape": list(v.shape),
                "requires_grad": v.requires_grad, "parameter": False, "device": "cpu"}
    if isinstance(v, torch.device):
        return {"tag": "device", "value": str(v)}
    if isinstance(v, torch.dtype):
        return {"tag": "dtype", "value": str(v)[len("torch."):]}
    if isinstance(v, list):
        return {"tag": "list", "value": [encode(x, tensors) for x in v]}
    if isinstance(v, tuple):
        return {"tag": "tuple", "value": [encode(x, tensors) for x in v]}
    if isinstance(v, dict):
        return {"tag": "dict", "value": [[encode(k, tensors), encode(x, tensors)] for k, x in v.items()]}
    raise TypeError(f"cannot pass a {type(v).__name__} to the C++ runtime")


def _decode_float(x: Any) -> float:
    return {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}.get(x, x) if isinstance(x, str) else float(x)


def decode(j: Dict[str, Any], tensors: Dict[str, torch.Tensor]) -> Any:
    tag = j["tag"]
    if tag == "none":
        return None
    if tag in ("bool", "int", "str"):
        return j["value"]
    if tag == "float":
        return _decode_float(j["value"])
    if tag == "complex":
        return complex(_decode_float(j["value"][0]), _decode_float(j["value"][1]))
    if tag == "tensor":
        return tensors[j["key"]]
    if tag == "list":
        return [decode(x, tensors) for x in j["value"]]
    if tag == "tuple":
        return tuple(decode(x, tensors) for x in j["value"])
    if tag == "namedtuple":
        from torchkiln.ir.parser import parse_type
        from torchkiln.ops.prim import namedtuple_class

        return namedtuple_class(parse_type(j["type"]))(*(decode(x, tensors) for x in j["value"]))
    if tag == "dict":
        return {decode(k, tensors): decode(v, tensors) for k, v in j["value"]}
    if tag in ("dtype", "layout", "memory_format"):
        return getattr(torch, j["value"])
    if tag == "device":
        return torch.device(j["value"])
    raise ValueError(f"unexpected VALUE tag {tag!r}")


# -- running --------------------------------------------------------------------------


def run_many(rt: Runtime, archive: Any, calls: Sequence[Tuple[str, Sequence[Any]]]) -> List[Tuple]:
    """Each call as ("ok", value) or ("error", python_class_name, message)."""
    tensors: Dict[str, torch.Tensor] = {}
    spec = [{"method": m, "inputs": [encode(a, tensors) for a in args]} for m, args in calls]
    with tempfile.TemporaryDirectory() as tmp:
        inp, out = os.path.join(tmp, "in.safetensors"), os.path.join(tmp, "out.safetensors")
        save_file(tensors, inp, metadata={"torchkiln.calls": json.dumps(spec)})
        proc = subprocess.run([str(rt.runner), str(archive), inp, out], capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            raise RuntimeError(f"torchkiln-run failed ({proc.returncode}): {proc.stderr}")
        with safe_open(out, "pt") as f:
            results = json.loads(f.metadata()["torchkiln.results"])
            stored = {k: f.get_tensor(k) for k in f.keys()}
    out_list: List[Tuple] = []
    for r in results:
        if "value" in r:
            out_list.append(("ok", decode(r["value"], stored)))
        else:
            out_list.append(("error", r["error"]["type"], r["error"]["what"]))
    return out_list


def run(rt: Runtime, archive: Any, args: Sequence[Any], method: str = "forward") -> Tuple:
    return run_many(rt, archive, [(method, args)])[0]


def same(a: Any, b: Any) -> bool:
    """Equal values of equal types (tensors: dtype, shape and elements; NaN equals NaN)."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.dtype == b.dtype
                and a.shape == b.shape and (torch.equal(a, b) or (a.is_floating_point() and bool(
                    torch.isclose(a, b, rtol=0, atol=0, equal_nan=True).all()))))
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return a == b
