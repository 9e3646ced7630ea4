// Times forward on three models (chain, mlp, resnet; see
// benchmarks/bench_cpp_runtime.py, which saves the archives and builds this)
// as hand-written ATen calls, torchkiln::Module::forward and
// torch::jit::Module::forward, interleaved, on one thread.
//
//   bench_cpp_runtime --dir DIR [--models chain,mlp,resnet] [--seconds S] [--grad-mode inference|no_grad]
//       prints one line per (model, variant): RESULT {json}
//   bench_cpp_runtime --dir DIR --profile MODEL:VARIANT:ITERS [--grad-mode ...]
//       loads everything, then runs only that variant ITERS times (for callgrind / perf;
//       see profiled_loop)
//
// DIR holds MODEL.torchkiln.pt and MODEL.jit.pt. Weights for the ATen
// versions come from the torch.jit archive (the torchkiln one when that is
// missing), so every variant computes the same function and is checked
// against `aten`.
//
// Note [Interleaving]
// -------------------
// Other processes share the cores, so the clock speed and the cache state
// drift over a run. Each round times one batch of every variant, starting at
// a different variant each round; the report is the median over rounds of
// each variant's ns per call. A batch is sized to about 2 ms of the fastest
// variant. Time is this thread's CPU time (CLOCK_THREAD_CPUTIME_ID; with one
// intra-op thread all the work runs on it), so time spent preempted by other
// processes does not count; wall-clock medians are reported alongside.
#include <ATen/Parallel.h>
#include <torch/script.h>
#include <torchkiln/torchkiln.h>

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using Params = std::map<std::string, at::Tensor>;

// ------------------------------------------------------------------ helpers

struct Options {
  std::string dir;
  std::vector<std::string> models{"chain", "mlp", "resnet"};
  double seconds = 3.0;
  std::string grad_mode = "inference";
  std::string profile;  // MODEL:VARIANT:ITERS
};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, sep);)
    if (!item.empty()) out.push_back(item);
  return out;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\', out += c;
    else if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (static_cast<unsigned char>(c) < 0x20) out += ' ';
    else out += c;
  }
  return out + "\"";
}

std::string first_line(const std::string& s, size_t limit = 400) {
  std::string line = s.substr(0, s.find('\n'));
  return line.size() > limit ? line.substr(0, limit) + "..." : line;
}

bool file_exists(const std::string& path) { return std::ifstream(path).good(); }

const at::Tensor& param(const Params& p, const std::string& name) {
  auto it = p.find(name);
  if (it == p.end()) throw std::runtime_error("no parameter or buffer named " + name);
  return it->second;
}

// --------------------------------------------------------------- the chain
// 50 x [x * 0.5, x + y, tanh(x), x - 0.25]: the graph's constants are a
// float (0.5, 0.25) and alpha = 1 (an int), so the ATen versions use the
// same Scalars.

constexpr int kChainRepeats = 50;
constexpr int kChainOps = 4 * kChainRepeats;

at::Tensor chain_aten(const at::Tensor& x0, const at::Tensor& y) {
  at::Tensor x = x0;
  for (int i = 0; i < kChainRepeats; ++i) {
    x = at::mul(x, 0.5);
    x = at::add(x, y, 1);
    x = at::tanh(x);
    x = at::sub(x, 0.25, 1);
  }
  return x;
}

// A 0-dim tensor holding `v` in `dtype`, flagged as a wrapped number (it
// takes part in type promotion as a Python scalar would). The functional
// Scalar overloads (mul.Scalar, sub.Scalar) wrap their scalar on every call
// (a double tensor), and on CPU TensorIterator then converts it to the
// tensor's dtype with another `to` (compute_types): two small tensors per op.
at::Tensor wrapped_scalar(double v, at::ScalarType dtype) {
  at::Tensor t = c10::scalar_to_tensor(v).to(dtype);
  t.unsafeGetTensorImpl()->set_wrapped_number(true);
  return t;
}

