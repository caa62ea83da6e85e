// The start axis on the CUDA backend (issue 14; host/run/starts.hpp): every start on the axis,
// its cold and thermalised states computed on the device, gives exactly (bit for bit) what the
// same backend gives with that start as the single "initial" setting: spikes, final states,
// status. tests/start_axis_test.cpp checks the same on the CPU through `neurosweep run`.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "run/run.hpp"
#include "run/starts.hpp"
#include "spec/spec.hpp"

namespace {

using json = nlohmann::json;

// The whole sweep as one chunk through the backend, from the spec's starts (as `run` does).
ns::ChunkOutput run_all(const ns::RunSpec& spec, ns::Backend& backend) {
  const ns::RunSettings rs = ns::run_settings(spec, 200, 0);
  const size_t n = spec.sweep.size();
  std::vector<double> p(spec.model->params.size() * n), init;
  spec.sweep.fill(0, n, p.data());
  ns::StartStates starts(spec, rs, &backend);
  ns::ChunkInput in;
  in.n = n;
  in.params = p.data();
  in.init_state = starts.fill(0, n, p.data(), init);
  ns::ChunkOutput out;
  backend.run(rs, in, out);
  return out;
}

// Instance i of `a` equals instance j of `b`: status, spike counts and times, final state.
void expect_same(const ns::ChunkOutput& a, size_t i, const ns::ChunkOutput& b, size_t j, const std::string& what) {
  EXPECT_EQ(a.status[i], b.status[j]) << what;
  for (int o = 0; o < a.n_obs; ++o) {
    const size_t si = i * a.n_obs + o, sj = j * b.n_obs + o;
    ASSERT_EQ(a.n_spikes[si], b.n_spikes[sj]) << what << " obs " << o;
    const size_t k = std::min<size_t>(a.n_spikes[si], a.max_spikes);
    EXPECT_EQ(0, std::memcmp(&a.spike_times[si * a.max_spikes], &b.spike_times[sj * b.max_spikes], k * sizeof(float)))
        << what << " obs " << o;
  }
  const size_t na = a.status.size(), nb = b.status.size(), ns_ = a.final_state.size() / na;
  for (size_t k = 0; k < ns_; ++k) EXPECT_EQ(a.final_state[k * na + i], b.final_state[k * nb + j]) << what << " state " << k;
}

void check(const json& base, const json& starts, const std::vector<json>& singles) {
  std::string why;
  if (ns::cuda_device_count(&why) <= 0) GTEST_SKIP() << "no CUDA device: " << why;
  auto cuda = ns::make_backend("cuda");
  json ax = base;
  ax["axes"].push_back({{"kind", "categorical"}, {"starts", starts}});
  const auto with = ns::parse_spec(ax, "<gpu>");
  const auto all = run_all(with, *cuda);
  const size_t k = singles.size();
  for (size_t s = 0; s < k; ++s) {
    json one = base;
    one["initial"] = singles[s];
    const auto single = ns::parse_spec(one, "<gpu>");
    const auto ref = run_all(single, *cuda);
    for (size_t j = 0; j < single.sweep.size(); ++j)
      expect_same(all, j * k + s, ref, j, singles[s].dump() + " instance " + std::to_string(j));
  }
}

}  // namespace

TEST(CudaStartAxis, StgStartsEqualTheirSingleSettings) {
  const json base = json::parse(R"({"model": "stg", "dt": "0.05 ms", "transient": "1 s", "analysis": "2 s",
    "fixed": {"gNa": 100, "gCaT": 2.5, "gA": 50, "gKCa": 5, "gH": 0.01, "gleak": 0},
    "axes": [{"kind": "grid", "param": "gCaS", "values": [0, 4, 8]}, {"kind": "grid", "param": "gKd", "values": [50, 125]}],
    "output": {"final_state": true}})");
  const json expl = json::parse(R"({"V": -70, "Ca": 0.2, "m_Na": 0.01, "h_Na": 0.9, "m_CaT": 0.02, "h_CaT": 0.8,
    "m_CaS": 0.05, "h_CaS": 0.7, "m_A": 0.1, "h_A": 0.5, "m_KCa": 0.05, "m_Kd": 0.03, "m_H": 0.2})");
  check(base, {"cold", {{"thermalize", "1 s"}}, expl}, {"cold", {{"thermalize", "1 s"}}, expl});
}

TEST(CudaStartAxis, PyloricStartsEqualTheirSingleSettings) {
  const json base = json::parse(R"({"model": "pyloric", "dt": "0.05 ms", "transient": "500 ms", "analysis": "2 s",
    "axes": [{"kind": "categorical", "name": "LP", "presets": ["LP1", "LP4"]}, {"kind": "grid", "param": "g_PYLP", "values": [3, 100]}],
    "output": {"final_state": true}})");
  check(base, {"cold", {{"thermalize", "300 ms"}}, {{"thermalize", "1 s"}}},
        {"cold", {{"thermalize", "300 ms"}}, {{"thermalize", "1 s"}}});
}
