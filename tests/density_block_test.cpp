// The block-parallel form of the DiPDE density network (include/neurosweep/population/
// density_block.hpp, the code of the CUDA kernel kernels/density_kernels.cuh), run on the host with
// the threads of a block taken one after the other (SerialBlock), must reproduce the CPU path
// (the CPU backend: run_rate_instance<DensityNetworkModel> per network) BIT FOR BIT: rates of every
// bin and series, v_min / v_max / v_mean, n_spikes, status and the whole final state (densities,
// rates, rate history), for block sizes below and above the bin count. Tolerance: none (exact
// equality, NaN equal to NaN): the block code adds every sum in the CPU path's order (the gather
// of apply_J per target bin, the probability sum and threshold flux in bin order by one thread)
// and its only parallel reduction is a maximum, which is exact; the host build has
// -ffp-contract=off, so both paths make the same roundings. The same equality across block sizes
// is the block-size independence of the result.
// Cases: the PopNet tutorial network (E/I, tests/population_density_test.cpp) swept over the E->I
// and I->E weights (inhibitory weights -2 and -6 mV); jumps beyond the grid (+-100 mV on a 70 mV
// grid: every source bin takes the general path); dt 2 ms (the rounding guard rejects the full
// step and the step is redone in sub-steps: docs/POPULATIONS.md "Time step"); a tiny grid (6 bins,
// fewer than the threads); a given start state; the sub-step cap (state NaN, status nonfinite).
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "neurosweep/backend.hpp"
#include "neurosweep/population/density_block.hpp"
#include "run/run.hpp"
#include "spec/spec.hpp"

using json = nlohmann::json;
using M = ns::DensityNetworkModel;

