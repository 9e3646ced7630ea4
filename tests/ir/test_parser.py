"""The IR parser: print -> parse -> print is the identity, and bad text gets a located error."""
import math
import textwrap

import pytest
import torch
from hypothesis import HealthCheck, given, settings

from torchkiln.diagnostics import Error, SourceRange
from torchkiln.ir import (
    IRParseError,
    TensorType,
    TupleType,
    parse_function,
    parse_graph,
    parse_type,
    parse_value,
    print_function,
    print_graph,
    print_type,
    print_value,
    verify,
)

from .strategies import NET, attr_values, graphs, types

CLASSES = {NET.name: NET}


def ir(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


# Canonical texts: each must print back exactly as written.
ROUND_TRIP = [
    """
    graph(%x.1 : Tensor, %y.1 : Tensor, %c : bool):
      %3 : int = prim::Constant[value=1]()
      %4 : Tensor = aten::add.Tensor(%x.1, %y.1, %3)  # model.py:7:15
      %5 : Tensor = prim::If(%c)
        block0():
          -> (%4)
        block1():
          -> (%x.1)
      return (%5)
    """,
    """
    graph():
      return ()
    """,
    """
    graph(%t : (int, Tensor), %c : bool):
      %a : int, %b : Tensor = prim::TupleUnpack(%t)
      %4 : Tensor = prim::Loop(%a, %c, %b)
        block0(%i : int, %acc : Tensor):
          %7 : Tensor = aten::mul.Scalar(%acc, %i)
          %8 : bool = aten::lt.int(%i, %a)
          %9 : Tensor = prim::If(%8)
            block0():
              %10 : Tensor = aten::neg(%7)
              -> (%10)
            block1():
              prim::If(%c)
                block0():
                  prim::Print(%acc)
                  -> ()
                block1():
                  -> ()
              -> (%7)
          -> (%8, %9)
      prim::Print(%4)
      return (%4, %a)
    """,
    """
    graph(%x : Tensor):
      %1 : NoneType = prim::Constant[value=None]()
      %2 : float = prim::Constant[value=-1.5e-07]()
      %3 : str = prim::Constant[value="it's \\"quoted\\"\\n# not a comment"]()
      %4 : int[] = prim::Constant[value=[1, 2, 3]]()
      %5 : (int, (str, bool)) = prim::Constant[value=(1, ("a", True))]()
      %6 : ScalarType = prim::Constant[value=torch.bfloat16]()
      %7 : Device = prim::Constant[value=device("cuda:0")]()
      %8 : Layout = prim::Constant[value=torch.sparse_csr]()
      %9 : MemoryFormat = prim::Constant[value=torch.channels_last_3d]()
      %10 : Tensor = prim::Constant[value=tensor([[0.1, -2.0], [inf, nan]], dtype=torch.float16, shape=[2, 2])]()
      %11 : Tensor = prim::Constant[value=tensor(7, dtype=torch.uint8, shape=[])]()
      %12 : Tensor = prim::Constant[value=tensor([], dtype=torch.float32, shape=[0, 3])]()
      %13 : Scalar = prim::Constant[value=complex(0.5, -inf)]()
      %14 : float[] = prim::Constant[value=[inf, -inf, nan, -0.0, 1e+300]]()
      %15 : Any = prim::Constant[value=type(Dict(str, Float(2, *)?[]))]()
      %16 : Tensor = test::attrs[a=(), b=(1,), c=[[], [()]], d=False, e=-12345678901234567890, f=torch.preserve_format]()
      return (%16)
    """,
    """
    graph(%self : __torch__.Net, %x : Float(2, *, device=cpu)):
      %2 : __torch__.Net? = prim::unchecked_cast(%self)
      %3 : Tensor = prim::CallMethod[name="forward"](%self, %x)  # C:\\work dir\\model.py:12:8
      %4 : Future(Tensor) = prim::fork[name="__torch__.helper"](%3)  # <string>:1:0
      %5 : Tensor = prim::wait(%4)
      %6 : NamedTuple __torch__.P(x: int, y: Tensor?) = prim::TupleConstruct(%5)
      %7 : Dict(str, Union(int, str, NoneType)) = prim::DictConstruct()
      %8 : Long(...)[] = prim::ListConstruct()
      %9 : Tensor() = prim::Uninitialized()
      return (%5)
    """,
    """
    graph(%a : int, %b : Generator?, %c : Scalar, %d : Any, %e : Dict(int, Tensor[])[], %f : ()):
      prim::If(%a)
        block0():
          -> ()
        block1():
          -> ()
      return ()
    """,
]


@pytest.mark.parametrize("text", ROUND_TRIP, ids=range(len(ROUND_TRIP)))
def test_round_trip(text):
    text = ir(text)
    g = parse_graph(text, classes=CLASSES)
    assert print_graph(g) == text
    assert print_graph(parse_graph(print_graph(g), classes=CLASSES)) == text


def test_parsed_graph_is_well_formed():
    g = parse_graph(ir(ROUND_TRIP[2]))
    verify(g)
    loop = g.nodes[1]
    assert loop.kind == "prim::Loop"
    assert [p.name for p in loop.blocks[0].params] == ["i", "acc"]
    assert loop.outputs[0].name is None  # numbers are not hints
    assert g.nodes[0].outputs[1].name == "b"


def test_locations_are_parsed():
    g = parse_graph(ir(ROUND_TRIP[4]), classes=CLASSES)
    assert g.nodes[1].loc == SourceRange("C:\\work dir\\model.py", 12, 8)
    assert g.nodes[2].loc == SourceRange("<string>", 1, 0)
    assert g.nodes[0].loc is None


def test_layout_is_free_and_comments_are_ignored():
    text = """
    # a leading comment
    graph(%x : Tensor,
          %y : Tensor):   # header comment
        %1 : Tensor = aten::mul.Tensor(%x,
                                       %y)  # f.py:1:2
        return (%1)       # trailing
    """
    g = parse_graph(text)
    assert print_graph(g) == ir(
        """
        graph(%x : Tensor, %y : Tensor):
          %2 : Tensor = aten::mul.Tensor(%x, %y)  # f.py:1:2
          return (%2)
        """
    )


def test_handwritten_numbers_are_renumbered():
    g = parse_graph("graph(%x : int):\n  %17 : int = aten::neg.int(%x)\n  return (%17)\n")
    assert print_graph(g) == "graph(%x : int):\n  %1 : int = aten::neg.int(%x)\n  return (%1)\n"


def test_function_round_trip():
    text = ir(
        """
        def forward(self : __torch__.Net, x : Tensor, n : int = 1, *, k : float = 2.0, s : str? = None) -> Tensor  # m.py:4:4
        graph(%self : __torch__.Net, %x : Tensor, %n : int, %k : float, %s : str?):
          return (%x)
        """
    )
    fn = parse_function(text, classes=CLASSES)
    assert fn.name == "forward"
    assert [a.name for a in fn.args] == ["self", "x", "n", "k", "s"]
    assert fn.args[3].kwarg_only and not fn.args[2].kwarg_only
    assert fn.args[2].has_default and fn.args[2].default == 1
    assert fn.loc == SourceRange("m.py", 4, 4)
    assert print_function(fn) == text


def test_positional_only_arguments_round_trip():
    text = ir(
        """
        def forward(self : __torch__.Net, x : Tensor, /, n : int = 1, *, k : float = 2.0) -> Tensor
        graph(%self : __torch__.Net, %x : Tensor, %n : int, %k : float):
          return (%x)
        """
    )
    fn = parse_function(text, classes=CLASSES)
    assert [(a.positional_only, a.kwarg_only) for a in fn.args] == [(True, False), (True, False), (False, False), (False, True)]
    assert print_function(fn) == text


# -- types --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Tensor", "int", "float", "bool", "str", "NoneType", "Device", "ScalarType", "Layout", "MemoryFormat",
        "Scalar", "Any", "Generator", "int[]", "int[][]", "int?[]", "int[]?", "(Tensor, int)", "(int)", "()",
        "((), (int))", "Dict(str, Tensor)", "Union(int, str)", "Future(Tensor?)", "__torch__.Net", "__torch__.Net[]",
        "NamedTuple __torch__.P(x: int, y: (int, str))", "NamedTuple __torch__.f.<locals>.P()",
        "Float(...)", "Float()", "Double(1, *, 3)", "Tensor(2)", "Tensor(..., device=cpu)", "BFloat16(device=cuda:1)",
        "Float8_e5m2(...)", "QUInt8(...)", "Bits8(...)", "UInt4(3)",
    ],
)
def test_type_round_trip(text):
    assert print_type(parse_type(text, classes=CLASSES)) == text


