"""The markers and helpers scripted code uses: ignore, unused, export, Final, annotate, ...

`ignore`, `unused`, `export`, `Final`, `annotate`, `is_scripting` are
torch.jit's own objects: a function marked `@torch.jit.ignore` and one
marked `@torchkiln.ignore` carry the same marker
(`torch._jit_internal.get_torchscript_modifier`), so models written for
TorchScript compile unchanged and both spellings mean the same here.

`fork(fn, *args)` runs `fn` on a thread pool and returns a `Future`;
`wait(future)` joins it. Inside scripted code both compile to
`prim::fork` / `prim::wait`.
"""
from __future__ import annotations

import concurrent.futures
import os
import threading
from typing import Any, Optional

from torch.jit import Final, annotate, export, ignore, is_scripting, unused  # noqa: F401  (one object per marker)

__all__ = ["Final", "annotate", "export", "ignore", "unused", "is_scripting", "interface", "fork", "wait", "Future"]


def interface(obj: Any) -> Any:
    """Mark a class as an interface type (as `torch.jit.interface`)."""
    obj.__torch_script_interface__ = True
    return obj


_pool: Optional[concurrent.futures.ThreadPoolExecutor] = None
_pool_lock = threading.Lock()


def _executor() -> concurrent.futures.ThreadPoolExecutor:
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = concurrent.futures.ThreadPoolExecutor(max_workers=min(32, (os.cpu_count() or 1) + 4), thread_name_prefix="torchkiln-fork")
    return _pool


class Future:
    """The result of `fork`: `wait()` returns the value (or raises the exception)."""

    __slots__ = ("_future",)

    def __init__(self, future: "concurrent.futures.Future"):
        self._future = future

    def wait(self) -> Any:
        return self._future.result()

    def done(self) -> bool:
        return self._future.done()

    def value(self) -> Any:
        return self._future.result()


def fork(fn: Any, *args: Any, **kwargs: Any) -> Future:
    """Run `fn(*args, **kwargs)` asynchronously on a thread pool."""
    return Future(_executor().submit(fn, *args, **kwargs))


def wait(future: Any) -> Any:
    """The result of a `Future` returned by `fork` (or any object with `wait()`)."""
    return future.wait()
