// Op signatures, as the compiler (compile.cpp) checks nodes against them:
// ATen schemas as the dispatcher holds them, prim schemas parsed from the
// prim table (assembled in signature.cpp), and the rule for passing a
// value of one static type where an op declares another.
#pragma once

#include <ATen/core/function_schema.h>
#include <ATen/core/ivalue.h>

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "prims.h"

namespace torchkiln::detail {

// What checking a node needs from an op's schema.
struct Signature {
  std::vector<std::string> names;
  std::vector<TypePtr> args;
  bool vararg = false;  // `...` after the arguments
  std::vector<TypePtr> returns;
  bool varret = false;  // `-> ...`
};

Signature signature_of(const c10::FunctionSchema& s);

struct PrimEntry {
  PrimDef def;
  Signature signature;
};

// The prim table by name (`prim::add.int`), schemas parsed; built once.
const std::unordered_map<std::string, PrimEntry>& prim_entries();

// Whether a value of static type `have` may be passed where an op's schema
// declares `want`. A superset of the IR verifier's rule (ATen's boxed
// kernels check the values again at run time).
bool accepts(const TypePtr& want, const TypePtr& have, int depth = 0);

// Either way round: for an op's declared result and the node's output.
bool compatible(const TypePtr& a, const TypePtr& b);

// accepts() for an ATen op's argument or result, enum types counting as int.
bool accepts_schema(const TypePtr& want, const TypePtr& have);

}  // namespace torchkiln::detail
