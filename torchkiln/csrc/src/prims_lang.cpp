// The prim ops of torchkiln/ops/lang.py, Python semantics: comparisons,
// conversions, effects, torch.tensor(), dtype limits (torch.finfo /
// torch.iinfo), and the helpers of lang.h. Number
// ops are in prims_numbers.cpp, the math module in prims_math.cpp, lists
// and dicts in prims_containers.cpp, strings and formatting in
// prims_str.cpp.
//
// ints are int64: where Python would grow a bigger int, these ops raise
// OverflowError instead of wrapping around.
#include <ATen/core/Dict.h>
#include <ATen/core/List.h>
#include <ATen/core/class_type.h>
#include <ATen/ops/empty.h>
#include <c10/core/DefaultDtype.h>
#include <c10/core/GradMode.h>
#include <c10/core/ScalarType.h>
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <complex>
#include <limits>

#include "autocast.h"
#include "error.h"
#include "lang.h"
#include "prims.h"
#include "types.h"

namespace torchkiln::detail {

using torch::jit::pop;
using torch::jit::push;

// ------------------------------------------------------ shared helpers

std::string py_type_name(const c10::IValue& v) {
  if (v.isNone()) return "NoneType";
  if (v.isBool()) return "bool";
  if (v.isInt()) return "int";
  if (v.isDouble()) return "float";
  if (v.isComplexDouble()) return "complex";
  if (v.isString()) return "str";
  if (v.isList()) return "list";
  if (v.isTuple()) return "tuple";
  if (v.isGenericDict()) return "dict";
  if (v.isTensor()) return "Tensor";
  if (v.isDevice()) return "device";
  if (v.isObject()) return v.toObjectRef().type()->name()->name();
  return v.tagKind();
}

int64_t checked_int(double d) {
  if (std::isnan(d)) raise_python("ValueError", "cannot convert float NaN to integer");
  if (std::isinf(d)) raise_python("OverflowError", "cannot convert float infinity to integer");
  if (d >= 9.223372036854775807e18 || d < -9.223372036854775808e18) raise_python("OverflowError", "int too large for int64");
  return int64_t(d);
}

[[noreturn]] void int_overflow() { raise_python("OverflowError", "int result does not fit in 64 bits"); }

int64_t normalize_index(int64_t index, int64_t size, const char* message) {
  if (index < 0) index += size;
  if (index < 0 || index >= size) raise_python("IndexError", message);
  return index;
}

SliceRange slice_range(int64_t length, const c10::IValue& start_v, const c10::IValue& stop_v, const c10::IValue& step_v) {
  __int128 step = step_v.isNone() ? 1 : step_v.toInt();
  if (step == 0) raise_python("ValueError", "slice step cannot be zero");
  __int128 len = length;
  __int128 lower = step < 0 ? -1 : 0, upper = step < 0 ? len - 1 : len;
  auto adjust = [&](const c10::IValue& v, __int128 dflt) -> __int128 {
    if (v.isNone()) return dflt;
    __int128 x = v.toInt();
    if (x < 0) {
      x += len;
      if (x < lower) x = lower;
    } else if (x > upper) {
      x = upper;
    }
    return x;
  };
  __int128 start = adjust(start_v, step < 0 ? upper : lower);
  __int128 stop = adjust(stop_v, step < 0 ? lower : upper);
  __int128 n = 0;
  if (step > 0 && start < stop) n = (stop - start - 1) / step + 1;
  if (step < 0 && stop < start) n = (start - stop - 1) / (-step) + 1;
  return {int64_t(start), int64_t(step), int64_t(n)};
}

bool py_eq(const c10::IValue& a, const c10::IValue& b, int depth) {
  if (depth > 200) raise_python("RecursionError", "maximum recursion depth exceeded in comparison");
  if (a.isNone() || b.isNone()) return a.isNone() && b.isNone();
  if (is_number(a) && is_number(b)) {
    if (a.isComplexDouble() || b.isComplexDouble()) return as_complex(a) == as_complex(b);
    if (is_int_like(a) && is_int_like(b)) return as_int(a) == as_int(b);
    return as_double(a) == as_double(b);
  }
  if (a.isString() && b.isString()) return a.toStringRef() == b.toStringRef();
  if (a.isTensor() && b.isTensor()) {
    if (a.is(b)) return true;
    return a.toTensor().eq(b.toTensor()).is_nonzero();
  }
  if ((a.isList() && b.isList()) || (a.isTuple() && b.isTuple())) {
    if (a.is(b)) return true;
    c10::ArrayRef<c10::IValue> x = a.isList() ? a.toListRef() : a.toTupleRef().elements();
    c10::ArrayRef<c10::IValue> y = b.isList() ? b.toListRef() : b.toTupleRef().elements();
    if (x.size() != y.size()) return false;
    for (size_t i = 0; i < x.size(); ++i)
      if (!(x[i].is(y[i]) || py_eq(x[i], y[i], depth + 1))) return false;
    return true;
  }
  if (a.isGenericDict() && b.isGenericDict()) {
    auto x = a.toGenericDict(), y = b.toGenericDict();
    if (x.size() != y.size()) return false;
    for (const auto& entry : x) {
      auto it = y.find(entry.key());
      if (it == y.end() || !py_eq(entry.value(), it->value(), depth + 1)) return false;
    }
    return true;
  }
  if (a.isDevice() && b.isDevice()) return a.toDevice() == b.toDevice();
  return a.is(b);
}

bool py_compare(const c10::IValue& a, const c10::IValue& b, CompareOp op, int depth) {
  if (depth > 200) raise_python("RecursionError", "maximum recursion depth exceeded in comparison");
  auto apply = [op](auto x, auto y) {
    switch (op) {
      case CompareOp::Lt: return x < y;
      case CompareOp::Le: return x <= y;
      case CompareOp::Gt: return x > y;
      case CompareOp::Ge: return x >= y;
    }
    return false;
  };
  if (is_number(a) && is_number(b) && !a.isComplexDouble() && !b.isComplexDouble()) {
    if (is_int_like(a) && is_int_like(b)) return apply(as_int(a), as_int(b));
    return apply(as_double(a), as_double(b));
  }
  if (a.isString() && b.isString()) return apply(a.toStringRef().compare(b.toStringRef()), 0);
  if ((a.isList() && b.isList()) || (a.isTuple() && b.isTuple())) {
    c10::ArrayRef<c10::IValue> x = a.isList() ? a.toListRef() : a.toTupleRef().elements();
    c10::ArrayRef<c10::IValue> y = b.isList() ? b.toListRef() : b.toTupleRef().elements();
    size_t n = std::min(x.size(), y.size());
    for (size_t i = 0; i < n; ++i)
      if (!(x[i].is(y[i]) || py_eq(x[i], y[i], depth + 1))) return py_compare(x[i], y[i], op, depth + 1);
    return apply(x.size(), y.size());
  }
  if (a.isTensor() && b.isTensor()) {
    const at::Tensor &x = a.toTensor(), &y = b.toTensor();
    switch (op) {
      case CompareOp::Lt: return x.lt(y).is_nonzero();
      case CompareOp::Le: return x.le(y).is_nonzero();
      case CompareOp::Gt: return x.gt(y).is_nonzero();
      case CompareOp::Ge: return x.ge(y).is_nonzero();
    }
  }
  static const char* symbols[] = {"<", "<=", ">", ">="};
  raise_python("TypeError", cat("'", symbols[int(op)], "' not supported between instances of '", py_type_name(a), "' and '",
                                py_type_name(b), "'"));
}

bool py_lt(const c10::IValue& a, const c10::IValue& b) { return py_compare(a, b, CompareOp::Lt, 0); }

namespace {

// -------------------------------------------------- comparisons, truth

void eq(Stack& s) {
  c10::IValue b = pop(s), a = pop(s);
  push(s, py_eq(a, b));
}
void ne(Stack& s) {
  c10::IValue b = pop(s), a = pop(s);
  push(s, !py_eq(a, b));
}
template <CompareOp Op>
void compare(Stack& s) {
  c10::IValue b = pop(s), a = pop(s);
  push(s, py_compare(a, b, Op));
}
void is(Stack& s) {
  c10::IValue b = pop(s), a = pop(s);
  push(s, a.is(b));
}
void isnot(Stack& s) {
  c10::IValue b = pop(s), a = pop(s);
  push(s, !a.is(b));
}
void not_(Stack& s) { push(s, !pop(s).toBool()); }

// --------------------------------------------------------- conversions

std::string strip_ws(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\n\r\f\v"), e = s.find_last_not_of(" \t\n\r\f\v");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

// Digits with single underscores between them, as Python's number syntax.
bool strip_underscores(std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_') {
      if (i == 0 || i + 1 >= s.size() || !std::isdigit((unsigned char)s[i - 1]) || !std::isdigit((unsigned char)s[i + 1])) return false;
      continue;
    }
    out += s[i];
  }
  s = out;
  return true;
}

void int_str(Stack& s) {
  std::string text = pop(s).toStringRef();
  std::string t = strip_ws(text);
  bool ok = strip_underscores(t) && !t.empty();
  size_t i = (ok && (t[0] == '+' || t[0] == '-')) ? 1 : 0;
  ok = ok && i < t.size();
  for (size_t k = i; ok && k < t.size(); ++k) ok = std::isdigit((unsigned char)t[k]) != 0;
  if (!ok) raise_python("ValueError", "invalid literal for int() with base 10: " + python_repr(text));
  errno = 0;
  long long v = std::strtoll(t.c_str(), nullptr, 10);
  if (errno == ERANGE) int_overflow();
  push(s, int64_t(v));
}

void float_str(Stack& s) {
  std::string text = pop(s).toStringRef();
  std::string t = strip_ws(text);
  std::string lower;
  for (char c : t) lower += char(std::tolower((unsigned char)c));
  std::string body = (!lower.empty() && (lower[0] == '+' || lower[0] == '-')) ? lower.substr(1) : lower;
  bool negative = !lower.empty() && lower[0] == '-';
  if (body == "inf" || body == "infinity") return push(s, negative ? -INFINITY : INFINITY);
  if (body == "nan") return push(s, negative ? -NAN : NAN);
  bool ok = strip_underscores(t) && !t.empty();
  bool digits = false;
  for (char c : t) {
    if (std::isdigit((unsigned char)c)) digits = true;
    else if (!(c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-')) ok = false;
  }
  char* end = nullptr;
  double v = ok && digits ? std::strtod(t.c_str(), &end) : 0;
  if (!ok || !digits || end != t.c_str() + t.size()) raise_python("ValueError", "could not convert string to float: " + python_repr(text));
  push(s, v);
}

void bool_scalar(Stack& s) {
  c10::IValue a = pop(s);
  if (a.isComplexDouble()) return push(s, a.toComplexDouble() != c10::complex<double>(0, 0));
  push(s, as_double(a) != 0);
}
void bool_str(Stack& s) { push(s, !pop(s).toStringRef().empty()); }
void bool_list(Stack& s) { push(s, pop(s).toList().size() != 0); }
void bool_dict(Stack& s) { push(s, pop(s).toGenericDict().size() != 0); }

Operation str_op(const PrimNode& node) {
  TypePtr type = node.input_types().at(0);
  return [type](Stack& s) { push(s, python_str(pop(s), type)); };
}
// ------------------------------------------------------------- effects

// verbatim, as TorchScript's warn: the Python warning's message is the script's message alone.
void warn(Stack& s) {
  c10::warn(c10::Warning(c10::Warning::UserWarning(), {__func__, __FILE__, uint32_t(__LINE__)}, pop(s).toStringRef(), /*verbatim=*/true));
}
// torch.is_autocast_enabled() without a device: CUDA's, as in PyTorch.
void is_autocast_enabled(Stack& s) { push(s, !c10::impl::tls_is_dispatch_key_excluded(c10::DispatchKey::AutocastCUDA)); }
void device_type(Stack& s) { push(s, c10::DeviceTypeName(pop(s).toDevice().type(), /*lower_case=*/true)); }
void device_index(Stack& s) {
  c10::Device d = pop(s).toDevice();
  push(s, d.has_index() ? c10::IValue(int64_t(d.index())) : c10::IValue());
}
void is_grad_enabled(Stack& s) { push(s, c10::GradMode::is_enabled()); }
void set_grad_enabled(Stack& s) { c10::GradMode::set_enabled(pop(s).toBool()); }

// isinstance(x, (T1, T2)) on a value whose static type does not decide it.
Operation isinstance(const PrimNode& node) {
  std::vector<TypePtr> types = node.attr_type_list("types");
  return [types](Stack& s) {
    c10::IValue v = pop(s);
    bool found = false;
    for (const TypePtr& t : types) found = found || conforms(v, t);
    push(s, found);
  };
}

// ------------------------------------------ dtype limits: torch.finfo / torch.iinfo

// As torch/csrc/TypeInfo.cpp computes them: std::numeric_limits of the
// dtype's C++ type (c10::Half, c10::BFloat16, c10::Float8_*), with its
// errors. A ScalarType is an int here.

// What torch's dispatch names each limit in NotImplementedError.
enum class Limit { Lowest, Max, Epsilon, Min, Resolution };
constexpr const char* kLimitNames[] = {"lowest", "max", "epsilon", "min", "digits10"};

using ST = c10::ScalarType;

[[noreturn]] void not_implemented(const char* what, c10::ScalarType t) {
  raise_python("NotImplementedError", cat('"', what, "\" not implemented for '", c10::toString(t), "'"));
}

template <typename T>
double float_limit(Limit limit) {
  using L = std::numeric_limits<T>;
  switch (limit) {
    case Limit::Lowest: return static_cast<double>(L::lowest());
    case Limit::Max: return static_cast<double>(L::max());
    case Limit::Epsilon: return static_cast<double>(L::epsilon());
    case Limit::Min: return static_cast<double>(L::min());
    case Limit::Resolution: return std::pow(10, -L::digits10);
  }
  return 0;
}

// The dtype torch.finfo describes: a floating point dtype, or a complex dtype's real type.
c10::ScalarType finfo_type(Stack& s) {
  auto t = c10::ScalarType(pop(s).toInt());
  if (!c10::isFloatingType(t) && !c10::isComplexType(t))
    raise_python("TypeError", "torch.finfo() requires a floating point input type. Use torch.iinfo to handle 'torch.finfo'");
  return c10::toRealValueType(t);
}

// Whether torch.finfo's fields know `t` (float4_e2m1fn_x2 passes the check above, but has no limits).
bool has_float_limits(c10::ScalarType t) { return c10::isFloatingType(t) && t != ST::Float4_e2m1fn_x2; }

template <Limit L>
void finfo_limit(Stack& s) {
  c10::ScalarType t = finfo_type(s);
  switch (t) {
    case ST::Double: return push(s, float_limit<double>(L));
    case ST::Float: return push(s, float_limit<float>(L));
    case ST::Half: return push(s, float_limit<c10::Half>(L));
    case ST::BFloat16: return push(s, float_limit<c10::BFloat16>(L));
    case ST::Float8_e5m2: return push(s, float_limit<c10::Float8_e5m2>(L));
    case ST::Float8_e4m3fn: return push(s, float_limit<c10::Float8_e4m3fn>(L));
    case ST::Float8_e5m2fnuz: return push(s, float_limit<c10::Float8_e5m2fnuz>(L));
    case ST::Float8_e4m3fnuz: return push(s, float_limit<c10::Float8_e4m3fnuz>(L));
    case ST::Float8_e8m0fnu: return push(s, float_limit<c10::Float8_e8m0fnu>(L));
    default: not_implemented(kLimitNames[int(L)], t);
  }
}
void finfo_bits(Stack& s) { push(s, int64_t(CHAR_BIT * c10::elementSize(finfo_type(s)))); }
void finfo_dtype(Stack& s) {
  c10::ScalarType t = finfo_type(s);
  if (!has_float_limits(t)) not_implemented("dtype", t);
  push(s, dtype_name(t));
}

// The dtype torch.iinfo describes: an integer or quantized dtype.
c10::ScalarType iinfo_type(Stack& s) {
  auto t = c10::ScalarType(pop(s).toInt());
  if (t == ST::Bool) raise_python("TypeError", "torch.bool is not supported by torch.iinfo");
  if (!c10::isIntegralType(t, /*includeBool=*/false) && !c10::isQIntType(t))
    raise_python("TypeError", "torch.iinfo() requires an integer input type. Use torch.finfo to handle 'torch.iinfo'");
  return t;
}

template <typename T>
int64_t int_limit(bool max) {
  return max ? int64_t(std::numeric_limits<T>::max()) : int64_t(std::numeric_limits<T>::lowest());
}

template <bool Max>
void iinfo_limit(Stack& s) {
  c10::ScalarType t = iinfo_type(s);
  switch (t) {
    case ST::Byte: case ST::QUInt8: case ST::QUInt4x2: case ST::QUInt2x4: return push(s, int_limit<uint8_t>(Max));
    case ST::Char: case ST::QInt8: return push(s, int_limit<int8_t>(Max));
    case ST::Short: return push(s, int_limit<int16_t>(Max));
    case ST::Int: case ST::QInt32: return push(s, int_limit<int32_t>(Max));
    case ST::Long: return push(s, int_limit<int64_t>(Max));
    case ST::UInt16: return push(s, int_limit<uint16_t>(Max));
    case ST::UInt32: return push(s, int_limit<uint32_t>(Max));
    case ST::UInt64:
      if (Max) raise_python("OverflowError", "torch.iinfo(torch.uint64).max does not fit in 64 bits");
      return push(s, int64_t(0));
    default: not_implemented(Max ? "max" : "min", t);
  }
}
void iinfo_bits(Stack& s) { push(s, int64_t(CHAR_BIT * c10::elementSize(iinfo_type(s)))); }
void iinfo_dtype(Stack& s) {
  c10::ScalarType t = iinfo_type(s);
  if (c10::isQIntType(t)) not_implemented("dtype", t);
  push(s, dtype_name(t));
}

void get_default_dtype(Stack& s) { push(s, int64_t(c10::get_default_dtype_as_scalartype())); }

// ------------------------------------------------------ torch.tensor()

// Shape and kind (0 bool, 1 int, 2 float, 3 complex) of nested lists of numbers.
void scan_data(const c10::IValue& v, size_t dim, std::vector<int64_t>& shape, int& kind, std::vector<c10::IValue>& leaves) {
  if (dim > 64) raise_python("ValueError", "torch.tensor(): data nested too deeply");
  if (v.isList() || v.isTuple()) {
    c10::ArrayRef<c10::IValue> items = v.isList() ? v.toListRef() : v.toTupleRef().elements();
    if (dim == shape.size()) shape.push_back(int64_t(items.size()));
    else if (shape[dim] != int64_t(items.size()))
      raise_python("ValueError", cat("expected sequence of length ", shape[dim], " at dim ", dim, " (got ", items.size(), ")"));
    for (const c10::IValue& item : items) scan_data(item, dim + 1, shape, kind, leaves);
    return;
  }
  if (dim != shape.size()) raise_python("ValueError", cat("expected a sequence at dim ", dim));
  if (v.isBool()) kind = std::max(kind, 0);
  else if (v.isInt()) kind = std::max(kind, 1);
  else if (v.isDouble()) kind = std::max(kind, 2);
  else if (v.isComplexDouble()) kind = std::max(kind, 3);
  else if (v.isTensor() && v.toTensor().numel() == 1) return scan_data(c10::IValue(v.toTensor().item()), dim, shape, kind, leaves);
  else raise_python("TypeError", "torch.tensor(): data must be numbers or (nested) lists of numbers, not " + py_type_name(v));
  leaves.push_back(v);
}

void tensor(Stack& s) {
  bool requires_grad = pop(s).toBool();
  c10::IValue device = pop(s), dtype = pop(s), data = pop(s);
  std::vector<int64_t> shape;
  std::vector<c10::IValue> leaves;
  int kind = -1;
  scan_data(data, 0, shape, kind, leaves);
  c10::ScalarType inferred = kind == 0 ? at::kBool
                           : kind == 1 ? at::kLong
                           : kind == 3 ? c10::typeMetaToScalarType(c10::get_default_complex_dtype())
                                       : c10::get_default_dtype_as_scalartype();
  // Python numbers are int64, double and complex<double>: fill those, then convert once.
  c10::ScalarType wide = kind == 0 ? at::kBool : kind == 1 ? at::kLong : kind == 3 ? at::kComplexDouble : at::kDouble;
  at::Tensor t = at::empty(shape, at::TensorOptions().dtype(wide));
  for (size_t i = 0; i < leaves.size(); ++i) {
    const c10::IValue& v = leaves[i];
    switch (wide) {
      case at::kBool: t.data_ptr<bool>()[i] = v.toBool(); break;
      case at::kLong: t.data_ptr<int64_t>()[i] = as_int(v); break;
      case at::kDouble: t.data_ptr<double>()[i] = as_double(v); break;
      default: t.data_ptr<c10::complex<double>>()[i] = as_complex(v); break;
    }
  }
  c10::ScalarType target = dtype.isNone() ? inferred : c10::ScalarType(dtype.toInt());
  if (target != wide) t = t.to(target);
  if (!device.isNone() && device.toDevice() != t.device()) t = t.to(device.toDevice());
  if (requires_grad) t.set_requires_grad(true);
  push(s, std::move(t));
}

}  // namespace

void add_lang_prims(std::vector<PrimDef>& t) {
  t.insert(t.end(), {
      {"prim::eq(t a, t b) -> bool", plain<eq>},
      {"prim::ne(t a, t b) -> bool", plain<ne>},
      {"prim::lt(t a, t b) -> bool", plain<compare<CompareOp::Lt>>},
      {"prim::le(t a, t b) -> bool", plain<compare<CompareOp::Le>>},
      {"prim::gt(t a, t b) -> bool", plain<compare<CompareOp::Gt>>},
      {"prim::ge(t a, t b) -> bool", plain<compare<CompareOp::Ge>>},
      {"prim::is(Any a, Any b) -> bool", plain<is>},
      {"prim::isnot(Any a, Any b) -> bool", plain<isnot>},
      {"prim::not(bool a) -> bool", plain<not_>},
      {"prim::Int.str(str a) -> int", plain<int_str>},
      {"prim::Float.str(str a) -> float", plain<float_str>},
      {"prim::Bool.Scalar(Scalar a) -> bool", plain<bool_scalar>},
      {"prim::Bool.str(str a) -> bool", plain<bool_str>},
      {"prim::Bool.list(t[] a) -> bool", plain<bool_list>},
      {"prim::Bool.dict(Dict(k, v) a) -> bool", plain<bool_dict>},
      {"prim::str(t a) -> str", str_op},
      {"prim::warn(str message) -> ()", plain<warn>},
      {"prim::is_grad_enabled() -> bool", plain<is_grad_enabled>},
      {"prim::set_grad_enabled(bool enabled) -> ()", plain<set_grad_enabled>},
      {"prim::is_autocast_enabled() -> bool", plain<is_autocast_enabled>},
      {"prim::isinstance(Any x) -> bool", isinstance},
      {"prim::device_type(Device d) -> str", plain<device_type>},
      {"prim::device_index(Device d) -> int?", plain<device_index>},
      {"prim::tensor(t data, ScalarType? dtype, Device? device, bool requires_grad) -> Tensor", plain<tensor>},
      {"prim::finfo_min(ScalarType dtype) -> float", plain<finfo_limit<Limit::Lowest>>},
      {"prim::finfo_max(ScalarType dtype) -> float", plain<finfo_limit<Limit::Max>>},
      {"prim::finfo_eps(ScalarType dtype) -> float", plain<finfo_limit<Limit::Epsilon>>},
      {"prim::finfo_tiny(ScalarType dtype) -> float", plain<finfo_limit<Limit::Min>>},
      {"prim::finfo_smallest_normal(ScalarType dtype) -> float", plain<finfo_limit<Limit::Min>>},
      {"prim::finfo_resolution(ScalarType dtype) -> float", plain<finfo_limit<Limit::Resolution>>},
      {"prim::finfo_bits(ScalarType dtype) -> int", plain<finfo_bits>},
      {"prim::finfo_dtype(ScalarType dtype) -> str", plain<finfo_dtype>},
      {"prim::iinfo_min(ScalarType dtype) -> int", plain<iinfo_limit<false>>},
      {"prim::iinfo_max(ScalarType dtype) -> int", plain<iinfo_limit<true>>},
      {"prim::iinfo_bits(ScalarType dtype) -> int", plain<iinfo_bits>},
      {"prim::iinfo_dtype(ScalarType dtype) -> str", plain<iinfo_dtype>},
      {"prim::get_default_dtype() -> ScalarType", plain<get_default_dtype>},
  });
  add_number_prims(t);
  add_math_prims(t);
  add_container_prims(t);
  add_str_prims(t);
  add_autocast_prims(t);
  add_autograd_prims(t);
}

}  // namespace torchkiln::detail
