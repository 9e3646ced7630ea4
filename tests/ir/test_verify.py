"""The verifier: good IR passes; each invariant, when broken, is reported with the IR marked."""
import textwrap

import pytest
import torch

from torchkiln.diagnostics import VerifyError
from torchkiln.ir import (
    BOOL,
    INT,
    RETURN,
    TENSOR,
    Argument,
    Function,
    Graph,
    Node,
    Use,
    parse_graph,
    verify,
    verify_function,
)

from .test_parser import ROUND_TRIP, CLASSES

GOOD = """
graph(%x : Tensor, %c : bool, %n : int):
  %3 : int = prim::Constant[value=1]()
  %4 : Tensor = aten::add.Tensor(%x, %x, %3)  # model.py:7:15
  %5 : Tensor = prim::If(%c)
    block0():
      %6 : Tensor = aten::neg(%4)
      -> (%6)
    block1():
      -> (%x)
  %7 : Tensor = prim::Loop(%n, %c, %5)
    block0(%i : int, %acc : Tensor):
      %10 : Tensor = aten::mul.Tensor(%acc, %acc)
      -> (%c, %10)
  return (%7)
"""


def good():
    g = parse_graph(GOOD)
    verify(g)
    return g


def parts(g):
    const, add, if_, loop = g.nodes
    neg = if_.blocks[0].nodes[0]
    mul = loop.blocks[0].nodes[0]
    return const, add, if_, loop, neg, mul


def fails(g, message, marked=None, op_checker=None):
    with pytest.raises(VerifyError) as info:
        verify(g, op_checker=op_checker)
    return check_message(str(info.value), message, marked)


def check_message(text, message, marked):
    assert message in text.splitlines()[0], text
    if marked is not None:
        lines = [line for line in text.splitlines() if line.endswith("<-- here")]
        assert lines, text
        assert marked in lines[0], text
    return text


@pytest.mark.parametrize("text", ROUND_TRIP[:5], ids=range(5))  # ROUND_TRIP[5] has an int If condition
def test_good_ir_passes(text):
    verify(parse_graph(textwrap.dedent(text), classes=CLASSES))


def test_message_shows_ir_with_marker():
    g = good()
    _, add, *_ = parts(g)
    add.inputs[2].uses.clear()
    text = fails(g, "input 2 of this node (%3) is missing from %3's use list (source: model.py:7:15)")
    assert text.splitlines()[1:] == [
        "    graph(%x : Tensor, %c : bool, %n : int):",
        "      %3 : int = prim::Constant[value=1]()",
        "      %4 : Tensor = aten::add.Tensor(%x, %x, %3)  # model.py:7:15  <-- here",
        "      %5 : Tensor = prim::If(%c)",
        "        block0():",
        "          %6 : Tensor = aten::neg(%4)",
        "          -> (%6)",
        "        block1():",
        "          -> (%x)",
        "      %7 : Tensor = prim::Loop(%n, %c, %5)",
        "        block0(%i : int, %acc : Tensor):",
        "          %10 : Tensor = aten::mul.Tensor(%acc, %acc)",
        "          -> (%c, %10)",
        "      return (%7)",
    ]


def test_long_graphs_show_a_window():
    body = "".join(f"  %v{i} : Tensor = aten::neg(%v{i - 1})\n" for i in range(1, 60))
    g = parse_graph(f"graph(%v0 : Tensor):\n{body}  return (%v59)\n")
    g.nodes[30].kind = "neg"
    text = fails(g, "node kind 'neg' is not of the form ns::name", marked="%v31 : Tensor = neg(%v30)")
    lines = text.splitlines()
    assert lines[1] == "    ..." and lines[-1] == "    ..."
    assert len(lines) == 1 + 2 + 17


# -- structure ------------------------------------------------------------------------


def test_S1_top_block_points_to_graph():
    g = good()
    g.block.graph = None
    fails(g, "top block does not point back to the graph", marked="graph(%x")


def test_S1_nested_block_owner():
    g = good()
    _, add, if_, *_ = parts(g)
    if_.blocks[0].owner = add
    fails(g, "a block of this node has a different owner", marked="prim::If(%c)")


def test_S2_node_block_pointer():
    g = good()
    _, add, if_, *_ = parts(g)
    add.block = if_.blocks[0]
    fails(g, "this node's `block` does not point at the block that holds it", marked="aten::add.Tensor")


def test_S2_node_twice():
    g = good()
    _, add, *_ = parts(g)
    g.block.nodes.append(add)
    fails(g, "this aten::add.Tensor node appears twice in the graph", marked="aten::add.Tensor")


def test_S3_return_in_node_list():
    g = good()
    ret = Node(RETURN)
    g.block.insert(1, ret)
    fails(g, "prim::Return in a block's node list", marked="prim::Return()")


