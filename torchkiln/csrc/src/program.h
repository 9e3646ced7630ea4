// A loaded program: classes, functions compiled to register code, the root.
//
// Note [Register code]
// --------------------
// Each function's graph is compiled once, at load, into flat arrays:
//
//   graph(%x : Tensor, %w : Tensor):              blocks[0] = instrs [0, 2)
//     %1 : int = prim::Constant[value=1]()        (no instruction: constants[0])
//     %2 : Tensor = aten::mul.Tensor(%x, %w)      Aten  in=(r0, move r1) out=(r2)
//     %3 : Tensor = aten::add.Tensor(%2, %x, %1)  Aten  in=(move r2, move r0, const 0) out=(r3)
//     return (%3)                                 returns=(move r3)
//
// - Every value of the graph has a register (its id); constants have none,
//   operands read them from the constant table (except list and dict
//   constants, which are instructions making a fresh copy, as Python does).
// - An operand moves its register out at the value's last use, so tensors
//   are freed as early as in eager mode and in-place reuse stays possible;
//   a value whose last use is inside a nested block (a loop body, an `if`
//   branch) is cleared after the node owning that block (`drop`).
// - `prim::If` and `prim::Loop` refer to their blocks by index; the
//   interpreter recurses into them, so control flow costs no dispatch.
// - ATen ops are dispatcher handles called boxed; prim ops are Operations
//   made by their factory at load. Nothing at run time looks up a name.
//   (`x * 0.5` and friends: Note [Scalar constants as tensors], reuse.cpp.)
// - ATen ops whose schema is functional run below autograd when grad mode
//   is off (Note [Functional ops below autograd], fastpath.h);
//   elementwise ones may write into a dying input's buffer through their
//   `.out` overload (Note [Buffer reuse], reuse.cpp).
#pragma once

#include <ATen/core/class_type.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/ivalue.h>

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "prims.h"

namespace torchkiln::detail {

struct SourceLoc {
  std::string file;
  int64_t line = 0;
  int64_t col = 0;
  std::optional<int64_t> end_col;
  std::optional<std::string> text;

  // `  File "model.py", line 7, column 16, in forward` + the line + a caret.
  std::string render(const std::string& function) const;
};

// Where an instruction reads an input.
class Operand {
 public:
  enum Kind : uint32_t { Copy = 0, Move = 1, Const = 2, FreshConst = 3 };
  Operand(Kind kind, uint32_t index) : bits_((uint32_t(kind) << 30) | index) {}
  Kind kind() const { return Kind(bits_ >> 30); }
  uint32_t index() const { return bits_ & 0x3FFFFFFFu; }

 private:
  uint32_t bits_;
};

enum class OpCode : uint8_t { Aten, AtenPure, AtenReuse, Prim, If, Loop, GetAttr, SetAttr, Call, Fork, DynGetAttr, DynSetAttr, DynCall };

struct Instr {
  OpCode op;
  uint32_t in, n_in;      // operands[in, in + n_in)
  uint32_t out, n_out;    // regs[out, out + n_out): output registers
  uint32_t drop, n_drop;  // regs[drop, drop + n_drop): cleared afterwards
  // Aten, AtenPure: aten[arg]; AtenReuse: reuse[arg]; Prim: prims[arg]; If: blocks[arg], blocks[arg + 1];
  // Loop: blocks[arg]; GetAttr/SetAttr: slot; Call: Program::functions[arg];
  // Fork: forks[arg]; DynGetAttr/DynSetAttr/DynCall: dynamic[arg].
  uint32_t arg;
  uint32_t node;  // nodes[node], for messages
};

struct BlockCode {
  uint32_t begin = 0, end = 0;         // instrs[begin, end)
  uint32_t params = 0, n_params = 0;   // regs[params, ...)
  uint32_t returns = 0, n_returns = 0; // operands[returns, ...)
};

struct NodeInfo {
  std::string kind;
  int32_t loc;  // index into Program::locs or -1
};

struct ArgInfo {
  std::string name;
  c10::TypePtr type;
  std::optional<c10::IValue> default_value;
  bool kwarg_only = false;
  bool positional_only = false;  // `def f(x, /)`: a Python caller cannot name it
};

struct ClassInfo;

// An elementwise functional op that may write its result into a dying input
// (Note [Buffer reuse] in reuse.cpp).
struct ReuseOp {
  c10::OperatorHandle functional;
  c10::OperatorHandle out;              // the same arguments, then `*, Tensor(a!) out`
  std::vector<uint32_t> candidates;     // argument positions whose operand moves a Tensor
  uint32_t dtypes = 0;                  // bit per c10::ScalarType: inputs of that dtype give a result of it
};

struct Code {
  std::string name;      // __torch__.Net.forward, __torch__.helper
  std::string function;  // forward, helper (for tracebacks)
  const ClassInfo* self_class = nullptr;  // set for methods
  std::vector<ArgInfo> args;
  c10::TypePtr returns;
  int32_t loc = -1;