@pytest.mark.parametrize(
    "python, canonical",
    [
        ("List[int]", "int[]"),
        ("Optional[List[Tensor]]", "Tensor[]?"),
        ("Tuple[int, str]", "(int, str)"),
        ("Dict[str, Optional[int]]", "Dict(str, int?)"),
        ("Union[int, None]", "Union(int, NoneType)"),
        ("Future[int]", "Future(int)"),
        ("Tuple[(int, str)]", "((int, str))"),
        ("(int, str,)", "(int, str)"),
    ],
)
def test_python_type_spellings(python, canonical):
    assert print_type(parse_type(python)) == canonical


def test_refined_tensor_type_fields():
    t = parse_type("Half(2, *, device=cuda:0)")
    assert isinstance(t, TensorType)
    assert (t.dtype, t.sizes, t.device) == (torch.float16, (2, None), torch.device("cuda:0"))
    assert parse_type("Float(...)").sizes is None
    assert parse_type("Float()").sizes == ()


def test_class_types_resolve_by_name():
    assert parse_type("__torch__.Net[]", classes=CLASSES).elem is NET
    with pytest.raises(IRParseError, match=r"unknown type '__torch__.Net' \(class and interface types must be passed in classes=\)"):
        parse_type("__torch__.Net")
    with pytest.raises(IRParseError, match="unknown type '__torch__.Other'"):
        parse_graph("graph(%x : __torch__.Other):\n  return ()\n", classes=CLASSES)


