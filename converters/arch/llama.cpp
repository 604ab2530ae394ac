// Llama, Mistral and Mixtral (all "llama" in GGUF): q/k rows reordered for RoPE, Llama 3's
// rope_freqs, Mixtral's experts stacked.
#include <cmath>

#include "converters/arch/decoder_names.h"
#include "converters/arch/family.h"
#include "converters/arch/rope_tensors.h"

namespace owl::arch {
namespace {

constexpr std::string_view kLlamaArchs[] = {"LlamaForCausalLM", "LLaMAForCausalLM"};
constexpr std::string_view kLlamaTypes[] = {"llama"};
constexpr std::string_view kMistralArchs[] = {"MistralForCausalLM"};
constexpr std::string_view kMistralTypes[] = {"mistral"};
constexpr std::string_view kMixtralArchs[] = {"MixtralForCausalLM"};
constexpr std::string_view kMixtralTypes[] = {"mixtral"};

// Mixtral: Llama's attention, and a router plus eight (or so) SwiGLU experts in place of the MLP.
constexpr NamePair kMixtralLayer[] = {
    {"input_layernorm", "attn_norm"},
    {"self_attn.q_proj", "attn_q"},
    {"self_attn.k_proj", "attn_k"},
    {"self_attn.v_proj", "attn_v"},
    {"self_attn.o_proj", "attn_output"},
    {"post_attention_layernorm", "ffn_norm"},
    {"block_sparse_moe.gate", "ffn_gate_inp"},
};
// w1 is the gate, w3 the up projection, w2 the down projection, as in the original release.
constexpr ExpertStem kMixtralExperts[] = {
    {"w1", "ffn_gate_exps"}, {"w2", "ffn_down_exps"}, {"w3", "ffn_up_exps"}};

// transformers' LlamaConfig / MistralConfig defaults for the keys the conversion reads.
const HParamDefault kLlamaDefaults[] = {
    {"max_position_embeddings", Value::i64(2048)},
    {"rms_norm_eps", Value::f64(1e-6)},
    {"tie_word_embeddings", Value::boolean(false)},
};
const HParamDefault kMistralDefaults[] = {
    {"max_position_embeddings", Value::i64(131072)},
    {"rms_norm_eps", Value::f64(1e-6)},
    {"num_key_value_heads", Value::i64(8)},
    {"tie_word_embeddings", Value::boolean(false)},
};

const HParamDefault kMixtralDefaults[] = {
    {"max_position_embeddings", Value::i64(131072)},
    {"rms_norm_eps", Value::f64(1e-5)},
    {"rope_theta", Value::f64(1e6)},
    {"num_key_value_heads", Value::i64(8)},
    {"num_local_experts", Value::i64(8)},
    {"num_experts_per_tok", Value::i64(2)},
    {"tie_word_embeddings", Value::boolean(false)},
};

constexpr double kDefaultTheta = 10000.0;

void write_keys(const HParams& hp, const Dims& d, KeyWriter& kw) {
  write_text_model_keys(hp, d, read_rope(hp, kDefaultTheta), kw);
  kw.u32("vocab_size", hp.int_("vocab_size"));
  kw.u32("rope.dimension_count", d.head_dim);
}

void extra_tensors(const HParams& hp, const Dims& d, std::vector<Tensor>& out, KeyWriter&) {
  const auto r = llama3_settings(read_rope(hp, kDefaultTheta), d.head_dim, kDefaultTheta);
  if (!r) return;
  if (r->high_freq_factor == r->low_freq_factor)
    hp.fail("rope_scaling.high_freq_factor",
            "equals low_freq_factor, which Llama 3 RoPE cannot use");
  out.push_back(f32_tensor("rope_freqs.weight", llama3_rope_factors(*r)));
}

// Every Llama 3.x release interpolates between low and high frequency factors 1 and 4.
bool consume_rope_freqs(const GgufView& v, const Tensor& t, ConfigWriter& cw) {
  return consume_llama3_rope_freqs(v, t, cw, kDefaultTheta, 1.0, 4.0);
}

void write_config(const GgufView& v, const Dims& d, ConfigWriter& cw) {
  write_common_config(v, d, cw);
  cw.string("hidden_act", "silu");
  cw.boolean("attention_bias", v.tensor("blk.0.attn_q.bias") != nullptr);
  cw.boolean("mlp_bias", false);
}

void write_mixtral_config(const GgufView& v, const Dims& d, ConfigWriter& cw) {
  write_common_config(v, d, cw);
  cw.string("hidden_act", "silu");
  write_expert_config(v, cw, "num_local_experts");
  erase_derived_head_dim(d, cw);
}

// Llama and Mistral convert alike; they differ in the names config.json gives them and in the
// defaults of their transformers config classes.
constexpr Family llama_style(std::span<const std::string_view> archs,
                             std::span<const std::string_view> types,
                             std::span<const HParamDefault> defaults) {
  return Family{
      .gguf_arch = "llama",
      .hf_architectures = archs,
      .model_types = types,
      .defaults = defaults,
      .names = {kDecoderGlobals, kDecoderLayer},
      .permute_qk = true,
      .write_keys = write_keys,
      .extra_tensors = extra_tensors,
      .hf_architecture = "LlamaForCausalLM",
      .hf_model_type = "llama",
      .write_config = write_config,
      .consume_tensor = consume_rope_freqs,
  };
}

}  // namespace

extern const Family kLlamaFamily = llama_style(kLlamaArchs, kLlamaTypes, kLlamaDefaults);
extern const Family kMistralFamily = llama_style(kMistralArchs, kMistralTypes, kMistralDefaults);

// The way back takes Mixtral for a "llama" GGUF with stacked experts.
extern const Family kMixtralFamily = [] {
  Family f = llama_style(kMixtralArchs, kMixtralTypes, kMixtralDefaults);
  f.names.layers = kMixtralLayer;
  f.experts = {.prefix = "block_sparse_moe.experts.", .stems = kMixtralExperts};
  // MixtralConfig leaves head_dim None (LlamaConfig fills it in): no key/value length keys.
  f.head_dim_from_hidden = false;
  f.hf_architecture = "MixtralForCausalLM";
  f.hf_model_type = "mixtral";
  f.write_config = write_mixtral_config;
  return f;
}();

}  // namespace owl::arch
