#pragma once
// Network classifier for circuit instances (pyloric / stg_circuit models): per-cell bursts from
// the spike times of every cell, the pyloric cycle measures of Prinz et al. (2004) (the 15
// measures with experimental mean +- SD of shared/reference/prinz-stg-model.md section 4.7), and
// a label: not rhythmic, rhythmic (not triphasic), triphasic, pyloric-like. Criteria, defaults and
// their sources: docs/CLASSIFIER.md, section "Networks".
//
// Host only, thread safe, deterministic. Per-cell activity labels come from the single-neuron
// classifier (classify.hpp), applied to each cell's spike train by the caller.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "classify/classify.hpp"

namespace ns {

enum NetworkLabel : int8_t {
  kNetUnclassified = -1,  // status != ok or invalid input
  kNotRhythmic = 0,       // the reference (AB/PD) cell has no regular burst rhythm
  kRhythmic = 1,          // regular AB/PD bursts, but not one burst of every cell per cycle
  kTriphasic = 2,         // one burst of AB/PD, LP and PY in (nearly) every cycle, wrong order
  kPyloricLike = 3,       // triphasic and in the order AB/PD -> LP -> PY (3 conditions of P04)
};

// Index = label value: "not_rhythmic", "rhythmic", "triphasic", "pyloric_like".
const std::vector<std::string>& network_label_names();
const char* network_label_name(int label);  // "unclassified" for -1 and out-of-range values

struct NetworkClassifierSettings {
  // Roles: AB/PD (pacemaker, defines cycles), LP, PY. lp_cell = py_cell = -1 (user circuits
  // without pyloric roles): only the rhythm of ref_cell is classified (label <= kRhythmic).
  int ref_cell = 0, lp_cell = 1, py_cell = 2;
  double modulated_tonic_fraction = 0.99;      // IBI threshold = this x max ISI for modulated tonic cells [Prinz]
  int min_cycles = 2;                          // complete AB/PD cycles needed [Prinz: 2 periods]
  double period_tolerance = 0.1;               // (max - min) / mean of the cycle periods: rhythmic
  double triphasic_fraction = 0.9;             // share of cycles with one burst of each cell [MKL]
  double pyloric_fraction = 0.7;               // share of cycles meeting the 3 order conditions [MKL]
  double within_sd = 2.0;                      // measures within this many SD of the mean [MKL20]

  // j: the spec's "classifier" object. Its "network" object holds the keys above; every other key
  // goes to the single-neuron ClassifierSettings (the burst rule thresholds), returned in *cell.
  static NetworkClassifierSettings from_json(const nlohmann::json& j, const std::string& source,
                                             ClassifierSettings* cell);
  nlohmann::json to_json() const;  // the "network" object (every key)
};

// Bursts of one cell: spike groups separated by inter-burst intervals (ISI above the Prinz
// threshold). onset/offset: times of the first and last spike (ms); complete_on/off: whether the
// group's start/end is observed (not cut by the window edge).
struct CellBursts {
  std::vector<double> onset, offset;
  std::vector<int> n_spikes;
  std::vector<uint8_t> complete_on, complete_off;
  double ibi_threshold_ms = 0;  // NaN-free; 0 when fewer than 2 spikes
};

// Segments a spike train with the Prinz ISI-threshold rule (reference section 3.2), using the
// thresholds of the single-neuron classifier settings `cs` (modulated_tonic_ratio,
// ibi_max_over_mean, ibi_fraction_of_max, ibi_threshold_max_ms). truncated: more spikes were
// detected than kept (the end of the train is unknown).
CellBursts segment_bursts(const float* spikes, uint32_t n, bool truncated, double analysis_ms,
                          const ClassifierSettings& cs, const NetworkClassifierSettings& ns);

// The 15 measures of P04 (reference table 4.7) in this order, then extras. NaN where undefined.
struct NetworkFeatures {
  float period_ms;
  float burst_abpd_ms, burst_lp_ms, burst_py_ms;
  float gap_abpd_lp_ms, gap_lp_py_ms;        // LP start - AB/PD end; PY start - LP end
  float delay_abpd_lp_ms, delay_abpd_py_ms;  // onset delays from the AB/PD onset
  float duty_abpd, duty_lp, duty_py;
  float phase_gap_abpd_lp, phase_gap_lp_py;  // gaps / period
  float phase_lp, phase_py;                  // onset delays / period
  // extras
  float period_cv;                           // CV of the AB/PD cycle periods
  float spikes_per_burst_abpd, spikes_per_burst_lp, spikes_per_burst_py;
  float n_cycles;                            // complete AB/PD cycles in the window
  float triphasic_share;                     // share of cycles with one burst of each cell
  float pyloric_share;                       // share of cycles meeting the 3 order conditions
  float n_within_2sd;                        // of the 15 measures, within within_sd SD of the mean
};
constexpr int kNumNetworkFeatures = 23;
constexpr int kNumPyloricMeasures = 15;

// (name, units) in NetworkFeatures order (database columns).
const std::vector<std::pair<std::string, std::string>>& network_feature_columns();
void network_feature_values(const NetworkFeatures& f, float* out);

// Experimental mean and SD of the 15 measures (P04 via MKL20/HOY, reference table 4.7), in
// NetworkFeatures order.
struct MeasureRef {
  const char* name;
  double mean, sd;
};
extern const MeasureRef kPyloricReference[kNumPyloricMeasures];

struct NetworkClassification {
  int8_t label;
  NetworkFeatures f;
};

// One circuit instance: spikes of cell o are spikes[o][0 .. n_kept[o]) (ascending, ms from the
// start of the analysis window), n_total[o] detected. status: engine status of the instance.
NetworkClassification classify_network(int n_cells, const float* const* spikes, const uint32_t* n_kept,
                                       const uint32_t* n_total, double analysis_ms, uint8_t status,
                                       const ClassifierSettings& cs, const NetworkClassifierSettings& ns);

}  // namespace ns