// The Tensor overloads with the scalars wrapped once, in x's dtype: the same
// kernels and results as `aten` without the per-op scalar tensors.
struct ChainWrapped {
  at::Tensor half, quarter;
  at::Tensor run(const at::Tensor& x0, const at::Tensor& y) {
    if (!half.defined()) {  // on the first call, under the benchmark's grad mode
      half = wrapped_scalar(0.5, x0.scalar_type());
      quarter = wrapped_scalar(0.25, x0.scalar_type());
    }
    at::Tensor x = x0;
    for (int i = 0; i < kChainRepeats; ++i) {
      x = at::mul(x, half);
      x = at::add(x, y, 1);
      x = at::tanh(x);
      x = at::sub(x, quarter, 1);
    }
    return x;
  }
};

// Two preallocated buffers, each op writing the one its input is not in:
// what an interpreter reusing the storage of dead intermediates could reach.
// The Tensor overloads' out= kernels with the scalars wrapped once, as in
// ChainWrapped: the Scalar overloads' out= variants (mul.Scalar_out,
// sub.Scalar_out) are generated as the functional op plus a copy.
struct ChainOut {
  at::Tensor a, b, half, quarter;
  at::Tensor run(const at::Tensor& x0, const at::Tensor& y) {
    if (!a.defined()) {  // on the first call, under the benchmark's grad mode
      a = at::empty({4, 4});
      b = at::empty({4, 4});
      half = wrapped_scalar(0.5, x0.scalar_type());
      quarter = wrapped_scalar(0.25, x0.scalar_type());
    }
    const at::Tensor* x = &x0;
    for (int i = 0; i < kChainRepeats; ++i) {
      at::mul_out(a, *x, half);
      at::add_out(b, a, y, 1);
      at::tanh_out(a, b);
      at::sub_out(b, a, quarter, 1);
      x = &b;
    }
    return b;
  }
};

// The same ops through the boxed dispatcher, one reused stack: the floor of
// an interpreter that calls OperatorHandle::callBoxed with IValues.
struct ChainBoxed {
  c10::OperatorHandle mul = c10::Dispatcher::singleton().findSchemaOrThrow("aten::mul", "Scalar");
  c10::OperatorHandle add = c10::Dispatcher::singleton().findSchemaOrThrow("aten::add", "Tensor");
  c10::OperatorHandle tanh = c10::Dispatcher::singleton().findSchemaOrThrow("aten::tanh", "");
  c10::OperatorHandle sub = c10::Dispatcher::singleton().findSchemaOrThrow("aten::sub", "Scalar");
  torch::jit::Stack stack;

  at::Tensor run(const at::Tensor& x0, const at::Tensor& y) {
    stack.clear();
    stack.reserve(4);
    c10::IValue x = x0;
    const c10::IValue yv = y, half = 0.5, quarter = 0.25, one = int64_t(1);
    for (int i = 0; i < kChainRepeats; ++i) {
      stack.push_back(std::move(x));
      stack.push_back(half);
      mul.callBoxed(stack);
      stack.push_back(yv);
      stack.push_back(one);
      add.callBoxed(stack);
      tanh.callBoxed(stack);
      stack.push_back(quarter);
      stack.push_back(one);
      sub.callBoxed(stack);
      x = std::move(stack.back());
      stack.pop_back();
    }
    return x.toTensor();
  }
};

// ------------------------------------------------------------------ the MLP

constexpr int kMlpOps = 7;  // 4 linear + 3 relu

at::Tensor mlp_aten(const at::Tensor& x0, const std::vector<at::Tensor>& p) {
  at::Tensor x = at::relu(at::linear(x0, p[0], p[1]));
  x = at::relu(at::linear(x, p[2], p[3]));
  x = at::relu(at::linear(x, p[4], p[5]));
  return at::linear(x, p[6], p[7]);
}

