// CUDA form of the spiking networks (issue 16, "Execution on the GPU"): one network instance per
// thread block of kBlock threads. Everything but the barrier and atomics hook is the NS_HD code of
// include/neurosweep/network/net_block.hpp, which tests/net_block_test.cpp runs on the host
// (SerialNetBlock) and compares bit for bit with the CPU path for several block sizes.
//
// Memory, per instance, in global memory (one allocation for a batch, carved per instance):
// neuron states (kNumState x n), two fixed-point ring buffers (L x n 64-bit), this step's spike
// list, the per-neuron ISI sums, the counts and the sampled spikes; the connectivity (CSR rows,
// per-synapse weights and delays) is uploaded once per distinct host array, so instances that
// share it (shared connectivity, the common case of a sweep over g or drive) share it on the
// device too. Every block reads its neurons' states and writes its ring slots in global memory:
// the networks of a sweep are independent, so a batch of hundreds of networks fills the device
// even though one network of a few thousand neurons would not.
//
// Results: the ring sums are exact (fixed point), so the order of the atomics does not matter and
// two runs are bit for bit equal. nvcc contracts multiply-adds into FMAs in the model step (the
// host build does not), so spike times may differ from the CPU path's after a few hundred
// milliseconds of chaotic dynamics; tests/gpu/network_gpu_test.cpp compares statistics.
#include <cuda_runtime.h>

#include "cuda_common.cuh"

#include <algorithm>
#include <map>
#include <type_traits>
#include <vector>

#include "neurosweep/cuda_backend.hpp"
#include "neurosweep/models.hpp"
#include "neurosweep/network/net_block.hpp"

