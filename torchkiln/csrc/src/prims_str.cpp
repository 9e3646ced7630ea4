// The str ops of torchkiln/ops/lang.py: operators, indexing and methods.
//
// Strings are UTF-8 and index by code point, as Python's. Case mapping
// knows Latin-1, Latin Extended-A, Greek and Cyrillic (plus ß -> SS), with
// no context rules; character classes are exact for those and approximate
// elsewhere (letters are what is not punctuation, symbol or space).
#include <ATen/core/List.h>

#include <algorithm>

#include "error.h"
#include "lang.h"
#include "prims.h"

namespace torchkiln::detail {

// Byte offsets of each code point of a UTF-8 string, plus the end. A byte
// that does not start a valid sequence counts as one code point.
std::vector<size_t> code_points(const std::string& s) {
  std::vector<size_t> at;
  at.reserve(s.size() + 1);
  size_t i = 0;
  while (i < s.size()) {
    at.push_back(i);
    unsigned char c = s[i];
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
    if (i + n > s.size()) n = 1;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) n = 1;
    i += n;
  }
  at.push_back(s.size());
  return at;
}

bool is_ascii(const std::string& s) {
  for (unsigned char c : s)
    if (c >= 0x80) return false;
  return true;
}

int64_t cp_length(const std::string& s) { return is_ascii(s) ? int64_t(s.size()) : int64_t(code_points(s).size() - 1); }

std::vector<std::string> split_chars(const std::string& s) {
  auto at = code_points(s);
  std::vector<std::string> out;
  for (size_t i = 0; i + 1 < at.size(); ++i) out.push_back(s.substr(at[i], at[i + 1] - at[i]));
  return out;
}

static uint32_t decode_cp(const std::string& c) {
  unsigned char b0 = c[0];
  if (c.size() == 1) return b0;
  uint32_t cp = c.size() == 2 ? (b0 & 0x1F) : c.size() == 3 ? (b0 & 0x0F) : (b0 & 0x07);
  for (size_t i = 1; i < c.size(); ++i) cp = (cp << 6) | (static_cast<unsigned char>(c[i]) & 0x3F);
  return cp;
}

std::string encode_cp(uint32_t cp) {
  std::string out;
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
  return out;
}

std::string repeat(const std::string& s, int64_t n) {
  std::string out;
  if (n <= 0 || s.empty()) return out;
  int64_t total;
  if (__builtin_mul_overflow(int64_t(s.size()), n, &total)) raise_python("MemoryError", "string too long");
  out.reserve(size_t(total));
  for (int64_t i = 0; i < n; ++i) out += s;
  return out;
}

// Pads `s` to `width` code points with `fill`: align '<', '>', '^'.
std::string pad(const std::string& s, int64_t width, const std::string& fill, char align) {
  int64_t len = cp_length(s);
  if (width <= len) return s;
  int64_t n = width - len;
  int64_t left = align == '>' ? n : align == '^' ? n / 2 : 0;
  return repeat(fill, left) + s + repeat(fill, n - left);
}

namespace {

using torch::jit::pop;
using torch::jit::push;

bool py_space(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1C && c <= 0x1F); }

// -------------------------------------------------------------- str ops

