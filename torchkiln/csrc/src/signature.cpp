// Op signatures (signature.h): the prim table assembled and its schemas
// parsed, ATen schemas read, and accepts(), the type rule of op arguments.
#include <ATen/core/function_schema.h>

#include <algorithm>

#include "error.h"
#include "signature.h"
#include "types.h"

namespace torchkiln::detail {

// ------------------------------------------------------------- prim table

std::string schema_name(const char* schema) {
  std::string s(schema);
  return s.substr(0, s.find('('));
}

const std::vector<PrimDef>& prim_table() {
  static const auto* table = [] {
    auto* t = new std::vector<PrimDef>();
    add_core_prims(*t);
    add_lang_prims(*t);
    std::sort(t->begin(), t->end(),
              [](const PrimDef& a, const PrimDef& b) { return schema_name(a.schema) < schema_name(b.schema); });
    return t;
  }();
  return *table;
}

// ------------------------------------------------------------- signatures

Signature signature_of(const c10::FunctionSchema& s) {
  Signature sig;
  for (const c10::Argument& a : s.arguments()) {
    sig.names.push_back(a.name());
    sig.args.push_back(a.type());
  }
  sig.vararg = s.is_vararg();
  for (const c10::Argument& r : s.returns()) sig.returns.push_back(r.type());
  sig.varret = s.is_varret();
  return sig;
}

namespace {

// Items of a comma-separated list, split at depth 0.
std::vector<std::string> split_top(const std::string& text) {
  std::vector<std::string> items;
  int depth = 0;
  std::string cur;
  for (char c : text) {
    if (c == '(' || c == '[') ++depth;
    if (c == ')' || c == ']') --depth;
    if (c == ',' && depth == 0) {
      items.push_back(cur);
      cur.clear();
      continue;
    }
    cur += c;
  }
  if (!cur.empty()) items.push_back(cur);
  for (auto& item : items) {
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
  }
  return items;
}

// A prim schema of the table: `prim::name.overload(T a, U b, ...) -> R`.
// (c10's parser cannot read these: `and`, `or`, `not`, `is` are keywords to it.)
Signature parse_prim_schema(const std::string& text) {
  Signature sig;
  size_t open = text.find('('), arrow = text.rfind(" -> ");
  size_t close = text.rfind(')', arrow);
  auto bad = [&] { return Error("bad prim schema in the C++ table: " + text); };
  if (open == std::string::npos || arrow == std::string::npos || close == std::string::npos) throw bad();
  for (const std::string& item : split_top(text.substr(open + 1, close - open - 1))) {
    if (item == "...") {
      sig.vararg = true;
      continue;
    }
    if (item == "*") continue;
    // A default (`bool create_graph=False`) is for the compiler: every input is explicit here.
    std::string arg = item.substr(0, item.find('='));
    size_t space = arg.rfind(' ');
    if (space == std::string::npos) throw bad();
    sig.names.push_back(arg.substr(space + 1));
    sig.args.push_back(parse_schema_type(arg.substr(0, space), text));
  }
  std::string rets = text.substr(arrow + 4);
  if (rets == "...") {
    sig.varret = true;
  } else if (rets.front() == '(' && rets.back() == ')' && split_top(rets.substr(1, rets.size() - 2)).size() != 1) {
    for (const std::string& item : split_top(rets.substr(1, rets.size() - 2)))
      sig.returns.push_back(parse_schema_type(item.substr(0, item.find(' ')), text));
  } else {
    sig.returns.push_back(parse_schema_type(rets, text));
  }
  return sig;
}

}  // namespace

const std::unordered_map<std::string, PrimEntry>& prim_entries() {
  static const auto* entries = [] {
    auto* map = new std::unordered_map<std::string, PrimEntry>();
    for (const PrimDef& def : prim_table()) map->emplace(schema_name(def.schema), PrimEntry{def, parse_prim_schema(def.schema)});
    return map;
  }();
  return *entries;
}

// ------------------------------------------------------- schema checking

bool accepts(const TypePtr& want, const TypePtr& have, int depth) {
  using K = c10::TypeKind;
  if (depth > 100) return false;
  work_step(depth);
  if (want->kind() == K::AnyType || want->kind() == K::VarType || have->kind() == K::AnyType) return true;
  if (is_subtype(have, want, depth + 1)) return true;
  switch (want->kind()) {
    case K::OptionalType: {
      const TypePtr& elem = want->expectRef<c10::OptionalType>().getElementType();
      if (have->kind() == K::NoneType) return true;
      if (have->kind() == K::OptionalType)
        return accepts(elem, have->expectRef<c10::OptionalType>().getElementType(), depth + 1);
      return accepts(elem, have, depth + 1);
    }
    case K::UnionType: {
      if (have->kind() == K::UnionType || have->kind() == K::OptionalType) {
        for (const TypePtr& m : have->containedTypes())
          if (!accepts(want, m, depth + 1)) return false;
        return have->kind() == K::UnionType || accepts(want, c10::NoneType::get(), depth + 1);
      }
      for (const TypePtr& m : want->containedTypes())
        if (accepts(m, have, depth + 1)) return true;
      return false;
    }
    case K::NumberType:
    case K::ComplexType: {
      auto k = have->kind();
      if (k == K::UnionType) {  // `int | float`: every member is a number
        for (const TypePtr& m : have->containedTypes())
          if (!accepts(want, m, depth + 1)) return false;
        return true;
      }
      return k == K::IntType || k == K::FloatType || k == K::BoolType || k == K::NumberType || k == K::ComplexType;
    }
    case K::ListType:
      return have->kind() == K::ListType && accepts(want->expectRef<c10::ListType>().getElementType(),
                                                    have->expectRef<c10::ListType>().getElementType(), depth + 1);
    case K::FutureType:
      return have->kind() == K::FutureType && accepts(want->expectRef<c10::FutureType>().getElementType(),
                                                      have->expectRef<c10::FutureType>().getElementType(), depth + 1);
    case K::DictType: {
      if (have->kind() != K::DictType) return false;
      const auto& w = want->expectRef<c10::DictType>();
      const auto& h = have->expectRef<c10::DictType>();
      return accepts(w.getKeyType(), h.getKeyType(), depth + 1) && accepts(w.getValueType(), h.getValueType(), depth + 1);
    }
    case K::TupleType: {
      if (have->kind() != K::TupleType) return false;
      const auto& w = want->expectRef<c10::TupleType>().elements();
      const auto& h = have->expectRef<c10::TupleType>().elements();
      if (w.size() != h.size()) return false;
      for (size_t i = 0; i < w.size(); ++i)
        if (!accepts(w[i], h[i], depth + 1)) return false;
      return true;
    }
    default: return *want == *have;
  }
}

bool compatible(const TypePtr& a, const TypePtr& b) { return accepts(a, b) || accepts(b, a); }

namespace {

// ScalarType, Layout and MemoryFormat values are ints at run time (types.h);
// dispatcher schemas declare them `int` (c10::Argument::type(), not
// real_type()), while the IR types them by their real type
// (`aten::to.dtype(Tensor, ScalarType, ...)`). `t` with such types as int.
TypePtr enum_as_int(const TypePtr& t) {
  using K = c10::TypeKind;
  auto k = t->kind();
  if (k == K::ScalarTypeType || k == K::LayoutType || k == K::MemoryFormatType) return c10::IntType::get();
  if (k == K::OptionalType) {
    const TypePtr& elem = t->expectRef<c10::OptionalType>().getElementType();
    TypePtr as_int = enum_as_int(elem);
    if (as_int != elem) return c10::OptionalType::create(as_int);
  }
  return t;
}

}  // namespace

bool accepts_schema(const TypePtr& want, const TypePtr& have) {
  return accepts(want, have) || accepts(enum_as_int(want), enum_as_int(have));
}

}  // namespace torchkiln::detail
