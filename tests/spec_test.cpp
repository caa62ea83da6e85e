// Tests of the sweep specification (host/spec.*, host/sobol.*). Expected values come from the
// published Prinz 2003 grid / 2004 Table 2 (shared/reference/prinz-stg-model.md), Joe & Kuo's
// published first Sobol points, closed-form statistics and hand calculation, never from our code.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <unistd.h>

#include "spec/sobol.hpp"
#include "spec/spec.hpp"

using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

json minimal() {
  return json{{"model", "stg"}, {"dt", "0.05 ms"}, {"transient", "0 ms"}, {"analysis", "1 s"}};
}

ns::RunSpec parse(const json& j) { return ns::parse_spec(j, "test.json"); }

std::vector<double> fill_all(const ns::Sweep& s) {
  std::vector<double> out(s.size() * s.n_params());
  s.fill(0, s.size(), out.data());
  return out;
}

// Column of parameter `name` of all instances.
std::vector<double> column(const ns::RunSpec& r, const std::string& name) {
  const auto all = fill_all(r.sweep);
  const size_t n = r.sweep.size();
  const int k = r.model->param_index(name);
  return std::vector<double>(all.begin() + k * n, all.begin() + (k + 1) * n);
}

void expect_error(const std::function<void()>& f, const std::vector<std::string>& needles) {
  try {
    f();
    ADD_FAILURE() << "no SpecError thrown; expected one containing \"" << needles.at(0) << "\"";
  } catch (const ns::SpecError& e) {
    const std::string msg = e.what();
    for (const auto& n : needles)
      EXPECT_NE(msg.find(n), std::string::npos) << "message: " << msg << "\nlacks: " << n;
  }
}
json with_key(json j, const char* key, const char* value) {
  j[key] = value;
  return j;
}

void expect_error(const json& j, const std::vector<std::string>& needles) {
  expect_error([&] { parse(j); }, needles);
}

std::string read_text(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// P03 conductance levels (reference section 2.1), order Na, CaT, CaS, A, KCa, Kd, H, leak.
const char* kG[8] = {"gNa", "gCaT", "gCaS", "gA", "gKCa", "gKd", "gH", "gleak"};
const double kStep[8] = {100, 2.5, 2, 10, 5, 25, 0.01, 0.01};

}  // namespace

// ---- Prinz 2003 grid and mixed-radix order ------------------------------------------------------

TEST(SpecGrid, Prinz2003NumberingMatchesModelNumbers) {
  const auto r = ns::load_spec(std::string(NS_SOURCE_DIR) + "/sweeps/prinz2003.json");
  ASSERT_EQ(r.sweep.size(), 1679616u);  // 6^8, P03
  ASSERT_EQ(r.sweep.axes().size(), 8u);
  const size_t np = r.sweep.n_params();
  auto levels_of = [&](uint64_t model_number) {
    const auto p = r.sweep.params_of(model_number - 1);
    std::vector<double> g;
    for (auto name : kG) g.push_back(p[static_cast<size_t>(r.model->param_index(name))]);
    return g;
  };
  // Model 1: every conductance at level 0; the last model: every conductance at level 5.
  for (double g : levels_of(1)) EXPECT_EQ(g, 0.0);
  const auto last = levels_of(1679616);
  for (int k = 0; k < 8; ++k) EXPECT_NEAR(last[k], 5 * kStep[k], 1e-12) << kG[k];
  // Hand-computed: levels (2,0,3,1,5,4,0,2) in base 6, Na most significant:
  // ((((((2*6+0)*6+3)*6+1)*6+5)*6+4)*6+0)*6+2 = 585722, model number 585723.
  const auto g = levels_of(585723);
  const double expect[8] = {200, 0, 6, 10, 25, 100, 0, 0.02};
  for (int k = 0; k < 8; ++k) EXPECT_NEAR(g[k], expect[k], 1e-12) << kG[k];
  EXPECT_EQ(r.sweep.decode(585722), (std::vector<uint64_t>{2, 0, 3, 1, 5, 4, 0, 2}));
  // Model number 2 differs from model 1 in the leak only (least significant digit); model 6^7+1
  // in Na only.
  EXPECT_NEAR(levels_of(2)[7], 0.01, 1e-15);
  EXPECT_NEAR(levels_of(279937)[0], 100, 0);
  // Non-swept parameters keep the model defaults; only the 8 conductances are swept columns.
  const auto p0 = r.sweep.params_of(0);
  EXPECT_EQ(p0.size(), np);
  EXPECT_EQ(p0[static_cast<size_t>(r.model->param_index("E_Na"))], 50.0);
  std::vector<int> swept;
  for (auto name : kG) swept.push_back(r.model->param_index(name));
  std::sort(swept.begin(), swept.end());
  EXPECT_EQ(r.sweep.swept_params(), swept);
  // decode/encode round trip over a spread of indices
  for (uint64_t i = 0; i < r.sweep.size(); i += 7919) EXPECT_EQ(r.sweep.encode(r.sweep.decode(i)), i);
  EXPECT_EQ(r.n_transient, 200000);  // 10 s / 0.05 ms
  EXPECT_EQ(r.n_analysis, 200000);
}

