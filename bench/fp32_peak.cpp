// This CPU's measured single-precision (FP32) peak: independent chains of vector FMAs held in
// registers, on 1..N threads (OpenMP), in GFLOP/s with one FMA = 2 flops. A second kernel measures
// separate multiplies and adds (no FMA): neurosweep's host code is built with -ffp-contract=off
// (CMakeLists.txt), so an a*b+c is a multiply and an add unless the source writes ns::fmadd (the
// exp/log polynomials, table interpolation and gate update do), a mix of the two kernels.
//   fp32_peak [--threads 1,2] [--seconds 0.5] [--fma-pipes 2] [--json]
//
// Method: each thread runs K independent accumulators acc_k = acc_k * m + a (m = 1 and a tiny,
// hidden from the optimiser by an empty asm, so nothing is folded and no value overflows or goes
// denormal). K covers latency x throughput: with 2 FMA pipes and a 4-5 cycle FMA latency (AMD Zen
// 2/3/4, Intel Skylake-SP and later) 8-10 chains keep the pipes full; we use 12 (AVX2, 16 ymm
// registers) or 24 (AVX-512, 32 zmm registers). Best of 3 repetitions.
//
// Theoretical figure for comparison: cores x FMA pipes x lanes x 2 flops x clock, with the clock
// from /proc/cpuinfo ("cpu MHz", the nominal or current clock; under a hypervisor usually the TSC
// rate). The output states the ratio and the clock the measurement implies: above the cpuinfo
// clock means the cores boost; below means fewer FMA pipes than assumed (e.g. Zen 1 splits 256-bit
// FMAs into two 128-bit halves) or throttling or a busy machine.
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif
#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "bench_util.hpp"

namespace {

volatile float g_sink;

#if defined(__AVX512F__)
using VecF = __m512;
constexpr int kLanes = 16;
constexpr int kChains = 24;
constexpr const char* kIsa = "avx512f";
inline VecF vset1(float x) { return _mm512_set1_ps(x); }
inline VecF vfma(VecF a, VecF b, VecF c) { return _mm512_fmadd_ps(a, b, c); }
inline VecF vmul(VecF a, VecF b) { return _mm512_mul_ps(a, b); }
inline VecF vadd(VecF a, VecF b) { return _mm512_add_ps(a, b); }
inline float vsum(VecF a) { return _mm512_reduce_add_ps(a); }
#define NS_HAVE_FMA 1
#elif defined(__AVX2__) && defined(__FMA__)
using VecF = __m256;
constexpr int kLanes = 8;
constexpr int kChains = 12;
constexpr const char* kIsa = "avx2+fma";
inline VecF vset1(float x) { return _mm256_set1_ps(x); }
inline VecF vfma(VecF a, VecF b, VecF c) { return _mm256_fmadd_ps(a, b, c); }
inline VecF vmul(VecF a, VecF b) { return _mm256_mul_ps(a, b); }
inline VecF vadd(VecF a, VecF b) { return _mm256_add_ps(a, b); }
inline float vsum(VecF a) {
  float t[8];
  _mm256_storeu_ps(t, a);
  float s = 0;
  for (float x : t) s += x;
  return s;
}
#define NS_HAVE_FMA 1
#else
// No AVX2/FMA at compile time: GCC vector extension of 4 floats (SSE), multiply + add only.
typedef float VecF __attribute__((vector_size(16)));
constexpr int kLanes = 4;
constexpr int kChains = 12;
constexpr const char* kIsa = "sse (no fma)";
inline VecF vset1(float x) { return VecF{x, x, x, x}; }
inline VecF vmul(VecF a, VecF b) { return a * b; }
inline VecF vadd(VecF a, VecF b) { return a + b; }
inline VecF vfma(VecF a, VecF b, VecF c) { return vadd(vmul(a, b), c); }
inline float vsum(VecF a) { return a[0] + a[1] + a[2] + a[3]; }
#endif

// Hide a value from the optimiser (it could otherwise fold x * 1.0f away).
template <class V>
inline void opaque(V& v) {
#if defined(__x86_64__) || defined(__i386__)
  asm volatile("" : "+x"(v));
#elif defined(__aarch64__)
  asm volatile("" : "+w"(v));
#else
  asm volatile("" : : "g"(&v) : "memory");
#endif
}

// kChains independent FMA chains, 8 rounds per loop trip. Returns flops done.
double fma_kernel(long trips) {
  VecF acc[kChains];
  VecF m = vset1(1.0f), a = vset1(1e-7f);
  opaque(m);
  opaque(a);
  for (int k = 0; k < kChains; ++k) acc[k] = vset1(float(k));
  for (long t = 0; t < trips; ++t) {
    for (int r = 0; r < 8; ++r) {
#pragma GCC unroll 32
      for (int k = 0; k < kChains; ++k) acc[k] = vfma(acc[k], m, a);
    }
  }
  float s = 0;
  for (int k = 0; k < kChains; ++k) s += vsum(acc[k]);
  g_sink = s;
  return double(trips) * 8 * kChains * kLanes * 2;
}

// Separate multiply and add chains (half each), 8 rounds per trip. Returns flops done.
double muladd_kernel(long trips) {
  constexpr int kHalf = kChains / 2 + 1;  // add/mul latency 3-4 on 2+2 pipes: 7 chains each
  VecF pm[kHalf], pa[kHalf];
  VecF m = vset1(1.0f), a = vset1(1e-7f);
  opaque(m);
  opaque(a);
  for (int k = 0; k < kHalf; ++k) pm[k] = pa[k] = vset1(float(k + 1));
  for (long t = 0; t < trips; ++t) {
    for (int r = 0; r < 8; ++r) {
#pragma GCC unroll 32
      for (int k = 0; k < kHalf; ++k) {
        pm[k] = vmul(pm[k], m);
        pa[k] = vadd(pa[k], a);
      }
    }
  }
  float s = 0;
  for (int k = 0; k < kHalf; ++k) s += vsum(pm[k]) + vsum(pa[k]);
  g_sink = s;
  return double(trips) * 8 * 2 * kHalf * kLanes;
}

// GFLOP/s of `kernel` on `threads` threads: best of `reps`, each about `seconds` long.
double measure(double (*kernel)(long), int threads, double seconds, int reps) {
  // calibrate the trip count on one thread
  long trips = 1 << 16;
  for (;;) {
    const double t0 = omp_get_wtime();
    kernel(trips);
    const double dt = omp_get_wtime() - t0;
    if (dt > 0.05) {
      trips = static_cast<long>(double(trips) * seconds / dt) + 1;
      break;
    }
    trips *= 4;
  }
  double best = 0;
  for (int r = 0; r < reps; ++r) {
    double flops = 0, t0 = 0, t1 = 0;
#pragma omp parallel num_threads(threads) reduction(+ : flops)
    {
#pragma omp barrier
#pragma omp master
      t0 = omp_get_wtime();
      flops += kernel(trips);
#pragma omp barrier
#pragma omp master
      t1 = omp_get_wtime();
    }
    best = std::max(best, flops / (t1 - t0) * 1e-9);
  }
  return best;
}

double cpuinfo_mhz(std::string* model) {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  double mhz = 0;
  while (std::getline(f, line)) {
    const auto c = line.find(':');
    if (c == std::string::npos) continue;
    const std::string k = line.substr(0, line.find_last_not_of(" \t", c - 1) + 1);
    if (k == "model name" && model->empty()) *model = line.substr(c + 2);
    if (k == "cpu MHz" && mhz == 0) mhz = std::atof(line.c_str() + c + 1);
  }
  return mhz;
}


}  // namespace

