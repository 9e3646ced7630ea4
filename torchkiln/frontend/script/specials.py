"""Special forms and compile-time helpers: what TorchScript treats specially.

```
torch.jit.is_scripting()        True at compile time (only the scripted branch is compiled)
torch.jit.is_tracing()          False
has_torch_function(...)         False (torch.nn.functional's override checks fold away)
torch.jit.annotate(T, v)        v with type T (`torch.jit.annotate(List[int], [])`)
isinstance(x, T), hasattr(m, "a"), getattr(m, "a")   decided from static types where possible
torchkiln.fork(fn, *args)       prim::fork; torchkiln.wait(fut): prim::wait
with torch.no_grad():           prim::set_grad_enabled around the body (also enable_grad(),
                                set_grad_enabled(b), which sets the mode when called)
with torch.autocast("cpu"):     prim::autocast_enter / autocast_exit around the body (also
                                torch.amp.autocast, torch.cpu.amp.autocast, torch.cuda.amp.autocast)
torch._assert(c, msg)           an assert; warnings.warn(msg): prim::warn
torch.tensor(data)              prim::tensor; torch.device("cpu"): a constant
torch.finfo(d), torch.iinfo(d)  compile-time objects whose fields are ops or constants (typeinfo.py)
torch.autograd.grad(...)        prim::autograd_grad; torch.autograd.backward(...): prim::autograd_backward
                                (autograd.py, also Tensor.backward)
```
Both the torch.jit spellings and torchkiln's (frontend/script/decorators.py)
are recognized.
"""
from __future__ import annotations

import ast
import typing
import warnings
from typing import Any, Callable, Dict, Optional, Tuple

import torch

from ...diagnostics import CompileError
from ...ir.core import Value
from ...ir.types import (
    BOOL,
    DEVICE,
    INT,
    NONE,
    SCALAR_TYPE,
    STR,
    TENSOR,
    FutureType,
    ListType,
    OptionalType,
    TensorType,
    TupleType,
)
from .conditions import ConditionSugar, isinstance_cond, isinstance_targets
from .emitter import FunctionEmitter
from .sugared import NO_STATIC, SimpleValue, StaticBool, SugaredValue, TupleSugar


class SpecialForm(SugaredValue):
    """A callable that receives the unevaluated `ast.Call` (`call_ast`)."""

    special_form = True

    def __init__(self, name: str, impl: Callable[[FunctionEmitter, ast.Call], SugaredValue]):
        self.name = name
        self.impl = impl

    def describe(self) -> str:
        return f"{self.name}"

    def call_ast(self, em, node):
        return self.impl(em, node)


class Helper(SugaredValue):
    """A callable with evaluated arguments."""

    def __init__(self, name: str, impl):
        self.name = name
        self.impl = impl

    def describe(self) -> str:
        return f"{self.name}"

    def call(self, em, node, args, kwargs):
        return self.impl(em, node, args, kwargs)


def _static(value: bool) -> Callable:
    return lambda em, node: StaticBool(value)


def _annotate(em: FunctionEmitter, node: ast.Call) -> SugaredValue:
    if len(node.args) != 2 or node.keywords:
        em.fail(node, "annotate takes a type and a value: annotate(List[int], [])")
    t = em.compiler.parse_annotation(em, node.args[0])
    return SimpleValue(annotate_value(em, node, em.emit_value(node.args[1], t), t))


def annotate_value(em: FunctionEmitter, node: ast.AST, v: Value, t) -> Value:
    if v.type == t:
        return v
    if v.node is not None and v.node.kind == "prim::Constant" and v.type == NONE:
        return em.const(None, t)
    converted = em.try_convert(v, t)
    if converted is None:
        em.fail(node, f"a value of type {v.type} cannot be annotated as {t}")
    if converted.type != t:
        converted = em.op("prim::unchecked_cast", [converted], [t]).output
    return converted


def _cast(em: FunctionEmitter, node: ast.Call) -> SugaredValue:
    """typing.cast(T, v): as annotate."""
    return _annotate(em, node)


def _isinstance(em: FunctionEmitter, node: ast.Call) -> SugaredValue:
    if len(node.args) != 2:
        em.fail(node, "isinstance() takes two arguments")
    subject = em.emit_expr(node.args[0])
    targets = isinstance_targets(em, node.args[1])
    name = node.args[0].id if isinstance(node.args[0], ast.Name) else None
    return ConditionSugar(isinstance_cond(em, node, subject, targets, name))


