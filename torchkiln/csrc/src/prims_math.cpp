// Python's math module: the prim::math_* ops of torchkiln/ops/lang.py,
// with CPython's errors (ValueError "math domain error", OverflowError
// "math range error") and, for gamma and lgamma, CPython's algorithm.
#include <cmath>
#include <limits>

#include "lang.h"
#include "prims.h"

namespace torchkiln::detail {

using torch::jit::pop;
using torch::jit::push;

namespace {

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

// math.modf(x): two outputs, (fractional part, integral part), both with x's sign.
void math_modf(Stack& s) {
  double x = pop(s).toDouble();
  double integral;
  double frac = std::isinf(x) ? std::copysign(0.0, x) : std::modf(x, &integral);
  if (std::isinf(x)) integral = x;
  push(s, frac);
  push(s, integral);
}

}  // namespace

void add_math_prims(std::vector<PrimDef>& t) {
  t.insert(t.end(), {
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
      {"prim::math_modf(float x) -> (float, float)", plain<math_modf>},
  });
}

}  // namespace torchkiln::detail
