// Hugging Face graph -> llama.cpp's canonical GGUF form, as convert_hf_to_gguf.py writes it.
#include <algorithm>
#include <filesystem>
#include <set>

#include "converters/arch/arch.h"
#include "converters/arch/arch_internal.h"
#include "converters/arch/expert_params.h"
#include "converters/arch/experts.h"
#include "converters/arch/fp8_blocks.h"
#include "converters/arch/general_keys.h"
#include "converters/arch/norm_shift.h"
#include "converters/arch/permute.h"
#include "converters/arch/sentence_modules.h"
#include "converters/arch/slice.h"
#include "converters/arch/tensor_names.h"
#include "formats/hf/folder.h"
#include "formats/io/error.h"
#include "formats/io/mapped_file.h"

namespace owl::arch {
namespace {

namespace fs = std::filesystem;

// Bounds no real model comes near; they keep the arithmetic below far from overflow.
constexpr int64_t kMaxLayers = 1 << 14;
constexpr int64_t kMaxWidth = 1 << 24;

std::string config_path_of(const Graph& g) {
  for (const auto& in : g.inputs)
    if (fs::path(in.path).filename() == "config.json") return in.path;
  return "config.json";
}

ModelFolder folder_of(const std::string& config_path) {
  const fs::path dir = fs::path(config_path).parent_path();
  if (dir.empty()) return {};
  // The folder's own name, even when it was given as "." or with a trailing slash.
  std::error_code ec;
  fs::path canonical = fs::weakly_canonical(dir, ec);
  if (ec) canonical = dir;
  return {dir.string(), canonical.filename().string()};
}

// The first of `keys` present (the reference's order of spellings); errors use `name`.
int64_t checked_dim(const HParams& hp, std::string_view name,
                    std::initializer_list<std::string_view> keys, int64_t max) {
  auto v = hp.first_int(keys);
  if (!v) hp.fail(name, "is missing");
  if (*v <= 0 || *v > max)
    hp.fail(name, "is " + std::to_string(*v) + ", outside 1.." + std::to_string(max));
  return *v;
}

Dims read_dims(HParams& hp, const Family& f) {
  Dims d;
  d.layers = checked_dim(hp, "num_hidden_layers",
                         {"n_layers", "num_hidden_layers", "n_layer", "num_layers"}, kMaxLayers);
  d.hidden = checked_dim(hp, "hidden_size", {"hidden_size", "n_embd", "dim"}, kMaxWidth);
  d.heads = checked_dim(hp, "num_attention_heads", {"num_attention_heads", "n_head", "n_heads"},
                        kMaxWidth);
  // The config classes fill these in when config.json leaves them out.
  if (!hp.first_int({"num_key_value_heads", "n_kv_heads"}))
    hp.add_default("num_key_value_heads", Value::i64(d.heads));
  d.kv_heads =
      checked_dim(hp, "num_key_value_heads", {"num_key_value_heads", "n_kv_heads"}, d.heads);
  if (d.heads % d.kv_heads) hp.fail("num_key_value_heads", "does not divide num_attention_heads");
  if (!hp.has("head_dim") && f.head_dim_from_hidden) {
    if (d.hidden % d.heads) hp.fail("hidden_size", "is not a multiple of num_attention_heads");
    hp.add_default("head_dim", Value::i64(d.hidden / d.heads));
  }
  d.head_dim = hp.has("head_dim") ? checked_dim(hp, "head_dim", {"head_dim"}, kMaxWidth)
                                  : d.hidden / d.heads;
  return d;
}

// The shard a tensor lives in, for the reference's order: shards by name, tensors by name.
std::string shard_of(const Tensor& t) {
  if (auto* m = dynamic_cast<const MappedSource*>(t.data.get())) return m->file().path();
  return {};
}

// How many tokens the tokenizer has, when the tokenizer pass already put them in the graph.
std::optional<uint64_t> tokenizer_size(const Metadata& md) {
  const Value* v = md.find("tokenizer.ggml.tokens");
  if (!v || v->type() != ValueType::ARRAY) return std::nullopt;
  return v->as_array().size();
}

struct Conversion {
  const Family& family;
  const HParams& hp;
  const Dims& dims;
  const Metadata& metadata;
  std::string where;  // the folder, for errors

