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
#include "converters/arch/expert_layout.h"
#include "converters/arch/family.h"
#include "converters/arch/head_rows.h"
#include "converters/arch/interleave.h"
#include "converters/arch/layer_pairs.h"
#include "converters/arch/tensor_names.h"
#include "formats/io/error.h"
#include "quant/dequantize_source.h"

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

// The way back of split_kv_b: each layer's attn_k_b [heads, kv_lora, nope] (each head's block
// transposed back) and attn_v_b [heads, v, kv_lora], head by head, as attn_kv_b
// [heads * (nope + v), kv_lora], which the table maps to kv_b_proj. Lazily: a read transposes one
// head's key block at a time. Quantized parts go back as the F32 values they stand for.
void join_kv_b(Graph& g) {
  join_layer_pairs(
      g, "attn_k_b.weight", "attn_v_b.weight", "kv_b_proj", [](const Tensor& k, const Tensor& v) {
        const auto& ks = k.shape;
        const auto& vs = v.shape;
        if (ks.size() != 3 || vs.size() != 3 || ks[0] != vs[0] || ks[1] != vs[2] || ks[0] == 0 ||
            ks[1] == 0 || ks[2] == 0 || vs[1] == 0 || k.type != v.type)
          throw UsageError(
              "tensors '" + k.name + "' " + std::string(type_name(k.type)) + " " +
              k.shape_string() + " and '" + v.name + "' " + std::string(type_name(v.type)) + " " +
              v.shape_string() +
              " are not one type, [heads, kv_lora_rank, qk_nope_head_dim] and "
              "[heads, v_head_dim, kv_lora_rank]; owl cannot join them into kv_b_proj");
        const uint64_t heads = ks[0], kv_lora = ks[1], nope = ks[2], vdim = vs[1];
        SourcePtr kdata = k.data, vdata = v.data;
        ElemType type = k.type;
        if (type_info(type).block_elems != 1) {
          if (!can_dequantize_from(type))
            throw UsageError("tensor '" + k.name + "' is " + std::string(type_name(type)) +
                             ", which owl cannot dequantize to join into kv_b_proj");
          kdata =
              std::make_shared<DequantizeSource>(kdata, type, ElemType::F32, heads * kv_lora, nope);
          vdata =
              std::make_shared<DequantizeSource>(vdata, type, ElemType::F32, heads * vdim, kv_lora);
          type = ElemType::F32;
        }
        const uint64_t elem = type_info(type).block_bytes;
        Tensor joined;
        joined.name =
            "blk." + std::to_string(split_gguf_layer(k.name)->first) + ".attn_kv_b.weight";
        joined.type = type;
        joined.shape = {heads * (nope + vdim), kv_lora};
        auto key_rows = std::make_shared<TransposedExpertsSource>(kdata, heads, kv_lora, nope, elem,
                                                                  RowPick{0, 1, nope});
        joined.data = std::make_shared<InterleaveSource>(key_rows, vdata, heads);
        return joined;
      });
}

// The GGUF's gating function: gguf-py's ExpertGatingFuncType (1 softmax, 2 sigmoid).
constexpr int64_t kSoftmax = 1, kSigmoid = 2;

