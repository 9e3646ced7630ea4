"""The script frontend: Python source -> typed IR (DESIGN §5).

Phases (STYLE habit 7), one module each:

- `resolve.py`, `sugared.py`, `values.py`, `classes.py`, `modules.py`:
  what names, attributes and calls mean (sugared values);
- `stmts.py`, `control.py`, `exprs.py`, `operators.py`, `subscripts.py`,
  `calls.py`, `builtins.py`, `specials.py`, `comprehensions.py`: one
  `emit_<node>` per syntax node, into memory form (Note [Memory form]);
- `exits.py`: break / continue / return lowered to flags;
- `to_ssa.py`: loads and stores become values, block outputs, loop-carried values;
- `compiler.py`, `functions.py`, `entry.py`: the driver and `script()`.
"""
from .decorators import Final, Future, annotate, export, fork, ignore, interface, is_scripting, unused, wait
from .entry import script, script_class, script_function, script_module

__all__ = [
    "script", "script_function", "script_module", "script_class",
    "Final", "Future", "annotate", "export", "fork", "ignore", "interface", "is_scripting", "unused", "wait",
]  # fmt: skip
