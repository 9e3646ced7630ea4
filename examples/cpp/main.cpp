// Load a torchkiln archive and run forward on a tensor of ones, as the
// seeds do with torch::jit::load("model.pt") and module.forward(inputs).
#include <torchkiln/torchkiln.h>

#include <iostream>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: example-app <model.pt> [batch]\n";
    return 2;
  }
  torchkiln::Module module;
  try {
    module = torchkiln::load(argv[1]);
  } catch (const std::exception& e) {
    std::cerr << "error loading the model: " << e.what() << "\n";
    return 1;
  }
  int64_t batch = argc > 2 ? std::stoll(argv[2]) : 1;
  std::vector<c10::IValue> inputs;
  inputs.push_back(torch::ones({batch, 3, 32, 32}));
  at::Tensor output = module.forward(inputs).toTensor();
  std::cout << "output shape " << output.sizes() << "\n";
  std::cout << "first values " << output.flatten().slice(0, 0, 5) << "\n";
  return 0;
}
