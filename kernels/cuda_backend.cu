// CUDA backend: one instance per thread, the whole time loop inside one kernel launch, state in
// registers, gating tables staged into shared memory. The kernel is a thin wrapper over
// ns::run_instance (engine.hpp), the same NS_HD code the CPU reference path runs.
#include <cuda_runtime.h>

#include <cstdlib>
#include <cstring>
#include <exception>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "neurosweep/cuda_backend.hpp"
#include "neurosweep/models.hpp"
#include "neurosweep/population/rate_engine.hpp"
#include "circuit_kernels.cuh"

namespace ns {
namespace {

void check(cudaError_t e, const char* what) {
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
    if (n) check(cudaMalloc(&p, n * sizeof(X)), "cudaMalloc");
  }
  ~DeviceBuffer() {
    if (p) cudaFree(p);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void upload(const X* h) {
    if (n) check(cudaMemcpy(p, h, n * sizeof(X), cudaMemcpyHostToDevice), "cudaMemcpy H2D");
  }
  void download(X* h) const {
    if (n) check(cudaMemcpy(h, p, n * sizeof(X), cudaMemcpyDeviceToHost), "cudaMemcpy D2H");
  }
};

// Models whose derived constants stay out of registers and local memory: the 16-cell circuit
// (stg_circuit: 644 derived constants, 272 state variables per network; with both per thread,
// ptxas kept 3.8 KB (float) / 7.8 KB (double) of stack per thread). The kernel derives them into a
// global scratch array, column-major (constant k of instance i at [k * n + i]: consecutive threads
// read consecutive words), and the step reads them from there: stack 1.2 KB (float) / 2.6 KB
// (double). The pyloric network (83 derived) keeps them local: in global memory ptxas hoisted the
// loads out of the time loop and used more registers (241 against 219), so its register use comes
// from the step itself (issue 19: one cell per thread is the remaining fix).
template <class Model>
constexpr bool kDerivedInGlobal = Model::kNumDerived > 128;

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
  if constexpr (is_rate_model<Model>::value) out.resize_rates(Model::kNumRates, s.rate_bins());
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
  DeviceBuffer<T> d_scratch(kDerivedInGlobal<Model> && !circuit_gpu::is_lane_circuit<Model>::value ? n * Model::kNumDerived : 0);

  int block = 0, min_grid = 0;
  // Models without table lookups (the point models: table_keys == 0) ignore the gating argument:
  // only their direct kernel is instantiated (half the device code and CUDA compile time).
  bool done = false;
  if constexpr (table_keys<Model>::value > 0 && !circuit_gpu::is_lane_circuit<Model>::value) {
    if (s.gating == Gating::Table) {
      HostTable<T> table;
      model_build_table<Model, T>(table, s.sim, s.table_v_min, s.table_v_max, s.table_dv);
      DeviceBuffer<T> d_table(table.data.size());
      d_table.upload(table.data.data());
      TableView<T> tv = table.view();
      tv.data = d_table.p;
      const size_t bytes = table.data.size() * sizeof(T);
      int dev = 0, optin = 0;
      check(cudaGetDevice(&dev), "cudaGetDevice");
      check(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev), "attribute");
      const int stage = bytes <= static_cast<size_t>(optin) ? 1 : 0;  // else read from global memory
      auto kern = integrate_table<Model, T>;
      const size_t smem = stage ? bytes : 0;
      if (stage)
        check(cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)),
              "cudaFuncSetAttribute");
      check(cudaOccupancyMaxPotentialBlockSize(&min_grid, &block, kern, smem, 0), "occupancy");
      const unsigned grid = static_cast<unsigned>((n + block - 1) / block);
      kern<<<grid, block, smem>>>(s.sim, d_params.p, init, n, in.first_index, tv, stage, d_scratch.p, ov);
      check(cudaGetLastError(), "kernel launch (table)");
      check(cudaDeviceSynchronize(), "kernel execution (table)");
      done = true;
    }
  }
  if constexpr (is_rate_model<Model>::value) {
    DeviceBuffer<float> d_rates(out.rates.size());
    auto kern = integrate_rates<Model, T>;
    check(cudaOccupancyMaxPotentialBlockSize(&min_grid, &block, kern, 0, 0), "occupancy");
    const unsigned grid = static_cast<unsigned>((n + block - 1) / block);
    const int64_t bin = s.rate_bin_steps > 0 ? s.rate_bin_steps : 1;
    kern<<<grid, block>>>(s.sim, d_params.p, init, n, in.first_index, ov, out.rates.empty() ? nullptr : d_rates.p, bin,
                          out.n_bins);
    check(cudaGetLastError(), "kernel launch (rates)");
    check(cudaDeviceSynchronize(), "kernel execution (rates)");
    d_rates.download(out.rates.data());
  } else if constexpr (circuit_gpu::is_lane_circuit<Model>::value) {  // cell per lane (circuit_kernels.cuh)
    (void)done;
    circuit_gpu::launch_lanes<Model, T>(s, d_params.p, init, n, ov);
  } else if (!done) {
    auto kern = integrate_direct<Model, T>;
    check(cudaOccupancyMaxPotentialBlockSize(&min_grid, &block, kern, 0, 0), "occupancy");
    const unsigned grid = static_cast<unsigned>((n + block - 1) / block);
    kern<<<grid, block>>>(s.sim, d_params.p, init, n, in.first_index, d_scratch.p, ov);
    check(cudaGetLastError(), "kernel launch (direct)");
    check(cudaDeviceSynchronize(), "kernel execution (direct)");
  }
  d_spk.download(out.spike_times.data());
  d_nspk.download(out.n_spikes.data());
  d_vmin.download(out.v_min.data());
  d_vmax.download(out.v_max.data());
  d_vmean.download(out.v_mean.data());
  if (!out.final_state.empty()) d_final.download(out.final_state.data());
  d_status.download(out.status.data());
}

