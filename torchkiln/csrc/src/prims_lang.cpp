// The prim ops of torchkiln/ops/lang.py, Python semantics: numbers,
// comparisons, conversions, the math module, effects, torch.tensor().
// Lists and dicts are in prims_containers.cpp, strings and formatting in
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
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <limits>

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

namespace {

bool is_int_like(const c10::IValue& v) { return v.isInt() || v.isBool(); }
int64_t as_int(const c10::IValue& v) { return v.isBool() ? int64_t(v.toBool()) : v.toInt(); }
double as_double(const c10::IValue& v) {
  if (v.isDouble()) return v.toDouble();
  return double(as_int(v));
}
c10::complex<double> as_complex(const c10::IValue& v) {
  if (v.isComplexDouble()) return v.toComplexDouble();
  return {as_double(v), 0.0};
}
bool is_number(const c10::IValue& v) { return v.isInt() || v.isBool() || v.isDouble() || v.isComplexDouble(); }

}  // namespace

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

// ------------------------------------------------------------- numbers

int64_t int_add(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) int_overflow();
  return r;
}
int64_t int_sub(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_sub_overflow(a, b, &r)) int_overflow();
  return r;
}
int64_t int_mul(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) int_overflow();
  return r;
}
int64_t int_floordiv(int64_t a, int64_t b) {
  if (b == 0) raise_python("ZeroDivisionError", "integer division or modulo by zero");
  if (a == std::numeric_limits<int64_t>::min() && b == -1) int_overflow();
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}
int64_t int_mod(int64_t a, int64_t b) {
  if (b == 0) raise_python("ZeroDivisionError", "integer division or modulo by zero");
  if (b == -1) return 0;
  int64_t r = a % b;
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}
int64_t int_pow(int64_t a, int64_t b) {
  if (b < 0)
    raise_python("ValueError", cat("int ** int with a negative exponent (", a, " ** ", b, ") has no int result; write float(", a,
                                   ") ** ", b));
  int64_t result = 1;
  while (b > 0) {
    if (b & 1) result = int_mul(result, a);
    b >>= 1;
    if (b > 0) a = int_mul(a, a);
  }
  return result;
}
double int_truediv(int64_t a, int64_t b) {
  if (b == 0) raise_python("ZeroDivisionError", "division by zero");
  return double(a) / double(b);
}

double float_truediv(double a, double b) {
  if (b == 0) raise_python("ZeroDivisionError", "float division by zero");
  return a / b;
}
// CPython's float_divmod.
std::pair<double, double> float_divmod(double vx, double wx, const char* zero_message) {
  if (wx == 0) raise_python("ZeroDivisionError", zero_message);
  double mod = std::fmod(vx, wx);
  double div = (vx - mod) / wx;
  if (mod != 0) {
    if ((wx < 0) != (mod < 0)) {
      mod += wx;
      div -= 1.0;
    }
  } else {
    mod = std::copysign(0.0, wx);
  }
  double floordiv;
  if (div != 0) {
    floordiv = std::floor(div);
    if (div - floordiv > 0.5) floordiv += 1.0;
  } else {
    floordiv = std::copysign(0.0, vx / wx);
  }
  return {floordiv, mod};
}
double float_floordiv(double a, double b) { return float_divmod(a, b, "float floor division by zero").first; }
double float_mod(double a, double b) { return float_divmod(a, b, "float modulo").second; }
double float_pow(double a, double b) {
  if (a == 0 && b < 0) raise_python("ZeroDivisionError", "0.0 cannot be raised to a negative power");
  if (a < 0 && std::isfinite(a) && std::isfinite(b) && b != std::floor(b))
    raise_python("ValueError", "a negative float cannot be raised to a fractional power (the result is complex)");
  double r = std::pow(a, b);
  if (std::isinf(r) && std::isfinite(a) && std::isfinite(b)) raise_python("OverflowError", "(34, 'Numerical result out of range')");
  return r;
}

template <int64_t (*F)(int64_t, int64_t)>
void int_binary(Stack& s) {
  int64_t b = pop(s).toInt(), a = pop(s).toInt();
  push(s, F(a, b));
}
template <double (*F)(double, double)>
void float_binary(Stack& s) {
  double b = pop(s).toDouble(), a = pop(s).toDouble();
  push(s, F(a, b));
}
void int_truediv_op(Stack& s) {
  int64_t b = pop(s).toInt(), a = pop(s).toInt();
  push(s, int_truediv(a, b));
}

