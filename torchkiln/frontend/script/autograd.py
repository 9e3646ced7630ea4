"""`torch.autograd.grad`, `torch.autograd.backward` and `Tensor.backward` in scripted code.

```
gs = torch.autograd.grad([y], [x], create_graph=True)
    %ys : Tensor[] = prim::ListConstruct(%y)
    %xs : Tensor[] = prim::ListConstruct(%x)
    %gs : Tensor?[] = prim::autograd_grad(%ys, %xs, %none, %none, %true, %false)
loss.backward()
    %ls : Tensor[] = prim::ListConstruct(%loss)
    prim::autograd_backward(%ls, %none, %none, %false, %none)
```

Note [Autograd calls in script]
-------------------------------
TorchScript compiles these calls to its builtins `aten::grad` and
`aten::backward`, JIT-only registrations the dispatcher does not have (so
not `aten::` ops here, `ops/aten.py`). torchkiln's are the prims
`prim::autograd_grad` and `prim::autograd_backward` (`ops/lang.py`), with
TorchScript's schemas; `autograd_backward` also takes `inputs`.

- Arguments: what torch.jit.script accepts, by position in TorchScript's
  order (grad's sixth is `allow_unused`, as there; eager's sixth is the
  deprecated `only_inputs`) or by keyword; and, as eager Python, a single
  tensor or a tuple where a list of tensors goes, a list of tensors for the
  gradients (TorchScript wants `List[Optional[Tensor]]` there), and
  `inputs=` of backward. Eager's `only_inputs`, `is_grads_batched`,
  `materialize_grads` and `grad_variables` are refused. Other types fail
  overload resolution, which names the prim's schema.
- grad's result is `List[Optional[Tensor]]`, as in TorchScript (None for an
  input unused with `allow_unused=True`): a function declared `-> Tensor`
  that returns `g[0]` refines it first (`assert g[0] is not None`).
- `Tensor.backward(...)` is `prim::autograd_backward` of a one-tensor list,
  as Python's `Tensor.backward` calls `torch.autograd.backward`. The
  dispatcher's `aten::_backward` is not used for it: its empty `inputs`
  means every leaf, where Python's `inputs=[]` raises.
- Effects: both prims are impure (never folded, merged, moved or deleted)
  and `runs_autograd`: no tensor computation merges across them (Note [Mode
  barriers] in `passes/cse.py`). `x.grad` is `prim::grad`, impure too.
- Executors: the Python executor and the interpreter call
  `torch.autograd.grad` / `torch.autograd.backward`; the C++ runtime calls
  libtorch's `torch::autograd::grad` / `backward` after the Python
  wrappers' own checks (`csrc/src/prims_autograd.cpp`).
"""
from __future__ import annotations

import ast
from typing import Dict, Sequence

from ...ir.core import Value
from ...ir.types import NONE, TENSOR, ListType, OptionalType, TensorType, Type
from .sugared import Args, Kwargs, SimpleValue, SugaredValue

_OPTIONAL_TENSOR = OptionalType(TENSOR)

# Eager-only arguments script refuses: name -> what to do instead.
_GRAD_EAGER_ONLY = {
    "only_inputs": "leave it out: it is deprecated and ignored by torch.autograd.grad",
    "is_grads_batched": "batched gradients (vmap) are not supported in script: call grad once per gradient",
    "materialize_grads": "pass allow_unused=True and write `torch.zeros_like(x) if g is None else g`",
}
_BACKWARD_EAGER_ONLY = {"grad_variables": "it is deprecated: pass grad_tensors"}

# Arguments that take a list of tensors, and the element type of that list.
_TENSOR_LISTS: Dict[str, Type] = {
    "outputs": TENSOR, "inputs": TENSOR, "tensors": TENSOR,
    "grad_outputs": _OPTIONAL_TENSOR, "grad_tensors": _OPTIONAL_TENSOR,
}  # fmt: skip


