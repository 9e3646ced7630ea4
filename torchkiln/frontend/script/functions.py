"""Compiling Python functions: signatures, call binding, specialization, the driver.

A function's signature comes from its source: annotations, or a
`# type: (int) -> Tensor` comment; an unannotated parameter with a default
takes the default's type; one without a default is a Tensor when the
function is scripted directly and takes the argument's type when it is
called from scripted code (each distinct set of argument types compiles to
its own `Function`, cached).

`compile_body` runs the phases (STYLE habit 7): emit statements in memory
form, lower exits (`exits.py`), build SSA (`to_ssa.py`).
"""
from __future__ import annotations

import ast
import enum
import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .enums import member_value
from ...diagnostics import CompileError
from ...ir.core import Argument, Value
from ...ir.nesting import MAX_BLOCK_DEPTH
from ...ir.types import BOOL, FLOAT, INT, NONE, SCALAR_TYPE, TENSOR, ListType, OptionalType, TupleType, Type, python_value_type, unify
from . import exits, to_ssa
from .emitter import FunctionEmitter, is_empty_list, constant_type
from .source import ParsedSource, type_comment_signature
from .sugared import SimpleValue, SugaredValue, TupleSugar

NO_DEFAULT = inspect.Parameter.empty


@dataclass
class Param:
    name: str
    type: Optional[Type]  # None: unannotated and without default (Tensor, or specialized per call)
    default: Any = NO_DEFAULT
    broadcast: Optional[int] = None
    kwarg_only: bool = False
    node: Optional[ast.AST] = None
    positional_only: bool = False  # before `/`: no caller may pass it by keyword

    @property
    def has_default(self) -> bool:
        return self.default is not NO_DEFAULT


@dataclass
class Signature:
    params: List[Param]
    returns: Optional[Type]
    node: ast.AST
    has_self: bool = False
    extra: Dict[str, Any] = field(default_factory=dict)

    def param(self, name: str) -> Optional[Param]:
        for p in self.params:
            if p.name == name:
                return p
        return None


class Namespace:
    """Python's name resolution for one function: closure, globals, builtins."""

    def __init__(self, fn: Any, extra: Optional[Dict[str, Any]] = None):
        import builtins

        self.fn = fn
        self.closure: Dict[str, Any] = dict(extra or {})
        code = getattr(fn, "__code__", None)
        cells = getattr(fn, "__closure__", None) or ()
        if code is not None:
            for name, cell in zip(code.co_freevars, cells):
                try:
                    self.closure[name] = cell.cell_contents
                except ValueError:
                    pass
        self.globals: Dict[str, Any] = getattr(fn, "__globals__", {}) or {}
        self.builtins = builtins.__dict__

    def lookup(self, name: str) -> Any:
        if name in self.closure:
            return self.closure[name]
        if name in self.globals:
            return self.globals[name]
        if name in self.builtins:
            return self.builtins[name]
        raise KeyError(name)


def local_names(fn: Any) -> Tuple[str, ...]:
    code = getattr(fn, "__code__", None)
    if code is None:
        return ()
    return tuple(code.co_varnames) + tuple(code.co_cellvars)


def read_signature(compiler, src: ParsedSource, namespace: Namespace, fn: Any, has_self: bool, loc_fn=None) -> Signature:
    """Parameters and declared return type of a function, from its source."""
    tree = src.tree
    assert isinstance(tree, (ast.FunctionDef, ast.AsyncFunctionDef))
    a = tree.args
    if a.vararg is not None:
        raise CompileError("*args parameters are not supported in script", src.loc(a.vararg), hint="take a list or a tuple parameter instead")
    if a.kwarg is not None:
        raise CompileError("**kwargs parameters are not supported in script", src.loc(a.kwarg), hint="list the keyword parameters explicitly")
    parser = compiler.type_parser(namespace, src)
    positional = list(a.posonlyargs) + list(a.args)
    py_defaults = list(getattr(fn, "__defaults__", None) or ())
    kw_defaults = dict(getattr(fn, "__kwdefaults__", None) or {})
    first_default = len(positional) - len(py_defaults)
    comment = type_comment_signature(src)
    comment_types: Optional[List[ast.expr]] = None
    returns: Optional[Type] = None
    if comment is not None:
        comment_types, ret_node = comment
        n_expected = len(positional) - (1 if has_self else 0)
        if len(comment_types) != n_expected:
            raise CompileError(f"the type comment lists {len(comment_types)} types for {n_expected} parameters", src.loc(tree))
        if ret_node is not None:
            returns = parser.parse(ret_node)
    elif tree.returns is not None:
        returns = parser.parse(tree.returns)
    params: List[Param] = []
    for i, arg in enumerate(positional):
        default = py_defaults[i - first_default] if i >= first_default else NO_DEFAULT
        params.append(_param(parser, src, arg, default, False, comment_types, i - (1 if has_self else 0), has_self and i == 0))
        params[-1].positional_only = i < len(a.posonlyargs)
    for arg in a.kwonlyargs:
        params.append(_param(parser, src, arg, kw_defaults.get(arg.arg, NO_DEFAULT), True, None, -1, False))
    return Signature(params, returns, tree, has_self)


