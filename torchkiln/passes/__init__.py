"""Graph-to-graph passes: one module per pass, each with `run(graph) -> bool`.

| module | what it does |
|---|---|
| `inline` | inline `prim::CallFunction` / `prim::CallMethod` (small ones by default) |
| `constant_prop` | run pure ops on constants, fold constant `if`s and empty loops |
| `simplify` | algebraic identities (`x + 0`, `x * 1`, ...), tuple/list peepholes |
| `cse` | merge repeated pure computations |
| `dce` | remove dead code (side-effect and alias aware) |
| `fold_batch_norm` | conv/linear + inference batch norm -> one layer |
| `fuse` | inference fusions (`optimize_for_inference`) |
| `freeze` | `freeze_graph`: module state -> constants, then the above |

`manager` runs pipelines (`default_pipeline`, `run_pipeline`,
`run_on_function`); `config` holds the options (`config.verify`); `alias`
is the alias/effect analysis the passes share.
"""
from .config import config

__all__ = ["config"]
