// Type text -> c10 types, subtyping, runtime conformance, VALUE decoding.
#include "types.h"

#include <cctype>
#include <ATen/core/Dict.h>
#include <ATen/core/List.h>
#include <ATen/core/class_type.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>

#include "error.h"

namespace torchkiln::detail {

namespace {

constexpr int kMaxDepth = 100;  // of types and VALUEs (docs/archive.md §5)

// Note [Work budget]
// Subtyping over Unions nested in lists and tuples, and decoding a VALUE
// for a Union (trying each member), can take time exponential in the
// nesting depth of a crafted type. Each top-level check gets a budget of
// steps; running out is an error rather than a hang.
constexpr int64_t kWorkBudget = 2'000'000;
thread_local int64_t t_work = 0;

}  // namespace

void work_step(int depth) {
  if (depth == 0) t_work = 0;
  if (++t_work > kWorkBudget) throw Error("type or value too complex to check (nested unions)");
}

namespace {

// -------------------------------------------------------------- type parser

class TypeParser {
 public:
  TypeParser(std::string_view text, const ClassLookup& classes, const std::string& where, bool schema = false)
      : s_(text), classes_(classes), where_(where), schema_(schema) {}

  TypePtr parse() {
    TypePtr t = type(0);
    if (pos_ != s_.size()) error("unexpected text");
    return t;
  }

 private:
  [[noreturn]] void error(const std::string& what) {
    fail(where_, ": bad type '", s_, "': ", what, " at offset ", pos_);
  }
  bool eat(std::string_view tok) {
    if (s_.substr(pos_, tok.size()) != tok) return false;
    pos_ += tok.size();
    return true;
  }
  void expect(std::string_view tok) {
    if (!eat(tok)) error(cat("expected '", tok, "'"));
  }
  static bool name_char(char c) {
    return c != ' ' && c != ',' && c != '(' && c != ')' && c != '[' && c != ']' && c != '?' && c != ':' &&
           static_cast<unsigned char>(c) > 0x20;
  }
  std::string name() {
    size_t start = pos_;
    while (pos_ < s_.size() && name_char(s_[pos_])) ++pos_;
    if (pos_ == start) error("expected a type name");
    return std::string(s_.substr(start, pos_ - start));
  }
  // `A, B, ...)` after an opening parenthesis.
  std::vector<TypePtr> list(int depth) {
    std::vector<TypePtr> items;
    if (eat(")")) return items;
    do {
      items.push_back(type(depth + 1));
    } while (eat(", "));
    expect(")");
    return items;
  }

  TypePtr type(int depth) {
    if (depth > kMaxDepth) error("nested too deeply");
    TypePtr t = primary(depth);
    while (true) {
      if (schema_ && pos_ < s_.size() && s_[pos_] == '(') {  // an alias annotation: Tensor(a!), t[](a)
        size_t close = s_.find(')', pos_);
        if (close == std::string_view::npos) error("unclosed alias annotation");
        pos_ = close + 1;
      } else if (eat("[]")) {
        t = c10::ListType::create(t);
      } else if (eat("?")) {
        t = c10::OptionalType::create(t);
      } else {
        return t;
      }
    }
  }

