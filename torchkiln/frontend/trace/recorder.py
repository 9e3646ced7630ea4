"""The recorder: watches one run of a program and writes the ops it performs.

The recorder only records (as in JAX): the program runs eagerly on real
tensors and every op it performs is appended to the graphs of the frames on
the stack (`frame.py`). Two hooks into PyTorch feed it:

- a `TorchFunctionMode` sees each call of a torch function or Tensor method
  made by the program. A builtin (`torch.add`, `Tensor.view`, `F.linear`)
  is recorded as the ATen op of the same name, overload picked by
  `ops.resolve` from the argument types (`aten::linear`, `aten::view`), so
  composite ops stay whole and ints built from sizes stay symbolic
  (`sizes.TracedInt`). A few Python-level `F.*` functions are first
  rewritten into the builtin they call (`lowerings.py`). This level also
  handles sizes (`x.size(0)`, `x.shape`), conversions of tensors to Python
  values (`TracerWarning`, the value is baked) and tensors made from Python
  data (`torch.tensor(...)`, constants).
- a `TorchDispatchMode` (below autograd) records everything else exactly as
  the dispatcher runs it (`aten::<name>.<overload>` from the OpOverload's
  schema): Python-level functions without a lowering, indexing, ops the
  function level could not resolve. It is paused while a function-level op
  runs, so nothing is recorded twice. See docs/trace.md.

Module calls are watched with forward hooks (global ones, and on the traced
module's own submodules one that also sees keyword arguments): a call of a
submodule of the traced module opens a frame that records that submodule's
`forward` (ops are recorded into every open frame, so the caller's graph
stays flat). Its inputs are the call's arguments holding tensors,
positional and keyword (`_tensor_inputs`); numbers and strings are baked in.
Calls of `ScriptFunction`s and `ScriptModule` methods arrive through
`api.set_trace_recorder` and become `prim::CallFunction` /
`prim::CallMethod` nodes.
"""
from __future__ import annotations

import contextlib
import threading
import types
from typing import Any, Callable, Collection, Dict, FrozenSet, Iterator, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

from ... import api, ops
from ...diagnostics import CompileError, Error, SourceRange
from ...ir import types as T
from ...ir.builder import Builder
from ...ir.core import Argument, CompilationUnit, Function, Graph
from . import lowerings
from .frame import CapturedValue, Frame, TraceError, input_type, type_of
from .locations import user_location, warn
from .special import SPECIAL, size_of
from .sizes import TracedInt, set_int_recorder

_CURRENT: List[Optional["Recorder"]] = [None]


def current() -> Optional["Recorder"]:
    """The recorder of the trace being run, if any."""
    return _CURRENT[0]


# -- which ATen op a torch function is --------------------------------------------

_DUNDERS = {
    "__add__": "add", "__radd__": "add", "__iadd__": "add_", "__sub__": "sub", "__isub__": "sub_",
    "__mul__": "mul", "__rmul__": "mul", "__imul__": "mul_", "__truediv__": "div", "__itruediv__": "div_",
    "__div__": "div", "__idiv__": "div_", "__matmul__": "matmul", "__floordiv__": "floor_divide",
    "__ifloordiv__": "floor_divide_", "__mod__": "remainder", "__imod__": "remainder_", "__pow__": "pow",
    "__ipow__": "pow_", "__neg__": "neg", "__abs__": "abs", "__invert__": "bitwise_not",
    "__lt__": "lt", "__le__": "le", "__gt__": "gt", "__ge__": "ge", "__eq__": "eq", "__ne__": "ne",
}  # fmt: skip

_TARGETS: Dict[Any, Optional[Tuple[str, bool]]] = {}


def aten_target(func: Any) -> Optional[Tuple[str, bool]]:
    """(`aten::<name>`, is a Tensor method) for a builtin torch function, or None."""
    try:
        return _TARGETS[func]
    except (KeyError, TypeError):
        pass
    target = _find_target(func)
    try:
        _TARGETS[func] = target
    except TypeError:
        pass
    return target


