// Qwen2 (biases on q/k/v) and Qwen3 (RMSNorm on q and k per head), and their mixtures of experts:
// no RoPE row reordering, since llama.cpp runs them with the NeoX rotation that matches Hugging
// Face's layout.
#include "converters/arch/decoder_names.h"
#include "converters/arch/family.h"

namespace owl::arch {
namespace {

constexpr NamePair kQwen3Layers[] = {
    {"input_layernorm", "attn_norm"},    {"self_attn.q_proj", "attn_q"},
    {"self_attn.k_proj", "attn_k"},      {"self_attn.v_proj", "attn_v"},
    {"self_attn.q_norm", "attn_q_norm"}, {"self_attn.k_norm", "attn_k_norm"},
    {"self_attn.o_proj", "attn_output"}, {"post_attention_layernorm", "ffn_norm"},
    {"mlp.gate_proj", "ffn_gate"},       {"mlp.up_proj", "ffn_up"},
    {"mlp.down_proj", "ffn_down"},
};

// The MoE layers: a router (mlp.gate) over the experts, and in Qwen2-MoE a shared expert whose
// output a one-row sigmoid gate scales. Layers that mlp_only_layers or decoder_sparse_step keep
// dense have the plain MLP.
constexpr NamePair kQwen2MoeLayers[] = {
    {"input_layernorm", "attn_norm"},
    {"self_attn.q_proj", "attn_q"},
    {"self_attn.k_proj", "attn_k"},
    {"self_attn.v_proj", "attn_v"},
    {"self_attn.o_proj", "attn_output"},
    {"post_attention_layernorm", "ffn_norm"},
    {"mlp.gate", "ffn_gate_inp"},
    {"mlp.gate_proj", "ffn_gate"},
    {"mlp.up_proj", "ffn_up"},
    {"mlp.down_proj", "ffn_down"},
    {"mlp.shared_expert.gate_proj", "ffn_gate_shexp"},
    {"mlp.shared_expert.up_proj", "ffn_up_shexp"},
    {"mlp.shared_expert.down_proj", "ffn_down_shexp"},
    {"mlp.shared_expert_gate", "ffn_gate_inp_shexp"},
};
constexpr NamePair kQwen3MoeLayers[] = {
    {"input_layernorm", "attn_norm"},
    {"self_attn.q_proj", "attn_q"},
    {"self_attn.k_proj", "attn_k"},
    {"self_attn.v_proj", "attn_v"},
    {"self_attn.q_norm", "attn_q_norm"},
    {"self_attn.k_norm", "attn_k_norm"},
    {"self_attn.o_proj", "attn_output"},
    {"post_attention_layernorm", "ffn_norm"},
    {"mlp.gate", "ffn_gate_inp"},
    {"mlp.gate_proj", "ffn_gate"},
    {"mlp.up_proj", "ffn_up"},
    {"mlp.down_proj", "ffn_down"},
    {"mlp.shared_expert.gate_proj", "ffn_gate_shexp"},
    {"mlp.shared_expert.up_proj", "ffn_up_shexp"},
    {"mlp.shared_expert.down_proj", "ffn_down_shexp"},
    {"mlp.shared_expert_gate", "ffn_gate_inp_shexp"},
};

// One tensor per expert (transformers 4), in the order the reference stacks them; or, as
// transformers 5 saves them, gate and up fused in one 3-D tensor and down already stacked.
constexpr ExpertStem kQwenExperts[] = {
    {"down_proj", "ffn_down_exps"}, {"gate_proj", "ffn_gate_exps"}, {"up_proj", "ffn_up_exps"}};
constexpr FusedExperts kQwenFusedExperts[] = {
    {"mlp.experts.gate_up_proj", "ffn_gate_exps", "ffn_up_exps"}};
constexpr NamePair kQwenStackedExperts[] = {{"mlp.experts.down_proj", "ffn_down_exps"}};
constexpr ExpertTable kQwenExpertTable = {
    .prefix = "mlp.experts.",
    .stems = kQwenExperts,
    .fused = kQwenFusedExperts,
    .whole = kQwenStackedExperts,
};

constexpr std::string_view kQwen2Archs[] = {"Qwen2ForCausalLM", "Qwen2Model"};
constexpr std::string_view kQwen2Types[] = {"qwen2"};
constexpr std::string_view kQwen3Archs[] = {"Qwen3ForCausalLM", "Qwen3Model"};
constexpr std::string_view kQwen3Types[] = {"qwen3"};
constexpr std::string_view kQwen2MoeArchs[] = {"Qwen2MoeForCausalLM"};
constexpr std::string_view kQwen2MoeTypes[] = {"qwen2_moe"};
constexpr std::string_view kQwen3MoeArchs[] = {"Qwen3MoeForCausalLM"};
constexpr std::string_view kQwen3MoeTypes[] = {"qwen3_moe"};

const HParamDefault kQwen2Defaults[] = {
    {"max_position_embeddings", Value::i64(32768)},
    {"rms_norm_eps", Value::f64(1e-6)},
    {"tie_word_embeddings", Value::boolean(false)},
};
const HParamDefault kQwen3Defaults[] = {
    {"max_position_embeddings", Value::i64(32768)},
    {"rms_norm_eps", Value::f64(1e-6)},
    {"head_dim", Value::i64(128)},
    {"tie_word_embeddings", Value::boolean(false)},
};

// transformers' Qwen2MoeConfig / Qwen3MoeConfig defaults for the keys the conversion reads.
const HParamDefault kQwen2MoeDefaults[] = {
    {"max_position_embeddings", Value::i64(32768)},
    {"rms_norm_eps", Value::f64(1e-6)},
    {"intermediate_size", Value::i64(5632)},
    {"moe_intermediate_size", Value::i64(1408)},
    {"shared_expert_intermediate_size", Value::i64(5632)},
    {"num_experts", Value::i64(60)},
    {"num_experts_per_tok", Value::i64(4)},
    {"tie_word_embeddings", Value::boolean(false)},
};
const HParamDefault kQwen3MoeDefaults[] = {
    {"max_position_embeddings", Value::i64(32768)},
    {"rms_norm_eps", Value::f64(1e-6)},
    {"intermediate_size", Value::i64(6144)},
    {"moe_intermediate_size", Value::i64(768)},
    {"num_experts", Value::i64(128)},
    {"num_experts_per_tok", Value::i64(8)},
    {"tie_word_embeddings", Value::boolean(false)},
};

void write_keys(const HParams& hp, const Dims& d, KeyWriter& kw) {
  write_text_model_keys(hp, d, read_rope(hp, 10000.0), kw);
}

void write_moe_keys(const HParams& hp, const Dims& d, KeyWriter& kw) {
  write_text_model_keys(hp, d, read_rope(hp, 10000.0), kw);
  if (auto n = hp.opt_int("moe_intermediate_size")) kw.u32("expert_feed_forward_length", *n);
  if (auto n = hp.opt_int("shared_expert_intermediate_size"))
    kw.u32("expert_shared_feed_forward_length", *n);
}

void write_qwen2_config(const GgufView& v, const Dims& d, ConfigWriter& cw) {
  write_common_config(v, d, cw);
  cw.string("hidden_act", "silu");
  cw.boolean("use_sliding_window", false);
}

void write_qwen3_config(const GgufView& v, const Dims& d, ConfigWriter& cw) {
  write_common_config(v, d, cw);
  cw.string("hidden_act", "silu");
  cw.boolean("attention_bias", v.tensor("blk.0.attn_q.bias") != nullptr);
  cw.boolean("use_sliding_window", false);
}

// llama.cpp's qwen2moe graph leaves the top-k weights as the softmax gives them and its
// qwen3moe graph normalizes them, whatever the original config said: norm_topk_prob says what
// the GGUF runs as. Layers without a router are the dense ones, mlp_only_layers.
void write_moe_config(const GgufView& v, const Dims& d, ConfigWriter& cw, bool norm_topk) {
  write_common_config(v, d, cw);
  cw.string("hidden_act", "silu");
  cw.boolean("use_sliding_window", false);
  write_expert_config(v, cw, "num_experts");
  if (auto n = v.opt_int("expert_feed_forward_length")) cw.integer("moe_intermediate_size", *n);
  if (auto n = v.opt_int("expert_shared_feed_forward_length"))
    cw.integer("shared_expert_intermediate_size", *n);
  cw.boolean("norm_topk_prob", norm_topk);
  cw.integer("decoder_sparse_step", 1);
  cw.integers("mlp_only_layers", layers_without_router(v, d));
}

void write_qwen2moe_config(const GgufView& v, const Dims& d, ConfigWriter& cw) {
  write_moe_config(v, d, cw, false);
  erase_derived_head_dim(d, cw);
  cw.boolean("qkv_bias", v.tensor("blk.0.attn_q.bias") != nullptr);
}

void write_qwen3moe_config(const GgufView& v, const Dims& d, ConfigWriter& cw) {
  write_moe_config(v, d, cw, true);
  cw.boolean("attention_bias", v.tensor("blk.0.attn_q.bias") != nullptr);
}

}  // namespace

extern const Family kQwen2Family{
    .gguf_arch = "qwen2",
    .hf_architectures = kQwen2Archs,
    .model_types = kQwen2Types,
    .defaults = kQwen2Defaults,
    .names = {kDecoderGlobals, kDecoderLayer},
    .head_dim_from_hidden = false,
    .write_keys = write_keys,
    .hf_architecture = "Qwen2ForCausalLM",
    .hf_model_type = "qwen2",
    .write_config = write_qwen2_config,
};

extern const Family kQwen3Family{
    .gguf_arch = "qwen3",
    .hf_architectures = kQwen3Archs,
    .model_types = kQwen3Types,
    .defaults = kQwen3Defaults,
    .names = {kDecoderGlobals, kQwen3Layers},
    .head_dim_from_hidden = false,
    .write_keys = write_keys,
    .hf_architecture = "Qwen3ForCausalLM",
    .hf_model_type = "qwen3",
    .write_config = write_qwen3_config,
};

extern const Family kQwen2MoeFamily{
    .gguf_arch = "qwen2moe",
    .hf_architectures = kQwen2MoeArchs,
    .model_types = kQwen2MoeTypes,
    .defaults = kQwen2MoeDefaults,
    .names = {kDecoderGlobals, kQwen2MoeLayers},
    .experts = kQwenExpertTable,
    .head_dim_from_hidden = false,
    .write_keys = write_moe_keys,
    .hf_architecture = "Qwen2MoeForCausalLM",
    .hf_model_type = "qwen2_moe",
    .write_config = write_qwen2moe_config,
};

extern const Family kQwen3MoeFamily{
    .gguf_arch = "qwen3moe",
    .hf_architectures = kQwen3MoeArchs,
    .model_types = kQwen3MoeTypes,
    .defaults = kQwen3MoeDefaults,
    .names = {kDecoderGlobals, kQwen3MoeLayers},
    .experts = kQwenExpertTable,
    .head_dim_from_hidden = false,
    .write_keys = write_moe_keys,
    .hf_architecture = "Qwen3MoeForCausalLM",
    .hf_model_type = "qwen3_moe",
    .write_config = write_qwen3moe_config,
};

}  // namespace owl::arch
