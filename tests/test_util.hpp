#pragma once
// Helpers shared by the C++ tests: run P04 neurons through a backend and summarise spike trains
// with simple rules written independently of the classifier module.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "neurosweep/backend.hpp"
#include "neurosweep/models.hpp"

namespace nstest {

// Two arrays hold the same bytes (NaNs included): the bit-for-bit comparisons of the tests.
template <class X>
void expect_bits_equal(const std::vector<X>& a, const std::vector<X>& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  EXPECT_EQ(0, a.empty() ? 0 : std::memcmp(a.data(), b.data(), a.size() * sizeof(X))) << what << " differ";
}

// A 5 x 7 grid of STG neurons (gCaS x gKd around AB/PD 2) with the classifier's slowest period
// lowered so a 4 s window suffices; final states and 20 spikes stored (run and start-axis tests).
inline constexpr const char* kGridSpec = R"({
  "model": "stg", "dt": "0.05 ms", "transient": "1 s", "analysis": "4 s", "seed": 7,
  "fixed": {"gNa": 100, "gCaT": 2.5, "gA": 50, "gKCa": 5, "gH": 0.01, "gleak": 0},
  "axes": [
    {"kind": "grid", "param": "gCaS", "linspace": {"start": 0, "stop": 10, "count": 5}},
    {"kind": "grid", "param": "gKd", "values": [25, 50, 75, 100, 125, 150, 175]}
  ],
  "classifier": {"slowest_period_ms": 1000},
  "output": {"final_state": true, "spikes": 20}
})";

inline std::vector<double> preset_params(const std::string& name) {
  const ns::ModelDesc* m = ns::find_model("stg");
  std::vector<double> p = m->defaults();
  for (const auto& pr : m->presets)
    if (name == pr.name)
      for (int k = 0; k < pr.n_values; ++k) p[m->param_index(pr.values[k].param)] = pr.values[k].value;
  return p;
}

inline std::vector<std::string> p04_names() {
  std::vector<std::string> v;
  for (const auto& pr : ns::find_model("stg")->presets) v.push_back(pr.name);
  return v;
}

// Column-major parameter block for a list of parameter vectors.
inline std::vector<double> columns(const std::vector<std::vector<double>>& rows) {
  const size_t n = rows.size(), np = rows.empty() ? 0 : rows[0].size();
  std::vector<double> c(n * np);
  for (size_t i = 0; i < n; ++i)
    for (size_t k = 0; k < np; ++k) c[k * n + i] = rows[i][k];
  return c;
}

inline std::vector<float> spikes_of(const ns::ChunkOutput& o, size_t i) {
  const uint32_t kept = std::min<uint32_t>(o.n_spikes[i], static_cast<uint32_t>(o.max_spikes));
  return std::vector<float>(o.spike_times.begin() + i * o.max_spikes,
                            o.spike_times.begin() + i * o.max_spikes + kept);
}

// Bursts = groups of spikes separated by gaps longer than `gap_ms`.
struct TrainStats {
  size_t n = 0;
  double period_ms = NAN;       // mean burst onset-to-onset interval (bursting)
  double spikes_per_burst = NAN;
  size_t n_bursts = 0;
  double isi_min = NAN, isi_max = NAN, isi_mean = NAN;
};

inline TrainStats stats(const std::vector<float>& t, double gap_ms = 300.0) {
  TrainStats s;
  s.n = t.size();
  if (t.size() < 2) return s;
  std::vector<double> isi;
  for (size_t j = 1; j < t.size(); ++j) isi.push_back(double(t[j]) - double(t[j - 1]));
  s.isi_min = *std::min_element(isi.begin(), isi.end());
  s.isi_max = *std::max_element(isi.begin(), isi.end());
  s.isi_mean = std::accumulate(isi.begin(), isi.end(), 0.0) / isi.size();
  std::vector<double> onsets{t[0]};
  for (size_t j = 1; j < t.size(); ++j)
    if (isi[j - 1] > gap_ms) onsets.push_back(t[j]);
  s.n_bursts = onsets.size();
  // Complete periods only: from the second onset (the first burst may be cut by the window).
  if (onsets.size() >= 3) {
    s.period_ms = (onsets.back() - onsets[1]) / double(onsets.size() - 2);
    s.spikes_per_burst = double(t.size()) / double(onsets.size());
  }
  return s;
}

inline ns::RunSettings settings(ns::Precision p, ns::Gating g, double transient_ms, double analysis_ms,
                                double dt = 0.05, int max_spikes = 2000) {
  ns::RunSettings s;
  s.model = "stg";
  s.precision = p;
  s.gating = g;
  s.sim.dt = dt;
  s.sim.n_transient = static_cast<int64_t>(std::llround(transient_ms / dt));
  s.sim.n_analysis = static_cast<int64_t>(std::llround(analysis_ms / dt));
  s.sim.spike_threshold = 0.0f;
  s.sim.max_spikes = max_spikes;
  s.want_final_state = true;
  return s;
}

}  // namespace nstest
