"""The C++ runtime implements every prim op of the table, with the same schema (DESIGN §4)."""
import subprocess

from torchkiln import ops


def cpp_schemas(rt):
    out = subprocess.run([str(rt.runner), "--list-prims"], capture_output=True, text=True, check=True).stdout
    return {line.split("(", 1)[0]: line for line in out.splitlines()}


def test_every_prim_op_is_implemented_in_cpp(rt):
    missing = sorted(set(ops.all_prim_ops()) - set(cpp_schemas(rt)))
    assert not missing, f"prim ops without a C++ implementation: {missing}"


def test_cpp_implements_no_unknown_prim_op(rt):
    extra = sorted(set(cpp_schemas(rt)) - set(ops.all_prim_ops()))
    assert not extra, f"C++ implements ops the table does not declare: {extra}"


def test_cpp_schemas_match_the_table(rt):
    cpp = cpp_schemas(rt)
    differ = [(name, str(op.schema), cpp[name]) for name, op in ops.all_prim_ops().items()
              if name in cpp and str(ops.parse_schema(cpp[name])) != str(op.schema)]
    assert not differ, "schemas differ (table, C++):\n" + "\n".join(f"{a}\n  {b}\n  {c}" for _, a, b, c in differ)
