// torchkiln's C++ runtime: the public API without libtorch's heavy headers.
//
//   torchkiln::Module m = torchkiln::load("net.pt");
//   c10::IValue y = m.forward({x});
//
// A Module is a cheap handle on shared, immutable state (the loaded program
// and the root object): copy it freely, call it from many threads at once.
// Every failure (a bad archive, wrong arguments, an exception raised by the
// program) is a torchkiln::Error.
#pragma once

#include <ATen/core/ivalue.h>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace torchkiln {

// Base of every error the runtime throws: the message says what failed.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// A method was called with arguments that do not fit its signature
// (count, types); Python's TypeError.
class ArgumentError : public Error {
 public:
  explicit ArgumentError(const std::string& what) : Error(what) {}
};

// A failure while a method runs: an exception raised by the program itself
// (`raise`, `assert`), or an op that failed (shapes that do not match, an
// index out of range). Carries the Python exception class name
// ("ValueError"; "RuntimeError" for most op failures, as PyTorch raises),
// the message, and the Python source lines of the call chain, outermost
// call first. what() is
//   ValueError: negative input
//   Traceback (most recent call last):
//     File "model.py", line 20, column 17, in forward
//       return self.check(x)
//              ^^^^^^^^^^
//     File "model.py", line 12, column 9, in check
//       raise ValueError("negative input")
//       ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
class ProgramError : public Error {
 public:
  ProgramError(std::string python_class, std::string message, std::string traceback);
  const std::string& python_class() const { return python_class_; }
  const std::string& message() const { return message_; }
  const std::string& traceback() const { return traceback_; }

 private:
  std::string python_class_;
  std::string message_;
  std::string traceback_;
};

namespace detail {
struct Program;
}

// One argument of a method's signature (self excluded).
struct Argument {
  std::string name;
  c10::TypePtr type;
  std::optional<c10::IValue> default_value;
  bool kwarg_only = false;
  bool positional_only = false;  // declared before `/` in Python (informational: C++ calls are positional)
};

class Module {
 public:
  // An empty handle; calling a method on it throws torchkiln::Error.
  Module() = default;
  // Used by load(); detail::Program is internal.
  explicit Module(std::shared_ptr<const detail::Program> program) : program_(std::move(program)) {}

  // Runs `forward`. Arguments are positional; trailing arguments with
  // defaults may be left out. Safe to call concurrently.
  c10::IValue forward(std::vector<c10::IValue> inputs) const;
  c10::IValue operator()(std::vector<c10::IValue> inputs) const { return forward(std::move(inputs)); }
  c10::IValue run_method(const std::string& name, std::vector<c10::IValue> inputs) const;

  bool defined() const { return program_ != nullptr; }
  bool has_method(const std::string& name) const;
  std::vector<std::string> method_names() const;
  // The signature of a method (self excluded) and its return type; the
  // types print in the IR's text form with torchkiln::type_str.
  std::vector<Argument> arguments(const std::string& method) const;
  c10::TypePtr return_type(const std::string& method) const;
  // "module" for an nn.Module root, "function" for a saved free function.
  std::string root_kind() const;
  // Qualified name of the root class (module) or function.
  std::string name() const;

  // Module state, in declaration order; names are dotted paths
  // ("conv.weight"). With recurse=false only the root's own entries.
  std::vector<std::pair<std::string, at::Tensor>> named_parameters(bool recurse = true) const;
  std::vector<std::pair<std::string, at::Tensor>> named_buffers(bool recurse = true) const;
  // Plain attributes (not parameters, buffers or submodules).
  std::vector<std::pair<std::string, c10::IValue>> named_attributes(bool recurse = true) const;
  // Names of the direct submodules.
  std::vector<std::string> submodule_names() const;
  // Any attribute by dotted path ("layer1.0.conv.weight", "training");
  // throws torchkiln::Error when absent.
  c10::IValue attr(const std::string& path) const;
  bool has_attr(const std::string& path) const;
  // The root object (an IValue holding a c10::ivalue::Object), None for a function.
  c10::IValue object() const;

 private:
  const detail::Program& program() const;
  std::shared_ptr<const detail::Program> program_;
};

// Reads and validates an archive; every problem is a torchkiln::Error.
Module load(const std::string& path);
Module load_from_buffer(const void* data, size_t size);
Module load_from_buffer(const std::string& bytes);

namespace detail {
// For the Python extension only (Note [Trusted in-memory archives],
// loader.cpp): an archive's entries, in order, built by this same process
// and handed over without a zip container, so without CRC-32 checks. Every
// other check of load() runs. Never for bytes read from a file.
Module load_trusted_entries(const std::vector<std::pair<std::string, std::string_view>>& entries);
}  // namespace detail

// A type in the IR's text form: `Tensor`, `int[]`, `Dict(str, Tensor)`.
std::string type_str(const c10::TypePtr& type);

// The prim:: ops this runtime implements, sorted (for coverage checks).
std::vector<std::string> implemented_prim_ops();

}  // namespace torchkiln