  TypePtr primary(int depth) {
    if (eat("(")) return c10::TupleType::create(list(depth));
    if (eat("Dict(")) {
      TypePtr k = type(depth + 1);
      expect(", ");
      TypePtr v = type(depth + 1);
      expect(")");
      if (k->kind() == c10::TypeKind::VarType) k = c10::AnyType::get();  // c10 dicts cannot be keyed by a type variable
      return c10::DictType::create(k, v);
    }
    if (eat("Union(")) {
      auto members = list(depth);
      if (members.size() < 2) error("a Union needs at least two members");
      return c10::UnionType::create(std::move(members));
    }
    if (eat("Future(")) {
      TypePtr t = type(depth + 1);
      expect(")");
      return c10::FutureType::create(t);
    }
    if (eat("NamedTuple ")) {
      std::string qualname = name();
      expect("(");
      std::vector<std::string> fields;
      std::vector<TypePtr> types;
      if (!eat(")")) {
        do {
          fields.push_back(name());
          expect(": ");
          types.push_back(type(depth + 1));
        } while (eat(", "));
        expect(")");
      }
      return c10::TupleType::createNamed(c10::QualifiedName(qualname), fields, types);
    }
    std::string n = name();
    if (!schema_ && pos_ < s_.size() && s_[pos_] == '(' && std::isupper(static_cast<unsigned char>(n[0]))) {
      // A refined tensor type, `Float(2, *, device=cpu)` or `Tensor(3)`: the
      // refinements are hints for passes, so the runtime reads it as Tensor.
      size_t close = s_.find(')', pos_);
      if (close == std::string_view::npos) error("unclosed tensor refinement");
      for (size_t i = pos_ + 1; i < close; ++i) {
        char c = s_[i];
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == ',' || c == ' ' || c == '*' || c == '.' ||
              c == '=' || c == ':' || c == '_'))
          error("bad tensor refinement");
      }
      pos_ = close + 1;
      return c10::TensorType::get();
    }
    if (TypePtr t = singleton(n)) return t;
    if (schema_) {
      if (n == "SymInt") return c10::IntType::get();
      if (n == "complex") return c10::ComplexType::get();
      if (std::islower(static_cast<unsigned char>(n[0]))) return c10::VarType::create(n);
    }
    if (TypePtr cls = classes_(n)) return cls;
    error("unknown type '" + n + "'");
  }

  static TypePtr singleton(const std::string& n) {
    static const std::unordered_map<std::string, TypePtr> table = {
        {"Tensor", c10::TensorType::get()},
        {"int", c10::IntType::get()},
        {"float", c10::FloatType::get()},
        {"bool", c10::BoolType::get()},
        {"str", c10::StringType::get()},
        {"NoneType", c10::NoneType::get()},
        {"Device", c10::DeviceObjType::get()},
        {"ScalarType", c10::ScalarTypeType::get()},
        {"Layout", c10::LayoutType::get()},
        {"MemoryFormat", c10::MemoryFormatType::get()},
        {"Scalar", c10::NumberType::get()},
        {"Any", c10::AnyType::get()},
        {"Generator", c10::GeneratorType::get()},
    };
    auto it = table.find(n);
    return it == table.end() ? nullptr : it->second;
  }

  std::string_view s_;
  const ClassLookup& classes_;
  const std::string& where_;
  bool schema_;
  size_t pos_ = 0;
};

bool is_number_type(const TypePtr& t) {
  auto k = t->kind();
  return k == c10::TypeKind::IntType || k == c10::TypeKind::FloatType || k == c10::TypeKind::BoolType ||
         k == c10::TypeKind::NumberType;
}

}  // namespace

TypePtr parse_type(std::string_view text, const ClassLookup& classes, const std::string& where) {
  return TypeParser(text, classes, where).parse();
}

TypePtr parse_schema_type(std::string_view text, const std::string& where) {
  static const ClassLookup no_classes = [](const std::string&) -> TypePtr { return nullptr; };
  return TypeParser(text, no_classes, where, /*schema=*/true).parse();
}

