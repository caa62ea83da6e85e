// The CUDA module of a NESTML plugin on a GPU (docs/NESTML.md, "Plugins"; kernels/
// plugin_cuda_entry.cuh): NESTML's library iaf_psc_exp_neuron, loaded as a plugin, run by the CUDA
// backend (its CUDA module compiled by nvcc on first use) and by the CPU backend (SIMD tiles) on the
// same 64 instances (an I_e grid with excitatory and inhibitory Poisson input, double precision).
// Both run the generated step() on the same counter-based Poisson streams, so the spike counts must
// be equal and the spike times equal within one step (0.1 ms): nvcc contracts a*b+c into FMAs
// (-fmad=true, the CUDA backend's default), the host build does not (-ffp-contract=off), so a
// threshold crossing within rounding of a step boundary may move by one step.
// Skips visibly without a device and without a Python that has nestml.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>

#include "../test_util.hpp"
#include "models/plugin.hpp"

namespace {
std::string sh_line(const std::string& cmd) {
  std::string out;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[4096];
    while (fgets(buf, sizeof buf, p)) out += buf;
    pclose(p);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}
}  // namespace

TEST(CudaPlugin, NestmlIafPscExpNeuronMatchesCpu) {
  std::string why;
  if (ns::cuda_device_count(&why) <= 0) GTEST_SKIP() << "no CUDA device: " << why;
  const std::string py = ns::plugin_python();
  if (sh_line("'" + py + "' -c 'import pynestml; print(1)' 2>/dev/null") != "1")
    GTEST_SKIP() << "no Python with the nestml package (" << py << ")";
  const std::string lib = sh_line("'" + py + "' -c 'import sys; print(sys.prefix)'") + "/models/neurons/iaf_psc_exp_neuron.nestml";
  const ns::ModelDesc* m = ns::load_nestml_model(lib);
  ASSERT_NE(m, nullptr);
  const size_t n = 64;
  auto def = m->defaults();
  std::vector<double> cols(n * m->params.size());
  for (size_t k = 0; k < m->params.size(); ++k)
    for (size_t i = 0; i < n; ++i) {
      double v = def[k];
      const std::string& p = m->params[k].name;
      if (p == "I_e") v = 200.0 + 10.0 * i;
      if (p == "rate_ex") v = 8000.0;
      if (p == "weight_ex") v = 30.0;
      if (p == "rate_in") v = 2000.0;
      if (p == "weight_in") v = 30.0;
      cols[k * n + i] = v;
    }
  auto s = nstest::settings(ns::Precision::Double, ns::Gating::Direct, 0, 500, 0.1, 400);
  s.model = m->name;
  s.want_final_state = false;
  ns::ChunkInput in;
  in.n = n;
  in.params = cols.data();
  ns::ChunkOutput gpu, cpu;
  ns::make_backend("cuda")->run(s, in, gpu);
  ASSERT_TRUE(ns::run_plugin_cpu(s, in, cpu));
  size_t total = 0;
  for (size_t i = 0; i < n; ++i) {
    EXPECT_EQ(gpu.status[i], ns::kOk) << i;
    const auto a = nstest::spikes_of(gpu, i), b = nstest::spikes_of(cpu, i);
    ASSERT_EQ(a.size(), b.size()) << "instance " << i;
    for (size_t j = 0; j < a.size(); ++j) EXPECT_NEAR(a[j], b[j], 0.1 + 1e-4) << "instance " << i << " spike " << j;
    total += b.size();
  }
  EXPECT_GT(total, 500u);  // the instances do fire
}