def _attr_name(em: FunctionEmitter, node: ast.Call, what: str) -> str:
    """The attribute name: a string literal, or an expression known when compiling (`f"layer{i}"`
    with `i` an unrolled loop's index: Note [Ranges that index modules] in control.py)."""
    if len(node.args) >= 2:
        arg = node.args[1]
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            return arg.value
        if not isinstance(arg, ast.Constant):
            static = em.emit_expr(arg).static_value()
            if isinstance(static, str):
                return static
    em.fail(node, f"{what}() needs a constant attribute name in script", hint="write the name as a string, or build it from the index of a loop over a constant range")


def _hasattr(em: FunctionEmitter, node: ast.Call) -> SugaredValue:
    name = _attr_name(em, node, "hasattr")
    obj = em.emit_expr(node.args[0])
    probe = getattr(obj, "has_attr", None)
    if probe is not None:
        return StaticBool(probe(em, name))
    if isinstance(obj, SimpleValue):
        return StaticBool(em.compiler.classes.has_attr(obj.value.type, name))
    em.fail(node, f"hasattr() of {obj.describe()} is not supported")


def _getattr(em: FunctionEmitter, node: ast.Call) -> SugaredValue:
    name = _attr_name(em, node, "getattr")
    obj = em.emit_expr(node.args[0])
    if len(node.args) == 3:
        present = _hasattr(em, ast.Call(func=node.func, args=node.args[:2], keywords=[]))
        if not present.static_value():  # type: ignore[union-attr]
            return em.emit_expr(node.args[2])
    return obj.attr(em, node, name)


def _fork(em: FunctionEmitter, node: ast.Call) -> SugaredValue:
    if not node.args:
        em.fail(node, "fork() needs a function to run")
    from .calls import emit_args, emit_kwargs

    fn = em.emit_expr(node.args[0])
    as_function = getattr(fn, "as_function", None)
    if as_function is None:
        em.fail(node.args[0], f"fork() of {fn.describe()} is not supported", hint="fork a module-level function")
    args = emit_args(em, node.args[1:])
    kwargs = emit_kwargs(em, node.keywords)
    function, values = as_function(em, node, args, kwargs)
    from .enums import typed_returns

    fut = em.op("prim::fork", values, [FutureType(typed_returns(em, function))], {"name": function.name}).output
    return SimpleValue(fut)


def _wait(em, node, args, kwargs):
    if len(args) != 1 or kwargs:
        em.fail(node, "wait() takes one Future")
    v = args[0].as_value(em, node)
    if not isinstance(v.type, FutureType):
        em.fail(node, f"wait() needs a Future, not {v.type}")
    return SimpleValue(em.op("prim::wait", [v], [v.type.elem]).output)


class GradMode(SugaredValue):
    """`torch.no_grad()` / `torch.enable_grad()` in a `with` statement."""

    def __init__(self, enabled: bool):
        self.enabled = enabled

    def describe(self) -> str:
        return "torch.no_grad()" if not self.enabled else "torch.enable_grad()"

    def enter(self, em: FunctionEmitter) -> Value:
        previous = em.op("prim::is_grad_enabled", [], [BOOL]).output
        em.op("prim::set_grad_enabled", [em.const(self.enabled)], [])
        return previous

    def exit(self, em: FunctionEmitter, previous: Value) -> None:
        em.op("prim::set_grad_enabled", [previous], [])


# Note [Context decorators]
# ~~~~~~~~~~~~~~~~~~~~~~~~~
# `@torch.no_grad()` (or `@torch.no_grad`, `@torch.enable_grad()`,
# `@torch.set_grad_enabled(b)`) on a function or method replaces it with
# torch's wrapper `decorate_context(*args, **kwargs)`, which TorchScript
# cannot compile (`*args`). Script compiles the decorated function instead,
# its body in a `with` of the same mode: the wrapper's closure holds the
# function (`func`) and the decorator object (`ctx_factory`, its bound
# `clone`), which is read, not called (a `set_grad_enabled` object sets the
# mode when it is made).
def context_decorated(fn: Any) -> Optional[Tuple[Any, Any]]:
    """(the decorated function, the context manager object) when `fn` is torch's wrapper made by
    a context-manager decorator; None otherwise."""
    code = getattr(fn, "__code__", None)
    if code is None or code.co_name != "decorate_context" or "_contextlib" not in code.co_filename:
        return None
    try:
        cells = {name: cell.cell_contents for name, cell in zip(code.co_freevars, fn.__closure__ or ())}
    except ValueError:
        return None
    func, manager = cells.get("func"), getattr(cells.get("ctx_factory"), "__self__", None)
    if func is None or manager is None:
        return None
    return func, manager


