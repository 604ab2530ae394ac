// GraniteMoE ("granitemoe" in GGUF): Llama's attention with q/k rows reordered for RoPE, scale
// factors on the embedding, residuals, attention and logits, and experts stored as two 3-D
// tensors per layer (JetMoE's parallel experts): input_linear holds gate above up for each
// expert, output_linear the down projections.
#include "converters/arch/decoder_names.h"
#include "converters/arch/family.h"

namespace owl::arch {
namespace {

constexpr std::string_view kGraniteMoeArchs[] = {"GraniteMoeForCausalLM"};
constexpr std::string_view kGraniteMoeTypes[] = {"granitemoe"};

constexpr NamePair kGraniteMoeLayers[] = {
    {"input_layernorm", "attn_norm"},
    {"self_attn.q_proj", "attn_q"},
    {"self_attn.k_proj", "attn_k"},
    {"self_attn.v_proj", "attn_v"},
    {"self_attn.o_proj", "attn_output"},
    {"post_attention_layernorm", "ffn_norm"},
    {"block_sparse_moe.router.layer", "ffn_gate_inp"},
};
constexpr FusedExperts kGraniteFused[] = {
    {"block_sparse_moe.input_linear", "ffn_gate_exps", "ffn_up_exps"}};
constexpr NamePair kGraniteStacked[] = {{"block_sparse_moe.output_linear", "ffn_down_exps"}};

// transformers' GraniteMoeConfig defaults for the keys the conversion reads.
const HParamDefault kGraniteMoeDefaults[] = {
    {"max_position_embeddings", Value::i64(2048)}, {"rms_norm_eps", Value::f64(1e-6)},
    {"intermediate_size", Value::i64(11008)},      {"num_local_experts", Value::i64(8)},
    {"num_experts_per_tok", Value::i64(2)},        {"embedding_multiplier", Value::f64(1.0)},
    {"logits_scaling", Value::f64(1.0)},           {"residual_multiplier", Value::f64(1.0)},
    {"attention_multiplier", Value::f64(1.0)},     {"tie_word_embeddings", Value::boolean(false)},
};

void write_keys(const HParams& hp, const Dims& d, KeyWriter& kw) {
  write_text_model_keys(hp, d, read_rope(hp, 10000.0), kw);
  // The reference drops head_dim from Granite configs before writing anything.
  kw.erase("attention.key_length");
  kw.erase("attention.value_length");
  kw.u32("vocab_size", hp.int_("vocab_size"));
  kw.u32("rope.dimension_count", d.hidden / d.heads);
  // The multipliers, under the names llama.cpp gives them; a zero is not written, as in the
  // reference.
  const std::pair<const char*, const char*> kScales[] = {
      {"attention_multiplier", "attention.scale"},
      {"embedding_multiplier", "embedding_scale"},
      {"residual_multiplier", "residual_scale"},
      {"logits_scaling", "logit_scale"},
  };
  for (const auto& [hf, gguf] : kScales)
    if (auto v = hp.opt_float(hf); v && *v != 0.0) kw.f32(gguf, *v);
  if (auto n = hp.opt_int("shared_intermediate_size"); n && *n != 0)
    kw.u32("expert_shared_feed_forward_length", *n);
}

}  // namespace

// No way back yet (no write_config): to_hf refuses GraniteMoE GGUFs.
extern const Family kGraniteMoeFamily{
    .gguf_arch = "granitemoe",
    .hf_architectures = kGraniteMoeArchs,
    .model_types = kGraniteMoeTypes,
    .defaults = kGraniteMoeDefaults,
    .names = {kDecoderGlobals, kGraniteMoeLayers},
    .experts = {.prefix = "", .stems = {}, .fused = kGraniteFused, .whole = kGraniteStacked},
    .permute_qk = true,
    .head_dim_from_hidden = false,
    .write_keys = write_keys,
};

}  // namespace owl::arch
