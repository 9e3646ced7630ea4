// Reads an archive (docs/archive.md) into a Program, checking every rule.
//
// Order: zip directory and entry names; manifest; debug ranges; the
// safetensors header; ir.json (classes first, by name, so types can refer to
// any of them; then attributes, constants and function graphs); compilation
// of every function; objects.json; finally, every tensor key referenced.
// Every failure is a torchkiln::Error whose message starts with the entry
// and the JSON path (`ir.json: functions[0].graph.nodes[3]: unknown op ...`).
#include <ATen/core/class_type.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <unordered_set>

#include "error.h"
#include "ir.h"
#include "storage.h"

namespace torchkiln {

namespace detail {
namespace {

constexpr uint64_t kMaxJsonEntry = uint64_t(512) << 20;
// Note [Archive nesting limits] (torchkiln/archive/format.py): blocks nest at
// most 1000 deep, 4 JSON levels each (BLOCK, "nodes", NODE, "blocks"), plus
// VALUE nesting in attributes: 5000 JSON levels hold the deepest valid graph.
// The SAX parser below keeps its own stack (no recursion per JSON level) and
// nlohmann's json frees nested values iteratively, so the JSON limit only
// bounds memory; read_block/read_node recurse once each per block level
// (a few hundred bytes of stack), as do compile.cpp (scan_block, and
// emit_block/emit_node/emit_if) and interpreter.cpp (run_block, which also
// counts levels against its kMaxDepth of 2000 nested calls and blocks):
// measured, torchkiln-run loads and runs a 1000-deep function on a 768 KiB
// stack (the usual default is 8 MiB).
constexpr size_t kMaxJsonDepth = 5000;
constexpr int kMaxBlockDepth = 1000;
// The versions this loader reads (docs/archive.md §10): 2 added `non_persistent`
// to objects.json objects and `positional_only` to FUNCTION args; a version 1
// file has neither (no non-persistent buffers, no positional-only parameters).
// 3 added ir.json's `interfaces`; older files name no interface types.
constexpr int64_t kOldestFormatVersion = 1;
constexpr int64_t kFormatVersion = 3;

// ------------------------------------------------------------------- JSON

// Builds a DOM like nlohmann::json::parse, refusing what the archive format
// forbids and nlohmann accepts: duplicate keys, nesting deeper than kMaxJsonDepth.
class StrictSax : public nlohmann::json_sax<Json> {
 public:
  Json root;
  std::string error;

  bool null() override { return put(nullptr); }
  bool boolean(bool v) override { return put(v); }
  bool number_integer(number_integer_t v) override { return put(v); }
  bool number_unsigned(number_unsigned_t v) override { return put(v); }
  bool number_float(number_float_t v, const string_t&) override { return put(v); }
  bool string(string_t& v) override { return put(std::move(v)); }
  bool binary(binary_t&) override { return fail_with("binary values are not JSON"); }
  bool start_object(std::size_t) override { return open(Json::object()); }
  bool end_object() override { return close(); }
  bool start_array(std::size_t) override { return open(Json::array()); }
  bool end_array() override { return close(); }
  bool key(string_t& k) override {
    if (stack_.back()->contains(k)) return fail_with("duplicate key '" + k + "'");
    key_ = std::move(k);
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& ex) override {
    return fail_with(ex.what());
  }

 private:
  bool fail_with(std::string msg) {
    if (error.empty()) error = std::move(msg);
    return false;
  }
  Json* place(Json&& v) {
    if (stack_.empty()) {
      root = std::move(v);
      return &root;
    }
    Json& top = *stack_.back();
    if (top.is_array()) {
      top.push_back(std::move(v));
      return &top.back();
    }
    Json& slot = top[key_];
    slot = std::move(v);
    return &slot;
  }
  bool put(Json&& v) {
    place(std::move(v));
    return true;
  }
  bool open(Json&& v) {
    if (stack_.size() >= kMaxJsonDepth) return fail_with("nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    stack_.push_back(place(std::move(v)));
    return true;
  }
  bool close() {
    stack_.pop_back();
    return true;
  }
  std::vector<Json*> stack_;
  std::string key_;
};

Json parse_json(std::string_view text, const std::string& entry) {
  if (text.size() > kMaxJsonEntry) fail(entry, ": larger than 512 MiB");
  if (text.size() >= 3 && std::memcmp(text.data(), "\xEF\xBB\xBF", 3) == 0) fail(entry, ": starts with a byte order mark");
  StrictSax sax;
  bool ok = Json::sax_parse(text.begin(), text.end(), &sax, nlohmann::json::input_format_t::json, /*strict=*/true);
  if (!ok || !sax.error.empty()) fail(entry, ": invalid JSON: ", sax.error.empty() ? "parse error" : sax.error);
  return std::move(sax.root);
}

// docs/archive.md §2: the part of a `code/` or `extra/` name after the prefix.
bool safe_name(std::string_view name) {
  if (name.empty() || name.size() > 255 || name.front() == '/') return false;
  for (unsigned char c : name)
    if (c < 0x20 || c == 0x7F || c == '\\') return false;
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string_view::npos) end = name.size();
    std::string_view part = name.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return true;
}

bool is_identifier(const std::string& s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  for (unsigned char c : s)
    if (!(std::isalnum(c) || c == '_')) return false;
  return true;
}

// ------------------------------------------------------------------ graphs

// TYPE texts already parsed in this archive (value types repeat: most are
// `Tensor`). Only successful parses are kept, so errors are the parser's own.
class TypeCache {
 public:
  TypePtr parse(const Json& j, const ClassLookup& classes, const std::string& where) {
    const std::string& text = json_str(j, where + ".type");
    auto it = cache_.find(text);
    if (it != cache_.end()) return it->second;
    TypePtr t = parse_type(text, classes, where + ".type");
    cache_.emplace(text, t);
    return t;
  }

