#pragma once
// Portability macros and the elementary functions used by every model.
//
// Model code is written once as NS_HD functions; nvcc compiles them for the device, g++ for the
// CPU backend. No CUDA header is included here: this file must compile with a plain C++17 compiler.
//
// ns::fexp / ns::flog: on the device they map to CUDA's expf/exp and logf/log. On the host they
// are branch-free Cephes-style approximations (S. L. Moshier, Cephes Math Library, expf.c/exp.c,
// logf.c/log.c: same range reduction and polynomial coefficients) written so that GCC vectorises
// them inside `#pragma omp simd` loops (glibc's libmvec is only used under -ffast-math, which we
// avoid because it removes NaN checks). Accuracy: about 1-2 ulp over the range used by the models
// (tests/fastmath_test.cpp bounds it against std::exp and std::log). NaN propagates.
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define NS_HD __host__ __device__ __forceinline__
#define NS_DEVICE_CODE 1
#else
#define NS_HD inline __attribute__((always_inline))
#endif

#if defined(__CUDA_ARCH__)
#include <cmath>
#endif

// Fully unroll a short fixed-length loop (over gates, synapses, cells). On the host this is what
// lets GCC vectorise the enclosing `omp simd` loop over instances: it refuses loop nests.
#if defined(__CUDACC__)
#define NS_UNROLL _Pragma("unroll")
#elif defined(__clang__)
#define NS_UNROLL _Pragma("clang loop unroll(full)")
#else
#define NS_UNROLL _Pragma("GCC unroll 64")
#endif

