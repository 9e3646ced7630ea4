// The autocast prims of torchkiln/ops/lang.py: `with torch.autocast(...)`
// as torch/amp/autocast_mode.py enters and leaves it, and the queries
// `torch.is_autocast_enabled(device_type)`, `torch.get_autocast_dtype(...)`
// (Note [Autocast in script] in torchkiln/ops/lang.py).
#include <ATen/Context.h>
#include <ATen/autocast_mode.h>
#include <c10/core/Device.h>
#include <c10/util/Exception.h>

#include <cctype>
#include <string>

#include "autocast.h"
#include "error.h"
#include "prims.h"

namespace torchkiln::detail {

using torch::jit::pop;
using torch::jit::push;

namespace {

// What an entered block restores when it is left.
struct Entered {
  c10::DeviceType device;
  bool enabled;
  c10::ScalarType dtype;
  bool cache_enabled;
};

thread_local std::vector<Entered> t_entered;

void user_warning(const std::string& message) {
  c10::warn(c10::Warning(c10::UserWarning(), {__func__, __FILE__, uint32_t(__LINE__)}, message, /*verbatim=*/true));
}

// autocast.__init__'s checks of an enabled block: false where it warns and disables autocast.
bool autocast_allowed(const std::string& device, c10::ScalarType dtype) {
  if (device == "cuda") {
    // torch.cuda.is_bf16_supported() holds on every CUDA device that can make a bfloat16
    // tensor (emulation included), so only the availability check is made here.
    if (!at::globalContext().hasCUDA()) {
      user_warning("CUDA is not available or torch_xla is imported. Disabling autocast.");
      return false;
    }
    return true;
  }
  if (dtype == at::kBFloat16 || dtype == at::kHalf) return true;
  std::string name = device;
  for (char& c : name) c = char(std::toupper(static_cast<unsigned char>(c)));
  user_warning("In " + name + " autocast, but the target dtype is not supported. Disabling autocast.\n" + name +
               " Autocast only supports dtypes of torch.bfloat16, torch.float16 currently.");
  return false;
}

// prim::autocast_enter[device_type](ScalarType? dtype, bool enabled, bool? cache_enabled) -> ()
Operation autocast_enter(const PrimNode& node) {
  const std::string device = node.attr_str("device_type");
  c10::DeviceType type = c10::DeviceType::CPU;
  try {
    type = c10::Device(device).type();
  } catch (const c10::Error& e) {
    node.error(e.what_without_backtrace());
  }
  return [device, type](Stack& s) {
    c10::IValue cache_arg = pop(s);
    bool enabled = pop(s).toBool();
    c10::IValue dtype_arg = pop(s);
    const c10::ScalarType dtype = dtype_arg.isNone() ? at::autocast::get_autocast_dtype(type) : c10::ScalarType(dtype_arg.toInt());
    const bool cache = cache_arg.isNone() ? at::autocast::is_autocast_cache_enabled() : cache_arg.toBool();
    if (enabled) enabled = autocast_allowed(device, dtype);
    t_entered.push_back({type, at::autocast::is_autocast_enabled(type), at::autocast::get_autocast_dtype(type),
                         at::autocast::is_autocast_cache_enabled()});
    at::autocast::set_autocast_enabled(type, enabled);
    at::autocast::set_autocast_dtype(type, dtype);
    at::autocast::increment_nesting();
    at::autocast::set_autocast_cache_enabled(cache);
  };
}

void leave_innermost() {
  Entered e = t_entered.back();
  t_entered.pop_back();
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  at::autocast::set_autocast_enabled(e.device, e.enabled);
  at::autocast::set_autocast_dtype(e.device, e.dtype);
  at::autocast::set_autocast_cache_enabled(e.cache_enabled);
}

// prim::autocast_exit() -> ()
void autocast_exit(Stack&) {
  if (t_entered.empty()) raise_python("RuntimeError", "prim::autocast_exit without an autocast block to leave");
  leave_innermost();
}

void is_autocast_enabled_device(Stack& s) {
  push(s, at::autocast::is_autocast_enabled(c10::Device(pop(s).toStringRef()).type()));
}

void get_autocast_dtype(Stack& s) {
  push(s, int64_t(at::autocast::get_autocast_dtype(c10::Device(pop(s).toStringRef()).type())));
}

}  // namespace

size_t autocast_depth() { return t_entered.size(); }

void autocast_unwind(size_t depth) {
  while (t_entered.size() > depth) leave_innermost();
}

void add_autocast_prims(std::vector<PrimDef>& t) {
  t.insert(t.end(), {
      {"prim::autocast_enter(ScalarType? dtype, bool enabled, bool? cache_enabled) -> ()", autocast_enter},
      {"prim::autocast_exit() -> ()", plain<autocast_exit>},
      {"prim::is_autocast_enabled.device(str device_type) -> bool", plain<is_autocast_enabled_device>},
      {"prim::get_autocast_dtype(str device_type) -> ScalarType", plain<get_autocast_dtype>},
  });
}

}  // namespace torchkiln::detail
