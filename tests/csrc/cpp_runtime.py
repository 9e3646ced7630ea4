"""Build the C++ runtime once (cached in build/csrc) and run archives through it.

```python
rt = build()                                  # configure + build; a no-op when up to date
run(rt, "m.pt", [x, 3])                       # forward(x, 3) in C++: ("ok", value) or ("error", type, message)
run_many(rt, "m.pt", [("forward", [x]), ("f", [1])])
with Server(rt) as server:                    # one long-lived `torchkiln-run --serve`
    server.run_calls("m.pt", [Call("forward", [x], return_inputs=True)])   # [Result(...)]
```

Values cross as archive VALUEs (docs/archive.md §5) in the metadata of a
safetensors file, tensors as its tensors (the torchkiln-run protocol,
docs/runtime.md). Starting torchkiln-run costs ~0.2 s (libtorch); `Server`
pays it once per process.
"""
from __future__ import annotations

import fcntl
import json
import math
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

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
        t = tensors[j["key"]]
        return t.requires_grad_(True) if j["requires_grad"] and not t.requires_grad else t
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


@dataclass
class Call:
    """One call of batch mode: `method(*args)`; optionally the CPU generator's
    state to set first, whether to return the arguments after the call, and
    whether grad mode is on."""

    method: str
    args: Sequence[Any]
    rng_state: Optional[torch.Tensor] = None
    return_inputs: bool = False
    grad_enabled: bool = True


@dataclass
class Result:
    """What one call gave: `value`, or an exception `error_type` and `message`
    (`what`: with the traceback); `inputs`: the arguments after the call when
    asked for; `unwritable`: why the runner could not write the result."""

    value: Any = None
    error_type: Optional[str] = None
    message: Optional[str] = None
    what: Optional[str] = None
    inputs: Optional[List[Any]] = None
    unwritable: Optional[str] = None

    @property
    def ok(self) -> bool:
        return self.error_type is None and self.unwritable is None


def write_calls(path: str, calls: Sequence[Call]) -> None:
    """The inputs file of a batch run (raises TypeError for a value no VALUE can hold)."""
    tensors: Dict[str, torch.Tensor] = {}
    spec = []
    for call in calls:
        entry: Dict[str, Any] = {"method": call.method, "inputs": [encode(a, tensors) for a in call.args]}
        if call.rng_state is not None:
            entry["rng_state"] = key = f"rng.{len(tensors)}"
            tensors[key] = call.rng_state
        if call.return_inputs:
            entry["return_inputs"] = True
        if not call.grad_enabled:
            entry["grad_enabled"] = False
        spec.append(entry)
    save_file(tensors, path, metadata={"torchkiln.calls": json.dumps(spec)})


def read_results(path: str) -> List[Result]:
    with safe_open(path, "pt") as f:
        results = json.loads(f.metadata()["torchkiln.results"])
        stored = {k: f.get_tensor(k) for k in f.keys()}
    out: List[Result] = []
    for r in results:
        inputs = [decode(x, stored) for x in r["inputs"]] if "inputs" in r else None
        if "value" in r:
            out.append(Result(value=decode(r["value"], stored), inputs=inputs))
        elif "error" in r:
            e = r["error"]
            out.append(Result(error_type=e["type"], message=e["message"], what=e["what"], inputs=inputs))
        else:
            out.append(Result(unwritable=r["unwritable"], inputs=inputs))
    return out


def run_many(rt: Runtime, archive: Any, calls: Sequence[Tuple[str, Sequence[Any]]]) -> List[Tuple]:
    """Each call as ("ok", value) or ("error", python_class_name, message)."""
    with tempfile.TemporaryDirectory() as tmp:
        inp, out = os.path.join(tmp, "in.safetensors"), os.path.join(tmp, "out.safetensors")
        write_calls(inp, [Call(m, args) for m, args in calls])
        proc = subprocess.run([str(rt.runner), str(archive), inp, out], capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            raise RuntimeError(f"torchkiln-run failed ({proc.returncode}): {proc.stderr}")
        results = read_results(out)
    out_list: List[Tuple] = []
    for r in results:
        if r.unwritable is not None:
            raise RuntimeError(f"torchkiln-run cannot write the result: {r.unwritable}")
        out_list.append(("ok", r.value) if r.ok else ("error", r.error_type, r.what))
    return out_list


class ServerError(RuntimeError):
    """torchkiln-run refused a request (the archive or a file), or died."""


class Server:
    """A long-lived `torchkiln-run --serve`; started on first use, restarted after a crash.

    Not thread-safe: one per process (or a lock around it).
    """

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.proc: Optional[subprocess.Popen] = None
        self.tmp = tempfile.TemporaryDirectory(prefix="torchkiln-run-")
        self.log_path = os.path.join(self.tmp.name, "stderr.log")  # program output (print) and crashes
        self.requests = 0

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _start(self) -> subprocess.Popen:
        if self.proc is None or self.proc.poll() is not None:
            log = open(self.log_path, "ab")
            # Idle between requests, OpenMP threads must sleep, not spin: they would take the
            # cores from the Python process that sent the request (same thread count, same results).
            env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
            self.proc = subprocess.Popen([str(self.rt.runner), "--serve"], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=log, text=True, bufsize=1, env=env)
            log.close()
        return self.proc

    def run_files(self, archive: str, inputs: str, outputs: str) -> None:
        """One request; raises ServerError with the runner's message when it fails."""
        proc = self._start()
        self.requests += 1
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(f"{archive}\t{inputs}\t{outputs}\n")
            proc.stdin.flush()
            answer = proc.stdout.readline()
        except BrokenPipeError:
            answer = ""
        if not answer:
            proc.wait()
            tail = open(self.log_path, errors="replace").read()[-3000:]
            raise ServerError(f"torchkiln-run --serve died (status {proc.returncode}):\n{tail}")
        answer = answer.rstrip("\n")
        if answer != "ok":
            raise ServerError(re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), answer[len("error "):]))

    def run_calls(self, archive: str, calls: Sequence[Call]) -> List[Result]:
        """Every call on the archive at `archive` (one load), in order."""
        inp = os.path.join(self.tmp.name, "in.safetensors")
        out = os.path.join(self.tmp.name, "out.safetensors")
        write_calls(inp, calls)
        self.run_files(archive, inp, out)
        return read_results(out)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            self.proc.wait(timeout=60)
        self.proc = None
        self.tmp.cleanup()


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
