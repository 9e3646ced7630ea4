// The prim ops of torchkiln/ops/lang.py (Python-language operations).
#include "error.h"
#include "prims.h"

namespace torchkiln::detail {

void add_lang_prims(std::vector<PrimDef>&) {}

}  // namespace torchkiln::detail
