// Internal error helpers; the public error classes are in <torchkiln/module.h>.
#pragma once

#include <torchkiln/module.h>

#include <sstream>
#include <string>

namespace torchkiln::detail {

// Concatenates its arguments with operator<< into one message.
template <typename... Args>
std::string cat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}

template <typename... Args>
[[noreturn]] void fail(const Args&... args) {
  throw Error(cat(args...));
}

}  // namespace torchkiln::detail
