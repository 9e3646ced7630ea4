// ATen calls that write into a dying input's buffer, decided at load (Note
// [Buffer reuse] in reuse.cpp), and the prim for aten::{add,sub,mul,div}.Scalar
// with a constant scalar (Note [Scalar constants as tensors] in reuse.cpp).
// The compiler (compile.cpp) asks; the run-time tests are in fastpath.h.
#pragma once

#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/ivalue.h>

#include <optional>
#include <string>
#include <vector>

#include "ir.h"
#include "program.h"

namespace torchkiln::detail {

// How node `n` (its values typed by `types`), compiled into `in` (operands
// in code.operands, defaults filled in after the node's inputs), calls the
// functional op `handle` with buffer reuse; nullopt when it cannot.
std::optional<ReuseOp> reuse_op(const IrNode& n, const std::vector<TypePtr>& types, const c10::OperatorHandle& handle,
                                const Code& code, const Instr& in);

// The `.Tensor` overload to run op `kind` with `c` as its second operand:
// for aten::{add,sub,mul,div}.Scalar and a constant int or float `c`;
// nullopt otherwise.
std::optional<c10::OperatorHandle> scalar_constant_overload(const std::string& kind, const c10::IValue& c);

// The prim for `scalar_op`(x, c, ...) (`n_in` operands) with the constant
// `c`, running `tensor_op` where it can. `may_reuse`: x is a Tensor operand
// moved to the op, which may hold the result (Note [Buffer reuse]).
Operation scalar_constant_op(const c10::IValue& c, const c10::OperatorHandle& scalar_op,
                             const c10::OperatorHandle& tensor_op, bool may_reuse, uint32_t n_in);

}  // namespace torchkiln::detail
