// Point-neuron firing-pattern classifier (host/classify/classify_point.hpp): synthetic trains with known
// truth, the feature definitions, settings validation, and the canonical Izhikevich (2003) cells
// through the CPU engine.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "classify/classify_point.hpp"
#include "errors.hpp"
#include "neurosweep/backend.hpp"
#include "neurosweep/models.hpp"

using namespace ns;

namespace {

PointClassification run(const std::vector<float>& t, double window = 1000.0,
                        const PointClassifierSettings& s = PointClassifierSettings()) {
  return classify_point(t.data(), static_cast<uint32_t>(t.size()), static_cast<uint32_t>(t.size()),
                        window, -70.f, 30.f, -60.f, kOk, s);
}

// Spike times from a list of ISIs, first spike at t0.
std::vector<float> from_isis(double t0, const std::vector<double>& isi) {
  std::vector<float> t{float(t0)};
  double x = t0;
  for (double d : isi) t.push_back(float(x += d));
  return t;
}

}  // namespace

TEST(ClassifyPoint, IsPointModel) {
  for (const char* m : {"iaf_psc_exp", "iaf_psc_delta", "iaf_psc_alpha", "izhikevich",
                        "aeif_cond_exp", "aeif_cond_alpha", "hh_psc_alpha", "glif_psc"}) {
    EXPECT_TRUE(is_point_model(m)) << m;
    EXPECT_NE(find_model(m), nullptr) << m;  // every point model is registered
  }
  EXPECT_FALSE(is_point_model("stg"));
  EXPECT_FALSE(is_point_model("nope"));
  EXPECT_EQ(std::string(point_label_name(kPointAdapting)), "adapting");
  EXPECT_EQ(std::string(point_label_name(-1)), "unclassified");
  EXPECT_EQ(point_feature_columns().size(), size_t(kNumPointFeatures));
}

TEST(ClassifyPoint, SilentAndUnclassified) {
  auto c = run({100.f, 600.f});
  EXPECT_EQ(c.label, kPointSilent);
  EXPECT_FLOAT_EQ(c.f.v_rest, -60.f);
  EXPECT_FLOAT_EQ(c.f.rate_hz, 2.f);
  std::vector<float> t{1.f, 2.f, 3.f};
  auto u = classify_point(t.data(), 3, 3, 1000.0, 0, 0, 0, kNonFinite, PointClassifierSettings());
  EXPECT_EQ(u.label, kPointUnclassified);
  EXPECT_TRUE(std::isnan(u.f.rate_hz));
}

// Tonic: 20 ms ISIs from t = 5 ms: rate 50 Hz, latency 5 ms, CV 0, adaptation index 0.
TEST(ClassifyPoint, TonicTrain) {
  std::vector<double> isi(49, 20.0);
  auto c = run(from_isis(5.0, isi));
  EXPECT_EQ(c.label, kPointTonic);
  EXPECT_FLOAT_EQ(c.f.rate_hz, 50.f);
  EXPECT_FLOAT_EQ(c.f.latency_ms, 5.f);
  EXPECT_NEAR(c.f.isi_cv, 0.0, 1e-6);
  EXPECT_NEAR(c.f.adaptation_index, 0.0, 1e-6);
  EXPECT_NEAR(c.f.adaptation_ratio, 1.0, 1e-6);
  EXPECT_EQ(c.f.initial_burst_spikes, 0.f);
}

// Adaptation index: for geometric ISIs (ISI_{i+1} = q ISI_i) every term of
// (ISI_{i+1} - ISI_i)/(ISI_{i+1} + ISI_i) is (q - 1)/(q + 1): the mean is that value exactly.
TEST(ClassifyPoint, AdaptationIndexOfGeometricTrain) {
  for (double q : {1.05, 1.2}) {
    std::vector<double> isi{10.0};
    while (isi.size() < 12) isi.push_back(isi.back() * q);
    auto c = run(from_isis(0.0, isi), 2000.0);
    EXPECT_NEAR(c.f.adaptation_index, (q - 1) / (q + 1), 1e-5) << q;  // float spike times
  }
}

