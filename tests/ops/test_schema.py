"""Schema parsing and printing: every dispatcher schema round-trips."""
import ast
import re

import pytest
import torch

from torchkiln.ir.types import BOOL, FLOAT, INT, NONE, SCALAR, TENSOR, DictType, ListType, OptionalType, TupleType
from torchkiln.ops.schema import (
    AliasInfo,
    SchemaArg,
    SchemaParseError,
    TypeVarType,
    UnsupportedType,
    _Parser,
    from_torch_schema,
    parse_schema,
    parse_type,
    type_from_torch,
)

_DISPATCHER = set(torch._C._dispatch_get_all_op_names())
_ALL = torch._C._jit_get_all_schemas()


def _qualified(s) -> str:
    return f"{s.name}.{s.overload_name}" if s.overload_name else s.name


_DISPATCHER_SCHEMAS = [s for s in _ALL if _qualified(s) in _DISPATCHER]


def _expand_fixed_list_defaults(text: str) -> str:
    """`int[2] stride=1` is printed in its canonical form `int[2] stride=[1, 1]`."""

    def repl(m):
        kind, n, opt, name, value = m.groups()
        return f"{kind}[{n}]{opt} {name}=[{', '.join([value] * int(n))}]"

    return re.sub(r"\b(int|float|bool)\[(\d+)\](\??) (\w+)=(-?[0-9][\w.]*|True|False)(?=[,)])", repl, text)


def _expected_text(s) -> str:
    text = re.sub(r"\bSym(Int|Float|Bool)\b", lambda m: m.group(1).lower(), str(s))
    text = re.sub(r"\b(float\??) (\w+)=(-?\d+)(?=[,)])", r"\1 \2=\3.", text)  # float defaults print as floats
    return _expand_fixed_list_defaults(text)


def test_every_dispatcher_schema_prints_back_exactly():
    assert len(_DISPATCHER_SCHEMAS) > 3000
    bad = [(str(s), str(parse_schema(str(s)))) for s in _DISPATCHER_SCHEMAS if str(parse_schema(str(s))) != _expected_text(s)]
    assert bad == []


def test_every_jit_schema_reparses_to_the_same_schema():
    for s in _ALL:
        parsed = parse_schema(str(s))
        assert parse_schema(str(parsed)) == parsed, str(s)
        assert parsed.qualified_name == _qualified(s)


def test_types_agree_with_torch_types():
    for s in _DISPATCHER_SCHEMAS:
        ours = from_torch_schema(s)
        assert len(ours.arguments) == len(s.arguments)
        for a, t in zip(ours.arguments + ours.returns, list(s.arguments) + list(s.returns)):
            assert a.type == type_from_torch(t.real_type), (str(s), a.name)
            assert a.kwarg_only == t.kwarg_only
            assert a.N == t.N
            assert a.has_default == t.has_default_value()


def test_mutability_and_aliases_agree_with_torch():
    for s in _DISPATCHER_SCHEMAS:
        ours = from_torch_schema(s)
        assert ours.is_mutable == s.is_mutable, str(s)
        for a, t in zip(ours.arguments, s.arguments):
            assert a.is_write == t.is_write, (str(s), a.name)


def test_defaults_are_python_values():
    conv = from_torch_schema(torch.ops.aten.conv2d.default._schema)
    assert [a.default for a in conv.arguments[2:]] == [None, [1, 1], [0, 0], [1, 1], 1]
    avg = parse_schema("aten::avg_pool2d(Tensor self, int[2] kernel_size, int[2] stride=[], int[2] padding=0) -> Tensor")
    assert avg.arguments[2].default == [] and avg.arguments[3].default == [0, 0]
    tri = from_torch_schema(torch.ops.aten.tril_indices.default._schema)
    assert tri.arguments[3].default is torch.int64
    contig = from_torch_schema(torch.ops.aten.contiguous.default._schema)
    assert contig.arguments[1].default is torch.contiguous_format
    ln = from_torch_schema(torch.ops.aten.layer_norm.default._schema)
    assert ln.arguments[4].default == 1e-05 and isinstance(ln.arguments[4].default, float)
    strip = parse_schema('aten::strip(str self, str chars=" \\n\\t\\f\\v") -> str')
    assert strip.arguments[1].default == " \n\t\f\v"
    assert str(strip) == 'aten::strip(str self, str chars=" \\n\\t\\f\\v") -> str'


