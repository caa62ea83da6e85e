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
#include "cuda_kernels.cuh"

namespace ns {
namespace {

// Set by cuda_select_device (MPI mode: one device per rank): the backend then uses that device only.
int g_selected_device = -1;
// Set by set_plugin_cuda_runner (host/models/plugin.cpp, when a plugin model loads).
PluginCudaRunner g_plugin_runner = nullptr;

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
        cuda_check(cudaSetDevice(devs[p]), "cudaSetDevice");
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
        cuda_check(cudaSetDevice(devs_[0]), "cudaSetDevice");
        run_typed<M, T>(s, in, out);
      }
    });
    if (!ok && g_plugin_runner && g_plugin_runner(s, in, out, devs_[0])) return;  // a plugin model
    if (!ok) throw BackendError("cuda backend: unknown model '" + s.model + "'");
  }

 private:
  std::vector<int> devs_;
};

}  // namespace

std::unique_ptr<Backend> make_cuda_backend() { return std::make_unique<CudaBackend>(); }

void set_plugin_cuda_runner(PluginCudaRunner f) { g_plugin_runner = f; }

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