std::vector<at::Tensor> mlp_params(const Params& p) {
  std::vector<at::Tensor> out;
  for (const char* layer : {"fc1", "fc2", "fc3", "fc4"}) {
    out.push_back(param(p, std::string(layer) + ".weight"));
    out.push_back(param(p, std::string(layer) + ".bias"));
  }
  return out;
}

// --------------------------------------------------------------- ResNet-18
// What the scripted modules run in eval mode: conv2d, batch_norm (training
// false, momentum 0.1, eps 1e-5), relu_ (nn.ReLU(inplace=True)), add_ for
// `out += identity`, max_pool2d, adaptive_avg_pool2d, flatten, linear.

struct BatchNorm {
  at::Tensor weight, bias, mean, var;
  BatchNorm() = default;
  BatchNorm(const Params& p, const std::string& prefix)
      : weight(param(p, prefix + ".weight")), bias(param(p, prefix + ".bias")),
        mean(param(p, prefix + ".running_mean")), var(param(p, prefix + ".running_var")) {}
  at::Tensor operator()(const at::Tensor& x) const { return at::batch_norm(x, weight, bias, mean, var, false, 0.1, 1e-5, true); }
};

// conv2d without bias; spelled out because `padding` also has a string overload.
at::Tensor conv(const at::Tensor& x, const at::Tensor& w, int64_t stride, int64_t padding) {
  const int64_t s[2] = {stride, stride}, p[2] = {padding, padding}, d[2] = {1, 1};
  return at::conv2d(x, w, std::nullopt, at::IntArrayRef(s), at::IntArrayRef(p), at::IntArrayRef(d), 1);
}

struct Block {
  at::Tensor conv1, conv2, down_conv;
  BatchNorm bn1, bn2, down_bn;
  int64_t stride = 1;
  bool has_down = false;
};

struct ResNet {
  at::Tensor conv1, fc_weight, fc_bias;
  BatchNorm bn1;
  std::vector<Block> blocks;

  explicit ResNet(const Params& p)
      : conv1(param(p, "conv1.weight")), fc_weight(param(p, "fc.weight")), fc_bias(param(p, "fc.bias")), bn1(p, "bn1") {
    for (int layer = 1; layer <= 4; ++layer) {
      for (int i = 0; i < 2; ++i) {
        std::string prefix = "layer" + std::to_string(layer) + "." + std::to_string(i);
        Block b;
        b.conv1 = param(p, prefix + ".conv1.weight");
        b.conv2 = param(p, prefix + ".conv2.weight");
        b.bn1 = BatchNorm(p, prefix + ".bn1");
        b.bn2 = BatchNorm(p, prefix + ".bn2");
        b.stride = (layer > 1 && i == 0) ? 2 : 1;
        b.has_down = p.count(prefix + ".downsample.0.weight") != 0;
        if (b.has_down) {
          b.down_conv = param(p, prefix + ".downsample.0.weight");
          b.down_bn = BatchNorm(p, prefix + ".downsample.1");
        }
        blocks.push_back(std::move(b));
      }
    }
  }

  int ops() const {
    int n = 4 + 3;  // conv1 bn1 relu_ maxpool; avgpool flatten fc
    for (const Block& b : blocks) n += 7 + (b.has_down ? 2 : 0);
    return n;
  }

  at::Tensor forward(const at::Tensor& input) const {
    at::Tensor x = conv(input, conv1, 2, 3);
    x = bn1(x);
    x = at::relu_(x);
    x = at::max_pool2d(x, {3, 3}, {2, 2}, {1, 1}, {1, 1}, false);
    for (const Block& b : blocks) {
      at::Tensor out = conv(x, b.conv1, b.stride, 1);
      out = b.bn1(out);
      out = at::relu_(out);
      out = conv(out, b.conv2, 1, 1);
      out = b.bn2(out);
      at::Tensor identity = x;
      if (b.has_down) identity = b.down_bn(conv(x, b.down_conv, b.stride, 0));
      out.add_(identity);
      x = at::relu_(out);
    }
    x = at::adaptive_avg_pool2d(x, {1, 1});
    x = at::flatten(x, 1);
    return at::linear(x, fc_weight, fc_bias);
  }
};

