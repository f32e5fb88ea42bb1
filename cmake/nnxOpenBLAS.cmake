# nnx::openblas — OpenBLAS (libopenblas-openmp-dev) as an imported target, for the optional openblas
# matmul backend. Debian's OpenBLASConfig.cmake sets only variables, among them the absolute path of
# the library file; the target is made from them on the machine that links: when nnx is built, and
# again by the installed package's nnxConfig.cmake in the project that uses it. No path is carried
# from one machine to the other. Call after find_package(OpenBLAS CONFIG).
if(OpenBLAS_FOUND AND NOT TARGET nnx::openblas)
  add_library(nnx::openblas INTERFACE IMPORTED ${NNX_OPENBLAS_SCOPE})
  set_target_properties(nnx::openblas PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${OpenBLAS_INCLUDE_DIRS}"
    INTERFACE_LINK_LIBRARIES "${OpenBLAS_LIBRARIES}")
endif()
