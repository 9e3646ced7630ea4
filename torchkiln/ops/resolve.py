"""Overload resolution, shared by the tracer and the script compiler.

```python
m = resolve("aten::add", [TENSOR, INT], {})
m.op.name          # 'aten::add.Scalar'
m.inputs           # [ArgSource(arg 0), ArgSource(arg 1), ArgSource(default 1)]
m.return_types     # [Tensor]
values = emit_inputs(m, builder, [x, one])   # inserts the constant for `alpha`
builder.op(m.op.name, values, m.return_types)
```

Note [Overload resolution]
--------------------------
As TorchScript (torch/csrc/jit/frontend/schema_matching.cpp):

1. Candidates are tried in order (`ops.overloads(base)` order: dispatcher
   registration order for aten, declaration order for prims). With several
   candidates, a first round allows no conversions, a second round does; the
   first candidate that matches in a round wins. A single candidate gets
   conversions at once. Whether there is a second candidate is asked only
   when the answer depends on it (Note [Late rounds]).
2. Binding of one candidate: the argument named `self` takes the `self`
   value of a method call (`x.where(c, y)` binds `x` to `where.self`'s
   second argument); other non-kwarg-only arguments take positional values
   in order; then keywords by name (for aten ops, `input=` also names
   `self`); then defaults. Unused positional or keyword values, and a
   missing argument, fail the candidate. A `...` schema takes the extra
   positional values as they are.
3. Matching one value to one argument, in this order:
   - an `int`/`float` given for an `int[N]`/`float[N]` argument is repeated N
     times (`stride=2` -> `[2, 2]`);
   - type variables (`t`, `t[]`, `Dict(str, t)`) are bound to the value's
     type; a variable bound twice takes the unified type;
   - an empty list literal (`const_values` says its value is `[]`) takes
     the argument's list type;
   - a homogeneous tuple fits a list argument (`x.view((2, 3))`);
   - a list fits a list argument of a wider element type (`Tensor[]` for
     `Tensor?[]`): `prim::unchecked_cast` retypes it (lists are invariant);
   - with conversions only: a Tensor fits `int`, `float` and `Scalar`
     (`prim::Int.Tensor`, `prim::Float.Tensor`, `aten::item`); a `Scalar`
     fits `int` and `float`; an `int` fits `float` (torchkiln accepts
     this, TorchScript does not); a `str` fits `Device`; the values left
     over for the last positional list argument become that list
     (`x.view(2, 3)`, `torch.zeros(2, 3)`), unless it is `int[N]`;
   - `T` fits `Optional[T]` (and the conversions above apply to `T`).
   Otherwise the value's type must be a subtype of the argument's type.
4. Return types have the bound type variables substituted; when every
   return has a name, `return_names` lists them (a NamedTuple for Python).

Note [Late rounds]
------------------
Knowing whether there is a second supported candidate means reading its
schema, and an aten op's schema is parsed at its first read (`AtenOpInfo`):
for `linear`, `bmm`, `cat`, `relu`, ... that second candidate is the `.out`
overload, which a program never calls. So `resolve` first tries the first
candidate without conversions. If that matches, it is the answer with a
second candidate (round one's first match); it is also the answer without
one, unless the conversion round would bind it otherwise
(`_converts_differently`: only where it makes a list of the positional
values left), and only then is the second candidate read. If it does not
match, the rounds run as in Note [Overload resolution] (reusing this try).
The result is the same; of the 68 schemas compiling a Transformer read, 18
were such second candidates.

Failure raises `CompileError` (without a location: the caller adds it) that
lists every overload tried and why each failed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from ..diagnostics import CompileError
from ..ir.types import (
    DEVICE,
    FLOAT,
    INT,
    NONE,
    SCALAR,
    SCALAR_TYPE,
    STR,
    DictType,
    FutureType,
    ListType,
    OptionalType,
    TensorType,
    TupleType,
    Type,
    UnionType,
    unify,
)
from .registry import OpInfo
from .schema import Schema, SchemaArg, TypeVarType

# The package (`ops.overloads`, `ops.lookup`): it imports this module after
# filling the prim table, so its functions are read at call time.
from .. import ops as _ops  # noqa: E402

# Conversion ops inserted by emit_inputs, by (value type, argument type).
FLOAT_OF_TENSOR = "prim::Float.Tensor"
INT_OF_TENSOR = "prim::Int.Tensor"
SCALAR_OF_TENSOR = "aten::item"
FLOAT_OF_SCALAR = "prim::Float.Scalar"
INT_OF_SCALAR = "prim::Int.Scalar"
DEVICE_OF_STR = "prim::device.str"
DTYPE_OF_INT = "prim::dtype.int"
DTYPE_OF_OPTIONAL_INT = "prim::dtype.int_optional"
RETYPE = "prim::unchecked_cast"


@dataclass(frozen=True)
class ArgSource:
    """Where the value of one schema argument comes from.

    `kind`: "arg" (positional value `index`), "kwarg" (keyword `name`),
    "self" (the method's receiver), "default" (the constant `default`, of
    type `type`), "varargs" (a list built from `elements`, each an "arg"
    source with its own conversion), "empty" (a new empty list of `type`).
    `convert` names the conversion op applied to the value; `pack` is
    "repeat" (a number repeated `type`'s N times into a list) or "tuple"
    (a homogeneous tuple unpacked into a list), None otherwise.
    `type` is the argument's type with type variables bound.
    """

    kind: str
    type: Type
    index: Optional[int] = None
    name: Optional[str] = None
    default: Any = None
    convert: Optional[str] = None
    pack: Optional[str] = None
    repeat: int = 0
    elements: Tuple["ArgSource", ...] = ()

    def __repr__(self) -> str:
        where = {"arg": f"arg {self.index}", "kwarg": f"kwarg {self.name}", "self": "self",
                 "default": f"default {self.default!r}", "varargs": f"varargs {[e.index for e in self.elements]}",
                 "empty": "empty list"}[self.kind]  # fmt: skip
        extra = "".join(f" {k}={v}" for k, v in (("convert", self.convert), ("pack", self.pack)) if v)
        return f"ArgSource({where}{extra} : {self.type})"


@dataclass
class Match:
    """A successful resolution: the op, one source per input, the output types."""

    op: OpInfo
    inputs: List[ArgSource]
    return_types: List[Type]
    return_names: Optional[Tuple[str, ...]] = None
    conversions: bool = False
    type_env: Dict[str, Type] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Match({self.op.name}, inputs={self.inputs}, returns={self.return_types})"


Candidates = Union[str, Sequence[str], Sequence[OpInfo]]


def resolve(
    base_name: Candidates,
    args: Sequence[Type],
    kwargs: Optional[Mapping[str, Type]] = None,
    const_values: Optional[Mapping[Union[int, str], Any]] = None,
    self_type: Optional[Type] = None,
) -> Match:
    """Pick the overload TorchScript would for these argument types (Note [Overload resolution]).

    `base_name` is `aten::add`, several base names (`["prim::add", "aten::add"]`,
    tried in that order), or a list of OpInfos. `const_values` maps a
    positional index or keyword name to the known constant value of that
    argument (only an empty list `[]` changes the result). `self_type` is the
    receiver's type for a method call such as `x.add(y)`.
    """
    kwargs = dict(kwargs or {})
    consts = dict(const_values or {})
    if isinstance(base_name, str):
        names = [base_name]
        candidates = _ops.overloads(base_name)
    elif base_name and isinstance(base_name[0], OpInfo):
        names = None  # read from the schemas when an error needs them
        candidates = list(base_name)  # type: ignore[arg-type]
    else:
        names = list(base_name)  # type: ignore[arg-type]
        candidates = [op for n in names for op in _ops.overloads(n)]
    # The supported candidates, in order, found as they are needed: an aten
    # op's schema is parsed when first read (`AtenOpInfo`), and a match
    # usually comes from the first candidate or two.
    pending = (op for op in candidates if op.schema.supported)
    supported: List[OpInfo] = []

    def nth(i: int) -> Optional[OpInfo]:
        while len(supported) <= i:
            op = next(pending, None)
            if op is None:
                return None
            supported.append(op)
        return supported[i]

    def shown() -> str:
        return " or ".join(names if names is not None else sorted({op.schema.base_name for op in base_name}))  # type: ignore[union-attr]

    if nth(0) is None:
        raise CompileError(f"unknown operator {shown()}")
    # The first candidate's try without conversions, before the second is read (Note [Late rounds]).
    first = _try_match(nth(0), args, kwargs, consts, self_type, False)  # type: ignore[arg-type]
    if isinstance(first, Match) and (not _converts_differently(first, args) or nth(1) is not None):
        return first
    rounds = (True,) if nth(1) is None else (False, True)
    failures: List[Tuple[Schema, str]] = []
    for allow in rounds:
        failures = []
        i = 0
        op = nth(0)
        while op is not None:
            result = first if i == 0 and not allow else _try_match(op, args, kwargs, consts, self_type, allow)
            if isinstance(result, Match):
                return result
            failures.append((op.schema, result))
            i += 1
            op = nth(i)
    given = [str(t) for t in args] + [f"{k}={t}" for k, t in kwargs.items()]
    if self_type is not None:
        given.insert(0, f"self={self_type}")
    lines = [f"no overload of {shown()} accepts the arguments ({', '.join(given)}); tried:"]
    for schema, why in failures:
        lines.append(f"  {schema}\n    {why}")
    raise CompileError("\n".join(lines))


def _try_match(
    op: OpInfo,
    args: Sequence[Type],
    kwargs: Mapping[str, Type],
    consts: Mapping[Union[int, str], Any],
    self_type: Optional[Type],
    allow: bool,
) -> Union[Match, str]:
    """A Match, or why `op` does not fit (one line)."""
    schema = op.schema
    generic = schema.has_type_vars  # without type variables, an argument's type is its concrete type
    env: Dict[str, Type] = {}
    inputs: List[ArgSource] = []
    used_args = 0
    used_kw: set = set()
    self_left = self_type is not None
    conversions = False
    is_aten = schema.namespace == "aten"
    for i, arg in enumerate(schema.arguments):
        # Where the value comes from: the fields of its ArgSource (kind, index, name), its type and its key in `consts`.
        key: Union[int, str, None]
        name: Optional[str] = None
        index: Optional[int] = None
        if arg.name == "self" and self_left:
            kind, actual, key = "self", self_type, None
            self_left = False
        elif not arg.kwarg_only and used_args < len(args):
            if allow and _varargs_can_be_list(schema, i, arg):
                actual = args[used_args]
                formal = _unwrap_optional(arg.type)
                if not isinstance(actual, ListType) and not _convertible_to_list(actual, formal):
                    built = _match_varargs(arg, formal.elem, args, used_args, env)  # type: ignore[attr-defined]
                    if isinstance(built, str):
                        return built
                    inputs.append(built)
                    used_args = len(args)
                    conversions = True
                    continue
            kind, index, actual, key = "arg", used_args, args[used_args], used_args
            used_args += 1
        else:
            name = _find_kwarg(arg.name, kwargs, is_aten)
            if name is not None:
                kind, actual, key = "kwarg", kwargs[name], name
                used_kw.add(name)
            elif arg.has_default:
                inputs.append(ArgSource("default", _default_type(arg, env), default=arg.default))
                continue
            else:
                return f"argument '{arg.name}' is not given"
        fitted = _match_argument(arg, actual, env, allow, consts.get(key, _NO_CONST) if key is not None else _NO_CONST, generic)
        if isinstance(fitted, str):
            return fitted
        convert, pack, concrete = fitted
        conversions = conversions or convert is not None
        if pack == "empty":
            kind, pack = "empty", None
        inputs.append(ArgSource(kind, concrete, index, name, convert=convert, pack=pack, repeat=arg.N or 0))
    if self_left:
        return "no argument is named 'self'"
    if schema.is_vararg:
        for j in range(used_args, len(args)):
            inputs.append(ArgSource("arg", args[j], index=j))
        used_args = len(args)
    if used_args < len(args):
        return f"takes at most {used_args} positional arguments, {len(args)} given"
    for name in kwargs:
        if name not in used_kw:
            if schema.argument_index(name) is None:
                return f"no argument is named '{name}'"
            return f"argument '{name}' is given twice"
    return_types: List[Type] = []
    for r in schema.returns:
        t = _subst(r.type, env) if generic else r.type
        if t is None:
            return f"cannot infer the type variables of the return type {r.type}"
        return_types.append(t)
    names = tuple(r.name for r in schema.returns)
    return_names = names if names and all(names) else None
    return Match(op, inputs, return_types, return_names, conversions, env)


_NO_CONST = object()


def _converts_differently(match: Match, args: Sequence[Type]) -> bool:
    """Whether the conversion round would bind the values of `match`, found without conversions, otherwise.

    Both rounds bind values to arguments alike, and `_fit` with conversions
    gives what it gives without them where that fits, except where the
    conversion round makes a list of the positional values left
    (`_match_varargs`): a value that is not a list given for the last
    positional list argument (`None` for `SymInt[]? size`). `match.inputs`
    has one source per argument.
    """
    schema = match.op.schema
    arguments = schema.arguments
    i = len(arguments) - 1
    while i >= 0 and arguments[i].kwarg_only:
        i -= 1  # kwarg-only arguments end a schema; `_varargs_can_be_list` takes the last positional one only
    if i < 0 or match.inputs[i].kind != "arg" or not _varargs_can_be_list(schema, i, arguments[i]):
        return False
    actual = args[match.inputs[i].index]  # type: ignore[index]
    return not isinstance(actual, ListType) and not _convertible_to_list(actual, _unwrap_optional(arguments[i].type))


def _find_kwarg(name: str, kwargs: Mapping[str, Type], is_aten: bool) -> Optional[str]:
    if is_aten and name == "self" and "input" in kwargs:
        return "input"
    return name if name in kwargs else None


def _unwrap_optional(t: Type) -> Type:
    return t.elem if isinstance(t, OptionalType) else t


def _varargs_can_be_list(schema: Schema, i: int, arg: SchemaArg) -> bool:
    """`zeros(2, 3)` for `zeros(int[] size)`: the last positional argument is a list, not `int[N]`."""
    is_last = i + 1 == len(schema.arguments) or schema.arguments[i + 1].kwarg_only
    formal = _unwrap_optional(arg.type)
    return (
        is_last
        and isinstance(formal, ListType)
        and not isinstance(formal.elem, TypeVarType)
        and arg.N is None
    )


def _convertible_to_list(actual: Type, formal: Type) -> bool:
    if not isinstance(formal, ListType):
        return False
    if actual.is_subtype_of(formal):
        return True
    return isinstance(actual, TupleType) and all(e.is_subtype_of(formal.elem) for e in actual.elems)


def _match_varargs(arg: SchemaArg, elem: Type, args: Sequence[Type], start: int, env: Dict[str, Type]) -> Union[ArgSource, str]:
    elements = []
    for j in range(start, len(args)):
        fitted = _fit(args[j], elem, allow=True)
        if fitted is None:
            return f"argument '{arg.name}': positional value {j} of type {args[j]} is not {elem}"
        convert, pack = fitted
        elements.append(ArgSource("arg", elem, index=j, convert=convert, pack=pack))
    return ArgSource("varargs", ListType(elem), elements=tuple(elements))


def _match_argument(
    arg: SchemaArg, actual: Type, env: Dict[str, Type], allow: bool, const: Any, generic: bool = True
) -> Union[Tuple[Optional[str], Optional[str], Type], str]:
    """(conversion op, pack, concrete argument type), or why the value does not fit.

    `generic` False says the schema has no type variables: `arg.type` binds nothing and is concrete.
    """
    formal_list = _unwrap_optional(arg.type)
    if (
        arg.N is not None
        and actual in (INT, FLOAT)
        and isinstance(formal_list, ListType)
        and formal_list.elem == actual
    ):
        return None, "repeat", arg.type
    if isinstance(const, list) and not const and isinstance(actual, ListType) and isinstance(formal_list, ListType):
        concrete = _subst(formal_list, env)
        if concrete is not None:
            return None, "empty", concrete
    if generic:
        why = _bind(arg.type, actual, env)
        if why is not None:
            return f"argument '{arg.name}': {why}"
        concrete = _subst(arg.type, env)
        if concrete is None:
            return f"argument '{arg.name}': cannot infer the type variables of {arg.type} from {actual}"
    else:
        concrete = arg.type
    fitted = _fit(actual, concrete, allow)
    if fitted is None:
        return f"argument '{arg.name}' expects {_show(arg)}, found {actual}"
    return fitted[0], fitted[1], concrete


def _show(arg: SchemaArg) -> str:
    return arg.type_text()


def _fit(actual: Type, formal: Type, allow: bool) -> Optional[Tuple[Optional[str], Optional[str]]]:
    """(conversion op, pack) making a value of type `actual` fit `formal`, or None."""
    if actual.is_subtype_of(formal):
        return None, None
    target = formal
    if isinstance(formal, OptionalType) and not isinstance(actual, OptionalType) and actual != NONE:
        target = formal.elem
        if actual.is_subtype_of(target):
            return None, None
    if isinstance(actual, TupleType) and _convertible_to_list(actual, target):
        return None, "tuple"
    if isinstance(actual, ListType) and isinstance(target, ListType) and actual.elem.is_subtype_of(target.elem):
        return RETYPE, None  # `Tensor[]` for `Tensor?[]`: the same list, typed as the argument
    if not allow:
        return None
    # TorchScript's dtypes are ints: an int (int?) fits ScalarType (ScalarType?). In the conversion
    # round only, so that `x.view(-1)` stays `view(int[])` rather than `view.dtype`.
    if actual == INT and target == SCALAR_TYPE:
        return DTYPE_OF_INT, None
    if actual == OptionalType(INT) and formal == OptionalType(SCALAR_TYPE):
        return DTYPE_OF_OPTIONAL_INT, None
    if isinstance(actual, TensorType):
        convert = {FLOAT: FLOAT_OF_TENSOR, INT: INT_OF_TENSOR, SCALAR: SCALAR_OF_TENSOR}.get(target)
    elif actual == SCALAR:
        convert = {FLOAT: FLOAT_OF_SCALAR, INT: INT_OF_SCALAR}.get(target)
    elif actual == INT and target == FLOAT:
        convert = FLOAT_OF_SCALAR
    elif actual == STR and target == DEVICE:
        convert = DEVICE_OF_STR
    else:
        convert = None
    return (convert, None) if convert is not None else None


# -- type variables -------------------------------------------------------------


def _bind(formal: Type, actual: Type, env: Dict[str, Type]) -> Optional[str]:
    """Bind the type variables in `formal` to the parts of `actual`; a reason on conflict."""
    if isinstance(formal, TypeVarType):
        bound = env.get(formal.name)
        if bound is None:
            env[formal.name] = actual
            return None
        joined = unify(bound, actual)
        if joined is None:
            return f"type variable {formal.name} is {bound} and {actual}"
        env[formal.name] = joined
        return None
    if not _has_vars(formal):
        return None
    if isinstance(formal, OptionalType):
        if actual == NONE:
            return None
        return _bind(formal.elem, actual.elem if isinstance(actual, OptionalType) else actual, env)
    if isinstance(formal, ListType):
        if isinstance(actual, ListType):
            return _bind(formal.elem, actual.elem, env)
        if isinstance(actual, TupleType) and actual.elems:
            joined: Optional[Type] = actual.elems[0]
            for e in actual.elems[1:]:
                joined = unify(joined, e) if joined is not None else None
            if joined is not None:
                return _bind(formal.elem, joined, env)
        return f"expected a list, found {actual}"
    if isinstance(formal, TupleType):
        if isinstance(actual, TupleType) and len(actual.elems) == len(formal.elems):
            for f, a in zip(formal.elems, actual.elems):
                why = _bind(f, a, env)
                if why is not None:
                    return why
            return None
        return f"expected a tuple of {len(formal.elems)}, found {actual}"
    if isinstance(formal, DictType):
        if isinstance(actual, DictType):
            return _bind(formal.key, actual.key, env) or _bind(formal.value, actual.value, env)
        return f"expected a dict, found {actual}"
    if isinstance(formal, FutureType):
        if isinstance(actual, FutureType):
            return _bind(formal.elem, actual.elem, env)
        return f"expected a Future, found {actual}"
    return f"cannot match {actual} to {formal}"


def _has_vars(t: Type) -> bool:
    return isinstance(t, TypeVarType) or any(_has_vars(c) for c in t.contained())


def _subst(t: Type, env: Mapping[str, Type]) -> Optional[Type]:
    """`t` with bound type variables replaced; None if one is unbound."""
    if isinstance(t, TypeVarType):
        return env.get(t.name)
    if not _has_vars(t):
        return t
    parts = [_subst(c, env) for c in t.contained()]
    if any(p is None for p in parts):
        return None
    if isinstance(t, ListType):
        return ListType(parts[0])  # type: ignore[arg-type]
    if isinstance(t, OptionalType):
        return OptionalType(parts[0])  # type: ignore[arg-type]
    if isinstance(t, TupleType):
        return TupleType(parts, t.name, t.fields)  # type: ignore[arg-type]
    if isinstance(t, DictType):
        return DictType(parts[0], parts[1])  # type: ignore[arg-type]
    if isinstance(t, FutureType):
        return FutureType(parts[0])  # type: ignore[arg-type]
    if isinstance(t, UnionType):
        return UnionType(parts)  # type: ignore[arg-type]
    return None


def _default_type(arg: SchemaArg, env: Mapping[str, Type]) -> Type:
    """The type of the constant that materialises `arg`'s default."""
    if arg.default is None:
        return NONE
    t = _subst(arg.type, env) or arg.type
    return _unwrap_optional(t)


# -- checking and emitting --------------------------------------------------------


def match_schema(schema: Schema, in_types: Sequence[Type], out_types: Sequence[Type]) -> Optional[str]:
    """Why explicit inputs/outputs do not fit `schema` without conversions, or None.

    The verifier's check: one input per argument (defaults included), each a
    subtype of its argument type with type variables bound consistently;
    outputs related to the returns.
    """
    env: Dict[str, Type] = {}
    for arg, actual in zip(schema.arguments, in_types):
        why = _bind(arg.type, actual, env)
        if why is not None:
            return f"{schema.qualified_name}: argument '{arg.name}': {why}"
        concrete = _subst(arg.type, env)
        if concrete is not None and not actual.is_subtype_of(concrete):
            return f"{schema.qualified_name}: argument '{arg.name}' expects {arg.type_text()}, found {actual}"
    if schema.is_varret:
        return None
    for i, (ret, actual) in enumerate(zip(schema.returns, out_types)):
        concrete = _subst(ret.type, env)
        if concrete is None:
            continue
        if not (actual.is_subtype_of(concrete) or concrete.is_subtype_of(actual)):
            return f"{schema.qualified_name}: output {i} has type {actual}, the schema returns {concrete}"
    return None


def emit_inputs(match: Match, builder, args: Sequence[Any], kwargs: Optional[Mapping[str, Any]] = None, self_value: Any = None) -> list:
    """The node inputs for `match`: insert defaults, conversions and lists with `builder`.

    `args`, `kwargs`, `self_value` are the `Value`s whose types were given to
    `resolve`. Returns one Value per entry of `match.inputs`:

    ```
    x.view(2, 3)   ->   %3 : int[] = prim::ListConstruct(%2, %c3)
                        %4 : Tensor = aten::view(%x, %3)
    ```
    """
    lookup = _ops.lookup
    kwargs = kwargs or {}
    out = []
    for src in match.inputs:
        out.append(_emit_source(src, builder, args, kwargs, self_value, lookup))
    return out


def _emit_source(src: ArgSource, builder, args, kwargs, self_value, lookup):
    if src.kind == "default":
        return builder.constant(src.default, src.type)
    if src.kind == "empty":
        return builder.op("prim::ListConstruct", [], [_unwrap_optional(src.type)]).output
    if src.kind == "varargs":
        items = [_emit_source(e, builder, args, kwargs, self_value, lookup) for e in src.elements]
        return builder.op("prim::ListConstruct", items, [src.type]).output
    kind = src.kind
    if kind == "arg":
        value = args[src.index]
    elif kind == "kwarg":
        value = kwargs[src.name]
    elif kind == "self":
        value = self_value
    else:
        raise KeyError(kind)
    if src.convert == RETYPE:
        value = builder.op(RETYPE, [value], [_unwrap_optional(src.type)]).output
    elif src.convert is not None:
        ret = lookup(src.convert).schema.returns[0].type
        value = builder.op(src.convert, [value], [ret]).output
    if src.pack == "repeat":
        list_type = _unwrap_optional(src.type)
        return builder.op("prim::ListConstruct", [value] * max(src.repeat, 1), [list_type]).output
    if src.pack == "tuple":
        list_type = _unwrap_optional(src.type)
        parts = builder.op("prim::TupleUnpack", [value], list(value.type.elems)).outputs
        return builder.op("prim::ListConstruct", parts, [list_type]).output
    return value