def _find_target(func: Any) -> Optional[Tuple[str, bool]]:
    name = getattr(func, "__name__", None)
    if name is None:
        return None
    if isinstance(func, (types.MethodDescriptorType, types.WrapperDescriptorType)):
        if getattr(func, "__objclass__", None) is not torch._C.TensorBase:
            return None
        is_method = True
    elif isinstance(func, types.BuiltinFunctionType):
        is_method = False
    else:
        return None
    name = _DUNDERS.get(name, name)
    qualified = f"aten::{name}"
    if not ops.overloads(qualified):
        return None
    return qualified, is_method


# -- the recorder -----------------------------------------------------------------------


class Recorder:
    """Records one run into `frames[0]` (and into submodule frames as they open).

    `class_type_of(module)` gives the class type of each module of the
    traced hierarchy (None for others); `methods` collects the `forward`
    recorded for each submodule, by module id.
    """

    def __init__(self, unit: CompilationUnit, root: Frame, class_type_of: Callable[[nn.Module], Optional[T.ClassType]]):
        self.unit = unit
        self.frames: List[Frame] = [root]
        self.class_type_of = class_type_of
        self.suspended = 0
        self.methods: Dict[int, Function] = {}
        self.merged: List[CompilationUnit] = []
        self.nondeterministic: List[str] = []
        self._module_stack: List[Tuple[nn.Module, Optional[Frame], str]] = []
        # The traced hierarchy's modules (not compiled ones), watched with keyword arguments.
        top = root.module
        self._tree = [m for m in top.modules() if not isinstance(m, api.ScriptModule)] if isinstance(top, nn.Module) else []
        self._tree_ids = {id(m) for m in self._tree}
        self._resolved: Dict[Any, Any] = {}
        self._function_mode: Optional[_FunctionRecorder] = None
        self._transparent: Dict[Any, Optional[Callable]] = {}
        self._patched_globals: Dict[int, Dict[str, Any]] = {}
        self._inside: set = set()
        self._thread = threading.get_ident()  # hooks are global; other threads are not recorded
        self.autocast = autocast_state()  # Note [Tracing under autocast]

    # -- activation -------------------------------------------------------------
    @contextlib.contextmanager
    def active(self) -> Iterator["Recorder"]:
        if _CURRENT[0] is not None:
            raise Error("torchkiln.trace cannot be called while another trace is being recorded")
        _CURRENT[0] = self
        previous = api.set_trace_recorder(self)
        set_int_recorder(self.record_int_op)
        pre = nn.modules.module.register_module_forward_pre_hook(self._pre_hook)
        post = nn.modules.module.register_module_forward_hook(self._post_hook, always_call=True)
        # Submodules of the traced module: a hook that also sees keyword arguments
        # (global hooks see positional ones only); `_pre_hook` leaves these to it.
        own = [m.register_forward_pre_hook(self._pre_hook_kwargs, with_kwargs=True) for m in self._tree]
        self._function_mode = _FunctionRecorder(self)
        try:
            with torch.no_grad(), _DispatchRecorder(self), self._function_mode:
                yield self
        finally:
            pre.remove()
            post.remove()
            for handle in own:
                handle.remove()
            set_int_recorder(None)
            api.set_trace_recorder(previous)
            _CURRENT[0] = None

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        self.suspended += 1
        try:
            yield
        finally:
            self.suspended -= 1

    # -- recording one node into every frame ------------------------------------
    def emit(
        self,
        kind: str,
        inputs: Callable[[Frame], List[Any]],
        out_types: Sequence[T.Type],
        results: Sequence[Any],
        attrs: Optional[Dict[str, Any]] = None,
        loc: Optional[SourceRange] = None,
    ) -> None:
        """Append `kind(inputs(frame)) -> out_types` to each frame; bind `results`."""
        for frame in list(self.frames):
            try:
                values = inputs(frame)
            except (CapturedValue, TraceError):
                if frame is self.frames[0]:
                    raise
                self._abandon(frame)
                continue
            node = frame.builder.op(kind, values, out_types, attrs, loc=loc)
            frame.bind_outputs(node, results)

    def _abandon(self, frame: Frame) -> None:
        """A submodule frame that cannot stand alone stops recording."""
        if frame is self.frames[0]:
            raise TraceError("internal: the root frame captured an outside value")
        self.frames.remove(frame)
        for i, (module, f, name) in enumerate(self._module_stack):
            if f is frame:
                self._module_stack[i] = (module, None, name)

    # -- function level ----------------------------------------------------------
    def on_function(self, func: Any, args: tuple, kwargs: Dict[str, Any]) -> Any:
        special = SPECIAL.get(func)
        if special is not None:
            return special(self, func, args, kwargs)
        if isinstance(func, types.MethodWrapperType) and isinstance(getattr(func, "__self__", None), types.GetSetDescriptorType):
            return self._getter(func, args)
        lowered = lowerings.lower(func, args, kwargs)
        if lowered is not None:
            func, args, kwargs = lowered
        target = aten_target(func)
        if target is not None:
            match = self._resolve(target, args, kwargs)
            if match is not None:
                return self._record_resolved(func, match, target[1], args, kwargs)
        if isinstance(func, types.FunctionType):
            return self._call_transparent(func, args, kwargs)
        return func(*args, **kwargs)  # recorded at the dispatch level

    def _call_transparent(self, func: types.FunctionType, args: tuple, kwargs: Dict[str, Any]) -> Any:
        """Run a Python-level torch function with the function mode on inside it.

        Note [Transparent Python functions]: `F.multi_head_attention_forward`
        and friends start with `if has_torch_function(...): return
        handle_torch_function(...)`, which is how this handler was reached;
        calling them again with the mode on would come straight back. A copy
        of the function whose globals say `has_torch_function* -> False` runs
        the body instead, with the mode pushed again, so the builtins it calls
        (and `x.shape` reads) are recorded at the function level as if the
        user had written them. A function that cannot be copied this way, or
        comes back anyway, runs with the mode off (ATen-level recording).
        """
        if func in self._inside:
            # Back again: a Tensor method overridden in Python (`Tensor.unflatten`)
            # calls `super().unflatten(...)`, whose torch-function dispatch names the
            # Python override. Record the builtin it is.
            builtin = getattr(torch._C.TensorBase, func.__name__, None)
            target = aten_target(builtin) if builtin is not None else None
            match = self._resolve(target, args, kwargs) if target is not None else None
            if match is not None:
                return self._record_resolved(builtin, match, target[1], args, kwargs)  # type: ignore[index]
            return func(*args, **kwargs)
        patched = self._transparent.get(func, _UNSET)
        if patched is _UNSET:
            patched = self._transparent[func] = self._make_transparent(func)
        if patched is None:
            return func(*args, **kwargs)
        self._inside.add(func)
        try:
            with self._function_mode:  # type: ignore[union-attr]
                return patched(*args, **kwargs)
        finally:
            self._inside.discard(func)

    def _make_transparent(self, func: types.FunctionType) -> Optional[Callable]:
        module_globals = func.__globals__
        if not set(func.__code__.co_names) & _HAS_TORCH_FUNCTION.keys():
            return None
        patched_globals = self._patched_globals.get(id(module_globals))
        if patched_globals is None:
            patched_globals = dict(module_globals)
            patched_globals.update(_HAS_TORCH_FUNCTION)
            self._patched_globals[id(module_globals)] = patched_globals
        copy = types.FunctionType(func.__code__, patched_globals, func.__name__, func.__defaults__, func.__closure__)
        copy.__kwdefaults__ = func.__kwdefaults__
        return copy

    def _resolve(self, target: Tuple[str, bool], args: tuple, kwargs: Dict[str, Any]) -> Any:
        name, is_method = target
        positional = args[1:] if is_method else args
        arg_types = [type_of(a) for a in positional]
        kw_types = {k: type_of(v) for k, v in kwargs.items()}
        if any(t is None for t in arg_types) or any(t is None for t in kw_types.values()):
            return None
        if is_method and not isinstance(args[0], torch.Tensor):
            return None
        consts = {i: [] for i, a in enumerate(positional) if isinstance(a, (list, tuple)) and not a}
        consts.update({k: [] for k, v in kwargs.items() if isinstance(v, (list, tuple)) and not v})
        key = (name, is_method, tuple(arg_types), tuple(sorted(kw_types.items(), key=lambda kv: kv[0])), tuple(consts))
        try:
            return self._resolved[key]
        except KeyError:
            pass
        try:
            match = ops.resolve(name, arg_types, kw_types, consts, self_type=T.TENSOR if is_method else None)
        except CompileError:
            match = None
        if match is not None and (_converts(match) or not match.op.schema.supported):
            match = None  # a value conversion: the call is not what resolve thinks; ATen decides
        self._resolved[key] = match
        return match

    def _record_resolved(self, func: Any, match: Any, is_method: bool, args: tuple, kwargs: Dict[str, Any]) -> Any:
        with self.paused():
            result = func(*args, **kwargs)
            loc = user_location()
            returns = match.return_types
            results = [result] if len(returns) == 1 else list(result) if returns else []
            results = [_traced_int(r) if t == T.INT else r for r, t in zip(results, returns)]
            positional = args[1:] if is_method else args
            inputs_of = _ResolvedInputs(match, positional, kwargs, args[0] if is_method else None, loc)
            self.emit(match.op.name, inputs_of, returns, results, loc=loc)
            self._note_random(match.op)
        if len(returns) == 1 and returns[0] == T.INT:
            return results[0]
        return result

    def record_aten(self, run: Any, name: str, args: tuple) -> Any:
        """Run the ATen op `run` on `args` (self first) and record it as `name`, ints kept symbolic."""
        match = self._resolve((name, True), args, {})
        if match is None:
            raise TraceError(f"cannot record {name} on {args[1:]!r}")
        return self._record_resolved(run, match, True, args, {})

    def _getter(self, func: Any, args: tuple) -> Any:
        name = func.__self__.__name__
        if name == "shape":
            return size_of(self, None, args, {})
        if name == "data":
            return self._record_resolved(torch.Tensor.detach, ops.resolve("aten::detach", [], {}, self_type=T.TENSOR), True, args, {})
        if name in ("T", "mT", "H", "mH", "real", "imag"):
            return func(*args)  # views, recorded at the dispatch level
        with self.paused():
            return func(*args)

    def _note_random(self, op: Any) -> None:
        if op.extra.get("nondeterministic"):
            self.nondeterministic.append(op.name)

    # -- dispatch level ----------------------------------------------------------
    def on_dispatch(self, func: torch._ops.OpOverload, args: tuple, kwargs: Dict[str, Any]) -> Any:
        with self.paused():
            result = func(*args, **kwargs)
            schema = func._schema
            kind = f"{schema.name}.{schema.overload_name}" if schema.overload_name else schema.name
            if kind in _UNRECORDED:
                if kind == "aten::_local_scalar_dense" and self._is_dynamic(args[0]):
                    warn("Converting a tensor to a Python number might cause the trace to be incorrect: "
                         "the value is recorded as a constant and will not change with the inputs")  # fmt: skip
                return result
            info = ops.find(kind)
            if info is None or not info.schema.supported:
                warn(f"{kind} cannot be recorded; its results are constants in the trace")
                return result
            returns = [r.type for r in info.schema.returns]
            results = [result] if len(returns) == 1 else list(result) if returns else []
            loc = user_location()
            try:
                self.emit(kind, _DispatchInputs(info.schema, args, kwargs, loc), returns, results, loc=loc)
            except TraceError as e:
                warn(f"{kind} cannot be recorded ({e}); its results are constants in the trace")
                return result
            self._note_random(info)
            return result

    def _is_dynamic(self, t: Any) -> bool:
        root = self.frames[0]
        if id(t) in root.env:
            return root.env[id(t)].node is None or root.env[id(t)].node.kind != "prim::Constant"
        return isinstance(t, torch.Tensor) and any(id(t) in f._tensor_paths for f in self.frames)

    # -- ints ----------------------------------------------------------------------
    def record_int_op(self, kind: str, operands: tuple, result: int) -> Optional[int]:
        if self.suspended:
            return None
        if ops.find(kind) is None:
            return None
        with self.paused():
            traced = TracedInt(result)
            loc = user_location()
            self.emit(kind, lambda f: [f.value_of(o, T.INT, loc) for o in operands], [T.INT], [traced], loc=loc)
            return traced

    # -- calls of compiled code ----------------------------------------------------
    def record_call(self, callee: Any, module: Optional[nn.Module], fn: Function, args: tuple) -> Any:
        """Run a ScriptFunction / ScriptMethod and record it as one call node."""
        run = callee._call
        if self.suspended or threading.get_ident() != self._thread:
            return run(module, *args) if module is not None else run(*args)
        previous = api.set_trace_recorder(None)
        try:
            with self.paused():
                result = run(module, *args) if module is not None else run(*args)
        finally:
            api.set_trace_recorder(previous)
        with self.paused():
            self._merge(callee._kiln_unit if module is None else module._kiln_unit)
            returns = fn.returns
            results = [_traced_int(result) if returns == T.INT else result]
            loc = user_location()
            arg_types = [a.type for a in (fn.args[1:] if module is not None else fn.args)]
            if module is not None:
                frames_ok = [f for f in self.frames if id(module) in f._module_paths]
                if self.frames[0] not in frames_ok:
                    raise TraceError(
                        f"a ScriptModule ({module._kiln_type.name}) that is not a submodule of the traced "
                        "module was called; make it a submodule (an attribute) so the call can be recorded"
                    )
                for frame in [f for f in self.frames if f not in frames_ok]:
                    self._abandon(frame)

                def inputs(frame: Frame) -> List[Any]:
                    return [frame.value_of(module, None, loc)] + [frame.value_of(a, t, loc) for a, t in zip(args, arg_types)]

                self.emit("prim::CallMethod", inputs, [returns], results, {"name": fn.name}, loc)
            else:
                self.emit("prim::CallFunction", lambda f: [f.value_of(a, t, loc) for a, t in zip(args, arg_types)],
                          [returns], results, {"name": fn.name}, loc)  # fmt: skip
        return results[0] if returns == T.INT else result

    def _merge(self, unit: CompilationUnit) -> None:
        """Add the classes and functions of a compiled callee's unit to the trace's unit."""
        if unit is self.unit or any(u is unit for u in self.merged):
            return
        self.merged.append(unit)
        for name, cls in unit.classes.items():
            if self.unit.classes.get(name, cls) is not cls:
                raise TraceError(f"two different classes are named {name} in one trace")
            self.unit.classes[name] = cls
        for name, fn in unit.functions.items():
            if self.unit.functions.get(name, fn) is not fn:
                raise TraceError(f"two different functions are named {name} in one trace")
            self.unit.functions[name] = fn

    # -- module calls ----------------------------------------------------------------
    def _pre_hook(self, module: nn.Module, args: tuple) -> None:
        if id(module) in self._tree_ids:
            return  # `_pre_hook_kwargs` sees this call
        self._enter(module, args, {})

    def _pre_hook_kwargs(self, module: nn.Module, args: tuple, kwargs: Dict[str, Any]) -> None:
        self._enter(module, args, kwargs)

    def _enter(self, module: nn.Module, args: tuple, kwargs: Dict[str, Any]) -> None:
        if threading.get_ident() != self._thread:
            return
        frame = None
        if not self.suspended:
            with self.paused():
                frame = self._open_frame(module, args, kwargs)
        self._module_stack.append((module, frame, type(module).__name__))

    def _post_hook(self, module: nn.Module, args: tuple, output: Any) -> None:
        if threading.get_ident() != self._thread:
            return
        if not self._module_stack or self._module_stack[-1][0] is not module:
            return
        _, frame, _ = self._module_stack.pop()
        if frame is None or frame not in self.frames:
            return
        self.frames.remove(frame)
        if output is None:
            return
        with self.paused():
            try:
                fn = finish_frame(frame, "forward", output, strict=True, arg_names=frame.arg_names, positional_only=positional_only_names(module.forward))
            except (TraceError, CapturedValue):
                return
            self.methods.setdefault(id(module), fn)

    def _open_frame(self, module: nn.Module, args: tuple, kwargs: Dict[str, Any]) -> Optional[Frame]:
        if isinstance(module, api.ScriptModule) or id(module) in self.methods:
            return None
        if module is self.frames[0].module and not self._module_stack:
            return None  # the traced module itself
        if any(f.module is module for f in self.frames) or self.class_type_of(module) is None:
            return None
        inputs = _tensor_inputs(module.forward, args, kwargs)
        if inputs is None:
            return None
        frame = Frame(Graph(), module, self.class_type_of, outer=self.frames[-1])
        for name, a in inputs:
            frame.add_input(a, name)
        frame.arg_names = [name for name, _ in inputs]
        self.frames.append(frame)
        return frame


