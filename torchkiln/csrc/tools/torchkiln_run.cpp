// torchkiln-run: run one method of an archive on inputs read from a
// safetensors file, write the result to another (docs/runtime.md).
//
//   torchkiln-run model.pt inputs.safetensors outputs.safetensors [method]
//   torchkiln-run --serve               many runs, one request per line of stdin
//   torchkiln-run --list-prims          the schema of every prim op implemented
//
// Inputs: the metadata entry "torchkiln.inputs" holds a JSON list of archive
// VALUEs (docs/archive.md §5), one per argument after self; tensor VALUEs
// name tensors of the file by "key"; a "tuple" VALUE where the signature
// declares a NamedTuple becomes one. Without that entry, the tensors
// input.0, input.1, ... are the arguments. Output: the result as one VALUE
// in the metadata entry "torchkiln.output", its tensors stored as output.0,
// output.1, ... Exit status 0 on success, 1 on an error (message on
// stderr), 2 on bad usage.
//
// Batch mode: with the metadata entry "torchkiln.calls", a JSON list of
// {"method": name, "inputs": [VALUE...]}, every call runs in turn on the
// one loaded module and the output's "torchkiln.results" lists, per call,
// {"value": VALUE} or {"error": {"type": "ValueError", "message": ...,
// "what": ...}}; the exit status is 0 unless the archive or the files cannot
// be read. A call may also hold "rng_state" (the key of a uint8 tensor, set
// as the default CPU generator's state before the call), "grad_enabled":
// false (run it in no-grad mode) and "return_inputs": true (its result then
// also has "inputs": the arguments after the call).
// A result no VALUE can hold (a script object) is {"unwritable": message}.
//
// Server mode (--serve): each line of stdin, `archive<TAB>inputs<TAB>outputs`,
// is one run as above (method forward, or batch mode); each gets one line on
// stdout, `ok` or `error <message>`. The Python tests keep one server per
// process (tests/csrc/cpp_runtime.py, Server).
#include <ATen/CPUGeneratorImpl.h>
#include <torchkiln/torchkiln.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
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

