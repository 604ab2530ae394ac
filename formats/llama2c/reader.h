// Karpathy's llama2.c "legacy" checkpoints: a header of seven int32 and float32 arrays.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "converters/graph.h"

namespace owl::llama2c {

// Prefix of the metadata keys that hold the header's fields.
inline constexpr const char* kHeaderPrefix = "llama2c.";

// The file has no magic number; it is recognised when its size is exactly what its header
// implies (with the classifier shared with the embedding or stored after it).
bool looks_like_llama2c(std::span<const std::byte> head, uint64_t file_size);

// Tensors get their canonical names (token_embd.weight, blk.N.attn_q.weight, ...) since the
// file names none; data are zero-copy views of the mapped file. The header is kept as
// `llama2c.*` metadata and the architecture is "llama".
Graph read_file(const std::string& path);

}  // namespace owl::llama2c
