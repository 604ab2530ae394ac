// A model as the OpenSSF model-signing format sees it: every file (or every shard of every file)
// under the model path, relative to it, with its SHA-256, in model-signing's order.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace owl::signing {

// How the manifest was made, recorded in the signature so a verifier hashes the same way.
struct Serialization {
  std::string method = "files";  // "files" or "shards"
  std::string hash_type = "sha256";
  uint64_t shard_size = 0;  // "shards" only
  bool allow_symlinks = false;
  std::vector<std::string> ignore_paths;  // relative to the model root, sorted
};

// One file ("a/b.bin"; "." when the model is a single file) or shard ("a/b.bin:0:1000000000").
struct Resource {
  std::string name;
  std::string algorithm;  // "sha256", or "sha256-sharded-<shard_size>" for shards
  std::string digest;     // lowercase hex
};

struct Manifest {
  std::string model_name;  // the model path's last component; informative only
  Serialization serialization;
  std::vector<Resource> resources;  // in model-signing's order (see sort_resources)
};

// The algorithm each resource names: "sha256", or "sha256-sharded-<shard_size>" for shards.
std::string resource_algorithm(const Serialization& s);

// The paths git puts in a model repository, which model-signing leaves out by default.
const std::vector<std::string>& git_paths();

// Hashes the model at `path` (a file or a folder) as `s` says. Throws InputError naming the path
// for a symbolic link (unless s.allow_symlinks), a special file, or a name that is not UTF-8.
Manifest hash_model(const std::string& path, const Serialization& s);

// model-signing orders files by path component (so "a/b" comes before "a.txt"), then shards by
// their start offset.
void sort_resources(std::vector<Resource>& resources);

// The subject digest: SHA-256 over every resource's digest bytes, in the listed order.
std::string root_digest(const std::vector<Resource>& resources);

// The manifest's model name for `path`: its last component, as model-signing names it.
std::string model_name(const std::string& path);

}  // namespace owl::signing
