#pragma once
// `neurosweep simulate`: one instance, its full state trace, through the reference path (the code
// the CUDA kernel runs per thread).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "neurosweep/backend.hpp"
#include "neurosweep/models.hpp"

namespace ns {

struct Trace {
  std::vector<std::string> names;  // "t" then the state variables
  std::vector<std::string> units;
  std::vector<std::vector<double>> columns;
  ChunkOutput summary;  // spikes, v_min/max/mean, status of the analysis window
  // summary.spike_times unrounded (double; the summary keeps the float of the database), same
  // layout [obs * max_spikes + j]: what `simulate` prints, whatever the precision.
  std::vector<double> spike_times_f64;
};

// Parameters of one instance: model defaults, then a preset, then a JSON object file
// ({"gNa": 100, ...}), then NAME=VALUE assignments; unknown names throw SpecError naming the
// source and listing the valid names.
std::vector<double> resolve_params(const ModelDesc& m, const std::string& preset,
                                   const std::string& json_file,
                                   const std::vector<std::string>& assignments);

// Integrate and sample the state every `every_steps` steps (t = 0 included). desc: names of the
// state variables (default: the registered model s.model); states whose names start with '#'
// (unused cells and synapses of a circuit object) are not recorded. index: the instance index, key
// of the counter-based random input of the models that draw one (StepContext in engine.hpp; the
// stored trace and `simulate --spec --instance i` pass i, plain `neurosweep simulate` 0);
// deterministic models do not depend on it.
Trace simulate_trace(const RunSettings& s, const std::vector<double>& params,
                     const std::vector<double>* init_state, int64_t every_steps,
                     const ModelDesc* desc = nullptr, uint64_t index = 0);

// One instance of a sweep spec, ready for simulate_trace: the spec's settings (dt, transient,
// analysis, precision, gating as `neurosweep run` uses them), the instance's parameters (then
// NAME=VALUE assignments, named as in the spec: "LP.gNa", "g_ABLP"), its initial state
// (explicit or thermalised starts; initial.from_database is refused) and the names of the cells
// of a circuit (empty for single neurons). Throws SpecError.
struct SpecInstance {
  RunSettings settings;
  std::vector<double> params;
  std::vector<double> init;  // empty: cold start
  const ModelDesc* desc = nullptr;
  std::vector<std::string> cells;
  std::shared_ptr<const void> keep;  // owns what desc points into
};
SpecInstance spec_instance(const std::string& spec_path, uint64_t instance,
                           const std::vector<std::string>& assignments, int max_spikes);

void write_trace_csv(const std::string& path, const Trace& tr);
void write_trace_hdf5(const std::string& path, const Trace& tr, const std::string& attrs_json);

}  // namespace ns