 private:
  std::unordered_map<std::string, TypePtr> cache_;
};

// Reads one FUNCTION's graph into an IrFunction, checking ids, scoping and
// nesting (docs/archive.md §4).
class GraphReader {
 public:
  GraphReader(IrFunction& fn, const ClassLookup& classes, TypeCache& types, size_t num_locs)
      : fn_(fn), classes_(classes), types_(types), num_locs_(num_locs) {}

  void read(const Json& graph, const std::string& where) { read_block(graph, fn_.graph, where, 0); }

 private:
  uint32_t define(const Json& j, const std::string& where) {
    expect_fields(j, {"id", "type", "name"}, where);
    int64_t id = json_int(j["id"], where + ".id");
    if (id != int64_t(fn_.types.size()))
      fail(where, ": value id ", id, " is out of definition order (expected ", fn_.types.size(), ")");
    const Json& name = j["name"];
    if (!name.is_null()) json_str(name, where + ".name");
    fn_.types.push_back(types_.parse(j["type"], classes_, where));
    visible_.push_back(1);
    return uint32_t(id);
  }

  uint32_t use(const Json& j, const std::string& where) {
    int64_t id = json_int(j, where);
    if (id < 0 || id >= int64_t(fn_.types.size())) fail(where, ": value %", id, " is used before it is defined");
    if (!visible_[id]) fail(where, ": value %", id, " is used outside the block that defines it");
    return uint32_t(id);
  }

  int32_t loc(const Json& j, const std::string& where) {
    if (j.is_null()) return -1;
    int64_t i = json_int(j, where);
    if (i < 0 || uint64_t(i) >= num_locs_) fail(where, ": source range ", i, " is not in debug.json");
    return int32_t(i);
  }

  void read_block(const Json& j, IrBlock& block, const std::string& where, int depth) {
    if (depth > kMaxBlockDepth) fail(where, ": blocks nested deeper than ", kMaxBlockDepth);
    expect_fields(j, {"params", "nodes", "returns"}, where);
    const size_t first = fn_.types.size();
    const Json& params = json_array(j["params"], where + ".params");
    for (size_t i = 0; i < params.size(); ++i) block.params.push_back(define(params[i], cat(where, ".params[", i, "]")));
    const Json& nodes = json_array(j["nodes"], where + ".nodes");
    block.nodes.resize(nodes.size());
    for (size_t i = 0; i < nodes.size(); ++i) read_node(nodes[i], block.nodes[i], cat(where, ".nodes[", i, "]"), depth);
    const Json& returns = json_array(j["returns"], where + ".returns");
    for (size_t i = 0; i < returns.size(); ++i) block.returns.push_back(use(returns[i], cat(where, ".returns[", i, "]")));
    for (size_t id = first; id < fn_.types.size(); ++id) visible_[id] = 0;
  }

  void read_node(const Json& j, IrNode& node, const std::string& where, int depth) {
    expect_fields(j, {"kind", "inputs", "outputs", "attrs", "blocks", "loc"}, where);
    node.where = where;
    node.kind = json_str(j["kind"], where + ".kind");
    if (node.kind == "prim::Return") fail(where, ": prim::Return cannot appear as a node");
    const Json& inputs = json_array(j["inputs"], where + ".inputs");
    for (size_t i = 0; i < inputs.size(); ++i) node.inputs.push_back(use(inputs[i], cat(where, ".inputs[", i, "]")));
    const Json& outputs = json_array(j["outputs"], where + ".outputs");
    for (size_t i = 0; i < outputs.size(); ++i) node.outputs.push_back(define(outputs[i], cat(where, ".outputs[", i, "]")));
    const Json& attrs = j["attrs"];
    if (!attrs.is_object()) fail(where, ".attrs: expected a JSON object");
    for (const auto& item : attrs.items())
      if (!is_identifier(item.key())) fail(where, ".attrs: '", item.key(), "' is not an attribute name");
    node.attrs = &attrs;
    const Json& blocks = json_array(j["blocks"], where + ".blocks");
    node.blocks.resize(blocks.size());
    for (size_t i = 0; i < blocks.size(); ++i)
      read_block(blocks[i], node.blocks[i], cat(where, ".blocks[", i, "]"), depth + 1);
    node.loc = loc(j["loc"], where + ".loc");
  }

  IrFunction& fn_;
  const ClassLookup& classes_;
  TypeCache& types_;
  size_t num_locs_;
  std::vector<char> visible_;
};

// ------------------------------------------------------------------ loader

struct TensorEntry {
  const Json* ref;  // the first reference, which every other must equal
  at::Tensor tensor;
};

class Loader {
 public:
  explicit Loader(ZipReader zip) : zip_(std::move(zip)), program_(std::make_shared<Program>()) {}

