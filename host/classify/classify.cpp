// Activity classifier for single neurons. Rules, thresholds and their sources: docs/CLASSIFIER.md.
// Source of the Prinz-lab routine: shared/reference/prinz-stg-model.md section 3.2 (the Macke
// lab's summary of Prinz's code).
#include "classify/classify.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "errors.hpp"
#include "classify/feature_table.hpp"
#include "classify/settings_table.hpp"

namespace ns {

// ---- names ---------------------------------------------------------------------------------
const std::vector<std::string>& label_names() {
  static const std::vector<std::string> v = {"silent", "tonic", "bursting", "irregular_bursting",
                                             "irregular"};
  return v;
}

const char* label_name(int label) { return label_of(label_names(), label); }

namespace {

// The one place that fixes the feature order.
const FeatureColumn<Features> kColumns[kNumFeatures] = {
    {"rate_hz", "Hz", &Features::rate_hz},
    {"n_spikes", "1", &Features::n_spikes},
    {"isi_mean_ms", "ms", &Features::isi_mean_ms},
    {"isi_cv", "1", &Features::isi_cv},
    {"burst_period_ms", "ms", &Features::burst_period_ms},
    {"burst_duration_ms", "ms", &Features::burst_duration_ms},
    {"duty_cycle", "1", &Features::duty_cycle},
    {"spikes_per_burst", "1", &Features::spikes_per_burst},
    {"n_bursts", "1", &Features::n_bursts},
    {"period_cv", "1", &Features::period_cv},
    {"pattern_k", "1", &Features::pattern_k},
    {"v_min", "mV", &Features::v_min},
    {"v_max", "mV", &Features::v_max},
    {"v_rest", "mV", &Features::v_rest},
};

Features nan_features() { return nan_features_of(kColumns); }

}  // namespace

const std::vector<std::pair<std::string, std::string>>& feature_columns() {
  static const auto v = feature_names(kColumns);
  return v;
}

void feature_values(const Features& f, float* out) { feature_values_of(kColumns, f, out); }

// ---- settings --------------------------------------------------------------------------------
namespace {

const SettingKey<ClassifierSettings> kKeys[] = {
    {"min_spikes", true, 3, 1e9, false, "an integer >= 3", &ClassifierSettings::min_spikes, nullptr},
    {"regularity_tolerance", false, 0, 1, true, "a number in (0, 1]", nullptr,
     &ClassifierSettings::regularity_tolerance},
    {"modulated_tonic_ratio", false, 1, 1e9, false, "a number >= 1", nullptr,
     &ClassifierSettings::modulated_tonic_ratio},
    {"ibi_max_over_mean", false, 1, 1e9, false, "a number >= 1", nullptr,
     &ClassifierSettings::ibi_max_over_mean},
    {"ibi_fraction_of_max", false, 0, 1, true, "a number in (0, 1]", nullptr,
     &ClassifierSettings::ibi_fraction_of_max},
    {"ibi_threshold_max_ms", false, 0, 1e12, true, "a number of ms > 0", nullptr,
     &ClassifierSettings::ibi_threshold_max_ms},
    {"burst_gap_ratio", false, 1, 1e9, false, "a number >= 1", nullptr,
     &ClassifierSettings::burst_gap_ratio},
    {"min_spikes_per_burst", false, 1, 1e9, false, "a number >= 1", nullptr,
     &ClassifierSettings::min_spikes_per_burst},
    {"min_ibis", true, 1, 1e9, false, "an integer >= 1", &ClassifierSettings::min_ibis, nullptr},
    {"min_repeats", true, 2, 1e6, false, "an integer >= 2", &ClassifierSettings::min_repeats,
     nullptr},
    {"settle_fraction", false, 0, 1, true, "a number in (0, 1]", nullptr,
     &ClassifierSettings::settle_fraction},
    {"tonic_max_pattern", true, 1, 64, false, "an integer in [1, 64]",
     &ClassifierSettings::tonic_max_pattern, nullptr},
    {"burst_max_pattern", true, 1, 64, false, "an integer in [1, 64]",
     &ClassifierSettings::burst_max_pattern, nullptr},
    {"stationarity_factor", false, 1, 1e12, false, "a number >= 1", nullptr,
     &ClassifierSettings::stationarity_factor},
    {"slowest_period_ms", false, 0, 1e12, true, "a number of ms > 0", nullptr,
     &ClassifierSettings::slowest_period_ms},
};

}  // namespace

ClassifierSettings ClassifierSettings::from_json(const nlohmann::json& j,
                                                 const std::string& source) {
  ClassifierSettings s;
  read_settings(j, kKeys, s, source, "classifier", nullptr);
  return s;
}

nlohmann::json ClassifierSettings::to_json() const {
  nlohmann::json j = nlohmann::json::object();
  write_settings(kKeys, *this, j);
  return j;
}

double ClassifierSettings::min_analysis_ms() const {
  // One-period bursting only: a k-pattern burster needs k times as many periods, and is called
  // irregular_bursting when the window holds fewer (docs/CLASSIFIER.md).
  return double(min_repeats + 2) * slowest_period_ms;
}

int ClassifierSettings::min_kept_spikes() const { return std::max(min_spikes, 3); }

// ---- classification --------------------------------------------------------------------------
namespace {

struct Moments {
  double mean = 0, cv = 0, min = 0, max = 0;
};

// n >= 1. CV = population SD / mean (NaN when the mean is not > 0).
Moments moments(const double* x, size_t n) {
  Moments m;
  double sum = 0;
  m.min = m.max = x[0];
  for (size_t i = 0; i < n; ++i) {
    sum += x[i];
    m.min = std::min(m.min, x[i]);
    m.max = std::max(m.max, x[i]);
  }
  m.mean = sum / double(n);
  double ss = 0;
  for (size_t i = 0; i < n; ++i) ss += (x[i] - m.mean) * (x[i] - m.mean);
  m.cv = m.mean > 0 ? std::sqrt(ss / double(n)) / m.mean : std::numeric_limits<double>::quiet_NaN();
  return m;
}

// Largest relative range (max - min) / ((max + min) / 2) of any phase r of x (x[r], x[r+k], ...)
// over the last settle_fraction of the intervals (at least min_repeats cycles; n >= k *
// min_repeats). 0 for an exactly periodic sequence; NaN in gives NaN (treated as not periodic).
double phase_spread(const double* x, size_t n, int k, const ClassifierSettings& s) {
  const size_t kk = static_cast<size_t>(k);
  const size_t need = kk * static_cast<size_t>(s.min_repeats);
  size_t len = static_cast<size_t>(std::ceil(s.settle_fraction * double(n)));
  len = std::min(n, std::max(len, need));
  const size_t start = n - len;
  double worst = 0;
  for (size_t r = 0; r < kk; ++r) {
    double lo = x[start + r], hi = x[start + r];
    for (size_t j = start + r + kk; j < n; j += kk) {
      lo = std::min(lo, x[j]);
      hi = std::max(hi, x[j]);
    }
    const double rel = (hi - lo) / (0.5 * (hi + lo));
    if (!(rel <= worst)) worst = rel;  // NaN sticks
  }
  return worst;
}

// Is x[0..n) periodic with period k (k intervals per cycle)? Two criteria, both with Prinz's
// relative measure |a - b| / ((a + b) / 2) < regularity_tolerance:
//  - cycle to cycle, over the whole sequence: every interval against the one k before it (Prinz's
//    periodicity test, which compares each IBI with the previous, 2nd- or 3rd-last one);
//  - settled: phase_spread < tolerance (Prinz's tonic test, max ISI - min ISI, per phase).
// The first allows a slow approach to the limit cycle early in the window; the second demands
// that the end of the window is periodic. Each phase must occur at least min_repeats times.
bool periodic_k(const double* x, size_t n, int k, const ClassifierSettings& s) {
  const size_t kk = static_cast<size_t>(k);
  const size_t need = kk * static_cast<size_t>(s.min_repeats);
  if (n < need) return false;
  const double tol = s.regularity_tolerance;
  for (size_t j = kk; j < n; ++j) {
    const double a = x[j], b = x[j - kk];
    if (!(std::fabs(a - b) < tol * 0.5 * (a + b))) return false;
  }
  return phase_spread(x, n, k, s) < tol;
}

// The period k in [1, kmax] of x, 0 when none: the smallest k for which x is periodic, unless a
// longer pattern k' (k < k' <= kmax) fits much better: a sequence that repeats exactly every k'
// intervals while its k-phases still differ (e.g. onset periods alternating 210/220 ms, within
// the 5% tolerance of each other) has k' intervals per cycle, and its period is the full cycle
// (issue 14). "Much better": the k' phase spread is below a quarter of the k spread, which itself
// exceeds a tenth of the tolerance (below that the k-cycle is periodic to within numerical noise).
// Random jitter spreads every phase alike and never passes the factor 4 (tested).
int best_period(const double* x, size_t n, int kmax, const ClassifierSettings& s) {
  int k = 0;
  for (int j = 1; j <= kmax && k == 0; ++j)
    if (periodic_k(x, n, j, s)) k = j;
  if (k == 0) return 0;
  const double spread = phase_spread(x, n, k, s);
  if (!(spread > 0.1 * s.regularity_tolerance)) return k;
  for (int j = k + 1; j <= kmax; ++j)
    if (periodic_k(x, n, j, s) && phase_spread(x, n, j, s) < 0.25 * spread) return j;
  return k;
}

// CV of the lengths of the complete, non-overlapping cycles of k intervals starting at x[0].
double cycle_cv(const double* x, size_t n, int k, std::vector<double>& tmp) {
  tmp.clear();
  const size_t kk = static_cast<size_t>(k);
  for (size_t j = 0; j + kk <= n; j += kk) {
    double c = 0;
    for (size_t r = 0; r < kk; ++r) c += x[j + r];
    tmp.push_back(c);
  }
  return tmp.empty() ? std::numeric_limits<double>::quiet_NaN() : moments(tmp.data(), tmp.size()).cv;
}

float to_f(double x) { return static_cast<float>(x); }

}  // namespace

Classification classify(const float* spikes, uint32_t n_spikes_kept, uint32_t n_spikes_total,
                        double analysis_ms, float v_min, float v_max, float v_mean,
                        uint8_t status, const ClassifierSettings& s) {
  Classification out;
  out.label = kUnclassified;
  out.f = nan_features();
  if (status != 0) return out;
  // Preconditions of valid detector output; anything else is reported, never guessed at.
  if (!(analysis_ms > 0) || !std::isfinite(analysis_ms) || n_spikes_kept > n_spikes_total ||
      (n_spikes_kept > 0 && !spikes))
    return out;
  for (uint32_t i = 0; i < n_spikes_kept; ++i) {
    if (!std::isfinite(spikes[i]) || (i > 0 && spikes[i] < spikes[i - 1])) return out;
  }

  Features& f = out.f;
  f.v_min = v_min;
  f.v_max = v_max;
  f.n_spikes = to_f(double(n_spikes_total));
  f.rate_hz = to_f(double(n_spikes_total) * 1000.0 / analysis_ms);

  // Silent: too few spikes to compare two intervals.
  if (n_spikes_total < static_cast<uint32_t>(s.min_spikes)) {
    out.label = kSilent;
    f.v_rest = v_mean;
    return out;
  }
  // Enough spikes but too few kept to compare two intervals (max_spikes below min_kept_spikes()).
  if (n_spikes_kept < 3) return out;

  const size_t n = n_spikes_kept;
  const size_t m = n - 1;  // ISIs
  thread_local std::vector<double> isi, periods, tmp;
  isi.resize(m);
  for (size_t i = 0; i < m; ++i) isi[i] = double(spikes[i + 1]) - double(spikes[i]);
  const Moments im = moments(isi.data(), m);
  f.isi_mean_ms = to_f(im.mean);
  f.isi_cv = to_f(im.cv);

  // Truncated record: the pattern is judged over the span of the kept spikes; the silence after
  // the last kept spike is unknown.
  const bool truncated = n_spikes_total > n_spikes_kept;
  const double head = double(spikes[0]);
  const double tail = truncated ? 0.0 : analysis_ms - double(spikes[n - 1]);

  // Stationarity: a silence at either end of the window much longer than any interval inside it
  // means the activity started or stopped inside the window.
  if (head > s.stationarity_factor * im.max || tail > s.stationarity_factor * im.max) {
    out.label = kIrregular;
    return out;
  }

  // ---- bursts (Prinz ISI-threshold rule) ----
  const bool modulated_tonic = im.max < s.modulated_tonic_ratio * im.min;
  if (!modulated_tonic) {
    double thr = im.max > s.ibi_max_over_mean * im.mean ? s.ibi_fraction_of_max * im.max : im.mean;
    thr = std::min(thr, s.ibi_threshold_max_ms);
    size_t n_ibi = 0, n_intra = 0;
    double min_ibi = std::numeric_limits<double>::infinity(), max_intra = 0;
    for (size_t i = 0; i < m; ++i) {
      if (isi[i] > thr) {
        ++n_ibi;
        min_ibi = std::min(min_ibi, isi[i]);
      } else {
        ++n_intra;
        max_intra = std::max(max_intra, isi[i]);
      }
    }
    const double groups = double(n_ibi + 1);
    // Walk the groups: onset complete when preceded by an IBI (or by a leading silence longer
    // than the threshold), end complete when followed by one (or by a trailing silence).
    periods.clear();
    double dur_sum = 0, spk_sum = 0;
    size_t n_complete = 0;
    bool have_onset = false;
    double last_onset = 0;
    size_t start = 0;
    for (size_t g = 0; g < n_ibi + 1; ++g) {
      size_t end = start;  // index of the last spike of the group
      while (end < m && !(isi[end] > thr)) ++end;
      const bool onset_ok = g > 0 || head > thr;
      const bool end_ok = end < m || (!truncated && tail > thr);
      if (onset_ok) {
        const double onset = double(spikes[start]);
        if (have_onset) periods.push_back(onset - last_onset);
        have_onset = true;
        last_onset = onset;
      }
      if (onset_ok && end_ok) {
        dur_sum += double(spikes[end]) - double(spikes[start]);
        spk_sum += double(end - start + 1);
        ++n_complete;
      }
      start = end + 1;
    }
    // Spikes per burst from the complete bursts: the groups cut by the window edges (a lone
    // second spike of a doublet at the start, a lone first spike at the end) are no bursts of
    // their own and must not pull a doublet burster below 2 spikes per burst (issue 14).
    const double per_burst = n_complete > 0 ? spk_sum / double(n_complete) : double(n) / groups;
    const bool bursting = n_ibi >= static_cast<size_t>(s.min_ibis) && n_intra > 0 &&
                          min_ibi >= s.burst_gap_ratio * max_intra &&
                          per_burst >= s.min_spikes_per_burst;
    if (bursting) {
      f.n_bursts = to_f(groups);
      if (n_complete > 0) {
        f.burst_duration_ms = to_f(dur_sum / double(n_complete));
        f.spikes_per_burst = to_f(spk_sum / double(n_complete));
      }
      // A pattern of k onset periods per cycle: regular bursting whose period is the full cycle
      // (k periods), with period_cv over whole cycles.
      const int k = best_period(periods.data(), periods.size(), s.burst_max_pattern, s);
      if (!periods.empty()) {
        const Moments pm = moments(periods.data(), periods.size());
        const int kc = k > 0 ? k : 1;
        if (kc > 1) {
          // mean over complete cycles only, so that the period is exactly k mean periods of
          // whole cycles
          const double cv = cycle_cv(periods.data(), periods.size(), kc, tmp);
          double cyc = 0;
          for (double c : tmp) cyc += c;
          f.burst_period_ms = to_f(cyc / double(tmp.size()));
          f.period_cv = to_f(cv);
        } else {
          f.burst_period_ms = to_f(pm.mean);
          f.period_cv = to_f(pm.cv);
        }
        if (n_complete > 0 && pm.mean > 0) f.duty_cycle = to_f(dur_sum / double(n_complete) / pm.mean);
      }
      if (k > 0) {
        out.label = kRegularBursting;
        f.pattern_k = to_f(double(k));
      } else {
        out.label = kIrregularBursting;
      }
      return out;
    }
  }

  // ---- tonic: the ISI sequence repeats with period k (k = 1: plain tonic) ----
  const int k = best_period(isi.data(), m, s.tonic_max_pattern, s);
  if (k > 0) {
    out.label = kTonic;
    f.pattern_k = to_f(double(k));
    f.period_cv = to_f(cycle_cv(isi.data(), m, k, tmp));
    return out;
  }
  out.label = kIrregular;
  return out;
}

}  // namespace ns
