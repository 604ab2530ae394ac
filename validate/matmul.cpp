#include "validate/matmul.h"

#include <algorithm>
#include <vector>

namespace owl::validate {
namespace {
// Rows decoded together: enough to amortise the decode, few enough to stay in cache.
constexpr uint64_t kRowBlock = 16;
}  // namespace

float dot(const float* a, const float* b, uint64_t n) {
  float s = 0;
#pragma omp simd reduction(+ : s)
  for (uint64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

void matmul(const Weight& w, const float* x, uint64_t tokens, float* y) {
  const uint64_t rows = w.rows(), cols = w.cols();
  const int64_t blocks = static_cast<int64_t>((rows + kRowBlock - 1) / kRowBlock);
#pragma omp parallel
  {
    std::vector<float> block(kRowBlock * cols);
#pragma omp for schedule(dynamic, 4)
    for (int64_t b = 0; b < blocks; ++b) {
      const uint64_t first = static_cast<uint64_t>(b) * kRowBlock;
      const uint64_t n = std::min(kRowBlock, rows - first);
      w.rows_f32(first, n, block.data());
      for (uint64_t t = 0; t < tokens; ++t)
        for (uint64_t r = 0; r < n; ++r) y[t * rows + first + r] = dot(block.data() + r * cols, x + t * cols, cols);
    }
  }
}

}  // namespace owl::validate
