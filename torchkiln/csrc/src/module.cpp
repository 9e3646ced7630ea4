// torchkiln::Module: the public face of a loaded Program.
#include <torchkiln/module.h>

#include <unordered_set>

#include "error.h"
#include "program.h"
#include "types.h"

namespace torchkiln {

using detail::cat;
using detail::Code;
using detail::Program;

const Program& Module::program() const {
  if (program_ == nullptr) throw Error("torchkiln::Module is empty: assign it the result of torchkiln::load first");
  return *program_;
}

namespace {

const Code& method_code(const Program& p, const std::string& name) {
  if (p.root_function != nullptr) {
    if (name == "forward" || name == p.root_function->function) return *p.root_function;
    throw Error(cat("function ", p.root_function->name, " has no method '", name, "'"));
  }
  auto it = p.root_class->methods.find(name);
  if (it == p.root_class->methods.end()) throw Error(cat("module ", p.root_class->name, " has no method '", name, "'"));
  return *p.functions[it->second];
}

// Visits the module tree depth first, each shared submodule once.
template <typename F>
void walk_modules(const Program& p, const c10::IValue& root, bool recurse, F&& visit) {
  std::unordered_set<const void*> seen;
  std::vector<std::pair<std::string, c10::IValue>> todo{{"", root}};
  while (!todo.empty()) {
    auto [prefix, obj] = std::move(todo.back());
    todo.pop_back();
    if (!seen.insert(obj.internalToPointer()).second) continue;
    const auto& object = obj.toObjectRef();
    const detail::ClassInfo& cls = *p.class_by_type.at(object.type().get());
    visit(prefix, object, cls);
    if (!recurse) continue;
    std::vector<std::pair<std::string, c10::IValue>> children;
    for (size_t slot = 0; slot < cls.attr_kinds.size(); ++slot)
      if (cls.attr_kinds[slot] == "module") children.emplace_back(prefix + cls.type->getAttributeName(slot) + ".", object.getSlot(slot));
    todo.insert(todo.end(), children.rbegin(), children.rend());
  }
}

std::vector<std::pair<std::string, at::Tensor>> named_tensors(const Program& p, bool recurse, const char* kind) {
  std::vector<std::pair<std::string, at::Tensor>> out;
  if (p.root_class == nullptr) return out;
  std::unordered_set<const void*> seen;
  walk_modules(p, p.root, recurse, [&](const std::string& prefix, const c10::ivalue::Object& obj, const detail::ClassInfo& cls) {
    for (size_t slot = 0; slot < cls.attr_kinds.size(); ++slot) {
      if (cls.attr_kinds[slot] != kind || !obj.getSlot(slot).isTensor()) continue;
      at::Tensor t = obj.getSlot(slot).toTensor();
      if (seen.insert(t.unsafeGetTensorImpl()).second) out.emplace_back(prefix + cls.type->getAttributeName(slot), t);
    }
  });
  return out;
}

}  // namespace

c10::IValue Module::forward(std::vector<c10::IValue> inputs) const { return run_method("forward", std::move(inputs)); }

c10::IValue Module::run_method(const std::string& name, std::vector<c10::IValue> inputs) const {
  const Program& p = program();
  return detail::call_function(p, method_code(p, name), p.root, std::move(inputs));
}

bool Module::has_method(const std::string& name) const {
  const Program& p = program();
  if (p.root_function != nullptr) return name == "forward" || name == p.root_function->function;
  return p.root_class->methods.count(name) != 0;
}

std::vector<std::string> Module::method_names() const {
  const Program& p = program();
  if (p.root_function != nullptr) return {p.root_function->function};
  return p.root_class->method_names;
}

std::vector<Argument> Module::arguments(const std::string& method) const {
  const Code& code = method_code(program(), method);
  std::vector<Argument> out;
  for (size_t i = code.self_class != nullptr ? 1 : 0; i < code.args.size(); ++i)
    out.push_back({code.args[i].name, code.args[i].type, code.args[i].default_value, code.args[i].kwarg_only,
                   code.args[i].positional_only});
  return out;
}

c10::TypePtr Module::return_type(const std::string& method) const { return method_code(program(), method).returns; }

std::string Module::root_kind() const { return program().root_function != nullptr ? "function" : "module"; }

std::string Module::name() const {
  const Program& p = program();
  return p.root_function != nullptr ? p.root_function->name : p.root_class->name;
}

std::vector<std::pair<std::string, at::Tensor>> Module::named_parameters(bool recurse) const {
  return named_tensors(program(), recurse, "parameter");
}

std::vector<std::pair<std::string, at::Tensor>> Module::named_buffers(bool recurse) const {
  return named_tensors(program(), recurse, "buffer");
}

std::vector<std::pair<std::string, c10::IValue>> Module::named_attributes(bool recurse) const {
  const Program& p = program();
  std::vector<std::pair<std::string, c10::IValue>> out;
  if (p.root_class == nullptr) return out;
  walk_modules(p, p.root, recurse, [&](const std::string& prefix, const c10::ivalue::Object& obj, const detail::ClassInfo& cls) {
    for (size_t slot = 0; slot < cls.attr_kinds.size(); ++slot)
      if (cls.attr_kinds[slot] == "attribute") out.emplace_back(prefix + cls.type->getAttributeName(slot), obj.getSlot(slot));
  });
  return out;
}

std::vector<std::string> Module::submodule_names() const {
  const Program& p = program();
  std::vector<std::string> out;
  if (p.root_class == nullptr) return out;
  for (size_t slot = 0; slot < p.root_class->attr_kinds.size(); ++slot)
    if (p.root_class->attr_kinds[slot] == "module") out.push_back(p.root_class->type->getAttributeName(slot));
  return out;
}

namespace {
const c10::IValue* find_attr(const Program& p, const std::string& path) {
  if (p.root_class == nullptr) return nullptr;
  const c10::IValue* cur = &p.root;
  size_t start = 0;
  while (true) {
    if (!cur->isObject()) return nullptr;
    size_t end = path.find('.', start);
    std::string part = path.substr(start, end == std::string::npos ? std::string::npos : end - start);
    const auto& obj = cur->toObjectRef();
    auto slot = obj.type()->findAttributeSlot(part);
    if (!slot) return nullptr;
    cur = &obj.slots()[*slot];
    if (end == std::string::npos) return cur;
    start = end + 1;
  }
}
}  // namespace

c10::IValue Module::attr(const std::string& path) const {
  const c10::IValue* v = find_attr(program(), path);
  if (v == nullptr) throw Error(cat("module ", name(), " has no attribute '", path, "'"));
  return *v;
}

bool Module::has_attr(const std::string& path) const { return find_attr(program(), path) != nullptr; }

c10::IValue Module::object() const { return program().root; }

std::string type_str(const c10::TypePtr& type) { return detail::type_text(type); }

std::vector<std::string> implemented_prim_ops() {
  std::vector<std::string> out;
  for (const detail::PrimDef& def : detail::prim_table()) out.push_back(detail::schema_name(def.schema));
  return out;
}

}  // namespace torchkiln