def test_S3_return_node_shape():
    g = good()
    g.block.return_node.attrs["x"] = 1
    fails(g, "a return node has only inputs", marked="return (%7)")


def test_S3_return_node_block():
    g = good()
    _, _, if_, *_ = parts(g)
    if_.blocks[1].return_node.block = g.block
    fails(g, "this return node's `block` does not point at its block", marked="-> (%x)")


def test_S4_kind_is_namespaced():
    g = good()
    _, add, *_ = parts(g)
    add.kind = "add"
    fails(g, "node kind 'add' is not of the form ns::name or ns::name.overload", marked="= add(%x")


# -- values -------------------------------------------------------------------------------


def test_V1_defined_twice():
    g = good()
    const, add, *_ = parts(g)
    add.outputs.append(const.output)
    fails(g, "%3 is defined twice: here and earlier as an output of prim::Constant", marked="aten::add.Tensor")


def test_V1_param_and_output():
    g = good()
    _, add, _, loop, *_ = parts(g)
    loop.blocks[0].params.append(add.output)
    fails(g, "is defined twice: here and earlier as an output of aten::add.Tensor", marked="block0(%i : int")


def test_V2_output_offset():
    g = good()
    _, add, *_ = parts(g)
    add.output.offset = 3
    fails(g, "output 0 (%4) has offset 3, expected 0", marked="aten::add.Tensor")


def test_V2_output_node_pointer():
    g = good()
    const, add, *_ = parts(g)
    add.output.node = const
    fails(g, "output 0 (%4) does not point back to this node", marked="aten::add.Tensor")


def test_V2_param_pointer_and_offset():
    g = good()
    g.inputs[1].offset = 0
    fails(g, "parameter 1 (%c) has offset 0, expected 1", marked="graph(%x")
    g = good()
    *_, loop, _, _ = parts(g)
    loop.blocks[0].params[0].block = g.block
    fails(g, "parameter 0 (%i) of this block does not point back to it", marked="block0(%i : int")


def test_V3_type_is_a_type():
    g = good()
    _, add, *_ = parts(g)
    add.output.type = "Tensor"
    fails(g, "%4 has no valid type: 'Tensor'", marked="aten::add.Tensor")


# -- scopes ---------------------------------------------------------------------------------


def test_D1_used_before_defined():
    g = good()
    const, add, *_ = parts(g)
    add.move_before(const)
    # names in messages are those of the context shown: the constant now prints after the add
    fails(g, "input 2 of this node (%4) is used before it is defined", marked="%3 : Tensor = aten::add.Tensor(%x, %x, %4)")


def test_D1_own_output_as_input():
    g = good()
    _, add, *_ = parts(g)
    add.replace_input(0, add.output)
    fails(g, "input 0 of this node (%4) is used before it is defined", marked="aten::add.Tensor")


def test_D1_value_from_sibling_block():
    g = good()
    *_, neg, mul = parts(g)
    mul.replace_input(1, neg.output)
    fails(g, "input 1 of this node (%6) is out of scope: it is defined in a block that does not enclose this use", marked="aten::mul.Tensor")


def test_D1_block_value_after_the_block():
    g = good()
    *_, loop, _, _ = parts(g)
    g.block.return_node.replace_input(0, loop.blocks[0].params[1])
    fails(g, "input 0 of this block return (%acc) is out of scope", marked="return (%acc)")


def test_D1_node_sees_not_its_own_block_params():
    g = good()
    *_, loop, _, _ = parts(g)
    loop.replace_input(2, loop.blocks[0].params[1])
    fails(g, "input 2 of this node (%acc) is used before it is defined", marked="prim::Loop")


def test_D2_value_from_another_graph():
    g = good()
    _, add, *_ = parts(g)
    add.replace_input(0, Graph().add_input(TENSOR, "stranger"))
    fails(g, "input 0 of this node (%stranger) is not defined in this graph", marked="aten::add.Tensor(%stranger")


# -- uses -----------------------------------------------------------------------------------


def test_U1_missing_use():
    g = good()
    _, add, *_ = parts(g)
    x = g.inputs[0]
    x.uses.remove(Use(add, 1))
    fails(g, "input 1 of this node (%x) is missing from %x's use list", marked="aten::add.Tensor")


def test_U1_stale_use_of_destroyed_node():
    g = good()
    n = Node("aten::neg")
    n.add_input(g.inputs[0])  # never inserted, e.g. a node destroyed without dropping its inputs
    fails(g, "%x's use list records a use by a aten::neg node that is not in this graph (stale use)", marked="graph(%x")


def test_U1_use_of_wrong_value():
    g = good()
    *_, mul = parts(g)
    g.inputs[0].uses.append(Use(mul, 0))
    fails(g, "%x's use list records input 0 of this node, but that input is %acc (stale use)", marked="aten::mul.Tensor")


