"""Command line: `torchkiln opt` (parse IR text, run passes, print) and `torchkiln show`.

```sh
torchkiln opt -p constant_prop,dce graph.ir      # kiln-opt: IR text in, passes, IR text out
echo 'graph(%x : Tensor): ...' | torchkiln opt -p default -
torchkiln show model.pt                           # graph and code of a saved archive
```
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import List, Optional, Sequence

from .diagnostics import Error


def _pass_list(spec: str):
    from .passes import manager

    if spec == "default":
        return list(manager.default_pipeline)
    passes = []
    for name in filter(None, (s.strip() for s in spec.split(","))):
        try:
            module = importlib.import_module(f"torchkiln.passes.{name}")
        except ModuleNotFoundError:
            raise Error(f"unknown pass {name!r}") from None
        if not hasattr(module, "run"):
            raise Error(f"{name!r} is not a pass (it has no run(graph))")
        passes.append(module.run)
    return passes


def opt(text: str, spec: str, verify: bool = True) -> str:
    """Parse `text`, run the passes named in `spec` (comma-separated, or "default"), print."""
    from .ir.parser import parse_graph
    from .ir.printer import print_graph
    from .passes import manager

    graph = parse_graph(text)
    manager.run_pipeline(graph, _pass_list(spec), verify=verify)
    return print_graph(graph)


def _show(path: str) -> str:
    from . import load

    obj = load(path)
    return f"{obj.graph}\n{obj.code}"


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="torchkiln")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_opt = sub.add_parser("opt", help="parse IR text, run passes, print the result")
    p_opt.add_argument("-p", "--passes", default="default", help="comma-separated pass names, or 'default'")
    p_opt.add_argument("--no-verify", action="store_true", help="do not verify after each pass")
    p_opt.add_argument("file", help="IR text file, or - for standard input")
    p_show = sub.add_parser("show", help="print the graph and code of a saved archive")
    p_show.add_argument("archive")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "opt":
            text = sys.stdin.read() if args.file == "-" else open(args.file, encoding="utf-8").read()
            sys.stdout.write(opt(text, args.passes, verify=not args.no_verify))
        else:
            sys.stdout.write(_show(args.archive) + "\n")
    except (Error, OSError) as e:
        print(f"torchkiln: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
