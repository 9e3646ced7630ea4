// Python's str() and repr() of runtime values, and the formatting ops of
// torchkiln/ops/lang.py: str.format (the format mini-language) and %.
#include <ATen/core/Dict.h>
#include <ATen/core/List.h>
#include <ATen/core/class_type.h>

#include <charconv>
#include <cmath>

#include "error.h"
#include "lang.h"
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
      const std::vector<std::string_view> names = *tt->names();
      for (size_t i = 0; i < items.size() && i < names.size(); ++i)
        out += (i ? ", " : "") + std::string(names[i]) + "=" + repr(items[i], tt->elements()[i], false, depth + 1);
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
  if (v.isTensor()) return tensor_repr(v.toTensor());
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


namespace torchkiln::detail {

namespace {

using torch::jit::pop;
using torch::jit::push;

bool digit(unsigned char c) { return c >= '0' && c <= '9'; }

// ------------------------------------------------- format mini-language

struct Spec {
  std::string fill = " ";
  char align = 0;  // '<', '>', '^', '=' or 0 (default)
  char sign = '-';
  bool alternate = false, zero = false, coerce_zero = false;
  int64_t width = -1, precision = -1;
  char grouping = 0;  // ',' or '_'
  char type = 0;
};

Spec parse_spec(const std::string& text) {
  Spec sp;
  auto chars = split_chars(text);
  size_t i = 0;
  auto is_align = [](const std::string& c) { return c == "<" || c == ">" || c == "^" || c == "="; };
  if (chars.size() >= 2 && is_align(chars[1])) {
    sp.fill = chars[0];
    sp.align = chars[1][0];
    i = 2;
  } else if (!chars.empty() && is_align(chars[0])) {
    sp.align = chars[0][0];
    i = 1;
  }
  if (i < chars.size() && (chars[i] == "+" || chars[i] == "-" || chars[i] == " ")) sp.sign = chars[i++][0];
  if (i < chars.size() && chars[i] == "z") sp.coerce_zero = true, ++i;
  if (i < chars.size() && chars[i] == "#") sp.alternate = true, ++i;
  if (i < chars.size() && chars[i] == "0") sp.zero = true, ++i;
  auto number = [&]() {
    int64_t v = -1;
    while (i < chars.size() && chars[i].size() == 1 && digit(chars[i][0])) {
      v = (v < 0 ? 0 : v) * 10 + (chars[i][0] - '0');
      if (v > 1000000) raise_python("ValueError", "Too many decimal digits in format string");
      ++i;
    }
    return v;
  };
  sp.width = number();
  if (i < chars.size() && (chars[i] == "," || chars[i] == "_")) sp.grouping = chars[i++][0];
  if (i < chars.size() && chars[i] == ".") {
    ++i;
    sp.precision = number();
    if (sp.precision < 0) raise_python("ValueError", "Format specifier missing precision");
  }
  if (i < chars.size() && chars[i].size() == 1) sp.type = chars[i++][0];
  if (i != chars.size()) raise_python("ValueError", "Invalid format specifier '" + text + "'");
  return sp;
}

std::string group_digits(const std::string& digits, char sep, size_t every) {
  std::string out;
  size_t n = digits.size();
  for (size_t i = 0; i < n; ++i) {
    out += digits[i];
    size_t left = n - 1 - i;
    if (left > 0 && left % every == 0) out += sep;
  }
  return out;
}

// Sign, then the body padded as the spec says ('=' pads between them).
std::string finish_number(bool negative, const std::string& prefix, std::string body, const Spec& sp) {
  std::string sign = negative ? "-" : sp.sign == '+' ? "+" : sp.sign == ' ' ? " " : "";
  char align = sp.align ? sp.align : (sp.zero ? '=' : '>');
  std::string fill = sp.align ? sp.fill : (sp.zero ? "0" : sp.fill);
  std::string head = sign + prefix;
  if (align == '=') {
    int64_t n = sp.width - cp_length(head) - cp_length(body);
    if (n > 0) {
      if (fill == "0" && sp.grouping) {
        // zero padding is grouped too: pad digits then regroup
        std::string digits;
        for (char c : body)
          if (c != sp.grouping) digits += c;
        size_t every = (sp.type == 'b' || sp.type == 'o' || sp.type == 'x' || sp.type == 'X') ? 4 : 3;
        while (int64_t(head.size() + group_digits(digits, sp.grouping, every).size()) < sp.width) digits = "0" + digits;
        body = group_digits(digits, sp.grouping, every);
        return head + body;
      }
      return head + repeat(fill, n) + body;
    }
    return head + body;
  }
  return pad(head + body, sp.width, fill, align);
}

std::string format_int(int64_t v, const Spec& sp) {
  char type = sp.type ? sp.type : 'd';
  if (type == 'c') {
    if (v < 0 || v > 0x10FFFF) raise_python("OverflowError", "%c arg not in range(0x110000)");
    return pad(encode_cp(uint32_t(v)), sp.width, sp.fill, sp.align ? sp.align : '<');
  }
  uint64_t mag = v < 0 ? uint64_t(0) - uint64_t(v) : uint64_t(v);
  std::string digits, prefix;
  if (type == 'd' || type == 'n') {
    digits = std::to_string(mag);
    if (sp.grouping) digits = group_digits(digits, sp.grouping, 3);
  } else if (type == 'b' || type == 'o' || type == 'x' || type == 'X') {
    int base = type == 'b' ? 2 : type == 'o' ? 8 : 16;
    const char* alphabet = type == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
    do {
      digits.insert(digits.begin(), alphabet[mag % base]);
      mag /= base;
    } while (mag);
    if (sp.alternate) prefix = type == 'b' ? "0b" : type == 'o' ? "0o" : type == 'x' ? "0x" : "0X";
    if (sp.grouping) digits = group_digits(digits, sp.grouping, 4);
  } else {
    raise_python("ValueError", cat("Unknown format code '", type, "' for object of type 'int'"));
  }
  return finish_number(v < 0, prefix, digits, sp);
}

std::string format_float(double v, const Spec& sp) {
  char type = sp.type;
  bool negative = std::signbit(v) && !(sp.coerce_zero && v == 0);
  double mag = std::fabs(v);
  std::string body;
  if (std::isnan(v) || std::isinf(v)) {
    body = std::isnan(v) ? "nan" : "inf";
    if (type == 'E' || type == 'F' || type == 'G') for (char& c : body) c = char(std::toupper((unsigned char)c));
    if (sp.type == '%' && std::isinf(v)) body += "%";
    negative = std::isnan(v) ? false : negative;
  } else if (type == 0 && sp.precision < 0) {
    body = python_repr(c10::IValue(mag));
  } else {
    int precision = sp.precision < 0 ? 6 : int(sp.precision);
    char conv = type;
    double x = mag;
    if (type == 0 || type == 'n') conv = 'g';
    if (type == '%') conv = 'f', x = mag * 100;
    if (conv != 'e' && conv != 'E' && conv != 'f' && conv != 'F' && conv != 'g' && conv != 'G')
      raise_python("ValueError", cat("Unknown format code '", type, "' for object of type 'float'"));
    if ((conv == 'g' || conv == 'G') && precision == 0) precision = 1;
    char fmt[16];
    std::snprintf(fmt, sizeof(fmt), "%%%s.*%c", sp.alternate ? "#" : "", conv);
    std::vector<char> buf(size_t(precision) + 400);
    std::snprintf(buf.data(), buf.size(), fmt, precision, x);
    body = buf.data();
    if (type == 0 && body.find_first_of(".eEn") == std::string::npos) body += ".0";
    if (type == '%') body += "%";
  }
  if (sp.grouping && !(std::isnan(v) || std::isinf(v))) {
    size_t end = body.find_first_of(".eE%");
    std::string int_part = body.substr(0, end);
    body = group_digits(int_part, sp.grouping, 3) + (end == std::string::npos ? "" : body.substr(end));
  }
  return finish_number(negative, "", body, sp);
}

std::string format_value(const c10::IValue& v, const TypePtr& type, const std::string& spec_text) {
  // Tensor.__format__: a 0-dim tensor formats as its item, any spec; others as str() with no spec.
  if (v.isTensor() && v.toTensor().defined() && v.toTensor().dim() == 0 && !v.toTensor().is_meta())
    return format_value(c10::IValue(v.toTensor().detach().item()), nullptr, spec_text);
  if (spec_text.empty()) return python_str(v, type);
  Spec sp = parse_spec(spec_text);
  if (v.isString()) {
    if (sp.type && sp.type != 's') raise_python("ValueError", cat("Unknown format code '", sp.type, "' for object of type 'str'"));
    if (sp.sign != '-') raise_python("ValueError", "Sign not allowed in string format specifier");
    if (sp.align == '=') raise_python("ValueError", "'=' alignment not allowed in string format specifier");
    std::string text = v.toStringRef();
    if (sp.precision >= 0 && cp_length(text) > sp.precision) {
      auto at = code_points(text);
      text = text.substr(0, at[size_t(sp.precision)]);
    }
    return pad(text, sp.width, sp.fill, sp.align ? sp.align : '<');
  }
  if (v.isInt() || v.isBool()) {
    int64_t i = v.isBool() ? int64_t(v.toBool()) : v.toInt();
    if (sp.type && std::string("eEfFgG%").find(sp.type) != std::string::npos) return format_float(double(i), sp);
    return format_int(i, sp);
  }
  if (v.isDouble()) return format_float(v.toDouble(), sp);
  raise_python("TypeError", "unsupported format string passed to " + py_type_name(v) + ".__format__");
}

// str.format(*args): auto or manual field numbers, !r/!s/!a, a spec per field.
Operation format(const PrimNode& node) {
  std::vector<TypePtr> types(node.input_types().begin() + 1, node.input_types().end());
  return [types](Stack& s) {
    size_t n = types.size();
    std::vector<c10::IValue> args(std::make_move_iterator(s.end() - n), std::make_move_iterator(s.end()));
    torch::jit::drop(s, n);
    std::string fmt = pop(s).toStringRef();
    std::string out;
    int auto_index = 0;
    bool manual = false, automatic = false;
    for (size_t i = 0; i < fmt.size(); ++i) {
      char c = fmt[i];
      if (c == '}') {
        if (i + 1 < fmt.size() && fmt[i + 1] == '}') {
          out += '}';
          ++i;
          continue;
        }
        raise_python("ValueError", "Single '}' encountered in format string");
      }
      if (c != '{') {
        out += c;
        continue;
      }
      if (i + 1 < fmt.size() && fmt[i + 1] == '{') {
        out += '{';
        ++i;
        continue;
      }
      size_t close = fmt.find('}', i);
      if (close == std::string::npos) raise_python("ValueError", "Single '{' encountered in format string");
      std::string field = fmt.substr(i + 1, close - i - 1);
      if (field.find('{') != std::string::npos) raise_python("ValueError", "nested format fields are not supported");
      i = close;
      std::string spec, conv;
      size_t colon = field.find(':');
      if (colon != std::string::npos) spec = field.substr(colon + 1), field = field.substr(0, colon);
      size_t bang = field.find('!');
      if (bang != std::string::npos) conv = field.substr(bang + 1), field = field.substr(0, bang);
      int64_t index;
      if (field.empty()) {
        if (manual) raise_python("ValueError", "cannot switch from manual field specification to automatic field numbering");
        automatic = true;
        index = auto_index++;
      } else {
        for (char d : field)
          if (!digit(d)) raise_python("ValueError", "format field '" + field + "' is not supported (only positions)");
        if (automatic) raise_python("ValueError", "cannot switch from automatic field numbering to manual field specification");
        manual = true;
        index = std::stoll(field);
      }
      if (index >= int64_t(n))
        raise_python("IndexError", cat("Replacement index ", index, " out of range for positional args tuple"));
      c10::IValue value = args[index];
      TypePtr type = types[index];
      if (conv == "r" || conv == "a") value = python_repr(value, type), type = nullptr;
      else if (conv == "s") value = python_str(value, type), type = nullptr;
      else if (!conv.empty()) raise_python("ValueError", "Unknown conversion specifier " + conv);
      out += format_value(value, type, spec);
    }
    push(s, std::move(out));
  };
}

// The int that % converts an argument to: %d/%i/%u call int() (a float
// truncates; a tensor of one element gives its item), %o/%x/%X/%c
// operator.index() (integral values only).
int64_t percent_int(const c10::IValue& v, char type) {
  bool index = type != 'd' && type != 'i' && type != 'u';
  std::string required = index ? "an integer is required" : "a real number is required";
  if (v.isInt() || v.isBool()) return as_int(v);
  if (v.isDouble() && !index) return checked_int(std::trunc(v.toDouble()));
  if (v.isTensor() && !index) {
    const at::Tensor& t = v.toTensor();
    if (t.numel() != 1) raise_python("ValueError", "only one element tensors can be converted to Python scalars");
    c10::Scalar item = t.detach().item();
    if (item.isComplex()) raise_python("RuntimeError", "value cannot be converted to type int64_t without overflow");
    return item.isFloatingPoint() ? checked_int(std::trunc(item.toDouble())) : item.toLong();
  }
  if (v.isTensor() && v.toTensor().numel() == 1 && at::isIntegralType(v.toTensor().scalar_type(), /*includeBool=*/true))
    return v.toTensor().item().toLong();
  if (type == 'c') raise_python("TypeError", "%c requires int or char");
  raise_python("TypeError", cat("%", type, " format: ", required, ", not ", py_type_name(v)));
}

// The float that %e/%f/%g convert an argument to: float().
double percent_float(const c10::IValue& v) {
  if (v.isDouble() || v.isInt() || v.isBool()) return as_double(v);
  if (v.isTensor()) {
    const at::Tensor& t = v.toTensor();
    if (t.numel() != 1) raise_python("ValueError", "only one element tensors can be converted to Python scalars");
    c10::Scalar item = t.detach().item();
    if (item.isComplex()) raise_python("RuntimeError", "value cannot be converted to type double without overflow");
    return item.toDouble();
  }
  raise_python("TypeError", cat("must be real number, not ", py_type_name(v)));
}

// fmt % args: %[flags][width][.precision]type.
Operation percent_format(const PrimNode& node) {
  std::vector<TypePtr> types(node.input_types().begin() + 1, node.input_types().end());
  return [types](Stack& s) {
    size_t n = types.size();
    std::vector<c10::IValue> args(std::make_move_iterator(s.end() - n), std::make_move_iterator(s.end()));
    torch::jit::drop(s, n);
    std::string fmt = pop(s).toStringRef();
    std::string out;
    size_t next = 0;
    for (size_t i = 0; i < fmt.size(); ++i) {
      if (fmt[i] != '%') {
        out += fmt[i];
        continue;
      }
      if (++i >= fmt.size()) raise_python("ValueError", "incomplete format");
      if (fmt[i] == '(') raise_python("ValueError", "%(name) formats need a mapping, which is not supported");
      Spec sp;
      bool left = false;
      for (; i < fmt.size() && std::string("-+ #0").find(fmt[i]) != std::string::npos; ++i) {
        if (fmt[i] == '-') left = true;
        else if (fmt[i] == '+') sp.sign = '+';
        else if (fmt[i] == ' ' && sp.sign != '+') sp.sign = ' ';
        else if (fmt[i] == '#') sp.alternate = true;
        else if (fmt[i] == '0') sp.zero = true;
      }
      for (; i < fmt.size() && digit(fmt[i]); ++i) sp.width = (sp.width < 0 ? 0 : sp.width) * 10 + (fmt[i] - '0');
      if (i < fmt.size() && fmt[i] == '.') {
        sp.precision = 0;
        for (++i; i < fmt.size() && digit(fmt[i]); ++i) sp.precision = sp.precision * 10 + (fmt[i] - '0');
      }
      if (i >= fmt.size()) raise_python("ValueError", "incomplete format");
      char type = fmt[i];
      if (type == '%') {
        out += '%';
        continue;
      }
      if (next >= n) raise_python("TypeError", "not enough arguments for format string");
      const c10::IValue& v = args[next];
      const TypePtr& t = types[next++];
      if (left) sp.align = '<', sp.zero = false;
      std::string piece;
      if (type == 's' || type == 'r' || type == 'a') {
        std::string text = type == 's' ? python_str(v, t) : python_repr(v, t);
        if (sp.precision >= 0 && cp_length(text) > sp.precision) text = text.substr(0, code_points(text)[size_t(sp.precision)]);
        piece = pad(text, sp.width, " ", left ? '<' : '>');
      } else if (type == 'd' || type == 'i' || type == 'u' || type == 'o' || type == 'x' || type == 'X') {
        int64_t iv = percent_int(v, type);
        sp.type = (type == 'i' || type == 'u') ? 'd' : type;
        if (sp.precision > 0) {
          Spec digits_only;
          digits_only.type = sp.type;
          std::string d = format_int(iv < 0 ? -iv : iv, digits_only);
          while (int64_t(d.size()) < sp.precision) d = "0" + d;
          std::string prefix = sp.alternate ? (type == 'o' ? "0o" : type == 'x' ? "0x" : type == 'X' ? "0X" : "") : "";
          Spec outer = sp;
          piece = finish_number(iv < 0, prefix, d, outer);
        } else {
          piece = format_int(iv, sp);
        }
      } else if (std::string("eEfFgG").find(type) != std::string::npos) {
        double dv = percent_float(v);
        sp.type = type;
        if (sp.precision < 0) sp.precision = 6;
        piece = format_float(dv, sp);
      } else if (type == 'c') {
        if (v.isString() && cp_length(v.toStringRef()) == 1) piece = pad(v.toStringRef(), sp.width, " ", left ? '<' : '>');
        else if (v.isInt() || v.isBool() || v.isTensor()) piece = pad(format_int(percent_int(v, type), Spec{" ", 0, '-', false, false, false, -1, -1, 0, 'c'}), sp.width, " ", left ? '<' : '>');
        else raise_python("TypeError", "%c requires int or char");
      } else {
        raise_python("ValueError", cat("unsupported format character '", type, "'"));
      }
      out += piece;
    }
    if (next < n) raise_python("TypeError", "not all arguments converted during string formatting");
    push(s, std::move(out));
  };
}

}  // namespace

void add_format_prims(std::vector<PrimDef>& t) {
  t.insert(t.end(), {
      {"prim::format(str fmt, ...) -> str", format},
      {"prim::percent_format(str fmt, ...) -> str", percent_format},
  });
}

}  // namespace torchkiln::detail
