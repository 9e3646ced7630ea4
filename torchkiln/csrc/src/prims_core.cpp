// The prim ops of torchkiln/ops/prim.py: containers, exceptions, printing,
// futures, tensor properties and tensor -> Python conversions.
#include <ATen/core/Dict.h>
#include <ATen/core/List.h>
#include <ATen/core/class_type.h>
#include <ATen/ops/scalar_tensor.h>
#include <c10/core/DefaultDtype.h>

#include <iostream>
#include <mutex>

#include "error.h"
#include "prims.h"
#include "types.h"

namespace torchkiln::detail {

namespace {

using torch::jit::pop;
using torch::jit::push;

// The one output type of a node, which must be of kind `K`.
template <typename T>
std::shared_ptr<T> output_as(const PrimNode& node, const char* what) {
  if (node.output_types().size() != 1 || node.output_types()[0]->cast<T>() == nullptr)
    node.error(std::string("the output must be ") + what);
  return node.output_types()[0]->cast<T>();
}

// ------------------------------------------------------------ containers

Operation list_construct(const PrimNode& node) {
  TypePtr elem = output_as<c10::ListType>(node, "a list")->getElementType();
  size_t n = node.input_types().size();
  return [elem, n](Stack& s) {
    c10::impl::GenericList list(elem);
    list.reserve(n);
    for (size_t i = s.size() - n; i < s.size(); ++i) list.push_back(std::move(s[i]));
    torch::jit::drop(s, n);
    push(s, std::move(list));
  };
}

Operation list_unpack(const PrimNode& node) {
  size_t n = node.output_types().size();
  return [n](Stack& s) {
    auto list = pop(s).toList();
    if (list.size() != n)
      raise_python("ValueError", list.size() > n ? cat("too many values to unpack (expected ", n, ")")
                                                 : cat("not enough values to unpack (expected ", n, ", got ", list.size(), ")"));
    for (size_t i = 0; i < n; ++i) s.push_back(list.get(i));
  };
}

Operation tuple_construct(const PrimNode& node) {
  auto type = output_as<c10::TupleType>(node, "a tuple");
  size_t n = node.input_types().size();
  if (type->elements().size() != n) node.error(cat("builds a tuple of ", type->elements().size(), " from ", n, " inputs"));
  bool named = type->schema() != nullptr;
  return [type, n, named](Stack& s) {
    std::vector<c10::IValue> items(std::make_move_iterator(s.end() - n), std::make_move_iterator(s.end()));
    torch::jit::drop(s, n);
    push(s, named ? c10::ivalue::Tuple::createNamed(std::move(items), type) : c10::ivalue::Tuple::create(std::move(items)));
  };
}

Operation tuple_unpack(const PrimNode& node) {
  size_t n = node.output_types().size();
  return [n](Stack& s) {
    c10::IValue t = pop(s);
    const auto& items = t.toTupleRef().elements();
    if (items.size() != n) raise_python("ValueError", cat("cannot unpack a tuple of ", items.size(), " into ", n, " values"));
    for (const c10::IValue& item : items) s.push_back(item);
  };
}

Operation tuple_index(const PrimNode& node) {
  int64_t index = node.attr_int("index");
  if (node.input_types().size() == 1)
    if (auto t = node.input_types()[0]->cast<c10::TupleType>()) {
      int64_t n = int64_t(t->elements().size());
      if (index < -n || index >= n) node.error(cat("index ", index, " is out of range for a tuple of ", n));
      if (index < 0) index += n;
    }
  return [index](Stack& s) {
    c10::IValue t = pop(s);
    const auto& items = t.toTupleRef().elements();
    int64_t i = index < 0 ? index + int64_t(items.size()) : index;
    if (i < 0 || i >= int64_t(items.size())) raise_python("IndexError", "tuple index out of range");
    push(s, items[i]);
  };
}

Operation dict_construct(const PrimNode& node) {
  auto type = output_as<c10::DictType>(node, "a dict");
  size_t n = node.input_types().size();
  if (n % 2) node.error("takes key, value pairs");
  TypePtr k = type->getKeyType(), v = type->getValueType();
  return [k, v, n](Stack& s) {
    c10::impl::GenericDict dict(k, v);
    dict.reserve(n / 2);
    for (size_t i = s.size() - n; i < s.size(); i += 2) dict.insert_or_assign(std::move(s[i]), std::move(s[i + 1]));
    torch::jit::drop(s, n);
    push(s, std::move(dict));
  };
}

Operation create_object(const PrimNode& node) {
  auto cls = output_as<c10::ClassType>(node, "a class type");
  if (cls->is_module()) node.error("cannot create a module object");
  return [cls](Stack& s) {
    push(s, c10::ivalue::Object::create(c10::StrongTypePtr(nullptr, cls), cls->numAttributes()));
  };
}

// ------------------------------------------------------------ control

Operation raise_exception(const PrimNode& node) {
  std::string cls = node.has_attr("cls") ? node.attr_str("cls") : "Exception";
  return [cls](Stack& s) { raise_python(cls, pop(s).toStringRef()); };
}

// An @ignore'd Python function: the archive writer refuses it, so a node
// here means a hand-made or hostile archive.
Operation python_op(const PrimNode& node) {
  node.error("calls a Python function, which the C++ runtime cannot run (export the program without @ignore calls)");
  return {};
}

void uninitialized(Stack& s) { s.emplace_back(); }
void unchecked_cast(Stack&) {}

Operation print(const PrimNode& node) {
  std::vector<TypePtr> types = node.input_types();
  return [types](Stack& s) {
    size_t n = types.size();
    std::string line;
    for (size_t i = 0; i < n; ++i) {
      if (i) line += ' ';
      line += python_str(s[s.size() - n + i], types[i]);
    }
    torch::jit::drop(s, n);
    static std::mutex out_mutex;
    std::lock_guard<std::mutex> lock(out_mutex);
    std::cout << line << std::endl;
  };
}

void wait(Stack& s) { push(s, wait_future(pop(s).toFuture())); }

// ------------------------------------------------- tensor -> Python values

void bool_tensor(Stack& s) { push(s, pop(s).toTensor().is_nonzero()); }

// int(t), float(t): Python's message and class for tensors of several elements.
c10::Scalar one_item(const at::Tensor& t) {
  if (t.numel() != 1) raise_python("ValueError", "only one element tensors can be converted to Python scalars");
  return t.item();
}

void int_tensor(Stack& s) {
  at::Tensor t = pop(s).toTensor();
  c10::Scalar v = one_item(t);
  if (v.isFloatingPoint()) {
    double d = v.toDouble();
    if (std::isnan(d)) raise_python("ValueError", "cannot convert float NaN to integer");
    if (!(d > -9.3e18 && d < 9.3e18) || std::trunc(d) >= 9.223372036854775807e18 || std::trunc(d) < -9.223372036854775808e18)
      raise_python("OverflowError", "int too large to convert to int64");
    push(s, int64_t(d));
  } else if (v.isComplex()) {
    raise_python("TypeError", "int() argument must be a real number, not complex");
  } else {
    push(s, v.toLong());
  }
}

void float_tensor(Stack& s) {
  c10::Scalar v = one_item(pop(s).toTensor());
  if (v.isComplex()) raise_python("TypeError", "float() argument must be a real number, not complex");
  push(s, v.toDouble());
}

void float_scalar(Stack& s) {
  c10::IValue v = pop(s);
  if (v.isDouble()) return push(s, v.toDouble());
  if (v.isInt()) return push(s, double(v.toInt()));
  if (v.isBool()) return push(s, v.toBool() ? 1.0 : 0.0);
  raise_python("TypeError", cat("float() argument must be a number, not '", v.tagKind(), "'"));
}

void int_scalar(Stack& s) {
  c10::IValue v = pop(s);
  if (v.isInt()) return push(s, v.toInt());
  if (v.isBool()) return push(s, int64_t(v.toBool()));
  if (v.isDouble()) {
    double d = v.toDouble();
    if (std::isnan(d)) raise_python("ValueError", "cannot convert float NaN to integer");
    if (std::isinf(d)) raise_python("OverflowError", "cannot convert float infinity to integer");
    d = std::trunc(d);
    if (d >= 9.223372036854775807e18 || d < -9.223372036854775808e18)
      raise_python("OverflowError", "int too large to convert to int64");
    return push(s, int64_t(d));
  }
  raise_python("TypeError", cat("int() argument must be a number, not '", v.tagKind(), "'"));
}

// A ScalarType is an int here already (TorchScript's representation): only the number is checked,
// against the dtypes prim::dtype.int knows in Python (uint8 ... bfloat16, c10's numbers 0-15).
void dtype_int(Stack& s) {
  const c10::IValue& v = s.back();
  if (v.isNone()) return;
  int64_t a = v.toInt();
  if (a < 0 || a >= 16) raise_python("RuntimeError", cat(a, " is not a dtype number supported here"));
}
void device_str(Stack& s) {
  std::string text = pop(s).toStringRef();
  try {
    push(s, c10::Device(text));
  } catch (const c10::Error&) {
    raise_python("RuntimeError", "Invalid device string: '" + text + "'");
  }
}

// Nested lists of Python numbers; `type` is the node's output type when
// it says how deep the lists are, else Any.
c10::IValue tolist_level(const at::Tensor& t, int64_t dim, const std::vector<int64_t>& index, const TypePtr& elem) {
  if (dim == t.dim()) {
    at::Tensor item = t;
    for (int64_t i : index) item = item.select(0, i);
    c10::Scalar v = item.item();
    if (v.isBoolean()) return v.toBool();
    if (v.isIntegral(false)) return v.toLong();
    if (v.isComplex()) return v.toComplexDouble();
    return v.toDouble();
  }
  TypePtr inner = elem;
  for (int64_t d = dim + 1; d < t.dim(); ++d) inner = c10::ListType::create(inner);
  c10::impl::GenericList list(inner);
  int64_t n = t.size(dim);
  list.reserve(n);
  std::vector<int64_t> sub = index;
  sub.push_back(0);
  for (int64_t i = 0; i < n; ++i) {
    sub.back() = i;
    list.push_back(tolist_level(t, dim + 1, sub, elem));
  }
  return list;
}

TypePtr python_number_type(c10::ScalarType dtype) {
  if (dtype == c10::ScalarType::Bool) return c10::BoolType::get();
  if (c10::isIntegralType(dtype, false)) return c10::IntType::get();
  if (c10::isComplexType(dtype)) return c10::ComplexType::get();
  return c10::FloatType::get();
}

void tolist(Stack& s) {
  at::Tensor t = pop(s).toTensor().cpu();
  push(s, tolist_level(t, 0, {}, python_number_type(t.scalar_type())));
}

void num_to_tensor(Stack& s) {
  c10::IValue v = pop(s);
  if (v.isInt()) return push(s, at::scalar_tensor(v.toInt(), at::TensorOptions().dtype(at::kLong)));
  if (v.isBool()) return push(s, at::scalar_tensor(v.toBool(), at::TensorOptions().dtype(at::kBool)));
  if (v.isDouble())
    return push(s, at::scalar_tensor(v.toDouble(), at::TensorOptions().dtype(c10::get_default_dtype_as_scalartype())));
  if (v.isComplexDouble())
    return push(s, at::scalar_tensor(v.toComplexDouble(), at::TensorOptions().dtype(c10::get_default_complex_dtype())));
  raise_python("TypeError", cat("cannot make a tensor of a ", v.tagKind()));
}

// ----------------------------------------------------- tensor properties

void size(Stack& s) { push(s, c10::List<int64_t>(pop(s).toTensor().sizes())); }

void len_tensor(Stack& s) {
  at::Tensor t = pop(s).toTensor();
  if (t.dim() == 0) raise_python("TypeError", "len() of a 0-d tensor");
  push(s, t.size(0));
}

void device(Stack& s) { push(s, pop(s).toTensor().device()); }
void dtype(Stack& s) { push(s, int64_t(pop(s).toTensor().scalar_type())); }
void layout(Stack& s) { push(s, int64_t(pop(s).toTensor().layout())); }
void requires_grad(Stack& s) { push(s, pop(s).toTensor().requires_grad()); }
void is_cuda(Stack& s) { push(s, pop(s).toTensor().is_cuda()); }
void data(Stack& s) { push(s, pop(s).toTensor().variable_data()); }
void is_cpu(Stack& s) { push(s, pop(s).toTensor().is_cpu()); }
void is_meta(Stack& s) { push(s, pop(s).toTensor().is_meta()); }
void is_mkldnn(Stack& s) { push(s, pop(s).toTensor().is_mkldnn()); }
void is_nested(Stack& s) { push(s, pop(s).toTensor().is_nested()); }
void is_quantized(Stack& s) { push(s, pop(s).toTensor().is_quantized()); }
void is_sparse(Stack& s) { push(s, pop(s).toTensor().is_sparse()); }
void is_sparse_csr(Stack& s) { push(s, pop(s).toTensor().is_sparse_csr()); }
void is_xla(Stack& s) { push(s, pop(s).toTensor().is_xla()); }
void is_xpu(Stack& s) { push(s, pop(s).toTensor().is_xpu()); }
void is_mps(Stack& s) { push(s, pop(s).toTensor().is_mps()); }
void is_vulkan(Stack& s) { push(s, pop(s).toTensor().is_vulkan()); }
void is_ipu(Stack& s) { push(s, pop(s).toTensor().is_ipu()); }
void is_maia(Stack& s) { push(s, pop(s).toTensor().is_maia()); }
void is_mtia(Stack& s) { push(s, pop(s).toTensor().is_mtia()); }
void nbytes(Stack& s) { push(s, int64_t(pop(s).toTensor().nbytes())); }
void itemsize(Stack& s) { push(s, int64_t(pop(s).toTensor().itemsize())); }
void stride(Stack& s) { push(s, c10::List<int64_t>(pop(s).toTensor().strides())); }
// Tensor.name: None unless the tensor was given a name (as Python's property).
void tensor_name(Stack& s) {
  at::Tensor t = pop(s).toTensor();
  const std::string& name = t.name();
  if (name.empty())
    push(s, c10::IValue());
  else
    push(s, name);
}
// Tensor.grad: None while no gradient was accumulated.
void grad(Stack& s) {
  at::Tensor g = pop(s).toTensor().grad();
  if (g.defined())
    push(s, std::move(g));
  else
    push(s, c10::IValue());
}
// torch.manual_seed(seed): a negative seed wraps around as in Python.
void manual_seed(Stack& s) { at::manual_seed(uint64_t(pop(s).toInt())); }

}  // namespace

void add_core_prims(std::vector<PrimDef>& t) {
  // Structural: the compiler and the interpreter implement these.
  for (const char* schema : {
           "prim::Constant() -> ...",
           "prim::If(bool cond) -> ...",
           "prim::Loop(int max_trip_count, bool start_condition, ...) -> ...",
           "prim::Return(...) -> ()",
           "prim::GetAttr(Any obj) -> Any",
           "prim::SetAttr(Any obj, Any value) -> ()",
           "prim::CallMethod(Any self, ...) -> ...",
           "prim::CallFunction(...) -> ...",
           "prim::fork(...) -> Any",
       })
    t.push_back({schema, nullptr});
  t.insert(t.end(), {
                        {"prim::CreateObject() -> Any", create_object},
                        {"prim::ListConstruct(...) -> Any", list_construct},
                        {"prim::ListUnpack(Any l) -> ...", list_unpack},
                        {"prim::TupleConstruct(...) -> Any", tuple_construct},
                        {"prim::TupleUnpack(Any tup) -> ...", tuple_unpack},
                        {"prim::TupleIndex(Any tup) -> Any", tuple_index},
                        {"prim::DictConstruct(...) -> Any", dict_construct},
                        {"prim::RaiseException(str msg) -> ()", raise_exception},
                        {"prim::Uninitialized() -> Any", plain<uninitialized>},
                        {"prim::PythonOp(...) -> ...", python_op},
                        {"prim::unchecked_cast(Any x) -> Any", plain<unchecked_cast>},
                        {"prim::Print(...) -> ()", print},
                        {"prim::wait(Future(t) self) -> t", plain<wait>},
                        {"prim::Bool.Tensor(Tensor a) -> bool", plain<bool_tensor>},
                        {"prim::Int.Tensor(Tensor a) -> int", plain<int_tensor>},
                        {"prim::Float.Tensor(Tensor a) -> float", plain<float_tensor>},
                        {"prim::Float.Scalar(Scalar a) -> float", plain<float_scalar>},
                        {"prim::Int.Scalar(Scalar a) -> int", plain<int_scalar>},
                        {"prim::device.str(str a) -> Device", plain<device_str>},
                        {"prim::dtype.int(int a) -> ScalarType", plain<dtype_int>},
                        {"prim::dtype.int_optional(int? a) -> ScalarType?", plain<dtype_int>},
                        {"prim::tolist(Tensor a) -> Any", plain<tolist>},
                        {"prim::NumToTensor.Scalar(Scalar a) -> Tensor", plain<num_to_tensor>},
                        {"prim::size(Tensor self) -> int[]", plain<size>},
                        {"prim::len.Tensor(Tensor t) -> int", plain<len_tensor>},
                        {"prim::device(Tensor a) -> Device", plain<device>},
                        {"prim::dtype(Tensor a) -> ScalarType", plain<dtype>},
                        {"prim::layout(Tensor a) -> Layout", plain<layout>},
                        {"prim::requires_grad(Tensor a) -> bool", plain<requires_grad>},
                        {"prim::is_cuda(Tensor a) -> bool", plain<is_cuda>},
                        {"prim::data(Tensor(a) a) -> Tensor(a)", plain<data>},
                        {"prim::is_cpu(Tensor a) -> bool", plain<is_cpu>},
                        {"prim::is_meta(Tensor a) -> bool", plain<is_meta>},
                        {"prim::is_mkldnn(Tensor a) -> bool", plain<is_mkldnn>},
                        {"prim::is_nested(Tensor a) -> bool", plain<is_nested>},
                        {"prim::is_quantized(Tensor a) -> bool", plain<is_quantized>},
                        {"prim::is_sparse(Tensor a) -> bool", plain<is_sparse>},
                        {"prim::is_sparse_csr(Tensor a) -> bool", plain<is_sparse_csr>},
                        {"prim::is_xla(Tensor a) -> bool", plain<is_xla>},
                        {"prim::is_xpu(Tensor a) -> bool", plain<is_xpu>},
                        {"prim::is_mps(Tensor a) -> bool", plain<is_mps>},
                        {"prim::is_vulkan(Tensor a) -> bool", plain<is_vulkan>},
                        {"prim::is_ipu(Tensor a) -> bool", plain<is_ipu>},
                        {"prim::is_maia(Tensor a) -> bool", plain<is_maia>},
                        {"prim::is_mtia(Tensor a) -> bool", plain<is_mtia>},
                        {"prim::nbytes(Tensor a) -> int", plain<nbytes>},
                        {"prim::itemsize(Tensor a) -> int", plain<itemsize>},
                        {"prim::stride(Tensor a) -> int[]", plain<stride>},
                        {"prim::name(Tensor a) -> str?", plain<tensor_name>},
                        {"prim::grad(Tensor a) -> Tensor?", plain<grad>},
                        {"prim::manual_seed(int seed) -> ()", plain<manual_seed>},
                    });
}

}  // namespace torchkiln::detail