double f_add(double a, double b) { return a + b; }
double f_sub(double a, double b) { return a - b; }
double f_mul(double a, double b) { return a * b; }

enum class Arith { Add, Sub, Mul, TrueDiv, FloorDiv, Mod, Pow };

// `.Scalar` overloads: ints (and bools) stay ints, complex stays complex,
// anything else is float.
template <Arith A>
void scalar_binary(Stack& s) {
  c10::IValue b = pop(s), a = pop(s);
  if (!is_number(a) || !is_number(b))
    raise_python("TypeError", cat("unsupported operand types: '", py_type_name(a), "' and '", py_type_name(b), "'"));
  if (a.isComplexDouble() || b.isComplexDouble()) {
    auto x = as_complex(a), y = as_complex(b);
    switch (A) {
      case Arith::Add: return push(s, x + y);
      case Arith::Sub: return push(s, x - y);
      case Arith::Mul: return push(s, x * y);
      case Arith::TrueDiv:
        if (y == c10::complex<double>(0, 0)) raise_python("ZeroDivisionError", "complex division by zero");
        return push(s, x / y);
      case Arith::Pow:
        return push(s, c10::complex<double>(std::pow(std::complex<double>(x), std::complex<double>(y))));
      default: raise_python("TypeError", "unsupported operand type(s) for complex numbers");
    }
  }
  if (is_int_like(a) && is_int_like(b)) {
    int64_t x = as_int(a), y = as_int(b);
    switch (A) {
      case Arith::Add: return push(s, int_add(x, y));
      case Arith::Sub: return push(s, int_sub(x, y));
      case Arith::Mul: return push(s, int_mul(x, y));
      case Arith::TrueDiv: return push(s, int_truediv(x, y));
      case Arith::FloorDiv: return push(s, int_floordiv(x, y));
      case Arith::Mod: return push(s, int_mod(x, y));
      case Arith::Pow:
        if (y < 0) return push(s, float_pow(double(x), double(y)));
        return push(s, int_pow(x, y));
    }
  }
  double x = as_double(a), y = as_double(b);
  switch (A) {
    case Arith::Add: return push(s, x + y);
    case Arith::Sub: return push(s, x - y);
    case Arith::Mul: return push(s, x * y);
    case Arith::TrueDiv: return push(s, float_truediv(x, y));
    case Arith::FloorDiv: return push(s, float_floordiv(x, y));
    case Arith::Mod: return push(s, float_mod(x, y));
    case Arith::Pow: return push(s, float_pow(x, y));
  }
}

int64_t i_and(int64_t a, int64_t b) { return a & b; }
int64_t i_or(int64_t a, int64_t b) { return a | b; }
int64_t i_xor(int64_t a, int64_t b) { return a ^ b; }
int64_t i_lshift(int64_t a, int64_t b) {
  if (b < 0) raise_python("ValueError", "negative shift count");
  if (a == 0) return 0;
  if (b >= 63) int_overflow();
  int64_t r = int64_t(uint64_t(a) << b);
  if ((r >> b) != a) int_overflow();
  return r;
}
int64_t i_rshift(int64_t a, int64_t b) {
  if (b < 0) raise_python("ValueError", "negative shift count");
  if (b >= 64) return a < 0 ? -1 : 0;
  return a >> b;
}
int64_t i_min(int64_t a, int64_t b) { return b < a ? b : a; }
int64_t i_max(int64_t a, int64_t b) { return b > a ? b : a; }
double f_min(double a, double b) { return b < a ? b : a; }
double f_max(double a, double b) { return b > a ? b : a; }

template <bool (*F)(bool, bool)>
void bool_binary(Stack& s) {
  bool b = pop(s).toBool(), a = pop(s).toBool();
  push(s, F(a, b));
}
bool b_and(bool a, bool b) { return a && b; }
bool b_or(bool a, bool b) { return a || b; }
bool b_xor(bool a, bool b) { return a != b; }

