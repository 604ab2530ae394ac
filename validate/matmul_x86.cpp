// AVX-512 and AVX2/FMA GEMM microkernels, compiled for those ISAs function by function so the
// binary still runs on CPUs without them (kernel() asks the CPU first).
#include "validate/matmul_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace owl::validate::gemm {

#if defined(__x86_64__) || defined(__i386__)

#define OWL_AVX512 __attribute__((target("avx512f,fma")))
#define OWL_AVX2 __attribute__((target("avx2,fma")))

namespace {

// 12 tokens x 32 rows: 24 zmm accumulators, two panel loads and twelve broadcasts per k.
constexpr uint64_t kMr512 = 12;

template <uint64_t M>
OWL_AVX512 void tile512(const float* a, const float* b, uint64_t kc, float* c, uint64_t ldc,
                        uint64_t n, bool add) {
  __m512 lo[M], hi[M];
#pragma GCC unroll 16
  for (uint64_t i = 0; i < M; ++i) lo[i] = hi[i] = _mm512_setzero_ps();
  for (uint64_t k = 0; k < kc; ++k) {
    const __m512 b0 = _mm512_load_ps(b + k * kNr), b1 = _mm512_load_ps(b + k * kNr + 16);
    const float* ak = a + k * kMr512;
#pragma GCC unroll 16
    for (uint64_t i = 0; i < M; ++i) {
      const __m512 ai = _mm512_set1_ps(ak[i]);
      lo[i] = _mm512_fmadd_ps(ai, b0, lo[i]);
      hi[i] = _mm512_fmadd_ps(ai, b1, hi[i]);
    }
  }
  const __mmask16 m0 = n >= 16 ? 0xffff : static_cast<__mmask16>((1u << n) - 1);
  const __mmask16 m1 = n >= 32   ? 0xffff
                       : n <= 16 ? 0
                                 : static_cast<__mmask16>((1u << (n - 16)) - 1);
#pragma GCC unroll 16
  for (uint64_t i = 0; i < M; ++i) {
    float* ci = c + i * ldc;
    __m512 v0 = lo[i], v1 = hi[i];
    if (add) {
      v0 = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, ci), v0);
      v1 = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, ci + 16), v1);
    }
    _mm512_mask_storeu_ps(ci, m0, v0);
    _mm512_mask_storeu_ps(ci + 16, m1, v1);
  }
}

OWL_AVX512 void avx512(const float* a, const float* b, uint64_t kc, float* c, uint64_t ldc,
                       uint64_t m, uint64_t n, bool add) {
  switch (m) {
    case 1:
      return tile512<1>(a, b, kc, c, ldc, n, add);
    case 2:
      return tile512<2>(a, b, kc, c, ldc, n, add);
    case 3:
      return tile512<3>(a, b, kc, c, ldc, n, add);
    case 4:
      return tile512<4>(a, b, kc, c, ldc, n, add);
    case 5:
      return tile512<5>(a, b, kc, c, ldc, n, add);
    case 6:
      return tile512<6>(a, b, kc, c, ldc, n, add);
    case 7:
      return tile512<7>(a, b, kc, c, ldc, n, add);
    case 8:
      return tile512<8>(a, b, kc, c, ldc, n, add);
    case 9:
      return tile512<9>(a, b, kc, c, ldc, n, add);
    case 10:
      return tile512<10>(a, b, kc, c, ldc, n, add);
    case 11:
      return tile512<11>(a, b, kc, c, ldc, n, add);
    default:
      return tile512<12>(a, b, kc, c, ldc, n, add);
  }
}

// 6 tokens x 16 rows at a time (12 ymm accumulators), the panel's two halves one after the other.
constexpr uint64_t kMr256 = 6;

template <uint64_t M>
OWL_AVX2 void half256(const float* a, const float* b, uint64_t kc, float* c, uint64_t ldc,
                      uint64_t n, bool add) {
  __m256 lo[M], hi[M];
#pragma GCC unroll 8
  for (uint64_t i = 0; i < M; ++i) lo[i] = hi[i] = _mm256_setzero_ps();
  for (uint64_t k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_load_ps(b + k * kNr), b1 = _mm256_load_ps(b + k * kNr + 8);
    const float* ak = a + k * kMr256;
#pragma GCC unroll 8
    for (uint64_t i = 0; i < M; ++i) {
      const __m256 ai = _mm256_broadcast_ss(ak + i);
      lo[i] = _mm256_fmadd_ps(ai, b0, lo[i]);
      hi[i] = _mm256_fmadd_ps(ai, b1, hi[i]);
    }
  }
#pragma GCC unroll 8
  for (uint64_t i = 0; i < M; ++i) {
    float* ci = c + i * ldc;
    if (n == 16) {
      __m256 v0 = lo[i], v1 = hi[i];
      if (add) {
        v0 = _mm256_add_ps(_mm256_loadu_ps(ci), v0);
        v1 = _mm256_add_ps(_mm256_loadu_ps(ci + 8), v1);
      }
      _mm256_storeu_ps(ci, v0);
      _mm256_storeu_ps(ci + 8, v1);
    } else {
      alignas(32) float sum[16];
      _mm256_store_ps(sum, lo[i]);
      _mm256_store_ps(sum + 8, hi[i]);
      for (uint64_t r = 0; r < n; ++r) ci[r] = add ? ci[r] + sum[r] : sum[r];
    }
  }
}

