#include "formats/safetensors/writer.h"

#include <filesystem>
#include <memory>
#include <set>

#include "formats/io/atomic_file.h"
#include "formats/io/error.h"
#include "formats/io/read_files.h"
#include "formats/io/utf8.h"
#include "formats/json/strict_json.h"
#include "formats/safetensors/limits.h"
#include "formats/tensor_stream.h"

namespace owl::safetensors {
namespace {

// safetensors' header is JSON, which holds UTF-8 only; a name from a GGUF or pickle may not be.
void check_utf8(const Graph& g, const std::string& what, const std::string& text) {
  if (!is_valid_utf8(text))
    throw InputError(g.inputs.empty() ? std::string() : g.inputs.front().path,
                     what + " '" + printable(text) +
                         "' is not valid UTF-8, which a safetensors header cannot hold");
}

void check_storable(const Tensor& t) {
  if (type_info(t.type).st_name.empty()) {
    throw UsageError("tensor '" + t.name + "' is " + std::string(type_name(t.type)) +
                     ", which safetensors cannot store; convert it to a float type with --dtype");
  }
}

// Splits the tensors into shards of at most `shard_bytes` (a larger tensor gets a shard alone).
std::vector<std::vector<const Tensor*>> plan_shards(const Graph& g, uint64_t shard_bytes) {
  std::vector<std::vector<const Tensor*>> shards(1);
  uint64_t in_shard = 0;
  for (const auto& t : g.tensors) {
    if (shard_bytes > 0 && !shards.back().empty() && in_shard + t.byte_size() > shard_bytes) {
      shards.emplace_back();
      in_shard = 0;
    }
    shards.back().push_back(&t);
    in_shard += t.byte_size();
  }
  return shards;
}

std::string shard_name(const std::filesystem::path& out, size_t i, size_t n) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "-%05zu-of-%05zu", i + 1, n);
  return out.stem().string() + buf + out.extension().string();
}

}  // namespace

std::string make_header(const Graph& g, const std::vector<const Tensor*>& tensors) {
  Json header = Json::object();
  const std::string prefix = kMetadataPrefix;
  Json meta = Json::object();
  for (const auto& [key, value] : g.metadata) {
    if (key.rfind(prefix, 0) == 0 && value.type() == ValueType::STRING)
      meta[key.substr(prefix.size())] = value.as_string();
  }
  if (!meta.empty()) header["__metadata__"] = meta;
  uint64_t offset = 0;
  for (const Tensor* t : tensors) {
    Json entry = Json::object();
    entry["dtype"] = std::string(type_info(t->type).st_name);
    entry["shape"] = t->shape;
    entry["data_offsets"] = {offset, offset + t->byte_size()};
    offset += t->byte_size();
    header[t->name] = std::move(entry);
  }
  std::string text = header.dump(-1, ' ', /*ensure_ascii=*/false);
  text.append((kDataAlignment - text.size() % kDataAlignment) % kDataAlignment, ' ');
  return text;
}

namespace {

// Rewrites each shard's header with the final values of the late keys: same size, in place.
void patch_headers(const Graph& g, const std::vector<std::vector<const Tensor*>>& shards,
                   const Metadata& late, const std::vector<std::unique_ptr<AtomicFile>>& files) {
  Graph patched;
  patched.metadata = with_late_values(g.metadata, late);
  for (size_t i = 0; i < shards.size(); ++i) {
    const std::string header = make_header(patched, shards[i]);
    if (header.size() != make_header(g, shards[i]).size())
      throw std::logic_error("a late metadata value changed the size of a safetensors header");
    files[i]->patch(sizeof(uint64_t), std::as_bytes(std::span(header.data(), header.size())));
  }
}

}  // namespace

std::vector<std::string> write(const Graph& g, const std::string& path, const WriteOptions& opt) {
  std::set<std::string_view> names;
  for (const auto& t : g.tensors) {
    check_storable(t);
    check_utf8(g, "tensor name", t.name);
    if (!names.insert(t.name).second) throw UsageError("two tensors are named '" + t.name + "'");
  }
  for (const auto& [key, value] : g.metadata) {
    if (!key.starts_with(kMetadataPrefix) || value.type() != ValueType::STRING) continue;
    check_utf8(g, "metadata key", key);
    check_utf8(g, "the value of metadata key", value.as_string());
  }

  const auto shards = plan_shards(g, opt.shard_bytes);
  const std::filesystem::path out(path);
  std::vector<std::string> shard_paths;
  for (size_t i = 0; i < shards.size(); ++i)
    shard_paths.push_back(shards.size() == 1
                              ? path
                              : (out.parent_path() / shard_name(out, i, shards.size())).string());
  const std::string index_path = path + ".index.json";
  // Before anything is written: no shard, and not the index, may replace a file being read.
  for (const auto& p : shard_paths) refuse_if_read(p);
  if (shards.size() > 1) refuse_if_read(index_path);

  std::vector<std::unique_ptr<AtomicFile>> files;
  std::vector<std::string> written;
  std::vector<std::string> hashes;
  if (opt.progress) opt.progress->begin("writing", g.tensors.size(), g.tensor_bytes());

  for (size_t i = 0; i < shards.size(); ++i) {
    const std::string& name = shard_paths[i];
    auto f = std::make_unique<AtomicFile>(name);
    const std::string header = make_header(g, shards[i]);
    const uint64_t n = header.size();
    f->write(std::as_bytes(std::span<const uint64_t>(&n, 1)));
    f->write(header);
    for (const Tensor* t : shards[i]) {
      std::string xxh3;
      stream_tensor(*f, *t, opt.progress, opt.finish_metadata ? &xxh3 : nullptr);
      if (opt.finish_metadata) hashes.push_back(std::move(xxh3));
    }
    written.push_back(name);
    files.push_back(std::move(f));
  }

  if (opt.finish_metadata) patch_headers(g, shards, opt.finish_metadata(hashes), files);

  if (shards.size() > 1) {
    Json weight_map = Json::object();
    std::vector<std::pair<std::string, std::string>> pairs;
    for (size_t i = 0; i < shards.size(); ++i)
      for (const Tensor* t : shards[i])
        pairs.emplace_back(t->name, std::filesystem::path(written[i]).filename().string());
    std::sort(pairs.begin(), pairs.end());  // as Hugging Face writes it
    for (auto& [k, v] : pairs) weight_map[k] = v;
    Json index = {{"metadata", {{"total_size", g.tensor_bytes()}}}, {"weight_map", weight_map}};
    auto f = std::make_unique<AtomicFile>(index_path);
    f->write(index.dump(2) + "\n");
    written.push_back(index_path);
    files.push_back(std::move(f));
  }

  commit_all(files);
  if (opt.progress) opt.progress->end();
  return written;
}

}  // namespace owl::safetensors
