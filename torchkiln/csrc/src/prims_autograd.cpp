// The autograd prims of torchkiln/ops/lang.py: `torch.autograd.grad` and
// `torch.autograd.backward` (also `Tensor.backward`), run by libtorch's
// torch::autograd::grad / backward (Note [Autograd calls in script] in
// torchkiln/frontend/script/autograd.py).
//
// The Python executor calls torch's Python functions, which check their
// arguments and make the implicit gradients (`_make_grads` in
// torch/autograd/__init__.py) before the engine runs; libtorch's C++ functions
// check the same things with other messages. These prims make the Python
// checks first, with Python's messages, so a bad call fails alike on every
// executor; what the engine itself reports (an unused input, a graph already
// freed) is the same text in both.
#include <ATen/ops/ones_like.h>
#include <c10/util/irange.h>
#include <torch/csrc/autograd/autograd.h>

#include <optional>
#include <string>
#include <vector>

#include "error.h"
#include "prims.h"
#include "types.h"

namespace torchkiln::detail {

using torch::jit::pop;
using torch::jit::push;

namespace {

// `torch.Size([2, 3])`, as Python prints a shape.
std::string size_text(at::IntArrayRef sizes) {
  std::string out = "torch.Size([";
  for (size_t i = 0; i < sizes.size(); ++i) out += cat(i ? ", " : "", sizes[i]);
  return out + "])";
}

// A `Tensor?[]?` of gradients; nullopt for None, an undefined tensor for a None item.
std::optional<std::vector<at::Tensor>> optional_tensors(const c10::IValue& v) {
  if (v.isNone()) return std::nullopt;
  std::vector<at::Tensor> out;
  for (const c10::IValue& item : v.toListRef()) out.push_back(item.isNone() ? at::Tensor() : item.toTensor());
  return out;
}

// What `_make_grads` makes of the given gradients: one per output while both
// last (Python zips them), a tensor of ones for a None one where the output
// requires grad (a scalar of a floating type), the given one where its shape
// is the output's.
std::vector<at::Tensor> make_grads(const std::vector<at::Tensor>& outputs, const std::optional<std::vector<at::Tensor>>& given) {
  size_t n = given ? std::min(outputs.size(), given->size()) : outputs.size();
  std::vector<at::Tensor> grads;
  grads.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const at::Tensor& out = outputs[i];
    at::Tensor grad = given ? (*given)[i] : at::Tensor();
    if (grad.defined()) {
      if (!grad.sizes().equals(out.sizes()))
        raise_python("RuntimeError", cat("Mismatch in shape: grad_output[", i, "] has a shape of ", size_text(grad.sizes()),
                                         " and output[", i, "] has a shape of ", size_text(out.sizes()), "."));
      if (grad.is_complex() != out.is_complex())
        raise_python("RuntimeError", cat("For complex Tensors, both grad_output and output are required to have the same dtype. "
                                         "Mismatch in dtype: grad_output[", i, "] has a dtype of torch.", dtype_name(grad.scalar_type()),
                                         " and output[", i, "] has a dtype of torch.", dtype_name(out.scalar_type()), "."));
    } else if (out.requires_grad()) {
      if (out.numel() != 1) raise_python("RuntimeError", "grad can be implicitly created only for scalar outputs");
      if (!at::isFloatingType(out.scalar_type()))
        raise_python("RuntimeError", cat("grad can be implicitly created only for real scalar outputs but got torch.", dtype_name(out.scalar_type())));
      grad = at::ones_like(out, at::MemoryFormat::Preserve);
    }
    grads.push_back(std::move(grad));
  }
  return grads;
}

// The engine's checks of its roots (THPEngine_run_backward), in its words.
void check_roots(const std::vector<at::Tensor>& outputs, const std::vector<at::Tensor>& grads) {
  if (outputs.size() != grads.size())
    raise_python("RuntimeError", cat("got ", outputs.size(), " tensors and ", grads.size(), " gradients"));
  for (const auto i : c10::irange(outputs.size()))
    if (!outputs[i].requires_grad())
      raise_python("RuntimeError", cat("element ", i, " of tensors does not require grad and does not have a grad_fn"));
}

// The engine's check of the tensors gradients are asked for (`inputs`), in its words: backward
// first retains their gradients (`retain_grad`), which fails first.
void check_inputs(const std::vector<at::Tensor>& inputs, bool accumulate) {
  const char* message = accumulate ? "can't retain_grad on Tensor that has requires_grad=False"
                                   : "One of the differentiated Tensors does not require grad";
  for (const at::Tensor& input : inputs)
    if (!input.requires_grad()) raise_python("RuntimeError", message);
}

// prim::autograd_grad(Tensor[] outputs, Tensor[] inputs, Tensor?[]? grad_outputs, bool? retain_graph,
//                     bool create_graph, bool allow_unused) -> Tensor?[]
void autograd_grad(Stack& s) {
  bool allow_unused = pop(s).toBool();
  bool create_graph = pop(s).toBool();
  std::optional<bool> retain_graph = pop(s).toOptional<bool>();
  std::optional<std::vector<at::Tensor>> given = optional_tensors(pop(s));
  std::vector<at::Tensor> inputs = pop(s).toTensorVector();
  std::vector<at::Tensor> outputs = pop(s).toTensorVector();
  if (inputs.empty()) raise_python("RuntimeError", "`inputs` argument to `grad()` cannot be empty.");
  std::vector<at::Tensor> grads = make_grads(outputs, given);
  check_roots(outputs, grads);
  check_inputs(inputs, /*accumulate=*/false);
  // Unused inputs are reported here, as Python's engine words it.
  std::vector<at::Tensor> result =
      torch::autograd::grad(outputs, inputs, grads, retain_graph.value_or(create_graph), create_graph, /*allow_unused=*/true);
  for (const auto i : c10::irange(result.size()))
    if (!allow_unused && !result[i].defined())
      raise_python("RuntimeError", cat("The differentiated Tensor at index ", i,
                                       " appears to not have been used in the graph. Set allow_unused=True if this is the desired behavior."));
  c10::impl::GenericList list(c10::OptionalType::ofTensor());
  list.reserve(result.size());
  for (at::Tensor& g : result) list.push_back(g.defined() ? c10::IValue(std::move(g)) : c10::IValue());
  push(s, std::move(list));
}

// prim::autograd_backward(Tensor[] tensors, Tensor?[]? grad_tensors, bool? retain_graph,
//                         bool create_graph, Tensor[]? inputs) -> ()
void autograd_backward(Stack& s) {
  c10::IValue inputs_value = pop(s);
  bool create_graph = pop(s).toBool();
  std::optional<bool> retain_graph = pop(s).toOptional<bool>();
  std::optional<std::vector<at::Tensor>> given = optional_tensors(pop(s));
  std::vector<at::Tensor> tensors = pop(s).toTensorVector();
  std::vector<at::Tensor> inputs;
  if (!inputs_value.isNone()) {
    inputs = inputs_value.toTensorVector();
    if (inputs.empty()) raise_python("RuntimeError", "`inputs` argument to `backward()` cannot be empty.");
  }
  std::vector<at::Tensor> grads = make_grads(tensors, given);
  check_roots(tensors, grads);
  check_inputs(inputs, /*accumulate=*/true);
  torch::autograd::backward(tensors, grads, retain_graph.value_or(create_graph), create_graph, inputs);
}

}  // namespace

void add_autograd_prims(std::vector<PrimDef>& t) {
  t.insert(t.end(), {
      {"prim::autograd_grad(Tensor[] outputs, Tensor[] inputs, Tensor?[]? grad_outputs=None, bool? retain_graph=None, "
       "bool create_graph=False, bool allow_unused=False) -> Tensor?[]", plain<autograd_grad>},
      {"prim::autograd_backward(Tensor[] tensors, Tensor?[]? grad_tensors=None, bool? retain_graph=None, "
       "bool create_graph=False, Tensor[]? inputs=None) -> ()", plain<autograd_backward>},
  });
}

}  // namespace torchkiln::detail