def finish_frame(frame: Frame, name: str, output: Any, strict: bool, arg_names: Sequence[str], positional_only: Collection[str] = ()) -> Function:
    """Set the graph's output from `output` and wrap it in a `Function`.

    `positional_only`: the names declared before `/` in the traced function,
    which callers of the traced one cannot pass by keyword either.
    """
    value = output_value(frame, output, strict)
    frame.graph.add_output(value)
    run_in_autocast(frame.graph, autocast_state())  # still inside the caller's autocast block, if any
    args = []
    inputs = frame.graph.inputs
    start = 0
    if frame.self_value is not None:
        args.append(Argument("self", frame.self_value.type, positional_only=bool(positional_only)))  # before `/` too
        start = 1
    for i, v in enumerate(inputs[start:]):
        arg = arg_names[i] if i < len(arg_names) else f"input_{i}"
        args.append(Argument(arg, v.type, positional_only=arg in positional_only))
    return Function(name, frame.graph, args, value.type)


def _same_types(what: str, types: List[Any]) -> None:
    """A list or dict output holds one type (as torch.jit: 'must have consistent type')."""
    for t in types[1:]:
        if t != types[0]:
            raise TraceError(
                f"a traced program's {what}s must have a consistent type; found {types[0]} and {t}: "
                "return a tuple instead"
            )