def _param(parser, src: ParsedSource, arg: ast.arg, default: Any, kwarg_only: bool, comment_types, index: int, is_self: bool) -> Param:
    if is_self:
        return Param(arg.arg, None, NO_DEFAULT, None, False, arg)
    annotated = None
    broadcast = None
    if comment_types is not None and index >= 0:
        parsed = parser.parse_annotated(comment_types[index])
        annotated, broadcast = parsed.type, parsed.broadcast
    elif arg.annotation is not None:
        parsed = parser.parse_annotated(arg.annotation)
        annotated, broadcast = parsed.type, parsed.broadcast
    if annotated is None and default is not NO_DEFAULT:
        annotated = _type_of_default(default)
    elif default is None and annotated is not None and not NONE.is_subtype_of(annotated):
        annotated = OptionalType(annotated)  # `x: int = None` means Optional[int] (TorchScript, PEP 484's old rule)
    if arg.arg == "dtype" and comment_types is not None and annotated in (INT, OptionalType(INT)):
        # TorchScript's dtypes are ints, and torch's own `# type:` comments (torch.norm) spell
        # `dtype` as Optional[int]; here dtypes are ScalarType values.
        annotated = SCALAR_TYPE if annotated == INT else OptionalType(SCALAR_TYPE)
    if broadcast is not None and default is not NO_DEFAULT and isinstance(default, (int, float)) and not isinstance(default, bool):
        default = [default] * broadcast
    if arg.annotation is not None and default is not NO_DEFAULT and annotated is not None and not _default_fits(default, annotated):
        raise CompileError(
            f"the default value of '{arg.arg}' ({default!r}) is not a {annotated}",
            src.loc(arg),
            hint=f"give '{arg.arg}' a default of its type, or annotate it with a type that holds {default!r}",
        )
    return Param(arg.arg, annotated, default, broadcast, kwarg_only, arg)


def _type_of_default(default: Any) -> Optional[Type]:
    if default is None:
        return OptionalType(TENSOR)
    t = constant_type(default)
    if t is not None:
        return t
    return None


# -- calls -----------------------------------------------------------------------------------------


def bind_call(em: FunctionEmitter, node: ast.AST, sig: Signature, name: str, args: Sequence[SugaredValue], kwargs: Dict[str, SugaredValue], skip_self: bool) -> List[Tuple[Param, Optional[SugaredValue]]]:
    """Match call arguments to parameters, Python's way; None where the default applies."""
    params = sig.params[1:] if skip_self else list(sig.params)
    positional = [p for p in params if not p.kwarg_only]
    named_positional_only = positional_only_keywords(params, kwargs) if kwargs else ""
    if named_positional_only:
        em.fail(node, f"{name}() got some positional-only arguments passed as keyword arguments: '{named_positional_only}'")
    if len(args) > len(positional):
        em.fail(node, f"{name}() takes {len(positional)} positional argument{'s' if len(positional) != 1 else ''} but {len(args)} were given")
    bound: Dict[str, Optional[SugaredValue]] = {}
    for p, a in zip(positional, args):
        bound[p.name] = a
    names = {p.name for p in params}
    for key, value in kwargs.items():
        if key not in names:
            em.fail(node, f"{name}() got an unexpected keyword argument '{key}'")
        if key in bound:
            em.fail(node, f"{name}() got multiple values for argument '{key}'")
        bound[key] = value
    out = []
    for p in params:
        if p.name in bound:
            out.append((p, bound[p.name]))
        elif p.has_default:
            out.append((p, None))
        else:
            em.fail(node, f"{name}() missing required argument '{p.name}'")
    return out


def positional_only_keywords(params: Sequence[Any], kwargs: Dict[str, Any]) -> str:
    """The positional-only parameters (`Param`s or `Argument`s) `kwargs` names, as Python lists them
    in its TypeError ("x, y"); empty when there are none."""
    return ", ".join(p.name for p in params if p.positional_only and p.name in kwargs)


def argument_values(em: FunctionEmitter, node: ast.AST, name: str, bound: List[Tuple[Param, Optional[SugaredValue]]]) -> Tuple[List[Value], List[Type]]:
    """The input values of a call (defaults as constants, conversions applied) and the parameter types."""
    values: List[Value] = []
    types: List[Type] = []
    for p, sv in bound:
        if sv is None:
            v = default_value(em, node, p)
        else:
            v = sv.as_value(em, node)
            if p.broadcast is not None and v.type in (INT, FLOAT, BOOL):
                v = em.op("prim::ListConstruct", [v] * p.broadcast, [ListType(v.type)]).output
            elif p.broadcast is not None and isinstance(v.type, TupleType):
                parts = em.op("prim::TupleUnpack", [v], list(v.type.elems)).outputs
                v = em.op("prim::ListConstruct", parts, [ListType(v.type.elems[0])]).output
        target = p.type if p.type is not None else v.type
        if p.type is not None:
            inner = p.type.elem if isinstance(p.type, OptionalType) else p.type
            if isinstance(inner, ListType) and v.type != inner and is_empty_list(v):
                # As TorchScript's tryConvertToType: an empty list literal takes the parameter's list type.
                v = em.op("prim::ListConstruct", [], [inner]).output
            converted = em.try_convert_argument(v, p.type)
            if converted is None:
                em.fail(node, f"{name}() expects a value of type {p.type} for argument '{p.name}' but got {v.type}")
            v = converted
        values.append(v)
        types.append(target)
    return values, types


