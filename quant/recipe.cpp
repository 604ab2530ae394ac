#include "quant/recipe.h"

#include <algorithm>
#include <charconv>

#include "formats/io/error.h"

namespace owl {
namespace {

bool contains(std::string_view s, std::string_view part) {
  return s.find(part) != s.npos;
}

// llama.cpp accepts at most this many layers.
constexpr int64_t kMaxLayers = 512;
// and at most this many heads or experts; larger values are nonsense from a hostile file.
constexpr int64_t kMaxHeads = 1 << 20;

}  // namespace

std::string_view role_name(TensorRole r) {
  switch (r) {
    case TensorRole::TokenEmbd:
      return "token_embd";
    case TensorRole::Output:
      return "output";
    case TensorRole::AttnQ:
      return "attn_q";
    case TensorRole::AttnK:
      return "attn_k";
    case TensorRole::AttnV:
      return "attn_v";
    case TensorRole::AttnOutput:
      return "attn_output";
    case TensorRole::FfnUp:
      return "ffn_up";
    case TensorRole::FfnGate:
      return "ffn_gate";
    case TensorRole::FfnDown:
      return "ffn_down";
    case TensorRole::Other:
      return "other";
    case TensorRole::Any:
      return "any";
  }
  return "?";
}

TensorRole tensor_role(std::string_view name) {
  // The order matters where names overlap (attn_qkv before attn_q), as in llama.cpp.
  if (name == "output.weight") return TensorRole::Output;
  if (name == "token_embd.weight" || name == "per_layer_token_embd.weight")
    return TensorRole::TokenEmbd;
  if (contains(name, "attn_qkv.weight") || contains(name, "attn_kv_b.weight") ||
      contains(name, "attn_v.weight"))
    return TensorRole::AttnV;
  if (contains(name, "attn_k.weight")) return TensorRole::AttnK;
  if (contains(name, "attn_q.weight")) return TensorRole::AttnQ;
  if (contains(name, "attn_output.weight")) return TensorRole::AttnOutput;
  if (contains(name, "ffn_up")) return TensorRole::FfnUp;
  if (contains(name, "ffn_gate")) return TensorRole::FfnGate;
  if (contains(name, "ffn_down")) return TensorRole::FfnDown;
  return TensorRole::Other;
}

namespace {

// An integer key, or layer 0's entry of a per-layer array; nullopt when absent.
std::optional<int64_t> first_int(const Metadata& m, const std::string& key,
                                 const std::string& file) {
  const Value* v = m.find(key);
  if (!v) return std::nullopt;
  Value x = *v;
  if (v->type() == ValueType::ARRAY) {
    if (v->as_array().empty())
      throw InputError(file, "metadata key '" + key + "' is an empty array");
    x = v->as_array()[0];
  }
  const auto n = x.to_int();
  if (!n || *n < 0 || *n > kMaxHeads)
    throw InputError(file, "metadata key '" + key + "' is not a count (" + v->to_display() + ")");
  return n;
}

// The models llama.cpp calls 70B: architecture, layer count, and for Llama grouped-query attention
// (an 80-layer Llama with as many key/value heads as query heads is its 65B) without 8 experts.
struct SeventyB {
  std::string_view arch;
  int64_t layers;
  bool llama_checks;
};
constexpr SeventyB k70B[] = {
    {"llama", 80, true},  {"deci", 80, false},  {"olmo", 80, false},
    {"qwen2", 80, false}, {"jais2", 68, false},
};

}  // namespace

ModelFacts model_facts(const Graph& g, const std::string& file) {
  ModelFacts f;
  f.arch = g.metadata.get_string("general.architecture").value_or(g.architecture);
  const std::string p = f.arch + ".";
  if (const Value* v = g.metadata.find(p + "block_count")) {
    const auto n = v->to_int();
    if (!n || *n <= 0 || *n > kMaxLayers)
      throw InputError(file, "metadata key '" + p + "block_count' is not a layer count (" +
                                 v->to_display() + ")");
    f.layers = *n;
  } else {
    for (const auto& t : g.tensors)
      f.layers = std::max(f.layers, std::min<int64_t>(layer_of_name(t.name), kMaxLayers - 1) + 1);
  }
  f.heads = first_int(g.metadata, p + "attention.head_count", file).value_or(0);
  f.kv_heads = first_int(g.metadata, p + "attention.head_count_kv", file).value_or(f.heads);
  f.experts = first_int(g.metadata, p + "expert_count", file).value_or(0);
  f.tied_embeddings = g.find("output.weight") == nullptr;
  for (const SeventyB& s : k70B) {
    if (s.arch != f.arch || s.layers != f.layers) continue;
    f.is_70b = !s.llama_checks || (f.experts != 8 && f.heads != f.kv_heads);
  }
  return f;
}

int32_t layer_of_name(std::string_view name) {
  if (!name.starts_with("blk.")) return -1;
  name.remove_prefix(4);
  int32_t n = -1;
  const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), n);
  return ec == std::errc() ? n : -1;
}