std::string type_text(const TypePtr& t) {
  using K = c10::TypeKind;
  auto join = [](const auto& items) {
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + type_text(items[i]);
    return out;
  };
  switch (t->kind()) {
    case K::TensorType: return "Tensor";
    case K::IntType: return "int";
    case K::FloatType: return "float";
    case K::BoolType: return "bool";
    case K::StringType: return "str";
    case K::NoneType: return "NoneType";
    case K::DeviceObjType: return "Device";
    case K::ScalarTypeType: return "ScalarType";
    case K::LayoutType: return "Layout";
    case K::MemoryFormatType: return "MemoryFormat";
    case K::NumberType: return "Scalar";
    case K::AnyType: return "Any";
    case K::GeneratorType: return "Generator";
    case K::ComplexType: return "complex";
    case K::ListType: return type_text(t->expectRef<c10::ListType>().getElementType()) + "[]";
    case K::OptionalType: return type_text(t->expectRef<c10::OptionalType>().getElementType()) + "?";
    case K::DictType: {
      const auto& d = t->expectRef<c10::DictType>();
      return "Dict(" + type_text(d.getKeyType()) + ", " + type_text(d.getValueType()) + ")";
    }
    case K::UnionType: {
      std::vector<TypePtr> members = t->containedTypes().vec();
      return "Union(" + join(members) + ")";
    }
    case K::FutureType: return "Future(" + type_text(t->expectRef<c10::FutureType>().getElementType()) + ")";
    case K::TupleType: {
      const auto& tt = t->expectRef<c10::TupleType>();
      if (tt.name() && tt.schema()) {
        std::string out = "NamedTuple " + tt.name()->qualifiedName() + "(";
        const std::vector<std::string_view> names = *tt.names();  // names() returns a temporary
        for (size_t i = 0; i < names.size(); ++i)
          out += (i ? ", " : "") + std::string(names[i]) + ": " + type_text(tt.elements()[i]);
        return out + ")";
      }
      std::vector<TypePtr> elems = tt.elements().vec();
      return "(" + join(elems) + ")";
    }
    case K::ClassType: return t->expectRef<c10::ClassType>().name()->qualifiedName();
    case K::InterfaceType: return t->expectRef<c10::InterfaceType>().name()->qualifiedName();
    default: return t->str();
  }
}

bool is_subtype(const TypePtr& value, const TypePtr& target) { return is_subtype(value, target, 0); }

bool is_subtype(const TypePtr& value, const TypePtr& target, int depth) {
  using K = c10::TypeKind;
  work_step(depth);
  if (depth > kMaxDepth) return false;
  if (target->kind() == K::AnyType || *value == *target) return true;
  switch (target->kind()) {
    case K::OptionalType: {
      const TypePtr& elem = target->expectRef<c10::OptionalType>().getElementType();
      if (value->kind() == K::NoneType) return true;
      if (value->kind() == K::OptionalType)
        return is_subtype(value->expectRef<c10::OptionalType>().getElementType(), elem, depth + 1);
      return is_subtype(value, elem, depth + 1);
    }
    case K::UnionType: {
      const auto members = target->containedTypes();
      if (value->kind() == K::UnionType) {
        for (const TypePtr& m : value->containedTypes())
          if (!is_subtype(m, target, depth + 1)) return false;
        return true;
      }
      if (value->kind() == K::OptionalType)
        return is_subtype(c10::NoneType::get(), target, depth + 1) &&
               is_subtype(value->expectRef<c10::OptionalType>().getElementType(), target, depth + 1);
      for (const TypePtr& m : members)
        if (is_subtype(value, m, depth + 1)) return true;
      return false;
    }
    case K::NumberType: return is_number_type(value);
    // Objects flow into interfaces; which classes implement one is the loader's check
    // (objects.json, call arguments: `implements_interface`) and the Python verifier's.
    case K::InterfaceType: return value->kind() == K::ClassType || value->kind() == K::InterfaceType;
    case K::ListType:
      return value->kind() == K::ListType &&
             target->expectRef<c10::ListType>().getElementType()->kind() == K::AnyType;
    case K::TupleType: {
      const auto& tt = target->expectRef<c10::TupleType>();
      if (value->kind() != K::TupleType || tt.name()) return false;
      const auto& vt = value->expectRef<c10::TupleType>();
      if (vt.elements().size() != tt.elements().size()) return false;
      for (size_t i = 0; i < tt.elements().size(); ++i)
        if (!is_subtype(vt.elements()[i], tt.elements()[i], depth + 1)) return false;
      return true;
    }
    default: return false;
  }
}

