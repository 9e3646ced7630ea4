"""Torch functions the recorder handles itself: sizes, conversions, metadata.

Each handler takes `(recorder, func, args, kwargs)` and returns what the
call returns:

- sizes (`x.size(d)`, `x.size()`, `x.shape`, `x.numel()`) return
  `TracedInt`s bound to `aten::size.int` / `aten::numel` nodes;
- conversions of tensors to Python values (`bool`, `int`, `float`,
  `item`, `tolist`, `numpy`) warn with `TracerWarning` when the tensor
  depends on inputs or state, and run unrecorded (the value is baked);
- metadata, printing and tensors made from Python data (`torch.tensor`)
  run unrecorded (the latter become constants when used);
- autograd calls (`torch.autograd.grad`, `backward`) are refused: the
  program runs without autograd while it is traced.
"""
from __future__ import annotations

from typing import Any, Callable, Dict

import torch

from ...ir import types as T
from .locations import user_location, warn
from .sizes import TracedInt


def size_of(rec: Any, func: Any, args: tuple, kwargs: Dict[str, Any]) -> Any:
    """`x.size(d)` / `x.size()` / `x.shape`: ints recorded by `aten::size.int`."""
    t = args[0]
    dim = args[1] if len(args) > 1 else kwargs.get("dim")
    with rec.paused():
        if dim is not None and not isinstance(dim, int):
            return t.size(dim)  # a named dimension: baked
        loc = user_location()
        dims = [dim] if dim is not None else list(range(t.dim()))
        out = []
        for d in dims:
            traced = TracedInt(t.size(d))
            rec.emit("aten::size.int", lambda f, d=d: [f.value_of(t, T.TENSOR, loc), f.value_of(d, T.INT, loc)],
                     [T.INT], [traced], loc=loc)  # fmt: skip
            out.append(traced)
    return out[0] if dim is not None else torch.Size(out)


def _numel(rec: Any, func: Any, args: tuple, kwargs: Dict[str, Any]) -> Any:
    with rec.paused():
        traced = TracedInt(args[0].numel())
        loc = user_location()
        rec.emit("aten::numel", lambda f: [f.value_of(args[0], T.TENSOR, loc)], [T.INT], [traced], loc=loc)
    return traced


def _len(rec: Any, func: Any, args: tuple, kwargs: Dict[str, Any]) -> Any:
    """`len(x)`: Python turns the result into a plain int, so the size is baked."""
    with rec.paused():
        if args[0].dim() > 0 and rec._is_dynamic(args[0]):
            warn("Using len to get tensor shape might cause the trace to be incorrect: the size is "
                 "recorded as a constant. Use tensor.shape[0] or tensor.size(0) instead")  # fmt: skip
        return func(*args)


def _conversion(rec: Any, func: Any, args: tuple, kwargs: Dict[str, Any]) -> Any:
    """`bool(t)`, `int(t)`, `t.item()`, `t.tolist()`, ...: the value is baked."""
    with rec.paused():
        if rec._is_dynamic(args[0]):
            what = {"__bool__": "a Python boolean", "tolist": "a Python list", "numpy": "a NumPy array",
                    "__array__": "a NumPy array", "__index__": "a Python index"}.get(func.__name__, "a Python number")  # fmt: skip
            warn(
                f"Converting a tensor to {what} might cause the trace to be incorrect. We can't record the "
                "data flow of Python values, so this value will be treated as a constant in the future. "
                "This means that the trace might not generalize to other inputs!"
            )
        return func(*args, **kwargs)


def _tensor_of(rec: Any, func: Any, args: tuple, kwargs: Dict[str, Any]) -> Any:
    """`torch.tensor(n)` of a size stays dynamic (`aten::scalar_tensor`, as torch.jit's
    `prim::NumToTensor`); other data runs unrecorded and becomes a constant."""
    data = args[0] if args else kwargs.get("data")
    extra = set(kwargs) - {"data", "dtype", "device"}
    if isinstance(data, TracedInt) and len(args) <= 1 and not extra:
        dtype = kwargs.get("dtype") or torch.int64
        return rec.on_function(torch.scalar_tensor, (data,), {"dtype": dtype, "device": kwargs.get("device")})
    return _passthrough(rec, func, args, kwargs)


def _passthrough(rec: Any, func: Any, args: tuple, kwargs: Dict[str, Any]) -> Any:
    """Runs without recording: metadata, printing, tensors made from Python data."""
    with rec.paused():
        return func(*args, **kwargs)


def _has_traced_int(item: Any) -> bool:
    if isinstance(item, slice):
        return any(isinstance(b, TracedInt) for b in (item.start, item.stop, item.step))
    return isinstance(item, TracedInt)


def _symbolic_index(x: Any, index: Any) -> bool:
    """True for a basic index (ints, slices, None, one `...`) holding a `TracedInt`."""
    items = index if isinstance(index, tuple) else (index,)
    simple = all(i is None or i is Ellipsis or isinstance(i, (int, slice)) for i in items)
    if not isinstance(x, torch.Tensor) or not simple or not any(_has_traced_int(i) for i in items):
        return False
    consuming = sum(1 for i in items if i is not None and i is not Ellipsis and not isinstance(i, bool))
    return not (any(isinstance(i, bool) for i in items) or sum(1 for i in items if i is Ellipsis) > 1 or consuming > x.dim())