TEST(SpecGrid, LinspaceAndLogspace) {
  json j = minimal();
  j["axes"] = {{{"kind", "grid"}, {"param", "gCaS"}, {"linspace", {{"start", 0}, {"stop", 12.6}, {"count", 64}}}},
               {{"kind", "grid"}, {"param", "gleak"}, {"logspace", {{"start", 0.001}, {"stop", 1}, {"count", 4}}}},
               {{"kind", "grid"}, {"param", "gKd"}, {"values", {125, 100, 50}}}};
  const auto r = parse(j);
  ASSERT_EQ(r.sweep.size(), 64u * 4u * 3u);
  const auto& ax = r.sweep.axes();
  ASSERT_EQ(ax[0].values.size(), 64u);
  // step (12.6 - 0)/63 = 0.2; rounding of j*0.2 is below 1e-14 in absolute terms.
  for (size_t j2 = 0; j2 < 64; ++j2) EXPECT_NEAR(ax[0].values[j2], 0.2 * double(j2), 1e-13);
  EXPECT_EQ(ax[0].values.back(), 12.6);
  // logspace spaces the values themselves: 1e-3, 1e-2, 1e-1, 1 (relative 1e-14: exp/log rounding).
  const double dec[4] = {1e-3, 1e-2, 1e-1, 1.0};
  for (int k = 0; k < 4; ++k) EXPECT_NEAR(ax[1].values[k], dec[k], 1e-14 * dec[k]);
  EXPECT_EQ(ax[2].values, (std::vector<double>{125, 100, 50}));  // strictly decreasing is fine
  // First axis slowest: instance (a, b, c) = a*12 + b*3 + c.
  const auto p = r.sweep.params_of(5 * 12 + 2 * 3 + 1);
  EXPECT_NEAR(p[static_cast<size_t>(r.model->param_index("gCaS"))], 1.0, 1e-13);
  EXPECT_NEAR(p[static_cast<size_t>(r.model->param_index("gleak"))], 0.1, 1e-15);
  EXPECT_EQ(p[static_cast<size_t>(r.model->param_index("gKd"))], 100.0);
  EXPECT_EQ(ax[0].kind, ns::AxisKind::kGrid);
  EXPECT_EQ(ax[0].name, "gCaS");
}

TEST(SpecGrid, ListAndLinkedAxes) {
  json j = minimal();
  j["axes"] = {{{"kind", "linked"}, {"params", {{"gNa", {100, 200, 300}}, {"gKd", {25, 50, 75}}}}},
               {{"kind", "list"}, {"param", "I_ext"}, {"values", {0.5, 0, 0.5, -1}}}};
  const auto r = parse(j);
  ASSERT_EQ(r.sweep.size(), 12u);
  EXPECT_EQ(r.sweep.axes()[0].name, "gKd+gNa");
  EXPECT_EQ(r.sweep.axes()[1].kind, ns::AxisKind::kList);
  const auto na = column(r, "gNa"), kd = column(r, "gKd"), ie = column(r, "I_ext");
  const double list[4] = {0.5, 0, 0.5, -1};
  for (size_t i = 0; i < 12; ++i) {
    EXPECT_EQ(na[i], 100.0 * double(i / 4 + 1));
    EXPECT_EQ(kd[i], na[i] / 4.0);  // linked: the pairs (100,25), (200,50), (300,75)
    EXPECT_EQ(ie[i], list[i % 4]);
  }
  const auto sw = r.sweep.swept_params();
  EXPECT_EQ(sw.size(), 3u);
}

TEST(SpecGrid, CategoricalPresetsGivePrinz2004Table2) {
  // P04 Table 2 (reference section 4.4), mS/cm^2, order Na, CaT, CaS, A, KCa, Kd, H, leak.
  const std::map<std::string, std::vector<double>> table2 = {
      {"ABPD1", {400, 2.5, 6, 50, 10, 100, 0.01, 0}}, {"ABPD2", {100, 2.5, 6, 50, 5, 100, 0.01, 0}},
      {"ABPD3", {200, 2.5, 4, 50, 5, 50, 0.01, 0}},   {"ABPD4", {200, 5.0, 4, 40, 5, 125, 0.01, 0}},
      {"ABPD5", {300, 2.5, 2, 10, 5, 125, 0.01, 0}},  {"LP1", {100, 0, 8, 40, 5, 75, 0.05, 0.02}},
      {"LP2", {100, 0, 6, 30, 5, 50, 0.05, 0.02}},    {"LP3", {100, 0, 10, 50, 5, 100, 0, 0.03}},
      {"LP4", {100, 0, 4, 20, 0, 25, 0.05, 0.03}},    {"LP5", {100, 0, 6, 30, 0, 50, 0.03, 0.02}},
      {"PY1", {100, 2.5, 2, 50, 0, 125, 0.05, 0.01}}, {"PY2", {200, 7.5, 0, 50, 0, 75, 0.05, 0}},
      {"PY3", {200, 10, 0, 50, 0, 100, 0.03, 0}},     {"PY4", {400, 2.5, 2, 50, 0, 75, 0.05, 0}},
      {"PY5", {500, 2.5, 2, 40, 0, 125, 0.01, 0.03}}, {"PY6", {500, 2.5, 2, 40, 0, 125, 0, 0.02}}};
  json j = minimal();
  j["axes"] = {{{"kind", "categorical"}, {"presets", "all"}}};
  const auto r = parse(j);
  ASSERT_EQ(r.sweep.size(), 16u);
  const auto& ax = r.sweep.axes()[0];
  ASSERT_EQ(ax.labels.size(), 16u);
  EXPECT_EQ(ax.name, "preset");
  std::set<std::string> seen;
  for (uint64_t i = 0; i < 16; ++i) {
    const auto p = r.sweep.params_of(i);
    const auto& want = table2.at(ax.labels[i]);
    seen.insert(ax.labels[i]);
    for (int k = 0; k < 8; ++k)
      EXPECT_EQ(p[static_cast<size_t>(r.model->param_index(kG[k]))], want[k]) << ax.labels[i] << " " << kG[k];
    EXPECT_EQ(p[static_cast<size_t>(r.model->param_index("E_K"))], -80.0);  // untouched default
  }
  EXPECT_EQ(seen.size(), 16u);
  // A chosen subset, plus a user-defined set; parameters not set by a set keep their base value.
  j["fixed"] = {{"I_ext", 0.3}};
  j["axes"] = {{{"kind", "categorical"},
                {"presets", {"PY6", {{"name", "mine"}, {"params", {{"gNa", 123}}}}, "LP3"}}}};
  const auto r2 = parse(j);
  ASSERT_EQ(r2.sweep.size(), 3u);
  EXPECT_EQ(r2.sweep.axes()[0].labels, (std::vector<std::string>{"PY6", "mine", "LP3"}));
  const auto mine = r2.sweep.params_of(1);
  EXPECT_EQ(mine[static_cast<size_t>(r2.model->param_index("gNa"))], 123.0);
  EXPECT_EQ(mine[static_cast<size_t>(r2.model->param_index("gKd"))], 0.0);  // default
  EXPECT_EQ(mine[static_cast<size_t>(r2.model->param_index("I_ext"))], 0.3);
  EXPECT_EQ(r2.sweep.params_of(2)[static_cast<size_t>(r2.model->param_index("gCaS"))], 10.0);  // LP3
}

