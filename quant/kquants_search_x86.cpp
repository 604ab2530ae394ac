#include "quant/kquants_search_x86.h"

#include <immintrin.h>

#include <stdexcept>

#include "quant/avx2_lanes.h"

namespace owl::kq::x86 {

bool has_avx2() {
  static const bool has = __builtin_cpu_supports("avx2");
  return has;
}

namespace {

using avx2::abs;
using avx2::any;
using avx2::clamp;
using avx2::nearest_int;
using avx2::negate;
using avx2::select;
using avx2::transpose_in;

void check_group_size(int n) {
  if (n < 1 || n > kMaxGroup) throw std::logic_error("k-quant search: group size out of range");
}

template <typename T>
OWL_AVX2 void store_quants(int n, const __m256i* q, int offset, T* L) {
  alignas(32) int32_t v[kLanes];
  for (int i = 0; i < n; ++i) {
    _mm256_store_si256(reinterpret_cast<__m256i*>(v), q[i]);
    for (int j = 0; j < kLanes; ++j) L[j * n + i] = static_cast<T>(v[j] + offset);
  }
}

}  // namespace

OWL_AVX2 void affine_scale_search_x8(int n, int nmax, const float* x, const float* weights,
                                     uint8_t* L, float* neg_min, float* scales,
                                     const AffineSearch& search) {
  check_group_size(n);
  __m256 xt[kMaxGroup], wt[kMaxGroup];
  transpose_in(n, x, xt);
  transpose_in(n, weights, wt);
  const __m256 zero = _mm256_setzero_ps();

  __m256 min = xt[0], max = min;
  __m256 sum_w = wt[0];
  __m256 sum_x = _mm256_mul_ps(sum_w, xt[0]);
  for (int i = 1; i < n; ++i) {
    const __m256 xi = xt[i], wi = wt[i];
    min = _mm256_min_ps(xi, min);  // xi < min ? xi : min, as the scalar `if`
    max = _mm256_max_ps(xi, max);
    sum_w = _mm256_add_ps(sum_w, wi);
    sum_x = _mm256_add_ps(sum_x, _mm256_mul_ps(wi, xi));
  }
  min = select(_mm256_cmp_ps(min, zero, _CMP_GT_OQ), zero, min);
  // Flat groups take the scalar early exit; their lanes compute garbage that is dropped below.
  const __m256 flat = _mm256_cmp_ps(max, min, _CMP_EQ_OQ);
  const __m256 flat_min = min;
  const auto error_of = [&](__m256 diff) OWL_AVX2 {
    return search.abs_error ? abs(diff) : _mm256_mul_ps(diff, diff);
  };

  __m256i quants[kMaxGroup], trial[kMaxGroup];
  __m256 iscale = _mm256_div_ps(_mm256_set1_ps(static_cast<float>(nmax)), _mm256_sub_ps(max, min));
  __m256 scale = _mm256_div_ps(_mm256_set1_ps(1.0f), iscale);
  __m256 best_error = zero;
  for (int i = 0; i < n; ++i) {
    const __m256 xi = xt[i];
    quants[i] = clamp(nearest_int(_mm256_mul_ps(iscale, _mm256_sub_ps(xi, min))), 0, nmax);
    const __m256 diff =
        _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(scale, _mm256_cvtepi32_ps(quants[i])), min), xi);
    best_error = _mm256_add_ps(best_error, _mm256_mul_ps(wt[i], error_of(diff)));
  }

  for (int step = 0; search.steps >= 1 && step <= search.steps; ++step) {
    const float numerator =
        search.rmin + search.rdelta * static_cast<float>(step) + static_cast<float>(nmax);
    // As in the scalar search, a better candidate's min moves the range the next ones divide.
    iscale = _mm256_div_ps(_mm256_set1_ps(numerator), _mm256_sub_ps(max, min));
    __m256 sum_l = zero, sum_l2 = zero, sum_xl = zero;
    for (int i = 0; i < n; ++i) {
      const __m256 xi = xt[i];
      trial[i] = clamp(nearest_int(_mm256_mul_ps(iscale, _mm256_sub_ps(xi, min))), 0, nmax);
      const __m256 l = _mm256_cvtepi32_ps(trial[i]);
      const __m256 wl = _mm256_mul_ps(wt[i], l);
      sum_l = _mm256_add_ps(sum_l, wl);
      sum_l2 = _mm256_add_ps(sum_l2, _mm256_mul_ps(wl, l));
      sum_xl = _mm256_add_ps(sum_xl, _mm256_mul_ps(wl, xi));
    }
    const __m256 det = _mm256_sub_ps(_mm256_mul_ps(sum_w, sum_l2), _mm256_mul_ps(sum_l, sum_l));
    const __m256 solvable = _mm256_cmp_ps(det, zero, _CMP_GT_OQ);
    if (!any(solvable)) continue;
    __m256 this_scale = _mm256_div_ps(
        _mm256_sub_ps(_mm256_mul_ps(sum_w, sum_xl), _mm256_mul_ps(sum_x, sum_l)), det);
    __m256 this_min = _mm256_div_ps(
        _mm256_sub_ps(_mm256_mul_ps(sum_l2, sum_x), _mm256_mul_ps(sum_l, sum_xl)), det);
    const __m256 positive_min = _mm256_cmp_ps(this_min, zero, _CMP_GT_OQ);
    this_min = select(positive_min, zero, this_min);
    this_scale = select(positive_min, _mm256_div_ps(sum_xl, sum_l2), this_scale);
    __m256 error = zero;
    for (int i = 0; i < n; ++i) {
      const __m256 xi = xt[i];
      const __m256 diff = _mm256_sub_ps(
          _mm256_add_ps(_mm256_mul_ps(this_scale, _mm256_cvtepi32_ps(trial[i])), this_min), xi);
      error = _mm256_add_ps(error, _mm256_mul_ps(wt[i], error_of(diff)));
    }
    const __m256 better = _mm256_and_ps(solvable, _mm256_cmp_ps(error, best_error, _CMP_LT_OQ));
    if (!any(better)) continue;
    for (int i = 0; i < n; ++i) quants[i] = select(better, trial[i], quants[i]);
    best_error = select(better, error, best_error);
    scale = select(better, this_scale, scale);
    min = select(better, this_min, min);
  }

  for (int i = 0; i < n; ++i) quants[i] = select(flat, _mm256_setzero_si256(), quants[i]);
  store_quants(n, quants, 0, L);
  _mm256_storeu_ps(neg_min, negate(select(flat, flat_min, min)));
  _mm256_storeu_ps(scales, select(flat, zero, scale));
}