def test_U1_use_index_out_of_range():
    g = good()
    const, *_ = parts(g)
    g.inputs[0].uses.append(Use(const, 0))
    fails(g, "%x's use list records input 0 of this node, which has 0 input(s)", marked="prim::Constant")


def test_U1_duplicate_use():
    g = good()
    _, add, *_ = parts(g)
    g.inputs[0].uses.append(Use(add, 0))
    fails(g, "%x's use list records input 0 of this node 2 times", marked="aten::add.Tensor")


# -- nodes ------------------------------------------------------------------------------------


def test_N1_attribute_names_and_values():
    g = good()
    _, add, *_ = parts(g)
    add.attrs["not an ident"] = 1
    fails(g, "attribute name 'not an ident' is not an identifier", marked="aten::add.Tensor")
    g = good()
    _, add, *_ = parts(g)
    add.attrs["fn"] = [1, {"a": 1}]
    fails(g, "attribute fn holds a dict, which an IR attribute cannot hold", marked="aten::add.Tensor")


def test_N1_every_listed_kind_is_accepted():
    g = good()
    const, *_ = parts(g)
    const.attrs["extra"] = [None, True, 1, 1.5, 2j, "s", torch.ones(1), torch.int8, torch.device("cpu"), torch.strided, torch.channels_last, INT, (1, [2])]
    verify(g)


def test_N2_constant_structure():
    g = good()
    const, *_ = parts(g)
    const.add_input(g.inputs[2])
    fails(g, "prim::Constant takes no inputs and has no blocks", marked="prim::Constant")
    g = good()
    const, *_ = parts(g)
    del const.attrs["value"]
    fails(g, "prim::Constant needs a `value` attribute", marked="prim::Constant()")
    g = good()
    const, *_ = parts(g)
    const.add_output(INT)
    fails(g, "prim::Constant has exactly one output, this one has 2", marked="prim::Constant")


@pytest.mark.parametrize(
    "value, type_text, ok",
    [
        (1, "int", True),
        (True, "bool", True),
        (True, "int", False),
        (1, "float", False),
        (1.5, "Scalar", True),
        ("cpu", "Device", True),
        (None, "Tensor?", True),
        (None, "Tensor", False),
        ([1, 2], "int[]", True),
        ([1, 2.0], "int[]", False),
        ((1, "a"), "(int, str)", True),
        ((1,), "(int, str)", False),
        (torch.ones(1), "Float(1)", True),
        (torch.float32, "ScalarType", True),
        (torch.float32, "int", True),
        (torch.device("cpu"), "Device", True),
        (1, "Union(str, int)", True),
        ("x", "Any", True),
    ],
)
def test_N2_constant_value_fits_type(value, type_text, ok):
    from torchkiln.ir import parse_type

    g = good()
    const, *_ = parts(g)
    const.attrs["value"] = value
    const.output.type = parse_type(type_text)
    if ok:
        verify(g)
    else:
        fails(g, f"constant value of Python type {type(value).__name__} does not fit the output type {type_text}", marked="prim::Constant")


def test_N3_if_condition_type():
    g = good()
    _, _, if_, *_ = parts(g)
    if_.replace_input(0, g.inputs[2])
    fails(g, "prim::If's condition %n has type int, expected bool", marked="prim::If(%n)")


def test_N3_if_inputs_and_blocks():
    g = good()
    _, _, if_, *_ = parts(g)
    if_.add_input(g.inputs[1])
    fails(g, "prim::If takes one input (the condition), this one has 2", marked="prim::If")
    g = good()
    _, _, if_, *_ = parts(g)
    if_.blocks[1].return_node.drop_inputs()
    if_.blocks.pop()
    fails(g, "prim::If has exactly 2 blocks (then, else), this one has 1", marked="prim::If")


def test_N3_if_block_params():
    g = good()
    _, _, if_, *_ = parts(g)
    if_.blocks[1].add_param(INT, "p")
    fails(g, "block1 of prim::If has 1 parameter(s); If blocks take none", marked="block1(%p : int)")


def test_N3_if_block_returns():
    g = good()
    _, _, if_, *_ = parts(g)
    if_.blocks[1].add_return(g.inputs[0])
    fails(g, "block1 of prim::If returns 2 value(s), expected 1", marked="-> (%x, %x)")
    g = good()
    _, _, if_, *_ = parts(g)
    if_.blocks[1].return_node.replace_input(0, g.inputs[2])
    fails(g, "block1 of prim::If returns %n : int at position 0, which does not fit the output type Tensor", marked="-> (%n)")