  std::shared_ptr<Program> load() {
    check_entry_names();
    manifest_ = parse_json(zip_.read("manifest.json"), "manifest.json");
    read_manifest();
    debug_ = parse_json(zip_.read("debug.json"), "debug.json");
    read_debug();
    std::string_view st = zip_.read("tensors.safetensors");
    safetensors_ = parse_safetensors(reinterpret_cast<const uint8_t*>(st.data()), st.size(), "tensors.safetensors");
    ir_ = parse_json(zip_.read("ir.json"), "ir.json");
    objects_json_ = parse_json(zip_.read("objects.json"), "objects.json");
    decoder_ = std::make_unique<ValueDecoder>(
        class_lookup(), [this](const Json& j, const std::string& where) { return tensor(j, where); },
        [this](int64_t index, const TypePtr& expected, const std::string& where) {
          return object(index, expected, where);
        });
    read_ir();
    read_objects();
    for (const auto& item : safetensors_.tensors)
      if (!tensors_.count(item.first))
        fail("tensors.safetensors: tensor '", item.first, "' is not referenced by the program");
    resolve_root();
    return std::move(program_);
  }

 private:
  // The classes and interfaces of ir.json, by qualified name.
  ClassLookup class_lookup() {
    return [this](const std::string& name) -> TypePtr {
      auto it = program_->class_by_name.find(name);
      if (it != program_->class_by_name.end()) return it->second->type;
      auto in = program_->interface_by_name.find(name);
      return in == program_->interface_by_name.end() ? nullptr : TypePtr(in->second->type);
    };
  }

  void check_entry_names() {
    for (const char* required : {"manifest.json", "ir.json", "objects.json", "debug.json", "tensors.safetensors"})
      if (!zip_.contains(required)) fail("missing entry '", required, "'");
    for (const std::string& name : zip_.names()) {
      if (name == "manifest.json" || name == "ir.json" || name == "objects.json" || name == "debug.json" ||
          name == "tensors.safetensors")
        continue;
      std::string_view n(name);
      bool ok = (n.substr(0, 5) == "code/" && safe_name(n.substr(5))) || (n.substr(0, 6) == "extra/" && safe_name(n.substr(6)));
      if (!ok) fail("unexpected entry '", name, "'");
      zip_.read(name);  // CRC-checked although nothing else reads it (docs/archive.md §2)
    }
  }

  void read_manifest() {
    const std::string w = "manifest.json";
    expect_fields(manifest_, {"format", "format_version", "producer", "root"}, w);
    if (json_str(manifest_["format"], w + ": format") != "torchkiln") fail(w, ": format is not \"torchkiln\"");
    int64_t version = json_int(manifest_["format_version"], w + ": format_version");
    if (version < kOldestFormatVersion || version > kFormatVersion)
      fail(w, ": format version ", version, " is not supported (this runtime reads versions ", kOldestFormatVersion,
           " to ", kFormatVersion, ")");
    version_ = version;
    const Json& producer = manifest_["producer"];
    if (!producer.is_object()) fail(w, ": producer: expected a JSON object");
    for (const auto& item : producer.items()) json_str(item.value(), w + ": producer." + item.key());
    const Json& root = manifest_["root"];
    if (!root.is_object() || !root.contains("kind")) fail(w, ": root: expected {\"kind\": ...}");
    const std::string& kind = json_str(root["kind"], w + ": root.kind");
    if (kind == "module") {
      expect_fields(root, {"kind", "class"}, w + ": root");
      json_str(root["class"], w + ": root.class");
    } else if (kind == "function") {
      expect_fields(root, {"kind", "function"}, w + ": root");
      json_str(root["function"], w + ": root.function");
    } else {
      fail(w, ": root.kind must be \"module\" or \"function\"");
    }
  }

  void read_debug() {
    expect_fields(debug_, {"ranges"}, "debug.json");
    const Json& ranges = json_array(debug_["ranges"], "debug.json: ranges");
    for (size_t i = 0; i < ranges.size(); ++i) {
      const std::string w = cat("debug.json: ranges[", i, "]");
      const Json& r = ranges[i];
      expect_fields(r, {"file", "line", "col", "end_col", "text"}, w);
      SourceLoc loc;
      loc.file = json_str(r["file"], w + ".file");
      loc.line = json_int(r["line"], w + ".line");
      loc.col = json_int(r["col"], w + ".col");
      if (loc.line < 1 || loc.col < 0) fail(w, ": line must be >= 1 and col >= 0");
      if (!r["end_col"].is_null()) {
        loc.end_col = json_int(r["end_col"], w + ".end_col");
        if (*loc.end_col < loc.col) fail(w, ": end_col is before col");
      }
      if (!r["text"].is_null()) loc.text = json_str(r["text"], w + ".text");
      program_->locs.push_back(std::move(loc));
    }
  }

  // A tensor VALUE: one tensor per key, every reference agreeing (§5).
  at::Tensor tensor(const Json& j, const std::string& where) {
    const std::string& key = json_str(j["key"], where + ".key");
    auto seen = tensors_.find(key);
    if (seen != tensors_.end()) {
      if (*seen->second.ref != j) fail(where, ": reference to tensor '", key, "' disagrees with an earlier one");
      return seen->second.tensor;
    }
    auto rec = safetensors_.tensors.find(key);
    if (rec == safetensors_.tensors.end()) fail(where, ": tensor '", key, "' is not in tensors.safetensors");
    c10::ScalarType dtype = dtype_from_name(json_str(j["dtype"], where + ".dtype"), where + ".dtype");
    if (dtype != rec->second.dtype)
      fail(where, ": tensor '", key, "' is declared ", dtype_name(dtype), " but stored as ", dtype_name(rec->second.dtype));
    const Json& shape = json_array(j["shape"], where + ".shape");
    std::vector<int64_t> dims;
    for (size_t i = 0; i < shape.size(); ++i) dims.push_back(json_int(shape[i], cat(where, ".shape[", i, "]")));
    if (dims != rec->second.shape) fail(where, ": tensor '", key, "' is declared with a shape other than the stored one");
    bool requires_grad = json_bool(j["requires_grad"], where + ".requires_grad");
    json_bool(j["parameter"], where + ".parameter");
    const std::string& device = json_str(j["device"], where + ".device");
    at::Tensor t = safetensors_.tensor(key);
    try {
      c10::Device dev(device);
      if (dev != t.device()) t = t.to(dev);
      if (requires_grad) t.set_requires_grad(true);
    } catch (const c10::Error& e) {
      fail(where, ": tensor '", key, "': ", e.what_without_backtrace());
    }
    tensors_.emplace(key, TensorEntry{&j, t});
    return t;
  }

