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
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/function_schema.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/scalar_tensor.h>
#include <c10/core/InferenceMode.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <mutex>
#include <sstream>

#include "error.h"
#include "fastpath.h"
#include "ir.h"

namespace torchkiln::detail {

// ------------------------------------------------------------- prim table

namespace {

// What checking a node needs from an op's schema.
struct Signature {
  std::vector<std::string> names;
  std::vector<TypePtr> args;
  std::vector<std::optional<c10::IValue>> defaults;
  bool vararg = false;  // `...` after the arguments
  std::vector<TypePtr> returns;
  bool varret = false;  // `-> ...`
};

Signature signature_of(const c10::FunctionSchema& s) {
  Signature sig;
  for (const c10::Argument& a : s.arguments()) {
    sig.names.push_back(a.name());
    sig.args.push_back(a.type());
    sig.defaults.push_back(a.default_value());
  }
  sig.vararg = s.is_vararg();
  for (const c10::Argument& r : s.returns()) sig.returns.push_back(r.type());
  sig.varret = s.is_varret();
  return sig;
}

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
    size_t space = item.rfind(' ');
    if (space == std::string::npos) throw bad();
    sig.names.push_back(item.substr(space + 1));
    sig.args.push_back(parse_schema_type(item.substr(0, space), text));
    sig.defaults.emplace_back();
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

struct PrimEntry {
  PrimDef def;
  Signature signature;
};

const std::unordered_map<std::string, PrimEntry>& prim_entries() {
  static const auto* entries = [] {
    auto* map = new std::unordered_map<std::string, PrimEntry>();
    for (const PrimDef& def : prim_table()) map->emplace(schema_name(def.schema), PrimEntry{def, parse_prim_schema(def.schema)});
    return map;
  }();
  return *entries;
}

}  // namespace

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

namespace {

// ------------------------------------------------------- schema checking

// Whether a value of static type `have` may be passed where an op's schema
// declares `want`. A superset of the IR verifier's rule (ATen's boxed
// kernels check the values again at run time).
bool accepts(const TypePtr& want, const TypePtr& have, int depth = 0) {
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

// accepts() for an ATen op's argument or result, enum types counting as int.
bool accepts_schema(const TypePtr& want, const TypePtr& have) {
  return accepts(want, have) || accepts(enum_as_int(want), enum_as_int(have));
}

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

// The `.out` overload of a functional op with one Tensor result: the same
// arguments (names and types), then exactly `*, Tensor(a!) out`, returning
// `Tensor(a!)`. Found among the dispatcher's overloads of the name.
std::optional<c10::OperatorHandle> out_overload(const c10::FunctionSchema& f) {
  static const auto* by_name = [] {
    auto* m = new std::unordered_map<std::string, std::vector<std::string>>();
    for (const c10::OperatorName& op : c10::Dispatcher::singleton().getAllOpNames())
      (*m)[op.name].push_back(op.overload_name);
    return m;
  }();
  auto it = by_name->find(f.name());
  if (it == by_name->end()) return std::nullopt;
  const auto& args = f.arguments();
  for (const std::string& overload : it->second) {
    auto h = c10::Dispatcher::singleton().findSchema({f.name(), overload});
    if (!h) continue;
    const c10::FunctionSchema& o = h->schema();
    if (o.arguments().size() != args.size() + 1 || o.returns().size() != 1 || o.is_vararg() || o.is_varret()) continue;
    bool same = true;
    for (size_t i = 0; i < args.size() && same; ++i)
      same = o.arguments()[i].name() == args[i].name() && *o.arguments()[i].type() == *args[i].type() &&
             o.arguments()[i].alias_info() == nullptr;
    const c10::Argument& out = o.arguments().back();
    if (!same || out.name() != "out" || !out.kwarg_only() || out.type()->kind() != c10::TypeKind::TensorType) continue;
    if (out.alias_info() == nullptr || !out.alias_info()->isWrite()) continue;
    if (o.returns()[0].alias_info() == nullptr || o.returns()[0].type()->kind() != c10::TypeKind::TensorType) continue;
    return h;
  }
  return std::nullopt;
}

// The dtypes for which `op` on the tensors of `tensor_args` (all of that
// dtype) and the other `args` gives a result of that dtype and of the
// tensors' shape (Note [Buffer reuse]): probed on CPU with two-element
// tensors, once per process for each op and constant arguments (`key`).
// Not on meta tensors: many meta kernels are Python decompositions.
uint32_t probe_dtypes(const std::string& key, const c10::OperatorHandle& op, const std::vector<c10::IValue>& args,
                      const std::vector<int>& tensor_args) {
  static std::mutex mutex;
  static auto* cache = new std::unordered_map<std::string, uint32_t>();
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = cache->find(key);
    if (it != cache->end()) return it->second;
  }
  uint32_t dtypes = 0;
  c10::InferenceMode probing;
  c10::impl::ExcludeDispatchKeyGuard no_python_modes(c10::python_ks);
  for (c10::ScalarType dtype : {at::kFloat, at::kDouble, at::kHalf, at::kBFloat16, at::kLong, at::kInt}) {
    try {
      at::Tensor probe = at::ones({2}, at::TensorOptions().dtype(dtype));
      Stack stack = args;
      for (int i : tensor_args) stack[size_t(i)] = probe;
      op.callBoxed(stack);
      if (stack.size() == 1 && stack[0].isTensor() && stack[0].toTensor().scalar_type() == dtype &&
          stack[0].toTensor().sizes() == probe.sizes())
        dtypes |= 1u << uint32_t(dtype);
    } catch (const std::exception&) {  // not for this dtype: no reuse for it
    }
  }
  std::lock_guard<std::mutex> lock(mutex);
  cache->emplace(key, dtypes);
  return dtypes;
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

  bool dynamic_object(uint32_t v) const { return type(v)->kind() == c10::TypeKind::AnyType; }

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

  void check_schema(const IrNode& n, const Signature& s, bool fill_defaults, Instr& in) {
    if (n.inputs.size() > s.args.size() && !s.vararg)
      fail(n.where, ": ", n.kind, " takes ", s.args.size(), " inputs but the node has ", n.inputs.size());
    size_t checked = std::min(n.inputs.size(), s.args.size());
    for (size_t i = 0; i < checked; ++i)
      if (!accepts_schema(s.args[i], type(n.inputs[i])))
        fail(n.where, ": ", n.kind, ": argument '", s.names[i], "' is ", type_text(type(n.inputs[i])), " where the schema wants ",
             type_text(s.args[i]));
    for (size_t i = n.inputs.size(); i < s.args.size(); ++i) {
      if (!fill_defaults || !s.defaults[i]) fail(n.where, ": ", n.kind, ": missing input for argument '", s.names[i], "'");
      push_constant_operand(*s.defaults[i], false);
      ++in.n_in;
    }
    if (s.varret) return;
    if (s.returns.size() != n.outputs.size())
      fail(n.where, ": ", n.kind, " has ", s.returns.size(), " outputs but the node has ", n.outputs.size());
    for (size_t i = 0; i < s.returns.size(); ++i)
      if (!compatible(s.returns[i], type(n.outputs[i])) && !accepts_schema(s.returns[i], type(n.outputs[i])))
        fail(n.where, ": ", n.kind, ": output ", i, " is declared ", type_text(type(n.outputs[i])), " but the op returns ",
             type_text(s.returns[i]));
  }

  // Note [Scalar constants as tensors]
  // -----------------------------------
  // aten::{add,sub,mul,div}.Scalar(x, c) wrap `c` in a fresh 0-dim tensor on
  // every call, and on CPU convert it to x's dtype with another: two small
  // tensors per op, half the time of an elementwise op on a small tensor.
  // When `c` is a constant number, 0-dim tensors holding it are made once
  // here, for float32 and float64 (and, for an int `c`, each integral dtype
  // it fits), and the op runs as its .Tensor overload with the one in x's
  // dtype: both operands have x's dtype, so type promotion, kernel and result
  // are the .Scalar op's. Only on CPU (CUDA kernels read a CPU scalar at
  // higher precision instead) and for strided tensors; anything else takes
  // the .Scalar op. (Not wrapped-number tensors: PyTorch expects those to be
  // double or int64 only.)
  bool emit_scalar_constant(const IrNode& n, const c10::OperatorHandle& scalar_op, std::vector<Instr>& out) {
    static const char* const kOps[] = {"aten::add.Scalar", "aten::sub.Scalar", "aten::mul.Scalar", "aten::div.Scalar"};
    if (std::find(std::begin(kOps), std::end(kOps), n.kind) == std::end(kOps) || n.inputs.size() < 2) return false;
    if (const_index_[n.inputs[1]] < 0) return false;
    const c10::IValue& c = code_.constants[const_index_[n.inputs[1]]];
    if (!c.isInt() && !c.isDouble()) return false;
    std::string base = n.kind.substr(0, n.kind.find('.'));
    auto tensor_op = c10::Dispatcher::singleton().findSchema({base, "Tensor"});
    if (!tensor_op) return false;
    std::vector<c10::ScalarType> dtypes = {at::kFloat, at::kDouble};  // not Half/BFloat16: their kernels keep c in float
    if (c.isInt() && base != "aten::div") dtypes.insert(dtypes.end(), {at::kLong, at::kInt, at::kShort, at::kChar, at::kByte});
    std::vector<std::pair<c10::ScalarType, c10::IValue>> constants;
    {
      c10::InferenceMode normal_tensors(false);  // usable later with autograd, whatever mode loads the archive
      for (c10::ScalarType dtype : dtypes) {
        try {
          at::Tensor t = c.isInt() ? at::scalar_tensor(c.toInt(), at::TensorOptions().dtype(dtype))
                                   : at::scalar_tensor(c.toDouble(), at::TensorOptions().dtype(dtype));
          constants.emplace_back(dtype, std::move(t));
        } catch (const std::exception&) {  // the constant does not fit this dtype: the .Scalar op decides
        }
      }
    }
    Instr in = make(OpCode::Prim, n);
    check_schema(n, signature_of(scalar_op.schema()), /*fill_defaults=*/true, in);
    // Note [Buffer reuse]: with both operands of x's dtype and the constant
    // 0-dim, the result has x's dtype and shape; a dying, uniquely owned x
    // can hold it.
    std::optional<c10::OperatorHandle> out_op;
    if (type(n.inputs[0])->kind() == c10::TypeKind::TensorType && code_.operands[in.in].kind() == Operand::Move)
      out_op = out_overload(tensor_op->schema());
    in.arg = uint32_t(code_.prims.size());
    code_.prims.push_back([constants = std::move(constants), tensor = *tensor_op, scalar = scalar_op, out_op,
                           n_in = in.n_in](Stack& s) {
      const size_t base = s.size() - n_in;
      const bool below = below_autograd_ok(s, base);  // the op is functional
      c10::IValue& self = s[base];
      if (self.isTensor() && self.toTensor().is_cpu() && self.toTensor().layout() == at::kStrided) {
        c10::ScalarType dtype = self.toTensor().scalar_type();
        for (const auto& [d, value] : constants)
          if (d == dtype) {
            s[base + 1] = value;
            if (!below) {
              tensor.callBoxed(s);
              return;
            }
            BelowAutograd guard;
            if (out_op && reuse_allowed() && uniquely_owned(self.toTensor())) {
              c10::IValue out = self;
              s.push_back(std::move(out));
              out_op->callBoxed(s);
              ++t_reused_buffers;
            } else {
              tensor.callBoxed(s);
            }
            return;
          }
      }
      if (!below) {
        scalar.callBoxed(s);
        return;
      }
      BelowAutograd guard;
      scalar.callBoxed(s);
    });
    out.push_back(in);
    return true;
  }

  // Note [Buffer reuse]
  // --------------------
  // An elementwise op (tagged `pointwise`, functional, not random) with an
  // `.out` overload of the same arguments can write its result into an
  // input whose last use it is, instead of a fresh tensor:
  //
  //   %3 : Tensor = aten::tanh(%2)          AtenReuse in=(move r2): tanh.out(r2, out=r2)
  //
  // Decided at load: the candidates (operands that move a Tensor register)
  // and the dtypes for which the op keeps its inputs' dtype and shape
  // (probe_dtypes: run once on small CPU tensors with the node's constant
  // arguments; a non-constant non-tensor argument, which could change the
  // result's dtype, means no reuse). Decided per call (fastpath.h): grad mode off as for
  // below-autograd calls; the candidate uniquely owned (its only reference
  // is the one moved onto the stack: not a graph input the caller holds,
  // not a parameter or constant, not stored in a list, no view of it
  // alive), contiguous, of a probed dtype; every other tensor input of the
  // same dtype and device, contiguous and broadcasting into the candidate's
  // shape. Then the functional op's result would have exactly the
  // candidate's dtype, shape and strides, and the `.out` op computes the
  // same values into it (the same kernel; full overlap of an input with the
  // output is what the in-place variants do). Otherwise the functional op
  // runs.
  std::optional<ReuseOp> reuse_op(const IrNode& n, const c10::OperatorHandle& handle, const Instr& in) {
    const c10::FunctionSchema& f = handle.schema();
    if (!handle.hasTag(at::Tag::pointwise) || handle.hasTag(at::Tag::nondeterministic_seeded)) return std::nullopt;
    if (f.returns().size() != 1 || f.returns()[0].type()->kind() != c10::TypeKind::TensorType) return std::nullopt;
    ReuseOp r{handle, handle, {}, 0};
    for (size_t i = 0; i < n.inputs.size(); ++i)
      if (type(n.inputs[i])->kind() == c10::TypeKind::TensorType && code_.operands[in.in + i].kind() == Operand::Move)
        r.candidates.push_back(uint32_t(i));
    if (r.candidates.empty()) return std::nullopt;
    auto out = out_overload(f);
    if (!out) return std::nullopt;
    r.out = *out;
    // The probe's arguments: tensors of ones, the constants for the rest.
    std::vector<int> tensor_args;
    std::vector<c10::IValue> args;
    std::ostringstream key;
    key << f.name() << '.' << f.overload_name();
    for (uint32_t i = 0; i < in.n_in; ++i) {
      Operand o = code_.operands[in.in + i];
      if (i < n.inputs.size() && type(n.inputs[i])->kind() == c10::TypeKind::TensorType) {
        tensor_args.push_back(int(i));
        args.emplace_back();
        key << "|T";
      } else if (o.kind() == Operand::Const && !code_.constants[o.index()].isTensor()) {
        args.push_back(code_.constants[o.index()]);
        key << '|' << args.back().tagKind() << ':' << args.back();
      } else {
        return std::nullopt;
      }
    }
    r.dtypes = probe_dtypes(key.str(), handle, args, tensor_args);
    if (r.dtypes == 0) return std::nullopt;
    return r;
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
    check_schema(n, signature_of(handle->schema()), /*fill_defaults=*/true, in);
    if (is_functional(handle->schema())) {
      if (auto r = reuse_op(n, *handle, in)) {
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
    check_schema(n, it->second.signature, /*fill_defaults=*/false, in);
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
