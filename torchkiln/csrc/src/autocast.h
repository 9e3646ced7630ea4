// `with torch.autocast(...)` in script: the prims (prims_autocast.cpp) and
// the per-thread list of entered blocks that an exception unwinds
// (Note [Autocast in script] in torchkiln/ops/lang.py).
#pragma once

#include <cstddef>
#include <vector>

#include "prims.h"

namespace torchkiln::detail {

void add_autocast_prims(std::vector<PrimDef>& table);

// How many autocast blocks this thread has entered and not left.
size_t autocast_depth();
// Leaves the innermost blocks, as their exits would, until `depth` remain.
void autocast_unwind(size_t depth);

}  // namespace torchkiln::detail