// One grad mode for every variant while timing; models load and inputs are
// made outside it, as an application would.
struct GradMode {
  std::optional<c10::InferenceMode> inference;
  std::optional<torch::NoGradGuard> no_grad;
  explicit GradMode(const std::string& mode) {
    if (mode == "inference") inference.emplace();
    else no_grad.emplace();
  }
};

// ------------------------------------------------------------------ a case

struct Variant {
  std::string name;
  std::function<at::Tensor()> run;  // empty when setting it up failed
  std::string error;
  std::vector<double> samples;       // ns per call, one per round: CPU time
  std::vector<double> wall_samples;  // the same rounds, wall-clock time
};

struct Case {
  std::string model;
  int ops = 0;
  std::vector<Variant> variants;  // variants[0] is `aten`
};

at::Tensor as_tensor(const c10::IValue& v) {
  if (!v.isTensor()) throw std::runtime_error(std::string("forward returned a ") + v.tagKind() + ", not a Tensor");
  return v.toTensor();
}

Case make_case(const std::string& model, const Options& opt) {
  Case c;
  c.model = model;
  const std::string tk_path = opt.dir + "/" + model + ".torchkiln.pt";
  const std::string jit_path = opt.dir + "/" + model + ".jit.pt";

  std::optional<torchkiln::Module> tk;
  std::string tk_error;
  try {
    if (!file_exists(tk_path)) throw std::runtime_error("no archive " + tk_path + " (scripting failed?)");
    tk = torchkiln::load(tk_path);
  } catch (const std::exception& e) {
    tk_error = std::string("load: ") + e.what();
  }
  std::optional<torch::jit::Module> jm;
  std::string jit_error;
  try {
    if (!file_exists(jit_path)) throw std::runtime_error("no archive " + jit_path + " (scripting failed?)");
    jm = torch::jit::load(jit_path);
    jm->eval();
  } catch (const std::exception& e) {
    jit_error = std::string("load: ") + first_line(e.what());
  }

  Params params;
  if (jm) {
    for (const auto& p : jm->named_parameters(true)) params[p.name] = p.value;
    for (const auto& b : jm->named_buffers(true)) params[b.name] = b.value;
  } else if (tk) {
    for (auto& [name, t] : tk->named_parameters(true)) params[name] = t;
    for (auto& [name, t] : tk->named_buffers(true)) params[name] = t;
  }

  at::manual_seed(0);
  std::vector<c10::IValue> inputs;
  auto add = [&](const std::string& name, std::function<at::Tensor()> fn) { c.variants.push_back({name, std::move(fn), "", {}}); };
  try {
    if (model == "chain") {
      at::Tensor x = at::randn({4, 4}), y = at::randn({4, 4});
      inputs = {x, y};
      c.ops = kChainOps;
      add("aten", [x, y] { return chain_aten(x, y); });
      auto wrapped = std::make_shared<ChainWrapped>();
      add("aten_wrapped", [wrapped, x, y] { return wrapped->run(x, y); });
      auto out = std::make_shared<ChainOut>();
      add("aten_out", [out, x, y] { return out->run(x, y); });
      auto boxed = std::make_shared<ChainBoxed>();
      add("aten_boxed", [boxed, x, y] { return boxed->run(x, y); });
    } else if (model == "mlp") {
      at::Tensor x = at::randn({16, 64});
      inputs = {x};
      c.ops = kMlpOps;
      std::vector<at::Tensor> p = mlp_params(params);
      add("aten", [x, p] { return mlp_aten(x, p); });
    } else if (model == "resnet") {
      at::Tensor x = at::randn({1, 3, 64, 64});
      inputs = {x};
      auto net = std::make_shared<ResNet>(params);
      c.ops = net->ops();
      add("aten", [x, net] { return net->forward(x); });
    } else {
      throw std::runtime_error("unknown model " + model);
    }
  } catch (const std::exception& e) {
    // Without the ATen version there is nothing to compare with; still time the rest.
    std::cerr << model << ": ATen version: " << first_line(e.what()) << "\n";
    c.variants.insert(c.variants.begin(), Variant{"aten", {}, first_line(e.what()), {}});
  }

  if (tk) add("torchkiln", [m = *tk, inputs] { return as_tensor(m.forward(inputs)); });
  else c.variants.push_back({"torchkiln", {}, tk_error, {}});
  if (jm) add("torch.jit", [m = *jm, inputs]() mutable { return as_tensor(m.forward(inputs)); });
  else c.variants.push_back({"torch.jit", {}, jit_error, {}});
  return c;
}

