// Phi-3 as llama.cpp runs it (src/models/phi3.cpp): q, k and v come from one matrix and are
// read as consecutive slices of its output; the feed-forward's one up matrix holds the gate's
// rows above up's, and SwiGLU takes the first half through SiLU; LongRoPE divides the rotary
// frequencies by one of two sets of factors, the long set when the context exceeds the context
// the model was first trained with. The sliding window that Phi-3's files name
// (attention.sliding_window) is left off, as llama.cpp leaves it off (its Phi SWA is disabled).
#include <algorithm>
#include <cmath>

#include "formats/io/error.h"
#include "validate/forward.h"
#include "validate/layer_ops.h"

namespace owl::validate {

void Forward::load_fused(const Graph& g, const std::string& b, Layer& l) const {
  l.wqkv = optional(g, b + "attn_qkv.weight");
  l.bqkv = optional(g, b + "attn_qkv.bias");
  const uint64_t qkv = (p_.n_head + 2 * p_.n_head_kv) * p_.head_dim;
  if (l.wqkv.present() && (l.wqkv.rows() != qkv || l.wqkv.cols() != p_.n_embd))
    throw UsageError("tensor '" + l.wqkv.name() + "' is not q, k and v fused (" +
                     std::to_string(qkv) + " x " + std::to_string(p_.n_embd) + ")");
  if (l.bqkv.present() && l.bqkv.rows() * l.bqkv.cols() != qkv)
    throw UsageError("tensor '" + l.bqkv.name() + "' does not hold " + std::to_string(qkv) +
                     " values");
  // Without a gate matrix, up must be gate and up stacked: twice down's input width.
  if (!l.router.present() && !l.ffn.gate.present() && l.ffn.up.rows() != 2 * l.ffn.down.cols())
    throw UsageError("the model has no tensor '" + b + "ffn_gate.weight', and '" + l.ffn.up.name() +
                     "' is not gate and up fused (" + std::to_string(2 * l.ffn.down.cols()) +
                     " rows)");
}

void Forward::project_qkv(const Layer& l, const float* h, uint64_t T, float* q, float* k,
                          float* v) const {
  const uint64_t nq = p_.n_head * p_.head_dim, nkv = p_.n_head_kv * p_.head_dim;
  const uint64_t n = nq + 2 * nkv;
  std::vector<float> qkv(T * n);
  mul(l.wqkv, h, T, qkv.data());
  add_bias(qkv.data(), T, l.bqkv);
  for (uint64_t t = 0; t < T; ++t) {
    const float* row = qkv.data() + t * n;
    std::copy_n(row, nq, q + t * nq);
    std::copy_n(row + nq, nkv, k + t * nkv);
    std::copy_n(row + nq + nkv, nkv, v + t * nkv);
  }
}

std::vector<float> Forward::fused_swiglu(const Ffn& f, const float* x, uint64_t T) const {
  const uint64_t ff = f.down.cols();
  std::vector<float> gate_up(T * 2 * ff), act(T * ff);
  mul(f.up, x, T, gate_up.data());
  for (uint64_t t = 0; t < T; ++t) {
    const float* g = gate_up.data() + t * 2 * ff;
    const float* u = g + ff;
    for (uint64_t i = 0; i < ff; ++i) act[t * ff + i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
  }
  std::vector<float> out(T * f.down.rows());
  mul(f.down, act.data(), T, out.data());
  return out;
}

void Forward::load_long_rope(const Graph& g) {
  const Weight long_factors = optional(g, "rope_factors_long.weight");
  const Weight short_factors = optional(g, "rope_factors_short.weight");
  if (!long_factors.present() && !short_factors.present()) return;
  auto factors = [&](const Weight& w) {
    if (!w.present()) return std::vector<float>{};  // llama.cpp runs that case without factors
    if (w.rows() * w.cols() != p_.rope_dim / 2)
      throw UsageError("tensor '" + w.name() + "' holds " + std::to_string(w.rows() * w.cols()) +
                       " factors, not " + std::to_string(p_.rope_dim / 2) +
                       " (rope dimension / 2)");
    return vector_of(w);
  };
  if (p_.rope_scaling.n_ctx_orig == 0)
    throw UsageError(
        "the model has LongRoPE factors but neither rope.scaling.original_context_length nor "
        "context_length, which choose between them");
  rope_ = Rope(p_, factors(short_factors));
  rope_long_ = Rope(p_, factors(long_factors));
  long_rope_after_ = p_.rope_scaling.n_ctx_orig;
}

const Rope& Forward::rope_for(uint64_t T) const {
  // llama.cpp rounds its context up to a multiple of 256 before it compares (llama-context.cpp).
  const uint64_t ctx = (T + 255) / 256 * 256;
  return long_rope_after_ && ctx > long_rope_after_ ? rope_long_ : rope_;
}

}  // namespace owl::validate
