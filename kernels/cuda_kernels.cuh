// CUDA kernels and the per-model chunk runner of the CUDA backend, shared by kernels/cuda_backend.cu
// (the built-in models) and the CUDA module of a NESTML plugin (host/models/plugin_cuda_entry.cuh,
// compiled by nvcc at plugin build time for the plugin's model type). Moved unchanged from
// cuda_backend.cu. Include after the model headers; everything is in an anonymous namespace, so each
// translation unit (the executable, each plugin module) has its own instantiations.
#pragma once
#include <cuda_runtime.h>

#include "cuda_common.cuh"

#include <cstdint>
#include <string>
#include <vector>

#include "neurosweep/cuda_backend.hpp"
#include "neurosweep/models.hpp"
#include "neurosweep/population/rate_engine.hpp"
#include "circuit_kernels.cuh"
#include "density_kernels.cuh"

namespace ns {
namespace {

// Models whose derived constants stay out of registers and local memory (more than 128; no
// built-in model since the circuits took circuit_kernels.cuh; a plugin model may have that many):
// the kernel derives them into a global scratch array, column-major (constant k of instance i at
// [k * n + i]: consecutive threads read consecutive words), and the step reads them from there.
// Measured when stg_circuit (644 derived) ran here: stack per thread 3.8 KB -> 1.2 KB (float),
// 7.8 KB -> 2.6 KB (double); the pyloric network (83 derived) was better keeping them local.
// Only for the one-instance-per-thread kernels: circuits and density networks have their own.
template <class Model>
constexpr bool kDerivedInGlobal = Model::kNumDerived > 128 && !circuit_gpu::is_lane_circuit<Model>::value &&
                                  !density_gpu::is_density<Model>::value;

template <class Model, class T, class Tab>
__device__ __forceinline__ void integrate_one(const SimConfig& c, const double* params,
                                              const double* init, size_t n, size_t i,
                                              uint64_t first, const Tab& tab, T* scratch,
                                              const OutputView& out) {
  if constexpr (kDerivedInGlobal<Model>) {
    const Strided<T> d{scratch + i, n};
    model_derive<Model, T>(Strided<const double>{params + i, n}, d, c);
    run_instance_derived<Model, T>(c, d, init, n, i, first, tab, out);
  } else {
    (void)scratch;
    run_instance<Model, T>(c, params, init, n, i, first, tab, out);
  }
}

template <class Model, class T>
__global__ void integrate_direct(SimConfig c, const double* params, const double* init, size_t n,
                                 uint64_t first, T* scratch, OutputView out) {
  const size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  integrate_one<Model, T>(c, params, init, n, i, first, Direct{}, scratch, out);
}

template <class Model, class T>
__global__ void integrate_table(SimConfig c, const double* params, const double* init, size_t n,
                                uint64_t first, TableView<T> tab, int stage, T* scratch,
                                OutputView out) {
  extern __shared__ unsigned char smem_raw[];
  if (stage) {  // stage the table into shared memory, shared by every thread of the block
    T* sm = reinterpret_cast<T*>(smem_raw);
    const int count = tab.n * tab.width;
    for (int j = threadIdx.x; j < count; j += blockDim.x) sm[j] = tab.data[j];
    __syncthreads();
    tab.data = sm;
  }
  const size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  integrate_one<Model, T>(c, params, init, n, i, first, tab, scratch, out);
}

// Population models (kKind = kPopulation): one instance per thread, rates binned on the device by
// the same run_rate_instance as the CPU path (population/rate_engine.hpp).
template <class Model, class T>
__global__ void integrate_rates(SimConfig c, const double* params, const double* init, size_t n, uint64_t first,
                                OutputView out, float* rates, int64_t bin_steps, uint64_t n_bins) {
  const size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  float* r = rates ? rates + i * static_cast<size_t>(Model::kNumRates) * n_bins : nullptr;
  run_rate_instance<Model, T>(c, params, init, n, i, first, out, r, bin_steps, n_bins, Model::kNumRates);
}

template <class Model, class T>
void run_typed(const RunSettings& s, const ChunkInput& in, ChunkOutput& out) {
  out.resize(in.n, Model::kNumObs, s.sim.max_spikes, Model::kNumState, s.want_final_state);
  if constexpr (density_gpu::is_density<Model>::value)  // the run's series, as the CPU path writes them
    out.resize_rates(density_gpu::series_written(s), s.rate_bins());
  else if constexpr (is_rate_model<Model>::value)
    out.resize_rates(Model::kNumRates, s.rate_bins());
  if (in.n == 0) return;
  const size_t n = in.n;
  DeviceBuffer<double> d_params(n * Model::kNumParams);
  d_params.upload(in.params);
  DeviceBuffer<double> d_init(in.init_state ? n * Model::kNumState : 0);
  if (in.init_state) d_init.upload(in.init_state);
  DeviceBuffer<float> d_spk(out.spike_times.size());
  DeviceBuffer<uint32_t> d_nspk(out.n_spikes.size());
  DeviceBuffer<float> d_vmin(out.v_min.size()), d_vmax(out.v_max.size()), d_vmean(out.v_mean.size());
  DeviceBuffer<double> d_final(out.final_state.size());
  DeviceBuffer<uint8_t> d_status(out.status.size());
  OutputView ov;
  ov.n = n;
  ov.n_obs = Model::kNumObs;
  ov.spike_times = d_spk.p;
  ov.n_spikes = d_nspk.p;
  ov.v_min = d_vmin.p;
  ov.v_max = d_vmax.p;
  ov.v_mean = d_vmean.p;
  ov.final_state = out.final_state.empty() ? nullptr : d_final.p;
  ov.status = d_status.p;
  const double* init = in.init_state ? d_init.p : nullptr;
  DeviceBuffer<T> d_scratch(kDerivedInGlobal<Model> ? n * Model::kNumDerived : 0);

  int block = 0, min_grid = 0;
  // Models without table lookups (the point models: table_keys == 0) ignore the gating argument:
  // only their direct kernel is instantiated (half the device code and CUDA compile time).
  bool done = false;
  if constexpr (table_keys<Model>::value > 0 && !circuit_gpu::is_lane_circuit<Model>::value) {
    if (s.gating == Gating::Table) {
      const auto table = device_table<Model, T>(s);
      auto kern = integrate_table<Model, T>;
      table.allow(kern);
      cuda_check(cudaOccupancyMaxPotentialBlockSize(&min_grid, &block, kern, table.smem, 0), "occupancy");
      const unsigned grid = static_cast<unsigned>((n + block - 1) / block);
      kern<<<grid, block, table.smem>>>(s.sim, d_params.p, init, n, in.first_index, table.view, table.stage,
                                        d_scratch.p, ov);
      cuda_check(cudaGetLastError(), "kernel launch (table)");
      cuda_check(cudaDeviceSynchronize(), "kernel execution (table)");
      done = true;
    }
  }
  if constexpr (density_gpu::is_density<Model>::value) {  // one network per block (density_kernels.cuh)
    (void)done;
    DeviceBuffer<float> d_rates(out.rates.size());
    density_gpu::launch<Model>(s, d_params.p, init, n, ov, out.rates.empty() ? nullptr : d_rates.p, out.n_bins);
    d_rates.download(out.rates.data());
  } else if constexpr (is_rate_model<Model>::value) {
    DeviceBuffer<float> d_rates(out.rates.size());
    auto kern = integrate_rates<Model, T>;
    cuda_check(cudaOccupancyMaxPotentialBlockSize(&min_grid, &block, kern, 0, 0), "occupancy");
    const unsigned grid = static_cast<unsigned>((n + block - 1) / block);
    const int64_t bin = s.rate_bin_steps > 0 ? s.rate_bin_steps : 1;
    kern<<<grid, block>>>(s.sim, d_params.p, init, n, in.first_index, ov, out.rates.empty() ? nullptr : d_rates.p, bin,
                          out.n_bins);
    cuda_check(cudaGetLastError(), "kernel launch (rates)");
    cuda_check(cudaDeviceSynchronize(), "kernel execution (rates)");
    d_rates.download(out.rates.data());
  } else if constexpr (circuit_gpu::is_lane_circuit<Model>::value) {  // cell per lane (circuit_kernels.cuh)
    (void)done;
    circuit_gpu::launch_lanes<Model, T>(s, d_params.p, init, n, ov);
  } else if (!done) {
    auto kern = integrate_direct<Model, T>;
    cuda_check(cudaOccupancyMaxPotentialBlockSize(&min_grid, &block, kern, 0, 0), "occupancy");
    const unsigned grid = static_cast<unsigned>((n + block - 1) / block);
    kern<<<grid, block>>>(s.sim, d_params.p, init, n, in.first_index, d_scratch.p, ov);
    cuda_check(cudaGetLastError(), "kernel launch (direct)");
    cuda_check(cudaDeviceSynchronize(), "kernel execution (direct)");
  }
  d_spk.download(out.spike_times.data());
  d_nspk.download(out.n_spikes.data());
  d_vmin.download(out.v_min.data());
  d_vmax.download(out.v_max.data());
  d_vmean.download(out.v_mean.data());
  if (!out.final_state.empty()) d_final.download(out.final_state.data());
  d_status.download(out.status.data());
}

}  // namespace
}  // namespace ns
