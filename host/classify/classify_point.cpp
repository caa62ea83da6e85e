// Firing-pattern classifier for point neurons. Rules, thresholds and their sources:
// docs/CLASSIFIER.md, section "Point neurons".
#include "classify/classify_point.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "errors.hpp"
#include "classify/feature_table.hpp"
#include "classify/settings_table.hpp"
#include "neurosweep/models.hpp"

namespace ns {

bool is_point_model(const std::string& model) { return model_is(model, ModelKind::kPointNeuron); }

const std::vector<std::string>& point_label_names() {
  static const std::vector<std::string> v = {"silent", "tonic", "adapting", "bursting", "irregular"};
  return v;
}

const char* point_label_name(int label) { return label_of(point_label_names(), label); }

namespace {

const FeatureColumn<PointFeatures> kColumns[kNumPointFeatures] = {
    {"rate_hz", "Hz", &PointFeatures::rate_hz},
    {"n_spikes", "1", &PointFeatures::n_spikes},
    {"latency_ms", "ms", &PointFeatures::latency_ms},
    {"isi_mean_ms", "ms", &PointFeatures::isi_mean_ms},
    {"isi_cv", "1", &PointFeatures::isi_cv},
    {"isi_first_ms", "ms", &PointFeatures::isi_first_ms},
    {"isi_steady_ms", "ms", &PointFeatures::isi_steady_ms},
    {"steady_cv", "1", &PointFeatures::steady_cv},
    {"adaptation_index", "1", &PointFeatures::adaptation_index},
    {"adaptation_ratio", "1", &PointFeatures::adaptation_ratio},
    {"initial_burst_spikes", "1", &PointFeatures::initial_burst_spikes},
    {"n_bursts", "1", &PointFeatures::n_bursts},
    {"spikes_per_burst", "1", &PointFeatures::spikes_per_burst},
    {"burst_period_ms", "ms", &PointFeatures::burst_period_ms},
    {"burst_duration_ms", "ms", &PointFeatures::burst_duration_ms},
    {"v_min", "mV", &PointFeatures::v_min},
    {"v_max", "mV", &PointFeatures::v_max},
    {"v_rest", "mV", &PointFeatures::v_rest},
};

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

PointFeatures nan_features() { return nan_features_of(kColumns); }

float to_f(double x) { return static_cast<float>(x); }

// Point-specific keys.
const SettingKey<PointClassifierSettings> kKeys[] = {
    {"adaptation_ratio", false, 1, 1e9, true, "a number > 1", nullptr,
     &PointClassifierSettings::adaptation_ratio},
    {"irregular_cv", false, 0, 1e9, true, "a number > 0", nullptr,
     &PointClassifierSettings::irregular_cv},
    {"initial_burst_ratio", false, 0, 1, true, "a number in (0, 1]", nullptr,
     &PointClassifierSettings::initial_burst_ratio},
    {"min_initial_burst_spikes", true, 2, 1e6, false, "an integer >= 2",
     &PointClassifierSettings::min_initial_burst_spikes, nullptr},
    {"adaptation_skip", true, 0, 1e6, false, "an integer >= 0",
     &PointClassifierSettings::adaptation_skip, nullptr},
};

struct Stats {
  double mean = NAN, cv = NAN;
};
Stats stats(const double* x, size_t n) {
  Stats s;
  if (n == 0) return s;
  double m = 0;
  for (size_t i = 0; i < n; ++i) m += x[i];
  m /= double(n);
  double v = 0;
  for (size_t i = 0; i < n; ++i) v += (x[i] - m) * (x[i] - m);
  v /= double(n);
  s.mean = m;
  s.cv = m > 0 ? std::sqrt(v) / m : NAN;
  return s;
}

}  // namespace

const std::vector<std::pair<std::string, std::string>>& point_feature_columns() {
  static const auto v = feature_names(kColumns);
  return v;
}

void point_feature_values(const PointFeatures& f, float* out) { feature_values_of(kColumns, f, out); }

PointClassifierSettings PointClassifierSettings::from_json(const nlohmann::json& j,
                                                           const std::string& source) {
  PointClassifierSettings s;
  nlohmann::json rest = nlohmann::json::object();
  read_settings(j, kKeys, s, source, "classifier", &rest);
  try {
    s.base = ClassifierSettings::from_json(rest, source);
  } catch (const SpecError& e) {
    throw SpecError(std::string(e.what()) + "; point-neuron keys: " + setting_names(kKeys));
  }
  return s;
}

nlohmann::json PointClassifierSettings::to_json() const {
  nlohmann::json j = base.to_json();
  write_settings(kKeys, *this, j);
  return j;
}

PointClassification classify_point(const float* spikes, uint32_t n_kept, uint32_t n_total,
                                   double analysis_ms, float v_min, float v_max, float v_mean,
                                   uint8_t status, const PointClassifierSettings& s) {
  PointClassification out;
  out.f = nan_features();
  const Classification base =
      classify(spikes, n_kept, n_total, analysis_ms, v_min, v_max, v_mean, status, s.base);
  out.base_label = base.label;
  if (base.label == kUnclassified) {
    out.label = kPointUnclassified;
    return out;
  }
  PointFeatures& f = out.f;
  f.rate_hz = base.f.rate_hz;
  f.n_spikes = base.f.n_spikes;
  f.v_min = base.f.v_min;
  f.v_max = base.f.v_max;
  f.isi_mean_ms = base.f.isi_mean_ms;
  f.isi_cv = base.f.isi_cv;
  if (n_kept > 0) f.latency_ms = spikes[0];
  if (base.label == kSilent) {
    out.label = kPointSilent;
    f.v_rest = base.f.v_rest;
    f.initial_burst_spikes = 0;
    return out;
  }
  // base != unclassified/silent implies n_kept >= 3 (classify.hpp): at least 2 ISIs.
  std::vector<double> isi(n_kept - 1);
  for (uint32_t i = 1; i < n_kept; ++i) isi[i - 1] = double(spikes[i]) - double(spikes[i - 1]);
  const size_t n = isi.size();

  // Steady state: the last half of the ISIs (at least one).
  const size_t h0 = n / 2;
  const Stats steady = stats(isi.data() + h0, n - h0);
  f.isi_steady_ms = to_f(steady.mean);
  f.steady_cv = to_f(steady.cv);

  // Initial burst: leading ISIs shorter than initial_burst_ratio x the steady ISI, ended by a
  // gap at least burst_gap_ratio (base setting) x the longest of them (a gradual slow-down is
  // adaptation, not a burst).
  size_t lead = 0;
  double lead_max = 0;
  while (lead < h0 && isi[lead] < s.initial_burst_ratio * steady.mean) lead_max = std::max(lead_max, isi[lead++]);
  const bool gap = lead > 0 && lead < n && isi[lead] >= s.base.burst_gap_ratio * lead_max;
  const size_t ib_spikes = gap ? lead + 1 : 0;
  f.initial_burst_spikes = to_f(double(ib_spikes));
  const bool initial_burst = ib_spikes >= static_cast<size_t>(s.min_initial_burst_spikes);

  // Adaptation: first ISI after the initial burst (if any) against the steady ISI; index as in
  // Naud et al. (2008) / Allen Cell Types: mean normalised difference of consecutive ISIs.
  const size_t first = initial_burst ? lead : 0;
  f.isi_first_ms = to_f(isi[first]);
  f.adaptation_ratio = isi[first] > 0 ? to_f(steady.mean / isi[first]) : kNaN;
  const size_t k0 = first + static_cast<size_t>(s.adaptation_skip);
  if (k0 + 1 < n) {
    double a = 0;
    size_t m = 0;
    for (size_t i = k0; i + 1 < n; ++i) {
      const double den = isi[i + 1] + isi[i];
      if (den > 0) {
        a += (isi[i + 1] - isi[i]) / den;
        ++m;
      }
    }
    if (m > 0) f.adaptation_index = to_f(a / double(m));
  }

  const bool repetitive_bursts =
      base.label == kRegularBursting || base.label == kIrregularBursting;
  if (repetitive_bursts) {
    f.n_bursts = base.f.n_bursts;
    f.spikes_per_burst = base.f.spikes_per_burst;
    f.burst_period_ms = base.f.burst_period_ms;
    f.burst_duration_ms = base.f.burst_duration_ms;
    out.label = kPointBursting;
    return out;
  }
  if (base.label == kTonic) {  // periodic over the whole window
    out.label = f.adaptation_ratio > s.adaptation_ratio ? kPointAdapting : kPointTonic;
    return out;
  }
  if (!(steady.cv <= s.irregular_cv)) {
    out.label = kPointIrregular;
    return out;
  }
  if (initial_burst) {
    f.n_bursts = 1;
    f.spikes_per_burst = to_f(double(ib_spikes));
    f.burst_duration_ms = to_f(double(spikes[ib_spikes - 1]) - double(spikes[0]));
    out.label = kPointBursting;
    return out;
  }
  out.label = f.adaptation_ratio > s.adaptation_ratio ? kPointAdapting : kPointTonic;
  return out;
}

}  // namespace ns
