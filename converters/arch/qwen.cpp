// Qwen2 (biases on q/k/v) and Qwen3 (RMSNorm on q and k per head): no RoPE row reordering,
// since llama.cpp runs both with the NeoX rotation that matches Hugging Face's layout.
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

constexpr std::string_view kQwen2Archs[] = {"Qwen2ForCausalLM", "Qwen2Model"};
constexpr std::string_view kQwen2Types[] = {"qwen2"};
constexpr std::string_view kQwen3Archs[] = {"Qwen3ForCausalLM", "Qwen3Model"};
constexpr std::string_view kQwen3Types[] = {"qwen3"};

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

void write_keys(const HParams& hp, const Dims& d, KeyWriter& kw) {
  write_text_model_keys(hp, d, read_rope(hp, 10000.0), kw);
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

}  // namespace owl::arch
