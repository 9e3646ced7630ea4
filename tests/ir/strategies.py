"""Hypothesis strategies for IR types, attribute values and whole (valid) graphs."""
import math

import torch
from hypothesis import strategies as st

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
    Block,
    Builder,
    ClassType,
    DictType,
    FutureType,
    Graph,
    ListType,
    OptionalType,
    TensorType,
    TupleType,
    UnionType,
)

NET = ClassType("__torch__.Net")
_names = st.from_regex(r"[a-z_][a-z0-9_]{0,6}", fullmatch=True)

_leaf_types = st.sampled_from([TENSOR, INT, FLOAT, BOOL, STR, NONE, DEVICE, SCALAR, ANY, NET])
_tensor_types = st.builds(
    TensorType,
    st.none() | st.sampled_from([torch.float32, torch.int64, torch.bool, torch.bfloat16, torch.float8_e5m2]),
    st.none() | st.lists(st.none() | st.integers(0, 64), max_size=3).map(tuple),
    st.none() | st.sampled_from([torch.device("cpu"), torch.device("cuda:1")]),
)


def _compound(inner):
    return st.one_of(
        inner.map(ListType),
        inner.map(OptionalType),
        inner.map(FutureType),
        st.lists(inner, max_size=3).map(TupleType),
        st.tuples(inner, inner).map(lambda kv: DictType(*kv)),
        st.lists(inner, min_size=2, max_size=3, unique_by=str).map(UnionType),
        st.lists(st.tuples(_names, inner), max_size=3, unique_by=lambda f: f[0]).map(
            lambda fs: TupleType([t for _, t in fs], "__torch__.NT", [f for f, _ in fs])
        ),
    )


def types():
    return st.recursive(_leaf_types | _tensor_types, _compound, max_leaves=6)


_floats = st.floats(allow_nan=True, allow_infinity=True)


@st.composite
def _tensors(draw):
    dtype = draw(st.sampled_from([torch.float32, torch.float64, torch.float16, torch.int32, torch.bool, torch.complex64]))
    shape = draw(st.lists(st.integers(0, 3), max_size=3))
    n = math.prod(shape)
    if dtype == torch.bool:
        vals = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    elif dtype == torch.int32:
        vals = draw(st.lists(st.integers(-(2**31), 2**31 - 1), min_size=n, max_size=n))
    else:
        vals = draw(st.lists(_floats, min_size=n, max_size=n))
    return torch.tensor(vals, dtype=torch.float64 if dtype.is_complex else None).to(dtype).reshape(shape) if dtype != torch.int32 else torch.tensor(vals, dtype=dtype).reshape(shape)


_leaf_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    _floats,
    st.complex_numbers(allow_nan=True, allow_infinity=True),
    st.text(),
    st.sampled_from([torch.float32, torch.uint64, torch.sparse_csc, torch.channels_last, torch.device("cpu"), torch.device("cuda:3")]),
    types(),
    _tensors(),
)


def attr_values():
    return st.recursive(_leaf_values, lambda inner: st.lists(inner, max_size=3) | st.lists(inner, max_size=3).map(tuple), max_leaves=8)


_hints = st.none() | st.sampled_from(["x", "x.1", "y", "self", "7", "a b", "i"])
_locs = st.none() | st.builds(SourceRange, st.sampled_from(["m.py", "C:\\a b\\m.py", "<string>"]), st.integers(1, 99), st.integers(0, 80))


@st.composite
def graphs(draw, max_depth=2):
    """A valid graph of generic ops, constants, Ifs and Loops."""
    g = Graph()
    pool = [g.add_input(draw(types()), draw(_hints)) for _ in range(draw(st.integers(0, 3)))]
    _fill_block(draw, g.block, pool, max_depth)
    for v in draw(st.lists(st.sampled_from(pool), max_size=2)) if pool else []:
        g.add_output(v)
    return g


def _fill_block(draw, block: Block, pool: list, depth: int) -> None:
    b = Builder(block)
    for _ in range(draw(st.integers(0, 4))):
        choice = draw(st.sampled_from(["op", "const", "if", "loop"] if depth > 0 else ["op", "const"]))
        if choice == "const":
            value, typ = draw(st.sampled_from([(1, INT), (True, BOOL), (2.5, FLOAT), ("s", STR), (None, NONE), (None, OptionalType(TENSOR))]))
            v = b.constant(value, typ, loc=draw(_locs))
            v.name = draw(_hints)
            pool.append(v)
        elif choice == "op":
            ins = draw(st.lists(st.sampled_from(pool), max_size=3)) if pool else []
            outs = draw(st.lists(types(), max_size=3))
            attrs = draw(st.dictionaries(_names, attr_values(), max_size=2))
            node = b.op(draw(st.sampled_from(["aten::add.Tensor", "test::op", "prim::Print"])), ins, outs, attrs, loc=draw(_locs))
            for o in node.outputs:
                o.name = draw(_hints)
            pool.extend(node.outputs)
        elif choice == "if":
            cond = b.constant(True, BOOL)
            node = b.op("prim::If", [cond], [], n_blocks=2)
            results = draw(st.lists(st.sampled_from(pool), max_size=2)) if pool else []
            for blk in node.blocks:
                inner = list(pool)
                _fill_block(draw, blk, inner, depth - 1)
                for r in results:
                    same = [v for v in inner if v.type == r.type and print_type_equal(v, r)]
                    blk.add_return(draw(st.sampled_from(same)))
            for r in results:
                node.add_output(r.type, draw(_hints))
            pool.extend(node.outputs)
        else:
            trip = b.constant(3, INT)
            cond = b.constant(True, BOOL)
            carried = draw(st.lists(st.sampled_from(pool), max_size=2)) if pool else []
            node = b.op("prim::Loop", [trip, cond] + carried, [c.type for c in carried], n_blocks=1)
            body = node.blocks[0]
            inner = list(pool) + [body.add_param(INT, draw(_hints))]
            params = [body.add_param(c.type, draw(_hints)) for c in carried]
            inner += params
            _fill_block(draw, body, inner, depth - 1)
            body.add_return(cond)
            for p in params:
                body.add_return(p)
            pool.extend(node.outputs)


def print_type_equal(a, b) -> bool:
    from torchkiln.ir import print_type

    return print_type(a.type) == print_type(b.type)
