// Helpers shared by the Python-language prim ops (prims_lang.cpp,
// prims_numbers.cpp, prims_math.cpp, prims_str.cpp, ...): Python numbers,
// equality and ordering, indexes and slices.
#pragma once

#include <ATen/core/ivalue.h>
#include <ATen/core/stack.h>

#include <string>
#include <vector>

#include "prims.h"

namespace torchkiln::detail {

// Python's `type(v).__name__` for messages.
std::string py_type_name(const c10::IValue& v);

// Python numbers at run time: int, bool (an int too), float, complex.
inline bool is_number(const c10::IValue& v) { return v.isInt() || v.isBool() || v.isDouble() || v.isComplexDouble(); }
inline bool is_int_like(const c10::IValue& v) { return v.isInt() || v.isBool(); }
inline int64_t as_int(const c10::IValue& v) { return v.isBool() ? int64_t(v.toBool()) : v.toInt(); }
inline double as_double(const c10::IValue& v) {
  if (v.isDouble()) return v.toDouble();
  return double(as_int(v));
}
inline c10::complex<double> as_complex(const c10::IValue& v) {
  if (v.isComplexDouble()) return v.toComplexDouble();
  return {as_double(v), 0.0};
}

// `a == b` as Python defines it (numbers across int/float/bool, sequences
// element by element, dicts by key).
bool py_eq(const c10::IValue& a, const c10::IValue& b, int depth = 0);

enum class CompareOp { Lt, Le, Gt, Ge };
// `a < b` (etc.); TypeError for values Python cannot order.
bool py_compare(const c10::IValue& a, const c10::IValue& b, CompareOp op, int depth = 0);
bool py_lt(const c10::IValue& a, const c10::IValue& b);

// A float converted to int as int(x) does; ValueError / OverflowError.
int64_t checked_int(double d);
[[noreturn]] void int_overflow();
// a * b; OverflowError where Python's result would not fit in int64 (prims_numbers.cpp).
int64_t int_mul(int64_t a, int64_t b);

// The op of two ints (two floats) computing F(a, b).
template <int64_t (*F)(int64_t, int64_t)>
void int_binary(Stack& s) {
  int64_t b = torch::jit::pop(s).toInt(), a = torch::jit::pop(s).toInt();
  torch::jit::push(s, F(a, b));
}
template <double (*F)(double, double)>
void float_binary(Stack& s) {
  double b = torch::jit::pop(s).toDouble(), a = torch::jit::pop(s).toDouble();
  torch::jit::push(s, F(a, b));
}

// Index `index` into `size` items, negative from the end; IndexError(message).
int64_t normalize_index(int64_t index, int64_t size, const char* message);

// The items a Python slice [start:stop:step] (each may be None) selects.
struct SliceRange {
  int64_t start, step, length;
};
SliceRange slice_range(int64_t length, const c10::IValue& start, const c10::IValue& stop, const c10::IValue& step);

// prims_numbers.cpp: arithmetic on int, float and Scalar.
void add_number_prims(std::vector<PrimDef>& table);
// prims_math.cpp: the math module.
void add_math_prims(std::vector<PrimDef>& table);
// prims_containers.cpp: lists, dicts and the builtins over lists.
void add_container_prims(std::vector<PrimDef>& table);

// prims_str.cpp: the str ops and str methods of ops/lang.py.
void add_str_prims(std::vector<PrimDef>& table);
// format.cpp: str.format and % formatting.
void add_format_prims(std::vector<PrimDef>& table);

// UTF-8 strings by code point (prims_str.cpp).
std::vector<size_t> code_points(const std::string& s);  // byte offset of each, plus the end
bool is_ascii(const std::string& s);
int64_t cp_length(const std::string& s);
std::vector<std::string> split_chars(const std::string& s);
std::string encode_cp(uint32_t cp);
std::string repeat(const std::string& s, int64_t n);
// `s` padded to `width` code points with `fill`, aligned '<', '>' or '^'.
std::string pad(const std::string& s, int64_t width, const std::string& fill, char align);

}  // namespace torchkiln::detail
