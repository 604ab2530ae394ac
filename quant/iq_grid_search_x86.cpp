#include "quant/iq_grid_search_x86.h"

#include <cfloat>

#include "quant/avx2_lanes.h"

namespace owl::iq::x86 {

namespace {

// Lane j of the result is t[idx[j]], for eight int8 indices in [0, 8).
OWL_AVX2 inline __m256 look_up(__m256 t, const int8_t* idx) {
  const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(idx));
  return _mm256_permutevar8x32_ps(t, _mm256_cvtepi8_epi32(bytes));
}

// The smallest of eight lanes.
OWL_AVX2 inline float lane_min(__m256 v) {
  __m128 m = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_min_ps(m, _mm_movehl_ps(m, m));
  m = _mm_min_ss(m, _mm_shuffle_ps(m, m, 1));
  return _mm_cvtss_f32(m);
}

}  // namespace

OWL_AVX2 int nearest_neighbour_avx2(const SearchGrid& g, uint32_t code, const float* x,
                                    const float* w, float scale, const float* values, int8_t* L) {
  const std::span<const uint16_t> candidates = g.neighbours(code);
  if (candidates.empty()) return nearest_candidate(g, candidates, x, w, scale, values, L);
  size_t stride;
  const int8_t* levels = g.neighbour_levels(code, stride);
  const int dims = g.dims();

  // Coordinate i's term w (scale q - x)^2 for each level, in lane `level`: the scalar search's
  // terms, so each candidate's distance is a sum of looked-up terms in the scalar order.
  __m256 q;
  if (values) {
    q = _mm256_setr_ps(values[0], values[1], values[2], values[0], values[0], values[0], values[0],
                       values[0]);
  } else {
    q = _mm256_setr_ps(1, 3, 5, 7, 9, 11, 13, 15);
  }
  const __m256 scaled = _mm256_mul_ps(_mm256_set1_ps(scale), q);
  __m256 term[8];
  for (int i = 0; i < dims; ++i) {
    const __m256 diff = _mm256_sub_ps(scaled, _mm256_set1_ps(x[i]));
    term[i] = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(w[i]), diff), diff);
  }

  // The distances, and the smallest below FLT_MAX in each lane (NaN distances never win, as in
  // the scalar search: _mm256_min_ps keeps its second operand where the first is NaN).
  alignas(32) float d2s[SearchGrid::kMaxNeighbours + 8];
  __m256 smallest8 = _mm256_set1_ps(FLT_MAX);
  for (size_t j0 = 0; j0 < stride; j0 += 8) {
    __m256 d2 = look_up(term[0], levels + j0);
    for (int i = 1; i < dims; ++i)
      d2 = _mm256_add_ps(d2, look_up(term[i], levels + i * stride + j0));
    _mm256_store_ps(d2s + j0, d2);
    smallest8 = _mm256_min_ps(d2, smallest8);
  }

  // The first candidate at the smallest distance, as the scalar search keeps its first best.
  // Padding repeats candidate 0, so it never comes first.
  const float smallest = lane_min(smallest8);
  size_t at = 0;
  if (smallest < FLT_MAX) {
    const __m256 target = _mm256_set1_ps(smallest);
    for (size_t j0 = 0;; j0 += 8) {
      const int hits =
          _mm256_movemask_ps(_mm256_cmp_ps(_mm256_load_ps(d2s + j0), target, _CMP_EQ_OQ));
      if (hits) {
        at = j0 + static_cast<size_t>(__builtin_ctz(static_cast<unsigned>(hits)));
        break;
      }
    }
  }
  for (int i = 0; i < dims; ++i) L[i] = levels[i * stride + at];
  return candidates[at];
}

}  // namespace owl::iq::x86