def output_value(frame: Frame, obj: Any, strict: bool, loc: Optional[SourceRange] = None) -> Any:
    """The Value for a traced program's output: tensors, tuples, lists, dicts of them."""
    if isinstance(obj, (torch.Tensor, TracedInt)) or obj is None or isinstance(obj, (int, float, bool)):
        return frame.value_of(obj, None, loc)
    if isinstance(obj, tuple):
        items = [output_value(frame, x, strict, loc) for x in obj]
        return frame.builder.op("prim::TupleConstruct", items, [T.TupleType([v.type for v in items])], loc=loc).output
    if isinstance(obj, list):
        if strict:
            raise TraceError(
                "the traced program returns a list; a list output can change its length from run to run, "
                "so trace with strict=False to accept it, or return a tuple"
            )
        items = [output_value(frame, x, strict, loc) for x in obj]
        elem = items[0].type if items else T.TENSOR
        _same_types("list", [v.type for v in items])
        return frame.builder.op("prim::ListConstruct", items, [T.ListType(elem)], loc=loc).output
    if isinstance(obj, dict):
        if strict:
            raise TraceError(
                "the traced program returns a dict; a dict output can change its keys from run to run, "
                "so trace with strict=False to accept it"
            )
        flat: List[Any] = []
        for k, v in obj.items():
            flat.append(frame.value_of(k, None, loc))
            flat.append(output_value(frame, v, strict, loc))
        _same_types("dict key", [v.type for v in flat[0::2]])
        _same_types("dict value", [v.type for v in flat[1::2]])
        key_t = flat[0].type if flat else T.STR
        val_t = flat[1].type if flat else T.TENSOR
        return frame.builder.op("prim::DictConstruct", flat, [T.DictType(key_t, val_t)], loc=loc).output
    raise TraceError(
        f"a traced program can only output tensors, numbers and tuples, lists or dicts of them, not {type(obj).__name__}"
    )