void add_str(Stack& s) {
  std::string b = pop(s).toStringRef();
  push(s, pop(s).toStringRef() + b);
}
void mul_str(Stack& s) {
  int64_t n = pop(s).toInt();
  push(s, repeat(pop(s).toStringRef(), n));
}
void len_str(Stack& s) { push(s, cp_length(pop(s).toStringRef())); }
void getitem_str(Stack& s) {
  int64_t i = pop(s).toInt();
  c10::IValue sv = pop(s);
  const std::string& str = sv.toStringRef();
  if (is_ascii(str)) return push(s, std::string(1, str[normalize_index(i, int64_t(str.size()), "string index out of range")]));
  auto at = code_points(str);
  int64_t k = normalize_index(i, int64_t(at.size() - 1), "string index out of range");
  push(s, str.substr(at[k], at[k + 1] - at[k]));
}
void contains_str(Stack& s) {
  std::string sub = pop(s).toStringRef();
  push(s, pop(s).toStringRef().find(sub) != std::string::npos);
}
void list_str(Stack& s) {
  c10::List<std::string> out;
  for (auto& c : split_chars(pop(s).toStringRef())) out.push_back(std::move(c));
  push(s, std::move(out));
}
void ord(Stack& s) {
  std::string c = pop(s).toStringRef();
  auto chars = split_chars(c);
  if (chars.size() != 1)
    raise_python("TypeError", cat("ord() expected a character, but string of length ", chars.size(), " found"));
  push(s, int64_t(decode_cp(chars[0])));
}
void chr(Stack& s) {
  int64_t i = pop(s).toInt();
  if (i < INT32_MIN || i > INT32_MAX) raise_python("OverflowError", "Python int too large to convert to C int");
  if (i < 0 || i > 0x10FFFF) raise_python("ValueError", "chr() arg not in range(0x110000)");
  push(s, encode_cp(uint32_t(i)));
}
void slice_str(Stack& s) {
  c10::IValue step = pop(s), stop = pop(s), start = pop(s);
  std::string str = pop(s).toStringRef();
  auto chars = split_chars(str);
  SliceRange r = slice_range(int64_t(chars.size()), start, stop, step);
  std::string out;
  for (int64_t k = 0; k < r.length; ++k) out += chars[size_t(r.start + k * r.step)];
  push(s, std::move(out));
}

// -------------------------------------------------------------- methods