// ---- random axes -------------------------------------------------------------------------------

TEST(SpecRandom, DeterministicBoundedAndChunkIndependent) {
  json j = minimal();
  j["seed"] = 12345;
  j["combine"] = "sample";
  const uint64_t N = 100000;
  j["axes"] = {{{"kind", "random"}, {"count", N},
                {"params", {{"gNa", {{"low", 100}, {"high", 500}}},
                            {"gKd", {{"low", 1}, {"high", 1000}, {"scale", "log"}}}}}}};
  const auto r = parse(j);
  ASSERT_EQ(r.sweep.size(), N);
  const auto na = column(r, "gNa"), kd = column(r, "gKd");
  // Bounds.
  for (uint64_t i = 0; i < N; ++i) {
    ASSERT_GE(na[i], 100.0);
    ASSERT_LE(na[i], 500.0);
    ASSERT_GE(kd[i], 1.0);
    ASSERT_LE(kd[i], 1000.0);
  }
  // Uniform mean: (a+b)/2 = 300 with standard error (b-a)/sqrt(12 N); allow 4 SE
  // (false-alarm probability 6e-5 for a correct generator).
  double m = 0, ml = 0, mx = 0, my = 0, sxy = 0, sxx = 0, syy = 0;
  for (uint64_t i = 0; i < N; ++i) {
    m += na[i];
    ml += std::log(kd[i]);
  }
  m /= N;
  ml /= N;
  EXPECT_NEAR(m, 300.0, 4 * 400.0 / std::sqrt(12.0 * N));
  // Log-uniform: ln(kd) uniform on [0, ln 1000].
  const double L = std::log(1000.0);
  EXPECT_NEAR(ml, L / 2, 4 * L / std::sqrt(12.0 * N));
  // Independence of the two parameters: correlation within 4/sqrt(N).
  for (uint64_t i = 0; i < N; ++i) {
    mx += na[i];
    my += std::log(kd[i]);
  }
  mx /= N;
  my /= N;
  for (uint64_t i = 0; i < N; ++i) {
    sxy += (na[i] - mx) * (std::log(kd[i]) - my);
    sxx += (na[i] - mx) * (na[i] - mx);
    syy += (std::log(kd[i]) - my) * (std::log(kd[i]) - my);
  }
  EXPECT_LT(std::fabs(sxy / std::sqrt(sxx * syy)), 4.0 / std::sqrt(double(N)));
  // 10 equal bins of gNa: counts within 4 binomial SDs of N/10.
  std::vector<int> bins(10, 0);
  for (double v : na) bins[std::min(9, int((v - 100.0) / 40.0))]++;
  for (int b : bins) EXPECT_NEAR(b, N / 10.0, 4 * std::sqrt(N * 0.1 * 0.9));

  // Same spec + seed: the same values; chunking does not matter.
  const auto all = fill_all(r.sweep);
  EXPECT_EQ(all, fill_all(parse(j).sweep));
  const size_t np = r.sweep.n_params();
  for (size_t chunk : {1u, 7u, 1000u, 4096u}) {
    std::vector<double> buf;
    for (uint64_t i0 = 0; i0 < 20000; i0 += chunk) {
      const size_t n = std::min<uint64_t>(chunk, 20000 - i0);
      buf.assign(n * np, 0.0);
      r.sweep.fill(i0, n, buf.data());
      for (size_t k = 0; k < np; ++k)
        for (size_t q = 0; q < n; ++q) ASSERT_EQ(buf[k * n + q], all[k * N + i0 + q]) << chunk;
    }
  }
  // Another seed: other values.
  j["seed"] = 12346;
  const auto na2 = column(parse(j), "gNa");
  int same = 0;
  for (uint64_t i = 0; i < 1000; ++i) same += na2[i] == na[i];
  EXPECT_EQ(same, 0);
}

TEST(SpecRandom, RandomAxisInAProductIsCrossedWithTheOthers) {
  json j = minimal();
  j["axes"] = {{{"kind", "grid"}, {"param", "gNa"}, {"values", {100, 200, 300}}},
               {{"kind", "random"}, {"count", 5}, {"params", {{"gKd", {{"low", 0}, {"high", 100}}}}}}};
  const auto r = parse(j);
  ASSERT_EQ(r.sweep.size(), 15u);
  const auto kd = column(r, "gKd");
  std::set<double> distinct(kd.begin(), kd.end());
  EXPECT_EQ(distinct.size(), 5u);
  for (size_t i = 0; i < 15; ++i) EXPECT_EQ(kd[i], kd[i % 5]);  // same 5 draws for every gNa
}

// ---- Sobol -------------------------------------------------------------------------------------

// mix64 (neurosweep/hash.hpp) is the SplitMix64 output function that every random axis, Sobol
// scramble and random model input is built on: SplitMix64 seeded with 0 outputs mix64(n * golden)
// for n = 0, 1, ..., and its first four outputs are published with Vigna's reference code
// (https://prng.di.unimi.it/splitmix64.c; also the xoshiro seeding example).
TEST(Hash, Mix64IsSplitMix64) {
  const uint64_t golden = 0x9e3779b97f4a7c15ULL;
  const uint64_t published[4] = {0xE220A8397B1DCDAFULL, 0x6E789E6AA1B965F4ULL, 0x06C45D188009454FULL,
                                 0xF88BB8A8724C81ECULL};
  for (uint64_t n = 0; n < 4; ++n) EXPECT_EQ(ns::mix64(n * golden), published[n]) << "output " << n;
}

