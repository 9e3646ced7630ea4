// Python's str() and repr() of runtime values.
#include <ATen/core/Dict.h>
#include <ATen/core/Formatting.h>
#include <ATen/core/List.h>
#include <ATen/core/class_type.h>

#include <charconv>
#include <cmath>
#include <sstream>

#include "error.h"
#include "prims.h"
#include "types.h"

namespace torchkiln::detail {

namespace {

// repr(float), CPython's 'r' format: the shortest digits that round-trip,
// fixed notation for exponents in [-4, 16), else d.ddde+XX.
std::string float_repr(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), x, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  std::string sign;
  if (sci[0] == '-') sign = "-", sci.erase(0, 1);
  size_t e = sci.find('e');
  std::string mant = sci.substr(0, e);
  int exp10 = std::stoi(sci.substr(e + 1));
  std::string digits;
  for (char c : mant)
    if (c != '.') digits += c;
  int decpt = exp10 + 1;  // digits[0] sits just before this position
  int n = int(digits.size());
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) return sign + "0." + std::string(size_t(-decpt), '0') + digits;
    if (decpt >= n) return sign + digits + std::string(size_t(decpt - n), '0') + ".0";
    return sign + digits.substr(0, decpt) + "." + digits.substr(decpt);
  }
  std::string out = sign + digits.substr(0, 1);
  if (n > 1) out += "." + digits.substr(1);
  int ex = decpt - 1;
  char exp_buf[16];
  std::snprintf(exp_buf, sizeof(exp_buf), "e%c%02d", ex < 0 ? '-' : '+', std::abs(ex));
  return out + exp_buf;
}

std::string string_repr(const std::string& s) {
  bool has_single = s.find('\'') != std::string::npos, has_double = s.find('"') != std::string::npos;
  char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  for (unsigned char c : s) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c == quote) {
          out += '\\';
          out += char(c);
        } else if (c < 0x20 || c == 0x7F) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\x%02x", c);
          out += buf;
        } else {
          out += char(c);
        }
    }
  }
  return out + quote;
}

const char* layout_name(int64_t v) {
  switch (c10::Layout(v)) {
    case c10::kStrided: return "torch.strided";
    case c10::kSparse: return "torch.sparse_coo";
    case c10::kSparseCsr: return "torch.sparse_csr";
    case c10::kSparseCsc: return "torch.sparse_csc";
    case c10::kSparseBsr: return "torch.sparse_bsr";
    case c10::kSparseBsc: return "torch.sparse_bsc";
    case c10::kMkldnn: return "torch._mkldnn";
    case c10::kJagged: return "torch.jagged";
    default: return "torch.layout";
  }
}

const char* memory_format_name(int64_t v) {
  switch (c10::MemoryFormat(v)) {
    case c10::MemoryFormat::Contiguous: return "torch.contiguous_format";
    case c10::MemoryFormat::ChannelsLast: return "torch.channels_last";
    case c10::MemoryFormat::ChannelsLast3d: return "torch.channels_last_3d";
    case c10::MemoryFormat::Preserve: return "torch.preserve_format";
    default: return "torch.memory_format";
  }
}

// The static type of element `i` of a container typed `t` (null if unknown).
TypePtr contained(const TypePtr& t, size_t i) {
  if (t == nullptr) return nullptr;
  if (auto opt = t->cast<c10::OptionalType>()) return contained(opt->getElementType(), i);
  auto inner = t->containedTypes();
  if (t->kind() == c10::TypeKind::ListType || t->kind() == c10::TypeKind::FutureType) return inner.empty() ? nullptr : inner[0];
  return i < inner.size() ? inner[i] : nullptr;
}

TypePtr unwrap_optional(const TypePtr& t) {
  if (t == nullptr) return nullptr;
  if (auto opt = t->cast<c10::OptionalType>()) return opt->getElementType();
  return t;
}

std::string repr(const c10::IValue& v, const TypePtr& type, bool top_str, int depth);

