# find_package(torchkiln): the target torchkiln::runtime (header
# <torchkiln/torchkiln.h>), built from the sources shipped next to this file
# as part of the calling project (torchkiln ships no prebuilt binary, so the
# runtime always matches the compiler and the libtorch it is built with).
#
#   find_package(torchkiln REQUIRED)
#   target_link_libraries(app torchkiln::runtime)
#
# CMAKE_PREFIX_PATH must name this folder (torchkiln.utils.cmake_prefix_path)
# and libtorch's (torch.utils.cmake_prefix_path). Needs nlohmann-json.
include(CMakeFindDependencyMacro)
find_dependency(Torch)
find_dependency(Threads)

if(NOT TARGET torchkiln::runtime)
  get_filename_component(_torchkiln_source_dir "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
  add_subdirectory("${_torchkiln_source_dir}" "${CMAKE_BINARY_DIR}/_torchkiln" EXCLUDE_FROM_ALL)
  unset(_torchkiln_source_dir)
endif()
set(torchkiln_FOUND TRUE)
