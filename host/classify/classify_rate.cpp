// Rate classifier of population models: rules and thresholds in classify_rate.hpp and
// docs/POPULATIONS.md.
#include "classify/classify_rate.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "classify/settings_table.hpp"
#include "errors.hpp"

namespace ns {
namespace {

using S = RateClassifierSettings;
const SettingKey<S> kKeys[] = {
    {"tail_fraction", false, 0, 1, true, "a number in (0, 1]", nullptr, &S::tail_fraction},
    {"quiescent_hz", false, 0, 1e9, false, "a number >= 0 (Hz)", nullptr, &S::quiescent_hz},
    {"runaway_hz", false, 0, 1e12, true, "a number > 0 (Hz)", nullptr, &S::runaway_hz},
    {"osc_amplitude", false, 0, 1e9, false, "a number >= 0", nullptr, &S::osc_amplitude},
    {"abs_tolerance_hz", false, 0, 1e9, false, "a number >= 0 (Hz)", nullptr, &S::abs_tolerance_hz},
    {"steady_tolerance", false, 0, 1e9, false, "a number >= 0", nullptr, &S::steady_tolerance},
    {"min_amplitude_ratio", false, 0, 1e9, false, "a number >= 0", nullptr, &S::min_amplitude_ratio},
    {"min_cycles", true, 1, 1e6, false, "an integer >= 1", &S::min_cycles, nullptr},
};

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

void min_max(const float* x, uint64_t a, uint64_t b, double& lo, double& hi) {
  lo = hi = x[a];
  for (uint64_t k = a; k < b; ++k) {
    lo = std::min(lo, double(x[k]));
    hi = std::max(hi, double(x[k]));
  }
}

}  // namespace

const std::vector<std::string>& rate_label_names() {
  static const std::vector<std::string> v = {"quiescent", "steady", "oscillatory", "runaway"};
  return v;
}

const std::vector<std::pair<std::string, std::string>>& rate_feature_columns() {
  static const std::vector<std::pair<std::string, std::string>> v = {
      {"steady_hz", "Hz"}, {"amp_hz", "Hz"}, {"freq_hz", "Hz"}, {"t_steady_ms", "ms"}};
  return v;
}

RateClassifierSettings RateClassifierSettings::from_json(const nlohmann::json& j, const std::string& source) {
  RateClassifierSettings s;
  read_settings(j, kKeys, s, source, "classifier", nullptr);
  return s;
}

nlohmann::json RateClassifierSettings::to_json() const {
  nlohmann::json j = nlohmann::json::object();
  write_settings(kKeys, *this, j);
  return j;
}

int8_t classify_rates(const float* rates, int n_series, uint64_t n_bins, double bin_ms, uint8_t status,
                      const RateClassifierSettings& s, RateFeatures* feats) {
  for (int q = 0; q < n_series; ++q) feats[q] = {kNaN, kNaN, kNaN, kNaN};
  if (status != 0 || n_bins < 4) return kRateUnclassified;
  for (uint64_t k = 0; k < static_cast<uint64_t>(n_series) * n_bins; ++k)
    if (!std::isfinite(rates[k])) return kRateUnclassified;
  const uint64_t t0 = std::min<uint64_t>(n_bins - 4, static_cast<uint64_t>(std::floor(double(n_bins) * (1.0 - s.tail_fraction))));
  const uint64_t nt = n_bins - t0, q3 = t0 + nt / 2, q4 = t0 + (3 * nt) / 4;
  bool runaway = false, oscillating = false, all_quiet = true;
  for (int q = 0; q < n_series; ++q) {
    const float* x = rates + static_cast<uint64_t>(q) * n_bins;
    double sum = 0;
    for (uint64_t k = t0; k < n_bins; ++k) sum += x[k];
    const double mean = sum / double(nt);
    double lo, hi;
    min_max(x, t0, n_bins, lo, hi);
    RateFeatures& f = feats[q];
    f.steady_hz = float(mean);
    f.amp_hz = float(0.5 * (hi - lo));
    // time to steady state: the last bin outside the band, plus one
    const double tol = s.steady_tolerance * std::fabs(mean) + s.abs_tolerance_hz;
    uint64_t last_out = 0;
    bool any_out = false;
    for (uint64_t k = 0; k < n_bins; ++k)
      if (x[k] < lo - tol || x[k] > hi + tol) last_out = k, any_out = true;
    f.t_steady_ms = float(any_out ? double(last_out + 1) * bin_ms : 0.0);
    // upward crossings of the tail mean (linear interpolation between bin centres)
    std::vector<double> ups;
    for (uint64_t k = t0 + 1; k < n_bins; ++k)
      if (x[k - 1] < mean && x[k] >= mean) {
        const double frac = (mean - x[k - 1]) / (double(x[k]) - double(x[k - 1]));
        ups.push_back((double(k - 1) + frac) * bin_ms);
      }
    const int cycles = static_cast<int>(ups.size()) - 1;
    const bool big = 0.5 * (hi - lo) > s.osc_amplitude * std::fabs(mean) + s.abs_tolerance_hz;
    double l3, h3, l4, h4;
    min_max(x, q3, q4, l3, h3);
    min_max(x, q4, n_bins, l4, h4);
    const bool sustained = (h4 - l4) >= s.min_amplitude_ratio * (h3 - l3);
    if (cycles >= s.min_cycles && big && sustained) {
      oscillating = true;
      f.freq_hz = float(1000.0 * double(cycles) / (ups.back() - ups.front()));
    }
    if (hi > s.runaway_hz) runaway = true;
    if (!(mean < s.quiescent_hz)) all_quiet = false;
  }
  if (runaway) return kRunaway;
  if (oscillating) return kOscillatory;
  if (all_quiet) return kQuiescent;
  return kSteady;
}

namespace {

class RateStage final : public ClassifierStage {
 public:
  explicit RateStage(const RunSpec& spec)
      : s_(RateClassifierSettings::from_json(spec.classifier, spec.source)), series_(spec.rate_series),
        bin_ms_(spec.rate_bin_ms) {
    const uint64_t nb = spec.rate_bin_steps > 0 ? static_cast<uint64_t>(spec.n_analysis / spec.rate_bin_steps) : 0;
    if (nb < 8)
      throw SpecError(spec.source + ": output.rate_bin = " + std::to_string(spec.rate_bin_ms) + " ms gives " +
                      std::to_string(nb) + " rate bins in the analysis window; the rate classifier needs at least 8 "
                      "(a finer rate_bin or a longer analysis)");
  }
  std::vector<ColumnSpec> columns() const override {
    std::vector<ColumnSpec> c;
    c.push_back({"label", "i1", "", "population activity (docs/POPULATIONS.md, Classifier)", rate_label_names()});
    for (const auto& p : series_)
      for (const auto& f : rate_feature_columns())
        c.push_back({p + "." + f.first, "f4", f.second, "rate feature of population " + p + " (docs/POPULATIONS.md)", {}});
    return c;
  }
  std::vector<std::string> label_names() const override { return rate_label_names(); }
  int spikes_needed() const override { return 0; }
  std::string settings_json() const override { return s_.to_json().dump(); }
  void classify_chunk(const ChunkOutput& o, double, ChunkData& data) const override {
    const size_t n = o.n;
    const int ns = static_cast<int>(series_.size());
    if (o.n_series != ns || o.rates.size() != n * static_cast<size_t>(ns) * o.n_bins)
      throw BackendError("internal error: the rate classifier got " + std::to_string(o.n_series) +
                         " rate series per instance, expected " + std::to_string(ns));
    std::vector<int8_t> label(n);
    std::vector<std::vector<float>> feat(static_cast<size_t>(ns * kNumRateFeatures), std::vector<float>(n));
#pragma omp parallel for schedule(static) if (n > 64)
    for (size_t i = 0; i < n; ++i) {
      std::vector<RateFeatures> f(static_cast<size_t>(ns));
      label[i] = classify_rates(o.rates.data() + i * static_cast<size_t>(ns) * o.n_bins, ns, o.n_bins, bin_ms_,
                                o.status[i], s_, f.data());
      for (int q = 0; q < ns; ++q) {
        const float v[kNumRateFeatures] = {f[q].steady_hz, f[q].amp_hz, f[q].freq_hz, f[q].t_steady_ms};
        for (int k = 0; k < kNumRateFeatures; ++k) feat[static_cast<size_t>(q * kNumRateFeatures + k)][i] = v[k];
      }
    }
    data.set("label", label);
    for (int q = 0; q < ns; ++q)
      for (int k = 0; k < kNumRateFeatures; ++k)
        data.set(series_[q] + "." + rate_feature_columns()[k].first, feat[static_cast<size_t>(q * kNumRateFeatures + k)]);
  }

 private:
  RateClassifierSettings s_;
  std::vector<std::string> series_;
  double bin_ms_;
};

}  // namespace

std::unique_ptr<ClassifierStage> make_rate_stage(const RunSpec& spec) { return std::make_unique<RateStage>(spec); }

}  // namespace ns