int main(int argc, char** argv) {
  std::string threads_s;
  double seconds = 0.5;
  int pipes = 2;
  bool json = false;
  for (int a = 1; a < argc; ++a) {
    const std::string k = argv[a];
    auto next = [&]() { return std::string(a + 1 < argc ? argv[++a] : ""); };
    if (k == "--threads") threads_s = next();
    else if (k == "--seconds") seconds = std::stod(next());
    else if (k == "--fma-pipes") pipes = std::stoi(next());
    else if (k == "--json") json = true;
    else if (k == "-h" || k == "--help") {
      std::printf("fp32_peak [--threads 1,2] [--seconds 0.5] [--fma-pipes 2] [--json]\n");
      return 0;
    } else {
      std::fprintf(stderr, "fp32_peak: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  std::vector<int> threads;
  if (threads_s.empty())
    for (int t = 1; t <= omp_get_num_procs(); ++t) threads.push_back(t);
  else
    threads = nsbench::parse_list(threads_s);
  std::string model;
  const double mhz = cpuinfo_mhz(&model);
  const double per_core_cycle = double(pipes) * kLanes * 2;  // flops per core per cycle (FMA)
  if (!json)
    std::printf("# FP32 peak, %s, %d lanes, %d independent chains; CPU '%s', cpuinfo %.0f MHz, assumed %d FMA pipes\n"
                "%-8s %-8s %12s %16s %8s %12s\n",
                kIsa, kLanes, kChains, model.c_str(), mhz, pipes, "kernel", "threads", "GFLOP/s",
                "theoretical", "ratio", "implied_GHz");
  for (const char* kname : {"fma", "mul+add"}) {
    for (int t : threads) {
      const double g = measure(std::strcmp(kname, "fma") == 0 ? fma_kernel : muladd_kernel, t, seconds, 3);
      const double theo = t * per_core_cycle * mhz * 1e-3;
      const double ghz = g / (t * per_core_cycle);
      const char* note = mhz <= 0 ? "no clock in /proc/cpuinfo"
                         : g > 1.05 * theo ? "above: the cores run faster than the cpuinfo clock (boost)"
                         : g < 0.85 * theo ? "below: fewer/narrower FMA pipes than assumed, throttling, or a busy machine"
                                           : "matches the theoretical figure within -15%..+5%";
      if (json)
        std::printf("{\"bench\":\"fp32_peak\",\"kernel\":\"%s\",\"isa\":\"%s\",\"lanes\":%d,\"chains\":%d,"
                    "\"threads\":%d,\"gflops\":%.2f,\"gflops_per_core\":%.2f,\"cpu_model\":\"%s\",\"cpuinfo_mhz\":%.1f,"
                    "\"fma_pipes_assumed\":%d,\"theoretical_gflops\":%.2f,\"ratio_to_theoretical\":%.3f,"
                    "\"implied_ghz\":%.3f,\"note\":\"%s\"}\n",
                    kname, kIsa, kLanes, kChains, t, g, g / t, model.c_str(), mhz, pipes, theo,
                    theo > 0 ? g / theo : 0.0, ghz, note);
      else
        std::printf("%-8s %-8d %12.1f %16.1f %8.3f %12.3f  %s\n", kname, t, g, theo, theo > 0 ? g / theo : 0.0,
                    ghz, note);
      std::fflush(stdout);
    }
  }
  if (!json)
    std::printf("# theoretical = threads x %d pipes x %d lanes x 2 flops x cpuinfo clock; implied_GHz = measured / "
                "(threads x %d x %d x 2). mul+add: separate multiplies and adds (1 flop each), as neurosweep's "
                "host code runs outside its explicit ns::fmadd calls (-ffp-contract=off); Zen has 2 FADD pipes beside the 2 FMA/FMUL pipes, so it can "
                "match the FMA figure.\n",
                pipes, kLanes, pipes, kLanes);
  return 0;
}