void invert_int(Stack& s) { push(s, ~pop(s).toInt()); }
void neg_int(Stack& s) { push(s, int_sub(0, pop(s).toInt())); }
void neg_float(Stack& s) { push(s, -pop(s).toDouble()); }
void abs_int(Stack& s) {
  int64_t a = pop(s).toInt();
  push(s, a < 0 ? int_sub(0, a) : a);
}
void abs_float(Stack& s) { push(s, std::fabs(pop(s).toDouble())); }
void neg_scalar(Stack& s) {
  c10::IValue a = pop(s);
  if (a.isComplexDouble()) return push(s, -a.toComplexDouble());
  if (is_int_like(a)) return push(s, int_sub(0, as_int(a)));
  push(s, -as_double(a));
}
void abs_scalar(Stack& s) {
  c10::IValue a = pop(s);
  if (a.isComplexDouble()) return push(s, std::abs(a.toComplexDouble()));
  if (is_int_like(a)) {
    int64_t x = as_int(a);
    return push(s, x < 0 ? int_sub(0, x) : x);
  }
  push(s, std::fabs(as_double(a)));
}

void round_float(Stack& s) { push(s, checked_int(std::nearbyint(pop(s).toDouble()))); }

// round(x, ndigits): correctly rounded through the decimal text, as CPython.
void round_ndigits(Stack& s) {
  int64_t nd = pop(s).toInt();
  double x = pop(s).toDouble();
  if (!std::isfinite(x) || x == 0) return push(s, x);
  if (nd > 323) return push(s, x);
  if (nd < -308) return push(s, std::copysign(0.0, x));
  if (nd >= 0) {
    char buf[512];
    std::snprintf(buf, sizeof(buf), "%.*f", int(nd), x);
    double r = std::strtod(buf, nullptr);
    if (r == 0) r = std::copysign(0.0, x);
    return push(s, r);
  }
  double pow10 = std::pow(10.0, double(-nd));
  double r = std::nearbyint(x / pow10) * pow10;
  if (std::isinf(r)) raise_python("OverflowError", "rounded value too large to represent");
  push(s, r == 0 ? std::copysign(0.0, x) : r);
}

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

// ------------------------------------------------------------ math

[[noreturn]] void domain_error() { raise_python("ValueError", "math domain error"); }
[[noreturn]] void range_error() { raise_python("OverflowError", "math range error"); }

// CPython's math_1: NaN from a non-NaN is a domain error; an infinity from a
// finite number is a range error for functions that can overflow, else a
// domain error (log(0)).
template <double (*F)(double), bool CanOverflow>
void math1(Stack& s) {
  double x = pop(s).toDouble();
  double r = F(x);
  if (std::isnan(r) && !std::isnan(x)) domain_error();
  if (std::isinf(r) && std::isfinite(x)) {
    if (CanOverflow) range_error();
    domain_error();
  }
  push(s, r);
}

double m_log(double x) {
  if (x <= 0 && !std::isnan(x)) domain_error();
  return std::log(x);
}
double m_log2(double x) {
  if (x <= 0 && !std::isnan(x)) domain_error();
  return std::log2(x);
}
double m_log10(double x) {
  if (x <= 0 && !std::isnan(x)) domain_error();
  return std::log10(x);
}
// math.gamma and math.lgamma as CPython computes them (Modules/mathmodule.c:
// Lanczos approximation, g = 6.024680040776729583740234375, N = 13), so
// results match Python to the last bit rather than to libm's.
constexpr double kPi = 3.141592653589793238462643383279502884197;
constexpr double kLanczosG = 6.024680040776729583740234375;
constexpr double kLanczosGMinusHalf = 5.524680040776729583740234375;
constexpr double kLanczosNum[13] = {
    23531376880.410759688572007674451636754734846804940, 42919803642.649098768957899047001988850926355848959,
    35711959237.355668049440185451547166705960488635843, 17921034426.037209699919755754458931112671403265390,
    6039542586.3520280050642916443072979210699388420708, 1439720407.3117216736632230727949123939715485786772,
    248874557.86205415651146038641322942321632125127801, 31426415.585400194380614231628318205362874684987640,
    2876370.6289353724412254090516208496135991145378768, 186056.26539522349504029498971604569928220784236328,
    8071.6720023658162106380029022722506138218516325024, 210.82427775157934587250973392071336271166969580291,
    2.5066282746310002701649081771338373386264310793408};
