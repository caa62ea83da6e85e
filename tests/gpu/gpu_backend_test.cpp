// GPU tests (built only with the CUDA backend). Each test skips visibly where no device is
// present, never passes silently. On a GPU they compare the CUDA backend with the CPU reference.
#include <gtest/gtest.h>

#include <random>

#include "../test_util.hpp"

namespace {
void require_device() {
  std::string why;
  if (ns::cuda_device_count(&why) <= 0) GTEST_SKIP() << "no CUDA device: " << why;
}
}  // namespace

TEST(CudaBackend, MatchesCpuOnP04Neurons) {
  require_device();
  if (testing::Test::IsSkipped()) return;
  std::vector<std::vector<double>> rows;
  for (const auto& n : nstest::p04_names()) rows.push_back(nstest::preset_params(n));
  const auto cols = nstest::columns(rows);
  for (auto g : {ns::Gating::Direct, ns::Gating::Table}) {
    auto s = nstest::settings(ns::Precision::Double, g, 10000, 10000);
    ns::ChunkInput in;
    in.n = rows.size();
    in.params = cols.data();
    ns::ChunkOutput gpu, cpu;
    ns::make_backend("cuda")->run(s, in, gpu);
    ns::make_cpu_backend()->run(s, in, cpu);
    for (size_t i = 0; i < rows.size(); ++i) {
      const auto name = nstest::p04_names()[i];
      EXPECT_EQ(gpu.status[i], ns::kOk) << name;
      if (name == "LP4" || name == "LP5") continue;  // rounding-sensitive (reference section 7)
      const auto a = nstest::stats(nstest::spikes_of(gpu, i)), b = nstest::stats(nstest::spikes_of(cpu, i));
      if (name.rfind("ABPD", 0) == 0)
        EXPECT_NEAR(a.period_ms, b.period_ms, 0.002 * b.period_ms) << name;
      else
        EXPECT_NEAR(double(a.n), double(b.n), 0.01 * b.n + 1) << name;
    }
  }
}

TEST(CudaBackend, LargeChunkNoNaNAndDeterministic) {
  require_device();
  if (testing::Test::IsSkipped()) return;
  const size_t n = 100000;
  const double step[8] = {100, 2.5, 2, 10, 5, 25, 0.01, 0.01};
  const ns::ModelDesc* m = ns::find_model("stg");
  std::vector<double> cols(n * m->params.size());
  const auto def = m->defaults();
  std::mt19937 rng(3);
  for (size_t k = 0; k < def.size(); ++k)
    for (size_t i = 0; i < n; ++i) cols[k * n + i] = k < 8 ? step[k] * (rng() % 6) : def[k];
  auto s = nstest::settings(ns::Precision::Float, ns::Gating::Table, 0, 1000);
  ns::ChunkInput in;
  in.n = n;
  in.params = cols.data();
  ns::ChunkOutput a, b;
  auto be = ns::make_backend("cuda");
  be->run(s, in, a);
  be->run(s, in, b);
  EXPECT_EQ(a.final_state, b.final_state);
  size_t bad = 0;
  for (auto st : a.status) bad += st != ns::kOk;
  EXPECT_EQ(bad, 0u);
}

// One chunk split over several devices (NEUROSWEEP_CUDA_DEVICES; the same device named twice or
// three times exercises the split on a one-GPU machine) gives exactly the single-device result:
// spikes, extrema, status and final state, with a start state given, for STG and a point model
// with Poisson input (counter-based random numbers keyed by the global instance index).
TEST(CudaBackend, ChunkSplitOverDevicesIsBitIdentical) {
  require_device();
  if (testing::Test::IsSkipped()) return;
  for (const char* model : {"stg", "iaf_psc_exp"}) {
    const ns::ModelDesc* m = ns::find_model(model);
    const size_t n = 3001;  // not a multiple of the slice count
    std::vector<double> cols(n * m->params.size());
    const auto def = m->defaults();
    std::mt19937 rng(11);
    for (size_t k = 0; k < def.size(); ++k)
      for (size_t i = 0; i < n; ++i) cols[k * n + i] = def[k];
    if (std::string(model) == "stg") {
      const double step[8] = {100, 2.5, 2, 10, 5, 25, 0.01, 0.01};
      for (size_t k = 0; k < 8; ++k)
        for (size_t i = 0; i < n; ++i) cols[k * n + i] = step[k] * (rng() % 6);
    } else {
      const int re = m->param_index("rate_ex"), we = m->param_index("weight_ex"), ie = m->param_index("I_e");
      for (size_t i = 0; i < n; ++i) {
        cols[re * n + i] = 5000 + 10.0 * (i % 100);
        cols[we * n + i] = 15;
        cols[ie * n + i] = 100 + (rng() % 300);
      }
    }
    auto s = nstest::settings(ns::Precision::Float, ns::Gating::Table, 0, 500);
    s.model = model;
    s.want_final_state = true;
    ns::ChunkInput in;
    in.n = n;
    in.first_index = 12345;
    in.params = cols.data();
    ns::ChunkOutput one, split;
    unsetenv("NEUROSWEEP_CUDA_DEVICES");
    ns::make_backend("cuda")->run(s, in, one);
    setenv("NEUROSWEEP_CUDA_DEVICES", "0,0,0", 1);
    auto be = ns::make_backend("cuda");
    be->run(s, in, split);
    unsetenv("NEUROSWEEP_CUDA_DEVICES");
    EXPECT_NE(be->device().find("3 devices"), std::string::npos) << be->device();
    EXPECT_EQ(one.n_spikes, split.n_spikes) << model;
    EXPECT_EQ(one.spike_times, split.spike_times) << model;
    EXPECT_EQ(one.v_min, split.v_min) << model;
    EXPECT_EQ(one.v_max, split.v_max) << model;
    EXPECT_EQ(one.status, split.status) << model;
    EXPECT_EQ(one.final_state, split.final_state) << model;
    size_t spikes = 0;
    for (auto c : one.n_spikes) spikes += c;
    EXPECT_GT(spikes, n) << model << ": the comparison needs spiking instances";
  }
}
