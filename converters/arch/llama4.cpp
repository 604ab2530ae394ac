// Llama 4's text model ("llama4" in GGUF, Llama4ForCausalLM): every interleave_moe_layer_step-th
// layer a mixture of experts with a shared expert, the others a dense MLP of intermediate_size_mlp;
// experts saved as transformers' [experts, in, out] parameters with gate and up fused, gate first.
// No q/k row reordering (llama.cpp runs Llama 4 with the rotation matching Hugging Face's layout).
// Chunked attention, NoPE layers and attention temperature tuning are llama.cpp's fixed choices for
// the architecture: the reference writes no keys for them, and neither does owl.
#include "converters/arch/decoder_names.h"
#include "converters/arch/family.h"
#include "converters/arch/rope_tensors.h"

namespace owl::arch {
namespace {

constexpr double kDefaultTheta = 500000.0;

// Llama4ForConditionalGeneration: the text part; the reference leaves the vision tower and its
// projector to the mmproj file, and so does owl (is_skipped_hf_tensor).
constexpr std::string_view kLlama4Archs[] = {"Llama4ForCausalLM", "Llama4ForConditionalGeneration"};
constexpr std::string_view kLlama4Types[] = {"llama4_text"};

constexpr NamePair kLlama4Layers[] = {
    {"input_layernorm", "attn_norm"},
    {"self_attn.q_proj", "attn_q"},
    {"self_attn.k_proj", "attn_k"},
    {"self_attn.v_proj", "attn_v"},
    {"self_attn.o_proj", "attn_output"},
    {"post_attention_layernorm", "ffn_norm"},
    {"feed_forward.gate_proj", "ffn_gate"},
    {"feed_forward.up_proj", "ffn_up"},
    {"feed_forward.down_proj", "ffn_down"},
    {"feed_forward.router", "ffn_gate_inp"},
    {"feed_forward.shared_expert.gate_proj", "ffn_gate_shexp"},
    {"feed_forward.shared_expert.up_proj", "ffn_up_shexp"},
    {"feed_forward.shared_expert.down_proj", "ffn_down_shexp"},
};

constexpr ExpertParam kLlama4Transposed[] = {
    {"feed_forward.experts.down_proj", "ffn_down_exps.weight"},
    {"feed_forward.experts.gate_up_proj", "ffn_gate_exps.weight", "ffn_up_exps.weight",
     GateUpSplit::halves},
};

// transformers' Llama4TextConfig defaults for the keys the conversion reads.
const HParamDefault kLlama4Defaults[] = {
    {"max_position_embeddings", Value::i64(4096 * 32)},
    {"rms_norm_eps", Value::f64(1e-5)},
    {"intermediate_size", Value::i64(8192)},
    {"intermediate_size_mlp", Value::i64(16384)},
    {"head_dim", Value::i64(128)},
    {"num_local_experts", Value::i64(16)},
    {"num_experts_per_tok", Value::i64(1)},
    {"interleave_moe_layer_step", Value::i64(1)},
    {"tie_word_embeddings", Value::boolean(false)},
};

void write_keys(const HParams& hp, const Dims& d, KeyWriter& kw) {
  write_text_model_keys(hp, d, read_rope(hp, kDefaultTheta), kw);
  // The reference reads intermediate_size_mlp as the dense feed-forward length and
  // intermediate_size as the experts'.
  kw.u32("feed_forward_length", hp.int_("intermediate_size_mlp"));
  kw.u32("vocab_size", hp.int_("vocab_size"));
  kw.u32("rope.dimension_count", d.head_dim);
  kw.u32("interleave_moe_layer_step", hp.int_("interleave_moe_layer_step"));
  kw.u32("expert_feed_forward_length", hp.int_("intermediate_size"));
  // Only a model without chunked attention (MobileLLM-R1) says so, with a window of 0.
  const Value* types = hp.find("layer_types");
  if (types && types->type() == ValueType::ARRAY) {
    const Array& a = types->as_array();
    bool all_full = a.elem() == ValueType::STRING;
    for (size_t i = 0; all_full && i < a.size(); ++i) all_full = a.string_at(i) == "full_attention";
    if (all_full) kw.u32("attention.sliding_window", 0);
  }
}

// Llama 4 Scout's own config has equal low and high frequency factors: no band is interpolated,
// so unlike Llama's, they are taken as they are.
void extra_tensors(const HParams& hp, const Dims& d, std::vector<Tensor>& out, KeyWriter&) {
  if (auto r = llama3_settings(read_rope(hp, kDefaultTheta), d.head_dim, kDefaultTheta))
    out.push_back(f32_tensor("rope_freqs.weight", llama3_rope_factors(*r)));
}

// Llama 4 Scout's RoPE: no band interpolated (low and high frequency factors both 1).
bool consume_rope_freqs(const GgufView& v, const Tensor& t, ConfigWriter& cw) {
  return consume_llama3_rope_freqs(v, t, cw, kDefaultTheta, 1.0, 1.0);
}

// What llama.cpp runs a llama4 GGUF as, for the settings the GGUF has no keys for: chunked
// attention over 8192 tokens on three layers of every four and full attention without RoPE
// (but with attention temperature tuning, floor 8192, scale 0.1) on the fourth; q/k L2 norms on
// the RoPE layers unless the model has 128 experts (Maverick). A window of 0 (MobileLLM-R1)
// means full attention everywhere and RoPE on every layer but the last, without temperature
// tuning.
constexpr int64_t kChunk = 8192, kNoRopeStep = 4;
constexpr double kTemperatureScale = 0.1;

void write_config(const GgufView& v, const Dims& d, ConfigWriter& cw) {
  write_common_config(v, d, cw);
  cw.string("hidden_act", "silu");
  cw.boolean("attention_bias", false);
  write_expert_config(v, cw, "num_local_experts");
  cw.integer("intermediate_size", v.int_("expert_feed_forward_length"));
  if (auto n = v.opt_int("feed_forward_length")) cw.integer("intermediate_size_mlp", *n);
  cw.integer("interleave_moe_layer_step", v.int_("interleave_moe_layer_step"));
  cw.boolean("use_qk_norm", v.int_("expert_count") != 128);
  const bool chunked = v.opt_int("attention.sliding_window").value_or(kChunk) != 0;
  const int64_t no_rope_step = chunked ? kNoRopeStep : d.layers;
  std::vector<int64_t> rope_layers;
  std::vector<std::string> types;
  for (int64_t i = 0; i < d.layers; ++i) {
    const bool rope = (i + 1) % no_rope_step != 0;
    rope_layers.push_back(rope ? 1 : 0);
    types.push_back(chunked && rope ? "chunked_attention" : "full_attention");
  }
  cw.integers("no_rope_layers", rope_layers);
  cw.strings("layer_types", std::move(types));
  cw.integer("attention_chunk_size", kChunk);
  cw.boolean("attn_temperature_tuning", chunked);
  cw.integer("floor_scale", kChunk);
  cw.real("attn_scale", kTemperatureScale, false);
}

}  // namespace

extern const Family kLlama4Family{
    .gguf_arch = "llama4",
    .hf_architectures = kLlama4Archs,
    .model_types = kLlama4Types,
    .defaults = kLlama4Defaults,
    .names = {kDecoderGlobals, kLlama4Layers},
    .experts = {.transposed = kLlama4Transposed},
    .head_dim_from_hidden = false,
    .write_keys = write_keys,
    .extra_tensors = extra_tensors,
    .hf_architecture = "Llama4ForCausalLM",
    .hf_model_type = "llama4_text",
    .write_config = write_config,
    .consume_tensor = consume_rope_freqs,
};

}  // namespace owl::arch