def _tensor_inputs(forward: Any, args: tuple, kwargs: Dict[str, Any]) -> Optional[List[Tuple[str, Any]]]:
    """The inputs of a submodule's standalone `forward`, named, in its signature's order; None: it has none.

    Arguments holding tensors (a tensor, or tuples/lists/dicts of them, as a
    trace's own inputs) become inputs, positional and keyword alike
    (TorchScript's tracer does the same). Plain values (numbers, strings,
    None, bools) are baked in as the call used them, and the parameter is
    left out of the recorded `forward`. Anything else: no `forward`.
    """
    names = _arg_names(forward, len(args))
    bound: List[Tuple[str, Any]] = list(zip(names, args))
    if kwargs:
        import inspect

        try:
            signature = inspect.signature(forward)
            arguments = signature.bind(*args, **kwargs).arguments
        except (TypeError, ValueError):
            return None
        for name, value in arguments.items():
            if name in names:
                continue
            if signature.parameters[name].kind is inspect.Parameter.VAR_KEYWORD:
                return None  # `**kwargs`: no parameter names to give the inputs
            bound.append((name, value))
    inputs = []
    for name, value in bound:
        if value is None or isinstance(value, (bool, int, float, str)):
            continue  # baked
        try:
            input_type(value)
        except TraceError:
            return None
        inputs.append((name, value))
    return inputs


