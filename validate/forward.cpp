#include "validate/forward.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "formats/io/error.h"
#include "validate/attention.h"
#include "validate/layer_ops.h"
#include "validate/matmul.h"
#include "validate/moe_routing.h"

namespace owl::validate {
namespace {

void add_bias(float* y, uint64_t T, const Weight& b) {
  if (!b.present()) return;
  const auto bias = vector_of(b);
  for (uint64_t t = 0; t < T; ++t)
    for (uint64_t i = 0; i < bias.size(); ++i) y[t * bias.size() + i] += bias[i];
}

}  // namespace

Forward::Forward(const Graph& g) : p_(read_model_params(g)) {
  embd_ = required(g, "token_embd.weight");
  out_norm_ = required(g, "output_norm.weight");
  output_ = g.find("output.weight") ? required(g, "output.weight") : embd_;
  for (uint64_t i = 0; i < p_.n_layer; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    const bool mla = p_.kv_lora_rank > 0;  // DeepSeek: no attn_k/attn_v, see load_mla()
    Layer l{required(g, b + "attn_norm.weight"),
            mla ? optional(g, b + "attn_q.weight") : required(g, b + "attn_q.weight"),
            mla ? Weight() : required(g, b + "attn_k.weight"),
            mla ? Weight() : required(g, b + "attn_v.weight"),
            required(g, b + "attn_output.weight"),
            optional(g, b + "attn_q.bias"),
            optional(g, b + "attn_k.bias"),
            optional(g, b + "attn_v.bias"),
            optional(g, b + "attn_q_norm.weight"),
            optional(g, b + "attn_k_norm.weight"),
            required(g, b + "ffn_norm.weight"),
            {},
            {},
            {},
            {},
            {}};
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
      if (g.find(b + "ffn_gate_shexp.weight")) {
        l.shared = {required(g, b + "ffn_gate_shexp.weight"),
                    required(g, b + "ffn_up_shexp.weight"),
                    required(g, b + "ffn_down_shexp.weight")};
        l.shared_gate = optional(g, b + "ffn_gate_inp_shexp.weight");
      }
    } else {
      l.ffn = {required(g, b + "ffn_gate.weight"), required(g, b + "ffn_up.weight"),
               required(g, b + "ffn_down.weight")};
    }
    layers_.push_back(std::move(l));
  }
  const Weight freq_factors = optional(g, "rope_freqs.weight");
  rope_ = Rope(p_, freq_factors.present() ? vector_of(freq_factors) : std::vector<float>{});
  if (p_.kv_lora_rank > 0) {
    ModelParams rotary = p_;
    rotary.head_dim = p_.rope_dim;
    mla_rope_ = Rope(rotary, {});
  }
}

void Forward::rope(float* v, uint64_t heads, uint64_t T) const {
  rope_.apply(v, heads, T);
}

void Forward::mul(const Weight& w, const float* x, uint64_t T, float* y) const {
  if (observer_) observer_(w.name(), w.expert_index(), w.experts(), x, T, w.cols());
  matmul(w, x, T, y);
}

// down(silu(gate x) * up x) for T rows of x.
std::vector<float> Forward::swiglu(const Weight& gate, const Weight& up, const Weight& down,
                                   const float* x, uint64_t T) const {
  const uint64_t ff = gate.rows();
  std::vector<float> g(T * ff), u(T * ff);
  mul(gate, x, T, g.data());
  mul(up, x, T, u.data());
  for (uint64_t i = 0; i < g.size(); ++i) g[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
  std::vector<float> out(T * down.rows());
  mul(down, g.data(), T, out.data());
  return out;
}

void Forward::attention(const Layer& l, std::vector<float>& x, uint64_t T) const {
  const uint64_t d = p_.n_embd, hd = p_.head_dim, nq = p_.n_head, nkv = p_.n_head_kv;
  std::vector<float> h(x);
  rms_norm(h.data(), T, d, vector_of(l.attn_norm), p_.rms_eps);
  if (l.wkv_a.present()) return add_residual(x, mla_attention(l, h, T));
  std::vector<float> q(T * nq * hd), k(T * nkv * hd), v(T * nkv * hd);
  mul(l.wq, h.data(), T, q.data());
  mul(l.wk, h.data(), T, k.data());
  mul(l.wv, h.data(), T, v.data());
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
  rope(q.data(), nq, T);
  rope(k.data(), nkv, T);

  std::vector<float> out(T * nq * hd);
  causal_attention(
      q.data(), k.data(), v.data(),
      {T, nq, nkv, hd,
       p_.attention_scale != 0 ? p_.attention_scale : 1.0f / std::sqrt(static_cast<float>(hd))},
      out.data());
  std::vector<float> proj(T * d);
  mul(l.wo, out.data(), T, proj.data());
  add_residual(x, proj);
}

void Forward::add_residual(std::vector<float>& x, const std::vector<float>& out) const {
  const float s = p_.residual_scale != 0 ? p_.residual_scale : 1.0f;
  for (uint64_t i = 0; i < x.size(); ++i) x[i] += s * out[i];
}

void Forward::feed_forward(const Layer& l, std::vector<float>& x, uint64_t T) const {
  std::vector<float> h(x);
  rms_norm(h.data(), T, p_.n_embd, vector_of(l.ffn_norm), p_.rms_eps);
  add_residual(x, l.router.present() ? experts(l, h, T)
                                     : swiglu(l.ffn.gate, l.ffn.up, l.ffn.down, h.data(), T));
}

// As llama.cpp's build_moe_ffn: each token's router scores pick its experts (see route()), and
// each expert runs on the tokens that picked it alone, so only chosen experts are read.
std::vector<float> Forward::experts(const Layer& l, const std::vector<float>& h, uint64_t T) const {
  const uint64_t d = p_.n_embd, E = p_.n_expert;
  std::vector<float> x(T * d);
  std::vector<float> probs(T * E);
  mul(l.router, h.data(), T, probs.data());
  const RoutingRule rule{E,
                         p_.n_expert_used,
                         p_.sigmoid_gating,
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
         route(rule, probs.data() + t * E, bias.empty() ? nullptr : bias.data()))
      chosen[e].push_back({t, w});
  for (uint64_t e = 0; e < E; ++e) {
    if (chosen[e].empty()) continue;
    const uint64_t n = chosen[e].size();
    std::vector<float> in(n * d);
    for (uint64_t i = 0; i < n; ++i)
      std::copy_n(h.data() + chosen[e][i].first * d, d, in.data() + i * d);
    const std::vector<float> out = swiglu(l.experts.gate.expert(e), l.experts.up.expert(e),
                                          l.experts.down.expert(e), in.data(), n);
    for (uint64_t i = 0; i < n; ++i) {
      float* row = x.data() + chosen[e][i].first * d;
      for (uint64_t j = 0; j < d; ++j) row[j] += chosen[e][i].second * out[i * d + j];
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
  for (const Layer& l : layers_) {
    attention(l, x, T);
    feed_forward(l, x, T);
  }
  rms_norm(x.data(), T, d, vector_of(out_norm_), p_.rms_eps);
  std::vector<float> out(T * p_.n_vocab);
  mul(output_, x.data(), T, out.data());
  if (p_.logit_scale != 0)
    for (float& v : out) v /= p_.logit_scale;
  return out;
}

}  // namespace owl::validate
