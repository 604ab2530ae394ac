// Reads safetensors files: one file, or a sharded checkpoint through its index.
#pragma once

#include <string>

#include "converters/graph.h"

namespace owl::safetensors {

// Validates the whole header when opening (offsets contiguous, within the file, sizes equal to
// dtype x shape, no duplicate names); after that, reading a tensor cannot fail. Tensors come
// in file order and their data are zero-copy views of the mapped file.
Graph read_file(const std::string& path);

// Adds one file's tensors and __metadata__ to `g` (the building block of sharded reads).
void append_file(Graph& g, const std::string& path);

// A sharded checkpoint through `*.safetensors.index.json`: every shard it names, in order,
// checked against the index's weight map.
Graph read_index(const std::string& index_path);

// True if the first bytes look like a safetensors header (used to recognise files).
bool looks_like_safetensors(std::span<const std::byte> head, uint64_t file_size);

}  // namespace owl::safetensors
