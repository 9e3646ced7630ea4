// Run-time tests of the ATen fast paths: functional ops below autograd
// (Note [Functional ops below autograd]) and buffer reuse (Note [Buffer
// reuse] in reuse.cpp). Shared by the interpreter and the prim made for
// scalar constants (reuse.cpp).
//
// Note [Functional ops below autograd]
// ------------------------------------
// With grad mode off, the autograd kernel of an op whose schema is
// functional (no alias annotation on any argument or result, at least one
// result) records nothing: it checks for forward-mode tangents on its
// tensor inputs and redispatches below autograd
// (AutoDispatchBelowADInplaceOrView). The interpreter does the same itself:
// when grad mode is off, no dispatch key is in the thread's included set
// beyond the defaults (no tracer, dispatch mode or functorch layer) and no tensor input carries
// a forward-mode tangent (level 0, as autograd's kernels test), it calls the
// op with the autograd keys and ADInplaceOrView excluded. Results are the
// same tensors with the same values, requires_grad false as before; for a
// composite op (`aten::gru_cell`, `aten::linear`) the ops inside it skip
// autograd too, so it runs at inference-mode speed, but its results are
// normal tensors. What differs is bookkeeping inside a composite op: the
// in-place ops it applies to its own intermediates do not bump their
// version counters (a result's `_version` may read 0 where eager reads 2).
// Ops that return nothing (`aten::_backward`) run normally, and so do ops
// given a tensor that requires grad together with a batched tensor (see
// below_autograd_ok).
#pragma once

#include <ATen/core/ivalue.h>
#include <ATen/core/stack.h>
#include <c10/core/GradMode.h>
#include <c10/core/InferenceMode.h>
#include <c10/core/impl/LocalDispatchKeySet.h>

namespace torchkiln::detail {

// What the arguments of one call hold that decides the fast path.
struct ArgFacts {
  bool forward_grad = false;
  bool requires_grad = false;
  bool batched = false;  // a tensor of 3 or more dimensions
  void note(const at::Tensor& t) {
    if (!t.defined()) return;
    if (t.unsafeGetTensorImpl()->autograd_meta() != nullptr) {
      requires_grad = requires_grad || t.requires_grad();
      forward_grad = forward_grad || t._fw_grad(0).defined();
    }
    batched = batched || t.dim() >= 3;
  }
  void note(const c10::IValue& v) {
    if (v.isTensor()) {
      note(v.toTensor());
    } else if (v.isTensorList()) {
      for (const at::Tensor& t : v.toTensorList()) note(t);
    } else if (v.isList()) {  // Tensor?[]
      for (const c10::IValue& e : v.toListRef()) if (e.isTensor()) note(e.toTensor());
    }
  }
};

// Whether the functional op whose arguments are stack[base:] may run below autograd.
//
// Not when a tensor argument requires grad and one has 3 or more dimensions:
// below autograd a composite op's kernels see such tensors as if detached, and
// `matmul` (inside `linear`, `bilinear`, `einsum`, the RNNs...) then picks
// another kernel for batched inputs (it folds the batch into one `mm` only
// for inputs requiring grad), which differs from eager in the last bits.
// 2-d ops on parameters (`gru_cell`, `linear` on a batch of vectors) and ops
// on tensors that do not require grad keep the fast path.
inline bool below_autograd_ok(const torch::jit::Stack& stack, size_t base) {
  if (c10::GradMode::is_enabled()) return false;
  // Nothing included beyond the defaults (inference mode removes ADInplaceOrView).
  constexpr c10::DispatchKeySet defaults(c10::DispatchKey::BackendSelect);
  if (c10::impl::tls_local_dispatch_key_set().included_.remove(c10::DispatchKey::ADInplaceOrView) != defaults) return false;
  ArgFacts facts;
  for (size_t i = base; i < stack.size(); ++i) facts.note(stack[i]);
  return !facts.forward_grad && !(facts.requires_grad && facts.batched);
}

// Whether an `.out` call computes what the functional op would: not when
// autocast is on (it casts the functional op's inputs, never an out=
// overload's).
inline bool reuse_allowed() {
  return c10::impl::tls_local_dispatch_key_set().excluded_.isSupersetOf(c10::default_excluded_set);
}

// Buffers reused on this thread (Note [Buffer reuse]): for tests.
inline thread_local uint64_t t_reused_buffers = 0;

// The guard AutoDispatchBelowADInplaceOrView sets.
struct BelowAutograd {
  c10::impl::ExcludeDispatchKeyGuard guard{c10::autograd_dispatch_keyset_with_ADInplaceOrView};
};

// Whether nobody but the caller's one reference can see `t` or its memory:
// the only reference to its TensorImpl (no Python object, no weak
// reference), the only tensor on its storage (no view alive), no autograd
// metadata (so no grad_fn, requires_grad or tangent, not a view), a plain
// contiguous strided tensor. Writing into it changes nothing observable.
inline bool uniquely_owned(const at::Tensor& t) {
  c10::TensorImpl* impl = t.unsafeGetTensorImpl();
  if (t.use_count() != 1 || t.weak_use_count() != 1) return false;
  if (impl->autograd_meta() != nullptr || impl->pyobj_slot()->load_pyobj() != nullptr) return false;
  // (A tensor without storage has an empty one here, use_count 0.)
  if (impl->layout() != c10::kStrided || impl->unsafe_storage().use_count() != 1) return false;
  if (!impl->unique_version() || impl->is_wrapped_number() || impl->is_conj() || impl->is_neg()) return false;
  if (impl->is_inference() && !c10::InferenceMode::is_enabled()) return false;  // read-only outside inference mode
  return impl->is_contiguous();
}

// Whether a tensor argument `o` of an elementwise op whose result would
// have `t`'s dtype, device and shape leaves that so (same dtype and device,
// contiguous, broadcasting into t's shape): then the functional op's result
// is contiguous with t's shape, as the `.out` op's result in `t` is.
inline bool fits_into(const at::Tensor& o, const at::Tensor& t) {
  if (o.scalar_type() != t.scalar_type() || o.device() != t.device() || o.layout() != c10::kStrided) return false;
  if (o.unsafeGetTensorImpl()->is_wrapped_number() || !o.is_contiguous()) return false;
  int64_t od = o.dim(), td = t.dim();
  if (od > td) return false;
  for (int64_t k = 1; k <= od; ++k) {
    int64_t s = o.size(od - k);
    if (s != 1 && s != t.size(td - k)) return false;
  }
  return true;
}

}  // namespace torchkiln::detail