  std::vector<Instr> instrs;
  std::vector<BlockCode> blocks;  // blocks[0]: the graph
  std::vector<Operand> operands;
  std::vector<uint32_t> regs;
  std::vector<c10::IValue> constants;
  std::vector<c10::OperatorHandle> aten;
  std::vector<ReuseOp> reuse;
  std::vector<Operation> prims;
  struct ForkInfo {
    uint32_t function;    // Program::functions index
    c10::TypePtr type;    // the Future's element type
  };
  std::vector<ForkInfo> forks;
  // An attribute or method looked up by the object's class at run time
  // (the object's static type is Any): one entry per class that has it.
  struct Dynamic {
    std::string name;
    std::vector<std::pair<const c10::Type*, uint32_t>> slots;      // class -> attribute slot
    std::vector<std::pair<const c10::Type*, c10::IValue>> constants;  // class -> class constant
    std::vector<std::pair<const c10::Type*, uint32_t>> methods;    // class -> Program::functions index
  };
  std::vector<Dynamic> dynamic;
  std::vector<NodeInfo> nodes;
  uint32_t num_regs = 0;
};

struct ClassInfo {
  std::string name;
  c10::ClassTypePtr type;
  bool is_module = false;
  std::vector<std::string> attr_kinds;  // per slot: parameter, buffer, module, attribute
  // The slot added for nn.Module.training when the class declares none; -1 otherwise.
  int32_t implicit_training_slot = -1;
  std::vector<std::string> method_names;  // declaration order
  std::unordered_map<std::string, uint32_t> methods;  // name -> Program::functions index
  std::vector<std::pair<std::string, c10::IValue>> constants;
};

// An interface of ir.json (docs/archive.md §4, INTERFACE): values of it are
// objects of the classes implementing it, whose methods are called by the
// object's class like those of an `Any` receiver.
struct InterfaceInfo {
  struct Method {
    std::string name;
    std::vector<std::pair<std::string, c10::TypePtr>> args;  // args[0] is self
    c10::TypePtr returns;
  };
  std::string name;
  c10::InterfaceTypePtr type;
  bool is_module = false;
  std::vector<Method> methods;
  std::unordered_set<const c10::Type*> implementers;  // the class types whose methods fit, found at load
};

struct Program : std::enable_shared_from_this<Program> {
  std::vector<SourceLoc> locs;
  std::vector<std::unique_ptr<Code>> functions;  // methods and free functions
  std::unordered_map<std::string, uint32_t> free_functions;
  std::vector<std::unique_ptr<ClassInfo>> classes;
  std::unordered_map<std::string, const ClassInfo*> class_by_name;
  std::unordered_map<const c10::Type*, const ClassInfo*> class_by_type;  // by ClassType
  std::vector<std::unique_ptr<InterfaceInfo>> interfaces;
  std::unordered_map<std::string, const InterfaceInfo*> interface_by_name;
  std::unordered_map<const c10::Type*, const InterfaceInfo*> interface_by_type;  // by InterfaceType

  // Root: a module object (root_class set) or a free function.
  c10::IValue root;
  const ClassInfo* root_class = nullptr;
  const Code* root_function = nullptr;
};

// Runs `code` with its arguments (self first for methods) on top of
// `stack`; leaves the result there. Errors are ProgramErrors with a
// traceback of source locations.
void run_code(const Program& program, const Code& code, Stack& stack);

// Whether `v` fits the interface type `iface` (or `iface?`): an object of a class implementing it
// (None for `iface?`). Values of other types: true (`conforms` checks them).
bool implements_interface(const Program& program, const c10::IValue& v, const c10::TypePtr& type);

// Checks and completes positional arguments for a public call (defaults,
// types), then runs. `self` is ignored for a free function.
c10::IValue call_function(const Program& program, const Code& code, c10::IValue self, std::vector<c10::IValue> args);

}  // namespace torchkiln::detail