namespace {

json tutorial(const std::string& dt, const std::string& transient, const std::string& analysis) {
  return json{{"model", "dipde_network"},
              {"dt", dt},
              {"transient", transient},
              {"analysis", analysis},
              {"output", {{"rate_bin", "10 ms"}}},
              {"populations",
               {{"internal",
                 {{"E", {{"tau_m", 42.9}, {"v_min", -50}, {"v_max", 20}, {"dv", 0.1}}},
                  {"I", {{"tau_m", 29.9}, {"v_min", -50}, {"v_max", 20}, {"dv", 0.1}}}}},
                {"external", {{"tON", {{"rate", 15.0}}}}},
                {"connections",
                 {{{"source", "E"}, {"target", "I"}, {"weight", 5.0}, {"nsyns", 20}, {"delay", 2}},
                  {{"source", "I"}, {"target", "E"}, {"weight", -2.0}, {"nsyns", 10}, {"delay", 2}},
                  {{"source", "tON"}, {"target", "E"}, {"weight", 2.5}, {"nsyns", 10}, {"delay", 2}}}}}}};
}

struct Run {
  ns::ChunkOutput out;
  double seconds = 0;
};

ns::DensityBlockShared<1024>& shared_block() {
  static auto* sh = new ns::DensityBlockShared<1024>();
  return *sh;
}

// Every network of the chunk on a block of B threads (SerialBlock), outputs laid out as the CPU
// backend lays them out.
Run run_block(const ns::RunSettings& rs, const ns::ChunkInput& in, int B) {
  Run r;
  auto& o = r.out;
  o.resize(in.n, M::kNumObs, rs.sim.max_spikes, M::kNumState, rs.want_final_state);
  const int n_series = std::min<int>(M::kNumRates, static_cast<int>(rs.rate_series.size()));
  const uint64_t nb = rs.rate_bins();
  o.resize_rates(n_series, nb);
  const ns::OutputView ov = o.view();
  std::vector<double> state(M::kNumState);
  ns::SerialBlock ex{B};
  const auto t0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < in.n; ++i) {
    float* rates = nb ? o.rates.data() + i * static_cast<size_t>(n_series) * nb : nullptr;
    ns::DensityBlock::run(ex, shared_block(), state.data(), rs.sim, in.params, in.init_state, in.n, i, ov, rates,
                          rs.rate_bin_steps > 0 ? rs.rate_bin_steps : 1, nb, n_series);
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

bool same(double a, double b) { return a == b || (a != a && b != b); }

void expect_equal(const ns::ChunkOutput& ref, const ns::ChunkOutput& blk, const std::string& what) {
  ASSERT_EQ(ref.rates.size(), blk.rates.size()) << what;
  ASSERT_EQ(ref.n_series, blk.n_series) << what;
  size_t bad = 0;
  for (size_t k = 0; k < ref.rates.size(); ++k)
    if (!same(ref.rates[k], blk.rates[k]) && bad++ < 3)
      ADD_FAILURE() << what << ": rates[" << k << "] " << ref.rates[k] << " vs " << blk.rates[k];
  EXPECT_EQ(bad, 0u) << what << ": rate values differing";
  EXPECT_EQ(ref.n_spikes, blk.n_spikes) << what;
  EXPECT_EQ(ref.status, blk.status) << what;
  for (size_t k = 0; k < ref.v_min.size(); ++k) {
    EXPECT_TRUE(same(ref.v_min[k], blk.v_min[k])) << what << " v_min " << k;
    EXPECT_TRUE(same(ref.v_max[k], blk.v_max[k])) << what << " v_max " << k;
    EXPECT_TRUE(same(ref.v_mean[k], blk.v_mean[k])) << what << " v_mean " << k;
  }
  ASSERT_EQ(ref.final_state.size(), blk.final_state.size()) << what;
  bad = 0;
  for (size_t k = 0; k < ref.final_state.size(); ++k)
    if (!same(ref.final_state[k], blk.final_state[k]) && bad++ < 3)
      ADD_FAILURE() << what << ": final_state[" << k << "] (state " << k / ref.status.size() << ", network "
                    << k % ref.status.size() << ") " << ref.final_state[k] << " vs " << blk.final_state[k];
  EXPECT_EQ(bad, 0u) << what << ": final state values differing";
}

// Runs the spec's sweep on the CPU backend and on blocks of each size; returns the CPU output.
ns::ChunkOutput compare(const json& j, const std::vector<int>& blocks, const std::vector<double>* init = nullptr) {
  const ns::RunSpec spec = ns::parse_spec(j, "block.json");
  const size_t n = spec.sweep.size();
  std::vector<double> params(n * spec.sweep.n_params());
  spec.sweep.fill(0, n, params.data());
  ns::ChunkInput in;
  in.n = n;
  in.params = params.data();
  in.init_state = init ? init->data() : nullptr;
  ns::RunSettings rs = ns::run_settings(spec, 0, 1);
  rs.want_final_state = true;
  ns::ChunkOutput ref;
  const auto t0 = std::chrono::steady_clock::now();
  ns::make_cpu_backend()->run(rs, in, ref);
  const double t_ref = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (int B : blocks) {
    const Run r = run_block(rs, in, B);
    std::printf("[density block] %zu networks, %lld steps: CPU path %.3f s, block emulation B = %d %.3f s\n", n,
                static_cast<long long>(rs.sim.n_transient + rs.sim.n_analysis), t_ref, B, r.seconds);
    expect_equal(ref, r.out, "B = " + std::to_string(B));
  }
  return ref;
}

double max_rate(const ns::ChunkOutput& o) {
  double m = 0;
  for (float r : o.rates) m = std::max(m, double(r));
  return m;
}

}  // namespace

// The PopNet tutorial, E->I weight 4 and 5 mV, I->E -2 and -6 mV (700 bins per population). The
// rates are those of a working network (the tutorial's ~3.5 / 4.2 Hz), and the weights change them.
TEST(DensityBlock, TutorialSweepEqualsCpuBitForBit) {
  json j = tutorial("1 ms", "100 ms", "200 ms");
  j["axes"] = {{{"kind", "list"}, {"param", "E_to_I.weight"}, {"values", {4.0, 5.0}}},
               {{"kind", "list"}, {"param", "I_to_E.weight"}, {"values", {-2.0, -6.0}}}};
  const auto ref = compare(j, {7, 32, 128, 256, 1024});
  EXPECT_GT(max_rate(ref), 2.0);
  // the last bin of E differs between the four networks (the weights matter)
  ASSERT_EQ(ref.rates.size(), 4u * 2u * 20u);
  for (int a = 0; a < 4; ++a)
    for (int b = a + 1; b < 4; ++b) EXPECT_NE(ref.rates[a * 40 + 19], ref.rates[b * 40 + 19]) << a << " " << b;
}

// Jumps of +100 mV (E->I) and -100 mV (I->E) on the 70 mV grid: no fast range, every source bin
// takes the general path; mass leaves above v_max / below v_min.
TEST(DensityBlock, JumpsBeyondTheGridEqualCpuBitForBit) {
  json j = tutorial("1 ms", "0 ms", "100 ms");
  j["populations"]["connections"][0]["weight"] = 100.0;
  j["populations"]["connections"][1]["weight"] = -100.0;
  const auto ref = compare(j, {32, 256, 1024});
  EXPECT_GT(max_rate(ref), 0.01);
}

// Jumps smaller than a bin and of a few bins down: shifts sh = 0 (0.05 mV on dv 0.1), sh = -1
// (-0.05 mV) and sh = -2 (-0.15 mV), the cases where the CPU path's fast run (apply_J's gather
// fast_run) adds a target's contributions in the orders other than the tutorial's (sh >= 1 and
// sh <= -20). The densities must move (the E density of the 4 networks differs in bin 600).
TEST(DensityBlock, SubBinJumpsEqualCpuBitForBit) {
  json j = tutorial("1 ms", "0 ms", "100 ms");
  j["populations"]["connections"][2]["weight"] = 0.07;
  j["populations"]["external"]["tON"]["rate"] = 800.0;
  j["axes"] = {{{"kind", "list"}, {"param", "E_to_I.weight"}, {"values", {0.05, 0.15}}},
               {{"kind", "list"}, {"param", "I_to_E.weight"}, {"values", {-0.05, -0.15}}}};
  const auto ref = compare(j, {32, 256, 1024});
  ASSERT_EQ(ref.final_state.size(), 4u * M::kNumState);
  // E's density has moved up to bin 600 (+10 mV) in every network; I's density (driven by E through
  // the swept E->I weight) differs between the two E->I weights
  const auto at = [&](int pop, int bin, int net) {
    return ref.final_state[static_cast<size_t>(M::kSP + pop * M::kMaxBins + bin) * 4 + net];
  };
  int differ = 0;
  for (int a = 0; a < 4; ++a) {
    EXPECT_GT(at(0, 600, a), 1e-4) << a;
    for (int b = a + 1; b < 4; ++b)
      for (int k = 0; k < 700; ++k)
        if (at(1, k, a) != at(1, k, b)) {
          ++differ;
          break;
        }
  }
  EXPECT_GE(differ, 4);  // at least the 4 pairs with different E->I weights
  EXPECT_GT(max_rate(ref), 0.0);
}

// dt 2 ms: the full Taylor step loses more than kRoundTol to rounding, so (nearly) every step is
// redone in sub-steps (docs/POPULATIONS.md: E 6 sub-steps in 273 of 300 steps).
TEST(DensityBlock, SubStepsAtDt2msEqualCpuBitForBit) {
  const auto ref = compare(tutorial("2 ms", "0 ms", "200 ms"), {32, 128, 1024});
  EXPECT_GT(max_rate(ref), 2.0);
}

// A tiny grid: v in [-10, 20] mV at dv 5 mV (6 bins), jumps of 5 / -2 / 2.5 mV; blocks of 4
// (fewer threads than bins) and 32 (most threads idle).
TEST(DensityBlock, TinyGridEqualsCpuBitForBit) {
  json j = tutorial("1 ms", "0 ms", "300 ms");
  for (const char* p : {"E", "I"}) {
    j["populations"]["internal"][p]["v_min"] = -10;
    j["populations"]["internal"][p]["dv"] = 5;
  }
  const auto ref = compare(j, {1, 4, 32, 256});
  EXPECT_GT(max_rate(ref), 0.1);
}

// A given start state (the final state of a run, rate history included) and a delay of 7 ms.
TEST(DensityBlock, GivenStartStateEqualsCpuBitForBit) {
  json j = tutorial("1 ms", "0 ms", "100 ms");
  j["populations"]["connections"][0]["delay"] = 7;
  const auto first = compare(j, {128});
  const std::vector<double> init = first.final_state;
  const auto ref = compare(j, {64, 256}, &init);
  EXPECT_GT(max_rate(ref), 1.0);
}

// dt 1000 ms needs more than kMaxSubsteps sub-steps: the state and rates become NaN and the status
// nonfinite, on both paths.
TEST(DensityBlock, SubStepCapGivesNonfiniteOnBoth) {
  json j = tutorial("1000 ms", "0 ms", "2000 ms");
  j["output"] = {{"rate_bin", "1000 ms"}};
  const auto ref = compare(j, {32, 256});
  ASSERT_EQ(ref.status.size(), 1u);
  EXPECT_EQ(ref.status[0], ns::kNonFinite);
}
