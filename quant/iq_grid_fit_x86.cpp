#include "quant/iq_grid_fit_x86.h"

#include "quant/avx2_lanes.h"
#include "quant/iq_grid_search_x86.h"

namespace owl::iq::x86 {

OWL_AVX2 void snap_trials_avx2(const SearchGrid& g, int n, const float* xval, const float* waux,
                               const float* ids, int count, TrialLevels& out) {
  const int dims = g.dims();
  const int groups = n / dims;
  const int bits = g.bits();

  // Each value's q and each group's code in each trial, trials in lanes: round_to_levels'
  // operations, per lane.
  alignas(32) uint32_t codes[TrialLevels::kMaxValues / 4][TrialLevels::kTrialSlots];
  const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.f);
  const __m256i one_i = _mm256_set1_epi32(1);
  for (int t0 = 0; t0 < count; t0 += avx2::kLanes) {
    const __m256 id = _mm256_load_ps(ids + t0);
    for (int k = 0; k < groups; ++k) {
      __m256i code = _mm256_setzero_si256();
      for (int i = 0; i < dims; ++i) {
        const __m256 x = _mm256_set1_ps(xval[dims * k + i]);
        const __m256 v = _mm256_mul_ps(half, _mm256_sub_ps(_mm256_mul_ps(id, x), one));
        const __m256i l = avx2::clamp(avx2::nearest_int(v), 0, g.levels() - 1);
        code = _mm256_or_si256(code, _mm256_slli_epi32(l, bits * i));
        const __m256i q = _mm256_add_epi32(_mm256_add_epi32(l, l), one_i);
        _mm256_store_ps(&out.q[dims * k + i][t0], _mm256_cvtepi32_ps(q));
      }
      _mm256_store_si256(reinterpret_cast<__m256i*>(&codes[k][t0]), code);
    }
  }

  // The codes on the grid are points already; the others snap to their nearest neighbour.
  for (int t = 0; t < count; ++t) {
    const float scale = 1 / ids[t];
    for (int k = 0; k < groups; ++k) {
      const uint32_t u = codes[k][t];
      out.on_grid[t][k] = g.index_of(u) >= 0;
      if (out.on_grid[t][k]) continue;
      int8_t L[8];
      nearest_neighbour_avx2(g, u, xval + dims * k, waux + dims * k, scale, nullptr, L);
      for (int i = 0; i < dims; ++i) out.q[dims * k + i][t] = static_cast<float>(2 * L[i] + 1);
    }
  }
}

OWL_AVX2 void trial_sums_avx2(int n, const float* xval, const float* weight,
                              const TrialLevels& trial, int count, float* sumqx, float* sumq2) {
  for (int t0 = 0; t0 < count; t0 += avx2::kLanes) {
    __m256 qx = _mm256_setzero_ps(), q2 = _mm256_setzero_ps();
    for (int i = 0; i < n; ++i) {
      const __m256 w = _mm256_set1_ps(weight[i]);
      const __m256 wx = _mm256_set1_ps(weight[i] * xval[i]);
      const __m256 q = _mm256_load_ps(&trial.q[i][t0]);
      qx = _mm256_add_ps(qx, _mm256_mul_ps(wx, q));
      q2 = _mm256_add_ps(q2, _mm256_mul_ps(_mm256_mul_ps(w, q), q));
    }
    _mm256_storeu_ps(sumqx + t0, qx);
    _mm256_storeu_ps(sumq2 + t0, q2);
  }
}

}  // namespace owl::iq::x86