// Set by cuda_select_device (MPI mode: one device per rank): the backend then uses that device only.
int g_selected_device = -1;

std::string describe_device(int dev) {
  cudaDeviceProp p{};
  if (cudaGetDeviceProperties(&p, dev) != cudaSuccess) return "CUDA device " + std::to_string(dev);
  std::ostringstream o;
  o << p.name << " (sm_" << p.major << p.minor << ", " << p.multiProcessorCount << " SMs, "
    << (p.totalGlobalMem >> 20) << " MiB)";
  return o.str();
}

// The devices one process uses: NEUROSWEEP_CUDA_DEVICES ("0,2"; a device may be named twice, which
// tests the split on one GPU), else the device cuda_select_device chose, else every visible device
// (restrict them with CUDA_VISIBLE_DEVICES).
std::vector<int> devices_to_use() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count <= 0) {
    cudaGetLastError();
    return {0};
  }
  std::vector<int> devs;
  if (const char* env = std::getenv("NEUROSWEEP_CUDA_DEVICES"); env && *env) {
    std::stringstream ss(env);
    std::string tok;
    while (std::getline(ss, tok, ',')) {
      char* end = nullptr;
      const long d = std::strtol(tok.c_str(), &end, 10);
      if (tok.empty() || *end != '\0' || d < 0 || d >= count)
        throw BackendError("NEUROSWEEP_CUDA_DEVICES='" + std::string(env) + "': '" + tok +
                           "' is not a device ordinal in 0.." + std::to_string(count - 1));
      devs.push_back(static_cast<int>(d));
    }
    return devs;
  }
  if (g_selected_device >= 0) return {g_selected_device};
  for (int d = 0; d < count; ++d) devs.push_back(d);
  return devs;
}

