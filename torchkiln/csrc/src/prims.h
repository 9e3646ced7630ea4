// The prim:: op table of the C++ runtime: one entry per op of the Python
// table (torchkiln/ops/prim.py, ops/lang.py), declared with the same schema
// text. A test compares the two tables, so neither can drift.
//
// An entry's factory runs once per node at load time; it reads what it
// needs from the node (attributes, output types), checks it, and returns the
// Operation that runs on every execution: inputs are on the stack in node
// order, the Operation pops them and pushes one value per node output.
//
//   {"prim::TupleIndex(Any tup) -> Any", tuple_index},   // factory reads index=
//   {"prim::Bool.Tensor(Tensor a) -> bool", plain<bool_tensor>},
//
// Structural ops (Constant, If, Loop, GetAttr, SetAttr, CallMethod,
// CallFunction, fork, Return) have no factory: the compiler and the
// interpreter implement them.
#pragma once

#include <ATen/core/ivalue.h>
#include <ATen/core/jit_type.h>
#include <ATen/core/stack.h>

#include <functional>
#include <string>
#include <vector>

namespace torchkiln::detail {

using Stack = std::vector<c10::IValue>;
using TypePtr = c10::TypePtr;
using Operation = std::function<void(Stack&)>;

// A node as a prim factory sees it while the archive loads.
class PrimNode {
 public:
  virtual ~PrimNode() = default;
  virtual const std::string& kind() const = 0;
  virtual const std::vector<c10::TypePtr>& input_types() const = 0;
  virtual const std::vector<c10::TypePtr>& output_types() const = 0;
  virtual bool has_attr(const std::string& name) const = 0;
  virtual int64_t attr_int(const std::string& name) const = 0;
  virtual std::string attr_str(const std::string& name) const = 0;
  virtual c10::TypePtr attr_type(const std::string& name) const = 0;
  // A list of `type` VALUEs.
  virtual std::vector<c10::TypePtr> attr_type_list(const std::string& name) const = 0;
  // The attribute as a value; `expected` may be null (the value's own type).
  virtual c10::IValue attr_value(const std::string& name, const c10::TypePtr& expected) const = 0;
  // Throws torchkiln::Error naming the node.
  [[noreturn]] virtual void error(const std::string& message) const = 0;
};

using PrimFactory = Operation (*)(const PrimNode&);

struct PrimDef {
  const char* schema;   // TorchScript schema syntax, as in the Python table
  PrimFactory factory;  // null for structural ops
};

// A factory for an op that needs nothing from its node.
template <void (*Fn)(Stack&)>
Operation plain(const PrimNode&) {
  return Fn;
}

// Registration lists, one per source file.
void add_core_prims(std::vector<PrimDef>& table);  // prims_core.cpp: ops/prim.py
void add_lang_prims(std::vector<PrimDef>& table);  // prims_lang.cpp: ops/lang.py
void add_autograd_prims(std::vector<PrimDef>& table);  // prims_autograd.cpp: ops/lang.py's autograd calls

// Every entry, sorted by name; built once.
const std::vector<PrimDef>& prim_table();
// `prim::add.int` from a schema text.
std::string schema_name(const char* schema);

// Raises a Python exception of class `cls` from inside an op (the
// interpreter adds the source location): ValueError, IndexError, ...
[[noreturn]] void raise_python(const std::string& cls, const std::string& message);

// Waits for a forked call, running queued tasks meanwhile; rethrows its error.
c10::IValue wait_future(const c10::intrusive_ptr<c10::ivalue::Future>& future);

// Python's str()/repr() of a value, for printing and string formatting.
// `type` is the value's static type when known: it tells a ScalarType (an
// int at run time) to print as `torch.float32`.
std::string python_str(const c10::IValue& v, const c10::TypePtr& type = nullptr);
std::string python_repr(const c10::IValue& v, const c10::TypePtr& type = nullptr);
// repr(tensor) (= str(tensor)) as PyTorch's Python prints it, default print
// options (tensor_str.cpp, Note [Tensor text]).
std::string tensor_repr(const at::Tensor& t);

}  // namespace torchkiln::detail
