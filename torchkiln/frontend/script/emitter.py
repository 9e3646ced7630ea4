"""The function emitter: state and helpers shared by the statement and expression emitters.

`FunctionEmitter` compiles one function body into a graph in memory form
(Note [Memory form] in `environment.py`). The work per syntax node lives in
`stmts.py` (`emit_<stmt>`), `exprs.py` (`emit_<expr>`), `operators.py`,
`subscripts.py`, `calls.py` and `loops.py`; this module holds the state
they share: the graph and insertion point, the frames, the Python
namespace, and small helpers (constants, ops, errors, variables).
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, NoReturn, Optional, Sequence, Tuple

import torch

from ... import ops
from ...diagnostics import CompileError, SourceRange
from ...ir.builder import Builder
from ...ir.core import Block, Graph, Node, Value
from ...ir.types import (
    python_value_type,
    BOOL,
    DEVICE,
    FLOAT,
    INT,
    LAYOUT,
    MEMORY_FORMAT,
    NONE,
    SCALAR,
    SCALAR_TYPE,
    STR,
    TENSOR,
    DictType,
    ListType,
    OptionalType,
    TensorType,
    TupleType,
    Type,
    UnionType,
    unify,
)
from .environment import EXIT, LOAD, NOT_CONSTANT, STORE, WITH, Frame, PendingError, VarInfo
from .source import ParsedSource, _LazyRange, _set_node, _set_src
from .sugared import SimpleValue, SugaredValue, TupleSugar

_new = object.__new__  # `FunctionEmitter.loc` makes ranges without `__init__`, as `ParsedSource.loc` does


@dataclass(slots=True)
class Cond:
    """A condition: a bool value or a compile-time bool, and the refinements it implies.

    `true_refs` / `false_refs` map variable names to the narrower type they
    have where the condition is true / false (`x is not None`).
    """

    value: Optional[Value] = None
    static: Optional[bool] = None
    true_refs: Dict[str, Type] = field(default_factory=dict)
    false_refs: Dict[str, Type] = field(default_factory=dict)

    def negate(self) -> "Cond":
        return Cond(self.value, None if self.static is None else not self.static, self.false_refs, self.true_refs)


def constant_type(value: Any) -> Optional[Type]:
    """The IR type of a Python constant, or None when it is not a simple constant."""
    typ = python_value_type(value)
    if typ is not None:
        return typ
    if isinstance(value, torch.layout):
        return LAYOUT
    if isinstance(value, torch.memory_format):
        return MEMORY_FORMAT
    return None


_SCALAR_TYPE_SET = frozenset((INT, FLOAT, BOOL, STR, NONE))
_BY_VALUE = frozenset((int, bool, str, type(None)))


class FunctionEmitter:
    """Compiles one Python function (or method) body into `graph`.

    `compiler` is the `Compiler` of this `script()` call (unit, caches, the
    chain of functions being compiled); `namespace` resolves the function's
    free names (closure, globals, builtins); `local_names` are the names
    Python treats as local in this function.
    """

    def __init__(self, compiler, src: ParsedSource, namespace, graph: Graph, local_names: Sequence[str] = (), name: str = ""):
        self.compiler = compiler
        self.src = src
        self.namespace = namespace
        self.graph = graph
        self.name = name
        self.builder = Builder(graph.block)
        self.op = self.builder.op  # see `op` below
        self.frame = Frame("function", graph.block)
        self.local_names = set(local_names)
        self.declared_return: Optional[Type] = None
        self.return_types: List[Tuple[Type, SourceRange]] = []
        self.self_sugar: Optional[SugaredValue] = None  # `self` of a method, when it is not a plain value
        self.method_of: Optional[Tuple[Any, type, Any]] = None  # (class type, Python class, function) of a method: super()
        self.renamed = False  # a comprehension renamed its targets (Frame.renames)
        # A nested function's body (Note [Nested functions]): its captured variables and their
        # types (assigning one rebinds the caller's variable: `nonlocal`), and those it assigned.
        self.rebindable: Optional[Dict[str, Type]] = None
        self.rebound: Dict[str, None] = {}
        self._fresh = 0
        self.unrolled_depth = 0
        self.loop_depth = 0
        self._constants: Dict[Any, Value] = {}
        self._n_constants = 0  # pooled constants open the graph's top block
        # Note [Deferred stores]: stores of names not loaded yet, by name: (block, the node
        # the store follows (None: the block's start), value, attrs, range); and the names loaded.
        self._pending: Dict[str, List[Tuple[Block, Optional[Node], Value, Dict[str, Any], Any]]] = {}
        self._loaded: set = set()

    # -- locations and errors ----------------------------------------------------------------
    def loc(self, node: Optional[ast.AST]) -> SourceRange:
        if node is None:
            return self.src.loc(None)
        # Kept on the ast node itself (the parse is cached, so later compiles find it too);
        # a lazy range knows the source it is for.
        found = getattr(node, "_kiln_loc", None)
        if found is None or found._src is not self.src:
            # `self.src.loc(node)`, inlined: three in four expressions get a range here first.
            found = _new(_LazyRange)
            _set_src(found, self.src)
            _set_node(found, node)
            node._kiln_loc = found  # type: ignore[attr-defined]
        return found

    def fail(self, node: Optional[ast.AST], what: str, hint: Optional[str] = None) -> NoReturn:
        raise CompileError(what, self.loc(node), hint=hint)

    def at(self, node: ast.AST) -> "_At":
        """`with em.at(node):` nodes created inside carry `node`'s source range."""
        return _At(self, node)

    # -- nodes -----------------------------------------------------------------------------------
    # `em.op(kind, inputs, out_types, attrs=None, n_blocks=...)` makes a node at the insertion point
    # (pass `n_blocks` by name). It is `self.builder.op` itself, bound in `__init__` (an emitter keeps
    # its builder), rather than a method forwarding to it: the emitters make a thousand nodes through
    # it in a Transformer.
    op: Callable[..., Node]

    def const(self, value: Any, typ: Optional[Type] = None) -> Value:
        """A pooled constant: one `prim::Constant` per value and type, at the top of the graph."""
        vt = type(value)
        if typ is None:
            typ = constant_type(value)
            assert typ is not None, f"not a simple constant: {value!r}"
        # By value for ints, bools, strings and None (type(value) keeps 1 and True apart); by text
        # otherwise (floats: 0.0 and -0.0 are equal, and NaN is not equal to itself).
        key = (vt, value if vt in _BY_VALUE else repr(value), typ if typ in _SCALAR_TYPE_SET else str(typ))
        pooled = self._constants.get(key)
        top_block = self.graph.block
        if pooled is not None and pooled.node is not None and pooled.node.block is top_block:
            return pooled
        nodes = top_block.nodes
        n = self._n_constants
        v = Builder(top_block, before=nodes[n] if len(nodes) > n else None, loc=self.builder.loc).constant(value, typ)
        if n < len(nodes) and nodes[n] is v.node:
            self._n_constants = n + 1
        else:
            self._n_constants = nodes.index(v.node) + 1
        self._constants[key] = v
        return v

    def call_op(
        self,
        node: ast.AST,
        bases,
        args: Sequence[Value],
        kwargs: Optional[Mapping[str, Value]] = None,
        self_value: Optional[Value] = None,
        what: Optional[str] = None,
    ) -> Tuple[List[Value], Optional[Tuple[str, ...]]]:
        """Resolve an overload of `bases` for these values and emit it (Note [Overload resolution]).

        Returns the node's outputs and their names (for named-tuple results).
        """
        kwargs = dict(kwargs) if kwargs else {}
        match = self.resolve_op(node, bases, args, kwargs, self_value, what)
        builder = self.builder
        saved = builder.loc  # `with self.at(node):`, spelled out
        builder.loc = self.loc(node)
        try:
            inputs = ops.emit_inputs(match, builder, list(args), kwargs, self_value)
            n = builder.op(match.op.name, inputs, match.return_types)
        finally:
            builder.loc = saved
        return n.outputs, match.return_names

    def resolve_op(
        self,
        node: ast.AST,
        bases,
        args: Sequence[Value],
        kwargs: Mapping[str, Value],
        self_value: Optional[Value] = None,
        what: Optional[str] = None,
    ) -> "ops.Match":
        """The overload of `bases` these values call; a CompileError at `node` naming the ones tried."""
        consts: Dict[Any, Any] = {}
        arg_types = []
        for i, v in enumerate(args):
            arg_types.append(v.type)
            if type(v.type) is ListType and is_empty_list(v):
                consts[i] = []
        kw_types = {}
        if kwargs:
            for k, v in kwargs.items():
                kw_types[k] = v.type
                if type(v.type) is ListType and is_empty_list(v):
                    consts[k] = []
        try:
            match = _resolve(
                candidates(bases),
                arg_types,
                kw_types,
                consts,
                self_value.type if self_value is not None else None,
            )
        except CompileError as e:
            what_text = e.what if what is None else f"{what}: {e.what}"
            raise CompileError(what_text, self.loc(node), hint="check the number and types of the arguments against the overloads listed above") from None
        return match

    def call_op_sugar(self, node: ast.AST, bases, args: Sequence[Value], kwargs=None, self_value=None, what=None) -> SugaredValue:
        """`call_op` whose result is a sugared value: one value, None, or a tuple of outputs."""
        outs, names = self.call_op(node, bases, args, kwargs, self_value, what)
        return self.results(outs, names)

    def results(self, outs: Sequence[Value], names: Optional[Tuple[str, ...]] = None) -> SugaredValue:
        if not outs:
            return SimpleValue(self.const(None))
        if len(outs) == 1:
            return SimpleValue(outs[0])
        return TupleSugar([SimpleValue(v) for v in outs], names)

    # -- expressions and statements ------------------------------------------------------------------
    def emit_expr(self, node: ast.expr, hint: Optional[Type] = None) -> SugaredValue:
        return exprs.emit_expr(self, node, hint)  # replaced by `exprs.emit_expr` itself (end of the module)

    def emit_value(self, node: ast.expr, hint: Optional[Type] = None) -> Value:
        return self.emit_expr(node, hint).as_value(self, node)

    def emit_stmts(self, stmts: Sequence[ast.stmt]) -> None:
        emit_stmt = _stmts.emit_stmt
        for s in stmts:
            if self.frame.exits:
                return  # unreachable code after return/raise/break/continue is not compiled
            emit_stmt(self, s)

    def emit_condition(self, node: ast.expr) -> Cond:
        return conditions.emit_condition(self, node)

    def to_str(self, sv: SugaredValue, node: ast.AST) -> Value:
        v = sv.as_value(self, node)
        if v.type == STR:
            return v
        for name in ("__str__", "__repr__"):
            r = self.compiler.classes.dunder(self, node, v, name, [])
            if r is not None:
                return r.as_value(self, node)
        return self.op("prim::str", [v], [STR]).output

    def to_bool(self, v: Value, node: ast.AST) -> Value:
        """Python truth of a value, as TorchScript allows it in conditions."""
        return conditions.truth_value(self, node, v)

    # -- frames ----------------------------------------------------------------------------------------
    def rename_in_comprehension(self, names: Sequence[str]) -> None:
        """Store these comprehension targets under names of their own (Frame.renames)."""
        f = self.frame
        while f.kind != "comprehension":
            f = f.parent  # type: ignore[assignment]
        for name in names:
            if name not in f.renames:
                self._fresh += 1
                f.renames[name] = f"{name}$c{self._fresh}"
        self.renamed = True

    def child_frame(self, kind: str, block: Block) -> "_ChildFrame":
        """`with em.child_frame(kind, block) as frame:` emits into `block` in a new frame."""
        return _ChildFrame(self, Frame(kind, block, self.frame))

    def in_block(self, block: Block) -> "_InBlock":
        """Emit into `block` while staying in the current frame (a `with` body, a condition)."""
        return _InBlock(self, block)

    # -- variables -----------------------------------------------------------------------------------
    def lookup(self, name: str, node: ast.AST) -> SugaredValue:
        """What `name` means here: a local variable, or (Python's order) closure, global, builtin."""
        where, found = self.frame.find(name)
        if isinstance(found, VarInfo):
            stored = found.value
            if stored is not None and _reaches(self.builder.block, found.block):
                sugar = found.sugar  # Note [Load forwarding]
                if sugar is None:
                    sugar = found.sugar = SimpleValue(stored)
                return sugar
            with self.at(node):
                known = self.frame.constant(name)
                if known is not NOT_CONSTANT:
                    return SimpleValue(self.const(known, found.type))
                stored_as = self.frame.store_name(name, where) if self.renamed else name
                if stored_as not in self._loaded:
                    self._place_stores(stored_as)
                return SimpleValue(self.op(LOAD, [], [found.type], {"name": stored_as}).output)
        if isinstance(found, SugaredValue):
            return found
        if isinstance(found, PendingError):
            found.raise_at(self.loc(node))
        if name in self.local_names:
            self.fail(node, f"local variable '{name}' is used before it is assigned", hint=f"assign '{name}' on every path before this line")
        # `with self.at(node):`, spelled out (a third of all names are globals): nodes made
        # for a global (a constant) carry the name's range.
        builder = self.builder
        saved = builder.loc
        builder.loc = self.loc(node)
        try:
            return self.compiler.resolver.resolve_name(self, node, name)
        finally:
            builder.loc = saved

    def assign(self, name: str, sv: SugaredValue, node: ast.AST, annotated: Optional[Type] = None) -> None:
        """Bind `name` to `sv` in the current frame (a `prim::Store` for values)."""
        if name.startswith("$"):
            raise AssertionError(name)
        if not sv.is_value():
            if annotated is not None:
                self.fail(node, f"cannot annotate '{name}': {sv.describe()} is not a value")
            self.frame.set_sugared(name, sv)
            return
        value = sv.as_value(self, node)
        if annotated is not None:
            value = self.coerce(value, annotated, node, f"'{name}' is annotated as {annotated} but is assigned a value of type {value.type}")
        store_type = annotated if annotated is not None else value.type
        stored_as = self.frame.store_name(name, self.frame) if self.renamed else name
        if self.rebindable is not None and stored_as in self.rebindable:
            value = self._rebind(stored_as, value, node)
            store_type = self.rebindable[stored_as]
        outer = self.frame.crosses_loop_to(name)
        if outer is not None and not store_type.is_subtype_of(outer.type):
            value = self._loop_store_coerce(name, value, outer, node)
            store_type = outer.type
        attrs: Dict[str, Any] = {"name": stored_as}
        same_type = store_type is value.type or store_type == value.type
        if not same_type:
            attrs["type"] = store_type  # the declared type, for loop-carried values (to_ssa.py)
        loc = self.loc(node)
        builder = self.builder
        if stored_as in self._loaded or builder.before is not None:
            saved, builder.loc = builder.loc, loc  # `with self.at(node):`, spelled out (one per assignment)
            builder.op(STORE, [value], [], attrs)
            builder.loc = saved
        else:  # Note [Deferred stores]
            nodes = builder.block.nodes
            self._pending.setdefault(stored_as, []).append((builder.block, nodes[-1] if nodes else None, value, attrs, loc))
        known = NOT_CONSTANT
        producer = value.node
        if producer is not None and producer.kind == "prim::Constant" and same_type and constant_type(producer.attrs.get("value")) is not None:
            known = producer.attrs["value"]
        info = VarInfo(store_type, loc, known)
        if same_type and builder.before is None:
            info.value, info.block = value, builder.block
        self.frame.set_var(name, info)

    def _rebind(self, name: str, value: Value, node: ast.AST) -> Value:
        """A nested function assigns a variable of its caller (`nonlocal`): the variable keeps its type."""
        declared = self.rebindable[name]  # type: ignore[index]
        converted = self.try_convert(value, declared)
        if converted is None:
            self.fail(
                node,
                f"'{name}' is a variable of the enclosing function, of type {declared}; `nonlocal` cannot assign it a value of type {value.type}",
                hint=f"a variable keeps one type: assign a {declared}, or annotate '{name}' where the enclosing function first assigns it (`{name}: {unify_hint(declared, value.type)} = ...`)",
            )
        if name not in self._loaded:
            self._place_stores(name)  # stored at once from now on: the end of the body reads it (nested.py)
        self.rebound[name] = None
        return converted

    def _place_stores(self, name: str) -> None:
        """Make the deferred stores of `name` nodes, each where it was emitted (Note [Deferred stores]);
        from now on its stores are made at once."""
        self._loaded.add(name)
        placed: Dict[Tuple[int, int], int] = {}  # (block, anchor) -> stores put after that anchor so far
        for block, anchor, value, attrs, loc in self._pending.pop(name, ()):
            nodes = block.nodes
            i = nodes.index(anchor) + 1 if anchor is not None else 0
            key = (id(block), id(anchor))
            if block is self.graph.block and i < self._n_constants:
                # The top block opens with the pooled constants (`const`); only constants came after
                # the anchor there before the store, so it goes after all of them (after this name's
                # stores put there already, whatever constant they followed).
                i, key = self._n_constants, (id(block), -1)
            k = placed.get(key, 0)
            i += k
            Builder(block, before=nodes[i] if i < len(nodes) else None, loc=loc).op(STORE, [value], [], attrs)
            placed[key] = k + 1

    def _loop_store_coerce(self, name: str, value: Value, outer: VarInfo, node: ast.AST) -> Value:
        if value.type.is_subtype_of(outer.type):
            return value
        converted = self.try_convert(value, outer.type)
        if converted is not None:
            return converted
        where = f" (set at {outer.loc})" if outer.loc is not None else ""
        self.fail(
            node,
            f"'{name}' has type {outer.type} before the loop{where} but is assigned a value of type {value.type} inside it",
            hint=f"a variable keeps one type across loop iterations: annotate it before the loop (`{name}: {unify_hint(outer.type, value.type)} = ...`) or use a new name",
        )

    def store_internal(self, name: str, value: Value) -> None:
        self.op(STORE, [value], [], {"name": name})

    def exit(self, kind: str) -> None:
        self.op(EXIT, [], [], {"kind": kind})
        self.frame.exits = True

    # -- types -----------------------------------------------------------------------------------------
    def try_convert(self, value: Value, target: Type) -> Optional[Value]:
        """Implicit conversions allowed on assignment and return: int -> float, T -> Optional/Union."""
        if value.type.is_subtype_of(target):
            return value
        inner = target.elem if isinstance(target, OptionalType) else target
        convert = getattr(inner, "convert_from", None)  # interface types check conformance (interfaces.py)
        if convert is not None:
            return convert(self, value)
        if value.type == INT and inner == SCALAR_TYPE:  # TorchScript's dtypes are ints
            return self.op("prim::dtype.int", [value], [SCALAR_TYPE]).output
        if value.type == OptionalType(INT) and target == OptionalType(SCALAR_TYPE):
            return self.op("prim::dtype.int_optional", [value], [target]).output
        if value.type in (INT, BOOL, SCALAR) and inner == FLOAT:  # SCALAR: `x.item()` (Note [Number conversions])
            return self.op("prim::Float.Scalar", [value], [FLOAT]).output
        if isinstance(inner, (ListType, DictType)) and _is_empty_literal(value, type(inner)):
            # As TorchScript's tryConvertToType: an empty `[]` / `{}` literal nothing has used yet
            # takes the declared type (`d.setdefault(k, []).append(v)` into a Dict[int, List[int]]).
            kind = value.node.kind  # type: ignore[union-attr]
            value.node.destroy()  # type: ignore[union-attr]
            return self.op(kind, [], [inner]).output
        if isinstance(value.type, TupleType) and isinstance(inner, ListType) and all(e.is_subtype_of(inner.elem) for e in value.type.elems):
            parts = self.op("prim::TupleUnpack", [value], list(value.type.elems)).outputs
            return self.op("prim::ListConstruct", parts, [inner]).output
        return None

    def coerce(self, value: Value, target: Type, node: ast.AST, what: str) -> Value:
        converted = self.try_convert(value, target)
        if converted is None:
            self.fail(node, what)
        return converted

    def try_convert_argument(self, value: Value, target: Type) -> Optional[Value]:
        """`try_convert`, and the number conversions TorchScript makes for call arguments and
        returned values only: a Tensor to an int, float or number, a number to an int
        (Note [Number conversions])."""
        converted = self.try_convert(value, target)
        if converted is not None:
            return converted
        inner = target.elem if isinstance(target, OptionalType) else target
        t = value.type
        if isinstance(t, TensorType) and inner in _FROM_TENSOR:
            return self.op(_FROM_TENSOR[inner], [value], [inner]).output
        if t == SCALAR and inner == INT:
            return self.op("prim::Int.Scalar", [value], [INT]).output
        return None

    def coerce_argument(self, value: Value, target: Type, node: ast.AST, what: str) -> Value:
        converted = self.try_convert_argument(value, target)
        if converted is None:
            self.fail(node, what)
        return converted

    def static_of(self, sv: SugaredValue) -> Any:
        return sv.static_value()


