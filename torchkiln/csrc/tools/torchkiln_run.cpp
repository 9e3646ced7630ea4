// torchkiln-run: run one method of an archive on inputs read from a
// safetensors file, write the result to another (docs/runtime.md).
//
//   torchkiln-run model.pt inputs.safetensors outputs.safetensors [method]
//   torchkiln-run --list-prims
//
// Inputs: the metadata entry "torchkiln.inputs" holds a JSON list of archive
// VALUEs (docs/archive.md §5), one per argument after self; tensor VALUEs
// name tensors of the file by "key". Without that entry, the tensors
// input.0, input.1, ... are the arguments. Output: the result as one VALUE
// in the metadata entry "torchkiln.output", its tensors stored as output.0,
// output.1, ... Exit status 0 on success, 1 on an error (message on
// stderr), 2 on bad usage.
#include <torchkiln/torchkiln.h>

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "storage.h"
#include "types.h"

namespace {

using torchkiln::detail::Json;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw torchkiln::Error("cannot open '" + path + "'");
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<c10::IValue> read_inputs(const torchkiln::Module& module, const std::string& method, const std::string& path) {
  std::string bytes = read_file(path);
  auto st = torchkiln::detail::parse_safetensors(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), path);
  std::vector<c10::IValue> inputs;
  auto meta = st.metadata.find("torchkiln.inputs");
  if (meta == st.metadata.end()) {
    for (size_t i = 0; st.tensors.count("input." + std::to_string(i)); ++i) inputs.emplace_back(st.tensor("input." + std::to_string(i)));
    return inputs;
  }
  Json values = Json::parse(meta->second, nullptr, /*allow_exceptions=*/false);
  if (!values.is_array()) throw torchkiln::Error(path + ": torchkiln.inputs must be a JSON list of VALUEs");
  torchkiln::detail::ValueDecoder decoder(
      [](const std::string&) -> c10::TypePtr { return nullptr; },
      [&st](const Json& j, const std::string& where) {
        at::Tensor t = st.tensor(torchkiln::detail::json_str(j["key"], where + ".key"));
        if (torchkiln::detail::json_bool(j["requires_grad"], where + ".requires_grad")) t.set_requires_grad(true);
        return t;
      },
      [](int64_t, const c10::TypePtr&, const std::string& where) -> c10::IValue {
        throw torchkiln::Error(where + ": objects cannot be passed as inputs");
      });
  std::vector<torchkiln::Argument> args = module.arguments(method);
  for (size_t i = 0; i < values.size(); ++i) {
    c10::TypePtr type = i < args.size() ? args[i].type : nullptr;
    inputs.push_back(decoder.decode(values[i], type, "torchkiln.inputs[" + std::to_string(i) + "]"));
  }
  return inputs;
}

// The result as a VALUE; tensors are appended to `tensors`.
Json encode(const c10::IValue& v, const c10::TypePtr& static_type, std::vector<std::pair<std::string, at::Tensor>>& tensors) {
  c10::TypePtr type = static_type;
  if (type != nullptr && type->kind() == c10::TypeKind::OptionalType) type = type->containedTypes()[0];
  auto contained = [&](size_t i) -> c10::TypePtr {
    if (type == nullptr) return nullptr;
    auto inner = type->containedTypes();
    if (type->kind() == c10::TypeKind::ListType) return inner[0];
    return i < inner.size() ? inner[i] : nullptr;
  };
  if (v.isNone()) return {{"tag", "none"}};
  if (v.isBool()) return {{"tag", "bool"}, {"value", v.toBool()}};
  if (v.isInt()) {
    if (type != nullptr && type->kind() == c10::TypeKind::ScalarTypeType)
      return {{"tag", "dtype"}, {"value", torchkiln::detail::dtype_name(c10::ScalarType(v.toInt()))}};
    return {{"tag", "int"}, {"value", v.toInt()}};
  }
  auto number = [](double d) -> Json {
    if (std::isnan(d)) return "nan";
    if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
    return d;
  };
  if (v.isDouble()) return {{"tag", "float"}, {"value", number(v.toDouble())}};
  if (v.isComplexDouble()) {
    auto c = v.toComplexDouble();
    return {{"tag", "complex"}, {"value", {number(c.real()), number(c.imag())}}};
  }
  if (v.isString()) return {{"tag", "str"}, {"value", v.toStringRef()}};
  if (v.isDevice()) return {{"tag", "device"}, {"value", v.toDevice().str()}};
  if (v.isTensor()) {
    at::Tensor t = v.toTensor();
    std::string key = "output." + std::to_string(tensors.size());
    tensors.emplace_back(key, t.detach().cpu().contiguous());
    return {{"tag", "tensor"},      {"key", key},          {"dtype", torchkiln::detail::dtype_name(t.scalar_type())},
            {"shape", t.sizes().vec()}, {"requires_grad", t.requires_grad()}, {"parameter", false},
            {"device", t.device().str()}};
  }
  if (v.isList()) {
    Json items = Json::array();
    for (const c10::IValue& item : v.toListRef()) items.push_back(encode(item, contained(0), tensors));
    return {{"tag", "list"}, {"value", items}};
  }
  if (v.isTuple()) {
    Json items = Json::array();
    const auto& elems = v.toTupleRef().elements();
    for (size_t i = 0; i < elems.size(); ++i) items.push_back(encode(elems[i], contained(i), tensors));
    auto tt = v.toTupleRef().type();
    if (tt->schema() != nullptr && tt->name())
      return {{"tag", "namedtuple"}, {"type", torchkiln::type_str(tt)}, {"value", items}};
    return {{"tag", "tuple"}, {"value", items}};
  }
  if (v.isGenericDict()) {
    Json items = Json::array();
    for (const auto& entry : v.toGenericDict())
      items.push_back({encode(entry.key(), contained(0), tensors), encode(entry.value(), contained(1), tensors)});
    return {{"tag", "dict"}, {"value", items}};
  }
  throw torchkiln::Error(std::string("cannot write a result of kind ") + v.tagKind());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::string(argv[1]) == "--list-prims") {
    for (const std::string& name : torchkiln::implemented_prim_ops()) std::cout << name << "\n";
    return 0;
  }
  if (argc < 4 || argc > 5) {
    std::cerr << "usage: torchkiln-run model.pt inputs.safetensors outputs.safetensors [method]\n"
                 "       torchkiln-run --list-prims\n";
    return 2;
  }
  std::string method = argc == 5 ? argv[4] : "forward";
  try {
    torchkiln::Module module = torchkiln::load(argv[1]);
    std::vector<c10::IValue> inputs = read_inputs(module, method, argv[2]);
    c10::IValue result = module.run_method(method, std::move(inputs));
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    Json value = encode(result, module.return_type(method), tensors);
    std::string bytes = torchkiln::detail::write_safetensors(tensors, {{"torchkiln.output", value.dump()}});
    std::ofstream out(argv[3], std::ios::binary);
    out.write(bytes.data(), std::streamsize(bytes.size()));
    if (!out) throw torchkiln::Error(std::string("cannot write '") + argv[3] + "'");
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
  return 0;
}