def decorator_mode(manager: Any) -> Optional[SugaredValue]:
    """The `with` value a context-manager decorator stands for (None: not one script has)."""
    if isinstance(manager, torch.no_grad):
        return GradMode(False)
    if isinstance(manager, torch.enable_grad):
        return GradMode(True)
    if isinstance(manager, torch.set_grad_enabled):
        return GradMode(bool(manager.mode))
    return None


def unwrap_context_decorator(fn: Any) -> Tuple[Any, Optional[SugaredValue]]:
    """(the function to compile, the mode its body runs in) for `fn` (Note [Context decorators])."""
    found = context_decorated(fn)
    if found is None:
        return fn, None
    func, manager = found
    mode = decorator_mode(manager)
    if mode is None:
        from .source import parse_function

        src = parse_function(func)
        tree = src.tree
        where = src.loc(tree.decorator_list[0] if getattr(tree, "decorator_list", None) else tree)
        raise CompileError(
            f"the decorator {type(manager).__name__} on `{getattr(func, '__qualname__', func)}` is not supported in script",
            where,
            hint="script supports @torch.no_grad(), @torch.enable_grad() and @torch.set_grad_enabled(b) as decorators",
        )
    return func, mode


def _grad_mode(enabled: bool):
    def impl(em, node, args, kwargs):
        if args or kwargs:
            em.fail(node, "this grad-mode context manager takes no arguments here")
        return GradMode(enabled)

    return impl


class GradModeSet(SugaredValue):
    """What `torch.set_grad_enabled(b)` returns: the mode is already set (as in Python);
    in a `with` statement the previous mode comes back at the end."""

    def __init__(self, previous: Value):
        self.previous = previous

    def describe(self) -> str:
        return "torch.set_grad_enabled(...)"

    def enter(self, em: FunctionEmitter) -> Value:
        return self.previous

    def exit(self, em: FunctionEmitter, previous: Value) -> None:
        em.op("prim::set_grad_enabled", [previous], [])


def _set_grad_enabled(em, node, args, kwargs):
    if len(args) != 1 or kwargs:
        em.fail(node, "set_grad_enabled() takes one bool")
    mode = args[0].as_value(em, node)
    if mode.type != BOOL:
        em.fail(node, f"set_grad_enabled() takes a bool, not {mode.type}")
    previous = em.op("prim::is_grad_enabled", [], [BOOL]).output
    em.op("prim::set_grad_enabled", [mode], [])
    return GradModeSet(previous)


class Autocast(SugaredValue):
    """`torch.autocast(device_type, dtype, enabled, cache_enabled)` in a `with` statement
    (Note [Autocast in script] in `ops/lang.py`)."""

    def __init__(self, device_type: str, dtype: Value, enabled: Value, cache_enabled: Value):
        self.device_type = device_type
        self.inputs = [dtype, enabled, cache_enabled]

    def describe(self) -> str:
        return f"torch.autocast({self.device_type!r})"

    def enter(self, em: FunctionEmitter) -> None:
        em.op("prim::autocast_enter", self.inputs, [], {"device_type": self.device_type})

    def exit(self, em: FunctionEmitter, state: None) -> None:
        em.op("prim::autocast_exit", [], [])


# The parameters of each spelling: (name, default) in order; "device_type" has no default.
_AUTOCAST_PARAMS = (("device_type", None), ("dtype", None), ("enabled", True), ("cache_enabled", None))


