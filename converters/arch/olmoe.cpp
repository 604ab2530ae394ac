// OLMoE: Llama's layer with RMSNorm over the whole q and k projections, and a router over
// SwiGLU experts in place of the MLP; NeoX RoPE, so no row reordering.
#include "converters/arch/decoder_names.h"
#include "converters/arch/family.h"

namespace owl::arch {
namespace {

constexpr std::string_view kOlmoeArchs[] = {"OlmoeForCausalLM"};
constexpr std::string_view kOlmoeTypes[] = {"olmoe"};

constexpr NamePair kOlmoeLayers[] = {
    {"input_layernorm", "attn_norm"},    {"self_attn.q_proj", "attn_q"},
    {"self_attn.k_proj", "attn_k"},      {"self_attn.v_proj", "attn_v"},
    {"self_attn.q_norm", "attn_q_norm"}, {"self_attn.k_norm", "attn_k_norm"},
    {"self_attn.o_proj", "attn_output"}, {"post_attention_layernorm", "ffn_norm"},
    {"mlp.gate", "ffn_gate_inp"},
};
// In the order the reference stacks them.
constexpr ExpertStem kOlmoeExperts[] = {
    {"down_proj", "ffn_down_exps"}, {"gate_proj", "ffn_gate_exps"}, {"up_proj", "ffn_up_exps"}};

// transformers' OlmoeConfig defaults for the keys the conversion reads.
const HParamDefault kOlmoeDefaults[] = {
    {"max_position_embeddings", Value::i64(4096)}, {"rms_norm_eps", Value::f64(1e-5)},
    {"intermediate_size", Value::i64(2048)},       {"num_experts", Value::i64(64)},
    {"num_experts_per_tok", Value::i64(8)},        {"tie_word_embeddings", Value::boolean(false)},
};

void write_keys(const HParams& hp, const Dims& d, KeyWriter& kw) {
  write_text_model_keys(hp, d, read_rope(hp, 10000.0), kw);
  // The reference writes OLMoE's epsilon as 1e-5 whatever the config says, in the same place.
  kw.f32("attention.layer_norm_rms_epsilon", 1e-5);
}

// llama.cpp's olmoe graph leaves the top-k weights unnormalized, as OLMoE's release does.
void write_config(const GgufView& v, const Dims& d, ConfigWriter& cw) {
  write_common_config(v, d, cw);
  erase_derived_head_dim(d, cw);
  cw.string("hidden_act", "silu");
  cw.boolean("attention_bias", v.tensor("blk.0.attn_q.bias") != nullptr);
  write_expert_config(v, cw, "num_experts");
  cw.boolean("norm_topk_prob", false);
}

}  // namespace

extern const Family kOlmoeFamily{
    .gguf_arch = "olmoe",
    .hf_architectures = kOlmoeArchs,
    .model_types = kOlmoeTypes,
    .defaults = kOlmoeDefaults,
    .names = {kDecoderGlobals, kOlmoeLayers},
    .experts = {.prefix = "mlp.experts.", .stems = kOlmoeExperts},
    .head_dim_from_hidden = false,
    .write_keys = write_keys,
    .hf_architecture = "OlmoeForCausalLM",
    .hf_model_type = "olmoe",
    .write_config = write_config,
};

}  // namespace owl::arch