  // ------------------------------------------------------------ ir.json

  struct PendingFunction {
    const Json* json;
    std::string where;
    Code* code;
    const ClassInfo* self_class;  // for methods
  };

  void read_ir() {
    const std::string w = "ir.json";
    if (version_ >= 3)
      expect_fields(ir_, {"interfaces", "classes", "functions"}, w);
    else
      expect_fields(ir_, {"classes", "functions"}, w);
    const Json& classes = json_array(ir_["classes"], w + ": classes");
    const Json& functions = json_array(ir_["functions"], w + ": functions");
    static const Json no_interfaces = Json::array();
    const Json& interfaces = version_ >= 3 ? json_array(ir_["interfaces"], w + ": interfaces") : no_interfaces;
    Program& p = *program_;

    // 0. every interface by name (its methods once every class is known)
    for (size_t i = 0; i < interfaces.size(); ++i) {
      const std::string iw = cat(w, ": interfaces[", i, "]");
      const Json& d = interfaces[i];
      expect_fields(d, {"name", "is_module", "methods"}, iw);
      auto info = std::make_unique<InterfaceInfo>();
      info->name = json_str(d["name"], iw + ".name");
      info->is_module = json_bool(d["is_module"], iw + ".is_module");
      if (p.interface_by_name.count(info->name)) fail(iw, ": interface '", info->name, "' is defined twice");
      try {
        info->type = c10::InterfaceType::create(c10::QualifiedName(info->name), info->is_module);
      } catch (const c10::Error&) {
        fail(iw, ": '", info->name, "' is not a qualified name");
      }
      p.interface_by_name[info->name] = info.get();
      p.interface_by_type[info->type.get()] = info.get();
      p.interfaces.push_back(std::move(info));
    }

    // 1. every class by name, so that types can refer to any of them
    for (size_t i = 0; i < classes.size(); ++i) {
      const std::string cw = cat(w, ": classes[", i, "]");
      const Json& c = classes[i];
      expect_fields(c, {"name", "is_module", "attributes", "constants", "methods"}, cw);
      auto info = std::make_unique<ClassInfo>();
      info->name = json_str(c["name"], cw + ".name");
      info->is_module = json_bool(c["is_module"], cw + ".is_module");
      if (p.class_by_name.count(info->name)) fail(cw, ": class '", info->name, "' is defined twice");
      if (p.interface_by_name.count(info->name)) fail(cw, ": '", info->name, "' names both an interface and a class");
      try {
        info->type = c10::ClassType::create(c10::QualifiedName(info->name), std::weak_ptr<torch::jit::CompilationUnit>(),
                                            info->is_module);
      } catch (const c10::Error&) {
        fail(cw, ": '", info->name, "' is not a qualified name");
      }
      p.class_by_name[info->name] = info.get();
      p.class_by_type[info->type.get()] = info.get();
      p.classes.push_back(std::move(info));
    }
    for (size_t i = 0; i < interfaces.size(); ++i)
      read_interface_methods(interfaces[i], *p.interfaces[i], cat(w, ": interfaces[", i, "]"));
    // 2. free function shells, so calls can be resolved while compiling
    std::vector<PendingFunction> pending;
    for (size_t i = 0; i < functions.size(); ++i) {
      const std::string fw = cat(w, ": functions[", i, "]");
      const Json& f = functions[i];
      if (!f.is_object()) fail(fw, ": expected a JSON object");
      const std::string& name = json_str(field(f, "name", fw), fw + ".name");
      if (p.free_functions.count(name)) fail(fw, ": function '", name, "' is defined twice");
      p.free_functions[name] = uint32_t(p.functions.size());
      p.functions.push_back(std::make_unique<Code>());
      p.functions.back()->name = name;
      p.functions.back()->function = name.substr(name.rfind('.') + 1);
      pending.push_back({&f, fw, p.functions.back().get(), nullptr});
    }
    // 3. attributes, constants and method shells of every class
    for (size_t i = 0; i < classes.size(); ++i) {
      const std::string cw = cat(w, ": classes[", i, "]");
      ClassInfo& info = *p.classes[i];
      read_class_members(classes[i], info, cw, pending);
    }
    // 4. signatures and graphs; 5. compile
    std::vector<IrFunction> graphs(pending.size());
    for (size_t i = 0; i < pending.size(); ++i) read_function(pending[i], graphs[i]);
    find_implementers();
    CompileContext ctx{p, *decoder_};
    for (size_t i = 0; i < pending.size(); ++i) compile_function(graphs[i], *pending[i].code, ctx);
  }