// Kinds and modes are enums after parsing; the spec's names map to them and back unchanged (the
// database stores the names: to_string must give exactly what the spec said).
TEST(SpecEnums, SpecNamesMapToEnumsAndBack) {
  const char* kinds[] = {"grid", "list", "linked", "categorical", "random", "sobol"};
  const ns::AxisKind enums[] = {ns::AxisKind::kGrid,        ns::AxisKind::kList,   ns::AxisKind::kLinked,
                                ns::AxisKind::kCategorical, ns::AxisKind::kRandom, ns::AxisKind::kSobol};
  for (int k = 0; k < 6; ++k) EXPECT_STREQ(ns::to_string(enums[k]), kinds[k]);
  EXPECT_STREQ(ns::to_string(ns::Combine::kSample), "sample");
  EXPECT_STREQ(ns::to_string(ns::InitialKind::kThermalized), "thermalized");
  json j = minimal();
  j["precision"] = "double";
  j["gating"] = "direct";
  j["combine"] = "sample";
  j["axes"] = {{{"kind", "sobol"}, {"count", 4}, {"scramble", "shift"}, {"params", {{"gNa", {{"low", 1}, {"high", 2}}}}}},
               {{"kind", "random"}, {"count", 4}, {"params", {{"gKd", {{"low", 1}, {"high", 2}}}}}}};
  const auto r = parse(j);
  EXPECT_EQ(r.precision, ns::Precision::Double);
  ASSERT_TRUE(r.gating.has_value());
  EXPECT_EQ(*r.gating, ns::Gating::Direct);
  EXPECT_EQ(r.sweep.combine(), ns::Combine::kSample);
  ASSERT_EQ(r.sweep.axes().size(), 2u);
  EXPECT_EQ(r.sweep.axes()[0].kind, ns::AxisKind::kSobol);
  EXPECT_EQ(r.sweep.axes()[0].scramble, ns::sobol::Scramble::Shift);
  EXPECT_EQ(r.sweep.axes()[1].kind, ns::AxisKind::kRandom);
}

TEST(SpecSobol, JoeKuoTableIsWellFormed) {
  // Every polynomial x^s + a_1 x^(s-1) + ... + a_(s-1) x + 1 must be primitive over GF(2): the
  // multiplicative order of x modulo it is 2^s - 1. Every m_k odd and < 2^k. Rows sorted by
  // (degree, a) and distinct, as in Joe & Kuo's construction.
  const auto* t = ns::sobol::joe_kuo_table();
  for (int r = 0; r < ns::sobol::kJoeKuoRows; ++r) {
    const auto& row = t[r];
    EXPECT_EQ(row.d, r + 2);
    const int s = row.s;
    const unsigned poly = (1u << s) | (row.a << 1) | 1u;
    ASSERT_LT(row.a, 1u << (s - 1 > 0 ? s - 1 : 0) | (s == 1 ? 1u : 0u));
    unsigned x = 1;  // x^0
    unsigned order = 0;
    for (unsigned e = 1; e <= (1u << s); ++e) {
      x <<= 1;
      if (x & (1u << s)) x ^= poly;
      if (x == 1) {
        order = e;
        break;
      }
    }
    EXPECT_EQ(order, (1u << s) - 1) << "dimension " << row.d;
    for (int k = 1; k <= s; ++k) {
      EXPECT_EQ(row.m[k - 1] % 2, 1u) << "dimension " << row.d;
      EXPECT_LT(row.m[k - 1], 1u << k) << "dimension " << row.d;
    }
    if (r > 0) {
      const auto& prev = t[r - 1];
      EXPECT_TRUE(prev.s < s || (prev.s == s && prev.a < row.a)) << "dimension " << row.d;
    }
  }
}

TEST(SpecSobol, FirstPointsMatchPublishedSequence) {
  // First 10 points of the 3-D Sobol sequence with the Joe & Kuo (2008) direction numbers, as
  // printed by Joe & Kuo's reference program (https://web.maths.unsw.edu.au/~fkuo/sobol/).
  const double pub[10][3] = {{0, 0, 0},          {0.5, 0.5, 0.5},       {0.75, 0.25, 0.25},
                             {0.25, 0.75, 0.75}, {0.375, 0.375, 0.625}, {0.875, 0.875, 0.125},
                             {0.625, 0.125, 0.875}, {0.125, 0.625, 0.375},
                             {0.1875, 0.3125, 0.9375}, {0.6875, 0.8125, 0.4375}};
  for (int i = 0; i < 10; ++i)
    for (int d = 0; d < 3; ++d) EXPECT_EQ(ns::sobol::point(d, i), pub[i][d]) << i << "," << d;
  // Through a spec: parameters are assigned dimensions in name order (gA, gCaS, gCaT).
  json j = minimal();
  j["axes"] = {{{"kind", "sobol"}, {"count", 10}, {"scramble", "none"},
                {"params", {{"gCaT", {{"low", 0}, {"high", 1}}}, {"gA", {{"low", 0}, {"high", 1}}},
                            {"gCaS", {{"low", 0}, {"high", 1}}}}}}};
  const auto r = parse(j);
  const auto a = column(r, "gA"), b = column(r, "gCaS"), c = column(r, "gCaT");
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(a[i], pub[i][0]);
    EXPECT_EQ(b[i], pub[i][1]);
    EXPECT_EQ(c[i], pub[i][2]);
  }
}

