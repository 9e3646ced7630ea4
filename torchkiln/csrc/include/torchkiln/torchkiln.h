// torchkiln's C++ runtime: load an archive saved from Python and run it.
//
//   #include <torchkiln/torchkiln.h>
//   torchkiln::Module m = torchkiln::load("net.pt");
//   at::Tensor y = m.forward({torch::ones({1, 4})}).toTensor();
//
// This header also brings in the tensor API users expect next to a model
// (at::Tensor methods, torch::ones and the other factories, printing), as
// <torch/script.h> does for TorchScript. Code that only needs the runtime's
// declarations can include <torchkiln/module.h>, which is much lighter.
#pragma once

#include <torch/types.h>

#include <torchkiln/module.h>
