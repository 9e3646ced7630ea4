"""Property: the default pipeline never changes what a program computes.

Random programs over tensors, ints and lists, with in-place writes, views,
repeated expressions, identities (`x + 0`), constant-only arithmetic and
`if`s, run by the reference interpreter before and after the pipeline: the
outputs and the final contents of the input tensors must be equal.
"""
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from torchkiln.interpreter import run_graph
from torchkiln.ir import BOOL, INT, TENSOR, Builder, Graph, ListType, print_graph
from torchkiln.passes import manager

N = 4  # every tensor has shape [N]


class _Gen:
    def __init__(self, draw):
        self.draw = draw
        self.g = Graph()
        self.tensors = [self.g.add_input(TENSOR, "x"), self.g.add_input(TENSOR, "y")]
        self.cond = self.g.add_input(BOOL, "c")
        self.ints = []
        self.lists = []

    def const(self, b, value, typ=INT):
        return b.constant(value, typ)

    def pick(self, pool):
        return pool[self.draw(st.integers(0, len(pool) - 1))]

    def step(self, b, tensors, ints, depth):
        choice = self.draw(st.sampled_from(
            ["binary", "unary", "scalar", "identity", "inplace", "view", "int", "repeat", "list", "if"]
        ))
        if choice == "binary":
            kind = self.draw(st.sampled_from(["aten::add.Tensor", "aten::mul.Tensor", "aten::sub.Tensor"]))
            ins = [self.pick(tensors), self.pick(tensors)]
            if kind != "aten::mul.Tensor":
                ins.append(self.const(b, self.draw(st.integers(-1, 2))))
            tensors.append(b.op(kind, ins, [TENSOR]).output)
        elif choice == "unary":
            kind = self.draw(st.sampled_from(["aten::neg", "aten::relu", "aten::exp", "aten::tanh"]))
            tensors.append(b.op(kind, [self.pick(tensors)], [TENSOR]).output)
        elif choice in ("scalar", "identity"):
            kind = self.draw(st.sampled_from(["aten::add.Scalar", "aten::sub.Scalar", "aten::mul.Scalar", "aten::div.Scalar"]))
            neutral = 1 if kind in ("aten::mul.Scalar", "aten::div.Scalar") else 0
            value = neutral if choice == "identity" else self.draw(st.sampled_from([2, 3, 0.5]))
            ins = [self.pick(tensors), self.const(b, value, INT if isinstance(value, int) else _float())]
            if kind in ("aten::add.Scalar", "aten::sub.Scalar"):
                ins.append(self.const(b, 1))
            tensors.append(b.op(kind, ins, [TENSOR]).output)
        elif choice == "inplace":
            kind = self.draw(st.sampled_from(["aten::add_.Scalar", "aten::mul_.Scalar", "aten::relu_"]))
            target = self.pick(tensors)
            ins = [target]
            if kind != "aten::relu_":
                ins.append(self.const(b, self.draw(st.integers(2, 3))))
            if kind == "aten::add_.Scalar":
                ins.append(self.const(b, 1))
            b.op(kind, ins, [TENSOR])
        elif choice == "view":
            shape = b.constant([N], ListType(INT))
            tensors.append(b.op("aten::view", [self.pick(tensors), shape], [TENSOR]).output)
        elif choice == "int":
            a = self.pick(ints) if ints and self.draw(st.booleans()) else self.const(b, self.draw(st.integers(0, 3)))
            c = self.const(b, self.draw(st.integers(0, 3)))
            ints.append(b.op(self.draw(st.sampled_from(["prim::add.int", "prim::mul.int"])), [a, c], [INT]).output)
        elif choice == "repeat" and len(tensors) > 2:
            src = tensors[-1].node
            if src is not None and src.kind not in ("prim::If",) and not src.blocks and src.block is b.block:
                tensors.append(b.op(src.kind, list(src.inputs), [TENSOR], dict(src.attrs)).output)
        elif choice == "list":
            lst = b.op("prim::ListConstruct", [self.pick(tensors)], [ListType(TENSOR)]).output
            b.op("prim::append.list", [lst, self.pick(tensors)], [])
            ints.append(b.op("prim::len.list", [lst], [INT]).output)
            index = self.const(b, self.draw(st.integers(0, 1)))
            tensors.append(b.op("prim::getitem.list", [lst, index], [TENSOR]).output)
        elif choice == "if" and depth < 2:
            cond = self.cond if self.draw(st.booleans()) else self.const(b, self.draw(st.booleans()), BOOL)
            node = b.op("prim::If", [cond], [TENSOR], n_blocks=2)
            for blk in node.blocks:
                inner = list(tensors)
                with b.at_block(blk):
                    for _ in range(self.draw(st.integers(0, 3))):
                        self.step(b, inner, list(ints), depth + 1)
                blk.add_return(self.pick(inner))
            tensors.append(node.output)

    def build(self):
        b = Builder(self.g.block)
        for _ in range(self.draw(st.integers(1, 14))):
            self.step(b, self.tensors, self.ints, 0)
        outs = [self.pick(self.tensors) for _ in range(self.draw(st.integers(1, 2)))]
        if self.ints:
            outs.append(self.pick(self.ints))
        from torchkiln.ir import TupleType

        tup = b.op("prim::TupleConstruct", outs, [TupleType([o.type for o in outs])]).output
        self.g.add_output(tup)
        return self.g


def _float():
    from torchkiln.ir import FLOAT

    return FLOAT


@st.composite
def programs(draw):
    return _Gen(draw).build()


def _run(g, x, y, c):
    x, y = x.clone(), y.clone()
    out = run_graph(g, [x, y, c])
    return out, x, y


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(), st.booleans())
def test_pipeline_keeps_results(g, c):
    torch.manual_seed(0)
    x, y = torch.randn(N), torch.randn(N)
    text = print_graph(g)
    expected = _run(g, x, y, c)
    manager.run_pipeline(g, manager.default_pipeline, verify=True)
    got = _run(g, x, y, c)
    for a, b in zip(_flat(got), _flat(expected)):
        if isinstance(a, torch.Tensor):
            assert torch.allclose(a, b, equal_nan=True), f"before:\n{text}\nafter:\n{print_graph(g)}"
        else:
            assert a == b, f"before:\n{text}\nafter:\n{print_graph(g)}"


def _flat(v):
    if isinstance(v, (tuple, list)):
        for item in v:
            yield from _flat(item)
    else:
        yield v
