// Helpers shared by the Python-language prim ops (prims_lang.cpp,
// prims_str.cpp): Python's equality and ordering, indexes and slices.
#pragma once

#include <ATen/core/ivalue.h>

#include <string>
#include <vector>

#include "prims.h"

namespace torchkiln::detail {

// Python's `type(v).__name__` for messages.
std::string py_type_name(const c10::IValue& v);

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

// Index `index` into `size` items, negative from the end; IndexError(message).
int64_t normalize_index(int64_t index, int64_t size, const char* message);

// The items a Python slice [start:stop:step] (each may be None) selects.
struct SliceRange {
  int64_t start, step, length;
};
SliceRange slice_range(int64_t length, const c10::IValue& start, const c10::IValue& stop, const c10::IValue& step);

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
