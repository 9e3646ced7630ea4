"""Golden tests of the IR text form (printer side)."""
import math
import textwrap

import pytest
import torch

from torchkiln.diagnostics import SourceRange
from torchkiln.ir import (
    ANY,
    BOOL,
    DEVICE,
    FLOAT,
    INT,
    NONE,
    SCALAR,
    STR,
    TENSOR,
    Argument,
    Builder,
    ClassType,
    DictType,
    Function,
    FutureType,
    Graph,
    ListType,
    OptionalType,
    TensorType,
    TupleType,
    UnionType,
    print_function,
    print_graph,
    print_node,
    print_type,
    print_value,
)


def golden(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def build_example() -> Graph:
    g = Graph()
    x = g.add_input(TENSOR, "x.1")
    y = g.add_input(TENSOR, "y.1")
    c = g.add_input(BOOL, "c")
    b = Builder(g.block)
    one = b.constant(1, INT)
    s = b.op("aten::add.Tensor", [x, y, one], [TENSOR], loc=SourceRange("model.py", 7, 15)).output
    if_node = b.op("prim::If", [c], [TENSOR], n_blocks=2)
    if_node.blocks[0].add_return(s)
    if_node.blocks[1].add_return(x)
    g.add_output(if_node.output)
    return g


def test_example_golden():
    assert print_graph(build_example()) == golden(
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
        """
    )


def test_str_of_graph_is_print_graph():
    g = build_example()
    assert str(g) == print_graph(g)


def test_multiple_and_zero_outputs_and_loop_golden():
    g = Graph()
    t = g.add_input(TupleType([INT, TENSOR]), "t")
    b = Builder(g.block)
    unpack = b.op("prim::TupleUnpack", [t], [INT, TENSOR])
    unpack.outputs[0].name = "a"
    unpack.outputs[1].name = "b"
    a, tb = unpack.outputs
    true = b.constant(True, BOOL)
    loop = b.op("prim::Loop", [a, true, tb], [TENSOR], n_blocks=1)
    body = loop.blocks[0]
    i = body.add_param(INT, "i")
    acc = body.add_param(TENSOR, "acc")
    with b.at_block(body):
        nxt = b.op("aten::mul.Scalar", [acc, i], [TENSOR]).output
        body.add_return(true)
        body.add_return(nxt)
    b.op("prim::Print", [loop.output], [])
    g.add_output(loop.output)
    assert print_graph(g) == golden(
        """
        graph(%t : (int, Tensor)):
          %a : int, %b : Tensor = prim::TupleUnpack(%t)
          %3 : bool = prim::Constant[value=True]()
          %4 : Tensor = prim::Loop(%a, %3, %b)
            block0(%i : int, %acc : Tensor):
              %7 : Tensor = aten::mul.Scalar(%acc, %i)
              -> (%3, %7)
          prim::Print(%4)
          return (%4)
        """
    )


# -- names ----------------------------------------------------------------------


def test_names_collide_into_suffixes():
    g = Graph()
    x0 = g.add_input(TENSOR, "x")
    x1 = g.add_input(TENSOR, "x")
    b = Builder(g.block)
    n = b.op("aten::add.Tensor", [x0, x1], [TENSOR]).output
    n.name = "x.1"  # collides with the suffix the second x took
    m = b.op("aten::neg", [n], [TENSOR]).output
    m.name = "x"
    g.add_output(m)
    assert print_graph(g) == golden(
        """
        graph(%x : Tensor, %x.1 : Tensor):
          %x.1.1 : Tensor = aten::add.Tensor(%x, %x.1)
          %x.2 : Tensor = aten::neg(%x.1.1)
          return (%x.2)
        """
    )


def test_digit_hints_and_odd_characters():
    g = Graph()
    a = g.add_input(TENSOR, "7")  # digits belong to the counter: treated as no hint
    b = g.add_input(TENSOR, "self linear")  # sanitised
    c = g.add_input(TENSOR, "")
    g.add_output(a)
    g.add_output(b)
    g.add_output(c)
    assert print_graph(g).splitlines()[0] == "graph(%0 : Tensor, %self_linear : Tensor, %2 : Tensor):"


def test_names_do_not_depend_on_value_ids():
    """Two graphs built in different orders but with the same structure print the same."""
    g1 = Graph()
    x = g1.add_input(TENSOR, "x")
    b1 = Builder(g1.block)
    b1.op("aten::relu", [x], [TENSOR])
    g1.add_output(g1.nodes[0].output)

    stray = [Graph().add_input(INT) for _ in range(5)]  # advance the global id counter
    assert stray
    g2 = g1.copy()
    assert print_graph(g1) == print_graph(g2)


# -- attribute values -------------------------------------------------------------


@pytest.mark.parametrize(
    "value, text",
    [
        (None, "None"),
        (True, "True"),
        (False, "False"),
        (0, "0"),
        (-3, "-3"),
        (2**70, str(2**70)),
        (1.0, "1.0"),
        (-0.0, "-0.0"),
        (1e-05, "1e-05"),
        (1e20, "1e+20"),
        (0.1, "0.1"),
        (math.inf, "inf"),
        (-math.inf, "-inf"),
        (math.nan, "nan"),
        (complex(1, -2), "complex(1.0, -2.0)"),
        ("", '""'),
        ('a"b\\c\n\t\r', '"a\\"b\\\\c\\n\\t\\r"'),
        ("\x00\x7f\u200b", '"\\x00\\x7f\\u200b"'),
        ("héllo # not a comment", '"héllo # not a comment"'),
        ([], "[]"),
        ([1, 2], "[1, 2]"),
        ((), "()"),
        ((1,), "(1,)"),
        ((1, "a", [None]), '(1, "a", [None])'),
        (torch.float32, "torch.float32"),
        (torch.bfloat16, "torch.bfloat16"),
        (torch.strided, "torch.strided"),
        (torch.sparse_coo, "torch.sparse_coo"),
        (torch.channels_last, "torch.channels_last"),
        (torch.contiguous_format, "torch.contiguous_format"),
        (torch.device("cpu"), 'device("cpu")'),
        (torch.device("cuda", 1), 'device("cuda:1")'),
        (ListType(INT), "type(int[])"),
        (OptionalType(TensorType(torch.float32, (2, None))), "type(Float(2, *)?)"),
    ],
)
def test_attribute_value_text(value, text):
    assert print_value(value) == text


@pytest.mark.parametrize(
    "tensor, text",
    [
        (torch.tensor([1.0, 2.0]), "tensor([1.0, 2.0], dtype=torch.float32, shape=[2])"),
        (torch.tensor([0.1, 1 / 3]), "tensor([0.1, 0.33333334], dtype=torch.float32, shape=[2])"),
        (torch.tensor([0.1], dtype=torch.float64), "tensor([0.1], dtype=torch.float64, shape=[1])"),
        (torch.tensor([0.1], dtype=torch.float16), "tensor([0.1], dtype=torch.float16, shape=[1])"),
        (torch.tensor([0.1], dtype=torch.bfloat16), "tensor([0.1], dtype=torch.bfloat16, shape=[1])"),
        (torch.tensor([[1, 2], [3, 4]]), "tensor([[1, 2], [3, 4]], dtype=torch.int64, shape=[2, 2])"),
        (torch.tensor(3.5), "tensor(3.5, dtype=torch.float32, shape=[])"),
        (torch.tensor([True, False]), "tensor([True, False], dtype=torch.bool, shape=[2])"),
        (torch.tensor([1 + 2j]), "tensor([complex(1.0, 2.0)], dtype=torch.complex64, shape=[1])"),
        (torch.tensor([-0.0, math.inf, -math.inf, math.nan]), "tensor([-0.0, inf, -inf, nan], dtype=torch.float32, shape=[4])"),
        (torch.zeros(2, 0), "tensor([[], []], dtype=torch.float32, shape=[2, 0])"),
        (torch.zeros(0, 3, dtype=torch.int8), "tensor([], dtype=torch.int8, shape=[0, 3])"),
        (torch.ones(2, requires_grad=True), "tensor([1.0, 1.0], dtype=torch.float32, shape=[2], requires_grad=True)"),
        (torch.arange(6).reshape(2, 3).t(), "tensor([[0, 3], [1, 4], [2, 5]], dtype=torch.int64, shape=[3, 2])"),
    ],
)
def test_tensor_literal_text(tensor, text):
    assert print_value(tensor) == text


@pytest.mark.filterwarnings("ignore:.*quantize")
def test_unprintable_values_say_so():
    assert print_value(object()).startswith("<unprintable object")
    q = torch.quantize_per_tensor(torch.ones(2), 0.1, 0, torch.quint8)
    assert print_value(q) == "<unprintable tensor: quantized>"
    assert print_value(torch.ones(2).to_sparse()).startswith("<unprintable tensor: layout")


# -- types ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typ, text",
    [
        (TENSOR, "Tensor"),
        (INT, "int"),
        (ListType(INT), "int[]"),
        (ListType(OptionalType(INT)), "int?[]"),
        (OptionalType(ListType(INT)), "int[]?"),
        (TupleType([TENSOR, INT]), "(Tensor, int)"),
        (TupleType([INT]), "(int)"),
        (TupleType([]), "()"),
        (DictType(STR, ListType(TENSOR)), "Dict(str, Tensor[])"),
        (UnionType([INT, STR, NONE]), "Union(int, str, NoneType)"),
        (FutureType(TENSOR), "Future(Tensor)"),
        (TupleType([INT, FLOAT], "__torch__.Point", ["x", "y"]), "NamedTuple __torch__.Point(x: int, y: float)"),
        (ClassType("__torch__.Net"), "__torch__.Net"),
        (TensorType(torch.float32), "Float(...)"),
        (TensorType(torch.float32, ()), "Float()"),
        (TensorType(torch.int64, (2, None, 3)), "Long(2, *, 3)"),
        (TensorType(None, (4,)), "Tensor(4)"),
        (TensorType(None, None, torch.device("cpu")), "Tensor(..., device=cpu)"),
        (TensorType(torch.float16, (1,), torch.device("cuda:0")), "Half(1, device=cuda:0)"),
        (TensorType(torch.float8_e4m3fn), "Float8_e4m3fn(...)"),
        (TensorType(torch.uint16), "UInt16(...)"),
        (ListType(TensorType(torch.bool, (2,))), "Bool(2)[]"),
        (DEVICE, "Device"),
        (SCALAR, "Scalar"),
        (ANY, "Any"),
    ],
)
def test_type_text(typ, text):
    assert print_type(typ) == text
    if all(not isinstance(t, TensorType) or not t.is_refined() for t in _walk(typ)):
        assert print_type(typ) == str(typ)


def _walk(t):
    yield t
    for c in t.contained():
        yield from _walk(c)


# -- functions, marks, single nodes ---------------------------------------------------


def test_print_function():
    cls = ClassType("__torch__.Net")
    g = Graph()
    s = g.add_input(cls, "self")
    x = g.add_input(TENSOR, "x")
    g.add_input(INT, "n")
    g.add_input(FLOAT, "k")
    g.add_output(x)
    assert s
    fn = Function(
        "forward",
        g,
        [
            Argument("self", cls),
            Argument("x", TENSOR),
            Argument("n", INT, has_default=True, default=1),
            Argument("k", FLOAT, has_default=True, default=2.0, kwarg_only=True),
        ],
        TENSOR,
        SourceRange("m.py", 4, 4),
    )
    assert print_function(fn) == golden(
        """
        def forward(self : __torch__.Net, x : Tensor, n : int = 1, *, k : float = 2.0) -> Tensor  # m.py:4:4
        graph(%self : __torch__.Net, %x : Tensor, %n : int, %k : float):
          return (%x)
        """
    )


def test_mark_points_at_node_block_and_return():
    g = build_example()
    if_node = g.nodes[2]
    text = print_graph(g, mark=if_node)
    assert "  %5 : Tensor = prim::If(%c)  <-- here\n" in text
    assert "    block1():  <-- here\n" in print_graph(g, mark=if_node.blocks[1])
    assert "  return (%5)  <-- here\n" in print_graph(g, mark=g.block.return_node)
    assert print_graph(g, mark=g.block).startswith("graph(%x.1 : Tensor, %y.1 : Tensor, %c : bool):  <-- here\n")
    assert text.count("<-- here") == 1


def test_print_node():
    g = build_example()
    assert print_node(g.nodes[0]) == "%0 : int = prim::Constant[value=1]()"


def test_printer_survives_broken_ir():
    g = build_example()
    foreign = Graph().add_input(TENSOR)
    g.nodes[1].add_input(foreign)  # a value defined nowhere in g
    g.nodes[0].outputs[0].type = None
    text = print_graph(g)
    assert "<not a type: None>" in text
    if_node = g.nodes[2]
    if_node.blocks[0].append(if_node)  # a cycle
    assert "<cycle" in print_graph(g)
