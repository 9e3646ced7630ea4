"""Fold an inference batch norm into the convolution or linear layer before it.

```
graph(%x : Tensor):                                     graph(%x : Tensor):
  %W : Tensor = prim::Constant[value=<8x3x3x3>]()         %W2 : Tensor = prim::Constant[value=<W * scale>]()
  %y : Tensor = aten::conv2d(%x, %W, %none, ...)    ->    %b2 : Tensor = prim::Constant[value=<shift>]()
  %z : Tensor = aten::batch_norm(%y, %g, %b, %m, %v,      %y : Tensor = aten::conv2d(%x, %W2, %b2, ...)
                                 %false, %mom, %eps, ..)  return (%y)
  return (%z)
```

With `scale = gamma / sqrt(running_var + eps)` and
`shift = beta - running_mean * scale`, per output channel `c`:
`bn(conv(x, W, b))[c] = conv(x, W[c] * scale[c], b[c] * scale[c] + shift[c])`.

Folds when

- the batch norm is `aten::batch_norm` / `aten::native_batch_norm` with a
  constant `training=False`, or `aten::_native_batch_norm_legit_no_training`
  (extra outputs unused), with constant running stats, eps, and constant or
  None weight and bias;
- its input comes from a non-transposed convolution (`aten::conv1d/2d/3d`,
  their `.padding` overloads, `aten::convolution`, `aten::_convolution`),
  from `aten::linear` whose input is known to be 2-d (a batch norm
  normalizes dim 1, a linear layer's features are the last dim), or from
  `aten::addmm` with beta = alpha = 1 (always 2-d);
- the layer's weight and bias (or None) are constant floating tensors;
- every other use of the layer's output only reads its shape (`aten::dim`,
  `aten::size.int`, ...: the folded output has the same metadata), so the
  layer can be rewritten in place.

The new weight and bias are computed in float64 and stored in the weight's
dtype. This runs after freezing has turned parameters into constants.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch

from ..ir.core import Graph, Node, Value
from .common import constant_value, insert_constant, scalar_of, tensor_type

_CONVS = {
    "aten::conv1d", "aten::conv2d", "aten::conv3d",
    "aten::conv1d.padding", "aten::conv2d.padding", "aten::conv3d.padding",
    "aten::convolution", "aten::_convolution",
}  # fmt: skip
_TRANSPOSED_INPUT = {"aten::convolution": 6, "aten::_convolution": 6}

# kind -> (index of eps, index of the `training` flag or None)
_BATCH_NORMS = {
    "aten::batch_norm": (7, 5),
    "aten::native_batch_norm": (7, 5),
    "aten::_native_batch_norm_legit_no_training": (6, None),
}

# Ops that read only a tensor's metadata, which the fold keeps. (A rewrite
# rule of this pass, not a purity fact: purity comes from the op table.)
_SHAPE_ONLY = {
    "aten::dim", "aten::size.int", "aten::sym_size.int", "aten::numel", "aten::sym_numel",
    "aten::is_floating_point", "prim::size", "prim::len.Tensor", "prim::device", "prim::dtype",
    "prim::layout", "prim::is_cuda",
}  # fmt: skip


def run(graph: Graph) -> bool:
    """Fold every foldable batch norm into its producer; True if any was folded."""
    changed = False
    for node in list(graph.walk()):
        if node.block is not None and node.kind in _BATCH_NORMS:
            changed |= _fold(node)
    return changed


def _tensor(v: Value) -> Optional[torch.Tensor]:
    value = constant_value(v, None)
    return value if isinstance(value, torch.Tensor) else None


def _tensor_or_none(v: Value) -> Tuple[bool, Optional[torch.Tensor]]:
    value = constant_value(v, 0)
    if value is None or isinstance(value, torch.Tensor):
        return True, value
    return False, None


def _fold(bn: Node) -> bool:
    eps_at, training_at = _BATCH_NORMS[bn.kind]
    if training_at is not None and scalar_of(bn.inputs[training_at]) != (True, False):
        return False
    if any(o.uses for o in bn.outputs[1:]):
        return False
    y = bn.inputs[0]
    layer = y.node
    if layer is None or any(u.node is not bn and u.node.kind not in _SHAPE_ONLY for u in y.uses):
        return False
    slots = _weight_bias_slots(layer)
    if slots is None:
        return False
    w_at, b_at, channel_dim = slots
    weight = _tensor(layer.inputs[w_at])
    ok_bias, bias = _tensor_or_none(layer.inputs[b_at])
    stats = _bn_stats(bn, eps_at)
    if weight is None or not ok_bias or stats is None or not weight.is_floating_point():
        return False
    scale, shift = stats
    channels = weight.shape[channel_dim]
    if scale.numel() != channels or shift.numel() != channels:
        return False
    view = [1] * weight.dim()
    view[channel_dim] = channels
    w64 = weight.detach().double()
    new_weight = (w64 * scale.view(view)).to(weight.dtype)
    b64 = bias.detach().double() if bias is not None else torch.zeros(channels, dtype=torch.float64, device=weight.device)
    new_bias = (b64 * scale + shift).to(weight.dtype)
    layer.replace_input(w_at, insert_constant(layer, new_weight, tensor_type(new_weight)))
    layer.replace_input(b_at, insert_constant(layer, new_bias, tensor_type(new_bias)))
    bn.outputs[0].replace_all_uses_with(y)
    bn.destroy()
    return True


def _weight_bias_slots(layer: Node) -> Optional[Tuple[int, int, int]]:
    """(weight input, bias input, output-channel dim of the weight) of a foldable layer."""
    if layer.kind in _CONVS:
        at = _TRANSPOSED_INPUT.get(layer.kind)
        if at is not None and scalar_of(layer.inputs[at]) != (True, False):
            return None
        return 1, 2, 0
    if layer.kind == "aten::linear" and known_rank(layer.inputs[0]) == 2:
        return 1, 2, 0
    if layer.kind == "aten::addmm" and all(scalar_of(v) == (True, 1) for v in layer.inputs[3:5]):
        return 2, 0, 1
    return None


def _bn_stats(bn: Node, eps_at: int) -> Optional[Tuple[torch.Tensor, torch.Tensor]]:
    """(scale, shift) in float64, or None when the batch norm's inputs are not constants."""
    ok_g, gamma = _tensor_or_none(bn.inputs[1])
    ok_b, beta = _tensor_or_none(bn.inputs[2])
    mean, var = _tensor(bn.inputs[3]), _tensor(bn.inputs[4])
    ok_eps, eps = scalar_of(bn.inputs[eps_at])
    if not (ok_g and ok_b and ok_eps) or mean is None or var is None:
        return None
    var64 = var.detach().double()
    scale = torch.rsqrt(var64 + float(eps))
    if gamma is not None:
        scale = scale * gamma.detach().double()
    shift = -mean.detach().double() * scale
    if beta is not None:
        shift = shift + beta.detach().double()
    return scale.flatten(), shift.flatten()


def known_rank(v: Value) -> Optional[int]:
    """The number of dims of tensor `v` when the graph makes it certain, else None.

    From a refined type, or from the producer: `aten::addmm`/`aten::mm`
    (2), `aten::flatten.using_ints(x, 1, -1)` (2), `view`/`reshape` with a
    constant-length shape list, `aten::linear` (its input's rank).
    """
    t = v.type
    sizes = getattr(t, "sizes", None)
    if sizes is not None:
        return len(sizes)
    node = v.node
    if node is None:
        return None
    if node.kind in ("aten::addmm", "aten::mm"):
        return 2
    if node.kind == "aten::flatten.using_ints" and [scalar_of(i) for i in node.inputs[1:3]] == [(True, 1), (True, -1)]:
        return 2
    if node.kind in ("aten::view", "aten::reshape"):
        shape = node.inputs[1]
        if shape.node is not None and shape.node.kind == "prim::ListConstruct":
            return len(shape.node.inputs)
        value = constant_value(shape, None)
        return len(value) if isinstance(value, list) else None
    if node.kind == "aten::linear":
        return known_rank(node.inputs[0])
    return None
