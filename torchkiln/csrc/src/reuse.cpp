// Buffer reuse decided at load (Note [Buffer reuse]): which ATen calls may
// write their result into a dying input through their `.out` overload, and
// for which dtypes. Also the prim for aten::{add,sub,mul,div}.Scalar with a
// constant scalar (Note [Scalar constants as tensors]), which reuses
// buffers the same way. The run-time side is in fastpath.h and the
// interpreter (OpCode::AtenReuse).
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/function_schema.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/scalar_tensor.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <mutex>
#include <sstream>
#include <unordered_map>

#include "fastpath.h"
#include "reuse.h"

namespace torchkiln::detail {

namespace {

// The `.out` overload of a functional op with one Tensor result: the same
// arguments (names and types), then exactly `*, Tensor(a!) out`, returning
// `Tensor(a!)`. Found among the dispatcher's overloads of the name.
std::optional<c10::OperatorHandle> out_overload(const c10::FunctionSchema& f) {
  static const auto* by_name = [] {
    auto* m = new std::unordered_map<std::string, std::vector<std::string>>();
    for (const c10::OperatorName& op : c10::Dispatcher::singleton().getAllOpNames())
      (*m)[op.name].push_back(op.overload_name);
    return m;
  }();
  auto it = by_name->find(f.name());
  if (it == by_name->end()) return std::nullopt;
  const auto& args = f.arguments();
  for (const std::string& overload : it->second) {
    auto h = c10::Dispatcher::singleton().findSchema({f.name(), overload});
    if (!h) continue;
    const c10::FunctionSchema& o = h->schema();
    if (o.arguments().size() != args.size() + 1 || o.returns().size() != 1 || o.is_vararg() || o.is_varret()) continue;
    bool same = true;
    for (size_t i = 0; i < args.size() && same; ++i)
      same = o.arguments()[i].name() == args[i].name() && *o.arguments()[i].type() == *args[i].type() &&
             o.arguments()[i].alias_info() == nullptr;
    const c10::Argument& out = o.arguments().back();
    if (!same || out.name() != "out" || !out.kwarg_only() || out.type()->kind() != c10::TypeKind::TensorType) continue;
    if (out.alias_info() == nullptr || !out.alias_info()->isWrite()) continue;
    if (o.returns()[0].alias_info() == nullptr || o.returns()[0].type()->kind() != c10::TypeKind::TensorType) continue;
    return h;
  }
  return std::nullopt;
}

// The dtypes for which `op` on the tensors of `tensor_args` (all of that
// dtype) and the other `args` gives a result of that dtype and of the
// tensors' shape (Note [Buffer reuse]): probed on CPU with two-element
// tensors, once per process for each op and constant arguments (`key`).
// Not on meta tensors: many meta kernels are Python decompositions.
uint32_t probe_dtypes(const std::string& key, const c10::OperatorHandle& op, const std::vector<c10::IValue>& args,
                      const std::vector<int>& tensor_args) {
  static std::mutex mutex;
  static auto* cache = new std::unordered_map<std::string, uint32_t>();
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = cache->find(key);
    if (it != cache->end()) return it->second;
  }
  uint32_t dtypes = 0;
  c10::InferenceMode probing;
  c10::impl::ExcludeDispatchKeyGuard no_python_modes(c10::python_ks);
  for (c10::ScalarType dtype : {at::kFloat, at::kDouble, at::kHalf, at::kBFloat16, at::kLong, at::kInt}) {
    try {
      at::Tensor probe = at::ones({2}, at::TensorOptions().dtype(dtype));
      Stack stack = args;
      for (int i : tensor_args) stack[size_t(i)] = probe;
      op.callBoxed(stack);
      if (stack.size() == 1 && stack[0].isTensor() && stack[0].toTensor().scalar_type() == dtype &&
          stack[0].toTensor().sizes() == probe.sizes())
        dtypes |= 1u << uint32_t(dtype);
    } catch (const std::exception&) {  // not for this dtype: no reuse for it
    }
  }
  std::lock_guard<std::mutex> lock(mutex);
  cache->emplace(key, dtypes);
  return dtypes;
}

}  // namespace