def grad(em, node: ast.Call, args: Args, kwargs: Kwargs) -> SugaredValue:
    """`torch.autograd.grad(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused)`."""
    names = ("outputs", "inputs", "grad_outputs", "retain_graph", "create_graph", "allow_unused")
    bound = _bind(em, node, "torch.autograd.grad", names, (), args, kwargs, _GRAD_EAGER_ONLY)
    outs, _ = em.call_op(node, "prim::autograd_grad", [], _listed(em, node, bound), what="`torch.autograd.grad`")
    return SimpleValue(outs[0])


def backward(em, node: ast.Call, args: Args, kwargs: Kwargs) -> SugaredValue:
    """`torch.autograd.backward(tensors, grad_tensors, retain_graph, create_graph, *, inputs)`."""
    names = ("tensors", "grad_tensors", "retain_graph", "create_graph")
    bound = _bind(em, node, "torch.autograd.backward", names, ("inputs",), args, kwargs, _BACKWARD_EAGER_ONLY)
    return _run_backward(em, node, "`torch.autograd.backward`", _listed(em, node, bound))


def tensor_backward(em, node: ast.Call, x: Value, args: Args, kwargs: Kwargs) -> SugaredValue:
    """`x.backward(gradient, retain_graph, create_graph, inputs)`: backward of `[x]`."""
    names = ("gradient", "retain_graph", "create_graph", "inputs")
    bound = _bind(em, node, "Tensor.backward", names, (), args, kwargs, {})
    values = _listed(em, node, bound)
    values["tensors"] = _one_list(em, x, TENSOR)
    gradient = values.pop("gradient", None)
    if gradient is not None:
        values["grad_tensors"] = _gradient_list(em, node, gradient)
    return _run_backward(em, node, "`Tensor.backward`", values)


def _run_backward(em, node: ast.Call, what: str, values: Dict[str, Value]) -> SugaredValue:
    em.call_op(node, "prim::autograd_backward", [], values, what=what)
    return SimpleValue(em.const(None))


def _bind(em, node: ast.Call, name: str, positional: Sequence[str], keyword_only: Sequence[str], args: Args, kwargs: Kwargs,
          eager_only: Dict[str, str]) -> Dict[str, SugaredValue]:
    """The arguments by parameter name, as Python binds them; eager-only and unknown names fail."""
    if len(args) > len(positional):
        em.fail(node, f"{name}() takes at most {len(positional)} positional arguments ({', '.join(positional)}), {len(args)} given")
    bound: Dict[str, SugaredValue] = dict(zip(positional, args))
    for key, value in kwargs.items():
        if key in eager_only:
            em.fail(node, f"{name}() argument '{key}' is not supported in script", hint=eager_only[key])
        if key not in positional and key not in keyword_only:
            em.fail(node, f"{name}() got an unexpected keyword argument '{key}'", hint=f"its arguments are {', '.join((*positional, *keyword_only))}")
        if key in bound:
            em.fail(node, f"{name}() got multiple values for argument '{key}'")
        bound[key] = value
    return bound


def _listed(em, node: ast.Call, bound: Dict[str, SugaredValue]) -> Dict[str, Value]:
    """The values by name, a single tensor given for a list of tensors made a one-tensor list."""
    values = {}
    for key, sv in bound.items():
        v = sv.as_value(em, node)
        elem = _TENSOR_LISTS.get(key)
        if elem is not None and isinstance(v.type, TensorType):
            v = _one_list(em, v, elem)
        values[key] = v
    return values


def _one_list(em, v: Value, elem: Type) -> Value:
    return em.op("prim::ListConstruct", [v], [ListType(elem)]).output


def _gradient_list(em, node: ast.Call, gradient: Value) -> Value:
    """Tensor.backward's `gradient` (a Tensor or None) as `grad_tensors` (None, or a one-item list)."""
    if gradient.type == NONE:
        return gradient
    if not gradient.type.is_subtype_of(_OPTIONAL_TENSOR):
        em.fail(node, f"Tensor.backward() argument 'gradient' must be a Tensor or None, not {gradient.type}")
    return _one_list(em, gradient, _OPTIONAL_TENSOR)

