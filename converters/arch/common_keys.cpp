// The keys most families share: convert_hf_to_gguf.py's TextModel parameters, and their way back.
#include <cmath>

#include "converters/arch/family.h"

namespace owl::arch {

namespace {

void write_rope_scaling(const Rope& rope, const HParams& hp, KeyWriter& kw) {
  if (!rope.type) return;
  const std::string& t = *rope.type;
  if (t == "linear" && rope.factor) {
    kw.str("rope.scaling.type", "linear");
    kw.f32("rope.scaling.factor", *rope.factor);
  } else if (t == "yarn" && rope.factor) {
    kw.str("rope.scaling.type", "yarn");
    kw.f32("rope.scaling.factor", *rope.factor);
    const auto orig =
        rope.original_context ? rope.original_context : hp.opt_int("max_position_embeddings");
    if (!orig)
      hp.fail("rope_scaling.original_max_position_embeddings", "is missing (YaRN needs it)");
    kw.u32("rope.scaling.original_context_length", *orig);
    if (rope.ext_factor) kw.f32("rope.scaling.yarn_ext_factor", *rope.ext_factor);
    if (rope.attn_factor) kw.f32("rope.scaling.yarn_attn_factor", *rope.attn_factor);
    if (rope.beta_fast) kw.f32("rope.scaling.yarn_beta_fast", *rope.beta_fast);
    if (rope.beta_slow) kw.f32("rope.scaling.yarn_beta_slow", *rope.beta_slow);
  } else if (t == "su" || t == "longrope") {
    kw.str("rope.scaling.type", "longrope");
  }
  // "llama3" becomes the rope_freqs tensor; "default" and "dynamic" write nothing.
}

// The routing keys, for the configs that have experts.
void write_expert_keys(const HParams& hp, KeyWriter& kw) {
  if (auto n = hp.first_int({"num_local_experts", "num_experts", "n_routed_experts"}))
    kw.u32("expert_count", *n);
  if (auto n = hp.first_int({"num_experts_per_tok", "num_experts_per_token", "top_k_experts"}))
    kw.u32("expert_used_count", *n);
  if (auto n = hp.opt_int("n_group")) kw.u32("expert_group_count", *n);
  if (auto n = hp.opt_int("topk_group")) kw.u32("expert_group_used_count", *n);
  for (auto key : {"score_function", "scoring_func", "score_func", "moe_router_activation",
                   "moe_router_activation_func", "expert_selection_fn"}) {
    const auto f = hp.opt_string(key);
    if (!f) continue;
    // gguf-py's ExpertGatingFuncType.
    if (*f == "softmax")
      kw.u32("expert_gating_func", 1);
    else if (*f == "sigmoid")
      kw.u32("expert_gating_func", 2);
    else if (*f == "sqrtsoftplus")
      kw.u32("expert_gating_func", 4);
    else
      hp.fail(key, "is '" + *f + "', not a gating function llama.cpp knows");
    break;
  }
}

}  // namespace

void write_text_model_keys(const HParams& hp, const Dims& d, const Rope& rope, KeyWriter& kw) {
  kw.u32("block_count", d.layers);
  if (auto n = hp.first_int({"max_position_embeddings", "n_ctx", "n_positions", "max_length",
                             "max_sequence_length", "model_max_length"}))
    kw.u32("context_length", *n);
  kw.u32("embedding_length", d.hidden);
  if (auto n = hp.first_int({"prefix_dense_intermediate_size", "dense_intermediate_size",
                             "intermediate_size", "n_inner", "hidden_dim"}))
    kw.u32("feed_forward_length", *n);
  kw.u32("attention.head_count", d.heads);
  if (hp.first_int({"num_key_value_heads", "n_kv_heads"}))
    kw.u32("attention.head_count_kv", d.kv_heads);
  if (hp.opt_bool("is_causal") == false) kw.boolean("attention.causal", false);
  write_rope_scaling(rope, hp, kw);
  if (rope.theta) kw.f32("rope.freq_base", *rope.theta);
  if (rope.swa_theta) kw.f32("rope.freq_base_swa", *rope.swa_theta);
  if (hp.has("rms_norm_eps") || hp.has("norm_eps")) {
    kw.f32("attention.layer_norm_rms_epsilon",
           hp.has("rms_norm_eps") ? hp.float_("rms_norm_eps") : hp.float_("norm_eps"));
  }
  for (auto k : {"layer_norm_eps", "layer_norm_epsilon", "norm_epsilon"}) {
    if (hp.has(k)) {
      kw.f32("attention.layer_norm_epsilon", hp.float_(k));
      break;
    }
  }
  write_expert_keys(hp, kw);
  if (auto hd = hp.opt_int("head_dim")) {
    kw.u32("attention.key_length", *hd);
    kw.u32("attention.value_length", *hd);
  }
  kw.file_type_slot();
}

void write_common_config(const GgufView& v, const Dims& d, ConfigWriter& cw) {
  cw.integer("hidden_size", d.hidden);
  if (auto n = v.opt_int("feed_forward_length")) cw.integer("intermediate_size", *n);
  cw.integer("num_hidden_layers", d.layers);
  cw.integer("num_attention_heads", d.heads);
  cw.integer("num_key_value_heads", d.kv_heads);
  cw.integer("head_dim", d.head_dim);
  if (auto n = v.opt_int("context_length")) cw.integer("max_position_embeddings", *n);
  if (auto e = v.opt_float("attention.layer_norm_rms_epsilon")) cw.real("rms_norm_eps", *e);
  if (auto t = v.opt_float("rope.freq_base")) cw.real("rope_theta", *t);
  if (auto t = v.opt_string("rope.scaling.type")) {
    if (*t == "linear" || *t == "yarn") {
      cw.string("rope_scaling.rope_type", *t);
      if (auto f = v.opt_float("rope.scaling.factor")) cw.real("rope_scaling.factor", *f);
      if (auto n = v.opt_int("rope.scaling.original_context_length"))
        cw.integer("rope_scaling.original_max_position_embeddings", *n);
      const std::pair<const char*, const char*> yarn[] = {
          {"rope.scaling.yarn_ext_factor", "rope_scaling.extrapolation_factor"},
          {"rope.scaling.yarn_attn_factor", "rope_scaling.attention_factor"},
          {"rope.scaling.yarn_beta_fast", "rope_scaling.beta_fast"},
          {"rope.scaling.yarn_beta_slow", "rope_scaling.beta_slow"}};
      for (const auto& [gguf_key, hf_key] : yarn)
        if (auto f = v.opt_float(gguf_key)) cw.real(hf_key, *f);
    }
  }
}

void erase_derived_head_dim(const Dims& d, ConfigWriter& cw) {
  if (d.head_dim * d.heads == d.hidden) cw.erase("head_dim");
}

void write_expert_config(const GgufView& v, ConfigWriter& cw, std::string_view count_key) {
  cw.integer(count_key, v.int_("expert_count"));
  cw.integer("num_experts_per_tok", v.int_("expert_used_count"));
}

std::vector<int64_t> layers_without_router(const GgufView& v, const Dims& d) {
  std::vector<int64_t> out;
  for (int64_t i = 0; i < d.layers; ++i)
    if (!v.tensor("blk." + std::to_string(i) + ".ffn_gate_inp.weight")) out.push_back(i);
  return out;
}

}  // namespace owl::arch