def _autocast_spelling(name: str, device_type: Optional[str], dtype: Optional[torch.dtype]):
    """`torch.autocast(...)` (`device_type` None: the first argument), or an older spelling
    for one device, whose `dtype` and `cache_enabled` default to that device's dtype and True."""
    if device_type is None:
        params = _AUTOCAST_PARAMS
    else:
        params = (("enabled", True), ("dtype", dtype), ("cache_enabled", True))

    def impl(em, node, args, kwargs):
        if device_type is not None:
            warnings.warn(f"`{name}(args...)` is deprecated. Please use `torch.amp.autocast('{device_type}', args...)` instead.", FutureWarning, stacklevel=2)
        bound = _bind(em, node, name, params, args, kwargs)
        device = device_type if device_type is not None else _autocast_device(em, node, name, bound.get("device_type"))
        dtype_v = _autocast_arg(em, node, name, bound, "dtype", params, OptionalType(SCALAR_TYPE))
        enabled_v = _autocast_arg(em, node, name, bound, "enabled", params, BOOL)
        cache_v = _autocast_arg(em, node, name, bound, "cache_enabled", params, OptionalType(BOOL))
        return Autocast(device, dtype_v, enabled_v, cache_v)

    return impl


def _bind(em, node, name: str, params, args, kwargs) -> Dict[str, Any]:
    names = [p for p, _ in params]
    if len(args) > len(names):
        em.fail(node, f"{name}() takes at most {len(names)} arguments ({', '.join(names)})")
    bound: Dict[str, Any] = dict(zip(names, args))
    for key, value in kwargs.items():
        if key not in names:
            em.fail(node, f"{name}() has no argument '{key}'", hint=f"its arguments are {', '.join(names)}")
        if key in bound:
            em.fail(node, f"{name}() got argument '{key}' twice")
        bound[key] = value
    return bound


def _autocast_device(em, node, name: str, arg) -> str:
    device_type = arg.static_value() if arg is not None else NO_STATIC
    if arg is None or not isinstance(device_type, str):
        em.fail(node, f"{name}() needs a constant device type string in script", hint="write the device type as a literal, e.g. torch.autocast(\"cpu\")")
    try:
        available = torch.amp.is_autocast_available(device_type)
    except RuntimeError as e:
        em.fail(node, str(e).splitlines()[0])
    if not available:
        em.fail(node, f"User specified an unsupported autocast device_type '{device_type}'")
    if device_type == torch._C._get_privateuse1_backend_name():
        em.fail(node, f"autocast for the custom backend '{device_type}' is not supported in script")
    return device_type


def _autocast_arg(em, node, name: str, bound: Dict[str, Any], key: str, params, t) -> Value:
    v = bound[key].as_value(em, node) if key in bound else em.const(dict(params)[key])
    converted = em.try_convert(v, t)
    if converted is None:
        em.fail(node, f"{name}() argument '{key}' must be {t}, not {v.type}")
    return converted


def _device_type_arg(em, node, name: str, args, kwargs) -> Value:
    if len(args) + len(kwargs) != 1 or (kwargs and "device_type" not in kwargs):
        em.fail(node, f"{name}() takes one device type string")
    v = (args[0] if args else kwargs["device_type"]).as_value(em, node)
    if v.type != STR:
        em.fail(node, f"{name}() takes a device type string, not {v.type}")
    return v


def _is_autocast_enabled(em, node, args, kwargs):
    """`torch.is_autocast_enabled()` (CUDA's, as in PyTorch) or `torch.is_autocast_enabled(device_type)`."""
    if not args and not kwargs:
        return SimpleValue(em.op("prim::is_autocast_enabled", [], [BOOL]).output)
    device = _device_type_arg(em, node, "torch.is_autocast_enabled", args, kwargs)
    return SimpleValue(em.op("prim::is_autocast_enabled.device", [device], [BOOL]).output)


def _get_autocast_dtype(em, node, args, kwargs):
    device = _device_type_arg(em, node, "torch.get_autocast_dtype", args, kwargs)
    return SimpleValue(em.op("prim::get_autocast_dtype", [device], [SCALAR_TYPE]).output)


def _torch_assert(em, node, args, kwargs):
    if not args:
        em.fail(node, "_assert() needs a condition")
    from .conditions import cond_of
    from .stmts import raise_exception
    from .sugared import ExceptionValue

    cond = cond_of(em, node, args[0])
    message = args[1] if len(args) > 1 else kwargs.get("message")
    if cond.static is True:
        return SimpleValue(em.const(None))
    value = cond.value if cond.value is not None else em.const(False)
    if_node = em.op("prim::If", [value], [], n_blocks=2)
    with em.child_frame("if", if_node.blocks[1]):
        msg = em.to_str(message, node) if message is not None else em.const("")
        raise_exception(em, ExceptionValue("AssertionError", msg))
    return SimpleValue(em.const(None))