bool conforms(const c10::IValue& v, const TypePtr& t, int depth) {
  using K = c10::TypeKind;
  if (depth > kMaxDepth) return false;
  work_step(depth);
  switch (t->kind()) {
    case K::AnyType: return true;
    case K::TensorType: return v.isTensor();
    case K::IntType: return v.isInt();
    case K::FloatType: return v.isDouble();
    case K::BoolType: return v.isBool();
    case K::StringType: return v.isString();
    case K::NoneType: return v.isNone();
    case K::DeviceObjType: return v.isDevice();
    case K::ScalarTypeType:
    case K::LayoutType:
    case K::MemoryFormatType: return v.isInt();
    case K::NumberType: return v.isInt() || v.isDouble() || v.isBool() || v.isComplexDouble();
    case K::GeneratorType: return v.isGenerator();
    case K::FutureType: return v.isFuture();
    case K::OptionalType:
      return v.isNone() || conforms(v, t->expectRef<c10::OptionalType>().getElementType(), depth + 1);
    case K::UnionType:
      for (const TypePtr& m : t->containedTypes())
        if (conforms(v, m, depth + 1)) return true;
      return false;
    case K::ListType: {
      if (!v.isList()) return false;
      const TypePtr& want = t->expectRef<c10::ListType>().getElementType();
      TypePtr have = v.toList().elementType();
      if (is_subtype(have, want, depth + 1) || *have == *want) return true;
      if (have->kind() != K::AnyType) return false;
      for (const c10::IValue& item : v.toListRef())
        if (!conforms(item, want, depth + 1)) return false;
      return true;
    }
    case K::TupleType: {
      if (!v.isTuple()) return false;
      const auto& tt = t->expectRef<c10::TupleType>();
      const auto& items = v.toTupleRef().elements();
      if (items.size() != tt.elements().size()) return false;
      for (size_t i = 0; i < items.size(); ++i)
        if (!conforms(items[i], tt.elements()[i], depth + 1)) return false;
      return true;
    }
    case K::DictType: {
      if (!v.isGenericDict()) return false;
      const auto& dt = t->expectRef<c10::DictType>();
      auto dict = v.toGenericDict();
      bool keys = is_subtype(dict.keyType(), dt.getKeyType(), depth + 1) || *dict.keyType() == *dt.getKeyType();
      bool values = is_subtype(dict.valueType(), dt.getValueType(), depth + 1) || *dict.valueType() == *dt.getValueType();
      if (keys && values) return true;
      for (const auto& entry : dict)
        if (!conforms(entry.key(), dt.getKeyType(), depth + 1) || !conforms(entry.value(), dt.getValueType(), depth + 1))
          return false;
      return true;
    }
    case K::ClassType: return v.isObject() && v.toObjectRef().type().get() == t.get();
    case K::InterfaceType: return v.isObject();  // its class is checked where the program is known
    default: return false;
  }
}

bool is_mutable_type(const TypePtr& t) {
  if (t->kind() == c10::TypeKind::ListType || t->kind() == c10::TypeKind::DictType) return true;
  for (const TypePtr& c : t->containedTypes())
    if (is_mutable_type(c)) return true;
  return false;
}

c10::IValue fresh_copy(const c10::IValue& v) {
  if (v.isList()) {
    auto src = v.toList();
    c10::impl::GenericList out(src.elementType());
    out.reserve(src.size());
    for (const c10::IValue& item : src) out.push_back(fresh_copy(item));
    return out;
  }
  if (v.isGenericDict()) {
    auto src = v.toGenericDict();
    c10::impl::GenericDict out(src.keyType(), src.valueType());
    for (const auto& entry : src) out.insert(entry.key(), fresh_copy(entry.value()));
    return out;
  }
  if (v.isTuple()) {
    const auto& tuple = v.toTupleRef();
    std::vector<c10::IValue> items;
    items.reserve(tuple.elements().size());
    for (const c10::IValue& item : tuple.elements()) items.push_back(fresh_copy(item));
    return c10::ivalue::Tuple::createNamed(std::move(items), tuple.type());
  }
  return v;
}

// ------------------------------------------------------------------- dtypes

