// AVX2 version of the grid i-quants' neighbour search, eight candidates at a time. Each
// coordinate's term w (scale q - x)^2 is computed once per level, as the scalar
// `nearest_candidate` computes it, and lane j adds candidate j's terms in the scalar order, so
// the distances and the choice are the same (tests hold them equal). Chosen at run time
// (kq::x86::has_avx2).
#pragma once

#include <cstdint>

#include "quant/iq_grid_search.h"

namespace owl::iq::x86 {

// `nearest_candidate` over the neighbours of the off-grid `code`. With `values`, a coordinate
// of level l counts as values[l] instead of 2 l + 1 (IQ1's shifted values).
int nearest_neighbour_avx2(const SearchGrid& g, uint32_t code, const float* x, const float* w,
                           float scale, const float* values, int8_t* L);

}  // namespace owl::iq::x86
