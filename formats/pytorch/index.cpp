// Sharded checkpoints: pytorch_model.bin.index.json names the shard holding each tensor.
#include "formats/pytorch/checkpoint.h"
#include "formats/sharded_index.h"

namespace owl::pytorch {
namespace {
// An index lists one line per tensor; even the largest models stay far below this.
constexpr uint64_t kMaxIndexBytes = 64u << 20;
}  // namespace

Graph read_index(const std::string& index_path) {
  return read_sharded_index(index_path, "pytorch", kMaxIndexBytes, append_file);
}

}  // namespace owl::pytorch
