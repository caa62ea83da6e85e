// The engine in memory on the GPU (host/run/evaluate.hpp): pieces integrated while the previous
// piece is classified (the overlap of run.cpp) give the same bytes as one piece; labels agree with
// the CPU engine (CPU and GPU agree to rounding, not bit for bit). Skips visibly without a device.
#include <gtest/gtest.h>

#include <cstring>

#include "run/evaluate.hpp"
#include "spec/spec.hpp"

TEST(CudaEvaluate, OverlappedPiecesEqualOnePieceAndLabelsMatchCpu) {
  std::string why;
  if (ns::cuda_device_count(&why) <= 0) GTEST_SKIP() << "no CUDA device: " << why;
  const ns::RunSpec spec = ns::parse_spec_text(R"({
    "model": "stg", "dt": "0.05 ms", "transient": "2 s", "analysis": "4 s",
    "classifier": {"slowest_period_ms": 1000},
    "fixed": {"gNa": 100, "gCaT": 2.5, "gA": 50, "gKCa": 5, "gH": 0.01, "gleak": 0}})", "<gpu-eval>");
  const size_t n = 64;
  std::vector<double> v(2 * n);
  for (size_t r = 0; r < n; ++r) {
    v[r] = 12.0 * double(r % 8) / 7.0;           // gCaS
    v[n + r] = 20.0 + 100.0 * double(r / 8) / 7.0;  // gKd
  }
  ns::EvalOptions one, pieces, cpu;
  one.backend = pieces.backend = "cuda";
  pieces.chunk = 7;  // 10 pieces, each integrated while the previous one is classified
  cpu.backend = "cpu";
  const auto a = ns::Evaluator(spec, one).evaluate({"gCaS", "gKd"}, v.data(), n);
  const auto b = ns::Evaluator(spec, pieces).evaluate({"gCaS", "gKd"}, v.data(), n);
  const auto c = ns::Evaluator(spec, cpu).evaluate({"gCaS", "gKd"}, v.data(), n);
  for (const auto& col : a.columns)
    EXPECT_EQ(a.data.columns.at(col.name), b.data.columns.at(col.name)) << col.name;
  const auto& la = a.data.columns.at("label");
  const auto& lc = c.data.columns.at("label");
  size_t same = 0;
  for (size_t r = 0; r < n; ++r) same += la[r] == lc[r];
  EXPECT_GE(same, n * 9 / 10) << "labels of the GPU and CPU engines";
}
