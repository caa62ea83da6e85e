// The CUDA module of a plugin model (docs/NESTML.md, "Plugins"): a .cu file of three lines
//
//     #include "<model>.hpp"                 // the generated model header
//     #include "plugin_cuda_entry.cuh"       // this file (kernels/ on the include path)
//     NS_PLUGIN_CUDA_MODEL(::ns::nestml::NestmlMyNeuron)
//
// compiled by nvcc into a shared library instantiates the CUDA backend's kernels and chunk runner
// (kernels/cuda_kernels.cuh run_typed: the very code of the built-in models on the GPU) for the
// model type and exports one C symbol, neurosweep_plugin_cuda_v1, a table with the ABI number and
// one function that runs a chunk on a device. Like the CPU plugin it calls no function of the
// executable (ChunkOutput::resize is inline, backend.hpp); errors come back as a message, not as a
// C++ exception across the library boundary. The module links its own CUDA runtime, so the device
// is passed in and made current by the module.
#pragma once
#include <cstring>
#include <exception>

#include "cuda_kernels.cuh"

namespace ns {

constexpr int kPluginCudaAbi = 1;

struct PluginCudaApi {
  int abi;  // kPluginCudaAbi
  // Runs the chunk on `device` (an ordinal of the visible devices) in s.precision; out is resized
  // by the module. Returns 0, or 1 with a message in err (NUL-terminated, at most err_len bytes).
  int (*run)(const RunSettings& s, const ChunkInput& in, ChunkOutput& out, int device, char* err,
             size_t err_len);
};

template <class Model>
int plugin_cuda_run(const RunSettings& s, const ChunkInput& in, ChunkOutput& out, int device, char* err,
                    size_t err_len) {
  try {
    cuda_check(cudaSetDevice(device), "cudaSetDevice");
    if (s.precision == Precision::Double)
      run_typed<Model, double>(s, in, out);
    else
      run_typed<Model, float>(s, in, out);
    return 0;
  } catch (const std::exception& e) {
    if (err && err_len) {
      std::strncpy(err, e.what(), err_len - 1);
      err[err_len - 1] = '\0';
    }
    return 1;
  }
}

}  // namespace ns

#define NS_PLUGIN_CUDA_MODEL(MODEL)                                                                  \
  static_assert(::ns::check_model<MODEL>(), "plugin model fails the model checklist");              \
  extern "C" __attribute__((visibility("default"))) const ::ns::PluginCudaApi* neurosweep_plugin_cuda_v1() { \
    static const ::ns::PluginCudaApi api{::ns::kPluginCudaAbi, &::ns::plugin_cuda_run<MODEL>};        \
    return &api;                                                                                     \
  }