def positional_only_names(fn: Any) -> FrozenSet[str]:
    """The parameters of `fn` declared before `/`."""
    import inspect

    try:
        return frozenset(p.name for p in inspect.signature(fn).parameters.values() if p.kind is p.POSITIONAL_ONLY)
    except (TypeError, ValueError):
        return frozenset()


def _arg_names(fn: Any, n: int) -> List[str]:
    import inspect

    try:
        params = [p for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]  # fmt: skip
    except (TypeError, ValueError):
        params = []
    names = [p.name for p in params][:n]
    return names + [f"input_{i}" for i in range(len(names), n)]


def _converts(match: Any) -> bool:
    """Whether resolution converted a value (Tensor -> int, ...), beyond packing varargs."""
    return any(src.convert is not None or any(e.convert is not None for e in src.elements) for src in match.inputs)


def _traced_int(r: Any) -> Any:
    if isinstance(r, int) and not isinstance(r, bool) and not isinstance(r, TracedInt):
        return TracedInt(r)
    return r


class _ResolvedInputs:
    """Per frame: the inputs of a function-level op (defaults, lists, conversions via `ops.emit_inputs`)."""

    def __init__(self, match: Any, args: tuple, kwargs: Dict[str, Any], self_obj: Any, loc: Optional[SourceRange]):
        self.match, self.args, self.kwargs, self.self_obj, self.loc = match, args, kwargs, self_obj, loc
        self.types = {src.index if src.kind == "arg" else src.name: src.type for src in match.inputs if src.kind in ("arg", "kwarg")}

    def __call__(self, frame: Frame) -> List[Any]:
        loc, types_ = self.loc, self.types
        args = [frame.value_of(a, types_.get(i), loc) for i, a in enumerate(self.args)]
        kwargs = {k: frame.value_of(v, types_.get(k), loc) for k, v in self.kwargs.items()}
        self_value = frame.value_of(self.self_obj, T.TENSOR, loc) if self.self_obj is not None else None
        with frame.builder.at_loc(loc):
            return ops.emit_inputs(self.match, frame.builder, args, kwargs, self_value)