template <uint64_t M>
OWL_AVX2 void tile256(const float* a, const float* b, uint64_t kc, float* c, uint64_t ldc,
                      uint64_t n, bool add) {
  half256<M>(a, b, kc, c, ldc, n < 16 ? n : 16, add);
  if (n > 16) half256<M>(a, b + 16, kc, c + 16, ldc, n - 16, add);
}

OWL_AVX2 void avx2(const float* a, const float* b, uint64_t kc, float* c, uint64_t ldc, uint64_t m,
                   uint64_t n, bool add) {
  switch (m) {
    case 1:
      return tile256<1>(a, b, kc, c, ldc, n, add);
    case 2:
      return tile256<2>(a, b, kc, c, ldc, n, add);
    case 3:
      return tile256<3>(a, b, kc, c, ldc, n, add);
    case 4:
      return tile256<4>(a, b, kc, c, ldc, n, add);
    case 5:
      return tile256<5>(a, b, kc, c, ldc, n, add);
    default:
      return tile256<6>(a, b, kc, c, ldc, n, add);
  }
}

// GCC 12's AVX-512 shuffle intrinsics start from _mm512_undefined_ps(), which it then reports as
// maybe uninitialized once inlined here.
#pragma GCC diagnostic push
#ifndef __clang__  // clang has no such warning, and warns about the unknown name
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
// Rows r[0..15] become columns: r[j] holds the 16 values of column j afterwards.
OWL_AVX512 void transpose16(__m512 r[16]) {
  __m512 t[16], u[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  // Within each 128-bit lane, u[4g + j] holds column j of rows 4g..4g+3.
  for (int g = 0; g < 4; ++g) {
    u[4 * g] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], 0x44);
    u[4 * g + 1] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], 0xee);
    u[4 * g + 2] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0x44);
    u[4 * g + 3] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0xee);
  }
  // Then the lanes: column 4L + j gathers lane L of u[j], u[4 + j], u[8 + j], u[12 + j].
  for (int j = 0; j < 4; ++j) {
    const __m512 x = _mm512_shuffle_f32x4(u[j], u[4 + j], 0x88),
                 y = _mm512_shuffle_f32x4(u[j], u[4 + j], 0xdd);
    const __m512 z = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0x88),
                 w = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0xdd);
    r[j] = _mm512_shuffle_f32x4(x, z, 0x88);
    r[4 + j] = _mm512_shuffle_f32x4(y, w, 0x88);
    r[8 + j] = _mm512_shuffle_f32x4(x, z, 0xdd);
    r[12 + j] = _mm512_shuffle_f32x4(y, w, 0xdd);
  }
}

}  // namespace

bool cpu_has(Isa isa) {
  static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  static const bool avx512 = avx2 && __builtin_cpu_supports("avx512f");
  return isa == Isa::Portable || (isa == Isa::Avx2 && avx2) || (isa == Isa::Avx512 && avx512);
}

OWL_AVX512 uint64_t pack_b_rows_avx512(const float* w, uint64_t ldw, uint64_t k, float* out) {
  uint64_t k0 = 0;
  for (; k0 + 16 <= k; k0 += 16)
    for (uint64_t half = 0; half < 2; ++half) {
      __m512 r[16];
      for (uint64_t i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(w + (half * 16 + i) * ldw + k0);
      transpose16(r);
      for (uint64_t j = 0; j < 16; ++j) _mm512_store_ps(out + (k0 + j) * kNr + half * 16, r[j]);
    }
  return k0;
}
#pragma GCC diagnostic pop

Kernel avx512_kernel() {
  return {Isa::Avx512, kMr512, avx512, "avx512"};
}
Kernel avx2_kernel() {
  return {Isa::Avx2, kMr256, avx2, "avx2"};
}

#else

bool cpu_has(Isa isa) {
  return isa == Isa::Portable;
}
uint64_t pack_b_rows_avx512(const float*, uint64_t, uint64_t, float*) {
  return 0;
}
Kernel avx512_kernel() {
  return portable_kernel();
}
Kernel avx2_kernel() {
  return portable_kernel();
}

#endif

}  // namespace owl::validate::gemm