@pytest.mark.parametrize(
    "literal", ['"plain"', "'say \"hi\"'", '"it\'s"', '""', '"a, b"', '"\\n\\t\\""', '"tab\there"', '"\u00e9\u2192"', '"\u00a0"']
)
def test_string_defaults_read_as_python_literals(literal):
    assert parse_schema(f"foo::f(str s={literal}) -> ()").arguments[0].default == ast.literal_eval(literal)


def test_parse_basic_forms():
    s = parse_schema("prim::add.int(int a, int b) -> int")
    assert (s.qualified_name, s.base_name, s.overload, s.namespace) == ("prim::add.int", "prim::add", "int", "prim")
    assert [a.type for a in s.arguments] == [INT, INT] and s.returns[0].type == INT
    relu = parse_schema("aten::relu(Tensor self) -> Tensor")
    assert relu.qualified_name == "aten::relu" and relu.overload == ""
    add_ = parse_schema("aten::add_.Tensor(Tensor(a!) self, Tensor other, *, Scalar alpha=1) -> Tensor(a!)")
    assert add_.arguments[0].alias == AliasInfo(("a",), is_write=True) and add_.is_mutable
    assert add_.arguments[2].kwarg_only and add_.arguments[2].default == 1
    opt = parse_schema("foo::bar(Scalar? x=None, float[] f=[1.5, 2.]) -> ()")
    assert opt.arguments[0].type == OptionalType(SCALAR) and opt.arguments[0].has_default
    assert opt.arguments[1].default == [1.5, 2.0] and opt.returns == []


def test_varargs_varrets_and_type_vars():
    s = parse_schema("prim::Loop(int max_trip_count, bool start_condition, ...) -> ...")
    assert s.is_vararg and s.is_varret and len(s.arguments) == 2
    assert str(s) == "prim::Loop(int max_trip_count, bool start_condition, ...) -> ..."
    app = parse_schema("aten::append.t(t[](a!) self, t(c -> *) el) -> t[](a!)")
    assert app.arguments[0].type == ListType(TypeVarType("t")) and app.is_mutable
    assert app.arguments[1].alias == AliasInfo(("c",), False, ("*",))
    assert str(app) == "aten::append.t(t[](a!) self, t(c -> *) el) -> t[](a!)"
    items = parse_schema("aten::items.str(Dict(str, t) self) -> ((str, t)[])")
    assert items.arguments[0].type == DictType(parse_type("str"), TypeVarType("t"))
    assert items.returns[0].type == ListType(TupleType([parse_type("str"), TypeVarType("t")]))
    assert str(items) == "aten::items.str(Dict(str, t) self) -> ((str, t)[])"
    kv = parse_schema("foo::kv(Dict(K, V) d) -> V")
    assert kv.returns[0].type == TypeVarType("V") and kv.has_type_vars


def test_list_alias_positions():
    foreach = parse_schema("aten::_foreach_add_.List(Tensor(a!)[] self, Tensor[] other, *, Scalar alpha=1) -> ()")
    assert foreach.arguments[0].alias.on_element and foreach.is_mutable
    assert str(foreach).startswith("aten::_foreach_add_.List(Tensor(a!)[] self")
    split = parse_schema("aten::split.Tensor(Tensor(a -> *) self, SymInt split_size, int dim=0) -> Tensor(a)[]")
    assert split.returns[0].alias.on_element and not split.is_mutable
    assert str(split) == "aten::split.Tensor(Tensor(a -> *) self, int split_size, int dim=0) -> Tensor(a)[]"
    index = parse_schema("aten::index.Tensor(Tensor self, Tensor?[] indices) -> Tensor")
    assert index.arguments[1].type == ListType(OptionalType(TENSOR))


def test_named_returns_and_tuples():
    s = parse_schema("aten::max.dim(Tensor self, int dim, bool keepdim=False) -> (Tensor values, Tensor indices)")
    assert [r.name for r in s.returns] == ["values", "indices"]
    assert str(s) == "aten::max.dim(Tensor self, int dim, bool keepdim=False) -> (Tensor values, Tensor indices)"
    single = parse_schema("_test::get_first(str[][] _0) -> str _0")
    assert single.returns[0].name == "_0" and str(single) == "_test::get_first(str[][] _0) -> str _0"


def test_unsupported_types_are_marked():
    s = parse_schema("aten::set_.source_Storage(Tensor(a!) self, Storage source) -> Tensor(a!)")
    assert s.arguments[1].type == UnsupportedType("Storage") and not s.supported
    c = parse_schema("aten::add.complex(complex a, complex b) -> complex")
    assert not c.supported
    custom = parse_schema("foo::f(__torch__.torch.classes.rnn.CellParamsBase p) -> ()")
    assert not custom.supported
    assert parse_schema("aten::relu(Tensor self) -> Tensor").supported


