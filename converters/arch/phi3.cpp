// Phi-3: q/k/v and gate/up stay fused (llama.cpp splits them at load), LongRoPE factors become
// tensors.
#include <cmath>

#include "converters/arch/decoder_names.h"
#include "converters/arch/family.h"
#include "converters/arch/rope_tensors.h"

namespace owl::arch {
namespace {

constexpr NamePair kLayers[] = {
    {"input_layernorm", "attn_norm"},    {"self_attn.qkv_proj", "attn_qkv"},
    {"self_attn.o_proj", "attn_output"}, {"post_attention_layernorm", "ffn_norm"},
    {"mlp.gate_up_proj", "ffn_up"},      {"mlp.down_proj", "ffn_down"},
};

constexpr std::string_view kArchs[] = {"Phi3ForCausalLM"};
constexpr std::string_view kTypes[] = {"phi3"};

const HParamDefault kDefaults[] = {
    {"max_position_embeddings", Value::i64(4096)},
    {"original_max_position_embeddings", Value::i64(4096)},
    {"rms_norm_eps", Value::f64(1e-5)},
    {"tie_word_embeddings", Value::boolean(false)},
};

constexpr double kDefaultTheta = 10000.0;

int64_t rope_dims(const Rope& rope, const Dims& d) {
  const double pct = rope.partial_rotary_factor.value_or(1.0);
  return static_cast<int64_t>(pct * static_cast<double>(d.hidden)) / d.heads;
}

void write_keys(const HParams& hp, const Dims& d, KeyWriter& kw) {
  const Rope rope = read_rope(hp, kDefaultTheta);
  kw.u32("context_length", hp.int_("max_position_embeddings"));
  kw.u32("rope.scaling.original_context_length",
         rope.original_context.value_or(hp.int_("original_max_position_embeddings")));
  kw.u32("embedding_length", d.hidden);
  kw.u32("feed_forward_length", hp.int_("intermediate_size"));
  kw.u32("block_count", d.layers);
  kw.u32("attention.head_count", d.heads);
  kw.u32("attention.head_count_kv", d.kv_heads);
  kw.f32("attention.layer_norm_rms_epsilon", hp.float_("rms_norm_eps"));
  kw.u32("rope.dimension_count", rope_dims(rope, d));
  kw.f32("rope.freq_base", rope.theta.value_or(kDefaultTheta));
  // 0 tells Phi-4 (no sliding window) from the Phi-3 models.
  kw.u32("attention.sliding_window", hp.opt_int("sliding_window").value_or(0));
}

void extra_tensors(const HParams& hp, const Dims& d, std::vector<Tensor>& out, KeyWriter& early) {
  const Rope rope = read_rope(hp, kDefaultTheta);
  if (!rope.long_factor || rope.long_factor->empty()) return;
  const double ctx = static_cast<double>(hp.int_("max_position_embeddings"));
  const double orig = static_cast<double>(
      rope.original_context.value_or(hp.int_("original_max_position_embeddings")));
  const double scale = ctx / orig;
  const std::string type = rope.type.value_or("");
  double attn_factor = 1.0;
  if (type == "su" || type == "longrope") {
    if (scale > 1.0) attn_factor = std::sqrt(1 + std::log(scale) / std::log(orig));
  } else if (type == "yarn") {
    if (scale > 1.0) attn_factor = 0.1 * std::log(scale) + 1.0;
  } else {
    hp.fail("rope_scaling.type",
            type.empty() ? "is missing" : "'" + type + "' is not a RoPE scaling Phi-3 uses");
  }
  early.f32("rope.scaling.attn_factor", attn_factor);
  if (!rope.short_factor) hp.fail("rope_scaling.short_factor", "is missing");
  const size_t half = static_cast<size_t>(rope_dims(rope, d) / 2);
  if (rope.long_factor->size() != half || rope.short_factor->size() != half) {
    hp.fail("rope_scaling.long_factor",
            "and short_factor must each hold " + std::to_string(half) + " values");
  }
  auto to_f32 = [](const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); };
  out.push_back(f32_tensor("rope_factors_long.weight", to_f32(*rope.long_factor)));
  out.push_back(f32_tensor("rope_factors_short.weight", to_f32(*rope.short_factor)));
}

void write_config(const GgufView& v, const Dims& d, ConfigWriter& cw) {
  write_common_config(v, d, cw);
  cw.string("hidden_act", "silu");
  if (auto n = v.opt_int("rope.scaling.original_context_length"))
    cw.integer("original_max_position_embeddings", *n);
  if (auto w = v.opt_int("attention.sliding_window"); w && *w > 0) cw.integer("sliding_window", *w);
  if (auto rd = v.opt_int("rope.dimension_count"); rd && *rd * d.heads != d.hidden)
    cw.real("partial_rotary_factor",
            static_cast<double>(*rd * d.heads) / static_cast<double>(d.hidden), false);
}

bool consume_factors(const GgufView&, const Tensor& t, ConfigWriter& cw) {
  const bool is_long = t.name == "rope_factors_long.weight";
  if (!is_long && t.name != "rope_factors_short.weight") return false;
  cw.string("rope_scaling.type", "longrope");
  cw.reals(is_long ? "rope_scaling.long_factor" : "rope_scaling.short_factor", read_f32_values(t));
  return true;
}

}  // namespace

extern const Family kPhi3Family{
    .gguf_arch = "phi3",
    .hf_architectures = kArchs,
    .model_types = kTypes,
    .defaults = kDefaults,
    .names = {kDecoderGlobals, kLayers},
    .write_keys = write_keys,
    .extra_tensors = extra_tensors,
    .hf_architecture = "Phi3ForCausalLM",
    .hf_model_type = "phi3",
    .write_config = write_config,
    .consume_tensor = consume_factors,
};

}  // namespace owl::arch
