#pragma once
// The Poisson input counts of a CPU tile (W lanes), drawn for all lanes before the step: the very
// draws of point::poisson_count (inputs.hpp) for every lane, bit for bit, arranged so that they
// vectorise and do not repeat work that does not change from step to step (issue 19):
//  - CounterRng's key mix64(mix64(mix64(mix64(seed) ^ instance) ^ step) ^ stream): its first two
//    mixes depend on the instance only and are computed once per tile (ikey); per step and lane
//    one mix gives the step key, one per train the train's key, one per train the uniform: 5 mixes
//    where the step's own draws make 10;
//  - the fixed-cost part X = #{j < K : u > F(j)} (poisson_fast): the CDF values F(j) depend on the
//    lane's mean only, so they are computed once per tile by poisson_fast's recursion (the same
//    products and sums, hence the same values), and per step only the comparisons remain; F is
//    non-decreasing, so once no lane of the tile has u > F(j) no later j counts: the comparisons
//    stop there (at a mean of 0.2 per step, after 2 of the 17 in most steps);
//  - the remaining parts (means above kPoissonFastMean, poisson_rest's sequential search) are
//    added lane by lane, as fast part + rest like poisson_count.
// The step then reads the counts from StepContext::n_ex / n_in (input mode kInputGiven).
// CPU only (the CUDA kernels draw per thread with poisson_count).
#include <cstdint>

#include "neurosweep/hash.hpp"
#include "neurosweep/point/inputs.hpp"

namespace ns {
namespace point {

// The step-independent part of CounterRng's key (the first two of its four mixes).
inline uint64_t instance_key(uint64_t seed, uint64_t instance) { return mix64(mix64(seed) ^ instance); }

template <int W>
struct PoissonLanes {
  static constexpr int K = kPoissonFastK;
  alignas(64) uint64_t ikey[W];       // mix64(mix64(seed) ^ instance) of lane l
  alignas(64) double cdf[2][K][W];    // F(j) of the fixed-cost part, per train (ex, in) and lane
  alignas(64) double rest[2][W], p0rest[2][W], nrest[2][W];
  alignas(64) uint64_t key[2][W];     // this step's key of each train (CounterRng::key)
  alignas(64) double u[2][W];         // this step's first uniform of each train
  alignas(64) double n[2][W];         // this step's counts
  bool with_rest = false;             // some lane has remaining parts (mean > kPoissonFastMean)

  // dval(l, k): derived constant k of lane l as poisson_input reads it, double(d[k]); dbase: the
  // model's kIn; inst(l): StepContext::instance of lane l.
  template <class DVal, class Inst>
  void setup(uint64_t seed, Inst inst, DVal dval, int dbase) {
    with_rest = false;
    for (int l = 0; l < W; ++l) {
      ikey[l] = instance_key(seed, static_cast<uint64_t>(inst(l)));
      for (int c = 0; c < 2; ++c) {
        const int o = c ? (kLamIn - kLamEx) : 0;
        const double lam = dval(l, dbase + kLamEx + o), p0 = dval(l, dbase + kP0Ex + o);
        // poisson_fast's recursion (the CPU branch), value by value.
        double p = p0, f = p0;
        cdf[c][0][l] = f;
        for (int j = 1; j < K; ++j) {
          p = mul_rn(mul_rn(p, lam), 1.0 / double(j));
          f = add_rn(f, p);
          cdf[c][j][l] = f;
        }
        rest[c][l] = dval(l, dbase + kRestEx + o);
        p0rest[c][l] = dval(l, dbase + kP0RestEx + o);
        nrest[c][l] = dval(l, dbase + kChunksEx + o);
        if (nrest[c][l] > 0.0) with_rest = true;
      }
    }
  }

  // The counts of step `step` into n[0] (excitatory train) and n[1] (inhibitory train).
  void draw(int64_t step) { draw_keys(step, ikey); }
  // The same with the lanes' instance keys from elsewhere (ik[l] = instance_key(seed, instance of
  // lane l)), for callers whose lanes share the CDF values but not the instance (a network
  // population: one parameter set, many neurons).
  void draw_keys(int64_t step, const uint64_t* ik) {
    const uint64_t st = static_cast<uint64_t>(step);
    int any = 0;
#pragma omp simd reduction(| : any)
    for (int l = 0; l < W; ++l) {
      const uint64_t ks = mix64(ik[l] ^ st);
      const uint64_t k0 = mix64(ks ^ static_cast<uint64_t>(kStreamEx));
      const uint64_t k1 = mix64(ks ^ static_cast<uint64_t>(kStreamIn));
      key[0][l] = k0;
      key[1][l] = k1;
      // poisson_count's first uniform: draw 1 of the key.
      const double u0 = double(mix64(k0 + 0x9e3779b97f4a7c15ULL) >> 11) * (1.0 / 9007199254740992.0);
      const double u1 = double(mix64(k1 + 0x9e3779b97f4a7c15ULL) >> 11) * (1.0 / 9007199254740992.0);
      u[0][l] = u0;
      u[1][l] = u1;
      const bool c0 = u0 > cdf[0][0][l], c1 = u1 > cdf[1][0][l];
      n[0][l] = c0 ? 1.0 : 0.0;
      n[1][l] = c1 ? 1.0 : 0.0;
      any |= (c0 | c1) ? 1 : 0;
    }
    for (int j = 1; j < K && any; ++j) {
      any = 0;
#pragma omp simd reduction(| : any)
      for (int l = 0; l < W; ++l) {
        const bool c0 = u[0][l] > cdf[0][j][l], c1 = u[1][l] > cdf[1][j][l];
        n[0][l] += c0 ? 1.0 : 0.0;
        n[1][l] += c1 ? 1.0 : 0.0;
        any |= (c0 | c1) ? 1 : 0;
      }
    }
    if (with_rest) {
      for (int c = 0; c < 2; ++c)
        for (int l = 0; l < W; ++l)
          n[c][l] = n[c][l] + poisson_rest(key[c][l], rest[c][l], p0rest[c][l], nrest[c][l]);
    }
  }
};

}  // namespace point
}  // namespace ns
