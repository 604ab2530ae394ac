// Canonical GGUF graph -> Hugging Face names, layouts and config.json keys.
#include <algorithm>
#include <set>

#include "converters/arch/arch_internal.h"
#include "converters/arch/expert_unstack.h"
#include "converters/arch/family.h"
#include "converters/arch/norm_shift.h"
#include "converters/arch/permute.h"
#include "converters/arch/tensor_names.h"
#include "formats/hf/config_writer.h"
#include "formats/hf/folder.h"
#include "formats/io/error.h"

namespace owl::arch {
namespace {

Dims gguf_dims(const GgufView& v) {
  Dims d;
  d.layers = v.int_("block_count");
  d.hidden = v.int_("embedding_length");
  d.heads = v.int_("attention.head_count");
  d.kv_heads = v.opt_int("attention.head_count_kv").value_or(d.heads);
  if (d.layers <= 0 || d.hidden <= 0 || d.heads <= 0 || d.kv_heads <= 0 || d.heads % d.kv_heads)
    throw UsageError("the GGUF's " + v.arch() + " block/embedding/head counts are inconsistent");
  d.head_dim = v.opt_int("attention.key_length").value_or(d.hidden / d.heads);
  return d;
}

void write_tokenizer_ids(const Metadata& md, ConfigWriter& cw) {
  const std::pair<const char*, const char*> kIds[] = {
      {"tokenizer.ggml.bos_token_id", "bos_token_id"},
      {"tokenizer.ggml.eos_token_id", "eos_token_id"},
      {"tokenizer.ggml.padding_token_id", "pad_token_id"}};
  for (const auto& [gguf_key, hf_key] : kIds)
    if (auto id = md.get_int(gguf_key)) cw.integer(hf_key, *id);
}

// The name transformers saves a mapped tensor under: DeepSeek's correction bias as its own
// parameter, and the family's bare parameters without ".weight".
std::string hf_name_of(const Family& f, const std::string& mapped) {
  std::string name = denormalized_hf_name(mapped);
  if (const auto in_layer = split_hf_layer(name)) {
    for (std::string_view bare : f.bare_params)
      if (in_layer->second == std::string(bare) + ".weight")
        return name.substr(0, name.size() - std::string_view(".weight").size());
  }
  return name;
}

}  // namespace

void gguf_to_hf(Graph& g) {
  std::string arch = g.metadata.get_string("general.architecture").value_or(g.architecture);
  const bool experts = std::any_of(g.tensors.begin(), g.tensors.end(), [](const Tensor& t) {
    return t.name.find("_exps.") != std::string::npos;
  });
  // "llama" is Llama without experts and Mixtral with them.
  const Family* family = family_for_gguf_back(arch, experts);
  if (!family) {
    std::string known;
    for (const Family* f : families())
      if (f->write_config && known.find(f->gguf_arch) == std::string::npos)
        known += (known.empty() ? "" : ", ") + std::string(f->gguf_arch);
    // What the file holds, not how owl was asked: an input error (exit 2) naming the key.
    throw InputError(
        g.inputs.empty() ? std::string() : g.inputs.front().path,
        "general.architecture is '" + arch + "'" + (experts ? " with stacked experts" : "") +
            ", which owl cannot convert to Hugging Face (it converts GGUF " + known + ")");
  }
  if (family->join_tensors) family->join_tensors(g);
  const GgufView view(g, arch);
  const Dims dims = gguf_dims(view);

  Metadata config;
  ConfigWriter cw(config);
  cw.string("model_type", std::string(family->hf_model_type));
  cw.strings("architectures", {std::string(family->hf_architecture)});
  family->write_config(view, dims, cw);

  const Tensor* embd = g.find("token_embd.weight");
  if (!embd || embd->shape.size() != 2) throw UsageError("the GGUF has no 2-D token_embd.weight");
  cw.integer("vocab_size", static_cast<int64_t>(embd->shape[0]));
  cw.boolean("tie_word_embeddings", g.find("output.weight") == nullptr);
  cw.string("torch_dtype", std::string(hf::torch_dtype_name(embd->type)));
  write_tokenizer_ids(g.metadata, cw);

  std::vector<Tensor> tensors;
  std::set<std::string> seen;
  auto keep = [&](Tensor&& t) {
    if (!seen.insert(t.name).second) throw UsageError("two tensors become '" + t.name + "'");
    tensors.push_back(std::move(t));
  };
  ExpertUnstacker unstacker(family->experts, view.opt_int("expert_count").value_or(0), dims.layers);
  for (Tensor& t : g.tensors) {
    if (family->consume_tensor && family->consume_tensor(view, t, cw)) continue;
    if (auto parts = unstacker.take(t)) {
      for (Tensor& p : *parts) keep(std::move(p));
      continue;
    }
    auto mapped = gguf_to_hf_name(family->names, t.name);
    if (!mapped)
      throw UsageError("tensor '" + t.name + "' has no Hugging Face name in a " + arch + " model");
    if (mapped->layer && *mapped->layer >= dims.layers)
      throw UsageError("tensor '" + t.name + "' is beyond the " + std::to_string(dims.layers) +
                       " blocks the GGUF declares");
    const std::string stem = gguf_stem(t.name);
    if (family->permute_qk && (stem == "attn_q" || stem == "attn_k")) {
      const int64_t groups = stem == "attn_q" ? dims.heads : dims.kv_heads;
      if (t.shape.empty() || t.shape[0] % static_cast<uint64_t>(2 * groups))
        throw UsageError("tensor '" + t.name + "' " + t.shape_string() +
                         " is not whole heads of rotary pairs");
      t.data = std::make_shared<RopePermuteSource>(t.data, t.shape[0], t.byte_size() / t.shape[0],
                                                   groups, RopeOrder::from_gguf);
    }
    if (family->shift_norms && t.name.ends_with("norm.weight")) {
      if (!NormShiftSource::supports(t.type))
        throw UsageError("tensor '" + t.name + "' is " + std::string(type_name(t.type)) +
                         "; dequantize it first");
      // Undone in the GGUF's own type (F32 for norms), as every other family keeps its norms.
      t.data = std::make_shared<NormShiftSource>(t.data, t.type, t.type, t.elements(), -1.0f);
    }
    t.name = hf_name_of(*family, mapped->name);
    keep(std::move(t));
  }
  unstacker.finish();

  // general.* and <arch>.* are consumed; what else the graph holds (tokenizer.*) follows.
  for (const auto& [key, value] : g.metadata) {
    if (key.starts_with("general.") || key.starts_with(arch + ".") || config.find(key)) continue;
    config.set(key, value);
  }
  // The model_type the family wrote (GraniteMoeShared, DeepSeek-V3 decide it from the GGUF).
  g.architecture = config.get_string(std::string(hf::kConfigPrefix) + "model_type")
                       .value_or(std::string(family->hf_model_type));
  g.metadata = std::move(config);
  g.tensors = std::move(tensors);
}

}  // namespace owl::arch
