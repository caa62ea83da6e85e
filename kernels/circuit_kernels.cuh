#pragma once
// CUDA kernels of the STG circuits, cell per lane (issue 19): the cells of one network on kGroup
// adjacent lanes of a warp (pyloric: 4 lanes, 8 networks per warp; stg_circuit: 16 lanes, 2
// networks per warp), exchanging the previous step's presynaptic potentials and synaptic terms by
// width-kGroup warp shuffles. Everything else is the NS_HD per-lane code of
// include/neurosweep/circuit_lanes.hpp, which tests/circuit_lanes_test.cpp runs on the host with
// the exchange emulated by array reads and compares bit for bit with the whole-network reference.
// Included by kernels/cuda_kernels.cuh (run_typed dispatches the circuit models here).
#include <cuda_runtime.h>

#include "cuda_common.cuh"

#include <type_traits>

#include "neurosweep/circuit_lanes.hpp"
#include "neurosweep/cuda_backend.hpp"
#include "neurosweep/models.hpp"

namespace ns {
namespace circuit_gpu {

template <class M>
struct is_lane_circuit : std::false_type {};
template <class Topo>
struct is_lane_circuit<StgCircuit<Topo>> : std::true_type {};

// The exchange primitive: values published by lane `l` of this lane's group (circuit_lanes.hpp).
// Every lane of the warp calls each member in the same order (full mask).
template <class T, int G, int K>
struct ShuffleExchange {
  T my_v;
  T my_gs[K], my_gse[K];
  __device__ __forceinline__ T v(int l) const { return __shfl_sync(0xffffffffu, my_v, l, G); }
  __device__ __forceinline__ T gs(int r, int l) const { return __shfl_sync(0xffffffffu, my_gs[r], l, G); }
  __device__ __forceinline__ T gse(int r, int l) const { return __shfl_sync(0xffffffffu, my_gse[r], l, G); }
};

template <int G>
__device__ __forceinline__ int group_max(int x) {
  NS_UNROLL for (int off = G / 2; off > 0; off >>= 1) {
    const int y = __shfl_xor_sync(0xffffffffu, x, off, G);
    x = y > x ? y : x;
  }
  return x;
}
__device__ __forceinline__ int warp_max(int x) {
  NS_UNROLL for (int off = 16; off > 0; off >>= 1) {
    const int y = __shfl_xor_sync(0xffffffffu, x, off);
    x = y > x ? y : x;
  }
  return x;
}

// One network per group of kGroup lanes; lanes of networks past n (the tail of the last warp)
// integrate a copy of network n - 1 so that every lane takes part in every shuffle, and write nothing.
template <class Model, class T, class Tab>
__device__ __forceinline__ void run_lanes(const SimConfig& c, const double* params, const double* init, size_t n,
                                          const Tab& tab, const OutputView& out) {
  using L = CircuitLanes<Model>;
  constexpr int G = L::kGroup, K = L::kOwned;
  const size_t tid = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  const size_t net = tid / G;
  const int l = static_cast<int>(tid % G);
  const bool active = net < n;
  const size_t i = active ? net : n - 1;
  typename L::template Lane<T> a;
  L::template setup<T>(a, l, Strided<const double>{params + i, n}, c);
  L::template start<T>(a, init, n, i);
  // Synapse sums visit the warp's largest n_syn (a uniform loop bound for the shuffles).
  const int n_loop = Model::kStatic ? Model::NSY : warp_max(a.n_syn);
  ShuffleExchange<T, G, K> x;
  auto one_step = [&] {
    L::template publish<T>(a);
    x.my_v = a.v_pub;
    NS_UNROLL for (int r = 0; r < K; ++r) {
      x.my_gs[r] = a.gs[r];
      x.my_gse[r] = a.gse[r];
    }
    L::template step<T>(a, x, tab, n_loop);
  };
  for (int64_t k = 0; k < c.n_transient; ++k) one_step();
  typename L::template LaneDetector<T> det;
  const bool obs = L::observed(l);
  det.start(0, a.s[StgModel::V]);
  if (active && obs) out.n_spikes[i * out.n_obs + l] = 0;
  const T thr = T(c.spike_threshold);
  for (int64_t k = 1; k <= c.n_analysis; ++k) {
    one_step();
    if (det.sample(0, a.s, 0, thr) && active && obs) det.record(out, c, i, l, 0, k);
  }
  OutputView o = out;
  if (!active) o.final_state = nullptr;
  int st = kOk;
  if (active) st = L::template finish<T>(a, det, o, c, i);
  st = group_max<G>(st);
  if (active && l == 0) out.status[i] = L::status_of(st);
}

template <class Model, class T>
__global__ void integrate_lanes_direct(SimConfig c, const double* params, const double* init, size_t n,
                                       OutputView out) {
  run_lanes<Model, T>(c, params, init, n, Direct{}, out);
}

template <class Model, class T>
__global__ void integrate_lanes_table(SimConfig c, const double* params, const double* init, size_t n,
                                      TableView<T> tab, int stage, OutputView out) {
  extern __shared__ unsigned char smem_raw_lanes[];
  if (stage) {  // the gating table in shared memory, shared by the block
    T* sm = reinterpret_cast<T*>(smem_raw_lanes);
    const int count = tab.n * tab.width;
    for (int j = threadIdx.x; j < count; j += blockDim.x) sm[j] = tab.data[j];
    __syncthreads();
    tab.data = sm;
  }
  run_lanes<Model, T>(c, params, init, n, tab, out);
}

// Launch for a chunk whose parameters, start states and outputs are on the device (run_typed).
template <class Model, class T>
void launch_lanes(const RunSettings& s, const double* d_params, const double* d_init, size_t n,
                  const OutputView& ov) {
  constexpr int G = CircuitLanes<Model>::kGroup;
  const size_t threads = n * G;
  const int block = 128;  // a multiple of the warp size: groups never straddle warps
  const unsigned grid = static_cast<unsigned>((threads + block - 1) / block);
  if (s.gating == Gating::Table) {
    const auto table = device_table<Model, T>(s);
    auto kern = integrate_lanes_table<Model, T>;
    table.allow(kern);
    kern<<<grid, block, table.smem>>>(s.sim, d_params, d_init, n, table.view, table.stage, ov);
    cuda_check(cudaGetLastError(), "kernel launch (circuit lanes, table)");
    cuda_check(cudaDeviceSynchronize(), "kernel execution (circuit lanes, table)");
  } else {
    integrate_lanes_direct<Model, T><<<grid, block>>>(s.sim, d_params, d_init, n, ov);
    cuda_check(cudaGetLastError(), "kernel launch (circuit lanes, direct)");
    cuda_check(cudaDeviceSynchronize(), "kernel execution (circuit lanes, direct)");
  }
}

}  // namespace circuit_gpu
}  // namespace ns
