// Rotary position embedding as llama.cpp applies it: theta base, per-dimension frequency
// factors (Llama 3.1's rope_freqs), linear and YaRN scaling, interleaved and NeoX layouts.
#pragma once

#include <cstdint>
#include <vector>

#include "validate/model_params.h"

namespace owl::validate {

class Rope {
 public:
  Rope() = default;
  // `freq_factors` divides each pair's base frequency (rope_dim / 2 values), or is empty.
  Rope(const ModelParams& p, std::vector<float> freq_factors);

  // Rotates `heads` vectors of head_dim values for each of `T` positions 0..T-1, in place.
  void apply(float* v, uint64_t heads, uint64_t T) const;

 private:
  // cos and sin of pair i at position t ([T, pairs]), already scaled by the attention factor.
  void table(uint64_t T, std::vector<float>& cosv, std::vector<float>& sinv) const;

  uint64_t head_dim_ = 0, pairs_ = 0;
  RopeLayout layout_ = RopeLayout::Interleaved;
  RopeScaling scaling_;
  std::vector<double> freq_;             // base^(-2i/d) / factor_i
  double ramp_low_ = 0, ramp_high_ = 0;  // YaRN's correction dimensions
};

}  // namespace owl::validate
