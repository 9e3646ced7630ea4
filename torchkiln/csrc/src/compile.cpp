// IR graph -> register code (Note [Register code] in program.h).
//
// Two walks over each function, in the same order:
//  1. liveness: for every value, its last use; a last use directly in the
//     block that defines the value becomes a move, one inside a nested block
//     becomes a drop after the node owning that block (Note [Last use]);
//     constants are decoded here (they get no register);
//  2. emission: every node is checked against its op (schema arity and
//     types, structural rules of If/Loop/GetAttr/...), resolved once
//     (dispatcher handle, prim Operation, callee), and turned into an Instr.
// Op signatures and the prim table are in signature.cpp; which ATen calls
// reuse a dying input's buffer is decided in reuse.cpp.
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/function_schema.h>
#include <nlohmann/json.hpp>

#include <algorithm>

#include "error.h"
#include "ir.h"
#include "reuse.h"
#include "signature.h"

namespace torchkiln::detail {

namespace {

// ------------------------------------------------------ functional ops

// Whether a schema is functional: no alias annotation on any argument or
// result (nothing mutated, no result aliasing an input), at least one
// result (Note [Functional ops below autograd] in fastpath.h).
bool is_functional(const c10::FunctionSchema& s) {
  if (s.is_vararg() || s.is_varret() || s.returns().empty()) return false;
  for (const c10::Argument& a : s.arguments())
    if (a.alias_info() != nullptr) return false;
  for (const c10::Argument& r : s.returns())
    if (r.alias_info() != nullptr) return false;
  return true;
}

// -------------------------------------------------------- factory view

class PrimNodeView : public PrimNode {
 public:
  PrimNodeView(const IrNode& node, std::vector<TypePtr> in, std::vector<TypePtr> out, const CompileContext& ctx)
      : node_(node), in_(std::move(in)), out_(std::move(out)), ctx_(ctx) {}
  const std::string& kind() const override { return node_.kind; }
  const std::vector<TypePtr>& input_types() const override { return in_; }
  const std::vector<TypePtr>& output_types() const override { return out_; }
  bool has_attr(const std::string& name) const override { return node_.attrs->contains(name); }
  int64_t attr_int(const std::string& name) const override { return attr_value(name, c10::IntType::get()).toInt(); }
  std::string attr_str(const std::string& name) const override {
    return attr_value(name, c10::StringType::get()).toStringRef();
  }
  TypePtr attr_type(const std::string& name) const override {
    return ctx_.values.decode_type(attr(name), node_.where + ".attrs." + name);
  }
  std::vector<TypePtr> attr_type_list(const std::string& name) const override {
    const std::string where = node_.where + ".attrs." + name;
    const Json& list = attr(name);
    expect_fields(list, {"tag", "value"}, where);
    if (list["tag"] != "list") error("attribute '" + name + "' must be a list of types");
    std::vector<TypePtr> out;
    const Json& items = json_array(list["value"], where + ".value");
    for (size_t i = 0; i < items.size(); ++i) out.push_back(ctx_.values.decode_type(items[i], cat(where, "[", i, "]")));
    return out;
  }
  c10::IValue attr_value(const std::string& name, const TypePtr& expected) const override {
    return ctx_.values.decode(attr(name), expected, node_.where + ".attrs." + name);
  }
  [[noreturn]] void error(const std::string& message) const override { fail(node_.where, ": ", node_.kind, ": ", message); }

 private:
  const Json& attr(const std::string& name) const {
    auto it = node_.attrs->find(name);
    if (it == node_.attrs->end()) error("missing attribute '" + name + "'");
    return *it;
  }
  const IrNode& node_;
  std::vector<TypePtr> in_, out_;
  const CompileContext& ctx_;
};

// ------------------------------------------------------------- compiler

// Note [Last use]
// ---------------
// Uses are numbered in walk order (node inputs, then the node's blocks:
// their nodes, then their returns). For a value defined at nesting level l,
// a use at level l is "direct"; a deeper use lies inside the node at level l
// that owns the nested block (its "anchor"). The last use decides:
//   direct        -> that operand moves the register out
//   inside anchor -> the register is cleared after the anchor runs
// (a loop body runs many times, so a value from outside it can never be
// moved inside it; after the loop it is dead).
class Compiler {
 public:
  Compiler(const IrFunction& fn, Code& code, const CompileContext& ctx)
      : fn_(fn), code_(code), ctx_(ctx), n_(fn.types.size()) {
    if (n_ >= (1u << 30)) fail(fn.where, ": too many values");
    last_site_.assign(n_, -1);
    last_direct_.assign(n_, 0);
    last_anchor_.assign(n_, nullptr);
    def_level_.assign(n_, 0);
    def_node_.assign(n_, nullptr);
    const_index_.assign(n_, -1);
  }