// Runs `v` once and, when there is a reference, compares; a failure disables the variant.
void check(Variant& v, const std::optional<at::Tensor>& expected) {
  if (!v.run) return;
  try {
    at::Tensor got = v.run();
    if (expected && !(got.sizes() == expected->sizes() && at::allclose(got, *expected, 1e-4, 1e-5))) {
      std::ostringstream msg;
      msg << "result differs from aten's (shape " << got.sizes() << " vs " << expected->sizes()
          << ", max abs diff " << (got.sizes() == expected->sizes() ? (got - *expected).abs().max().item<double>() : -1.0) << ")";
      throw std::runtime_error(msg.str());
    }
  } catch (const std::exception& e) {
    v.error = std::string("run: ") + first_line(e.what());
    v.run = nullptr;
  }
}

double thread_cpu_ns() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) * 1e9 + double(t.tv_nsec);
}

// ns per call over one batch: this thread's CPU time (Note [Interleaving])
// and wall-clock time.
struct Sample {
  double cpu, wall;
};

Sample time_batch(const Variant& v, int64_t batch) {
  double cpu0 = thread_cpu_ns();
  auto wall0 = Clock::now();
  for (int64_t i = 0; i < batch; ++i) v.run();
  double wall = std::chrono::duration<double, std::nano>(Clock::now() - wall0).count();
  double cpu = thread_cpu_ns() - cpu0;
  return {cpu / double(batch), wall / double(batch)};
}

double quantile(std::vector<double> xs, double q) {
  std::sort(xs.begin(), xs.end());
  double pos = q * double(xs.size() - 1);
  size_t lo = size_t(pos);
  size_t hi = std::min(lo + 1, xs.size() - 1);
  return xs[lo] + (pos - double(lo)) * (xs[hi] - xs[lo]);
}

void bench(Case& c, const Options& opt) {
  std::optional<at::Tensor> expected;
  Variant& ref = c.variants[0];
  if (ref.run) {
    try {
      expected = ref.run();
    } catch (const std::exception& e) {
      ref.error = std::string("run: ") + first_line(e.what());
      ref.run = nullptr;
    }
  }
  for (size_t i = 1; i < c.variants.size(); ++i) check(c.variants[i], expected);

  std::vector<Variant*> live;
  for (Variant& v : c.variants)
    if (v.run) live.push_back(&v);
  if (live.empty()) return;

  // Warm up (torch.jit's profiling executor optimizes after its first runs),
  // then size a batch to ~2 ms of the fastest variant.
  double fastest = 1e18;
  for (Variant* v : live) {
    auto start = Clock::now();
    int64_t n = 0;
    while (n < 5 || (Clock::now() - start) < std::chrono::milliseconds(int64_t(opt.seconds * 1000 / 20 / live.size()))) {
      v->run();
      ++n;
    }
    fastest = std::min(fastest, time_batch(*v, 3).cpu);
  }
  const int64_t batch = std::max<int64_t>(1, int64_t(2e6 / fastest));
  double round_ns = 0;
  for (Variant* v : live) round_ns += time_batch(*v, batch).wall * double(batch);
  const int64_t rounds = std::max<int64_t>(15, int64_t(opt.seconds * 1e9 / round_ns));

  for (int64_t r = 0; r < rounds; ++r)
    for (size_t k = 0; k < live.size(); ++k) {
      Variant& v = *live[(size_t(r) + k) % live.size()];
      Sample t = time_batch(v, batch);
      v.samples.push_back(t.cpu);
      v.wall_samples.push_back(t.wall);
    }
  std::cerr << c.model << ": " << rounds << " rounds of " << batch << " calls per variant\n";
}

