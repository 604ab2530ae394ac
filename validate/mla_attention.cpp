// DeepSeek's multi-head latent attention, computed the way llama.cpp runs it (the "absorbed"
// form): each head's query is mapped into the keys' latent space by that head's wk_b, so that
// every head attends over one shared key per position, the normed latent beside its rotary part,
// and reads back the latent, which the head's wv_b turns into its values. This is multi-query
// attention whose keys are kv_lora_rank + rope wide and whose values are the first
// kv_lora_rank of the same vectors.
#include <algorithm>

#include "formats/io/error.h"
#include "validate/attention.h"
#include "validate/forward.h"
#include "validate/layer_ops.h"

namespace owl::validate {

void Forward::load_mla(const Graph& g, const std::string& b, Layer& l) const {
  if (!l.wq.present()) {
    l.wq_a = required(g, b + "attn_q_a.weight");
    l.q_a_norm = required(g, b + "attn_q_a_norm.weight");
    l.wq_b = required(g, b + "attn_q_b.weight");
  }
  l.wkv_a = required(g, b + "attn_kv_a_mqa.weight");
  l.kv_a_norm = required(g, b + "attn_kv_a_norm.weight");
  l.wk_b = required(g, b + "attn_k_b.weight");
  l.wv_b = required(g, b + "attn_v_b.weight");
  const uint64_t nh = p_.n_head, lat = p_.kv_lora_rank, rope = p_.rope_dim;
  const uint64_t nope = p_.head_dim_k_mla - rope, v = p_.head_dim_v_mla;
  const Weight& q = l.wq.present() ? l.wq : l.wq_b;
  auto check = [&](const Weight& w, uint64_t experts, uint64_t rows, uint64_t cols) {
    // A stacked tensor's rows are all its experts' rows.
    if (w.experts() != experts || w.rows() != experts * rows || w.cols() != cols)
      throw UsageError("tensor '" + w.name() +
                       "' does not have the shape the model's MLA sizes "
                       "give (" +
                       std::to_string(experts) + " x " + std::to_string(rows) + " x " +
                       std::to_string(cols) + ")");
  };
  check(q, 1, nh * (nope + rope), l.wq.present() ? p_.n_embd : l.wq_a.rows());
  if (!l.wq.present()) {
    check(l.wq_a, 1, l.wq_a.rows(), p_.n_embd);
    check(l.q_a_norm, 1, 1, l.wq_a.rows());
  }
  check(l.wkv_a, 1, lat + rope, p_.n_embd);
  check(l.kv_a_norm, 1, 1, lat);
  check(l.wk_b, nh, lat, nope);
  check(l.wv_b, nh, v, lat);
  check(l.wo, 1, p_.n_embd, nh * v);
}

std::vector<float> Forward::mla_attention(const Layer& l, const std::vector<float>& h,
                                          uint64_t T) const {
  const uint64_t nh = p_.n_head, lat = p_.kv_lora_rank, rope = p_.rope_dim;
  const uint64_t dk = p_.head_dim_k_mla, nope = dk - rope, v = p_.head_dim_v_mla;
  const uint64_t width = lat + rope;  // of the shared key, and of each absorbed query

  // Queries [T, nh, nope + rope].
  std::vector<float> q(T * nh * dk);
  if (l.wq.present()) {
    mul(l.wq, h.data(), T, q.data());
  } else {
    std::vector<float> qa(T * l.wq_a.rows());
    mul(l.wq_a, h.data(), T, qa.data());
    rms_norm(qa.data(), T, l.wq_a.rows(), vector_of(l.q_a_norm), p_.rms_eps);
    mul(l.wq_b, qa.data(), T, q.data());
  }
  // The shared key per position: the normed latent, then the rotated rotary part.
  std::vector<float> kv(T * width), latent_in(T * lat), k_pe(T * rope);
  mul(l.wkv_a, h.data(), T, kv.data());
  for (uint64_t t = 0; t < T; ++t) {
    std::copy_n(kv.data() + t * width, lat, latent_in.data() + t * lat);
    std::copy_n(kv.data() + t * width + lat, rope, k_pe.data() + t * rope);
  }
  rms_norm(latent_in.data(), T, lat, vector_of(l.kv_a_norm), p_.rms_eps);
  mla_rope_.apply(k_pe.data(), 1, T);
  for (uint64_t t = 0; t < T; ++t) {
    std::copy_n(latent_in.data() + t * lat, lat, kv.data() + t * width);
    std::copy_n(k_pe.data() + t * rope, rope, kv.data() + t * width + lat);
  }

  // Each head's query: its non-rotary part absorbed into the latent, its rotated rotary part.
  std::vector<float> q_pe(T * nh * rope);
  for (uint64_t t = 0; t < T; ++t)
    for (uint64_t hh = 0; hh < nh; ++hh)
      std::copy_n(q.data() + (t * nh + hh) * dk + nope, rope, q_pe.data() + (t * nh + hh) * rope);
  mla_rope_.apply(q_pe.data(), nh, T);
  std::vector<float> qs(T * nh * width), head_in(T * nope), head_out(T * lat);
  for (uint64_t hh = 0; hh < nh; ++hh) {
    for (uint64_t t = 0; t < T; ++t)
      std::copy_n(q.data() + (t * nh + hh) * dk, nope, head_in.data() + t * nope);
    mul(l.wk_b.expert(hh), head_in.data(), T, head_out.data());
    for (uint64_t t = 0; t < T; ++t) {
      float* row = qs.data() + (t * nh + hh) * width;
      std::copy_n(head_out.data() + t * lat, lat, row);
      std::copy_n(q_pe.data() + (t * nh + hh) * rope, rope, row + lat);
    }
  }

  // The values are the latent: the keys with their rotary part zeroed, whose output part is
  // dropped after.
  std::vector<float> values(kv);
  for (uint64_t t = 0; t < T; ++t) std::fill_n(values.data() + t * width + lat, rope, 0.0f);
  std::vector<float> attended(T * nh * width);
  causal_attention(qs.data(), kv.data(), values.data(), {T, nh, 1, width, p_.mla_kq_scale},
                   attended.data());

  // Each head's latent read-out through its wv_b, then the output projection.
  std::vector<float> heads(T * nh * v), latent(T * lat), head_v(T * v);
  for (uint64_t hh = 0; hh < nh; ++hh) {
    for (uint64_t t = 0; t < T; ++t)
      std::copy_n(attended.data() + (t * nh + hh) * width, lat, latent.data() + t * lat);
    mul(l.wv_b.expert(hh), latent.data(), T, head_v.data());
    for (uint64_t t = 0; t < T; ++t)
      std::copy_n(head_v.data() + t * v, v, heads.data() + (t * nh + hh) * v);
  }
  std::vector<float> out(T * p_.n_embd);
  mul(l.wo, heads.data(), T, out.data());
  return out;
}

}  // namespace owl::validate