  void run() {
    const IrBlock& top = fn_.graph;
    if (top.returns.size() != 1) fail(fn_.where, ": a function graph returns exactly one value");
    if (!accepts(code_.returns, type(top.returns[0])))
      fail(fn_.where, ": returns ", type_text(type(top.returns[0])), " but the function declares ", type_text(code_.returns));
    scan_block(top, 0);
    for (uint32_t v = 0; v < n_; ++v) {
      if (const_index_[v] >= 0) continue;
      if (last_site_[v] < 0) {
        if (def_node_[v] != nullptr) drops_[def_node_[v]].push_back(v);
      } else if (!last_direct_[v]) {
        drops_[last_anchor_[v]].push_back(v);
      }
    }
    site_ = 0;
    code_.num_regs = uint32_t(n_);
    code_.blocks.emplace_back();
    emit_block(top, 0);
  }

 private:
  const TypePtr& type(uint32_t v) const { return fn_.types[v]; }

  // -- walk 1: liveness and constants ---------------------------------------

  void scan_use(uint32_t v, int level) {
    int64_t site = site_++;
    if (const_index_[v] >= 0) return;
    int l = def_level_[v];
    last_site_[v] = site;
    last_direct_[v] = l == level;
    last_anchor_[v] = l == level ? nullptr : path_[l];
  }

  void scan_block(const IrBlock& b, int level) {
    if (path_.size() <= size_t(level)) path_.resize(level + 1);
    for (uint32_t p : b.params) def_level_[p] = level;
    for (const IrNode& n : b.nodes) {
      path_[level] = &n;
      for (uint32_t v : n.inputs) scan_use(v, level);
      for (uint32_t v : n.outputs) def_level_[v] = level, def_node_[v] = &n;
      fold_constant(n);
      for (const IrBlock& inner : n.blocks) scan_block(inner, level + 1);
    }
    for (uint32_t v : b.returns) scan_use(v, level);
  }

  // Immutable constants live in the constant table and have no register.
  // A list or dict constant is a fresh object each time its node runs (as
  // `[1, 2]` in Python), so it stays an instruction (see emit_fresh).
  void add_constant(uint32_t v, c10::IValue value) {
    if (is_mutable_type(type(v))) {
      mutable_constants_[v] = std::move(value);
      return;
    }
    const_index_[v] = int32_t(code_.constants.size());
    code_.constants.push_back(std::move(value));
  }

  // prim::Constant, and prim::GetAttr of a class constant, become constants.
  void fold_constant(const IrNode& n) {
    if (n.kind == "prim::Constant") {
      if (!n.inputs.empty() || n.outputs.size() != 1 || !n.blocks.empty())
        fail(n.where, ": prim::Constant has no inputs, one output and no blocks");
      expect_attrs(n, {"value"});
      add_constant(n.outputs[0], ctx_.values.decode((*n.attrs)["value"], type(n.outputs[0]), n.where + ".attrs.value"));
      return;
    }
    if (n.kind == "prim::GetAttr" && n.inputs.size() == 1 && n.outputs.size() == 1) {
      const ClassInfo* cls = class_of(n.inputs[0]);
      if (cls == nullptr) return;
      const std::string& name = attr_name(n);
      if (cls->type->findAttributeSlot(name)) return;
      for (const auto& [cname, value] : cls->constants)
        if (cname == name) {
          if (!conforms(value, type(n.outputs[0])))
            fail(n.where, ": constant '", name, "' does not fit the output type ", type_text(type(n.outputs[0])));
          add_constant(n.outputs[0], value);
        }
    }
  }