constexpr double kLanczosDen[13] = {0.0,      39916800.0, 120543840.0, 150917976.0, 105258076.0, 45995730.0, 13339535.0,
                                    2637558.0, 357423.0,   32670.0,     1925.0,      66.0,        1.0};
constexpr double kGammaIntegral[23] = {1.0,
                                       1.0,
                                       2.0,
                                       6.0,
                                       24.0,
                                       120.0,
                                       720.0,
                                       5040.0,
                                       40320.0,
                                       362880.0,
                                       3628800.0,
                                       39916800.0,
                                       479001600.0,
                                       6227020800.0,
                                       87178291200.0,
                                       1307674368000.0,
                                       20922789888000.0,
                                       355687428096000.0,
                                       6402373705728000.0,
                                       121645100408832000.0,
                                       2432902008176640000.0,
                                       51090942171709440000.0,
                                       1124000727777607680000.0};

double lanczos_sum(double x) {
  double num = 0.0, den = 0.0;
  if (x < 5.0) {
    for (int i = 13; --i >= 0;) {
      num = num * x + kLanczosNum[i];
      den = den * x + kLanczosDen[i];
    }
  } else {
    for (int i = 0; i < 13; i++) {
      num = num / x + kLanczosNum[i];
      den = den / x + kLanczosDen[i];
    }
  }
  return num / den;
}

double m_sinpi(double x) {
  double y = std::fmod(std::fabs(x), 2.0), r = 0;
  switch (int(std::round(2.0 * y))) {
    case 0: r = std::sin(kPi * y); break;
    case 1: r = std::cos(kPi * (y - 0.5)); break;
    case 2: r = std::sin(kPi * (1.0 - y)); break;
    case 3: r = -std::cos(kPi * (y - 1.5)); break;
    case 4: r = std::sin(kPi * (y - 2.0)); break;
  }
  return std::copysign(1.0, x) * r;
}

double m_gamma(double x) {
  if (!std::isfinite(x)) {
    if (std::isnan(x) || x > 0.0) return x;
    domain_error();
  }
  if (x == 0.0) domain_error();
  if (x == std::floor(x)) {
    if (x < 0.0) domain_error();
    if (x <= 23) return kGammaIntegral[int(x) - 1];
  }
  double absx = std::fabs(x);
  if (absx < 1e-20) return 1.0 / x;
  if (absx > 200.0) {
    if (x < 0.0) return 0.0 / m_sinpi(x);
    range_error();
  }
  double y = absx + kLanczosGMinusHalf, z;
  if (absx > kLanczosGMinusHalf) {
    volatile double q = y - absx;  // volatile: keep the rounding-error correction from being folded away
    z = q - kLanczosGMinusHalf;
  } else {
    volatile double q = y - kLanczosGMinusHalf;
    z = q - absx;
  }
  z = z * kLanczosG / y;
  double r;
  if (x < 0.0) {
    r = -kPi / m_sinpi(absx) / absx * std::exp(y) / lanczos_sum(absx);
    r -= z * r;
    if (absx < 140.0) {
      r /= std::pow(y, absx - 0.5);
    } else {
      double sqrtpow = std::pow(y, absx / 2.0 - 0.25);
      r /= sqrtpow;
      r /= sqrtpow;
    }
  } else {
    r = lanczos_sum(absx) / std::exp(y);
    r += z * r;
    if (absx < 140.0) {
      r *= std::pow(y, absx - 0.5);
    } else {
      double sqrtpow = std::pow(y, absx / 2.0 - 0.25);
      r *= sqrtpow;
      r *= sqrtpow;
    }
  }
  return r;
}

