// The `*.index.json` of a sharded checkpoint (safetensors or PyTorch): a weight_map naming the
// shard file that holds each tensor, every shard beside the index.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "converters/graph.h"

namespace owl {

// Reads every shard the index names with `append_shard` (in sorted order) and checks that each
// shard holds exactly the tensors listed for it. `max_index_bytes` bounds the JSON.
Graph read_sharded_index(const std::string& index_path, const std::string& format,
                         uint64_t max_index_bytes,
                         const std::function<void(Graph&, const std::string&)>& append_shard);

}  // namespace owl