namespace {
struct DtypeEntry {
  const char* name;
  c10::ScalarType type;
};
constexpr DtypeEntry kDtypeNames[] = {
    {"uint8", c10::ScalarType::Byte},
    {"int8", c10::ScalarType::Char},
    {"int16", c10::ScalarType::Short},
    {"int32", c10::ScalarType::Int},
    {"int64", c10::ScalarType::Long},
    {"float16", c10::ScalarType::Half},
    {"float32", c10::ScalarType::Float},
    {"float64", c10::ScalarType::Double},
    {"complex32", c10::ScalarType::ComplexHalf},
    {"complex64", c10::ScalarType::ComplexFloat},
    {"complex128", c10::ScalarType::ComplexDouble},
    {"bool", c10::ScalarType::Bool},
    {"qint8", c10::ScalarType::QInt8},
    {"quint8", c10::ScalarType::QUInt8},
    {"qint32", c10::ScalarType::QInt32},
    {"bfloat16", c10::ScalarType::BFloat16},
    {"quint4x2", c10::ScalarType::QUInt4x2},
    {"quint2x4", c10::ScalarType::QUInt2x4},
    {"bits1x8", c10::ScalarType::Bits1x8},
    {"bits2x4", c10::ScalarType::Bits2x4},
    {"bits4x2", c10::ScalarType::Bits4x2},
    {"bits8", c10::ScalarType::Bits8},
    {"bits16", c10::ScalarType::Bits16},
    {"float8_e5m2", c10::ScalarType::Float8_e5m2},
    {"float8_e4m3fn", c10::ScalarType::Float8_e4m3fn},
    {"float8_e5m2fnuz", c10::ScalarType::Float8_e5m2fnuz},
    {"float8_e4m3fnuz", c10::ScalarType::Float8_e4m3fnuz},
    {"uint16", c10::ScalarType::UInt16},
    {"uint32", c10::ScalarType::UInt32},
    {"uint64", c10::ScalarType::UInt64},
    {"uint1", c10::ScalarType::UInt1},
    {"uint2", c10::ScalarType::UInt2},
    {"uint3", c10::ScalarType::UInt3},
    {"uint4", c10::ScalarType::UInt4},
    {"uint5", c10::ScalarType::UInt5},
    {"uint6", c10::ScalarType::UInt6},
    {"uint7", c10::ScalarType::UInt7},
    {"int1", c10::ScalarType::Int1},
    {"int2", c10::ScalarType::Int2},
    {"int3", c10::ScalarType::Int3},
    {"int4", c10::ScalarType::Int4},
    {"int5", c10::ScalarType::Int5},
    {"int6", c10::ScalarType::Int6},
    {"int7", c10::ScalarType::Int7},
    {"float8_e8m0fnu", c10::ScalarType::Float8_e8m0fnu},
    {"float4_e2m1fn_x2", c10::ScalarType::Float4_e2m1fn_x2},
};
}  // namespace

c10::ScalarType dtype_from_name(const std::string& name, const std::string& where) {
  for (const auto& d : kDtypeNames)
    if (name == d.name) return d.type;
  fail(where, ": unknown dtype '", name, "'");
}

std::string dtype_name(c10::ScalarType t) {
  for (const auto& d : kDtypeNames)
    if (d.type == t) return d.name;
  return c10::toString(t);
}

// -------------------------------------------------------------- JSON access

void expect_fields(const Json& obj, std::initializer_list<const char*> fields, const std::string& where) {
  if (!obj.is_object()) fail(where, ": expected a JSON object");
  for (const char* f : fields)
    if (!obj.contains(f)) fail(where, ": missing field '", f, "'");
  if (obj.size() != fields.size())
    for (const auto& item : obj.items()) {
      bool known = false;
      for (const char* f : fields) known = known || item.key() == f;
      if (!known) fail(where, ": unknown field '", item.key(), "'");
    }
}

const Json& field(const Json& obj, const char* name, const std::string& where) {
  auto it = obj.find(name);
  if (it == obj.end()) fail(where, ": missing field '", name, "'");
  return *it;
}

int64_t json_int(const Json& j, const std::string& where) {
  if (!j.is_number_integer()) fail(where, ": expected an integer, got ", j.type_name());
  if (j.is_number_unsigned() && j.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()))
    fail(where, ": integer does not fit in int64");
  return j.get<int64_t>();
}

const std::string& json_str(const Json& j, const std::string& where) {
  if (!j.is_string()) fail(where, ": expected a string, got ", j.type_name());
  return j.get_ref<const std::string&>();
}

bool json_bool(const Json& j, const std::string& where) {
  if (!j.is_boolean()) fail(where, ": expected true or false, got ", j.type_name());
  return j.get<bool>();
}

const Json& json_array(const Json& j, const std::string& where) {
  if (!j.is_array()) fail(where, ": expected a list, got ", j.type_name());
  return j;
}