def test_interface_types_print_by_name_and_round_trip():
    from torchkiln.ir import Argument, InterfaceType
    from torchkiln.ir.types import ANY, FLOAT, InterfaceMethod, ListType, OptionalType

    shape = InterfaceType("__torch__.m.Shape", is_module=False)
    shape.methods["area"] = InterfaceMethod("area", [Argument("self", shape)], FLOAT)
    named = {shape.name: shape, NET.name: NET}
    text = textwrap.dedent(
        """\
        graph(%s : __torch__.m.Shape, %all : __torch__.m.Shape[], %maybe : __torch__.m.Shape?):
          %3 : float = prim::CallMethod[name="area"](%s)
          return (%3)
        """
    )
    g = parse_graph(text, classes=named)
    assert g.inputs[0].type is shape and g.inputs[1].type == ListType(shape) and g.inputs[2].type == OptionalType(shape)
    assert print_graph(g) == text
    verify(g)
    assert print_type(parse_type("Dict(str, __torch__.m.Shape)", classes=named)) == "Dict(str, __torch__.m.Shape)"
    # nominal, a refinement of Any: Any does not flow into it, it flows into Any
    assert shape != ANY and not ANY.is_subtype_of(shape) and shape.is_subtype_of(ANY)
    assert not NET.is_subtype_of(shape)  # __torch__.Net has no method area
    with pytest.raises(IRParseError, match="unknown type '__torch__.m.Shape'"):
        parse_type("__torch__.m.Shape", classes=CLASSES)


def test_named_tuple_fields():
    t = parse_type("NamedTuple __torch__.P(x: int, y: Tensor)")
    assert isinstance(t, TupleType) and t.name == "__torch__.P" and t.fields == ("x", "y")


def test_names_the_lexer_reads_as_numbers():
    # `inf` and `nan` are identifiers in Python: fields, arguments and attributes may be called so
    # (hypothesis found a NamedTuple with a field `nan` that printed but did not parse back).
    t = parse_type("NamedTuple __torch__.P(nan: int, inf: float)")
    assert isinstance(t, TupleType) and t.fields == ("nan", "inf")
    assert print_type(t) == "NamedTuple __torch__.P(nan: int, inf: float)"
    fn = parse_function(
        textwrap.dedent(
            """\
            def f(nan : int, inf : float = inf) -> float
            graph(%nan : int, %inf : float):
              %2 : float = prim::Constant[nan=1, value=nan]()
              return (%2)
            """
        )
    )
    assert [a.name for a in fn.args] == ["nan", "inf"]
    assert math.isinf(fn.args[1].default)
    node = fn.graph.nodes[0]
    assert node.attrs["nan"] == 1 and math.isnan(node.attrs["value"])


