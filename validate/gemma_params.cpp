#include <cmath>
#include <string>

#include "formats/io/error.h"
#include "quant/float_codec.h"
#include "validate/gemma.h"

namespace owl::validate {
namespace {

// Keys llama.cpp reads as optional: the model's value, or llama.cpp's own default.
double key_or(const Graph& g, const std::string& key, double fallback) {
  const Value* v = g.metadata.find(key);
  if (!v) return fallback;
  const auto d = v->to_double();
  if (!d || !std::isfinite(*d) || *d < 0)
    throw UsageError("the model's '" + key + "' is not a non-negative number");
  return *d;
}

// llama.cpp's load_swa_pattern: one flag per layer when the pattern key is an array, else
// "each n-th layer is global" with n from the key or the architecture's default.
void read_swa_pattern(const Graph& g, const std::string& k, uint64_t fallback, ModelParams& p) {
  const std::string key = k + "attention.sliding_window_pattern";
  const Value* v = g.metadata.find(key);
  if (v && v->type() == ValueType::ARRAY) {
    const Array& flags = v->as_array();
    if (flags.elem() != ValueType::BOOL || flags.size() != p.n_layer)
      throw UsageError("the model's '" + key + "' does not hold one flag per layer");
    for (size_t i = 0; i < flags.size(); ++i) p.swa_layers.push_back(flags[i].as_bool());
    return;
  }
  p.swa_pattern = static_cast<uint64_t>(key_or(g, key, static_cast<double>(fallback)));
}

uint64_t window(const Graph& g, const std::string& k, double fallback) {
  return static_cast<uint64_t>(key_or(g, k + "attention.sliding_window", fallback));
}

// llama.cpp takes the 27B models' attention scale from the width per head rather than the head
// size; it knows them by their depth.
float attention_scale(const ModelParams& p, uint64_t layers_27b) {
  const uint64_t n = p.n_layer == layers_27b ? p.n_embd / p.n_head : p.head_dim;
  return 1.0f / std::sqrt(static_cast<float>(n));
}

}  // namespace

bool is_gemma(std::string_view arch) {
  return arch == "gemma" || arch == "gemma2" || arch == "gemma3" || arch == "gemma-embedding";
}

void read_gemma_params(const Graph& g, ModelParams& p) {
  const std::string k = p.arch + ".";
  p.geglu = true;
  p.embedding_scale = std::sqrt(static_cast<float>(p.n_embd));
  p.attention_scale = 1.0f / std::sqrt(static_cast<float>(p.head_dim));
  // Gemma 3's sliding layers keep the local base (10000 unless the model names one) and no
  // scaling; Gemma 2's rotate as the global ones unless the model names a base.
  const double local_base = key_or(g, k + "rope.freq_base_swa", 10000.0);
  if (p.arch == "gemma2") {
    read_swa_pattern(g, k, 2, p);
    p.n_swa = window(g, k, 4096);
    p.attn_softcap = static_cast<float>(key_or(g, k + "attn_logit_softcapping", 50.0));
    p.final_softcap = static_cast<float>(key_or(g, k + "final_logit_softcapping", 30.0));
    p.rope_base_swa = key_or(g, k + "rope.freq_base_swa", p.rope_base);
    p.attention_scale = attention_scale(p, 46);
  } else if (p.arch == "gemma3") {
    p.n_swa = window(g, k, 0);
    if (p.n_swa > 0) {
      read_swa_pattern(g, k, 6, p);
      p.rope_base_swa = local_base;
      p.swa_rope_unscaled = true;
    }
    p.final_softcap = static_cast<float>(key_or(g, k + "final_logit_softcapping", 0.0));
    p.attention_scale = attention_scale(p, 62);
  } else if (p.arch == "gemma-embedding") {
    if (!g.metadata.find(k + "attention.sliding_window"))
      throw UsageError("the model has no '" + k + "attention.sliding_window'; cannot run it");
    p.n_swa = window(g, k, 0);
    read_swa_pattern(g, k, 6, p);
    p.rope_base_swa = local_base;
    p.swa_rope_unscaled = true;
    p.causal = false;
    const auto pooling = static_cast<uint32_t>(key_or(g, k + "pooling_type", 0.0));
    if (pooling < 1 || pooling > 3)
      throw UsageError("the model's '" + k +
                       "pooling_type' is not mean, first or last token (1, 2, 3): owl compares "
                       "pooled sentence embeddings");
    p.pooling = pooling;
  }
  if ((p.swa_pattern || !p.swa_layers.empty()) && p.n_swa == 0)
    throw UsageError("the model has sliding-window layers but a window of 0");
}

// ggml's CPU GELU, which llama.cpp runs: a table over every f16 value, so the input is rounded
// to f16 and the result too (about 1e-3 relative each), exact beyond +-10. Computing it in plain
// f32 instead moves a small Gemma's logits by 4e-4 of their range from llama.cpp's.
float gelu_tanh(float x) {
  if (x <= -10.0f) return 0.0f;
  if (x >= 10.0f) return x;
  constexpr float kSqrt2OverPi = 0.79788456080286535587989211986876f, kCoef = 0.044715f;
  const float h = f16_to_f32(f32_to_f16(x));
  return f16_to_f32(
      f32_to_f16(0.5f * h * (1.0f + std::tanh(kSqrt2OverPi * h * (1.0f + kCoef * h * h)))));
}

void softcap(float* v, uint64_t n, float cap) {
  const float inv = 1.0f / cap;
  for (uint64_t i = 0; i < n; ++i) v[i] = cap * std::tanh(v[i] * inv);
}

}  // namespace owl::validate
