// DeepSeek-V2 and -V3 ("deepseek2" in GGUF): multi-head latent attention (queries optionally
// through a low-rank compression, keys and values through one shared latent with a rotary part
// beside it), leading dense layers, then routed experts beside shared ones, routed by softmax
// (V2) or by a sigmoid with a per-expert correction bias (V3), within groups of experts.
//
// llama.cpp runs MLA in its absorbed form: the converter cuts kv_b_proj, per head, into the
// rows that make the keys' non-rotary part (attn_k_b, each head transposed) and those that make
// the values (attn_v_b), and declares one key/value head of the latent's width.
#include <cmath>

#include "converters/arch/decoder_names.h"
#include "converters/arch/family.h"
#include "converters/arch/head_rows.h"
#include "formats/io/error.h"

namespace owl::arch {
namespace {

constexpr std::string_view kV2Archs[] = {"DeepseekV2ForCausalLM"};
constexpr std::string_view kV2Types[] = {"deepseek_v2"};
constexpr std::string_view kV3Archs[] = {"DeepseekV3ForCausalLM"};
constexpr std::string_view kV3Types[] = {"deepseek_v3"};

constexpr NamePair kDeepseekLayers[] = {
    {"input_layernorm", "attn_norm"},
    {"self_attn.q_proj", "attn_q"},
    {"self_attn.q_a_proj", "attn_q_a"},
    {"self_attn.q_a_layernorm", "attn_q_a_norm"},
    {"self_attn.q_b_proj", "attn_q_b"},
    {"self_attn.kv_a_proj_with_mqa", "attn_kv_a_mqa"},
    {"self_attn.kv_a_layernorm", "attn_kv_a_norm"},
    {"self_attn.kv_b_proj", "attn_kv_b"},
    {"self_attn.o_proj", "attn_output"},
    {"post_attention_layernorm", "ffn_norm"},
    {"mlp.gate_proj", "ffn_gate"},
    {"mlp.up_proj", "ffn_up"},
    {"mlp.down_proj", "ffn_down"},
    {"mlp.gate", "ffn_gate_inp"},
    // e_score_correction_bias, which the reference (and normalized_hf_name) renames to
    // e_score_correction.bias first.
    {"mlp.gate.e_score_correction", "exp_probs_b"},
    {"mlp.shared_experts.gate_proj", "ffn_gate_shexp"},
    {"mlp.shared_experts.up_proj", "ffn_up_shexp"},
    {"mlp.shared_experts.down_proj", "ffn_down_shexp"},
};
constexpr ExpertStem kDeepseekExperts[] = {
    {"down_proj", "ffn_down_exps"}, {"gate_proj", "ffn_gate_exps"}, {"up_proj", "ffn_up_exps"}};

// transformers' DeepseekV2Config / DeepseekV3Config defaults for the keys the conversion reads
// (q_lora_rank is left out: a null in config.json means no query compression).
const HParamDefault kV2Defaults[] = {
    {"max_position_embeddings", Value::i64(2048)},
    {"rms_norm_eps", Value::f64(1e-6)},
    {"intermediate_size", Value::i64(11008)},
    {"moe_intermediate_size", Value::i64(1407)},
    {"kv_lora_rank", Value::i64(512)},
    {"qk_nope_head_dim", Value::i64(128)},
    {"qk_rope_head_dim", Value::i64(64)},
    {"v_head_dim", Value::i64(128)},
    {"n_routed_experts", Value::i64(64)},
    {"n_shared_experts", Value::i64(2)},
    {"first_k_dense_replace", Value::i64(0)},
    {"routed_scaling_factor", Value::f64(1.0)},
    {"norm_topk_prob", Value::boolean(false)},
    {"rope_theta", Value::f64(10000.0)},
    {"tie_word_embeddings", Value::boolean(false)},
};
const HParamDefault kV3Defaults[] = {
    {"max_position_embeddings", Value::i64(4096)},
    {"rms_norm_eps", Value::f64(1e-6)},
    {"intermediate_size", Value::i64(18432)},
    {"moe_intermediate_size", Value::i64(2048)},
    {"kv_lora_rank", Value::i64(512)},
    {"qk_nope_head_dim", Value::i64(128)},
    {"qk_rope_head_dim", Value::i64(64)},
    {"v_head_dim", Value::i64(128)},
    {"n_routed_experts", Value::i64(256)},
    {"n_shared_experts", Value::i64(1)},
    {"num_experts_per_tok", Value::i64(8)},
    {"n_group", Value::i64(8)},
    {"topk_group", Value::i64(4)},
    {"first_k_dense_replace", Value::i64(3)},
    {"routed_scaling_factor", Value::f64(2.5)},
    {"norm_topk_prob", Value::boolean(true)},
    {"rope_theta", Value::f64(10000.0)},
    {"tie_word_embeddings", Value::boolean(false)},
};

// A size the MLA layout needs, from config.json.
int64_t mla_dim(const HParams& hp, std::string_view key) {
  const int64_t v = hp.int_(key);
  if (v <= 0 || v > (1 << 20)) hp.fail(key, "is " + std::to_string(v) + ", outside 1..1048576");
  return v;
}

void write_keys(const HParams& hp, const Dims& d, KeyWriter& kw) {
  // The reference declares MLA as multi-query attention (one key/value head) before writing the
  // common keys, and the head size its transformers config gives (the rotary part).
  HParams mqa = hp;
  mqa.add_default("num_key_value_heads", Value::i64(1));
  mqa.add_default("head_dim", Value::i64(mla_dim(hp, "qk_rope_head_dim")));
  Dims one_kv = d;
  one_kv.kv_heads = 1;
  write_text_model_keys(mqa, one_kv, read_rope(hp, 10000.0), kw);

  const bool has_experts = hp.has("n_routed_experts");
  kw.u32("leading_dense_block_count",
         hp.opt_int("first_k_dense_replace").value_or(has_experts ? 0 : d.layers));
  kw.u32("vocab_size", hp.int_("vocab_size"));
  if (auto r = hp.opt_int("q_lora_rank")) kw.u32("attention.q_lora_rank", *r);
  const int64_t kv_lora = mla_dim(hp, "kv_lora_rank"), rope = mla_dim(hp, "qk_rope_head_dim");
  kw.u32("attention.kv_lora_rank", kv_lora);
  kw.u32("attention.key_length", kv_lora + rope);
  kw.u32("attention.value_length", kv_lora);
  kw.u32("attention.key_length_mla", mla_dim(hp, "qk_nope_head_dim") + rope);
  kw.u32("attention.value_length_mla", mla_dim(hp, "v_head_dim"));
  const auto expert_ff = hp.first_int({"moe_intermediate_size", "intermediate_size"});
  if (!expert_ff) hp.fail("moe_intermediate_size", "is missing");
  kw.u32("expert_feed_forward_length", *expert_ff);
  if (auto n = hp.opt_int("n_routed_experts")) kw.u32("expert_count", *n);
  kw.u32("expert_shared_count", hp.opt_int("n_shared_experts").value_or(0));
  if (auto s = hp.opt_float("routed_scaling_factor")) kw.f32("expert_weights_scale", *s);
  if (hp.opt_bool("norm_topk_prob").value_or(false)) kw.boolean("expert_weights_norm", true);
  kw.u32("rope.dimension_count", rope);
  // As the reference (llama.cpp's "DEEPSEEK2_YARN_LOG_MUL_FIX"): 0.1 times mscale_all_dim.
  for (auto key : {"rope_parameters.mscale_all_dim", "rope_scaling.mscale_all_dim"}) {
    if (auto m = hp.opt_float(key)) {
      kw.f32("rope.scaling.yarn_log_multiplier", 0.1 * *m);
      break;
    }
  }
}

// kv_b_proj [heads * (nope + v), kv_lora] -> attn_k_b [heads, kv_lora, nope] (each head's key
// rows transposed) and attn_v_b [heads, v, kv_lora].
std::vector<Tensor> split_kv_b(const HParams& hp, const std::string& where, Tensor& t) {
  constexpr std::string_view kKvB = ".attn_kv_b.weight";
  if (!t.name.ends_with(kKvB)) return {};
  const uint64_t heads = mla_dim(hp, "num_attention_heads");
  const uint64_t nope = mla_dim(hp, "qk_nope_head_dim"), v = mla_dim(hp, "v_head_dim");
  const uint64_t elem = type_info(t.type).block_bytes;
  if (t.shape.size() != 2 || t.shape[0] != heads * (nope + v) || t.shape[1] == 0 ||
      type_info(t.type).block_elems != 1) {
    throw InputError(where, "tensor '" + t.name + "' is " + std::string(type_name(t.type)) + " " +
                                t.shape_string() + ", not [" + std::to_string(heads * (nope + v)) +
                                ", kv_lora_rank] of a plain type (heads x (qk_nope_head_dim + "
                                "v_head_dim) rows)");
  }
  const uint64_t cols = t.shape[1];
  const std::string stem = t.name.substr(0, t.name.size() - kKvB.size());
  auto part = [&](std::string_view name, uint64_t first, uint64_t count, bool transpose) {
    Tensor p;
    p.name = stem + "." + std::string(name) + ".weight";
    p.type = t.type;
    p.shape = transpose ? std::vector<uint64_t>{heads, cols, count}
                        : std::vector<uint64_t>{heads, count, cols};
    p.data = std::make_shared<HeadRowsSource>(
        t.data, HeadRows{heads, nope + v, cols, first, count, elem, transpose});
    return p;
  };
  std::vector<Tensor> out;
  out.push_back(part("attn_k_b", 0, nope, true));
  out.push_back(part("attn_v_b", nope, v, false));
  return out;
}

// V2 and V3 differ only in the names they go by and their config classes' defaults.
Family deepseek_family(std::span<const std::string_view> archs,
                       std::span<const std::string_view> types,
                       std::span<const HParamDefault> defaults) {
  return {
      .gguf_arch = "deepseek2",
      .hf_architectures = archs,
      .model_types = types,
      .defaults = defaults,
      .names = {kDecoderGlobals, kDeepseekLayers},
      .experts = {.prefix = "mlp.experts.", .stems = kDeepseekExperts},
      .head_dim_from_hidden = false,
      .write_keys = write_keys,
      .split_tensor = split_kv_b,
      .drop_layers_past_count = true,
  };
}

}  // namespace

// No way back yet (no write_config): to_hf refuses DeepSeek GGUFs.
extern const Family kDeepseekV2Family = deepseek_family(kV2Archs, kV2Types, kV2Defaults);
extern const Family kDeepseekV3Family = deepseek_family(kV3Archs, kV3Types, kV3Defaults);

}  // namespace owl::arch
