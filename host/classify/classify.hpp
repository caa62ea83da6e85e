#pragma once
// Activity classifier for single neurons: label + features from the online detector summary of
// one instance (spike times, V extrema and mean, status). Follows the Prinz-lab routine as
// summarised in shared/reference/prinz-stg-model.md section 3.2 where it is specified; every
// threshold, its default and its source are documented in docs/CLASSIFIER.md.
//
// Host only, thread safe (scratch buffers are thread_local, so no allocation after the first
// call per thread), deterministic.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace ns {

enum Label : int8_t {
  kUnclassified = -1,  // status != ok (non-finite or diverged), or invalid spike input
  kSilent = 0,
  kTonic = 1,
  kRegularBursting = 2,
  kIrregularBursting = 3,
  kIrregular = 4,
};

// Index = label value: "silent", "tonic", "bursting", "irregular_bursting", "irregular".
const std::vector<std::string>& label_names();
// Name of any label value, "unclassified" for -1 (and for out-of-range values).
const char* label_name(int label);

// Every threshold of the classifier. JSON keys are the member names (object "classifier" of a
// sweep spec). Defaults and their reasons: docs/CLASSIFIER.md.
struct ClassifierSettings {
  int min_spikes = 3;                   // fewer spikes in the window: silent
  double regularity_tolerance = 0.05;   // (max - min) / mean of the pair < this: regular [Prinz]
  double modulated_tonic_ratio = 5.0;   // max ISI < this x min ISI: modulated tonic, no bursts [Prinz]
  double ibi_max_over_mean = 2.0;       // max ISI > this x mean ISI: threshold from max ISI [Prinz]
  double ibi_fraction_of_max = 0.5;     // ... then IBI threshold = this x max ISI [Prinz]
  double ibi_threshold_max_ms = 500.0;  // the IBI threshold never exceeds this [Prinz]
  double burst_gap_ratio = 2.0;         // shortest IBI >= this x longest intra-burst ISI
  double min_spikes_per_burst = 2.0;    // mean spikes per burst needed to call bursts
  int min_ibis = 2;                     // inter-burst intervals needed to call bursts
  int min_repeats = 2;                  // occurrences of each interval of a pattern [Prinz: 2]
  double settle_fraction = 0.5;         // final share of intervals that must be within tolerance
  int tonic_max_pattern = 4;            // longest ISI pattern (period-k) still called tonic
  int burst_max_pattern = 3;            // longest burst-period pattern still called regular [Prinz: 3]
  double stationarity_factor = 2.0;     // head/tail silence > this x max ISI: irregular
  double slowest_period_ms = 2500.0;    // slowest rhythm to resolve (sets min_analysis_ms)

  // j: the "classifier" object (null = all defaults). Unknown keys, wrong types and out-of-range
  // values throw ns::SpecError naming `source`, "classifier.<key>" and the value.
  static ClassifierSettings from_json(const nlohmann::json& j, const std::string& source);
  nlohmann::json to_json() const;  // every key, for the database
  // Shortest analysis window in which a one-period regular burster of period slowest_period_ms is
  // guaranteed min_repeats measured periods (+2 periods lost at the window edges).
  double min_analysis_ms() const;
  // Fewest kept spike times per instance the classifier needs (spec validation of max_spikes).
  int min_kept_spikes() const;
};

// NaN where undefined for the instance (see docs/CLASSIFIER.md for each definition).
struct Features {
  float rate_hz;            // n_spikes_total / analysis window
  float n_spikes;           // total spikes detected in the window
  float isi_mean_ms;        // over the kept spikes
  float isi_cv;             // population SD / mean of the ISIs
  float burst_period_ms;    // mean onset-to-onset interval of bursts (bursting labels)
  float burst_duration_ms;  // mean first-to-last spike time of complete bursts
  float duty_cycle;         // burst_duration / burst_period
  float spikes_per_burst;   // mean over complete bursts
  float n_bursts;           // spike groups separated by IBIs (edge bursts included)
  float period_cv;          // CV of burst periods (bursting) or of pattern cycles (tonic)
  float pattern_k;          // tonic: ISIs per repeating cycle; regular bursting: bursts per cycle
  float v_min, v_max;       // mV over the window
  float v_rest;             // mV, mean V over the window, silent cells only
};
constexpr int kNumFeatures = 14;

// (name, units) of the features in a fixed order (database schema; feature_values order).
const std::vector<std::pair<std::string, std::string>>& feature_columns();
void feature_values(const Features& f, float* out);  // kNumFeatures values

struct Classification {
  int8_t label;
  Features f;
};

// spikes: ascending times (ms from the start of the analysis window) of the first
// n_spikes_kept = min(n_spikes_total, max_spikes) spikes. When n_spikes_total > n_spikes_kept the
// pattern is classified over the span of the kept spikes (rate and n_spikes use the total).
// status: ns::Status of the engine (0 = ok); anything else gives kUnclassified and NaN features.
Classification classify(const float* spikes, uint32_t n_spikes_kept, uint32_t n_spikes_total,
                        double analysis_ms, float v_min, float v_max, float v_mean,
                        uint8_t status, const ClassifierSettings& s);

}  // namespace ns
