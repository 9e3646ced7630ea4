// The graphs of an archive as read from ir.json, before compilation.
//
// The loader builds these while checking the structural rules of
// docs/archive.md §4 (ids in definition order, no forward references,
// scoping, nesting depth); the compiler (compile.cpp) checks each node
// against its op and turns the function into register code.
#pragma once

#include <ATen/core/jit_type.h>
#include <nlohmann/json_fwd.hpp>

#include <string>
#include <vector>

#include "program.h"
#include "types.h"

namespace torchkiln::detail {

struct IrBlock;

struct IrNode {
  std::string kind;
  std::vector<uint32_t> inputs;
  std::vector<uint32_t> outputs;
  const Json* attrs = nullptr;  // a JSON object
  std::vector<IrBlock> blocks;
  int32_t loc = -1;
  std::string where;  // "ir.json: functions[0].graph.nodes[3]"
};

struct IrBlock {
  std::vector<uint32_t> params;
  std::vector<IrNode> nodes;
  std::vector<uint32_t> returns;
};

struct IrFunction {
  std::string where;
  std::vector<c10::TypePtr> types;  // of each value, by id
  IrBlock graph;
};

// What compiling needs from the rest of the program being loaded.
struct CompileContext {
  Program& program;
  const ValueDecoder& values;
};

// Checks every node of `fn` against its op and fills `code`'s instructions
// (`code`'s signature fields are already set).
void compile_function(const IrFunction& fn, Code& code, const CompileContext& ctx);

}  // namespace torchkiln::detail
