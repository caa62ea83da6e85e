// The CPU backend against the single-instance reference path (the code the CUDA kernel runs per
// thread): bit-for-bit, for every precision and gating mode, for chunk sizes that are not
// multiples of the SIMD tile, and independent of the thread count.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "test_util.hpp"

namespace {

// Random P03-grid neurons (levels 0..5 of each conductance, section 2.1 of the reference).
std::vector<std::vector<double>> random_grid_neurons(size_t n, unsigned seed) {
  const double step[8] = {100, 2.5, 2, 10, 5, 25, 0.01, 0.01};
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> lev(0, 5);
  const ns::ModelDesc* m = ns::find_model("stg");
  std::vector<std::vector<double>> rows;
  for (size_t i = 0; i < n; ++i) {
    auto p = m->defaults();
    for (int k = 0; k < 8; ++k) p[k] = step[k] * lev(rng);
    rows.push_back(p);
  }
  return rows;
}

using nstest::expect_bits_equal;

void expect_same(const ns::ChunkOutput& a, const ns::ChunkOutput& b) {
  expect_bits_equal(a.n_spikes, b.n_spikes, "n_spikes");
  expect_bits_equal(a.spike_times, b.spike_times, "spike_times");
  expect_bits_equal(a.final_state, b.final_state, "final_state");
  expect_bits_equal(a.v_min, b.v_min, "v_min");
  expect_bits_equal(a.v_max, b.v_max, "v_max");
  expect_bits_equal(a.v_mean, b.v_mean, "v_mean");
  expect_bits_equal(a.status, b.status, "status");
}

}  // namespace

TEST(CpuBackend, BitForBitEqualToSingleInstanceReference) {
  const auto rows = random_grid_neurons(37, 1234);  // 37: not a multiple of the tile width
  const auto cols = nstest::columns(rows);
  for (auto p : {ns::Precision::Float, ns::Precision::Double})
    for (auto g : {ns::Gating::Direct, ns::Gating::Table}) {
      auto s = nstest::settings(p, g, 500, 1500);
      ns::ChunkInput in;
      in.n = rows.size();
      in.params = cols.data();
      in.first_index = 1000;
      ns::ChunkOutput cpu, ref;
      ns::make_cpu_backend()->run(s, in, cpu);
      ns::run_reference(s, in, ref);
      SCOPED_TRACE(ns::to_string(p) + "/" + ns::to_string(g));
      expect_same(cpu, ref);
      size_t spiking = 0;
      for (auto c : cpu.n_spikes) spiking += c > 0;
      EXPECT_GT(spiking, 3u);  // the comparison covers spike recording, not only silence
    }
}

TEST(CpuBackend, IdenticalWithOneAndTwoThreads) {
  const auto rows = random_grid_neurons(101, 99);
  const auto cols = nstest::columns(rows);
  auto s = nstest::settings(ns::Precision::Float, ns::Gating::Direct, 200, 1000);
  ns::ChunkInput in;
  in.n = rows.size();
  in.params = cols.data();
  ns::ChunkOutput one, two;
  s.threads = 1;
  ns::make_cpu_backend()->run(s, in, one);
  s.threads = 2;
  ns::make_cpu_backend()->run(s, in, two);
  expect_same(one, two);
}

TEST(CpuBackend, GivenInitialStateContinuesARun) {
  // Integrating 1000 ms and then 1000 ms more from the final state equals 2000 ms in one go.
  const auto rows = random_grid_neurons(9, 7);
  const auto cols = nstest::columns(rows);
  ns::ChunkInput in;
  in.n = rows.size();
  in.params = cols.data();
  auto s_full = nstest::settings(ns::Precision::Double, ns::Gating::Direct, 1000, 1000);
  auto s_half = nstest::settings(ns::Precision::Double, ns::Gating::Direct, 0, 1000);
  ns::ChunkOutput full, a, b;
  auto be = ns::make_cpu_backend();
  be->run(s_full, in, full);
  be->run(s_half, in, a);
  in.init_state = a.final_state.data();
  be->run(s_half, in, b);
  expect_bits_equal(full.final_state, b.final_state, "final_state");
  expect_bits_equal(full.n_spikes, b.n_spikes, "n_spikes");
}