TEST(SpecSobol, UnscrambledNetsInAllDimensions) {
  // Any valid direction numbers make the first 2^m points of each coordinate a permutation of
  // {k / 2^m}: checks the recurrence for all 40 dimensions.
  const int m = 12;
  for (int d = 0; d < ns::sobol::kMaxDims; ++d) {
    std::vector<int> hit(1 << m, 0);
    for (uint64_t i = 0; i < (1u << m); ++i) {
      const double x = ns::sobol::point(d, i);
      ASSERT_EQ(x * (1 << m), std::floor(x * (1 << m))) << d;  // exactly m binary digits
      hit[static_cast<size_t>(x * (1 << m))]++;
    }
    for (int h : hit) ASSERT_EQ(h, 1) << "dimension " << d;
  }
}

TEST(SpecSobol, ScrambledPointsAreStratified) {
  for (const char* scr : {"owen", "shift"}) {
    json j = minimal();
    j["seed"] = 99;
    const int m = 10;
    const uint64_t N = 1u << m;
    json params = json::object();
    for (auto name : kG) params[name] = {{"low", 0}, {"high", 1}};
    j["axes"] = {{{"kind", "sobol"}, {"count", N}, {"scramble", scr}, {"params", params}}};
    const auto r = parse(j);
    std::vector<std::vector<double>> x;
    for (auto name : {"gA", "gCaS", "gCaT", "gH", "gKCa", "gKd", "gNa", "gleak"}) x.push_back(column(r, name));
    for (size_t d = 0; d < x.size(); ++d) {
      for (int k = 1; k <= m; ++k) {
        std::vector<uint64_t> bins(1u << k, 0);
        for (double v : x[d]) {
          ASSERT_GE(v, 0.0);
          ASSERT_LT(v, 1.0);
          bins[static_cast<size_t>(v * (1 << k))]++;
        }
        for (auto b : bins) ASSERT_EQ(b, N >> k) << scr << " dim " << d << " k " << k;
      }
    }
    // Dimensions 1 and 2 of Sobol form a (0, m, 2)-net, kept by both scrambles: every box of
    // 2^-k by 2^-(m-k) holds exactly one point.
    for (int k = 0; k <= m; ++k) {
      std::vector<int> box(N, 0);
      for (uint64_t i = 0; i < N; ++i) {
        const uint64_t bx = static_cast<uint64_t>(x[0][i] * (1 << k));
        const uint64_t by = static_cast<uint64_t>(x[1][i] * (1 << (m - k)));
        box[(bx << (m - k)) | by]++;
      }
      for (int b : box) ASSERT_EQ(b, 1) << scr << " k " << k;
    }
    // Scrambled: not the plain points, and another seed gives other points.
    EXPECT_NE(x[0][0], 0.0);
    j["seed"] = 100;
    EXPECT_NE(column(parse(j), "gA")[5], x[0][5]);
  }
}

TEST(SpecSobol, ChunkIndependenceOfAMixedProduct) {
  json j = minimal();
  j["seed"] = 5;
  j["axes"] = {{{"kind", "categorical"}, {"presets", {"ABPD1", "LP1"}}},
               {{"kind", "sobol"}, {"count", 33}, {"params", {{"I_ext", {{"low", -1}, {"high", 1}}},
                                                               {"E_leak", {{"low", -60}, {"high", -40}}}}}},
               {{"kind", "random"}, {"count", 9}, {"params", {{"tau_Ca", {{"low", 50}, {"high", 500}, {"scale", "log"}}}}}},
               {{"kind", "grid"}, {"param", "temperature"}, {"linspace", {{"start", 280}, {"stop", 290}, {"count", 3}}}}};
  const auto r = parse(j);
  ASSERT_EQ(r.sweep.size(), 2u * 33 * 9 * 3);
  const auto all = fill_all(r.sweep);
  const size_t N = r.sweep.size(), np = r.sweep.n_params();
  for (size_t chunk : {1u, 5u, 64u, 1000u}) {
    for (uint64_t i0 = 0; i0 < N; i0 += chunk) {
      const size_t n = std::min<uint64_t>(chunk, N - i0);
      std::vector<double> buf(n * np);
      r.sweep.fill(i0, n, buf.data());
      for (size_t k = 0; k < np; ++k)
        for (size_t q = 0; q < n; ++q) ASSERT_EQ(buf[k * n + q], all[k * N + i0 + q]);
    }
  }
  EXPECT_THROW(r.sweep.fill(N - 1, 2, std::vector<double>(2 * np).data()), std::out_of_range);
}

// ---- durations, defaults, hash, initial state ----------------------------------------------------

TEST(SpecTop, DurationsDefaultsAndHash) {
  json j = minimal();
  j["dt"] = {{"value", 0.025}, {"unit", "ms"}};
  j["transient"] = "2 s";
  j["analysis"] = "1500 ms";
  const auto r = parse(j);
  EXPECT_EQ(r.dt_ms, 0.025);
  EXPECT_EQ(r.n_transient, 80000);
  EXPECT_EQ(r.n_analysis, 60000);
  EXPECT_EQ(r.precision, ns::Precision::Float);
  EXPECT_FALSE(r.gating.has_value());
  EXPECT_EQ(r.initial().kind, ns::InitialKind::kCold);
  EXPECT_EQ(r.sweep.size(), 1u);  // no axes: one instance
  EXPECT_EQ(r.seed, 0u);
  // Key order and whitespace do not change the canonical form or the hash; values do.
  const auto a = ns::parse_spec_text(
      R"({"model":"stg","analysis":"1 s","transient":"0 ms","dt":"0.05 ms"})", "<string>");
  const auto b = ns::parse_spec_text(
      "{\n  \"dt\": \"0.05 ms\", // comment\n  \"model\": \"stg\", \"transient\": \"0 ms\", \"analysis\": \"1 s\"}",
      "<string>");
  EXPECT_EQ(a.hash, b.hash);
  EXPECT_EQ(a.canonical, b.canonical);
  const auto c = ns::parse_spec_text(
      R"({"model":"stg","analysis":"2 s","transient":"0 ms","dt":"0.05 ms"})", "<string>");
  EXPECT_NE(a.hash, c.hash);
}

