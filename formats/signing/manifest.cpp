#include "formats/signing/manifest.h"

#include <algorithm>
#include <exception>
#include <filesystem>
#include <string_view>
#include <utility>

#include "formats/io/digest.h"
#include "formats/io/error.h"
#include "formats/io/file_digest.h"
#include "formats/io/utf8.h"
#include "formats/signing/limits.h"

namespace owl::signing {

namespace fs = std::filesystem;

namespace {

struct ModelFile {
  std::string name;  // relative to the model root, '/'-separated
  fs::path path;
  uint64_t size;
};

struct HashTask {
  const ModelFile* file;
  uint64_t start, end;
  bool shard;
};

// model-signing's rule: a path is ignored when it is an ignore path or lies under one.
bool ignored(std::string_view name, const std::vector<std::string>& ignore_paths) {
  for (std::string_view p : ignore_paths) {
    while (p.size() > 1 && p.back() == '/') p.remove_suffix(1);
    if (name == p || (name.size() > p.size() && name.starts_with(p) && name[p.size()] == '/'))
      return true;
  }
  return false;
}

uint64_t size_of(const fs::path& p) {
  std::error_code ec;
  const uint64_t n = fs::file_size(p, ec);
  if (ec) throw InputError(p.string(), ec.message());
  return n;
}

// What a directory entry is once model-signing's symlink rule is applied: a file to hash, a
// folder to walk, or nothing (a link to a folder, which model-signing's walk does not enter).
enum class EntryKind { file, folder, skip };

EntryKind classify(const fs::path& p, bool allow_symlinks) {
  std::error_code ec;
  const fs::file_status own = fs::symlink_status(p, ec);
  if (ec) throw InputError(p.string(), ec.message());
  fs::file_status st = own;
  if (fs::is_symlink(own)) {
    if (!allow_symlinks)
      throw InputError(p.string(),
                       "is a symbolic link; sign with --allow-symlinks to follow links to files");
    st = fs::status(p, ec);
    if (ec || !fs::exists(st)) throw InputError(p.string(), "is a broken symbolic link");
    if (fs::is_directory(st)) return EntryKind::skip;
  }
  if (fs::is_regular_file(st)) return EntryKind::file;
  if (fs::is_directory(st)) return EntryKind::folder;
  throw InputError(p.string(), "is neither a file nor a folder (a device, pipe or socket)");
}

void walk(const fs::path& dir, const std::string& prefix, size_t depth, const Serialization& s,
          std::vector<ModelFile>& out) {
  if (depth > kMaxFolderDepth)
    throw InputError(dir.string(), "folders nest more than " + std::to_string(kMaxFolderDepth) +
                                       " deep below the model root");
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) throw InputError(dir.string(), ec.message());
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    const fs::path& p = it->path();
    const std::string leaf = p.filename().string();
    if (!is_valid_utf8(leaf))
      throw InputError(printable(p.string()), "file name is not valid UTF-8");
    const std::string name = prefix.empty() ? leaf : prefix + "/" + leaf;
    if (ignored(name, s.ignore_paths)) continue;
    switch (classify(p, s.allow_symlinks)) {
      case EntryKind::file:
        if (out.size() >= kMaxResources)
          throw InputError(dir.string(),
                           "the model holds more than " + std::to_string(kMaxResources) + " files");
        out.push_back({name, p, size_of(p)});
        break;
      case EntryKind::folder:
        walk(p, name, depth + 1, s, out);
        break;
      case EntryKind::skip:
        break;
    }
  }
  if (ec) throw InputError(dir.string(), ec.message());
}

std::vector<ModelFile> list_files(const std::string& path, const Serialization& s) {
  const fs::path root(path);
  std::vector<ModelFile> files;
  switch (classify(root, s.allow_symlinks)) {
    case EntryKind::file:
      files.push_back({".", root, size_of(root)});
      break;
    case EntryKind::folder:
      walk(root, "", 0, s, files);
      break;
    case EntryKind::skip:
      throw InputError(path, "is a symbolic link to a folder; give the folder itself");
  }
  return files;
}

std::vector<HashTask> plan(const std::vector<ModelFile>& files, const Serialization& s) {
  std::vector<HashTask> tasks;
  for (const ModelFile& f : files) {
    if (s.method != "shards") {
      tasks.push_back({&f, 0, f.size, false});
      continue;
    }
    // model-signing cuts every non-empty file at multiples of the shard size; an empty file has
    // no shard and so no entry.
    for (uint64_t start = 0; start < f.size; start += s.shard_size)
      tasks.push_back({&f, start, std::min(f.size, start + s.shard_size), true});
  }
  return tasks;
}

