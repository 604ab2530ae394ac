#include "converters/arch/general_keys.h"

#include <filesystem>
#include <map>
#include <optional>
#include <regex>
#include <vector>

#include "converters/arch/model_naming.h"
#include "formats/hf/folder.h"
#include "formats/io/error.h"
#include "formats/json/strict_json.h"

namespace owl::arch {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kMaxGenerationConfigBytes = 1u << 20;

using Entry = std::map<std::string, std::string>;  // a base model or data set

struct Facts {
  std::optional<std::string> name, author, version, organization, finetune, basename, description,
      quantized_by, size_label, license, license_name, license_link, url, doi, uuid, repo_url,
      source_url, source_doi, source_uuid, source_repo_url;
  std::optional<std::vector<Entry>> base_models, datasets;
  std::optional<std::vector<std::string>> tags, languages;
};

using Field = std::optional<std::string> Facts::*;

// Card keys that fill a fact when it is still empty, in the order the reference tries them.
const std::pair<Field, const char*> kCardFields[] = {
    {&Facts::name, "name"},
    {&Facts::author, "author"},
    {&Facts::version, "version"},
    {&Facts::organization, "organization"},
    {&Facts::description, "description"},
    {&Facts::finetune, "finetune"},
    {&Facts::basename, "basename"},
    {&Facts::size_label, "size_label"},
    {&Facts::source_url, "url"},
    {&Facts::source_doi, "doi"},
    {&Facts::source_uuid, "uuid"},
    {&Facts::source_repo_url, "repo_url"},
    {&Facts::name, "model_name"},
    {&Facts::author, "model_author"},
    {&Facts::version, "model_version"},
    {&Facts::organization, "model_organization"},
    {&Facts::description, "model_description"},
    {&Facts::finetune, "model_finetune"},
    {&Facts::basename, "model_basename"},
    {&Facts::size_label, "model_size_label"},
    {&Facts::source_url, "model_url"},
    {&Facts::source_doi, "model_doi"},
    {&Facts::source_uuid, "model_uuid"},
    {&Facts::source_repo_url, "model_repo_url"},
    {&Facts::author, "model_creator"},
    {&Facts::basename, "model_type"},
    {&Facts::license, "license"},
    {&Facts::license_name, "license_name"},
    {&Facts::license_link, "license_link"},
};

// The keys of a base model or data set entry, in the order they are written.
constexpr const char* kEntryKeys[] = {"name", "author", "version", "organization", "description",
                                      "url",  "doi",    "uuid",    "repo_url"};

std::optional<std::string> card_string(const CardValue& v) {
  if (v.kind == CardValue::Kind::scalar) return v.scalar;
  if (v.kind == CardValue::Kind::list) {  // a list of licenses is written joined
    std::string out;
    for (const auto& item : v.items) {
      if (!item.scalar) continue;
      if (!out.empty()) out += ",";
      out += *item.scalar;
    }
    return out;
  }
  return std::nullopt;
}

// A base model or data set named by a Hugging Face id or URL.
Entry entry_from_id(const std::string& id, int64_t total_params) {
  Entry e;
  auto fill = [&](const std::string& hf_id, bool add_url) {
    const ModelIdParts p = model_id_parts(hf_id, total_params);
    if (p.name) e["name"] = id_to_title(*p.name);
    if (p.organization) e["organization"] = id_to_title(*p.organization);
    if (p.version) e["version"] = *p.version;
    if (add_url && p.organization && p.name)
      e["repo_url"] = "https://huggingface.co/" + *p.organization + "/" + *p.name;
  };
  if (id.starts_with("http://") || id.starts_with("https://") || id.starts_with("ssh://")) {
    e["repo_url"] = id;
    static const std::regex kHfUrl(R"(https?://huggingface.co/([^/]+/[^/]+))");
    std::smatch m;
    if (id.find("huggingface.co") != std::string::npos && std::regex_match(id, m, kHfUrl))
      fill(m[1].str(), false);
  } else {
    fill(id, true);
  }
  return e;
}

// base_model / datasets: the first key present names the list (even an empty one).
void card_entries(const FrontMatter& card, std::initializer_list<const char*> keys,
                  std::optional<std::vector<Entry>>& out, int64_t total_params) {
  const CardValue* v = nullptr;
  for (const char* k : keys) {
    if ((v = card.find(k))) break;
  }
  if (!v) return;
  if (!out) out.emplace();
  if (v->kind == CardValue::Kind::scalar) out->push_back(entry_from_id(v->scalar, total_params));
  if (v->kind != CardValue::Kind::list) return;
  // Every item counts, as in the reference: a mapping gives its keys, anything else (a list,
  // null) an entry with none.
  for (const auto& item : v->items) {
    if (item.scalar) {
      out->push_back(entry_from_id(*item.scalar, total_params));
    } else {
      Entry e;
      for (const auto& [k, val] : item.mapping) e[k] = val;
      out->push_back(std::move(e));
    }
  }
}

// tags / languages: appended to from each key in turn.
void card_list(const FrontMatter& card, const char* key,
               std::optional<std::vector<std::string>>& out) {
  const CardValue* v = card.find(key);
  if (!v || v->kind == CardValue::Kind::null || v->kind == CardValue::Kind::other) return;
  if (!out) out.emplace();
  if (v->kind == CardValue::Kind::scalar) out->push_back(v->scalar);
  for (const auto& item : v->items)
    if (item.scalar) out->push_back(*item.scalar);
}

// Fills what is still unknown from a model id (config.json's _name_or_path, the folder name).
void fill_from_id(Facts& f, const std::string& id, int64_t total_params) {
  const ModelIdParts p = model_id_parts(id, total_params);
  if (!f.name && p.name) f.name = id_to_title(*p.name);
  if (!f.organization && p.organization) f.organization = id_to_title(*p.organization);
  if (!f.basename && p.basename) f.basename = p.basename;
  if (!f.finetune && p.finetune) f.finetune = p.finetune;
  if (!f.version && p.version) f.version = p.version;
  if (!f.size_label && p.size_label) f.size_label = p.size_label;
}

Value string_array(const std::vector<std::string>& items) {
  Array a(ValueType::STRING);
  for (const auto& s : items) a.push_back(Value::string(s));
  return Value::array(std::move(a));
}

// generation_config.json's sampling defaults, as general.sampling.* keys.
void write_sampling(Metadata& out, const Metadata& gen) {
  struct Sampling {
    const char* key;
    std::initializer_list<const char*> sources;
    ValueType type;
  };
  const Sampling kSampling[] = {
      {"sequence", {"sequence"}, ValueType::STRING},
      {"top_k", {"top_k"}, ValueType::I32},
      {"top_p", {"top_p"}, ValueType::F32},
      {"min_p", {"min_p"}, ValueType::F32},
      {"xtc_probability", {"xtc_probability"}, ValueType::F32},
      {"xtc_threshold", {"xtc_threshold"}, ValueType::F32},
      {"temp", {"temperature"}, ValueType::F32},
      {"penalty_last_n", {"penalty_last_n"}, ValueType::I32},
      {"penalty_repeat", {"penalty_repeat", "repetition_penalty"}, ValueType::F32},
      {"mirostat", {"mirostat"}, ValueType::I32},
      {"mirostat_tau", {"mirostat_tau"}, ValueType::F32},
      {"mirostat_eta", {"mirostat_eta"}, ValueType::F32},
  };
  for (const auto& s : kSampling) {
    const Value* v = nullptr;
    for (const char* src : s.sources)
      if ((v = gen.find(src))) break;
    if (!v) continue;
    const std::string key = std::string("general.sampling.") + s.key;
    if (s.type == ValueType::STRING && v->type() == ValueType::STRING) {
      out.set(key, *v);
    } else if (s.type == ValueType::I32 && v->is_integer()) {
      const auto i = v->to_int();
      if (i && *i >= INT32_MIN && *i <= INT32_MAX)
        out.set(key, Value::i32(static_cast<int32_t>(*i)));
    } else if (s.type == ValueType::F32 && (v->is_integer() || v->is_float())) {
      out.set(key, Value::f32(static_cast<float>(*v->to_double())));
    }
  }
}

void write_entries(Metadata& out, const char* prefix, const std::vector<Entry>& entries) {
  out.set(std::string("general.") + prefix + ".count",
          Value::u32(static_cast<uint32_t>(entries.size())));
  for (size_t i = 0; i < entries.size(); ++i) {
    for (const char* k : kEntryKeys) {
      if (auto it = entries[i].find(k); it != entries[i].end() && !it->second.empty())
        out.set(std::string("general.") + prefix + "." + std::to_string(i) + "." + k,
                Value::string(it->second));
    }
  }
}

}  // namespace

