// Test driver for tests/csrc: exercises the public C++ API.
//
//   driver api MODEL                       signature, state and attributes, one fact per line
//   driver ones MODEL D0 [D1...]           forward(ones(shape)) via load and load_from_buffer; prints sums
//   driver threads MODEL THREADS ITERS D0 [D1...]   concurrent forward == sequential forward
//   driver fuzz MODEL ITERS SEED           mutated archives: load succeeds or throws torchkiln::Error
//   driver load-many FILE...               per file: "ok" or "error<TAB>message"
//   driver empty                           a default-constructed Module refuses to run
//   driver bench MODEL ITERS D0 [D1...]    ns per forward call
#include <torchkiln/torchkiln.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <thread>

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<int64_t> shape_from(int argc, char** argv, int first) {
  std::vector<int64_t> shape;
  for (int i = first; i < argc; ++i) shape.push_back(std::stoll(argv[i]));
  return shape;
}

std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\t') c = ' ';
  return s;
}

int api(const std::string& path) {
  torchkiln::Module m = torchkiln::load(path);
  torchkiln::Module copy = m;  // copies share the program
  std::cout << "kind " << copy.root_kind() << "\n";
  std::cout << "name " << copy.name() << "\n";
  for (const auto& name : m.method_names()) std::cout << "method " << name << "\n";
  for (const auto& a : m.arguments("forward"))
    std::cout << "arg " << a.name << " " << torchkiln::type_str(a.type) << (a.default_value ? " default" : "")
              << (a.kwarg_only ? " kwarg_only" : "") << (a.positional_only ? " positional_only" : "") << "\n";
  std::cout << "returns " << torchkiln::type_str(m.return_type("forward")) << "\n";
  for (const auto& [name, t] : m.named_parameters()) std::cout << "parameter " << name << " " << t.sizes() << " " << t.requires_grad() << "\n";
  for (const auto& [name, t] : m.named_buffers()) std::cout << "buffer " << name << " " << t.sizes() << "\n";
  for (const auto& [name, v] : m.named_attributes()) std::cout << "attribute " << name << " " << v.tagKind() << "\n";
  for (const auto& name : m.submodule_names()) std::cout << "submodule " << name << "\n";
  std::cout << "has_forward " << m.has_method("forward") << "\n";
  std::cout << "has_nope " << m.has_method("nope") << "\n";
  try {
    m.attr("no.such.thing");
  } catch (const torchkiln::Error& e) {
    std::cout << "attr_error " << one_line(e.what()) << "\n";
  }
  try {
    m.run_method("nope", {});
  } catch (const torchkiln::Error& e) {
    std::cout << "method_error " << one_line(e.what()) << "\n";
  }
  try {
    m.forward({c10::IValue("not a tensor"), 1, 2, 3, 4});
  } catch (const torchkiln::ArgumentError& e) {
    std::cout << "argument_error " << one_line(e.what()) << "\n";
  }
  return 0;
}

int ones(const std::string& path, const std::vector<int64_t>& shape) {
  torchkiln::Module a = torchkiln::load(path);
  std::string bytes = read_file(path);
  torchkiln::Module b = torchkiln::load_from_buffer(bytes);
  bytes.assign(bytes.size(), '\0');  // the module must not depend on the buffer after loading
  std::cout.precision(17);
  for (torchkiln::Module* m : {&a, &b}) {
    at::Tensor y = m->forward({torch::ones(shape)}).toTensor();
    std::cout << "sum " << y.sum().item<double>() << "\n";
  }
  return 0;
}