namespace ns {

template <class To, class From>
NS_HD To bit_cast_(From f) {
  static_assert(sizeof(To) == sizeof(From), "size mismatch");
  To t;
  std::memcpy(&t, &f, sizeof(To));
  return t;
}

// ---- floor without libm call (vectorises to roundps/roundpd with -msse4.1 and later) ----------
NS_HD float ffloor(float x) { return __builtin_floorf(x); }
NS_HD double ffloor(double x) { return __builtin_floor(x); }

// a * b + c rounded once where the target has a fused multiply-add (every CUDA device; x86 built
// with FMA3, as -march=native gives on any recent CPU), else rounded twice. Written out rather than
// left to the compiler's contraction (the host build uses -ffp-contract=off), so the SIMD tiles
// and the scalar reference path make the same roundings and stay bit-for-bit equal.
NS_HD float fmadd(float a, float b, float c) {
#if defined(__CUDA_ARCH__)
  return ::fmaf(a, b, c);
#elif defined(__FMA__) || defined(__FP_FAST_FMAF)
  return __builtin_fmaf(a, b, c);
#else
  return a * b + c;
#endif
}
NS_HD double fmadd(double a, double b, double c) {
#if defined(__CUDA_ARCH__)
  return ::fma(a, b, c);
#elif defined(__FMA__) || defined(__FP_FAST_FMA)
  return __builtin_fma(a, b, c);
#else
  return a * b + c;
#endif
}

#if defined(__CUDA_ARCH__)
NS_HD float fexp(float x) { return ::expf(x); }
NS_HD double fexp(double x) { return ::exp(x); }
NS_HD float flog(float x) { return ::logf(x); }
NS_HD double flog(double x) { return ::log(x); }
#else
// Cephes expf: x = n ln2 + r, |r| <= ln2/2, e^r by a degree-6 polynomial, 2^n by exponent bits.
NS_HD float fexp(float x) {
  const float hi = 88.3762626647949f, lo = -87.3365447504019f;
  x = x > hi ? hi : x;  // comparisons (not fmin/fmax) keep NaN as NaN
  x = x < lo ? lo : x;
  float fx = ffloor(x * 1.44269504088896341f + 0.5f);
  float r = x - fx * 0.693359375f;
  r = r - fx * -2.12194440e-4f;
  float z = r * r;
  float y = 1.9875691500E-4f;
  y = fmadd(y, r, 1.3981999507E-3f);
  y = fmadd(y, r, 8.3334519073E-3f);
  y = fmadd(y, r, 4.1665795894E-2f);
  y = fmadd(y, r, 1.6666665459E-1f);
  y = fmadd(y, r, 5.0000001201E-1f);
  y = fmadd(y, z, r) + 1.0f;
  int32_t n = static_cast<int32_t>(fx);
  float scale = bit_cast_<float>(static_cast<int32_t>((n + 127) << 23));
  return y * scale;
}

// Cephes exp (double): Pade form 1 + 2x P(x^2) / (Q(x^2) - x P(x^2)).
NS_HD double fexp(double x) {
  const double hi = 709.0, lo = -708.0;
  x = x > hi ? hi : x;
  x = x < lo ? lo : x;
  double px = ffloor(1.4426950408889634073599 * x + 0.5);
  double r = x - px * 6.93145751953125E-1;
  r = r - px * 1.42860682030941723212E-6;
  double xx = r * r;
  double p = ((1.26177193074810590878E-4 * xx + 3.02994407707441961300E-2) * xx +
              9.99999999999999999910E-1) * r;
  double q = ((3.00198505138664455042E-6 * xx + 2.52448340349684104192E-3) * xx +
              2.27265548208155028766E-1) * xx + 2.00000000000000000009E0;
  double e = p / (q - p);
  e = 1.0 + 2.0 * e;
  const int32_t n32 = static_cast<int32_t>(px);  // int32: vectorises on AVX2 (no cvtpd2qq)
  const int64_t n = n32;
  double scale = bit_cast_<double>(static_cast<int64_t>((n + 1023) << 52));
  return e * scale;
}

// Cephes logf: x = m 2^e with m in [sqrt(1/2), sqrt(2)), log(1+u) by a degree-9 polynomial.
// Domain: positive normal numbers (callers clamp); NaN in gives NaN out.
NS_HD float flog(float x) {
  int32_t bits = bit_cast_<int32_t>(x);
  int32_t e = ((bits >> 23) & 0xff) - 126;
  float m = bit_cast_<float>(static_cast<int32_t>((bits & 0x807fffff) | 0x3f000000));  // [0.5,1)
  bool small = m < 0.707106781186547524f;
  e = small ? e - 1 : e;
  float u = small ? (m + m - 1.0f) : (m - 1.0f);
  float z = u * u;
  float y = 7.0376836292E-2f;
  y = fmadd(y, u, -1.1514610310E-1f);
  y = fmadd(y, u, 1.1676998740E-1f);
  y = fmadd(y, u, -1.2420140846E-1f);
  y = fmadd(y, u, 1.4249322787E-1f);
  y = fmadd(y, u, -1.6668057665E-1f);
  y = fmadd(y, u, 2.0000714765E-1f);
  y = fmadd(y, u, -2.4999993993E-1f);
  y = fmadd(y, u, 3.3333331174E-1f);
  y = y * u * z;
  float fe = static_cast<float>(e);
  y = y + -2.12194440e-4f * fe;
  y = y - 0.5f * z;
  float r = u + y + 0.693359375f * fe;
  return x != x ? x : r;
}

// Cephes log (double): log(1+u) = u - u^2/2 + u^3 P(u)/Q(u).
NS_HD double flog(double x) {
  int64_t bits = bit_cast_<int64_t>(x);
  int32_t e = static_cast<int32_t>((bits >> 52) & 0x7ff) - 1022;
  double m = bit_cast_<double>(static_cast<int64_t>((bits & static_cast<int64_t>(0x800fffffffffffffULL)) |
                                                   static_cast<int64_t>(0x3fe0000000000000ULL)));
  bool small = m < 0.70710678118654752440;
  e = small ? e - 1 : e;
  double u = small ? (m + m - 1.0) : (m - 1.0);
  double z = u * u;
  double p = ((((1.01875663804580931796E-4 * u + 4.97494994976747001425E-1) * u +
                4.70579119878881725854E0) * u + 1.44989225341610930846E1) * u +
              1.79368678507819816313E1) * u + 7.70838733755885391666E0;
  double q = ((((u + 1.12873587189167450590E1) * u + 4.52279145837532221105E1) * u +
               8.29875266912776603211E1) * u + 7.11544750618563894466E1) * u +
             2.31251620126765340583E1;
  double y = u * (z * p / q);
  double fe = static_cast<double>(e);
  y = y - fe * 2.121944400546905827679e-4;
  y = y - 0.5 * z;
  double r = u + y + fe * 0.693359375;
  return x != x ? x : r;
}
#endif

// phi(x) = (1 - exp(-x)) / x for x >= 0, with phi(0) = 1. Exponential-Euler factor: it turns the
// update V + dt*f(V)*phi(dt*g/C) into forward Euler as the total conductance g goes to 0, so a cold
// start with no leak (total conductance exactly 0) is well defined (reference pitfall 6).
template <class T>
NS_HD T expm1_ratio(T x) {
  const T small = sizeof(T) == 4 ? T(1e-2) : T(1e-4);
  T series = T(1) - x * (T(0.5) - x * (T(1) / T(6) - x * (T(1) / T(24))));
  T xs = x < small ? T(1) : x;  // keep the exact branch finite for tiny x
  T exact = (T(1) - fexp(-xs)) / xs;
  return x < small ? series : exact;
}

// Logistic sigmoid 1/(1+exp((V+a)/b)) in the notation of Prinz et al. 2003, Table 1.
// The slope enters as its reciprocal (constant-folded for literal b): one division less per call.
template <class T>
NS_HD T sigm(T v, T a, T b) { return T(1) / (T(1) + fexp((v + a) * (T(1) / b))); }

}  // namespace ns