// Adapting: ISIs relax from 10 to 50 ms (50 - 40 e^{-n/3}), then stay: steady/first = ~3.8.
TEST(ClassifyPoint, AdaptingTrain) {
  std::vector<double> isi;
  double t = 0;
  for (int n = 0; t < 990; ++n) {
    isi.push_back(50 - 40 * std::exp(-n / 3.0));
    t += isi.back();
  }
  isi.pop_back();
  auto c = run(from_isis(0.0, isi));
  EXPECT_EQ(c.label, kPointAdapting);
  EXPECT_GT(c.f.adaptation_index, 0.0f);
  EXPECT_GT(c.f.adaptation_ratio, 3.0f);
}

// Repetitive bursts: 4 spikes 5 ms apart every 100 ms.
TEST(ClassifyPoint, RepetitiveBursts) {
  std::vector<float> t;
  for (int b = 0; b < 10; ++b)
    for (int j = 0; j < 4; ++j) t.push_back(float(20 + 100 * b + 5 * j));
  auto c = run(t);
  EXPECT_EQ(c.label, kPointBursting);
  EXPECT_NEAR(c.f.burst_period_ms, 100.0, 1e-3);
  EXPECT_NEAR(c.f.spikes_per_burst, 4.0, 1e-6);
}

// Initial burst then tonic (Izhikevich's IB): 4 spikes 3 ms apart, then 30 ms tonic.
TEST(ClassifyPoint, InitialBurstThenTonic) {
  std::vector<double> isi{3, 3, 3};
  for (int j = 0; j < 30; ++j) isi.push_back(30);
  auto c = run(from_isis(2.0, isi));
  EXPECT_EQ(c.label, kPointBursting);
  EXPECT_EQ(c.f.initial_burst_spikes, 4.f);
  EXPECT_NEAR(c.f.isi_first_ms, 30.0, 1e-4);  // first ISI after the burst
  EXPECT_NEAR(c.f.adaptation_ratio, 1.0, 1e-5);
  // Two short ISIs (3 spikes) are still a burst at the default; a single doublet is not.
  auto d = run(from_isis(2.0, std::vector<double>{3, 30, 30, 30, 30, 30, 30, 30, 30}));
  EXPECT_NE(d.label, kPointBursting);
  EXPECT_EQ(d.f.initial_burst_spikes, 2.f);
}

// Poisson trains (exponential ISIs, 20 Hz, 2 s): irregular. A random train can contain chance
// structure; we require at least 18 of 20 seeds (the count is printed; docs/CLASSIFIER.md).
TEST(ClassifyPoint, PoissonTrainsAreIrregular) {
  int irregular = 0;
  for (unsigned seed = 1; seed <= 20; ++seed) {
    std::mt19937 rng(seed);
    std::exponential_distribution<double> ex(20.0 / 1000.0);
    std::vector<float> t;
    for (double x = ex(rng); x < 2000.0; x += ex(rng)) t.push_back(float(x));
    irregular += run(t, 2000.0).label == kPointIrregular;
  }
  std::printf("Poisson 20 Hz, 2 s: %d of 20 irregular\n", irregular);
  EXPECT_GE(irregular, 18);
}

