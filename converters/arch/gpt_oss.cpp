// gpt-oss ("gpt-oss" in GGUF): attention with biases, one learned sink logit per head, sliding
// and full attention layers in turn; a router with a bias over experts whose gate and up outputs
// alternate in one fused tensor. The experts come either as transformers saves them (bf16
// [experts, in, out] parameters) or as OpenAI released them (MXFP4 blocks and scales), which go
// into GGUF as MXFP4 without ever being decoded, as llama.cpp's converter does.
#include "converters/arch/decoder_names.h"
#include "converters/arch/family.h"

namespace owl::arch {
namespace {

constexpr std::string_view kGptOssArchs[] = {"GptOssForCausalLM"};
constexpr std::string_view kGptOssTypes[] = {"gpt_oss"};

constexpr NamePair kGptOssLayers[] = {
    {"input_layernorm", "attn_norm"},
    {"self_attn.q_proj", "attn_q"},
    {"self_attn.k_proj", "attn_k"},
    {"self_attn.v_proj", "attn_v"},
    {"self_attn.o_proj", "attn_output"},
    {"self_attn.sinks", "attn_sinks"},  // saved without ".weight"; the reference adds it
    {"post_attention_layernorm", "post_attention_norm"},
    {"mlp.router", "ffn_gate_inp"},
};

constexpr std::string_view kGptOssBareParams[] = {"self_attn.sinks"};

constexpr ExpertParam kGptOssTransposed[] = {
    {"mlp.experts.down_proj", "ffn_down_exps.weight"},
    {"mlp.experts.down_proj_bias", "ffn_down_exps.bias"},
    {"mlp.experts.gate_up_proj", "ffn_gate_exps.weight", "ffn_up_exps.weight",
     GateUpSplit::alternate},
    {"mlp.experts.gate_up_proj_bias", "ffn_gate_exps.bias", "ffn_up_exps.bias",
     GateUpSplit::alternate},
};
constexpr ExpertParam kGptOssPacked[] = {
    {"mlp.experts.down_proj", "ffn_down_exps.weight"},
    {"mlp.experts.gate_up_proj", "ffn_gate_exps.weight", "ffn_up_exps.weight",
     GateUpSplit::alternate},
};

// transformers' GptOssConfig defaults for the keys the conversion reads.
const HParamDefault kGptOssDefaults[] = {
    {"max_position_embeddings", Value::i64(131072)},
    {"rms_norm_eps", Value::f64(1e-5)},
    {"intermediate_size", Value::i64(2880)},
    {"head_dim", Value::i64(64)},
    {"num_local_experts", Value::i64(128)},
    {"num_experts_per_tok", Value::i64(4)},
    {"sliding_window", Value::i64(128)},
    {"tie_word_embeddings", Value::boolean(false)},
};

void write_keys(const HParams& hp, const Dims& d, KeyWriter& kw) {
  write_text_model_keys(hp, d, read_rope(hp, 150000.0), kw);
  // Which layers slide is llama.cpp's fixed pattern for gpt-oss (every other one, starting
  // with the first), not a key.
  kw.u32("attention.sliding_window", hp.int_("sliding_window"));
  kw.u32("expert_feed_forward_length", hp.int_("intermediate_size"));
}

// OpenAI's MXFP4 release names the modules it left unquantized; transformers reads the experts
// as MXFP4 only with this block present.
void write_quantization_config(ConfigWriter& cw) {
  cw.string("quantization_config.quant_method", "mxfp4");
  cw.strings(
      "quantization_config.modules_to_not_convert",
      {"model.layers.*.self_attn", "model.layers.*.mlp.router", "model.embed_tokens", "lm_head"});
}

// Sliding and full attention take turns, starting with a sliding layer: llama.cpp's fixed
// pattern for gpt-oss, which layer_types spells out. YaRN as llama.cpp computes it: ggml floors
// and ceils the correction range (ggml_rope_yarn_corr_dims), which is transformers' "truncate".
void write_config(const GgufView& v, const Dims& d, ConfigWriter& cw) {
  write_common_config(v, d, cw);
  cw.string("hidden_act", "silu");
  cw.boolean("attention_bias", true);
  write_expert_config(v, cw, "num_local_experts");
  cw.integer("intermediate_size", v.int_("expert_feed_forward_length"));
  cw.integer("sliding_window", v.int_("attention.sliding_window"));
  std::vector<std::string> types;
  for (int64_t i = 0; i < d.layers; ++i)
    types.push_back(i % 2 == 0 ? "sliding_attention" : "full_attention");
  cw.strings("layer_types", std::move(types));
  if (v.opt_string("rope.scaling.type") == "yarn") cw.boolean("rope_scaling.truncate", true);
  // transformers reads the experts all as MXFP4 (with the quantization block) or all as numbers.
  size_t stacks = 0, mxfp4 = 0;
  for (const Tensor& t : v.graph().tensors) {
    if (!t.name.ends_with("_exps.weight")) continue;
    ++stacks;
    mxfp4 += t.type == ElemType::MXFP4;
  }
  if (mxfp4 && mxfp4 != stacks)
    throw UsageError(std::to_string(mxfp4) + " of the GGUF's " + std::to_string(stacks) +
                     " expert stacks are MXFP4; transformers reads gpt-oss's experts all as "
                     "MXFP4 or none");
  if (mxfp4) write_quantization_config(cw);
}

}  // namespace

extern const Family kGptOssFamily{
    .gguf_arch = "gpt-oss",
    .hf_architectures = kGptOssArchs,
    .model_types = kGptOssTypes,
    .defaults = kGptOssDefaults,
    .names = {kDecoderGlobals, kGptOssLayers},
    .experts = {.transposed = kGptOssTransposed, .packed = kGptOssPacked},
    .head_dim_from_hidden = false,
    .write_keys = write_keys,
    .bare_params = kGptOssBareParams,
    .hf_architecture = "GptOssForCausalLM",
    .hf_model_type = "gpt_oss",
    .write_config = write_config,
};

}  // namespace owl::arch