// One chunk on several devices: contiguous slices of the chunk, one host thread per device, each
// slice integrated exactly as a chunk of its own (its first global index, so the counter-based
// random numbers and therefore the results do not depend on the number of devices), then copied
// into the chunk's output.
template <class Model, class T>
void run_split(const RunSettings& s, const ChunkInput& in, ChunkOutput& out, const std::vector<int>& devs) {
  const size_t n = in.n, parts = devs.size();
  out.resize(n, Model::kNumObs, s.sim.max_spikes, Model::kNumState, s.want_final_state);
  if constexpr (is_rate_model<Model>::value) out.resize_rates(Model::kNumRates, s.rate_bins());
  std::vector<std::exception_ptr> errors(parts);
  std::vector<std::thread> workers;
  for (size_t p = 0; p < parts; ++p) {
    const size_t i0 = n * p / parts, i1 = n * (p + 1) / parts, m = i1 - i0;
    workers.emplace_back([&, p, i0, m] {
      try {
        check(cudaSetDevice(devs[p]), "cudaSetDevice");
        std::vector<double> prm(m * Model::kNumParams), init;
        for (int k = 0; k < Model::kNumParams; ++k)
          std::memcpy(&prm[k * m], in.params + k * n + i0, m * sizeof(double));
        ChunkInput sub;
        sub.n = m;
        sub.first_index = in.first_index + i0;
        sub.params = prm.data();
        if (in.init_state) {
          init.resize(m * Model::kNumState);
          for (int k = 0; k < Model::kNumState; ++k)
            std::memcpy(&init[k * m], in.init_state + k * n + i0, m * sizeof(double));
          sub.init_state = init.data();
        }
        ChunkOutput o;
        run_typed<Model, T>(s, sub, o);
        const size_t slots = static_cast<size_t>(out.n_obs), ms = static_cast<size_t>(out.max_spikes);
        std::copy(o.spike_times.begin(), o.spike_times.end(), out.spike_times.begin() + i0 * slots * ms);
        std::copy(o.n_spikes.begin(), o.n_spikes.end(), out.n_spikes.begin() + i0 * slots);
        std::copy(o.v_min.begin(), o.v_min.end(), out.v_min.begin() + i0 * slots);
        std::copy(o.v_max.begin(), o.v_max.end(), out.v_max.begin() + i0 * slots);
        std::copy(o.v_mean.begin(), o.v_mean.end(), out.v_mean.begin() + i0 * slots);
        std::copy(o.status.begin(), o.status.end(), out.status.begin() + i0);
        if (!o.rates.empty())
          std::copy(o.rates.begin(), o.rates.end(), out.rates.begin() + i0 * static_cast<size_t>(o.n_series) * o.n_bins);
        if (!out.final_state.empty())
          for (int k = 0; k < Model::kNumState; ++k)
            std::memcpy(&out.final_state[k * n + i0], &o.final_state[k * m], m * sizeof(double));
      } catch (...) {
        errors[p] = std::current_exception();
      }
    });
  }
  for (auto& w : workers) w.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

class CudaBackend final : public Backend {
 public:
  CudaBackend() : devs_(devices_to_use()) {}
  std::string name() const override { return "cuda"; }
  std::string device() const override {
    std::string d = describe_device(devs_[0]);
    if (devs_.size() > 1) {
      d = std::to_string(devs_.size()) + " devices: ";
      for (size_t k = 0; k < devs_.size(); ++k) d += (k ? "; " : "") + std::to_string(devs_[k]) + " " + describe_device(devs_[k]);
    }
    return d;
  }
  void run(const RunSettings& s, const ChunkInput& in, ChunkOutput& out) override {
    const bool ok = dispatch_model_precision(s.model, s.precision == Precision::Double, [&](auto* m, auto* t) {
      using M = std::remove_pointer_t<decltype(m)>;
      using T = std::remove_pointer_t<decltype(t)>;
      if constexpr (cpu_only<M>::value) {
        throw BackendError("cuda backend: model '" + s.model +
                           "' has no GPU path yet; run it with --backend cpu (docs/POPULATIONS.md)");
      } else if (devs_.size() > 1 && in.n >= 2 * devs_.size()) {
        run_split<M, T>(s, in, out, devs_);
      } else {
        check(cudaSetDevice(devs_[0]), "cudaSetDevice");
        run_typed<M, T>(s, in, out);
      }
    });
    if (!ok) throw BackendError("cuda backend: unknown model '" + s.model + "'");
  }

 private:
  std::vector<int> devs_;
};

}  // namespace

std::unique_ptr<Backend> make_cuda_backend() { return std::make_unique<CudaBackend>(); }

int cuda_devices(std::string* why) {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    if (why) *why = std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e);
    cudaGetLastError();  // clear the sticky error
    return 0;
  }
  if (count == 0 && why) *why = "no CUDA device found";
  return count;
}

bool cuda_select_device(int ordinal, std::string* why) {
  const cudaError_t e = cudaSetDevice(ordinal);
  if (e != cudaSuccess) {
    if (why) *why = std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e);
    cudaGetLastError();
    return false;
  }
  g_selected_device = ordinal;
  return true;
}

}  // namespace ns
