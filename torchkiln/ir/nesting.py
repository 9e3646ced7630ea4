"""How deep blocks may nest, and room on Python's stack for walking them.

```python
block_depth(graph)                      # 0: no node has blocks; 1: an If at top level ...
with recursion_headroom(block_depth(g)):
    print_graph(g)                      # recursive walks get room for the nesting
```

Note [Block nesting limit]
--------------------------
TorchScript IR nests blocks: an `if/elif` chain of N branches is N nested
`prim::If`s, and every `if c: return v` moves the rest of the function into
an `else` block (`frontend/script/exits.py`). Dispatch code and generated
code reach hundreds of levels, so torchkiln accepts graphs whose blocks nest
at most `MAX_BLOCK_DEPTH` (1000) deep (the top block has depth 0). Every
stage agrees on the number:

- `script()` refuses a deeper function with a `CompileError` naming the
  limit (`check_block_depth`); a source so deep that the frontend itself
  runs out of room is refused the same way (`entry._internal_errors`);
- inlining never builds a deeper graph (`passes/inline.py`);
- the archive writer refuses to save, and both readers (archive/reader.py,
  csrc/src/loader.cpp) refuse to load, a deeper graph (docs/archive.md §5);
- the JSON limit of both readers (4 JSON levels per block level: BLOCK,
  `nodes`, NODE, `blocks`, plus VALUE nesting) is `MAX_JSON_DEPTH` = 5000
  (archive/format.py, `kMaxJsonDepth` in loader.cpp);
- the generated-Python executor keeps its source shallow by outlining deep
  nodes into helper functions (Note [Outlining] in codegen/emit.py).

Stack use. The Python walks over a graph (frontend, passes, verifier,
printer, code generator, interpreter, archive writer and reader) recurse
once or a few times per block level: measured at most ~4 Python frames per
level (the writer: `_block` -> `_node` -> list comprehension, and its
`json.dumps`, which recurses 4 C levels per block level; the reader's
`json.loads` does the same). Python's default recursion limit (1000) is
therefore too small for a few hundred levels. `recursion_headroom(levels)`
raises the limit, only while a walk runs and only when the current limit
does not already leave `FRAMES_PER_LEVEL` (6) frames per level, to at most
`6 * 1000 + 500` frames above the caller. On CPython 3.11 a Python-to-Python
call uses no C stack; the C-level recursions involved (json, generators,
`any(...)`) use at most ~400 bytes per frame (measured: 8 MiB of stack holds
more than 20000 such frames), so 6500 frames stay below 3 MiB of C stack.
The C++ side recurses 2 frames per level in the loader, 3 in the compiler
and 1 in the interpreter, each a few hundred bytes: measured, torchkiln-run
loads and runs a 1000-deep function on a 768 KiB stack (8 MiB is the usual
default; the interpreter's own guard, `kMaxDepth` = 2000 nested calls and
blocks, still applies on top).

The limit is raised under a lock with a count of active walks and restored
when the last one ends, so threads compiling at the same time never lower
it under each other. Walks of a known graph (printer, verifier, code
generator, interpreter) ask for room for its depth, so ordinary programs
(a few levels) never change it. `script()` compiles first without room and,
only if that runs out of stack, again with room for the deepest program
allowed (`entry._with_room`). The pass pipeline, the archive writer and the
reader, which cannot know the depth before they start (inlining deepens,
the JSON is not parsed yet), take room for the deepest allowed while they
run; other threads see the higher limit meanwhile.
"""
from __future__ import annotations

import contextlib
import sys
import threading
from typing import Iterator, List, Tuple, Union

from .core import Block, Graph

#: Deepest block nesting any stage accepts (Note [Block nesting limit]).
MAX_BLOCK_DEPTH = 1000
#: Python frames a walk may use per block level (measured: at most ~4).
FRAMES_PER_LEVEL = 6
_SLACK = 500  # frames for what the walk calls besides the recursion itself
_SHALLOW = 50  # levels that Python's default limit always has room for

_lock = threading.Lock()
_active = 0
_saved_limit = 0
_local = threading.local()  # this thread's open `recursion_headroom` blocks


def headroom_active() -> bool:
    """Whether this thread is inside `recursion_headroom` for the deepest graph allowed."""
    return getattr(_local, "full", 0) > 0


def block_depth(graph_or_block: Union[Graph, Block]) -> int:
    """How deep blocks nest under `graph_or_block` (iterative: safe on any depth;
    each block counted once, so broken IR with a cycle ends too).

    ```
    graph(%c : bool):          # depth 0
      %y = prim::If(%c)
        block0():              # depth 1
          ...
    ```
    """
    top = graph_or_block.block if isinstance(graph_or_block, Graph) else graph_or_block
    deepest = 0
    seen = {id(top)}
    stack: List[Tuple[Block, int]] = [(top, 0)]
    while stack:
        block, depth = stack.pop()
        deepest = max(deepest, depth)
        for node in block.nodes:
            for inner in node.blocks:
                if id(inner) not in seen:
                    seen.add(id(inner))
                    stack.append((inner, depth + 1))
    return deepest


def _stack_depth() -> int:
    frame, n = sys._getframe(1), 0
    while frame is not None:
        frame, n = frame.f_back, n + 1
    return n


@contextlib.contextmanager
def recursion_headroom(levels: int, frames_per_level: int = FRAMES_PER_LEVEL) -> Iterator[None]:
    """Room on Python's stack for a recursive walk over `levels` nested blocks.

    `levels` is capped at `MAX_BLOCK_DEPTH`: deeper input is refused by
    whoever reads it, and a walk that still recurses past the raised limit
    gets Python's RecursionError, never a C stack overflow.
    """
    global _active, _saved_limit
    full = levels >= MAX_BLOCK_DEPTH
    if full:
        _local.full = getattr(_local, "full", 0) + 1
        try:
            with recursion_headroom(MAX_BLOCK_DEPTH - 1, frames_per_level):
                yield
        finally:
            _local.full -= 1
        return
    if levels <= _SHALLOW:
        yield  # the common case: shallow programs, no stack walk
        return
    needed = _stack_depth() + frames_per_level * min(levels, MAX_BLOCK_DEPTH) + _SLACK
    if needed <= sys.getrecursionlimit():
        yield
        return
    with _lock:
        if _active == 0:
            _saved_limit = sys.getrecursionlimit()
        _active += 1
        sys.setrecursionlimit(max(sys.getrecursionlimit(), needed))
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0:
                sys.setrecursionlimit(_saved_limit)
