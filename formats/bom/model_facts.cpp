#include "formats/bom/model_facts.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <string_view>

#include "formats/io/file_digest.h"

namespace owl::bom {

namespace {

using Field = std::string ModelFacts::*;
using AncestorField = std::string Ancestor::*;

// The metadata keys that name a fact about the model itself (the first present wins).
const std::pair<const char*, Field> kModelKeys[] = {
    {"general.name", &ModelFacts::name},
    {"general.basename", &ModelFacts::name},
    {"general.version", &ModelFacts::version},
    {"general.description", &ModelFacts::description},
    {"general.organization", &ModelFacts::organization},
    {"general.license", &ModelFacts::license},
    {"general.license.name", &ModelFacts::license},
    {"general.size_label", &ModelFacts::size_label},
    {"general.architecture", &ModelFacts::architecture},
    {"hf.config.architectures", &ModelFacts::model_architecture},
    {"hf.config.model_type", &ModelFacts::architecture},
    // owl's provenance record: the command that made the file.
    {"owl.command", &ModelFacts::command},
    {"owl.recipe.command", &ModelFacts::command},
    {"owl.provenance.command", &ModelFacts::command},
};

// The keys of one ancestor, after its prefix ("general.base_model.0.", "general.source.").
const std::pair<const char*, AncestorField> kAncestorKeys[] = {
    {"name", &Ancestor::name},
    {"version", &Ancestor::version},
    {"organization", &Ancestor::organization},
    {"url", &Ancestor::url},
    {"repo_url", &Ancestor::repo_url},
    {"commit", &Ancestor::commit},
    {"sha256", &Ancestor::sha256},
};

// Keys that describe how the weights were quantized, by prefix.
constexpr std::string_view kQuantizationPrefixes[] = {"general.quantization_version", "quantize."};
// owl's own keys (the provenance record), carried into the recipe as they are.
constexpr std::string_view kRecipePrefix = "owl.";
// More base models than this in one file is not a lineage but noise.
constexpr int64_t kMaxAncestors = 64;

std::string text_of(const Value& v) {
  if (v.type() == ValueType::STRING) return v.as_string();
  if (v.type() == ValueType::ARRAY && v.as_array().elem() == ValueType::STRING)
    return v.as_array().empty() ? "" : v.as_array().string_at(0);
  return v.to_display();
}

std::string lookup(const Metadata& m, const std::string& key) {
  const Value* v = m.find(key);
  return v ? text_of(*v) : std::string();
}

Ancestor read_ancestor(const Metadata& m, const std::string& prefix, std::string relation) {
  Ancestor a;
  a.relation = std::move(relation);
  for (const auto& [key, field] : kAncestorKeys) a.*field = lookup(m, prefix + key);
  const std::string& repo = a.repo_url.empty() ? a.url : a.repo_url;
  a.purl = huggingface_purl(repo, a.commit);
  if (a.name.empty()) {
    const auto slash = repo.rfind('/');
    a.name = slash == std::string::npos ? repo : repo.substr(slash + 1);
  }
  return a;
}

std::vector<Ancestor> ancestors(const Metadata& m) {
  std::vector<Ancestor> out;
  const int64_t count = std::min(m.get_int("general.base_model.count").value_or(0), kMaxAncestors);
  for (int64_t i = 0; i < count; ++i)
    out.push_back(read_ancestor(m, "general.base_model." + std::to_string(i) + ".", "base model"));
  Ancestor source = read_ancestor(m, "general.source.", "source");
  if (!source.url.empty() || !source.repo_url.empty()) out.push_back(std::move(source));
  return out;
}

std::string percent_encode(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '.' || c == '-' || c == '_' || c == '~') {
      out += char(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace

std::string huggingface_purl(const std::string& url, const std::string& commit) {
  std::string_view rest = url;
  for (std::string_view scheme : {"https://", "http://"})
    if (rest.starts_with(scheme)) rest.remove_prefix(scheme.size());
  bool hub = false;
  for (std::string_view host : {"huggingface.co/", "www.huggingface.co/", "hf.co/"}) {
    if (rest.starts_with(host)) {
      rest.remove_prefix(host.size());
      hub = true;
      break;
    }
  }
  if (!hub) return "";
  std::vector<std::string_view> parts;
  for (size_t at = 0; at <= rest.size();) {
    const size_t slash = std::min(rest.find('/', at), rest.size());
    if (slash > at) parts.push_back(rest.substr(at, slash - at));
    at = slash + 1;
  }
  if (parts.size() < 2 || parts[0] == "datasets" || parts[0] == "spaces") return "";
  std::string revision = commit;
  if (revision.empty() && parts.size() >= 4 && (parts[2] == "tree" || parts[2] == "commit"))
    revision = std::string(parts[3]);
  std::string purl = "pkg:huggingface/";
  purl.append(percent_encode(parts[0])).append("/").append(percent_encode(parts[1]));
  if (!revision.empty()) purl.append("@").append(percent_encode(revision));
  return purl;
}

ModelFacts model_facts(const Graph& g, std::string (*file_type_name)(uint32_t)) {
  const Metadata& m = g.metadata;
  ModelFacts f;
  f.format = g.format;
  for (const auto& [key, field] : kModelKeys)
    if (std::string& slot = f.*field; slot.empty()) slot = lookup(m, key);
  if (f.architecture.empty()) f.architecture = g.architecture;
  // owl reads decoder language models: every architecture it knows generates text.
  if (!f.architecture.empty()) f.task = "text-generation";
  f.parameters = g.parameter_count();

  if (const auto ft = m.get_int("general.file_type"); ft && *ft >= 0) {
    f.file_type = file_type_name ? file_type_name(uint32_t(*ft)) : "";
    if (f.file_type.empty()) f.file_type = "file type " + std::to_string(*ft);
  }
  std::map<ElemType, uint64_t> types;
  for (const Tensor& t : g.tensors) ++types[t.type];
  for (const auto& [type, count] : types)
    f.tensor_types.emplace_back(std::string(type_name(type)), std::to_string(count));

  for (const auto& [key, value] : m) {
    for (std::string_view p : kQuantizationPrefixes)
      if (key.starts_with(p)) f.quantization.emplace_back(key, value.to_display());
    if (key.starts_with(kRecipePrefix)) f.recipe.emplace_back(key, value.to_display(64));
  }
  f.ancestors = ancestors(m);
  if (f.name.empty() && !g.inputs.empty())
    f.name = std::filesystem::path(g.inputs.front().path).stem().string();
  for (const InputFile& in : g.inputs)
    f.files.push_back(
        {std::filesystem::path(in.path).filename().string(), in.size, sha256_file_hex(in.path)});
  return f;
}

}  // namespace owl::bom
