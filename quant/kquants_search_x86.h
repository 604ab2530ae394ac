// AVX2 versions of the k-quant scale searches, eight groups at a time: lane j runs group j's
// search, operation for operation as the scalar version in kquants_search.cpp does, so the
// results are the same bits (tests hold them equal). Chosen at run time.
#pragma once

#include <cstdint>

#include "quant/kquants_search.h"

namespace owl::kq::x86 {

inline constexpr int kLanes = 8;      // avx2::kLanes
inline constexpr int kMaxGroup = 32;  // the largest group a k-quant searches

bool has_avx2();

// Eight `affine_scale_search` calls on the groups x + j * n (j = 0..7), n <= kMaxGroup, with
// weights likewise; quants go to L + j * n, the results to neg_min[j] and scales[j].
void affine_scale_search_x8(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                            float* neg_min, float* scales, const AffineSearch& search);

// Eight `symmetric_scale_search` calls on the groups x + j * n, with weights + j * n (or x^2
// where `weights` is null), quants to L + j * n.
void symmetric_scale_search_x8(int n, int nmax, const float* x, const float* weights, int8_t* L,
                               float* scales);

}  // namespace owl::kq::x86
