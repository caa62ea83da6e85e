#pragma once
// Counter-based random numbers and scrambled Sobol points for the sweep specification.
//
// Everything here is a pure function of its arguments (no generator state), so the value of
// instance i can be computed anywhere: any thread, chunk or shard gives the same numbers.
//
// Sobol points: direction numbers from the primitive polynomials and initial direction numbers of
//   S. Joe and F. Y. Kuo, "Constructing Sobol sequences with better two-dimensional projections",
//   SIAM J. Sci. Comput. 30 (2008) 2635-2654; table file new-joe-kuo-6.21201 published at
//   https://web.maths.unsw.edu.au/~fkuo/sobol/ (dimensions 2..40 transcribed in sobol.cpp).
// Point index i (0-based) is computed directly: x_i = XOR of V_b over the set bits b of
// gray(i) = i ^ (i >> 1). This is the order of Joe & Kuo's reference generator (the recurrence
// x_{i} = x_{i-1} ^ V_{c(i-1)}), so the unscrambled points equal the published ones in order,
// without any sequential state.
#include <cstdint>

#include "neurosweep/hash.hpp"  // mix64

namespace ns {

// Counter hash of four words: h = mix(mix(mix(mix(a) ^ b) ^ c) ^ d).
inline uint64_t hash_words(uint64_t a, uint64_t b, uint64_t c, uint64_t d) {
  uint64_t h = mix64(a);
  h = mix64(h ^ b);
  h = mix64(h ^ c);
  return mix64(h ^ d);
}

// Uniform double in [0, 1) from the top 53 bits of a hash.
inline double u01_from_hash(uint64_t h) { return static_cast<double>(h >> 11) * 0x1.0p-53; }

// FNV-1a 64-bit hash of a byte string (used for parameter names and the spec hash).
uint64_t fnv1a64(const void* data, unsigned long n);

namespace sobol {

constexpr int kMaxDims = 40;   // dimension 1 (van der Corput) + Joe & Kuo dimensions 2..40
constexpr int kBits = 32;      // point indices < 2^32
constexpr uint64_t kMaxPoints = 1ULL << 32;

// One row of the Joe & Kuo table: degree s, coefficient word a, initial direction numbers m_1..m_s.
struct JoeKuoRow {
  int d;
  int s;
  unsigned a;
  unsigned m[8];
};
// Rows for dimensions 2..kMaxDims (index 0 is dimension 2).
const JoeKuoRow* joe_kuo_table();
constexpr int kJoeKuoRows = kMaxDims - 1;

// Direction numbers of dimension `dim` (0-based: 0 is the van der Corput dimension), left-aligned
// 32-bit: V[b] for index bit b = 0..31.
const uint32_t* directions(int dim);

// Unscrambled point: the 32 binary digits of coordinate `dim` of point `index` (< 2^32).
uint32_t point_bits(int dim, uint64_t index);
inline double point(int dim, uint64_t index) {
  return static_cast<double>(point_bits(dim, index)) * 0x1.0p-32;
}

enum class Scramble { None, Shift, Owen };

// Coordinate in [0, 1) of a scrambled point. key selects the scramble (derived from the seed,
// the axis and the dimension by the caller).
//  None : the plain point (32 bits).
//  Shift: random digital shift, x XOR s with a 52-bit s drawn from key.
//  Owen : nested uniform scramble (Owen 1995): digit b is flipped by a random bit that depends on
//         key, b and the digits above b; 20 further random digits depend on all 32 digits.
// Both scrambles keep the net property: for N = 2^m points starting at index 0, each of the
// 2^k equal bins (k <= m) of one coordinate holds exactly N / 2^k points.
double scrambled(int dim, uint64_t index, Scramble s, uint64_t key);

}  // namespace sobol
}  // namespace ns