// ------------------------------------------------------------------ VALUEs

namespace {

double json_float(const Json& j, const std::string& where) {
  if (j.is_number()) return j.get<double>();
  if (j.is_string()) {
    const auto& s = j.get_ref<const std::string&>();
    if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
    if (s == "inf") return std::numeric_limits<double>::infinity();
    if (s == "-inf") return -std::numeric_limits<double>::infinity();
  }
  fail(where, ": expected a float (a number, \"nan\", \"inf\" or \"-inf\")");
}

const std::string& tag_of(const Json& j, const std::string& where) {
  if (!j.is_object()) fail(where, ": expected a VALUE object");
  return json_str(field(j, "tag", where), where + ".tag");
}

// The fields each tag has besides `tag`.
void check_value_fields(const Json& j, const std::string& tag, const std::string& where) {
  if (tag == "none") return expect_fields(j, {"tag"}, where);
  if (tag == "namedtuple") return expect_fields(j, {"tag", "type", "value"}, where);
  if (tag == "tensor")
    return expect_fields(j, {"tag", "key", "dtype", "shape", "requires_grad", "parameter", "device"}, where);
  static const char* const simple[] = {"bool",  "int",    "float",  "complex", "str",    "list",          "tuple",
                                       "dict",  "dtype",  "device", "layout",  "memory_format", "type", "object"};
  for (const char* t : simple)
    if (tag == t) return expect_fields(j, {"tag", "value"}, where);
  fail(where, ": unknown VALUE tag '", tag, "'");
}

c10::Layout layout_from_name(const std::string& s, const std::string& where) {
  if (s == "strided") return c10::kStrided;
  if (s == "sparse_coo") return c10::kSparse;
  if (s == "sparse_csr") return c10::kSparseCsr;
  if (s == "sparse_csc") return c10::kSparseCsc;
  if (s == "sparse_bsr") return c10::kSparseBsr;
  if (s == "sparse_bsc") return c10::kSparseBsc;
  if (s == "_mkldnn") return c10::kMkldnn;
  if (s == "jagged") return c10::kJagged;
  fail(where, ": unknown layout '", s, "'");
}

c10::MemoryFormat memory_format_from_name(const std::string& s, const std::string& where) {
  if (s == "contiguous_format") return c10::MemoryFormat::Contiguous;
  if (s == "channels_last") return c10::MemoryFormat::ChannelsLast;
  if (s == "channels_last_3d") return c10::MemoryFormat::ChannelsLast3d;
  if (s == "preserve_format") return c10::MemoryFormat::Preserve;
  fail(where, ": unknown memory format '", s, "'");
}

c10::Device device_from_name(const std::string& s, const std::string& where) {
  try {
    return c10::Device(s);
  } catch (const std::exception&) {
    fail(where, ": bad device '", s, "'");
  }
}

// Whether a VALUE with `tag` can be a `t` at all (containers checked deeper later).
bool tag_fits(const std::string& tag, const TypePtr& t) {
  using K = c10::TypeKind;
  switch (t->kind()) {
    case K::AnyType: return true;
    case K::TensorType: return tag == "tensor";
    case K::IntType: return tag == "int";
    case K::FloatType: return tag == "float";
    case K::BoolType: return tag == "bool";
    case K::StringType: return tag == "str";
    case K::NoneType: return tag == "none";
    case K::ListType: return tag == "list";
    case K::TupleType: return tag == (t->expectRef<c10::TupleType>().schema() ? "namedtuple" : "tuple");
    case K::DictType: return tag == "dict";
    case K::DeviceObjType: return tag == "device";
    case K::ScalarTypeType: return tag == "dtype";
    case K::LayoutType: return tag == "layout";
    case K::MemoryFormatType: return tag == "memory_format";
    case K::NumberType: return tag == "int" || tag == "float" || tag == "bool" || tag == "complex";
    case K::ComplexType: return tag == "complex";
    case K::ClassType:
    case K::InterfaceType: return tag == "object";
    case K::OptionalType:
      return tag == "none" || tag_fits(tag, t->expectRef<c10::OptionalType>().getElementType());
    case K::UnionType:
      for (const TypePtr& m : t->containedTypes())
        if (tag_fits(tag, m)) return true;
      return false;
    default: return false;
  }
}

bool valid_dict_key_tag(const std::string& tag) {
  return tag == "str" || tag == "int" || tag == "float" || tag == "bool" || tag == "tensor";
}

// Least common type of container items, for VALUEs without an expected type.
TypePtr join_types(const std::vector<TypePtr>& types) {
  if (types.empty()) return c10::AnyType::get();
  for (const TypePtr& t : types)
    if (!(*t == *types[0])) return c10::AnyType::get();
  return types[0];
}

}  // namespace