def test_N4_loop_inputs():
    g = good()
    *_, loop, _, _ = parts(g)
    loop.replace_input(0, g.inputs[1])
    fails(g, "prim::Loop's max trip count %c has type bool, expected int", marked="prim::Loop(%c, %c, %5)")
    g = good()
    *_, loop, _, _ = parts(g)
    loop.replace_input(1, g.inputs[2])
    fails(g, "prim::Loop's start condition %n has type int, expected bool", marked="prim::Loop(%n, %n, %5)")
    g = good()
    *_, loop, _, _ = parts(g)
    loop.remove_input(2)
    loop.remove_input(1)
    fails(g, "prim::Loop takes (int max_trip_count, bool start_condition, carried...), this one has 1 input(s)", marked="prim::Loop(%n)")


def test_N4_loop_arity():
    g = good()
    *_, loop, _, _ = parts(g)
    loop.add_input(g.inputs[0])
    fails(g, "prim::Loop has 2 carried input(s) but 1 output(s); they must match", marked="prim::Loop")
    g = good()
    *_, loop, _, _ = parts(g)
    loop.add_block()
    fails(g, "prim::Loop has exactly one block, this one has 2", marked="prim::Loop")
    g = good()
    *_, loop, _, _ = parts(g)
    loop.blocks[0].add_param(INT, "extra")
    fails(g, "the loop body takes (int iteration, 1 carried) = 2 parameter(s), it has 3", marked="block0(%i : int, %acc : Tensor, %extra : int)")


def test_N4_loop_body_types():
    g = good()
    *_, loop, _, _ = parts(g)
    loop.blocks[0].params[0].type = BOOL
    fails(g, "the loop body's iteration parameter has type bool, expected int", marked="block0(%i : bool")
    g = good()
    *_, loop, _, _ = parts(g)
    loop.blocks[0].return_node.replace_input(0, g.inputs[2])
    fails(g, "the loop body returns %n : int at position 0, which does not fit the block parameter type bool", marked="-> (%n, %10)")
    g = good()
    *_, loop, _, _ = parts(g)
    loop.blocks[0].return_node.replace_input(1, g.inputs[2])
    fails(g, "the loop body returns %n : int at position 1, which does not fit the block parameter type Tensor", marked="-> (%c, %n)")


def test_N4_loop_carried_types():
    g = parse_graph(
        "graph(%n : int, %c : bool, %x : int?):\n"
        "  %3 : int? = prim::Loop(%n, %c, %x)\n"
        "    block0(%i : int, %acc : int):\n"
        "      -> (%c, %acc)\n"
        "  return (%3)\n"
    )
    fails(g, "carried input 0 (%x : int?) does not fit the loop body's parameter %acc : int", marked="prim::Loop")
    g = parse_graph(
        "graph(%n : int, %c : bool, %x : int?):\n"
        "  %3 : int = prim::Loop(%n, %c, %x)\n"
        "    block0(%i : int, %acc : int?):\n"
        "      -> (%c, %acc)\n"
        "  return (%3)\n"
    )
    fails(g, "carried input 0 (%x : int?) does not fit the loop's output %3 : int", marked="prim::Loop")


def test_N5_op_checker():
    g = good()
    seen = []

    def checker(node):
        seen.append(node.kind)
        return "aten::neg takes a Tensor and this one is suspicious" if node.kind == "aten::neg" else None

    fails(g, "aten::neg takes a Tensor and this one is suspicious", marked="aten::neg(%4)", op_checker=checker)
    assert seen == ["prim::Constant", "aten::add.Tensor", "prim::If", "aten::neg"]
    verify(good(), op_checker=lambda node: None)


# -- functions --------------------------------------------------------------------------------


def function(args=None, returns=TENSOR):
    g = good()
    args = args if args is not None else [Argument("x", TENSOR), Argument("c", BOOL), Argument("n", INT)]
    return Function("f", g, args, returns)


def test_verify_function_ok():
    verify_function(function())


def test_verify_function_args():
    with pytest.raises(VerifyError) as info:
        verify_function(function(args=[Argument("x", TENSOR)]))
    check_message(str(info.value), "in function f: f declares 1 argument(s) but its graph has 3 input(s)", "graph(%x")
    with pytest.raises(VerifyError) as info:
        verify_function(function(args=[Argument("x", TENSOR), Argument("c", INT), Argument("n", INT)]))
    check_message(str(info.value), "argument 1 (c) of f is declared int but graph input 1 is bool", "graph(%x")


def test_verify_function_returns():
    with pytest.raises(VerifyError) as info:
        verify_function(function(returns=INT))
    check_message(str(info.value), "f is declared to return int but its graph returns Tensor", "return (%7)")
    fn = function()
    fn.graph.add_output(fn.graph.inputs[0])
    with pytest.raises(VerifyError) as info:
        verify_function(fn)
    check_message(str(info.value), "a function's graph returns exactly one value; f's returns 2", "return (%7, %x)")


def test_verify_function_checks_the_graph():
    fn = function()
    fn.graph.block.graph = None
    with pytest.raises(VerifyError, match="in function f: the graph's top block"):
        verify_function(fn)