def _warn(em, node, args, kwargs):
    if not args:
        em.fail(node, "warn() needs a message")
    em.op("prim::warn", [em.to_str(args[0], node)], [])
    return SimpleValue(em.const(None))


def _manual_seed(em, node, args, kwargs):
    """`torch.manual_seed(seed)` (TorchScript's aten::manual_seed); returns None, not the Generator."""
    seed = args[0] if args else kwargs.get("seed")
    if seed is None or len(args) + len(kwargs) != 1:
        em.fail(node, "torch.manual_seed() takes one int seed")
    v = seed.as_value(em, node)
    if v.type != INT:
        em.fail(node, f"torch.manual_seed() takes an int seed, not {v.type}")
    em.op("prim::manual_seed", [v], [])
    return SimpleValue(em.const(None))


def _tracing_state(em, node, args, kwargs):
    return SimpleValue(em.const(None))


def _unwrap_optional(em, node, args, kwargs):
    v = args[0].as_value(em, node)
    if isinstance(v.type, OptionalType):
        return SimpleValue(em.op("prim::unchecked_cast", [v], [v.type.elem]).output)
    return SimpleValue(v)


def _device(em, node, args, kwargs):
    if kwargs or not 1 <= len(args) <= 2:
        em.fail(node, "torch.device() takes a device string (and an index)")
    statics = [a.static_value() for a in args]
    if all(s is not NO_STATIC for s in statics):
        try:
            device = torch.device(*statics)
        except (TypeError, ValueError, RuntimeError) as e:
            em.fail(node, f"invalid torch.device({', '.join(map(repr, statics))}): {str(e).splitlines()[0]}", hint="pass a device string such as 'cpu' or 'cuda:0' (and an int index)")
        return SimpleValue(em.const(device))
    if len(args) == 1:
        v = args[0].as_value(em, node)
        if v.type == STR:
            return SimpleValue(em.op("prim::device.str", [v], [DEVICE]).output)
        if v.type == DEVICE:
            return SimpleValue(v)
    em.fail(node, "torch.device() with a computed index is not supported", hint="build the device string with an f-string")


def _tensor(em, node, args, kwargs):
    if not args and "data" in kwargs:
        kwargs = dict(kwargs)
        args = [kwargs.pop("data")]
    if len(args) != 1:
        em.fail(node, "torch.tensor() takes one data argument")
    data = args[0].as_value(em, node)
    if isinstance(data.type, TensorType):
        em.fail(node, "torch.tensor() of a Tensor is not supported", hint="use x.clone().detach()")
    dtype = kwargs["dtype"].as_value(em, node) if "dtype" in kwargs else em.const(None, OptionalType(SCALAR_TYPE))
    device = kwargs["device"].as_value(em, node) if "device" in kwargs else em.const(None, OptionalType(DEVICE))
    if device.type == STR:
        device = em.op("prim::device.str", [device], [DEVICE]).output
    grad = kwargs["requires_grad"].as_value(em, node) if "requires_grad" in kwargs else em.const(False)
    for k in kwargs:
        if k not in ("dtype", "device", "requires_grad"):
            em.fail(node, f"torch.tensor() got an unsupported keyword argument '{k}'")
    return SimpleValue(em.op("prim::tensor", [data, dtype, device, grad], [TENSOR]).output)


def _as_tensor(em, node, args, kwargs):
    """`torch.as_tensor(data, dtype=None, device=None)`: a tensor is converted only where it must be."""
    if len(args) != 1:
        em.fail(node, "torch.as_tensor() takes one data argument")
    for k in kwargs:
        if k not in ("dtype", "device"):
            em.fail(node, f"torch.as_tensor() got an unsupported keyword argument '{k}'")
    data = args[0].as_value(em, node)
    if not isinstance(data.type, TensorType):
        return _tensor(em, node, args, kwargs)
    kw = {k: v.as_value(em, node) for k, v in kwargs.items()}
    if "device" in kw and kw["device"].type == STR:
        kw["device"] = em.op("prim::device.str", [kw["device"]], [DEVICE]).output
    if not kw:
        return SimpleValue(data)
    return em.call_op_sugar(node, "aten::to", [], kw, self_value=data, what="torch.as_tensor")


