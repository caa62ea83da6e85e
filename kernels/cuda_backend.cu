// CUDA backend: one instance per thread, the whole time loop inside one kernel launch, state in
// registers, gating tables staged into shared memory. The kernel is a thin wrapper over
// ns::run_instance (engine.hpp), the same NS_HD code the CPU reference path runs.
#include <cuda_runtime.h>

#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "cuda_backend.hpp"
#include "neurosweep/models.hpp"

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

template <class Model, class T>
__global__ void integrate_direct(SimConfig c, const double* params, const double* init, size_t n,
                                 uint64_t first, OutputView out) {
  const size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  run_instance<Model, T>(c, params, init, n, i, first, Direct{}, out);
}

template <class Model, class T>
__global__ void integrate_table(SimConfig c, const double* params, const double* init, size_t n,
                                uint64_t first, TableView<T> tab, int stage, OutputView out) {
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
  run_instance<Model, T>(c, params, init, n, i, first, tab, out);
}

template <class Model, class T>
void run_typed(const RunSettings& s, const ChunkInput& in, ChunkOutput& out) {
  out.resize(in.n, Model::kNumObs, s.sim.max_spikes, Model::kNumState, s.want_final_state);
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

  int block = 0, min_grid = 0;
  // Models without table lookups (the point models: table_keys == 0) ignore the gating argument:
  // only their direct kernel is instantiated (half the device code and CUDA compile time).
  bool done = false;
  if constexpr (table_keys<Model>::value > 0) {
    if (s.gating == Gating::Table) {
      HostTable<T> table;
      Model::template build_table<T>(table, s.sim.dt, s.table_v_min, s.table_v_max, s.table_dv);
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
      kern<<<grid, block, smem>>>(s.sim, d_params.p, init, n, in.first_index, tv, stage, ov);
      check(cudaGetLastError(), "kernel launch (table)");
      check(cudaDeviceSynchronize(), "kernel execution (table)");
      done = true;
    }
  }
  if (!done) {
    auto kern = integrate_direct<Model, T>;
    check(cudaOccupancyMaxPotentialBlockSize(&min_grid, &block, kern, 0, 0), "occupancy");
    const unsigned grid = static_cast<unsigned>((n + block - 1) / block);
    kern<<<grid, block>>>(s.sim, d_params.p, init, n, in.first_index, ov);
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

class CudaBackend final : public Backend {
 public:
  std::string name() const override { return "cuda"; }
  std::string device() const override {
    int dev = 0;
    cudaDeviceProp p{};
    if (cudaGetDevice(&dev) != cudaSuccess || cudaGetDeviceProperties(&p, dev) != cudaSuccess) return "CUDA device";
    std::ostringstream o;
    o << p.name << " (sm_" << p.major << p.minor << ", " << p.multiProcessorCount << " SMs, "
      << (p.totalGlobalMem >> 20) << " MiB)";
    return o.str();
  }
  void run(const RunSettings& s, const ChunkInput& in, ChunkOutput& out) override {
    const bool ok = dispatch_model_precision(s.model, s.precision == Precision::Double, [&](auto* m, auto* t) {
      run_typed<std::remove_pointer_t<decltype(m)>, std::remove_pointer_t<decltype(t)>>(s, in, out);
    });
    if (!ok) throw BackendError("cuda backend: unknown model '" + s.model + "'");
  }
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
  return true;
}

}  // namespace ns