  // An INTERFACE's methods (docs/archive.md §4): names, argument names and types, self first.
  void read_interface_methods(const Json& d, InterfaceInfo& info, const std::string& iw) {
    TypePtr named = parse_type(info.name, class_lookup(), iw + ".name");
    if (named.get() != info.type.get()) fail(iw, ".name: '", info.name, "' is not usable as an interface name in types");
    const Json& methods = json_array(d["methods"], iw + ".methods");
    if (methods.empty()) fail(iw, ".methods: the interface ", info.name, " declares no methods");
    for (size_t k = 0; k < methods.size(); ++k) {
      const std::string mw = cat(iw, ".methods[", k, "]");
      expect_fields(methods[k], {"name", "args", "returns"}, mw);
      InterfaceInfo::Method m;
      m.name = json_str(methods[k]["name"], mw + ".name");
      if (!is_identifier(m.name)) fail(mw, ".name: method name '", m.name, "' is not an identifier");
      for (const auto& other : info.methods)
        if (other.name == m.name) fail(mw, ": method '", m.name, "' is declared twice");
      const Json& args = json_array(methods[k]["args"], mw + ".args");
      for (size_t a = 0; a < args.size(); ++a) {
        const std::string aw = cat(mw, ".args[", a, "]");
        expect_fields(args[a], {"name", "type"}, aw);
        const std::string& name = json_str(args[a]["name"], aw + ".name");
        if (!is_identifier(name)) fail(aw, ".name: argument name '", name, "' is not an identifier");
        for (const auto& other : m.args)
          if (other.first == name) fail(aw, ".name: argument '", name, "' is declared twice");
        m.args.emplace_back(name, parse_type(json_str(args[a]["type"], aw + ".type"), class_lookup(), aw + ".type"));
      }
      if (m.args.empty() || m.args[0].second.get() != info.type.get())
        fail(mw, ".args: the first argument of method '", m.name, "' must be self of type ", info.name);
      m.returns = parse_type(json_str(methods[k]["returns"], mw + ".returns"), class_lookup(), mw + ".returns");
      info.methods.push_back(std::move(m));
    }
  }

  // Which classes implement which interfaces (the rule of docs/archive.md §4: the same
  // argument names, each interface argument type a subtype of the method's, the
  // method's return type a subtype of the interface's).
  void find_implementers() {
    Program& p = *program_;
    for (auto& iface : p.interfaces)
      for (const auto& cls : p.classes)
        if (class_fits(*cls, *iface)) iface->implementers.insert(cls->type.get());
  }

  bool class_fits(const ClassInfo& cls, const InterfaceInfo& iface) const {
    if (iface.is_module && !cls.is_module) return false;
    for (const auto& m : iface.methods) {
      auto it = cls.methods.find(m.name);
      if (it == cls.methods.end()) return false;
      const Code& code = *program_->functions[it->second];
      if (code.args.size() != m.args.size() || code.returns == nullptr) return false;
      for (size_t i = 1; i < m.args.size(); ++i)
        if (code.args[i].name != m.args[i].first || !is_subtype(m.args[i].second, code.args[i].type)) return false;
      if (!is_subtype(code.returns, m.returns)) return false;
    }
    return true;
  }

  void read_class_members(const Json& c, ClassInfo& info, const std::string& cw, std::vector<PendingFunction>& pending) {
    Program& p = *program_;
    const Json& attrs = json_array(c["attributes"], cw + ".attributes");
    for (size_t k = 0; k < attrs.size(); ++k) {
      const std::string aw = cat(cw, ".attributes[", k, "]");
      expect_fields(attrs[k], {"name", "type", "kind"}, aw);
      const std::string& name = json_str(attrs[k]["name"], aw + ".name");
      TypePtr type = parse_type(json_str(attrs[k]["type"], aw + ".type"), class_lookup(), aw + ".type");
      const std::string& kind = json_str(attrs[k]["kind"], aw + ".kind");
      if (kind != "parameter" && kind != "buffer" && kind != "module" && kind != "attribute")
        fail(aw, ": kind must be parameter, buffer, module or attribute");
      // A module interface (Any before version 3): a submodule whose methods are found by its class.
      if (kind == "module" && type->kind() == c10::TypeKind::InterfaceType &&
          !p.interface_by_type.at(type.get())->is_module)
        fail(aw, ": a module attribute cannot have the type of ", type_text(type), ", which is not a module interface");
      if (kind == "module" && type->kind() != c10::TypeKind::AnyType && type->kind() != c10::TypeKind::InterfaceType &&
          !(type->kind() == c10::TypeKind::ClassType && p.class_by_type.at(type.get())->is_module))
        fail(aw, ": a module attribute must have a module class type, a module interface or Any");
      if (info.type->findAttributeSlot(name)) fail(aw, ": attribute '", name, "' is declared twice");
      info.type->addAttribute(name, type, kind == "parameter", kind == "buffer");
      info.attr_kinds.push_back(kind);
    }
    // Modules always answer `training` (nn.Module.training), like TorchScript's.
    if (info.is_module && !info.type->findAttributeSlot("training")) {
      info.implicit_training_slot = int32_t(info.type->addAttribute("training", c10::BoolType::get()));
      info.attr_kinds.push_back("attribute");
    }
    const Json& constants = json_array(c["constants"], cw + ".constants");
    for (size_t k = 0; k < constants.size(); ++k) {
      const std::string kw = cat(cw, ".constants[", k, "]");
      expect_fields(constants[k], {"name", "value"}, kw);
      const std::string& name = json_str(constants[k]["name"], kw + ".name");
      for (const auto& existing : info.constants)
        if (existing.first == name) fail(kw, ": constant '", name, "' is declared twice");
      info.constants.emplace_back(name, decoder_->decode(constants[k]["value"], nullptr, kw + ".value"));
    }
    const Json& methods = json_array(c["methods"], cw + ".methods");
    for (size_t k = 0; k < methods.size(); ++k) {
      const std::string mw = cat(cw, ".methods[", k, "]");
      if (!methods[k].is_object()) fail(mw, ": expected a JSON object");
      const std::string& name = json_str(field(methods[k], "name", mw), mw + ".name");
      if (info.methods.count(name)) fail(mw, ": method '", name, "' is defined twice");
      info.methods[name] = uint32_t(p.functions.size());
      info.method_names.push_back(name);
      p.functions.push_back(std::make_unique<Code>());
      p.functions.back()->name = info.name + "." + name;
      p.functions.back()->function = name;
      p.functions.back()->self_class = &info;
      pending.push_back({&methods[k], mw, p.functions.back().get(), &info});
    }
  }

