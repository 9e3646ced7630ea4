// IR types as c10 types, and archive VALUEs as c10::IValues.
//
// Types are read from the IR's text form (docs/archive.md §5):
//   Tensor int float bool str NoneType Device ScalarType Layout MemoryFormat
//   Scalar Any Generator, T[], (A, B), Dict(K, V), T?, Union(A, B), Future(T),
//   class names, NamedTuple __torch__.P(x: int, y: int)
// and map onto c10's type objects (ListType, TupleType, ClassType, ...), so
// runtime containers carry the element types ATen's boxed kernels expect.
//
// Runtime representation (as TorchScript's): ScalarType, Layout and
// MemoryFormat values are ints, Device is c10::Device, Scalar is an int,
// float, bool or complex IValue, classes are c10::ivalue::Object.
#pragma once

#include <ATen/core/ivalue.h>
#include <ATen/core/jit_type.h>
#include <nlohmann/json_fwd.hpp>

#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace torchkiln::detail {

using TypePtr = c10::TypePtr;
using Json = nlohmann::json;

// Class types by qualified name, for the type parser.
using ClassLookup = std::function<TypePtr(const std::string& name)>;

// Parses a TYPE string; throws Error naming `where` on anything malformed.
TypePtr parse_type(std::string_view text, const ClassLookup& classes, const std::string& where);

// A type of an op schema: lower-case names are type variables, alias
// annotations (`Tensor(a!)`, `t[](a)`) are skipped.
TypePtr parse_schema_type(std::string_view text, const std::string& where);

// The IR's text form of a type (for messages): `int[]`, `Tensor?`, `(int, str)`.
std::string type_text(const TypePtr& t);

// Whether a value of static type `value` may flow where `target` is declared
// (the IR's subtyping: Optional/Union/Any/Scalar, covariant tuples).
bool is_subtype(const TypePtr& value, const TypePtr& target);
bool is_subtype(const TypePtr& value, const TypePtr& target, int depth);
// One step of a bounded check (Note [Work budget] in types.cpp); depth 0 starts a new budget.
void work_step(int depth);

// Whether a runtime value conforms to a type; `depth` bounds recursion.
bool conforms(const c10::IValue& v, const TypePtr& t, int depth = 0);

// A copy of `v` with fresh lists and dicts (tensors, strings, objects
// shared): what a constant of a mutable type evaluates to each time.
c10::IValue fresh_copy(const c10::IValue& v);

// Whether values of `t` may be mutated in place (contain a list or dict).
bool is_mutable_type(const TypePtr& t);

// torch dtype names (`float32`, `int64`, ...) <-> ScalarType.
c10::ScalarType dtype_from_name(const std::string& name, const std::string& where);
std::string dtype_name(c10::ScalarType t);

// Decodes archive VALUEs (`{"tag": ..., ...}`) into IValues.
class ValueDecoder {
 public:
  // A tensor VALUE: the loader checks it against tensors.safetensors and
  // returns one shared tensor per key.
  using TensorResolver = std::function<at::Tensor(const Json& value, const std::string& where)>;
  // An `object` VALUE (objects.json only): the object with that index.
  using ObjectResolver = std::function<c10::IValue(int64_t index, const TypePtr& expected, const std::string& where)>;

  ValueDecoder(ClassLookup classes, TensorResolver tensors, ObjectResolver objects)
      : classes_(std::move(classes)), tensors_(std::move(tensors)), objects_(std::move(objects)) {}

  // Decodes `j`, which must conform to `expected` (null: the value's own
  // type, e.g. node attributes other than `prim::Constant`'s value).
  c10::IValue decode(const Json& j, const TypePtr& expected, const std::string& where) const;
  // A `type` VALUE.
  TypePtr decode_type(const Json& j, const std::string& where) const;

 private:
  c10::IValue decode(const Json& j, const TypePtr& expected, const std::string& where, int depth) const;
  c10::IValue decode_untyped(const Json& j, const std::string& where, int depth) const;
  // The static type of a VALUE decoded without an expected type.
  TypePtr type_of(const Json& j, const std::string& where, int depth) const;
  ClassLookup classes_;
  TensorResolver tensors_;
  ObjectResolver objects_;
};

// JSON field access with the archive's strictness (exact field sets, no
// bool-for-int); `where` names the place for error messages.
void expect_fields(const Json& obj, std::initializer_list<const char*> fields, const std::string& where);
const Json& field(const Json& obj, const char* name, const std::string& where);
int64_t json_int(const Json& j, const std::string& where);
const std::string& json_str(const Json& j, const std::string& where);
bool json_bool(const Json& j, const std::string& where);
const Json& json_array(const Json& j, const std::string& where);

}  // namespace torchkiln::detail
