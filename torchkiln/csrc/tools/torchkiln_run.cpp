// torchkiln-run: run one method of an archive on inputs read from a
// safetensors file, write the result to another (docs/runtime.md).
//
//   torchkiln-run model.pt inputs.safetensors outputs.safetensors [method]
//   torchkiln-run --list-prims          the schema of every prim op implemented
//
// Inputs: the metadata entry "torchkiln.inputs" holds a JSON list of archive
// VALUEs (docs/archive.md §5), one per argument after self; tensor VALUEs
// name tensors of the file by "key". Without that entry, the tensors
// input.0, input.1, ... are the arguments. Output: the result as one VALUE
// in the metadata entry "torchkiln.output", its tensors stored as output.0,
// output.1, ... Exit status 0 on success, 1 on an error (message on
// stderr), 2 on bad usage.
//
// Batch mode: with the metadata entry "torchkiln.calls", a JSON list of
// {"method": name, "inputs": [VALUE...]}, every call runs in turn and the
// output's "torchkiln.results" lists, per call, {"value": VALUE} or
// {"error": {"type": "ValueError", "message": ..., "what": ...}}; the exit
// status is 0 unless the archive or the files cannot be read.
#include <torchkiln/torchkiln.h>

#include <fstream>
#include <map>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "prims.h"
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

Json parse_metadata(const std::string& text, const std::string& what) {
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw torchkiln::Error(what + " is not valid JSON");
  return j;
}

// Arguments of `method` from VALUEs, typed by the method's signature.
std::vector<c10::IValue> decode_inputs(const torchkiln::Module& module, const std::string& method, const Json& values,
                                       const torchkiln::detail::Safetensors& st, const std::string& where) {
  if (!values.is_array()) throw torchkiln::Error(where + " must be a JSON list of VALUEs");
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
  std::vector<c10::IValue> inputs;
  for (size_t i = 0; i < values.size(); ++i) {
    c10::TypePtr type = i < args.size() ? args[i].type : nullptr;
    inputs.push_back(decoder.decode(values[i], type, where + "[" + std::to_string(i) + "]"));
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
    if (type != nullptr && type->kind() == c10::TypeKind::LayoutType) {
      std::string name = torchkiln::detail::python_str(v, type);  // torch.strided
      return {{"tag", "layout"}, {"value", name.substr(name.find('.') + 1)}};
    }
    if (type != nullptr && type->kind() == c10::TypeKind::MemoryFormatType) {
      std::string name = torchkiln::detail::python_str(v, type);
      return {{"tag", "memory_format"}, {"value", name.substr(name.find('.') + 1)}};
    }
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
    for (const torchkiln::detail::PrimDef& def : torchkiln::detail::prim_table()) std::cout << def.schema << "\n";
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
    std::string in_bytes = read_file(argv[2]);
    auto st = torchkiln::detail::parse_safetensors(reinterpret_cast<const uint8_t*>(in_bytes.data()), in_bytes.size(), argv[2]);
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    std::map<std::string, std::string> meta;
    auto calls = st.metadata.find("torchkiln.calls");
    if (calls != st.metadata.end()) {
      Json list = parse_metadata(calls->second, "torchkiln.calls");
      if (!list.is_array()) throw torchkiln::Error("torchkiln.calls must be a JSON list");
      Json results = Json::array();
      for (size_t i = 0; i < list.size(); ++i) {
        const std::string where = "torchkiln.calls[" + std::to_string(i) + "]";
        if (!list[i].is_object() || !list[i].contains("method") || !list[i]["method"].is_string() || !list[i].contains("inputs"))
          throw torchkiln::Error(where + " must be {\"method\": name, \"inputs\": [VALUE...]}");
        const std::string name = list[i]["method"].get<std::string>();
        std::vector<c10::IValue> inputs;
        try {
          inputs = decode_inputs(module, name, list[i]["inputs"], st, where + ".inputs");
        } catch (const torchkiln::Error& e) {  // an input that does not fit the signature
          results.push_back({{"error", {{"type", "TypeError"}, {"message", e.what()}, {"what", e.what()}}}});
          continue;
        }
        try {
          c10::IValue result = module.run_method(name, std::move(inputs));
          results.push_back({{"value", encode(result, module.return_type(name), tensors)}});
        } catch (const torchkiln::ProgramError& e) {
          results.push_back({{"error", {{"type", e.python_class()}, {"message", e.message()}, {"what", e.what()}}}});
        } catch (const torchkiln::ArgumentError& e) {
          results.push_back({{"error", {{"type", "TypeError"}, {"message", e.what()}, {"what", e.what()}}}});
        }
      }
      meta["torchkiln.results"] = results.dump();
    } else {
      std::vector<c10::IValue> inputs;
      auto values = st.metadata.find("torchkiln.inputs");
      if (values == st.metadata.end()) {
        for (size_t i = 0; st.tensors.count("input." + std::to_string(i)); ++i) inputs.emplace_back(st.tensor("input." + std::to_string(i)));
      } else {
        inputs = decode_inputs(module, method, parse_metadata(values->second, "torchkiln.inputs"), st, "torchkiln.inputs");
      }
      c10::IValue result = module.run_method(method, std::move(inputs));
      meta["torchkiln.output"] = encode(result, module.return_type(method), tensors).dump();
    }
    std::string bytes = torchkiln::detail::write_safetensors(tensors, meta);
    std::ofstream out(argv[3], std::ios::binary);
    out.write(bytes.data(), std::streamsize(bytes.size()));
    if (!out) throw torchkiln::Error(std::string("cannot write '") + argv[3] + "'");
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
  return 0;
}