def _getitem(rec: Any, func: Any, args: tuple, kwargs: Dict[str, Any]) -> Any:
    """`x[...]` with a size in an index or slice bound (`x[:n]`, `x[n - 1]`) stays dynamic.

    The dispatch level sees indexing as `aten::slice` / `aten::select` with plain
    ints (the size is baked). When an index holds a `TracedInt`, the indexing is
    recorded here instead, one ATen op per index item, so the bound is the
    recorded size. Other indexing (tensors, booleans, constants only) goes to
    the dispatch level as before.
    """
    x, index = args[0], args[1]
    if not _symbolic_index(x, index):
        return func(*args, **kwargs)  # recorded at the dispatch level
    items = index if isinstance(index, tuple) else (index,)
    consuming = sum(1 for i in items if i is not None and i is not Ellipsis and not isinstance(i, bool))
    result, dim = x, 0
    for item in items:
        if item is None:
            result = rec.on_function(torch.Tensor.unsqueeze, (result, dim), {})
            dim += 1
        elif item is Ellipsis:
            dim += x.dim() - consuming
        elif isinstance(item, slice):
            start, stop, step = item.start, item.stop, 1 if item.step is None else item.step
            if not (start is None and stop is None and step == 1):
                result = rec.record_aten(torch.ops.aten.slice.Tensor, "aten::slice", (result, dim, start, stop, step))
            dim += 1
        else:
            result = rec.record_aten(torch.ops.aten.select.int, "aten::select", (result, dim, item))
    if result is x:
        result = rec.record_aten(torch.ops.aten.alias.default, "aten::alias", (x,))
    return result


def _setitem(rec: Any, func: Any, args: tuple, kwargs: Dict[str, Any]) -> Any:
    """`x[...] = v` with a size in an index or slice bound (`x[n - 1] = 0`, `x[: n // 2] = y`).

    As `_getitem`: the indexed view is recorded with the size kept symbolic,
    then the value is written into it (`aten::fill_` for a number,
    `aten::copy_` for a tensor, as torch.jit records it). Other assignments go
    to the dispatch level.
    """
    x, index, value = args[0], args[1], args[2]
    if not _symbolic_index(x, index) or not isinstance(value, (torch.Tensor, int, float, bool)):
        return func(*args, **kwargs)
    view = _getitem(rec, torch.Tensor.__getitem__, (x, index), {})
    if isinstance(value, torch.Tensor):
        rec.on_function(torch.Tensor.copy_, (view, value), {})
    else:
        rec.on_function(torch.Tensor.fill_, (view, value), {})
    return None


def _autograd_call(rec: Any, func: Any, args: tuple, kwargs: Dict[str, Any]) -> Any:
    """`torch.autograd.grad` / `backward`, `Tensor.backward`: a trace runs the program without
    autograd and records no gradient computation, so these are refused where they are called."""
    from .frame import TraceError

    name = "Tensor.backward" if func is torch.Tensor.backward else f"torch.autograd.{func.__name__}"
    loc = user_location()
    where = f"{loc.render()}\n" if loc is not None else ""
    raise TraceError(
        f"trace cannot record {name}: a trace runs the program without autograd and records no gradients\n{where}"
        "what to do: compile the function with torchkiln.script, which supports it, or compute gradients outside the traced code"
    )


def _plain_int(rec: Any, func: Any, args: tuple, kwargs: Dict[str, Any]) -> Any:
    with rec.paused():
        return func(*args, **kwargs)


SPECIAL: Dict[Any, Callable[[Any, Any, tuple, Dict[str, Any]], Any]] = {
    torch.Tensor.size: size_of,
    torch.Tensor.__getitem__: _getitem,
    torch.Tensor.__setitem__: _setitem,
    torch.Tensor.numel: _numel,
    torch.Tensor.nelement: _numel,
    torch.Tensor.__len__: _len,
    torch.Tensor.dim: _plain_int,
    torch.Tensor.ndimension: _plain_int,
    torch.Tensor.__bool__: _conversion,
    torch.Tensor.__int__: _conversion,
    torch.Tensor.__float__: _conversion,
    torch.Tensor.__index__: _conversion,
    torch.Tensor.__complex__: _conversion,
    torch.Tensor.item: _conversion,
    torch.Tensor.tolist: _conversion,
    torch.Tensor.numpy: _conversion,
    torch.Tensor.__array__: _conversion,
    torch.tensor: _tensor_of,
    torch.as_tensor: _tensor_of,
    torch.Tensor.new_tensor: _passthrough,
    torch.Tensor.__repr__: _passthrough,
    torch.Tensor.__str__: _passthrough,
    torch.Tensor.__format__: _passthrough,
    torch.Tensor.__hash__: _passthrough,
    torch.Tensor.__deepcopy__: _passthrough,
    torch.Tensor.__reduce_ex__: _passthrough,
    torch.Tensor.data_ptr: _passthrough,
    torch.Tensor.stride: _passthrough,
    torch.Tensor.is_contiguous: _passthrough,
    torch.Tensor.requires_grad_: _passthrough,
    torch.Tensor.register_hook: _passthrough,
    torch.Tensor.element_size: _passthrough,
    torch.Tensor.get_device: _passthrough,
    torch.Tensor.is_floating_point: _passthrough,
    torch.Tensor.is_complex: _passthrough,
    torch.Tensor.untyped_storage: _passthrough,
    torch.autograd.grad: _autograd_call,
    torch.autograd.backward: _autograd_call,
    torch.Tensor.backward: _autograd_call,
}
