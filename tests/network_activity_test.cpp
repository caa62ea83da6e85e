// Network activity classifier (host/classify/network_activity.hpp; docs/CLASSIFIER.md, "Network
// activity"): synthetic populations with known statistics, and Brunel's (2000) model A states
// simulated by NEST 3.10 (tests/data/make_brunel_states_nest.py), whose features were computed
// independently with numpy/scipy in that script.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "classify/network_activity.hpp"
#include "errors.hpp"

namespace {

using ns::NetActivitySettings;
using ns::PopActivity;
using ns::PopFeatures;

// A population of n neurons over [0, t_ms): each neuron an inhomogeneous Poisson process of rate
// r0 (1 + m sin(2 pi f t)) (thinning, independent neurons), or, with `regular_period_ms` > 0, a
// periodic train of that period with a random phase per neuron (phase_shared: one phase for all).
// Population rate in 1 ms bins; the first n_sample trains are the sampled neurons.
struct Synth {
  int n = 1000, n_sample = 100;
  double t_ms = 2000, r0 = 20, m = 0, f = 0;
  double regular_period_ms = 0, jitter_ms = 0;
  bool phase_shared = false;
  double t_ref_ms = 0;
  uint64_t seed = 1;
};

PopActivity make_pop(const Synth& s) {
  PopActivity p;
  p.name = "P";
  p.n_neurons = s.n;
  p.bin_ms = 1.0;
  p.t_start_ms = 0;
  p.t_stop_ms = s.t_ms;
  p.t_ref_ms = s.t_ref_ms;
  const int nb = static_cast<int>(s.t_ms);
  std::vector<double> counts(nb, 0.0);
  std::mt19937_64 rng(s.seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::normal_distribution<double> gauss(0.0, 1.0);
  const double shared_phase = u(rng);
  std::vector<double> shared_jitter;
  for (int i = 0; i < s.n; ++i) {
    std::vector<double> t;
    if (s.regular_period_ms > 0) {
      const double ph = (s.phase_shared ? shared_phase : u(rng)) * s.regular_period_ms;
      for (int k = 0;; ++k) {
        if (s.phase_shared && static_cast<size_t>(k) >= shared_jitter.size())
          shared_jitter.push_back(s.jitter_ms * gauss(rng));
        const double x = ph + k * s.regular_period_ms + (s.phase_shared ? shared_jitter[k] : 0.0);
        if (x >= s.t_ms) break;
        if (x >= 0) t.push_back(x);
      }
    } else {
      const double rmax = s.r0 * (1 + s.m) / 1000.0;  // per ms
      std::exponential_distribution<double> ex(rmax);
      for (double x = ex(rng); x < s.t_ms; x += ex(rng)) {
        const double r = s.r0 * (1 + s.m * std::sin(2 * M_PI * s.f * x / 1000.0)) / 1000.0;
        if (u(rng) * rmax < r) t.push_back(x);
      }
    }
    for (double x : t) counts[static_cast<int>(x)] += 1;
    if (i < s.n_sample) p.sample_spikes_ms.push_back(t);
  }
  for (double c : counts) p.rate_hz.push_back(static_cast<float>(c / s.n / p.bin_ms * 1000.0));
  return p;
}

ns::NetActivityResult classify1(const PopActivity& p, const NetActivitySettings& s = {}) {
  return ns::classify_network_activity({p}, s);
}

// Independent Poisson neurons: asynchronous irregular for every size. Golomb's chi of n
// independent neurons is 1/sqrt(n) (chi^2 = 1/n + (1 - 1/n) c, c = 0): with 1000 bins of 2 ms
// its sample chi^2 has a relative SD of sqrt(2/1000) = 4.5%, so chi sqrt(n) is within 10% (4 SD
// of chi). The finite-size-corrected measures stay near 0 at every n: |sync_corr| < 0.01 and
// |sync_kappa| < 4 standard errors. A raw-chi threshold would not be size-independent: chi goes
// from 0.1 (n 100) to 0.022 (n 2000) for the same asynchronous activity.
TEST(NetworkActivity, PoissonIsAIWithChiOneOverSqrtNForEveryN) {
  for (int n : {100, 300, 1000, 2000}) {
    Synth s;
    s.n = n;
    s.n_sample = n;
    s.seed = 10 + n;
    const auto r = classify1(make_pop(s));
    const PopFeatures& f = r.pops[0];
    SCOPED_TRACE("n = " + std::to_string(n));
    EXPECT_EQ(r.label, "AI");
    EXPECT_NEAR(f.synchrony_chi * std::sqrt(double(n)), 1.0, 0.1);
    EXPECT_LT(std::fabs(f.sync_corr), 0.01);
    EXPECT_LT(std::fabs(f.sync_kappa), 4 * f.sync_kappa_se);
    EXPECT_NEAR(f.rate_hz, 20.0, 20.0 * 4 / std::sqrt(20.0 * 2 * n));  // 4 SD of a Poisson count
    // ~39 exponential ISIs per neuron: E[CV] = 0.964, SD 0.142 per neuron (numpy Monte Carlo,
    // 2e5 samples; the sample CV is biased low); 4 SD of the mean over n neurons.
    EXPECT_NEAR(f.cv_isi, 0.964, 4 * 0.142 / std::sqrt(double(n)));
    EXPECT_EQ(f.n_cv, n);
    EXPECT_TRUE(std::isnan(f.osc_freq_hz));  // white spectrum: no peak 4x over its floor
    EXPECT_LT(f.osc_peak_ratio, 4.0);
    EXPECT_EQ(f.label, "AI");
  }
}

// Every neuron fires the same train: one volley every 20 ms with a jitter (SD 1 ms) shared by all
// neurons. Regular (CV = sqrt(2) 1 ms / 20 ms = 0.07), fully synchronous (chi = 1, sync_corr 1),
// a volley train whose harmonics have equal power: the fundamental, 50 Hz, must be found, within
// half a frequency bin (1000 / 256 / 2 = 1.95 Hz).
TEST(NetworkActivity, IdenticalPeriodicTrainsAreSRAtTheirFrequency) {
  Synth s;
  s.regular_period_ms = 20;
  s.jitter_ms = 1;
  s.phase_shared = true;
  const auto r = classify1(make_pop(s));
  const PopFeatures& f = r.pops[0];
  EXPECT_EQ(r.label, "SR");
  EXPECT_NEAR(f.synchrony_chi, 1.0, 1e-9);
  EXPECT_NEAR(f.sync_corr, 1.0, 1e-9);
  EXPECT_GT(f.sync_kappa, 10.0);  // about 20 ms / 1 ms - 1 for volleys in one bin
  EXPECT_NEAR(f.cv_isi, std::sqrt(2.0) / 20, 0.02);
  EXPECT_NEAR(f.osc_freq_hz, 50.0, 1000.0 / 256 / 2);
  EXPECT_NEAR(f.rate_hz, 50.0, 0.6);  // 99 or 100 volleys in 2 s
}

// Brunel's SR state (333 Hz, CV ~0.05; NEST data below) must not be called runaway: runaway is
// saturation at 1/t_ref, not a high rate. Identical trains of period 3 ms with t_ref 2 ms: SR.
// Independent-phase trains of period t_ref + 0.3 ms (435 Hz = 0.87 / t_ref): runaway; the same
// trains with t_ref unknown: asynchronous regular (independent phases: no excess variance).
TEST(NetworkActivity, RunawayIsSaturationNotHighRate) {
  Synth sr;
  sr.regular_period_ms = 3;
  sr.phase_shared = true;
  sr.t_ref_ms = 2;
  sr.t_ms = 1000;
  EXPECT_EQ(classify1(make_pop(sr)).label, "SR");

  Synth sat;
  sat.regular_period_ms = 2.3;
  sat.t_ref_ms = 2;
  sat.t_ms = 1000;
  const PopActivity p = make_pop(sat);
  const auto r = classify1(p);
  EXPECT_EQ(r.label, "runaway");
  EXPECT_NEAR(r.pops[0].rate_hz, 1000 / 2.3, 1.0);
  PopActivity q = p;
  q.t_ref_ms = 0;
  const auto a = classify1(q);
  EXPECT_EQ(a.label, "AR") << a.pops[0].sync_kappa << " se " << a.pops[0].sync_kappa_se << " ratio " << a.pops[0].osc_peak_ratio;
  EXPECT_LT(a.pops[0].cv_isi, 1e-6);
  EXPECT_LT(a.pops[0].sync_kappa, 0.4);
}

TEST(NetworkActivity, SilenceIsQuiescent) {
  PopActivity p;
  p.name = "E";
  p.n_neurons = 500;
  p.bin_ms = 1;
  p.t_start_ms = 100;
  p.t_stop_ms = 1100;
  p.rate_hz.assign(1000, 0.0f);
  p.sample_spikes_ms.assign(50, {});
  const auto r = classify1(p);
  EXPECT_EQ(r.label, "quiescent");
  EXPECT_EQ(r.pops[0].rate_hz, 0.0);
  EXPECT_TRUE(std::isnan(r.pops[0].cv_isi));
  EXPECT_TRUE(std::isnan(r.pops[0].synchrony_chi));
  EXPECT_TRUE(std::isnan(r.pops[0].sync_kappa));
  EXPECT_TRUE(std::isnan(r.pops[0].osc_freq_hz));
  EXPECT_EQ(r.pops[0].osc_power, 0.0);
  EXPECT_EQ(ns::classify_network_activity({}, {}).label, "unclassified");
}

// Two-population networks: the label is the largest active population's; runaway wins; all
// quiescent gives quiescent.
TEST(NetworkActivity, NetworkLabelFromPopulations) {
  Synth ai;
  ai.n = 800;
  PopActivity e = make_pop(ai);
  e.name = "E";
  Synth sr;
  sr.n = 200;
  sr.regular_period_ms = 20;
  sr.phase_shared = true;
  PopActivity i = make_pop(sr);
  i.name = "I";
  auto r = ns::classify_network_activity({i, e}, {});
  EXPECT_EQ(r.label, "AI");
  ASSERT_EQ(r.pops.size(), 2u);
  EXPECT_EQ(r.pops[0].label, "SR");
  EXPECT_EQ(r.pops[1].label, "AI");
  PopActivity quiet = e;
  std::fill(quiet.rate_hz.begin(), quiet.rate_hz.end(), 0.0f);
  for (auto& t : quiet.sample_spikes_ms) t.clear();
  EXPECT_EQ(ns::classify_network_activity({i, quiet}, {}).label, "SR");
  Synth sat;
  sat.n = 100;
  sat.regular_period_ms = 2.1;
  sat.t_ref_ms = 2;
  EXPECT_EQ(ns::classify_network_activity({e, make_pop(sat)}, {}).label, "runaway");
}

// Poisson neurons sharing a sinusoidally modulated rate r0 (1 + m sin 2 pi f t): irregular
// (CV ~1), synchronous (sync_kappa = m^2 / 2 for bins much shorter than the period), at f.
// f = 20 Hz: SI slow; f = 180 Hz: SI fast (Brunel 2000, Fig. 8 D and B).
TEST(NetworkActivity, ModulatedPoissonIsSISlowOrFast) {
  for (double fr : {20.0, 180.0}) {
    Synth s;
    s.r0 = 30;
    s.m = 1.0;
    s.f = fr;
    s.seed = 7;
    const auto r = classify1(make_pop(s));
    const PopFeatures& f = r.pops[0];
    SCOPED_TRACE("f = " + std::to_string(fr));
    EXPECT_EQ(r.label, fr < 65 ? "SI_slow" : "SI_fast");
    // m^2/2 = 0.5, less the smoothing of the 1 ms bins (sinc^2(f bin): 0.5 at 20 Hz, 0.45 at
    // 180 Hz); 4 standard errors of the estimate.
    const double expect = 0.5 * std::pow(std::sin(M_PI * fr / 1000) / (M_PI * fr / 1000), 2);
    EXPECT_NEAR(f.sync_kappa, expect, 4 * f.sync_kappa_se + 0.02);
    EXPECT_NEAR(f.osc_freq_hz, fr, 1000.0 / 256 / 2);
    EXPECT_GT(f.cv_isi, 0.9);
  }
}

TEST(NetworkActivity, LabelIndexAndColumns) {
  const auto& names = ns::network_activity_label_names();
  ASSERT_EQ(names.size(), 7u);
  for (size_t i = 0; i < names.size(); ++i) EXPECT_EQ(ns::network_activity_label_index(names[i]), int(i));
  EXPECT_EQ(ns::network_activity_label_index("unclassified"), -1);
  PopFeatures f{1, 2, 3, 7, 8};
  f.sync_corr = 4;
  f.sync_kappa = 5;
  f.sync_kappa_se = 6;
  f.osc_peak_ratio = 9;
  f.n_cv = 10;
  f.n_sampled = 11;
  const auto& cols = ns::network_activity_feature_columns();
  ASSERT_EQ(cols.size(), 11u);
  std::vector<double> v(cols.size());
  ns::network_activity_feature_values(f, v.data());
  for (size_t i = 0; i < v.size(); ++i) EXPECT_EQ(v[i], double(i + 1)) << cols[i].first;
}

TEST(NetworkActivity, SettingsFromSpecAndErrors) {
  const nlohmann::json j = {{"regular_cv", 0.4}, {"cv_min_spikes", 7}};
  const auto s = NetActivitySettings::from_json(j, "spec.json", "classifier.activity");
  EXPECT_EQ(s.regular_cv, 0.4);
  EXPECT_EQ(s.cv_min_spikes, 7);
  EXPECT_EQ(s.sync_kappa_min, NetActivitySettings{}.sync_kappa_min);
  const nlohmann::json back = s.to_json();
  EXPECT_EQ(back["regular_cv"], 0.4);
  EXPECT_EQ(NetActivitySettings::from_json(back, "x", "y").to_json(), back);
  try {
    NetActivitySettings::from_json({{"runaway_fraction", 1.5}}, "spec.json", "classifier.activity");
    FAIL() << "no error";
  } catch (const ns::SpecError& e) {
    EXPECT_NE(std::string(e.what()).find("spec.json: classifier.activity.runaway_fraction = 1.5"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(NetActivitySettings::from_json({{"regular_CV", 0.4}}, "s", "c"), ns::SpecError);
  EXPECT_THROW(NetActivitySettings::from_json({{"cv_min_spikes", 4.5}}, "s", "c"), ns::SpecError);
}

TEST(NetworkActivity, BadInputNamesPopulationFieldAndValue) {
  PopActivity p;
  p.name = "L4E";
  p.n_neurons = 10;
  p.bin_ms = 0;
  p.t_start_ms = 0;
  p.t_stop_ms = 100;
  p.rate_hz.assign(100, 1.0f);
  try {
    classify1(p);
    FAIL() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("\"L4E\": bin_ms = 0"), std::string::npos) << e.what();
  }
  p.bin_ms = 1;
  p.rate_hz.resize(99);
  EXPECT_THROW(classify1(p), std::invalid_argument);
  p.rate_hz.resize(100);
  p.t_stop_ms = 0;
  EXPECT_THROW(classify1(p), std::invalid_argument);
}

// ---- Brunel (2000) model A in NEST 3.10 ----

struct NestData {
  nlohmann::json meta;
  std::vector<uint16_t> words;
};

const NestData& nest_data() {
  static const NestData d = [] {
    NestData x;
    const std::string dir = std::string(NS_SOURCE_DIR) + "/tests/data/";
    std::ifstream js(dir + "brunel_states_nest.json");
    if (!js) throw std::runtime_error("cannot open " + dir + "brunel_states_nest.json");
    x.meta = nlohmann::json::parse(js);
    std::ifstream bin(dir + x.meta["binary"].get<std::string>(), std::ios::binary);
    std::vector<char> raw((std::istreambuf_iterator<char>(bin)), std::istreambuf_iterator<char>());
    if (raw.size() != 2 * x.meta["binary_words"].get<size_t>())
      throw std::runtime_error("brunel_states_nest.bin: size does not match the JSON");
    x.words.resize(raw.size() / 2);
    for (size_t i = 0; i < x.words.size(); ++i)  // little endian
      x.words[i] = static_cast<uint16_t>(static_cast<uint8_t>(raw[2 * i]) | (static_cast<uint8_t>(raw[2 * i + 1]) << 8));
    return x;
  }();
  return d;
}

std::vector<PopActivity> nest_run(const nlohmann::json& run) {
  const auto& d = nest_data();
  const double h = d.meta["model"]["h_ms"], bin = d.meta["bin_ms"];
  std::vector<PopActivity> pops;
  for (const auto& pj : run["pops"]) {
    PopActivity p;
    p.name = pj["name"];
    p.n_neurons = pj["n_neurons"];
    p.bin_ms = bin;
    p.t_start_ms = run["t_start_ms"];
    p.t_stop_ms = run["t_stop_ms"];
    p.t_ref_ms = d.meta["model"]["t_ref_ms"];
    const size_t off = pj["counts_offset"], nb = pj["n_bins"];
    for (size_t b = 0; b < nb; ++b)
      p.rate_hz.push_back(static_cast<float>(d.words[off + b] / double(p.n_neurons) / (bin * 1e-3)));
    size_t o = pj["sample_offset"];
    for (size_t n : pj["sample_n_spikes"].get<std::vector<size_t>>()) {
      std::vector<double> t;
      for (size_t k = 0; k < n; ++k) t.push_back(static_cast<double>(static_cast<int64_t>(d.words[o + k])) * h);
      o += n;
      p.sample_spikes_ms.push_back(std::move(t));
    }
    pops.push_back(std::move(p));
  }
  return pops;
}

// The feature settings the script used are the defaults (regenerate the data after changing them).
TEST(NetworkActivityNest, DataUsesTheDefaultSettings) {
  const nlohmann::json def = NetActivitySettings{}.to_json();
  for (const auto& [k, v] : nest_data().meta["settings"].items()) {
    ASSERT_TRUE(def.contains(k)) << k;
    EXPECT_EQ(def[k].get<double>(), v.get<double>()) << k;
  }
}

// Every run: the label of the network and of each population is Brunel's state, and the features equal those numpy/scipy computed in
// the script. Tolerances: rates pass through float (relative 1e-6); CV and chi use the same
// double spike times (1e-9); kappa and the spectrum use float rates (relative 1e-4 for kappa and
// osc_power, 1e-3 Hz for the frequency).
TEST(NetworkActivityNest, BrunelStatesAreLabelledAndFeaturesMatchNumpy) {
  const auto& d = nest_data();
  std::printf("%-10s %4s %-8s %-8s %8s %6s %6s %8s %8s %7s\n", "state", "seed", "expected", "label",
              "rate_E", "cv_E", "chi_E", "kappa_E", "osc_E", "ratio");
  for (const auto& run : d.meta["runs"]) {
    const auto pops = nest_run(run);
    const auto r = ns::classify_network_activity(pops, {});
    const std::string state = run["state"];
    SCOPED_TRACE(state + " seed " + std::to_string(run["seed"].get<int>()));
    EXPECT_EQ(r.label, run["expected_label"].get<std::string>());
    ASSERT_EQ(r.pops.size(), pops.size());
    for (size_t i = 0; i < pops.size(); ++i) {
      const auto& e = run["pops"][i]["features"];
      const PopFeatures& f = r.pops[i];
      SCOPED_TRACE(pops[i].name);
      // model A: E and I neurons have the same parameters and inputs, so each population is in
      // the network's state
      EXPECT_EQ(f.label, run["expected_label"].get<std::string>());
      auto num = [](const nlohmann::json& v) { return v.is_null() ? NAN : v.get<double>(); };
      auto near = [&](double got, const nlohmann::json& want, double tol, const char* what) {
        const double w = num(want);
        if (std::isnan(w)) {
          EXPECT_TRUE(std::isnan(got)) << what << " = " << got << ", numpy: NaN";
        } else {
          EXPECT_NEAR(got, w, tol) << what;
        }
      };
      near(f.rate_hz, e["rate_hz"], 1e-6 * num(e["rate_hz"]) + 1e-9, "rate_hz");
      near(f.cv_isi, e["cv_isi"], 1e-9, "cv_isi");
      EXPECT_EQ(f.n_cv, e["n_cv"].get<int>());
      near(f.synchrony_chi, e["synchrony_chi"], 1e-9, "synchrony_chi");
      near(f.sync_corr, e["sync_corr"], 1e-9, "sync_corr");
      near(f.sync_kappa, e["sync_kappa"], 1e-4 * std::fabs(num(e["sync_kappa"])) + 1e-6, "sync_kappa");
      near(f.osc_freq_hz, e["osc_freq_hz"], 1e-3, "osc_freq_hz");
      near(f.osc_power, e["osc_power"], 1e-4 * num(e["osc_power"]) + 1e-9, "osc_power");
      near(f.osc_peak_ratio, e["osc_peak_ratio"], 1e-4 * num(e["osc_peak_ratio"]) + 1e-9, "osc_peak_ratio");
    }
    const PopFeatures& fe = r.pops[0];
    // Brunel's AI state is the stationary state of his mean-field theory (eq. 21; root computed by
    // the script with scipy for this reduced network): the NEST rate within 10%.
    if (state == "AI") EXPECT_NEAR(fe.rate_hz, run["mean_field_rate_hz"].get<double>(), 0.1 * run["mean_field_rate_hz"].get<double>());
    std::printf("%-10s %4d %-8s %-8s %8.2f %6.3f %6.3f %8.3f %8.1f %7.1f\n", state.c_str(),
                run["seed"].get<int>(), run["expected_label"].get<std::string>().c_str(), r.label.c_str(),
                fe.rate_hz, fe.cv_isi, fe.synchrony_chi, fe.sync_kappa, fe.osc_freq_hz, fe.osc_peak_ratio);
  }
}

}  // namespace
