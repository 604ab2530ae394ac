#include "quant/iq1_split_x86.h"

#include <algorithm>
#include <cfloat>

#include "quant/avx2_lanes.h"

namespace owl::iq1::x86 {

namespace {

using avx2::kLanes;

// Whether a lane's split beats the running best: ggml's test, per lane.
OWL_AVX2 inline __m256 beats(__m256 sumqx, __m256 sumq2, float best_score) {
  const __m256 positive = _mm256_cmp_ps(sumq2, _mm256_setzero_ps(), _CMP_GT_OQ);
  const __m256 better = _mm256_cmp_ps(_mm256_mul_ps(sumqx, sumqx),
                                      _mm256_mul_ps(_mm256_set1_ps(best_score), sumq2), _CMP_GT_OQ);
  return _mm256_and_ps(positive, better);
}

// Lanes j whose i2 = first + j is at most `last`.
OWL_AVX2 inline __m256 within(int first, int last) {
  const __m256i i2 =
      _mm256_add_epi32(_mm256_set1_epi32(first), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  return _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(last + 1), i2));
}

}  // namespace

OWL_AVX2 SplitS best_split_s_avx2(const float* sumx, const float* sumw, float max) {
  constexpr int n = kSplitS;
  // The prefix sums, readable a vector past the end.
  float px[n + 1 + kLanes] = {}, pw[n + 1 + kLanes] = {};
  std::copy(sumx, sumx + n + 1, px);
  std::copy(sumw, sumw + n + 1, pw);
  SplitSearch<SplitS> s{SplitS{max}, -FLT_MAX};
  for (int i1 = 0; i1 <= n; ++i1) {
    // The terms that do not depend on i2, as the scalar step computes them.
    float low_x[2], low_w[2];
    for (int k = 0; k < 2; ++k) {
      const float* v = k == 0 ? kShiftUp : kShiftDown;
      low_x[k] = (px[i1] - px[0]) * v[0];
      low_w[k] = (pw[i1] - pw[0]) * v[0] * v[0];
    }
    const __m256 x1 = _mm256_set1_ps(px[i1]), w1 = _mm256_set1_ps(pw[i1]);
    const __m256 xn = _mm256_set1_ps(px[n]), wn = _mm256_set1_ps(pw[n]);
    for (int j0 = i1; j0 <= n; j0 += kLanes) {
      const __m256 x2 = _mm256_loadu_ps(px + j0), w2 = _mm256_loadu_ps(pw + j0);
      __m256 hit = _mm256_setzero_ps();
      alignas(32) float sumqx_k[2][kLanes], sumq2_k[2][kLanes];
      for (int k = 0; k < 2; ++k) {
        const float* v = k == 0 ? kShiftUp : kShiftDown;
        const __m256 v1 = _mm256_set1_ps(v[1]), v2 = _mm256_set1_ps(v[2]);
        const __m256 mid_x = _mm256_mul_ps(_mm256_sub_ps(x2, x1), v1);
        const __m256 top_x = _mm256_mul_ps(_mm256_sub_ps(xn, x2), v2);
        const __m256 sumqx = _mm256_add_ps(_mm256_add_ps(_mm256_set1_ps(low_x[k]), mid_x), top_x);
        const __m256 mid_w = _mm256_mul_ps(_mm256_mul_ps(_mm256_sub_ps(w2, w1), v1), v1);
        const __m256 top_w = _mm256_mul_ps(_mm256_mul_ps(_mm256_sub_ps(wn, w2), v2), v2);
        const __m256 sumq2 = _mm256_add_ps(_mm256_add_ps(_mm256_set1_ps(low_w[k]), mid_w), top_w);
        hit = _mm256_or_ps(hit, beats(sumqx, sumq2, s.best_score));
        _mm256_store_ps(sumqx_k[k], sumqx);
        _mm256_store_ps(sumq2_k[k], sumq2);
      }
      if (!avx2::any(_mm256_and_ps(hit, within(j0, n)))) continue;
      // Some lane wins: the lanes again in the scalar order, from their sums.
      for (int j = 0; j < kLanes && j0 + j <= n; ++j) {
        for (int k = 0; k < 2; ++k)
          if (s.offer(sumqx_k[k][j], sumq2_k[k][j]))
            s.best = {s.best.scale, i1, j0 + j, k == 0 ? 1 : -1};
      }
    }
  }
  return s.best;
}