int threads(const std::string& path, int n_threads, int iters, const std::vector<int64_t>& shape) {
  torchkiln::Module m = torchkiln::load(path);
  std::vector<at::Tensor> inputs, expected;
  for (int i = 0; i < n_threads; ++i) {
    inputs.push_back(torch::randn(shape) * (i - n_threads / 2));
    expected.push_back(m.forward({inputs.back()}).toTensor());
  }
  std::atomic<int> mismatches{0}, failures{0};
  std::vector<std::thread> pool;
  for (int i = 0; i < n_threads; ++i)
    pool.emplace_back([&, i] {
      torchkiln::Module mine = m;
      for (int k = 0; k < iters; ++k) {
        try {
          if (!mine.forward({inputs[i]}).toTensor().equal(expected[i])) ++mismatches;
        } catch (const std::exception& e) {
          ++failures;
        }
      }
    });
  for (auto& t : pool) t.join();
  std::cout << "mismatches " << mismatches << "\nfailures " << failures << "\n";
  return 0;
}

int fuzz(const std::string& path, int iters, unsigned seed) {
  const std::string good = read_file(path);
  std::mt19937 rng(seed);
  int loaded = 0, rejected = 0;
  for (int i = 0; i < iters; ++i) {
    std::string bad = good;
    switch (rng() % 5) {
      case 0:  // flip a few bits
        for (int k = 0, n = 1 + rng() % 4; k < n; ++k) bad[rng() % bad.size()] ^= char(1 + rng() % 255);
        break;
      case 1:  // truncate
        bad.resize(rng() % bad.size());
        break;
      case 2:  // overwrite a run with random bytes
      {
        size_t at = rng() % bad.size(), n = std::min<size_t>(1 + rng() % 16, bad.size() - at);
        for (size_t k = 0; k < n; ++k) bad[at + k] = char(rng());
        break;
      }
      case 3:  // huge little-endian numbers where sizes and offsets live
      {
        size_t at = rng() % bad.size(), n = std::min<size_t>(4, bad.size() - at);
        for (size_t k = 0; k < n; ++k) bad[at + k] = char(0xFF);
        break;
      }
      default:  // duplicate a slice
      {
        size_t at = rng() % bad.size(), n = std::min<size_t>(rng() % 64, bad.size() - at);
        bad.insert(at, bad.substr(at, n));
      }
    }
    try {
      torchkiln::load_from_buffer(bad);
      ++loaded;
    } catch (const torchkiln::Error&) {
      ++rejected;
    } catch (const std::exception& e) {
      std::cout << "unexpected " << typeid(e).name() << ": " << one_line(e.what()) << "\n";
      return 3;
    }
  }
  std::cout << "loaded " << loaded << "\nrejected " << rejected << "\n";
  return 0;
}

int load_many(int argc, char** argv) {
  for (int i = 2; i < argc; ++i) {
    try {
      torchkiln::load(argv[i]);
      std::cout << "ok\n";
    } catch (const torchkiln::Error& e) {
      std::cout << "error\t" << one_line(e.what()) << "\n";
    }
  }
  return 0;
}

int empty() {
  torchkiln::Module m;
  try {
    m.forward({});
  } catch (const torchkiln::Error& e) {
    std::cout << "error " << e.what() << "\n";
  }
  return 0;
}

int bench(const std::string& path, int iters, const std::vector<int64_t>& shape) {
  torchkiln::Module m = torchkiln::load(path);
  at::Tensor x = torch::randn(shape);
  c10::InferenceMode guard;
  for (int i = 0; i < 10; ++i) m.forward({x});
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < iters; ++i) m.forward({x});
  auto t1 = std::chrono::steady_clock::now();
  std::cout << "ns_per_call " << std::chrono::duration<double, std::nano>(t1 - t0).count() / iters << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  std::string cmd = argv[1];
  try {
    if (cmd == "api") return api(argv[2]);
    if (cmd == "ones") return ones(argv[2], shape_from(argc, argv, 3));
    if (cmd == "threads") return threads(argv[2], std::stoi(argv[3]), std::stoi(argv[4]), shape_from(argc, argv, 5));
    if (cmd == "fuzz") return fuzz(argv[2], std::stoi(argv[3]), unsigned(std::stoul(argv[4])));
    if (cmd == "load-many") return load_many(argc, argv);
    if (cmd == "empty") return empty();
    if (cmd == "bench") return bench(argv[2], std::stoi(argv[3]), shape_from(argc, argv, 4));
  } catch (const torchkiln::Error& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
  return 2;
}