std::string_view when_name(When w) {
  switch (w) {
    case When::Always:
      return "";
    case When::FirstEighth:
      return "first eighth of layers";
    case When::FirstSixteenth:
      return "first sixteenth of layers";
    case When::FirstTwo:
      return "first two";
    case When::FirstFour:
      return "first four";
    case When::MoreBits:
      return "a more-bits layer";
    case When::Falcon:
      return "Falcon";
    case When::NotFalcon:
      return "not Falcon";
    case When::Gqa4:
      return "GQA >= 4";
    case When::Experts8:
      return "8 experts";
    case When::NotExperts8:
      return "not 8 experts";
    case When::Is70B:
      return "a 70B model";
    case When::RowNotBaseBlocks:
      return "row not whole base blocks";
    case When::StackedExperts:
      return "stacked experts";
    case When::WithImatrix:
      return "with an imatrix";
    case When::NoImatrix:
      return "without an imatrix";
    case When::Gqa4OrExperts4:
      return "GQA >= 4 or 4+ experts";
    case When::MiddleLayers:
      return "middle layers";
    case When::FirstEighthSeen:
      return "first eighth of layers";
  }
  return "?";
}

bool holds(When w, const RuleInput& in) {
  const int64_t i = in.position.index, n = in.position.count;
  switch (w) {
    case When::Always:
      return true;
    case When::FirstEighth:
      return i < n / 8;
    case When::FirstSixteenth:
      return i < n / 16;
    case When::FirstTwo:
      return i < 2;
    case When::FirstFour:
      return i < 4;
    case When::MoreBits:
      return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
    case When::Falcon:
      return in.model.arch == "falcon";
    case When::NotFalcon:
      return in.model.arch != "falcon";
    case When::Gqa4:
      return in.model.gqa() >= 4;
    case When::Experts8:
      return in.model.experts == 8;
    case When::NotExperts8:
      return in.model.experts != 8;
    case When::Is70B:
      return in.model.is_70b;
    case When::RowNotBaseBlocks:
      return !in.shape.empty() && in.shape.back() % type_info(in.mix.base).block_elems != 0;
    case When::StackedExperts: {
      const bool stacked = in.shape.size() >= 3 && in.shape[in.shape.size() - 3] > 1;
      const bool ffn = in.role == TensorRole::FfnUp || in.role == TensorRole::FfnGate ||
                       in.role == TensorRole::FfnDown;
      // Bailing MoE 3's attention projections are 3-D too; only its FFN experts count.
      return stacked && (in.model.arch != "bailingmoe3" || ffn);
    }
    case When::WithImatrix:
      return in.imatrix;
    case When::NoImatrix:
      return !in.imatrix;
    case When::Gqa4OrExperts4:
      return in.model.gqa() >= 4 || in.model.experts >= 4;
    case When::MiddleLayers:
      return i >= n / 8 && i < 7 * n / 8;
    case When::FirstEighthSeen:
      return in.position.seen < n / 8;
  }
  return false;
}

namespace {

// Every quantized mix begins with these: an output matrix whose rows do not fit the base type's
// blocks, or any Falcon output, is Q8_0. (llama.cpp checks MXFP4_MOE first, whose output is Q8_0
// anyway.)
constexpr Rule kOutputFirst[] = {
    {TensorRole::Output, ElemType::Q8_0, When::Falcon},
    {TensorRole::Output, ElemType::Q8_0, When::RowNotBaseBlocks},
};

bool role_matches(TensorRole rule, TensorRole tensor) {
  return rule == TensorRole::Any || rule == tensor;
}

std::string describe(const Rule& r) {
  std::string s(role_name(r.role));
  for (When w : {r.when, r.and_when})
    if (w != When::Always) s += ", " + std::string(when_name(w));
  return s;
}

const Rule* first_rule(std::span<const Rule> rules, const RuleInput& in) {
  for (const Rule& r : rules)
    if (role_matches(r.role, in.role) && holds(r.when, in) && holds(r.and_when, in)) return &r;
  return nullptr;
}

}  // namespace

MixChoice choose_type(const RuleInput& in) {
  MixChoice c{in.mix.base, std::string(in.mix.name) + " base type"};
  const Rule* r = first_rule(kOutputFirst, in);
  if (!r) r = first_rule(in.mix.rules, in);
  if (r) c = {r->type, std::string(in.mix.name) + " rule: " + describe(*r)};
  for (const Adjustment& a : in.mix.adjustments) {
    if (!role_matches(a.role, in.role) || !holds(a.when, in) || (a.from && *a.from != c.type))
      continue;
    c.type = a.type;
    c.why += "; " + std::string(when_name(a.when)) + ": " + std::string(type_name(a.type));
  }
  return c;
}

