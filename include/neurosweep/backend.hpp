#pragma once
// Backends behind one interface, chosen at run time. Plain C++: no CUDA header.
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "neurosweep/engine.hpp"

namespace ns {

enum class Precision { Float, Double };
enum class Gating { Direct, Table };

std::string to_string(Precision p);
std::string to_string(Gating g);
Precision parse_precision(const std::string& s);  // "float" | "double"
Gating parse_gating(const std::string& s);        // "direct" | "table"
// SimConfig::integration / constants (engine.hpp) from and to their spec names.
int parse_integration(const std::string& s);      // "exp_euler" | "prinz"
int parse_constants(const std::string& s);        // "codata2018" | "prinz_lab"
std::string integration_name(int integration);
std::string constants_name(int constants);
// Models that take "integration" and "constants" (the conductance-based STG models).
bool has_numerics_options(const std::string& model);

// Everything a backend needs to integrate a chunk of instances of one model.
struct RunSettings {
  std::string model = "stg";
  Precision precision = Precision::Float;
  Gating gating = Gating::Direct;  // CPU default: see README (benchmark: direct SIMD is faster)
  SimConfig sim;
  double table_v_min = -120.0, table_v_max = 80.0, table_dv = 0.2;  // mV
  int threads = 0;  // CPU: 0 = all cores
  bool want_final_state = false;
  // Population rate series (network and population kinds): names (e.g. population names) and bin
  // width in steps; rate_bins() bins cover the analysis window from its start. Empty: none.
  std::vector<std::string> rate_series;
  int64_t rate_bin_steps = 0;
  uint64_t rate_bins() const {
    return rate_series.empty() || rate_bin_steps <= 0 ? 0 : static_cast<uint64_t>(sim.n_analysis / rate_bin_steps);
  }
};

// A chunk of n instances: parameters column-major [k * n + i] (every model parameter, already
// expanded from the sweep), optional initial state column-major [k * n + i] (null: cold start).
struct ChunkInput {
  size_t n = 0;
  uint64_t first_index = 0;  // global index of instance 0 of the chunk
  const double* params = nullptr;
  const double* init_state = nullptr;
};

// Results of a chunk (see OutputView in engine.hpp for the layouts).
struct ChunkOutput {
  size_t n = 0;
  int n_obs = 1;
  int max_spikes = 0;
  std::vector<float> spike_times;
  std::vector<uint32_t> n_spikes;
  std::vector<float> v_min, v_max, v_mean;
  std::vector<double> final_state;  // empty unless RunSettings::want_final_state
  std::vector<uint8_t> status;
  // Rate series (RunSettings::rate_series): per instance n_series x n_bins floats in Hz, instance
  // -major, series-major within an instance: rates[(i * n_series + s) * n_bins + b].
  int n_series = 0;
  uint64_t n_bins = 0;
  std::vector<float> rates;
  // Per-series features (networks: per population, host/network/run_network.hpp names them): per
  // instance n_series x n_series_features doubles, rates-like order:
  // series_features[(i * n_series + s) * n_series_features + f]. Empty for other kinds.
  int n_series_features = 0;
  std::vector<double> series_features;

  // resize and resize_rates are inline (below): the CUDA module of a plugin (kernels/cuda_kernels.cuh
  // run_typed, compiled into the plugin) calls them and calls no function of the executable.
  void resize(size_t n, int n_obs, int max_spikes, int n_state, bool final_state);
  void resize_rates(int n_series, uint64_t n_bins);  // after resize(): zeroed rate series
  OutputView view();
};

inline void ChunkOutput::resize(size_t n_, int n_obs_, int max_spikes_, int n_state, bool final_state_) {
  n = n_;
  n_obs = n_obs_;
  max_spikes = max_spikes_;
  const size_t slots = n * static_cast<size_t>(n_obs);
  spike_times.assign(slots * static_cast<size_t>(max_spikes), 0.0f);
  n_spikes.assign(slots, 0);
  v_min.assign(slots, 0.0f);
  v_max.assign(slots, 0.0f);
  v_mean.assign(slots, 0.0f);
  status.assign(n, 0);
  if (final_state_)
    final_state.assign(n * static_cast<size_t>(n_state), 0.0);
  else
    final_state.clear();
}

inline void ChunkOutput::resize_rates(int n_series_, uint64_t n_bins_) {
  n_series = n_series_;
  n_bins = n_bins_;
  rates.assign(n * static_cast<size_t>(n_series) * n_bins, 0.0f);
}

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;    // "cpu" or "cuda"
  virtual std::string device() const = 0;  // human-readable device description
  virtual void run(const RunSettings& s, const ChunkInput& in, ChunkOutput& out) = 0;
};

class BackendError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// which: "auto" (CUDA when a device is present, else CPU), "cpu" or "cuda". For "auto", *notice
// receives a one-line explanation of the choice. Throws BackendError for "cuda" without a device
// or without CUDA support compiled in.
std::unique_ptr<Backend> make_backend(const std::string& which, std::string* notice = nullptr);
std::unique_ptr<Backend> make_cpu_backend();
bool cuda_compiled_in();
// Number of usable CUDA devices (0 when not compiled in, no driver or no device); *why gets the
// reason when 0.
int cuda_device_count(std::string* why = nullptr);

}  // namespace ns

namespace ns {
// The scalar single-instance path (run_instance per instance, one thread), i.e. exactly the code
// the CUDA kernel runs per thread. Tests compare the backends against it.
void run_reference(const RunSettings& s, const ChunkInput& in, ChunkOutput& out);
}  // namespace ns
