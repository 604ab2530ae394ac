// GraniteMoE ("granitemoe" in GGUF): Llama's attention with q/k rows reordered for RoPE, scale
// factors on the embedding, residuals, attention and logits, and experts stored as two 3-D
// tensors per layer (JetMoE's parallel experts): input_linear holds gate above up for each
// expert, output_linear the down projections. GraniteMoeShared adds a shared expert stored the same
// way (shared_mlp.input_linear, shared_mlp.output_linear).
#include "converters/arch/decoder_names.h"
#include "converters/arch/family.h"
#include "converters/arch/layer_pairs.h"
#include "converters/arch/slice.h"
#include "converters/arch/stack.h"
#include "converters/arch/tensor_names.h"
#include "formats/io/error.h"

namespace owl::arch {
namespace {

// GraniteMoeShared converts as GraniteMoE (one class in the reference), with a shared expert.
constexpr std::string_view kGraniteMoeArchs[] = {"GraniteMoeForCausalLM",
                                                 "GraniteMoeSharedForCausalLM"};
constexpr std::string_view kGraniteMoeTypes[] = {"granitemoe", "granitemoeshared"};

// A name no GGUF keeps: the shared expert's fused input, until split_shared_input splits it.
constexpr std::string_view kSharedGateUp = "ffn_gate_up_shexp";

constexpr NamePair kGraniteMoeLayers[] = {
    {"input_layernorm", "attn_norm"},
    {"self_attn.q_proj", "attn_q"},
    {"self_attn.k_proj", "attn_k"},
    {"self_attn.v_proj", "attn_v"},
    {"self_attn.o_proj", "attn_output"},
    {"post_attention_layernorm", "ffn_norm"},
    {"block_sparse_moe.router.layer", "ffn_gate_inp"},
    // The shared expert: input_linear holds gate above up, which split_shared_input cuts apart.
    {"shared_mlp.input_linear", kSharedGateUp},
    {"shared_mlp.output_linear", "ffn_down_shexp"},
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

// Granite's multipliers: config.json's names and the GGUF keys llama.cpp reads them from.
constexpr NamePair kScales[] = {
    {"attention_multiplier", "attention.scale"},
    {"embedding_multiplier", "embedding_scale"},
    {"residual_multiplier", "residual_scale"},
    {"logits_scaling", "logit_scale"},
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
  for (const NamePair& s : kScales)
    if (auto v = hp.opt_float(s.hf); v && *v != 0.0) kw.f32(s.gguf, *v);
  if (auto n = hp.opt_int("shared_intermediate_size"); n && *n != 0)
    kw.u32("expert_shared_feed_forward_length", *n);
}

// shared_mlp.input_linear [2 * shared_intermediate_size, hidden] -> ffn_gate_shexp (the upper
// half of the rows) and ffn_up_shexp (the lower), as the reference splits it.
std::vector<Tensor> split_shared_input(const HParams& hp, const std::string& where, Tensor& t) {
  const std::string suffix = "." + std::string(kSharedGateUp) + ".weight";
  if (!t.name.ends_with(suffix)) return {};
  const int64_t ff = hp.opt_int("shared_intermediate_size").value_or(0);
  if (t.shape.size() != 2 || ff <= 0 || t.shape[0] != 2 * static_cast<uint64_t>(ff) ||
      t.byte_size() % 2)
    throw InputError(where, "tensor '" + t.name + "' is " + t.shape_string() + ", not [" +
                                std::to_string(2 * ff) +
                                ", hidden] (twice config.json's shared_intermediate_size)");
  const std::string stem = t.name.substr(0, t.name.size() - suffix.size());
  const uint64_t half = t.byte_size() / 2;
  std::vector<Tensor> out;
  for (const char* name : {"ffn_gate_shexp", "ffn_up_shexp"}) {
    Tensor p;
    p.name = stem + "." + name + ".weight";
    p.type = t.type;
    p.shape = {t.shape[0] / 2, t.shape[1]};
    p.data = std::make_shared<SliceSource>(t.data, out.empty() ? 0 : half, half);
    out.push_back(std::move(p));
  }
  return out;
}

// The way back of split_shared_input: each layer's ffn_gate_shexp above its ffn_up_shexp, as
// one tensor under the name the table maps to shared_mlp.input_linear; lazily, both parts read
// in turn.
void join_shared_input(Graph& g) {
  join_layer_pairs(
      g, "ffn_gate_shexp.weight", "ffn_up_shexp.weight", "shared_mlp.input_linear",
      [](const Tensor& gate, const Tensor& up) {
        if (up.shape != gate.shape || up.type != gate.type || gate.shape.size() != 2)
          throw UsageError("tensor '" + gate.name +
                           "' has no ffn_up_shexp of its type and shape to join "
                           "with into shared_mlp.input_linear");
        Tensor joined;
        joined.name = "blk." + std::to_string(split_gguf_layer(gate.name)->first) + "." +
                      std::string(kSharedGateUp) + ".weight";
        joined.type = gate.type;
        joined.shape = {2 * gate.shape[0], gate.shape[1]};
        joined.data = std::make_shared<StackSource>(std::vector<SourcePtr>{gate.data, up.data});
        return joined;
      });
}

// GraniteMoeShared when the GGUF has a shared expert; the multipliers under transformers' names.
void write_config(const GgufView& v, const Dims& d, ConfigWriter& cw) {
  write_common_config(v, d, cw);
  erase_derived_head_dim(d, cw);
  cw.string("hidden_act", "silu");
  cw.boolean("attention_bias", v.tensor("blk.0.attn_q.bias") != nullptr);
  write_expert_config(v, cw, "num_local_experts");
  for (const NamePair& s : kScales)
    if (auto f = v.opt_float(s.gguf)) cw.real(s.hf, *f);
  if (auto n = v.opt_int("expert_shared_feed_forward_length")) {
    cw.strings("architectures", {"GraniteMoeSharedForCausalLM"});
    cw.string("model_type", "granitemoeshared");
    cw.integer("shared_intermediate_size", *n);
  }
}

}  // namespace

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
    .hf_architecture = "GraniteMoeForCausalLM",
    .hf_model_type = "granitemoe",
    .write_config = write_config,
    .split_tensor = split_shared_input,
    .join_tensors = join_shared_input,
};

}  // namespace owl::arch