  // -- walk 2: checks and emission ------------------------------------------

  Operand operand(uint32_t v) {
    int64_t site = site_++;
    if (const_index_[v] >= 0) return Operand(Operand::Const, uint32_t(const_index_[v]));
    bool last = last_site_[v] == site && last_direct_[v];
    return Operand(last ? Operand::Move : Operand::Copy, v);
  }

  uint32_t push_operands(const std::vector<uint32_t>& values) {
    uint32_t start = uint32_t(code_.operands.size());
    for (uint32_t v : values) code_.operands.push_back(operand(v));
    return start;
  }

  uint32_t push_regs(const std::vector<uint32_t>& regs) {
    uint32_t start = uint32_t(code_.regs.size());
    code_.regs.insert(code_.regs.end(), regs.begin(), regs.end());
    return start;
  }

  uint32_t push_constant_operand(c10::IValue value, bool is_mutable) {
    code_.constants.push_back(std::move(value));
    code_.operands.push_back(Operand(is_mutable ? Operand::FreshConst : Operand::Const, uint32_t(code_.constants.size() - 1)));
    return uint32_t(code_.operands.size() - 1);
  }

  // Fills `index` of code_.blocks; its instructions end up contiguous
  // because nested blocks are emitted (appended) before this one's.
  void emit_block(const IrBlock& b, uint32_t index) {
    std::vector<Instr> mine;
    for (const IrNode& n : b.nodes) emit_node(n, mine);
    BlockCode bc;
    bc.params = push_regs(b.params);
    bc.n_params = uint32_t(b.params.size());
    bc.returns = push_operands(b.returns);
    bc.n_returns = uint32_t(b.returns.size());
    bc.begin = uint32_t(code_.instrs.size());
    code_.instrs.insert(code_.instrs.end(), mine.begin(), mine.end());
    bc.end = uint32_t(code_.instrs.size());
    code_.blocks[index] = bc;
  }

  Instr make(OpCode op, const IrNode& n, uint32_t n_in_extra = 0) {
    Instr in{};
    in.op = op;
    in.in = push_operands(n.inputs);
    in.n_in = uint32_t(n.inputs.size()) + n_in_extra;
    in.out = push_regs(n.outputs);
    in.n_out = uint32_t(n.outputs.size());
    auto d = drops_.find(&n);
    if (d != drops_.end()) {
      in.drop = push_regs(d->second);
      in.n_drop = uint32_t(d->second.size());
    }
    in.node = uint32_t(code_.nodes.size());
    code_.nodes.push_back({n.kind, n.loc});
    return in;
  }

  void emit_node(const IrNode& n, std::vector<Instr>& out) {
    if (!n.blocks.empty() && n.kind != "prim::If" && n.kind != "prim::Loop")
      fail(n.where, ": ", n.kind, " cannot have blocks");
    if (!n.outputs.empty() && mutable_constants_.count(n.outputs[0])) return emit_fresh(n, out);
    if (n.kind == "prim::Constant") return;
    if (n.kind == "prim::If") return emit_if(n, out);
    if (n.kind == "prim::Loop") return emit_loop(n, out);
    if (n.kind == "prim::GetAttr") return emit_get_attr(n, out);
    if (n.kind == "prim::SetAttr") return emit_set_attr(n, out);
    if (n.kind == "prim::CallMethod" || n.kind == "prim::CallFunction" || n.kind == "prim::fork")
      return emit_call(n, out);
    if (n.kind.rfind("aten::", 0) == 0) return emit_aten(n, out);
    if (n.kind.rfind("prim::", 0) == 0) return emit_prim(n, out);
    fail(n.where, ": unknown op '", n.kind, "'");
  }

  void expect_attrs(const IrNode& n, std::initializer_list<const char*> names) {
    for (const char* a : names)
      if (!n.attrs->contains(a)) fail(n.where, ": ", n.kind, " needs attribute '", a, "'");
    if (n.attrs->size() != names.size()) fail(n.where, ": ", n.kind, " has unexpected attributes");
  }