TypePtr ValueDecoder::decode_type(const Json& j, const std::string& where) const {
  if (tag_of(j, where) != "type") fail(where, ": expected a type VALUE");
  check_value_fields(j, "type", where);
  return parse_type(json_str(j["value"], where + ".value"), classes_, where);
}

TypePtr ValueDecoder::type_of(const Json& j, const std::string& where, int depth) const {
  if (depth > kMaxDepth) fail(where, ": VALUE nested too deeply");
  const std::string& tag = tag_of(j, where);
  check_value_fields(j, tag, where);
  if (tag == "none") return c10::NoneType::get();
  if (tag == "bool") return c10::BoolType::get();
  if (tag == "int") return c10::IntType::get();
  if (tag == "float") return c10::FloatType::get();
  if (tag == "complex") return c10::ComplexType::get();
  if (tag == "str") return c10::StringType::get();
  if (tag == "tensor") return c10::TensorType::get();
  if (tag == "dtype") return c10::ScalarTypeType::get();
  if (tag == "device") return c10::DeviceObjType::get();
  if (tag == "layout") return c10::LayoutType::get();
  if (tag == "memory_format") return c10::MemoryFormatType::get();
  if (tag == "namedtuple") return parse_type(json_str(j["type"], where + ".type"), classes_, where + ".type");
  if (tag == "list" || tag == "tuple") {
    std::vector<TypePtr> items;
    const Json& arr = json_array(j["value"], where + ".value");
    for (size_t i = 0; i < arr.size(); ++i) items.push_back(type_of(arr[i], cat(where, "[", i, "]"), depth + 1));
    if (tag == "tuple") return c10::TupleType::create(std::move(items));
    return c10::ListType::create(join_types(items));
  }
  if (tag == "dict") {
    std::vector<TypePtr> keys, values;
    const Json& arr = json_array(j["value"], where + ".value");
    for (size_t i = 0; i < arr.size(); ++i) {
      const std::string at = cat(where, "[", i, "]");
      if (!arr[i].is_array() || arr[i].size() != 2) fail(at, ": a dict item must be [key, value]");
      keys.push_back(type_of(arr[i][0], at, depth + 1));
      values.push_back(type_of(arr[i][1], at, depth + 1));
    }
    TypePtr k = keys.empty() ? c10::StringType::get() : join_types(keys);
    return c10::DictType::create(k, join_types(values));
  }
  fail(where, ": a '", tag, "' VALUE cannot appear here");
}

c10::IValue ValueDecoder::decode(const Json& j, const TypePtr& expected, const std::string& where) const {
  return decode(j, expected, where, 0);
}

c10::IValue ValueDecoder::decode_untyped(const Json& j, const std::string& where, int depth) const {
  return decode(j, type_of(j, where, depth), where, depth);
}

