#include "validate/layer_ops.h"

#include <cmath>

#include "formats/io/error.h"

namespace owl::validate {

Weight required(const Graph& g, const std::string& name) {
  const Tensor* t = g.find(name);
  if (!t) throw UsageError("the model has no tensor '" + name + "'");
  return Weight(*t);
}

Weight optional(const Graph& g, const std::string& name) {
  const Tensor* t = g.find(name);
  return t ? Weight(*t) : Weight();
}

void rms_norm(float* x, uint64_t T, uint64_t n, const std::vector<float>& w, float eps) {
#pragma omp parallel for schedule(static) if (T * n >= kParallelValues)
  for (int64_t t = 0; t < static_cast<int64_t>(T); ++t) {
    float* row = x + static_cast<uint64_t>(t) * n;
    double ss = 0;
    for (uint64_t i = 0; i < n; ++i) ss += static_cast<double>(row[i]) * row[i];
    const float scale = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(n) + eps));
    for (uint64_t i = 0; i < n; ++i) row[i] = row[i] * scale * w[i];
  }
}

std::vector<float> vector_of(const Weight& w) {
  std::vector<float> v(w.rows() * w.cols());
  w.rows_f32(0, w.rows(), v.data());
  return v;
}

void add_bias(float* y, uint64_t T, const Weight& b) {
  if (!b.present()) return;
  const auto bias = vector_of(b);
  const uint64_t n = bias.size();
#pragma omp parallel for schedule(static) if (T * n >= kParallelValues)
  for (int64_t t = 0; t < static_cast<int64_t>(T); ++t)
    for (uint64_t i = 0; i < n; ++i) y[static_cast<uint64_t>(t) * n + i] += bias[i];
}

}  // namespace owl::validate