OWL_AVX2 SplitM best_split_m_avx2(const HalfSums& p, float max) {
  constexpr int n = kSplitM;
  // Each half's prefix sums, readable a vector past the end.
  float px[2][n + 1 + kLanes] = {}, pw[2][n + 1 + kLanes] = {};
  for (int h = 0; h < 2; ++h) {
    std::copy(p.px[h], p.px[h] + n + 1, px[h]);
    std::copy(p.pw[h], p.pw[h] + n + 1, pw[h]);
  }
  SplitSearch<SplitM> s{SplitM{max}, -FLT_MAX};
  for (int i1 = 0; i1 <= n; ++i1) {
    for (int j0 = i1; j0 <= n; j0 += kLanes) {
      __m256 qx_p[2], qx_m[2], q2_p[2], q2_m[2];
      for (int h = 0; h < 2; ++h) {
        const __m256 sx = _mm256_add_ps(_mm256_set1_ps(px[h][i1]), _mm256_loadu_ps(px[h] + j0));
        qx_p[h] = _mm256_sub_ps(_mm256_set1_ps(px[h][n] * p2), sx);
        qx_m[h] = _mm256_sub_ps(_mm256_set1_ps(px[h][n] * m2), sx);
        const __m256 w2 = _mm256_loadu_ps(pw[h] + j0);
        q2_p[h] = _mm256_add_ps(_mm256_set1_ps(pw[h][n] * p2 * p2 + pw[h][i1] * cp1),
                                _mm256_mul_ps(w2, _mm256_set1_ps(cp2)));
        q2_m[h] = _mm256_add_ps(_mm256_set1_ps(pw[h][n] * m2 * m2 + pw[h][i1] * cm1),
                                _mm256_mul_ps(w2, _mm256_set1_ps(cm2)));
      }
      // The four pairs of shifts in the scalar order: up-up, up-down, down-up, down-down.
      const __m256 sumqx[4] = {_mm256_add_ps(qx_p[0], qx_p[1]), _mm256_add_ps(qx_p[0], qx_m[1]),
                               _mm256_add_ps(qx_m[0], qx_p[1]), _mm256_add_ps(qx_m[0], qx_m[1])};
      const __m256 sumq2[4] = {_mm256_add_ps(q2_p[0], q2_p[1]), _mm256_add_ps(q2_p[0], q2_m[1]),
                               _mm256_add_ps(q2_m[0], q2_p[1]), _mm256_add_ps(q2_m[0], q2_m[1])};
      __m256 hit = _mm256_setzero_ps();
      for (int k = 0; k < 4; ++k) hit = _mm256_or_ps(hit, beats(sumqx[k], sumq2[k], s.best_score));
      if (!avx2::any(_mm256_and_ps(hit, within(j0, n)))) continue;
      // Some lane wins: the lanes again in the scalar order, from their sums.
      alignas(32) float sumqx_k[4][kLanes], sumq2_k[4][kLanes];
      for (int k = 0; k < 4; ++k) {
        _mm256_store_ps(sumqx_k[k], sumqx[k]);
        _mm256_store_ps(sumq2_k[k], sumq2[k]);
      }
      for (int j = 0; j < kLanes && j0 + j <= n; ++j) {
        for (int k = 0; k < 4; ++k)
          if (s.offer(sumqx_k[k][j], sumq2_k[k][j])) s.best = {s.best.scale, i1, j0 + j, k};
      }
    }
  }
  return s.best;
}

}  // namespace owl::iq1::x86
