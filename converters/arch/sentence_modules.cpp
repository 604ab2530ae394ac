#include "converters/arch/sentence_modules.h"

#include <filesystem>
#include <optional>

#include "formats/io/error.h"
#include "formats/json/strict_json.h"
#include "formats/safetensors/reader.h"

namespace owl::arch {
namespace {

namespace fs = std::filesystem;

// modules.json lists a handful of modules; a module's config.json is a dozen values.
constexpr uint64_t kMaxModulesJsonBytes = 1u << 20;
constexpr uint64_t kMaxModuleConfigBytes = 1u << 20;

struct SentenceModule {
  std::string type;
  fs::path rel;  // as modules.json writes it, normalized
  fs::path dir;  // inside the model folder
};

fs::path model_dir(const HParams& hp) {
  const fs::path dir = fs::path(hp.file()).parent_path();
  return dir.empty() ? fs::path(".") : dir;
}

// modules.json's entries, each module's folder checked to stay inside the model folder:
// modules.json comes with the download.
std::vector<SentenceModule> read_modules(const fs::path& dir) {
  const fs::path path = dir / "modules.json";
  if (!fs::is_regular_file(path)) return {};
  const Json list = read_json_file(path.string(), kMaxModulesJsonBytes);
  if (!list.is_array())
    throw InputError(path.string(), "is " + json_kind(list) + ", not a list of modules");
  std::vector<SentenceModule> out;
  for (const Json& m : list) {
    if (!m.is_object() || !m.contains("type") || !m["type"].is_string()) continue;
    if (!m.contains("path") || !m["path"].is_string())
      throw InputError(path.string(),
                       "module " + m["type"].get<std::string>() + " has no \"path\" string");
    const fs::path rel = fs::path(m["path"].get<std::string>()).lexically_normal();
    if (rel.is_absolute() || (!rel.empty() && *rel.begin() == ".."))
      throw InputError(path.string(), "module path \"" + rel.string() + "\" leaves the folder");
    out.push_back({m["type"].get<std::string>(), rel, dir / rel});
  }
  return out;
}

Json read_module_config(const fs::path& path) {
  const Json c = read_json_file(path.string(), kMaxModuleConfigBytes);
  if (!c.is_object()) throw InputError(path.string(), "is " + json_kind(c) + ", not a JSON object");
  return c;
}

std::optional<SentencePooling> mode_by_name(const std::string& name) {
  if (name == "mean") return SentencePooling::mean;
  if (name == "cls") return SentencePooling::cls;
  if (name == "lasttoken") return SentencePooling::last;
  return std::nullopt;
}

// Python's truth of a JSON value, as the reference tests the flags.
bool truthy_member(const Json& config, const char* key) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return false;
  if (it->is_boolean()) return it->get<bool>();
  if (it->is_number()) return it->get<double>() != 0.0;
  if (it->is_string() || it->is_array() || it->is_object()) return !it->empty();
  return false;
}

SentencePooling pooling_of(const fs::path& config_path) {
  const Json c = read_module_config(config_path);
  // The reference's order: the sentence-transformers flags, then the newer pooling_mode name.
  if (truthy_member(c, "pooling_mode_mean_tokens")) return SentencePooling::mean;
  if (truthy_member(c, "pooling_mode_cls_token")) return SentencePooling::cls;
  if (truthy_member(c, "pooling_mode_lasttoken")) return SentencePooling::last;
  if (auto it = c.find("pooling_mode"); it != c.end() && it->is_string())
    if (auto mode = mode_by_name(it->get<std::string>())) return *mode;
  throw InputError(config_path.string(),
                   "pools neither mean, CLS nor last token, the poolings llama.cpp runs");
}

std::optional<int64_t> feature_count(const Json& c, const char* key, const fs::path& path) {
  auto it = c.find(key);
  if (it == c.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer() || it->get<int64_t>() <= 0 ||
      it->get<int64_t>() > static_cast<int64_t>(UINT32_MAX))
    throw InputError(path.string(), std::string(key) + " is not a positive 32-bit count");
  return it->get<int64_t>();
}

}  // namespace

void write_sentence_pooling_keys(const HParams& hp, KeyWriter& kw) {
  for (const SentenceModule& m : read_modules(model_dir(hp))) {
    if (!m.type.ends_with("Pooling")) continue;
    kw.u32("pooling_type", static_cast<uint32_t>(pooling_of(m.dir / "config.json")));
    break;
  }
  // A classification head's pooling (ModernBERT's), from config.json itself.
  if (auto name = hp.opt_string("classifier_pooling")) {
    const auto mode = mode_by_name(*name);
    if (!mode || *mode == SentencePooling::last)
      hp.fail("classifier_pooling", "is \"" + *name +
                                        "\"; llama.cpp pools classifiers by cls "
                                        "or mean");
    kw.u32("classifier.pooling_type", static_cast<uint32_t>(*mode));
  }
}

std::vector<SentenceDenseModule> read_sentence_dense_modules(const HParams& hp) {
  std::vector<SentenceDenseModule> out;
  for (const SentenceModule& m : read_modules(model_dir(hp))) {
    const fs::path weights = m.dir / "model.safetensors";
    if (!m.type.ends_with("Dense") || !fs::is_regular_file(weights)) continue;
    SentenceDenseModule d;
    d.name = m.rel == "2_Dense" ? "dense_2" : "dense_3";
    if (const fs::path config = m.dir / "config.json"; fs::is_regular_file(config)) {
      const Json c = read_module_config(config);
      const auto in = feature_count(c, "in_features", config);
      const auto n_out = feature_count(c, "out_features", config);
      if (in && n_out) d.in_features = *in, d.out_features = *n_out;
    }
    Graph g = safetensors::read_file(weights.string());
    for (Tensor& t : g.tensors) {
      if (!t.name.ends_with(".weight")) continue;  // a bias has no place in llama.cpp's model
      if (t.name != "linear.weight")
        throw InputError(weights.string(), "tensor '" + t.name +
                                               "' has no place in a dense "
                                               "module (llama.cpp takes linear.weight)");
      t.name = d.name + ".weight";
      d.weights.push_back(std::move(t));
    }
    d.file = {weights.string(), fs::file_size(weights)};
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace owl::arch
