#pragma once
// CUDA kernel of the DiPDE population-density network (dipde_network, issue 17 "Execution"): one
// network per thread block of kBlock threads, the bins of the population being stepped across the
// threads. Everything but the barrier hook is the NS_HD block code of
// include/neurosweep/population/density_block.hpp, which tests/density_block_test.cpp runs on the
// host (SerialBlock) and compares bit for bit with the CPU path (run_rate_instance) for several
// block sizes. On the device nvcc contracts multiply-adds into FMAs (the host build uses
// -ffp-contract=off), so the device's rates differ from the CPU's in the last bits (the GPU test,
// tests/gpu/population_gpu_test.cpp, states the tolerance); the order of every sum is fixed, so
// two device runs are bit for bit equal.
// Memory: the block's scratch (DensityBlockShared<kBlock>: derived constants, work vector, two
// Taylor term vectors, reduction slots, connection geometry) in static shared memory (ptxas
// sm_90: 29,024 bytes; 128 registers, no spills, no stack); the network's state (kNumState
// doubles, 41 KB) in global memory, one slot per resident block: the grid has at most
// kMaxResident blocks, each taking networks blockIdx.x, blockIdx.x + gridDim.x, ... (so a chunk
// of any size needs at most kMaxResident x 41 KB).
// Included by kernels/cuda_kernels.cuh (run_typed dispatches dipde_network here).
#include <cuda_runtime.h>

#include "cuda_common.cuh"

#include <type_traits>

#include "neurosweep/cuda_backend.hpp"
#include "neurosweep/models.hpp"
#include "neurosweep/population/density_block.hpp"

namespace ns {
namespace density_gpu {

template <class M>
struct is_density : std::false_type {};
template <>
struct is_density<DensityNetworkModel> : std::true_type {};

constexpr int kBlock = 256;           // threads per network (a multiple of the warp size)
constexpr int kMaxResident = 4096;    // blocks (state slots) per launch
using Shared = DensityBlockShared<kBlock>;
using DM = DensityNetworkModel;

// The barrier hook of density_block.hpp for a CUDA block.
struct CudaBlock {
  int parity = 0;  // the two halves of Shared::wred alternate (see max_of)
  __device__ int threads() const { return static_cast<int>(blockDim.x); }
  template <class F>
  __device__ __forceinline__ void each(F&& f) {
    f(static_cast<int>(threadIdx.x));
  }
  __device__ __forceinline__ void sync() { __syncthreads(); }
  // Maximum of red[0 .. blockDim.x): warp maxima by shuffles, then over the warps. wred holds two
  // sets of 16 warp maxima used in turn, so a call never overwrites the set that a slower thread
  // may still read from the previous call (between two calls on the same set there is the barrier
  // of the call in between).
  __device__ __forceinline__ double max_of(const double* red, double* wred) {
    double v = red[threadIdx.x];
    NS_UNROLL for (int off = 16; off > 0; off >>= 1) {
      const double o = __shfl_xor_sync(0xffffffffu, v, off);
      v = o > v ? o : v;
    }
    double* w = wred + 16 * parity;
    parity ^= 1;
    if ((threadIdx.x & 31u) == 0) w[threadIdx.x >> 5] = v;
    __syncthreads();
    double m = 0.0;
    const int nw = static_cast<int>(blockDim.x >> 5);
    for (int k = 0; k < nw; ++k) m = w[k] > m ? w[k] : m;
    return m;
  }
};
static_assert(kBlock % 32 == 0 && kBlock / 32 <= 16, "wred holds 2 x 16 warp maxima");

// A template (instantiated only by run_typed<DensityNetworkModel, .>), so that the translation units
// that include this header for other models (NESTML plugin modules) do not compile it.
template <class Model>
__global__ void __launch_bounds__(kBlock, 1) integrate_density(SimConfig c, const double* params, const double* init,
                                                            size_t n, double* state, OutputView out, float* rates,
                                                            int64_t bin_steps, uint64_t n_bins, int n_written) {
  __shared__ Shared sh;
  CudaBlock ex;
  static_assert(is_density<Model>::value, "dipde_network only");
  double* s = state + static_cast<size_t>(blockIdx.x) * DM::kNumState;
  for (size_t i = blockIdx.x; i < n; i += gridDim.x) {
    float* r = rates ? rates + i * static_cast<size_t>(n_written) * n_bins : nullptr;
    DensityBlock::run(ex, sh, s, c, params, init, n, i, out, r, bin_steps, n_bins, n_written);
    __syncthreads();
  }
}

// Rate series written per network: as the CPU path (host/population/run_rates.hpp).
inline int series_written(const RunSettings& s) {
  const int k = static_cast<int>(s.rate_series.size());
  return k < DM::kNumRates ? k : DM::kNumRates;
}

// Launch for a chunk whose parameters, start states and outputs are on the device (run_typed);
// d_rates: n x series_written(s) x n_bins floats on the device, or null.
template <class Model>
void launch(const RunSettings& s, const double* d_params, const double* d_init, size_t n,
                   const OutputView& ov, float* d_rates, uint64_t n_bins) {
  const size_t grid = n < static_cast<size_t>(kMaxResident) ? n : static_cast<size_t>(kMaxResident);
  DeviceBuffer<double> state(grid * DM::kNumState);  // one slot per resident block
  double* d_state = state.p;
  const int64_t bin = s.rate_bin_steps > 0 ? s.rate_bin_steps : 1;
  integrate_density<Model><<<static_cast<unsigned>(grid), kBlock>>>(s.sim, d_params, d_init, n, d_state, ov, d_rates, bin,
                                                              n_bins, series_written(s));
  cuda_check(cudaGetLastError(), "kernel launch (density network)");
  cuda_check(cudaDeviceSynchronize(), "kernel execution (density network)");
}

}  // namespace density_gpu
}  // namespace ns