def test_sym_types_read_as_plain_types():
    s = parse_schema("aten::view(Tensor(a) self, SymInt[] size) -> Tensor(a)")
    assert s.arguments[1].type == ListType(INT)
    b = parse_schema("aten::sym_is_contiguous(Tensor self, MemoryFormat memory_format=0) -> SymBool")
    assert b.returns[0].type == BOOL and b.arguments[1].default is torch.contiguous_format
    assert parse_type("SymFloat") == FLOAT and parse_type("None") == NONE


@pytest.mark.parametrize(
    "text",
    [
        "aten::add(Tensor self",
        "aten::add(Tensor self) Tensor",
        "add(Tensor self) -> Tensor",
        "aten::add(Tensor self, Frob x) -> Tensor",
        "aten::add(Tensor self, int x=) -> Tensor",
        "aten::add(Tensor self) -> Tensor extra stuff",
    ],
)
def test_bad_schemas_raise(text):
    with pytest.raises(SchemaParseError) as err:
        parse_schema(text)
    assert "schema" in str(err.value)


def _outcome(parse, text):
    try:
        return parse(text)
    except Exception as e:  # compared by kind and message
        return (type(e), str(e))


def test_pieces_read_as_the_whole_text_reads():
    """Note [Parsing by pieces]: cached pieces give what `_Parser` gives for the whole text."""
    for s in _ALL:
        assert parse_schema(str(s)) == _Parser(str(s)).schema(), str(s)


@pytest.mark.parametrize(
    "text",
    [
        "aten::conv2d(Tensor input, Tensor weight, Tensor? bias=None, SymInt[2] stride=[1, 1]) -> Tensor",
        "foo::f(Dict(str, Tensor(a)[]) d, (int, int) p, int[] x=[1, [2, 3]], int y=[1]) -> ((str, t)[])",
        'foo::f(str a=", ", str b=") -> ", str c="x\\", int d) -> Tensor',
        'foo::f(str a="\\N", int b=#) -> int',
        'foo::f(Device d="nope", int b=#) -> int',
        "foo::f(Tensor! a, Tensor(b -> *) b) -> (Tensor!, Tensor(b)[], ...)",
        "foo::f(Tensor self, ...) -> (int, int)[]",
        "foo::f(Tensor(a)?[] x, t[](a!)? y, int[2][]? z, Tensor(a!)[] w) -> Tensor(a)[]?",
        "foo::f(int x=-1, float y=1e-05, float z=.5, float w=1, int[2] v=-1, int u=1.5) -> ()",
        "foo::f(str a=\"it's\", str b='say \"hi\"', str c=\"\", str d=\"\\u00e9\", str e=\"tab\tin\") -> ()",
        "foo::f(Tensor self) ->  (Tensor)",
        "foo::f(Tensor self) -> (Tensor) ",
        "foo::f(int  x , *,float y) -> Tensor  out",
        "foo::f(int[2] x) -> int[2]",
        "foo::f(Tensor self) -> Tensor=1",
        "foo::f(Tensor self,) -> Tensor",
        "foo::f(Tensor s\u00e9lf) -> Tensor",
    ],
)
def test_pieces_and_whole_text_agree_on_odd_texts(text):
    assert _outcome(parse_schema, text) == _outcome(lambda t: _Parser(t).schema(), text)


def test_parses_share_no_mutable_state():
    """Pieces are cached, results are not: a parsed Schema may be changed without changing another parse."""
    texts = [str(s) for s in _DISPATCHER_SCHEMAS[::40]]
    texts += [str(torch.ops.aten.conv2d.default._schema), str(torch.ops.aten.conv2d.padding._schema)]
    first = [parse_schema(t) for t in texts]
    second = [parse_schema(t) for t in texts]
    assert second == first
    printed = [str(s) for s in second]
    for s in first:
        for a in s.arguments + s.returns:
            if isinstance(a.default, list):
                a.default.append(99)
            a.name += "_changed"
            a.kwarg_only = not a.kwarg_only
        s.arguments.append(SchemaArg("extra", TENSOR))
        s.returns.clear()
    assert [str(s) for s in second] == printed
    assert [str(parse_schema(t)) for t in texts] == printed
    conv, conv_padding = second[-2:]
    assert conv.arguments[3].default == [1, 1] and conv_padding.arguments[3].default == [1, 1]
    assert conv.arguments[3].default is not parse_schema(texts[-2]).arguments[3].default
