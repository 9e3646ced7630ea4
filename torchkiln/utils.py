"""Paths for building C++ programs against torchkiln's runtime.

```python
import torch, torchkiln
prefix = ";".join([torchkiln.utils.cmake_prefix_path, torch.utils.cmake_prefix_path])
# cmake -DCMAKE_PREFIX_PATH="<prefix>" ...  then find_package(torchkiln) gives torchkiln::runtime
```

The folder holds `torchkilnConfig.cmake`, which builds the runtime from the
C++ sources shipped in the package as part of the user's project (see
docs/runtime.md).
"""
from __future__ import annotations

import os

#: Folder with `torchkilnConfig.cmake`, for CMAKE_PREFIX_PATH.
cmake_prefix_path: str = os.path.join(os.path.dirname(os.path.abspath(__file__)), "csrc", "cmake")

#: The runtime's source tree (CMakeLists.txt, include/, src/, tools/).
csrc_path: str = os.path.join(os.path.dirname(os.path.abspath(__file__)), "csrc")