class _At:
    """The context of `FunctionEmitter.at` (a class: this runs for every expression)."""

    __slots__ = ("em", "node", "saved")

    def __init__(self, em: FunctionEmitter, node: ast.AST):
        self.em = em
        self.node = node

    def __enter__(self) -> None:
        builder = self.em.builder
        self.saved = builder.loc
        builder.loc = self.em.loc(self.node)

    def __exit__(self, *exc) -> bool:
        self.em.builder.loc = self.saved
        return False


class _ChildFrame:
    """The context of `FunctionEmitter.child_frame` (a class: one per branch and loop body)."""

    __slots__ = ("em", "frame", "saved_frame", "saved_block")

    def __init__(self, em: FunctionEmitter, frame: Frame):
        self.em = em
        self.frame = frame

    def __enter__(self) -> Frame:
        em, b = self.em, self.em.builder
        self.saved_frame = em.frame
        self.saved_block = (b.block, b.before)
        em.frame = self.frame
        b.block, b.before = self.frame.block, None
        return self.frame

    def __exit__(self, *exc) -> bool:
        b = self.em.builder
        b.block, b.before = self.saved_block
        self.em.frame = self.saved_frame
        return False


class _InBlock:
    """The context of `FunctionEmitter.in_block`."""

    __slots__ = ("em", "block", "saved", "saved_block")

    def __init__(self, em: FunctionEmitter, block: Block):
        self.em = em
        self.block = block

    def __enter__(self) -> None:
        em, b = self.em, self.em.builder
        self.saved = em.frame.block
        self.saved_block = (b.block, b.before)
        em.frame.block = self.block
        b.block, b.before = self.block, None

    def __exit__(self, *exc) -> bool:
        b = self.em.builder
        b.block, b.before = self.saved_block
        self.em.frame.block = self.saved
        return False


