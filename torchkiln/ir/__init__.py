"""torchkiln's IR: types, graphs, builder, text form (printer/parser) and verifier.

This package knows no particular op (STYLE habit 2); op facts live in
`torchkiln.ops`.
"""
from .builder import Builder
from .core import (
    RETURN,
    Argument,
    Block,
    CompilationUnit,
    Function,
    Graph,
    Node,
    Use,
    Value,
    clone_block_into,
    clone_node,
)
from .parser import IRParseError, parse_function, parse_graph, parse_type, parse_value
from .printer import print_function, print_graph, print_node, print_type, print_value
from .types import (
    ANY,
    BOOL,
    DEVICE,
    FLOAT,
    GENERATOR,
    INT,
    LAYOUT,
    MEMORY_FORMAT,
    NONE,
    SCALAR,
    SCALAR_TYPE,
    STR,
    TENSOR,
    AnyType,
    ClassType,
    DictType,
    FutureType,
    InterfaceType,
    ListType,
    OptionalType,
    TensorType,
    TupleType,
    Type,
    UnionType,
    unify,
)
from .verify import verify, verify_function

__all__ = [
    "ANY", "BOOL", "DEVICE", "FLOAT", "GENERATOR", "INT", "LAYOUT", "MEMORY_FORMAT", "NONE", "SCALAR",
    "SCALAR_TYPE", "STR", "TENSOR", "RETURN",
    "AnyType", "Argument", "Block", "Builder", "ClassType", "CompilationUnit", "DictType", "Function",
    "FutureType", "Graph", "InterfaceType", "IRParseError", "ListType", "Node", "OptionalType", "TensorType", "TupleType",
    "Type", "UnionType", "Use", "Value",
    "clone_block_into", "clone_node", "parse_function", "parse_graph", "parse_type", "parse_value",
    "print_function", "print_graph", "print_node", "print_type", "print_value", "unify", "verify",
    "verify_function",
]