  const std::string& attr_name(const IrNode& n) {
    expect_attrs(n, {"name"});
    const Json& v = (*n.attrs)["name"];
    expect_fields(v, {"tag", "value"}, n.where + ".attrs.name");
    if (v["tag"] != "str") fail(n.where, ".attrs.name: expected a str VALUE");
    return json_str(v["value"], n.where + ".attrs.name.value");
  }

  const ClassInfo* class_of(uint32_t v) const {
    if (type(v)->kind() != c10::TypeKind::ClassType) return nullptr;
    return ctx_.program.class_by_type.at(type(v).get());
  }

  void check_arity(const IrNode& n, size_t in, size_t outs, size_t blocks) {
    if (n.inputs.size() != in || n.outputs.size() != outs || n.blocks.size() != blocks)
      fail(n.where, ": ", n.kind, " takes ", in, " input(s), ", outs, " output(s) and ", blocks, " block(s)");
  }

  void check_flow(const IrNode& n, const TypePtr& from, const TypePtr& to, const std::string& what) {
    if (!accepts(to, from)) fail(n.where, ": ", n.kind, ": ", what, " is ", type_text(from), " where ", type_text(to), " is expected");
  }

  // A list/dict constant (or class constant): a fresh copy per execution.
  void emit_fresh(const IrNode& n, std::vector<Instr>& out) {
    Instr in = make(OpCode::Prim, n);
    c10::IValue value = mutable_constants_.at(n.outputs[0]);
    in.n_in = 0;  // a GetAttr of a class constant reads no input at run time
    in.arg = uint32_t(code_.prims.size());
    code_.prims.push_back([value](Stack& s) { s.push_back(fresh_copy(value)); });
    out.push_back(in);
  }

  void emit_if(const IrNode& n, std::vector<Instr>& out) {
    if (n.inputs.size() != 1 || n.blocks.size() != 2) fail(n.where, ": prim::If takes one input and two blocks");
    expect_attrs(n, {});
    check_flow(n, type(n.inputs[0]), c10::BoolType::get(), "the condition");
    for (const IrBlock& b : n.blocks) {
      if (!b.params.empty()) fail(n.where, ": prim::If blocks take no parameters");
      if (b.returns.size() != n.outputs.size())
        fail(n.where, ": prim::If has ", n.outputs.size(), " outputs but a block returns ", b.returns.size());
      for (size_t i = 0; i < b.returns.size(); ++i)
        check_flow(n, type(b.returns[i]), type(n.outputs[i]), cat("block result ", i));
    }
    Instr in = make(OpCode::If, n);
    in.arg = uint32_t(code_.blocks.size());
    code_.blocks.resize(code_.blocks.size() + 2);
    emit_block(n.blocks[0], in.arg);
    emit_block(n.blocks[1], in.arg + 1);
    out.push_back(in);
  }

  void emit_loop(const IrNode& n, std::vector<Instr>& out) {
    if (n.inputs.size() < 2 || n.blocks.size() != 1) fail(n.where, ": prim::Loop takes (max_trip_count, condition, carried...) and one block");
    expect_attrs(n, {});
    size_t carried = n.inputs.size() - 2;
    const IrBlock& body = n.blocks[0];
    if (n.outputs.size() != carried || body.params.size() != carried + 1 || body.returns.size() != carried + 1)
      fail(n.where, ": prim::Loop with ", carried, " carried values needs ", carried, " outputs, ", carried + 1,
           " block parameters and ", carried + 1, " block results");
    check_flow(n, type(n.inputs[0]), c10::IntType::get(), "max_trip_count");
    check_flow(n, type(n.inputs[1]), c10::BoolType::get(), "the start condition");
    check_flow(n, c10::IntType::get(), type(body.params[0]), "the iteration number");
    check_flow(n, type(body.returns[0]), c10::BoolType::get(), "the continue condition");
    for (size_t i = 0; i < carried; ++i) {
      check_flow(n, type(n.inputs[2 + i]), type(body.params[1 + i]), cat("carried value ", i));
      check_flow(n, type(body.returns[1 + i]), type(body.params[1 + i]), cat("carried result ", i));
      check_flow(n, type(body.params[1 + i]), type(n.outputs[i]), cat("loop output ", i));
    }
    Instr in = make(OpCode::Loop, n);
    in.arg = uint32_t(code_.blocks.size());
    code_.blocks.emplace_back();
    emit_block(body, in.arg);
    out.push_back(in);
  }

