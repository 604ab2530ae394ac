// y = x W^T for a batch of token vectors, with W dequantized a tile of rows at a time.
#pragma once

#include <cstdint>

#include "validate/weight.h"

namespace owl::validate {

// x: [tokens, w.cols()], y: [tokens, w.rows()], both row-major. Each thread decodes a tile of
// weight rows into packed f32 panels and runs every token (or its share of them) through it, so
// the cost is that of a matrix multiply, not of decoding, and no more than one tile per thread is
// ever held in f32. Sums are f32, in blocks of gemm::kKc values of k; each output's summation
// order is fixed, so the result does not depend on the thread count.
void matmul(const Weight& w, const float* x, uint64_t tokens, float* y);

}  // namespace owl::validate
