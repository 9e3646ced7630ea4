"""Bringing other compilation units' functions and classes into this one.

A scripted or traced `ScriptFunction` called from scripted code, or a
`ScriptModule` held as a submodule, keeps its own graphs: its unit's
functions and classes are added to the unit being compiled (the same
objects; the graphs are shared, never changed). A name already taken by a
different object gets a copy under a fresh name, with calls inside the
copied graphs renamed to match.
"""
from __future__ import annotations

from typing import Any, Dict

from ...ir.core import CompilationUnit, Function


def import_unit(dst: CompilationUnit, src: CompilationUnit, memo: Dict[int, Any]) -> Dict[str, str]:
    """Add `src`'s functions and classes to `dst`; returns the functions as named in `dst`.

    `memo` (id(src) -> result) makes importing one unit twice free.
    """
    done = memo.get(id(src))
    if done is not None:
        return done[1]
    renames: Dict[str, str] = {}
    for name, cls in src.classes.items():
        existing = dst.classes.get(name)
        if existing is None:
            dst.add_class(cls)
        elif existing is not cls:
            # Class types are nominal; two different classes of one name cannot share a unit.
            new = dst.unique_name(name)
            renames[name] = new
            dst.classes[new] = cls
    for name, fn in src.functions.items():
        existing = dst.functions.get(name)
        if existing is None or existing is fn:
            dst.functions[name] = fn
            continue
        new_name = dst.unique_name(name)
        renames[name] = new_name
    for old, new in list(renames.items()):
        fn = src.functions.get(old)
        if fn is None:
            continue
        copy = Function(new, fn.graph.copy(), fn.args, fn.returns, fn.loc)
        copy.frontend_types = fn.frontend_types  # Note [Enums]
        _rename_calls(copy, renames)
        dst.functions[new] = copy
    result = {name: renames.get(name, name) for name in src.functions}
    memo[id(src)] = (src, result)
    return result


def _rename_calls(fn: Function, renames: Dict[str, str]) -> None:
    for node in fn.graph.walk():
        if node.kind in ("prim::CallFunction", "prim::fork") and node.attrs.get("name") in renames:
            node.attrs["name"] = renames[node.attrs["name"]]
