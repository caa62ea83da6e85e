// Population models on the GPU (issue 17): Wilson-Cowan units one per CUDA thread
// (integrate_rates in kernels/cuda_kernels.cuh, the same run_rate_instance as the CPU path):
// rates and status equal the CPU backend's to float rounding; density networks one per thread
// block (kernels/density_kernels.cuh) against the CPU backend. Skips visibly without a device.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "neurosweep/backend.hpp"
#include "run/run.hpp"
#include "spec/spec.hpp"

TEST(CudaPopulation, WilsonCowanRatesEqualCpu) {
  std::string why;
  if (ns::cuda_device_count(&why) <= 0) GTEST_SKIP() << "no CUDA device: " << why;
  const ns::RunSpec spec = ns::parse_spec_text(R"({
    "model": "wilson_cowan", "dt": "0.1 ms", "transient": "200 ms", "analysis": "500 ms", "precision": "double",
    "axes": [{"kind": "grid", "param": "P", "linspace": {"start": 0, "stop": 3, "count": 300}}]})", "<gpu-wc>");
  const size_t n = spec.sweep.size();
  std::vector<double> params(n * spec.sweep.n_params());
  spec.sweep.fill(0, n, params.data());
  ns::ChunkInput in;
  in.n = n;
  in.params = params.data();
  ns::ChunkOutput cpu, gpu;
  const ns::RunSettings rs = ns::run_settings(spec, 0, 0);
  ns::make_cpu_backend()->run(rs, in, cpu);
  ns::make_backend("cuda")->run(rs, in, gpu);
  ASSERT_EQ(gpu.rates.size(), cpu.rates.size());
  ASSERT_EQ(gpu.n_series, 2);
  double worst = 0;
  for (size_t k = 0; k < cpu.rates.size(); ++k) worst = std::max(worst, std::fabs(double(gpu.rates[k]) - double(cpu.rates[k])));
  EXPECT_LT(worst, 1e-4) << "Hz; RK4 in double on both, rates stored as float";
  EXPECT_EQ(gpu.status, cpu.status);
}

// Density networks, one network per thread block (kernels/density_kernels.cuh; the block code is
// checked bit for bit against the CPU path on the host by tests/density_block_test.cpp). The PopNet
// tutorial network swept over E->I weight {4, 5, 100} mV and I->E weight {-2, -6} mV (100: jumps
// beyond the grid), at dt 1 ms and at dt 2 ms (sub-steps). Tolerance: 1e-6 relative + 1e-9 Hz on
// the rates (and 1e-9 absolute on the final densities): the device adds in the same order as the
// CPU but nvcc contracts multiply-adds into FMAs (one rounding instead of two, <= 1 ulp = 1.1e-16
// relative each); the network relaxes to a steady state, so these differences stay near the double
// rounding level and far below the float storage of the rates (6e-8 relative). Two device runs
// give the same bits (every sum has a fixed order; the only parallel reduction is a maximum), and
// a chunk split in two gives the same bits as the whole.
namespace {
ns::RunSpec density_spec(const std::string& dt) {
  return ns::parse_spec_text(R"({"model": "dipde_network", "dt": ")" + dt + R"(", "transient": "0 ms",
    "analysis": "200 ms", "output": {"rate_bin": "10 ms"},
    "populations": {"internal": {"E": {"tau_m": 42.9, "v_min": -50, "v_max": 20, "dv": 0.1},
                                 "I": {"tau_m": 29.9, "v_min": -50, "v_max": 20, "dv": 0.1}},
                    "external": {"tON": {"rate": 15.0}},
                    "connections": [{"source": "E", "target": "I", "weight": 5.0, "nsyns": 20, "delay": 2},
                                    {"source": "I", "target": "E", "weight": -2.0, "nsyns": 10, "delay": 2},
                                    {"source": "tON", "target": "E", "weight": 2.5, "nsyns": 10, "delay": 2}]},
    "axes": [{"kind": "list", "param": "E_to_I.weight", "values": [4.0, 5.0, 100.0]},
             {"kind": "list", "param": "I_to_E.weight", "values": [-2.0, -6.0]}]})",
                               "<gpu-dipde>");
}
}  // namespace

TEST(CudaPopulation, DensityNetworkEqualsCpu) {
  std::string why;
  if (ns::cuda_device_count(&why) <= 0) GTEST_SKIP() << "no CUDA device: " << why;
  for (const char* dt : {"1 ms", "2 ms"}) {
    const ns::RunSpec spec = density_spec(dt);
    const size_t n = spec.sweep.size();
    std::vector<double> params(n * spec.sweep.n_params());
    spec.sweep.fill(0, n, params.data());
    ns::ChunkInput in;
    in.n = n;
    in.params = params.data();
    ns::RunSettings rs = ns::run_settings(spec, 0, 0);
    rs.want_final_state = true;
    ns::ChunkOutput cpu, gpu, again;
    ns::make_cpu_backend()->run(rs, in, cpu);
    auto cuda = ns::make_backend("cuda");
    cuda->run(rs, in, gpu);
    cuda->run(rs, in, again);
    ASSERT_EQ(gpu.n_series, 2) << dt;
    ASSERT_EQ(gpu.rates.size(), cpu.rates.size()) << dt;
    double worst = 0;
    for (size_t k = 0; k < cpu.rates.size(); ++k) {
      const double a = cpu.rates[k], b = gpu.rates[k];
      EXPECT_LE(std::fabs(a - b), 1e-6 * std::fabs(a) + 1e-9) << dt << " rates[" << k << "]";
      worst = std::max(worst, std::fabs(a - b) / std::max(std::fabs(a), 1e-9));
    }
    std::printf("[gpu density] dt %s: largest relative rate difference GPU vs CPU %.3g\n", dt, worst);
    EXPECT_EQ(gpu.status, cpu.status) << dt;
    ASSERT_EQ(gpu.final_state.size(), cpu.final_state.size());
    for (size_t k = 0; k < cpu.final_state.size(); ++k)
      EXPECT_NEAR(gpu.final_state[k], cpu.final_state[k], 1e-9 + 1e-6 * std::fabs(cpu.final_state[k]))
          << dt << " final_state[" << k << "]";
    EXPECT_EQ(gpu.rates, again.rates) << dt << ": two device runs differ";
    EXPECT_EQ(gpu.final_state, again.final_state) << dt;
    // chunk split: networks [0, 2) and [2, n) as two chunks
    ns::ChunkInput a = in, b = in;
    std::vector<double> pa(2 * spec.sweep.n_params()), pb((n - 2) * spec.sweep.n_params());
    spec.sweep.fill(0, 2, pa.data());
    spec.sweep.fill(2, n - 2, pb.data());
    a.n = 2;
    a.params = pa.data();
    b.n = n - 2;
    b.params = pb.data();
    b.first_index = 2;
    ns::ChunkOutput oa, ob;
    cuda->run(rs, a, oa);
    cuda->run(rs, b, ob);
    std::vector<float> joined(oa.rates);
    joined.insert(joined.end(), ob.rates.begin(), ob.rates.end());
    EXPECT_EQ(joined, gpu.rates) << dt << ": chunk split";
  }
}
