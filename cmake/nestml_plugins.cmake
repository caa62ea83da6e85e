# Model plugins (issue 15; host/models/plugin.cpp, docs/NESTML.md "Plugins"): a .nestml file is
# generated into a model header and compiled at run time into a shared library with the compiler
# and the flags that build neurosweep's host code, recorded here in
# <build>/generated/neurosweep/plugin_config.hpp. The plugin sees the same headers (include/, host/
# for host/models/plugin_entry.hpp). The generator runs in $NEUROSWEEP_PYTHON, else
# <source>/.venv/bin/python, else python3, with <source>/python first on PYTHONPATH.
string(TOUPPER "${CMAKE_BUILD_TYPE}" _ns_bt)
set(_ns_plugin_flags "${CMAKE_CXX_FLAGS} ${CMAKE_CXX_FLAGS_${_ns_bt}}")
string(JOIN " " _ns_host_flags ${NS_HOST_FLAGS})
# CMake's -std: gnu++NN unless CMAKE_CXX_EXTENSIONS is OFF (the host code's own flag)
if(DEFINED CMAKE_CXX_EXTENSIONS AND NOT CMAKE_CXX_EXTENSIONS)
  set(_ns_std "c++${CMAKE_CXX_STANDARD}")
else()
  set(_ns_std "gnu++${CMAKE_CXX_STANDARD}")
endif()
set(_ns_plugin_flags "${_ns_plugin_flags} -std=${_ns_std} ${_ns_host_flags} ${OpenMP_CXX_FLAGS} -fPIC -shared -fvisibility=hidden -fvisibility-inlines-hidden")
string(REGEX REPLACE "  +" " " _ns_plugin_flags "${_ns_plugin_flags}")
string(STRIP "${_ns_plugin_flags}" NS_PLUGIN_CXX_FLAGS)
set(NS_PLUGIN_CXX "${CMAKE_CXX_COMPILER}")
set(NS_PLUGIN_CXX_ID "${CMAKE_CXX_COMPILER_ID} ${CMAKE_CXX_COMPILER_VERSION}")
set(NS_PLUGIN_INCLUDES "${CMAKE_SOURCE_DIR}/include;${CMAKE_SOURCE_DIR}/host;${CMAKE_BINARY_DIR}/generated")
set(NS_PLUGIN_SOURCE_DIR "${CMAKE_SOURCE_DIR}")
target_link_libraries(neurosweep_core PUBLIC ${CMAKE_DL_LIBS})
message(STATUS "neurosweep: model plugins compiled with ${NS_PLUGIN_CXX} ${NS_PLUGIN_CXX_FLAGS}")
# The CUDA module of a plugin (kernels/plugin_cuda_entry.cuh), built by nvcc on first use of the
# plugin with --backend cuda: the CUDA compiler, architectures and flags of the CUDA backend.
set(NS_PLUGIN_NVCC "")
set(NS_PLUGIN_NVCC_ID "")
set(NS_PLUGIN_NVCC_FLAGS "")
if(NEUROSWEEP_HAVE_CUDA)
  set(NS_PLUGIN_NVCC "${CMAKE_CUDA_COMPILER}")
  set(NS_PLUGIN_NVCC_ID "${CMAKE_CUDA_COMPILER_ID} ${CMAKE_CUDA_COMPILER_VERSION}")
  set(_ns_arch "")
  foreach(_a IN LISTS CMAKE_CUDA_ARCHITECTURES)
    if(_a MATCHES "^([0-9]+)")
      string(APPEND _ns_arch " -gencode=arch=compute_${CMAKE_MATCH_1},code=sm_${CMAKE_MATCH_1}")
    else()
      string(APPEND _ns_arch " -arch=${_a}")  # native, all, all-major
    endif()
  endforeach()
  set(NS_PLUGIN_NVCC_FLAGS "-std=c++17 -O3 -DNDEBUG --expt-relaxed-constexpr${_ns_arch} -shared -cudart static -Xcompiler -fPIC,-fvisibility=hidden,-ffp-contract=off,-fno-math-errno,-fno-trapping-math")
  message(STATUS "neurosweep: CUDA modules of model plugins compiled with ${NS_PLUGIN_NVCC} ${NS_PLUGIN_NVCC_FLAGS}")
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/plugin_config.hpp.in ${CMAKE_BINARY_DIR}/generated/neurosweep/plugin_config.hpp @ONLY)
