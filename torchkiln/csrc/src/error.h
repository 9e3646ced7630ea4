// Internal error helpers; the public error classes are in <torchkiln/module.h>.
#pragma once

#include <torchkiln/module.h>

#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>

namespace torchkiln::detail {

// Appends `v` as operator<< writes it. Strings and integers are appended
// directly: the loader builds a JSON path (`ir.json: functions[0].graph.nodes[3]`)
// for every node and value it reads, and a stream per path was a visible part
// of loading.
template <typename T>
void cat_append(std::string& out, const T& v) {
  using D = std::decay_t<T>;
  if constexpr (std::is_same_v<D, std::string> || std::is_same_v<D, std::string_view>) {
    out.append(v.data(), v.size());
  } else if constexpr (std::is_same_v<D, const char*> || std::is_same_v<D, char*>) {
    out += v;
  } else if constexpr (std::is_same_v<D, char>) {
    out += v;
  } else if constexpr (std::is_integral_v<D> && !std::is_same_v<D, bool> && !std::is_same_v<D, signed char> &&
                       !std::is_same_v<D, unsigned char>) {
    out += std::to_string(v);
  } else {
    std::ostringstream s;
    s << v;
    out += s.str();
  }
}

// Concatenates its arguments, as operator<< writes them, into one message.
template <typename... Args>
std::string cat(const Args&... args) {
  std::string out;
  (cat_append(out, args), ...);
  return out;
}

template <typename... Args>
[[noreturn]] void fail(const Args&... args) {
  throw Error(cat(args...));
}

}  // namespace torchkiln::detail
