#pragma once
// The engine in memory (issue 18): a batch of parameter vectors in, status, label and features
// out, computed by exactly the code `neurosweep run` runs for a chunk (the backend's chunk run,
// the spec's initial states, the classifier stage, the sensitivity probe), without HDF5. The
// Python extension (python/engine/, `neurosweep.Engine`) and the search are built on it.
//
// Settings come from a sweep spec (docs/SWEEP_SPEC.md: model, dt, transient, analysis, seed,
// precision, gating, integration, constants, fixed, initial, classifier, probe); its axes, output
// and traces are not used: the caller supplies the instances. Every row is integrated on its own,
// so a row's result depends only on its parameters and its instance index (the key of the
// counter-based random input of the models that have one: StepContext in engine.hpp), never on
// the batch it came in, its position in that batch, the thread count or the chunking.
// Instance indices: by default index_offset + row (row = position in the batch); callers that
// split a batch pass the offset of each part, or explicit indices per row.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "classify/stage.hpp"
#include "neurosweep/backend.hpp"
#include "spec/spec.hpp"
#include "store/database.hpp"

namespace ns {

class StartStates;
class Probe;
struct Trace;

// The spike trains of a chunk's result as the database stores them: `slots` trains per instance
// (instance-major), at most `keep` times each, appended to data.spike_counts / spike_times.
void append_spike_trains(const ChunkOutput& result, size_t slots, int keep, ChunkData& data);

struct EvalOptions {
  std::string backend = "auto";  // "auto" | "cpu" | "cuda" (make_backend)
  int threads = 0;               // CPU threads (0: all cores)
  int spikes = 0;                // spike times returned per instance (and cell); 0: none
  uint64_t chunk = 0;            // instances per backend call (0: default_chunk)
};

struct EvalResult {
  size_t n = 0;
  std::vector<ColumnSpec> columns;  // "index", "status", then the stage's (and probe's) columns
  ChunkData data;                   // the columns' values (and spikes when requested); data.rates:
                                    // the rate series (networks, population models), n x
                                    // rate_series.size() x rate_bins floats in Hz, as `run` stores
                                    // them in /rates (docs/FORMAT.md)
  size_t spike_slots = 1;           // spike trains per instance (circuits: one per cell)
  std::vector<std::string> spike_cells;  // their names (circuits), empty for single neurons
  // Seconds spent in this call: checking the input, integrating (the backend's runs; on the GPU,
  // waiting for them), classifying (classifier stage, probe, spike trains).
  double check_s = 0, integrate_s = 0, classify_s = 0;
};

class Evaluator {
 public:
  // Throws SpecError for a spec the run pipeline would refuse, or initial.from_database;
  // BackendError for an unavailable backend.
  Evaluator(const RunSpec& spec, const EvalOptions& opt);
  ~Evaluator();
  Evaluator(const Evaluator&) = delete;
  Evaluator& operator=(const Evaluator&) = delete;

  const RunSpec& spec() const { return spec_; }
  const ModelDesc& model() const { return *spec_.model; }
  std::string backend_name() const;
  std::string backend_device() const;
  const std::string& backend_notice() const { return notice_; }
  const EvalOptions& options() const { return opt_; }
  const std::vector<std::string>& spike_cells() const { return spike_cells_; }
  // The backend settings (time grid, precision, gating, rate series) this engine runs with.
  const RunSettings& settings() const { return rs_; }
  // Rate series of each row (networks, population models; empty otherwise), bins of
  // rate_bin_ms() from the start of the analysis window: `run`'s /rates layout.
  const std::vector<std::string>& rate_series() const { return spec_.rate_series; }
  uint64_t rate_bins() const { return rs_.rate_bins(); }
  double rate_bin_ms() const { return static_cast<double>(rs_.rate_bin_steps) * spec_.dt_ms; }
  std::vector<ColumnSpec> columns() const;

  // Parameter index of a name; throws SpecError naming the unknown name and the valid ones.
  int param_index(const std::string& name) const;

  // n rows; names[c] is column c of `values`, column-major values[c * n + r]; parameters not named
  // keep the spec's base values (model defaults, parameter_file, fixed). indices: null (index_offset
  // + r) or n instance indices. Every value is checked against the model's ranges and rules first
  // (SpecError naming the column, the row and the value); nothing runs when one fails.
  EvalResult evaluate(const std::vector<std::string>& names, const double* values, size_t n,
                      const uint64_t* indices = nullptr, uint64_t index_offset = 0) const;
  // One row's state trace, sampled every `every_steps` steps (t = 0 included, the transient too),
  // from the settings' initial state: `neurosweep simulate`'s path (simulate_trace, one thread), so
  // equal to what `simulate` writes for the same parameters and settings; `index` keys the random
  // input of the models that draw one (`simulate` uses 0; a build's instance i used i).
  Trace trace(const std::vector<std::string>& names, const double* values, int64_t every_steps,
              uint64_t index = 0) const;
  // The checks of evaluate() alone: returns the full parameter matrix [k * n + r] or throws.
  std::vector<double> check(const std::vector<std::string>& names, const double* values, size_t n) const;

 private:
  RunSpec spec_;
  EvalOptions opt_;
  std::string notice_;
  std::unique_ptr<ClassifierStage> stage_;
  std::unique_ptr<Backend> backend_;
  RunSettings rs_;
  std::unique_ptr<Probe> probe_;
  std::unique_ptr<StartStates> starts_;
  std::vector<std::string> spike_cells_;
};

}  // namespace ns
