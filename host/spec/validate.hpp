#pragma once
// Validation of parameter values before any work, from the models' own tables: every parameter's
// range (ParamInfo::range: NEST's Parameters_::set rules, physical bounds, topology) and the
// model's cross-parameter rules (ModelDesc::check). Used by the spec parser (fixed,
// parameter_file, every axis value; random and Sobol axes: their range), `simulate` (-p, --params,
// --preset) and the NEST/BMTK parameter-file reader. Messages name the parameter, the value and
// the rule with its source.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "neurosweep/models.hpp"

namespace ns {

// The admissible set in words: "C_m > 0", "0 <= asc_r_0 <= 1", "n_cells: a whole number with
// 1 <= n_cells <= 16"; "" when every finite value is admissible.
std::string range_text(const ParamInfo& p);
// "" when x is admissible for p, else "C_m > 0 (NEST models/iaf_psc_alpha.cpp, Parameters_::set)".
std::string range_violation(const ParamInfo& p, double x);
// Where a parameter's value comes from, for messages (e.g. "fixed.V_reset", "axes[1]"); may be empty.
using OriginFn = std::function<std::string(int param_index)>;
// The model's cross-parameter rules on the full parameter vector p: "" or
// "rule V_reset < V_th (...) is broken: V_reset = -50 mV (fixed.V_reset), V_th = -55 mV (default)".
std::string rule_violation(const ModelDesc& m, const double* p, const OriginFn& origin = {});
// Every range, then the rules: "" or the first problem.
std::string params_violation(const ModelDesc& m, const double* p, const OriginFn& origin = {});

// Throws SpecError("<where>: <problem>") for the first problem of p (ranges and rules).
void validate_params(const ModelDesc& m, const std::vector<double>& p, const std::string& where,
                     const OriginFn& origin = {});

class Sweep;
// The instances of a sweep, before any work: the value of every axis (random and Sobol axes:
// both ends of each range) against the ranges, then the model's cross-parameter rules on every
// instance (skipped for models without rules; about 0.3 us per instance). Sweeps of more than
// kMaxRuleInstances instances: the rules on every combination of the axes' values and range ends
// instead. `source` prefixes messages (the spec file).
constexpr uint64_t kMaxRuleInstances = uint64_t(1) << 24;
void validate_sweep(const std::string& source, const ModelDesc& m, const Sweep& sweep, const OriginFn& origin);

// The time step: dt <= kMaxDtMs and at least kMinAnalysisSteps steps in the analysis window.
// Spikes last about 1 ms: a coarser grid cannot resolve them, and the detectors and the classifier
// measure intervals and bursts in samples of the analysis window (docs/SWEEP_SPEC.md, "dt").
constexpr double kMaxDtMs = 1.0;
constexpr long long kMinAnalysisSteps = 1000;
// "" or the rule broken.
std::string dt_violation(double dt_ms, double analysis_ms);

}  // namespace ns
