"""Python-level `torch.nn.functional` calls, rewritten as the builtin they wrap.

Note [Recording level]
~~~~~~~~~~~~~~~~~~~~~~
The recorder sees a call at the `__torch_function__` level only for the
outermost function: while its handler runs, the mode is off, so the builtins
a Python function such as `F.batch_norm` calls are invisible there and reach
the recorder only below autograd, as decomposed ATen ops
(`aten::_native_batch_norm_legit_no_training`). For the functions models use
most, this table rewrites the Python call into the builtin it performs
(`torch.batch_norm(...)`), which the recorder records as one ATen op with
its exact overload (`aten::batch_norm`), so passes such as conv/batch-norm
folding recognise it. A function not listed here still traces correctly,
through the ATen-level recording.

Each rule takes the bound arguments (`inspect.Signature.bind` with
defaults applied) and returns `(builtin, args, kwargs)`, or None to leave
the call alone.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable, Dict, Optional, Tuple

import torch
import torch.nn.functional as F

Call = Tuple[Callable[..., Any], tuple, Dict[str, Any]]
Rule = Callable[[Dict[str, Any]], Optional[Call]]

_nn = torch._C._nn


def _unary(plain: Callable, inplace_fn: Callable) -> Rule:
    def rule(a: Dict[str, Any]) -> Optional[Call]:
        return (inplace_fn if a.get("inplace") else plain), (a["input"],), {}

    return rule


def _softmax(builtin: Callable) -> Rule:
    def rule(a: Dict[str, Any]) -> Optional[Call]:
        if a["dim"] is None:
            return None
        return builtin, (a["input"], a["dim"]), {"dtype": a["dtype"]}

    return rule


def _identity(x: Any) -> Any:
    return x


def _dropout(a: Dict[str, Any]) -> Optional[Call]:
    if not a["training"]:
        return _identity, (a["input"],), {}  # nothing to record: the output is the input
    fn = torch.dropout_ if a["inplace"] else torch.dropout
    return fn, (a["input"], a["p"], a["training"]), {}


def _batch_norm(a: Dict[str, Any]) -> Optional[Call]:
    args = (a["input"], a["weight"], a["bias"], a["running_mean"], a["running_var"],
            a["training"], a["momentum"], a["eps"], torch.backends.cudnn.enabled)  # fmt: skip
    return torch.batch_norm, args, {}


def _layer_norm(a: Dict[str, Any]) -> Optional[Call]:
    args = (a["input"], list(a["normalized_shape"]), a["weight"], a["bias"], a["eps"], torch.backends.cudnn.enabled)
    return torch.layer_norm, args, {}


def _group_norm(a: Dict[str, Any]) -> Optional[Call]:
    args = (a["input"], a["num_groups"], a["weight"], a["bias"], a["eps"], torch.backends.cudnn.enabled)
    return torch.group_norm, args, {}


def _max_pool(builtin: Callable) -> Rule:
    def rule(a: Dict[str, Any]) -> Optional[Call]:
        kwargs = a.get("kwargs", {})
        positional = a.get("args", ())
        names = ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices")
        bound = dict(zip(names, positional))
        bound.update(kwargs)
        if bound.get("return_indices") or "input" not in bound or "kernel_size" not in bound:
            return None
        stride = bound.get("stride")
        args = (bound["input"], bound["kernel_size"], [] if stride is None else stride,
                bound.get("padding", 0), bound.get("dilation", 1), bound.get("ceil_mode", False))  # fmt: skip
        return builtin, args, {}

    return rule


def _adaptive_avg_pool2d(a: Dict[str, Any]) -> Optional[Call]:
    size = a["output_size"]
    if size is None or (isinstance(size, (list, tuple)) and any(s is None for s in size)):
        return None
    return _nn.adaptive_avg_pool2d, (a["input"], size), {}


def _embedding(a: Dict[str, Any]) -> Optional[Call]:
    if a["max_norm"] is not None:
        return None
    padding_idx = a["padding_idx"]
    weight = a["weight"]
    if padding_idx is None:
        padding_idx = -1
    elif padding_idx < 0:
        padding_idx = weight.size(0) + padding_idx
    return torch.embedding, (weight, a["input"], padding_idx, a["scale_grad_by_freq"], a["sparse"]), {}


def _leaky_relu(a: Dict[str, Any]) -> Optional[Call]:
    fn = _nn.leaky_relu_ if a["inplace"] else _nn.leaky_relu
    return fn, (a["input"], a["negative_slope"]), {}


def _hardtanh(a: Dict[str, Any]) -> Optional[Call]:
    fn = _nn.hardtanh_ if a["inplace"] else _nn.hardtanh
    return fn, (a["input"], a["min_val"], a["max_val"]), {}


def _elu(a: Dict[str, Any]) -> Optional[Call]:
    fn = _nn.elu_ if a["inplace"] else _nn.elu
    return fn, (a["input"], a["alpha"]), {}


def _sigmoid(a: Dict[str, Any]) -> Optional[Call]:
    return torch.sigmoid, (a["input"],), {}


def _tanh(a: Dict[str, Any]) -> Optional[Call]:
    return torch.tanh, (a["input"],), {}


# Tensor conversion methods recorded as `aten::to.dtype`.
def _to_dtype(dtype: torch.dtype) -> Callable[..., Optional[Call]]:
    def rule(a: Dict[str, Any]) -> Optional[Call]:
        if a.get("memory_format", torch.preserve_format) is not torch.preserve_format:
            return None
        return torch.Tensor.to, (a["self"], dtype), {}

    return rule


_RULES: Dict[Any, Rule] = {
    F.relu: _unary(torch.relu, torch.relu_),
    F.relu6: _unary(_nn.relu6, _nn.relu6_),
    F.silu: _unary(_nn.silu, _nn.silu_),
    F.hardswish: _unary(_nn.hardswish, _nn.hardswish_),
    F.softmax: _softmax(torch.Tensor.softmax),
    F.log_softmax: _softmax(torch.Tensor.log_softmax),
    F.dropout: _dropout,
    F.batch_norm: _batch_norm,
    F.layer_norm: _layer_norm,
    F.group_norm: _group_norm,
    F.adaptive_avg_pool2d: _adaptive_avg_pool2d,
    F.embedding: _embedding,
    F.leaky_relu: _leaky_relu,
    F.hardtanh: _hardtanh,
    F.elu: _elu,
    F.sigmoid: _sigmoid,
    F.tanh: _tanh,
}

# Functions taking (*args, **kwargs) (boolean dispatch): the rule binds by position itself.
_VARARGS_RULES: Dict[Any, Rule] = {
    F.max_pool1d: _max_pool(torch.max_pool1d),
    F.max_pool2d: _max_pool(torch.max_pool2d),
    F.max_pool3d: _max_pool(torch.max_pool3d),
}

_TENSOR_CASTS: Dict[Any, Callable[..., Optional[Call]]] = {
    torch.Tensor.float: _to_dtype(torch.float32),
    torch.Tensor.double: _to_dtype(torch.float64),
    torch.Tensor.half: _to_dtype(torch.float16),
    torch.Tensor.bfloat16: _to_dtype(torch.bfloat16),
    torch.Tensor.int: _to_dtype(torch.int32),
    torch.Tensor.long: _to_dtype(torch.int64),
    torch.Tensor.short: _to_dtype(torch.int16),
    torch.Tensor.bool: _to_dtype(torch.bool),
}

_SIGNATURES: Dict[Any, inspect.Signature] = {}


def lower(func: Any, args: tuple, kwargs: Dict[str, Any]) -> Optional[Call]:
    """The builtin call equivalent to `func(*args, **kwargs)`, or None."""
    rule = _RULES.get(func)
    if rule is not None:
        sig = _SIGNATURES.get(func)
        if sig is None:
            sig = _SIGNATURES[func] = inspect.signature(func)
        try:
            bound = sig.bind(*args, **kwargs)
        except TypeError:
            return None
        bound.apply_defaults()
        return rule(dict(bound.arguments))
    rule = _VARARGS_RULES.get(func)
    if rule is not None:
        return rule({"args": args, "kwargs": kwargs})
    cast = _TENSOR_CASTS.get(func)
    if cast is not None and len(args) == 1 and set(kwargs) <= {"memory_format"}:
        return cast({"self": args[0], **kwargs})
    return None
