"""The one options object of the passes (STYLE habit 10: no environment variables).

```python
from torchkiln.passes.config import config
config.verify = True          # verify the IR after every pass (tests turn this on)
```
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class PassConfig:
    """Options every pass reads; change the module-level `config` in place.

    - `verify`: `run_pipeline` checks the IR with `ir.verify` before the first
      pass and after each one (tests set it; a parameter overrides it).
    - `max_iterations`: bound on pipeline rounds when iterating to a fixpoint.
    - `inline_max_nodes`: the default pipeline inlines a callee when its body
      has at most this many nodes (constants not counted); `inline_all`
      ignores the bound.
    - `inline_max_depth`: inlining stops below this many nested calls
      (guards against recursion).
    - `fold_max_numel`: constant folding may create a tensor constant with at
      most this many elements, or no larger than its tensor-constant inputs
      together (see Note [Big constants] in `constant_prop.py`).
    """

    verify: bool = False
    max_iterations: int = 8
    inline_max_nodes: int = 40
    inline_max_depth: int = 32
    fold_max_numel: int = 1024


config = PassConfig()