// Case of a code point: Latin-1, Latin Extended-A, Greek and Cyrillic
// letters besides ASCII (no context rules such as Greek final sigma).
uint32_t lower_cp(uint32_t c) {
  if ((c >= 'A' && c <= 'Z') || (c >= 0xC0 && c <= 0xDE && c != 0xD7) || (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) ||
      (c >= 0x410 && c <= 0x42F))
    return c + 32;
  if (c >= 0x400 && c <= 0x40F) return c + 80;
  if (((c >= 0x100 && c <= 0x12F) || (c >= 0x132 && c <= 0x137) || (c >= 0x14A && c <= 0x177)) && c % 2 == 0) return c + 1;
  if (((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) && c % 2 == 1) return c + 1;
  if (c == 0x178) return 0xFF;
  return c;
}
uint32_t upper_cp(uint32_t c) {
  if ((c >= 'a' && c <= 'z') || (c >= 0xE0 && c <= 0xFE && c != 0xF7) || (c >= 0x3B1 && c <= 0x3C9 && c != 0x3C2) ||
      (c >= 0x430 && c <= 0x44F))
    return c - 32;
  if (c >= 0x450 && c <= 0x45F) return c - 80;
  if (((c >= 0x101 && c <= 0x12F) || (c >= 0x133 && c <= 0x137) || (c >= 0x14B && c <= 0x177)) && c % 2 == 1) return c - 1;
  if (((c >= 0x13A && c <= 0x148) || (c >= 0x17A && c <= 0x17E)) && c % 2 == 0) return c - 1;
  if (c == 0xFF) return 0x178;
  if (c == 0xB5) return 0x39C;
  if (c == 0x3C2) return 0x3A3;
  return c;
}
bool is_lower_cp(uint32_t c) { return upper_cp(c) != c || c == 0xDF; }
bool is_upper_cp(uint32_t c) { return lower_cp(c) != c; }
bool is_cased_cp(uint32_t c) { return is_lower_cp(c) || is_upper_cp(c); }
std::string upper_text(uint32_t c) { return c == 0xDF ? std::string("SS") : encode_cp(upper_cp(c)); }

std::vector<uint32_t> decode_all(const std::string& str) {
  std::vector<uint32_t> out;
  for (const std::string& c : split_chars(str)) out.push_back(decode_cp(c));
  return out;
}

bool space_cp(uint32_t c) {
  return (c < 0x80 && py_space(static_cast<unsigned char>(c))) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}
bool digit_cp(uint32_t c) { return (c >= '0' && c <= '9') || c == 0xB2 || c == 0xB3 || c == 0xB9; }
// Letters: ASCII, then everything outside the common punctuation and symbol blocks.
bool alpha_cp(uint32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  if (c < 0xC0) return c == 0xAA || c == 0xB5 || c == 0xBA;
  if (c == 0xD7 || c == 0xF7) return false;
  if ((c >= 0x2000 && c <= 0x2BFF) || (c >= 0x3000 && c <= 0x303F) || (c >= 0xFE30 && c <= 0xFE4F)) return false;
  return !space_cp(c);
}
bool alnum_cp(uint32_t c) { return alpha_cp(c) || digit_cp(c); }
// Decimal digits and numeric characters: exact for Latin-1 (as digit_cp), ASCII digits beyond.
bool decimal_cp(uint32_t c) { return c >= '0' && c <= '9'; }
bool numeric_cp(uint32_t c) { return digit_cp(c) || (c >= 0xBC && c <= 0xBE); }
// Printable: not a control, format, private-use or surrogate code point, nor a separator other than ' '.
bool printable_cp(uint32_t c) {
  if (c < 0x20 || (c >= 0x7F && c <= 0xA0) || c == 0xAD) return false;
  if (c != ' ' && space_cp(c)) return false;
  if ((c >= 0x200B && c <= 0x200F) || (c >= 0x202A && c <= 0x202E) || (c >= 0x2060 && c <= 0x2064) || c == 0xFEFF ||
      (c >= 0xD800 && c <= 0xF8FF))
    return false;
  return true;
}

enum class CaseOp { Lower, Upper, Swap, Capitalize, Title };

template <CaseOp Op>
void change_case(Stack& s) {
  std::string out;
  bool prev_cased = false, first = true;
  for (uint32_t c : decode_all(pop(s).toStringRef())) {
    bool upper;
    switch (Op) {
      case CaseOp::Lower: upper = false; break;
      case CaseOp::Upper: upper = true; break;
      case CaseOp::Swap: upper = is_lower_cp(c); break;
      case CaseOp::Capitalize: upper = first; break;
      case CaseOp::Title: upper = !prev_cased; break;
    }
    bool cased = is_cased_cp(c);
    if (Op == CaseOp::Swap && !cased) out += encode_cp(c);
    else out += upper ? upper_text(c) : encode_cp(lower_cp(c));
    prev_cased = cased;
    first = false;
  }
  push(s, std::move(out));
}

template <bool (*F)(uint32_t)>
void all_chars(Stack& s) {
  auto cps = decode_all(pop(s).toStringRef());
  bool ok = !cps.empty();
  for (uint32_t c : cps) ok = ok && F(c);
  push(s, ok);
}
template <bool Lower>
void is_case(Stack& s) {
  bool cased = false, ok = true;
  for (uint32_t c : decode_all(pop(s).toStringRef())) {
    if (is_cased_cp(c)) cased = true;
    if (Lower ? is_upper_cp(c) : (is_lower_cp(c))) ok = false;
  }
  push(s, cased && ok);
}
void isidentifier(Stack& s) {
  auto cps = decode_all(pop(s).toStringRef());
  bool ok = !cps.empty() && (alpha_cp(cps[0]) || cps[0] == '_');
  for (uint32_t c : cps) ok = ok && (alnum_cp(c) || c == '_');
  push(s, ok);
}

// strip/lstrip/rstrip: chars None means whitespace.
template <bool Left, bool Right>
void strip(Stack& s) {
  c10::IValue chars_v = pop(s);
  std::string str = pop(s).toStringRef();
  auto chars = split_chars(str);
  std::vector<std::string> set;
  if (!chars_v.isNone()) set = split_chars(chars_v.toStringRef());
  auto drop = [&](const std::string& c) {
    if (chars_v.isNone()) return space_cp(decode_cp(c));
    return std::find(set.begin(), set.end(), c) != set.end();
  };
  size_t b = 0, e = chars.size();
  if (Left)
    while (b < e && drop(chars[b])) ++b;
  if (Right)
    while (e > b && drop(chars[e - 1])) --e;
  std::string out;
  for (size_t i = b; i < e; ++i) out += chars[i];
  push(s, std::move(out));
}

std::vector<std::string> split_ws(const std::string& str, int64_t maxsplit, bool from_right) {
  std::vector<std::string> parts;
  if (!from_right) {
    size_t i = 0, n = str.size();
    while (true) {
      while (i < n && py_space(str[i])) ++i;
      if (i >= n) break;
      if (maxsplit >= 0 && int64_t(parts.size()) == maxsplit) {
        parts.push_back(str.substr(i));  // the rest, trailing whitespace kept (as Python)
        break;
      }
      size_t j = i;
      while (j < n && !py_space(str[j])) ++j;
      parts.push_back(str.substr(i, j - i));
      i = j;
    }
    return parts;
  }
  size_t e = str.size();
  while (true) {
    while (e > 0 && py_space(str[e - 1])) --e;
    if (e == 0) break;
    if (maxsplit >= 0 && int64_t(parts.size()) == maxsplit) {
      parts.push_back(str.substr(0, e));  // the rest, leading whitespace kept (as Python)
      break;
    }
    size_t b = e;
    while (b > 0 && !py_space(str[b - 1])) --b;
    parts.push_back(str.substr(b, e - b));
    e = b;
  }
  std::reverse(parts.begin(), parts.end());
  return parts;
}

template <bool FromRight>
void split(Stack& s) {
  int64_t maxsplit = pop(s).toInt();
  c10::IValue sep_v = pop(s);
  std::string str = pop(s).toStringRef();
  std::vector<std::string> parts;
  if (sep_v.isNone()) {
    parts = split_ws(str, maxsplit, FromRight);
  } else {
    const std::string& sep = sep_v.toStringRef();
    if (sep.empty()) raise_python("ValueError", "empty separator");
    if (!FromRight) {
      size_t start = 0;
      while (maxsplit < 0 || int64_t(parts.size()) < maxsplit) {
        size_t at = str.find(sep, start);
        if (at == std::string::npos) break;
        parts.push_back(str.substr(start, at - start));
        start = at + sep.size();
      }
      parts.push_back(str.substr(start));
    } else {
      size_t end = str.size();
      while (maxsplit < 0 || int64_t(parts.size()) < maxsplit) {
        if (end < sep.size()) break;
        size_t at = str.rfind(sep, end - sep.size());
        if (at == std::string::npos) break;
        parts.push_back(str.substr(at + sep.size(), end - at - sep.size()));
        end = at;
      }
      parts.push_back(str.substr(0, end));
      std::reverse(parts.begin(), parts.end());
    }
  }
  push(s, c10::List<std::string>(parts));
}

void splitlines(Stack& s) {
  bool keepends = pop(s).toBool();
  std::string str = pop(s).toStringRef();
  std::vector<std::string> parts;
  auto chars = split_chars(str);
  std::string cur;
  for (size_t i = 0; i < chars.size(); ++i) {
    const std::string& c = chars[i];
    bool brk = c == "\n" || c == "\r" || c == "\v" || c == "\f" || c == "\x1c" || c == "\x1d" || c == "\x1e" ||
               c == "\xc2\x85" || c == "\xe2\x80\xa8" || c == "\xe2\x80\xa9";
    if (!brk) {
      cur += c;
      continue;
    }
    if (keepends) cur += c;
    if (c == "\r" && i + 1 < chars.size() && chars[i + 1] == "\n") {
      ++i;
      if (keepends) cur += "\n";
    }
    parts.push_back(std::move(cur));
    cur.clear();
  }
  if (!cur.empty()) parts.push_back(std::move(cur));
  push(s, c10::List<std::string>(parts));
}

void join(Stack& s) {
  c10::IValue list = pop(s);
  auto items = list.toListRef();
  std::string sep = pop(s).toStringRef();
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep;
    out += items[i].toStringRef();
  }
  push(s, std::move(out));
}