# -- attribute values and tensors ------------------------------------------------------

DTYPES = [
    torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.float8_e4m3fn, torch.float8_e5m2,
    torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8, torch.uint16, torch.uint32, torch.uint64,
    torch.bool, torch.complex64, torch.complex128,
]


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.is_floating_point or a.dtype.is_complex:
        a, b = torch.view_as_real(a.to(torch.complex128)), torch.view_as_real(b.to(torch.complex128))
        both_nan = a.isnan() & b.isnan()
        return bool(((a == b) & (a.signbit() == b.signbit()) | both_nan).all())
    return torch.equal(a, b)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_tensor_literals_are_exact(dtype):
    gen = torch.Generator().manual_seed(0)
    if dtype == torch.bool:
        t = torch.rand(3, 4, generator=gen) > 0.5
    elif dtype.is_floating_point or dtype.is_complex:
        base = torch.randn(3, 4, generator=gen, dtype=torch.float64) * 10.0 ** torch.randint(-8, 8, (3, 4), generator=gen)
        base[0, :4] = torch.tensor([math.inf, -math.inf, math.nan, -0.0], dtype=torch.float64)
        t = (base + 1j * base.flip(0) if dtype.is_complex else base).to(dtype)
    else:
        info = torch.iinfo(dtype)
        rest = torch.randint(0, 100, (10,), generator=gen).tolist()
        t = torch.tensor([info.min, info.max] + rest, dtype=dtype).reshape(3, 4)
    back = parse_value(print_value(t))
    assert _same(back, t), (print_value(t), back)
    assert print_value(back) == print_value(t)


def test_tensor_literal_keywords():
    t = parse_value("tensor([1, 2], shape=[2], dtype=torch.float64, requires_grad=True)")
    assert t.dtype == torch.float64 and t.requires_grad and t.tolist() == [1.0, 2.0]
    t = parse_value('tensor([[1.5]], dtype=torch.float32, shape=[1, 1], device="cpu")')
    assert t.shape == (1, 1)


@settings(max_examples=150, deadline=None)
@given(attr_values())
def test_attribute_values_round_trip(value):
    text = print_value(value)
    assert print_value(parse_value(text, classes=CLASSES)) == text


@settings(max_examples=150, deadline=None)
@given(types())
def test_types_round_trip(t):
    text = print_type(t)
    back = parse_type(text, classes=CLASSES)
    assert back == t
    assert print_type(back) == text


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(graphs())
def test_generated_graphs_round_trip(g):
    verify(g)
    text = print_graph(g)
    back = parse_graph(text, classes=CLASSES)
    verify(back)
    assert print_graph(back) == text