TEST(SpecTop, IntegrationAndConstantsOfTheStgModels) {
  const auto d = parse(minimal());
  EXPECT_EQ(d.integration, ns::kExpEuler);
  EXPECT_EQ(d.constants, ns::kCodata2018);
  json j = minimal();
  j["integration"] = "prinz";
  j["constants"] = "prinz_lab";
  const auto r = parse(j);
  EXPECT_EQ(r.integration, ns::kPrinzEuler);
  EXPECT_EQ(r.constants, ns::kPrinzLab);
  EXPECT_NE(r.hash, d.hash);  // part of the spec hash
  json k = minimal();
  k["integration"] = "prinz";
  EXPECT_NE(parse(k).hash, r.hash);
  EXPECT_NE(parse(k).hash, d.hash);
  for (const char* model : {"pyloric", "stg_circuit"}) {
    json c = j;
    c["model"] = model;
    if (std::string(model) == "stg_circuit") {
      c["circuit"] = json::parse(R"({"cells": [{"name": "A", "neuron": "ABPD1"}], "synapses": []})");
    }
    EXPECT_EQ(parse(c).integration, ns::kPrinzEuler) << model;
  }
  expect_error(with_key(minimal(), "integration", "rk4"), {"test.json", "integration", "rk4", "exp_euler", "prinz"});
  expect_error(with_key(minimal(), "constants", "codata2014"), {"constants", "codata2014", "prinz_lab"});
  json pt = minimal();
  pt["model"] = "izhikevich";
  expect_error(with_key(pt, "integration", "prinz"), {"integration", "izhikevich", "stg, pyloric and stg_circuit"});
  expect_error(with_key(pt, "constants", "prinz_lab"), {"constants", "izhikevich"});
}