std::string hash_range(const HashTask& t) {
  const std::string path = t.file->path.string();
  if (t.shard) return sha256_file_hex(path, t.start, t.end);
  return sha256_file_hex(path);
}

std::vector<std::string_view> components(std::string_view path) {
  std::vector<std::string_view> parts;
  for (size_t at = 0;;) {
    const size_t slash = path.find('/', at);
    parts.push_back(path.substr(at, slash - at));
    if (slash == std::string_view::npos) return parts;
    at = slash + 1;
  }
}

// A shard's name "path:start:end" split into its path and offsets; a file's offsets are zero.
struct SortKey {
  std::vector<std::string_view> path;
  uint64_t start = 0, end = 0;
  auto operator<=>(const SortKey&) const = default;
};

SortKey sort_key(const Resource& r) {
  std::string_view name = r.name;
  SortKey k;
  if (r.algorithm != "sha256") {
    const size_t second = name.rfind(':');
    const size_t first = second == 0 || second == std::string_view::npos
                             ? std::string_view::npos
                             : name.rfind(':', second - 1);
    if (first != std::string_view::npos) {
      k.start = std::strtoull(std::string(name.substr(first + 1)).c_str(), nullptr, 10);
      k.end = std::strtoull(std::string(name.substr(second + 1)).c_str(), nullptr, 10);
      name = name.substr(0, first);
    }
  }
  k.path = components(name);
  return k;
}

}  // namespace

std::string resource_algorithm(const Serialization& s) {
  if (s.method != "shards") return "sha256";
  std::string name = "sha256-sharded-";
  return name.append(std::to_string(s.shard_size));
}

const std::vector<std::string>& git_paths() {
  static const std::vector<std::string> paths = {".git", ".gitattributes", ".github", ".gitignore"};
  return paths;
}

std::string model_name(const std::string& path) {
  fs::path p = fs::path(path).lexically_normal();
  if (!p.has_filename()) p = p.parent_path();
  std::string name = p.filename().string();
  if (name.empty() || name == "." || name == "..") {
    std::error_code ec;
    name = fs::weakly_canonical(p, ec).filename().string();
  }
  return name;
}

Manifest hash_model(const std::string& path, const Serialization& s) {
  if (s.hash_type != "sha256")
    throw InputError(path, "hash type '" + s.hash_type + "' is not supported (owl hashes SHA-256)");
  if (s.method == "shards" && s.shard_size == 0)
    throw InputError(path, "the shard size must be at least one byte");
  const std::vector<ModelFile> files = list_files(path, s);
  const std::vector<HashTask> tasks = plan(files, s);

  const std::string algorithm = resource_algorithm(s);
  Manifest m{model_name(path), s, std::vector<Resource>(tasks.size())};
  std::vector<std::exception_ptr> errors(tasks.size());
#pragma omp parallel for schedule(dynamic, 1)
  for (size_t i = 0; i < tasks.size(); ++i) {
    const HashTask& t = tasks[i];
    try {
      std::string name = t.file->name;
      if (t.shard)
        name.append(":").append(std::to_string(t.start)).append(":").append(std::to_string(t.end));
      m.resources[i] = {std::move(name), algorithm, hash_range(t)};
    } catch (...) {
      errors[i] = std::current_exception();
    }
  }
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
  sort_resources(m.resources);
  return m;
}

void sort_resources(std::vector<Resource>& resources) {
  std::vector<std::pair<SortKey, size_t>> keys;
  keys.reserve(resources.size());
  for (size_t i = 0; i < resources.size(); ++i) keys.emplace_back(sort_key(resources[i]), i);
  std::sort(keys.begin(), keys.end());
  std::vector<Resource> sorted;
  sorted.reserve(resources.size());
  for (const auto& k : keys) sorted.push_back(std::move(resources[k.second]));
  resources = std::move(sorted);
}

std::string root_digest(const std::vector<Resource>& resources) {
  Digest d;
  for (const Resource& r : resources) {
    for (size_t i = 0; i + 1 < r.digest.size(); i += 2) {
      const auto byte = static_cast<std::byte>(std::stoi(r.digest.substr(i, 2), nullptr, 16));
      d.update(std::span(&byte, 1));
    }
  }
  return d.finish_hex();
}

}  // namespace owl::signing