TEST(ClassifyPoint, SettingsJson) {
  const auto s = PointClassifierSettings::from_json(
      nlohmann::json{{"adaptation_ratio", 2.0}, {"min_spikes", 5}}, "spec.json");
  EXPECT_EQ(s.adaptation_ratio, 2.0);
  EXPECT_EQ(s.base.min_spikes, 5);
  const auto j = s.to_json();
  EXPECT_EQ(j.at("adaptation_ratio"), 2.0);
  EXPECT_EQ(j.at("min_spikes"), 5);
  try {
    PointClassifierSettings::from_json(nlohmann::json{{"adaptation_ratio", 0.5}}, "spec.json");
    FAIL();
  } catch (const SpecError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("spec.json"), std::string::npos) << m;
    EXPECT_NE(m.find("classifier.adaptation_ratio"), std::string::npos) << m;
    EXPECT_NE(m.find("0.5"), std::string::npos) << m;
  }
  try {
    PointClassifierSettings::from_json(nlohmann::json{{"adaptaton_ratio", 2}}, "spec.json");
    FAIL();
  } catch (const SpecError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("adaptaton_ratio"), std::string::npos) << m;
    EXPECT_NE(m.find("adaptation_ratio"), std::string::npos) << m;  // lists the point keys
  }
  EXPECT_THROW(PointClassifierSettings::from_json(nlohmann::json{{"adaptation_skip", 1.5}}, "s"),
               SpecError);
}

// The canonical cells of Izhikevich (2003, IEEE TNN 14:1569, Fig. 2; parameters in its text)
// at I = 10 through the CPU engine (NEST's Euler, h = 0.1 ms, 1 s from NEST's initial state).
// Expected (paper's descriptions): RS tonic with adaptation -> adapting; IB initial burst then
// tonic -> bursting (initial_burst_spikes >= 3); CH repetitive bursts -> bursting; FS high-rate
// tonic with little adaptation -> tonic; LTS high rate with adaptation -> adapting.
TEST(ClassifyPoint, IzhikevichCanonicalCells) {
  struct Cell {
    const char* name;
    double a, b, c, d;
    int expected;
  };
  const Cell cells[] = {{"RS", 0.02, 0.2, -65, 8, kPointAdapting},
                        {"IB", 0.02, 0.2, -55, 4, kPointBursting},
                        {"CH", 0.02, 0.2, -50, 2, kPointBursting},
                        {"FS", 0.1, 0.2, -65, 2, kPointTonic},
                        {"LTS", 0.02, 0.25, -65, 2, kPointAdapting}};
  const ModelDesc* m = find_model("izhikevich");
  ASSERT_NE(m, nullptr);
  const size_t n = std::size(cells);
  const size_t np = m->params.size();
  std::vector<double> cols(np * n);
  for (size_t i = 0; i < n; ++i) {
    auto p = m->defaults();
    p[m->param_index("a")] = cells[i].a;
    p[m->param_index("b")] = cells[i].b;
    p[m->param_index("c")] = cells[i].c;
    p[m->param_index("d")] = cells[i].d;
    p[m->param_index("I_e")] = 10;
    for (size_t k = 0; k < np; ++k) cols[k * n + i] = p[k];
  }
  for (auto prec : {Precision::Double, Precision::Float}) {
    RunSettings s;
    s.model = "izhikevich";
    s.precision = prec;
    s.sim.dt = 0.1;
    s.sim.n_transient = 0;
    s.sim.n_analysis = 10000;
    s.sim.max_spikes = 1000;
    ChunkInput in;
    in.n = n;
    in.params = cols.data();
    ChunkOutput out;
    make_cpu_backend()->run(s, in, out);
    PointClassifierSettings cs;
    for (size_t i = 0; i < n; ++i) {
      const auto c = classify_point(&out.spike_times[i * s.sim.max_spikes],
                                    std::min<uint32_t>(out.n_spikes[i], s.sim.max_spikes),
                                    out.n_spikes[i], 1000.0, out.v_min[i], out.v_max[i],
                                    out.v_mean[i], out.status[i], cs);
      std::printf("%-4s %-6s %-9s rate %6.1f Hz latency %5.1f ms first ISI %6.2f steady %6.2f "
                  "ratio %5.2f A %6.3f burst0 %2.0f n_bursts %4.0f spb %5.2f\n",
                  cells[i].name, to_string(prec).c_str(), point_label_name(c.label), c.f.rate_hz,
                  c.f.latency_ms, c.f.isi_first_ms, c.f.isi_steady_ms, c.f.adaptation_ratio,
                  c.f.adaptation_index, c.f.initial_burst_spikes, c.f.n_bursts,
                  c.f.spikes_per_burst);
      EXPECT_EQ(int(c.label), cells[i].expected) << cells[i].name << " " << to_string(prec);
      if (std::string(cells[i].name) == "IB") EXPECT_GE(c.f.initial_burst_spikes, 3.f);
    }
  }
}