class _DispatchInputs:
    """Per frame: one input per schema argument of an ATen op, defaults filled in."""

    def __init__(self, schema: Any, args: tuple, kwargs: Dict[str, Any], loc: Optional[SourceRange]):
        self.items: List[Tuple[Any, T.Type]] = []
        for i, sarg in enumerate(schema.arguments):
            if i < len(args):
                obj = args[i]
            elif sarg.name in kwargs:
                obj = kwargs[sarg.name]
            else:
                obj = sarg.default
            self.items.append((obj, sarg.type))
        self.loc = loc

    def __call__(self, frame: Frame) -> List[Any]:
        return [frame.value_of(obj, typ, self.loc) for obj, typ in self.items]


def _never(*args: Any) -> bool:
    return False


_HAS_TORCH_FUNCTION = {"has_torch_function": _never, "has_torch_function_unary": _never, "has_torch_function_variadic": _never}
_UNSET = object()

# ATen ops the dispatch level never records: conversions to Python numbers and
# the lifting of `torch.tensor(...)` data (its result is a constant).
_UNRECORDED = {"aten::_local_scalar_dense", "aten::lift_fresh", "aten::lift", "aten::lift_fresh_copy"}


# -- the two torch modes ---------------------------------------------------------------


class _FunctionRecorder(TorchFunctionMode):
    def __init__(self, recorder: Recorder):
        super().__init__()
        self.recorder = recorder

    def __torch_function__(self, func, types_, args=(), kwargs=None):
        kwargs = kwargs or {}
        rec = self.recorder
        if rec.suspended:
            return func(*args, **kwargs)
        if torch._C._is_any_autocast_enabled() and autocast_state() != rec.autocast:
            # This level sees `x @ w` before autocast casts its inputs: an autocast block entered
            # inside the traced code would be lost (Note [Tracing under autocast]).
            raise TraceError(
                f"trace cannot record {getattr(func, '__name__', func)} under a torch.autocast block entered inside the "
                "traced code: the casts autocast makes are not recorded; compile the function with torchkiln.script "
                "(it supports `with torch.autocast(...)`), or call trace inside the autocast block instead"
            )
        return rec.on_function(func, args, kwargs)


