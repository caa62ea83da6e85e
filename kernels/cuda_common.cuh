#pragma once
// What the CUDA backend's kernel headers share (cuda_kernels.cuh, circuit_kernels.cuh,
// density_kernels.cuh): the error check, an owning device buffer, and a gating table on the
// device (staged in shared memory where it fits the opt-in limit).
#include <cuda_runtime.h>

#include <sstream>
#include <utility>

#include "neurosweep/backend.hpp"
#include "neurosweep/gating_table.hpp"

namespace ns {

// A failed runtime call becomes a BackendError naming the call and CUDA's error.
inline void cuda_check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::ostringstream o;
    o << "CUDA error in " << what << ": " << cudaGetErrorName(e) << " (" << cudaGetErrorString(e) << ")";
    throw BackendError(o.str());
  }
}

// Owning device buffer (RAII).
template <class X>
struct DeviceBuffer {
  X* p = nullptr;
  size_t n = 0;
  explicit DeviceBuffer(size_t count) : n(count) {
    if (n) cuda_check(cudaMalloc(&p, n * sizeof(X)), "cudaMalloc");
  }
  ~DeviceBuffer() {
    if (p) cudaFree(p);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void upload(const X* h) {
    if (n) cuda_check(cudaMemcpy(p, h, n * sizeof(X), cudaMemcpyHostToDevice), "cudaMemcpy H2D");
  }
  void download(X* h) const {
    if (n) cuda_check(cudaMemcpy(h, p, n * sizeof(X), cudaMemcpyDeviceToHost), "cudaMemcpy D2H");
  }
};

// A model's gating table on the device: view points at device memory; stage = 1 when the table
// fits the device's opt-in shared memory per block (the kernel copies it there; smem bytes), else
// the kernel reads it from global memory. allow(kernel) raises the kernel's dynamic shared
// memory limit to smem.
template <class T>
struct DeviceTable {
  HostTable<T> host;
  DeviceBuffer<T> dev;
  TableView<T> view;
  int stage = 0;
  size_t smem = 0;
  explicit DeviceTable(HostTable<T>&& h) : host(std::move(h)), dev(host.data.size()) {
    dev.upload(host.data.data());
    view = host.view();
    view.data = dev.p;
    const size_t bytes = host.data.size() * sizeof(T);
    int device = 0, optin = 0;
    cuda_check(cudaGetDevice(&device), "cudaGetDevice");
    cuda_check(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device), "attribute");
    stage = bytes <= static_cast<size_t>(optin) ? 1 : 0;
    smem = stage ? bytes : 0;
  }
  template <class K>
  void allow(K kern) const {
    if (stage)
      cuda_check(cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)),
                 "cudaFuncSetAttribute");
  }
};
template <class Model, class T>
DeviceTable<T> device_table(const RunSettings& s) {
  HostTable<T> t;
  model_build_table<Model, T>(t, s.sim, s.table_v_min, s.table_v_max, s.table_dv);
  return DeviceTable<T>(std::move(t));
}

}  // namespace ns
