"""Qualified names unique in the process, for the classes and functions both frontends make.

Script and trace units meet: a module may hold a traced and a scripted
submodule, or two modules traced apart, and one archive then holds all their
classes. Names are therefore drawn from one process-wide table, as
TorchScript draws them: the first `__torch__.m.Net` keeps its name, the next
is `__torch__.m.___torch_mangle_1.Net` (`mangle_path`: the last part stays
the class's own name) or `__torch__.m.f_1` (functions).
"""
from __future__ import annotations

import threading
from typing import Callable, Dict

_LOCK = threading.Lock()
_COUNTS: Dict[str, int] = {}


def unique_name(base: str, mangle_path: bool = False, taken: Callable[[str], bool] = lambda name: False) -> str:
    """A name no earlier call returned, and for which `taken` is False."""
    while True:
        with _LOCK:  # two threads must never get one name
            n = _COUNTS.get(base)
            _COUNTS[base] = 0 if n is None else n + 1
        if n is None:
            name = base
        elif mangle_path:
            prefix, _, last = base.rpartition(".")
            name = f"{prefix}.___torch_mangle_{n + 1}.{last}" if prefix else f"___torch_mangle_{n + 1}.{last}"
        else:
            name = f"{base}_{n + 1}"
        if not taken(name):
            return name


__all__ = ["unique_name"]