def _pair_like(n: int):
    def impl(em, node, args, kwargs):
        sv = args[0]
        if isinstance(sv, TupleSugar):
            values = [i.as_value(em, node) for i in sv.items]
            return SimpleValue(em.op("prim::ListConstruct", values, [ListType(values[0].type if values else INT)]).output)
        v = sv.as_value(em, node)
        if isinstance(v.type, ListType):
            return SimpleValue(v)
        if isinstance(v.type, TupleType):
            parts = em.op("prim::TupleUnpack", [v], list(v.type.elems)).outputs
            return SimpleValue(em.op("prim::ListConstruct", parts, [ListType(v.type.elems[0])]).output)
        return SimpleValue(em.op("prim::ListConstruct", [v] * n, [ListType(v.type)]).output)

    return impl


def _broadcast_shapes(em, node, args, kwargs):
    """`torch.broadcast_shapes(*shapes)`: each shape an int, a tuple or a list of ints -> int[]."""
    if kwargs:
        em.fail(node, "torch.broadcast_shapes() takes no keyword arguments")
    shapes = []
    for sv in args:
        v = sv.as_value(em, node)
        if v.type in (INT, BOOL):
            v = em.op("prim::ListConstruct", [v], [ListType(INT)]).output
        converted = em.try_convert(v, ListType(INT))
        if converted is None:
            em.fail(node, f"torch.broadcast_shapes() takes ints, tuples of ints or lists of ints (shapes), not {v.type}")
        shapes.append(converted)
    listed = em.op("prim::ListConstruct", shapes, [ListType(ListType(INT))]).output
    return SimpleValue(em.op("prim::broadcast_shapes", [listed], [ListType(INT)]).output)


def _list_with_default(em, node, args, kwargs):
    from . import helpers as helpers_nn
    from .functions_value import PythonFunctionValue

    return PythonFunctionValue(helpers_nn.list_with_default, "_list_with_default").call(em, node, args, kwargs)


def _no_op(em, node, args, kwargs):
    return SimpleValue(em.const(None))


def _refuse(what: str, hint: str):
    def impl(em, node, args, kwargs):
        em.fail(node, what, hint=hint)

    return impl


_TABLE: Optional[Dict[int, SugaredValue]] = None
_ATEN: Dict[str, SugaredValue] = {}