double m_lgamma(double x) {
  if (!std::isfinite(x)) return std::isnan(x) ? x : HUGE_VAL;
  if (x == std::floor(x) && x <= 2.0) {
    if (x <= 0.0) domain_error();
    return 0.0;
  }
  double absx = std::fabs(x);
  if (absx < 1e-20) return -std::log(absx);
  double r = std::log(lanczos_sum(absx)) - kLanczosG;
  r += (absx - 0.5) * (std::log(absx + kLanczosG - 0.5) - 1);
  if (x < 0.0) r = std::log(kPi) - std::log(std::fabs(m_sinpi(absx))) - std::log(absx) - r;
  return r;
}
double m_sqrt(double x) { return std::sqrt(x); }
double m_exp(double x) { return std::exp(x); }
double m_log1p(double x) { return std::log1p(x); }
double m_expm1(double x) { return std::expm1(x); }
double m_sin(double x) { return std::sin(x); }
double m_cos(double x) { return std::cos(x); }
double m_tan(double x) { return std::tan(x); }
double m_asin(double x) { return std::asin(x); }
double m_acos(double x) { return std::acos(x); }
double m_atan(double x) { return std::atan(x); }
double m_sinh(double x) { return std::sinh(x); }
double m_cosh(double x) { return std::cosh(x); }
double m_tanh(double x) { return std::tanh(x); }
double m_asinh(double x) { return std::asinh(x); }
double m_acosh(double x) { return std::acosh(x); }
double m_atanh(double x) { return std::atanh(x); }
double m_erf(double x) { return std::erf(x); }
double m_erfc(double x) { return std::erfc(x); }
double m_fabs(double x) { return std::fabs(x); }
double m_degrees(double x) { return x * (180.0 / M_PI); }
double m_radians(double x) { return x * (M_PI / 180.0); }

template <double (*F)(double)>
void math_to_int(Stack& s) {
  push(s, checked_int(F(pop(s).toDouble())));
}
double m_floor(double x) { return std::floor(x); }
double m_ceil(double x) { return std::ceil(x); }
double m_trunc(double x) { return std::trunc(x); }

void math_isnan(Stack& s) { push(s, std::isnan(pop(s).toDouble())); }
void math_isinf(Stack& s) { push(s, std::isinf(pop(s).toDouble())); }
void math_isfinite(Stack& s) { push(s, std::isfinite(pop(s).toDouble())); }

double m_pow(double x, double y) {
  // CPython's math.pow: special values first, then errors for finite inputs.
  if (!std::isfinite(x) || !std::isfinite(y)) {
    if (std::isnan(x)) return y == 0 ? 1.0 : x;
    if (std::isnan(y)) return x == 1 ? 1.0 : y;
    return std::pow(x, y);
  }
  if (x == 0 && y < 0) domain_error();
  if (x < 0 && y != std::floor(y)) domain_error();
  double r = std::pow(x, y);
  if (std::isinf(r)) range_error();
  return r;
}
double m_atan2(double y, double x) { return std::atan2(y, x); }
double m_fmod(double x, double y) {
  if (std::isinf(y) && std::isfinite(x)) return x;
  if (y == 0 || std::isinf(x)) {
    if (!std::isnan(x) && !std::isnan(y)) domain_error();
  }
  return std::fmod(x, y);
}
double m_copysign(double x, double y) { return std::copysign(x, y); }
double m_hypot(double x, double y) {
  double r = std::hypot(x, y);
  if (std::isinf(r) && std::isfinite(x) && std::isfinite(y)) range_error();
  return r;
}
double m_remainder(double x, double y) {
  if (std::isnan(x) || std::isnan(y)) return NAN;
  if (std::isinf(x) || y == 0) domain_error();
  return std::remainder(x, y);
}
double m_log_base(double x, double base) {
  double num = m_log(x), den = m_log(base);
  if (den == 0) raise_python("ZeroDivisionError", "float division by zero");
  return num / den;
}

int64_t m_gcd(int64_t a, int64_t b) {
  auto abs64 = [](int64_t v) -> uint64_t { return v < 0 ? uint64_t(0) - uint64_t(v) : uint64_t(v); };
  uint64_t x = abs64(a), y = abs64(b);
  while (y != 0) {
    uint64_t t = x % y;
    x = y;
    y = t;
  }
  if (x > uint64_t(std::numeric_limits<int64_t>::max())) int_overflow();
  return int64_t(x);
}
void math_factorial(Stack& s) {
  int64_t n = pop(s).toInt();
  if (n < 0) raise_python("ValueError", "factorial() not defined for negative values");
  int64_t r = 1;
  for (int64_t i = 2; i <= n; ++i) r = int_mul(r, i);
  push(s, r);
}

// ------------------------------------------------------------- effects

