#pragma once
// The 64-bit mixing function behind every counter-based random number of neurosweep: the sweep's
// random and Sobol axes (host/spec/sobol.hpp) and the models' random input (CounterRng in
// point/inputs.hpp). NS_HD: the CUDA kernels use it too.
#include <cstdint>

#include "neurosweep/hd.hpp"

namespace ns {

// SplitMix64 output function (Steele, Lea & Flood 2014, "Fast splittable pseudorandom number
// generators", OOPSLA; constants of D. Stafford's Mix13 variant, as in Vigna's splitmix64.c):
// a bijection of 64-bit words with good avalanche.
NS_HD uint64_t mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace ns