void write_general_keys(Metadata& out, const ModelFolder& folder, const FrontMatter& card,
                        const Metadata& config, const Metadata& generation,
                        const ParamCount& params) {
  const uint64_t total_params = params.total;
  const auto total = static_cast<int64_t>(total_params);
  Facts f;
  for (const auto& [field, key] : kCardFields) {
    if (f.*field) continue;
    if (const CardValue* v = card.find(key)) f.*field = card_string(*v);
  }
  card_entries(card, {"base_model", "base_models", "base_model_sources"}, f.base_models, total);
  card_entries(card, {"datasets", "dataset", "dataset_sources"}, f.datasets, total);
  card_list(card, "tags", f.tags);
  card_list(card, "pipeline_tag", f.tags);
  card_list(card, "languages", f.languages);
  card_list(card, "language", f.languages);

  // _name_or_path is used when it is an id ("org/name"), not a path on someone's disk.
  const std::string path_key = std::string(hf::kConfigPrefix) + "_name_or_path";
  if (auto id = config.get_string(path_key); id && std::count(id->begin(), id->end(), '/') <= 1)
    fill_from_id(f, *id, total);
  if (!folder.name.empty()) fill_from_id(f, folder.name, total);
  if (!f.name) f.name = folder.name;
  if (!f.size_label && total_params > 0) f.size_label = size_label(params);

  out.set("general.type", Value::string("model"));
  write_sampling(out, generation);
  const std::pair<const char*, const std::optional<std::string>*> kWritten[] = {
      {"general.name", &f.name},
      {"general.author", &f.author},
      {"general.version", &f.version},
      {"general.organization", &f.organization},
      {"general.finetune", &f.finetune},
      {"general.basename", &f.basename},
      {"general.description", &f.description},
      {"general.quantized_by", &f.quantized_by},
      {"general.size_label", &f.size_label},
      {"general.license", &f.license},
      {"general.license.name", &f.license_name},
      {"general.license.link", &f.license_link},
      {"general.url", &f.url},
      {"general.doi", &f.doi},
      {"general.uuid", &f.uuid},
      {"general.repo_url", &f.repo_url},
      {"general.source.url", &f.source_url},
      {"general.source.doi", &f.source_doi},
      {"general.source.uuid", &f.source_uuid},
      {"general.source.repo_url", &f.source_repo_url},
  };
  // gguf-py's writer drops empty strings and lists; so does owl.
  for (const auto& [key, value] : kWritten)
    if (*value && !(*value)->empty()) out.set(key, Value::string(**value));
  if (f.base_models) write_entries(out, "base_model", *f.base_models);
  if (f.datasets) write_entries(out, "dataset", *f.datasets);
  if (f.tags && !f.tags->empty()) out.set("general.tags", string_array(*f.tags));
  if (f.languages && !f.languages->empty())
    out.set("general.languages", string_array(*f.languages));
}

void write_general_keys(Metadata& out, const ModelFolder& folder, const Metadata& config,
                        const ParamCount& params, const Warn& warn) {
  FrontMatter card;
  Metadata generation;
  if (!folder.path.empty()) {
    const fs::path dir(folder.path);
    std::error_code ec;
    if (fs::is_regular_file(dir / "README.md", ec)) {
      // A model card is documentation: llama.cpp stops on one PyYAML refuses, owl goes on.
      try {
        card = read_front_matter((dir / "README.md").string());
      } catch (const InputError& e) {
        if (warn) warn(std::string(e.what()) + "; the model card is ignored");
      }
    }
    if (fs::is_regular_file(dir / "generation_config.json", ec)) {
      // The reference skips a generation_config.json it cannot parse; so does owl.
      try {
        const Json j =
            read_json_file((dir / "generation_config.json").string(), kMaxGenerationConfigBytes);
        if (j.is_object()) hf::flatten_json(j, "", generation);
      } catch (const InputError&) {
      }
    }
  }
  write_general_keys(out, folder, card, config, generation, params);
}

}  // namespace owl::arch