OWL_AVX2 void symmetric_scale_search_x8(int n, int nmax, const float* x, const float* weights,
                                        int8_t* L, float* scales) {
  check_group_size(n);
  __m256 xt[kMaxGroup], wt[kMaxGroup];
  transpose_in(n, x, xt);
  if (weights) {
    transpose_in(n, weights, wt);
  } else {
    for (int i = 0; i < n; ++i) wt[i] = _mm256_mul_ps(xt[i], xt[i]);
  }
  const __m256 zero = _mm256_setzero_ps();

  __m256 amax;
  const __m256 max = avx2::signed_absmax(n, xt, amax);
  const __m256 all_zero = _mm256_cmp_ps(amax, _mm256_set1_ps(kGroupMaxEps), _CMP_LT_OQ);

  // The quants `iscale` gives and their weighted sums sum(w x l), sum(w l^2).
  const auto fit = [&](__m256 iscale, __m256i* q, __m256& sumlx, __m256& suml2) OWL_AVX2 {
    sumlx = zero;
    suml2 = zero;
    for (int i = 0; i < n; ++i) {
      const __m256 xi = xt[i];
      q[i] = clamp(nearest_int(_mm256_mul_ps(iscale, xi)), -nmax, nmax - 1);
      const __m256 l = _mm256_cvtepi32_ps(q[i]);
      const __m256 w = wt[i];
      sumlx = _mm256_add_ps(sumlx, _mm256_mul_ps(_mm256_mul_ps(w, xi), l));
      suml2 = _mm256_add_ps(suml2, _mm256_mul_ps(_mm256_mul_ps(w, l), l));
    }
  };

  __m256i quants[kMaxGroup], trial[kMaxGroup];
  __m256 sumlx, suml2;
  fit(_mm256_div_ps(_mm256_set1_ps(static_cast<float>(-nmax)), max), quants, sumlx, suml2);
  // suml2 ? sumlx / suml2 : 0, where NaN counts as true.
  __m256 scale = select(_mm256_cmp_ps(suml2, zero, _CMP_NEQ_UQ), _mm256_div_ps(sumlx, suml2), zero);
  __m256 best = _mm256_mul_ps(scale, sumlx);
  for (int step = -9; step <= 9; ++step) {
    if (step == 0) continue;
    const float numerator = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(step));
    fit(_mm256_div_ps(_mm256_set1_ps(numerator), max), trial, sumlx, suml2);
    const __m256 better = _mm256_and_ps(
        _mm256_cmp_ps(suml2, zero, _CMP_GT_OQ),
        _mm256_cmp_ps(_mm256_mul_ps(sumlx, sumlx), _mm256_mul_ps(best, suml2), _CMP_GT_OQ));
    if (!any(better)) continue;
    for (int i = 0; i < n; ++i) quants[i] = select(better, trial[i], quants[i]);
    const __m256 new_scale = _mm256_div_ps(sumlx, suml2);
    scale = select(better, new_scale, scale);
    best = select(better, _mm256_mul_ps(new_scale, sumlx), best);
  }

  // All-zero groups: quants 0 (not offset) and scale 0, as the scalar early exit gives.
  const __m256i offset_zero = _mm256_set1_epi32(-nmax);
  for (int i = 0; i < n; ++i) quants[i] = select(all_zero, offset_zero, quants[i]);
  store_quants(n, quants, nmax, L);
  _mm256_storeu_ps(scales, select(all_zero, zero, scale));
}

}  // namespace owl::kq::x86
