#pragma once
// Sensitivity probe (issue 14; docs/SWEEP_SPEC.md "probe", cost in docs/CLASSIFIER.md): every
// instance is integrated a second time under a perturbation and classified again; the database
// gets the second label (`label_probe`) and whether label and rate agree (`robust`). A cheap way
// to flag multistable or numerically fragile instances. Perturbations:
//   "precision":   the other arithmetic (float/table <-> double/direct);
//   "integration": the other scheme of the STG models (exp_euler <-> prinz);
//   {"thermalize": T}: another start: the instance's start state (cold or given) integrated T ms
//                  longer before the transient;
//   {"from_database": path}: another start: the final state of another database's matching row
//                  (run/starts.hpp: same index in the sweep without its start axis, same stored
//                  parameters).
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "classify/stage.hpp"
#include "run/starts.hpp"
#include "neurosweep/backend.hpp"
#include "spec/spec.hpp"
#include "store/database.hpp"

namespace ns {

class Probe {
 public:
  // null when the spec has no "probe". Throws SpecError for an invalid probe (naming the value).
  static std::unique_ptr<Probe> make(const RunSpec& spec, const RunSettings& rs);
  // Parses and checks the spec's "probe" value (spec parser); returns its canonical description.
  static std::string describe(const nlohmann::json& v, const std::string& source, const std::string& model);

  std::vector<ColumnSpec> columns(const ClassifierStage& stage) const;
  // Integrates the chunk again under the perturbation, classifies it with `stage` and adds the
  // probe's columns to `data` (which already holds the unperturbed `label` and features).
  void run(Backend& backend, const ChunkInput& in, const ClassifierStage& stage, double analysis_ms,
           ChunkData& data) const;
  const std::string& description() const { return what_; }
  const RunSettings& settings() const { return rs_; }
  ~Probe();

 private:
  RunSettings rs_;
  std::string what_;
  // {"from_database": path}: a copy of the spec whose every start is that database
  std::unique_ptr<RunSpec> start_spec_;
  std::unique_ptr<StartStates> starts_;
};

// Rates agree when they differ by at most this fraction of the larger one, or by at most
// kProbeRateSpikes spikes over the analysis window (docs/CLASSIFIER.md).
constexpr double kProbeRateTolerance = 0.05;
constexpr double kProbeRateSpikes = 2.0;

}  // namespace ns
