"""`check(pass_, before, after)`: IR text in, pass, IR text out (kiln-opt style).

```python
check(dce.run, '''
graph(%x : Tensor):
  %1 : int = prim::Constant[value=1]()
  %u : Tensor = aten::add.Tensor(%x, %x, %1)
  return (%x)
''', '''
graph(%x : Tensor):
  return (%x)
''')
```

The input is parsed and verified, the pass runs through
`manager.run_pipeline` (verified after it), and the printed result must
equal the expected text after it too is parsed and printed (so spacing and
numbering in the expected text do not matter). `after=None` means "the pass
changes nothing". With `args`, the graph is also run before and after by
the reference interpreter and the results compared.
"""
import textwrap
from typing import Any, Callable, Optional, Sequence

import torch

from torchkiln.ir import parse_graph, print_graph
from torchkiln.passes import manager


def norm(text: str) -> str:
    return print_graph(parse_graph(textwrap.dedent(text).strip() + "\n"))


def check(
    pass_: Callable,
    before: str,
    after: Optional[str],
    args: Optional[Sequence[Any]] = None,
    rounds: int = 1,
):
    g = parse_graph(textwrap.dedent(before).strip() + "\n")
    original = print_graph(g)
    expected_before = run_graph(g, args) if args is not None else None
    changed = manager.run_pipeline(g, [pass_], verify=True, max_iterations=rounds)
    got = print_graph(g)
    want = original if after is None else norm(after)
    assert got == want, f"\n--- got ---\n{got}\n--- want ---\n{want}"
    assert changed == (after is not None and got != original), f"pass reported changed={changed}"
    if args is not None:
        _same(run_graph(g, args), expected_before)
    return g


def run_graph(g, args):
    from torchkiln.interpreter import run_graph as interp

    return interp(g, [a.clone() if isinstance(a, torch.Tensor) else a for a in args])


def _same(a, b):
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    else:
        assert a == b
