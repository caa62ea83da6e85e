#include "spec/sobol.hpp"

#include <array>

namespace ns {

uint64_t fnv1a64(const void* data, unsigned long n) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV offset basis
  for (unsigned long k = 0; k < n; ++k) {
    h ^= p[k];
    h *= 0x100000001b3ULL;  // FNV prime
  }
  return h;
}

namespace sobol {
namespace {

// Joe & Kuo (2008), file new-joe-kuo-6.21201, rows d = 2..40: d, s (degree of the primitive
// polynomial), a (its interior coefficients, most significant first), m_1..m_s. Facts of the
// published table, transcribed; tests/spec_test.cpp checks every polynomial is primitive and every
// m_k is odd and < 2^k, and the first points against Joe & Kuo's published points.
constexpr JoeKuoRow kTable[kJoeKuoRows] = {
    {2, 1, 0, {1}},
    {3, 2, 1, {1, 3}},
    {4, 3, 1, {1, 3, 1}},
    {5, 3, 2, {1, 1, 1}},
    {6, 4, 1, {1, 1, 3, 3}},
    {7, 4, 4, {1, 3, 5, 13}},
    {8, 5, 2, {1, 1, 5, 5, 17}},
    {9, 5, 4, {1, 1, 5, 5, 5}},
    {10, 5, 7, {1, 1, 7, 11, 19}},
    {11, 5, 11, {1, 1, 5, 1, 1}},
    {12, 5, 13, {1, 1, 1, 3, 11}},
    {13, 5, 14, {1, 3, 5, 5, 31}},
    {14, 6, 1, {1, 3, 3, 9, 7, 49}},
    {15, 6, 13, {1, 1, 1, 15, 21, 21}},
    {16, 6, 16, {1, 3, 1, 13, 27, 49}},
    {17, 6, 19, {1, 1, 1, 15, 7, 5}},
    {18, 6, 22, {1, 3, 1, 15, 13, 25}},
    {19, 6, 25, {1, 1, 5, 5, 19, 61}},
    {20, 7, 1, {1, 3, 7, 11, 23, 15, 103}},
    {21, 7, 4, {1, 3, 7, 13, 13, 15, 69}},
    {22, 7, 7, {1, 1, 3, 13, 7, 35, 63}},
    {23, 7, 8, {1, 3, 5, 9, 1, 25, 53}},
    {24, 7, 14, {1, 3, 1, 13, 9, 35, 107}},
    {25, 7, 19, {1, 3, 1, 5, 27, 61, 31}},
    {26, 7, 21, {1, 1, 5, 11, 19, 41, 61}},
    {27, 7, 28, {1, 3, 5, 3, 3, 13, 69}},
    {28, 7, 31, {1, 1, 7, 13, 1, 19, 1}},
    {29, 7, 32, {1, 3, 7, 5, 13, 19, 59}},
    {30, 7, 37, {1, 1, 3, 9, 25, 29, 41}},
    {31, 7, 41, {1, 3, 5, 13, 23, 1, 55}},
    {32, 7, 42, {1, 3, 7, 3, 13, 59, 17}},
    {33, 7, 50, {1, 3, 1, 3, 5, 53, 69}},
    {34, 7, 55, {1, 1, 5, 5, 23, 33, 13}},
    {35, 7, 56, {1, 1, 7, 7, 1, 61, 123}},
    {36, 7, 59, {1, 1, 7, 9, 13, 61, 49}},
    {37, 7, 62, {1, 3, 3, 5, 3, 55, 33}},
    {38, 8, 14, {1, 3, 1, 15, 31, 13, 49, 245}},
    {39, 8, 21, {1, 3, 5, 15, 31, 59, 63, 97}},
    {40, 8, 22, {1, 3, 1, 11, 11, 11, 77, 249}},
};

using Dirs = std::array<std::array<uint32_t, kBits>, kMaxDims>;

// Bratley & Fox (1988) / Joe & Kuo recurrence, 1-based bit k:
//   V_k = m_k 2^(32-k)                                         for k <= s
//   V_k = V_{k-s} ^ (V_{k-s} >> s) ^ XOR_{j=1}^{s-1} a_j V_{k-j}   for k > s
// with a_j the j-th most significant of the s-1 bits of a.
Dirs build() {
  Dirs v{};
  for (int k = 1; k <= kBits; ++k) v[0][k - 1] = 1u << (kBits - k);  // all m_k = 1
  for (int d = 1; d < kMaxDims; ++d) {
    const JoeKuoRow& r = kTable[d - 1];
    const int s = r.s;
    for (int k = 1; k <= kBits; ++k) {
      uint32_t x;
      if (k <= s) {
        x = static_cast<uint32_t>(r.m[k - 1]) << (kBits - k);
      } else {
        x = v[d][k - s - 1] ^ (v[d][k - s - 1] >> s);
        for (int j = 1; j <= s - 1; ++j)
          if ((r.a >> (s - 1 - j)) & 1u) x ^= v[d][k - j - 1];
      }
      v[d][k - 1] = x;
    }
  }
  return v;
}

const Dirs& dirs() {
  static const Dirs v = build();
  return v;
}

}  // namespace

const JoeKuoRow* joe_kuo_table() { return kTable; }

const uint32_t* directions(int dim) { return dirs()[dim].data(); }

uint32_t point_bits(int dim, uint64_t index) {
  const uint32_t* v = dirs()[dim].data();
  uint64_t g = index ^ (index >> 1);
  uint32_t x = 0;
  for (int b = 0; g != 0 && b < kBits; ++b, g >>= 1)
    if (g & 1u) x ^= v[b];
  return x;
}

double scrambled(int dim, uint64_t index, Scramble s, uint64_t key) {
  const uint32_t x = point_bits(dim, index);
  switch (s) {
    case Scramble::None:
      return static_cast<double>(x) * 0x1.0p-32;
    case Scramble::Shift: {
      const uint64_t shift = mix64(key) >> 12;  // 52 bits
      const uint64_t y = (static_cast<uint64_t>(x) << 20) ^ shift;
      return static_cast<double>(y) * 0x1.0p-52;
    }
    case Scramble::Owen:
    default: {
      uint32_t y = 0;
      for (int level = 0; level < kBits; ++level) {
        const int b = kBits - 1 - level;  // digit 2^-(level+1)
        const uint32_t prefix = level == 0 ? 0u : (x >> (b + 1));
        const uint64_t ctr = (static_cast<uint64_t>(level) << 32) | prefix;
        const uint32_t flip = static_cast<uint32_t>(mix64(key ^ ctr) >> 63);
        y |= (((x >> b) & 1u) ^ flip) << b;
      }
      const uint64_t low = mix64(mix64(key ^ (static_cast<uint64_t>(kBits) << 32 | x))) >> 44;  // 20 more digits
      return static_cast<double>((static_cast<uint64_t>(y) << 20) | low) * 0x1.0p-52;
    }
  }
}

}  // namespace sobol
}  // namespace ns
