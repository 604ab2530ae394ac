#include "converters/lora/adapter.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>

#include "formats/io/error.h"
#include "formats/open.h"
#include "quant/float_codec.h"

namespace owl::lora {
namespace fs = std::filesystem;
namespace {

// peft saves every name under the wrapper's own prefix.
constexpr std::string_view kPeftPrefix = "base_model.model.";
constexpr std::string_view kSuffixA = ".lora_A.weight";
constexpr std::string_view kSuffixB = ".lora_B.weight";

std::string weights_file_in(const fs::path& folder) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec))
    throw InputError(folder.string(), "no such folder; a LoRA adapter is a PEFT folder");
  if (!fs::is_regular_file(folder / kAdapterConfigName, ec))
    throw InputError(folder.string(), "has no adapter_config.json; it is not a PEFT adapter");
  for (const char* name : {"adapter_model.safetensors", "adapter_model.bin"}) {
    if (fs::is_regular_file(folder / name, ec)) return (folder / name).string();
  }
  throw InputError(folder.string(),
                   "has adapter_config.json but neither adapter_model.safetensors nor "
                   "adapter_model.bin");
}

// peft saves a module listed in modules_to_save under its own name: the list's entries match
// the end of the module's name.
bool is_saved_module(const peft::LoraConfig& c, std::string_view name) {
  const auto dot = name.rfind('.');
  const std::string_view module = dot == std::string_view::npos ? name : name.substr(0, dot);
  for (const auto& m : c.modules_to_save)
    if (module == m || (module.ends_with(m) && module[module.size() - m.size() - 1] == '.'))
      return true;
  return false;
}

struct Halves {
  std::optional<Tensor> a, b;
  size_t first = 0;  // the position of the first of the two in the file, for the pairs' order
};

void check_matrix(const Tensor& t, const std::string& file) {
  if (t.shape.size() != 2 || t.shape[0] == 0 || t.shape[1] == 0)
    throw InputError(file, "tensor '" + t.name + "' has shape " + t.shape_string() +
                               "; LoRA matrices are 2-D and not empty");
  if (!is_castable_float(t.type))
    throw InputError(file, "tensor '" + t.name + "' is " + std::string(type_name(t.type)) +
                               "; LoRA matrices must be F32, F16 or BF16");
}

LoraPair make_pair(const std::string& module, Halves& h, const peft::LoraConfig& c,
                   const std::string& file) {
  if (!h.a || !h.b)
    throw InputError(file, "module '" + module + "' has lora_" + (h.a ? "A" : "B") +
                               " but no lora_" + (h.a ? "B" : "A"));
  check_matrix(*h.a, file);
  check_matrix(*h.b, file);
  LoraPair p;
  p.weight = module + ".weight";
  p.rank = static_cast<int64_t>(h.a->shape[0]);
  if (h.b->shape[1] != h.a->shape[0])
    throw InputError(file, "module '" + module + "': lora_B " + h.b->shape_string() +
                               " does not chain with lora_A " + h.a->shape_string());
  if (p.rank != c.rank_for(module))
    throw InputError(file, "module '" + module + "' has rank " + std::to_string(p.rank) +
                               " but adapter_config.json gives it " +
                               std::to_string(c.rank_for(module)));
  p.alpha = c.alpha_for(module);
  p.scale = c.scale_for(module);
  p.a = std::move(*h.a);
  p.b = std::move(*h.b);
  return p;
}

}  // namespace

bool is_adapter_folder(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec) && fs::is_regular_file(fs::path(path) / kAdapterConfigName, ec);
}

std::vector<std::string> adapter_files(const std::string& folder) {
  return {(fs::path(folder) / kAdapterConfigName).string(), weights_file_in(folder)};
}

Adapter read_adapter(const std::string& folder) {
  Adapter ad;
  ad.folder = folder;
  ad.weights_file = weights_file_in(folder);
  ad.config = peft::read_lora_config((fs::path(folder) / kAdapterConfigName).string());
  Graph g = open_model(ad.weights_file);
  const std::string& file = ad.weights_file;

  std::map<std::string, Halves> modules;
  for (size_t i = 0; i < g.tensors.size(); ++i) {
    Tensor& t = g.tensors[i];
    std::string_view name = t.name;
    if (name.starts_with(kPeftPrefix)) name.remove_prefix(kPeftPrefix.size());
    const bool is_a = name.ends_with(kSuffixA), is_b = name.ends_with(kSuffixB);
    if (is_a || is_b) {
      const std::string module(name.substr(0, name.size() - kSuffixA.size()));
      auto [it, fresh] = modules.try_emplace(module);
      if (fresh) it->second.first = i;
      auto& slot = is_a ? it->second.a : it->second.b;
      if (slot) throw InputError(file, "tensor '" + t.name + "' appears twice");
      slot = std::move(t);
      continue;
    }
    if (name.find("lora_embedding_") != std::string_view::npos)
      throw InputError(file, "tensor '" + t.name +
                                 "' adapts an embedding; owl applies LoRA to linear layers only");
    if (name.find("lora_") != std::string_view::npos || !is_saved_module(ad.config, name))
      throw InputError(file, "tensor '" + t.name +
                                 "' is neither a LoRA matrix (lora_A/lora_B) nor a module listed "
                                 "in modules_to_save");
    t.name = std::string(name);
    ad.replacements.push_back(std::move(t));
  }

  std::vector<std::pair<size_t, std::string>> order;
  for (const auto& [module, h] : modules) order.emplace_back(h.first, module);
  std::sort(order.begin(), order.end());
  for (const auto& [pos, module] : order)
    ad.pairs.push_back(make_pair(module, modules.at(module), ad.config, file));
  if (ad.pairs.empty() && ad.replacements.empty()) throw InputError(file, "holds no LoRA matrices");
  return ad;
}

}  // namespace owl::lora