TEST(CpuBackend, NonFiniteParametersGiveStatusNotCrash) {
  auto rows = random_grid_neurons(3, 5);
  rows[1][0] = std::nan("");  // gNa = NaN
  const auto cols = nstest::columns(rows);
  ns::ChunkInput in;
  in.n = rows.size();
  in.params = cols.data();
  auto s = nstest::settings(ns::Precision::Float, ns::Gating::Direct, 0, 100);
  ns::ChunkOutput out;
  ns::make_cpu_backend()->run(s, in, out);
  EXPECT_EQ(out.status[0], ns::kOk);
  EXPECT_EQ(out.status[1], ns::kNonFinite);
  EXPECT_EQ(out.status[2], ns::kOk);
}

TEST(Backends, AutoFallsBackToCpuAndCudaFailsClearlyWithoutDevice) {
  std::string why;
  if (ns::cuda_device_count(&why) > 0) GTEST_SKIP() << "a CUDA device is present; see tests/gpu";
  std::string notice;
  auto b = ns::make_backend("auto", &notice);
  EXPECT_EQ(b->name(), "cpu");
  EXPECT_NE(notice.find("no CUDA device"), std::string::npos) << notice;
  try {
    ns::make_backend("cuda");
    FAIL() << "--backend cuda without a device must throw";
  } catch (const ns::BackendError& e) {
    EXPECT_NE(std::string(e.what()).find("no usable CUDA device"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ns::make_backend("tpu"), ns::BackendError);
}

// Circuits through the table path: the CPU backend fetches the rows of every cell for a whole tile
// before each step (pyloric declares its lookups); stg_circuit looks them up lane by lane. Both
// must equal the single-instance reference bit for bit. 21 random P04 networks (not a multiple of
// the tile width), synapse strengths from the P04 levels.
TEST(CpuBackend, CircuitsWithTablesBitForBitEqualToReference) {
  const ns::ModelDesc* m = ns::find_model("pyloric");
  ASSERT_NE(m, nullptr);
  std::mt19937 rng(77);
  const char* pops[3] = {"ABPD", "LP", "PY"};
  const char* syn[7] = {"g_ABLP", "g_PDLP", "g_ABPY", "g_PDPY", "g_LPPM", "g_LPPY", "g_PYLP"};
  const double levels[6] = {0, 1, 3, 10, 30, 100};
  std::vector<std::vector<double>> rows;
  for (int i = 0; i < 21; ++i) {
    auto p = m->defaults();
    for (const char* pop : pops) {
      std::vector<const ns::Preset*> opts;
      for (const auto& pr : m->presets)
        if (std::string(pr.name).rfind(pop, 0) == 0) opts.push_back(&pr);
      ASSERT_FALSE(opts.empty()) << pop;
      const ns::Preset* pr = opts[rng() % opts.size()];
      for (int k = 0; k < pr->n_values; ++k) p[m->param_index(pr->values[k].param)] = pr->values[k].value;
    }
    for (const char* s : syn) p[m->param_index(s)] = levels[rng() % 6];
    rows.push_back(p);
  }
  const auto cols = nstest::columns(rows);
  for (auto pr : {ns::Precision::Float, ns::Precision::Double}) {
    auto s = nstest::settings(pr, ns::Gating::Table, 300, 1200);
    s.model = "pyloric";
    ns::ChunkInput in;
    in.n = rows.size();
    in.params = cols.data();
    in.first_index = 5;
    ns::ChunkOutput cpu, ref;
    ns::make_cpu_backend()->run(s, in, cpu);
    ns::run_reference(s, in, ref);
    SCOPED_TRACE(ns::to_string(pr));
    expect_same(cpu, ref);
    size_t spiking = 0;
    for (auto c : cpu.n_spikes) spiking += c > 0;
    EXPECT_GT(spiking, 20u);  // spike recording of many cells is part of the comparison
  }
}