  void read_function(const PendingFunction& pf, IrFunction& ir) {
    const Json& f = *pf.json;
    const std::string& w = pf.where;
    Code& code = *pf.code;
    expect_fields(f, {"name", "args", "returns", "loc", "graph"}, w);
    ir.where = w + ".graph";
    GraphReader(ir, class_lookup(), types_, program_->locs.size()).read(f["graph"], w + ".graph");
    const Json& args = json_array(f["args"], w + ".args");
    if (args.size() != ir.graph.params.size())
      fail(w, ": ", args.size(), " args but the graph has ", ir.graph.params.size(), " inputs");
    bool seen_other = false;  // an argument that is not positional-only came before
    for (size_t i = 0; i < args.size(); ++i) {
      const std::string aw = cat(w, ".args[", i, "]");
      if (version_ >= 2)
        expect_fields(args[i], {"name", "type", "default", "kwarg_only", "positional_only"}, aw);
      else
        expect_fields(args[i], {"name", "type", "default", "kwarg_only"}, aw);
      ArgInfo arg;
      arg.name = json_str(args[i]["name"], aw + ".name");
      arg.type = parse_type(json_str(args[i]["type"], aw + ".type"), class_lookup(), aw + ".type");
      if (!(*arg.type == *ir.types[ir.graph.params[i]]))
        fail(aw, ": type ", type_text(arg.type), " differs from the graph input's ", type_text(ir.types[ir.graph.params[i]]));
      if (!args[i]["default"].is_null()) arg.default_value = decoder_->decode(args[i]["default"], arg.type, aw + ".default");
      arg.kwarg_only = json_bool(args[i]["kwarg_only"], aw + ".kwarg_only");
      if (version_ >= 2) {
        arg.positional_only = json_bool(args[i]["positional_only"], aw + ".positional_only");
        if (arg.positional_only && (seen_other || arg.kwarg_only))
          fail(aw, ": a positional-only argument must come before the others and cannot be keyword-only");
      }
      seen_other = seen_other || !arg.positional_only;
      code.args.push_back(std::move(arg));
    }
    if (pf.self_class != nullptr && (code.args.empty() || code.args[0].type.get() != pf.self_class->type.get()))
      fail(w, ": a method's first argument must be self of class ", pf.self_class->name);
    code.returns = parse_type(json_str(f["returns"], w + ".returns"), class_lookup(), w + ".returns");
    if (f["loc"].is_null()) {
      code.loc = -1;
    } else {
      int64_t l = json_int(f["loc"], w + ".loc");
      if (l < 0 || uint64_t(l) >= program_->locs.size()) fail(w, ".loc: source range ", l, " is not in debug.json");
      code.loc = int32_t(l);
    }
  }

  // -------------------------------------------------------- objects.json

  c10::IValue object(int64_t index, const TypePtr& expected, const std::string& where) {
    if (objects_.empty()) fail(where, ": object VALUEs may appear only in objects.json");
    if (index < 0 || uint64_t(index) >= objects_.size()) fail(where, ": object ", index, " does not exist");
    const c10::IValue& obj = objects_[index];
    if (expected->kind() == c10::TypeKind::InterfaceType) {
      if (!implements_interface(*program_, obj, expected))
        fail(where, ": object ", index, " is a ", obj.toObjectRef().type()->name()->qualifiedName(),
             ", which does not implement the interface ", type_text(expected));
    } else if (obj.toObjectRef().type().get() != expected.get())
      fail(where, ": object ", index, " is a ", obj.toObjectRef().type()->name()->qualifiedName(), " where ",
           type_text(expected), " is declared");
    edges_.back().push_back(size_t(index));
    return obj;
  }

