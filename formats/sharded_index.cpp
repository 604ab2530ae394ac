#include "formats/sharded_index.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <vector>

#include "formats/io/error.h"
#include "formats/json/strict_json.h"

namespace owl {

Graph read_sharded_index(const std::string& index_path, const std::string& format,
                         uint64_t max_index_bytes,
                         const std::function<void(Graph&, const std::string&)>& append_shard) {
  const Json index = read_json_file(index_path, max_index_bytes);
  if (!index.is_object())
    throw InputError(index_path, "index is " + json_kind(index) + ", not a JSON object");
  if (!index.contains("weight_map") || !index["weight_map"].is_object())
    throw InputError(index_path, "index has no \"weight_map\" object");

  // Shards in the order they are first named; each tensor's shard remembered for the check below.
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
  g.format = format;
  for (const auto& s : shards) {
    const std::string shard_path = (folder / s).string();
    // The error_code form: a name the system refuses (too long, say) is bad input, not a crash.
    std::error_code ec;
    const bool exists = std::filesystem::exists(shard_path, ec);
    if (ec)
      throw InputError(index_path, "shard '" + s + "' listed in the index cannot be opened: " +
                                       ec.message());
    if (!exists)
      throw InputError(index_path, "shard '" + s + "' listed in the index does not exist");
    const size_t before = g.tensors.size();
    append_shard(g, shard_path);
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

}  // namespace owl