// The AdEx sweep sweeps/adex_naud2008.json: its eight linked parameter sets (Naud et al. 2008,
// Table 1, transcribed) through the CPU engine (aeif_cond_exp, RKF45, h = 0.05 ms, 1 s), labelled
// as the paper names them: tonic -> tonic; adapting -> adapting; initial burst, regular bursting,
// delayed regular bursting -> bursting; delayed accelerating -> tonic (no "accelerating" label:
// adaptation_ratio < 1 is the feature that shows it); transient spiking -> silent or irregular
// (a few spikes then silence); irregular -> irregular.
TEST(ClassifyPoint, AdexNaud2008SweepPatterns) {
  std::ifstream f(std::string(NS_SOURCE_DIR) + "/sweeps/adex_naud2008.json");
  ASSERT_TRUE(f.good());
  const auto spec = nlohmann::json::parse(f, nullptr, true, true);
  const auto& ax = spec.at("axes").at(0).at("params");
  const ModelDesc* m = find_model("aeif_cond_exp");
  const size_t n = ax.at("a").size(), np = m->params.size();
  ASSERT_EQ(n, 8u);
  std::vector<double> cols(np * n);
  for (size_t i = 0; i < n; ++i) {
    auto p = m->defaults();
    for (auto it = spec.at("fixed").begin(); it != spec.at("fixed").end(); ++it)
      p[m->param_index(it.key())] = it.value().get<double>();
    for (auto it = ax.begin(); it != ax.end(); ++it) p[m->param_index(it.key())] = it.value().at(i).get<double>();
    for (size_t k = 0; k < np; ++k) cols[k * n + i] = p[k];
  }
  RunSettings s;
  s.model = "aeif_cond_exp";
  s.precision = Precision::Double;
  s.sim.dt = 0.05;
  s.sim.n_analysis = 20000;
  s.sim.max_spikes = 512;
  ChunkInput in;
  in.n = n;
  in.params = cols.data();
  ChunkOutput out;
  make_cpu_backend()->run(s, in, out);
  const char* names[] = {"tonic", "adapting", "initial burst", "regular bursting",
                         "delayed accelerating", "delayed regular bursting", "transient", "irregular"};
  const int expected[] = {kPointTonic, kPointAdapting, kPointBursting, kPointBursting,
                          kPointTonic, kPointBursting, -2, kPointIrregular};
  for (size_t i = 0; i < n; ++i) {
    const auto c = classify_point(&out.spike_times[i * 512], std::min<uint32_t>(out.n_spikes[i], 512),
                                  out.n_spikes[i], 1000.0, out.v_min[i], out.v_max[i], out.v_mean[i],
                                  out.status[i], PointClassifierSettings());
    std::printf("%-25s %-9s n %3u latency %6.1f ratio %5.2f A %6.3f burst0 %2.0f n_bursts %4.0f\n",
                names[i], point_label_name(c.label), out.n_spikes[i], c.f.latency_ms,
                c.f.adaptation_ratio, c.f.adaptation_index, c.f.initial_burst_spikes, c.f.n_bursts);
    if (i == 4) EXPECT_LT(c.f.adaptation_ratio, 1.0f) << "delayed accelerating: ISIs shorten";
    if (expected[i] == -2)
      EXPECT_TRUE(c.label == kPointSilent || c.label == kPointIrregular) << names[i];
    else
      EXPECT_EQ(int(c.label), expected[i]) << names[i];
  }
}
