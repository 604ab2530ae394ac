// Tensors convert_hf_to_gguf.py computes from config.json rather than reads: Llama 3's RoPE
// frequency factors and Phi-3's long/short factors.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "converters/arch/family.h"
#include "converters/arch/hparams.h"
#include "converters/graph.h"

namespace owl::arch {

struct Llama3Rope {
  double theta = 10000.0;
  int64_t head_dim = 0;
  double factor = 8.0, low_freq_factor = 1.0, high_freq_factor = 4.0;
  double original_context = 8192.0;
};

// The settings of "llama3" RoPE scaling (any case), with the reference's defaults for what the
// config leaves out; nullopt for any other RoPE.
std::optional<Llama3Rope> llama3_settings(const Rope& rope, int64_t head_dim, double default_theta);

// One factor per rotated pair (head_dim / 2), computed in F32 in the order the reference's
// torch code computes them, so the bytes match.
std::vector<float> llama3_rope_factors(const Llama3Rope& r);

// The way back, for a family's consume_tensor: when `t` is rope_freqs, writes the llama3
// rope_scaling that regenerates it exactly and returns true. GGUF keeps only the factors, so the
// frequency factors `low` and `high` are the family's, and the original context and factor are
// found by trying the settings releases use (context 8192, the largest factor first), then other
// power-of-two contexts. Throws UsageError when none fits.
bool consume_llama3_rope_freqs(const GgufView& v, const Tensor& t, ConfigWriter& cw,
                               double default_theta, double low, double high);

// A 1-D F32 tensor held in memory.
Tensor f32_tensor(std::string name, const std::vector<float>& values);
// The values of a small 1-D F32 tensor (owl's own generated ones, or a GGUF's).
std::vector<float> read_f32_values(const Tensor& t);

}  // namespace owl::arch