// `v` with each `tuple` VALUE where `type` declares a NamedTuple made a
// `namedtuple` VALUE of that type (callers need not spell NamedTuple types),
// and each `int` where `float` is declared a `float`, as Python callers pass them.
Json as_declared(const Json& v, const c10::TypePtr& type) {
  if (type == nullptr || !v.is_object() || !v.contains("tag") || !v.contains("value")) return v;
  const std::string tag = v["tag"].is_string() ? v["tag"].get<std::string>() : "";
  if (type->kind() == c10::TypeKind::OptionalType) return as_declared(v, type->containedTypes()[0]);
  if (type->kind() == c10::TypeKind::FloatType && tag == "int" && v["value"].is_number_integer())
    return {{"tag", "float"}, {"value", double(v["value"].get<int64_t>())}};  // as Python's float(n)
  if (!v["value"].is_array()) return v;
  Json out = v;
  const Json& items = v["value"];
  if (type->kind() == c10::TypeKind::ListType && tag == "list") {
    for (size_t i = 0; i < items.size(); ++i) out["value"][i] = as_declared(items[i], type->containedTypes()[0]);
  } else if (type->kind() == c10::TypeKind::TupleType && tag == "tuple") {
    auto elems = type->containedTypes();
    if (elems.size() != items.size()) return v;
    for (size_t i = 0; i < items.size(); ++i) out["value"][i] = as_declared(items[i], elems[i]);
    if (type->expectRef<c10::TupleType>().schema() != nullptr) {
      out["tag"] = "namedtuple";
      out["type"] = torchkiln::type_str(type);
    }
  } else if (type->kind() == c10::TypeKind::DictType && tag == "dict") {
    for (size_t i = 0; i < items.size(); ++i)
      if (items[i].is_array() && items[i].size() == 2) out["value"][i][1] = as_declared(items[i][1], type->containedTypes()[1]);
  }
  return out;
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
    inputs.push_back(decoder.decode(as_declared(values[i], type), type, where + "[" + std::to_string(i) + "]"));
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


// One call of batch mode: {"method": name, "inputs": [VALUE...]}, optionally
// "rng_state" (the key of a uint8 tensor: the default CPU generator's state
// is set to it before the call), "grad_enabled" (false: no-grad mode) and
// "return_inputs" (true: the result also lists the arguments as they are
// after the call, to show in-place updates).
Json run_call(torchkiln::Module& module, const Json& call, const torchkiln::detail::Safetensors& st,
              const std::string& where, std::vector<std::pair<std::string, at::Tensor>>& tensors) {
  if (!call.is_object() || !call.contains("method") || !call["method"].is_string() || !call.contains("inputs"))
    throw torchkiln::Error(where + " must be {\"method\": name, \"inputs\": [VALUE...]}");
  const std::string name = call["method"].get<std::string>();
  const bool return_inputs = call.contains("return_inputs") && call["return_inputs"].is_boolean() && call["return_inputs"].get<bool>();
  std::vector<c10::IValue> inputs;
  try {
    inputs = decode_inputs(module, name, call["inputs"], st, where + ".inputs");
  } catch (const torchkiln::Error& e) {  // an input that does not fit the signature
    return {{"error", {{"type", "TypeError"}, {"message", e.what()}, {"what", e.what()}}}};
  }
  if (call.contains("rng_state")) {
    at::Tensor state = st.tensor(torchkiln::detail::json_str(call["rng_state"], where + ".rng_state"));
    at::Generator gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(state);
  }
  const std::vector<c10::IValue> arguments = inputs;  // shares tensors, lists and dicts with the call
  const bool grad_enabled = !call.contains("grad_enabled") || !call["grad_enabled"].is_boolean() || call["grad_enabled"].get<bool>();
  c10::AutoGradMode grad_mode(grad_enabled);  // programs may branch on torch.is_grad_enabled()
  Json result;
  try {
    c10::IValue value = module.run_method(name, std::move(inputs));
    try {
      result = {{"value", encode(value, module.return_type(name), tensors)}};
    } catch (const torchkiln::Error& e) {  // a value no VALUE can hold (a script object)
      result = {{"unwritable", e.what()}};
    }
  } catch (const torchkiln::ProgramError& e) {
    result = {{"error", {{"type", e.python_class()}, {"message", e.message()}, {"what", e.what()}}}};
  } catch (const torchkiln::ArgumentError& e) {
    result = {{"error", {{"type", "TypeError"}, {"message", e.what()}, {"what", e.what()}}}};
  }
  if (return_inputs) {
    std::vector<torchkiln::Argument> args = module.arguments(name);
    Json after = Json::array();
    try {
      for (size_t i = 0; i < arguments.size(); ++i) after.push_back(encode(arguments[i], i < args.size() ? args[i].type : nullptr, tensors));
      result["inputs"] = after;
    } catch (const torchkiln::Error& e) {
      result["unwritable"] = e.what();
    }
  }
  return result;
}

// Runs `method` (or, in batch mode, every call) of the archive at `archive`
// on the inputs in the safetensors file `in_path`; writes `out_path`.
void run_files(const std::string& archive, const std::string& in_path, const std::string& out_path, const std::string& method) {
  torchkiln::Module module = torchkiln::load(archive);
  std::string in_bytes = read_file(in_path);
  auto st = torchkiln::detail::parse_safetensors(reinterpret_cast<const uint8_t*>(in_bytes.data()), in_bytes.size(), in_path);
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  std::map<std::string, std::string> meta;
  auto calls = st.metadata.find("torchkiln.calls");
  if (calls != st.metadata.end()) {
    Json list = parse_metadata(calls->second, "torchkiln.calls");
    if (!list.is_array()) throw torchkiln::Error("torchkiln.calls must be a JSON list");
    Json results = Json::array();
    for (size_t i = 0; i < list.size(); ++i)
      results.push_back(run_call(module, list[i], st, "torchkiln.calls[" + std::to_string(i) + "]", tensors));
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
  std::ofstream out(out_path, std::ios::binary);
  out.write(bytes.data(), std::streamsize(bytes.size()));
  if (!out) throw torchkiln::Error("cannot write '" + out_path + "'");
}

// Server mode: each line of stdin is `archive<TAB>inputs<TAB>outputs`, run
// as a batch; each answer is one line on stdout, `ok` or `error <message>`
// (backslashes and newlines in the message written as \\ and \n). Ends
// at the end of stdin.
int serve() {
  // Answers go to the real stdout; whatever the programs print (prim::Print
  // writes std::cout) goes to stderr, so it cannot garble an answer.
  std::cout.flush();
  FILE* answers = fdopen(dup(STDOUT_FILENO), "w");
  if (answers == nullptr || dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
    std::cerr << "torchkiln-run --serve: cannot set up stdout\n";
    return 1;
  }
  std::string line;
  while (std::getline(std::cin, line)) {
    std::vector<std::string> fields;
    std::stringstream parts(line);
    for (std::string field; std::getline(parts, field, '\t');) fields.push_back(field);
    std::string answer = "ok";
    try {
      if (fields.size() != 3) throw torchkiln::Error("a request is archive<TAB>inputs<TAB>outputs");
      run_files(fields[0], fields[1], fields[2], "forward");
    } catch (const std::exception& e) {
      answer = "error ";
      for (const char* c = e.what(); *c != '\0'; ++c) {
        if (*c == '\n') answer += "\\n";
        else if (*c == '\\') answer += "\\\\";
        else answer += *c;
      }
    }
    std::cout.flush();
    std::fprintf(answers, "%s\n", answer.c_str());
    std::fflush(answers);  // the client waits for it
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::string(argv[1]) == "--list-prims") {
    for (const torchkiln::detail::PrimDef& def : torchkiln::detail::prim_table()) std::cout << def.schema << "\n";
    return 0;
  }
  if (argc == 2 && std::string(argv[1]) == "--serve") return serve();
  if (argc < 4 || argc > 5) {
    std::cerr << "usage: torchkiln-run model.pt inputs.safetensors outputs.safetensors [method]\n"
                 "       torchkiln-run --serve\n"
                 "       torchkiln-run --list-prims\n";
    return 2;
  }
  try {
    run_files(argv[1], argv[2], argv[3], argc == 5 ? argv[4] : "forward");
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
  return 0;
}
