#include "quant/iq_grid_search_x86.h"

#include <cfloat>
#include <climits>

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

OWL_AVX2 inline int lane_min(__m256i v) {
  __m128i m = _mm_min_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  m = _mm_min_epi32(m, _mm_shuffle_epi32(m, _MM_SHUFFLE(1, 0, 3, 2)));
  m = _mm_min_epi32(m, _mm_shuffle_epi32(m, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(m);
}

// Where in the list the first candidate at the smallest distance is: each lane keeps its own
// first smallest (a strict comparison, so NaN distances never win, as in the scalar search),
// and of the lanes at the overall smallest the earliest position wins. 0 where no distance is
// below FLT_MAX, as the scalar search then keeps its first candidate. Padding repeats
// candidate 0, which therefore always comes before it.
template <int Dims>
OWL_AVX2 inline int first_nearest(const int8_t* levels, size_t stride, const __m256* term) {
  __m256 best = _mm256_set1_ps(FLT_MAX);
  __m256i best_at = _mm256_setzero_si256();
  __m256i at = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i eight = _mm256_set1_epi32(8);
  for (size_t j0 = 0; j0 < stride; j0 += 8) {
    __m256 d2 = look_up(term[0], levels + j0);
    for (int i = 1; i < Dims; ++i)
      d2 = _mm256_add_ps(d2, look_up(term[i], levels + i * stride + j0));
    const __m256 closer = _mm256_cmp_ps(d2, best, _CMP_LT_OQ);
    best = _mm256_blendv_ps(best, d2, closer);
    best_at = _mm256_blendv_epi8(best_at, at, _mm256_castps_si256(closer));
    at = _mm256_add_epi32(at, eight);
  }
  const float smallest = lane_min(best);
  if (!(smallest < FLT_MAX)) return 0;
  const __m256 at_smallest = _mm256_cmp_ps(best, _mm256_set1_ps(smallest), _CMP_EQ_OQ);
  return lane_min(
      _mm256_blendv_epi8(_mm256_set1_epi32(INT_MAX), best_at, _mm256_castps_si256(at_smallest)));
}

// Coordinate i's term w (scale q - x)^2 for each level, in lane `level`: the scalar search's
// terms, so each candidate's distance is a sum of looked-up terms in the scalar order.
template <int Dims>
OWL_AVX2 inline int search(const SearchGrid& g, uint32_t code, const float* x, const float* w,
                           float scale, const float* values, int8_t* L) {
  size_t stride;
  const int8_t* levels = g.neighbour_levels(code, stride);
  __m256 q;
  if (values) {
    q = _mm256_setr_ps(values[0], values[1], values[2], values[0], values[0], values[0], values[0],
                       values[0]);
  } else {
    q = _mm256_setr_ps(1, 3, 5, 7, 9, 11, 13, 15);
  }
  const __m256 scaled = _mm256_mul_ps(_mm256_set1_ps(scale), q);
  __m256 term[Dims];
  for (int i = 0; i < Dims; ++i) {
    const __m256 diff = _mm256_sub_ps(scaled, _mm256_set1_ps(x[i]));
    term[i] = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(w[i]), diff), diff);
  }
  const int at = first_nearest<Dims>(levels, stride, term);
  for (int i = 0; i < Dims; ++i) L[i] = levels[i * stride + static_cast<size_t>(at)];
  return g.neighbours(code)[static_cast<size_t>(at)];
}

}  // namespace

OWL_AVX2 int nearest_neighbour_avx2(const SearchGrid& g, uint32_t code, const float* x,
                                    const float* w, float scale, const float* values, int8_t* L) {
  if (g.neighbours(code).empty()) return nearest_candidate(g, {}, x, w, scale, values, L);
  if (g.dims() == 4) return search<4>(g, code, x, w, scale, values, L);
  return search<8>(g, code, x, w, scale, values, L);
}

}  // namespace owl::iq::x86
