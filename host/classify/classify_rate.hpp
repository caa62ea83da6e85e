#pragma once
// Rate classifier of population models (ModelKind::kPopulation: Wilson-Cowan units, DiPDE density
// networks): label and features of each instance from its binned population rates (/rates, one
// series per population). Every threshold, its default and the reason: docs/POPULATIONS.md
// ("Classifier").
//
// Per series, over the "tail" (the last tail_fraction of the analysis window):
//   steady_hz   mean rate of the tail
//   amp_hz      (max - min) / 2 of the tail
//   freq_hz     oscillation frequency: upward crossings of the tail mean, first to last, NaN with
//               fewer than min_cycles + 1 crossings
//   t_steady_ms first time (analysis-window time, bin start) after which every bin stays in the
//               band [tail min - tol, tail max + tol], tol = steady_tolerance * |steady| + abs_tolerance_hz
// Label of the instance (the first rule that holds):
//   unclassified  status not ok (non-finite state or rate)
//   runaway       some series' tail maximum > runaway_hz
//   oscillatory   some series has amp_hz > osc_amplitude * |steady_hz| + abs_tolerance_hz, at least
//                 min_cycles cycles in the tail and an amplitude that does not decay: the amplitude
//                 of the last quarter of the tail >= min_amplitude_ratio x that of the quarter before
//   quiescent     every series' steady_hz < quiescent_hz
//   steady        otherwise
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "classify/stage.hpp"

namespace ns {

enum RateLabel : int8_t { kRateUnclassified = -1, kQuiescent = 0, kSteady = 1, kOscillatory = 2, kRunaway = 3 };
const std::vector<std::string>& rate_label_names();  // index = label value

struct RateClassifierSettings {
  double tail_fraction = 0.5;         // share of the analysis window used for the steady features
  double quiescent_hz = 0.1;          // every steady rate below: quiescent
  double runaway_hz = 500.0;          // a rate above: runaway
  double osc_amplitude = 0.05;        // relative half peak-to-peak amplitude for oscillatory
  double abs_tolerance_hz = 0.01;     // absolute floor of the amplitude and steady-band tolerances
  double steady_tolerance = 0.01;     // relative width of the steady band (t_steady_ms)
  double min_amplitude_ratio = 0.8;   // last-quarter / previous-quarter amplitude: not decaying
  int min_cycles = 2;                 // cycles in the tail needed to call oscillations

  static RateClassifierSettings from_json(const nlohmann::json& j, const std::string& source);
  nlohmann::json to_json() const;
};

// The features of one series, in rate_feature_columns() order.
struct RateFeatures {
  float steady_hz, amp_hz, freq_hz, t_steady_ms;
};
constexpr int kNumRateFeatures = 4;
const std::vector<std::pair<std::string, std::string>>& rate_feature_columns();  // (name, units)

// rates: n_series x n_bins (series-major) of one instance; feats: n_series entries written.
int8_t classify_rates(const float* rates, int n_series, uint64_t n_bins, double bin_ms, uint8_t status,
                      const RateClassifierSettings& s, RateFeatures* feats);

// The classifier stage of population models (stage.cpp picks it for ModelKind::kPopulation).
std::unique_ptr<ClassifierStage> make_rate_stage(const RunSpec& spec);

}  // namespace ns