namespace {

// Name fragments of tensors llama.cpp never quantizes, with the reason owl shows.
struct Keep {
  std::string_view part;
  std::string_view why;
};
constexpr Keep kKeepParts[] = {
    {"_norm.weight", "norm"},
    {"ffn_gate_inp.weight", "expert router"},
    {"ffn_gate_tid2eid.weight", "expert routing table"},
    {"altup", "small AltUp tensor"},
    {"laurel", "small Laurel tensor"},
    {"per_layer_model_proj", "per-layer projection"},
    {"ssm_conv1d", "small convolution"},
    {"shortconv.conv.weight", "small convolution"},
    {"indexer.k_proj.weight", "small indexer projection"},
    {"indexer.q_proj.weight", "small indexer projection"},
    {"time_mix_first.weight", "small RWKV tensor"},
    {"time_mix_w0.weight", "small RWKV tensor"},
    {"time_mix_w1.weight", "small RWKV tensor"},
    {"time_mix_w2.weight", "small RWKV tensor"},
    {"time_mix_v0.weight", "small RWKV tensor"},
    {"time_mix_v1.weight", "small RWKV tensor"},
    {"time_mix_v2.weight", "small RWKV tensor"},
    {"time_mix_a0.weight", "small RWKV tensor"},
    {"time_mix_a1.weight", "small RWKV tensor"},
    {"time_mix_a2.weight", "small RWKV tensor"},
    {"time_mix_g1.weight", "small RWKV tensor"},
    {"time_mix_g2.weight", "small RWKV tensor"},
    {"time_mix_decay_w1.weight", "small RWKV tensor"},
    {"time_mix_decay_w2.weight", "small RWKV tensor"},
    {"time_mix_lerp_fused.weight", "small RWKV tensor"},
    {"attn_rel_b.weight", "relative position bias"},
    {".position_embd", "positional embedding"},
    {"sam.pos_embd", "positional embedding"},
    {"sam.neck.", "vision neck"},
    {"sam.net_", "vision tensor"},
    {".rel_pos", "relative position"},
    {".patch_embd", "patch embedding"},
    {".patch_merger", "patch merger"},
    {"a.rvq.codebook", "audio codebook"},
    {"mm.a.code_embd", "audio codebook"},
};
constexpr Keep kKeepNames[] = {
    {"position_embd.weight", "positional embedding"},
    {"token_types.weight", "token type embedding"},
};
// Dimensions as ggml counts them: trailing (outermost) sizes of 1 do not count.
size_t ggml_dims(std::span<const uint64_t> shape) {
  size_t i = 0;
  while (i + 1 < shape.size() && shape[i] == 1) ++i;
  return shape.size() - i;
}

}  // namespace

std::optional<std::string> keep_reason(const Tensor& t, bool quantize_output) {
  if (ggml_dims(t.shape) < 2) return "1-D";
  const std::string_view name = t.name;
  if (!name.ends_with("weight")) return "not a weight";
  for (const Keep& k : kKeepParts)
    if (contains(name, k.part)) return std::string(k.why);
  for (const Keep& k : kKeepNames)
    if (name == k.part) return std::string(k.why);
  if (!quantize_output && name == "output.weight") return "output kept (--leave-output-tensor)";
  return std::nullopt;
}

bool needs_imatrix(std::string_view name, ElemType to, const Mix& mix) {
  if (name == "token_embd.weight" || name == "per_layer_token_embd.weight" ||
      name == "output.weight")
    return false;
  switch (to) {
    case ElemType::IQ1_S:
    case ElemType::IQ1_M:
    case ElemType::IQ2_XXS:
    case ElemType::IQ2_XS:
    case ElemType::IQ2_S:
    case ElemType::IQ3_XXS:
      return true;
    case ElemType::Q2_K:
      // The k-quants do without, but for the Q2_K tensors of a Q2_K_S file.
      return mix.name == "Q2_K_S";
    default:
      return false;
  }
}

bool has_unsupported_rules(std::string_view arch) {
  // glm5-next keeps a dozen of its tensors unquantized and floors its query projections at Q8_0.
  return arch == "glm5-next";
}

std::optional<ElemType> smaller_block_type(ElemType t) {
  switch (t) {
    case ElemType::IQ1_S:
    case ElemType::IQ1_M:
    case ElemType::IQ2_XXS:
    case ElemType::IQ2_XS:
    case ElemType::IQ2_S:
    case ElemType::IQ3_XXS:
    case ElemType::IQ3_S:
    case ElemType::IQ4_XS:
      return ElemType::IQ4_NL;
    case ElemType::Q2_0:
    case ElemType::Q2_K:
    case ElemType::Q3_K:
    case ElemType::TQ1_0:
    case ElemType::TQ2_0:
      return ElemType::Q4_0;
    case ElemType::Q4_K:
      return ElemType::Q5_0;
    case ElemType::Q5_K:
      return ElemType::Q5_1;
    case ElemType::Q6_K:
      return ElemType::Q8_0;
    default:
      break;
  }
  if (type_info(t).block_elems <= 32) return t;
  return std::nullopt;
}

}  // namespace owl
