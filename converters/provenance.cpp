#include "converters/provenance.h"

#include <filesystem>

#include "converters/describe.h"
#include "formats/io/atomic_file.h"
#include "formats/io/digest.h"
#include "formats/io/error.h"
#include "formats/io/file_digests.h"
#include "formats/json/strict_json.h"
#include "owl_version.h"

namespace owl {
namespace fs = std::filesystem;
namespace {

// Placeholders have the final values' length, so the header keeps its size when patched.
const std::string kSha256Placeholder(64, '0');
const std::string kXxh3Placeholder(32, '0');
constexpr const char* kHfCachePrefix = "models--";

}  // namespace

std::string relative_name(const std::string& path, const std::string& input) {
  std::error_code ec;
  const fs::path in = fs::absolute(input, ec);
  const fs::path folder = fs::is_directory(in, ec) ? in : in.parent_path();
  const fs::path rel =
      fs::absolute(path, ec).lexically_normal().lexically_relative(folder.lexically_normal());
  if (rel.empty() || *rel.begin() == "..") return path;
  return rel.generic_string();
}

namespace {

std::string json_text(const Json& j) {
  return j.dump(-1, ' ', false);
}

Json parse_field(const Metadata& m, const std::string& key, const std::string& file) {
  const auto text = m.get_string(key);
  if (!text) return Json();
  return parse_json_strict(*text, file);
}

}  // namespace

std::optional<HfOrigin> hf_cache_origin(const std::string& path) {
  std::error_code ec;
  std::vector<std::string> parts;
  for (const auto& p : fs::absolute(path, ec).lexically_normal()) parts.push_back(p.string());
  for (size_t i = 0; i + 2 < parts.size(); ++i) {
    const std::string& dir = parts[i];
    if (!dir.starts_with(kHfCachePrefix) || parts[i + 1] != "snapshots") continue;
    // models--ORG--NAME (a repo without an organization is models--NAME).
    std::string id = dir.substr(std::string(kHfCachePrefix).size());
    if (const size_t sep = id.find("--"); sep != id.npos) id.replace(sep, 2, "/");
    if (id.empty() || parts[i + 2].empty()) return std::nullopt;
    return HfOrigin{id, parts[i + 2]};
  }
  return std::nullopt;
}

std::string tensors_digest(const std::vector<std::pair<std::string, std::string>>& tensors) {
  Digest d;
  for (const auto& [name, hash] : tensors) {
    d.update(name);
    d.update(std::string_view("\0", 1));
    d.update(hash);
    d.update(std::string_view("\n", 1));
  }
  return d.finish_hex();
}

Metadata provenance_metadata(const ProvenanceRecord& r, const std::string& key_prefix) {
  const std::string p = key_prefix + kProvenancePrefix;
  Metadata m;
  m.set(p + "tool", Value::string(r.tool));
  m.set(p + "source_commit", Value::string(r.source_commit));
  m.set(p + "command", Value::string(r.command));
  m.set(p + "options", Value::string(json_text(r.options)));
  Json inputs = Json::array();
  for (const auto& f : r.inputs)
    inputs.push_back({{"name", f.name}, {"size", f.size}, {"sha256", f.sha256}});
  m.set(p + "inputs", Value::string(json_text(inputs)));
  if (!r.hf_repo.empty()) {
    m.set(p + "hf_repo", Value::string(r.hf_repo));
    m.set(p + "hf_commit", Value::string(r.hf_commit));
  }
  if (!r.relation.empty()) m.set(p + "relation", Value::string(r.relation));
  Json tensors = Json::object();
  for (const auto& [name, hash] : r.tensors) tensors[name] = hash;
  m.set(p + "tensors_xxh3", Value::string(json_text(tensors)));
  m.set(p + "tensors_digest", Value::string(r.tensors_digest));
  return m;
}

void strip_provenance(Metadata& m) {
  std::vector<std::string> old;
  for (const auto& [k, v] : m)
    if (k.find(kProvenancePrefix) != k.npos) old.push_back(k);
  for (const auto& k : old) m.erase(k);
}

std::optional<ProvenanceRecord> read_provenance(const Metadata& m, const std::string& file) {
  std::string p = kProvenancePrefix;
  if (!m.find(p + "tool")) p = std::string("safetensors.metadata.") + kProvenancePrefix;
  if (!m.find(p + "tool")) return std::nullopt;
  auto text = [&](const char* key) { return m.get_string(p + key).value_or(""); };
  ProvenanceRecord r;
  r.tool = text("tool");
  r.source_commit = text("source_commit");
  r.command = text("command");
  r.hf_repo = text("hf_repo");
  r.hf_commit = text("hf_commit");
  r.relation = text("relation");
  r.tensors_digest = text("tensors_digest");
  try {
    const Json options = parse_field(m, p + "options", file);
    if (!options.is_null())
      for (const auto& o : options) r.options.push_back(o.get<std::string>());
    const Json inputs = parse_field(m, p + "inputs", file);
    if (!inputs.is_null())
      for (const auto& f : inputs) {
        // get<uint64_t> would cast a negative or fractional number (1e300: undefined behaviour).
        if (!f.at("size").is_number_unsigned())
          throw InputError(file, p + "inputs: a size is not a whole number of bytes");
        r.inputs.push_back({f.at("name").get<std::string>(), f.at("size").get<uint64_t>(),
                            f.at("sha256").get<std::string>()});
      }
    const Json tensors = parse_field(m, p + "tensors_xxh3", file);
    if (!tensors.is_object()) throw InputError(file, p + "tensors_xxh3 is not a JSON object");
    for (const auto& [name, hash] : tensors.items())
      r.tensors.emplace_back(name, hash.get<std::string>());
  } catch (const Json::exception& e) {
    throw InputError(file, "the provenance record is malformed: " + std::string(e.what()));
  }
  return r;
}

namespace {

std::string manifest_path(const std::string& output) {
  return output + ".manifest.json";
}

}  // namespace

ProvenanceWriter::ProvenanceWriter(const Recipe& recipe, const std::string& input, const Graph& g,
                                   bool hash_inputs) {
  record_.tool = std::string("owl ") + OWL_VERSION;
  record_.source_commit = OWL_SOURCE_COMMIT;
  record_.command = recipe.command;
  record_.options = recipe.options;
  std::vector<std::string> paths;
  for (const auto& f : g.inputs) {
    record_.inputs.push_back({relative_name(f.path, input), f.size, kSha256Placeholder});
    paths.push_back(f.path);
  }
  for (const auto& f : recipe.files) {
    std::error_code ec;
    const uint64_t size = fs::file_size(f, ec);
    if (ec) throw InputError(f, "cannot read: " + ec.message());
    record_.inputs.push_back({f, size, kSha256Placeholder});
    paths.push_back(f);
  }
  if (const auto hf = hf_cache_origin(g.inputs.empty() ? input : g.inputs.front().path)) {
    record_.hf_repo = hf->repo;
    record_.hf_commit = hf->commit;
  }
  if (hash_inputs) digests_ = std::make_unique<FileDigests>(std::move(paths));
}

ProvenanceWriter::~ProvenanceWriter() = default;

void ProvenanceWriter::add_to(Graph& g, const std::string& relation,
                              const std::string& key_prefix) {
  key_prefix_ = key_prefix;
  record_.relation = relation;
  record_.tensors.clear();
  for (const auto& t : g.tensors) record_.tensors.emplace_back(t.name, kXxh3Placeholder);
  record_.tensors_digest = kSha256Placeholder;
  for (const auto& [k, v] : provenance_metadata(record_, key_prefix_)) g.metadata.set(k, v);
}

FinishMetadata ProvenanceWriter::finisher() {
  return [this](const std::vector<std::string>& xxh3) { return finish(xxh3); };
}

Metadata ProvenanceWriter::finish(const std::vector<std::string>& xxh3) {
  if (xxh3.size() != record_.tensors.size())
    throw std::logic_error("the writer hashed a different number of tensors");
  for (size_t i = 0; i < xxh3.size(); ++i) record_.tensors[i].second = xxh3[i];
  record_.tensors_digest = tensors_digest(record_.tensors);
  if (!digests_) throw std::logic_error("a record made without hashing its inputs was finished");
  const auto& sha = digests_->wait();
  for (size_t i = 0; i < sha.size(); ++i) record_.inputs[i].sha256 = sha[i];
  return provenance_metadata(record_, key_prefix_);
}

std::string ProvenanceWriter::write_manifest(const Graph& g, const std::string& output) const {
  Graph final_graph = g;
  final_graph.metadata = with_late_values(g.metadata, provenance_metadata(record_, key_prefix_));
  pb::GraphDescription d = describe(final_graph);
  for (int i = 0; i < d.tensors_size() && static_cast<size_t>(i) < record_.tensors.size(); ++i)
    d.mutable_tensors(i)->set_xxh3_128(record_.tensors[static_cast<size_t>(i)].second);
  pb::Provenance* p = d.mutable_provenance();
  p->set_tool(record_.tool);
  p->set_command(record_.command);
  p->set_source_commit(record_.source_commit);
  for (const auto& o : record_.options) p->add_options(o);
  for (const auto& f : record_.inputs) {
    auto* in = p->add_inputs();
    in->set_path(f.name);
    in->set_size(f.size);
    in->set_sha256(f.sha256);
  }
  p->set_hf_repo(record_.hf_repo);
  p->set_hf_commit(record_.hf_commit);
  p->set_relation(record_.relation);
  p->set_tensors_digest(record_.tensors_digest);
  const std::string path = manifest_path(output);
  AtomicFile f(path);
  f.write(to_json(d));
  f.commit();
  return path;
}

void finish_manifest(const ProvenanceWriter* record, const Graph& g, const std::string& output,
                     std::vector<std::string>& files,
                     const std::function<void(const std::string&)>& note) {
  if (record) {
    files.push_back(record->write_manifest(g, output));
    return;
  }
  const std::string stale = manifest_path(output);
  std::error_code ec;
  if (fs::remove(stale, ec) && note)
    note("removed " + stale +
         ", which described the file this run replaced (this run wrote no "
         "provenance record)");
}

}  // namespace owl
