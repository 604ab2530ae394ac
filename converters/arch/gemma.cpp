// Gemma, Gemma 2 and Gemma 3 (text): norm weights stored as (w - 1) by Hugging Face; Gemma 2/3
// add norms after attention and the feed-forward; Gemma 3 adds q/k norms and two RoPE bases.
// EmbeddingGemma is Gemma 3's network without the LM head, converted as gemma-embedding.
#include "converters/arch/decoder_names.h"
#include "converters/arch/family.h"
#include "converters/arch/sentence_modules.h"

namespace owl::arch {
namespace {

constexpr NamePair kGemma2Layers[] = {
    {"input_layernorm", "attn_norm"},
    {"self_attn.q_proj", "attn_q"},
    {"self_attn.k_proj", "attn_k"},
    {"self_attn.v_proj", "attn_v"},
    {"self_attn.o_proj", "attn_output"},
    {"post_attention_layernorm", "post_attention_norm"},
    {"pre_feedforward_layernorm", "ffn_norm"},
    {"post_feedforward_layernorm", "post_ffw_norm"},
    {"mlp.gate_proj", "ffn_gate"},
    {"mlp.up_proj", "ffn_up"},
    {"mlp.down_proj", "ffn_down"},
};

constexpr NamePair kGemma3Layers[] = {
    {"input_layernorm", "attn_norm"},
    {"self_attn.q_proj", "attn_q"},
    {"self_attn.k_proj", "attn_k"},
    {"self_attn.v_proj", "attn_v"},
    {"self_attn.q_norm", "attn_q_norm"},
    {"self_attn.k_norm", "attn_k_norm"},
    {"self_attn.o_proj", "attn_output"},
    {"post_attention_layernorm", "post_attention_norm"},
    {"pre_feedforward_layernorm", "ffn_norm"},
    {"post_feedforward_layernorm", "post_ffw_norm"},
    {"mlp.gate_proj", "ffn_gate"},
    {"mlp.up_proj", "ffn_up"},
    {"mlp.down_proj", "ffn_down"},
};

constexpr std::string_view kGemmaArchs[] = {"GemmaForCausalLM"};
constexpr std::string_view kGemmaTypes[] = {"gemma"};
constexpr std::string_view kGemma2Archs[] = {"Gemma2ForCausalLM"};
constexpr std::string_view kGemma2Types[] = {"gemma2"};
constexpr std::string_view kGemma3Archs[] = {"Gemma3ForCausalLM", "Gemma3ForConditionalGeneration"};
constexpr std::string_view kGemma3Types[] = {"gemma3_text", "gemma3"};
// EmbeddingGemma shares model_type gemma3_text, so it is found by its architecture only.
constexpr std::string_view kGemmaEmbeddingArchs[] = {"Gemma3TextModel"};

const HParamDefault kGemmaDefaults[] = {
    {"max_position_embeddings", Value::i64(8192)},
    {"rms_norm_eps", Value::f64(1e-6)},
    {"head_dim", Value::i64(256)},
    {"tie_word_embeddings", Value::boolean(true)},
};
const HParamDefault kGemma2Defaults[] = {
    {"max_position_embeddings", Value::i64(8192)},
    {"rms_norm_eps", Value::f64(1e-6)},
    {"head_dim", Value::i64(256)},
    {"attn_logit_softcapping", Value::f64(50.0)},
    {"final_logit_softcapping", Value::f64(30.0)},
    {"sliding_window", Value::i64(4096)},
    {"tie_word_embeddings", Value::boolean(true)},
};
const HParamDefault kGemma3Defaults[] = {
    {"max_position_embeddings", Value::i64(131072)},
    {"rms_norm_eps", Value::f64(1e-6)},
    {"head_dim", Value::i64(256)},
    {"sliding_window", Value::i64(4096)},
    {"tie_word_embeddings", Value::boolean(true)},
};

// Gemma 3's, except sliding_window, which EmbeddingGemma's config.json must give.
const HParamDefault kGemmaEmbeddingDefaults[] = {
    {"max_position_embeddings", Value::i64(131072)},
    {"rms_norm_eps", Value::f64(1e-6)},
    {"head_dim", Value::i64(256)},
    {"tie_word_embeddings", Value::boolean(true)},
};

constexpr double kGemma3Theta = 1000000.0, kGemma3LocalTheta = 10000.0;

// Gemma and Gemma 2 write their keys themselves (no RoPE base: llama.cpp's default fits).
void write_gemma_keys(const HParams& hp, const Dims& d, KeyWriter& kw) {
  kw.u32("context_length", hp.int_("max_position_embeddings"));
  kw.u32("embedding_length", d.hidden);
  kw.u32("block_count", d.layers);
  kw.u32("feed_forward_length", hp.int_("intermediate_size"));
  kw.u32("attention.head_count", d.heads);
  kw.u32("attention.head_count_kv", d.kv_heads);
  kw.f32("attention.layer_norm_rms_epsilon", hp.float_("rms_norm_eps"));
  kw.u32("attention.key_length", hp.int_("head_dim"));
  kw.u32("attention.value_length", hp.int_("head_dim"));
}

void write_gemma2_keys(const HParams& hp, const Dims& d, KeyWriter& kw) {
  write_gemma_keys(hp, d, kw);
  kw.f32("attn_logit_softcapping", hp.float_("attn_logit_softcapping"));
  kw.f32("final_logit_softcapping", hp.float_("final_logit_softcapping"));
  kw.u32("attention.sliding_window", hp.int_("sliding_window"));
}

// Gemma 3 writes the shared keys first, then sets several again with its own defaults (same
// place, possibly new value), then its own.
void write_gemma3_keys(const HParams& hp, const Dims& d, KeyWriter& kw) {
  const Rope rope = read_rope(hp, kGemma3Theta, kGemma3LocalTheta);
  write_text_model_keys(hp, d, rope, kw);
  kw.u32("context_length", hp.int_("max_position_embeddings"));
  kw.u32("attention.head_count", d.heads);
  kw.f32("attention.layer_norm_rms_epsilon", hp.float_("rms_norm_eps"));
  kw.u32("attention.key_length", hp.int_("head_dim"));
  kw.u32("attention.value_length", hp.int_("head_dim"));
  kw.f32("rope.freq_base", rope.theta.value_or(kGemma3Theta));
  if (hp.has("attn_logit_softcapping"))
    hp.fail("attn_logit_softcapping", "is set, but Gemma 3 has no attention logit soft-capping");
  if (auto cap = hp.opt_float("final_logit_softcapping"); cap && *cap != 0.0)
    kw.f32("final_logit_softcapping", *cap);
  if (hp.opt_int("sliding_window_pattern") != 1)
    kw.u32("attention.sliding_window", hp.int_("sliding_window"));
  kw.u32("attention.head_count_kv", d.kv_heads);
}

// Gemma 3's keys, then the window again as config.json has it (transformers' config class
// shrinks it for bidirectional attention; the reference writes the file's), then the pooling of
// the sentence-transformers modules beside it.
void write_gemma_embedding_keys(const HParams& hp, const Dims& d, KeyWriter& kw) {
  write_gemma3_keys(hp, d, kw);
  kw.u32("attention.sliding_window", hp.int_("sliding_window"));
  write_sentence_pooling_keys(hp, kw);
}

// The attention scale llama.cpp applies: 1/sqrt(head_dim), except for the 27B models, which
// use 1/sqrt(hidden / heads); config.json says it as query_pre_attn_scalar.
int64_t query_pre_attn_scalar(const Dims& d, int64_t layers_27b) {
  return d.layers == layers_27b ? d.hidden / d.heads : d.head_dim;
}

void write_gemma_config(const GgufView& v, const Dims& d, ConfigWriter& cw) {
  write_common_config(v, d, cw);
  cw.string("hidden_act", "gelu_pytorch_tanh");
}

void write_gemma2_config(const GgufView& v, const Dims& d, ConfigWriter& cw) {
  write_common_config(v, d, cw);
  cw.string("hidden_activation", "gelu_pytorch_tanh");
  if (auto c = v.opt_float("attn_logit_softcapping")) cw.real("attn_logit_softcapping", *c);
  if (auto c = v.opt_float("final_logit_softcapping")) cw.real("final_logit_softcapping", *c);
  if (auto w = v.opt_int("attention.sliding_window")) cw.integer("sliding_window", *w);
  cw.integer("query_pre_attn_scalar", query_pre_attn_scalar(d, 46));
}

void write_gemma3_config(const GgufView& v, const Dims& d, ConfigWriter& cw) {
  write_common_config(v, d, cw);
  cw.string("hidden_activation", "gelu_pytorch_tanh");
  cw.real("rope_local_base_freq", v.opt_float("rope.freq_base_swa").value_or(kGemma3LocalTheta));
  if (auto c = v.opt_float("final_logit_softcapping")) cw.real("final_logit_softcapping", *c);
  if (auto w = v.opt_int("attention.sliding_window")) {
    cw.integer("sliding_window", *w);
    cw.integer("sliding_window_pattern", 6);  // what llama.cpp assumes for every Gemma 3
  } else {
    cw.integer("sliding_window_pattern", 1);
  }
  cw.integer("query_pre_attn_scalar", query_pre_attn_scalar(d, 62));
}

}  // namespace

extern const Family kGemmaFamily{
    .gguf_arch = "gemma",
    .hf_architectures = kGemmaArchs,
    .model_types = kGemmaTypes,
    .defaults = kGemmaDefaults,
    .names = {kDecoderGlobals, kDecoderLayer},
    .shift_norms = true,
    .drop_lm_head = true,
    .head_dim_from_hidden = false,
    .write_keys = write_gemma_keys,
    .hf_architecture = "GemmaForCausalLM",
    .hf_model_type = "gemma",
    .write_config = write_gemma_config,
};

extern const Family kGemma2Family{
    .gguf_arch = "gemma2",
    .hf_architectures = kGemma2Archs,
    .model_types = kGemma2Types,
    .defaults = kGemma2Defaults,
    .names = {kDecoderGlobals, kGemma2Layers},
    .shift_norms = true,
    .drop_lm_head = true,
    .head_dim_from_hidden = false,
    .write_keys = write_gemma2_keys,
    .hf_architecture = "Gemma2ForCausalLM",
    .hf_model_type = "gemma2",
    .write_config = write_gemma2_config,
};

extern const Family kGemma3Family{
    .gguf_arch = "gemma3",
    .hf_architectures = kGemma3Archs,
    .model_types = kGemma3Types,
    .defaults = kGemma3Defaults,
    .names = {kDecoderGlobals, kGemma3Layers},
    .shift_norms = true,
    .trim_embedding = true,
    .head_dim_from_hidden = false,
    .write_keys = write_gemma3_keys,
    .hf_architecture = "Gemma3ForCausalLM",
    .hf_model_type = "gemma3_text",
    .write_config = write_gemma3_config,
};

// No way back to Hugging Face yet: owl writes CausalLM folders only.
extern const Family kGemmaEmbeddingFamily{
    .gguf_arch = "gemma-embedding",
    .hf_architectures = kGemmaEmbeddingArchs,
    .model_types = {},
    .defaults = kGemmaEmbeddingDefaults,
    .names = {kDecoderGlobals, kGemma3Layers},
    .shift_norms = true,
    .trim_embedding = true,
    .head_dim_from_hidden = false,
    .write_keys = write_gemma_embedding_keys,
    .sentence_transformers_dense = true,
};

}  // namespace owl::arch