  void read_objects() {
    const std::string w = "objects.json";
    expect_fields(objects_json_, {"objects"}, w);
    const Json& objs = json_array(objects_json_["objects"], w + ": objects");
    bool module_root = json_str(manifest_["root"]["kind"], "manifest.json: root.kind") == "module";
    if (module_root && objs.empty()) fail(w, ": a module archive needs its root object");
    if (!module_root && !objs.empty()) fail(w, ": a function archive has no objects");
    std::vector<const ClassInfo*> classes;
    for (size_t i = 0; i < objs.size(); ++i) {
      const std::string ow = cat(w, ": objects[", i, "]");
      if (version_ >= 2)
        expect_fields(objs[i], {"class", "training", "non_persistent", "attributes"}, ow);
      else
        expect_fields(objs[i], {"class", "training", "attributes"}, ow);
      const std::string& name = json_str(objs[i]["class"], ow + ".class");
      auto it = program_->class_by_name.find(name);
      if (it == program_->class_by_name.end()) fail(ow, ": class '", name, "' is not in ir.json");
      classes.push_back(it->second);
      objects_.emplace_back(c10::ivalue::Object::create(c10::StrongTypePtr(nullptr, it->second->type),
                                                        it->second->type->numAttributes()));
    }
    for (size_t i = 0; i < objs.size(); ++i) {
      const std::string ow = cat(w, ": objects[", i, "]");
      const ClassInfo& cls = *classes[i];
      c10::ivalue::Object& obj = objects_[i].toObjectRef();
      edges_.emplace_back();
      const Json& training = objs[i]["training"];
      if (cls.is_module) {
        bool flag = json_bool(training, ow + ".training");
        if (cls.implicit_training_slot >= 0) obj.setSlot(cls.implicit_training_slot, flag);
      } else if (!training.is_null()) {
        fail(ow, ".training: must be null for a script-class object");
      }
      const Json& attrs = objs[i]["attributes"];
      if (!attrs.is_object()) fail(ow, ".attributes: expected a JSON object");
      size_t declared = 0;
      for (size_t slot = 0; slot < cls.type->numAttributes(); ++slot) {
        if (int32_t(slot) == cls.implicit_training_slot) continue;
        ++declared;
        const std::string& aname = cls.type->getAttributeName(slot);
        const std::string aw = ow + ".attributes." + aname;
        auto a = attrs.find(aname);
        if (a == attrs.end()) fail(ow, ".attributes: missing attribute '", aname, "'");
        check_attribute_kind(*a, cls.attr_kinds[slot], aw);
        TypePtr declared_type = cls.type->getAttribute(slot);
        if (cls.attr_kinds[slot] == "module" && (declared_type->kind() == c10::TypeKind::AnyType ||
                                                 declared_type->kind() == c10::TypeKind::InterfaceType)) {
          // A submodule typed by a module interface (§4): the object has its own class.
          if (!a->contains("value")) fail(aw, ": a module attribute must hold an object");
          int64_t index = json_int((*a)["value"], aw + ".value");
          if (index < 0 || uint64_t(index) >= objects_.size()) fail(aw, ": object ", index, " does not exist");
          if (!implements_interface(*program_, objects_[index], declared_type))
            fail(aw, ": object ", index, " is a ", objects_[index].toObjectRef().type()->name()->qualifiedName(),
                 ", which does not implement the interface ", type_text(declared_type));
          declared_type = objects_[index].toObjectRef().type();
        }
        obj.setSlot(slot, decoder_->decode(*a, declared_type, aw));
      }
      if (attrs.size() != declared)
        for (const auto& item : attrs.items()) {
          auto slot = cls.type->findAttributeSlot(item.key());
          if (!slot || int32_t(*slot) == cls.implicit_training_slot)
            fail(ow, ".attributes: unknown attribute '", item.key(), "'");
        }
      if (version_ >= 2) check_non_persistent(objs[i]["non_persistent"], cls, ow + ".non_persistent");
    }
    check_object_graph(w);
  }

  // `non_persistent` (§7): names of buffers of the object's class, each once.
  // This runtime has no state_dict, so the names are checked, not kept:
  // named_buffers() lists every buffer, as nn.Module's does.
  static void check_non_persistent(const Json& names, const ClassInfo& cls, const std::string& where) {
    const Json& list = json_array(names, where);
    std::unordered_set<std::string> seen;
    for (size_t k = 0; k < list.size(); ++k) {
      const std::string& name = json_str(list[k], cat(where, "[", k, "]"));
      auto slot = cls.type->findAttributeSlot(name);
      if (!slot || cls.attr_kinds[*slot] != "buffer")
        fail(where, "[", k, "]: '", name, "' is not a buffer of ", cls.name);
      if (!seen.insert(name).second) fail(where, "[", k, "]: buffer '", name, "' is listed twice");
    }
  }

  static void check_attribute_kind(const Json& v, const std::string& kind, const std::string& where) {
    const std::string& tag = v.is_object() && v.contains("tag") && v["tag"].is_string() ? v["tag"].get_ref<const std::string&>() : "";
    if (kind == "parameter" || kind == "buffer") {
      if (tag == "none") return;
      if (tag != "tensor") fail(where, ": a ", kind, " must hold a tensor");
      if (v.contains("parameter") && v["parameter"].is_boolean() && v["parameter"].get<bool>() != (kind == "parameter"))
        fail(where, ": ", kind == "parameter" ? "a parameter must be saved with parameter: true" : "a buffer must be saved with parameter: false");
    } else if (kind == "module" && tag != "object") {
      fail(where, ": a module attribute must hold an object");
    }
  }