c10::IValue ValueDecoder::decode(const Json& j, const TypePtr& expected, const std::string& where,
                                 int depth) const {
  using K = c10::TypeKind;
  if (depth > kMaxDepth) fail(where, ": VALUE nested too deeply");
  work_step(depth);
  if (expected == nullptr || expected->kind() == K::AnyType) return decode_untyped(j, where, depth);
  const std::string& tag = tag_of(j, where);
  check_value_fields(j, tag, where);
  if (!tag_fits(tag, expected)) fail(where, ": a '", tag, "' VALUE where ", type_text(expected), " is declared");
  const Json* value = j.contains("value") ? &j["value"] : nullptr;
  const std::string vwhere = where + ".value";
  switch (expected->kind()) {
    case K::OptionalType:
      if (tag == "none") return c10::IValue();
      return decode(j, expected->expectRef<c10::OptionalType>().getElementType(), where, depth + 1);
    case K::UnionType: {
      if (tag == "none") return c10::IValue();
      std::string first_error;
      for (const TypePtr& m : expected->containedTypes()) {
        if (!tag_fits(tag, m)) continue;
        try {
          return decode(j, m, where, depth + 1);
        } catch (const Error& e) {
          if (first_error.empty()) first_error = e.what();
        }
      }
      throw Error(first_error);
    }
    case K::NumberType: return decode_untyped(j, where, depth);
    case K::NoneType: return c10::IValue();
    case K::BoolType: return json_bool(*value, vwhere);
    case K::IntType: return json_int(*value, vwhere);
    case K::FloatType: return json_float(*value, vwhere);
    case K::StringType: return json_str(*value, vwhere);
    case K::ComplexType: break;
    case K::TensorType: return tensors_(j, where);
    case K::ScalarTypeType: return c10::IValue(dtype_from_name(json_str(*value, vwhere), vwhere));
    case K::DeviceObjType: return device_from_name(json_str(*value, vwhere), vwhere);
    case K::LayoutType: return c10::IValue(layout_from_name(json_str(*value, vwhere), vwhere));
    case K::MemoryFormatType: return c10::IValue(memory_format_from_name(json_str(*value, vwhere), vwhere));
    case K::ListType: {
      const TypePtr& elem = expected->expectRef<c10::ListType>().getElementType();
      const Json& arr = json_array(*value, vwhere);
      c10::impl::GenericList list(elem);
      list.reserve(arr.size());
      for (size_t i = 0; i < arr.size(); ++i) list.push_back(decode(arr[i], elem, cat(where, "[", i, "]"), depth + 1));
      return list;
    }
    case K::TupleType: {
      const auto& tt = expected->expectRef<c10::TupleType>();
      if (tag == "namedtuple") {
        TypePtr declared = parse_type(json_str(j["type"], where + ".type"), classes_, where + ".type");
        if (!(*declared == *expected))
          fail(where, ": namedtuple of type ", type_text(declared), " where ", type_text(expected), " is declared");
      }
      const Json& arr = json_array(*value, vwhere);
      if (arr.size() != tt.elements().size())
        fail(where, ": ", arr.size(), " items where ", type_text(expected), " is declared");
      std::vector<c10::IValue> items;
      items.reserve(arr.size());
      for (size_t i = 0; i < arr.size(); ++i)
        items.push_back(decode(arr[i], tt.elements()[i], cat(where, "[", i, "]"), depth + 1));
      return c10::ivalue::Tuple::createNamed(std::move(items), expected->expect<c10::TupleType>());
    }
    case K::DictType: {
      const auto& dt = expected->expectRef<c10::DictType>();
      const Json& arr = json_array(*value, vwhere);
      c10::impl::GenericDict dict(dt.getKeyType(), dt.getValueType());
      for (size_t i = 0; i < arr.size(); ++i) {
        const std::string at = cat(where, "[", i, "]");
        if (!arr[i].is_array() || arr[i].size() != 2) fail(at, ": a dict item must be [key, value]");
        if (!valid_dict_key_tag(tag_of(arr[i][0], at))) fail(at, ": dict keys must be str, int, float, bool or tensor");
        c10::IValue k = decode(arr[i][0], dt.getKeyType(), at, depth + 1);
        if (!k.isTensor() && dict.contains(k)) fail(at, ": duplicate dict key");
        dict.insert_or_assign(std::move(k), decode(arr[i][1], dt.getValueType(), at, depth + 1));
      }
      return dict;
    }
    case K::ClassType:
    case K::InterfaceType: return objects_(json_int(*value, vwhere), expected, vwhere);
    default: break;
  }
  if (tag == "complex") {
    const Json& arr = json_array(*value, vwhere);
    if (arr.size() != 2) fail(vwhere, ": a complex is [real, imag]");
    return c10::complex<double>(json_float(arr[0], vwhere + "[0]"), json_float(arr[1], vwhere + "[1]"));
  }
  fail(where, ": no value of type ", type_text(expected), " can be stored");
}

}  // namespace torchkiln::detail
