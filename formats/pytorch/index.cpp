// Sharded checkpoints: pytorch_model.bin.index.json names the shard holding each tensor.
#include <algorithm>
#include <filesystem>
#include <map>

#include "formats/io/error.h"
#include "formats/json/strict_json.h"
#include "formats/pytorch/checkpoint.h"

namespace owl::pytorch {
namespace {
// An index lists one line per tensor; even the largest models stay far below this.
constexpr uint64_t kMaxIndexBytes = 64u << 20;
}  // namespace

Graph read_index(const std::string& index_path) {
  const Json index = read_json_file(index_path, kMaxIndexBytes);
  if (!index.is_object())
    throw InputError(index_path, "index is " + json_kind(index) + ", not a JSON object");
  if (!index.contains("weight_map") || !index["weight_map"].is_object())
    throw InputError(index_path, "index has no \"weight_map\" object");

  std::vector<std::string> shards;
  std::map<std::string, std::string> shard_of;
  for (const auto& [tensor, shard] : index["weight_map"].items()) {
    if (!shard.is_string())
      throw InputError(index_path, "weight_map entry '" + tensor + "' is " + json_kind(shard) +
                                       ", not a file name");
    const std::string s = shard.get<std::string>();
    if (s.empty() || s == "." || s == ".." || s.find('/') != std::string::npos ||
        s.find('\\') != std::string::npos)
      throw InputError(index_path, "weight_map entry '" + tensor + "' names '" + s +
                                       "', which is not a file in the index's folder");
    if (std::find(shards.begin(), shards.end(), s) == shards.end()) shards.push_back(s);
    shard_of[tensor] = s;
  }
  std::sort(shards.begin(), shards.end());

  const auto folder = std::filesystem::path(index_path).parent_path();
  Graph g;
  g.format = "pytorch";
  for (const auto& s : shards) {
    const std::string shard_path = (folder / s).string();
    if (!std::filesystem::exists(shard_path))
      throw InputError(index_path, "shard '" + s + "' listed in the index does not exist");
    const size_t before = g.tensors.size();
    append_file(g, shard_path);
    for (size_t i = before; i < g.tensors.size(); ++i) {
      auto it = shard_of.find(g.tensors[i].name);
      if (it == shard_of.end() || it->second != s)
        throw InputError(shard_path, "tensor '" + g.tensors[i].name +
                                         "' is not listed for this shard in " +
                                         std::filesystem::path(index_path).filename().string());
      shard_of.erase(it);
    }
  }
  if (!shard_of.empty()) {
    const auto& [tensor, shard] = *shard_of.begin();
    throw InputError(index_path,
                     "tensor '" + tensor + "' is listed in shard '" + shard + "' but is not in it");
  }
  g.inputs.push_back({index_path, std::filesystem::file_size(index_path)});
  return g;
}

}  // namespace owl::pytorch