  // No cycles; every object reachable from objects[0] (§7).
  void check_object_graph(const std::string& w) {
    size_t n = edges_.size();
    std::vector<size_t> indegree(n, 0);
    for (const auto& out : edges_)
      for (size_t t : out) ++indegree[t];
    std::vector<size_t> ready;
    for (size_t i = 0; i < n; ++i)
      if (indegree[i] == 0) ready.push_back(i);
    size_t removed = 0;
    while (!ready.empty()) {
      size_t i = ready.back();
      ready.pop_back();
      ++removed;
      for (size_t t : edges_[i])
        if (--indegree[t] == 0) ready.push_back(t);
    }
    if (removed != n) fail(w, ": objects refer to each other in a cycle");
    std::vector<char> seen(n, 0);
    std::vector<size_t> todo;
    if (n) todo.push_back(0), seen[0] = 1;
    while (!todo.empty()) {
      size_t i = todo.back();
      todo.pop_back();
      for (size_t t : edges_[i])
        if (!seen[t]) seen[t] = 1, todo.push_back(t);
    }
    for (size_t i = 0; i < n; ++i)
      if (!seen[i]) fail(w, ": objects[", i, "] is not reachable from the root");
  }

  void resolve_root() {
    Program& p = *program_;
    const Json& root = manifest_["root"];
    if (root["kind"] == "module") {
      const std::string& name = root["class"].get_ref<const std::string&>();
      auto it = p.class_by_name.find(name);
      if (it == p.class_by_name.end() || !it->second->is_module)
        fail("manifest.json: root.class '", name, "' is not a module class of ir.json");
      if (objects_[0].toObjectRef().type().get() != it->second->type.get())
        fail("objects.json: objects[0] is not of the root class ", name);
      p.root = objects_[0];
      p.root_class = it->second;
    } else {
      const std::string& name = root["function"].get_ref<const std::string&>();
      auto it = p.free_functions.find(name);
      if (it == p.free_functions.end()) fail("manifest.json: root.function '", name, "' is not a function of ir.json");
      p.root_function = p.functions[it->second].get();
    }
  }

  ZipReader zip_;
  std::shared_ptr<Program> program_;
  int64_t version_ = kFormatVersion;  // manifest.json's format_version
  Json manifest_, debug_, ir_, objects_json_;
  Safetensors safetensors_;
  std::unordered_map<std::string, TensorEntry> tensors_;
  std::unique_ptr<ValueDecoder> decoder_;
  TypeCache types_;
  std::vector<c10::IValue> objects_;
  std::vector<std::vector<size_t>> edges_;  // object -> objects it refers to
};

// Note [Trusted in-memory archives]
// ----------------------------------
// The C++ executor (torchkiln/cpp_executor.py) writes a ScriptModule as an
// archive and loads it in the same process, on the module's first call. It
// hands the entries over as separate buffers (`_C.load_entries`) instead of
// a zip file: no container to write and parse, and no CRC-32 to compute on
// either side. A CRC guards bytes that were stored or sent; these never
// left the process. Everything else is checked as for a file: entry names,
// strict JSON, every field and type, the verifier's invariants, tensors,
// the object graph, with the same messages. A file or a buffer given to
// load() / load_from_buffer() always goes through the zip reader and every
// check; nothing read from outside the process reaches this path.
template <typename Read>
std::shared_ptr<const Program> load_checked(Read read) {
  try {
    return Loader(read()).load();
  } catch (const Error&) {
    throw;
  } catch (const c10::Error& e) {
    fail("not a valid torchkiln archive: ", e.what_without_backtrace());
  } catch (const std::bad_alloc&) {
    fail("not a valid torchkiln archive: out of memory while loading");
  } catch (const std::exception& e) {
    fail("not a valid torchkiln archive: ", e.what());
  }
}

std::shared_ptr<const Program> load_bytes(const uint8_t* data, size_t size) {
  return load_checked([&] { return ZipReader(data, size); });
}

// A read-only mapping of a whole file.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail("cannot open '", path, "': ", std::strerror(errno));
    struct stat st;
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      fail("cannot read '", path, "': not a regular file");
    }
    size_ = size_t(st.st_size);
    if (size_ > 0) {
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        ::close(fd);
        fail("cannot read '", path, "': ", std::strerror(errno));
      }
      data_ = static_cast<const uint8_t*>(p);
    }
    ::close(fd);
  }
  ~MappedFile() {
    if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const uint8_t* data() const { return data_ != nullptr ? data_ : reinterpret_cast<const uint8_t*>(""); }
  size_t size() const { return size_; }

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace

bool implements_interface(const Program& program, const c10::IValue& v, const TypePtr& type) {
  const TypePtr& t = type->kind() == c10::TypeKind::OptionalType ? type->expectRef<c10::OptionalType>().getElementType() : type;
  if (t->kind() != c10::TypeKind::InterfaceType) return true;
  if (v.isNone()) return type->kind() == c10::TypeKind::OptionalType;
  auto it = program.interface_by_type.find(t.get());
  if (!v.isObject() || it == program.interface_by_type.end()) return false;
  return it->second->implementers.count(v.toObjectRef().type().get()) > 0;
}

}  // namespace detail

Module load(const std::string& path) {
  detail::MappedFile file(path);
  try {
    return Module(detail::load_bytes(file.data(), file.size()));
  } catch (const Error& e) {
    throw Error("cannot load '" + path + "': " + e.what());
  }
}

Module load_from_buffer(const void* data, size_t size) {
  return Module(detail::load_bytes(static_cast<const uint8_t*>(data), size));
}

Module detail::load_trusted_entries(const std::vector<std::pair<std::string, std::string_view>>& entries) {
  return Module(detail::load_checked([&] { return ZipReader(entries); }));
}

Module load_from_buffer(const std::string& bytes) { return load_from_buffer(bytes.data(), bytes.size()); }

}  // namespace torchkiln
