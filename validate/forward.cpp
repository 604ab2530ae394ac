#include "validate/forward.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

#include "formats/io/error.h"
#include "validate/attention.h"
#include "validate/gemma.h"
#include "validate/layer_ops.h"
#include "validate/matmul.h"
#include "validate/moe_routing.h"
#include "validate/scratch.h"

namespace owl::validate {

Forward::Forward(const Graph& g, LayerRange layers) : p_(read_model_params(g)) {
  const uint64_t end = std::min(layers.end, p_.n_layer);
  if (layers.begin > end)
    throw UsageError("layers " + std::to_string(layers.begin) + ".." + std::to_string(end) +
                     " are not a range of the model's " + std::to_string(p_.n_layer));
  first_layer_ = layers.begin == 0;
  last_layer_ = end == p_.n_layer;
  if (first_layer_) embd_ = required(g, "token_embd.weight");
  if (last_layer_) {
    out_norm_ = required(g, "output_norm.weight");
    output_ =
        g.find("output.weight") ? required(g, "output.weight") : required(g, "token_embd.weight");
  }
  for (uint64_t i = layers.begin; i < end; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    const bool mla = p_.kv_lora_rank > 0;  // DeepSeek: no attn_k/attn_v, see load_mla()
    const bool fused = g.find(b + "attn_qkv.weight") != nullptr;  // Phi-3, see load_fused()
    Layer l;
    l.attn_norm = required(g, b + "attn_norm.weight");
    l.wq = mla || fused ? optional(g, b + "attn_q.weight") : required(g, b + "attn_q.weight");
    l.wk = mla || fused ? Weight() : required(g, b + "attn_k.weight");
    l.wv = mla || fused ? Weight() : required(g, b + "attn_v.weight");
    l.wo = required(g, b + "attn_output.weight");
    l.bq = optional(g, b + "attn_q.bias");
    l.bk = optional(g, b + "attn_k.bias");
    l.bv = optional(g, b + "attn_v.bias");
    l.q_norm = optional(g, b + "attn_q_norm.weight");
    l.k_norm = optional(g, b + "attn_k_norm.weight");
    // gpt-oss names the norm before its experts post_attention_norm.
    l.ffn_norm = g.find(b + "ffn_norm.weight") ? required(g, b + "ffn_norm.weight")
                                               : required(g, b + "post_attention_norm.weight");
    if (mla) load_mla(g, b, l);
    // A mixture of experts may keep some layers dense (Qwen2-MoE's mlp_only_layers).
    if (p_.n_expert > 0 && g.find(b + "ffn_gate_inp.weight")) {
      l.router = required(g, b + "ffn_gate_inp.weight");
      l.exp_probs_b = optional(g, b + "exp_probs_b.bias");
      if (l.exp_probs_b.present() && l.exp_probs_b.rows() * l.exp_probs_b.cols() != p_.n_expert)
        throw UsageError("tensor '" + l.exp_probs_b.name() +
                         "' does not hold one value per expert");
      l.experts = {required(g, b + "ffn_gate_exps.weight"), required(g, b + "ffn_up_exps.weight"),
                   required(g, b + "ffn_down_exps.weight")};
      for (const Weight* w : {&l.router, &l.experts.gate, &l.experts.up, &l.experts.down}) {
        const uint64_t n = w == &l.router ? w->rows() : w->experts();
        if (n != p_.n_expert)
          throw UsageError("tensor '" + w->name() + "' holds " + std::to_string(n) +
                           " experts, the model " + std::to_string(p_.n_expert));
      }
      l.router_bias = optional(g, b + "ffn_gate_inp.bias");
      l.expert_bias = {optional(g, b + "ffn_gate_exps.bias"), optional(g, b + "ffn_up_exps.bias"),
                       optional(g, b + "ffn_down_exps.bias")};
      if (g.find(b + "ffn_gate_shexp.weight")) {
        l.shared = {required(g, b + "ffn_gate_shexp.weight"),
                    required(g, b + "ffn_up_shexp.weight"),
                    required(g, b + "ffn_down_shexp.weight")};
        l.shared_gate = optional(g, b + "ffn_gate_inp_shexp.weight");
      }
    } else {
      l.ffn = {optional(g, b + "ffn_gate.weight"), required(g, b + "ffn_up.weight"),
               required(g, b + "ffn_down.weight")};
    }
    load_fused(g, b, l);
    l.bo = optional(g, b + "attn_output.bias");
    l.sinks = optional(g, b + "attn_sinks.weight");
    if (l.sinks.present() && l.sinks.rows() * l.sinks.cols() != p_.n_head)
      throw UsageError("tensor '" + l.sinks.name() + "' does not hold one value per head");
    // Gemma 2/3 (gpt-oss's post_attention_norm is the norm before its experts).
    if (g.find(b + "post_ffw_norm.weight")) {
      l.post_attn_norm = required(g, b + "post_attention_norm.weight");
      l.post_ffw_norm = required(g, b + "post_ffw_norm.weight");
    }
    l.sliding = sliding_layer(p_, i);
    l.rope = !(p_.no_rope_step && (i + 1) % p_.no_rope_step == 0);
    layers_.push_back(std::move(l));
  }
  const Weight freq_factors = optional(g, "rope_freqs.weight");
  rope_ = Rope(p_, freq_factors.present() ? vector_of(freq_factors) : std::vector<float>{});
  if (!freq_factors.present()) load_long_rope(g);  // llama.cpp prefers rope_freqs where both are
  if (p_.kv_lora_rank > 0) {
    ModelParams rotary = p_;
    rotary.head_dim = p_.rope_dim;
    mla_rope_ = Rope(rotary, {});
  }
  if (p_.rope_base_swa != 0) {
    ModelParams local = p_;
    local.rope_base = p_.rope_base_swa;
    if (p_.swa_rope_unscaled) local.rope_scaling = {};
    swa_rope_ = Rope(local, {});
  }
  dense_2_ = optional(g, "dense_2.weight");
  dense_3_ = optional(g, "dense_3.weight");
}

void Forward::mul(const Weight& w, const float* x, uint64_t T, float* y) const {
  if (observer_) observer_(w.name(), w.expert_index(), w.experts(), x, T, w.cols());
  matmul(w, x, T, y);
}

// down(silu(gate x) * up x) for T rows of x, with the biases where there are any. gpt-oss's
// variant (ggml's swiglu_oai): gate clamped above and up on both sides at 7, then
// gate * sigmoid(1.702 gate) * (up + 1). Gemma's GeGLU: gelu(gate x) * up x.
std::vector<float> Forward::swiglu(const Weight& gate, const Weight& up, const Weight& down,
                                   const float* x, uint64_t T, const Biases& b) const {
  constexpr float kAlpha = 1.702f, kLimit = 7.0f;
  const uint64_t ff = gate.rows();
  Scratch g(T * ff), u(T * ff);
  mul(gate, x, T, g.data());
  mul(up, x, T, u.data());
  for (uint64_t t = 0; t < T && !b.gate.empty(); ++t)
    for (uint64_t i = 0; i < ff; ++i) g[t * ff + i] += b.gate[i];
  for (uint64_t t = 0; t < T && !b.up.empty(); ++t)
    for (uint64_t i = 0; i < ff; ++i) u[t * ff + i] += b.up[i];
  const int64_t values = static_cast<int64_t>(g.size());
#pragma omp parallel for schedule(static) if (g.size() >= kParallelValues)
  for (int64_t i = 0; i < values; ++i) {
    if (p_.oai_swiglu) {
      const float xg = std::min(g[i], kLimit), yu = std::clamp(u[i], -kLimit, kLimit);
      g[i] = xg / (1.0f + std::exp(kAlpha * -xg)) * (yu + 1.0f);
    } else if (p_.geglu) {
      g[i] = gelu_tanh(g[i]) * u[i];
    } else {
      g[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
    }
  }
  const uint64_t d = down.rows();
  std::vector<float> out(T * d);
  mul(down, g.data(), T, out.data());
  for (uint64_t t = 0; t < T && !b.down.empty(); ++t)
    for (uint64_t i = 0; i < d; ++i) out[t * d + i] += b.down[i];
  return out;
}

void Forward::attention(const Layer& l, std::vector<float>& x, uint64_t T) const {
  const uint64_t d = p_.n_embd, hd = p_.head_dim, nq = p_.n_head, nkv = p_.n_head_kv;
  std::vector<float> h(x);
  rms_norm(h.data(), T, d, vector_of(l.attn_norm), p_.rms_eps);
  if (l.wkv_a.present()) return add_residual(x, mla_attention(l, h, T).data());
  Scratch q(T * nq * hd), k(T * nkv * hd), v(T * nkv * hd);
  if (l.wqkv.present()) {
    project_qkv(l, h.data(), T, q.data(), k.data(), v.data());
  } else {
    mul(l.wq, h.data(), T, q.data());
    mul(l.wk, h.data(), T, k.data());
    mul(l.wv, h.data(), T, v.data());
  }
  add_bias(q.data(), T, l.bq);
  add_bias(k.data(), T, l.bk);
  add_bias(v.data(), T, l.bv);
  // Per head (Qwen3), or over the whole projection when the norm is that wide (OLMoE).
  if (l.q_norm.present()) {
    const uint64_t n = l.q_norm.cols() == nq * hd ? nq * hd : hd;
    rms_norm(q.data(), T * nq * hd / n, n, vector_of(l.q_norm), p_.rms_eps);
  }
  if (l.k_norm.present()) {
    const uint64_t n = l.k_norm.cols() == nkv * hd ? nkv * hd : hd;
    rms_norm(k.data(), T * nkv * hd / n, n, vector_of(l.k_norm), p_.rms_eps);
  }
  if (l.rope) {
    const Rope& r = l.sliding && p_.rope_base_swa != 0 ? swa_rope_ : rope_for(T);
    r.apply(q.data(), nq, T);
    r.apply(k.data(), nkv, T);
    if (p_.qk_l2_norm) {
      const std::vector<float> ones(hd, 1.0f);
      rms_norm(q.data(), T * nq, hd, ones, p_.rms_eps);
      rms_norm(k.data(), T * nkv, hd, ones, p_.rms_eps);
    }
  } else if (p_.temp_floor) {
    // Llama 4's attention temperature on the layers without RoPE, by position.
    for (uint64_t t = 0; t < T; ++t) {
      const float s =
          static_cast<float>(std::log(std::floor((static_cast<float>(t) + p_.temp_offset) /
                                                 static_cast<float>(p_.temp_floor)) +
                                      1.0) *
                                 p_.temp_scale +
                             1.0);
      for (uint64_t i = 0; i < nq * hd; ++i) q[t * nq * hd + i] *= s;
    }
  }

  Scratch out(T * nq * hd);
  const std::vector<float> sinks = l.sinks.present() ? vector_of(l.sinks) : std::vector<float>{};
  causal_attention(
      q.data(), k.data(), v.data(),
      {T, nq, nkv, hd,
       p_.attention_scale != 0 ? p_.attention_scale : 1.0f / std::sqrt(static_cast<float>(hd)),
       l.sliding && !p_.swa_chunked ? p_.n_swa : 0, l.sliding && p_.swa_chunked ? p_.n_swa : 0,
       sinks.empty() ? nullptr : sinks.data(), p_.attn_softcap, p_.causal},
      out.data());
  Scratch proj(T * d);
  mul(l.wo, out.data(), T, proj.data());
  add_bias(proj.data(), T, l.bo);
  if (l.post_attn_norm.present())
    rms_norm(proj.data(), T, d, vector_of(l.post_attn_norm), p_.rms_eps);
  add_residual(x, proj.data());
}

void Forward::add_residual(std::vector<float>& x, const float* out) const {
  const float s = p_.residual_scale != 0 ? p_.residual_scale : 1.0f;
  const int64_t values = static_cast<int64_t>(x.size());
#pragma omp parallel for schedule(static) if (x.size() >= kParallelValues)
  for (int64_t i = 0; i < values; ++i) x[i] += s * out[i];
}

void Forward::feed_forward(const Layer& l, std::vector<float>& x, uint64_t T) const {
  std::vector<float> h(x);
  rms_norm(h.data(), T, p_.n_embd, vector_of(l.ffn_norm), p_.rms_eps);
  std::vector<float> out = l.router.present() ? experts(l, h, T)
                           : l.ffn.gate.present()
                               ? swiglu(l.ffn.gate, l.ffn.up, l.ffn.down, h.data(), T)
                               : fused_swiglu(l.ffn, h.data(), T);
  if (l.post_ffw_norm.present())
    rms_norm(out.data(), T, p_.n_embd, vector_of(l.post_ffw_norm), p_.rms_eps);
  add_residual(x, out.data());
}

// As llama.cpp's build_moe_ffn: each token's router scores pick its experts (moe_routing.h).
std::vector<std::vector<std::pair<uint64_t, float>>> Forward::route(const Layer& l,
                                                                    const std::vector<float>& h,
                                                                    uint64_t T) const {
  const uint64_t E = p_.n_expert;
  std::vector<float> probs(T * E);
  mul(l.router, h.data(), T, probs.data());
  add_bias(probs.data(), T, l.router_bias);
  const RoutingRule rule{E,
                         p_.n_expert_used,
                         p_.gating,
                         p_.expert_weights_norm,
                         p_.expert_weights_scale,
                         p_.n_expert_groups,
                         p_.n_group_used};
  const std::vector<float> bias =
      l.exp_probs_b.present() ? vector_of(l.exp_probs_b) : std::vector<float>{};
  // For each expert, the tokens that chose it and their weights.
  std::vector<std::vector<std::pair<uint64_t, float>>> chosen(E);
  for (uint64_t t = 0; t < T; ++t)
    for (const auto& [e, w] :
         validate::route(rule, probs.data() + t * E, bias.empty() ? nullptr : bias.data()))
      chosen[e].push_back({t, w});
  return chosen;
}

// Each expert runs on the tokens that picked it alone, so only chosen experts are read.
std::vector<float> Forward::experts(const Layer& l, const std::vector<float>& h, uint64_t T) const {
  const uint64_t d = p_.n_embd, E = p_.n_expert;
  std::vector<float> x(T * d);
  const auto chosen = route(l, h, T);
  auto bias_row = [](const Weight& b, uint64_t e) {
    std::vector<float> row(b.present() ? b.cols() : 0);
    if (b.present()) b.rows_f32(e, 1, row.data());
    return row;
  };
  for (uint64_t e = 0; e < E; ++e) {
    if (chosen[e].empty()) continue;
    const uint64_t n = chosen[e].size();
    // Llama 4 weighs what goes into the expert, the others what comes out.
    const bool on_input = p_.gating == ModelParams::Gating::sigmoid_on_input;
    std::vector<float> in(n * d);
    for (uint64_t i = 0; i < n; ++i) {
      std::copy_n(h.data() + chosen[e][i].first * d, d, in.data() + i * d);
      if (on_input)
        for (uint64_t j = 0; j < d; ++j) in[i * d + j] *= chosen[e][i].second;
    }
    const Biases b{bias_row(l.expert_bias.gate, e), bias_row(l.expert_bias.up, e),
                   bias_row(l.expert_bias.down, e)};
    const std::vector<float> out = swiglu(l.experts.gate.expert(e), l.experts.up.expert(e),
                                          l.experts.down.expert(e), in.data(), n, b);
    for (uint64_t i = 0; i < n; ++i) {
      float* row = x.data() + chosen[e][i].first * d;
      const float w = on_input ? 1.0f : chosen[e][i].second;
      for (uint64_t j = 0; j < d; ++j) row[j] += w * out[i * d + j];
    }
  }
  if (!l.shared.gate.present()) return x;
  const std::vector<float> shared = swiglu(l.shared.gate, l.shared.up, l.shared.down, h.data(), T);
  std::vector<float> gate(T, 0.0f);
  if (l.shared_gate.present()) mul(l.shared_gate, h.data(), T, gate.data());
  for (uint64_t t = 0; t < T; ++t) {
    const float g = l.shared_gate.present() ? 1.0f / (1.0f + std::exp(-gate[t])) : 1.0f;
    for (uint64_t j = 0; j < d; ++j) x[t * d + j] += g * shared[t * d + j];
  }
  return x;
}

std::vector<float> Forward::logits(std::span<const int32_t> tokens) const {
  std::vector<float> x = embed(tokens);
  run_layers(x, tokens.size());
  return head(std::move(x), tokens.size());
}

std::vector<float> Forward::embed(std::span<const int32_t> tokens) const {
  if (!first_layer_) throw std::logic_error("embed() on a pipeline stage after the first");
  const uint64_t T = tokens.size(), d = p_.n_embd;
  std::vector<float> x(T * d);
  for (uint64_t t = 0; t < T; ++t) {
    if (tokens[t] < 0 || static_cast<uint64_t>(tokens[t]) >= p_.n_vocab)
      throw UsageError("token id " + std::to_string(tokens[t]) + " is outside the vocabulary of " +
                       std::to_string(p_.n_vocab));
    embd_.rows_f32(static_cast<uint64_t>(tokens[t]), 1, x.data() + t * d);
  }
  if (p_.embedding_scale != 0)
    for (float& v : x) v *= p_.embedding_scale;
  return x;
}

void Forward::run_layers(std::vector<float>& x, uint64_t T) const {
  if (x.size() != T * p_.n_embd)
    throw UsageError("a hidden state of " + std::to_string(x.size()) + " values is not " +
                     std::to_string(T) + " tokens of " + std::to_string(p_.n_embd));
  for (const Layer& l : layers_) {
    attention(l, x, T);
    feed_forward(l, x, T);
  }
}

std::vector<float> Forward::hidden(std::span<const int32_t> tokens) const {
  std::vector<float> x = embed(tokens);
  run_layers(x, tokens.size());
  final_norm(x, tokens.size());
  return x;
}

void Forward::final_norm(std::vector<float>& x, uint64_t T) const {
  if (!last_layer_) throw std::logic_error("the final norm on a pipeline stage before the last");
  rms_norm(x.data(), T, p_.n_embd, vector_of(out_norm_), p_.rms_eps);
}

std::vector<float> Forward::head(std::vector<float> x, uint64_t T) const {
  if (p_.pooling)
    throw UsageError("the " + p_.arch +
                     " model is a sentence-embedding model: it has no logits to compare");
  final_norm(x, T);
  std::vector<float> out(T * p_.n_vocab);
  mul(output_, x.data(), T, out.data());
  if (p_.logit_scale != 0)
    for (float& v : out) v /= p_.logit_scale;
  if (p_.final_softcap != 0) softcap(out.data(), out.size(), p_.final_softcap);
  return out;
}

}  // namespace owl::validate
