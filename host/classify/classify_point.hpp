#pragma once
// Firing-pattern classifier for point neurons (NEST models: iaf_*, izhikevich, aeif_*,
// hh_psc_alpha, glif_psc) driven by a constant or step current: labels silent, tonic, adapting,
// bursting, irregular, plus features (rate, first-spike latency, ISI statistics, adaptation
// index, burst measures). Burst detection and the regularity test reuse the single-neuron
// classifier of host/classify/classify.hpp. Rules, defaults and sources: docs/CLASSIFIER.md, section
// "Point neurons".
//
// Host only, thread safe, deterministic.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "classify/classify.hpp"

namespace ns {

// True for the NEST point models (the run pipeline picks classify_point for them, classify for
// the STG models).
bool is_point_model(const std::string& model);

enum PointLabel : int8_t {
  kPointUnclassified = -1,  // status != ok or invalid input
  kPointSilent = 0,
  kPointTonic = 1,      // regular firing without adaptation
  kPointAdapting = 2,   // regular firing whose rate decreases (spike-frequency adaptation)
  kPointBursting = 3,   // repetitive bursts, or an initial burst followed by tonic spiking
  kPointIrregular = 4,  // none of the above
};
// "silent", "tonic", "adapting", "bursting", "irregular" (index = label value).
const std::vector<std::string>& point_label_names();
const char* point_label_name(int label);  // "unclassified" for -1 and out-of-range values

struct PointClassifierSettings {
  // Keys of the "classifier" object specific to point neurons (defaults: docs/CLASSIFIER.md).
  double adaptation_ratio = 1.75;     // steady ISI / first ISI above this: adapting
  double irregular_cv = 0.2;          // CV of the steady ISIs above this: irregular
  double initial_burst_ratio = 0.5;   // leading ISIs below this x steady ISI (and followed by a
                                      // gap >= base.burst_gap_ratio x their max) form an initial burst
  int min_initial_burst_spikes = 3;   // spikes an initial burst needs
  int adaptation_skip = 0;            // k: leading ISIs left out of the adaptation index
  // Every other key goes to the single-neuron classifier (min_spikes, burst rules, tolerances).
  ClassifierSettings base;

  // j: the "classifier" object (null = defaults). Unknown keys, wrong types and out-of-range values
  // throw ns::SpecError naming `source`, "classifier.<key>" and the value.
  static PointClassifierSettings from_json(const nlohmann::json& j, const std::string& source);
  nlohmann::json to_json() const;  // every key (point keys and base keys)
};

// NaN where undefined (definitions: docs/CLASSIFIER.md).
struct PointFeatures {
  float rate_hz;               // n_spikes_total / analysis window
  float n_spikes;              // total spikes in the window
  float latency_ms;            // first spike time from the start of the analysis window
  float isi_mean_ms;           // mean ISI of the kept spikes
  float isi_cv;                // SD / mean of all ISIs
  float isi_first_ms;          // first ISI after any initial burst
  float isi_steady_ms;         // mean of the last half of the ISIs
  float steady_cv;             // CV of the last half of the ISIs
  float adaptation_index;      // mean of (ISI_{i+1} - ISI_i)/(ISI_{i+1} + ISI_i), i >= k
  float adaptation_ratio;      // isi_steady / isi_first
  float initial_burst_spikes;  // spikes in the initial burst (0 if none)
  float n_bursts;              // repetitive bursting: spike groups (classify.hpp)
  float spikes_per_burst;      // repetitive bursting: mean spikes per complete burst
  float burst_period_ms;       // repetitive bursting: mean burst period
  float burst_duration_ms;     // repetitive bursting: mean burst duration
  float v_min, v_max;          // mV over the window
  float v_rest;                // mean V, silent cells only
};
constexpr int kNumPointFeatures = 18;

const std::vector<std::pair<std::string, std::string>>& point_feature_columns();  // (name, unit)
void point_feature_values(const PointFeatures& f, float* out);  // kNumPointFeatures values

struct PointClassification {
  int8_t label;
  PointFeatures f;
  int8_t base_label;  // label of the single-neuron classifier on the same train (classify.hpp)
};

// Same inputs as ns::classify (spike times in ms from the start of the analysis window, the
// first n_spikes_kept of n_spikes_total, engine V summary and status).
PointClassification classify_point(const float* spikes, uint32_t n_spikes_kept,
                                   uint32_t n_spikes_total, double analysis_ms, float v_min,
                                   float v_max, float v_mean, uint8_t status,
                                   const PointClassifierSettings& s);

}  // namespace ns