// CPython's ADJUST_INDICES for the optional start/end of find, count, startswith...: code
// point indices, end clipped to [0, len], start clipped below only (it may exceed len).
struct Span {
  int64_t start, end;
};
Span adjust_indices(int64_t len, const c10::IValue& start_v, const c10::IValue& end_v) {
  int64_t start = start_v.isNone() ? 0 : start_v.toInt();
  int64_t end = end_v.isNone() ? len : end_v.toInt();
  if (end > len) {
    end = len;
  } else if (end < 0) {
    end += len;
    if (end < 0) end = 0;
  }
  if (start < 0) {
    start += len;
    if (start < 0) start = 0;
  }
  return {start, end};
}
// A string with the byte offsets of code point indices (0 <= i <= length).
struct Indexed {
  const std::string& str;
  bool ascii;
  std::vector<size_t> at;
  explicit Indexed(const std::string& s) : str(s), ascii(is_ascii(s)) {
    if (!ascii) at = code_points(s);
  }
  int64_t length() const { return ascii ? int64_t(str.size()) : int64_t(at.size() - 1); }
  size_t byte(int64_t i) const { return ascii ? size_t(i) : at[size_t(i)]; }
  int64_t index(size_t byte) const {
    return ascii ? int64_t(byte) : int64_t(std::lower_bound(at.begin(), at.end(), byte) - at.begin());
  }
};

