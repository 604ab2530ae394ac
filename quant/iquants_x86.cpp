#include "quant/iquants_x86.h"

#include <immintrin.h>

#include "quant/avx2_lanes.h"
#include "quant/iquants.h"
#include "quant/kquants_search.h"

namespace owl::iq4::x86 {

namespace {

using avx2::select;

constexpr int kGroup = 32;
constexpr int kScaleTries = 7;

// The level the scalar nearest_level picks for `al`, per lane: below the lowest or above the
// highest level, that level; between, of the two levels around al (found by counting the
// levels at or below it, where the scalar code bisects) the nearer, the upper one on ties.
struct Levels {
  __m256 low_half, high_half;  // levels 0..7 and 8..15, as floats

  OWL_AVX2 __m256 at(__m256i index) const {
    const __m256 high = _mm256_castsi256_ps(_mm256_cmpgt_epi32(index, _mm256_set1_epi32(7)));
    return select(high, _mm256_permutevar8x32_ps(high_half, index),
                  _mm256_permutevar8x32_ps(low_half, index));
  }

  OWL_AVX2 __m256 nearest(__m256 al) const {
    __m256i below = _mm256_setzero_si256();  // levels 1..14 at or below al
    for (int k = 1; k < 15; ++k) {
      const __m256 ge = _mm256_cmp_ps(al, _mm256_set1_ps(kIQ4Levels[k]), _CMP_GE_OQ);
      below = _mm256_sub_epi32(below, _mm256_castps_si256(ge));
    }
    const __m256 lower = at(below);
    const __m256 upper = at(_mm256_add_epi32(below, _mm256_set1_epi32(1)));
    const __m256 nearer_lower =
        _mm256_cmp_ps(_mm256_sub_ps(al, lower), _mm256_sub_ps(upper, al), _CMP_LT_OQ);
    const __m256 between = select(nearer_lower, lower, upper);
    const __m256 first = _mm256_set1_ps(kIQ4Levels[0]), last = _mm256_set1_ps(kIQ4Levels[15]);
    return select(_mm256_cmp_ps(al, first, _CMP_LE_OQ), first,
                  select(_mm256_cmp_ps(al, last, _CMP_GE_OQ), last, between));
  }
};

}  // namespace

OWL_AVX2 void group_scales_x8(const float* x, const float* w, float* scales) {
  __m256 xt[kGroup], wt[kGroup];
  avx2::transpose_in(kGroup, x, xt);
  avx2::transpose_in(kGroup, w, wt);
  const __m256 zero = _mm256_setzero_ps();
  Levels levels;
  float table[16];
  for (int k = 0; k < 16; ++k) table[k] = kIQ4Levels[k];
  levels.low_half = _mm256_loadu_ps(table);
  levels.high_half = _mm256_loadu_ps(table + 8);

  __m256 amax;
  const __m256 max = avx2::signed_absmax(kGroup, xt, amax);
  // All-zero groups take the scalar early exit; their lanes compute garbage dropped below.
  const __m256 all_zero = _mm256_cmp_ps(amax, _mm256_set1_ps(kq::kGroupMaxEps), _CMP_LT_OQ);

  // sum(w q x) and sum(w q^2) for the levels inverse scale `id` picks.
  const auto fit = [&](__m256 id, __m256& sumqx, __m256& sumq2) OWL_AVX2 {
    sumqx = zero;
    sumq2 = zero;
    for (int j = 0; j < kGroup; ++j) {
      const __m256 q = levels.nearest(_mm256_mul_ps(id, xt[j]));
      const __m256 wq = _mm256_mul_ps(wt[j], q);
      sumqx = _mm256_add_ps(sumqx, _mm256_mul_ps(wq, xt[j]));
      sumq2 = _mm256_add_ps(sumq2, _mm256_mul_ps(wq, q));
    }
  };

  __m256 sumqx, sumq2;
  const __m256 first_d =
      _mm256_div_ps(avx2::negate(max), _mm256_set1_ps(static_cast<float>(kIQ4Levels[0])));
  fit(_mm256_div_ps(_mm256_set1_ps(1.0f), first_d), sumqx, sumq2);
  __m256 d = select(_mm256_cmp_ps(sumq2, zero, _CMP_GT_OQ), _mm256_div_ps(sumqx, sumq2), zero);
  __m256 best = _mm256_mul_ps(d, sumqx);
  for (int t = -kScaleTries; t <= kScaleTries; ++t) {
    const float numerator = static_cast<float>(t + kIQ4Levels[0]);
    fit(_mm256_div_ps(_mm256_set1_ps(numerator), max), sumqx, sumq2);
    const __m256 better = _mm256_and_ps(
        _mm256_cmp_ps(sumq2, zero, _CMP_GT_OQ),
        _mm256_cmp_ps(_mm256_mul_ps(sumqx, sumqx), _mm256_mul_ps(best, sumq2), _CMP_GT_OQ));
    if (!avx2::any(better)) continue;
    const __m256 new_d = _mm256_div_ps(sumqx, sumq2);
    d = select(better, new_d, d);
    best = select(better, _mm256_mul_ps(new_d, sumqx), best);
  }
  _mm256_storeu_ps(scales, select(all_zero, zero, d));
}

}  // namespace owl::iq4::x86