  size_t attr_slot(const IrNode& n, const ClassInfo* cls, const std::string& name) {
    if (cls == nullptr) fail(n.where, ": ", n.kind, " needs an object of a class type");
    auto slot = cls->type->findAttributeSlot(name);
    if (!slot) fail(n.where, ": class ", cls->name, " has no attribute '", name, "'");
    return *slot;
  }

  // The classes that have attribute / constant / method `name`, for objects typed Any.
  uint32_t dynamic_entry(const std::string& name) {
    Code::Dynamic d;
    d.name = name;
    for (const auto& cls : ctx_.program.classes) {
      if (auto slot = cls->type->findAttributeSlot(name)) d.slots.emplace_back(cls->type.get(), uint32_t(*slot));
      for (const auto& [cname, value] : cls->constants)
        if (cname == name) d.constants.emplace_back(cls->type.get(), value);
      auto m = cls->methods.find(name);
      if (m != cls->methods.end()) d.methods.emplace_back(cls->type.get(), m->second);
    }
    code_.dynamic.push_back(std::move(d));
    return uint32_t(code_.dynamic.size() - 1);
  }

  // An `Any` or interface receiver: attributes and methods are found by the object's class when it runs.
  bool dynamic_object(uint32_t v) const {
    auto k = type(v)->kind();
    return k == c10::TypeKind::AnyType || k == c10::TypeKind::InterfaceType;
  }

  void emit_get_attr(const IrNode& n, std::vector<Instr>& out) {
    check_arity(n, 1, 1, 0);
    const ClassInfo* cls = class_of(n.inputs[0]);
    const std::string& name = attr_name(n);
    if (cls == nullptr && dynamic_object(n.inputs[0])) {
      Instr in = make(OpCode::DynGetAttr, n);
      in.arg = dynamic_entry(name);
      out.push_back(in);
      return;
    }
    if (const_index_[n.outputs[0]] >= 0) {  // a class constant, folded by walk 1
      operand(n.inputs[0]);
      return;
    }
    size_t slot = attr_slot(n, cls, name);
    check_flow(n, cls->type->getAttribute(slot), type(n.outputs[0]), "attribute '" + name + "'");
    Instr in = make(OpCode::GetAttr, n);
    in.arg = uint32_t(slot);
    out.push_back(in);
  }

  void emit_set_attr(const IrNode& n, std::vector<Instr>& out) {
    check_arity(n, 2, 0, 0);
    const ClassInfo* cls = class_of(n.inputs[0]);
    const std::string& name = attr_name(n);
    if (cls == nullptr && dynamic_object(n.inputs[0])) {
      Instr in = make(OpCode::DynSetAttr, n);
      in.arg = dynamic_entry(name);
      out.push_back(in);
      return;
    }
    size_t slot = attr_slot(n, cls, name);
    check_flow(n, type(n.inputs[1]), cls->type->getAttribute(slot), "the value for '" + name + "'");
    Instr in = make(OpCode::SetAttr, n);
    in.arg = uint32_t(slot);
    out.push_back(in);
  }