// startswith/endswith(sub, start, end): CPython's tailmatch.
template <bool End>
void tailmatch(Stack& s) {
  c10::IValue end_v = pop(s), start_v = pop(s);
  std::string sub = pop(s).toStringRef();
  std::string str = pop(s).toStringRef();
  Indexed ix(str);
  auto [b, e] = adjust_indices(ix.length(), start_v, end_v);
  if (e - b < cp_length(sub)) return push(s, false);
  if (sub.empty()) return push(s, true);
  size_t bb = ix.byte(b), be = ix.byte(e);
  if (End) return push(s, be - bb >= sub.size() && str.compare(be - sub.size(), sub.size(), sub) == 0);
  push(s, be - bb >= sub.size() && str.compare(bb, sub.size(), sub) == 0);
}
template <bool Reverse, bool Raise>
void find(Stack& s) {
  c10::IValue end_v = pop(s), start_v = pop(s);
  std::string sub = pop(s).toStringRef();
  std::string str = pop(s).toStringRef();
  Indexed ix(str);
  auto [b, e] = adjust_indices(ix.length(), start_v, end_v);
  int64_t result = -1;
  if (e - b >= cp_length(sub)) {
    size_t bb = ix.byte(b), be = ix.byte(e);
    if (!Reverse) {
      size_t at = str.find(sub, bb);
      if (at != std::string::npos && at + sub.size() <= be) result = ix.index(at);
    } else if (be >= sub.size()) {
      size_t at = str.rfind(sub, be - sub.size());
      if (at != std::string::npos && at >= bb) result = ix.index(at);
    }
  }
  if (result < 0 && Raise) raise_python("ValueError", "substring not found");
  push(s, result);
}
void count(Stack& s) {
  c10::IValue end_v = pop(s), start_v = pop(s);
  std::string sub = pop(s).toStringRef();
  std::string str = pop(s).toStringRef();
  Indexed ix(str);
  auto [b, e] = adjust_indices(ix.length(), start_v, end_v);
  if (e - b < cp_length(sub)) return push(s, int64_t(0));
  if (sub.empty()) return push(s, e - b + 1);
  size_t be = ix.byte(e);
  int64_t n = 0;
  for (size_t at = str.find(sub, ix.byte(b)); at != std::string::npos && at + sub.size() <= be; at = str.find(sub, at + sub.size())) ++n;
  push(s, n);
}
// partition/rpartition: three outputs.
template <bool Reverse>
void partition(Stack& s) {
  std::string sep = pop(s).toStringRef();
  std::string str = pop(s).toStringRef();
  if (sep.empty()) raise_python("ValueError", "empty separator");
  size_t at = Reverse ? str.rfind(sep) : str.find(sep);
  if (at == std::string::npos) {
    push(s, Reverse ? std::string() : str);
    push(s, std::string());
    push(s, Reverse ? str : std::string());
    return;
  }
  push(s, str.substr(0, at));
  push(s, sep);
  push(s, str.substr(at + sep.size()));
}
void expandtabs(Stack& s) {
  int64_t tabsize = pop(s).toInt();
  if (tabsize < INT32_MIN || tabsize > INT32_MAX) raise_python("OverflowError", "Python int too large to convert to C int");
  std::string out;
  int64_t col = 0;
  for (const std::string& c : split_chars(pop(s).toStringRef())) {
    if (c == "\t") {
      if (tabsize > 0) {
        int64_t n = tabsize - col % tabsize;
        out.append(size_t(n), ' ');
        col += n;
      }
    } else {
      out += c;
      col = (c == "\n" || c == "\r") ? 0 : col + 1;
    }
  }
  push(s, std::move(out));
}
// istitle: cased characters only in title-case runs; at least one cased character.
void istitle(Stack& s) {
  bool cased = false, prev_cased = false;
  for (uint32_t c : decode_all(pop(s).toStringRef())) {
    if (is_upper_cp(c)) {
      if (prev_cased) return push(s, false);
      prev_cased = cased = true;
    } else if (is_lower_cp(c)) {
      if (!prev_cased) return push(s, false);
      prev_cased = cased = true;
    } else {
      prev_cased = false;
    }
  }
  push(s, cased);
}
void isprintable(Stack& s) {
  for (uint32_t c : decode_all(pop(s).toStringRef()))
    if (!printable_cp(c)) return push(s, false);
  push(s, true);
}
void replace(Stack& s) {
  int64_t count = pop(s).toInt();
  std::string repl = pop(s).toStringRef(), old = pop(s).toStringRef(), str = pop(s).toStringRef();
  std::string out;
  if (old.empty()) {
    auto chars = split_chars(str);
    int64_t done = 0;
    for (size_t i = 0; i <= chars.size(); ++i) {
      if (count < 0 || done < count) out += repl, ++done;
      if (i < chars.size()) out += chars[i];
    }
    return push(s, std::move(out));
  }
  size_t start = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    size_t at = str.find(old, start);
    if (at == std::string::npos) break;
    out += str.substr(start, at - start) + repl;
    start = at + old.size();
    ++done;
  }
  push(s, out + str.substr(start));
}
void zfill(Stack& s) {
  int64_t width = pop(s).toInt();
  std::string str = pop(s).toStringRef();
  if (width <= cp_length(str)) return push(s, std::move(str));
  int64_t n = width - cp_length(str);
  size_t sign = (!str.empty() && (str[0] == '+' || str[0] == '-')) ? 1 : 0;
  push(s, str.substr(0, sign) + std::string(size_t(n), '0') + str.substr(sign));
}
template <char Align>
void justify(Stack& s) {
  std::string fill = pop(s).toStringRef();
  int64_t width = pop(s).toInt();
  std::string str = pop(s).toStringRef();
  if (cp_length(fill) != 1) raise_python("TypeError", "The fill character must be exactly one character long");
  if (Align != '^') return push(s, pad(str, width, fill, Align == '<' ? '<' : '>'));
  if (width <= cp_length(str)) return push(s, std::move(str));
  int64_t n = width - cp_length(str);
  int64_t left = n / 2 + (n & width & 1);  // CPython's centering
  push(s, repeat(fill, left) + str + repeat(fill, n - left));
}

}  // namespace