def _build() -> Dict[int, SugaredValue]:
    import torch._jit_internal as internal
    import torch.overrides as overrides

    table: Dict[int, SugaredValue] = {}

    def add(obj: Any, value: SugaredValue) -> None:
        if obj is not None:
            table[id(obj)] = value

    for obj in (torch.jit.is_scripting, internal.is_scripting):
        add(obj, SpecialForm("is_scripting", _static(True)))
    tracing = [torch.jit.is_tracing, torch._C._is_tracing, getattr(torch.compiler, "is_compiling", None),
               getattr(torch.compiler, "is_dynamo_compiling", None)]  # fmt: skip
    try:
        from ..trace import is_tracing as kiln_is_tracing

        tracing.append(kiln_is_tracing)
    except ImportError:
        pass
    for obj in tracing:
        add(obj, SpecialForm("is_tracing", _static(False)))
    for obj in (overrides.has_torch_function, overrides.has_torch_function_unary, overrides.has_torch_function_variadic):
        add(obj, SpecialForm("has_torch_function", _static(False)))
    add(overrides.handle_torch_function, Helper("handle_torch_function", _refuse("handle_torch_function cannot be called from script", "guard it with `if has_torch_function(...)`")))
    for obj in (torch.jit.annotate, internal.annotate if hasattr(internal, "annotate") else None):
        add(obj, SpecialForm("annotate", _annotate))
    add(typing.cast, SpecialForm("cast", _cast))
    add(isinstance, SpecialForm("isinstance", _isinstance))
    add(torch.jit.isinstance, SpecialForm("isinstance", _isinstance))  # torch.jit.isinstance(x, List[int])
    add(hasattr, SpecialForm("hasattr", _hasattr))
    add(getattr, SpecialForm("getattr", _getattr))
    forks = [torch.jit.fork, getattr(torch.jit, "_fork", None)]
    waits = [torch.jit.wait, getattr(torch.jit, "_wait", None)]
    from . import decorators

    forks.append(decorators.fork)
    waits.append(decorators.wait)
    try:
        import torchkiln

        forks.append(getattr(torchkiln, "fork", None))
        waits.append(getattr(torchkiln, "wait", None))
    except ImportError:  # pragma: no cover
        pass
    for obj in forks:
        add(obj, SpecialForm("fork", _fork))
    for obj in waits:
        add(obj, Helper("wait", _wait))
    add(torch.no_grad, Helper("torch.no_grad", _grad_mode(False)))
    add(torch.inference_mode, Helper("torch.inference_mode", _grad_mode(False)))
    add(torch.enable_grad, Helper("torch.enable_grad", _grad_mode(True)))
    add(torch.set_grad_enabled, Helper("torch.set_grad_enabled", _set_grad_enabled))
    add(torch.is_grad_enabled, Helper("torch.is_grad_enabled", lambda em, node, args, kwargs: SimpleValue(em.op("prim::is_grad_enabled", [], [BOOL]).output)))
    add(torch._assert, Helper("torch._assert", _torch_assert))
    add(torch.is_autocast_enabled, Helper("torch.is_autocast_enabled", _is_autocast_enabled))
    add(torch.get_autocast_dtype, Helper("torch.get_autocast_dtype", _get_autocast_dtype))
    add(torch.amp.autocast, Helper("torch.amp.autocast", _autocast_spelling("torch.amp.autocast", None, None)))
    add(torch.autocast, Helper("torch.autocast", _autocast_spelling("torch.autocast", None, None)))  # the same class
    add(torch.cpu.amp.autocast, Helper("torch.cpu.amp.autocast", _autocast_spelling("torch.cpu.amp.autocast", "cpu", torch.bfloat16)))
    add(torch.cuda.amp.autocast, Helper("torch.cuda.amp.autocast", _autocast_spelling("torch.cuda.amp.autocast", "cuda", torch.float16)))
    add(warnings.warn, Helper("warnings.warn", _warn))
    add(torch._C._get_tracing_state, Helper("_get_tracing_state", _tracing_state))
    add(getattr(torch.jit, "_unwrap_optional", None), Helper("_unwrap_optional", _unwrap_optional))
    add(torch.device, Helper("torch.device", _device))
    add(torch.from_numpy, Helper("torch.from_numpy", _refuse(
        "`torch.from_numpy` cannot be used in script: numpy arrays are not script values",
        "make the tensor outside the scripted code and pass it in, or build it with torch.tensor([...])")))
    add(torch.tensor, Helper("torch.tensor", _tensor))
    add(torch.manual_seed, Helper("torch.manual_seed", _manual_seed))
    add(torch.as_tensor, Helper("torch.as_tensor", _as_tensor))
    from . import typeinfo

    add(torch.finfo, Helper("torch.finfo", typeinfo.finfo))
    add(torch.iinfo, Helper("torch.iinfo", typeinfo.iinfo))
    add(torch.get_default_dtype, Helper("torch.get_default_dtype", typeinfo.get_default_dtype))
    from . import autograd

    add(torch.autograd.grad, Helper("torch.autograd.grad", autograd.grad))
    add(torch.autograd.backward, Helper("torch.autograd.backward", autograd.backward))
    _ATEN.update({
        "aten::_pair": Helper("_pair", _pair_like(2)),
        "aten::_single": Helper("_single", _pair_like(1)),
        "aten::_triple": Helper("_triple", _pair_like(3)),
        "aten::_quadruple": Helper("_quadruple", _pair_like(4)),
        "aten::list_with_default": Helper("_list_with_default", _list_with_default),
        "aten::_assert_int_or_pair": Helper("_assert_int_or_pair", _no_op),
        "aten::tensor": Helper("torch.tensor", _tensor),
        "aten::broadcast_shapes": Helper("torch.broadcast_shapes", _broadcast_shapes),
    })  # fmt: skip
    return table


def lookup(obj: Any) -> Optional[SugaredValue]:
    global _TABLE
    if _TABLE is None:
        _TABLE = _build()
    try:
        return _TABLE.get(id(obj))
    except TypeError:
        return None


def aten_special(base: str) -> Optional[SugaredValue]:
    """Handlers for names torch.jit's builtin table maps to JIT-only `aten::` schemas."""
    if _TABLE is None:
        lookup(None)
    return _ATEN.get(base)


__all__ = ["lookup", "aten_special", "SpecialForm", "Helper", "GradMode", "annotate_value"]