  Tensor convert(Tensor t, const std::string& hf_name) const {
    auto mapped = hf_to_gguf_name(family.names, hf_name);
    // A parameter saved without a suffix (gpt-oss's sinks) is named as a weight, as the
    // reference names it.
    if (!mapped && !hf_name.ends_with(".weight") && !hf_name.ends_with(".bias"))
      mapped = hf_to_gguf_name(family.names, hf_name + ".weight");
    if (!mapped) {
      throw InputError(where, "tensor '" + hf_name + "' has no place in a " +
                                  std::string(family.hf_architectures[0]) +
                                  " model (owl knows no GGUF name for it)");
    }
    if (mapped->layer && *mapped->layer >= dims.layers) {
      throw InputError(where, "tensor '" + hf_name + "' is in layer " +
                                  std::to_string(*mapped->layer) +
                                  " but config.json says there are " + std::to_string(dims.layers));
    }
    t.name = mapped->name;
    const std::string stem = gguf_stem(t.name);
    if (family.permute_qk && (stem == "attn_q" || stem == "attn_k"))
      permute(t, stem == "attn_q" ? dims.heads : dims.kv_heads);
    if (family.shift_norms && hf_name.ends_with("norm.weight")) shift(t);
    if (family.trim_embedding && t.name == "token_embd.weight") trim(t);
    return t;
  }

  void permute(Tensor& t, int64_t groups) const {
    if (t.shape.empty() || t.shape[0] == 0)
      throw InputError(where, "tensor '" + t.name + "' has no rows to reorder");
    const uint64_t rows = t.shape[0];
    if (rows % static_cast<uint64_t>(2 * groups)) {
      throw InputError(where, "tensor '" + t.name + "' has " + std::to_string(rows) +
                                  " rows, not a whole number of " + std::to_string(groups) +
                                  " heads of rotary pairs");
    }
    t.data = std::make_shared<RopePermuteSource>(t.data, rows, t.byte_size() / rows, groups,
                                                 RopeOrder::to_gguf);
  }

  void shift(Tensor& t) const {
    if (!NormShiftSource::supports(t.type))
      throw InputError(where, "tensor '" + t.name + "' is " + std::string(type_name(t.type)) +
                                  "; Gemma norms must be F32, F16 or BF16");
    // As the reference: F16 weights are shifted in F16, others in F32; all are stored as F32.
    const ElemType sum_type = t.type == ElemType::F16 ? ElemType::F16 : ElemType::F32;
    t.data = std::make_shared<NormShiftSource>(t.data, t.type, ElemType::F32, t.elements(), 1.0f,
                                               sum_type);
    t.type = ElemType::F32;
  }