void add_str_prims(std::vector<PrimDef>& t) {
  add_format_prims(t);
  t.insert(t.end(), {
      {"prim::add.str(str a, str b) -> str", plain<add_str>},
      {"prim::mul.str(str a, int n) -> str", plain<mul_str>},
      {"prim::len.str(str s) -> int", plain<len_str>},
      {"prim::getitem.str(str s, int index) -> str", plain<getitem_str>},
      {"prim::contains.str(str s, str sub) -> bool", plain<contains_str>},
      {"prim::list.str(str s) -> str[]", plain<list_str>},
      {"prim::ord(str c) -> int", plain<ord>},
      {"prim::chr(int i) -> str", plain<chr>},
      {"prim::slice.str(str s, int? start, int? stop, int? step) -> str", plain<slice_str>},
      {"prim::str_lower(str self) -> str", plain<change_case<CaseOp::Lower>>},
      {"prim::str_upper(str self) -> str", plain<change_case<CaseOp::Upper>>},
      {"prim::str_capitalize(str self) -> str", plain<change_case<CaseOp::Capitalize>>},
      {"prim::str_title(str self) -> str", plain<change_case<CaseOp::Title>>},
      {"prim::str_swapcase(str self) -> str", plain<change_case<CaseOp::Swap>>},
      {"prim::str_isdigit(str self) -> bool", plain<all_chars<digit_cp>>},
      {"prim::str_isalpha(str self) -> bool", plain<all_chars<alpha_cp>>},
      {"prim::str_isalnum(str self) -> bool", plain<all_chars<alnum_cp>>},
      {"prim::str_isspace(str self) -> bool", plain<all_chars<space_cp>>},
      {"prim::str_islower(str self) -> bool", plain<is_case<true>>},
      {"prim::str_isupper(str self) -> bool", plain<is_case<false>>},
      {"prim::str_isidentifier(str self) -> bool", plain<isidentifier>},
      {"prim::str_strip(str self, str? chars) -> str", plain<strip<true, true>>},
      {"prim::str_lstrip(str self, str? chars) -> str", plain<strip<true, false>>},
      {"prim::str_rstrip(str self, str? chars) -> str", plain<strip<false, true>>},
      {"prim::str_split(str self, str? sep, int maxsplit) -> str[]", plain<split<false>>},
      {"prim::str_rsplit(str self, str? sep, int maxsplit) -> str[]", plain<split<true>>},
      {"prim::str_splitlines(str self, bool keepends) -> str[]", plain<splitlines>},
      {"prim::str_join(str self, str[] items) -> str", plain<join>},
      {"prim::str_startswith(str self, str prefix, int? start, int? end) -> bool", plain<tailmatch<false>>},
      {"prim::str_endswith(str self, str suffix, int? start, int? end) -> bool", plain<tailmatch<true>>},
      {"prim::str_find(str self, str sub, int? start, int? end) -> int", plain<find<false, false>>},
      {"prim::str_rfind(str self, str sub, int? start, int? end) -> int", plain<find<true, false>>},
      {"prim::str_index(str self, str sub, int? start, int? end) -> int", plain<find<false, true>>},
      {"prim::str_rindex(str self, str sub, int? start, int? end) -> int", plain<find<true, true>>},
      {"prim::str_count(str self, str sub, int? start, int? end) -> int", plain<count>},
      {"prim::str_partition(str self, str sep) -> (str, str, str)", plain<partition<false>>},
      {"prim::str_rpartition(str self, str sep) -> (str, str, str)", plain<partition<true>>},
      {"prim::str_expandtabs(str self, int tabsize) -> str", plain<expandtabs>},
      {"prim::str_isdecimal(str self) -> bool", plain<all_chars<decimal_cp>>},
      {"prim::str_isnumeric(str self) -> bool", plain<all_chars<numeric_cp>>},
      {"prim::str_istitle(str self) -> bool", plain<istitle>},
      {"prim::str_isprintable(str self) -> bool", plain<isprintable>},
      {"prim::str_replace(str self, str old, str new, int count) -> str", plain<replace>},
      {"prim::str_zfill(str self, int width) -> str", plain<zfill>},
      {"prim::str_center(str self, int width, str fillchar) -> str", plain<justify<'^'>>},
      {"prim::str_ljust(str self, int width, str fillchar) -> str", plain<justify<'<'>>},
      {"prim::str_rjust(str self, int width, str fillchar) -> str", plain<justify<'>'>>},
  });
}

}  // namespace torchkiln::detail