# Note [Number conversions]
# ~~~~~~~~~~~~~~~~~~~~~~~~~
# `x.item()` is a number (`Scalar`: an int, float or bool when the program
# runs) and `x.sum()` a Tensor, but model code passes them where a float or an
# int is declared: `return loss.item()` from a `-> float` method, `h(x.sum())`
# for `def h(v: float)`, `return x.argmax()` from `-> int`. TorchScript converts
# them there (its `tryConvertToType` with conversions allowed: returned values
# and call arguments) with `aten::Float` / `aten::Int` / `aten::ScalarImplicit`,
# so script does the same: `prim::Float.Scalar`, `prim::Int.Scalar`,
# `prim::Float.Tensor`, `prim::Int.Tensor`, `aten::item`. A number to an int
# truncates (`-> int` returning `x.item()` of 1.5 gives 1, as TorchScript);
# a Tensor of more than one element raises Python's error. A number becomes a
# float wherever a float is declared (an annotated variable, a list element, a
# variable a loop carries as float: `t = t + x[i].item()`), which TorchScript
# refuses in places; the other conversions stay at calls and returns.
_FROM_TENSOR = {INT: "prim::Int.Tensor", FLOAT: "prim::Float.Tensor", SCALAR: "aten::item"}

_CANDIDATES: Dict[Any, list] = {}


