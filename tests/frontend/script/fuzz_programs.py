"""A typed, grammar-based generator of small scriptable Python functions (test_differential_fuzz.py).

`Program(draw).source()` writes one function

    def f(n: int, x: float, b: bool, s: str, xs: List[int], o: Optional[int],
          d: Dict[str, int], t: torch.Tensor) -> <T>:
        <5-20 lines>

valid by construction: every name read is bound on every path that reaches
it with one static type, so eager Python runs it (it may raise, on purpose:
indexing, division by zero, math domain errors, user `raise`s) and a correct
`torchkiln.script` either refuses it with a `CompileError` or agrees with
eager Python. Every choice is a `draw` of a hypothesis strategy, so failing
programs shrink.

Scope rules the generator keeps (torchkiln's flow typing, docs/script.md):
a name first bound inside a block is forgotten after the block; a name
keeps its type when reassigned; Optional names are never reassigned; a
nested `def` reads its enclosing names (late binding, as called) and
writes only those it declares `nonlocal`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

from hypothesis import strategies as st

INT, FLOAT, BOOL, STR, LIST, OPT, DICT, TENSOR = "int", "float", "bool", "str", "List[int]", "Optional[int]", "Dict[str, int]", "torch.Tensor"
TYPES = (INT, FLOAT, BOOL, STR, LIST, OPT, DICT, TENSOR)
RETURN_TYPES = (INT, FLOAT, BOOL, STR, LIST, OPT, DICT, TENSOR)
PARAMS = (("n", INT), ("x", FLOAT), ("b", BOOL), ("s", STR), ("xs", LIST), ("o", OPT), ("d", DICT), ("t", TENSOR))

# Constructs the generator leaves out because of known, unfixed torchkiln bugs (see the report
# in test_differential_fuzz.py's docstring). Empty when every bug found is fixed.
AVOID: frozenset = frozenset()


@dataclass
class Var:
    type: str
    writable: bool = True


@dataclass
class Frame:
    """One scope level: a block of statements (`nested_def` starts a new function)."""

    names: Dict[str, Var] = field(default_factory=dict)
    function: bool = False
    nonlocals: Tuple[str, ...] = ()


class Program:
    def __init__(self, draw: Callable):
        self.draw = draw
        self.frames: List[Frame] = [Frame({p: Var(t, writable=t != OPT) for p, t in PARAMS}, function=True)]
        self.counter = 0
        self.lines_left = 18
        self.nested: Dict[str, Tuple[List[str], str]] = {}  # nested function name -> (param types, return type)
        self.used: set = set()  # constructs drawn (coverage statistics)

    # -- drawing ----------------------------------------------------------------------------------------

    def pick(self, options):
        return options[self.draw(st.integers(0, len(options) - 1))]

    def chance(self, percent: int) -> bool:
        return self.draw(st.integers(0, 99)) < percent

    def fresh(self, prefix: str = "v") -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def mark(self, construct: str) -> bool:
        """Record `construct` as used; False when it is in AVOID (the caller picks something else)."""
        if construct in AVOID:
            return False
        self.used.add(construct)
        return True

    # -- scopes -----------------------------------------------------------------------------------------

    def visible(self, type_: str, writable: bool = False, own_function: bool = False) -> List[str]:
        """Names of `type_` in scope (`writable`: that may be assigned; `own_function`: not captured)."""
        out: Dict[str, Var] = {}
        crossed_function = False
        for frame in reversed(self.frames):
            if crossed_function and own_function:
                break
            for name, var in frame.names.items():
                if name in out:
                    continue
                w = var.writable and (not crossed_function or name in self._nonlocals())
                out[name] = Var(var.type, w)
            if frame.function:
                crossed_function = True
        return sorted(n for n, v in out.items() if v.type == type_ and (v.writable or not writable))

    def _nonlocals(self) -> Tuple[str, ...]:
        for frame in reversed(self.frames):
            if frame.function:
                return frame.nonlocals
        return ()

    def bind(self, name: str, type_: str, writable: bool = True) -> None:
        self.frames[-1].names[name] = Var(type_, writable)

    def push(self, names: Optional[Dict[str, Var]] = None, function: bool = False, nonlocals=()) -> None:
        self.frames.append(Frame(dict(names or {}), function, tuple(nonlocals)))

    def pop(self) -> None:
        self.frames.pop()

    def in_nested(self) -> bool:
        return sum(f.function for f in self.frames) > 1

    # -- expressions ------------------------------------------------------------------------------------

    def expr(self, type_: str, depth: int = 2) -> str:
        leaf = depth <= 0 or self.chance(30)
        names = self.visible(type_)
        if leaf:
            if names and self.chance(70):
                return self.pick(names)
            return self.literal(type_)
        return getattr(self, "expr_" + {INT: "int", FLOAT: "float", BOOL: "bool", STR: "str", LIST: "list", OPT: "opt", DICT: "dict", TENSOR: "tensor"}[type_])(depth - 1)

    def literal(self, type_: str) -> str:
        if type_ == INT:
            return str(self.draw(st.integers(-3, 7)))
        if type_ == FLOAT:
            return self.pick(["0.0", "1.5", "-2.25", "0.1", "3.0", "1e300", "-0.0", "float('nan')", "math.inf"])
        if type_ == BOOL:
            return self.pick(["True", "False"])
        if type_ == STR:
            return self.pick(['""', '"a"', '"ab"', '"b1"', '" a "', '"-2"', '"12"'])
        if type_ == LIST:
            # (a bare `[]` is a List[Tensor] in script unless annotated: see stmt_assign)
            return self.pick(["[1, 2]", "[0, -1, 3]", "[5]"])
        if type_ == OPT:
            return self.pick(["None", "3", "-1"])
        if type_ == DICT:
            return self.pick(['{"a": 1}', '{"a": 0, "b": 2}'])
        return self.pick(["torch.zeros(3)", "torch.ones(3)", "torch.tensor([1.0, -2.0, 0.5])", "torch.arange(3).float()"])

    def cond(self, depth: int = 2) -> str:
        return self.expr(BOOL, depth)

    def comp_var(self) -> str:
        return self.fresh("c")

    def genexp_int(self, depth: int, brackets: bool) -> str:
        """`expr for v in xs [if cond]` over a list, a range, a str's ords or a dict's values."""
        v = self.comp_var()
        source = self.pick([self.expr(LIST, depth), f"range({self.expr(INT, 0)} % 5)", f"{self.expr(DICT, 0)}.values()"])
        self.push({v: Var(INT, writable=False)})
        body = self.expr(INT, depth)
        filt = f" if {self.cond(depth)}" if self.chance(50) and self.mark("comprehension-if") else ""
        self.pop()
        inner = f"{body} for {v} in {source}{filt}"
        return f"[{inner}]" if brackets else inner

    def expr_int(self, depth: int) -> str:
        e = self.expr
        options = [
            lambda: f"({e(INT, depth)} {self.pick(['+', '-', '*'])} {e(INT, depth)})",
            lambda: f"({e(INT, depth)} {self.pick(['//', '%'])} {e(INT, depth)})",
            lambda: f"len({e(self.pick([LIST, STR, DICT]), depth)})",
            lambda: self.index_list(depth),
            lambda: self.index_list(depth),
            lambda: self.index_dict(depth),
            lambda: f"{e(DICT, 0)}.get({e(STR, depth)}, {e(INT, depth)})",
            lambda: f"int({self.bounded_float(depth)})",
            lambda: f"{self.pick(['abs', '-'])}({e(INT, depth)})",
            lambda: f"{self.pick(['min', 'max'])}({e(INT, depth)}, {e(INT, depth)})",
            lambda: f"sum({e(LIST, depth)})",
            lambda: self.mark("genexp") and f"{self.pick(['sum', 'min', 'max'])}({self.genexp_int(depth, False)})" or "0",
            lambda: f"({e(INT, depth)} if {self.cond(depth)} else {e(INT, depth)})",
            lambda: self.refine_optional(INT, depth),
            lambda: f"{e(STR, 0)}.{self.pick(['find', 'count'])}({self.literal(STR)})",
            lambda: f"{self.pick(['math.floor', 'math.ceil', 'round'])}({self.bounded_float(depth)})",
            lambda: f"int({e(BOOL, depth)})",
            lambda: f"{e(TENSOR, 0)}.numel()",
            lambda: f"int({e(TENSOR, depth)}.argmax())",
            lambda: f"len({self.genexp_int(depth, True)})",
            lambda: f"{e(LIST, 0)}.index({e(INT, depth)})",
            lambda: f"int({e(STR, 0)})" if self.chance(30) else f"int({e(STR, 0)} if {e(STR, 0)}.isdigit() else '7')",
            lambda: f"ord({e(STR, 0)}[{e(INT, 0)}])",
            lambda: self.call_nested(INT, depth),
            lambda: f"{self.pick(['min', 'max'])}({e(LIST, depth)})",
            lambda: f"({e(BOOL, depth)} + {e(INT, depth)})",
            lambda: f"pow({e(INT, depth)}, {self.pick(['0', '2', '3'])})",
            lambda: f"{e(LIST, 0)}.count({e(INT, depth)})",
            lambda: f"{e(STR, 0)}.{self.pick(['rfind', 'find'])}({e(STR, 0)})",
            lambda: f"{self.pick(['divmod', 'divmod'])}({e(INT, depth)}, {e(INT, 0)})[{self.pick(['0', '1'])}]",
            lambda: f"{e(TENSOR, 0)}.{self.pick(['dim()', 'size(0)', 'shape[0]'])}",
            lambda: self.mark("walrus-in-comprehension") and f"len([({self.fresh('y')} := {self.fresh_comp_walrus(depth)})])",
            lambda: f"sum(map(lambda q: q * {e(INT, 0)}, {e(LIST, 0)}))" if self.mark("map-lambda") else "1",
        ]
        return self.pick(options)()

    def fresh_comp_walrus(self, depth: int) -> str:
        v = self.comp_var()
        self.push({v: Var(INT, writable=False)})
        body = self.expr(INT, depth)
        self.pop()
        return f"{body}) for {v} in {self.expr(LIST, depth)} if ({v} > 0"

    def bounded_float(self, depth: int) -> str:
        """A float that converts to a 64-bit int (or is NaN): script's ints are 64-bit, Python's unbounded."""
        return f"max(min({self.expr(FLOAT, depth)}, 1e6), -1e6)"

    def index_list(self, depth: int) -> str:
        xs = self.expr(LIST, 0)
        i = self.expr(INT, depth)
        if self.chance(25):
            return f"{xs}[{i}]"
        if xs.isidentifier():
            return f"({xs}[{i} % len({xs})] if {xs} else {self.expr(INT, 0)})"
        return f"{self.pick(['min', 'max'])}({xs} + [{i}])"

    def index_dict(self, depth: int) -> str:
        d = self.expr(DICT, 0)
        k = self.expr(STR, depth)
        if self.chance(25):
            return f"{d}[{k}]"
        return f"({d}[{k}] if {k} in {d} else {self.expr(INT, 0)})"

    def refine_optional(self, type_: str, depth: int) -> str:
        opts = self.visible(OPT)
        if not opts:
            return self.literal(type_)
        o = self.pick(opts)
        self.mark("optional-refinement")
        # `o` is refined to int in the branch that reads it, as in TorchScript.
        if type_ == INT:
            return self.pick([
                f"({o} if {o} is not None else {self.expr(INT, depth)})",
                f"({self.expr(INT, depth)} if {o} is None else {o} + 1)",
            ])
        return f"({o} is not None and {o} > {self.expr(INT, 0)})"

    def expr_float(self, depth: int) -> str:
        e = self.expr
        options = [
            lambda: f"({e(FLOAT, depth)} {self.pick(['+', '-', '*', '/'])} {e(FLOAT, depth)})",
            lambda: f"({e(INT, depth)} / {e(INT, depth)})",
            lambda: f"({e(FLOAT, depth)} {self.pick(['*', '+', '-'])} {e(INT, depth)})",
            lambda: f"float({e(INT, depth)})",
            lambda: f"{self.pick(['math.sqrt', 'math.exp', 'math.log', 'math.fabs', 'abs', 'math.tanh'])}({e(FLOAT, depth)})",
            lambda: f"{self.pick(['min', 'max'])}({e(FLOAT, depth)}, {e(FLOAT, depth)})",
            lambda: f"{e(TENSOR, depth)}.sum().item()",
            lambda: f"({e(FLOAT, depth)} if {self.cond(depth)} else {e(FLOAT, depth)})",
            lambda: f"({e(FLOAT, depth)} % {e(FLOAT, depth)})",
            lambda: f"round({e(FLOAT, depth)}, {self.pick(['0', '1', '2'])})",
            lambda: f"({e(FLOAT, depth)} ** 2)",
            lambda: self.call_nested(FLOAT, depth),
        ]
        return self.pick(options)()

    def expr_bool(self, depth: int) -> str:
        e = self.expr
        t = lambda: self.pick([INT, FLOAT])  # noqa: E731
        options = [
            lambda: f"({e(INT, depth)} {self.pick(['<', '<=', '==', '!=', '>', '>='])} {e(INT, depth)})",
            lambda: self.mark("chained-comparison") and f"({e(INT, depth)} < {e(INT, depth)} <= {e(INT, depth)})",
            lambda: f"({e(FLOAT, depth)} {self.pick(['<', '>=', '=='])} {e(t(), depth)})",
            lambda: f"({e(BOOL, depth)} {self.pick(['and', 'or'])} {e(BOOL, depth)})",
            lambda: f"(not {e(BOOL, depth)})",
            lambda: f"({e(INT, depth)} in {e(LIST, depth)})",
            lambda: f"({e(STR, depth)} in {e(self.pick([DICT, STR]), depth)})",
            lambda: self.mark("genexp") and f"{self.pick(['any', 'all'])}({self.genexp_bool(depth)})",
            lambda: self.refine_optional(BOOL, depth),
            lambda: f"({self.pick(self.visible(OPT) or ['None'])} is {self.pick(['', 'not '])}None)",
            lambda: f"{e(STR, 0)}.{self.pick(['startswith', 'endswith'])}({self.literal(STR)})",
            lambda: f"{e(STR, 0)}.{self.pick(['isdigit', 'isalpha', 'isspace'])}()",
            lambda: f"bool({e(self.pick([LIST, STR, DICT, INT]), depth)})",
            lambda: f"math.isnan({e(FLOAT, depth)})",
            lambda: f"bool(({e(TENSOR, depth)} > {e(FLOAT, 0)}).any())",
            lambda: f"({e(BOOL, depth)} if {self.cond(depth)} else {e(BOOL, depth)})",
            lambda: self.mark("comprehension-in-boolop") and f"(len({self.genexp_int(depth, True)}) > 0 {self.pick(['and', 'or'])} {e(BOOL, depth)})",
            lambda: f"isinstance({self.pick(self.visible(OPT) or ['None'])}, int)",
            lambda: self.call_nested(BOOL, depth),
        ]
        return self.pick(options)()

    def genexp_bool(self, depth: int) -> str:
        v = self.comp_var()
        source = self.expr(LIST, depth)
        self.push({v: Var(INT, writable=False)})
        body = self.expr(BOOL, depth)
        self.pop()
        return f"{body} for {v} in {source}"

    def expr_str(self, depth: int) -> str:
        e = self.expr
        options = [
            lambda: f"({e(STR, depth)} + {e(STR, depth)})",
            lambda: f"({e(STR, depth)} * ({e(INT, 0)} % 3))",
            lambda: f"str({e(self.pick([INT, FLOAT, BOOL, LIST, DICT, OPT]), depth)})",
            lambda: self.mark("fstring") and self.fstring(depth),
            lambda: f"{e(STR, depth)}.{self.pick(['upper', 'lower', 'strip', 'title', 'lstrip'])}()",
            lambda: f"{e(STR, 0)}[{e(INT, 0)}:{e(INT, 0)}]",
            lambda: f"{e(STR, 0)}[{e(INT, depth)}]",
            lambda: f"{self.pick(['-', ',', ''])!r}.join([str(q) for q in {e(LIST, depth)}])",
            lambda: f"{e(STR, depth)}.replace({self.literal(STR)}, {self.literal(STR)})",
            lambda: f"({e(STR, depth)} if {self.cond(depth)} else {e(STR, depth)})",
            lambda: f"'/'.join(sorted({e(DICT, depth)}))",
            lambda: f"('%d-%s' % ({e(INT, depth)}, {e(STR, 0)}))",
            lambda: f"{self.pick(['hex', 'bin'])}({e(INT, depth)})",
            lambda: self.call_nested(STR, depth),
            lambda: f"{e(STR, 0)}[::{self.pick(['-1', '2', '-2'])}]",
            lambda: f"'{{}}|{{}}'.format({e(INT, depth)}, {e(STR, depth)})",
            lambda: f"('%.2f' % {e(FLOAT, depth)})",
            lambda: f"{e(STR, 0)}.{self.pick(['zfill(4)', 'rjust(3)', 'ljust(3)', 'swapcase()', 'capitalize()'])}",
            lambda: f"{e(STR, 0)}.partition({self.literal(STR)})[{self.pick(['0', '2'])}]",
            lambda: f"'-'.join({e(STR, 0)}.split({self.pick(['', repr(' '), repr('a')])}))".replace(".split('')", ".split()"),
        ]
        return self.pick(options)()

    def fstring(self, depth: int) -> str:
        parts = []
        for _ in range(self.draw(st.integers(1, 3))):
            kind = self.pick([INT, FLOAT, STR, BOOL, LIST, OPT])
            spec = {
                INT: ["", ":3d", ":>4", ":03d", ":x", ":+d", ":,"],
                FLOAT: ["", ":.2f", ":e", ":8.3f", ":g", ":.0%"],
                STR: ["", ":>3", ":<4", "!r", ":^5"],
                BOOL: [""],
                LIST: [""],
                OPT: [""],
            }[kind]
            parts.append("{" + self.expr(kind, 0) + self.pick(spec) + "}")
            parts.append(self.pick(["", "-", " x="]))
        return "f'" + "".join(parts).replace("'", '"') + "'"

    def expr_list(self, depth: int) -> str:
        e = self.expr
        options = [
            lambda: f"[{', '.join(e(INT, depth) for _ in range(self.draw(st.integers(1, 3))))}]",
            lambda: self.mark("list-comprehension") and self.genexp_int(depth, True),
            lambda: f"({e(LIST, depth)} + {e(LIST, depth)})",
            lambda: f"{e(LIST, 0)}[{e(INT, 0)}:{e(INT, 0)}]",
            lambda: f"sorted({e(LIST, depth)}{self.pick(['', ', reverse=True', ', key=lambda q: -q', ', key=lambda q: q % 3'])})",
            lambda: self.mark("map-filter") and f"list({self.pick(['map', 'filter'])}(lambda q: q {self.pick(['>', '+', '%'])} {e(INT, 0)}, {e(LIST, depth)}))".replace("map(lambda q: q >", "map(lambda q: q -"),
            lambda: f"list(range({e(INT, depth)} % 5))",
            lambda: f"list({e(DICT, depth)}.values())",
            lambda: f"list(reversed({e(LIST, depth)}))",
            lambda: self.mark("zip") and self.zip_comprehension(depth),
            lambda: f"[i * q for i, q in enumerate({e(LIST, depth)})]",
            lambda: f"({e(LIST, depth)} if {self.cond(depth)} else {e(LIST, depth)})",
            lambda: f"{e(LIST, 0)} * ({e(INT, 0)} % 3)",
            lambda: f"[len(w) for w in {e(STR, 0)}.split({self.pick(['', repr(' '), repr('a')])})]".replace(".split('')", ".split()"),
            lambda: self.call_nested(LIST, depth),
            lambda: f"{e(LIST, 0)}[::{self.pick(['-1', '2', '-2'])}]",
            lambda: f"list(range({e(INT, 0)}, {e(INT, 0)}, {self.pick(['1', '-1', '2', '-3'])}))",
            lambda: f"{e(LIST, 0)}.copy()",
            lambda: self.nested_in_lambda(depth),
            lambda: f"[q for q, _ in sorted({e(DICT, 0)}.items())]".replace("[q for q, _ in sorted(", "[len(q) for q, _ in sorted("),
        ]
        return self.pick(options)()

    def zip_comprehension(self, depth: int) -> str:
        a, b = self.comp_var(), self.comp_var()
        strict = ", strict=True" if self.chance(50) and self.mark("zip-strict") else ""
        left, right = self.expr(LIST, depth), self.expr(LIST, depth)
        self.push({a: Var(INT, False), b: Var(INT, False)})
        body = self.expr(INT, depth)
        self.pop()
        return f"[{body} for {a}, {b} in zip({left}, {right}{strict})]"

    def expr_opt(self, depth: int) -> str:
        options = [
            lambda: self.expr(INT, depth),
            lambda: f"{self.expr(DICT, 0)}.get({self.expr(STR, depth)})",
            lambda: f"({self.expr(INT, depth)} if {self.cond(depth)} else None)",
        ]
        return self.pick(options)()

    def expr_dict(self, depth: int) -> str:
        e = self.expr
        options = [
            lambda: f"{{{e(STR, depth)}: {e(INT, depth)}}}",
            lambda: self.mark("dict-comprehension") and self.dict_comprehension(depth),
            lambda: f"dict(zip([{self.literal(STR)}, 'k'], {e(LIST, depth)}))",
            lambda: self.mark("dict-or") and f"({e(DICT, depth)} | {e(DICT, depth)})",
            lambda: f"({e(DICT, depth)} if {self.cond(depth)} else {e(DICT, depth)})",
            lambda: f"dict([('p', {e(INT, depth)}), ({e(STR, depth)}, 2)])",
        ]
        return self.pick(options)()

    def dict_comprehension(self, depth: int) -> str:
        k, v = self.comp_var(), self.comp_var()
        source = self.expr(DICT, depth)
        self.push({k: Var(STR, False), v: Var(INT, False)})
        body = self.expr(INT, depth)
        filt = f" if {self.cond(depth)}" if self.chance(50) else ""
        self.pop()
        return f"{{{k}: {body} for {k}, {v} in {source}.items(){filt}}}"

    def expr_tensor(self, depth: int) -> str:
        e = self.expr
        options = [
            lambda: f"({e(TENSOR, depth)} {self.pick(['+', '-', '*'])} {e(self.pick([TENSOR, FLOAT, INT]), depth)})",
            lambda: f"torch.{self.pick(['relu', 'abs', 'neg', 'sin', 'floor'])}({e(TENSOR, depth)})",
            lambda: f"torch.where({e(TENSOR, depth)} > {e(FLOAT, 0)}, {e(TENSOR, depth)}, {e(TENSOR, 0)})",
            lambda: f"{e(TENSOR, depth)}.clamp(min={e(FLOAT, 0)})",
            lambda: f"torch.maximum({e(TENSOR, depth)}, {e(TENSOR, depth)})",
            lambda: f"torch.tensor([{e(FLOAT, depth)}, {e(FLOAT, 0)}, {e(FLOAT, 0)}])",
            lambda: f"({e(TENSOR, depth)} if {self.cond(depth)} else {e(TENSOR, depth)})",
            lambda: f"{e(TENSOR, depth)}.flip(0)",
            lambda: f"torch.full([3], {e(FLOAT, depth)})",
        ]
        return self.pick(options)()

    # -- nested functions -------------------------------------------------------------------------------

    def call_nested(self, type_: str, depth: int) -> str:
        candidates = [n for n, (_, r) in self.nested.items() if r == type_ and self._callable(n)]
        if not candidates:
            return self.literal(type_)
        name = self.pick(candidates)
        params, _ = self.nested[name]
        self.mark("nested-call")
        return f"{name}({', '.join(self.expr(p, max(depth - 1, 0)) for p in params)})"

    def nested_in_lambda(self, depth: int) -> str:
        """A nested function (which may rebind `nonlocal`s) called from a sort key, `map` or a comprehension."""
        candidates = [n for n, (p, r) in self.nested.items() if p == [INT] and r in (INT, BOOL) and self._callable(n)]
        if not candidates:
            return self.literal(LIST)
        h = self.pick(candidates)
        self.mark("nested-in-lambda")
        xs = self.expr(LIST, 0)
        if self.nested[h][1] == BOOL:
            return self.pick([f"list(filter(lambda q: {h}(q), {xs}))", f"[q for q in {xs} if {h}(q)]"])
        return self.pick([f"sorted({xs}, key=lambda q: {h}(q))", f"list(map(lambda q: {h}(q) + 1, {xs}))", f"list(map({h}, {xs}))"])

    def _callable(self, name: str) -> bool:
        return any(name in f.names for f in self.frames)

    # -- statements -------------------------------------------------------------------------------------

    def block(self, ctx: "Ctx", indent: int, count: Optional[int] = None, names: Optional[Dict[str, Var]] = None) -> List[str]:
        self.push(names)
        out: List[str] = []
        n = count if count is not None else self.draw(st.integers(1, 3))
        for _ in range(n):
            if self.lines_left <= 0:
                break
            out += self.stmt(ctx, indent)
        if not out:
            out = [" " * indent + "pass"]
        self.pop()
        return out

    def stmt(self, ctx: "Ctx", indent: int) -> List[str]:
        pad = " " * indent
        self.lines_left -= 1
        deep = indent >= 16 or self.lines_left < 3
        kinds = ["assign", "assign", "reassign", "augassign", "mutate", "raise"]
        if not deep:
            kinds += ["if", "for", "while", "match", "with", "nested_def", "walrus_if", "none_return", "union"]
        kinds += ["unpack"]
        if ctx.loop:
            kinds += ["break", "continue"]
        kinds += ["return"]
        kind = self.pick(kinds)
        return getattr(self, "stmt_" + kind)(ctx, indent, pad)

    def stmt_assign(self, ctx, indent, pad):
        type_ = self.pick(TYPES)
        name = self.fresh()
        value = ("{}" if type_ == DICT else "[]") if type_ in (LIST, DICT) and self.chance(20) else self.expr(type_)
        self.bind(name, type_, writable=type_ != OPT)
        annotation = f": {type_}" if type_ in (LIST, DICT, OPT) or self.chance(20) else ""
        return [f"{pad}{name}{annotation} = {value}"]

    def stmt_reassign(self, ctx, indent, pad):
        type_ = self.pick([INT, FLOAT, BOOL, STR, LIST, DICT, TENSOR])
        names = self.visible(type_, writable=True)
        if not names:
            return self.stmt_assign(ctx, indent, pad)
        return [f"{pad}{self.pick(names)} = {self.expr(type_)}"]

    def stmt_augassign(self, ctx, indent, pad):
        type_ = self.pick([INT, FLOAT, STR, TENSOR] + ([] if ctx.iterating else [LIST]))
        names = self.visible(type_, writable=True)
        if not names:
            return self.stmt_assign(ctx, indent, pad)
        op = {INT: ["+=", "-=", "*=", "//="], FLOAT: ["+=", "*=", "-="], STR: ["+="], LIST: ["+="], TENSOR: ["+=", "*="]}[type_]
        rhs_type = FLOAT if type_ == TENSOR else type_
        return [f"{pad}{self.pick(names)} {self.pick(op)} {self.expr(rhs_type, 1)}"]

    def stmt_mutate(self, ctx, indent, pad):
        # A nested function changes only its own lists and dicts; a `for` body changes no list's
        # length and no dict (Python's iterators see the changes, or raise: script's do not).
        lists, dicts = self.visible(LIST, own_function=True), self.visible(DICT, own_function=True)
        if ctx.iterating:
            xs = self.pick(lists) if lists else None
            return self.stmt_assign(ctx, indent, pad) if xs is None else [pad + self.pick([f"{xs}.sort()", f"{xs}[{self.expr(INT, 0)}] = {self.expr(INT, 1)}"])]
        options = []
        if lists:
            xs = self.pick(lists)
            options += [
                lambda: f"{xs}.append({self.expr(INT, 1)})",
                lambda: f"{xs}[{self.expr(INT, 0)}] = {self.expr(INT, 1)}",
                lambda: f"{xs}.pop()",
                lambda: f"{xs}.extend({self.expr(LIST, 1)})",
                lambda: f"{xs}.sort()",
                lambda: f"{xs}.insert({self.expr(INT, 0)}, {self.expr(INT, 0)})",
            ]
        if dicts:
            d = self.pick(dicts)
            options += [
                lambda: f"{d}[{self.expr(STR, 1)}] = {self.expr(INT, 1)}",
                lambda: f"del {d}[{self.expr(STR, 0)}]",
                lambda: f"{d}.pop({self.expr(STR, 0)}, 0)",
                lambda: f"{d}.setdefault({self.expr(STR, 0)}, {self.expr(INT, 0)})",
                lambda: f"{d} |= {self.expr(DICT, 1)}" if self.mark("dict-ior") else f"{d}.clear()",
            ]
        if not options:
            return self.stmt_assign(ctx, indent, pad)
        return [pad + self.pick(options)()]

    def stmt_raise(self, ctx, indent, pad):
        cond = self.cond()
        exc = self.pick(["ValueError", "RuntimeError", "IndexError"])
        msg = self.pick([f'f"bad {{{self.expr(INT, 0)}}}"', '"stop"'])
        if self.chance(30):
            self.mark("assert")
            return [f"{pad}assert {cond}, {msg}"]
        return [f"{pad}if {cond}:", f"{pad}    raise {exc}({msg})"]

    def stmt_return(self, ctx, indent, pad):
        if indent == ctx.base_indent and not ctx.final:
            # a `return` in the middle of the function body would make the rest dead code
            return self.stmt_assign(ctx, indent, pad)
        return [f"{pad}return {self.expr(ctx.ret)}"]

    def stmt_break(self, ctx, indent, pad):
        self.mark("break")
        return [f"{pad}if {self.cond(1)}:", f"{pad}    {self.pick(['break', 'continue'])}"] if self.chance(50) else [f"{pad}break"]

    def stmt_continue(self, ctx, indent, pad):
        self.mark("continue")
        return [f"{pad}continue"]

    def stmt_if(self, ctx, indent, pad):
        out = [f"{pad}if {self.cond()}:"] + self.block(ctx, indent + 4)
        if self.chance(30):
            out += [f"{pad}elif {self.cond()}:"] + self.block(ctx, indent + 4)
        if self.chance(50):
            out += [f"{pad}else:"] + self.block(ctx, indent + 4)
        return out

    def stmt_for(self, ctx, indent, pad):
        v = self.fresh("i")
        kind = self.pick(["range", "list", "items", "enumerate", "str", "zip", "map"])
        loop_ctx = ctx.inside_loop(iterating=True)
        if kind == "range":
            header, names = f"for {v} in range({self.expr(INT, 1)} % 4):", {v: Var(INT, False)}
        elif kind == "list":
            header, names = f"for {v} in {self.expr(LIST, 1)}:", {v: Var(INT, False)}
        elif kind == "items":
            k = self.fresh("k")
            header, names = f"for {k}, {v} in {self.expr(DICT, 1)}.items():", {k: Var(STR, False), v: Var(INT, False)}
        elif kind == "enumerate":
            k = self.fresh("k")
            header, names = f"for {k}, {v} in enumerate({self.expr(LIST, 1)}):", {k: Var(INT, False), v: Var(INT, False)}
        elif kind == "str":
            header, names = f"for {v} in {self.expr(STR, 1)}:", {v: Var(STR, False)}
        elif kind == "map":
            self.mark("for-map")
            header, names = f"for {v} in map(lambda q: q * 2, {self.expr(LIST, 1)}):", {v: Var(INT, False)}
        else:
            k = self.fresh("k")
            strict = ", strict=True" if self.chance(40) and self.mark("zip-strict") else ""
            header = f"for {k}, {v} in zip({self.expr(LIST, 1)}, {self.expr(STR, 1)}{strict}):"
            names = {k: Var(INT, False), v: Var(STR, False)}
        out = [pad + header] + self.block(loop_ctx, indent + 4, names=names)
        if self.chance(25) and self.mark("for-else"):
            out += [f"{pad}else:"] + self.block(ctx, indent + 4)
        return out

    def stmt_while(self, ctx, indent, pad):
        w = self.fresh("w")
        out = [f"{pad}{w} = 0", f"{pad}while {w} < {self.expr(INT, 0)} % 4{self.pick(['', ' and ' + self.cond(1)])}:", f"{pad}    {w} += 1"]
        self.bind(w, INT, writable=False)
        out += self.block(ctx.inside_loop(iterating=ctx.iterating), indent + 4)
        if self.chance(25) and self.mark("while-else"):
            out += [f"{pad}else:"] + self.block(ctx, indent + 4)
        return out

    def stmt_union(self, ctx, indent, pad):
        """A `Union[int, str]` local, refined by `isinstance` in the branches."""
        self.mark("union-isinstance")
        u = self.fresh("u")
        out = [f"{pad}{u}: Union[int, str] = {self.expr(INT, 1)} if {self.cond(1)} else {self.expr(STR, 1)}"]
        test = self.pick(["int", "str"])
        other = STR if test == "int" else INT
        out.append(f"{pad}if isinstance({u}, {test}):")
        out += self.block(ctx, indent + 4, names={u: Var(INT if test == "int" else STR, False)})
        out.append(f"{pad}else:")
        out += self.block(ctx, indent + 4, names={u: Var(other, False)})
        return out

    def stmt_unpack(self, ctx, indent, pad):
        a, r = self.fresh(), self.fresh()
        kind = self.pick(["star", "swap", "divmod", "tuple"])
        if kind == "star":
            self.mark("starred-unpack")
            out = [f"{pad}{a}, *{r} = {self.expr(LIST, 1)}"]
            self.bind(a, INT), self.bind(r, LIST)
            return out
        if kind == "swap":
            ints = self.visible(INT, writable=True)
            if len(ints) >= 2:
                p, q = ints[0], self.pick(ints[1:])
                return [f"{pad}{p}, {q} = {q}, {p}"]
        if kind == "divmod":
            out = [f"{pad}{a}, {r} = divmod({self.expr(INT, 1)}, {self.expr(INT, 0)})"]
            self.bind(a, INT), self.bind(r, INT)
            return out
        out = [f"{pad}{a}, {r} = {self.expr(STR, 1)}, {self.expr(FLOAT, 1)}"]
        self.bind(a, STR), self.bind(r, FLOAT)
        return out

    def stmt_with(self, ctx, indent, pad):
        self.mark("no_grad")
        return [f"{pad}with torch.no_grad():"] + self.block(ctx, indent + 4)

    def stmt_walrus_if(self, ctx, indent, pad):
        self.mark("walrus")
        w = self.fresh("z")
        type_ = self.pick([INT, STR, LIST])
        test = {INT: f"(({w} := {self.expr(INT)}) > {self.expr(INT, 0)})", STR: f"({w} := {self.expr(STR)})", LIST: f"len({w} := {self.expr(LIST)}) > 1"}[type_]
        out = [f"{pad}if {test}:"]
        self.bind(w, type_, writable=False)
        out += self.block(ctx, indent + 4)
        return out

    def stmt_none_return(self, ctx, indent, pad):
        """`if o is None: ...; return` refines `o` to int for the rest of the block."""
        opts = [n for n in self.visible(OPT) if n in self.frames[-1].names]
        if not opts or ctx.loop:
            return self.stmt_if(ctx, indent, pad)
        o = self.pick(opts)
        self.mark("refine-after-return")
        out = [f"{pad}if {o} is None:"] + self.block(ctx, indent + 4, count=1) + [f"{pad}    return {self.expr(ctx.ret, 1)}"]
        self.bind(o, INT, writable=False)
        return out

    def stmt_match(self, ctx, indent, pad):
        self.mark("match")
        kind = self.pick([INT, STR, OPT, LIST])
        out = [f"{pad}match {self.expr(kind, 1)}:"]
        cases = []
        if kind == INT:
            cases = [("0", {}), ("1 | 2", {}), (f"{self.fresh('m')} if {self.fresh('_')} > 2", None), ("_", {})]
            m = self.fresh("m")
            cases[2] = (f"{m} if {m} > {self.expr(INT, 0)}", {m: Var(INT, False)})
        elif kind == STR:
            cases = [('"a"', {}), ('"b1" | "ab"', {}), ("_", {})]
        elif kind == OPT:
            m = self.fresh("m")
            cases = [("None", {}), (f"int({m})", {m: Var(INT, False)})]
        else:
            a, r = self.fresh("m"), self.fresh("m")
            cases = [("[]", {}), (f"[{a}]", {a: Var(INT, False)}), (f"[{a}, *{r}]", {a: Var(INT, False), r: Var(LIST, False)}), ("_", {})]
        for pattern, names in cases[: self.draw(st.integers(1, len(cases)))]:
            out.append(f"{pad}    case {pattern}:")
            out += self.block(ctx, indent + 8, names=names)
        return out

    def stmt_nested_def(self, ctx, indent, pad):
        if self.in_nested():
            return self.stmt_assign(ctx, indent, pad)
        self.mark("nested-def")
        name = self.fresh("h")
        ret = self.pick([INT, STR, BOOL, LIST, FLOAT])
        params = [self.pick([INT, STR, LIST]) for _ in range(self.draw(st.integers(0, 2)))]
        pnames = [self.fresh("p") for _ in params]
        outer_ints = [n for n in self.visible(INT, writable=True)]
        nonlocals = [self.pick(outer_ints)] if outer_ints and self.chance(50) and self.mark("nonlocal") else []
        head = f"{pad}def {name}({', '.join(f'{p}: {t}' for p, t in zip(pnames, params))}) -> {ret}:"
        self.push({p: Var(t, True) for p, t in zip(pnames, params)}, function=True, nonlocals=nonlocals)
        body = [f"{pad}    nonlocal {n}" for n in nonlocals]
        inner_ctx = Ctx(ret=ret, loop=False, base_indent=indent + 4, final=False, iterating=False)
        for n in nonlocals:
            body.append(f"{pad}    {n} += {self.expr(INT, 0)}")
        for _ in range(self.draw(st.integers(0, 2))):
            body += self.stmt(inner_ctx, indent + 4)
        body.append(f"{pad}    return {self.expr(ret)}")
        self.pop()
        self.nested[name] = (params, ret)
        self.bind(name, "function", writable=False)
        # call it at once (later expressions may call it again)
        call = self.nested_in_lambda(1) if params == [INT] and ret in (INT, BOOL) and self.chance(50) else self.call_nested(ret, 1)
        result = self.fresh()
        result_type = LIST if call.startswith(("sorted(", "list(", "[q ")) else ret
        self.bind(result, result_type)
        return [head] + body + [f"{pad}{result} = {call}"]

    # -- the function -----------------------------------------------------------------------------------

    def source(self) -> str:
        ret = self.pick(RETURN_TYPES)
        ctx = Ctx(ret=ret, loop=False, base_indent=4, final=False)
        body: List[str] = []
        for _ in range(self.draw(st.integers(2, 6))):
            if self.lines_left <= 0:
                break
            body += self.stmt(ctx, 4)
        body.append(f"    return {self.expr(ret)}")
        params = ", ".join(f"{p}: {t}" for p, t in PARAMS)
        return "\n".join([
            "import math",
            "from typing import Dict, List, Optional, Union",
            "import torch",
            "",
            "",
            f"def f({params}) -> {ret}:",
            *body,
            "",
        ])


@dataclass(frozen=True)
class Ctx:
    ret: str
    loop: bool
    base_indent: int
    final: bool
    iterating: bool = False  # inside a `for` body: no list or dict changes size

    def inside_loop(self, iterating: bool) -> "Ctx":
        return Ctx(self.ret, True, self.base_indent, self.final, iterating)


def inputs() -> st.SearchStrategy:
    """Arguments for `f`: small values that reach both sides of most conditions."""
    return st.tuples(
        st.integers(-3, 6),
        st.sampled_from([0.0, 1.5, -2.25, 0.1, 3.0, 1e308, float("nan"), float("inf"), -0.0]),
        st.booleans(),
        st.sampled_from(["", "a", "ab", "b1", " a ", "-2", "12", "a b"]),
        st.lists(st.integers(-2, 5), max_size=4),
        st.one_of(st.none(), st.integers(-2, 4)),
        st.dictionaries(st.sampled_from(["a", "b", "k", "p"]), st.integers(-2, 5), max_size=3),
        st.lists(st.sampled_from([0.0, 1.0, -1.5, 2.5, 0.25]), min_size=3, max_size=3),
    )