  void trim(Tensor& t) const {
    const auto n = tokenizer_size(metadata);
    if (!n || t.shape.size() != 2 || *n >= t.shape[0] || *n == 0) return;
    t.data = std::make_shared<SliceSource>(t.data, 0, *n * (t.byte_size() / t.shape[0]));
    t.shape[0] = *n;
  }
};

bool is_source_key(std::string_view key) {
  return key.starts_with(hf::kConfigPrefix) || key.starts_with("safetensors.metadata.") ||
         key.starts_with("llama2c.");
}

// The dense modules' sizes, where the reference writes them: after the family's own keys, but
// before the pooling type, which is taken out and set again behind them.
void write_dense_sizes(const std::vector<SentenceDenseModule>& dense, KeyWriter& kw,
                       Metadata& out) {
  if (dense.empty()) return;
  const Value* found = out.find(kw.key("pooling_type"));
  const std::optional<Value> pooling = found ? std::optional<Value>(*found) : std::nullopt;
  kw.erase("pooling_type");
  for (const SentenceDenseModule& d : dense) {
    if (d.in_features < 0) continue;
    kw.u32(d.name + "_feat_in", d.in_features);
    kw.u32(d.name + "_feat_out", d.out_features);
  }
  if (pooling) out.set(kw.key("pooling_type"), *pooling);
}

}  // namespace

const Family& hf_family(const Graph& g) {
  const std::string config_path = config_path_of(g);
  const HParams probe(g.metadata, config_path, {});
  if (const Family* family = family_for_config(probe)) return *family;
  std::string name = "?";
  if (const Value* a = probe.find("architectures");
      a && a->type() == ValueType::ARRAY && !a->as_array().empty())
    name = a->as_array()[0].to_display();
  else if (auto t = probe.opt_string("model_type"))
    name = *t;
  throw InputError(config_path,
                   "unsupported architecture " + name + "; owl converts " + supported_list());
}

void hf_to_gguf(Graph& g, const std::function<void(const std::string&)>& warn,
                const ToGgufOptions& options) {
  const std::string config_path = config_path_of(g);
  const Family* family = &hf_family(g);
  HParams hp(g.metadata, config_path,
             std::vector<HParamDefault>(family->defaults.begin(), family->defaults.end()));
  const Dims dims = read_dims(hp, *family);
  const ModelFolder folder = folder_of(config_path);
  const Conversion conv{*family, hp, dims, g.metadata,
                        folder.path.empty() ? config_path : folder.path};

  // The reference reads shards in name order and each shard's tensors in name order.
  struct Item {
    std::string shard, hf_name;
    size_t index;
  };
  std::vector<Item> order;
  for (size_t i = 0; i < g.tensors.size(); ++i)
    order.push_back({shard_of(g.tensors[i]), g.tensors[i].name, i});
  std::sort(order.begin(), order.end(), [](const Item& a, const Item& b) {
    return std::tie(a.shard, a.hf_name) < std::tie(b.shard, b.hf_name);
  });

  // FP8 weights become F32 with their block scales multiplied in, before anything reads them.
  const std::set<std::string> fp8_scales = dequantize_fp8_weights(g.tensors, hp, conv.where);

  Metadata out;
  out.set("general.architecture", Value::string(std::string(family->gguf_arch)));
  KeyWriter early(out, std::string(family->gguf_arch), config_path);
  std::vector<Tensor> tensors;
  if (family->extra_tensors) family->extra_tensors(hp, dims, tensors, early);
  std::set<std::string> seen;
  auto add = [&](Tensor t, const std::string& from) {
    if (!seen.insert(t.name).second)
      throw InputError(conv.where,
                       "two tensors become '" + t.name + "' (the second is '" + from + "')");
    tensors.push_back(std::move(t));
  };
  // The reference generates the dense modules' tensors before it reads the model's.
  std::vector<SentenceDenseModule> dense;
  if (options.sentence_transformers_dense && family->sentence_transformers_dense)
    dense = read_sentence_dense_modules(hp);
  for (SentenceDenseModule& d : dense) {
    for (Tensor& t : d.weights) add(std::move(t), d.file.path);
    g.inputs.push_back(d.file);
  }
  ExpertGatherer experts(family->experts, config_expert_count(hp), dims.layers, conv.where);
  ExpertParams expert_params(family->experts, config_expert_count(hp), dims.layers, conv.where);
  for (const Item& item : order) {
    if (is_skipped_hf_tensor(item.hf_name) || fp8_scales.count(item.hf_name)) continue;
    const std::string hf_name = normalized_hf_name(item.hf_name);
    if (family->drop_lm_head && hf_name == "lm_head.weight") continue;
    if (const auto in_layer = split_hf_layer(hf_name);
        family->drop_layers_past_count && in_layer && in_layer->first >= dims.layers)
      continue;
    // Expert tensors become their stacks where the reference emits them: a layer's stacks when
    // its last expert tensor comes by.
    if (auto stacked = experts.take(hf_name, g.tensors[item.index])) {
      for (Tensor& t : *stacked) add(std::move(t), item.hf_name);
      continue;
    }
    if (auto stacked = expert_params.take(hf_name, g.tensors[item.index])) {
      for (Tensor& t : *stacked) add(std::move(t), item.hf_name);
      continue;
    }
    Tensor t = conv.convert(std::move(g.tensors[item.index]), hf_name);
    std::vector<Tensor> parts;
    if (family->split_tensor) parts = family->split_tensor(hp, conv.where, t);
    if (parts.empty()) parts.push_back(std::move(t));
    for (Tensor& p : parts) add(std::move(p), item.hf_name);
  }
  experts.finish();
  expert_params.finish();
  // The reference repacks quantized expert stacks (gpt-oss's MXFP4) while generating extra
  // tensors, so they come before every other tensor, in the order their inputs came.
  std::stable_partition(tensors.begin(), tensors.end(),
                        [](const Tensor& t) { return is_quantized(t.type); });

  write_general_keys(out, folder, g.metadata, count_params(tensors), warn);
  KeyWriter kw(out, std::string(family->gguf_arch), config_path);
  family->write_keys(hp, dims, kw);
  write_dense_sizes(dense, kw, out);
  kw.closing_general_keys();
  for (const auto& [key, value] : g.metadata)
    if (!is_source_key(key) && !out.find(key)) out.set(key, value);

  g.metadata = std::move(out);
  g.tensors = std::move(tensors);
  g.architecture = std::string(family->gguf_arch);
}

// The config's keys are copied: HParams reads them by reference for the mapper's lifetime.
struct HfWeightMapper::Impl {
  Impl(const Graph& base, const Family& f)
      : metadata(base.metadata),
        family(f),
        hp(metadata, config_path_of(base),
           std::vector<HParamDefault>(f.defaults.begin(), f.defaults.end())),
        dims(read_dims(hp, f)),
        arch(f.gguf_arch) {}
  Metadata metadata;
  const Family& family;
  HParams hp;
  Dims dims;
  std::string arch;
};

HfWeightMapper::HfWeightMapper(const Graph& base)
    : impl_(std::make_unique<Impl>(base, hf_family(base))) {}

HfWeightMapper::~HfWeightMapper() = default;

const std::string& HfWeightMapper::gguf_arch() const {
  return impl_->arch;
}

Tensor HfWeightMapper::map(Tensor t, const std::string& where) const {
  const Conversion conv{impl_->family, impl_->hp, impl_->dims, impl_->metadata, where};
  const std::string hf_name = normalized_hf_name(t.name);
  return conv.convert(std::move(t), hf_name);
}

}  // namespace owl::arch
