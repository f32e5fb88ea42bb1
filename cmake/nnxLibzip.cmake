# nnx::libzip — libzip (libzip-dev) as an imported target, for the npz container of nnx::interop.
# Found by hand: Debian 12's libzip-config.cmake also demands the zipcmp/zipmerge/ziptool programs,
# which libzip-dev does not install. Made on the machine that links — when nnx is built, and again
# by the installed package's nnxConfig.cmake — so no path is carried from one machine to another.
if(NOT TARGET nnx::libzip)
  find_path(NNX_LIBZIP_INCLUDE_DIR zip.h)
  find_library(NNX_LIBZIP_LIBRARY zip)
  if(NOT NNX_LIBZIP_INCLUDE_DIR OR NOT NNX_LIBZIP_LIBRARY)
    message(FATAL_ERROR "nnx::interop needs libzip: install libzip-dev (./run.sh installs it)")
  endif()
  add_library(nnx::libzip INTERFACE IMPORTED ${NNX_LIBZIP_SCOPE})
  set_target_properties(nnx::libzip PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${NNX_LIBZIP_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES "${NNX_LIBZIP_LIBRARY}")
endif()
