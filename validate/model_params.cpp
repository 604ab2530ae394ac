#include "validate/model_params.h"

#include <array>
#include <cmath>
#include <sstream>

#include "formats/io/error.h"
#include "validate/gemma.h"

namespace owl::validate {
namespace {

struct ArchInfo {
  std::string_view name;
  RopeLayout rope;
  bool expert_weights_norm = false;  // llama.cpp's choice per architecture, not a key
  bool gpt_oss = false;              // sinks, sliding layers, its routing and SwiGLU
  bool llama4 = false;               // chunked attention, NoPE layers, its routing
};

// Architectures whose blocks are RMSNorm -> GQA attention with RoPE -> RMSNorm -> SwiGLU, or
// a softmax-routed mixture of SwiGLU experts (Mixtral is "llama" with experts).
constexpr std::array kArchs = {ArchInfo{"llama", RopeLayout::Interleaved, true},
                               ArchInfo{"qwen2", RopeLayout::NeoX},
                               ArchInfo{"qwen3", RopeLayout::NeoX},
                               ArchInfo{"phi3", RopeLayout::NeoX},
                               ArchInfo{"qwen2moe", RopeLayout::NeoX, false},
                               ArchInfo{"qwen3moe", RopeLayout::NeoX, true},
                               ArchInfo{"olmoe", RopeLayout::NeoX, false},
                               ArchInfo{"granitemoe", RopeLayout::Interleaved, true},
                               ArchInfo{"deepseek2", RopeLayout::Interleaved, false},
                               ArchInfo{"gpt-oss", RopeLayout::NeoX, false, true},
                               ArchInfo{"llama4", RopeLayout::Interleaved, false, false, true},
                               ArchInfo{"gemma", RopeLayout::NeoX},
                               ArchInfo{"gemma2", RopeLayout::NeoX},
                               ArchInfo{"gemma3", RopeLayout::NeoX},
                               ArchInfo{"gemma-embedding", RopeLayout::NeoX}};

// The key's value when it is a positive integer, else 0.
uint64_t get_uint(const Graph& g, const std::string& key) {
  const Value* v = g.metadata.find(key);
  auto n = v ? v->to_int() : std::nullopt;
  return n && *n > 0 ? static_cast<uint64_t>(*n) : 0;
}

uint64_t need_uint(const Graph& g, const std::string& key) {
  const uint64_t n = get_uint(g, key);
  if (n == 0) throw UsageError("the model has no positive '" + key + "'; cannot run it");
  return n;
}

double get_double(const Graph& g, const std::string& key, double fallback) {
  const Value* v = g.metadata.find(key);
  auto d = v ? v->to_double() : std::nullopt;
  return d.value_or(fallback);
}

// llama.cpp's reading: no type means "linear"; the factor may sit under its older key name;
// YaRN's magnitude is 1 + 0.1 ln(factor), divided by the same with the log multiplier when the
// model names one, times the model's own attention factor. "longrope" scales like "linear" (its
// factors are tensors, see phi3_layers.cpp). The original context is read for every type: it
// also chooses LongRoPE's factors.
RopeScaling read_rope_scaling(const Graph& g, const std::string& k) {
  RopeScaling s;
  const std::string type = g.metadata.get_string(k + "rope.scaling.type").value_or("linear");
  if (type != "none" && type != "linear" && type != "yarn" && type != "longrope")
    throw UsageError("the reference forward does not implement rope scaling '" + type + "'");
  const Value* orig = g.metadata.find(k + "rope.scaling.original_context_length");
  s.n_ctx_orig = orig ? get_uint(g, k + "rope.scaling.original_context_length")
                      : get_uint(g, k + "context_length");
  double factor =
      get_double(g, k + "rope.scaling.factor", get_double(g, k + "rope.scale_linear", 0.0));
  if (factor == 0.0 || type == "none") factor = 1.0;
  if (factor < 0.0) throw UsageError("the model's rope.scaling.factor is negative");
  s.freq_scale = 1.0 / factor;
  s.attn_factor = get_double(g, k + "rope.scaling.attn_factor", 1.0);
  if (type == "yarn") {
    s.yarn = true;
    auto mscale = [&](double m) { return factor <= 1.0 ? 1.0 : 0.1 * m * std::log(factor) + 1.0; };
    const double log_mul = get_double(g, k + "rope.scaling.yarn_log_multiplier", 0.0);
    s.attn_factor *= log_mul != 0.0 ? mscale(1.0) / mscale(log_mul) : mscale(1.0);
    s.n_ctx_orig = orig ? need_uint(g, k + "rope.scaling.original_context_length")
                        : need_uint(g, k + "context_length");
  }
  return s;
}

// llama.cpp's DeepSeek-V2/V3 (deepseek2): multi-head latent attention, the routing keys, and
// its own reading of YaRN: the rotary part keeps magnitude 1 when the model names a log
// multiplier (mscale_all_dim, stored divided by 10), and the softmax scale takes
// (1 + 0.1 mscale_all_dim ln factor)^2 instead.
void read_deepseek(const Graph& g, const std::string& k, ModelParams& p) {
  p.kv_lora_rank = need_uint(g, k + "attention.kv_lora_rank");
  p.head_dim_k_mla = need_uint(g, k + "attention.key_length_mla");
  p.head_dim_v_mla = need_uint(g, k + "attention.value_length_mla");
  if (p.rope_dim >= p.head_dim_k_mla)
    throw UsageError("rope.dimension_count does not fit key_length_mla");
  if (p.n_expert > 0) {
    const double gating = get_double(g, k + "expert_gating_func", 1.0);  // absent: softmax
    if (gating != 1.0 && gating != 2.0)
      throw UsageError("the reference forward runs softmax and sigmoid expert gating only");
    if (gating == 2.0) p.gating = ModelParams::Gating::sigmoid;
    const Value* norm = g.metadata.find(k + "expert_weights_norm");
    p.expert_weights_norm = norm && norm->type() == ValueType::BOOL && norm->as_bool();
    p.expert_weights_scale = static_cast<float>(get_double(g, k + "expert_weights_scale", 0.0));
    p.n_expert_groups = static_cast<uint64_t>(get_double(g, k + "expert_group_count", 0.0));
    p.n_group_used = static_cast<uint64_t>(get_double(g, k + "expert_group_used_count", 0.0));
    if (p.n_expert_groups > 1 && (p.n_expert % p.n_expert_groups || p.n_group_used == 0 ||
                                  p.n_group_used > p.n_expert_groups))
      throw UsageError("the model's expert groups do not divide its experts");
  }
  const double log_mul = get_double(g, k + "rope.scaling.yarn_log_multiplier", 0.0) / 0.1;
  const double ln_factor = std::log(1.0 / p.rope_scaling.freq_scale);
  double attn_factor = get_double(g, k + "rope.scaling.attn_factor", 1.0);
  if (p.rope_scaling.yarn) {
    const double factor = 1.0 / p.rope_scaling.freq_scale;
    auto mscale = [&](double m) { return factor <= 1.0 ? 1.0 : 0.1 * m * std::log(factor) + 1.0; };
    if (log_mul == 0.0) attn_factor *= mscale(1.0);
    p.rope_scaling.attn_factor = attn_factor;
  }
  const double m = attn_factor * (1.0 + 0.1 * log_mul * ln_factor);
  p.mla_kq_scale = static_cast<float>(m * m / std::sqrt(static_cast<double>(p.head_dim_k_mla)));
}

// llama.cpp's fixed choices for Llama 4 (llama_model_llama4::load_arch_hparams): three layers of
// each four chunked (8192 tokens) and with RoPE, the fourth full and without, its queries
// tempered; unless the model says its window is 0 (MobileLLM-R1): RoPE everywhere, no chunks.
void read_llama4(const Graph& g, const std::string& k, ModelParams& p) {
  p.gating = ModelParams::Gating::sigmoid_on_input;
  p.qk_l2_norm = p.n_expert != 128;  // Maverick (128 experts) has no q/k norm
  const Value* window = g.metadata.find(k + "attention.sliding_window");
  if (window && window->to_int() == 0) return;
  p.swa_pattern = 4;
  p.n_swa = 8192;
  p.swa_chunked = true;
  p.no_rope_step = 4;
  p.temp_floor = 8192;
  p.temp_scale = 0.1f;
  p.temp_offset = 1.0f;
}

}  // namespace

ModelParams read_model_params(const Graph& g) {
  ModelParams p;
  p.arch = g.metadata.get_string("general.architecture").value_or(g.architecture);
  const ArchInfo* info = nullptr;
  for (const auto& a : kArchs)
    if (a.name == p.arch) info = &a;
  if (!info)
    throw UsageError(
        "the reference forward runs llama (and Mixtral), qwen2, qwen3, phi3, qwen2moe, qwen3moe, "
        "olmoe, granitemoe, deepseek2, gpt-oss, llama4, gemma, gemma2, gemma3 and gemma-embedding "
        "models, not '" +
        p.arch + "'");
  const std::string k = p.arch + ".";
  p.rope = info->rope;
  p.n_embd = need_uint(g, k + "embedding_length");
  p.n_layer = need_uint(g, k + "block_count");
  p.n_head = need_uint(g, k + "attention.head_count");
  p.n_head_kv = g.metadata.find(k + "attention.head_count_kv")
                    ? need_uint(g, k + "attention.head_count_kv")
                    : p.n_head;
  p.n_ff = need_uint(g, k + "feed_forward_length");
  p.head_dim = g.metadata.find(k + "attention.key_length")
                   ? need_uint(g, k + "attention.key_length")
                   : p.n_embd / p.n_head;
  p.rope_dim = g.metadata.find(k + "rope.dimension_count")
                   ? need_uint(g, k + "rope.dimension_count")
                   : p.head_dim;
  p.rope_base = get_double(g, k + "rope.freq_base", 10000.0);
  p.rms_eps = static_cast<float>(get_double(g, k + "attention.layer_norm_rms_epsilon", 1e-5));
  p.rope_scaling = read_rope_scaling(g, k);
  if (g.metadata.find(k + "expert_count")) {
    p.n_expert = need_uint(g, k + "expert_count");
    p.n_expert_used = need_uint(g, k + "expert_used_count");
    if (p.n_expert_used > p.n_expert)
      throw UsageError("expert_used_count is larger than expert_count");
    p.expert_weights_norm = info->expert_weights_norm;
  }
  if (info->gpt_oss) {
    p.gating = ModelParams::Gating::softmax_of_picked;
    p.oai_swiglu = true;
    p.swa_pattern = 2;  // the first layer of each two slides
    p.n_swa = need_uint(g, k + "attention.sliding_window");
  }
  if (info->llama4) read_llama4(g, k, p);
  p.embedding_scale = static_cast<float>(get_double(g, k + "embedding_scale", 0.0));
  p.residual_scale = static_cast<float>(get_double(g, k + "residual_scale", 0.0));
  p.attention_scale = static_cast<float>(get_double(g, k + "attention.scale", 0.0));
  p.logit_scale = static_cast<float>(get_double(g, k + "logit_scale", 0.0));
  if (p.arch == "deepseek2") read_deepseek(g, k, p);
  if (is_gemma(p.arch)) read_gemma_params(g, p);
  const Tensor* embd = g.find("token_embd.weight");
  if (!embd || embd->shape.size() != 2) throw UsageError("the model has no 2-D token_embd.weight");
  p.n_vocab = embd->shape[0];
  if (p.n_head % p.n_head_kv) throw UsageError("head_count is not a multiple of head_count_kv");
  if (p.rope_dim > p.head_dim || p.rope_dim % 2)
    throw UsageError("rope.dimension_count does not fit the head size");
  return p;
}

bool sliding_layer(const ModelParams& p, uint64_t i) {
  if (!p.swa_layers.empty()) return i < p.swa_layers.size() && p.swa_layers[i];
  return p.swa_pattern && i % p.swa_pattern < p.swa_pattern - 1;
}

void require_same_network(const ModelParams& ref, const ModelParams& test) {
  std::string diffs;
  auto differ = [&](const char* what, const auto& a, const auto& b) {
    if (a == b) return;
    std::ostringstream line;
    line << (diffs.empty() ? "" : ", ") << what << " " << a << " vs " << b;
    diffs += line.str();
  };
  differ("architecture", ref.arch, test.arch);
  differ("layers", ref.n_layer, test.n_layer);
  differ("embedding width", ref.n_embd, test.n_embd);
  differ("vocabulary", ref.n_vocab, test.n_vocab);
  differ("attention heads", ref.n_head, test.n_head);
  differ("key/value heads", ref.n_head_kv, test.n_head_kv);
  differ("head size", ref.head_dim, test.head_dim);
  differ("feed-forward width", ref.n_ff, test.n_ff);
  differ("experts", ref.n_expert, test.n_expert);
  differ("experts used", ref.n_expert_used, test.n_expert_used);
  if (!diffs.empty())
    throw InputError("", "the two models are different networks (" + diffs +
                             "); validate compares a model with a converted or quantized copy "
                             "of itself");
}

}  // namespace owl::validate