def default_value(em: FunctionEmitter, node: ast.AST, p: Param) -> Value:
    d = p.default
    if p.type is not None and d is None:
        return em.const(None)
    if isinstance(d, enum.Enum):
        return member_value(em, node, d)
    t = constant_type(d)
    if t is not None:
        return em.const(d)
    if isinstance(d, (list, tuple)):
        items = [em.const(x) for x in d if constant_type(x) is not None]
        if len(items) == len(d):
            if isinstance(d, tuple):
                return TupleSugar([SimpleValue(i) for i in items]).as_value(em, node)
            elem = p.type.elem if isinstance(p.type, ListType) else (items[0].type if items else TENSOR)
            return em.op("prim::ListConstruct", items, [ListType(elem)]).output
    em.fail(node, f"the default value of '{p.name}' ({d!r}) cannot be used in script", hint="use None, a number, a string, or a tuple of those as the default")


# -- compiling a body ---------------------------------------------------------------------------------


def compile_body(em: FunctionEmitter, body: List[ast.stmt], declared: Optional[Type], node: ast.AST, mode: Optional[SugaredValue] = None, finish: Optional[Callable[[FunctionEmitter, Type], Type]] = None) -> Type:
    """Emit `body`, lower exits and build SSA; returns the return type.

    `mode`: a `with` value the whole body runs in (a decorator's: Note [Context decorators]).
    `finish`: changes what the graph returns, in memory form after exit lowering, and gives
    the new return type (a nested function's rebound variables: Note [Nested functions]).
    """
    em.declared_return = declared
    if mode is None:
        em.emit_stmts(body)
    else:
        from .control import emit_with_manager

        decorators = getattr(node, "decorator_list", None)
        emit_with_manager(em, mode, decorators[0] if decorators else node, lambda: em.emit_stmts(body))
    if not em.frame.exits:
        em.return_types.append((NONE, em.loc(body[-1] if body else node)))
        em.store_internal("$ret", em.const(None))
        em.exit("return")
    ret = declared if declared is not None else _unify_returns(em)
    exits.run(em.graph, ret)
    if finish is not None:
        ret = finish(em, ret)
    depth = to_ssa.run(em.graph)
    _check_block_depth(em, node, depth)
    return ret


def _check_block_depth(em: FunctionEmitter, node: ast.AST, depth: int) -> None:
    """Refuse a function nested deeper than every executor and the archive accept
    (Note [Block nesting limit] in ir/nesting.py)."""
    if depth > MAX_BLOCK_DEPTH:
        raise CompileError(
            f"the function's blocks nest {depth} deep, more than the limit of {MAX_BLOCK_DEPTH} "
            "(each `if`/`elif`, loop, and each early `return`, `break` or `continue` adds a level)",
            em.src.loc(node),
            hint="split the function, or dispatch through a dict or list instead of a long if/elif chain",
        )


def _unify_returns(em: FunctionEmitter) -> Type:
    if not em.return_types:  # every path raises: the function returns None, as Python's would
        return NONE
    t, loc = em.return_types[0]
    for other, other_loc in em.return_types[1:]:
        joined = unify(t, other)
        if joined is None:
            raise CompileError(
                f"the function returns {t} at line {loc.line} and {other} here",
                other_loc,
                hint="return values of one type on every path, or annotate the return type (e.g. -> Optional[Tensor])",
            )
        t = joined
    return t


def make_arguments(params: Sequence[Param], types: Sequence[Type]) -> List[Argument]:
    out = []
    for p, t in zip(params, types):
        has_default = p.has_default and _default_fits(p.default, t)
        out.append(Argument(p.name, t, has_default, p.default if has_default else None, p.kwarg_only, p.positional_only))
    return out


def _default_fits(default: Any, t: Type) -> bool:
    """False for a number or string default of a parameter whose type holds no such value.

    torch.norm's `@overload` declarations give `p: Optional[number]` the
    default "fro" (TorchScript checks no defaults of declarations). Such a
    default can never be passed, so the compiled function records none.
    """
    vt = python_value_type(default) if default is not None else None
    if vt is None or vt.is_subtype_of(t):
        return True
    return vt in (INT, BOOL) and FLOAT.is_subtype_of(t)


__all__ = [
    "Param", "Signature", "Namespace", "read_signature", "bind_call", "positional_only_keywords", "argument_values",
    "compile_body", "make_arguments", "local_names",
]  # fmt: skip
