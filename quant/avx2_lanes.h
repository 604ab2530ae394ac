// Helpers for the AVX2 searches that run eight scalar searches side by side, one group per lane,
// operation for operation as the scalar code does, so that each lane's result has the scalar
// result's bits. Deliberately AVX2 without FMA: a fused multiply-add would round differently from
// the scalar reference (and ggml); the files using these are built with -ffp-contract=off.
#pragma once

#include <immintrin.h>

#define OWL_AVX2 __attribute__((target("avx2")))

namespace owl::avx2 {

inline constexpr int kLanes = 8;

// Value i of each of the eight groups x + j * n, one group per lane.
OWL_AVX2 inline void transpose_in(int n, const float* x, __m256* t) {
  for (int i = 0; i < n; ++i) {
    t[i] = _mm256_setr_ps(x[i], x[n + i], x[2 * n + i], x[3 * n + i], x[4 * n + i], x[5 * n + i],
                          x[6 * n + i], x[7 * n + i]);
  }
}

// block::nearest_int, per lane.
OWL_AVX2 inline __m256i nearest_int(__m256 v) {
  const __m256 biased = _mm256_add_ps(v, _mm256_set1_ps(12582912.0f));
  const __m256i mantissa =
      _mm256_and_si256(_mm256_castps_si256(biased), _mm256_set1_epi32(0x007fffff));
  return _mm256_sub_epi32(mantissa, _mm256_set1_epi32(0x00400000));
}

OWL_AVX2 inline __m256i clamp(__m256i v, int lo, int hi) {
  return _mm256_min_epi32(_mm256_max_epi32(v, _mm256_set1_epi32(lo)), _mm256_set1_epi32(hi));
}

OWL_AVX2 inline __m256 abs(__m256 v) {
  return _mm256_and_ps(v, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)));
}

OWL_AVX2 inline __m256 negate(__m256 v) {
  return _mm256_xor_ps(v, _mm256_set1_ps(-0.0f));
}

OWL_AVX2 inline __m256 select(__m256 mask, __m256 if_true, __m256 if_false) {
  return _mm256_blendv_ps(if_false, if_true, mask);
}

OWL_AVX2 inline __m256i select(__m256 mask, __m256i if_true, __m256i if_false) {
  return _mm256_blendv_epi8(if_false, if_true, _mm256_castps_si256(mask));
}

OWL_AVX2 inline bool any(__m256 mask) {
  return _mm256_movemask_ps(mask) != 0;
}

// The value of largest magnitude in each lane, with its sign (the first on ties, as the scalar
// loops keep it), and that magnitude.
OWL_AVX2 inline __m256 signed_absmax(int n, const __m256* t, __m256& amax) {
  amax = _mm256_setzero_ps();
  __m256 max = _mm256_setzero_ps();
  for (int i = 0; i < n; ++i) {
    const __m256 ax = abs(t[i]);
    const __m256 larger = _mm256_cmp_ps(ax, amax, _CMP_GT_OQ);
    amax = select(larger, ax, amax);
    max = select(larger, t[i], max);
  }
  return max;
}

}  // namespace owl::avx2