# Note [Tracing under autocast]
# ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
# TorchScript users trace inside an autocast block
# (`with torch.autocast("cpu", dtype=torch.bfloat16): torch.jit.trace(m, x)`)
# to get a low-precision program. The recorder sees ops before autocast casts
# their inputs, so instead of recording casts, each recorded graph runs in
# the autocast state the trace started in: `prim::autocast_enter` (per
# enabled device, with that dtype and cache flag) opens the graph and
# `prim::autocast_exit` closes it (Note [Autocast in script] in
# ops/lang.py), so the program autocasts wherever it is called, as the
# recorded casts of torch.jit.trace do. A block entered or left inside the
# traced code changes the state mid-trace: that is refused.
_AUTOCAST_DEVICES = ("cpu", "cuda")


def autocast_state() -> Tuple[Tuple[str, Any, bool], ...]:
    """(device, dtype, cache flag) of each device autocast is enabled on, now."""
    if not torch._C._is_any_autocast_enabled():
        return ()
    cache = torch.is_autocast_cache_enabled()
    return tuple((d, torch.get_autocast_dtype(d), cache) for d in _AUTOCAST_DEVICES if torch.is_autocast_enabled(d))


def run_in_autocast(graph: Graph, state: Tuple[Tuple[str, Any, bool], ...]) -> None:
    """Wrap `graph`'s nodes in the autocast `state` (Note [Tracing under autocast])."""
    if not state:
        return
    block = graph.block
    first = block.nodes[0] if block.nodes else None
    b = Builder(block, first)
    for device, dtype, cache in state:
        b.op("prim::autocast_enter", [b.constant(dtype, T.SCALAR_TYPE), b.constant(True, T.BOOL), b.constant(cache, T.BOOL)], [], {"device_type": device})
    end = Builder(block)
    for _ in state:
        end.op("prim::autocast_exit", [], [])


class _DispatchRecorder(TorchDispatchMode):
    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        # torch wraps `__torch_dispatch__` to keep Dynamo out of it, which
        # imports torch._dynamo (~3 s) on the first op; a trace never
        # compiles with Dynamo inside the recorder.
        return False

    def __init__(self, recorder: Recorder):
        super().__init__()
        self.recorder = recorder

    def __torch_dispatch__(self, func, types_, args=(), kwargs=None):
        kwargs = kwargs or {}
        rec = self.recorder
        if rec.suspended:
            return func(*args, **kwargs)
        return rec.on_dispatch(func, args, kwargs)
