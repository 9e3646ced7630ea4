"""Building many long-lived objects without the cyclic garbage collector rescanning them.

```python
with collector.building():
    ... make a compiled program (tens of thousands of IR objects) ...
```

Note [Collector while building]
-------------------------------
`script()` makes about 30,000 objects the collector tracks for a
6-layer Transformer (IR nodes, values, uses, source ranges, the parsed
source), and nearly all of them live as long as the compiled module.
CPython's collector scans young objects every 700 allocations: each
survivor was scanned once in generation 0 and again in generation 1 before
it reached the oldest generation, where it belongs. Those 60,000 scans
were about an eighth of a cold `script()`; the first call, which runs the
pass pipeline and builds the executor's program, pays the same tax.

`building()` turns the collector off while it runs and, when it ends,
moves every tracked object straight to the oldest generation
(`gc.freeze()` then `gc.unfreeze()`, two list splices). The scans of the
young generations never happen; they are not deferred. What changes:

- cyclic garbage made while building (a few thousand objects: discarded
  attempts, temporary graphs) is reclaimed by the next full collection
  instead of the next young one;
- objects moved this way do not count towards the next full collection
  (CPython counts promotions, not splices). So that a process that builds
  and drops programs in a loop cannot grow without bound, after
  `_MOVE_LIMIT` objects moved since the last full collection `building()`
  leaves the collector alone until one has run.

It does nothing when nested (the outermost call decides), when the
collector is disabled, or when the program froze objects itself
(`gc.freeze()` for a pre-fork server: unfreezing would undo that).
Several threads may build at once: the collector is on again when the last
one finishes.
"""
from __future__ import annotations

import contextlib
import gc
import threading
from typing import Iterator

# Objects moved to the oldest generation since the last full collection, above which
# `building()` stops moving them (about 15 MB of IR, three Transformer-sized programs).
_MOVE_LIMIT = 100_000

_lock = threading.Lock()
_active = 0  # `building()` blocks running, on any thread
_paused = False  # whether the outermost one turned the collector off
_moved = 0
_full_collections = -1  # `gc.get_stats()[-1]["collections"]` when `_moved` was last reset


def _may_pause() -> bool:
    global _moved, _full_collections
    if not gc.isenabled() or gc.get_freeze_count():
        return False
    full = gc.get_stats()[-1]["collections"]
    if full != _full_collections:
        _full_collections = full
        _moved = 0
    return _moved < _MOVE_LIMIT


@contextlib.contextmanager
def building() -> Iterator[None]:
    """Run the block with the collector off; what it made goes to the oldest generation (Note above)."""
    global _active, _paused, _moved
    with _lock:
        if _active == 0:
            _paused = _may_pause()
            if _paused:
                gc.disable()
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0 and _paused:
                _paused = False
                _moved += gc.get_count()[0]
                gc.freeze()
                gc.unfreeze()
                gc.enable()
