// Population models on the GPU (issue 17): Wilson-Cowan units one per CUDA thread
// (integrate_rates in kernels/cuda_backend.cu, the same run_rate_instance as the CPU path):
// rates and status equal the CPU backend's to float rounding; density networks are refused by name
// (no GPU path yet). Skips visibly without a device.
#include <gtest/gtest.h>

#include <cmath>
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

TEST(CudaPopulation, DensityNetworkIsRefusedByName) {
  std::string why;
  if (ns::cuda_device_count(&why) <= 0) GTEST_SKIP() << "no CUDA device: " << why;
  const ns::RunSpec spec = ns::parse_spec_text(R"({"model": "dipde_network", "dt": "1 ms", "transient": "0 ms",
    "analysis": "100 ms"})", "<gpu-dipde>");
  std::vector<double> params = spec.base_params;
  ns::ChunkInput in;
  in.n = 1;
  in.params = params.data();
  ns::ChunkOutput out;
  try {
    ns::make_backend("cuda")->run(ns::run_settings(spec, 0, 0), in, out);
    FAIL() << "expected a BackendError";
  } catch (const ns::BackendError& e) {
    EXPECT_NE(std::string(e.what()).find("dipde_network"), std::string::npos) << e.what();
  }
}
