"""The digest of the C++ sources (`torchkiln/csrc`), shared by setup.py and the C++ executor.

setup.py stamps it into `_C.sources` when it builds the extension;
`cpp_executor` computes it again to spot an extension built from other
sources. Standard library only: setup.py loads this file by path, before
torch or the package can be imported.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Union


def sources_digest(csrc: Union[str, Path]) -> str:
    root = Path(csrc)
    h = hashlib.sha1()
    for sub in ("include", "src", "python"):
        for p in sorted((root / sub).rglob("*")):
            if p.is_file() and p.suffix in (".h", ".hpp", ".cpp"):
                h.update(str(p.relative_to(root)).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()
