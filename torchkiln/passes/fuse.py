"""Fusions for inference (`optimize_for_inference`): fewer ops per call.

```
graph(%x : Tensor):                                    graph(%x : Tensor):
  %Wt : Float(16, 8) = prim::Constant[...]()             %Wt : Float(16, 8) = prim::Constant[...]()
  %y : Tensor = aten::mm(%x, %Wt)                  ->    %b : Float(8) = prim::Constant[...]()
  %b : Float(8) = prim::Constant[...]()                  %z : Tensor = aten::addmm(%b, %x, %Wt, %1, %1)
  %z : Tensor = aten::add.Tensor(%y, %b, %1)             return (%z)
  return (%z)
```

Rules, each exact or within rounding of the unfused ops:

- `aten::addmm(b, x, aten::t(W), beta=1, alpha=1)` -> `aten::linear(x, W, b)`.
  ATen's `linear` on a 2-d input is exactly that `addmm`; one op less per
  call (the `t` goes when nothing else uses it). Frozen graphs mostly have
  `t(W)` folded already; traced, unfrozen ones do not.
- `aten::mm(x, Wt) + b` (`aten::add.Tensor`, either order, alpha 1) ->
  `aten::addmm(b, x, Wt)`, and `aten::matmul(x, aten::t(W)) + b` ->
  `aten::linear(x, W, b)`, when `b` is a constant 1-d tensor with one entry
  per output feature and the same dtype as a constant weight (so the add
  neither broadcasts the result larger nor promotes it) and the product has
  no other use. The bias add happens inside the matrix multiply: one
  pass over the output and one allocation less.

Not in a graph that enters autocast: there `mm` gives bfloat16 and the
float32 bias add promotes it back, where `addmm` stays bfloat16.

Everything else (conv + batch norm) is folded by `fold_batch_norm` during
freezing.
"""
from __future__ import annotations

from typing import Optional

import torch

from ..ir.builder import Builder
from ..ir.core import Graph, Node, Value
from .common import constant_value, op_info, scalar_of, sets_mode


def run(graph: Graph) -> bool:
    """Apply the inference fusions everywhere in `graph`; True if any applied."""
    nodes = list(graph.walk())
    if any(sets_mode(op_info(n.kind)) == "autocast" for n in nodes if not n.outputs):
        return False
    changed = False
    for node in nodes:
        if node.block is None:
            continue
        if node.kind == "aten::addmm":
            changed |= _addmm_of_t(node)
        elif node.kind == "aten::add.Tensor":
            changed |= _product_plus_bias(node)
    return changed


def _t_input(v: Value) -> Optional[Value]:
    """`W` when `v` is `aten::t(W)`."""
    node = v.node
    return node.inputs[0] if node is not None and node.kind == "aten::t" else None


def _ones(node: Node, first: int) -> bool:
    return all(scalar_of(v) == (True, 1) for v in node.inputs[first:])


def _addmm_of_t(node: Node) -> bool:
    bias, x, mat2 = node.inputs[:3]
    weight = _t_input(mat2)
    if weight is None or not _ones(node, 3):
        return False
    _replace(node, "aten::linear", [x, weight, bias])
    return True


def _product_plus_bias(add: Node) -> bool:
    if len(add.inputs) != 3 or not _ones(add, 2):
        return False
    for product, bias in ((add.inputs[0], add.inputs[1]), (add.inputs[1], add.inputs[0])):
        mm = product.node
        if mm is None or mm.kind not in ("aten::mm", "aten::matmul") or len(product.uses) != 1:
            continue
        x, mat2 = mm.inputs
        weight = _t_input(mat2)
        w_value = constant_value(weight if weight is not None else mat2, None)
        b_value = constant_value(bias, None)
        if not (isinstance(w_value, torch.Tensor) and isinstance(b_value, torch.Tensor)):
            continue
        out_features = w_value.shape[0] if weight is not None else w_value.shape[-1]
        if b_value.dim() != 1 or b_value.numel() != out_features or b_value.dtype != w_value.dtype or w_value.dim() != 2:
            continue
        if mm.kind == "aten::mm":
            one = add.inputs[2]  # alpha, the constant 1
            _replace(add, "aten::addmm", [bias, x, mat2, one, one], loc_from=mm)
        elif weight is not None:
            _replace(add, "aten::linear", [x, weight, bias], loc_from=mm)
        else:
            continue
        mm.destroy()
        return True
    return False


def _replace(node: Node, kind: str, inputs: list, loc_from: Optional[Node] = None) -> None:
    """Put `kind(inputs)` where `node` is and make it stand for `node`'s output."""
    assert node.block is not None
    loc = (loc_from or node).loc
    new = Builder(node.block, node).op(kind, inputs, [node.output.type], loc=loc)
    new.output.name = node.output.name
    node.output.replace_all_uses_with(new.output)
    node.destroy()
