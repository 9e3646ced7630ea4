// The number ops of torchkiln/ops/lang.py, Python semantics: arithmetic,
// bitwise ops, min/max, neg/abs/round on int, float, bool and Scalar
// (`.Scalar` overloads decide by the values' run-time kinds). The math
// module is in prims_math.cpp.
//
// ints are int64: where Python would grow a bigger int, these ops raise
// OverflowError instead of wrapping around.
#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "error.h"
#include "lang.h"
#include "prims.h"

namespace torchkiln::detail {

using torch::jit::pop;
using torch::jit::push;

int64_t int_mul(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) int_overflow();
  return r;
}

namespace {

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
int64_t int_floordiv(int64_t a, int64_t b) {
  if (b == 0) raise_python("ZeroDivisionError", "integer division or modulo by zero");
  if (a == std::numeric_limits<int64_t>::min() && b == -1) int_overflow();
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}
int64_t int_mod(int64_t a, int64_t b) {
  if (b == 0) raise_python("ZeroDivisionError", "integer modulo by zero");
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

// divmod(a, b): two outputs, Python's messages (`divmod(1, 0)` is int floor division's).
void divmod_int(Stack& s) {
  int64_t b = pop(s).toInt(), a = pop(s).toInt();
  int64_t q = int_floordiv(a, b);
  push(s, q);
  push(s, int_mod(a, b));
}
void divmod_float(Stack& s) {
  double b = pop(s).toDouble(), a = pop(s).toDouble();
  auto [q, r] = float_divmod(a, b, "float divmod()");
  push(s, q);
  push(s, r);
}

// hex/oct/bin: Python's prefix, a '-' before it for negative numbers.
template <int Bits>
void int_to_base(Stack& s) {
  int64_t i = pop(s).toInt();
  uint64_t m = i < 0 ? uint64_t(0) - uint64_t(i) : uint64_t(i);
  std::string digits;
  do {
    digits += "0123456789abcdef"[m & ((1u << Bits) - 1)];
    m >>= Bits;
  } while (m);
  std::reverse(digits.begin(), digits.end());
  push(s, std::string(i < 0 ? "-" : "") + (Bits == 4 ? "0x" : Bits == 3 ? "0o" : "0b") + digits);
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

}  // namespace

void add_number_prims(std::vector<PrimDef>& t) {
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
      {"prim::divmod.int(int a, int b) -> (int, int)", plain<divmod_int>},
      {"prim::divmod.float(float a, float b) -> (float, float)", plain<divmod_float>},
      {"prim::hex(int i) -> str", plain<int_to_base<4>>},
      {"prim::oct(int i) -> str", plain<int_to_base<3>>},
      {"prim::bin(int i) -> str", plain<int_to_base<1>>},
      {"prim::round.float(float a) -> int", plain<round_float>},
      {"prim::round.ndigits(float a, int ndigits) -> float", plain<round_ndigits>},
  });
}

}  // namespace torchkiln::detail
