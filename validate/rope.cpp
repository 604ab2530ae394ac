#include "validate/rope.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "formats/io/error.h"
#include "validate/layer_ops.h"

namespace owl::validate {
namespace {

// The pair index at which a frequency completes `rotations` turns over the original context
// (YaRN's correction dimension), for a rotary part of `dims` values.
double correction_dim(double dims, double n_ctx_orig, double rotations, double base) {
  return dims * std::log(n_ctx_orig / (rotations * 2.0 * std::numbers::pi)) /
         (2.0 * std::log(base));
}

}  // namespace

Rope::Rope(const ModelParams& p, std::vector<float> freq_factors)
    : head_dim_(p.head_dim), pairs_(p.rope_dim / 2), layout_(p.rope), scaling_(p.rope_scaling) {
  if (!freq_factors.empty() && freq_factors.size() != pairs_)
    throw UsageError("rope_freqs.weight holds " + std::to_string(freq_factors.size()) +
                     " factors, not " + std::to_string(pairs_) + " (rope dimension / 2)");
  const double dims = static_cast<double>(p.rope_dim);
  for (uint64_t i = 0; i < pairs_; ++i) {
    const double f = std::pow(p.rope_base, -2.0 * static_cast<double>(i) / dims);
    freq_.push_back(freq_factors.empty() ? f : f / freq_factors[i]);
  }
  if (scaling_.yarn) {
    const double n_ctx = static_cast<double>(scaling_.n_ctx_orig);
    ramp_low_ =
        std::max(0.0, std::floor(correction_dim(dims, n_ctx, scaling_.beta_fast, p.rope_base)));
    ramp_high_ =
        std::min(dims - 1, std::ceil(correction_dim(dims, n_ctx, scaling_.beta_slow, p.rope_base)));
  }
}

void Rope::table(uint64_t T, std::vector<float>& cosv, std::vector<float>& sinv) const {
  cosv.resize(T * pairs_);
  sinv.resize(T * pairs_);
  // Each value costs a cosine and a sine in double, the work of some sixteen additions.
#pragma omp parallel for schedule(static) if (T * pairs_ >= kParallelValues / 16)
  for (int64_t ti = 0; ti < static_cast<int64_t>(T); ++ti) {
    const auto t = static_cast<uint64_t>(ti);
    for (uint64_t i = 0; i < pairs_; ++i) {
      const double extrapolated = static_cast<double>(t) * freq_[i];
      double angle = extrapolated * scaling_.freq_scale;
      if (scaling_.yarn) {
        // Low-frequency pairs interpolate, high-frequency pairs keep their trained angles,
        // and a linear ramp blends the pairs in between.
        const double y =
            (static_cast<double>(i) - ramp_low_) / std::max(0.001, ramp_high_ - ramp_low_);
        const double extrapolate = 1.0 - std::clamp(y, 0.0, 1.0);
        angle = angle * (1.0 - extrapolate) + extrapolated * extrapolate;
      }
      cosv[t * pairs_ + i] = static_cast<float>(std::cos(angle) * scaling_.attn_factor);
      sinv[t * pairs_ + i] = static_cast<float>(std::sin(angle) * scaling_.attn_factor);
    }
  }
}

void Rope::apply(float* v, uint64_t heads, uint64_t T) const {
  std::vector<float> cosv, sinv;
  table(T, cosv, sinv);
  const bool interleaved = layout_ == RopeLayout::Interleaved;
#pragma omp parallel for schedule(static) if (T * heads * head_dim_ >= kParallelValues)
  for (int64_t ti = 0; ti < static_cast<int64_t>(T); ++ti) {
    const auto t = static_cast<uint64_t>(ti);
    const float* c = cosv.data() + t * pairs_;
    const float* s = sinv.data() + t * pairs_;
    for (uint64_t h = 0; h < heads; ++h) {
      float* x = v + (t * heads + h) * head_dim_;
      for (uint64_t i = 0; i < pairs_; ++i) {
        const uint64_t a = interleaved ? 2 * i : i, b = interleaved ? 2 * i + 1 : i + pairs_;
        const float x0 = x[a], x1 = x[b];
        x[a] = x0 * c[i] - x1 * s[i];
        x[b] = x0 * s[i] + x1 * c[i];
      }
    }
  }
}

}  // namespace owl::validate