  // CallMethod[name](self, args...), CallFunction[name](args...), fork[name](args...)
  void emit_call(const IrNode& n, std::vector<Instr>& out) {
    const std::string& name = attr_name(n);
    if (n.outputs.size() != 1) fail(n.where, ": ", n.kind, " has exactly one output");
    uint32_t index;
    if (n.kind == "prim::CallMethod") {
      if (n.inputs.empty()) fail(n.where, ": prim::CallMethod needs the object as its first input");
      if (class_of(n.inputs[0]) == nullptr && dynamic_object(n.inputs[0])) {
        auto iface = ctx_.program.interface_by_type.find(type(n.inputs[0]).get());
        if (iface != ctx_.program.interface_by_type.end()) {
          const auto& methods = iface->second->methods;
          if (std::none_of(methods.begin(), methods.end(), [&](const auto& m) { return m.name == name; }))
            fail(n.where, ": prim::CallMethod calls '", name, "', which is not a method of the interface ", iface->second->name);
        }
        Instr in = make(OpCode::DynCall, n);
        in.arg = dynamic_entry(name);
        out.push_back(in);
        return;
      }
      const ClassInfo* cls = class_of(n.inputs[0]);
      if (cls == nullptr) fail(n.where, ": prim::CallMethod needs an object of a class type");
      auto it = cls->methods.find(name);
      if (it == cls->methods.end()) fail(n.where, ": class ", cls->name, " has no method '", name, "'");
      index = it->second;
    } else {
      auto it = ctx_.program.free_functions.find(name);
      if (it == ctx_.program.free_functions.end()) fail(n.where, ": ", n.kind, ": no function '", name, "' in ir.json");
      index = it->second;
    }
    const Code& callee = *ctx_.program.functions[index];
    if (n.inputs.size() > callee.args.size())
      fail(n.where, ": ", callee.name, " takes ", callee.args.size(), " arguments but gets ", n.inputs.size());
    for (size_t i = 0; i < n.inputs.size(); ++i)
      check_flow(n, type(n.inputs[i]), callee.args[i].type, "argument '" + callee.args[i].name + "'");
    TypePtr result = callee.returns;
    if (n.kind == "prim::fork") {
      if (type(n.outputs[0])->kind() != c10::TypeKind::FutureType) fail(n.where, ": prim::fork returns a Future");
      check_flow(n, callee.returns, type(n.outputs[0])->expectRef<c10::FutureType>().getElementType(), "the result");
    } else {
      check_flow(n, callee.returns, type(n.outputs[0]), "the result");
    }
    Instr in = make(n.kind == "prim::fork" ? OpCode::Fork : OpCode::Call, n);
    for (size_t i = n.inputs.size(); i < callee.args.size(); ++i) {
      if (!callee.args[i].default_value) fail(n.where, ": ", callee.name, ": missing argument '", callee.args[i].name, "'");
      push_constant_operand(*callee.args[i].default_value, is_mutable_type(callee.args[i].type));
      ++in.n_in;
    }
    if (n.kind == "prim::fork") {
      in.arg = uint32_t(code_.forks.size());
      code_.forks.push_back({index, type(n.outputs[0])->expectRef<c10::FutureType>().getElementType()});
    } else {
      in.arg = index;
    }
    out.push_back(in);
  }

  // Note [Every op input is explicit]
  // An ATen or prim node gives every argument of its op's schema, those
  // with defaults included: torchkiln's writer always does, and the Python
  // reader's verifier (torchkiln.ops.op_checker) refuses a node that leaves
  // one out. The loader refuses it too, naming the first missing argument,
  // so that the two readers accept the same archives. (Calls of archive
  // functions are another matter: a prim::CallFunction / CallMethod / fork
  // may leave out trailing arguments that have defaults, in both readers;
  // emit_call fills them in.)
  void check_schema(const IrNode& n, const Signature& s) {
    if (n.inputs.size() < s.args.size())
      fail(n.where, ": ", n.kind, " takes ", s.vararg ? "at least " : "", s.args.size(), " inputs but the node has ",
           n.inputs.size(), ": no input for argument '", s.names[n.inputs.size()], "'");
    if (n.inputs.size() > s.args.size() && !s.vararg)
      fail(n.where, ": ", n.kind, " takes ", s.args.size(), " inputs but the node has ", n.inputs.size());
    for (size_t i = 0; i < s.args.size(); ++i)
      if (!accepts_schema(s.args[i], type(n.inputs[i])))
        fail(n.where, ": ", n.kind, ": argument '", s.names[i], "' is ", type_text(type(n.inputs[i])), " where the schema wants ",
             type_text(s.args[i]));
    if (s.varret) return;
    if (s.returns.size() != n.outputs.size())
      fail(n.where, ": ", n.kind, " has ", s.returns.size(), " outputs but the node has ", n.outputs.size());
    for (size_t i = 0; i < s.returns.size(); ++i)
      if (!compatible(s.returns[i], type(n.outputs[i])) && !accepts_schema(s.returns[i], type(n.outputs[i])))
        fail(n.where, ": ", n.kind, ": output ", i, " is declared ", type_text(type(n.outputs[i])), " but the op returns ",
             type_text(s.returns[i]));
  }