TEST(SpecTop, InitialStateAndOutput) {
  json j = minimal();
  json st = json::object();
  const auto* m = ns::find_model("stg");
  for (size_t k = 0; k < m->state.size(); ++k) st[m->state[k].name] = double(k) * 0.5;
  j["initial"] = st;
  j["axes"] = {{{"kind", "grid"}, {"param", "gNa"}, {"values", {1, 2, 3}}}};
  j["output"] = {{"final_state", true}, {"spikes", 50},
                 {"traces", {{"instances", {2, 0}}, {"every", "1 ms"}}}};
  const auto r = parse(j);
  EXPECT_EQ(r.initial().kind, ns::InitialKind::kExplicit);
  ASSERT_EQ(r.initial().state.size(), m->state.size());
  for (size_t k = 0; k < m->state.size(); ++k) EXPECT_EQ(r.initial().state[k], double(k) * 0.5);
  EXPECT_TRUE(r.out_final_state);
  EXPECT_EQ(r.out_spikes, 50);
  EXPECT_EQ(r.trace_instances, (std::vector<uint64_t>{0, 2}));
  EXPECT_EQ(r.trace_every_steps, 20);

  // from_database: relative to the spec file's directory.
  const fs::path dir = fs::temp_directory_path() / ("ns_spec_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "start.h5") << "x";
  json k = minimal();
  k["initial"] = {{"from_database", "start.h5"}};
  std::ofstream(dir / "spec.json") << k.dump();
  const auto r2 = ns::load_spec((dir / "spec.json").string());
  EXPECT_EQ(r2.initial().kind, ns::InitialKind::kDatabase);
  EXPECT_EQ(fs::path(r2.initial().database), dir / "start.h5");
  EXPECT_EQ(r2.name, "spec");  // default name: the file's stem
  fs::remove_all(dir);
}

// ---- every example stays true ------------------------------------------------------------------

TEST(SpecExamples, EveryJsonBlockOfTheDocsParses) {
  const std::string doc = read_text(std::string(NS_SOURCE_DIR) + "/docs/SWEEP_SPEC.md");
  ASSERT_FALSE(doc.empty());
  int n = 0;
  size_t pos = 0;
  while ((pos = doc.find("```json\n", pos)) != std::string::npos) {
    const size_t start = pos + 8;
    const size_t end = doc.find("```", start);
    ASSERT_NE(end, std::string::npos);
    const std::string block = doc.substr(start, end - start);
    const size_t line = 1 + std::count(doc.begin(), doc.begin() + static_cast<long>(start), '\n');
    EXPECT_NO_THROW(ns::parse_spec_text(block, "docs/SWEEP_SPEC.md line " + std::to_string(line)))
        << block;
    try {
      ns::parse_spec_text(block, "docs/SWEEP_SPEC.md line " + std::to_string(line));
    } catch (const std::exception& e) {
      ADD_FAILURE() << e.what();
    }
    ++n;
    pos = end + 3;
  }
  EXPECT_GE(n, 6);
}

TEST(SpecExamples, EverySweepFileParses) {
  int n = 0;
  for (const auto& e : fs::recursive_directory_iterator(std::string(NS_SOURCE_DIR) + "/sweeps")) {
    if (e.path().extension() != ".json") continue;
    // scripts/make_pointnet_example.py generates a SONATA network there (git-ignored): its JSON
    // files are BMTK's (config, dynamics_params); only sweep.json is a spec
    if (e.path().parent_path().string().find("pointnet_example") != std::string::npos && e.path().filename() != "sweep.json")
      continue;
    try {
      const auto r = ns::load_spec(e.path().string());
      EXPECT_GT(r.sweep.size(), 0u);
    } catch (const std::exception& ex) {
      ADD_FAILURE() << ex.what();
    }
    ++n;
  }
  EXPECT_GE(n, 8);
  // The demo builds in about half a minute on 2 cores: a few thousand instances of <= 4e5 steps.
  const auto d = ns::load_spec(std::string(NS_SOURCE_DIR) + "/sweeps/demo.json");
  EXPECT_LE(double(d.sweep.size()) * double(d.n_transient + d.n_analysis), 2.0e9);
  ASSERT_EQ(d.sweep.axes().size(), 2u);
}

// ---- malformed specs: each error names the file, the key path and the value ----------------------

TEST(SpecErrors, SyntaxErrorsGiveLineAndColumn) {
  expect_error([] { ns::parse_spec_text("{\n  \"model\": \"stg\",\n  \"dt\": ,\n}", "bad.json"); },
               {"bad.json:3:9", "syntax error"});
  expect_error([] { ns::parse_spec_text("", "empty.json"); }, {"empty.json:1:1", "syntax error"});
  expect_error([] { ns::parse_spec_text(R"({"model": "stg", "model": "stg"})", "dup.json"); },
               {"dup.json", "model", "duplicate key"});
  expect_error([] { ns::parse_spec_text(R"({"axes": [{"kind": "grid", "kind": "list"}]})", "dup.json"); },
               {"axes[0].kind", "duplicate key"});
  expect_error([] { ns::load_spec("/nonexistent/dir/spec.json"); }, {"/nonexistent/dir/spec.json", "cannot open"});
  expect_error([] { ns::parse_spec_text("[1, 2]", "arr.json"); }, {"arr.json", "(top level)", "[1,2]"});
}

TEST(SpecErrors, TypesUnknownKeysAndValues) {
  auto with = [](const std::function<void(json&)>& edit) {
    json j = minimal();
    edit(j);
    return j;
  };
  const json grid = {{"kind", "grid"}, {"param", "gNa"}, {"values", {0, 100}}};
  // wrong types
  expect_error(with([](json& j) { j["dt"] = true; }), {"test.json", "dt", "true"});
  expect_error(with([&](json& j) { j["axes"] = {grid}; j["axes"][0]["values"] = {0, 100, 200, "x"}; }),
               {"axes[0].values[3]", "\"x\"", "a number"});
  expect_error(with([](json& j) { j["seed"] = -1; }), {"seed", "-1", "non-negative"});
  expect_error(with([](json& j) { j["output"] = {{"spikes", -3}}; }), {"output.spikes", "-3"});
  // unknown keys at several levels, with suggestions
  expect_error(with([](json& j) { j["trasient"] = "1 s"; }), {"trasient", "did you mean \"transient\""});
  expect_error(with([&](json& j) { j["axes"] = {{{"kind", "grid"}, {"param", "gNa"}, {"vals", {1}}}}; }),
               {"axes[0].vals", "did you mean \"values\""});
  expect_error(with([](json& j) { j["output"] = {{"traces", {{"instances", {0}}, {"evry", "1 ms"}}}}; }),
               {"output.traces.evry", "did you mean \"every\""});
  expect_error(with([](json& j) { j["dt"] = {{"value", 0.05}, {"units", "ms"}}; }), {"dt.units", "\"unit\""});
  // non-finite numbers
  expect_error(with([](json& j) { j["fixed"] = {{"gNa", std::nan("")}}; }), {"fixed.gNa", "NaN"});
  expect_error(with([&](json& j) {
                 j["axes"] = {grid};
                 j["axes"][0]["values"][1] = std::numeric_limits<double>::infinity();
               }),
               {"axes[0].values[1]", "Infinity"});
  // sizes
  expect_error(with([](json& j) {
                 j["axes"] = {{{"kind", "random"}, {"count", 1ULL << 40}, {"params", {{"gNa", {{"low", 0}, {"high", 1}}}}}},
                              {{"kind", "grid"}, {"param", "gKd"}, {"linspace", {{"start", 0}, {"stop", 1}, {"count", 1000}}}}};
               }),
               {"axes", "1099511627776 x 1000", "2^48"});
  expect_error(with([](json& j) { j["axes"] = {{{"kind", "grid"}, {"param", "gNa"}, {"values", json::array()}}}; }),
               {"axes[0].values", "[]", "non-empty"});
  expect_error(with([](json& j) {
                 j["axes"] = {{{"kind", "random"}, {"count", 0}, {"params", {{"gNa", {{"low", 0}, {"high", 1}}}}}}};
               }),
               {"axes[0].count", "0"});
  // time
  expect_error(with([](json& j) { j["dt"] = "-0.05 ms"; }), {"dt", "\"-0.05 ms\"", "positive"});
  expect_error(with([](json& j) { j["dt"] = 0.05; }), {"dt", "0.05", "unit"});
  expect_error(with([](json& j) { j["dt"] = "0.05 us"; }), {"dt", "0.05 us", "\"ms\" or \"s\""});
  expect_error(with([](json& j) { j["analysis"] = "50 ms"; }), {"analysis", "\"50 ms\"", "100 ms"});
  expect_error(with([](json& j) { j["transient"] = "-1 s"; }), {"transient", "-1 s", ">= 0"});
  expect_error(with([](json& j) { j["analysis"] = "1000.01 ms"; }),
               {"analysis", "1000.01 ms", "whole number of steps"});
  expect_error(with([](json& j) { j.erase("analysis"); }), {"analysis", "missing required key"});
  // model, parameters, presets
  expect_error(with([](json& j) { j["model"] = "stgg"; }), {"model", "\"stgg\"", "did you mean \"stg\""});
  expect_error(with([](json& j) { j["fixed"] = {{"gNaa", 1}}; }),
               {"fixed.gNaa", "did you mean \"gNa\"", "valid parameters: gNa, gCaT"});
  expect_error(with([](json& j) { j["axes"] = {{{"kind", "categorical"}, {"presets", {"ABPD1", "ABPD9"}}}}; }),
               {"axes[0].presets[1]", "\"ABPD9\"", "ABPD1"});
  expect_error(with([&](json& j) { j["axes"] = {grid, grid}; }), {"axes[1].param", "gNa", "axes[0]"});
  expect_error(with([&](json& j) { j["axes"] = {grid}; j["fixed"] = {{"gNa", 5}}; }),
               {"axes[0].param", "gNa", "fixed at fixed.gNa"});
  expect_error(with([](json& j) {
                 j["axes"] = {{{"kind", "linked"}, {"params", {{"gKd", {1, 2, 3}}, {"gNa", {1, 2}}}}}};
               }),
               {"axes[0].params.gNa", "got 2 values", "expected 3"});
  expect_error(with([](json& j) {
                 j["axes"] = {{{"kind", "random"}, {"count", 4}, {"params", {{"gNa", {{"low", 5}, {"high", 5}}}}}}};
               }),
               {"axes[0].params.gNa", "low = 5", "low < high"});
  expect_error(with([](json& j) {
                 j["axes"] = {{{"kind", "sobol"}, {"count", 4}, {"params", {{"gKd", {{"low", 0}, {"high", 5}, {"scale", "log"}}}}}}};
               }),
               {"axes[0].params.gKd.low", "0", "log"});
  expect_error(with([](json& j) {
                 j["axes"] = {{{"kind", "grid"}, {"param", "gH"}, {"logspace", {{"start", 0}, {"stop", 1}, {"count", 3}}}}};
               }),
               {"axes[0].logspace.start", "0", "positive"});
  // axis kinds and combination
  expect_error(with([](json& j) { j["axes"] = {{{"param", "gNa"}, {"values", {1}}}}; }),
               {"axes[0].kind", "missing required key", "never inferred"});
  expect_error(with([](json& j) { j["axes"] = {{{"kind", "grd"}, {"param", "gNa"}, {"values", {1}}}}; }),
               {"axes[0].kind", "\"grd\"", "did you mean \"grid\""});
  expect_error(with([](json& j) { j["axes"] = {{{"kind", "grid"}, {"param", "gNa"}, {"values", {0, 100, 50}}}}; }),
               {"axes[0].values[2]", "50", "kind \"list\""});
  expect_error(with([&](json& j) { j["combine"] = "sample"; j["axes"] = {grid}; }),
               {"axes[0].kind", "\"grid\"", "sample"});
  expect_error(with([](json& j) {
                 j["combine"] = "sample";
                 j["axes"] = {{{"kind", "random"}, {"count", 4}, {"params", {{"gNa", {{"low", 0}, {"high", 1}}}}}},
                              {{"kind", "sobol"}, {"count", 8}, {"params", {{"gKd", {{"low", 0}, {"high", 1}}}}}}};
               }),
               {"axes[1].count", "8", "4 like axes[0].count"});
  // output and initial state
  expect_error(with([&](json& j) { j["axes"] = {grid}; j["output"] = {{"traces", {{"instances", {1, 5}}}}}; }),
               {"output.traces.instances[1]", "5", "< 2"});
  expect_error(with([](json& j) { j["initial"] = {{"from_database", "nope/missing.h5"}}; }),
               {"initial.from_database", "nope/missing.h5", "existing database file"});
  expect_error(with([](json& j) { j["initial"] = {{"V", -50}}; }), {"initial", "missing state variables", "Ca"});
  expect_error(with([](json& j) { j["initial"] = "warm"; }), {"initial", "\"warm\"", "cold"});
  expect_error(with([](json& j) { j["precision"] = "half"; }), {"precision", "\"half\"", "\"float\", \"double\""});
  expect_error(with([](json& j) { j["classifier"] = 3; }), {"classifier", "3", "object"});
}

// A NEST/BMTK dynamics_params file as the fixed base of a sweep: its values apply, `fixed`
// overrides them, an unknown name is an error naming the file and listing valid names, and the
// file's values are part of the spec hash.
TEST(SpecParameterFile, DynamicsParamsFileIsTheFixedBase) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("ns_pf_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "lif.json") << R"({"C_m": 200.0, "tau_m": 20.0, "V_th": -50.0})";
  std::ofstream(dir / "bad.json") << R"({"C_m": 200.0, "tau_mem": 20.0})";
  const std::string spec = R"({"model": "iaf_psc_exp", "dt": "0.1 ms", "transient": "0 ms", "analysis": "1 s",
    "seed": 1, "parameter_file": "PF", "fixed": {"V_th": -52.0},
    "axes": [{"kind": "grid", "param": "I_e", "values": [400, 600]}]})";
  auto with = [&](const std::string& f) {
    std::string t = spec;
    t.replace(t.find("PF"), 2, f);
    std::ofstream(dir / "spec.json") << t;
    return (dir / "spec.json").string();
  };
  const ns::RunSpec r = ns::load_spec(with("lif.json"));
  const ns::ModelDesc& m = *r.model;
  EXPECT_DOUBLE_EQ(r.base_params[m.param_index("C_m")], 200.0);
  EXPECT_DOUBLE_EQ(r.base_params[m.param_index("tau_m")], 20.0);
  EXPECT_DOUBLE_EQ(r.base_params[m.param_index("V_th")], -52.0);  // fixed wins over the file
  EXPECT_DOUBLE_EQ(r.base_params[m.param_index("t_ref")], 2.0);   // NEST default kept
  const auto p = r.sweep.params_of(1);
  EXPECT_DOUBLE_EQ(p[m.param_index("I_e")], 600.0);
  EXPECT_DOUBLE_EQ(p[m.param_index("C_m")], 200.0);
  std::ofstream(dir / "lif.json") << R"({"C_m": 210.0, "tau_m": 20.0, "V_th": -50.0})";
  EXPECT_NE(ns::load_spec(with("lif.json")).hash, r.hash);
  try {
    ns::load_spec(with("bad.json"));
    FAIL() << "unknown parameter in the file must be an error";
  } catch (const ns::SpecError& e) {
    const std::string w = e.what();
    EXPECT_NE(w.find("bad.json"), std::string::npos) << w;
    EXPECT_NE(w.find("tau_mem"), std::string::npos) << w;
    EXPECT_NE(w.find("tau_m"), std::string::npos) << w;  // the valid names are listed
  }
  fs::remove_all(dir);
}