// Note [Buffer reuse]
// --------------------
// An elementwise op (tagged `pointwise`, functional, not random) with an
// `.out` overload of the same arguments can write its result into an
// input whose last use it is, instead of a fresh tensor:
//
//   %3 : Tensor = aten::tanh(%2)          AtenReuse in=(move r2): tanh.out(r2, out=r2)
//
// Decided at load: the candidates (operands that move a Tensor register)
// and the dtypes for which the op keeps its inputs' dtype and shape
// (probe_dtypes: run once on small CPU tensors with the node's constant
// arguments; a non-constant non-tensor argument, which could change the
// result's dtype, means no reuse). Decided per call (fastpath.h): grad mode off as for
// below-autograd calls; the candidate uniquely owned (its only reference
// is the one moved onto the stack: not a graph input the caller holds,
// not a parameter or constant, not stored in a list, no view of it
// alive), contiguous, of a probed dtype; every other tensor input of the
// same dtype and device, contiguous and broadcasting into the candidate's
// shape. Then the functional op's result would have exactly the
// candidate's dtype, shape and strides, and the `.out` op computes the
// same values into it (the same kernel; full overlap of an input with the
// output is what the in-place variants do). Otherwise the functional op
// runs.
std::optional<ReuseOp> reuse_op(const IrNode& n, const std::vector<TypePtr>& types, const c10::OperatorHandle& handle,
                                const Code& code, const Instr& in) {
  const c10::FunctionSchema& f = handle.schema();
  if (!handle.hasTag(at::Tag::pointwise) || handle.hasTag(at::Tag::nondeterministic_seeded)) return std::nullopt;
  if (f.returns().size() != 1 || f.returns()[0].type()->kind() != c10::TypeKind::TensorType) return std::nullopt;
  ReuseOp r{handle, handle, {}, 0};
  for (size_t i = 0; i < n.inputs.size(); ++i)
    if (types[n.inputs[i]]->kind() == c10::TypeKind::TensorType && code.operands[in.in + i].kind() == Operand::Move)
      r.candidates.push_back(uint32_t(i));
  if (r.candidates.empty()) return std::nullopt;
  auto out = out_overload(f);
  if (!out) return std::nullopt;
  r.out = *out;
  // The probe's arguments: tensors of ones, the constants for the rest.
  std::vector<int> tensor_args;
  std::vector<c10::IValue> args;
  std::ostringstream key;
  key << f.name() << '.' << f.overload_name();
  for (uint32_t i = 0; i < in.n_in; ++i) {
    Operand o = code.operands[in.in + i];
    if (i < n.inputs.size() && types[n.inputs[i]]->kind() == c10::TypeKind::TensorType) {
      tensor_args.push_back(int(i));
      args.emplace_back();
      key << "|T";
    } else if (o.kind() == Operand::Const && !code.constants[o.index()].isTensor()) {
      args.push_back(code.constants[o.index()]);
      key << '|' << args.back().tagKind() << ':' << args.back();
    } else {
      return std::nullopt;
    }
  }
  r.dtypes = probe_dtypes(key.str(), handle, args, tensor_args);
  if (r.dtypes == 0) return std::nullopt;
  return r;
}

// Note [Scalar constants as tensors]
// -----------------------------------
// aten::{add,sub,mul,div}.Scalar(x, c) wrap `c` in a fresh 0-dim tensor on
// every call, and on CPU convert it to x's dtype with another: two small
// tensors per op, half the time of an elementwise op on a small tensor.
// When `c` is a constant number, 0-dim tensors holding it are made once
// here, for float32 and float64 (and, for an int `c`, each integral dtype
// it fits), and the op runs as its .Tensor overload with the one in x's
// dtype: both operands have x's dtype, so type promotion, kernel and result
// are the .Scalar op's. Only on CPU (CUDA kernels read a CPU scalar at
// higher precision instead) and for strided tensors; anything else takes
// the .Scalar op. (Not wrapped-number tensors: PyTorch expects those to be
// double or int64 only.)
std::optional<c10::OperatorHandle> scalar_constant_overload(const std::string& kind, const c10::IValue& c) {
  static const char* const kOps[] = {"aten::add.Scalar", "aten::sub.Scalar", "aten::mul.Scalar", "aten::div.Scalar"};
  if (std::find(std::begin(kOps), std::end(kOps), kind) == std::end(kOps)) return std::nullopt;
  if (!c.isInt() && !c.isDouble()) return std::nullopt;
  return c10::Dispatcher::singleton().findSchema({kind.substr(0, kind.find('.')), "Tensor"});
}

Operation scalar_constant_op(const c10::IValue& c, const c10::OperatorHandle& scalar_op,
                             const c10::OperatorHandle& tensor_op, bool may_reuse, uint32_t n_in) {
  const std::string& name = scalar_op.schema().name();
  std::vector<c10::ScalarType> dtypes = {at::kFloat, at::kDouble};  // not Half/BFloat16: their kernels keep c in float
  if (c.isInt() && name != "aten::div") dtypes.insert(dtypes.end(), {at::kLong, at::kInt, at::kShort, at::kChar, at::kByte});
  std::vector<std::pair<c10::ScalarType, c10::IValue>> constants;
  {
    c10::InferenceMode normal_tensors(false);  // usable later with autograd, whatever mode loads the archive
    for (c10::ScalarType dtype : dtypes) {
      try {
        at::Tensor t = c.isInt() ? at::scalar_tensor(c.toInt(), at::TensorOptions().dtype(dtype))
                                 : at::scalar_tensor(c.toDouble(), at::TensorOptions().dtype(dtype));
        constants.emplace_back(dtype, std::move(t));
      } catch (const std::exception&) {  // the constant does not fit this dtype: the .Scalar op decides
      }
    }
  }
  // Note [Buffer reuse]: with both operands of x's dtype and the constant
  // 0-dim, the result has x's dtype and shape; a dying, uniquely owned x
  // can hold it.
  std::optional<c10::OperatorHandle> out_op;
  if (may_reuse) out_op = out_overload(tensor_op.schema());
  return [constants = std::move(constants), tensor = tensor_op, scalar = scalar_op, out_op, n_in](Stack& s) {
    const size_t base = s.size() - n_in;
    const bool below = below_autograd_ok(s, base);  // the op is functional
    c10::IValue& self = s[base];
    if (self.isTensor() && self.toTensor().is_cpu() && self.toTensor().layout() == at::kStrided) {
      c10::ScalarType dtype = self.toTensor().scalar_type();
      for (const auto& [d, value] : constants)
        if (d == dtype) {
          s[base + 1] = value;
          if (!below) {
            tensor.callBoxed(s);
            return;
          }
          BelowAutograd guard;
          if (out_op && reuse_allowed() && uniquely_owned(self.toTensor())) {
            c10::IValue out = self;
            s.push_back(std::move(out));
            out_op->callBoxed(s);
            ++t_reused_buffers;
          } else {
            tensor.callBoxed(s);
          }
          return;
        }
    }
    if (!below) {
      scalar.callBoxed(s);
      return;
    }
    BelowAutograd guard;
    scalar.callBoxed(s);
  };
}

}  // namespace torchkiln::detail
