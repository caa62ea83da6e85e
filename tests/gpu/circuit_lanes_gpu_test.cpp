// GPU tests of the cell-per-lane circuit kernels (kernels/circuit_kernels.cuh, issue 19). Skipped
// visibly without a device. Bit equality with the whole-network reference is tested on the host
// (tests/circuit_lanes_test.cpp: same per-lane code, exchange by array reads); here the CUDA
// kernels (warp shuffles, device arithmetic with fused multiply-adds) are compared with the CPU
// backend within the CUDA path's contract (README: "CPU and GPU results agree to floating-point
// rounding, not bit for bit"): same status, spike counts per cell within 2% + 1 over 1 s, and
// exact equality between runs and between chunkings (tails of warps that hold fewer networks).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "../test_util.hpp"
#include "neurosweep/backend.hpp"
#include "neurosweep/models.hpp"

namespace {

void require_device() {
  std::string why;
  if (ns::cuda_device_count(&why) <= 0) GTEST_SKIP() << "no CUDA device: " << why;
}

void set(const ns::ModelDesc& m, std::vector<double>& p, const std::string& name, double v) {
  const int k = m.param_index(name);
  ASSERT_GE(k, 0) << name;
  p[static_cast<size_t>(k)] = v;
}

std::vector<double> pyloric_params(int variant) {
  const auto& m = *ns::find_model("pyloric");
  std::vector<double> p = m.defaults();
  const char* ab[2] = {"ABPD1", "ABPD2"};
  const char* lp[2] = {"LP2", "LP4"};
  const char* py[2] = {"PY1", "PY3"};
  for (const auto& pr : m.presets)
    if (pr.name == ab[variant % 2] || pr.name == lp[(variant / 2) % 2] || pr.name == py[variant % 2])
      for (int q = 0; q < pr.n_values; ++q) set(m, p, pr.values[q].param, pr.values[q].value);
  const char* syn[7] = {"ABLP", "PDLP", "ABPY", "PDPY", "LPPM", "LPPY", "PYLP"};
  for (int j = 0; j < 7; ++j) set(m, p, std::string("g_") + syn[j], 3.0 + 7.0 * ((variant + j) % 5));
  return p;
}

std::vector<double> general_params(int n, int n_syn, int variant) {
  const auto& g = *ns::find_model("stg_circuit");
  const auto& m = *ns::find_model("pyloric");
  const auto base = pyloric_params(1 + variant);
  std::vector<double> q = g.defaults();
  const char* cn[3] = {"ABPD", "LP", "PY"};
  for (int c = 0; c < 16; ++c)
    for (const auto& pi : ns::StgModel::kParams)
      q[g.param_index("cell" + std::to_string(c) + "." + pi.name)] =
          base[m.param_index(std::string(cn[(c + variant) % 3]) + "." + pi.name)];
  for (int j = 0; j < 64; ++j) {
    const std::string js = "syn" + std::to_string(j);
    const int pre = (j * 7 + 3 + variant) % n, post = j % 3 == 0 ? 0 : (j * 5 + 1) % n;
    q[g.param_index("g_" + js)] = 1.0 + (j * 13 + variant) % 25;
    q[g.param_index("pre_" + js)] = pre;
    q[g.param_index("post_" + js)] = post == pre ? (post + 1) % n : post;
    q[g.param_index("type_" + js)] = (j + variant) % 3 == 0 ? 1 : 0;
  }
  q[g.param_index("n_cells")] = n;
  q[g.param_index("n_synapses")] = n_syn;
  return q;
}

// n networks: pyloric variants in turn (37: the last warp holds 5 of 8 networks), or general
// circuits of varying size in one warp (16x64 next to 5x11: a warp-wide synapse loop bound).
std::vector<std::vector<double>> rows_of(const std::string& model, size_t n) {
  std::vector<std::vector<double>> rows;
  for (size_t i = 0; i < n; ++i) {
    if (model == "pyloric")
      rows.push_back(pyloric_params(static_cast<int>(i % 4)));
    else
      rows.push_back(i % 3 == 0 ? general_params(16, 64, static_cast<int>(i % 4))
                                : general_params(5 + static_cast<int>(i % 7), 11 + static_cast<int>(i % 40), static_cast<int>(i % 4)));
  }
  return rows;
}

void compare_with_cpu(const std::string& model, size_t n) {
  const auto rows = rows_of(model, n);
  const auto cols = nstest::columns(rows);
  for (auto pr : {ns::Precision::Float, ns::Precision::Double})
    for (auto g : {ns::Gating::Direct, ns::Gating::Table}) {
      auto s = nstest::settings(pr, g, 500, 1000, 0.05, 400);
      s.model = model;
      ns::ChunkInput in;
      in.n = rows.size();
      in.params = cols.data();
      ns::ChunkOutput gpu, cpu, again, part;
      auto be = ns::make_backend("cuda");
      be->run(s, in, gpu);
      ns::make_cpu_backend()->run(s, in, cpu);
      be->run(s, in, again);
      EXPECT_EQ(gpu.final_state, again.final_state) << model;
      EXPECT_EQ(gpu.n_spikes, again.n_spikes) << model;
      // The first n - 3 networks as a chunk of their own: the same results (a different tail warp).
      ns::ChunkInput in2 = in;
      in2.n = n - 3;
      std::vector<double> cols2;
      for (size_t k = 0; k < cols.size() / n; ++k)
        cols2.insert(cols2.end(), cols.begin() + k * n, cols.begin() + k * n + in2.n);
      in2.params = cols2.data();
      be->run(s, in2, part);
      for (size_t i = 0; i < in2.n; ++i) {
        EXPECT_EQ(part.status[i], gpu.status[i]);
        for (int c = 0; c < gpu.n_obs; ++c)
          EXPECT_EQ(part.n_spikes[i * gpu.n_obs + c], gpu.n_spikes[i * gpu.n_obs + c]);
      }
      uint64_t total = 0;
      for (size_t i = 0; i < n; ++i) {
        EXPECT_EQ(gpu.status[i], cpu.status[i]) << model << " network " << i;
        for (int c = 0; c < gpu.n_obs; ++c) {
          const double a = gpu.n_spikes[i * gpu.n_obs + c], b = cpu.n_spikes[i * cpu.n_obs + c];
          total += cpu.n_spikes[i * cpu.n_obs + c];
          EXPECT_NEAR(a, b, 0.02 * b + 1) << model << " network " << i << " cell " << c;
        }
      }
      EXPECT_GT(total, uint64_t(n)) << "the networks must spike for the comparison to mean something";
    }
}

}  // namespace

TEST(CudaCircuitLanes, PyloricMatchesCpu) {
  require_device();
  if (testing::Test::IsSkipped()) return;
  compare_with_cpu("pyloric", 37);
}

TEST(CudaCircuitLanes, GeneralCircuitMatchesCpu) {
  require_device();
  if (testing::Test::IsSkipped()) return;
  compare_with_cpu("stg_circuit", 11);
}
