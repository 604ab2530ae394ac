#include "quant/iq_grid_search_x86.h"

#include <cfloat>

#include "quant/avx2_lanes.h"

namespace owl::iq::x86 {

namespace {

// Eight int8 coordinates as floats.
OWL_AVX2 inline __m256 load_coordinates(const int8_t* p) {
  const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(bytes));
}

// values[(p - 1) / 2] for the odd coordinates p = 1, 3, 5 of the three-level grids.
OWL_AVX2 inline __m256 level_values(__m256 p, const float* values) {
  const __m256 low = _mm256_cmp_ps(p, _mm256_set1_ps(1.f), _CMP_EQ_OQ);
  const __m256 mid = _mm256_cmp_ps(p, _mm256_set1_ps(3.f), _CMP_EQ_OQ);
  const __m256 v = avx2::select(mid, _mm256_set1_ps(values[1]), _mm256_set1_ps(values[2]));
  return avx2::select(low, _mm256_set1_ps(values[0]), v);
}

}  // namespace

OWL_AVX2 int nearest_neighbour_avx2(const SearchGrid& g, uint32_t code, const float* x,
                                    const float* w, float scale, const float* values, int8_t* L) {
  const std::span<const uint16_t> candidates = g.neighbours(code);
  size_t stride;
  const int8_t* coordinates = g.neighbour_coordinates(code, stride);
  const int dims = g.dims();
  const __m256 scale8 = _mm256_set1_ps(scale);
  alignas(32) float d2[8];
  int best = candidates.empty() ? 0 : candidates[0];
  float best_d2 = FLT_MAX;
  for (size_t j0 = 0; j0 < candidates.size(); j0 += 8) {
    __m256 sum = _mm256_setzero_ps();
    for (int i = 0; i < dims; ++i) {
      __m256 q = load_coordinates(coordinates + i * stride + j0);
      if (values) q = level_values(q, values);
      const __m256 diff = _mm256_sub_ps(_mm256_mul_ps(scale8, q), _mm256_set1_ps(x[i]));
      sum = _mm256_add_ps(sum, _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(w[i]), diff), diff));
    }
    _mm256_store_ps(d2, sum);
    const size_t lanes = candidates.size() - j0 < 8 ? candidates.size() - j0 : 8;
    for (size_t j = 0; j < lanes; ++j) {
      if (d2[j] < best_d2) {
        best_d2 = d2[j];
        best = candidates[j0 + j];
      }
    }
  }
  const int8_t* p = g.point(best);
  for (int i = 0; i < dims; ++i) L[i] = static_cast<int8_t>((p[i] - 1) / 2);
  return best;
}

}  // namespace owl::iq::x86