  // aten::{add,sub,mul,div}.Scalar(x, c) with a constant number `c`: the
  // prim of Note [Scalar constants as tensors] (reuse.cpp).
  bool emit_scalar_constant(const IrNode& n, const c10::OperatorHandle& scalar_op, std::vector<Instr>& out) {
    if (n.inputs.size() < 2 || const_index_[n.inputs[1]] < 0) return false;
    const c10::IValue c = code_.constants[const_index_[n.inputs[1]]];
    auto tensor_op = scalar_constant_overload(n.kind, c);
    if (!tensor_op) return false;
    Instr in = make(OpCode::Prim, n);
    check_schema(n, signature_of(scalar_op.schema()));
    bool may_reuse =
        type(n.inputs[0])->kind() == c10::TypeKind::TensorType && code_.operands[in.in].kind() == Operand::Move;
    in.arg = uint32_t(code_.prims.size());
    code_.prims.push_back(scalar_constant_op(c, scalar_op, *tensor_op, may_reuse, in.n_in));
    out.push_back(in);
    return true;
  }

  void emit_aten(const IrNode& n, std::vector<Instr>& out) {
    if (!n.attrs->empty()) fail(n.where, ": aten ops take no attributes");
    std::string name = n.kind, overload;
    size_t dot = n.kind.find('.');
    if (dot != std::string::npos) name = n.kind.substr(0, dot), overload = n.kind.substr(dot + 1);
    auto handle = c10::Dispatcher::singleton().findSchema({name, overload});
    if (!handle) fail(n.where, ": unknown op '", n.kind, "'");
    if (emit_scalar_constant(n, *handle, out)) return;
    Instr in = make(OpCode::Aten, n);
    check_schema(n, signature_of(handle->schema()));
    if (is_functional(handle->schema())) {
      if (auto r = reuse_op(n, fn_.types, *handle, code_, in)) {
        in.op = OpCode::AtenReuse;
        in.arg = uint32_t(code_.reuse.size());
        code_.reuse.push_back(std::move(*r));
        out.push_back(in);
        return;
      }
      in.op = OpCode::AtenPure;
    }
    in.arg = uint32_t(code_.aten.size());
    code_.aten.push_back(*handle);
    out.push_back(in);
  }

  void emit_prim(const IrNode& n, std::vector<Instr>& out) {
    const auto& entries = prim_entries();
    auto it = entries.find(n.kind);
    if (it == entries.end()) fail(n.where, ": unknown op '", n.kind, "'");
    if (it->second.def.factory == nullptr) fail(n.where, ": ", n.kind, " cannot appear here");
    Instr in = make(OpCode::Prim, n);
    check_schema(n, it->second.signature);
    std::vector<TypePtr> ins, outs;
    for (uint32_t v : n.inputs) ins.push_back(type(v));
    for (uint32_t v : n.outputs) outs.push_back(type(v));
    PrimNodeView view(n, std::move(ins), std::move(outs), ctx_);
    in.arg = uint32_t(code_.prims.size());
    code_.prims.push_back(it->second.def.factory(view));
    out.push_back(in);
  }

  const IrFunction& fn_;
  Code& code_;
  const CompileContext& ctx_;
  size_t n_;
  int64_t site_ = 0;
  std::vector<int64_t> last_site_;
  std::vector<char> last_direct_;
  std::vector<const IrNode*> last_anchor_;
  std::vector<int> def_level_;
  std::vector<const IrNode*> def_node_;
  std::vector<int32_t> const_index_;
  std::unordered_map<uint32_t, c10::IValue> mutable_constants_;  // value id -> list/dict constant
  std::vector<const IrNode*> path_;
  std::unordered_map<const IrNode*, std::vector<uint32_t>> drops_;
};

}  // namespace

void compile_function(const IrFunction& fn, Code& code, const CompileContext& ctx) {
  try {
    Compiler(fn, code, ctx).run();
  } catch (const Error&) {
    throw;
  } catch (const c10::Error& e) {
    fail(fn.where, ": ", e.what_without_backtrace());
  }
}

}  // namespace torchkiln::detail