std::string repr_items(const c10::IValue& v, const TypePtr& type, int depth) {
  if (depth > 100) return "...";
  if (v.isList()) {
    std::string out = "[";
    auto list = v.toList();
    for (size_t i = 0; i < list.size(); ++i) out += (i ? ", " : "") + repr(list.get(i), contained(type, 0), false, depth + 1);
    return out + "]";
  }
  if (v.isTuple()) {
    const auto& tuple = v.toTupleRef();
    const auto& items = tuple.elements();
    auto tt = tuple.type();
    std::string out;
    if (tt->schema() != nullptr && tt->name()) {
      out = tt->name()->name() + "(";
      for (size_t i = 0; i < items.size(); ++i)
        out += (i ? ", " : "") + std::string((*tt->names())[i]) + "=" + repr(items[i], tt->elements()[i], false, depth + 1);
      return out + ")";
    }
    out = "(";
    for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + repr(items[i], contained(type, i), false, depth + 1);
    return out + (items.size() == 1 ? ",)" : ")");
  }
  std::string out = "{";
  bool first = true;
  for (const auto& entry : v.toGenericDict()) {
    out += (first ? "" : ", ") + repr(entry.key(), contained(type, 0), false, depth + 1) + ": " +
           repr(entry.value(), contained(type, 1), false, depth + 1);
    first = false;
  }
  return out + "}";
}

std::string repr(const c10::IValue& v, const TypePtr& static_type, bool top_str, int depth) {
  TypePtr type = unwrap_optional(static_type);
  if (v.isNone()) return "None";
  if (v.isBool()) return v.toBool() ? "True" : "False";
  if (v.isInt()) {
    if (type != nullptr) {
      if (type->kind() == c10::TypeKind::ScalarTypeType) return "torch." + dtype_name(c10::ScalarType(v.toInt()));
      if (type->kind() == c10::TypeKind::LayoutType) return layout_name(v.toInt());
      if (type->kind() == c10::TypeKind::MemoryFormatType) return memory_format_name(v.toInt());
    }
    return std::to_string(v.toInt());
  }
  if (v.isDouble()) return float_repr(v.toDouble());
  if (v.isComplexDouble()) {
    auto c = v.toComplexDouble();
    auto part = [](double d) {
      std::string r = float_repr(d);
      if (r.size() > 2 && r.compare(r.size() - 2, 2, ".0") == 0) r.resize(r.size() - 2);
      return r;
    };
    if (c.real() == 0 && !std::signbit(c.real())) return part(c.imag()) + "j";
    std::string imag = part(c.imag());
    return "(" + part(c.real()) + (imag[0] == '-' || imag == "nan" ? (imag == "nan" ? "+" : "") : "+") + imag + "j)";
  }
  if (v.isString()) return top_str ? v.toStringRef() : string_repr(v.toStringRef());
  if (v.isDevice()) {
    std::string d = v.toDevice().str();
    if (top_str) return d;
    auto dev = v.toDevice();
    return dev.has_index() ? cat("device(type='", c10::DeviceTypeName(dev.type(), true), "', index=", int(dev.index()), ")")
                           : cat("device(type='", d, "')");
  }
  if (v.isList() || v.isTuple() || v.isGenericDict()) return repr_items(v, type, depth);
  if (v.isTensor()) {
    std::ostringstream out;
    out << v.toTensor();
    return out.str();
  }
  if (v.isObject()) {
    const auto& obj = v.toObjectRef();
    return cat("<", obj.type()->name()->qualifiedName(), " object at ", static_cast<const void*>(&obj), ">");
  }
  if (v.isFuture()) return "<Future>";
  return cat("<", v.tagKind(), ">");
}

}  // namespace

std::string python_str(const c10::IValue& v, const TypePtr& type) { return repr(v, type, /*top_str=*/true, 0); }
std::string python_repr(const c10::IValue& v, const TypePtr& type) { return repr(v, type, /*top_str=*/false, 0); }

}  // namespace torchkiln::detail