namespace ns {
namespace {

constexpr int kBlock = 256;

struct CudaNetBlock {
  __device__ int threads() const { return static_cast<int>(blockDim.x); }
  template <class F>
  __device__ __forceinline__ void each(F&& f) {
    f(static_cast<int>(threadIdx.x));
  }
  __device__ __forceinline__ void sync() { __syncthreads(); }
  __device__ __forceinline__ uint32_t add_u32(uint32_t* p, uint32_t x) { return atomicAdd(p, x); }
  __device__ __forceinline__ void add_u64(uint64_t* p, uint64_t x) {
    atomicAdd(reinterpret_cast<unsigned long long*>(p), static_cast<unsigned long long>(x));
  }
  __device__ __forceinline__ void add_i64(int64_t* p, int64_t x) {  // two's complement: the same bits
    atomicAdd(reinterpret_cast<unsigned long long*>(p), static_cast<unsigned long long>(x));
  }
};

// The block's view (two dozen pointers and sizes) is read from shared memory, not held in
// registers: in registers it pushed the iaf_psc_exp kernel over 128 registers with spills. Two
// blocks per SM cap the kernel at 128 registers; ptxas sm_90: 126 registers, no spills, no stack
// for every model and precision (with one block per SM it took 174; tests/kernel_budgets.json).
template <class Model, class T>
__global__ void __launch_bounds__(kBlock, 2) net_block_kernel(const NetBlockView<T>* views, NetBlockRun r) {
  __shared__ alignas(NetBlockView<T>) unsigned char mem[sizeof(NetBlockView<T>)];  // no constructor in shared
  NetBlockView<T>& v = *reinterpret_cast<NetBlockView<T>*>(mem);
  if (threadIdx.x == 0) memcpy(mem, views + blockIdx.x, sizeof(NetBlockView<T>));
  __syncthreads();
  CudaNetBlock ex;
  net_block_run<Model, T>(v, r, ex);
}

// One device allocation carved into aligned pieces.
struct Arena {
  std::vector<size_t> at;
  size_t bytes = 0;
  size_t take(size_t b) {
    const size_t o = bytes;
    bytes += (b + 255) / 256 * 256;
    return o;
  }
};

template <class Model, class T>
void run_batch(const std::vector<NetBlockInstance<T>*>& xs, const NetBlockRun& r) {
  constexpr int NS = Model::kNumState, ND = Model::kNumDerived;
  const size_t ms = static_cast<size_t>(r.max_spikes > 0 ? r.max_spikes : 1);
  const size_t nb = static_cast<size_t>(r.nbins > 0 ? r.nbins : 1);
  // Shared read-only arrays: once per host address.
  struct Shared {
    const void* host;
    size_t bytes, at;
  };
  std::map<const void*, size_t> shared_index;
  std::vector<Shared> shared;
  Arena arena;
  auto share = [&](const void* h, size_t bytes) {
    if (!h || shared_index.count(h)) return;
    shared_index[h] = shared.size();
    shared.push_back(Shared{h, bytes, arena.take(bytes)});
  };
  struct Slots {
    size_t pops, proj, derived, state, ring_ex, ring_in, spk, spk_count, last, s1, s2, nspk, bin_count, total,
        n_spikes, spike_times, nonfinite;
  };
  std::vector<Slots> sl(xs.size());
  for (size_t b = 0; b < xs.size(); ++b) {
    const NetBlockInstance<T>& x = *xs[b];
    const size_t np = x.pops.size(), n = x.ntot, L = static_cast<size_t>(x.L);
    for (const NetBlockProj& pj : x.proj) {
      const uint64_t nsrc = x.pops[static_cast<size_t>(pj.src)].n;
      const uint64_t ne = pj.off[nsrc];
      share(pj.off, (nsrc + 1) * sizeof(uint64_t));
      share(pj.tgt, ne * sizeof(uint32_t));
      share(pj.w, ne * sizeof(float));
      share(pj.d, ne * sizeof(uint16_t));
    }
    Slots& s = sl[b];
    s.pops = arena.take(np * sizeof(NetBlockPop<T>));
    s.proj = arena.take(x.proj.size() * sizeof(NetBlockProj));
    s.derived = arena.take(np * ND * sizeof(T));
    s.state = arena.take(static_cast<size_t>(NS) * n * sizeof(T));
    s.ring_ex = arena.take(L * n * sizeof(int64_t));
    s.ring_in = arena.take(L * n * sizeof(int64_t));
    s.spk = arena.take((n > 0 ? n : 1) * sizeof(uint32_t));
    s.spk_count = arena.take(sizeof(uint32_t));
    s.last = arena.take(n * sizeof(double));
    s.s1 = arena.take(n * sizeof(double));
    s.s2 = arena.take(n * sizeof(double));
    s.nspk = arena.take(n * sizeof(uint32_t));
    s.bin_count = arena.take(np * nb * sizeof(uint64_t));
    s.total = arena.take(np * sizeof(uint64_t));
    s.n_spikes = arena.take(x.n_obs * sizeof(uint32_t));
    s.spike_times = arena.take(x.n_obs * ms * sizeof(float));
    s.nonfinite = arena.take(sizeof(uint32_t));
  }
  const size_t views_at = arena.take(xs.size() * sizeof(NetBlockView<T>));
  DeviceBuffer<unsigned char> mem(arena.bytes);
  cuda_check(cudaMemset(mem.p, 0, arena.bytes), "cudaMemset (network batch)");
  unsigned char* base = mem.p;
  auto up = [&](size_t at, const void* h, size_t bytes) {
    if (bytes) cuda_check(cudaMemcpy(base + at, h, bytes, cudaMemcpyHostToDevice), "cudaMemcpy H2D (network)");
  };
  for (const Shared& s : shared) up(s.at, s.host, s.bytes);
  auto dev = [&](const void* h) -> const void* { return h ? base + shared[shared_index.at(h)].at : nullptr; };
  std::vector<NetBlockView<T>> views(xs.size());
  for (size_t b = 0; b < xs.size(); ++b) {
    const NetBlockInstance<T>& x = *xs[b];
    const Slots& s = sl[b];
    const size_t np = x.pops.size();
    std::vector<NetBlockPop<T>> pops = x.pops;
    for (size_t p = 0; p < np; ++p) pops[p].d = reinterpret_cast<const T*>(base + s.derived) + p * ND;
    std::vector<NetBlockProj> proj = x.proj;
    for (NetBlockProj& pj : proj) {
      pj.off = static_cast<const uint64_t*>(dev(pj.off));
      pj.tgt = static_cast<const uint32_t*>(dev(pj.tgt));
      pj.w = static_cast<const float*>(dev(pj.w));
      pj.d = static_cast<const uint16_t*>(dev(pj.d));
    }
    up(s.pops, pops.data(), np * sizeof(NetBlockPop<T>));
    up(s.proj, proj.data(), proj.size() * sizeof(NetBlockProj));
    up(s.derived, x.derived.data(), x.derived.size() * sizeof(T));
    up(s.state, x.state.data(), x.state.size() * sizeof(T));
    NetBlockView<T>& v = views[b];
    v.np = static_cast<int>(np);
    v.nproj = static_cast<int>(proj.size());
    v.pops = reinterpret_cast<const NetBlockPop<T>*>(base + s.pops);
    v.proj = reinterpret_cast<const NetBlockProj*>(base + s.proj);
    v.ntot = x.ntot;
    v.L = x.L;
    v.fx = x.fx;
    v.state = reinterpret_cast<T*>(base + s.state);
    v.ring_ex = reinterpret_cast<int64_t*>(base + s.ring_ex);
    v.ring_in = reinterpret_cast<int64_t*>(base + s.ring_in);
    v.spk = reinterpret_cast<uint32_t*>(base + s.spk);
    v.spk_count = reinterpret_cast<uint32_t*>(base + s.spk_count);
    v.last = reinterpret_cast<double*>(base + s.last);
    v.s1 = reinterpret_cast<double*>(base + s.s1);
    v.s2 = reinterpret_cast<double*>(base + s.s2);
    v.nspk = reinterpret_cast<uint32_t*>(base + s.nspk);
    v.bin_count = reinterpret_cast<uint64_t*>(base + s.bin_count);
    v.total = reinterpret_cast<uint64_t*>(base + s.total);
    v.n_spikes = reinterpret_cast<uint32_t*>(base + s.n_spikes);
    v.spike_times = reinterpret_cast<float*>(base + s.spike_times);
    v.nonfinite = reinterpret_cast<uint32_t*>(base + s.nonfinite);
  }
  up(views_at, views.data(), views.size() * sizeof(NetBlockView<T>));
  net_block_kernel<Model, T><<<static_cast<unsigned>(xs.size()), kBlock>>>(
      reinterpret_cast<const NetBlockView<T>*>(base + views_at), r);
  cuda_check(cudaGetLastError(), "kernel launch (network blocks)");
  cuda_check(cudaDeviceSynchronize(), "kernel execution (network blocks)");
  auto down = [&](void* h, size_t at, size_t bytes) {
    if (bytes) cuda_check(cudaMemcpy(h, base + at, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy D2H (network)");
  };
  for (size_t b = 0; b < xs.size(); ++b) {
    NetBlockInstance<T>& x = *xs[b];
    const Slots& s = sl[b];
    x.size_outputs(r);
    down(x.n_spikes.data(), s.n_spikes, x.n_spikes.size() * sizeof(uint32_t));
    down(x.spike_times.data(), s.spike_times, x.spike_times.size() * sizeof(float));
    down(x.s1.data(), s.s1, x.s1.size() * sizeof(double));
    down(x.s2.data(), s.s2, x.s2.size() * sizeof(double));
    down(x.nspk.data(), s.nspk, x.nspk.size() * sizeof(uint32_t));
    down(x.bin_count.data(), s.bin_count, x.bin_count.size() * sizeof(uint64_t));
    down(x.total.data(), s.total, x.total.size() * sizeof(uint64_t));
    down(&x.nonfinite, s.nonfinite, sizeof(uint32_t));
  }
}

template <class T>
bool run_blocks(const std::string& model, const std::vector<NetBlockInstance<T>*>& xs, const NetBlockRun& r,
                std::string* why) {
  std::string w;
  if (cuda_devices(&w) <= 0) {
    if (why) *why = w.empty() ? "no CUDA device" : w;
    return false;
  }
  bool done = false;
  dispatch_model(model, [&](auto* m) {
    using M = std::remove_pointer_t<decltype(m)>;
    if constexpr (net_block_model<M>::value) {
      if (xs.empty()) {
        done = true;
        return;
      }
      // Batches that fit half of the free device memory (estimated from the first instance).
      size_t free_b = 0, total_b = 0;
      cuda_check(cudaMemGetInfo(&free_b, &total_b), "cudaMemGetInfo");
      const NetBlockInstance<T>& x0 = *xs[0];
      const size_t per = x0.ntot * (M::kNumState * sizeof(T) + 2 * static_cast<size_t>(x0.L) * 8 + 32) + (1u << 16);
      const size_t batch = std::max<size_t>(1, std::min<size_t>(65535, free_b / 2 / per));
      for (size_t b0 = 0; b0 < xs.size(); b0 += batch) {
        const std::vector<NetBlockInstance<T>*> part(xs.begin() + static_cast<std::ptrdiff_t>(b0),
                                                     xs.begin() + static_cast<std::ptrdiff_t>(std::min(xs.size(), b0 + batch)));
        run_batch<M, T>(part, r);
      }
      done = true;
    }
  });
  if (!done && why) *why = "model '" + model + "' has no network block kernel (net_block.hpp, net_block_model)";
  return done;
}

}  // namespace

bool cuda_run_net_blocks(const std::string& model, const std::vector<NetBlockInstance<float>*>& xs,
                         const NetBlockRun& r, std::string* why) {
  return run_blocks<float>(model, xs, r, why);
}
bool cuda_run_net_blocks(const std::string& model, const std::vector<NetBlockInstance<double>*>& xs,
                         const NetBlockRun& r, std::string* why) {
  return run_blocks<double>(model, xs, r, why);
}

}  // namespace ns