// DeepseekV3Config when the router is a sigmoid (with V3's selection bias, its only routing),
// else DeepseekV2Config (softmax, llama.cpp's default for a GGUF that does not say). MLA's sizes
// from the GGUF's MLA keys; one key/value head per query head again, as transformers runs the
// decompressed attention.
void write_config(const GgufView& v, const Dims& d, ConfigWriter& cw) {
  const auto gating = v.opt_int("expert_gating_func");
  if (gating && *gating != kSoftmax && *gating != kSigmoid)
    throw UsageError(v.arch() + ".expert_gating_func is " + std::to_string(*gating) +
                     ", which neither DeepseekV2 (softmax) nor DeepseekV3 (sigmoid) routes by");
  const bool v3 = gating == kSigmoid;
  cw.strings("architectures", {v3 ? "DeepseekV3ForCausalLM" : "DeepseekV2ForCausalLM"});
  cw.string("model_type", v3 ? "deepseek_v3" : "deepseek_v2");
  write_common_config(v, d, cw);
  const int64_t rope = v.int_("rope.dimension_count");
  const int64_t key_mla = v.int_("attention.key_length_mla");
  if (rope <= 0 || key_mla <= rope)
    throw UsageError(v.arch() + ".attention.key_length_mla (" + std::to_string(key_mla) +
                     ") is not the rotary part (" + std::to_string(rope) + ") plus more");
  cw.integer("num_key_value_heads", d.heads);
  cw.integer("head_dim", rope);  // as the config classes set it
  cw.string("hidden_act", "silu");
  cw.boolean("attention_bias", false);
  if (auto r = v.opt_int("attention.q_lora_rank"))
    cw.integer("q_lora_rank", *r);
  else
    cw.null("q_lora_rank");
  cw.integer("kv_lora_rank", v.int_("attention.kv_lora_rank"));
  cw.integer("qk_rope_head_dim", rope);
  cw.integer("qk_nope_head_dim", key_mla - rope);
  cw.integer("v_head_dim", v.int_("attention.value_length_mla"));
  if (auto m = v.opt_float("rope.scaling.yarn_log_multiplier")) {
    // The reference wrote 0.1 * mscale_all_dim; DeepSeek's releases give mscale the same value.
    cw.real("rope_scaling.mscale_all_dim", *m / 0.1);
    cw.real("rope_scaling.mscale", *m / 0.1);
  }

  cw.integer("first_k_dense_replace", v.opt_int("leading_dense_block_count").value_or(0));
  cw.integer("moe_intermediate_size", v.int_("expert_feed_forward_length"));
  cw.integer("n_routed_experts", v.int_("expert_count"));
  cw.integer("num_experts_per_tok", v.int_("expert_used_count"));
  cw.integer("n_shared_experts", v.opt_int("expert_shared_count").value_or(0));
  cw.real("routed_scaling_factor", v.opt_float("expert_weights_scale").value_or(1.0));
  const Value* norm = v.find("expert_weights_norm");
  cw.boolean("norm_topk_prob", norm && norm->type() == ValueType::BOOL && norm->as_bool());
  const auto groups = v.opt_int("expert_group_count");
  if (groups) cw.integer("n_group", *groups);
  if (auto used = v.opt_int("expert_group_used_count")) cw.integer("topk_group", *used);
  if (gating) cw.string("scoring_func", *gating == kSigmoid ? "sigmoid" : "softmax");
  // V3 has one routing; V2 limits it to the best groups when there are groups.
  cw.string("topk_method", v3                      ? "noaux_tc"
                           : groups && *groups > 1 ? "group_limited_greedy"
                                                   : "greedy");
}

// V2 and V3 differ only in the names they go by and their config classes' defaults. The way
// back is V2's entry, the first for "deepseek2": write_config picks the class.
Family deepseek_family(std::span<const std::string_view> archs,
                       std::span<const std::string_view> types,
                       std::span<const HParamDefault> defaults, bool way_back) {
  return {
      .gguf_arch = "deepseek2",
      .hf_architectures = archs,
      .model_types = types,
      .defaults = defaults,
      .names = {kDecoderGlobals, kDeepseekLayers},
      .experts = {.prefix = "mlp.experts.", .stems = kDeepseekExperts},
      .head_dim_from_hidden = false,
      .write_keys = write_keys,
      .hf_architecture = way_back ? "DeepseekV2ForCausalLM" : "",
      .hf_model_type = way_back ? "deepseek_v2" : "",
      .write_config = way_back ? write_config : nullptr,
      .split_tensor = split_kv_b,
      .join_tensors = join_kv_b,
      .drop_layers_past_count = true,
  };
}

}  // namespace

extern const Family kDeepseekV2Family = deepseek_family(kV2Archs, kV2Types, kV2Defaults, true);
extern const Family kDeepseekV3Family = deepseek_family(kV3Archs, kV3Types, kV3Defaults, false);

}  // namespace owl::arch