def candidates(bases) -> list:
    """The overloads `ops.resolve` tries for `bases` (names or OpInfos), computed once per name."""
    if not isinstance(bases, (str, tuple, list)) or (isinstance(bases, list) and bases and not isinstance(bases[0], str)):
        return bases
    key = bases if isinstance(bases, str) else tuple(bases)
    found = _CANDIDATES.get(key)
    if found is None:
        names = [key] if isinstance(key, str) else list(key)
        found = _CANDIDATES[key] = [op for n in names for op in ops.overloads(n)]
    return found or bases


# Note [Resolution cache]
# ~~~~~~~~~~~~~~~~~~~~~~~
# `ops.resolve` is a function of the candidates and the argument types, and
# a program calls the same op on the same types many times (`x.dim()`,
# `F.linear` in every layer). `call_op` keeps each successful `Match` (read
# only: emitting reads it) by the candidate list (one list per name,
# `candidates`) and the types. Types that compare equal but print
# differently (refined tensor types, unions in another member order) are
# not cached: the match's types would be the first call's.
_RESOLVED: Dict[tuple, Tuple[list, "ops.Match"]] = {}


def _resolve(cands: list, arg_types: List[Type], kw_types: Dict[str, Type], consts: Dict[Any, Any], self_type: Optional[Type]) -> "ops.Match":
    cacheable = all(map(_exact, arg_types)) and all(map(_exact, kw_types.values())) and (self_type is None or _exact(self_type))
    if not cacheable:
        return ops.resolve(cands, arg_types, kw_types, const_values=consts, self_type=self_type)
    key = (id(cands), tuple(arg_types), tuple(kw_types.items()), tuple(consts), self_type)
    found = _RESOLVED.get(key)
    if found is not None and found[0] is cands:
        return found[1]
    match = ops.resolve(cands, arg_types, kw_types, const_values=consts, self_type=self_type)
    if len(_RESOLVED) >= _RESOLVED_MAX:
        _RESOLVED.clear()  # keys hold class types of earlier programs: bound what a long process keeps
    _RESOLVED[key] = (cands, match)  # holds `cands`: its id is not reused while the entry lives
    return match


