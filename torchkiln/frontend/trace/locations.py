"""Where in the user's code an op was called: for source ranges and warnings."""
from __future__ import annotations

import os
import sys
import warnings
from typing import Any, Dict, Optional

import torch

from ...diagnostics import SourceRange, TracerWarning

_SKIP_DIRS = tuple(
    os.path.dirname(p) + os.sep
    for p in (torch.__file__, os.path.dirname(os.path.dirname(os.path.dirname(__file__))) + "/__init__.py")
)
_POSITIONS: Dict[Any, list] = {}


def user_location() -> Optional[SourceRange]:
    """The innermost frame of the user's code (outside torch and torchkiln)."""
    f = sys._getframe(1)
    while f is not None and (f.f_code.co_filename.startswith(_SKIP_DIRS) or f.f_code.co_filename.startswith("<")):
        f = f.f_back
    if f is None:
        return None
    code = f.f_code
    positions = _POSITIONS.get(code)
    if positions is None:
        positions = _POSITIONS[code] = list(code.co_positions())
    index = f.f_lasti // 2
    line, end_line, col, end_col = positions[index] if index < len(positions) else (f.f_lineno, None, None, None)
    line = line or f.f_lineno
    if col is None:
        return SourceRange(code.co_filename, line)
    return SourceRange(code.co_filename, line, col, end_col if end_line == line else None)


def warn(message: str) -> None:
    loc = user_location()
    if loc is None:
        warnings.warn(message, TracerWarning, stacklevel=3)
    else:
        warnings.warn_explicit(message, TracerWarning, loc.filename, loc.line)