# -- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, message, line, col",
    [
        ("grph():\n  return ()\n", "expected 'graph' at the start of a graph, found 'grph'", 1, 1),
        ("graph(%x : Tensor):\n  %1 : Tensor = aten::relu(%y)\n  return (%1)\n", "%y is not defined before this use", 2, 28),
        ("graph(%x : Tensor):\n  %x : Tensor = aten::relu(%x)\n  return (%x)\n", "%x is defined twice (first on line 1)", 2, 3),
        ("graph(%x : Tensor):\n  %1 : Tensor = aten::relu(%x = 1)\n  return (%1)\n", "expected ')' to close aten::relu's inputs, found '='", 2, 31),
        ("graph(%x : Tensr):\n  return ()\n", "unknown type 'Tensr' (class and interface types must be passed in classes=)", 1, 12),
        ("graph(%x : Tensor):\n  %1 : Tensor = relu(%x)\n  return (%1)\n", "expected an op kind such as aten::add.Tensor, found 'relu'", 2, 17),
        ("graph(%x : Tensor):\n  return (%x)\n  %1 : int = prim::Foo()\n", "unexpected '%1' after the end", 3, 3),
        ("graph(%x : Tensor):\n  %1 : Tensor = aten::relu(%x)\n", "expected a node or 'return', found the end of the text", 3, 1),
        ("graph(%c : bool):\n  prim::If(%c)\n    block0():\n      return ()\n  return ()\n", "a nested block ends with '->', not 'return'", 4, 7),
        ("graph(%c : bool):\n  -> ()\n", "a graph ends with 'return', not '->'", 2, 3),
        ("graph(%c : bool):\n  prim::If(%c)\n    block1():\n      -> ()\n  return ()\n", "expected block0 here, found block1", 3, 5),
        ("graph():\n  %1 : int = prim::Constant[value=@]()\n  return ()\n", "unexpected character '@'", 2, 35),
        ("graph():\n  %1 : int = prim::Constant[value=(1)]()\n  return ()\n", "write a one-element tuple as (x,)", 2, 35),
        ("graph():\n  %1 : int = prim::Constant[value=torch.relu]()\n  return ()\n", "torch.relu is not a torch dtype, layout or memory format", 2, 35),
        ("graph():\n  %1 : str = prim::Constant[value=\"a\\q\"]()\n  return ()\n", "bad escape in string: \\q", 2, 35),
        ("graph():\n  %1 : int = prim::Constant[value=foo]()\n  return ()\n", "unknown attribute value 'foo'", 2, 35),
        ("graph():\n  %1 : int = prim::Constant[value=\"abc]()\n  return ()\n", "unexpected character '\"'", 2, 35),
        ("graph():\n  %1 : Float(2, ...) = prim::Foo()\n  return ()\n", "'...' (rank unknown) cannot follow sizes", 2, 17),
        ("graph():\n  %1 : Dict(int) = prim::Foo()\n  return ()\n", "Dict takes 2 type argument(s), got 1", 2, 16),
        ("graph():\n  %1 : Tensor = prim::Constant[value=tensor([1.0, 2.0], dtype=torch.float32, shape=[3])]()\n  return ()\n",
         "tensor literal has 2 elements but shape [3] holds 3", 2, 38),
        ("graph():\n  %1 : Tensor = prim::Constant[value=tensor([1.5], dtype=torch.int32, shape=[1])]()\n  return ()\n",
         "cannot build this tensor literal: a torch.int32 tensor holds integers", 2, 38),
        ("graph():\n  %1 : Tensor = prim::Constant[value=tensor([1], shape=[1])]()\n  return ()\n",
         "a tensor literal needs dtype=torch.<dtype>", 2, 38),
    ],
)
def test_parse_errors(text, message, line, col):
    with pytest.raises(IRParseError) as info:
        parse_graph(text)
    err = info.value
    assert err.what == message
    assert (err.line, err.col) == (line, col)
    assert str(err).startswith(f"<ir>:{line}:{col}: {message}")
    assert isinstance(err, Error)


def test_parse_error_shows_line_and_caret():
    with pytest.raises(IRParseError) as info:
        parse_graph("graph(%x : Tensor):\n  %1 : Tensor = aten::relu(%y)\n  return (%1)\n", filename="t.ir")
    assert str(info.value) == (
        "t.ir:2:28: %y is not defined before this use\n"
        "      %1 : Tensor = aten::relu(%y)\n"
        "                               ^"
    )


def test_parameterless_types_are_interned():
    # Note [Interned types]: parsing, constructing, copying or pickling `int` gives the one object,
    # so equality and hashing by identity agree with equality by name.
    import copy
    import pickle

    from torchkiln.ir import types as T

    for t in (T.INT, T.FLOAT, T.BOOL, T.STR, T.NONE, T.DEVICE, T.SCALAR_TYPE, T.SCALAR, T.ANY):
        assert parse_type(str(t)) is t
        assert type(t)(str(t)) is t
        assert copy.copy(t) is t and copy.deepcopy(t) is t
        assert pickle.loads(pickle.dumps(t)) is t
    assert parse_type("int[]").elem is T.INT
    assert len({T.INT, parse_type("int"), T.FLOAT}) == 2
    # Nominal subclasses stay one object per declaration.
    a, b = T.InterfaceType("__torch__.m.A", False), T.InterfaceType("__torch__.m.A", False)
    assert a is not b and a != b and a == a