void warn(Stack& s) { TORCH_WARN(pop(s).toStringRef()); }
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
      {"prim::add.int(int a, int b) -> int", plain<int_binary<int_add>>},
      {"prim::add.float(float a, float b) -> float", plain<float_binary<f_add>>},
      {"prim::add.Scalar(Scalar a, Scalar b) -> Scalar", plain<scalar_binary<Arith::Add>>},
      {"prim::sub.int(int a, int b) -> int", plain<int_binary<int_sub>>},
      {"prim::sub.float(float a, float b) -> float", plain<float_binary<f_sub>>},
      {"prim::sub.Scalar(Scalar a, Scalar b) -> Scalar", plain<scalar_binary<Arith::Sub>>},
      {"prim::mul.int(int a, int b) -> int", plain<int_binary<int_mul>>},
      {"prim::mul.float(float a, float b) -> float", plain<float_binary<f_mul>>},
      {"prim::mul.Scalar(Scalar a, Scalar b) -> Scalar", plain<scalar_binary<Arith::Mul>>},
      {"prim::truediv.int(int a, int b) -> float", plain<int_truediv_op>},
      {"prim::truediv.float(float a, float b) -> float", plain<float_binary<float_truediv>>},
      {"prim::truediv.Scalar(Scalar a, Scalar b) -> float", plain<scalar_binary<Arith::TrueDiv>>},
      {"prim::floordiv.int(int a, int b) -> int", plain<int_binary<int_floordiv>>},
      {"prim::floordiv.float(float a, float b) -> float", plain<float_binary<float_floordiv>>},
      {"prim::floordiv.Scalar(Scalar a, Scalar b) -> Scalar", plain<scalar_binary<Arith::FloorDiv>>},
      {"prim::mod.int(int a, int b) -> int", plain<int_binary<int_mod>>},
      {"prim::mod.float(float a, float b) -> float", plain<float_binary<float_mod>>},
      {"prim::mod.Scalar(Scalar a, Scalar b) -> Scalar", plain<scalar_binary<Arith::Mod>>},
      {"prim::pow.int(int a, int b) -> int", plain<int_binary<int_pow>>},
      {"prim::pow.float(float a, float b) -> float", plain<float_binary<float_pow>>},
      {"prim::pow.Scalar(Scalar a, Scalar b) -> Scalar", plain<scalar_binary<Arith::Pow>>},
      {"prim::and.int(int a, int b) -> int", plain<int_binary<i_and>>},
      {"prim::and.bool(bool a, bool b) -> bool", plain<bool_binary<b_and>>},
      {"prim::or.int(int a, int b) -> int", plain<int_binary<i_or>>},
      {"prim::or.bool(bool a, bool b) -> bool", plain<bool_binary<b_or>>},
      {"prim::xor.int(int a, int b) -> int", plain<int_binary<i_xor>>},
      {"prim::xor.bool(bool a, bool b) -> bool", plain<bool_binary<b_xor>>},
      {"prim::lshift.int(int a, int b) -> int", plain<int_binary<i_lshift>>},
      {"prim::rshift.int(int a, int b) -> int", plain<int_binary<i_rshift>>},
      {"prim::invert.int(int a) -> int", plain<invert_int>},
      {"prim::neg.int(int a) -> int", plain<neg_int>},
      {"prim::neg.float(float a) -> float", plain<neg_float>},
      {"prim::neg.Scalar(Scalar a) -> Scalar", plain<neg_scalar>},
      {"prim::abs.int(int a) -> int", plain<abs_int>},
      {"prim::abs.float(float a) -> float", plain<abs_float>},
      {"prim::abs.Scalar(Scalar a) -> Scalar", plain<abs_scalar>},
      {"prim::min.int(int a, int b) -> int", plain<int_binary<i_min>>},
      {"prim::max.int(int a, int b) -> int", plain<int_binary<i_max>>},
      {"prim::min.float(float a, float b) -> float", plain<float_binary<f_min>>},
      {"prim::max.float(float a, float b) -> float", plain<float_binary<f_max>>},
      {"prim::round.float(float a) -> int", plain<round_float>},
      {"prim::round.ndigits(float a, int ndigits) -> float", plain<round_ndigits>},
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
      {"prim::math_sqrt(float x) -> float", plain<math1<m_sqrt, false>>},
      {"prim::math_exp(float x) -> float", plain<math1<m_exp, true>>},
      {"prim::math_log(float x) -> float", plain<math1<m_log, false>>},
      {"prim::math_log10(float x) -> float", plain<math1<m_log10, false>>},
      {"prim::math_log2(float x) -> float", plain<math1<m_log2, false>>},
      {"prim::math_log1p(float x) -> float", plain<math1<m_log1p, false>>},
      {"prim::math_expm1(float x) -> float", plain<math1<m_expm1, true>>},
      {"prim::math_sin(float x) -> float", plain<math1<m_sin, false>>},
      {"prim::math_cos(float x) -> float", plain<math1<m_cos, false>>},
      {"prim::math_tan(float x) -> float", plain<math1<m_tan, false>>},
      {"prim::math_asin(float x) -> float", plain<math1<m_asin, false>>},
      {"prim::math_acos(float x) -> float", plain<math1<m_acos, false>>},
      {"prim::math_atan(float x) -> float", plain<math1<m_atan, false>>},
      {"prim::math_sinh(float x) -> float", plain<math1<m_sinh, true>>},
      {"prim::math_cosh(float x) -> float", plain<math1<m_cosh, true>>},
      {"prim::math_tanh(float x) -> float", plain<math1<m_tanh, false>>},
      {"prim::math_asinh(float x) -> float", plain<math1<m_asinh, false>>},
      {"prim::math_acosh(float x) -> float", plain<math1<m_acosh, false>>},
      {"prim::math_atanh(float x) -> float", plain<math1<m_atanh, false>>},
      {"prim::math_erf(float x) -> float", plain<math1<m_erf, false>>},
      {"prim::math_erfc(float x) -> float", plain<math1<m_erfc, false>>},
      {"prim::math_gamma(float x) -> float", plain<math1<m_gamma, true>>},
      {"prim::math_lgamma(float x) -> float", plain<math1<m_lgamma, true>>},
      {"prim::math_fabs(float x) -> float", plain<math1<m_fabs, false>>},
      {"prim::math_degrees(float x) -> float", plain<math1<m_degrees, true>>},
      {"prim::math_radians(float x) -> float", plain<math1<m_radians, true>>},
      {"prim::math_floor(float x) -> int", plain<math_to_int<m_floor>>},
      {"prim::math_ceil(float x) -> int", plain<math_to_int<m_ceil>>},
      {"prim::math_trunc(float x) -> int", plain<math_to_int<m_trunc>>},
      {"prim::math_isnan(float x) -> bool", plain<math_isnan>},
      {"prim::math_isinf(float x) -> bool", plain<math_isinf>},
      {"prim::math_isfinite(float x) -> bool", plain<math_isfinite>},
      {"prim::math_pow(float x, float y) -> float", plain<float_binary<m_pow>>},
      {"prim::math_atan2(float x, float y) -> float", plain<float_binary<m_atan2>>},
      {"prim::math_fmod(float x, float y) -> float", plain<float_binary<m_fmod>>},
      {"prim::math_copysign(float x, float y) -> float", plain<float_binary<m_copysign>>},
      {"prim::math_hypot(float x, float y) -> float", plain<float_binary<m_hypot>>},
      {"prim::math_remainder(float x, float y) -> float", plain<float_binary<m_remainder>>},
      {"prim::math_log.base(float x, float base) -> float", plain<float_binary<m_log_base>>},
      {"prim::math_gcd(int a, int b) -> int", plain<int_binary<m_gcd>>},
      {"prim::math_factorial(int a) -> int", plain<math_factorial>},
      {"prim::warn(str message) -> ()", plain<warn>},
      {"prim::is_grad_enabled() -> bool", plain<is_grad_enabled>},
      {"prim::set_grad_enabled(bool enabled) -> ()", plain<set_grad_enabled>},
      {"prim::is_autocast_enabled() -> bool", plain<is_autocast_enabled>},
      {"prim::isinstance(Any x) -> bool", isinstance},
      {"prim::device_type(Device d) -> str", plain<device_type>},
      {"prim::device_index(Device d) -> int?", plain<device_index>},
      {"prim::tensor(t data, ScalarType? dtype, Device? device, bool requires_grad) -> Tensor", plain<tensor>},
  });
  add_container_prims(t);
  add_str_prims(t);
}

}  // namespace torchkiln::detail