void report(const Case& c) {
  for (const Variant& v : c.variants) {
    std::ostringstream line;
    line << "RESULT {\"model\": " << json_string(c.model) << ", \"variant\": " << json_string(v.name) << ", \"ops\": " << c.ops;
    if (v.samples.empty()) {
      line << ", \"status\": \"error\", \"message\": " << json_string(v.error.empty() ? "not run" : v.error) << "}";
    } else {
      line << ", \"status\": \"ok\", \"median_ns\": " << quantile(v.samples, 0.5) << ", \"p25_ns\": " << quantile(v.samples, 0.25)
           << ", \"p75_ns\": " << quantile(v.samples, 0.75) << ", \"min_ns\": " << quantile(v.samples, 0.0)
           << ", \"wall_median_ns\": " << quantile(v.wall_samples, 0.5) << ", \"rounds\": " << v.samples.size() << "}";
    }
    std::cout << line.str() << std::endl;
  }
}

// The loop a profiler should look at: valgrind --tool=callgrind
// --toggle-collect='*profiled_loop*' counts only what runs in here.
__attribute__((noinline)) void profiled_loop(const Variant& v, int64_t iters) {
  for (int64_t i = 0; i < iters; ++i) v.run();
}

int profile(const Options& opt) {
  std::vector<std::string> parts = split(opt.profile, ':');
  if (parts.size() != 3) throw std::runtime_error("--profile wants MODEL:VARIANT:ITERS");
  Case c = make_case(parts[0], opt);
  for (Variant& v : c.variants) {
    if (v.name != parts[1]) continue;
    if (!v.run) throw std::runtime_error(v.name + ": " + v.error);
    GradMode mode(opt.grad_mode);
    v.run();  // warm-up, outside the loop a profiler should look at
    const int64_t iters = std::stoll(parts[2]);
    auto start = Clock::now();
    profiled_loop(v, iters);
    double ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count() / double(iters);
    std::cerr << c.model << " " << v.name << ": " << ns << " ns/call, " << ns / c.ops << " ns/op\n";
    return 0;
  }
  throw std::runtime_error("no variant " + parts[1] + " for " + parts[0]);
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--dir") opt.dir = value();
    else if (a == "--models") opt.models = split(value(), ',');
    else if (a == "--seconds") opt.seconds = std::stod(value());
    else if (a == "--grad-mode") opt.grad_mode = value();
    else if (a == "--profile") opt.profile = value();
    else {
      std::cerr << "unknown argument " << a << "\n";
      return 2;
    }
  }
  if (opt.dir.empty() || (opt.grad_mode != "inference" && opt.grad_mode != "no_grad")) {
    std::cerr << "usage: bench_cpp_runtime --dir DIR [--models a,b] [--seconds S] [--grad-mode inference|no_grad] [--profile M:V:N]\n";
    return 2;
  }
  at::set_num_threads(1);
  at::set_num_interop_threads(1);

  try {
    if (!opt.profile.empty()) return profile(opt);
    for (const std::string& model : opt.models) {
      Case c = make_case(model, opt);
      GradMode mode(opt.grad_mode);
      bench(c, opt);
      report(c);
    }
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