_RESOLVED_MAX = 4096


def _exact(t: Type) -> bool:
    """Whether types equal to `t` print as `t` does (Note [Resolution cache])."""
    if id(t) in _SIMPLE_IDS:  # `TENSOR`, `INT`, ...: most argument types, found without the types' `__hash__`
        return True
    if t in _SIMPLE:
        return type(t) is not TensorType or not t.is_refined()  # type: ignore[attr-defined]
    if isinstance(t, (TensorType, UnionType)):
        return False
    return all(_exact(c) for c in t.contained())


_SIMPLE = frozenset([TENSOR, BOOL, INT, FLOAT, STR, NONE, DEVICE, SCALAR_TYPE, LAYOUT, MEMORY_FORMAT])
_SIMPLE_IDS = frozenset(id(t) for t in _SIMPLE)  # the module's constants: they live as long as the process


def has_overloads(base: str) -> bool:
    """Whether an op named `base` (e.g. `aten::relu`) exists."""
    found = candidates(base)
    return bool(found) and not isinstance(found, str)


def unify_hint(a: Type, b: Type) -> str:
    u = unify(a, b)
    if u is not None:
        return str(u)
    return f"Union[{a}, {b}]"


def _is_empty_literal(v: Value, kind: type) -> bool:
    """Whether `v` is an empty list (kind ListType) or dict (DictType) literal used nowhere yet."""
    n = v.node
    construct = "prim::ListConstruct" if kind is ListType else "prim::DictConstruct"
    return n is not None and n.kind == construct and not n.inputs and not v.uses and isinstance(v.type, kind)


def is_empty_list(v: Value) -> bool:
    """Whether `v` is an empty list literal used nowhere yet (a variable holding one may have grown)."""
    return _is_empty_literal(v, ListType)


_TRANSPARENT = ("prim::If", WITH)


def _reaches(block: Block, target: Optional[Block]) -> bool:
    """Whether `block` is `target` or nested in it through if/with bodies only (Note [Load forwarding])."""
    while block is not target:
        owner = block.owner
        if owner is None or owner.kind not in _TRANSPARENT or owner.block is None:
            return False
        block = owner.block
    return True


__all__ = ["FunctionEmitter", "Cond", "constant_type", "candidates", "has_overloads"]

# The statement and expression emitters import this module; they are bound
# here, once, rather than imported in each call (an import statement in a
# function costs about a microsecond, and `emit_expr` runs per syntax node).
from . import conditions, exprs  # noqa: E402
from . import stmts as _stmts  # noqa: E402

# `emit_expr` runs for every expression: the method is `exprs.emit_expr` itself, not a call forwarding to it.
FunctionEmitter.emit_expr = exprs.emit_expr  # type: ignore[method-assign]
