// y = x W^T for a batch of token vectors, with W dequantized a block of rows at a time.
#pragma once

#include <cstdint>

#include "validate/weight.h"

namespace owl::validate {

// x: [tokens, w.cols()], y: [tokens, w.rows()], both row-major. Each weight row is decoded
// once and used for every token, so the cost is that of a matrix multiply, not of decoding.
// The result does not depend on the thread count (each output is one thread's fixed sum).
void matmul(const Weight& w, const float* x, uint64_t tokens, float* y);

float dot(const float* a, const float* b, uint64_t n);

}  // namespace owl::validate
